//! Saved hunting queries and custom detections over a real SQLite store and the real
//! pipeline: the simulator's traffic with a password brute force is stored, a tier-3 analyst
//! saves a query that counts failed logins per source as a detection, and a run raises one
//! alert per source the query finds (the brute-force attacker among them), correlated into an
//! incident; the same slot does not run twice, a later run over an overlapping window finds
//! the same rows and raises nothing; bad documents are 422s naming the field; only `hunt`
//! may manage saved queries and every change is audited.

mod common;

use std::collections::BTreeMap;

use common::*;
use rampart_model::{Role, Timestamp};
use rampart_server::{detections, AppState, ServerConfig};
use rampart_sim::{Scenario, ScenarioConfig, SimConfig, Simulator};
use rampart_store::{AlertFilter, AuditFilter};
use serde_json::{json, Value};

const DAY: i64 = 86_400_000;

async fn app() -> (TestApp, AppState) {
    let mut captured = None;
    let config = ServerConfig {
        detection_tick: None,
        ..ServerConfig::default()
    };
    let app = spawn_app_state(|s| captured = Some(s.clone()), config).await;
    (app, captured.expect("state"))
}

fn brute_force_traffic() -> (Vec<rampart_model::ApiEvent<'static>>, String) {
    let cfg = SimConfig {
        seed: 7,
        events: 4_000,
        duration_ms: DAY,
        users: 200,
        scenarios: vec![ScenarioConfig {
            kind: Scenario::BruteForce,
            strength: 1.0,
            at_fraction: 0.5,
        }],
        ..SimConfig::default()
    };
    let mut attacker = None;
    let events = Simulator::new(cfg)
        .map(|(e, label)| {
            if label.scenario == Some("brute_force") {
                attacker = label.attacker;
            }
            e
        })
        .collect();
    (events, attacker.expect("an attacker").to_string())
}

fn detection_doc() -> Value {
    json!({
        "name": "login-failures",
        "description": "many failed logins from one source",
        "query": "ApiEvents | where Path == \"/api/v1/auth/login\" and Status == 401 \
                  | summarize failures = count(), last = max(Timestamp) by ClientIp \
                  | where failures >= 10",
        "detection": {
            "schedule": "1d", "window": "2d", "severity": "High", "mitre": ["T1110.001"],
            "title": "{failures} failed logins from {ClientIp}",
            "entities": [{"column": "ClientIp", "kind": "ip"}]
        }
    })
}

#[tokio::test]
async fn a_saved_detection_raises_each_simulated_finding_once() {
    let (app, state) = app().await;
    let (events, attacker) = brute_force_traffic();
    let start = events[0].ts.millis();
    // the ground truth, counted here: sources with at least 10 failed logins
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    for e in &events {
        if e.path == "/api/v1/auth/login" && e.status == 401 {
            *failures
                .entry(e.client_ip.expect("ip").to_string())
                .or_default() += 1;
        }
    }
    failures.retain(|_, n| *n >= 10);
    assert!(failures.contains_key(&attacker), "{failures:?}");
    app.store
        .insert_events(&events, None)
        .await
        .expect("insert");

    let tier3 = app.token(Role::Tier3).await;
    let r = app
        .post("/api/v1/hunt/queries", &tier3, detection_doc())
        .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let r = app
        .post("/api/v1/hunt/queries", &tier3, detection_doc())
        .await;
    assert_eq!(r.status(), 409, "a name is taken once");

    // the slot after the simulated day: its 2-day window covers all of it
    let now = Timestamp(start + DAY + DAY / 2);
    let ran = detections::run_due(&state, "node-a", now)
        .await
        .expect("run");
    assert_eq!(ran.len(), 1, "{ran:?}");
    let (name, outcome) = &ran[0];
    assert_eq!(name, "login-failures");
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.rows, failures.len() as u64);
    assert_eq!(outcome.alerts, failures.len() as u64);

    let alerts = app
        .store
        .list_alerts(&AlertFilter {
            detector: Some("custom:login-failures".into()),
            ..AlertFilter::default()
        })
        .await
        .expect("alerts");
    assert_eq!(alerts.items.len(), failures.len());
    let a = alerts
        .items
        .iter()
        .find(|a| a.draft.title.ends_with(&format!("from {attacker}")))
        .expect("the attacker's alert");
    let n = failures[&attacker];
    assert_eq!(a.draft.title, format!("{n} failed logins from {attacker}"));
    assert_eq!(a.draft.mitre, vec!["T1110.001"]);
    assert!(
        a.draft.entities.iter().any(|e| e.value == attacker),
        "{:?}",
        a.draft.entities
    );
    let incident = a.incident_id.expect("correlated into an incident");
    let v = app.get_json(&format!("/api/v1/incidents/{incident}")).await;
    assert!(v.to_string().contains(&attacker), "{v}");

    // the same slot again (another node, a second tick): nothing runs
    let again = detections::run_due(&state, "node-b", Timestamp(now.millis() + 60_000))
        .await
        .expect("run");
    assert!(again.is_empty(), "{again:?}");
    // the next day's run: the window still holds the attack, the rows raise nothing new
    let next = detections::run_due(&state, "node-b", Timestamp(now.millis() + DAY))
        .await
        .expect("run");
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].1.rows, failures.len() as u64);
    assert_eq!(next[0].1.alerts, 0, "{:?}", next[0].1);
    assert_eq!(next[0].1.duplicates, failures.len() as u64);
    let alerts = app
        .store
        .list_alerts(&AlertFilter {
            detector: Some("custom:login-failures".into()),
            ..AlertFilter::default()
        })
        .await
        .expect("alerts");
    assert_eq!(alerts.items.len(), failures.len(), "raised once");

    // the API shows the last run
    let v = app.get_json("/api/v1/hunt/queries/login-failures").await;
    assert_eq!(v["last_run"]["owner"], "node-b", "{v}");
    assert_eq!(
        v["last_run"]["outcome"]["duplicates"],
        failures.len(),
        "{v}"
    );
}

#[tokio::test]
async fn saved_queries_are_checked_permissioned_and_audited() {
    let (app, _state) = app().await;
    let tier3 = app.token(Role::Tier3).await;
    let tier2 = app.token(Role::Tier2).await;

    // a query that does not parse: the field and the query byte
    let r = app
        .post(
            "/api/v1/hunt/queries",
            &tier3,
            json!({"name": "bad", "query": "ApiEvents | whre x"}),
        )
        .await;
    let msg = assert_error(r, 422, "unprocessable").await;
    assert!(msg.contains("query:") && msg.contains("byte 12"), "{msg}");
    let mut doc = detection_doc();
    doc["detection"]["schedule"] = json!("1m");
    let r = app.post("/api/v1/hunt/queries", &tier3, doc).await;
    let msg = assert_error(r, 422, "unprocessable").await;
    assert!(msg.contains("detection.schedule"), "{msg}");
    let mut doc = detection_doc();
    doc["detection"]["entities"][0]["column"] = json!("Nope");
    let r = app.post("/api/v1/hunt/queries", &tier3, doc).await;
    let msg = assert_error(r, 422, "unprocessable").await;
    assert!(msg.contains("detection.entities[0].column"), "{msg}");
    let r = app
        .client
        .post(app.url("/api/v1/hunt/queries"))
        .bearer_auth(&tier3)
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 422);

    // tier 2 cannot hunt, so cannot see or save queries
    let r = app
        .post(
            "/api/v1/hunt/queries",
            &tier2,
            json!({"name": "x", "query": "ApiEvents"}),
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(app.get("/api/v1/hunt/queries", &tier2).await.status(), 403);

    // a plain saved query: created, replaced, listed, deleted, each audited
    let q = json!({"name": "admin-paths", "query": "ApiEvents | where Path startswith \"/admin\""});
    let r = app.post("/api/v1/hunt/queries", &tier3, q.clone()).await;
    assert_eq!(r.status(), 201);
    let mut q2 = q.clone();
    q2["description"] = json!("<script>alert(1)</script> admin probes");
    let r = app
        .send(
            reqwest::Method::PUT,
            "/api/v1/hunt/queries/admin-paths",
            &tier3,
            q2.clone(),
        )
        .await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let mut renamed = q2.clone();
    renamed["name"] = json!("other");
    let r = app
        .send(
            reqwest::Method::PUT,
            "/api/v1/hunt/queries/admin-paths",
            &tier3,
            renamed,
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = app.get("/api/v1/hunt/queries", &tier3).await;
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["items"][0]["name"], "admin-paths");
    assert_eq!(v["items"][0]["version"], 2);
    assert!(v["items"][0].get("last_run").is_none(), "not a detection");
    let r = app
        .send(
            reqwest::Method::DELETE,
            "/api/v1/hunt/queries/admin-paths",
            &tier3,
            json!(null),
        )
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        app.get("/api/v1/hunt/queries/admin-paths", &tier3)
            .await
            .status(),
        404
    );
    let audit = app
        .store
        .list_audit(&AuditFilter {
            object_type: Some("automation.hunt_query".into()),
            ..AuditFilter::default()
        })
        .await
        .expect("audit")
        .items;
    let actions: Vec<_> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "automation.delete",
            "automation.update",
            "automation.create"
        ],
        "{audit:?}"
    );
    assert!(audit.iter().all(|a| a.actor.contains("tier3")), "{audit:?}");
}
