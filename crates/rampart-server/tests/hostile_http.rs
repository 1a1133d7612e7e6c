//! Hostile HTTP clients: requests a client library would refuse to send, slow clients that
//! hold connections open, and floods of invalid tokens. Raw `TcpStream`s where needed.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::{spawn_app, spawn_app_with};
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
