//! The console's hunting page over a real SQLite store: a tier-3 analyst runs a query and sees
//! the rows (attacker-controlled values escaped) and, for `summarize ... by bin()`, a chart; a
//! malformed query shows the line with a caret; the analyst saves it as a custom detection
//! (refused with the field named when wrong), opens it again pre-filled, and deletes it; the
//! entity page's "hunt from here" link opens a query that runs; roles without `hunt` see no
//! hunting at all.

mod common;

use std::borrow::Cow;

use common::*;
use rampart_model::{ApiEvent, Role, Timestamp};

async fn page(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    (status, r.text().await.expect("body"))
}

fn event(ip: &str, ago_ms: i64, path: &str, status: u16, ua: &str) -> ApiEvent<'static> {
    ApiEvent {
        ts: Timestamp(Timestamp::now().millis() - ago_ms),
        client_ip: Some(ip.parse().expect("ip")),
        method: Cow::Borrowed("POST"),
        host: Cow::Borrowed("api.example.com"),
        path: Cow::Owned(path.into()),
        status,
        user_agent: Cow::Owned(ua.into()),
        source_format: Cow::Borrowed("combined"),
        ..Default::default()
    }
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn analysts_hunt_chart_save_detections_and_hunt_from_an_entity() {
    let app = spawn_app().await;
    let mut evs = Vec::new();
    for i in 0..12 {
        evs.push(event(
            "203.0.113.66",
            3_600_000 + i * 60_000,
            "/login",
            401,
            "<script>alert(1)</script>",
        ));
    }
    for i in 0..3 {
        evs.push(event(
            "198.51.100.2",
            7_200_000 + i * 1000,
            "/login",
            200,
            "ok",
        ));
    }
    app.store.insert_events(&evs, None).await.expect("insert");
    let c = app.console(Role::Tier3).await;

    // the nav offers hunting to tier 3
    let (_, body) = page(c.get("/incidents").await).await;
    assert!(body.contains("href=\"/hunt\""), "nav link");

    // rows, escaped
    let q = "ApiEvents | where Status == 401 | summarize n = count() by ClientIp, UserAgent";
    let (status, body) = page(c.get(&format!("/hunt?q={}&range=24h", enc(q))).await).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("id=\"hunt-table\""), "{body}");
    assert!(body.contains("203.0.113.66"));
    assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!body.contains("<script>alert(1)"));
    assert!(body.contains("<td>12</td>"), "{body}");
    assert!(!body.contains("style="), "no inline style");

    // a binned summary is charted
    let q = "ApiEvents | summarize n = count() by bin(Timestamp, 1m)";
    let (_, body) = page(c.get(&format!("/hunt?q={}&range=24h", enc(q))).await).await;
    assert!(body.contains("id=\"hunt-chart\""), "{body}");
    assert!(body.matches("<rect").count() >= 2);

    // the range bounds what is read
    let q = "ApiEvents | summarize n = count()";
    let (_, body) = page(c.get(&format!("/hunt?q={}&range=1h", enc(q))).await).await;
    assert!(
        body.contains("<td>0</td>"),
        "nothing in the last hour: {body}"
    );
    let (_, body) = page(
        c.get(&format!("/hunt?q={}&range=custom&from=yesterday", enc(q)))
            .await,
    )
    .await;
    assert!(
        body.contains("from: &quot;yesterday&quot; is not an RFC 3339 time"),
        "{body}"
    );

    // a malformed query: the message and a caret under the token
    let q = "ApiEvents\n| whre Status == 401";
    let (status, body) = page(c.get(&format!("/hunt?q={}", enc(q))).await).await;
    assert_eq!(status, 200);
    assert!(body.contains("id=\"hunt-error\""), "{body}");
    assert!(body.contains("| whre Status == 401\n  ^"), "{body}");

    // save as a detection: a wrong schedule is refused with the field, the form kept
    let q = "ApiEvents | where Status == 401 | summarize n = count() by ClientIp | where n > 10";
    let mut fields = vec![
        ("query", q),
        ("name", "login-401"),
        ("description", "failed logins"),
        ("detect", "on"),
        ("schedule", "1m"),
        ("window", "3h"),
        ("severity", "High"),
        ("mitre", "T1110"),
        ("title", "{n} failures from {ClientIp}"),
        ("entities", "ClientIp=ip"),
    ];
    let (status, body) = page(c.post("/hunt/queries", &fields).await).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("detection.schedule"), "{body}");
    assert!(body.contains("value=\"login-401\""), "the form is kept");
    fields[4] = ("schedule", "15m");
    let r = c.post("/hunt/queries", &fields).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"].to_str().expect("location"),
        "/hunt?saved=login-401&done=saved"
    );
    let saved = app
        .store
        .get_automation("hunt_query", "login-401")
        .await
        .expect("get")
        .expect("saved");
    assert_eq!(saved.body["detection"]["schedule"], "15m");
    assert_eq!(saved.body["detection"]["entities"][0]["kind"], "ip");
    assert!(
        saved.updated_by.starts_with("user:"),
        "{}",
        saved.updated_by
    );

    // opened again: pre-filled, run over its window, listed
    let (_, body) = page(c.get("/hunt?saved=login-401&done=saved").await).await;
    assert!(body.contains("Saved."), "{body}");
    assert!(
        body.contains("value=\"{n} failures from {ClientIp}\""),
        "{body}"
    );
    assert!(body.contains("every 15m over 3h"), "{body}");
    assert!(
        body.contains("203.0.113.66"),
        "ran over its 3 h window: {body}"
    );

    // hunt from the attacker's entity page: the link's query runs
    let (_, body) = page(c.get("/entities/ip/203.0.113.66").await).await;
    let href = body
        .split("id=\"hunt-link\"")
        .next()
        .and_then(|s| s.rsplit("href=\"").next())
        .and_then(|s| s.split('"').next())
        .expect("hunt link")
        .replace("&amp;", "&");
    assert!(href.starts_with("/hunt?range=7d&q="), "{href}");
    let (status, body) = page(c.get(&href).await).await;
    assert_eq!(status, 200);
    assert!(body.contains("12 rows"), "{body}");

    // delete
    let r = c.post("/hunt/queries/login-401/delete", &[]).await;
    assert_eq!(r.status(), 303);
    assert!(app
        .store
        .get_automation("hunt_query", "login-401")
        .await
        .expect("get")
        .is_none());
}

#[tokio::test]
async fn roles_without_hunt_see_no_hunting() {
    let app = spawn_app().await;
    let c = app.console(Role::Tier2).await;
    let (_, body) = page(c.get("/incidents").await).await;
    assert!(!body.contains("href=\"/hunt\""));
    let (status, _) = page(c.get("/hunt?q=ApiEvents").await).await;
    assert_eq!(status, 403);
    let (_, body) = page(c.get("/entities/ip/203.0.113.66").await).await;
    assert!(!body.contains("hunt-link"));
}
