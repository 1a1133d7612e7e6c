//! Webhooks end to end over a real SQLite store, the real delivery worker and a real HTTP
//! receiver on 127.0.0.1:0: signatures verify with the secret from the environment, a
//! receiver that fails twice gets a third attempt and the delivery ends delivered, one that
//! always fails makes a dead letter that a retry sends again, a receiver that never answers
//! does not hold the pipeline up, a rule's `notify` produces a delivery (OCSF here), and the
//! subscription routes are checked, audited and role-gated.

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use common::{assert_error, sigma_alert, spawn_app_with, TestApp};
use rampart_model::{DeliveryFilter, DeliveryStatus, Role};
use rampart_server::webhook::WebhookConfig;
use rampart_server::ServerConfig;
use rampart_store::AuditFilter;
use serde_json::{json, Value};

/// What the receiver does with a request.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Status(u16),
    /// Accept and never answer.
    Hang,
}

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Got {
    headers: HeaderMap,
    body: Vec<u8>,
}

#[derive(Default)]
struct Script {
    /// Answers in order; `then` once they are used up.
    answers: VecDeque<Answer>,
    then: Option<Answer>,
    got: Vec<Got>,
}

#[derive(Clone, Default)]
struct Receiver {
    script: Arc<Mutex<Script>>,
    url: String,
}

impl Receiver {
    async fn start(answers: &[Answer], then: Answer) -> Receiver {
        let script = Arc::new(Mutex::new(Script {
            answers: answers.iter().copied().collect(),
            then: Some(then),
            got: Vec::new(),
        }));
        let s = script.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let s = s.clone();
                async move {
                    let answer = {
                        let mut g = s.lock().unwrap();
                        g.got.push(Got {
                            headers,
                            body: body.to_vec(),
                        });
                        let next = g.answers.pop_front();
                        next.or(g.then).unwrap_or(Answer::Status(200))
                    };
                    match answer {
                        Answer::Status(c) => StatusCode::from_u16(c).unwrap(),
                        Answer::Hang => std::future::pending().await,
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { script, url }
    }

    fn got(&self) -> Vec<Got> {
        self.script.lock().unwrap().got.clone()
    }

    fn answer_from_now(&self, a: Answer) {
        let mut g = self.script.lock().unwrap();
        g.answers.clear();
        g.then = Some(a);
    }
}

fn fast() -> ServerConfig {
    ServerConfig {
        webhooks: WebhookConfig {
            poll_interval: Duration::from_millis(50),
            retry_base: Duration::from_millis(20),
            retry_max: Duration::from_millis(200),
            concurrency: 4,
            ca_file: None,
        },
        ..Default::default()
    }
}

/// Wait (bounded) until `check` holds.
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

async fn create_hook(app: &TestApp, token: &str, hook: Value) {
    let r = app.post("/api/v1/webhooks", token, hook).await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
}

async fn push_alert(app: &TestApp, token: &str, ip: &str) {
    let alert = serde_json::to_value(sigma_alert(ip)).unwrap();
    let r = app.post("/api/v1/alerts", token, json!([alert])).await;
    assert_eq!(r.status(), 202);
}

async fn deliveries(app: &TestApp, webhook: &str) -> Vec<rampart_model::Delivery> {
    app.store
        .list_deliveries(&DeliveryFilter {
            webhook: Some(webhook.into()),
            ..Default::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn signed_deliveries_verify_and_are_retried_until_delivered() {
    const VAR: &str = "RAMPART_TEST_WEBHOOK_SECRET_RETRY";
    std::env::set_var(VAR, "s3cret-from-env");
    let rx = Receiver::start(
        &[Answer::Status(500), Answer::Status(503)],
        Answer::Status(200),
    )
    .await;
    let app = spawn_app_with(fast()).await;
    let manager = app.token(Role::SocManager).await;
    create_hook(
        &app,
        &manager,
        json!({"name": "siem", "url": rx.url, "events": ["incident_created"], "secret_env": VAR}),
    )
    .await;
    let ingest = app.token(Role::Ingest).await;
    push_alert(&app, &ingest, "198.51.100.8").await;
    until("delivered", || async {
        deliveries(&app, "siem")
            .await
            .first()
            .is_some_and(|d| d.status == DeliveryStatus::Delivered)
    })
    .await;
    let d = &deliveries(&app, "siem").await[0];
    assert_eq!((d.attempts, d.last_status), (3, Some(200)));
    assert_eq!(d.event, "incident_created");
    let got = rx.got();
    assert_eq!(got.len(), 3, "two failures, then the delivery");
    for g in &got {
        let h = |n: &str| g.headers.get(n).unwrap().to_str().unwrap().to_string();
        assert_eq!(h("content-type"), "application/json");
        assert_eq!(h("x-rampart-event"), "incident_created");
        assert_eq!(
            h("x-rampart-delivery"),
            d.id.to_string(),
            "one id for every attempt"
        );
        let sig = h("x-rampart-signature");
        assert!(
            rampart_automation::signature::verify(b"s3cret-from-env", &sig, &g.body),
            "{sig}"
        );
        assert!(!rampart_automation::signature::verify(
            b"other", &sig, &g.body
        ));
        assert!(!String::from_utf8_lossy(&g.body).contains("s3cret"));
    }
    let body: Value = serde_json::from_slice(&got[2].body).unwrap();
    assert_eq!(body["event"], "incident_created");
    let incidents = app.store.list_incidents(&Default::default()).await.unwrap();
    assert_eq!(body["incident"]["id"], incidents.items[0].id);
    // the secret is named, never stored
    let stored = app.get_json("/api/v1/webhooks/siem").await;
    assert_eq!(stored["webhook"]["secret_env"], VAR);
    assert!(!stored.to_string().contains("s3cret-from-env"));
    let metrics = app.get("/metrics", &app.admin).await.text().await.unwrap();
    assert!(
        metrics.contains("rampart_webhook_deliveries_total{outcome=\"failed\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_always_failing_receiver_makes_a_dead_letter_that_retry_sends_again() {
    let rx = Receiver::start(&[], Answer::Status(500)).await;
    let app = spawn_app_with(fast()).await;
    let manager = app.token(Role::SocManager).await;
    create_hook(
        &app,
        &manager,
        json!({"name": "flaky", "url": rx.url, "events": ["incident_created"], "max_attempts": 2}),
    )
    .await;
    create_hook(
        &app,
        &manager,
        json!({"name": "unsigned", "url": rx.url, "events": ["incident_created"], "max_attempts": 1,
               "secret_env": "RAMPART_TEST_WEBHOOK_SECRET_NEVER_SET"}),
    )
    .await;
    let ingest = app.token(Role::Ingest).await;
    push_alert(&app, &ingest, "198.51.100.9").await;
    let viewer = app.token(Role::Viewer).await;
    let dead_of = |name: &'static str| {
        let (app, viewer) = (&app, viewer.clone());
        async move {
            let r = app
                .get(
                    &format!("/api/v1/webhooks/{name}/deliveries?status=dead"),
                    &viewer,
                )
                .await;
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()["items"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    until("dead letters", || async {
        !dead_of("flaky").await.is_empty() && !dead_of("unsigned").await.is_empty()
    })
    .await;
    let dead = dead_of("flaky").await;
    assert_eq!(dead[0]["attempts"], 2);
    assert_eq!(dead[0]["last_status"], 500);
    assert!(dead[0]["last_error"].as_str().unwrap().contains("500"));
    let unsigned = dead_of("unsigned").await;
    assert!(
        unsigned[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("RAMPART_TEST_WEBHOOK_SECRET_NEVER_SET"),
        "{unsigned:?}"
    );
    assert_eq!(rx.got().len(), 2, "the unsigned one was never sent");
    assert_error(
        app.get("/api/v1/webhooks/flaky/deliveries?status=lost", &viewer)
            .await,
        400,
        "bad_request",
    )
    .await;

    // retry: role-gated, audited, sent again
    let id = dead[0]["id"].as_i64().unwrap();
    let path = format!("/api/v1/webhook-deliveries/{id}/retry");
    assert_error(app.post(&path, &viewer, json!({})).await, 403, "forbidden").await;
    rx.answer_from_now(Answer::Status(204));
    let r = app.post(&path, &manager, json!({})).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "pending");
    until("delivered after the retry", || async {
        app.store
            .get_delivery(id)
            .await
            .unwrap()
            .is_some_and(|d| d.status == DeliveryStatus::Delivered)
    })
    .await;
    assert_eq!(rx.got().len(), 3);
    assert_error(app.post(&path, &manager, json!({})).await, 409, "conflict").await;
    assert_error(
        app.post(
            "/api/v1/webhook-deliveries/999999/retry",
            &manager,
            json!({}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let audit = app
        .store
        .list_audit(&AuditFilter {
            object_type: Some("webhook_delivery".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.items.len(), 1);
    assert_eq!(audit.items[0].action, "webhook.delivery.retry");
    assert!(audit.items[0].actor.starts_with("token:"));
}

#[tokio::test]
async fn a_receiver_that_never_answers_does_not_hold_up_the_pipeline() {
    let rx = Receiver::start(&[], Answer::Hang).await;
    let app = spawn_app_with(fast()).await;
    let manager = app.token(Role::SocManager).await;
    create_hook(
        &app,
        &manager,
        json!({"name": "stuck", "url": rx.url, "events": ["incident_created"], "timeout_secs": 1, "max_attempts": 20}),
    )
    .await;
    let ingest = app.token(Role::Ingest).await;
    push_alert(&app, &ingest, "198.51.100.20").await;
    until("the receiver holds a request", || async {
        !rx.got().is_empty()
    })
    .await;
    // While it hangs, pushes are acknowledged and their incidents stored (the receiver
    // answers nothing at all in this phase, so a pipeline waiting for it would never ack).
    for ip in ["198.51.100.21", "198.51.100.22", "198.51.100.23"] {
        push_alert(&app, &ingest, ip).await;
    }
    let page = app.store.list_incidents(&Default::default()).await.unwrap();
    assert_eq!(page.items.len(), 4);
    until("four deliveries enqueued", || async {
        deliveries(&app, "stuck").await.len() == 4
    })
    .await;
    // Timed-out attempts are retried; once the receiver answers, everything is delivered.
    until("a timed-out attempt recorded", || async {
        deliveries(&app, "stuck").await.iter().any(|d| {
            d.attempts >= 1
                && d.last_error
                    .as_deref()
                    .is_some_and(|e| e.contains("timed out"))
        })
    })
    .await;
    rx.answer_from_now(Answer::Status(200));
    until("all delivered", || async {
        deliveries(&app, "stuck")
            .await
            .iter()
            .all(|d| d.status == DeliveryStatus::Delivered)
    })
    .await;
    let all = deliveries(&app, "stuck").await;
    assert!(
        all.iter().any(|d| d.attempts >= 2),
        "the hung delivery was retried: {all:?}"
    );
}

#[tokio::test]
async fn a_notify_rule_action_sends_the_incident_as_ocsf() {
    let rx = Receiver::start(&[], Answer::Status(200)).await;
    let app = spawn_app_with(fast()).await;
    let manager = app.token(Role::SocManager).await;
    let rule = json!({
        "name": "page-soc",
        "triggers": ["incident_created"],
        "actions": [{"notify": "soc-siem"}],
    });
    // a notify naming no webhook is refused
    let msg = assert_error(
        app.post("/api/v1/automation/rules", &manager, rule.clone())
            .await,
        422,
        "unprocessable",
    )
    .await;
    assert!(msg.contains("soc-siem"), "{msg}");
    // the subscription lists no incident event: only the rule's notify reaches it
    create_hook(
        &app,
        &manager,
        json!({"name": "soc-siem", "url": rx.url, "events": ["action_changed"], "format": "ocsf"}),
    )
    .await;
    let r = app.post("/api/v1/automation/rules", &manager, rule).await;
    assert_eq!(r.status(), 201);
    let ingest = app.token(Role::Ingest).await;
    push_alert(&app, &ingest, "198.51.100.30").await;
    until("the notify delivery", || async { !rx.got().is_empty() }).await;
    until("delivered", || async {
        deliveries(&app, "soc-siem")
            .await
            .iter()
            .all(|d| d.status == DeliveryStatus::Delivered)
    })
    .await;
    let got = rx.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].headers["x-rampart-event"], "notify");
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["class_uid"], 2005);
    assert_eq!(body["category_uid"], 2);
    assert_eq!(body["metadata"]["product"]["name"], "Rampart");
    assert_eq!(body["unmapped"]["actor"], "rule:page-soc");
    let incidents = app.store.list_incidents(&Default::default()).await.unwrap();
    assert_eq!(
        body["finding_info"]["uid"],
        format!("rampart-incident-{}", incidents.items[0].id)
    );
}

#[tokio::test]
async fn webhook_routes_are_checked_audited_role_gated_and_actions_are_events() {
    let app = spawn_app_with(fast()).await;
    let manager = app.token(Role::SocManager).await;
    let tier3 = app.token(Role::Tier3).await;
    // port 9 (discard) on loopback: nothing listens; deliveries just fail and retry
    let hook = json!({"name": "actions", "url": "http://127.0.0.1:9/x", "events": ["action_created", "action_changed"]});
    assert_error(
        app.post("/api/v1/webhooks", &tier3, hook.clone()).await,
        403,
        "forbidden",
    )
    .await;
    create_hook(&app, &manager, hook.clone()).await;
    assert_error(
        app.post("/api/v1/webhooks", &manager, hook.clone()).await,
        409,
        "conflict",
    )
    .await;
    let mut bad = hook.clone();
    bad["url"] = json!("file:///etc/passwd");
    let msg = assert_error(
        app.post("/api/v1/webhooks", &manager, bad).await,
        422,
        "unprocessable",
    )
    .await;
    assert!(msg.contains("url: must start with http://"), "{msg}");
    let mut bad = hook.clone();
    bad["events"] = json!(["incident_exploded"]);
    let msg = assert_error(
        app.post("/api/v1/webhooks", &manager, bad).await,
        422,
        "unprocessable",
    )
    .await;
    assert!(
        msg.contains("events[0]") && msg.contains("incident_exploded"),
        "{msg}"
    );
    let mut changed = hook.clone();
    changed["timeout_secs"] = json!(2);
    let put = |body: Value| {
        app.send(
            reqwest::Method::PUT,
            "/api/v1/webhooks/actions",
            &manager,
            body,
        )
    };
    let v: Value = put(hook.clone()).await.json().await.unwrap();
    assert_eq!(
        v["version"], 1,
        "the same subscription again changes nothing"
    );
    let v: Value = put(changed).await.json().await.unwrap();
    assert_eq!(
        (v["version"].clone(), v["webhook"]["timeout_secs"].clone()),
        (json!(2), json!(2))
    );
    let viewer = app.token(Role::Viewer).await;
    let list: Value = app
        .get("/api/v1/webhooks", &viewer)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["name"], "actions");
    assert_eq!(list["items"][0]["webhook"]["max_attempts"], 6);
    assert_error(
        app.get("/api/v1/webhooks/nope", &viewer).await,
        404,
        "not_found",
    )
    .await;

    // an action made through the API is an action_created event
    let r = app
        .post(
            "/api/v1/actions",
            &app.admin,
            json!({"kind": "block_ip", "target": "203.0.113.77", "reason": "test", "duration": "1h"}),
        )
        .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let action: Value = r.json().await.unwrap();
    until("an action_created delivery", || async {
        deliveries(&app, "actions")
            .await
            .iter()
            .any(|d| d.event == "action_created")
    })
    .await;
    let d = deliveries(&app, "actions").await;
    let created = d.iter().find(|d| d.event == "action_created").unwrap();
    assert_eq!(created.payload["action"]["id"], action["id"]);
    assert_eq!(
        created.payload["actor"]
            .as_str()
            .map(|a| a.starts_with("token:")),
        Some(true)
    );

    let r = app
        .client
        .delete(app.url("/api/v1/webhooks/actions"))
        .bearer_auth(&manager)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let audit = app
        .store
        .list_audit(&AuditFilter {
            object_type: Some("automation.webhook".into()),
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
}

/// An https receiver with a certificate of a private CA: trusted through `ca_file`, the
/// delivery arrives over TLS; without it, the attempt fails (an unknown issuer is never
/// trusted) and the delivery is retried, not delivered.
#[tokio::test]
async fn https_receivers_are_reached_over_tls_with_a_trusted_ca() {
    use hyper_util::rt::TokioIo;
    use tokio_rustls::rustls;

    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, cert.pem()).unwrap();
    let server_cfg = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key_pair.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_cfg));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let g = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, g) = (acceptor.clone(), g.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let g = g.clone();
                        async move {
                            let body = axum::body::to_bytes(
                                axum::body::Body::new(req.into_body()),
                                1 << 20,
                            )
                            .await
                            .unwrap();
                            g.lock().unwrap().push(body.to_vec());
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(
                                axum::body::Body::from("ok"),
                            ))
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    let url = format!("https://localhost:{port}/hook");

    for trusted in [false, true] {
        let mut config = fast();
        if trusted {
            config.webhooks.ca_file = Some(ca.clone());
        }
        let app = spawn_app_with(config).await;
        let manager = app.token(Role::SocManager).await;
        create_hook(
            &app,
            &manager,
            json!({"name": "tls", "url": url, "events": ["incident_created"]}),
        )
        .await;
        let ingest = app.token(Role::Ingest).await;
        push_alert(&app, &ingest, "198.51.100.44").await;
        if trusted {
            until("delivered over TLS", || async {
                deliveries(&app, "tls")
                    .await
                    .first()
                    .is_some_and(|d| d.status == DeliveryStatus::Delivered)
            })
            .await;
            let bodies = got.lock().unwrap().clone();
            assert_eq!(
                bodies.len(),
                1,
                "only the trusting node reached the receiver"
            );
            let body: Value = serde_json::from_slice(&bodies[0]).unwrap();
            assert_eq!(body["event"], "incident_created");
        } else {
            until("a failed attempt", || async {
                deliveries(&app, "tls")
                    .await
                    .first()
                    .is_some_and(|d| d.attempts >= 2)
            })
            .await;
            let d = &deliveries(&app, "tls").await[0];
            assert_ne!(d.status, DeliveryStatus::Delivered);
            assert!(
                d.last_error.as_deref().unwrap_or("").contains("error"),
                "{:?}",
                d.last_error
            );
            assert!(
                got.lock().unwrap().is_empty(),
                "an untrusted issuer is refused"
            );
        }
    }
}
