//! Common Log Format family: nginx/Apache `combined` and `common` (optional virtual host,
//! bunkerweb request id, syslog prefix, traefik CLF trailer, extra `"x-forwarded-for"`), and
//! the two nginx-proxy-manager layouts.

use std::borrow::Cow;

use rampart_model::ApiEvent;

use crate::util::{
    clf_time, closing_quote, dash, digits, parse_ip, parse_ip_exact, set_request_line, set_target,
    strip_syslog,
};
use crate::{finish, finish_in_place, malformed, DecodeConfig, DecodeError, Decoder, EnrichInput};

/// nginx/Apache combined log format (also accepts everything [`Common`] does).
pub struct Combined;
/// Common Log Format (no referer / user agent).
pub struct Common;
/// nginx-proxy-manager's `proxy` log format (`[time] - 200 200 - GET https host "/x" [Client ip] ...`).
pub struct NpmProxy;
/// The nginx-proxy-manager catch-all variant (`[time] host ip 0.002 "GET / HTTP/1.1" 200 ...`).
pub struct NpmCatch;

fn sniff_clf(line: &str) -> bool {
    let b = line.as_bytes();
    !b.is_empty()
        && b[0] != b'['
        && b[0] != b'{'
        && b[0] != b'<'
        && crate::util::find(b, b" [").is_some()
        && memchr::memchr(b'"', b).is_some()
}

impl Decoder for Combined {
    fn name(&self) -> &'static str {
        "combined"
    }
    fn sniff(&self, line: &str) -> bool {
        sniff_clf(line)
    }
    fn decode<'a>(&self, line: &'a str, cfg: &DecodeConfig) -> Result<ApiEvent<'a>, DecodeError> {
        decode_clf("combined", line, cfg)
    }
}

impl Decoder for Common {
    fn name(&self) -> &'static str {
        "common"
    }
    fn sniff(&self, line: &str) -> bool {
        sniff_clf(line)
    }
    fn decode<'a>(&self, line: &'a str, cfg: &DecodeConfig) -> Result<ApiEvent<'a>, DecodeError> {
        decode_clf("common", line, cfg)
    }
}

/// One field after the request: quoted or bare, with which it was.
fn field(s: &str) -> Option<(&str, bool, &str)> {
    let s = s.trim_start_matches(' ');
    if s.is_empty() {
        return None;
    }
    if s.as_bytes()[0] == b'"' {
        let end = closing_quote(s.as_bytes(), 1)?;
        Some((&s[1..end], true, &s[end + 1..]))
    } else {
        let end = memchr::memchr(b' ', s.as_bytes()).unwrap_or(s.len());
        Some((&s[..end], false, &s[end..]))
    }
}

fn status_of(s: &str) -> Option<u16> {
    if s == "-" {
        return Some(0);
    }
    digits(s.as_bytes()).and_then(|n| u16::try_from(n).ok())
}

fn size_of(s: &str) -> Option<u64> {
    digits(s.as_bytes())
}

fn decode_clf<'a>(
    name: &'static str,
    line: &'a str,
    cfg: &DecodeConfig,
) -> Result<ApiEvent<'a>, DecodeError> {
    let body = strip_syslog(line);
    let b = body.as_bytes();
    let lb = crate::util::find(b, b" [").ok_or(malformed(name, "no [time] field"))? + 1;
    let rb =
        memchr::memchr(b']', &b[lb..]).ok_or(malformed(name, "unterminated [time] field"))? + lb;
    let ts = clf_time(&body[lb + 1..rb]).ok_or(malformed(name, "invalid time"))?;

    let mut toks: [&'a str; 6] = [""; 6];
    let mut n = 0;
    for t in body[..lb].split_ascii_whitespace() {
        if n == toks.len() {
            return Err(malformed(name, "too many fields before time"));
        }
        toks[n] = t;
        n += 1;
    }
    let mut ev = ApiEvent {
        ts,
        ..ApiEvent::default()
    };
    let ci = if n >= 1 && let_ip(&mut ev, toks[0]) {
        0
    } else if n >= 2 && let_ip(&mut ev, toks[1]) {
        ev.host = Cow::Borrowed(toks[0]);
        1
    } else {
        return Err(malformed(name, "no client address"));
    };
    let remote_user = (n > ci + 2)
        .then(|| dash(toks[n - 1]))
        .filter(|u| !u.is_empty());

    let rest = &body[rb + 1..];
    let rest = rest
        .strip_prefix(" \"")
        .ok_or(malformed(name, "no quoted request"))?;
    let q = closing_quote(rest.as_bytes(), 0).ok_or(malformed(name, "unterminated request"))?;
    set_request_line(&mut ev, &rest[..q]);
    let mut rest = &rest[q + 1..];

    let (st, _, r) = field(rest).ok_or(malformed(name, "no status"))?;
    ev.status = status_of(st).ok_or(malformed(name, "invalid status"))?;
    rest = r;
    if let Some((sz, _, r)) = field(rest) {
        ev.response_bytes = size_of(sz);
        rest = r;
    }
    let mut combined = false;
    if let Some((referer, true, r)) = field(rest) {
        ev.referer = Cow::Borrowed(dash(referer));
        rest = r;
        if let Some((ua, true, r)) = field(rest) {
            ev.user_agent = Cow::Borrowed(dash(ua));
            rest = r;
            combined = true;
        }
    }
    if name == "combined" && !combined {
        return Err(malformed(name, "no referer and user agent"));
    }
    // a combined line is not common: keeps source_format honest when AutoDecoder's fast
    // path last used `common`
    if name == "common" && combined {
        return Err(malformed(name, "has referer and user agent (combined)"));
    }
    if combined {
        trailer(&mut ev, rest);
    }
    finish_in_place(&mut ev, name, line, EnrichInput { remote_user }, cfg);
    Ok(ev)
}

fn let_ip(ev: &mut ApiEvent<'_>, tok: &str) -> bool {
    match parse_ip_exact(tok) {
        Some(ip) => {
            ev.client_ip = Some(ip);
            true
        }
        None => false,
    }
}

/// Fields after the user agent: traefik's `count "router" "backend" 12ms`, or nginx's
/// `"$http_x_forwarded_for"`. Anything else is ignored.
fn trailer<'a>(ev: &mut ApiEvent<'a>, rest: &'a str) {
    let mut fs: [(&'a str, bool); 4] = [("", false); 4];
    let mut n = 0;
    let mut r = rest;
    while n < 4 {
        match field(r) {
            Some((f, q, next)) => {
                fs[n] = (f, q);
                n += 1;
                r = next;
            }
            None => break,
        }
    }
    if n == 0 {
        return;
    }
    if n == 4 && !fs[0].1 && fs[1].1 && fs[2].1 && fs[3].0.ends_with("ms") {
        let svc = dash(fs[1].0);
        if !svc.is_empty() {
            ev.service = Some(Cow::Borrowed(svc));
        }
        if let Some(ms) = digits(fs[3].0.trim_end_matches("ms").as_bytes()) {
            ev.latency_us = ms.checked_mul(1000);
        }
        return;
    }
    if fs[0].1 {
        let xff = dash(fs[0].0);
        if !xff.is_empty() && xff.split(',').all(|h| parse_ip(h).is_some()) {
            ev.request_headers
                .push((Cow::Borrowed("x-forwarded-for"), Cow::Borrowed(xff)));
        }
    }
}

impl Decoder for NpmProxy {
    fn name(&self) -> &'static str {
        "npm_proxy"
    }
    fn sniff(&self, line: &str) -> bool {
        line.starts_with('[') && crate::util::find(line.as_bytes(), b"[Client ").is_some()
    }
    fn decode<'a>(&self, line: &'a str, cfg: &DecodeConfig) -> Result<ApiEvent<'a>, DecodeError> {
        const N: &str = "npm_proxy";
        // `decode` may be called without `sniff` (a named format): check the `[` here.
        let body = line
            .strip_prefix('[')
            .ok_or(malformed(N, "no [time] field"))?;
        let rb = body.find(']').ok_or(malformed(N, "no [time] field"))?;
        let ts = clf_time(&body[..rb]).ok_or(malformed(N, "invalid time"))?;
        let rest = &body[rb + 1..];
        let qs = rest.find(" \"").ok_or(malformed(N, "no quoted uri"))?;
        let mut toks: [&'a str; 8] = [""; 8];
        let mut n = 0;
        for t in rest[..qs].split_ascii_whitespace() {
            if n == toks.len() {
                return Err(malformed(N, "too many fields"));
            }
            toks[n] = t;
            n += 1;
        }
        if n < 5 || toks[n - 4] != "-" {
            return Err(malformed(N, "unexpected field layout"));
        }
        let mut ev = ApiEvent {
            ts,
            ..ApiEvent::default()
        };
        ev.status = status_of(toks[n - 5]).ok_or(malformed(N, "invalid status"))?;
        ev.method = Cow::Borrowed(toks[n - 3]);
        ev.scheme = Cow::Borrowed(toks[n - 2]);
        ev.host = Cow::Borrowed(toks[n - 1]);
        let r = &rest[qs + 2..];
        let q = closing_quote(r.as_bytes(), 0).ok_or(malformed(N, "unterminated uri"))?;
        set_target(&mut ev, &r[..q]);
        let mut r = &r[q + 1..];
        loop {
            let t = r.trim_start_matches(' ');
            let Some(inner) = t.strip_prefix('[') else {
                r = t;
                break;
            };
            let e = inner
                .find(']')
                .ok_or(malformed(N, "unterminated bracket field"))?;
            let (k, v) = inner[..e].split_once(' ').unwrap_or((&inner[..e], ""));
            match k {
                "Client" => ev.client_ip = parse_ip(v),
                "Length" => ev.response_bytes = size_of(v),
                "Sent-to" if !dash(v).is_empty() => ev.service = Some(Cow::Borrowed(v)),
                _ => {}
            }
            r = &inner[e + 1..];
        }
        if ev.client_ip.is_none() {
            return Err(malformed(N, "no client address"));
        }
        if let Some((ua, true, r2)) = field(r) {
            ev.user_agent = Cow::Borrowed(dash(ua));
            if let Some((referer, true, _)) = field(r2) {
                ev.referer = Cow::Borrowed(dash(referer));
            }
        }
        Ok(finish(ev, N, line, EnrichInput::default(), cfg))
    }
}

impl Decoder for NpmCatch {
    fn name(&self) -> &'static str {
        "npm_catch"
    }
    fn sniff(&self, line: &str) -> bool {
        line.starts_with('[') && line.contains("] ") && line.contains(" \"")
    }
    fn decode<'a>(&self, line: &'a str, cfg: &DecodeConfig) -> Result<ApiEvent<'a>, DecodeError> {
        const N: &str = "npm_catch";
        // `decode` may be called without `sniff` (a named format): check the `[` here.
        let body = line
            .strip_prefix('[')
            .ok_or(malformed(N, "no [time] field"))?;
        let rb = body.find(']').ok_or(malformed(N, "no [time] field"))?;
        let ts = clf_time(&body[..rb]).ok_or(malformed(N, "invalid time"))?;
        let rest = &body[rb + 1..];
        let qs = rest.find(" \"").ok_or(malformed(N, "no quoted request"))?;
        let mut it = rest[..qs].split_ascii_whitespace();
        let (Some(host), Some(ip), Some(rt), None) = (it.next(), it.next(), it.next(), it.next())
        else {
            return Err(malformed(N, "unexpected field layout"));
        };
        let mut ev = ApiEvent {
            ts,
            ..ApiEvent::default()
        };
        ev.client_ip = Some(
            ip.parse()
                .map_err(|_| malformed(N, "invalid client address"))?,
        );
        if host != "_" {
            ev.host = Cow::Borrowed(host);
        }
        ev.latency_us = crate::util::secs_to_us(rt);
        let r = &rest[qs + 2..];
        let q = closing_quote(r.as_bytes(), 0).ok_or(malformed(N, "unterminated request"))?;
        set_request_line(&mut ev, &r[..q]);
        let mut it = r[q + 1..].trim_start().splitn(5, ' ');
        ev.status = it
            .next()
            .and_then(status_of)
            .ok_or(malformed(N, "invalid status"))?;
        ev.response_bytes = it.next().and_then(size_of);
        ev.request_bytes = it.next().and_then(size_of);
        ev.referer = Cow::Borrowed(dash(it.next().unwrap_or("")));
        ev.user_agent = Cow::Borrowed(dash(it.next().unwrap_or("").trim()));
        Ok(finish(ev, N, line, EnrichInput::default(), cfg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoder_by_name;

    /// Decode with the named decoder and render the fields detectors read.
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
    fn combined_cases() {
        check("combined", r#"192.168.1.1 - - [04/Jan/2020:08:41:43 +0000] "GET /index.php/nous-contacter/?a=1 HTTP/1.1" 500 550 "-" "Googlebot/2.1""#,
            "2020-01-04T08:41:43.000Z 192.168.1.1 GET /index.php/nous-contacter/ ?a=1 HTTP/1.1 500 ua=Googlebot/2.1 bytes=550");
        check("combined", r#"www.crowdsec.net 1.2.3.4 - - [08/Jun/2020:08:04:43 +0000] "GET /solr HTTP/1.1" 500 803 "-" "ua""#,
            "2020-06-08T08:04:43.000Z 1.2.3.4 GET host=www.crowdsec.net /solr HTTP/1.1 500 ua=ua bytes=803");
        check("combined", r#"192.168.1.1 - user123 [08/Jun/2020:08:04:43 +0000] "GET /api/login HTTP/1.1" 200 150 "-" "curl/7.68.0""#,
            "2020-06-08T08:04:43.000Z 192.168.1.1 GET /api/login HTTP/1.1 200 ua=curl/7.68.0 bytes=150 principal=user123 auth");
        check("combined", r#"192.168.1.1 - [08/Jun/2020:08:04:43 +0000] "GET /api/test HTTP/1.1" 200 100 "-" "curl/7.68.0""#,
            "2020-06-08T08:04:43.000Z 192.168.1.1 GET /api/test HTTP/1.1 200 ua=curl/7.68.0 bytes=100");
        // bunkerweb: host, client, request id, user
        check(
            "combined",
            r#"example.com 192.168.1.10 - req005 - [29/Jul/2023:10:26:06 -0700] "HELP" 400 157 "-" "-""#,
            "2023-07-29T17:26:06.000Z 192.168.1.10  host=example.com HELP 400 bytes=157",
        );
        check(
            "combined",
            r#"example.com 192.168.1.10 - req008 - [29/Jul/2023:10:26:07 -0700] "\x16\x03\x01\x00t\x01" 400 157 "-" "-""#,
            r#"2023-07-29T17:26:07.000Z 192.168.1.10  host=example.com \x16\x03\x01\x00t\x01 400 bytes=157"#,
        );
        check(
            "combined",
            r#"::1 - - [02/Apr/2022:17:11:53 +0200] "CONNECT foo.com:25 HTTP/1.1" 405 0 "-" "-""#,
            "2022-04-02T15:11:53.000Z ::1 CONNECT foo.com:25 HTTP/1.1 405 bytes=0",
        );
        check(
            "combined",
            r#"1.2.3.4 - - [02/Apr/2022:17:11:53 +0000] "GET http://evil.com/x?y=1 HTTP/1.0" 200 10 "-" "-""#,
            "2022-04-02T17:11:53.000Z 1.2.3.4 GET http://evil.com /x ?y=1 HTTP/1.0 200 bytes=10",
        );
        // traefik CLF trailer
        check("combined", r#"172.17.0.1 - - [08/Dec/2021:09:16:05 +0000] "GET /upload.asp?test=toto HTTP/1.1" 200 405 "-" "-" 502 "test@docker" "http://172.17.0.3:80" 7ms"#,
            "2021-12-08T09:16:05.000Z 172.17.0.1 GET /upload.asp ?test=toto HTTP/1.1 200 bytes=405 latency_us=7000 service=test@docker");
        check(
            "combined",
            r#"172.17.1.1 - - [28/Sep/2022:13:38:04 +0000] "GET /m HTTP/1.1" - - "-" "Nikto" 45640 "-" "-" 0ms"#,
            "2022-09-28T13:38:04.000Z 172.17.1.1 GET /m HTTP/1.1 0 ua=Nikto latency_us=0",
        );
        // syslog prefix
        check("combined", r#"Jul  8 11:07:07 ip-172-31-43-28 nginx[2869]: 167.71.13.196 - - [08/Jul/2021:11:07:07 +0000] "GET /wp-config.php HTTP/1.1" 200 5 "-" "Go-http-client/1.1""#,
            "2021-07-08T11:07:07.000Z 167.71.13.196 GET /wp-config.php HTTP/1.1 200 ua=Go-http-client/1.1 bytes=5");
        check(
            "combined",
            r#"116.203.1.1 - - [05/Mar/2021:09:01:38 +0100] "GET /x HTTP/1.0" 200 1513"#,
            "error: malformed combined line: no referer and user agent",
        );
        check(
            "combined",
            r#"nohost - - [05/Mar/2021:09:01:38 +0100] "GET /x HTTP/1.0" 200 1 "-" "-""#,
            "error: malformed combined line: no client address",
        );
    }

    #[test]
    fn common_cases() {
        check("common", r#"116.203.1.1 - - [05/Mar/2021:09:01:38 +0100] "GET /test/lists/sip_30d.txt HTTP/1.0" 200 1513"#,
            "2021-03-05T08:01:38.000Z 116.203.1.1 GET /test/lists/sip_30d.txt HTTP/1.0 200 bytes=1513");
    }

    #[test]
    fn npm_cases() {
        check("npm_proxy", r#"[24/Jan/2022:16:51:02 +0000] - 404 404 - GET http openresty.local "/sdfdsf?a" [Client 1.2.3.4] [Length 192] [Gzip 3.10] [Sent-to openresty] "Mozilla/5.0" "-""#,
            "2022-01-24T16:51:02.000Z 1.2.3.4 GET http://openresty.local /sdfdsf ?a 404 ua=Mozilla/5.0 bytes=192 service=openresty");
        check(
            "npm_proxy",
            r#"[24/Jan/2022:13:40:19 +0000] 444 - GET https 4.3.2.1 "/.env" [Client 207.32.219.89] [Length 0] [Gzip -] "UA" "-""#,
            "2022-01-24T13:40:19.000Z 207.32.219.89 GET https://4.3.2.1 /.env 444 ua=UA bytes=0",
        );
        check("npm_catch", r#"[10/Feb/2024:21:23:40 +0100] wings.example.com 192.168.1.101 0.002 "GET / HTTP/1.1" 401 77 935 - Uptime-Kuma/1.23.11"#,
            "2024-02-10T20:23:40.000Z 192.168.1.101 GET host=wings.example.com / HTTP/1.1 401 ua=Uptime-Kuma/1.23.11 bytes=77 req_bytes=935 latency_us=2000");
    }
}
