//! `POST /api/v1/hunt` over a real SQLite store: pushed events are hunted with a KQL-subset
//! query (summarize by client, where on status), a malformed query and an unknown column are
//! 400s naming the position and the token, the default time range leaves old events out,
//! the row limit truncates, and only `hunt` (tier 3 and up) may run queries.

mod common;

use common::*;
use rampart_model::Role;
use serde_json::{json, Value};

async fn hunt(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    let r = app.post("/api/v1/hunt", token, body).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn hunting_queries_run_bounded_and_errors_name_their_position() {
    let app = spawn_app().await;
    let ingest = app.token(Role::Ingest).await;
    let now = rampart_model::Timestamp::now().millis();
    let mut lines = Vec::new();
    for (ip, status, n) in [("203.0.113.5", 401, 3), ("198.51.100.7", 200, 2)] {
        for i in 0..n {
            lines.push(
                json!({"ts": now - 60_000 - i, "client_ip": ip, "method": "POST",
                       "host": "api.example", "path": "/login", "status": status})
                .to_string(),
            );
        }
    }
    // two days old: outside the default range
    lines.push(
        json!({"ts": now - 2 * 86_400_000, "client_ip": "192.0.2.1", "method": "GET",
               "host": "api.example", "path": "/old", "status": 200})
        .to_string(),
    );
    let r = app
        .client
        .post(app.url("/api/v1/events"))
        .bearer_auth(&ingest)
        .body(lines.join("\n") + "\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);

    let tier3 = app.token(Role::Tier3).await;
    let (status, v) = hunt(
        &app,
        &tier3,
        json!({"query": "ApiEvents | where Status == 401 | summarize n = count() by ClientIp"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["rows"], json!([["203.0.113.5", 3]]), "{v}");
    assert_eq!(v["columns"][0]["name"], "ClientIp");
    assert_eq!(v["truncated"], false);

    let (_, v) = hunt(
        &app,
        &tier3,
        json!({"query": "ApiEvents | summarize count()"}),
    )
    .await;
    assert_eq!(
        v["rows"],
        json!([[5]]),
        "the old event is outside the last 24 h: {v}"
    );
    let (_, v) = hunt(
        &app,
        &tier3,
        json!({"query": "ApiEvents | summarize count()",
               "from": rampart_model::Timestamp(now - 3 * 86_400_000).to_rfc3339()}),
    )
    .await;
    assert_eq!(v["rows"], json!([[6]]), "{v}");
    let (_, v) = hunt(&app, &tier3, json!({"query": "ApiEvents", "limit": 2})).await;
    assert_eq!(v["rows"].as_array().unwrap().len(), 2);
    assert_eq!(v["truncated"], true);

    // errors point at the offending token
    let (status, v) = hunt(
        &app,
        &tier3,
        json!({"query": "ApiEvents | where Sttus == 401"}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["position"], 18, "{v}");
    assert_eq!(v["error"]["token"], "Sttus");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("Status"),
        "did you mean: {v}"
    );
    let (status, v) = hunt(&app, &tier3, json!({"query": "ApiEvents | where"})).await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["position"], 17, "{v}");
    let (status, _) = hunt(
        &app,
        &tier3,
        json!({"query": "ApiEvents", "from": "yesterday"}),
    )
    .await;
    assert_eq!(status, 422);

    let tier2 = app.token(Role::Tier2).await;
    let (status, _) = hunt(&app, &tier2, json!({"query": "ApiEvents"})).await;
    assert_eq!(status, 403);
}
