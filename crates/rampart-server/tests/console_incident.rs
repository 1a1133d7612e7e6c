//! The console's incident page and its forms, through HTTP with signed-in users: every tab,
//! escaping of hostile evidence, and each form allowed or refused by role, changing the store
//! (audited as `user:<name>`) or nothing.

mod common;

use common::*;
use rampart_model::{
    ActionFilter, ActionStatus, AlertDraft, ApiEvent, AttackStage, Classification, Determination,
    Entity, EntityKind, EntityRole, IncidentStatus, PriorityReason, Role, Severity, Timestamp,
};
use rampart_server::console::ROUTES;
use rampart_store::{AuditFilter, IncidentState};

const EVIL: &str = "<script>alert(1)</script>";

const TABS: [&str; 7] = [
    "story", "alerts", "graph", "response", "tasks", "activity", "comments",
];

/// Store one incident holding `alerts`; its id.
async fn incident_with(app: &TestApp, title: &str, alerts: Vec<AlertDraft>) -> i64 {
    let mut entities: Vec<Entity> = Vec::new();
    for e in alerts.iter().flat_map(|a| &a.entities) {
        if !entities.contains(e) {
            entities.push(e.clone());
        }
    }
    let state = IncidentState {
        title: title.into(),
        severity: Severity::High,
        entities,
        first_activity: alerts.iter().map(|a| a.first_seen).min().unwrap(),
        last_activity: alerts.iter().map(|a| a.last_seen).max().unwrap(),
        alert_count: alerts.len() as u32,
        priority: 80,
        priority_reasons: vec![PriorityReason {
            points: 30,
            reason: "attacker reached data access".into(),
        }],
    };
    app.store_incident(state, alerts).await
}

/// An alert whose every attacker-controlled field carries a script tag.
fn hostile_alert() -> AlertDraft {
    let mut a = alert(EVIL, Severity::High, "203.0.113.66", 1_700_000_000);
    a.description = format!("the body was {EVIL}");
    a.stage = AttackStage::Exploitation;
    a.entities = vec![
        Entity::attacker_ip("203.0.113.66"),
        Entity::new(EntityKind::User, EVIL, EntityRole::Attacker),
        Entity::new(EntityKind::UserAgent, EVIL, EntityRole::Related),
        Entity::target_endpoint(format!("GET /{EVIL}")),
    ];
    a.evidence = vec![ApiEvent {
        ts: Timestamp::from_secs(1_700_000_000),
        client_ip: Some("203.0.113.66".parse().unwrap()),
        method: "POST".into(),
        path: format!("/{EVIL}").into(),
        query: format!("q={EVIL}").into(),
        status: 200,
        user_agent: EVIL.into(),
        request_body: Some(format!("{{\"x\":\"{EVIL}\"}}").into()),
        raw: format!("203.0.113.66 - - \"POST /{EVIL} HTTP/1.1\" 200 \"{EVIL}\"").into(),
        ..Default::default()
    }];
    a
}

async fn page(c: &Console, path: &str) -> String {
    let r = c.get(path).await;
    assert_eq!(r.status(), 200, "GET {path}");
    r.text().await.unwrap()
}

/// Post a form, expect 303, return where it leads.
async fn posted(c: &Console, path: &str, fields: &[(&str, &str)]) -> String {
    let r = c.post(path, fields).await;
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    let body = r.text().await.unwrap_or_default();
    assert_eq!(status, 303, "POST {path} {fields:?}: {body}");
    location.expect("location")
}

/// Post a form, expect `status`, return the page.
async fn refused(c: &Console, path: &str, fields: &[(&str, &str)], status: u16) -> String {
    let r = c.post(path, fields).await;
    assert_eq!(r.status().as_u16(), status, "POST {path} {fields:?}");
    r.text().await.unwrap()
}

async fn audit(app: &TestApp, object_type: &str, id: i64) -> Vec<rampart_model::AuditEntry> {
    app.store
        .list_audit(&AuditFilter {
            object_type: Some(object_type.into()),
            object_id: Some(id.to_string()),
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .items
}

async fn incident(app: &TestApp, id: i64) -> rampart_model::IncidentDetail {
    app.store.get_incident(id).await.unwrap().expect("incident")
}

async fn actions_of(app: &TestApp, id: i64) -> Vec<rampart_model::Action> {
    app.store
        .list_actions(&ActionFilter {
            incident_id: Some(id),
            ..ActionFilter::default()
        })
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn every_tab_renders_for_a_viewer_without_forms() {
    let app = spawn_app().await;
    let id = app.seed_ten().await[0].id;
    let viewer = app.console(Role::Viewer).await;
    for tab in TABS {
        let html = page(&viewer, &format!("/incidents/{id}?tab={tab}")).await;
        assert!(html.contains(&format!("id=\"tab-{tab}\"")), "{tab}");
        for t in TABS {
            assert!(
                html.contains(&format!("data-tab=\"{t}\"")),
                "{tab} links {t}"
            );
        }
        assert!(html.contains("BOLA walk on users"));
        assert!(!html.contains("id=\"manage\""), "{tab}: no manage pane");
        assert!(
            !html.contains("method=\"post\" action=\"/incidents/"),
            "{tab}"
        );
    }
    let story = page(&viewer, &format!("/incidents/{id}")).await;
    assert!(story.contains("id=\"tab-story\""), "the story by default");
    assert!(story.contains("data-stage=\"data_access\""));
    assert!(story.contains("The address 203.0.113.1 pulled data from"));
    let alerts = page(&viewer, &format!("/incidents/{id}?tab=alerts")).await;
    assert!(alerts.contains("distinct_ids"), "why it fired");
    let graph = page(&viewer, &format!("/incidents/{id}?tab=graph")).await;
    assert!(graph.contains("<g class=\"node k-ip r-attacker\" data-node=\"0\""));
    assert!(graph.contains("<aside id=\"flyout\" class=\"flyout\" hidden"));
    let response = page(&viewer, &format!("/incidents/{id}?tab=response")).await;
    assert!(response.contains("data-verdict=\"not_contained\""));
    assert!(
        response.contains("needs contain_low"),
        "no button, in words"
    );

    assert_eq!(
        viewer
            .get(&format!("/incidents/{id}?tab=nope"))
            .await
            .status(),
        400
    );
    assert_eq!(viewer.get("/incidents/999999").await.status(), 404);
}

#[tokio::test]
async fn hostile_evidence_is_escaped_on_every_tab() {
    let app = spawn_app().await;
    let id = incident_with(
        &app,
        EVIL,
        vec![hostile_alert(), sigma_alert("203.0.113.66")],
    )
    .await;
    let admin = app.console(Role::Admin).await;
    for tab in TABS {
        let html = page(&admin, &format!("/incidents/{id}?tab={tab}")).await;
        assert_eq!(
            html.matches("<script").count(),
            1,
            "{tab}: only the console's own script tag"
        );
        assert!(html.contains("<script src=\"/static/console.js\""));
        assert!(!html.contains("style="), "{tab}: no inline style");
        assert!(!html.contains("javascript:"), "{tab}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{tab}"
        );
    }
    let alerts = page(&admin, &format!("/incidents/{id}?tab=alerts")).await;
    assert!(alerts.contains("<pre class=\"raw\">"), "raw line in pre");
    assert!(alerts.contains("User agent: &lt;script&gt;"));
    assert!(
        alerts.contains("Saw Win Naung, Nasreddine Bencherchali"),
        "sigma author"
    );
    assert!(
        alerts.contains("5513deaf-f49a-46c2-a6c8-3f111b5cb453"),
        "sigma rule id"
    );
    let response = page(&admin, &format!("/incidents/{id}?tab=response")).await;
    assert!(response.contains("id=\"contain-user-_script_alert_1___script_\""));
    assert!(response.contains("data-target=\"&lt;script&gt;alert(1)&lt;/script&gt;\""));
}

#[tokio::test]
async fn manage_patches_what_differs_audited_as_the_user() {
    let app = spawn_app().await;
    let id = app.seed_ten().await[0].id;
    let tier1 = app.console(Role::Tier1).await;
    let path = format!("/incidents/{id}/manage");
    let fields = [
        ("tab", "graph"),
        ("title", "BOLA walk, confirmed"),
        ("assigned_to", "bob"),
        ("status", "InProgress"),
        ("severity", "Critical"),
        ("tags", "pci, exfil, pci"),
        ("classification", "TruePositive"),
        ("determination", "DataExfiltration"),
    ];
    let to = posted(&tier1, &path, &fields).await;
    assert_eq!(to, format!("/incidents/{id}?tab=graph&msg=saved"));
    let inc = incident(&app, id).await.incident;
    assert_eq!(inc.title, "BOLA walk, confirmed");
    assert_eq!(inc.assigned_to.as_deref(), Some("bob"));
    assert_eq!(inc.status, IncidentStatus::InProgress);
    assert_eq!(inc.severity, Severity::Critical);
    assert_eq!(inc.tags, ["pci", "exfil"]);
    assert_eq!(inc.classification, Classification::TruePositive);
    assert_eq!(inc.determination, Determination::DataExfiltration);
    let entries = audit(&app, "incident", id).await;
    let mine: Vec<_> = entries
        .iter()
        .filter(|e| e.actor == format!("user:{}", tier1.user))
        .collect();
    assert_eq!(mine.len(), 7, "one entry per changed field: {entries:?}");
    assert!(page(&tier1, &to).await.contains("Changes saved."));

    // the same form again changes nothing and writes nothing
    let to = posted(&tier1, &path, &fields).await;
    assert!(to.ends_with("msg=unchanged"), "{to}");
    assert_eq!(audit(&app, "incident", id).await.len(), entries.len());

    // resolving is the resolve form's, unassigning is an empty owner
    let page = refused(&tier1, &path, &[("status", "Resolved")], 422).await;
    assert!(page.contains("resolve form"), "{page}");
    posted(&tier1, &path, &[("assigned_to", "")]).await;
    assert_eq!(incident(&app, id).await.incident.assigned_to, None);

    let viewer = app.console(Role::Viewer).await;
    let page = refused(&viewer, &path, &[("title", "pwned")], 403).await;
    assert!(page.contains("lacks the permission triage"));
    assert_eq!(
        incident(&app, id).await.incident.title,
        "BOLA walk, confirmed"
    );
}

#[tokio::test]
async fn comments_need_the_comment_permission() {
    let app = spawn_app().await;
    let id = app.seed_ten().await[0].id;
    let tier1 = app.console(Role::Tier1).await;
    let path = format!("/incidents/{id}/comments");
    let to = posted(&tier1, &path, &[("text", "looked at it <b>now</b>")]).await;
    assert_eq!(to, format!("/incidents/{id}?tab=comments&msg=commented"));
    let comments = incident(&app, id).await.comments;
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].author, format!("user:{}", tier1.user));
    let html = page(&tier1, &to).await;
    assert!(html.contains("looked at it &lt;b&gt;now&lt;/b&gt;"));
    assert!(html.contains("Comment added."));
    refused(&tier1, &path, &[("text", "  ")], 422).await;

    let viewer = app.console(Role::Viewer).await;
    refused(&viewer, &path, &[("text", "hi")], 403).await;
    assert_eq!(incident(&app, id).await.comments.len(), 1);
}

#[tokio::test]
async fn resolve_without_findings_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let id = app.seed_ten().await[0].id;
    let tier1 = app.console(Role::Tier1).await;
    let before = incident(&app, id).await;
    let audit_before = audit(&app, "incident", id).await.len();
    let path = format!("/incidents/{id}/resolve");
    for (fields, missing) in [
        (
            vec![],
            "missing: a classification, a determination, the findings",
        ),
        (
            vec![
                ("classification", "TruePositive"),
                ("determination", "Automated"),
            ],
            "missing: the findings",
        ),
        (
            vec![
                ("classification", "Unknown"),
                ("determination", "Automated"),
                ("findings", "scanner"),
            ],
            "missing: a classification",
        ),
        (
            vec![
                ("classification", "FalsePositive"),
                ("determination", "NotAvailable"),
                ("findings", "  "),
            ],
            "missing: a determination, the findings",
        ),
    ] {
        let page = refused(&tier1, &path, &fields, 422).await;
        assert!(page.contains(missing), "{fields:?}: {page}");
    }
    assert_eq!(incident(&app, id).await, before);
    assert_eq!(audit(&app, "incident", id).await.len(), audit_before);

    let viewer = app.console(Role::Viewer).await;
    let full = [
        ("classification", "TruePositive"),
        ("determination", "DataExfiltration"),
        ("findings", "walked 200 ids"),
    ];
    refused(&viewer, &path, &full, 403).await;
    assert_eq!(incident(&app, id).await, before);
}

#[tokio::test]
async fn resolve_with_findings_sets_status_then_keeps_the_note() {
    let app = spawn_app().await;
    let id = app.seed_ten().await[0].id;
    let tier1 = app.console(Role::Tier1).await;
    let to = posted(
        &tier1,
        &format!("/incidents/{id}/resolve"),
        &[
            ("tab", "response"),
            ("classification", "TruePositive"),
            ("determination", "DataExfiltration"),
            ("findings", "walked 200 user ids; blocked the address"),
        ],
    )
    .await;
    assert_eq!(to, format!("/incidents/{id}?tab=response&msg=resolved"));
    let d = incident(&app, id).await;
    assert_eq!(d.incident.status, IncidentStatus::Resolved);
    assert_eq!(d.incident.classification, Classification::TruePositive);
    assert_eq!(d.incident.determination, Determination::DataExfiltration);
    assert_eq!(d.comments.len(), 1);
    assert_eq!(
        d.comments[0].text,
        "Resolution: walked 200 user ids; blocked the address"
    );
    // oldest first: status, classification, determination, then the note
    let me = format!("user:{}", tier1.user);
    let mut mine: Vec<_> = audit(&app, "incident", id)
        .await
        .into_iter()
        .filter(|e| e.actor == me)
        .collect();
    mine.reverse();
    let what: Vec<String> = mine
        .iter()
        .map(|e| match e.details["field"].as_str() {
            Some(f) => format!("{}:{f}", e.action),
            None => e.action.clone(),
        })
        .collect();
    assert_eq!(
        what,
        [
            "incident.update:status",
            "incident.update:classification",
            "incident.update:determination",
            "incident.comment",
        ]
    );
    let html = page(&tier1, &format!("/incidents/{id}")).await;
    assert!(
        !html.contains("id=\"resolve-form\""),
        "resolved: no resolve form"
    );
}

#[tokio::test]
async fn merge_redirects_to_the_target_and_leaves_a_banner() {
    let app = spawn_app().await;
    let seeded = app.seed_ten().await;
    let (from, into) = (seeded[0].id, seeded[2].id);
    let viewer = app.console(Role::Viewer).await;
    let path = format!("/incidents/{from}/merge");
    refused(&viewer, &path, &[("into", &into.to_string())], 403).await;
    assert_eq!(
        incident(&app, from).await.incident.status,
        IncidentStatus::Active
    );

    let tier1 = app.console(Role::Tier1).await;
    refused(&tier1, &path, &[("into", "")], 422).await;
    refused(&tier1, &path, &[("into", &from.to_string())], 409).await;
    let to = posted(&tier1, &path, &[("into", &into.to_string())]).await;
    assert_eq!(to, format!("/incidents/{into}?tab=story&msg=merged"));
    let src = incident(&app, from).await.incident;
    assert_eq!(src.status, IncidentStatus::Redirected);
    assert_eq!(src.redirect_to, Some(into));
    let html = page(&tier1, &format!("/incidents/{from}")).await;
    assert!(html.contains("id=\"redirected\""));
    assert!(html.contains(&format!("href=\"/incidents/{into}\" id=\"redirect-to\"")));
    assert!(!html.contains("id=\"merge-form\""));
}

#[tokio::test]
async fn tier1_gets_no_contain_button_and_a_crafted_post_is_refused() {
    let app = spawn_app().await;
    let id = app.seed_ten().await[0].id;
    let tier1 = app.console(Role::Tier1).await;
    let html = page(&tier1, &format!("/incidents/{id}?tab=response")).await;
    assert!(!html.contains(&format!("action=\"/incidents/{id}/contain\"")));
    assert!(html.contains("needs contain_low, which your role does not have"));
    let page = refused(
        &tier1,
        &format!("/incidents/{id}/contain"),
        &[
            ("kind", "block_ip"),
            ("entity", "203.0.113.1"),
            ("duration", "4h"),
        ],
        403,
    )
    .await;
    assert!(page.contains("lacks the permission contain_low"));
    assert!(actions_of(&app, id).await.is_empty());
}

#[tokio::test]
async fn tier2_blocks_the_attacker_ip_in_one_click_and_it_is_enforced_at_once() {
    let app = spawn_app().await;
    let id = app.seed_ten().await[0].id;
    let enforcer = app.token(Role::Enforcer).await;
    let ask = || async {
        app.client
            .get(app.url("/enforce/nginx"))
            .header("X-Rampart-Enforcer-Key", &enforcer)
            .header("X-Real-IP", "203.0.113.1")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(ask().await, 204);
    let tier2 = app.console(Role::Tier2).await;
    let html = page(&tier2, &format!("/incidents/{id}?tab=response")).await;
    assert!(html.contains("id=\"contain-ip-203.0.113.1\" data-action=\"block_ip\""));
    assert!(html.contains("name=\"duration\" value=\"4h\""));
    let to = posted(
        &tier2,
        &format!("/incidents/{id}/contain"),
        &[
            ("kind", "block_ip"),
            ("entity", "203.0.113.1"),
            ("duration", "4h"),
            ("reason", "attacker of incident"),
        ],
    )
    .await;
    assert_eq!(to, format!("/incidents/{id}?tab=response&msg=contained"));
    assert_eq!(ask().await, 403, "enforced before the answer");
    let actions = actions_of(&app, id).await;
    assert_eq!(actions.len(), 1);
    let a = &actions[0];
    assert_eq!(a.status(), ActionStatus::Active);
    assert_eq!(a.action.target, "203.0.113.1");
    assert_eq!(a.action.duration_secs, 4 * 3600);
    assert_eq!(a.action.requested_by, format!("user:{}", tier2.user));
    let entries = audit(&app, "action", a.id).await;
    assert_eq!(entries[0].action, "action.create");
    assert_eq!(entries[0].actor, format!("user:{}", tier2.user));

    let html = page(&tier2, &to).await;
    assert!(html.contains("data-verdict=\"contained\""), "contained now");
    assert!(
        !html.contains("id=\"contain-ip-203.0.113.1\""),
        "no longer recommended"
    );
    assert!(
        html.contains(&format!("id=\"revert-{}\"", a.id)),
        "own action: revert"
    );

    // high impact is refused by rampart-contain for tier2, in words, and stores nothing
    let page = refused(
        &tier2,
        &format!("/incidents/{id}/contain"),
        &[
            ("kind", "isolate_endpoint"),
            ("entity", "GET /api/v1/users/{id}"),
        ],
        403,
    )
    .await;
    assert!(page.contains("lacks contain_high"), "{page}");
    refused(
        &tier2,
        &format!("/incidents/{id}/contain"),
        &[("kind", "block_ip"), ("entity", "not-an-ip")],
        422,
    )
    .await;
    assert_eq!(actions_of(&app, id).await.len(), 1);

    // revert one's own, with a reason
    let revert = format!("/actions/{}/revert", a.id);
    refused(&tier2, &revert, &[("reason", "")], 422).await;
    let to = posted(&tier2, &revert, &[("reason", "false alarm")]).await;
    assert_eq!(to, format!("/incidents/{id}?tab=response&msg=reverted"));
    assert_eq!(ask().await, 204, "lifted before the answer");
    let a = app.store.get_action(a.id).await.unwrap().unwrap();
    assert_eq!(a.status(), ActionStatus::Reverted);
    assert_eq!(a.reverted_by, Some(format!("user:{}", tier2.user)));
}

#[tokio::test]
async fn approval_takes_a_second_person() {
    let app = spawn_app().await;
    let id = app.seed_ten().await[0].id;
    let (alice, bob) = (
        app.console(Role::Tier3).await,
        app.console(Role::Tier3).await,
    );
    let to = posted(
        &alice,
        &format!("/incidents/{id}/contain"),
        &[
            ("kind", "block_ip"),
            ("entity", "203.0.112.0/22"),
            ("duration", "30m"),
        ],
    )
    .await;
    assert_eq!(to, format!("/incidents/{id}?tab=response&msg=pending"));
    let aid = actions_of(&app, id).await[0].id;
    let approve = format!("/actions/{aid}/approve");

    let own = page(&alice, &format!("/incidents/{id}?tab=response")).await;
    assert!(own.contains(&format!(
        "data-action-id=\"{aid}\" data-status=\"pending_approval\""
    )));
    assert!(
        own.contains(&format!("action #{aid} waits for approval")),
        "not offered twice"
    );
    assert!(
        !own.contains(&format!("id=\"approve-{aid}\"")),
        "not one's own"
    );
    let page_text = refused(&alice, &approve, &[], 403).await;
    assert!(
        page_text.contains("approved by another person"),
        "{page_text}"
    );
    let tier2 = app.console(Role::Tier2).await;
    refused(&tier2, &approve, &[], 403).await;
    assert_eq!(
        app.store.get_action(aid).await.unwrap().unwrap().status(),
        ActionStatus::PendingApproval
    );

    let theirs = page(&bob, &format!("/incidents/{id}?tab=response")).await;
    assert!(theirs.contains(&format!("id=\"approve-{aid}\" data-action=\"approve\"")));
    let back = format!("/incidents/{id}?tab=response");
    let to = posted(&bob, &approve, &[("back", &back)]).await;
    assert_eq!(to, format!("{back}&msg=approved"));
    let a = app.store.get_action(aid).await.unwrap().unwrap();
    assert_eq!(a.status(), ActionStatus::Active);
    assert_eq!(a.approved_by, Some(format!("user:{}", bob.user)));
    let entries = audit(&app, "action", aid).await;
    assert_eq!(entries[0].action, "action.approve");
    assert_eq!(entries[0].actor, format!("user:{}", bob.user));
    // a second approval is a state conflict
    refused(&bob, &approve, &[], 409).await;
    // a back link off the site is not followed
    let revert = format!("/actions/{aid}/revert");
    let to = posted(
        &bob,
        &revert,
        &[("reason", "done"), ("back", "//evil.example/")],
    )
    .await;
    assert_eq!(to, format!("/incidents/{id}?tab=response&msg=reverted"));
}

#[tokio::test]
async fn tasks_are_added_ticked_and_seeded() {
    let app = spawn_app().await;
    let mut a = alert("stuffing", Severity::High, "203.0.113.50", 1_700_000_000);
    a.entities.push(Entity::new(
        EntityKind::User,
        "mallory",
        EntityRole::Attacker,
    ));
    let id = incident_with(&app, "stuffing", vec![a]).await;
    let tier1 = app.console(Role::Tier1).await;
    let me = format!("user:{}", tier1.user);

    let to = posted(
        &tier1,
        &format!("/incidents/{id}/tasks"),
        &[
            ("title", "call the API owner"),
            ("detail", "ask about <logs>"),
        ],
    )
    .await;
    assert_eq!(to, format!("/incidents/{id}?tab=tasks&msg=task-added"));
    let tasks = app.store.list_tasks(id).await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].created_by, me);
    let tid = tasks[0].id;
    refused(
        &tier1,
        &format!("/incidents/{id}/tasks"),
        &[("title", " ")],
        422,
    )
    .await;

    let tick = format!("/incidents/{id}/tasks/{tid}");
    posted(&tier1, &tick, &[("done", "true")]).await;
    let t = &app.store.list_tasks(id).await.unwrap()[0];
    assert!(t.done);
    assert_eq!(t.done_by.as_deref(), Some(me.as_str()));
    let html = page(&tier1, &format!("/incidents/{id}?tab=tasks")).await;
    assert!(html.contains("ask about &lt;logs&gt;"));
    assert!(html.contains(&format!("data-task=\"{tid}\" data-done=\"true\"")));
    let to = posted(&tier1, &tick, &[("done", "false")]).await;
    assert!(to.ends_with("msg=task-undone"));
    assert!(!app.store.list_tasks(id).await.unwrap()[0].done);
    refused(&tier1, &tick, &[("done", "maybe")], 422).await;
    refused(
        &tier1,
        &format!("/incidents/{id}/tasks/999999"),
        &[("done", "true")],
        404,
    )
    .await;

    let seed = format!("/incidents/{id}/tasks/seed");
    posted(&tier1, &seed, &[]).await;
    let tasks = app.store.list_tasks(id).await.unwrap();
    assert!(
        tasks
            .iter()
            .any(|t| t.task.title == "reset credentials of mallory"),
        "{tasks:?}"
    );
    posted(&tier1, &seed, &[]).await;
    assert_eq!(
        app.store.list_tasks(id).await.unwrap().len(),
        tasks.len(),
        "idempotent"
    );
    let entries = audit(&app, "task", tid).await;
    assert_eq!(entries[0].action, "task.undone");
    assert_eq!(entries[0].actor, me);

    let viewer = app.console(Role::Viewer).await;
    refused(&viewer, &tick, &[("done", "true")], 403).await;
    refused(&viewer, &seed, &[], 403).await;
    assert!(!app.store.list_tasks(id).await.unwrap()[0].done);
    let html = page(&viewer, &format!("/incidents/{id}?tab=tasks")).await;
    assert!(!html.contains("id=\"seed-tasks\""));
}

#[tokio::test]
async fn activity_shows_the_incident_its_actions_and_tasks_newest_first() {
    let app = spawn_app().await;
    let id = app.seed_ten().await[0].id;
    let tier2 = app.console(Role::Tier2).await;
    posted(
        &tier2,
        &format!("/incidents/{id}/manage"),
        &[("severity", "Low")],
    )
    .await;
    posted(
        &tier2,
        &format!("/incidents/{id}/contain"),
        &[("kind", "block_ip"), ("entity", "203.0.113.1")],
    )
    .await;
    posted(
        &tier2,
        &format!("/incidents/{id}/tasks"),
        &[("title", "check logs")],
    )
    .await;
    let html = page(&tier2, &format!("/incidents/{id}?tab=activity")).await;
    let at = |what: &str| {
        html.find(what)
            .unwrap_or_else(|| panic!("{what} in {html}"))
    };
    assert!(at("task.create") < at("action.create"), "newest first");
    assert!(at("action.create") < at("incident.update"), "newest first");
    assert!(html.contains(&format!("user:{}", tier2.user)));
}

/// A request for one of the incident page's routes that changes nothing harmful: the
/// handler answers it with a redirect or its own 4xx, never 401/403, for a role that may.
fn sample(method: &str, path: &str, incident: i64) -> (String, Vec<(&'static str, &'static str)>) {
    let filled = if path.starts_with("/actions/") {
        path.replace("{id}", "999999")
    } else {
        path.replace("{id}", &incident.to_string())
    }
    .replace("{task_id}", "999999");
    let body = match (method, path) {
        ("get", _) => vec![],
        // nothing differs: 303 "unchanged"
        ("post", "/incidents/{id}/manage") => vec![("tab", "story")],
        // no classification, determination, findings: 422
        ("post", "/incidents/{id}/resolve") => vec![],
        ("post", "/incidents/{id}/comments") => vec![("text", "")],
        ("post", "/incidents/{id}/merge") => vec![],
        ("post", "/incidents/{id}/contain") => vec![],
        ("post", "/incidents/{id}/tasks") => vec![("title", "")],
        // seeding is idempotent
        ("post", "/incidents/{id}/tasks/seed") => vec![],
        // no such task or action: 404
        ("post", "/incidents/{id}/tasks/{task_id}") => vec![("done", "true")],
        ("post", "/actions/{id}/approve") => vec![],
        ("post", "/actions/{id}/revert") => vec![("reason", "sample")],
        // nothing to undo: 303 back to the incident
        ("post", "/incidents/{id}/disruption/undo") => vec![],
        // nothing proven benign: 303 back
        ("post", "/incidents/{id}/investigation/resolve" | "/incidents/{id}/investigation/run") => {
            vec![]
        }
        // no such playbook: 422
        ("post", "/incidents/{id}/playbooks") => vec![("playbook", "no-such-playbook")],
        // no such lesson: 422
        ("post", "/incidents/{id}/review/apply-rule" | "/incidents/{id}/review/apply-action") => {
            vec![("lesson", "none")]
        }
        (m, p) => panic!("no sample request for {m} {p}: add one"),
    };
    (filled, body)
}

#[tokio::test]
async fn every_role_against_the_incident_page_routes() {
    let app = spawn_app().await;
    let id = app.seed_ten().await[0].id;
    let ours: Vec<_> = ROUTES
        .iter()
        .filter(|r| {
            (r.path.starts_with("/incidents/{id}") || r.path.starts_with("/actions/{id}"))
                && r.permission.is_some()
        })
        .collect();
    assert_eq!(ours.len(), 19, "the incident page's routes");
    let roles = [
        Role::Viewer,
        Role::Tier1,
        Role::Tier2,
        Role::Tier3,
        Role::SocManager,
        Role::Admin,
    ];
    for role in roles {
        let c = app.console(role).await;
        for r in &ours {
            let permission = r.permission.unwrap();
            let (path, body) = sample(r.method, r.path, id);
            let resp = if r.method == "get" {
                c.get(&path).await
            } else {
                c.post(&path, &body).await
            };
            let status = resp.status().as_u16();
            let location = resp
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_string());
            let text = resp.text().await.unwrap_or_default();
            let what = format!("{} {} as {role}", r.method, r.path);
            if role.grants(permission) {
                assert!(
                    status != 401 && status != 403 && status < 500,
                    "{what}: {status} {text}"
                );
                assert!(
                    !location.is_some_and(|l| l.starts_with("/login")),
                    "{what}: signed out"
                );
            } else {
                assert_eq!(status, 403, "{what}");
                assert!(
                    text.contains(&format!("lacks the permission {permission}")),
                    "{what}: {text}"
                );
            }
        }
    }
    assert_eq!(
        incident(&app, id).await.incident.status,
        IncidentStatus::Active
    );
    assert!(actions_of(&app, id).await.is_empty());
}
