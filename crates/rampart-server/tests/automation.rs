//! `/api/v1/automation/rules` over a real SQLite store: create, list, get, replace (same rule
//! again changes nothing), delete, all audited as the caller; a 422 naming the field for an
//! invalid rule; only `manage_automation` writes; and a stored rule run by the pipeline's
//! automation worker on the incident a pushed alert creates.

mod common;

use common::{assert_error, sigma_alert, spawn_app};
use rampart_model::Role;
use rampart_store::AuditFilter;
use serde_json::{json, Value};

fn rule(name: &str, owner: &str) -> Value {
    json!({
        "name": name,
        "order": 10,
        "triggers": ["incident_created"],
        "conditions": {"property": "entity.ip", "operator": "in_cidr", "value": "198.51.100.0/24"},
        "actions": [{"assign": owner}, {"add_tags": ["auto"]}],
    })
}

#[tokio::test]
async fn rules_crud_is_checked_audited_and_role_gated() {
    let app = spawn_app().await;
    let manager = app.token(Role::SocManager).await;
    let tier3 = app.token(Role::Tier3).await;

    let r = app
        .post("/api/v1/automation/rules", &tier3, rule("triage", "alice"))
        .await;
    assert_error(r, 403, "forbidden").await;
    let r = app
        .post(
            "/api/v1/automation/rules",
            &manager,
            rule("triage", "alice"),
        )
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["name"].clone(), v["version"].clone()),
        (json!("triage"), json!(1))
    );
    assert_eq!(v["rule"]["actions"][0], json!({"assign": "alice"}));
    let r = app
        .post(
            "/api/v1/automation/rules",
            &manager,
            rule("triage", "alice"),
        )
        .await;
    assert_error(r, 409, "conflict").await;

    // Replace: the same rule again is no new version; a change is.
    let put = |body: Value| {
        app.send(
            reqwest::Method::PUT,
            "/api/v1/automation/rules/triage",
            &manager,
            body,
        )
    };
    let v: Value = put(rule("triage", "alice")).await.json().await.unwrap();
    assert_eq!(v["version"], 1);
    let v: Value = put(rule("triage", "bob")).await.json().await.unwrap();
    assert_eq!(v["version"], 2);
    assert_error(put(rule("other", "bob")).await, 422, "unprocessable").await;

    // Invalid rules: 422 naming the field; malformed JSON: 400.
    let mut bad = rule("bad", "x");
    bad["conditions"]["operator"] = json!("resembles");
    let msg = assert_error(
        app.post("/api/v1/automation/rules", &manager, bad).await,
        422,
        "unprocessable",
    )
    .await;
    assert!(
        msg.contains("conditions.operator") && msg.contains("resembles"),
        "{msg}"
    );
    let mut closing = rule("close", "x");
    closing["actions"] = json!([{"set_status": {"status": "Resolved"}}]);
    let msg = assert_error(
        app.post("/api/v1/automation/rules", &manager, closing)
            .await,
        422,
        "unprocessable",
    )
    .await;
    assert!(
        msg.contains("classification, a determination and a comment"),
        "{msg}"
    );
    let r = app
        .client
        .post(app.url("/api/v1/automation/rules"))
        .bearer_auth(&manager)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "bad_request").await;

    let viewer = app.token(Role::Viewer).await;
    let list: Value = app
        .get("/api/v1/automation/rules", &viewer)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["items"][0]["rule"]["actions"][0]["assign"], "bob");
    let one = app.get("/api/v1/automation/rules/triage", &viewer).await;
    assert_eq!(one.status(), 200);
    assert_error(
        app.get("/api/v1/automation/rules/nope", &viewer).await,
        404,
        "not_found",
    )
    .await;
    let r = app
        .client
        .delete(app.url("/api/v1/automation/rules/triage"))
        .bearer_auth(&manager)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let audit = app
        .store
        .list_audit(&AuditFilter {
            object_type: Some("automation.rule".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = audit.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "automation.delete",
            "automation.update",
            "automation.create"
        ]
    );
    assert!(audit.items.iter().all(|e| e.actor.starts_with("token:")));
}

#[tokio::test]
async fn a_stored_rule_runs_on_the_incident_a_pushed_alert_creates() {
    let app = spawn_app().await;
    let manager = app.token(Role::SocManager).await;
    let r = app
        .post(
            "/api/v1/automation/rules",
            &manager,
            rule("triage", "alice"),
        )
        .await;
    assert_eq!(r.status(), 201);
    let ingest = app.token(Role::Ingest).await;
    let alert = serde_json::to_value(sigma_alert("198.51.100.8")).unwrap();
    let r = app.post("/api/v1/alerts", &ingest, json!([alert])).await;
    assert_eq!(r.status(), 202);
    // The worker runs after the batch commits: wait (bounded) for its audited change.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let entry = loop {
        let audit = app
            .store
            .list_audit(&AuditFilter {
                actor: Some("rule:triage".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        if audit.items.len() >= 2 {
            break audit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the rule did not run within 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let fields: Vec<String> = entry
        .items
        .iter()
        .map(|e| e.details["field"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        fields.contains(&"assigned_to".to_string()) && fields.contains(&"tags".to_string()),
        "{fields:?}"
    );
    let page = app.store.list_incidents(&Default::default()).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].assigned_to.as_deref(), Some("alice"));
    assert_eq!(page.items[0].tags, ["auto"]);
}

/// A person's change raises `incident_updated`: "changed to" and "updated by user" read it.
#[tokio::test]
async fn a_persons_change_runs_the_incident_updated_rules() {
    let app = spawn_app().await;
    let manager = app.token(Role::SocManager).await;
    let ack = json!({
        "name": "ack",
        "triggers": ["incident_updated"],
        "conditions": {"all": [
            {"changed": "status", "from": "Active", "to": "InProgress"},
            {"updated_by": "user"},
        ]},
        "actions": [{"add_tags": ["acknowledged"]}, {"set_severity": "High"}],
    });
    assert_eq!(
        app.post("/api/v1/automation/rules", &manager, ack)
            .await
            .status(),
        201
    );
    let id = app
        .seed_incidents(&[common::Seed {
            title: "Probe",
            severity: rampart_model::Severity::Low,
            ip: "203.0.113.5",
            status: rampart_model::IncidentStatus::Active,
            owner: None,
            tags: &[],
            priority: 10,
        }])
        .await[0]
        .id;
    let tier1 = app.token(Role::Tier1).await;
    let path = format!("/api/v1/incidents/{id}");
    let r = app
        .patch(&path, &tier1, json!({"severity": "Medium"}))
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .patch(&path, &tier1, json!({"status": "InProgress"}))
        .await;
    assert_eq!(r.status(), 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let inc = app.store.get_incident(id).await.unwrap().unwrap().incident;
        if inc.tags == ["acknowledged"] {
            assert_eq!(inc.severity, rampart_model::Severity::High);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the rule did not run: {inc:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let by_rule = app
        .store
        .list_audit(&AuditFilter {
            actor: Some("rule:ack".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    // Tags and severity once: the severity patch alone did not match, and the rule's own
    // change does not run it again.
    assert_eq!(by_rule.items.len(), 2, "{:?}", by_rule.items);
}
