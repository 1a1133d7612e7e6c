//! The console's entity pages, inventory, action center, detectors and settings: each page
//! for a role that may read it, each form for a role that may use it and for one that may
//! not (refused, nothing changed), and hostile values shown as text with URLs that round-trip.

mod common;

use std::borrow::Cow;
use std::sync::Arc;

use common::*;
use rampart_console::fmt::{enc, entity_href};
use rampart_console::pages::{Catalogue, DetectorInfo, SigmaInfo};
use rampart_model::{
    ActionFilter, ActionStatus, ApiEvent, EndpointInfo, Entity, EntityKind, EntityRole, Role,
    Timestamp,
};
use rampart_store::{Change, ChangeSet, IncidentRef, IncidentState};
use serde_json::json;

/// An answer's status and body.
async fn page(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    (status, r.text().await.expect("body"))
}

/// The `Location` of a redirect (303).
fn location(r: &reqwest::Response) -> String {
    assert_eq!(r.status().as_u16(), 303, "a redirect");
    r.headers()["location"]
        .to_str()
        .expect("location")
        .to_string()
}

/// What every console page keeps to: no inline script or style, no `javascript:` URL.
fn assert_csp_clean(body: &str) {
    assert!(!body.contains("style="), "inline style");
    assert!(!body.contains("javascript:"), "javascript: URL");
    assert_eq!(
        body.matches("<script").count(),
        body.matches("<script src=\"/static/console.js\"").count(),
        "only the console's script"
    );
}

fn endpoint(host: &str, method: &str, path: &str, calls: u64, sensitive: &[&str]) -> EndpointInfo {
    EndpointInfo {
        host: host.into(),
        method: method.into(),
        path_template: path.into(),
        first_seen: Timestamp::from_secs(1_700_000_000),
        last_seen: Timestamp::from_secs(1_700_003_600),
        calls,
        status_classes: [0, 0, calls, 0, 0, 0],
        authenticated_calls: calls,
        params: Default::default(),
        sensitive_data: sensitive.iter().map(|s| s.to_string()).collect(),
    }
}

fn event(ip: &str, secs: i64, path: &str, raw: &str) -> ApiEvent<'static> {
    ApiEvent {
        ts: Timestamp::from_secs(secs),
        client_ip: Some(ip.parse().expect("ip")),
        method: Cow::Borrowed("GET"),
        host: Cow::Borrowed("api.example.com"),
        path: Cow::Owned(path.into()),
        status: 200,
        user_agent: Cow::Borrowed("curl/8.0"),
        source_format: Cow::Borrowed("combined"),
        raw: Cow::Owned(raw.into()),
        ..Default::default()
    }
}

/// One incident with one alert naming these entities.
async fn seed_alert(app: &TestApp, title: &str, entities: Vec<Entity>) -> i64 {
    let mut a = alert(
        title,
        rampart_model::Severity::High,
        "198.51.100.1",
        1_700_000_000,
    );
    a.entities = entities;
    let state = IncidentState {
        title: title.into(),
        severity: a.severity,
        entities: a.entities.clone(),
        first_activity: a.first_seen,
        last_activity: a.last_seen,
        alert_count: 1,
        priority: 50,
        priority_reasons: vec![],
    };
    let applied = app
        .store
        .apply(&ChangeSet {
            changes: vec![
                Change::CreateIncident { temp: 0, state },
                Change::InsertAlert {
                    alert: a,
                    incident: IncidentRef::New(0),
                },
            ],
        })
        .await
        .expect("apply");
    applied.incident_ids[0]
}

async fn actions(app: &TestApp, status: ActionStatus) -> Vec<rampart_model::Action> {
    app.store
        .list_actions(&ActionFilter {
            status: Some(status),
            ..Default::default()
        })
        .await
        .expect("list actions")
        .items
}

/// A pending action someone else asked for (isolations wait for approval).
async fn pending_isolation(app: &TestApp) -> i64 {
    let r = app
        .post(
            "/api/v1/actions",
            &app.admin,
            json!({"kind": "isolate_endpoint", "target": "GET /api/v1/users/{id}", "reason": "bola walk"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["status"], "pending_approval");
    v["id"].as_i64().expect("id")
}

// --- entity pages ----------------------------------------------------------------------------

#[tokio::test]
async fn ip_page_shows_incidents_alerts_events_and_actions() {
    let app = spawn_app().await;
    app.seed_ten().await;
    let ip = "203.0.113.1";
    app.store
        .insert_events(
            &[
                event(ip, 1_700_000_100, "/api/v1/users/1", "old line"),
                event(
                    ip,
                    1_700_000_200,
                    "/api/v1/users/2",
                    "203.0.113.1 <b>newest</b>",
                ),
                event("203.0.113.99", 1_700_000_300, "/other", "someone else"),
            ],
            None,
        )
        .await
        .expect("events");
    let r = app
        .post(
            "/api/v1/actions",
            &app.admin,
            json!({"kind": "block_ip", "target": "203.0.113.0/24", "reason": "range block"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let viewer = app.console(Role::Viewer).await;
    let (status, body) = page(viewer.get(&entity_href(EntityKind::Ip, ip)).await).await;
    assert_eq!(status, 200, "{body}");
    assert_csp_clean(&body);
    assert!(body.contains("BOLA walk on users"), "its incident");
    assert!(
        body.contains("href=\"/incidents/"),
        "incidents link to their pages"
    );
    assert!(body.contains("id=\"entity-alerts\""));
    assert!(
        body.contains("203.0.113.1 &lt;b&gt;newest&lt;/b&gt;"),
        "raw lines are text"
    );
    assert!(!body.contains("someone else"), "only this address's events");
    let newest = body.find("&lt;b&gt;newest").expect("newest event");
    let oldest = body.find("old line").expect("oldest event");
    assert!(newest < oldest, "newest first");
    assert!(body.contains("id=\"access\""), "what it reached");
    assert!(
        body.contains("203.0.113.0/24"),
        "a range covering the address is an action on it"
    );
    assert!(
        body.contains("2023-11-14 22:16:40"),
        "last seen: the newest event"
    );
    assert!(
        !body.contains("class=\"contain\""),
        "a viewer is offered no containment"
    );
    assert!(!body.contains("data-hunt"), "no placeholder links");

    let tier2 = app.console(Role::Tier2).await;
    let (_, body) = page(tier2.get(&entity_href(EntityKind::Ip, ip)).await).await;
    assert!(
        body.contains("href=\"/actions?kind=block_ip&amp;target=203.0.113.1#new-action\""),
        "tier2 may block it: {body}"
    );
}

#[tokio::test]
async fn hostile_values_are_escaped_and_their_urls_round_trip() {
    let app = spawn_app().await;
    let ua = "<script>alert(1)</script>";
    seed_alert(
        &app,
        "Exploit tool",
        vec![
            Entity::attacker_ip("198.51.100.1"),
            Entity::new(EntityKind::UserAgent, ua, EntityRole::Related),
        ],
    )
    .await;
    let viewer = app.console(Role::Viewer).await;
    let href = entity_href(EntityKind::UserAgent, ua);
    assert_eq!(
        href,
        "/entities/user_agent/%3Cscript%3Ealert%281%29%3C%2Fscript%3E"
    );
    let (status, body) = page(viewer.get(&href).await).await;
    assert_eq!(status, 200, "{body}");
    assert_csp_clean(&body);
    assert!(!body.contains(ua), "the value is never markup");
    assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(body.contains("Exploit tool"), "the alert naming it");
    assert!(
        body.contains(&format!("href=\"/incidents?entity={}\"", enc(ua))),
        "links carry the value encoded"
    );

    // An endpoint whose template holds an encoded slash and spaces: the inventory links to
    // its page, and the page finds the record again.
    let tricky = "/files/a%2Fb c/{id}";
    app.store
        .upsert_endpoints(&[endpoint("api.example.com", "GET", tricky, 42, &[])])
        .await
        .expect("endpoints");
    let (_, inventory) = page(viewer.get("/inventory").await).await;
    let key = format!("GET {tricky}");
    let href = entity_href(EntityKind::Endpoint, &key);
    assert_eq!(
        href,
        "/entities/endpoint/GET%20%2Ffiles%2Fa%252Fb%20c%2F%7Bid%7D"
    );
    assert!(
        inventory.contains(&format!("href=\"{href}\"")),
        "{inventory}"
    );
    let (status, body) = page(viewer.get(&href).await).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(&format!("data-value=\"{key}\"")),
        "decoded once: {body}"
    );
    assert!(
        body.contains("id=\"endpoint-records\""),
        "its inventory record"
    );
    assert!(body.contains(">42<"), "its calls");
    assert!(
        body.contains(&format!("href=\"/incidents?entity={}\"", enc(&key))),
        "written back encoded the same way"
    );
    // a path with a space is no action target: no isolation is offered for it
    let tier3 = app.console(Role::Tier3).await;
    let (_, body) = page(tier3.get(&href).await).await;
    assert!(!body.contains("kind=isolate_endpoint"), "{body}");
}

#[tokio::test]
async fn unknown_entity_kind_is_a_404_page() {
    let app = spawn_app().await;
    let viewer = app.console(Role::Viewer).await;
    let r = viewer.get("/entities/host/%3Cb%3Ex").await;
    assert_eq!(r.status(), 404);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let body = r.text().await.unwrap();
    assert!(body.contains("no entity kind"), "{body}");
    assert!(!body.contains("<b>x"), "escaped");
}

// --- inventory -------------------------------------------------------------------------------

#[tokio::test]
async fn inventory_filters_sorts_and_marks_shadow_endpoints() {
    let spec = rampart_signatures::inventory::OpenApiSpec::parse(
        r#"{"openapi": "3.0.0", "paths": {"/users/{userId}": {"get": {}}, "/export": {"post": {}}}}"#,
    )
    .expect("spec");
    let app = spawn_app_state(
        move |s| s.api_spec = Some(Arc::new(spec)),
        Default::default(),
    )
    .await;
    app.store
        .upsert_endpoints(&[
            endpoint("a.example", "GET", "/users/{id}", 900, &[]),
            endpoint("a.example", "POST", "/export", 10, &["card_number"]),
            endpoint("b.example", "GET", "/internal/debug", 3, &[]),
        ])
        .await
        .expect("endpoints");
    let viewer = app.console(Role::Viewer).await;
    let (status, body) = page(viewer.get("/inventory").await).await;
    assert_eq!(status, 200);
    assert_csp_clean(&body);
    assert!(body.contains("3 of 3 endpoints"), "{body}");
    let users = body.find("/users/{id}").expect("users");
    let debug = body.find("/internal/debug").expect("debug");
    assert!(users < debug, "most calls first");
    assert!(!body.contains("id=\"no-spec\""), "a spec is loaded");

    let (_, body) = page(viewer.get("/inventory?shadow=1").await).await;
    assert!(
        body.contains("1 of 3 endpoints") && body.contains("/internal/debug"),
        "{body}"
    );
    assert!(!body.contains("<code>/users/{id}</code>"));
    let (_, body) = page(viewer.get("/inventory?sensitive=1").await).await;
    assert!(body.contains("1 of 3 endpoints") && body.contains("card_number"));
    let (_, body) = page(viewer.get("/inventory?host=b.example&sort=path").await).await;
    assert!(body.contains("1 of 3 endpoints") && body.contains("/internal/debug"));
    let (status, body) = page(viewer.get("/inventory?sort=colour").await).await;
    assert_eq!(status, 400);
    assert!(body.contains("sort"), "{body}");
}

#[tokio::test]
async fn inventory_without_a_spec_says_so() {
    let app = spawn_app().await;
    app.store
        .upsert_endpoints(&[endpoint("", "GET", "/health", 1, &[])])
        .await
        .expect("endpoints");
    let viewer = app.console(Role::Viewer).await;
    let (status, body) = page(viewer.get("/inventory?shadow=1").await).await;
    assert_eq!(status, 200);
    assert!(body.contains("id=\"no-spec\""));
    assert!(
        body.contains("0 of 1 endpoints"),
        "no endpoint is known to be shadow"
    );
}

// --- action center ---------------------------------------------------------------------------

#[tokio::test]
async fn action_center_lists_and_offers_by_role() {
    let app = spawn_app().await;
    let pending = pending_isolation(&app).await;
    let viewer = app.console(Role::Viewer).await;
    let (status, body) = page(viewer.get("/actions").await).await;
    assert_eq!(status, 200);
    assert_csp_clean(&body);
    assert!(body.contains(&format!("data-action=\"{pending}\"")));
    assert!(body.contains("GET /api/v1/users/{id}"));
    assert!(!body.contains("new-action-form"), "a viewer cannot contain");
    assert!(!body.contains("/approve\""), "nor approve");
    let tier3 = app.console(Role::Tier3).await;
    let (_, body) = page(tier3.get("/actions?kind=block_ip&target=203.0.113.7").await).await;
    assert!(body.contains("new-action-form"));
    assert!(body.contains(&format!("action=\"/actions/{pending}/approve\"")));
    assert!(
        body.contains("value=\"203.0.113.7\""),
        "the draft fills the form in"
    );
    assert!(body.contains("<option value=\"block_ip\" selected"));
}

#[tokio::test]
async fn creating_an_action_needs_contain_low_and_passes_the_rails() {
    let app = spawn_app().await;
    let form = [
        ("kind", "block_ip"),
        ("target", "203.0.113.7"),
        ("duration", "2h"),
        ("reason", "credential stuffing"),
    ];
    let tier1 = app.console(Role::Tier1).await;
    let r = tier1.post("/actions", &form).await;
    assert_eq!(r.status(), 403);
    assert!(
        actions(&app, ActionStatus::Active).await.is_empty(),
        "nothing created"
    );

    let tier2 = app.console(Role::Tier2).await;
    let r = tier2.post("/actions", &form).await;
    assert_eq!(location(&r), "/actions?done=created");
    let active = actions(&app, ActionStatus::Active).await;
    assert_eq!(active.len(), 1);
    assert_eq!(
        active[0].action.requested_by,
        format!("user:{}", tier2.user)
    );
    assert_eq!(active[0].action.duration_secs, 7200);

    // a range needs contain_high: rampart-contain refuses it to tier2
    let r = tier2
        .post(
            "/actions",
            &[
                ("kind", "block_ip"),
                ("target", "203.0.113.0/24"),
                ("reason", "r"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    // a rate limit from the form's rate fields, back where the form came from
    let back = entity_href(EntityKind::Ip, "198.51.100.4");
    let r = tier2
        .post(
            "/actions",
            &[
                ("kind", "rate_limit"),
                ("target", "ip:198.51.100.4"),
                ("rate_requests", "10"),
                ("rate_window", "1m"),
                ("reason", "slow down"),
                ("back", &back),
            ],
        )
        .await;
    assert_eq!(location(&r), back);
    assert_eq!(actions(&app, ActionStatus::Active).await.len(), 2);
    // a bad target is a 422 page naming it, and stores nothing
    let (status, body) = page(
        tier2
            .post(
                "/actions",
                &[("kind", "block_ip"), ("target", "nope"), ("reason", "r")],
            )
            .await,
    )
    .await;
    assert_eq!(status, 422);
    assert!(body.contains("not an IP address"), "{body}");
    assert_eq!(actions(&app, ActionStatus::Active).await.len(), 2);
}

#[tokio::test]
async fn approving_needs_approve_and_another_person() {
    let app = spawn_app().await;
    let id = pending_isolation(&app).await;
    let path = format!("/actions/{id}/approve");
    let tier2 = app.console(Role::Tier2).await;
    assert_eq!(tier2.post(&path, &[]).await.status(), 403);
    assert_eq!(actions(&app, ActionStatus::PendingApproval).await.len(), 1);

    // one's own pending action cannot be approved by oneself
    let tier3 = app.console(Role::Tier3).await;
    let r = tier3
        .post(
            "/actions",
            &[
                ("kind", "isolate_service"),
                ("target", "billing"),
                ("reason", "r"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let own = actions(&app, ActionStatus::PendingApproval)
        .await
        .into_iter()
        .find(|a| a.action.target == "billing")
        .expect("own pending")
        .id;
    let (status, body) = page(tier3.post(&format!("/actions/{own}/approve"), &[]).await).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(actions(&app, ActionStatus::PendingApproval).await.len(), 2);

    let back = "/incidents/1";
    let r = tier3.post(&path, &[("back", back)]).await;
    assert_eq!(
        location(&r),
        format!("{back}?msg=approved"),
        "the incident page's forms come back to it"
    );
    let active = actions(&app, ActionStatus::Active).await;
    assert_eq!(active.len(), 1);
    assert_eq!(
        active[0].approved_by.as_deref(),
        Some(format!("user:{}", tier3.user).as_str())
    );
}

#[tokio::test]
async fn reverting_own_needs_revert_own_and_anothers_revert_any() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/v1/actions",
            &app.admin,
            json!({"kind": "block_ip", "target": "203.0.113.8", "reason": "theirs"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let theirs = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let tier2 = app.console(Role::Tier2).await;
    tier2
        .post(
            "/actions",
            &[
                ("kind", "block_ip"),
                ("target", "203.0.113.9"),
                ("reason", "mine"),
            ],
        )
        .await;
    let mine = actions(&app, ActionStatus::Active)
        .await
        .into_iter()
        .find(|a| a.action.target == "203.0.113.9")
        .expect("mine")
        .id;

    let viewer = app.console(Role::Viewer).await;
    let r = viewer
        .post(&format!("/actions/{mine}/revert"), &[("reason", "x")])
        .await;
    assert_eq!(r.status(), 403);
    let r = tier2
        .post(&format!("/actions/{theirs}/revert"), &[("reason", "x")])
        .await;
    assert_eq!(r.status(), 403, "another's needs revert_any");
    assert_eq!(
        actions(&app, ActionStatus::Active).await.len(),
        2,
        "nothing reverted"
    );
    let r = tier2
        .post(&format!("/actions/{mine}/revert"), &[("reason", "")])
        .await;
    assert_eq!(r.status(), 422, "a reason is required");

    let r = tier2
        .post(
            &format!("/actions/{mine}/revert"),
            &[("reason", "false positive"), ("back", "//evil.example/")],
        )
        .await;
    assert_eq!(
        location(&r),
        "/actions?done=reverted",
        "only local paths are followed"
    );
    let tier3 = app.console(Role::Tier3).await;
    let r = tier3
        .post(&format!("/actions/{theirs}/revert"), &[("reason", "done")])
        .await;
    assert_eq!(r.status(), 303);
    let reverted = actions(&app, ActionStatus::Reverted).await;
    assert_eq!(reverted.len(), 2);
    let (_, body) = page(viewer.get("/actions?done=reverted").await).await;
    assert!(body.contains("action reverted"));
    assert!(body.contains("id=\"past-actions\"") && body.contains("false positive"));
}

// --- detectors -------------------------------------------------------------------------------

#[tokio::test]
async fn detectors_page_shows_the_catalogue_rules_and_recent_alerts() {
    let catalogue = Catalogue {
        detectors: vec![
            DetectorInfo {
                id: "API_ParameterEnumeration".into(),
                group: "behavioural".into(),
                description: "one client walking many ids".into(),
                mitre: vec!["T1595".into()],
                owasp: Some("API1:2023".into()),
                enabled: true,
                thresholds: vec![("min_ids".into(), "50".into())],
            },
            DetectorInfo {
                id: "scanner".into(),
                group: "content".into(),
                description: "forced browsing".into(),
                enabled: false,
                ..Default::default()
            },
        ],
        sigma: vec![SigmaInfo {
            id: "5513deaf-f49a-46c2-a6c8-3f111b5cb453".into(),
            title: "SQL Injection Strings In URI".into(),
            author: "Saw Win Naung, Nasreddine Bencherchali".into(),
            level: "high".into(),
        }],
    };
    let app = spawn_app_state(
        move |s| s.catalogue = Arc::new(catalogue),
        Default::default(),
    )
    .await;
    app.seed_ten().await;
    let viewer = app.console(Role::Viewer).await;
    let (status, body) = page(viewer.get("/detectors").await).await;
    assert_eq!(status, 200);
    assert_csp_clean(&body);
    assert!(body.contains("1 of 2 running"));
    assert!(
        body.contains("href=\"/incidents?detector=API_ParameterEnumeration\">10</a>"),
        "ten alerts in the last days: {body}"
    );
    assert!(body.contains("min_ids = 50") && body.contains("API1:2023") && body.contains("T1595"));
    assert!(
        body.contains("Saw Win Naung, Nasreddine Bencherchali"),
        "authors credited"
    );
    assert!(body.contains("SQL Injection Strings In URI"));
}

// --- settings --------------------------------------------------------------------------------

#[tokio::test]
async fn settings_show_sections_by_role() {
    let mut contain = rampart_contain::ContainConfig::default();
    contain.protected.principals = vec!["healthcheck".into()];
    contain.protected.ips = vec!["10.0.0.0/8".parse().unwrap()];
    let app = spawn_app_contained(Default::default(), contain).await;
    let tier3 = app.console(Role::Tier3).await;
    assert_eq!(tier3.get("/settings").await.status(), 403);
    let mgr = app.console(Role::SocManager).await;
    let (status, body) = page(mgr.get("/settings").await).await;
    assert_eq!(status, 200);
    assert_csp_clean(&body);
    assert!(
        body.contains(&format!("data-user=\"{}\"", mgr.user)),
        "users listed"
    );
    assert!(
        body.contains("healthcheck") && body.contains("10.0.0.0/8"),
        "protected listed"
    );
    assert!(body.contains("read-only here"));
    assert!(
        !body.contains("id=\"tokens\""),
        "no manage_tokens, no tokens"
    );
    let admin = app.console(Role::Admin).await;
    let (_, body) = page(admin.get("/settings").await).await;
    assert!(body.contains("id=\"new-token\"") && body.contains("id=\"create-enforcer\""));
}

#[tokio::test]
async fn creating_users_is_for_user_managers_within_their_own_role() {
    let app = spawn_app().await;
    let tier1 = app.console(Role::Tier1).await;
    let form = [
        ("name", "newbie"),
        ("role", "tier1"),
        ("password", "long enough pw"),
    ];
    assert_eq!(tier1.post("/settings/users", &form).await.status(), 403);
    assert!(app.store.user_by_name("newbie").await.unwrap().is_none());

    let mgr = app.console(Role::SocManager).await;
    let r = mgr
        .post(
            "/settings/users",
            &[
                ("name", "boss"),
                ("role", "admin"),
                ("password", "long enough pw"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403, "a soc_manager cannot make an admin");
    assert!(app.store.user_by_name("boss").await.unwrap().is_none());
    let r = mgr
        .post(
            "/settings/users",
            &[
                ("name", "gw"),
                ("role", "enforcer"),
                ("password", "long enough pw"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422, "machine roles are for tokens");
    let r = mgr
        .post(
            "/settings/users",
            &[("name", "shorty"), ("role", "tier1"), ("password", "short")],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(app.store.user_by_name("shorty").await.unwrap().is_none());

    let r = mgr.post("/settings/users", &form).await;
    assert_eq!(location(&r), "/settings?done=user");
    let (user, hash) = app
        .store
        .user_by_name("newbie")
        .await
        .unwrap()
        .expect("created");
    assert_eq!(user.role, Role::Tier1);
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let client = no_redirect_client();
    assert_eq!(
        app.login_as(&client, "newbie", "long enough pw")
            .await
            .status(),
        303,
        "the new user signs in"
    );
    let audit = app
        .store
        .list_audit(&rampart_store::AuditFilter {
            actor: Some(format!("user:{}", mgr.user)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        audit.items.iter().any(|a| a.action == "user.create"),
        "audited as the creator: {:?}",
        audit.items
    );
    let r = mgr.post("/settings/users", &form).await;
    assert_eq!(r.status(), 409, "a taken name");
}

#[tokio::test]
async fn a_token_secret_is_shown_once_and_only_its_hash_is_stored() {
    let app = spawn_app().await;
    let mgr = app.console(Role::SocManager).await;
    let form = [("purpose", "api"), ("name", "ci-bot"), ("role", "viewer")];
    assert_eq!(mgr.post("/settings/tokens", &form).await.status(), 403);
    assert!(app
        .store
        .list_tokens()
        .await
        .unwrap()
        .iter()
        .all(|t| t.name != "ci-bot"));

    let admin = app.console(Role::Admin).await;
    let (status, body) = page(admin.post("/settings/tokens", &form).await).await;
    assert_eq!(status, 200);
    assert_csp_clean(&body);
    let at = body.find("<pre id=\"secret\">").expect("secret shown") + 17;
    let secret = body[at..at + body[at..].find('<').unwrap()].to_string();
    assert!(secret.starts_with("rmp_"), "{secret}");
    // it works, as what it was made for
    assert_eq!(app.get("/api/v1/incidents", &secret).await.status(), 200);
    // stored as its hash, and nowhere in the database as itself
    let stored = app
        .store
        .authenticate_token(&rampart_server::hash_token(&secret))
        .await
        .unwrap()
        .expect("stored by hash");
    assert_eq!(
        (stored.name.as_str(), stored.role),
        ("ci-bot", Role::Viewer)
    );
    let dir = app.data_dir().expect("data dir");
    for f in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the secret is not stored"
        );
    }
    // not shown again
    let (_, settings) = page(admin.get("/settings").await).await;
    assert!(settings.contains("data-token=\"ci-bot\"") && !settings.contains(&secret));

    // gateway keys are enforcer tokens whatever role the form says
    let (status, body) = page(
        admin
            .post(
                "/settings/tokens",
                &[
                    ("purpose", "bouncer"),
                    ("name", "crowdsec-1"),
                    ("role", "admin"),
                ],
            )
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("X-Api-Key"));
    let key = app
        .store
        .list_tokens()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == "crowdsec-1")
        .expect("bouncer key");
    assert_eq!(key.role, Role::Enforcer);
}

#[tokio::test]
async fn revoking_a_token_needs_manage_tokens() {
    let app = spawn_app().await;
    let secret = app.token(Role::Viewer).await;
    let name = app
        .store
        .list_tokens()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.role == Role::Viewer)
        .unwrap()
        .name;
    let path = format!("/settings/tokens/{name}/revoke");
    let mgr = app.console(Role::SocManager).await;
    assert_eq!(mgr.post(&path, &[]).await.status(), 403);
    assert_eq!(
        app.get("/api/v1/incidents", &secret).await.status(),
        200,
        "still works"
    );
    let admin = app.console(Role::Admin).await;
    let r = admin.post(&path, &[]).await;
    assert_eq!(location(&r), "/settings?done=revoked");
    assert_eq!(
        app.get("/api/v1/incidents", &secret).await.status(),
        401,
        "refused at once"
    );
    let (_, body) = page(admin.get("/settings?done=revoked").await).await;
    assert!(body.contains("token revoked"));
    assert_eq!(
        admin
            .post("/settings/tokens/no-such/revoke", &[])
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn forms_without_the_csrf_token_change_nothing() {
    let app = spawn_app().await;
    let tier3 = app.console(Role::Tier3).await;
    let r = tier3
        .post_raw(
            "/actions",
            &[
                ("kind", "block_ip"),
                ("target", "203.0.113.7"),
                ("reason", "r"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(actions(&app, ActionStatus::Active).await.is_empty());
}

#[tokio::test]
async fn managers_disable_users_and_set_passwords_ending_their_sessions() {
    let app = spawn_app().await;
    let lead = app.console(Role::SocManager).await;
    let analyst = app.console(Role::Tier2).await;
    let admin = app.user(Role::Admin).await;
    assert_eq!(analyst.get("/incidents").await.status(), 200);
    // the settings page offers the changes for the users the manager may change
    let (status, body) = page(lead.get("/settings").await).await;
    assert_eq!(status, 200);
    assert!(
        body.contains(&format!("data-disable=\"{}\"", analyst.user)),
        "{body}"
    );
    assert!(
        !body.contains(&format!("data-disable=\"{admin}\"")),
        "not an admin"
    );
    assert!(
        !body.contains(&format!("data-disable=\"{}\"", lead.user)),
        "not oneself"
    );

    let disable = format!("/settings/users/{}/disable", analyst.user);
    let r = lead.post(&disable, &[("disabled", "true")]).await;
    assert_eq!(location(&r), "/settings?done=disabled");
    assert_eq!(
        analyst.get("/incidents").await.status(),
        303,
        "signed out at once"
    );
    let client = no_redirect_client();
    assert_eq!(
        app.login_as(&client, &analyst.user, PASSWORD)
            .await
            .status(),
        401,
        "a disabled user cannot sign in"
    );
    let r = lead.post(&disable, &[("disabled", "false")]).await;
    assert_eq!(location(&r), "/settings?done=enabled");
    assert_eq!(
        app.login_as(&client, &analyst.user, PASSWORD)
            .await
            .status(),
        303
    );

    let password = format!("/settings/users/{}/password", analyst.user);
    let (status, body) = page(lead.post(&password, &[("password", "short")]).await).await;
    assert_eq!(status, 422, "{body}");
    let r = lead
        .post(&password, &[("password", "a brand new secret")])
        .await;
    assert_eq!(location(&r), "/settings?done=password");
    assert_eq!(
        app.login_as(&client, &analyst.user, PASSWORD)
            .await
            .status(),
        401
    );
    assert_eq!(
        app.login_as(&client, &analyst.user, "a brand new secret")
            .await
            .status(),
        303
    );

    // a manager may not change an admin, nor themselves; tier3 may not change anyone
    let (status, _) = page(
        lead.post(
            &format!("/settings/users/{admin}/disable"),
            &[("disabled", "true")],
        )
        .await,
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = page(
        lead.post(
            &format!("/settings/users/{}/disable", lead.user),
            &[("disabled", "true")],
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    let tier3 = app.console(Role::Tier3).await;
    let (status, _) = page(tier3.post(&disable, &[("disabled", "true")]).await).await;
    assert_eq!(status, 403);
    let (user, _) = app.store.user_by_name(&admin).await.unwrap().unwrap();
    assert!(
        user.disabled_at.is_none(),
        "nothing changed by the refusals"
    );
    let (user, _) = app
        .store
        .user_by_name(&analyst.user)
        .await
        .unwrap()
        .unwrap();
    assert!(user.disabled_at.is_none());
}
