//! The decoders, grouped by family. Each is listed once in [`crate::DECODERS`].

pub mod clf;
pub mod diag;
pub mod json;
pub mod mapped;
pub mod text;

use rampart_model::{ApiEvent, EventKind};

/// Compact one-line rendering of the fields detectors read, for data-driven tests.
pub fn render(ev: &ApiEvent<'_>) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let client = ev
        .client_ip
        .map(|i| i.to_string())
        .unwrap_or_else(|| "-".into());
    let _ = write!(s, "{} {}", ev.ts, client);
    if let Some(p) = ev.peer_ip {
        let _ = write!(s, " peer={p}");
    }
    let _ = write!(s, " {}", ev.method);
    if !ev.scheme.is_empty() && !ev.host.is_empty() {
        let _ = write!(s, " {}://{}", ev.scheme, ev.host);
    } else if !ev.host.is_empty() {
        let _ = write!(s, " host={}", ev.host);
    }
    let _ = write!(s, " {}", ev.path);
    if !ev.query.is_empty() {
        let _ = write!(s, " ?{}", ev.query);
    }
    if !ev.protocol.is_empty() {
        let _ = write!(s, " {}", ev.protocol);
    }
    let _ = write!(s, " {}", ev.status);
    if !ev.user_agent.is_empty() {
        let _ = write!(s, " ua={}", ev.user_agent);
    }
    if !ev.referer.is_empty() {
        let _ = write!(s, " ref={}", ev.referer);
    }
    if let Some(b) = ev.response_bytes {
        let _ = write!(s, " bytes={b}");
    }
    if let Some(b) = ev.request_bytes {
        let _ = write!(s, " req_bytes={b}");
    }
    if let Some(l) = ev.latency_us {
        let _ = write!(s, " latency_us={l}");
    }
    if let Some(v) = &ev.service {
        let _ = write!(s, " service={v}");
    }
    if let Some(v) = &ev.principal {
        let _ = write!(s, " principal={v}");
    }
    if ev.authenticated {
        s.push_str(" auth");
    }
    if ev.api_key_id.is_some() {
        s.push_str(" key");
    }
    if ev.kind != EventKind::Access {
        let _ = write!(s, " kind={:?}", ev.kind);
    }
    if let Some(m) = &ev.message {
        let _ = write!(s, " msg={m:?}");
    }
    s
}
