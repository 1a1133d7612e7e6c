//! Encoders: an [`ApiEvent`] as one log line in a gateway's format.
//!
//! Fields a format has but the event lacks (ports, upstream address, request id) are derived
//! deterministically from the event, so the same event always encodes to the same line.

use std::net::IpAddr;

use rampart_model::ApiEvent;

use crate::text::{
    push_clf_time, push_iso, push_json_esc, push_json_str, push_milli, push_nginx_esc, push_u64,
};

/// A log format the simulator can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    /// nginx/Apache `combined`.
    Combined,
    /// nginx/Apache `common` (CLF).
    Common,
    /// The nginx JSON `log_format` documented in [`encode`].
    NginxJson,
    /// Rampart's own NDJSON request record (the only format with bodies).
    Rampart,
    /// Envoy/Istio JSON access log.
    EnvoyJson,
    /// Traefik JSON access log.
    Traefik,
    /// Caddy JSON access log (`http.log.access`).
    Caddy,
    /// AWS Application Load Balancer access log.
    AwsAlb,
}

impl OutputFormat {
    /// Every format, in registry order.
    pub const ALL: &'static [OutputFormat] = &[
        OutputFormat::Combined,
        OutputFormat::Common,
        OutputFormat::NginxJson,
        OutputFormat::Rampart,
        OutputFormat::EnvoyJson,
        OutputFormat::Traefik,
        OutputFormat::Caddy,
        OutputFormat::AwsAlb,
    ];

    /// The format's name (the decoder of the same name reads it back).
    pub const fn name(self) -> &'static str {
        match self {
            OutputFormat::Combined => "combined",
            OutputFormat::Common => "common",
            OutputFormat::NginxJson => "nginx_json",
            OutputFormat::Rampart => "rampart",
            OutputFormat::EnvoyJson => "envoy_json",
            OutputFormat::Traefik => "traefik_json",
            OutputFormat::Caddy => "caddy",
            OutputFormat::AwsAlb => "aws_alb",
        }
    }

    /// The format with this name.
    pub fn from_name(name: &str) -> Result<OutputFormat, crate::SimError> {
        OutputFormat::ALL
            .iter()
            .copied()
            .find(|f| f.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| crate::SimError::UnknownFormat(name.to_string()))
    }
}

/// Append `ev` as one line in `fmt` to `out`, without a trailing newline.
///
/// `nginx_json` is exactly this nginx `log_format ... escape=json`:
/// `{"time":"$time_iso8601","remote_addr":"$remote_addr","x_forwarded_for":"$http_x_forwarded_for",
/// "remote_user":"$remote_user","request_method":"$request_method","scheme":"$scheme","host":"$host",
/// "request_uri":"$request_uri","server_protocol":"$server_protocol","status":$status,
/// "request_length":$request_length,"body_bytes_sent":$body_bytes_sent,"request_time":$request_time,
/// "upstream_addr":"$upstream_addr","http_user_agent":"$http_user_agent","http_referer":"$http_referer",
/// "http_authorization":"$http_authorization","http_x_api_key":"$http_x_api_key"}`.
pub fn encode(ev: &ApiEvent<'_>, fmt: OutputFormat, out: &mut String) {
    match fmt {
        OutputFormat::Combined => clf(ev, true, out),
        OutputFormat::Common => clf(ev, false, out),
        OutputFormat::NginxJson => nginx_json(ev, out),
        OutputFormat::Rampart => rampart(ev, out),
        OutputFormat::EnvoyJson => envoy(ev, out),
        OutputFormat::Traefik => traefik(ev, out),
        OutputFormat::Caddy => caddy(ev, out),
        OutputFormat::AwsAlb => alb(ev, out),
    }
}

/// The address that connected (peer if known, else client).
fn remote(ev: &ApiEvent<'_>) -> Option<IpAddr> {
    ev.peer_ip.or(ev.client_ip)
}

fn push_ip(out: &mut String, ip: Option<IpAddr>) {
    use std::fmt::Write;
    match ip {
        Some(ip) => {
            let _ = write!(out, "{ip}");
        }
        None => out.push('-'),
    }
}

/// `ip:port` (`[v6]:port`).
fn push_ip_port(out: &mut String, ip: Option<IpAddr>, port: u64) {
    match ip {
        Some(IpAddr::V6(_)) => {
            out.push('[');
            push_ip(out, ip);
            out.push(']');
        }
        _ => push_ip(out, ip),
    }
    out.push(':');
    push_u64(out, port);
}

/// A stable pseudo-random number from the event (ports, ids).
fn mix(ev: &ApiEvent<'_>, salt: u64) -> u64 {
    let mut x = (ev.ts.millis() as u64) ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for b in ev.path.bytes().take(32) {
        x = (x ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^ (x >> 29)
}

fn client_port(ev: &ApiEvent<'_>) -> u64 {
    32_768 + mix(ev, 1) % 28_000
}

/// Upstream address of the service (`10.0.2.N:8080`).
fn push_upstream(ev: &ApiEvent<'_>, out: &mut String) {
    match ev.service.as_deref() {
        Some(s) => {
            let n = s
                .bytes()
                .fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
            out.push_str("10.0.2.");
            push_u64(out, 10 + n % 200);
            out.push_str(":8080");
        }
        None => out.push('-'),
    }
}

fn header<'e>(ev: &'e ApiEvent<'_>, name: &str) -> &'e str {
    ev.request_header(name).unwrap_or("")
}

/// Basic-auth user name (what nginx logs as `$remote_user`).
fn remote_user<'e>(ev: &'e ApiEvent<'_>) -> Option<&'e str> {
    let auth = ev.request_header("authorization")?;
    auth.strip_prefix("Basic ")?;
    ev.principal.as_deref()
}

fn latency_millis(ev: &ApiEvent<'_>) -> u64 {
    ev.latency_us.unwrap_or(0) / 1000
}

fn clf(ev: &ApiEvent<'_>, combined: bool, out: &mut String) {
    push_ip(out, remote(ev));
    out.push_str(" - ");
    push_nginx_esc(out, remote_user(ev).unwrap_or(""));
    out.push_str(" [");
    push_clf_time(out, ev.ts.millis());
    out.push_str("] \"");
    push_nginx_esc(out, &ev.method);
    out.push(' ');
    push_nginx_esc(out, &ev.path);
    if !ev.query.is_empty() {
        out.push('?');
        push_nginx_esc(out, &ev.query);
    }
    if !ev.protocol.is_empty() {
        out.push(' ');
        push_nginx_esc(out, &ev.protocol);
    }
    out.push_str("\" ");
    push_u64(out, u64::from(ev.status));
    out.push(' ');
    push_u64(out, ev.response_bytes.unwrap_or(0));
    if combined {
        out.push_str(" \"");
        push_nginx_esc(out, &ev.referer);
        out.push_str("\" \"");
        push_nginx_esc(out, &ev.user_agent);
        out.push('"');
    }
}

fn json_key(out: &mut String, first: bool, key: &str) {
    if !first {
        out.push(',');
    }
    out.push('"');
    out.push_str(key);
    out.push_str("\":");
}

fn json_kv(out: &mut String, first: bool, key: &str, value: &str) {
    json_key(out, first, key);
    push_json_str(out, value);
}

fn json_num(out: &mut String, key: &str, value: u64) {
    json_key(out, false, key);
    push_u64(out, value);
}

fn nginx_json(ev: &ApiEvent<'_>, out: &mut String) {
    out.push_str("{\"time\":\"");
    push_iso(out, ev.ts.millis(), 0, "+00:00");
    out.push_str("\",\"remote_addr\":\"");
    push_ip(out, remote(ev));
    out.push_str("\",\"x_forwarded_for\":\"");
    if ev.peer_ip.is_some() {
        push_ip(out, ev.client_ip);
    }
    out.push('"');
    json_kv(out, false, "remote_user", remote_user(ev).unwrap_or(""));
    json_kv(out, false, "request_method", &ev.method);
    json_kv(out, false, "scheme", &ev.scheme);
    json_kv(out, false, "host", &ev.host);
    json_key(out, false, "request_uri");
    out.push('"');
    push_json_esc(out, &ev.path);
    if !ev.query.is_empty() {
        out.push('?');
        push_json_esc(out, &ev.query);
    }
    out.push('"');
    json_kv(out, false, "server_protocol", &ev.protocol);
    json_num(out, "status", u64::from(ev.status));
    json_num(out, "request_length", ev.request_bytes.unwrap_or(0));
    json_num(out, "body_bytes_sent", ev.response_bytes.unwrap_or(0));
    json_key(out, false, "request_time");
    push_milli(out, latency_millis(ev));
    json_key(out, false, "upstream_addr");
    out.push('"');
    push_upstream(ev, out);
    out.push('"');
    json_kv(out, false, "http_user_agent", &ev.user_agent);
    json_kv(out, false, "http_referer", &ev.referer);
    json_kv(
        out,
        false,
        "http_authorization",
        header(ev, "authorization"),
    );
    json_kv(out, false, "http_x_api_key", header(ev, "x-api-key"));
    out.push('}');
}

fn json_headers<'a>(
    out: &mut String,
    key: &str,
    extra: impl Iterator<Item = (&'a str, &'a str)>,
    headers: &'a [(std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>)],
) {
    json_key(out, true, key);
    out.push('{');
    let mut first = true;
    for (k, v) in extra.chain(headers.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))) {
        json_kv(out, first, k, v);
        first = false;
    }
    out.push('}');
}

fn rampart(ev: &ApiEvent<'_>, out: &mut String) {
    out.push_str("{\"ts\":\"");
    push_iso(out, ev.ts.millis(), 3, "Z");
    out.push('"');
    if let Some(ip) = ev.client_ip {
        json_key(out, false, "client_ip");
        out.push('"');
        push_ip(out, Some(ip));
        out.push('"');
    }
    if let Some(ip) = ev.peer_ip {
        json_key(out, false, "peer_ip");
        out.push('"');
        push_ip(out, Some(ip));
        out.push('"');
    }
    json_kv(out, false, "method", &ev.method);
    if !ev.scheme.is_empty() {
        json_kv(out, false, "scheme", &ev.scheme);
    }
    if !ev.host.is_empty() {
        json_kv(out, false, "host", &ev.host);
    }
    json_kv(out, false, "path", &ev.path);
    if !ev.query.is_empty() {
        json_kv(out, false, "query", &ev.query);
    }
    if !ev.protocol.is_empty() {
        json_kv(out, false, "protocol", &ev.protocol);
    }
    json_num(out, "status", u64::from(ev.status));
    if let Some(b) = ev.request_bytes {
        json_num(out, "request_bytes", b);
    }
    if let Some(b) = ev.response_bytes {
        json_num(out, "response_bytes", b);
    }
    if let Some(us) = ev.latency_us {
        json_key(out, false, "latency_ms");
        push_milli(out, us);
    }
    if let Some(s) = &ev.service {
        json_kv(out, false, "service", s);
    }
    if let Some(p) = &ev.principal {
        json_kv(out, false, "principal", p);
    }
    out.push_str(",\"request\":{");
    let ua = (!ev.user_agent.is_empty()).then_some(("user-agent", ev.user_agent.as_ref()));
    let referer = (!ev.referer.is_empty()).then_some(("referer", ev.referer.as_ref()));
    json_headers(
        out,
        "headers",
        ua.into_iter().chain(referer),
        &ev.request_headers,
    );
    if let Some(b) = &ev.request_body {
        json_kv(out, false, "body", b);
    }
    out.push_str("},\"response\":{");
    json_headers(out, "headers", std::iter::empty(), &ev.response_headers);
    if let Some(b) = &ev.response_body {
        json_kv(out, false, "body", b);
    }
    out.push_str("}}");
}

fn push_request_id(ev: &ApiEvent<'_>, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let (a, b) = (mix(ev, 2), mix(ev, 3));
    for (i, x) in [a, b].into_iter().enumerate() {
        for k in 0..16 {
            if (i == 0 && (k == 8 || k == 12)) || (i == 1 && (k == 0 || k == 4)) {
                out.push('-');
            }
            out.push(HEX[((x >> (k * 4)) & 15) as usize] as char);
        }
    }
}

fn envoy(ev: &ApiEvent<'_>, out: &mut String) {
    out.push_str("{\"start_time\":\"");
    push_iso(out, ev.ts.millis(), 3, "Z");
    out.push('"');
    json_kv(out, false, "method", &ev.method);
    json_key(out, false, "path");
    out.push('"');
    push_json_esc(out, &ev.path);
    if !ev.query.is_empty() {
        out.push('?');
        push_json_esc(out, &ev.query);
    }
    out.push('"');
    json_kv(out, false, "protocol", &ev.protocol);
    json_num(out, "response_code", u64::from(ev.status));
    json_kv(out, false, "response_flags", "-");
    json_num(out, "bytes_received", ev.request_bytes.unwrap_or(0));
    json_num(out, "bytes_sent", ev.response_bytes.unwrap_or(0));
    json_num(out, "duration", latency_millis(ev));
    json_key(out, false, "x_forwarded_for");
    out.push('"');
    if ev.peer_ip.is_some() {
        push_ip(out, ev.client_ip);
    }
    out.push('"');
    json_kv(out, false, "user_agent", &ev.user_agent);
    json_key(out, false, "request_id");
    out.push('"');
    push_request_id(ev, out);
    out.push('"');
    json_kv(out, false, "authority", &ev.host);
    json_key(out, false, "upstream_host");
    out.push('"');
    push_upstream(ev, out);
    out.push('"');
    json_key(out, false, "downstream_remote_address");
    out.push('"');
    push_ip_port(out, remote(ev), client_port(ev));
    out.push('"');
    json_kv(out, false, "authorization", header(ev, "authorization"));
    json_kv(out, false, "x_api_key", header(ev, "x-api-key"));
    out.push('}');
}

fn traefik(ev: &ApiEvent<'_>, out: &mut String) {
    out.push_str("{\"ClientAddr\":\"");
    push_ip_port(out, remote(ev), client_port(ev));
    out.push_str("\",\"ClientHost\":\"");
    push_ip(out, ev.client_ip.or(ev.peer_ip));
    out.push('"');
    json_kv(out, false, "ClientUsername", remote_user(ev).unwrap_or("-"));
    json_num(out, "DownstreamContentSize", ev.response_bytes.unwrap_or(0));
    json_num(out, "DownstreamStatus", u64::from(ev.status));
    json_num(out, "Duration", ev.latency_us.unwrap_or(0) * 1000);
    json_num(out, "OriginStatus", u64::from(ev.status));
    json_num(out, "RequestContentSize", ev.request_bytes.unwrap_or(0));
    json_kv(out, false, "RequestHost", &ev.host);
    json_kv(out, false, "RequestMethod", &ev.method);
    json_key(out, false, "RequestPath");
    out.push('"');
    push_json_esc(out, &ev.path);
    if !ev.query.is_empty() {
        out.push('?');
        push_json_esc(out, &ev.query);
    }
    out.push('"');
    json_kv(out, false, "RequestProtocol", &ev.protocol);
    json_kv(out, false, "RequestScheme", &ev.scheme);
    json_kv(
        out,
        false,
        "ServiceName",
        ev.service.as_deref().unwrap_or(""),
    );
    json_key(out, false, "StartUTC");
    out.push('"');
    push_iso(out, ev.ts.millis(), 9, "Z");
    out.push('"');
    json_kv(out, false, "request_User-Agent", &ev.user_agent);
    json_kv(out, false, "request_Referer", &ev.referer);
    json_kv(
        out,
        false,
        "request_Authorization",
        header(ev, "authorization"),
    );
    json_kv(out, false, "request_X-Api-Key", header(ev, "x-api-key"));
    json_kv(out, false, "level", "info");
    json_kv(out, false, "msg", "");
    json_key(out, false, "time");
    out.push('"');
    push_iso(out, ev.ts.millis(), 0, "Z");
    out.push_str("\"}");
}

fn caddy_header(out: &mut String, first: &mut bool, name: &str, value: &str) {
    if value.is_empty() {
        return;
    }
    json_key(out, *first, name);
    *first = false;
    out.push('[');
    push_json_str(out, value);
    out.push(']');
}

fn caddy(ev: &ApiEvent<'_>, out: &mut String) {
    out.push_str("{\"level\":\"info\",\"ts\":");
    let ms = ev.ts.millis();
    push_u64(out, ms.div_euclid(1000) as u64);
    out.push('.');
    crate::text::push3(out, ms.rem_euclid(1000) as u32);
    out.push_str(
        ",\"logger\":\"http.log.access\",\"msg\":\"handled request\",\"request\":{\"remote_ip\":\"",
    );
    push_ip(out, remote(ev));
    out.push_str("\",\"remote_port\":\"");
    push_u64(out, client_port(ev));
    out.push_str("\",\"client_ip\":\"");
    push_ip(out, ev.client_ip.or(ev.peer_ip));
    out.push('"');
    json_kv(out, false, "proto", &ev.protocol);
    json_kv(out, false, "method", &ev.method);
    json_kv(out, false, "host", &ev.host);
    json_key(out, false, "uri");
    out.push('"');
    push_json_esc(out, &ev.path);
    if !ev.query.is_empty() {
        out.push('?');
        push_json_esc(out, &ev.query);
    }
    out.push_str("\",\"headers\":{");
    let mut first = true;
    caddy_header(out, &mut first, "User-Agent", &ev.user_agent);
    caddy_header(out, &mut first, "Referer", &ev.referer);
    caddy_header(
        out,
        &mut first,
        "Authorization",
        header(ev, "authorization"),
    );
    caddy_header(out, &mut first, "X-Api-Key", header(ev, "x-api-key"));
    out.push_str("}}");
    json_num(out, "bytes_read", ev.request_bytes.unwrap_or(0));
    json_kv(out, false, "user_id", remote_user(ev).unwrap_or(""));
    json_key(out, false, "duration");
    let us = ev.latency_us.unwrap_or(0);
    push_u64(out, us / 1_000_000);
    out.push('.');
    let frac = us % 1_000_000;
    crate::text::push3(out, (frac / 1000) as u32);
    crate::text::push3(out, (frac % 1000) as u32);
    json_num(out, "size", ev.response_bytes.unwrap_or(0));
    json_num(out, "status", u64::from(ev.status));
    out.push_str(",\"resp_headers\":{");
    let mut first = true;
    for (k, v) in &ev.response_headers {
        caddy_header(out, &mut first, k, v);
    }
    out.push_str("}}");
}

/// ALB quotes fields in double quotes; a quote inside is written `\"`.
fn push_alb_quoted(out: &mut String, s: &str) {
    out.push('"');
    if s.is_empty() {
        out.push('-');
    } else {
        for ch in s.chars() {
            if ch == '"' || ch == '\\' {
                out.push('\\');
            }
            out.push(ch);
        }
    }
    out.push('"');
}

fn alb(ev: &ApiEvent<'_>, out: &mut String) {
    out.push_str(if ev.scheme == "http" {
        "http "
    } else {
        "https "
    });
    push_iso(out, ev.ts.millis(), 6, "Z");
    out.push_str(" app/rampart-demo/50dc6c495c0c9188 ");
    push_ip_port(out, remote(ev), client_port(ev));
    out.push(' ');
    push_upstream(ev, out);
    let us = ev.latency_us.unwrap_or(0);
    out.push_str(" 0.000 ");
    push_milli(out, us / 1000);
    out.push_str(" 0.000 ");
    push_u64(out, u64::from(ev.status));
    out.push(' ');
    push_u64(out, u64::from(ev.status));
    out.push(' ');
    push_u64(out, ev.request_bytes.unwrap_or(0));
    out.push(' ');
    push_u64(out, ev.response_bytes.unwrap_or(0));
    out.push_str(" \"");
    out.push_str(&ev.method);
    out.push(' ');
    out.push_str(if ev.scheme == "http" {
        "http://"
    } else {
        "https://"
    });
    out.push_str(if ev.host.is_empty() { "-" } else { &ev.host });
    out.push_str(if ev.scheme == "http" { ":80" } else { ":443" });
    out.push_str(&ev.path);
    if !ev.query.is_empty() {
        out.push('?');
        out.push_str(&ev.query);
    }
    out.push(' ');
    out.push_str(if ev.protocol.is_empty() {
        "-"
    } else {
        &ev.protocol
    });
    out.push_str("\" ");
    push_alb_quoted(out, &ev.user_agent);
    out.push_str(" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/");
    out.push_str(ev.service.as_deref().unwrap_or("default"));
    out.push_str("/73e2d6bc24d8a067 \"Root=1-");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let secs = ev.ts.secs() as u64;
    for k in (0..8).rev() {
        out.push(HEX[((secs >> (k * 4)) & 15) as usize] as char);
    }
    out.push('-');
    let r = mix(ev, 4);
    for k in 0..16 {
        out.push(HEX[((r >> (k * 4)) & 15) as usize] as char);
    }
    let r2 = mix(ev, 5);
    for k in 0..8 {
        out.push(HEX[((r2 >> (k * 4)) & 15) as usize] as char);
    }
    out.push_str("\" ");
    push_alb_quoted(out, &ev.host);
    out.push_str(" \"arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012\" 0 ");
    push_iso(out, ev.ts.millis(), 6, "Z");
    out.push_str(" \"forward\" \"-\" \"-\" \"");
    push_upstream(ev, out);
    out.push_str("\" \"");
    push_u64(out, u64::from(ev.status));
    out.push_str("\" \"-\" \"-\"");
}
