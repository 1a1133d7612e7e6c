//! Recovery through the API: the containment block and verdict of an incident, the task
//! checklist, and reappearance alerts joining the incident.

mod common;

use common::*;
use rampart_model::{Role, Timestamp};
use rampart_store::AlertFilter;
use serde_json::{json, Value};

/// `n` NDJSON events of `principal` from `ip`, walking user ids, one per 100 ms from `at`.
fn walk(ip: &str, principal: &str, at: Timestamp, n: usize, status: u16) -> String {
    (0..n)
        .map(|i| {
            json!({
                "ts": at.add_millis(i as i64 * 100).to_rfc3339(),
                "client_ip": ip,
                "method": "GET",
                "path": format!("/api/v1/users/{}", 1000 + i),
                "status": status,
                "principal": principal,
            })
            .to_string()
                + "\n"
        })
        .collect()
}

async fn push(app: &TestApp, token: &str, body: String) {
    let r = app
        .client
        .post(app.url("/api/v1/events"))
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .expect("push");
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap_or_default());
}

/// The incident whose entities hold `value`.
async fn incident_of(app: &TestApp, value: &str) -> Value {
    let list = app
        .get_json(&format!("/api/v1/incidents?entity={value}"))
        .await;
    assert_eq!(list["total"], 1, "one incident holds {value}: {list}");
    let id = list["items"][0]["id"].as_i64().unwrap();
    app.get_json(&format!("/api/v1/incidents/{id}")).await
}

async fn action(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post("/api/v1/actions", token, body.clone()).await;
    assert_eq!(r.status(), 201, "{body}");
    r.json().await.unwrap()
}

#[tokio::test]
async fn a_disabled_principal_from_a_new_address_raises_an_alert_in_its_incident() {
    let app = spawn_app().await;
    let ingest = app.token(Role::Ingest).await;
    let tier2 = app.token(Role::Tier2).await;
    let now = Timestamp::now();
    push(&app, &ingest, walk("203.0.113.9", "mallory", now, 300, 200)).await;
    let inc = incident_of(&app, "mallory").await;
    let id = inc["id"].as_i64().unwrap();
    assert_eq!(
        inc["containment"]["verdict"], "not_contained",
        "{}",
        inc["containment"]
    );

    action(
        &app,
        &tier2,
        json!({"kind": "disable_principal", "target": "mallory", "reason": "walked user ids", "incident_id": id}),
    )
    .await;
    // The same principal from the incident's own address is not a reappearance.
    push(
        &app,
        &ingest,
        walk("203.0.113.9", "mallory", now.add_millis(60_000), 1, 403),
    )
    .await;
    let reappeared = |app: &TestApp| {
        let store = app.store.clone();
        async move {
            store
                .list_alerts(&AlertFilter {
                    detector: Some("containment_reappearance".into()),
                    ..AlertFilter::default()
                })
                .await
                .expect("alerts")
        }
    };
    assert_eq!(reappeared(&app).await.total, 0);

    // From a new address: an alert, in the same incident (the watch was rebuilt before the
    // action was acknowledged, and the alert is stored with the batch that carried the event).
    push(
        &app,
        &ingest,
        walk("198.51.100.23", "mallory", now.add_millis(61_000), 1, 200),
    )
    .await;
    let alerts = reappeared(&app).await;
    assert_eq!(alerts.total, 1, "{:?}", alerts.items);
    let a = &alerts.items[0];
    assert_eq!(a.incident_id, Some(id));
    assert_eq!(a.draft.severity, rampart_model::Severity::High);
    assert_eq!(a.draft.mitre, vec!["T1078".to_string()]);
    assert!(a.draft.title.contains("198.51.100.23"), "{}", a.draft.title);

    let inc = app.get_json(&format!("/api/v1/incidents/{id}")).await;
    let c = &inc["containment"];
    let new_ip = c["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["value"] == "198.51.100.23")
        .unwrap_or_else(|| panic!("the new address joined the incident: {c}"));
    assert_eq!(new_ip["contained"], false);
    assert_eq!(c["verdict"], "not_contained");
    let mallory = c["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["value"] == "mallory")
        .unwrap();
    assert_eq!(mallory["contained"], true, "{mallory}");
    assert_eq!(mallory["actions"][0]["kind"], "disable_principal");
}

#[tokio::test]
async fn the_verdict_follows_the_actions_and_the_quiet_period() {
    let app = spawn_app_contained(
        rampart_server::ServerConfig::default(),
        rampart_contain::ContainConfig {
            quiet_period_secs: 0,
            ..Default::default()
        },
    )
    .await;
    let hour = spawn_app().await;
    for app in [&app, &hour] {
        let ingest = app.token(Role::Ingest).await;
        let tier2 = app.token(Role::Tier2).await;
        // Long before: the block comes after all of this activity.
        let then = Timestamp::now().add_millis(-3_600_000);
        push(app, &ingest, walk("203.0.113.9", "mallory", then, 300, 200)).await;
        let inc = incident_of(app, "mallory").await;
        let id = inc["id"].as_i64().unwrap();
        let c = &inc["containment"];
        assert_eq!(c["verdict"], "not_contained");
        let reasons = c["reasons"].to_string();
        assert!(
            reasons.contains("ip 203.0.113.9 has no active action"),
            "{reasons}"
        );
        assert!(
            reasons.contains("principal mallory has no active action"),
            "{reasons}"
        );

        action(
            app,
            &tier2,
            json!({"kind": "block_ip", "target": "203.0.113.9", "reason": "r", "incident_id": id}),
        )
        .await;
        let c = app
            .get_json(&format!("/api/v1/incidents/{id}/containment"))
            .await;
        assert_eq!(
            c["verdict"], "not_contained",
            "the principal is still free: {c}"
        );
        action(app, &tier2, json!({"kind": "rate_limit", "target": "principal:mallory", "rate": {"requests": 1, "window": "1m"}, "reason": "r", "incident_id": id})).await;
        let c = app
            .get_json(&format!("/api/v1/incidents/{id}/containment"))
            .await;
        assert!(
            c["reasons"].to_string().contains("only partly covered"),
            "{c}"
        );
        action(app, &tier2, json!({"kind": "disable_principal", "target": "mallory", "reason": "r", "incident_id": id})).await;
        let c = app
            .get_json(&format!("/api/v1/incidents/{id}/containment"))
            .await;
        let ip = &c["entities"][0];
        assert_eq!(
            (ip["kind"].as_str(), ip["contained"].as_bool()),
            (Some("ip"), Some(true))
        );
        assert!(ip["last_seen"].is_string(), "{ip}");
        assert_eq!(ip["denied_since_containment"], 0);
        if std::ptr::eq(app, &hour) {
            assert_eq!(c["verdict"], "contained", "{c}");
            assert_eq!(c["quiet_period"], "1h");
            assert!(c["reasons"].to_string().contains("quiet for"), "{c}");
        } else {
            assert_eq!(c["verdict"], "neutralized", "{c}");
        }
    }
}

#[tokio::test]
async fn the_checklist_is_seeded_once_ticked_off_and_audited() {
    let app = spawn_app().await;
    let ingest = app.token(Role::Ingest).await;
    let tier1 = app.token(Role::Tier1).await;
    let tier2 = app.token(Role::Tier2).await;
    let viewer = app.token(Role::Viewer).await;
    push(
        &app,
        &ingest,
        walk("203.0.113.9", "mallory", Timestamp::now(), 300, 200),
    )
    .await;
    let id = incident_of(&app, "mallory").await["id"].as_i64().unwrap();
    let tasks = format!("/api/v1/incidents/{id}/tasks");
    assert_eq!(
        app.get_json(&tasks).await["items"],
        json!([]),
        "reading seeds nothing"
    );

    action(
        &app,
        &tier2,
        json!({"kind": "block_ip", "target": "203.0.113.9", "reason": "r", "incident_id": id}),
    )
    .await;
    let r = app.post(&format!("{tasks}/seed"), &tier1, json!({})).await;
    assert_eq!(r.status(), 200);
    let seeded: Value = r.json().await.unwrap();
    let kinds: Vec<&str> = seeded["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "reset_password",
            "review_access",
            "review_access",
            "revert_actions"
        ],
        "{seeded}"
    );
    assert_eq!(seeded["created"], 4);
    let items = seeded["items"].as_array().unwrap();
    assert_eq!(items[0]["title"], "reset credentials of mallory");
    assert_eq!(items[0]["entity"]["value"], "mallory");
    let review = items[1]["detail"].as_str().unwrap();
    assert_eq!(
        review.lines().count(),
        51,
        "50 endpoints and a remainder line"
    );
    assert!(review.contains("GET /api/v1/users/"), "{review}");
    assert!(review.ends_with("... and 250 more endpoints"), "{review}");

    let again: Value = app
        .post(&format!("{tasks}/seed"), &tier1, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            again["created"].as_u64(),
            again["items"].as_array().unwrap().len()
        ),
        (Some(0), 4)
    );

    let r = app
        .post(&tasks, &tier1, json!({"title": "tell the customer"}))
        .await;
    assert_eq!(r.status(), 201);
    let custom: Value = r.json().await.unwrap();
    assert_eq!(
        (custom["kind"].as_str(), custom["done"].as_bool()),
        (Some("custom"), Some(false))
    );
    let task_id = custom["id"].as_i64().unwrap();

    let tick = format!("{tasks}/{task_id}");
    let done: Value = app
        .post(&tick, &tier1, json!({"done": true}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (done["done"].as_bool(), done["done_by"].as_str()),
        (Some(true), Some("token:tier1-2"))
    );
    assert!(done["done_at"].is_string());
    let undone: Value = app
        .post(&tick, &tier1, json!({"done": false}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(undone["done"], false);
    assert!(undone.get("done_by").is_none(), "{undone}");
    let audit = app
        .get_json(&format!(
            "/api/v1/audit?object_type=task&object_id={task_id}"
        ))
        .await;
    let names: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["task.undone", "task.done", "task.create"]);

    // Refusals, each a JSON error.
    let other = app.seed_ten().await[0].id;
    for (path, token, body, status, code) in [
        (
            tasks.clone(),
            &viewer,
            json!({"title": "x"}),
            403,
            "forbidden",
        ),
        (
            tasks.clone(),
            &tier1,
            json!({"title": "x", "owner": "bob"}),
            422,
            "unprocessable",
        ),
        (
            tasks.clone(),
            &tier1,
            json!({"title": " "}),
            422,
            "unprocessable",
        ),
        (
            tasks.clone(),
            &tier1,
            json!({"title": "x".repeat(501)}),
            422,
            "unprocessable",
        ),
        (
            tasks.clone(),
            &tier1,
            json!({"title": "a\u{7}b"}),
            422,
            "unprocessable",
        ),
        (
            tick.clone(),
            &tier1,
            json!({"done": "yes"}),
            422,
            "unprocessable",
        ),
        (tick.clone(), &tier1, json!({}), 422, "unprocessable"),
        (
            format!("{tasks}/999999"),
            &tier1,
            json!({"done": true}),
            404,
            "not_found",
        ),
        (
            format!("/api/v1/incidents/{other}/tasks/{task_id}"),
            &tier1,
            json!({"done": true}),
            404,
            "not_found",
        ),
        (
            "/api/v1/incidents/999999/tasks".into(),
            &tier1,
            json!({"title": "x"}),
            404,
            "not_found",
        ),
        (
            "/api/v1/incidents/999999/tasks/seed".into(),
            &tier1,
            json!({}),
            404,
            "not_found",
        ),
        (
            format!("{tasks}/abc"),
            &tier1,
            json!({"done": true}),
            400,
            "bad_request",
        ),
    ] {
        let r = app.post(&path, token, body.clone()).await;
        let msg = assert_error(r, status, code).await;
        assert!(!msg.is_empty(), "{path} {body}");
    }
    let r = app
        .client
        .post(app.url(&tasks))
        .bearer_auth(&tier1)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "bad_request").await;
    assert_error(
        app.get("/api/v1/incidents/999999/tasks", &viewer).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        app.get_json(&tasks).await["items"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

#[tokio::test]
async fn a_reappearance_past_the_correlation_window_still_joins_and_pushed_hints_are_ignored() {
    let app = spawn_app().await;
    let ingest = app.token(Role::Ingest).await;
    let tier2 = app.token(Role::Tier2).await;
    let now = Timestamp::now();
    // Eight hours ago: past the default six-hour correlation window.
    push(
        &app,
        &ingest,
        walk(
            "203.0.113.9",
            "mallory",
            now.add_millis(-8 * 3_600_000),
            300,
            200,
        ),
    )
    .await;
    let id = incident_of(&app, "mallory").await["id"].as_i64().unwrap();
    action(
        &app,
        &tier2,
        json!({"kind": "disable_principal", "target": "mallory", "reason": "r", "incident_id": id}),
    )
    .await;
    push(&app, &ingest, walk("198.51.100.23", "mallory", now, 1, 200)).await;
    let alerts = app
        .store
        .list_alerts(&AlertFilter {
            detector: Some("containment_reappearance".into()),
            ..AlertFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(alerts.total, 1);
    assert_eq!(alerts.items[0].incident_id, Some(id));
    assert_eq!(alerts.items[0].draft.incident_hint, Some(id));

    // An outside tool cannot file its alert into an incident by naming it.
    let mut pushed = sigma_alert("192.0.2.77");
    pushed.incident_hint = Some(id);
    let r = app
        .post(
            "/api/v1/alerts",
            &ingest,
            serde_json::to_value(vec![pushed]).unwrap(),
        )
        .await;
    assert_eq!(r.status(), 202);
    let stored = app
        .store
        .list_alerts(&AlertFilter {
            entity: Some("192.0.2.77".into()),
            ..AlertFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(stored.total, 1);
    assert_ne!(stored.items[0].incident_id, Some(id));
    assert_eq!(stored.items[0].draft.incident_hint, None);
}

#[tokio::test]
async fn a_blocked_clients_fingerprint_from_another_address_raises_an_alert() {
    let app = spawn_app().await;
    let ingest = app.token(Role::Ingest).await;
    let tier2 = app.token(Role::Tier2).await;
    let now = Timestamp::now();
    let with_agent = |body: String, ua: &str| -> String {
        body.lines()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                v["request"] = json!({"headers": {"user-agent": ua}});
                v.to_string() + "\n"
            })
            .collect()
    };
    push(
        &app,
        &ingest,
        with_agent(walk("203.0.113.9", "eve", now, 300, 200), "evil/1.0"),
    )
    .await;
    let id = incident_of(&app, "eve").await["id"].as_i64().unwrap();
    action(
        &app,
        &tier2,
        json!({"kind": "block_ip", "target": "203.0.113.9", "reason": "r", "incident_id": id}),
    )
    .await;
    let count = |app: &TestApp| {
        let store = app.store.clone();
        async move {
            store
                .list_alerts(&AlertFilter {
                    detector: Some("containment_reappearance".into()),
                    ..AlertFilter::default()
                })
                .await
                .unwrap()
        }
    };
    // Another user agent from another address: not the blocked client.
    push(
        &app,
        &ingest,
        with_agent(
            walk("192.0.2.99", "eve", now.add_millis(60_000), 1, 200),
            "curl/8",
        ),
    )
    .await;
    assert_eq!(count(&app).await.total, 0);
    push(
        &app,
        &ingest,
        with_agent(
            walk("192.0.2.99", "eve", now.add_millis(61_000), 1, 200),
            "evil/1.0",
        ),
    )
    .await;
    let alerts = count(&app).await;
    assert_eq!(alerts.total, 1);
    let a = &alerts.items[0];
    assert_eq!(a.incident_id, Some(id));
    assert!(
        a.draft
            .title
            .starts_with("Client of a blocked address back from 192.0.2.99"),
        "{}",
        a.draft.title
    );
    assert!(a.draft.entities.iter().any(|e| e.value == "evil/1.0"));
}

#[tokio::test]
async fn an_action_made_elsewhere_is_watched_after_the_periodic_rebuild() {
    let app = spawn_app_with(rampart_server::ServerConfig {
        watch_refresh_interval: std::time::Duration::from_millis(50),
        ..Default::default()
    })
    .await;
    let ingest = app.token(Role::Ingest).await;
    let now = Timestamp::now();
    push(&app, &ingest, walk("203.0.113.9", "mallory", now, 300, 200)).await;
    let id = incident_of(&app, "mallory").await["id"].as_i64().unwrap();
    // As another node or the CLI would: straight into the store, this server not told.
    let req = rampart_model::ActionRequest {
        kind: rampart_model::ActionKind::DisablePrincipal,
        target: "mallory".into(),
        raw_key: None,
        scope: Default::default(),
        rate: None,
        duration_secs: None,
        reason: "from the cli".into(),
        incident_id: Some(id),
    };
    let by = rampart_contain::Person {
        actor: "cli:test",
        role: Role::Admin,
    };
    let new = rampart_contain::plan(&req, by, &Default::default(), Timestamp::now()).unwrap();
    app.store.create_action(&new, "cli:test").await.unwrap();
    // Bounded wait for the periodic rebuild: each try is a new event from a new address.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut n = 0;
    loop {
        n += 1;
        let ip = format!("198.51.100.{n}");
        push(
            &app,
            &ingest,
            walk(&ip, "mallory", now.add_millis(60_000 + n), 1, 200),
        )
        .await;
        let alerts = app
            .store
            .list_alerts(&AlertFilter {
                detector: Some("containment_reappearance".into()),
                ..AlertFilter::default()
            })
            .await
            .unwrap();
        if alerts.total > 0 {
            assert_eq!(alerts.items[0].incident_id, Some(id));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never watched after {n} tries"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
