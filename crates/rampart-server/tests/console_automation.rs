//! The console's automation pages over a real SQLite store and the real workers: rules,
//! playbooks and webhooks written as YAML in the editor (checked as the API does, refused
//! with the field and line and the text kept, audited as the user, read-only without
//! `manage_automation`), a suppression rule made from an incident that then resolves the
//! next incident like it, dead letters listed and retried, and a playbook run started,
//! approved at its gate and logged on the incident's playbooks tab.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rampart_model::{
    Classification, DeliveryFilter, DeliveryStatus, IncidentFilter, IncidentStatus, Role,
    AUTOMATION_RULE,
};
use rampart_server::webhook::WebhookConfig;
use rampart_server::ServerConfig;
use rampart_store::AuditFilter;
use serde_json::{json, Value};

/// Wait (bounded: 20 s) until `check` holds.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within 20 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The editor's document, unescaped.
fn document(html: &str) -> String {
    let start = html.find("id=\"document\"").expect("an editor");
    let open = start + html[start..].find('>').unwrap() + 1;
    let end = open + html[open..].find("</").unwrap();
    html[open..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_string()
}

async fn text(c: &Console, path: &str) -> String {
    let r = c.get(path).await;
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.unwrap()
}

#[tokio::test]
async fn automation_is_written_as_yaml_in_the_console_checked_and_audited() {
    let app = spawn_app().await;
    let manager = app.console(Role::SocManager).await;
    let page = text(&manager, "/automation").await;
    assert!(page.contains("No automation rule yet"), "{page}");

    // every kind's template is a valid document
    for (kind, name) in [
        ("rules", "my-rule"),
        ("playbooks", "my-playbook"),
        ("webhooks", "my-webhook"),
    ] {
        let doc = document(&text(&manager, &format!("/automation/{kind}/new")).await);
        let r = manager
            .post(&format!("/automation/{kind}"), &[("text", &doc)])
            .await;
        assert_eq!(r.status(), 303, "{kind}: {:?}", r.text().await);
        assert_eq!(
            location(&r),
            format!("/automation/{kind}/{name}?done=created")
        );
    }
    let page = text(&manager, "/automation").await;
    for row in [
        "data-rule=\"my-rule\"",
        "data-playbook=\"my-playbook\"",
        "data-webhook=\"my-webhook\"",
    ] {
        assert!(page.contains(row), "{row}");
    }
    let stored = app
        .store
        .get_automation(AUTOMATION_RULE, "my-rule")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.updated_by, format!("user:{}", manager.user));
    assert_eq!(stored.version, 1);

    // the same document again changes nothing; an edit is a new version
    let doc = document(&text(&manager, "/automation/rules/my-rule").await);
    let r = manager
        .post("/automation/rules/my-rule", &[("text", &doc)])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/automation/rules/my-rule?done=saved");
    let version = |app: &TestApp| {
        let store = app.store.clone();
        async move {
            store
                .get_automation(AUTOMATION_RULE, "my-rule")
                .await
                .unwrap()
                .unwrap()
                .version
        }
    };
    assert_eq!(version(&app).await, 1, "unchanged");
    let edited = doc.replace("order: 100", "order: 7");
    assert_ne!(edited, doc);
    let r = manager
        .post("/automation/rules/my-rule", &[("text", &edited)])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(version(&app).await, 2);
    let shown = text(&manager, "/automation/rules/my-rule?done=saved").await;
    assert!(shown.contains("Saved."));
    assert!(document(&shown).contains("order: 7"));

    // refused: the field and line, the text kept (escaped), nothing stored
    let bad = "name: bad\ntriggers: [incident_created]\nactions:\n  - frobnicate: \"</textarea><script>x</script>\"\n";
    let r = manager.post("/automation/rules", &[("text", bad)]).await;
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"editor-error\""), "{page}");
    assert!(
        page.contains("actions[0]") && page.contains("line 4"),
        "{page}"
    );
    assert!(!page.contains("<script>x"), "escaped");
    assert_eq!(document(&page), bad, "the text is kept");
    assert!(app
        .store
        .get_automation(AUTOMATION_RULE, "bad")
        .await
        .unwrap()
        .is_none());
    // a second rule of the same name: 409, shown in the editor
    let r = manager
        .post("/automation/rules", &[("text", &edited)])
        .await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("exists"));
    // the body's name must be the path's
    let renamed = edited.replace("name: my-rule", "name: other");
    let r = manager
        .post("/automation/rules/my-rule", &[("text", &renamed)])
        .await;
    assert_eq!(r.status(), 422);

    // read-only for a role without manage_automation, refused when it posts anyway
    let tier3 = app.console(Role::Tier3).await;
    let page = text(&tier3, "/automation/rules/my-rule").await;
    assert!(!page.contains("id=\"editor-form\"") && page.contains("order: 7"));
    let r = tier3
        .post("/automation/rules/my-rule", &[("text", &doc)])
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(version(&app).await, 2);
    assert_eq!(tier3.get("/automation/rules/new").await.status(), 403);
    assert_eq!(manager.get("/automation/tokens/x").await.status(), 404);
    assert_eq!(manager.get("/automation/rules/missing").await.status(), 404);

    // delete, audited as the user
    let r = manager.post("/automation/rules/my-rule/delete", &[]).await;
    assert_eq!(r.status(), 303);
    assert!(app
        .store
        .get_automation(AUTOMATION_RULE, "my-rule")
        .await
        .unwrap()
        .is_none());
    let audit = app
        .store
        .list_audit(&AuditFilter {
            actor: Some(format!("user:{}", manager.user)),
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = audit.items.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions
            .iter()
            .filter(|a| a.starts_with("automation"))
            .count()
            >= 5,
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_suppression_rule_from_an_incident_resolves_the_next_incident_like_it() {
    let app = spawn_app().await;
    let ingest = app.token(Role::Ingest).await;
    let push = |ip: &'static str| {
        let (app, ingest) = (&app, ingest.clone());
        async move {
            let alert = serde_json::to_value(sigma_alert(ip)).unwrap();
            let r = app.post("/api/v1/alerts", &ingest, json!([alert])).await;
            assert_eq!(r.status(), 202);
            app.flush_automation().await;
        }
    };
    push("198.51.100.77").await;
    let first = app
        .store
        .list_incidents(&IncidentFilter::default())
        .await
        .unwrap()
        .items[0]
        .clone();

    let manager = app.console(Role::SocManager).await;
    let page = text(&manager, &format!("/incidents/{}", first.id)).await;
    assert!(page.contains(&format!("/automation/rules/new?from_incident={}", first.id)));
    let tier1 = app.console(Role::Tier1).await;
    assert!(!text(&tier1, &format!("/incidents/{}", first.id))
        .await
        .contains("id=\"suppress\""));
    let doc = document(
        &text(
            &manager,
            &format!("/automation/rules/new?from_incident={}", first.id),
        )
        .await,
    );
    assert!(
        doc.contains(&format!("name: suppress-incident-{}", first.id)),
        "{doc}"
    );
    assert!(
        doc.contains("198.51.100.77") && doc.contains("sigma"),
        "{doc}"
    );
    assert!(doc.contains("expires_at:"), "{doc}");
    let r = manager.post("/automation/rules", &[("text", &doc)]).await;
    assert_eq!(r.status(), 303, "{:?}", r.text().await);

    // the first one is closed by hand; the same actor again opens a new incident, which the
    // rule resolves as expected activity
    let r = manager
        .post(
            &format!("/incidents/{}/resolve", first.id),
            &[
                ("classification", "InformationalExpectedActivity"),
                ("determination", "SecurityTesting"),
                ("findings", "pentest"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    push("198.51.100.77").await;
    // another actor is not suppressed
    push("203.0.113.200").await;
    let all = app
        .store
        .list_incidents(&IncidentFilter::default())
        .await
        .unwrap()
        .items;
    assert_eq!(all.len(), 3, "{all:?}");
    let of = |ip: &str| {
        all.iter()
            .filter(|i| i.id != first.id && i.entities.iter().any(|e| e.value == ip))
            .collect::<Vec<_>>()
    };
    let suppressed = of("198.51.100.77");
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0].status, IncidentStatus::Resolved);
    assert_eq!(
        suppressed[0].classification,
        Classification::InformationalExpectedActivity
    );
    assert_eq!(of("203.0.113.200")[0].status, IncidentStatus::Active);
    let audit = app
        .store
        .list_audit(&AuditFilter {
            actor: Some(format!("rule:suppress-incident-{}", first.id)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!audit.items.is_empty());
}

#[tokio::test]
async fn dead_letters_are_listed_and_retried_from_the_console() {
    let app = spawn_app_with(ServerConfig {
        webhooks: WebhookConfig {
            poll_interval: Duration::from_millis(50),
            retry_base: Duration::from_millis(20),
            retry_max: Duration::from_millis(200),
            concurrency: 4,
            ca_file: None,
        },
        ..Default::default()
    })
    .await;
    let manager_token = app.token(Role::SocManager).await;
    // nothing listens on port 1: every attempt fails
    let r = app
        .post(
            "/api/v1/webhooks",
            &manager_token,
            json!({"name": "down", "url": "http://127.0.0.1:1/hook",
                   "events": ["incident_created"], "max_attempts": 1}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let ingest = app.token(Role::Ingest).await;
    let alert = serde_json::to_value(sigma_alert("198.51.100.5")).unwrap();
    assert_eq!(
        app.post("/api/v1/alerts", &ingest, json!([alert]))
            .await
            .status(),
        202
    );
    let dead = || async {
        app.store
            .list_deliveries(&DeliveryFilter {
                webhook: Some("down".into()),
                status: Some(DeliveryStatus::Dead),
                ..Default::default()
            })
            .await
            .unwrap()
    };
    until("a dead letter", || async { !dead().await.is_empty() }).await;
    let before = dead().await[0].clone();
    let id = before.id;

    let manager = app.console(Role::SocManager).await;
    let page = text(&manager, "/automation").await;
    assert!(page.contains("data-dead=\"1\""), "{page}");
    let page = text(&manager, "/automation/webhooks/down?status=dead").await;
    assert!(page.contains(&format!("id=\"retry-{id}\"")), "{page}");
    assert!(page.contains("data-status=\"dead\""));
    let tier3 = app.console(Role::Tier3).await;
    let page = text(&tier3, "/automation/webhooks/down?status=dead").await;
    assert!(!page.contains(&format!("id=\"retry-{id}\"")));
    assert_eq!(
        tier3
            .post(&format!("/webhook-deliveries/{id}/retry"), &[])
            .await
            .status(),
        403
    );
    let r = manager
        .post(&format!("/webhook-deliveries/{id}/retry"), &[])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        location(&r),
        "/automation/webhooks/down?status=dead&done=retried#deliveries"
    );
    // queued again: pending, or already tried again (and, with one attempt allowed, dead
    // again) by the worker, which polls every 50 ms; either way its next attempt moved on
    let d = app.store.get_delivery(id).await.unwrap().unwrap();
    assert!(
        d.next_attempt_at > before.next_attempt_at,
        "sent again: {d:?} (before the retry: {before:?})"
    );
    assert!(d.status == DeliveryStatus::Pending || d.status == DeliveryStatus::Dead);
    let audit = app
        .store
        .list_audit(&AuditFilter {
            object_type: Some("webhook_delivery".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.items.len(), 1);
    assert_eq!(audit.items[0].actor, format!("user:{}", manager.user));
    assert_eq!(
        manager
            .get("/automation/webhooks/down?status=lost")
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn a_playbook_run_is_started_approved_and_logged_on_the_incident_page() {
    let app = spawn_app().await;
    let a = alert(
        "credential stuffing",
        rampart_model::Severity::High,
        "203.0.113.31",
        1_700_000_000,
    );
    let state = rampart_store::IncidentState {
        title: "Credential stuffing".into(),
        severity: rampart_model::Severity::High,
        entities: a.entities.clone(),
        first_activity: a.first_seen,
        last_activity: a.last_seen,
        alert_count: 1,
        priority: 50,
        priority_reasons: vec![],
    };
    let inc = app.store_incident(state, vec![a]).await;
    let doc = "name: gated\nsubject: incident\nsteps:\n  - id: gate\n    approval: {prompt: \"Tag <{{ incident.title }}>?\"}\n  - id: done\n    tag: [reviewed]\n";
    let manager = app.console(Role::SocManager).await;
    assert_eq!(
        manager
            .post("/automation/playbooks", &[("text", doc)])
            .await
            .status(),
        303
    );
    let tab = format!("/incidents/{inc}?tab=playbooks");
    let tier1 = app.console(Role::Tier1).await;
    let page = text(&tier1, &tab).await;
    assert!(page.contains("id=\"no-runs\"") && !page.contains("id=\"run-playbook\""));
    let tier2 = app.console(Role::Tier2).await;
    let page = text(&tier2, &tab).await;
    assert!(page.contains("id=\"run-playbook\"") && page.contains("value=\"gated\""));
    let r = tier2
        .post(
            &format!("/incidents/{inc}/playbooks"),
            &[("playbook", "gated")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("{tab}&msg=run-started"));
    let run = |app: &TestApp| {
        let store = app.store.clone();
        async move { store.list_runs(Some(inc), 10).await.unwrap() }
    };
    until("the run waits at its gate", || async {
        run(&app)
            .await
            .first()
            .is_some_and(|r| r.status == rampart_model::RunStatus::Waiting)
    })
    .await;
    let id = run(&app).await[0].id;
    let page = text(&tier2, &tab).await;
    assert!(page.contains(&format!("id=\"gate-{id}\"")), "{page}");
    assert!(page.contains("Tag &lt;Credential stuffing&gt;?"), "{page}");
    assert!(
        !page.contains(&format!("id=\"approve-run-{id}\"")),
        "tier2 cannot approve"
    );
    assert_eq!(
        tier2
            .post(&format!("/playbook-runs/{id}/approve"), &[])
            .await
            .status(),
        403
    );
    let tier3 = app.console(Role::Tier3).await;
    let page = text(&tier3, &tab).await;
    assert!(page.contains(&format!("id=\"approve-run-{id}\"")));
    let r = tier3
        .post(&format!("/playbook-runs/{id}/approve"), &[])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("{tab}&msg=run-approved"));
    until("the run succeeds", || async {
        run(&app).await[0].status == rampart_model::RunStatus::Succeeded
    })
    .await;
    let page = text(&tier3, &tab).await;
    assert!(
        page.contains("data-step=\"done\" data-status=\"completed\""),
        "{page}"
    );
    assert!(page.contains("data-step=\"gate\""), "{page}");
    assert!(
        !page.contains(&format!("id=\"cancel-run-{id}\"")),
        "final: no cancel"
    );
    let inc_now = app.store.get_incident(inc).await.unwrap().unwrap();
    assert!(inc_now.incident.tags.contains(&"reviewed".to_string()));
    // an approval with no gate: 409 shown as a page
    assert_eq!(
        tier3
            .post(&format!("/playbook-runs/{id}/approve"), &[])
            .await
            .status(),
        409
    );
    let v: Value = app.get_json(&format!("/api/v1/playbook-runs/{id}")).await;
    assert_eq!(v["steps"].as_array().unwrap().len(), 2);
}
