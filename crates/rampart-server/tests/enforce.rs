//! The enforcement endpoints as gateways call them: nginx `auth_request` and Envoy
//! `ext_authz` headers, CrowdSec's bouncer API and its filters, and refusals of bad keys and
//! bad input. (Real nginx and a real CrowdSec bouncer run in `crates/rampart/tests/gateway.rs`.)

mod common;

use base64::Engine as _;
use common::*;
use rampart_model::Role;
use serde_json::{json, Value};

async fn action(app: &TestApp, body: Value) -> i64 {
    let r = app.post("/api/v1/actions", &app.admin, body.clone()).await;
    let status = r.status().as_u16();
    let v: Value = r.json().await.expect("json");
    assert_eq!(status, 201, "{body} -> {v}");
    v["id"].as_i64().expect("id")
}

/// Ask `/enforce/nginx` about a request: (status, X-Rampart-Action).
async fn nginx(app: &TestApp, key: &str, headers: &[(&str, &str)]) -> (u16, Option<String>) {
    let mut r = app
        .client
        .get(app.url("/enforce/nginx"))
        .header("X-Rampart-Enforcer-Key", key);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let r = r.send().await.expect("request");
    let id = r
        .headers()
        .get("x-rampart-action")
        .map(|v| v.to_str().unwrap().to_string());
    (r.status().as_u16(), id)
}

fn jwt(sub: &str) -> String {
    let b = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "Bearer {}.{}.sig",
        b(json!({"alg": "none"})),
        b(json!({"sub": sub}))
    )
}

#[tokio::test]
async fn nginx_decisions_by_address_key_principal_endpoint_and_rate() {
    let app = spawn_app().await;
    let key = app.token(Role::Enforcer).await;
    let ip = |a: &'static str| ("X-Real-IP", a);
    assert_eq!(nginx(&app, &key, &[ip("203.0.113.7")]).await, (204, None));

    let block = action(
        &app,
        json!({"kind": "block_ip", "target": "203.0.113.0/28", "reason": "r"}),
    )
    .await;
    let principal = action(
        &app,
        json!({"kind": "disable_principal", "target": "mallory", "reason": "r"}),
    )
    .await;
    let ep = action(
        &app,
        json!({"kind": "isolate_endpoint", "target": "DELETE /users/{id}", "scope": {"host": "api.example.com"}, "reason": "r"}),
    )
    .await;
    let rate = action(
        &app,
        json!({"kind": "rate_limit", "target": "ip:192.0.2.9", "rate": {"requests": 2, "window": "1h"}, "reason": "r"}),
    )
    .await;
    let approve = |id: i64| format!("/api/v1/actions/{id}/approve");
    // isolation waits for another person's approval, and is not enforced until then
    let method = ("X-Original-Method", "DELETE");
    let uri = ("X-Original-URI", "/users/42?force=1");
    let host = ("X-Original-Host", "api.example.com");
    assert_eq!(
        nginx(&app, &key, &[ip("192.0.2.1"), method, uri, host]).await,
        (204, None)
    );
    let other = app.token(Role::Tier3).await;
    let r = app.post(&approve(ep), &other, json!({})).await;
    assert_eq!(r.status(), 200);

    let sid = |id: i64| Some(id.to_string());
    let jwt_m = jwt("mallory");
    let jwt_a = jwt("alice");
    #[rustfmt::skip]
    type Case<'a> = (Vec<(&'a str, &'a str)>, (u16, Option<String>), &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            vec![ip("203.0.113.9")],
            (403, sid(block)),
            "inside the blocked /28",
        ),
        (vec![ip("203.0.113.16")], (204, None), "outside it"),
        (
            vec![
                ("X-Real-IP", "127.0.0.1"),
                ("X-Forwarded-For", "203.0.113.9"),
            ],
            (204, None),
            "X-Forwarded-For from an untrusted gateway address is not believed",
        ),
        (
            vec![ip("192.0.2.1"), ("Authorization", jwt_m.as_str())],
            (403, sid(principal)),
            "JWT subject disabled",
        ),
        (
            vec![ip("192.0.2.1"), ("Authorization", jwt_a.as_str())],
            (204, None),
            "another subject",
        ),
        (
            vec![ip("192.0.2.1"), method, uri, host],
            (403, sid(ep)),
            "isolated endpoint on its host",
        ),
        (
            vec![
                ip("192.0.2.1"),
                method,
                uri,
                ("X-Original-Host", "other.example.com"),
            ],
            (204, None),
            "on another host",
        ),
        (
            vec![ip("192.0.2.1"), ("X-Original-Method", "GET"), uri, host],
            (204, None),
            "another method",
        ),
        (vec![ip("192.0.2.9")], (204, None), "rate: 1 of 2"),
        (vec![ip("192.0.2.9")], (204, None), "rate: 2 of 2"),
        (vec![ip("192.0.2.9")], (429, sid(rate)), "rate: over"),
        (vec![], (204, None), "no client named"),
    ];
    for (headers, want, why) in cases {
        assert_eq!(nginx(&app, &key, &headers).await, want, "{why}");
    }
    let metrics = app.get("/metrics", &app.admin).await.text().await.unwrap();
    for line in [
        "rampart_enforce_decisions_total{verdict=\"deny\"} 3",
        "rampart_enforce_decisions_total{verdict=\"rate_limited\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

#[tokio::test]
async fn envoy_gets_the_original_method_and_appended_path() {
    let app = spawn_app().await;
    let key = app.token(Role::Enforcer).await;
    let ep = action(
        &app,
        json!({"kind": "isolate_endpoint", "target": "POST /admin/{thing}", "reason": "r"}),
    )
    .await;
    app.post(
        &format!("/api/v1/actions/{ep}/approve"),
        &app.token(Role::Tier3).await,
        json!({}),
    )
    .await;
    let ask = |method: reqwest::Method, path: &'static str| {
        app.client
            .request(method, app.url(&format!("/enforce/envoy{path}")))
            .header("X-Rampart-Enforcer-Key", &key)
            .header("X-Real-IP", "192.0.2.1")
            .send()
    };
    let r = ask(reqwest::Method::POST, "/admin/users?x=1")
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["x-rampart-action"], ep.to_string().as_str());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "denied");
    assert_eq!(
        ask(reqwest::Method::GET, "/admin/users")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        ask(reqwest::Method::POST, "/public")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(ask(reqwest::Method::PUT, "").await.unwrap().status(), 200);
}

#[tokio::test]
async fn enforcement_keys_are_their_own_and_refused_when_wrong() {
    let app = spawn_app().await;
    let enforcer = app.token(Role::Enforcer).await;
    let tier3 = app.token(Role::Tier3).await;
    let get = |path: &'static str, header: &'static str, value: String| {
        app.client.get(app.url(path)).header(header, value).send()
    };
    for (path, header) in [
        ("/enforce/nginx", "X-Rampart-Enforcer-Key"),
        ("/v1/decisions/stream", "X-Api-Key"),
        ("/v1/decisions?ip=192.0.2.1", "X-Api-Key"),
    ] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_error(r, 401, "unauthorized").await;
        assert_error(
            get(path, header, "rmp_wrong".into()).await.unwrap(),
            401,
            "unauthorized",
        )
        .await;
        // a bearer token is not an enforcer key, even the admin's
        let r = app
            .client
            .get(app.url(path))
            .bearer_auth(&app.admin)
            .send()
            .await
            .unwrap();
        assert_error(r, 401, "unauthorized").await;
        // another role's token in the key header is refused
        assert_error(
            get(path, header, tier3.clone()).await.unwrap(),
            403,
            "forbidden",
        )
        .await;
        assert!(
            get(path, header, enforcer.clone())
                .await
                .unwrap()
                .status()
                .is_success(),
            "{path}"
        );
    }
    // the client's own X-Api-Key reaching /enforce/nginx is the judged request's, not a key
    let r = app
        .client
        .get(app.url("/enforce/nginx"))
        .header("X-Api-Key", enforcer.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // an enforcer key opens nothing else
    let r = app.get("/api/v1/incidents", &enforcer).await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn crowdsec_stream_deltas_filters_and_lookup() {
    let app = spawn_app().await;
    let key = app.token(Role::Enforcer).await;
    let pull = |q: &'static str| {
        let (c, url, key) = (
            app.client.clone(),
            app.url(&format!("/v1/decisions/stream{q}")),
            key.clone(),
        );
        async move {
            let r = c.get(url).header("X-Api-Key", key).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let values = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|d| d["value"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        pull("?startup=true").await,
        json!({"new": null, "deleted": null})
    );
    let a = action(&app, json!({"kind": "block_ip", "target": "203.0.113.7", "duration": "2h", "reason": "stuffing"})).await;
    action(
        &app,
        json!({"kind": "block_ip", "target": "198.51.100.0/24", "reason": "botnet"}),
    )
    .await;
    action(
        &app,
        json!({"kind": "disable_principal", "target": "mallory", "reason": "r"}),
    )
    .await;
    let s = pull("?startup=true").await;
    let mut got = values(&s["new"]);
    got.sort();
    assert_eq!(got, ["198.51.100.0/24", "203.0.113.7"], "{s}");
    let d = s["new"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["value"] == "203.0.113.7")
        .unwrap()
        .clone();
    assert_eq!(
        (d["id"].as_i64(), &d["origin"], &d["type"], &d["scope"]),
        (Some(a), &json!("rampart"), &json!("ban"), &json!("Ip"))
    );
    let dur = d["duration"].as_str().unwrap();
    assert!(
        dur.starts_with("1h59m") || dur == "2h",
        "a Go duration of what is left: {dur}"
    );
    assert_eq!(d["scenario"], "rampart/block_ip: stuffing");
    let s = pull("?startup=true&scopes=range").await;
    assert_eq!(values(&s["new"]), ["198.51.100.0/24"]);
    let s = pull("?startup=true&origins=crowdsec,cscli").await;
    assert_eq!(s["new"], Value::Null, "origin filter: {s}");
    let s = pull("?startup=true&scenarios_not_containing=botnet").await;
    assert_eq!(values(&s["new"]), ["203.0.113.7"]);

    // After a revert, the next pull has the deletion.
    let r = app
        .post(
            &format!("/api/v1/actions/{a}/revert"),
            &app.admin,
            json!({"reason": "fp"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let s = pull("").await;
    assert_eq!(values(&s["deleted"]), ["203.0.113.7"], "{s}");

    // Lookup by address: covering blocks; none is `null`, as CrowdSec answers.
    let look = |q: &'static str| {
        let (c, url, key) = (
            app.client.clone(),
            app.url(&format!("/v1/decisions{q}")),
            key.clone(),
        );
        async move { c.get(url).header("X-Api-Key", key).send().await.unwrap() }
    };
    let v: Value = look("?ip=198.51.100.77").await.json().await.unwrap();
    assert_eq!(values(&v), ["198.51.100.0/24"]);
    let v: Value = look("?ip=203.0.113.7").await.json().await.unwrap();
    assert_eq!(v, Value::Null, "reverted");
    let v: Value = look("?range=198.51.100.0/24").await.json().await.unwrap();
    assert_eq!(values(&v), ["198.51.100.0/24"]);
    let v: Value = look("?scope=ip&value=198.51.100.1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(values(&v), ["198.51.100.0/24"]);
    let head = app
        .client
        .head(app.url("/v1/decisions/stream"))
        .header("X-Api-Key", key.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);

    // Bad input: 400 with a JSON error naming the parameter.
    for q in ["?ip=not-an-ip", "?range=1.2.3.4/99", "?bogus=1"] {
        let r = app
            .client
            .get(app.url(&format!("/v1/decisions{q}")))
            .header("X-Api-Key", key.clone())
            .send()
            .await
            .unwrap();
        assert_error(r, 400, "bad_request").await;
    }
    let r = app
        .client
        .get(app.url("/v1/decisions/stream?startup=maybe"))
        .header("X-Api-Key", key.clone())
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "bad_request").await;
}

/// Two nodes sharing one store: an action created on one is enforced by the other within its
/// sync interval (the store's action signature moved; the other reads only what changed), its
/// revert too, and the other node's bouncer stream has it.
#[tokio::test]
async fn another_node_enforces_what_this_node_changed() {
    let fast = rampart_server::ServerConfig {
        enforce_sync_interval: std::time::Duration::from_millis(50),
        ..Default::default()
    };
    let a = spawn_app_with(fast.clone()).await;
    let key = a.token(Role::Enforcer).await;
    let b = a.second_node(fast).await;
    let ip = [("X-Real-IP", "203.0.113.7")];
    assert_eq!(nginx(&b, &key, &ip).await, (204, None));

    let id = action(
        &a,
        json!({"kind": "block_ip", "target": "203.0.113.7", "reason": "r"}),
    )
    .await;
    assert_eq!(
        nginx(&a, &key, &ip).await.0,
        403,
        "at once on the node that made it"
    );
    let (b_ref, key_ref, ip_ref) = (&b, key.as_str(), &ip);
    let until = move |want: u16| async move {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let got = nginx(b_ref, key_ref, ip_ref).await;
            if got.0 == want {
                return got;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "node b never answered {want}: {got:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    assert_eq!(until(403).await, (403, Some(id.to_string())));
    let s: Value = b
        .client
        .get(b.url("/v1/decisions/stream?startup=true"))
        .header("X-Api-Key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["new"][0]["value"], "203.0.113.7", "{s}");

    let r = a
        .post(
            &format!("/api/v1/actions/{id}/revert"),
            &a.admin,
            json!({"reason": "fp"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(nginx(&a, &key, &ip).await, (204, None));
    assert_eq!(until(204).await, (204, None));
}
