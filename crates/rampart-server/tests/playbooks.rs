//! Playbooks over a real SQLite store and a real local HTTP receiver: a run contains, tags
//! and adds a task (audited as `playbook:<name>`), its webhook is signed (the signature
//! verifies) and retried with backoff (a receiver failing twice then answering gets 3
//! attempts with one delivery id); an approval gate holds a run until a person approves it;
//! invalid playbooks are refused naming the field and line; runs are gated by role.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use common::{alert, assert_error, spawn_app, spawn_app_state, TestApp};
use rampart_model::{Role, Severity};
use rampart_store::{AuditFilter, IncidentState};
use serde_json::{json, Value};

/// One request the receiver got: its headers and body.
#[derive(Clone)]
struct Got {
    headers: HeaderMap,
    body: Vec<u8>,
}

/// A real HTTP receiver on 127.0.0.1:0 answering 503 to its first `fail` requests, then 200.
async fn receiver(fail: usize) -> (String, Arc<Mutex<Vec<Got>>>) {
    let got: Arc<Mutex<Vec<Got>>> = Arc::default();
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                let mut g = seen.lock().unwrap();
                g.push(Got {
                    headers,
                    body: body.to_vec(),
                });
                if g.len() <= fail {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, got)
}

/// POST a YAML playbook as the raw body.
async fn post_yaml(app: &TestApp, token: &str, doc: impl Into<String>) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/api/v1/playbooks"))
        .bearer_auth(token)
        .header("content-type", "application/yaml")
        .body(doc.into())
        .send()
        .await
        .expect("request")
}

async fn incident(app: &TestApp, ip: &str) -> i64 {
    let a = alert("credential stuffing", Severity::High, ip, 1_700_000_000);
    let state = IncidentState {
        title: "Credential stuffing".into(),
        severity: Severity::High,
        entities: a.entities.clone(),
        first_activity: a.first_seen,
        last_activity: a.last_seen,
        alert_count: 1,
        priority: 50,
        priority_reasons: vec![],
    };
    app.store_incident(state, vec![a]).await
}

/// Poll the run until `done` holds (bounded: 20 s).
async fn wait_run(app: &TestApp, id: i64, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..400 {
        let v = app.get_json(&format!("/api/v1/playbook-runs/{id}")).await;
        if done(&v) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("run {id} did not get there");
}

fn is_final(v: &Value) -> bool {
    matches!(
        v["status"].as_str(),
        Some("succeeded" | "failed" | "cancelled")
    )
}

#[tokio::test]
async fn a_run_contains_tags_and_sends_a_signed_webhook_retried_until_answered() {
    const SECRET_ENV: &str = "RAMPART_TEST_PLAYBOOK_SECRET_A";
    std::env::set_var(SECRET_ENV, "s3cret");
    let app = spawn_app().await;
    let (url, got) = receiver(2).await;
    let inc = incident(&app, "203.0.113.9").await;
    let doc = format!(
        r#"
name: respond
subject: incident
params: {{url: "{url}"}}
steps:
  - id: block
    foreach:
      entities: ip
      role: attacker
      steps:
        - id: block-ip
          contain: {{kind: block_ip, target: "{{{{ item }}}}", duration: 1h}}
  - id: tag
    tag: [stuffing]
  - id: task
    add_task: {{title: "Reset passwords ({{{{ incident.id }}}})"}}
  - id: notify
    webhook:
      url: "{{{{ params.url }}}}"
      secret_env: {SECRET_ENV}
      backoff_ms: 20
      body: {{incident: "{{{{ incident.id }}}}", blocked: "{{{{ steps.block.items }}}}"}}
"#
    );
    let manager = app.token(Role::SocManager).await;
    let r = post_yaml(&app, &manager, doc).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let tier2 = app.token(Role::Tier2).await;
    let r = app
        .post(
            "/api/v1/playbook-runs",
            &tier2,
            json!({"playbook": "respond", "incident_id": inc}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let run: Value = r.json().await.unwrap();
    let id = run["id"].as_i64().unwrap();
    let v = wait_run(&app, id, is_final).await;
    assert_eq!(v["status"], "succeeded", "{v:#}");
    let keys: Vec<(&str, &str)> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["key"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        keys,
        [
            ("0", "completed"),
            ("0[0].0", "completed"),
            ("1", "completed"),
            ("2", "completed"),
            ("3", "completed")
        ]
    );
    let hook = &v["steps"][4];
    assert_eq!(hook["output"]["attempts"], 3);
    assert_eq!(hook["input"]["url"], url);

    // Three attempts, one delivery id, each signed with the secret over its body.
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 3);
    for g in &got {
        assert_eq!(g.headers["x-rampart-delivery"], format!("{id}-3").as_str());
        let sig = g.headers["x-rampart-signature"].to_str().unwrap();
        assert!(rampart_automation::signature::verify(
            b"s3cret", sig, &g.body
        ));
        assert!(!rampart_automation::signature::verify(
            b"other", sig, &g.body
        ));
    }
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body, json!({"incident": inc, "blocked": ["203.0.113.9"]}));

    // The changes are the playbook's, audited as it.
    let d = app.get_json(&format!("/api/v1/incidents/{inc}")).await;
    assert_eq!(d["tags"], json!(["stuffing"]));
    let actions = app
        .get_json(&format!("/api/v1/actions?incident_id={inc}"))
        .await;
    let a = &actions["items"][0];
    assert_eq!(
        (a["target"].as_str(), a["status"].as_str()),
        (Some("203.0.113.9"), Some("active"))
    );
    let audit = app
        .store
        .list_audit(&AuditFilter {
            actor: Some("playbook:respond".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut what: Vec<&str> = audit.items.iter().map(|e| e.action.as_str()).collect();
    what.sort();
    what.dedup();
    assert!(what.contains(&"action.create"), "{what:?}");
    assert!(what.contains(&"playbook_run.succeeded"), "{what:?}");
    let tasks = app
        .get_json(&format!("/api/v1/incidents/{inc}/tasks"))
        .await;
    assert!(
        tasks
            .to_string()
            .contains(&format!("Reset passwords ({inc})")),
        "{tasks}"
    );
    let runs = app
        .get_json(&format!("/api/v1/playbook-runs?incident_id={inc}"))
        .await;
    assert_eq!(runs["items"][0]["id"], id);
}

#[tokio::test]
async fn a_webhook_that_never_answers_fails_the_run_after_its_retries() {
    let app = spawn_app().await;
    let (url, got) = receiver(100).await;
    let inc = incident(&app, "203.0.113.10").await;
    let doc = json!({
        "name": "tell", "subject": "incident",
        "steps": [
            {"id": "hook", "webhook": {"url": url, "retries": 1, "backoff_ms": 10}},
            {"id": "after", "comment": "never"}
        ]
    });
    let r = app.post("/api/v1/playbooks", &app.admin, doc).await;
    assert_eq!(r.status(), 201);
    let r = app
        .post(
            "/api/v1/playbook-runs",
            &app.admin,
            json!({"playbook": "tell", "incident_id": inc}),
        )
        .await;
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let v = wait_run(&app, id, is_final).await;
    assert_eq!(v["status"], "failed");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("answered 503 (after 2 attempts)"),
        "{v:#}"
    );
    assert_eq!(
        v["steps"].as_array().unwrap().len(),
        1,
        "no step after the failed one"
    );
    assert_eq!(got.lock().unwrap().len(), 2);
    // Unsigned without secret_env.
    assert!(got.lock().unwrap()[0]
        .headers
        .get("x-rampart-signature")
        .is_none());
}

#[tokio::test]
async fn an_approval_gate_holds_the_run_until_approved_and_runs_are_role_gated() {
    let app = spawn_app().await;
    let inc = incident(&app, "203.0.113.11").await;
    let doc = "name: gated\nsubject: incident\nsteps:\n  - id: gate\n    approval: {prompt: \"Block {{ incident.title }}?\"}\n  - id: done\n    comment: \"approved\"\n";
    let r = post_yaml(&app, &app.admin, doc).await;
    assert_eq!(r.status(), 201);
    let tier1 = app.token(Role::Tier1).await;
    let r = app
        .post(
            "/api/v1/playbook-runs",
            &tier1,
            json!({"playbook": "gated", "incident_id": inc}),
        )
        .await;
    assert_error(r, 403, "forbidden").await;
    let r = app
        .post(
            "/api/v1/playbook-runs",
            &app.admin,
            json!({"playbook": "gated", "alert_id": 1}),
        )
        .await;
    assert_error(r, 422, "unprocessable").await;
    let r = app
        .post(
            "/api/v1/playbook-runs",
            &app.admin,
            json!({"playbook": "nope", "incident_id": inc}),
        )
        .await;
    assert_error(r, 422, "unprocessable").await;
    let r = app
        .post(
            "/api/v1/playbook-runs",
            &app.admin,
            json!({"playbook": "gated", "incident_id": inc}),
        )
        .await;
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let v = wait_run(&app, id, |v| v["status"] == "waiting").await;
    assert_eq!(
        v["waiting_for"],
        json!({"step": "0", "prompt": "Block Credential stuffing?"})
    );
    let tier2 = app.token(Role::Tier2).await;
    let r = app
        .post(
            &format!("/api/v1/playbook-runs/{id}/approve"),
            &tier2,
            json!({}),
        )
        .await;
    assert_error(r, 403, "forbidden").await;
    let r = app
        .post(
            &format!("/api/v1/playbook-runs/{id}/approve"),
            &app.admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v = wait_run(&app, id, is_final).await;
    assert_eq!(v["status"], "succeeded");
    assert!(v["steps"][0]["output"]["approved_by"]
        .as_str()
        .unwrap()
        .starts_with("token:admin"));
    let r = app
        .post(
            &format!("/api/v1/playbook-runs/{id}/approve"),
            &app.admin,
            json!({}),
        )
        .await;
    assert_error(r, 409, "conflict").await;
    let r = app
        .post(
            &format!("/api/v1/playbook-runs/{id}/cancel"),
            &app.admin,
            json!({}),
        )
        .await;
    assert_error(r, 409, "conflict").await;

    // A second run, cancelled while it waits.
    let r = app
        .post(
            "/api/v1/playbook-runs",
            &app.admin,
            json!({"playbook": "gated", "incident_id": inc}),
        )
        .await;
    let id2 = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    wait_run(&app, id2, |v| v["status"] == "waiting").await;
    let r = app
        .post(
            &format!("/api/v1/playbook-runs/{id2}/cancel"),
            &tier2,
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v = app.get_json(&format!("/api/v1/playbook-runs/{id2}")).await;
    assert_eq!(v["status"], "cancelled");
}

#[tokio::test]
async fn invalid_playbooks_are_refused_naming_the_field_and_line() {
    let app = spawn_app().await;
    let doc = "name: bad\nsubject: incident\nsteps:\n  - id: a\n    comment: ok\n  - id: b\n    webhook:\n      url: \"{{ steps.zzz.url }}\"\n";
    let r = post_yaml(&app, &app.admin, doc).await;
    let msg = assert_error(r, 422, "unprocessable").await;
    assert_eq!(
        msg,
        "invalid playbook: steps[1].webhook.url (line 8): `steps.zzz` is not a step before this one"
    );
    let tier3 = app.token(Role::Tier3).await;
    let ok = json!({"name": "ok", "subject": "entity", "steps": [{"id": "q", "query_events": {"ip": "{{ entity.value }}"}}]});
    assert_error(
        app.post("/api/v1/playbooks", &tier3, ok.clone()).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(
        app.post("/api/v1/playbooks", &app.admin, ok).await.status(),
        201
    );
    let v = app.get_json("/api/v1/playbooks/ok").await;
    assert_eq!(
        (v["version"].as_i64(), v["playbook"]["subject"].as_str()),
        (Some(1), Some("entity"))
    );
    // An entity run.
    let r = app
        .post(
            "/api/v1/playbook-runs",
            &app.admin,
            json!({"playbook": "ok", "entity": {"kind": "ip", "value": "192.0.2.1"}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let v = wait_run(&app, id, is_final).await;
    assert_eq!(v["status"], "succeeded", "{v:#}");
    assert_eq!(v["steps"][0]["output"]["count"], 0);
    let r = app
        .send(
            reqwest::Method::DELETE,
            "/api/v1/playbooks/ok",
            &app.admin,
            json!(null),
        )
        .await;
    assert_eq!(r.status(), 204);
}

#[tokio::test]
async fn a_rule_runs_a_playbook_on_the_incident_a_pushed_alert_creates() {
    let app = spawn_app().await;
    let doc = "name: tag-it\nsubject: incident\nsteps:\n  - id: t\n    tag: [\"by-playbook\"]\n";
    assert_eq!(post_yaml(&app, &app.admin, doc).await.status(), 201);
    let rule = json!({
        "name": "run-it",
        "triggers": ["incident_created"],
        "actions": [{"run_playbook": "tag-it"}],
    });
    let r = app.post("/api/v1/automation/rules", &app.admin, rule).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let ingest = app.token(Role::Ingest).await;
    let alert = serde_json::to_value(common::sigma_alert("198.51.100.9")).unwrap();
    let r = app.post("/api/v1/alerts", &ingest, json!([alert])).await;
    assert_eq!(r.status(), 202);
    // The worker queues the run, the runner runs it: wait (bounded) for the finished run.
    let mut runs = Value::Null;
    for _ in 0..400 {
        runs = app.get_json("/api/v1/playbook-runs").await;
        if runs["items"][0]["status"] == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let run = &runs["items"][0];
    assert_eq!(run["status"], "succeeded", "{runs:#}");
    assert_eq!(run["requested_by"], "rule:run-it");
    let inc = run["incident_id"].as_i64().unwrap();
    let d = app.get_json(&format!("/api/v1/incidents/{inc}")).await;
    assert!(
        d["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("by-playbook")),
        "{d:#}"
    );
}

/// `lookup_intel` asks the threat-intelligence feeds about each attacker address and a
/// condition acts on the answer: the listed address gets the incident tagged.
#[tokio::test]
async fn a_lookup_intel_step_answers_from_the_feeds() {
    use rampart_signatures::intel::{FeedFormat, ThreatIntel};
    let intel = ThreatIntel::parse("abuse-feed", FeedFormat::Plain, "203.0.113.0/24\n").unwrap();
    let app = spawn_app_state(
        |s| s.intel = Some(Arc::new(arc_swap::ArcSwap::from_pointee(intel))),
        Default::default(),
    )
    .await;
    let inc = incident(&app, "203.0.113.44").await;
    let doc = r#"
name: intel
subject: incident
steps:
  - id: ti
    lookup_intel: {ip: "203.0.113.44"}
  - id: clean
    lookup_intel: {ip: "198.51.100.1"}
  - id: mark
    if:
      condition: "{{ steps.ti.listed }}"
      then:
        - id: tag
          tag: ["intel:{{ steps.ti.feed }}"]
"#;
    let manager = app.token(Role::SocManager).await;
    let r = post_yaml(&app, &manager, doc).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let bad = doc.replace(
        "lookup_intel: {ip: \"198.51.100.1\"}",
        "lookup_intel: {address: x}",
    );
    let r = post_yaml(&app, &manager, bad.replace("name: intel", "name: bad")).await;
    assert_eq!(r.status(), 422, "an unknown field is refused");
    let tier2 = app.token(Role::Tier2).await;
    let r = app
        .post(
            "/api/v1/playbook-runs",
            &tier2,
            json!({"playbook": "intel", "incident_id": inc}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let v = wait_run(&app, id, is_final).await;
    assert_eq!(v["status"], "succeeded", "{v:#}");
    assert_eq!(
        v["steps"][0]["output"],
        json!({"listed": true, "feed": "abuse-feed", "configured": true})
    );
    assert_eq!(v["steps"][1]["output"]["listed"], false);
    let d = app.get_json(&format!("/api/v1/incidents/{inc}")).await;
    assert_eq!(d["tags"], json!(["intel:abuse-feed"]), "{d}");
}
