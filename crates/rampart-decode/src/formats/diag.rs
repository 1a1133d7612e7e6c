//! Diagnostic lines that name a client: nginx error log (incl. nginx mail), Apache error
//! log, LiteSpeed error log. They become events with a [`EventKind`] other than `Access`.

use std::borrow::Cow;

use rampart_model::{ApiEvent, EventKind, Timestamp};

use crate::util::{digits, iso_time, month, parse_ip, set_request_line};
use crate::{finish, malformed, DecodeConfig, DecodeError, Decoder, EnrichInput};

/// nginx `error.log` lines (`2021/09/30 09:23:53 [error] 1#1: *17 ..., client: 1.2.3.4, ...`).
pub struct NginxError;
/// Apache `error_log` lines (`[Thu Oct 13 12:24:49.880562 2022] [mod:level] ... [client ip:port] ...`).
pub struct ApacheError;
/// LiteSpeed `error.log` lines (`2022-06-08 22:49:20.774649 [NOTICE] [pid] [ip:port...] ...`).
pub struct LitespeedError;

/// Text between `key` and the next `"` after it, for `key` ending in `"`.
fn quoted_after<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let st = s.find(key)? + key.len();
    let e = s[st..].find('"')? + st;
    Some(&s[st..e])
}

impl Decoder for NginxError {
    fn name(&self) -> &'static str {
        "nginx_error"
    }
    fn sniff(&self, line: &str) -> bool {
        let b = line.as_bytes();
        b.len() > 22
            && b[4] == b'/'
            && b[7] == b'/'
            && b[10] == b' '
            && b[19] == b' '
            && b[20] == b'['
    }
    fn decode<'a>(&self, line: &'a str, cfg: &DecodeConfig) -> Result<ApiEvent<'a>, DecodeError> {
        const N: &str = "nginx_error";
        // `decode` may be called without `sniff` (a named format): slice with `get`.
        let ts = line
            .get(..19)
            .and_then(iso_time)
            .ok_or(malformed(N, "invalid time"))?;
        let rest = line.get(20..).ok_or(malformed(N, "no level"))?;
        let lvl_end = rest.find("] ").ok_or(malformed(N, "no level"))?;
        let rest = &rest[lvl_end + 2..];
        // "pid#tid: *conn message"
        let rest = rest.split_once(": ").map_or(rest, |(_, r)| r);
        let rest = match rest.strip_prefix('*') {
            Some(r) => r.split_once(' ').map_or(r, |(_, m)| m),
            None => rest,
        };
        let (msg, ctx) = match rest.find(", client: ") {
            Some(p) => (&rest[..p], &rest[p + 2..]),
            None => (rest, ""),
        };
        let mut ev = ApiEvent {
            ts,
            kind: EventKind::Error,
            message: Some(Cow::Borrowed(msg)),
            ..ApiEvent::default()
        };
        ev.client_ip = match ctx.strip_prefix("client: ") {
            Some(c) => {
                let end = c.find([',', ' ']).unwrap_or(c.len());
                parse_ip(&c[..end])
            }
            // mail proxy: "client 172.77.77.254:53044 connected to 0.0.0.0:25"
            None => msg
                .strip_prefix("client ")
                .and_then(|c| c.split(' ').next())
                .and_then(parse_ip),
        };
        if ev.client_ip.is_none() {
            return Err(malformed(N, "no client address"));
        }
        if let Some(req) = quoted_after(ctx, "request: \"") {
            set_request_line(&mut ev, req);
        }
        if let Some(h) = quoted_after(ctx, "host: \"") {
            ev.host = Cow::Borrowed(h);
        }
        if let Some(r) = quoted_after(ctx, "referrer: \"") {
            ev.referer = Cow::Borrowed(r);
        }
        if let Some(user) = quoted_after(msg, "user \"") {
            if msg.contains("was not found") || msg.contains("password mismatch") {
                ev.kind = EventKind::AuthFailure;
                ev.principal = Some(Cow::Borrowed(user));
            }
        } else if msg.starts_with("client login failed") {
            ev.kind = EventKind::AuthFailure;
            ev.principal = quoted_after(ctx, "login: \"").map(Cow::Borrowed);
        } else if msg.starts_with("limiting requests")
            || msg.starts_with("limiting connections")
            || msg.contains("ModSecurity")
            || msg.contains("Coraza")
        {
            ev.kind = EventKind::Waf;
        }
        Ok(finish(ev, N, line, EnrichInput::default(), cfg))
    }
}

/// `Thu Oct 13 12:24:49.880562 2022` to a timestamp (local time of the server, read as UTC).
fn apache_time(s: &str) -> Option<Timestamp> {
    let mut it = s.split_ascii_whitespace();
    let _wd = it.next()?;
    let mo = month(it.next()?.as_bytes())?;
    let d = digits(it.next()?.as_bytes())?;
    let t = it.next()?;
    let y = it.next()?;
    let iso = format!("{y}-{mo:02}-{d:02} {t}");
    iso_time(&iso)
}

impl Decoder for ApacheError {
    fn name(&self) -> &'static str {
        "apache_error"
    }
    fn sniff(&self, line: &str) -> bool {
        let b = line.as_bytes();
        b.len() > 30
            && b[0] == b'['
            && b[4] == b' '
            && month(&b[5..8]).is_some()
            && line.contains("[client ")
    }
    fn decode<'a>(&self, line: &'a str, cfg: &DecodeConfig) -> Result<ApiEvent<'a>, DecodeError> {
        const N: &str = "apache_error";
        let body = line
            .strip_prefix('[')
            .ok_or(malformed(N, "no [time] field"))?;
        let rb = body.find(']').ok_or(malformed(N, "no [time] field"))?;
        let ts = apache_time(&body[..rb]).ok_or(malformed(N, "invalid time"))?;
        let cs = line.find("[client ").ok_or(malformed(N, "no client"))? + 8;
        let ce = line[cs..]
            .find(']')
            .ok_or(malformed(N, "unterminated client"))?
            + cs;
        let msg = line[ce + 1..].trim();
        let mut ev = ApiEvent {
            ts,
            client_ip: Some(parse_ip(&line[cs..ce]).ok_or(malformed(N, "invalid client address"))?),
            kind: EventKind::Error,
            message: Some(Cow::Borrowed(msg)),
            ..ApiEvent::default()
        };
        if let Some(p) = msg.find("in request ") {
            set_request_line(&mut ev, msg[p + 11..].trim_end());
        }
        if msg.contains("ModSecurity") {
            ev.kind = EventKind::Waf;
        } else if let Some(p) = msg.find(" user ") {
            // AH01618: user sss not found: /   |   AH01617: user x: authentication failure for "/": Password Mismatch
            let u = &msg[p + 6..];
            let end = u.find([' ', ':']).unwrap_or(u.len());
            if msg.contains("not found")
                || msg.contains("authentication failure")
                || msg.contains("Mismatch")
            {
                ev.kind = EventKind::AuthFailure;
                ev.principal = Some(Cow::Borrowed(&u[..end]));
                if let Some(path) = msg
                    .rsplit_once(": ")
                    .map(|(_, p)| p)
                    .filter(|p| p.starts_with('/'))
                {
                    ev.path = Cow::Borrowed(path);
                }
            }
        }
        Ok(finish(ev, N, line, EnrichInput::default(), cfg))
    }
}

impl Decoder for LitespeedError {
    fn name(&self) -> &'static str {
        "litespeed_error"
    }
    fn sniff(&self, line: &str) -> bool {
        let b = line.as_bytes();
        b.len() > 30 && b[4] == b'-' && b[10] == b' ' && line.contains("] [")
    }
    fn decode<'a>(&self, line: &'a str, cfg: &DecodeConfig) -> Result<ApiEvent<'a>, DecodeError> {
        const N: &str = "litespeed_error";
        let sp = line.find(" [").ok_or(malformed(N, "no level"))?;
        let ts = iso_time(&line[..sp]).ok_or(malformed(N, "invalid time"))?;
        // skip "[LEVEL] [pid] " then "[ip:port...]"
        let mut rest = &line[sp + 1..];
        let mut conn = None;
        for _ in 0..3 {
            let Some(r) = rest.strip_prefix('[') else {
                break;
            };
            let Some(e) = r.find(']') else { break };
            let inner = &r[..e];
            if conn.is_none() {
                let ip = inner.split(['-', '#']).next().unwrap_or("");
                // "1.2.3.4:45164:HTTP2-41" or "192.168.9.163:61120"
                let ip = ip.rsplitn(3, ':').last().unwrap_or(ip);
                conn =
                    parse_ip(ip).or_else(|| parse_ip(inner.split([':', '#']).next().unwrap_or("")));
            }
            rest = r[e + 1..].trim_start();
        }
        let msg = rest.trim_end();
        let mut ev = ApiEvent {
            ts,
            client_ip: conn,
            kind: EventKind::Error,
            message: Some(Cow::Borrowed(msg)),
            ..ApiEvent::default()
        };
        if let Some(p) = msg.find("Failed Login Attempt - username:") {
            let u = &msg[p + 32..];
            ev.kind = EventKind::AuthFailure;
            ev.principal = u
                .split(' ')
                .next()
                .filter(|s| !s.is_empty())
                .map(Cow::Borrowed);
            // The connection address (bracket) is the client, as CrowdSec reads it; the
            // console's own `ip:` field is only a fallback.
            if ev.client_ip.is_none() {
                ev.client_ip = u
                    .find("ip:")
                    .and_then(|i| u[i + 3..].split(' ').next())
                    .and_then(parse_ip);
            }
        } else if let Some(u) = quoted_after(msg, "User '").or_else(|| {
            let s = msg.find("User '")? + 6;
            let e = msg[s..].find('\'')? + s;
            Some(&msg[s..e])
        }) {
            if msg.contains("failed to authenticate") {
                ev.kind = EventKind::AuthFailure;
                ev.principal = Some(Cow::Borrowed(u));
            }
        }
        if ev.client_ip.is_none() {
            return Err(malformed(N, "no client address"));
        }
        Ok(finish(ev, N, line, EnrichInput::default(), cfg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoder_by_name;

    fn check(format: &str, line: &str, expected: &str) {
        let d = decoder_by_name(format).unwrap_or_else(|| panic!("no decoder {format}"));
        assert!(d.sniff(line), "{format} does not sniff {line}");
        let got = match d.decode(line, &DecodeConfig::default()) {
            Ok(ev) => crate::formats::render(&ev),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expected, "\nline: {line}");
    }

    #[test]
    fn nginx_error_cases() {
        check(
            "nginx_error",
            r#"2021/09/30 09:23:53 [error] 1925800#1925800: *17 user "foo" was not found in "/tmp/a.htpasswd", client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", host: "localhost""#,
            r#"2021-09-30T09:23:53.000Z 127.0.0.1 GET host=localhost / HTTP/1.1 0 principal=foo auth kind=AuthFailure msg="user \"foo\" was not found in \"/tmp/a.htpasswd\"""#,
        );
        check(
            "nginx_error",
            r#"2021/12/02 11:53:15 [error] 4065777#4065777: *42952950 limiting requests, excess: 5.428 by zone "default_root_zone", client: ::1, server: , request: "GET / HTTP/1.1", host: "la03.d.sb""#,
            r#"2021-12-02T11:53:15.000Z ::1 GET host=la03.d.sb / HTTP/1.1 0 kind=Waf msg="limiting requests, excess: 5.428 by zone \"default_root_zone\"""#,
        );
        check(
            "nginx_error",
            r#"2022/04/02 15:45:25 [info] 8#8: *15950 client login failed: "AUTH not supported" while in http auth state, client: 5.34.207.182, server: 0.0.0.0:25, login: "servers@example.com""#,
            r#"2022-04-02T15:45:25.000Z 5.34.207.182   0 principal=servers@example.com auth kind=AuthFailure msg="client login failed: \"AUTH not supported\" while in http auth state""#,
        );
        check(
            "nginx_error",
            r#"2023/04/05 21:00:42 [info] 126#126: *175063 client login failed: "x" while in http auth state, client: 201.170.64.255 using starttls, server: 0.0.0.0:587, login: "postmaster""#,
            r#"2023-04-05T21:00:42.000Z 201.170.64.255   0 principal=postmaster auth kind=AuthFailure msg="client login failed: \"x\" while in http auth state""#,
        );
        check("nginx_error", "2022/04/02 15:45:23 [info] 8#8: *15950 client 172.77.77.254:53044 connected to 0.0.0.0:25",
            r#"2022-04-02T15:45:23.000Z 172.77.77.254   0 kind=Error msg="client 172.77.77.254:53044 connected to 0.0.0.0:25""#);
        check(
            "nginx_error",
            "2022/04/02 15:45:23 [notice] 1#1: signal process started",
            "error: malformed nginx_error line: no client address",
        );
    }

    #[test]
    fn apache_error_cases() {
        check("apache_error", "[Fri Oct 08 17:08:41.203277 2021] [core:error] [pid 7005:tid 140667133085440] [client 88.168.206.87:14532] AH00126: Invalid URI in request GET /cgi-bin/.%2E/%2E%2E/etc/passwd HTTP/1.1",
            r#"2021-10-08T17:08:41.203Z 88.168.206.87 GET /cgi-bin/.%2E/%2E%2E/etc/passwd HTTP/1.1 0 kind=Error msg="AH00126: Invalid URI in request GET /cgi-bin/.%2E/%2E%2E/etc/passwd HTTP/1.1""#);
        check("apache_error", "[Thu Oct 13 12:24:49.880562 2022] [auth_basic:error] [pid 10:tid 140120579262208] [client 31.33.58.75:50229] AH01618: user sss not found: /",
            r#"2022-10-13T12:24:49.880Z 31.33.58.75  / 0 principal=sss auth kind=AuthFailure msg="AH01618: user sss not found: /""#);
    }

    #[test]
    fn litespeed_cases() {
        check("litespeed_error", "2022-06-08 22:49:20.774649 [NOTICE] [1226033] [1.2.3.4:45164:HTTP2-41#_AdminVHost] [STDERR] [WebAdmin Console] Failed Login Attempt - username:asdasd ip:127.0.0.1 url:",
            r#"2022-06-08T22:49:20.774Z 1.2.3.4   0 principal=asdasd auth kind=AuthFailure msg="[STDERR] [WebAdmin Console] Failed Login Attempt - username:asdasd ip:127.0.0.1 url:""#);
        check("litespeed_error", "2022-06-09 12:22:07.353044 [INFO] [1226038] [192.168.9.163:61120-5#Example] User 'asdasd' failed to authenticate.",
            r#"2022-06-09T12:22:07.353Z 192.168.9.163   0 principal=asdasd auth kind=AuthFailure msg="User 'asdasd' failed to authenticate.""#);
    }
}
