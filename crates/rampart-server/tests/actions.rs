//! `/api/v1/actions`: containment through the API, with the safety rails of `rampart-contain`.

mod common;

use common::*;
use rampart_contain::{ContainConfig, Protected};
use rampart_model::Role;
use rampart_server::ServerConfig;
use serde_json::{json, Value};

async fn app() -> TestApp {
    let contain = ContainConfig {
        protected: Protected {
            ips: vec!["10.0.0.0/8".parse().unwrap()],
            principals: vec!["root".into()],
            ..Protected::default()
        },
        ..ContainConfig::default()
    };
    spawn_app_contained(ServerConfig::default(), contain).await
}

async fn created(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post("/api/v1/actions", token, body.clone()).await;
    let status = r.status().as_u16();
    let v: Value = r.json().await.expect("json");
    assert_eq!(status, 201, "{body} -> {v}");
    v
}

#[tokio::test]
async fn tier2_blocks_one_ip_at_once_for_the_default_duration() {
    let app = app().await;
    let incident = app.seed_ten().await[0].id;
    let tier2 = app.token(Role::Tier2).await;
    let a = created(
        &app,
        &tier2,
        json!({"kind": "block_ip", "target": "203.0.113.7", "reason": "stuffing", "incident_id": incident}),
    )
    .await;
    assert_eq!(a["status"], "active");
    assert_eq!(a["target"], "203.0.113.7");
    assert_eq!(a["duration"], "4h");
    assert_eq!(a["incident_id"], incident);
    assert_eq!(a["requested_by"], "token:tier2-1");
    let (starts, expires) = (
        a["starts_at"].as_str().expect("starts_at"),
        a["expires_at"].as_str().expect("expires_at"),
    );
    let ms = |s: &str| rampart_model::Timestamp::parse_rfc3339(s).unwrap().millis();
    assert_eq!(ms(expires) - ms(starts), 4 * 3600 * 1000);

    let id = a["id"].as_i64().unwrap();
    assert_eq!(app.get_json(&format!("/api/v1/actions/{id}")).await, a);
    let detail = app.get_json(&format!("/api/v1/incidents/{incident}")).await;
    assert_eq!(detail["actions"], json!([a]));
    let audit = app
        .get_json(&format!("/api/v1/audit?object_type=action&object_id={id}"))
        .await;
    assert_eq!(audit["items"][0]["action"], "action.create");
    assert_eq!(audit["items"][0]["actor"], "token:tier2-1");
}

#[tokio::test]
async fn ranges_wait_for_another_persons_approval() {
    let app = app().await;
    let (alice, bob) = (app.token(Role::Tier3).await, app.token(Role::Tier3).await);
    let a = created(
        &app,
        &alice,
        json!({"kind": "block_ip", "target": "198.51.0.0/16", "duration": "30m", "reason": "botnet"}),
    )
    .await;
    assert_eq!(a["status"], "pending_approval");
    assert_eq!(a["duration"], "30m");
    assert!(a.get("expires_at").is_none(), "{a}");
    let id = a["id"].as_i64().unwrap();
    let approve = format!("/api/v1/actions/{id}/approve");

    // The requester cannot approve, whatever the role; a tier2 lacks the permission.
    let msg = assert_error(
        app.post(&approve, &alice, json!({})).await,
        403,
        "forbidden",
    )
    .await;
    assert!(msg.contains("another person"), "{msg}");
    let tier2 = app.token(Role::Tier2).await;
    assert_error(
        app.post(&approve, &tier2, json!({})).await,
        403,
        "forbidden",
    )
    .await;

    let r = app.post(&approve, &bob, json!({})).await;
    assert_eq!(r.status(), 200);
    let approved: Value = r.json().await.unwrap();
    assert_eq!(approved["status"], "active");
    assert_eq!(approved["approved_by"], "token:tier3-2");
    assert!(approved["expires_at"].is_string());
    // Twice: the state no longer allows it.
    let msg = assert_error(app.post(&approve, &bob, json!({})).await, 409, "conflict").await;
    assert!(msg.contains("is active: cannot approve"), "{msg}");

    let listed = app.get_json("/api/v1/actions?status=active").await;
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["items"][0]["id"], id);
    let none = app
        .get_json("/api/v1/actions?status=pending_approval")
        .await;
    assert_eq!(none["total"], 0);
}

#[tokio::test]
async fn refusals_name_the_problem() {
    let app = app().await;
    let tier1 = app.token(Role::Tier1).await;
    let tier2 = app.token(Role::Tier2).await;
    let admin = app.admin.clone();
    let reason = "r";
    #[rustfmt::skip]
    let cases: Vec<(&str, Value, u16, &str, &str)> = vec![
        (&tier1, json!({"kind": "block_ip", "target": "203.0.113.7", "reason": reason}), 403, "forbidden", "role tier1 lacks the permission contain_low"),
        (&tier2, json!({"kind": "block_ip", "target": "203.0.113.0/24", "reason": reason}), 403, "forbidden", "not permitted: tier2 lacks contain_high"),
        (&tier2, json!({"kind": "isolate_service", "target": "billing", "reason": reason}), 403, "forbidden", "not permitted: tier2 lacks contain_high"),
        (&admin, json!({"kind": "block_ip", "target": "10.1.2.3", "reason": reason}), 422, "unprocessable", "protected target: 10.1.2.3 is protected (10.0.0.0/8)"),
        (&admin, json!({"kind": "disable_principal", "target": "root", "reason": reason}), 422, "unprocessable", "protected target: root"),
        (&admin, json!({"kind": "block_ip", "target": "198.0.0.0/8", "reason": reason}), 422, "unprocessable", "too wide: 198.0.0.0/8 is wider than /16"),
        (&admin, json!({"kind": "block_ip", "target": "203.0.113.7", "duration": "365d", "reason": reason}), 422, "unprocessable", "too long"),
        (&admin, json!({"kind": "block_ip", "target": "203.0.113.7", "duration": "4 hours", "reason": reason}), 422, "unprocessable", "invalid duration \"4 hours\""),
        (&admin, json!({"kind": "block_ip", "target": "not-an-ip", "reason": reason}), 422, "unprocessable", "invalid target for block_ip"),
        (&admin, json!({"kind": "block_ip", "target": "203.0.113.7"}), 422, "unprocessable", "reason is required"),
        (&admin, json!({"kind": "nuke", "target": "x", "reason": reason}), 422, "unprocessable", "invalid action kind: \"nuke\""),
        (&admin, json!({"kind": "block_ip", "target": "203.0.113.7", "reason": reason, "extra": 1}), 422, "unprocessable", "unknown field `extra`"),
        (&admin, json!({"kind": "block_ip", "target": "203.0.113.7", "reason": reason, "incident_id": 999999}), 422, "unprocessable", "incident 999999 not found"),
        (&admin, json!({"kind": "rate_limit", "target": "ip:203.0.113.7", "reason": reason}), 422, "unprocessable", "needs rate"),
        (&admin, json!({"kind": "disable_api_key", "target": "k", "raw_key": "k", "reason": reason}), 422, "unprocessable", "not both"),
        (&admin, json!([1, 2]), 422, "unprocessable", "invalid body"),
    ];
    for (token, body, status, code, want) in cases {
        let msg = assert_error(
            app.post("/api/v1/actions", token, body.clone()).await,
            status,
            code,
        )
        .await;
        assert!(msg.contains(want), "{body}: {msg:?} lacks {want:?}");
    }
    // Malformed JSON is a 400.
    let r = app
        .client
        .post(app.url("/api/v1/actions"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{\"kind\":")
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "bad_request").await;
    // Bad query parameters and ids are 400; unknown ids 404.
    for (path, status, code) in [
        ("/api/v1/actions?status=sleeping", 400, "bad_request"),
        ("/api/v1/actions?incident_id=x", 400, "bad_request"),
        ("/api/v1/actions?colour=red", 400, "bad_request"),
        ("/api/v1/actions/x", 400, "bad_request"),
        ("/api/v1/actions/424242", 404, "not_found"),
    ] {
        assert_error(app.get(path, &admin).await, status, code).await;
    }
    assert_eq!(
        app.get_json("/api/v1/actions").await["total"],
        0,
        "nothing was stored"
    );
}

#[tokio::test]
async fn a_raw_key_is_hashed_on_arrival_and_never_stored() {
    let app = app().await;
    let tier2 = app.token(Role::Tier2).await;
    let raw = "sk_live_4242424242424242";
    let a = created(
        &app,
        &tier2,
        json!({"kind": "disable_api_key", "raw_key": raw, "reason": "leaked"}),
    )
    .await;
    let want =
        rampart_decode::api_key_id(&rampart_decode::DecodeConfig::default().api_key_secret, raw);
    assert_eq!(a["target"], want);
    let everything = format!(
        "{}{}",
        app.get_json("/api/v1/actions").await,
        app.get_json("/api/v1/audit").await
    );
    assert!(!everything.contains(raw));
}

#[tokio::test]
async fn reverting_needs_a_reason_and_revert_any_for_someone_elses() {
    let app = app().await;
    let (alice, bob) = (app.token(Role::Tier2).await, app.token(Role::Tier2).await);
    let a = created(
        &app,
        &alice,
        json!({"kind": "rate_limit", "target": "ip:203.0.113.9", "rate": {"requests": 100, "window": "1m"}, "reason": "scraping"}),
    )
    .await;
    assert_eq!(a["rate"], json!({"requests": 100, "window_secs": 60}));
    let revert = format!("/api/v1/actions/{}/revert", a["id"]);
    let msg = assert_error(
        app.post(&revert, &bob, json!({"reason": "mine now"})).await,
        403,
        "forbidden",
    )
    .await;
    assert!(msg.contains("revert_any"), "{msg}");
    assert_error(
        app.post(&revert, &alice, json!({})).await,
        422,
        "unprocessable",
    )
    .await;
    assert_error(
        app.post(&revert, &alice, json!({"reason": " "})).await,
        422,
        "unprocessable",
    )
    .await;

    let r = app
        .post(&revert, &alice, json!({"reason": "false positive"}))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["status"].as_str(), v["revert_reason"].as_str()),
        (Some("reverted"), Some("false positive"))
    );
    assert_error(
        app.post(&revert, &alice, json!({"reason": "again"})).await,
        409,
        "conflict",
    )
    .await;

    // A tier3 reverts anyone's.
    let b = created(
        &app,
        &alice,
        json!({"kind": "block_ip", "target": "203.0.113.10", "reason": "x"}),
    )
    .await;
    let tier3 = app.token(Role::Tier3).await;
    let r = app
        .post(
            &format!("/api/v1/actions/{}/revert", b["id"]),
            &tier3,
            json!({"reason": "ok"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let audit = app.get_json("/api/v1/audit?object_type=action").await;
    let names: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec![
            "action.revert",
            "action.create",
            "action.revert",
            "action.create"
        ]
    );
}

#[tokio::test]
async fn actions_expire_on_their_own() {
    let app = spawn_app_with(ServerConfig {
        action_expiry_interval: std::time::Duration::from_millis(20),
        ..ServerConfig::default()
    })
    .await;
    let tier2 = app.token(Role::Tier2).await;
    let a = created(
        &app,
        &tier2,
        json!({"kind": "block_ip", "target": "203.0.113.7", "duration": "1s", "reason": "short"}),
    )
    .await;
    let path = format!("/api/v1/actions/{}", a["id"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let v = app.get_json(&path).await;
        if v["status"] == "expired" {
            break;
        }
        assert_eq!(v["status"], "active");
        assert!(
            std::time::Instant::now() < deadline,
            "not expired in time: {v}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let audit = app.get_json("/api/v1/audit?object_type=action").await;
    assert_eq!(audit["items"][0]["action"], "action.expire");
    assert_eq!(audit["items"][0]["actor"], "system:expiry");
}
