//! Hostile and careless intake over HTTP: timestamps no store can read back, rows that do not
//! decode, requests committed in pieces, and retried requests (issue 8, items 1 and 5).

mod common;

use common::{alert, assert_error, spawn_app, TestApp};
use rampart_model::{Role, Severity};
use rampart_store::EventQuery;
use serde_json::{json, Value};

/// 10000-01-01T00:00:00Z in milliseconds: RFC 3339 cannot write it.
const YEAR_10000: i64 = 253_402_300_800_000;

fn ev(ts: Value, path: &str) -> String {
    json!({"ts": ts, "client_ip": "203.0.113.9", "method": "GET", "path": path, "status": 200})
        .to_string()
}

async fn push_events(
    app: &TestApp,
    token: &str,
    key: Option<&str>,
    body: String,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/api/v1/events"))
        .bearer_auth(token)
        .body(body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    req.send().await.expect("request")
}

async fn push_alerts(
    app: &TestApp,
    token: &str,
    key: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/api/v1/alerts"))
        .bearer_auth(token)
        .json(body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    req.send().await.expect("request")
}

/// Every list and detail route answers 200.
async fn assert_reads_work(app: &TestApp) {
    for path in [
        "/api/v1/alerts",
        "/api/v1/incidents",
        "/api/incidents",
        "/api/v1/audit",
    ] {
        app.get_json(path).await;
    }
    let incidents = app.get_json("/api/v1/incidents").await;
    for i in incidents["items"].as_array().expect("items") {
        app.get_json(&format!("/api/v1/incidents/{}", i["id"]))
            .await;
    }
    let alerts = app.get_json("/api/v1/alerts").await;
    for a in alerts["items"].as_array().expect("items") {
        app.get_json(&format!("/api/v1/alerts/{}", a["id"])).await;
    }
}

fn rampart_alert(mutate: impl FnOnce(&mut Value)) -> Value {
    let mut v = serde_json::to_value(alert("walk", Severity::High, "203.0.113.5", 1_700_000_000))
        .expect("alert json");
    v["evidence"] = json!([
        json!({"ts": 1_700_000_000_000i64, "method": "GET", "path": "/a",
        "status": 200})
    ]);
    mutate(&mut v);
    v
}

fn ocsf(time: Value) -> Value {
    json!({"class_uid": 2004, "severity_id": 4, "time": time,
        "finding_info": {"title": "SQLi blocked"}, "src_endpoint": {"ip": "198.51.100.7"}})
}

/// Regression (issue 8.1): one pushed alert with a time no store can read back (year 10000,
/// i64::MAX) was accepted and then every alert and incident route answered 500.
#[tokio::test]
async fn alerts_with_out_of_range_times_are_refused_and_reads_keep_working() {
    let app = spawn_app().await;
    let ingest = app.token(Role::Ingest).await;
    assert_eq!(
        push_alerts(&app, &ingest, None, &rampart_alert(|_| {}))
            .await
            .status(),
        202
    );
    let cases: Vec<(Value, &str)> = vec![
        (
            rampart_alert(|v| {
                v["first_seen"] = json!(YEAR_10000);
                v["last_seen"] = json!(YEAR_10000);
            }),
            "first_seen",
        ),
        (
            rampart_alert(|v| v["last_seen"] = json!(i64::MAX)),
            "last_seen",
        ),
        (
            rampart_alert(|v| {
                v["first_seen"] = json!(i64::MIN);
            }),
            "first_seen",
        ),
        (
            rampart_alert(|v| {
                v["first_seen"] = json!(0);
                v["last_seen"] = json!(0);
            }),
            "first_seen",
        ),
        (
            rampart_alert(|v| v["evidence"][0]["ts"] = json!(YEAR_10000)),
            "evidence[0].ts",
        ),
        (ocsf(json!(YEAR_10000)), "time"),
        (ocsf(json!(i64::MAX)), "time"),
        (ocsf(json!(-1)), "time"),
        (ocsf(json!("9999-12-31T23:59:59Z")), "time"),
        (
            json!({"class_uid": 2004, "time": 1_700_000_000_000i64, "start_time": YEAR_10000,
            "finding_info": {"title": "t"}}),
            "start_time",
        ),
        (
            json!({"class_uid": 2004, "time": 1_700_000_000_000i64, "end_time": i64::MAX,
            "finding_info": {"title": "t"}}),
            "end_time",
        ),
    ];
    for (body, field) in &cases {
        let r = push_alerts(&app, &ingest, None, body).await;
        let msg = assert_error(r, 422, "unprocessable").await;
        assert!(msg.contains(field), "{field}: {msg}");
        assert!(
            msg.contains("1990-01-01"),
            "{field}: the message names the range: {msg}"
        );
        // The same alert inside an array is refused as a whole.
        let r = push_alerts(&app, &ingest, None, &json!([rampart_alert(|_| {}), body])).await;
        let msg = assert_error(r, 422, "unprocessable").await;
        assert!(msg.starts_with("alert 1:"), "{msg}");
    }
    assert_reads_work(&app).await;
    let alerts = app.get_json("/api/v1/alerts").await;
    assert_eq!(
        alerts["total"], 1,
        "only the first, good alert is stored: {alerts}"
    );
    assert_eq!(
        push_alerts(&app, &ingest, None, &ocsf(json!(1_767_225_600_000i64)))
            .await
            .status(),
        202,
        "the queue keeps working"
    );
    assert_eq!(app.get_json("/api/v1/alerts").await["total"], 2);
}

/// Regression (issue 8.1): an event time outside the accepted range makes its line a bad line.
#[tokio::test]
async fn events_with_out_of_range_times_are_bad_lines() {
    let app = spawn_app().await;
    for ts in [
        json!(YEAR_10000),
        json!(i64::MAX),
        json!("1969-12-31T23:59:59Z"),
        json!("+10000-01-01T00:00:00Z"),
    ] {
        let body = format!(
            "{}\n{}\n",
            ev(json!("2026-01-01T00:00:00Z"), "/a"),
            ev(ts.clone(), "/b")
        );
        let msg = assert_error(
            push_events(&app, &app.admin, None, body).await,
            400,
            "bad_request",
        )
        .await;
        assert!(msg.starts_with("line 2:"), "{ts}: {msg}");
    }
    assert!(app
        .store
        .list_events(&EventQuery::default())
        .await
        .unwrap()
        .is_empty());
}

/// Regression (issue 8.1): a row that does not decode is skipped (and counted) by every list,
/// and reading it alone is a clear error, not a 500 for its list.
#[tokio::test]
async fn unreadable_rows_do_not_take_lists_down() {
    let app = spawn_app().await;
    let seeded = app.seed_ten().await;
    let bad_incident = seeded[0].id;
    let bad_alert = app
        .get_json(&format!("/api/v1/incidents/{}", seeded[1].id))
        .await["alerts"][0]["id"]
        .as_i64()
        .expect("alert id");
    // What a year-10000 alert looked like once stored, and an incident row gone bad.
    app.sqlite
        .execute_raw(&format!(
            "UPDATE alerts SET draft = json_set(draft, '$.first_seen', '+10000-01-01T00:00:00.000Z') WHERE id = {bad_alert}"
        ))
        .await
        .expect("plant bad alert");
    app.sqlite
        .execute_raw(&format!(
            "UPDATE incidents SET entities = 'not json' WHERE id = {bad_incident}"
        ))
        .await
        .expect("plant bad incident");

    let alerts = app.get_json("/api/v1/alerts").await;
    let ids: Vec<i64> = alerts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 9, "{alerts}");
    assert!(!ids.contains(&bad_alert));
    let incidents = app.get_json("/api/v1/incidents").await;
    let ids: Vec<i64> = incidents["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 9, "{incidents}");
    assert!(!ids.contains(&bad_incident));
    assert_eq!(
        app.get_json("/api/incidents").await["value"]
            .as_array()
            .map(Vec::len),
        Some(9)
    );
    let detail = app
        .get_json(&format!("/api/v1/incidents/{}", seeded[1].id))
        .await;
    assert_eq!(
        detail["alerts"],
        json!([]),
        "the incident reads without its unreadable alert"
    );

    for (path, what) in [
        (
            format!("/api/v1/alerts/{bad_alert}"),
            format!("alert {bad_alert}"),
        ),
        (
            format!("/api/v1/incidents/{bad_incident}"),
            format!("incident {bad_incident}"),
        ),
    ] {
        let msg = assert_error(app.get(&path, &app.admin).await, 500, "internal").await;
        assert!(
            msg.contains(&what) && msg.contains("cannot be read"),
            "{path}: {msg}"
        );
    }
    let metrics = app.get("/metrics", &app.admin).await.text().await.unwrap();
    let skipped = metrics
        .lines()
        .find_map(|l| l.strip_prefix("rampart_store_unreadable_rows_total "))
        .and_then(|n| n.parse::<u64>().ok())
        .expect("unreadable rows counter");
    assert!(skipped >= 3, "{skipped}");
}

fn five_thousand(boom_at: Option<usize>) -> String {
    let mut body = String::new();
    for i in 0..5000 {
        let path = if Some(i) == boom_at {
            "/boom".to_string()
        } else {
            format!("/items/{i}")
        };
        body.push_str(&ev(json!(1_767_225_600_000i64 + i as i64), &path));
        body.push('\n');
    }
    body
}

/// Regression (issue 8.5): a 5,000-event request was committed in 2,000-event chunks, so a
/// failure in the third chunk left 4,000 events of an unacknowledged request stored.
#[tokio::test]
async fn a_pushed_request_is_all_or_nothing() {
    let app = spawn_app().await;
    app.sqlite
        .execute_raw(
            "CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.path = '/boom' \
             BEGIN SELECT RAISE(ABORT, 'boom'); END",
        )
        .await
        .expect("trigger");
    let r = push_events(&app, &app.admin, None, five_thousand(Some(4500))).await;
    assert_eq!(r.status(), 500);
    assert_eq!(
        app.store.stats().await.unwrap().events,
        0,
        "nothing of a failed request is stored"
    );
    app.sqlite
        .execute_raw("DROP TRIGGER boom")
        .await
        .expect("drop trigger");
    let r = push_events(&app, &app.admin, None, five_thousand(None)).await;
    assert_eq!(r.status(), 202);
    assert_eq!(app.store.stats().await.unwrap().events, 5000);
}

/// Regression (issue 8.5): a retried request with the same `Idempotency-Key` is stored once
/// and answered with the first answer.
#[tokio::test]
async fn idempotency_key_stores_a_retried_request_once() {
    let app = spawn_app().await;
    let ingest = app.token(Role::Ingest).await;
    let other = app.token(Role::Ingest).await;
    let body = format!(
        "{}\n{}\n",
        ev(json!("2026-01-01T00:00:00Z"), "/a"),
        ev(json!("2026-01-01T00:00:01Z"), "/b")
    );

    let first = push_events(&app, &ingest, Some("req-1"), body.clone()).await;
    assert_eq!(first.status(), 202);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["accepted"], 2);

    let retry = push_events(&app, &ingest, Some("req-1"), body.clone()).await;
    assert_eq!(retry.status(), 202);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.json::<Value>().await.unwrap(), first);
    assert_eq!(
        app.store.stats().await.unwrap().events,
        2,
        "the retry stored nothing"
    );

    let msg = assert_error(
        push_events(&app, &ingest, Some("req-1"), format!("{body}{body}")).await,
        422,
        "unprocessable",
    )
    .await;
    assert!(msg.contains("Idempotency-Key"), "{msg}");
    // Keys are per caller: another token's "req-1" is its own request.
    let r = push_events(&app, &other, Some("req-1"), body.clone()).await;
    assert_eq!(r.status(), 202);
    assert!(r.headers().get("idempotent-replayed").is_none());
    assert_eq!(app.store.stats().await.unwrap().events, 4);

    let long = "k".repeat(256);
    for bad in [
        &b""[..],
        b"has space",
        b"tab\there",
        b"caf\xc3\xa9",
        long.as_bytes(),
    ] {
        let bad = reqwest::header::HeaderValue::from_bytes(bad).expect("header value");
        let r = app
            .client
            .post(app.url("/api/v1/events"))
            .bearer_auth(&ingest)
            .header("Idempotency-Key", bad.clone())
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let msg = assert_error(r, 400, "bad_request").await;
        assert!(msg.contains("Idempotency-Key"), "{bad:?}: {msg}");
    }
    assert_eq!(app.store.stats().await.unwrap().events, 4);

    // Alerts too.
    let a = json!([rampart_alert(|_| {}), ocsf(json!(1_767_225_600_000i64))]);
    let first = push_alerts(&app, &ingest, Some("alerts-1"), &a).await;
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    let retry = push_alerts(&app, &ingest, Some("alerts-1"), &a).await;
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.json::<Value>().await.unwrap(), first);
    assert_eq!(app.store.stats().await.unwrap().alerts, 2);
    let msg = assert_error(
        push_alerts(
            &app,
            &ingest,
            Some("alerts-1"),
            &json!([rampart_alert(|_| {})]),
        )
        .await,
        422,
        "unprocessable",
    )
    .await;
    assert!(msg.contains("Idempotency-Key"), "{msg}");
}

/// Two copies of one request racing with one key: one is stored, both get its answer.
#[tokio::test]
async fn racing_retries_with_one_key_store_once() {
    let app = spawn_app().await;
    let body = five_thousand(None);
    let (a, b) = tokio::join!(
        push_events(&app, &app.admin, Some("race"), body.clone()),
        push_events(&app, &app.admin, Some("race"), body.clone()),
    );
    let replayed = [&a, &b]
        .iter()
        .filter(|r| r.headers().get("idempotent-replayed").is_some())
        .count();
    assert_eq!(
        (a.status(), b.status()),
        (202.try_into().unwrap(), 202.try_into().unwrap())
    );
    assert_eq!(replayed, 1);
    let (a, b): (Value, Value) = (a.json().await.unwrap(), b.json().await.unwrap());
    assert_eq!(a, b);
    assert_eq!(app.store.stats().await.unwrap().events, 5000);
}
