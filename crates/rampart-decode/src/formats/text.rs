//! Other text formats: HAProxy, AWS ALB, CloudFront, Zoraxy, IIS (W3C and the XML Windows
//! event), Envoy's default access log.

use std::borrow::Cow;

use rampart_model::{ApiEvent, EventKind};

use crate::util::{
    clf_time, closing_quote, dash, digits, iso_time, next_field, parse_ip, secs_to_us,
    set_request_line, set_target, strip_syslog,
};
use crate::{finish, malformed, DecodeConfig, DecodeError, Decoder, EnrichInput};

/// HAProxy HTTP log format (`option httplog`), with or without a syslog prefix; also its
/// `SSL handshake failure` lines (as [`EventKind::Error`]).
pub struct HaproxyHttp;
/// AWS Application Load Balancer access log.
pub struct AwsAlb;
/// AWS CloudFront standard (tab-separated) access log.
pub struct CloudFront;
/// Zoraxy reverse proxy log.
pub struct Zoraxy;
/// IIS log as a Windows event (`Microsoft-Windows-IIS-Logging`, XML rendering).
pub struct IisXml;
/// IIS W3C extended log with IIS's default `#Fields:` set
/// (`date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip
/// cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken`).
pub struct IisW3c;
/// Envoy's default text access-log format.
pub struct Envoy;

fn u16_of(s: &str) -> Option<u16> {
    digits(s.as_bytes()).and_then(|n| u16::try_from(n).ok())
}

impl Decoder for HaproxyHttp {
    fn name(&self) -> &'static str {
        "haproxy"
    }
    fn sniff(&self, line: &str) -> bool {
        let l = strip_syslog(line);
        let Some(sp) = l.find(" [") else { return false };
        parse_ip(&l[..sp]).is_some()
            && l[sp..].len() > 25
            && l.as_bytes().get(sp + 4) == Some(&b'/')
    }
    fn decode<'a>(&self, line: &'a str, cfg: &DecodeConfig) -> Result<ApiEvent<'a>, DecodeError> {
        const N: &str = "haproxy";
        let l = strip_syslog(line);
        let sp = l.find(" [").ok_or(malformed(N, "no [time] field"))?;
        let mut ev = ApiEvent {
            client_ip: parse_ip(&l[..sp]),
            ..ApiEvent::default()
        };
        let rb = l[sp..].find(']').ok_or(malformed(N, "unterminated time"))? + sp;
        ev.ts = clf_time(&l[sp + 2..rb]).ok_or(malformed(N, "invalid time"))?;
        let rest = l[rb + 1..].trim_start();
        let mut it = rest.splitn(2, ' ');
        let front = it.next().unwrap_or("");
        let rest = it.next().unwrap_or("");
        if let Some(fb) = front.strip_suffix(':') {
            // "frontend/backend: SSL handshake failure ..."
            ev.kind = EventKind::Error;
            ev.message = Some(Cow::Borrowed(rest));
            if let Some((_, b)) = fb.split_once('/') {
                ev.service = Some(Cow::Borrowed(b));
            }
            return Ok(finish(ev, N, line, EnrichInput::default(), cfg));
        }
        let mut f = rest.split(' ');
        let backend = f.next().ok_or(malformed(N, "no backend"))?;
        let timers = f.next().ok_or(malformed(N, "no timers"))?;
        let status = f.next().ok_or(malformed(N, "no status"))?;
        let bytes = f.next().ok_or(malformed(N, "no bytes"))?;
        ev.service = backend.split('/').next().map(Cow::Borrowed);
        ev.latency_us = timers
            .rsplit('/')
            .next()
            .and_then(|t| digits(t.trim_start_matches('+').as_bytes()))
            .and_then(|ms| ms.checked_mul(1000));
        ev.status = if status == "-1" {
            0
        } else {
            u16_of(status).ok_or(malformed(N, "invalid status"))?
        };
        ev.response_bytes = digits(bytes.trim_start_matches('+').as_bytes());
        let q = rest.find('"').ok_or(malformed(N, "no quoted request"))?;
        let req = &rest[q + 1..];
        let end = req.rfind('"').unwrap_or(req.len());
        set_request_line(&mut ev, &req[..end]);
        Ok(finish(ev, N, line, EnrichInput::default(), cfg))
    }
}

const ALB_TYPES: &[&str] = &["http", "https", "h2", "grpcs", "ws", "wss"];

impl Decoder for AwsAlb {
    fn name(&self) -> &'static str {
        "aws_alb"
    }
    fn sniff(&self, line: &str) -> bool {
        line.split_once(' ').is_some_and(|(t, r)| {
            ALB_TYPES.contains(&t)
                && r.len() > 20
                && r.as_bytes()[4] == b'-'
                && r.as_bytes()[10] == b'T'
        })
    }
    fn decode<'a>(&self, line: &'a str, cfg: &DecodeConfig) -> Result<ApiEvent<'a>, DecodeError> {
        const N: &str = "aws_alb";
        let mut fs: [&'a str; 16] = [""; 16];
        let mut r = line;
        for slot in fs.iter_mut() {
            let Some((f, next)) = next_field(r) else {
                break;
            };
            *slot = f;
            r = next;
        }
        // 0 type 1 time 2 elb 3 client:port 4 target:port 5-7 times 8 elb_status 9 target_status
        // 10 received 11 sent 12 "request" 13 "user_agent" 14 ssl_cipher 15 ssl_protocol
        let mut ev = ApiEvent {
            ts: iso_time(fs[1]).ok_or(malformed(N, "invalid time"))?,
            client_ip: Some(parse_ip(fs[3]).ok_or(malformed(N, "invalid client address"))?),
            ..ApiEvent::default()
        };
        let mut lat = 0.0;
        for t in &fs[5..8] {
            if let Ok(v) = t.parse::<f64>() {
                if v >= 0.0 {
                    lat += v;
                }
            }
        }
        ev.latency_us = Some((lat * 1e6).round() as u64);
        ev.status = if fs[8] == "-" {
            0
        } else {
            u16_of(fs[8]).ok_or(malformed(N, "invalid status"))?
        };
        ev.request_bytes = digits(fs[10].as_bytes());
        ev.response_bytes = digits(fs[11].as_bytes());
        set_request_line(&mut ev, fs[12]);
        ev.user_agent = Cow::Borrowed(dash(fs[13]));
        if let Some(target) = parse_ip(fs[4]) {
            ev.service = Some(Cow::Borrowed(fs[4]));
            let _ = target;
        }
        Ok(finish(ev, N, line, EnrichInput::default(), cfg))
    }
}

impl Decoder for CloudFront {
    fn name(&self) -> &'static str {
        "cloudfront"
    }
    fn sniff(&self, line: &str) -> bool {
        let b = line.as_bytes();
        b.len() > 20
            && b[4] == b'-'
            && b[10] == b'\t'
            && memchr::memchr_iter(b'\t', b).count() >= 16
    }
    fn decode<'a>(&self, line: &'a str, cfg: &DecodeConfig) -> Result<ApiEvent<'a>, DecodeError> {
        const N: &str = "cloudfront";
        let mut fs: [&'a str; 24] = [""; 24];
        for (slot, f) in fs.iter_mut().zip(line.split('\t')) {
            *slot = f;
        }
        // 0 date 1 time 2 edge 3 sc-bytes 4 c-ip 5 method 6 cs(Host) 7 uri-stem 8 status
        // 9 referer 10 user-agent 11 query 12 cookie 13 result 14 request-id 15 host-header
        // 16 protocol 17 cs-bytes 18 time-taken 19 x-forwarded-for 20 ssl-proto 21 cipher
        // 22 response-result 23 protocol-version
        let date = fs[0];
        let time = fs[1];
        if date.len() != 10 || time.len() < 8 {
            return Err(malformed(N, "invalid date or time"));
        }
        let mut buf = [0u8; 19];
        buf[..10].copy_from_slice(date.as_bytes());
        buf[10] = b' ';
        buf[11..19].copy_from_slice(&time.as_bytes()[..8]);
        let ts = std::str::from_utf8(&buf)
            .ok()
            .and_then(iso_time)
            .ok_or(malformed(N, "invalid date or time"))?;
        let mut ev = ApiEvent {
            ts,
            client_ip: Some(parse_ip(fs[4]).ok_or(malformed(N, "invalid client address"))?),
            method: Cow::Borrowed(fs[5]),
            path: Cow::Borrowed(fs[7]),
            query: Cow::Borrowed(dash(fs[11])),
            status: u16_of(fs[8]).unwrap_or(0),
            referer: Cow::Borrowed(dash(fs[9])),
            user_agent: Cow::Borrowed(dash(fs[10])),
            host: Cow::Borrowed(dash(if fs[15].is_empty() { fs[6] } else { fs[15] })),
            scheme: Cow::Borrowed(dash(fs[16])),
            protocol: Cow::Borrowed(dash(fs[23])),
            response_bytes: digits(fs[3].as_bytes()),
            request_bytes: digits(fs[17].as_bytes()),
            latency_us: secs_to_us(fs[18]),
            ..ApiEvent::default()
        };
        if !dash(fs[12]).is_empty() {
            ev.request_headers
                .push((Cow::Borrowed("cookie"), Cow::Borrowed(fs[12])));
        }
        Ok(finish(ev, N, line, EnrichInput::default(), cfg))
    }
}

fn bracket<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let s = line.find(key)? + key.len();
    let e = line[s..].find(']')? + s;
    Some(line[s..e].trim())
}

impl Decoder for Zoraxy {
    fn name(&self) -> &'static str {
        "zoraxy"
    }
    fn sniff(&self, line: &str) -> bool {
        line.contains("] [router:") && line.contains("[client: ")
    }
    fn decode<'a>(&self, line: &'a str, cfg: &DecodeConfig) -> Result<ApiEvent<'a>, DecodeError> {
        const N: &str = "zoraxy";
        let ts_s = bracket(line, " [").ok_or(malformed(N, "no [time] field"))?;
        let mut ev = ApiEvent {
            ts: iso_time(ts_s).ok_or(malformed(N, "invalid time"))?,
            client_ip: Some(
                bracket(line, "[client: ")
                    .and_then(parse_ip)
                    .ok_or(malformed(N, "no client address"))?,
            ),
            ..ApiEvent::default()
        };
        if let Some(o) = bracket(line, "[origin:") {
            ev.host = Cow::Borrowed(o);
        }
        if let Some(r) = bracket(line, "[router:") {
            ev.service = Some(Cow::Borrowed(r));
        }
        let ua_start = line
            .find("[useragent: ")
            .ok_or(malformed(N, "no user agent"))?
            + 12;
        let tail_start = line
            .rfind("] ")
            .filter(|&e| e >= ua_start)
            .ok_or(malformed(N, "no request"))?;
        ev.user_agent = Cow::Borrowed(&line[ua_start..tail_start]);
        let tail = &line[tail_start + 2..];
        let (req, status) = tail.rsplit_once(' ').ok_or(malformed(N, "no status"))?;
        ev.status = u16_of(status).ok_or(malformed(N, "invalid status"))?;
        let (m, target) = req
            .split_once(' ')
            .ok_or(malformed(N, "no request target"))?;
        ev.method = Cow::Borrowed(m);
        set_target(&mut ev, target);
        Ok(finish(ev, N, line, EnrichInput::default(), cfg))
    }
}

/// XML text content with the five predefined entities decoded.
fn xml_text(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

fn xml_data<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(p) = line[from..].find("<Data Name=\"") {
        let s = from + p + 12;
        let e = line[s..].find('"')? + s;
        from = e;
        if &line[s..e] == name {
            let rest = line[e + 1..].strip_prefix('>')?;
            let end = rest.find("</Data>")?;
            return Some(&rest[..end]);
        }
    }
    None
}

fn cow_dash(c: Cow<'_, str>) -> Cow<'_, str> {
    if c == "-" {
        Cow::Borrowed("")
    } else {
        c
    }
}

impl Decoder for IisXml {
    fn name(&self) -> &'static str {
        "iis_xml"
    }
    fn sniff(&self, line: &str) -> bool {
        line.starts_with("<Event") && line.contains("IIS-Logging")
    }
    fn decode<'a>(&self, line: &'a str, cfg: &DecodeConfig) -> Result<ApiEvent<'a>, DecodeError> {
        const N: &str = "iis_xml";
        let get = |k: &str| {
            xml_data(line, k)
                .map(xml_text)
                .map(cow_dash)
                .unwrap_or(Cow::Borrowed(""))
        };
        let date = get("date");
        let time = get("time");
        let ts = iso_time(&format!("{date} {time}")).ok_or(malformed(N, "invalid date or time"))?;
        let mut ev = ApiEvent {
            ts,
            client_ip: Some(parse_ip(&get("c-ip")).ok_or(malformed(N, "no client address"))?),
            method: get("cs-method"),
            path: get("cs-uri-stem"),
            query: get("cs-uri-query"),
            status: u16_of(&get("sc-status")).unwrap_or(0),
            response_bytes: digits(get("sc-bytes").as_bytes()),
            request_bytes: digits(get("cs-bytes").as_bytes()),
            latency_us: digits(get("time-taken").as_bytes()).and_then(|ms| ms.checked_mul(1000)),
            user_agent: get("csUser-Agent"),
            referer: get("csReferer"),
            host: get("cs-host"),
            protocol: get("cs-version"),
            ..ApiEvent::default()
        };
        let site = get("s-sitename");
        if !site.is_empty() {
            ev.service = Some(site);
        }
        let cookie = get("csCookie");
        if !cookie.is_empty() {
            ev.request_headers.push((Cow::Borrowed("cookie"), cookie));
        }
        let user = xml_data(line, "cs-username")
            .map(dash)
            .filter(|u| !u.is_empty() && !u.contains('&'));
        Ok(finish(ev, N, line, EnrichInput { remote_user: user }, cfg))
    }
}

impl Decoder for IisW3c {
    fn name(&self) -> &'static str {
        "iis_w3c"
    }
    fn sniff(&self, line: &str) -> bool {
        let b = line.as_bytes();
        b.len() > 30
            && b[4] == b'-'
            && b[10] == b' '
            && b[13] == b':'
            && b[19] == b' '
            && line.split(' ').count() == 15
    }
    fn decode<'a>(&self, line: &'a str, cfg: &DecodeConfig) -> Result<ApiEvent<'a>, DecodeError> {
        const N: &str = "iis_w3c";
        let mut fs: [&'a str; 15] = [""; 15];
        let mut n = 0;
        for f in line.split(' ') {
            if n == fs.len() {
                return Err(malformed(N, "more fields than the default IIS set"));
            }
            fs[n] = f;
            n += 1;
        }
        if n != 15 {
            return Err(malformed(N, "fewer fields than the default IIS set"));
        }
        // Not `&line[..19]`: byte 19 may fall inside a multi-byte character.
        let ts = line
            .get(..19)
            .and_then(iso_time)
            .ok_or(malformed(N, "invalid date or time"))?;
        let ev = ApiEvent {
            ts,
            method: Cow::Borrowed(fs[3]),
            path: Cow::Borrowed(fs[4]),
            query: Cow::Borrowed(dash(fs[5])),
            client_ip: Some(parse_ip(fs[8]).ok_or(malformed(N, "invalid client address"))?),
            user_agent: Cow::Borrowed(dash(fs[9])),
            referer: Cow::Borrowed(dash(fs[10])),
            status: u16_of(fs[11]).ok_or(malformed(N, "invalid status"))?,
            latency_us: digits(fs[14].as_bytes()).and_then(|ms| ms.checked_mul(1000)),
            ..ApiEvent::default()
        };
        Ok(finish(
            ev,
            N,
            line,
            EnrichInput {
                remote_user: Some(dash(fs[7])),
            },
            cfg,
        ))
    }
}

impl Decoder for Envoy {
    fn name(&self) -> &'static str {
        "envoy"
    }
    fn sniff(&self, line: &str) -> bool {
        let b = line.as_bytes();
        b.len() > 30
            && b[0] == b'['
            && b[5] == b'-'
            && b[11] == b'T'
            && crate::util::find(b, b"] \"").is_some()
    }
    fn decode<'a>(&self, line: &'a str, cfg: &DecodeConfig) -> Result<ApiEvent<'a>, DecodeError> {
        const N: &str = "envoy";
        // `decode` may be called without `sniff` (a named format): check the `[` here.
        let body = line
            .strip_prefix('[')
            .ok_or(malformed(N, "no [time] field"))?;
        let rb = body.find("] \"").ok_or(malformed(N, "no [time] field"))?;
        let mut ev = ApiEvent {
            ts: iso_time(&body[..rb]).ok_or(malformed(N, "invalid time"))?,
            ..ApiEvent::default()
        };
        let r = &body[rb + 3..];
        let q = closing_quote(r.as_bytes(), 0).ok_or(malformed(N, "unterminated request"))?;
        set_request_line(&mut ev, &r[..q]);
        // code flags rx tx duration upstream_time "xff" "ua" "request-id" "authority" "upstream"
        let mut fs: [&'a str; 11] = [""; 11];
        let mut rest = &r[q + 1..];
        for slot in fs.iter_mut() {
            let Some((f, next)) = next_field(rest) else {
                break;
            };
            *slot = f;
            rest = next;
        }
        ev.status = u16_of(fs[0]).unwrap_or(0);
        ev.request_bytes = digits(fs[2].as_bytes());
        ev.response_bytes = digits(fs[3].as_bytes());
        ev.latency_us = digits(fs[4].as_bytes()).and_then(|ms| ms.checked_mul(1000));
        let xff = dash(fs[6]);
        // The default format logs no peer address: the last X-Forwarded-For hop (the one
        // Envoy appended itself with `use_remote_address`) is the best client we have.
        ev.client_ip = xff.rsplit(',').next().and_then(parse_ip);
        ev.user_agent = Cow::Borrowed(dash(fs[7]));
        ev.host = Cow::Borrowed(dash(fs[9]));
        let up = dash(fs[10]);
        if !up.is_empty() {
            ev.service = Some(Cow::Borrowed(up));
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
    fn haproxy_cases() {
        check("haproxy", r#"117.136.40.129:14853 [14/Jan/2015:12:48:57.127] https-in~ xx_server_https/xxx_node_8002 170/0/0/3/173 200 739 - - --NN 0/0/0/0/0 0/0 "GET /xxx/xxx HTTP/1.1""#,
            "2015-01-14T12:48:57.127Z 117.136.40.129 GET /xxx/xxx HTTP/1.1 200 bytes=739 latency_us=173000 service=xx_server_https");
        check("haproxy", r#"Apr  4 14:30:19 hap-1 haproxy[3946303]: 192.168.1.1:55032 [04/Apr/2024:14:30:18.885] front_https~ back_nextcloud/web.domain.sh 0/0/0/169/169 404 1541 - - ---- 5715/616/96/15/0 0/0 "PROPFIND /remote.php/webdav/a%20b.json HTTP/1.1""#,
            "2024-04-04T14:30:18.885Z 192.168.1.1 PROPFIND /remote.php/webdav/a%20b.json HTTP/1.1 404 bytes=1541 latency_us=169000 service=back_nextcloud");
        check("haproxy", "192.168.1.4:50033 [28/Feb/2025:02:43:10.123] frontend/backend: SSL handshake failure (error:0A0000C1:SSL routines::no shared cipher)",
            "2025-02-28T02:43:10.123Z 192.168.1.4   0 service=backend kind=Error msg=\"SSL handshake failure (error:0A0000C1:SSL routines::no shared cipher)\"");
    }

    #[test]
    fn alb_cases() {
        check("aws_alb", r#"https 2023-04-26T12:23:00.186641Z app/x/490d 192.168.1.11:44740 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/robots.txt?a=1 HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:x "Root=1" "www.example.com" "arn:y" 1 2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" "-" "-""#,
            "2023-04-26T12:23:00.186Z 192.168.1.11 GET https://www.example.com:443 /robots.txt ?a=1 HTTP/1.1 200 ua=curl/7.46.0 bytes=57 req_bytes=0 latency_us=171000 service=10.0.0.1:80");
        check("aws_alb", r#"https 2023-04-26T19:53:47.809400Z app/x/490d 192.168.1.14:44750 - -1 -1 -1 404 - 203 167 "GET https://api.example.com:443/.awscfg HTTP/1.1" "${jndi:ldap://x}" ECDHE TLSv1.2 - "Root=1" "api.example.com" "arn" 0 2023-04-26T19:53:47.808000Z "waf,fixed-response" "-" "-" "-" "-" "-" "-""#,
            "2023-04-26T19:53:47.809Z 192.168.1.14 GET https://api.example.com:443 /.awscfg HTTP/1.1 404 ua=${jndi:ldap://x} bytes=167 req_bytes=203 latency_us=0");
    }

    #[test]
    fn cloudfront_cases() {
        check("cloudfront", "2024-03-12\t15:22:28\tCDG50-P2\t703\t1.2.3.4\tGET\td6rcaj0q1hys9.cloudfront.net\t/testseb\t400\t-\tcurl/7.81.0\tquery_param=42\t-\tError\t375W==\thub-cdn.crowdsec.net\thttps\t62\t0.113\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\tError\tHTTP/2.0\t-\t-\t51754\t0.113\tError\ttext/plain\t20\t-\t-",
            "2024-03-12T15:22:28.000Z 1.2.3.4 GET https://hub-cdn.crowdsec.net /testseb ?query_param=42 HTTP/2.0 400 ua=curl/7.81.0 bytes=703 req_bytes=62 latency_us=113000");
    }

    #[test]
    fn zoraxy_cases() {
        check("zoraxy", "2025/05/01 07:57:03 [2025-05-01 07:57:03.150624] [router:host-http] [origin:test.com] [client: 192.168.1.1] [useragent: Mozilla/5.0 (Windows NT 10.0)] POST /xmlrpc.php?x=1 404",
            "2025-05-01T07:57:03.150Z 192.168.1.1 POST host=test.com /xmlrpc.php ?x=1 404 ua=Mozilla/5.0 (Windows NT 10.0) service=host-http");
    }

    #[test]
    fn iis_cases() {
        check("iis_xml", r#"<Event xmlns="x"> <System> <Provider Name="Microsoft-Windows-IIS-Logging" /> </System> <EventData> <Data Name="date">2022-10-01</Data> <Data Name="time">11:25:51</Data> <Data Name="c-ip">192.168.9.212</Data> <Data Name="cs-username">-</Data> <Data Name="s-sitename">W3SVC1</Data> <Data Name="cs-method">GET</Data> <Data Name="cs-uri-stem">/autodiscover/autodiscover.json</Data> <Data Name="cs-uri-query">a=1&amp;b=2</Data> <Data Name="sc-status">400</Data> <Data Name="sc-bytes">134</Data> <Data Name="time-taken">49</Data> <Data Name="csUser-Agent">Mozilla/5.0+(X11)</Data> <Data Name="csCookie">-</Data> <Data Name="CustomFields" /> </EventData> </Event>"#,
            "2022-10-01T11:25:51.000Z 192.168.9.212 GET /autodiscover/autodiscover.json ?a=1&b=2 400 ua=Mozilla/5.0+(X11) bytes=134 latency_us=49000 service=W3SVC1");
        check("iis_w3c", "2024-05-01 10:00:00 10.0.0.5 GET /owa/auth.owa a=1 443 bob 203.0.113.7 Mozilla/5.0+(X11) - 401 1 0 15",
            "2024-05-01T10:00:00.000Z 203.0.113.7 GET /owa/auth.owa ?a=1 401 ua=Mozilla/5.0+(X11) latency_us=15000 principal=bob auth");
    }

    #[test]
    fn envoy_cases() {
        check("envoy", r#"[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" "cc21d9b0" "locations" "tcp://10.0.2.1:80""#,
            "2016-04-15T20:17:00.310Z 10.0.35.28 POST host=locations /api/v1/locations HTTP/2 204 ua=nsq2http bytes=0 req_bytes=154 latency_us=226000 service=tcp://10.0.2.1:80");
    }
}
