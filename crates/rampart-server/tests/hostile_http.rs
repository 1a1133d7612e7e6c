//! Hostile HTTP clients: requests a client library would refuse to send, slow clients that
//! hold connections open, and floods of invalid tokens. Raw `TcpStream`s where needed.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::{spawn_app, spawn_app_with};
use rampart_model::Role;
use rampart_server::ServerConfig;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{timeout, Instant};

/// A parsed raw answer.
#[derive(Debug)]
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Send `request` as is on a fresh connection and read the answer until the server closes
/// (or the answer's `content-length` is complete), within five seconds.
async fn raw(addr: SocketAddr, request: &[u8]) -> Raw {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request).await.expect("write");
    let mut buf = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(r) = parse_answer(&buf) {
            return r;
        }
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout_at(deadline, s.read(&mut chunk))
            .await
            .expect("answer within 5s")
            .unwrap_or(0);
        if n == 0 {
            return parse_answer(&buf).unwrap_or_else(|| {
                panic!("incomplete answer: {:?}", String::from_utf8_lossy(&buf))
            });
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn parse_answer(buf: &[u8]) -> Option<Raw> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).expect("ascii head");
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())?;
    let body = buf.get(end + 4..end + 4 + len)?.to_vec();
    Some(Raw {
        status,
        headers,
        body,
    })
}

/// The answer is `status` with a JSON `{"error": {"code", "message"}}` body.
fn check_json_error(what: &str, r: &Raw, status: u16, code: &str) {
    assert_eq!(r.status, status, "{what}: {r:?}");
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{what}: {r:?}"
    );
    let v: Value = serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("{what}: body is not json ({e}): {r:?}"));
    assert_eq!(v["error"]["code"], code, "{what}: {v}");
    assert!(v["error"]["message"].is_string(), "{what}: {v}");
}

// --- every error is JSON -------------------------------------------------------------------

#[tokio::test]
async fn protocol_errors_are_json() {
    let app = spawn_app().await;
    let long_uri = format!("/api/v1/incidents?q={}", "a".repeat(20_000));
    let big_header = format!("x-big: {}\r\n", "b".repeat(200_000));
    let admin = format!("authorization: Bearer {}\r\n", app.admin);
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "405 wrong method",
            b"PUT /api/v1/incidents HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 0\r\n\r\n".to_vec(),
            405,
            "method_not_allowed",
        ),
        (
            "405 on healthz",
            b"DELETE /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".to_vec(),
            405,
            "method_not_allowed",
        ),
        (
            "414 uri too long",
            format!("GET {long_uri} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").into_bytes(),
            414,
            "uri_too_long",
        ),
        (
            "431 header too large",
            format!("GET /healthz HTTP/1.1\r\nhost: x\r\n{big_header}connection: close\r\n\r\n").into_bytes(),
            431,
            "headers_too_large",
        ),
        (
            "400 raw invalid utf-8 in the path",
            b"GET /api/v1/\xff\xfe HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".to_vec(),
            400,
            "bad_request",
        ),
        (
            "400 garbage request line",
            b"HELLO\r\n\r\n".to_vec(),
            400,
            "bad_request",
        ),
        (
            "400 percent-encoded invalid utf-8 in a path parameter",
            format!("DELETE /api/v1/tokens/%FF%FE HTTP/1.1\r\nhost: x\r\n{admin}connection: close\r\n\r\n").into_bytes(),
            400,
            "bad_request",
        ),
    ];
    for (what, req, status, code) in cases {
        let r = raw(app.addr, &req).await;
        check_json_error(what, &r, status, code);
    }
}

// --- slow clients --------------------------------------------------------------------------

/// A connection from `source` that sends half a request head and then idles.
async fn slow_connection(addr: SocketAddr, source: Ipv4Addr) -> TcpStream {
    let sock = TcpSocket::new_v4().expect("socket");
    sock.bind(SocketAddr::new(IpAddr::V4(source), 0))
        .expect("bind source");
    let mut s = sock.connect(addr).await.expect("connect");
    s.write_all(b"GET /api/v1/incidents HTTP/1.1\r\nhost: x\r\nx-slow: ")
        .await
        .expect("write");
    s
}

/// Whether the server closed `s` (EOF or reset) by `deadline`; panics if it answered.
async fn closed_by(s: &mut TcpStream, deadline: Instant) -> bool {
    let mut b = [0u8; 256];
    match tokio::time::timeout_at(deadline, s.read(&mut b)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(n)) => panic!(
            "slow connection answered: {:?}",
            String::from_utf8_lossy(&b[..n])
        ),
        Err(_) => false,
    }
}

/// Open `n` slow connections (sources from `source(i)`), returning them and when the first
/// was opened; asserts that opening them all took less than `within`.
async fn open_slow(
    addr: SocketAddr,
    n: usize,
    source: impl Fn(usize) -> Ipv4Addr,
    within: Duration,
) -> (Vec<TcpStream>, Instant) {
    let started = Instant::now();
    let mut slow = Vec::with_capacity(n);
    for i in 0..n {
        slow.push(slow_connection(addr, source(i)).await);
    }
    assert!(
        started.elapsed() < within,
        "opening took {:?}: the test cannot hold them all",
        started.elapsed()
    );
    (slow, started)
}

/// `/healthz` and an authenticated GET answer within 3 s each.
async fn api_answers(app: &common::TestApp, token: &str) {
    let healthz = timeout(
        Duration::from_secs(3),
        app.client.get(app.url("/healthz")).send(),
    )
    .await
    .expect("/healthz answers within 3s")
    .expect("healthz");
    assert_eq!(healthz.status(), 200);
    let authed = timeout(Duration::from_secs(3), app.get("/api/v1/incidents", token))
        .await
        .expect("authenticated GET answers within 3s");
    assert_eq!(authed.status(), 200);
}

/// How many of `slow` are still open at `deadline`.
async fn still_open(slow: &mut [TcpStream], deadline: Instant) -> usize {
    let mut open = 0;
    for s in slow {
        if !closed_by(s, deadline).await {
            open += 1;
        }
    }
    open
}

/// Regression: connections that never finish their request head were never timed out, and
/// enough of them starved `/healthz` and authenticated requests. 5,000 slow connections are
/// held while the API must still answer a client on 127.0.0.1; then every slow one must be
/// closed after the header read timeout. Twice: from 50 other loopback addresses (100 each,
/// under the per-source cap: all held), then all from 127.0.0.1, the client's own address
/// (over the per-source cap: the flood evicts its own oldest idle connections).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_do_not_starve_the_api() {
    const SLOW: usize = 5_000;
    let header_timeout = Duration::from_secs(6);
    let app = spawn_app_with(ServerConfig {
        header_read_timeout: header_timeout,
        ..Default::default()
    })
    .await;
    let viewer = app.token(Role::Viewer).await;

    let (mut slow, started) = open_slow(
        app.addr,
        SLOW,
        |i| Ipv4Addr::new(127, 0, 0, 2 + (i % 50) as u8),
        header_timeout,
    )
    .await;
    // Held, not refused: the latest ones are still open.
    for s in slow.iter_mut().rev().take(50) {
        assert!(!closed_by(s, Instant::now() + Duration::from_millis(1)).await);
    }
    api_answers(&app, &viewer).await;
    let deadline = started + header_timeout + Duration::from_secs(20);
    assert_eq!(
        still_open(&mut slow, deadline).await,
        0,
        "open after the header timeout"
    );
    drop(slow);

    let (mut slow, started) =
        open_slow(app.addr, SLOW, |_| Ipv4Addr::LOCALHOST, header_timeout).await;
    api_answers(&app, &viewer).await;
    let deadline = started + header_timeout + Duration::from_secs(20);
    assert_eq!(
        still_open(&mut slow, deadline).await,
        0,
        "open after the header timeout"
    );
}

/// At the per-source cap the source's oldest idle connection makes room; when all of them are
/// busy (answering a request whose body is still coming) a new one is closed at once.
#[tokio::test]
async fn per_source_cap_evicts_idle_then_refuses() {
    let app = spawn_app_with(ServerConfig {
        max_connections_per_source: 3,
        ..Default::default()
    })
    .await;
    let source = Ipv4Addr::new(127, 0, 0, 77);
    let now = || Instant::now() + Duration::from_millis(50);
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(slow_connection(app.addr, source).await);
    }
    let mut newest = slow_connection(app.addr, source).await;
    assert!(closed_by(&mut idle[0], Instant::now() + Duration::from_secs(5)).await);
    assert!(!closed_by(&mut idle[1], now()).await);
    assert!(!closed_by(&mut newest, now()).await);

    // Busy connections: a handler is reading their body (hyper sends `100 Continue` when it
    // first does). With all three busy, a fourth is closed at once.
    let source = Ipv4Addr::new(127, 0, 0, 78);
    let mut busy = Vec::new();
    for _ in 0..3 {
        let sock = TcpSocket::new_v4().unwrap();
        sock.bind(SocketAddr::new(IpAddr::V4(source), 0)).unwrap();
        let mut s = sock.connect(app.addr).await.unwrap();
        let head = format!(
            "POST /api/v1/tokens HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\nexpect: 100-continue\r\ncontent-length: 100\r\n\r\n",
            app.admin
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let mut b = [0u8; 64];
        let n = timeout(Duration::from_secs(5), s.read(&mut b))
            .await
            .expect("100 continue")
            .unwrap();
        assert!(
            b[..n].starts_with(b"HTTP/1.1 100"),
            "{:?}",
            String::from_utf8_lossy(&b[..n])
        );
        busy.push(s);
    }
    let mut over = slow_connection(app.addr, source).await;
    assert!(closed_by(&mut over, Instant::now() + Duration::from_secs(5)).await);
    for s in &mut busy {
        assert!(!closed_by(s, now()).await, "a busy connection was evicted");
    }
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// A request body that trickles in slower than the body read timeout is answered 408.
#[tokio::test]
async fn slow_bodies_time_out() {
    let app = spawn_app_with(ServerConfig {
        body_read_timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/tokens HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"name\"",
        app.admin
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let read = timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "connection still open");
    let r = parse_answer(&buf).expect("an answer");
    check_json_error("slow body", &r, 408, "request_timeout");
}

/// Graceful shutdown: a request whose body is still arriving when the shutdown comes is
/// answered, then the server stops.
#[tokio::test]
async fn shutdown_finishes_in_flight_requests() {
    let app = spawn_app().await;
    let body = br#"{"name": "late", "role": "viewer"}"#;
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/tokens HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\nexpect: 100-continue\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        app.admin,
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut b = [0u8; 64];
    let n = timeout(Duration::from_secs(5), s.read(&mut b))
        .await
        .expect("100 continue")
        .unwrap();
    assert!(b[..n].starts_with(b"HTTP/1.1 100"), "in flight");
    let _ = app.shutdown.lock().unwrap().take().expect("once").send(());
    let server = app.server.lock().unwrap().take().expect("once");
    s.write_all(body).await.unwrap();
    let mut buf = Vec::new();
    timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
        .await
        .expect("answered and closed")
        .unwrap();
    let r = parse_answer(&buf).expect("an answer");
    assert_eq!(r.status, 201, "{r:?}");
    timeout(Duration::from_secs(5), server)
        .await
        .expect("server stopped")
        .unwrap()
        .expect("served");
    assert!(
        TcpStream::connect(app.addr).await.is_err(),
        "still listening"
    );
}

// --- token checks --------------------------------------------------------------------------

/// Regression: every token check went to the store (an UPDATE on the single writer), so an
/// invalid-token flood ran at the writer's pace. With the store closed under the server, an
/// invalid-token flood still gets 401 then 429 (never 500: no store access), and a valid token
/// still works on a route that needs no store.
#[tokio::test]
async fn token_checks_never_touch_the_store() {
    let app = spawn_app_with(ServerConfig {
        auth_failure_burst: 50,
        ..Default::default()
    })
    .await;
    // Serving (the cache is loaded before the first connection is accepted), then no store.
    assert_eq!(app.get("/api/v1/incidents", &app.admin).await.status(), 200);
    app.sqlite.close().await;
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..100 {
        let r = app.get("/api/v1/incidents", &format!("rmp_nope{i}")).await;
        *statuses.entry(r.status().as_u16()).or_insert(0) += 1;
    }
    assert_eq!(
        statuses,
        [(401, 50), (429, 50)].into_iter().collect(),
        "{statuses:?}"
    );
    let r = app.get("/api/v1/openapi.json", &app.admin).await;
    assert_eq!(r.status(), 200);
}

/// Uses are written in batches, not per request: nothing before the flush, then the last use.
#[tokio::test]
async fn token_uses_are_recorded_in_batches() {
    let app = spawn_app_with(ServerConfig {
        token_use_flush_interval: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    let before = rampart_model::Timestamp::now();
    for _ in 0..20 {
        assert_eq!(app.get("/api/v1/incidents", &app.admin).await.status(), 200);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let tokens = app.store.list_tokens().await.expect("list");
        if let Some(at) = tokens[0].last_used_at {
            assert!(at >= before, "{at:?} < {before:?}");
            break;
        }
        assert!(Instant::now() < deadline, "last use never recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A token revoked through this node is refused at once; one revoked elsewhere (straight in
/// the store, as another node would) is refused within the refresh interval.
#[tokio::test]
async fn revoked_tokens_are_refused() {
    let app = spawn_app_with(ServerConfig {
        token_refresh_interval: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    let created = app
        .post(
            "/api/v1/tokens",
            &app.admin,
            serde_json::json!({"name": "here", "role": "viewer"}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let here = created.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.get("/api/v1/incidents", &here).await.status(), 200);
    let del = app
        .client
        .delete(app.url("/api/v1/tokens/here"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 200);
    assert_eq!(app.get("/api/v1/incidents", &here).await.status(), 401);

    let elsewhere = app.token(Role::Viewer).await;
    assert_eq!(app.get("/api/v1/incidents", &elsewhere).await.status(), 200);
    let name = app
        .store
        .list_tokens()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name.starts_with("viewer-"))
        .expect("viewer token")
        .name;
    app.store.revoke_token(&name, "test").await.expect("revoke");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = app.get("/api/v1/incidents", &elsewhere).await.status();
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            Instant::now() < deadline,
            "revoked elsewhere, still accepted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Failures are limited per source: after the burst a source gets 429 (JSON, Retry-After),
/// a valid token from it still works, another source still gets 401.
#[tokio::test]
async fn failed_authentication_is_rate_limited_per_source() {
    let app = spawn_app_with(ServerConfig {
        auth_failure_burst: 5,
        auth_failures_per_minute: 1,
        ..Default::default()
    })
    .await;
    let got: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..7 {
            v.push(
                app.get("/api/v1/incidents", "rmp_bad")
                    .await
                    .status()
                    .as_u16(),
            );
        }
        v
    };
    assert_eq!(got, [401, 401, 401, 401, 401, 429, 429]);
    let r = app.get("/api/v1/incidents", "rmp_bad").await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    common::assert_error(r, 429, "too_many_requests").await;
    // No header at all counts too.
    let r = app
        .client
        .get(app.url("/api/v1/incidents"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    // A valid token is never refused for its source's failures.
    assert_eq!(app.get("/api/v1/incidents", &app.admin).await.status(), 200);
    // Another source has its own budget.
    let other = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)))
        .build()
        .unwrap();
    let r = other
        .get(app.url("/api/v1/incidents"))
        .bearer_auth("rmp_bad")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
