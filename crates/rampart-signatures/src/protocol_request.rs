//! The request-level half of `protocol_abuse`: what a WAF's protocol-enforcement rules see in
//! headers and bodies (CRS 920xxx). Pure functions over one event; nothing allocates unless a
//! request is flagged (the detail text).
//!
//! Gateway access logs carry no headers, so every check here needs what it inspects: the
//! header checks run only on events with request headers, and "header missing" only on full
//! request records (the `rampart` format), where absence means the client sent none.

use rampart_model::ApiEvent;

use crate::common::hex_val;
use crate::protocol::{Abuse, ALLOWED_CHARSETS, RESTRICTED_HEADERS};

/// Classify a request's headers, body and encoding; the detail names what was seen.
pub fn classify(ev: &ApiEvent<'_>) -> Option<(Abuse, String)> {
    if let Some(d) = encoding_abuse(ev) {
        return Some((Abuse::EncodingAbuse, d));
    }
    if ev.request_headers.is_empty() {
        return None;
    }
    let get_like = ev.method.eq_ignore_ascii_case("GET") || ev.method.eq_ignore_ascii_case("HEAD");
    let mut host_seen = false;
    for (name, value) in &ev.request_headers {
        let (name, value) = (name.as_ref(), value.as_ref());
        match name {
            "host" => {
                host_seen = true;
                if value.trim().is_empty() {
                    return Some((Abuse::MissingHeader, "empty Host".into()));
                }
                if is_ip_host(value.trim()) {
                    return Some((Abuse::NumericHost, format!("Host {}", quote(value))));
                }
            }
            // iOS apps (CFNetwork) and CORS preflights send an empty Accept.
            "accept"
                if value.trim().is_empty()
                    && !ev.method.eq_ignore_ascii_case("OPTIONS")
                    && !ev.user_agent.contains("CFNetwork") =>
            {
                return Some((Abuse::MissingHeader, "empty accept".into()));
            }
            "user-agent" if value.trim().is_empty() => {
                return Some((Abuse::MissingHeader, "empty user-agent".into()));
            }
            "accept" => {
                if let Some(cs) = bad_accept_charset(value) {
                    return Some((
                        Abuse::ContentTypeAbuse,
                        format!("Accept charset {}", quote(cs)),
                    ));
                }
            }
            "content-type" if !value.trim().is_empty() => {
                if let Some(d) = content_type_abuse(value) {
                    return Some((Abuse::ContentTypeAbuse, d));
                }
                if starts_with_ci(value.trim_start(), "multipart/") {
                    if let Some(d) = ev.request_body.as_deref().and_then(multipart_evasion) {
                        return Some((Abuse::MultipartEvasion, d));
                    }
                }
            }
            "connection" => {
                if let Some(d) = connection_conflict(value) {
                    return Some((Abuse::ConnectionConflict, d));
                }
            }
            "range" => {
                if let Some(d) = range_abuse(value) {
                    return Some((Abuse::RangeAbuse, d));
                }
            }
            // RFC 2109's `$Version=1` cookie syntax: servers split such cookies differently.
            "cookie" if starts_with_ci(value.trim_start(), "$version=") => {
                return Some((Abuse::RestrictedHeader, "legacy $Version cookie".into()));
            }
            "request-range" => {
                return Some((Abuse::RangeAbuse, "obsolete Request-Range header".into()));
            }
            "transfer-encoding" if get_like => {
                return Some((
                    Abuse::BodyWithoutMethod,
                    format!("Transfer-Encoding on {}", ev.method),
                ));
            }
            "content-range" if !valid_content_range(value) => {
                return Some((
                    Abuse::RestrictedHeader,
                    format!("Content-Range {}", quote(value)),
                ));
            }
            "content-encoding" if get_like => {
                return Some((
                    Abuse::RestrictedHeader,
                    format!("Content-Encoding on {}", ev.method),
                ));
            }
            _ if RESTRICTED_HEADERS.contains(&name) => {
                return Some((Abuse::RestrictedHeader, format!("{name} header")));
            }
            _ => {}
        }
    }
    // A body the client declared (a content type, a length that is not 0).
    let declared = ev.request_header("content-type").is_some()
        && ev
            .request_header("content-length")
            .is_none_or(|l| l.trim() != "0");
    if get_like && declared {
        if let Some(body) = ev.request_body.as_deref() {
            let t = body.trim_start();
            // Search APIs (Elasticsearch, OpenSearch) take JSON bodies on GET.
            if !t.is_empty() && !t.starts_with(['{', '[']) {
                return Some((Abuse::BodyWithoutMethod, format!("body on {}", ev.method)));
            }
        }
    }
    if !host_seen
        && ev.host.is_empty()
        && ev.source_format == "rampart"
        && ev.request_headers.len() >= 2
    {
        return Some((Abuse::MissingHeader, "no Host header".into()));
    }
    None
}

fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len().min(80) + 2);
    q.push('"');
    for c in s.chars().take(80) {
        q.extend(c.escape_debug());
    }
    q.push('"');
    q
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// A null byte (raw or `%00`), an overlong or out-of-range UTF-8 sequence, or a `%uFFxx`
/// full-width escape in the request target or a header value.
fn encoding_abuse(ev: &ApiEvent<'_>) -> Option<String> {
    for (what, s) in [("path", ev.path.as_ref()), ("query", ev.query.as_ref())] {
        if let Some(d) = evasive_encoding(s) {
            return Some(format!("{d} in the {what}"));
        }
    }
    for (name, value) in &ev.request_headers {
        if value.contains('\0') || (name == "referer" && value.contains("%00")) {
            return Some(format!("null byte in {name}"));
        }
    }
    None
}

fn pct(b: &[u8], i: usize) -> Option<u8> {
    if b.get(i) != Some(&b'%') {
        return None;
    }
    Some(hex_val(*b.get(i + 1)?)? << 4 | hex_val(*b.get(i + 2)?)?)
}

fn evasive_encoding(s: &str) -> Option<&'static str> {
    let b = s.as_bytes();
    // One pass finds a NUL anywhere (which wins) and the first `%`.
    let mut first_pct = None;
    for (i, &c) in b.iter().enumerate() {
        if c == 0 {
            return Some("null byte");
        }
        if c == b'%' && first_pct.is_none() {
            first_pct = Some(i);
        }
    }
    let mut i = first_pct?;
    while let Some(off) = b[i..].iter().position(|&c| c == b'%') {
        i += off;
        match pct(b, i) {
            Some(0) => return Some("null byte"),
            // Overlong two-byte forms (`%c0%af` is `/`) and lead bytes past U+10FFFF, when a
            // continuation byte follows: latin-1 text never pairs them so.
            Some(0xc0 | 0xc1 | 0xf5..=0xff) if matches!(pct(b, i + 3), Some(0x80..=0xbf)) => {
                return Some("overlong or invalid UTF-8");
            }
            Some(0xe0) if matches!(pct(b, i + 3), Some(0x80..=0x9f)) => {
                return Some("overlong or invalid UTF-8");
            }
            Some(0xf0) if matches!(pct(b, i + 3), Some(0x80..=0x8f)) => {
                return Some("overlong or invalid UTF-8");
            }
            None if b.len() > i + 3
                && matches!(b[i + 1], b'u' | b'U')
                && b[i + 2..i + 4].eq_ignore_ascii_case(b"ff") =>
            {
                return Some("full-width %uFFxx escape");
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn is_ip_host(h: &str) -> bool {
    if let Some(rest) = h.strip_prefix('[') {
        // `[v6]` or `[v6]:port`; the corpus of real clients never writes this for a name.
        return rest.contains(']');
    }
    let host = match h.rsplit_once(':') {
        Some((a, p)) if p.bytes().all(|c| c.is_ascii_digit()) => a,
        _ => h,
    };
    host.parse::<std::net::Ipv4Addr>().is_ok()
}

/// A `Content-Type` built to confuse parsers, or naming a charset outside
/// [`ALLOWED_CHARSETS`].
pub fn content_type_abuse(v: &str) -> Option<String> {
    let mut parts = v.split(';');
    let media = parts.next().unwrap_or("").trim();
    let bad = || Some(format!("Content-Type {}", quote(v)));
    let Some((ty, sub)) = media.split_once('/') else {
        return bad();
    };
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"!#$&^_.+-*".contains(&c))
    };
    if !token(ty) || !token(sub) || ty.contains(['#', '$']) {
        return bad();
    }
    let multipart = ty.eq_ignore_ascii_case("multipart");
    if multipart
        && ![
            "form-data",
            "related",
            "mixed",
            "alternative",
            "byteranges",
            "signed",
            "encrypted",
        ]
        .iter()
        .any(|k| sub.eq_ignore_ascii_case(k))
    {
        return bad();
    }
    let mut charsets = 0;
    for p in parts {
        let p = p.trim_start();
        if p.is_empty() {
            continue;
        }
        let Some((k, val)) = p.split_once('=') else {
            return bad();
        };
        let k = k.trim_end();
        if !token(k) {
            return bad();
        }
        let unq = val.trim().trim_matches(['"', '\'']);
        if k.eq_ignore_ascii_case("charset") {
            charsets += 1;
            if charsets > 1 {
                return Some(format!("two charsets in Content-Type {}", quote(v)));
            }
            if !ALLOWED_CHARSETS.iter().any(|c| unq.eq_ignore_ascii_case(c)) {
                return Some(format!("charset {}", quote(unq)));
            }
        } else if k.eq_ignore_ascii_case("boundary") {
            let lower = unq.to_ascii_lowercase();
            if lower.contains("charset=") || (!multipart && lower.contains('/')) {
                return Some(format!("a type hidden in Content-Type {}", quote(v)));
            }
        }
    }
    None
}

fn bad_accept_charset(v: &str) -> Option<&str> {
    let b = v.as_bytes();
    let mut from = 0;
    while let Some(off) = v[from..].find("charset=") {
        let start = from + off + 8;
        let end = b[start..]
            .iter()
            .position(|c| matches!(c, b',' | b';' | b' '))
            .map_or(b.len(), |e| start + e);
        let cs = v[start..end].trim_matches('"');
        if !ALLOWED_CHARSETS.iter().any(|c| cs.eq_ignore_ascii_case(c)) {
            return Some(cs);
        }
        from = end;
    }
    None
}

fn connection_conflict(v: &str) -> Option<String> {
    let mut seen: [&str; 8] = [""; 8];
    let mut n = 0;
    for t in v.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if seen[..n].iter().any(|s| s.eq_ignore_ascii_case(t)) {
            return Some(format!("Connection {}", quote(v)));
        }
        if n < seen.len() {
            seen[n] = t;
            n += 1;
        }
    }
    let has = |w: &str| seen[..n].iter().any(|s| s.eq_ignore_ascii_case(w));
    (has("close") && has("keep-alive")).then(|| format!("Connection {}", quote(v)))
}

fn range_abuse(v: &str) -> Option<String> {
    let spec = v.trim().strip_prefix("bytes=")?;
    // The Apache Killer pattern (`bytes=0-,5-0,5-1,...`) reverses a range at once.
    for r in spec.split(',').take(2) {
        if let Some((a, b)) = r.trim().split_once('-') {
            if let (Ok(a), Ok(b)) = (a.parse::<u64>(), b.parse::<u64>()) {
                if b < a {
                    return Some(format!("reversed range {}", quote(r.trim())));
                }
            }
        }
    }
    None
}

/// `bytes a-b/n` (or `*/n`, `a-b/*`), the only form a client may send (on a `PUT` resume).
fn valid_content_range(v: &str) -> bool {
    let Some(rest) = v.trim().strip_prefix("bytes ") else {
        return false;
    };
    let Some((range, len)) = rest.split_once('/') else {
        return false;
    };
    let num = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    (len == "*" || num(len))
        && (range == "*" || range.split_once('-').is_some_and(|(a, b)| num(a) && num(b)))
}

/// A multipart part name or file name carrying `;` or `=` (outside an HTML entity such as
/// `&auml;`), a backslash or an apostrophe: parsers split such names differently.
pub fn multipart_evasion(body: &str) -> Option<String> {
    let b = body.as_bytes();
    let mut from = 0;
    while let Some(off) = find_ci(&b[from..], b"content-disposition:") {
        let line_start = from + off;
        let line_end = b[line_start..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(b.len(), |e| line_start + e);
        let line = &body[line_start..line_end];
        for key in ["name=\"", "filename=\""] {
            let mut at = 0;
            while let Some(k) = line[at..].find(key) {
                let vs = at + k + key.len();
                let Some(ve) = line[vs..].find('"') else {
                    break;
                };
                let name = &line[vs..vs + ve];
                if confusing_name(name) {
                    return Some(format!("part {key}{}", &quote(name)[1..]));
                }
                at = vs + ve;
            }
        }
        from = line_end;
    }
    None
}

fn confusing_name(name: &str) -> bool {
    let b = name.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'\\' | b'\'' | b'=' => return true,
            b';' => {
                // `&auml;`, `&amp;`: an entity ends at this `;` when `&` and letters precede.
                let letters = b[..i]
                    .iter()
                    .rev()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .count();
                let amp = i > letters && b[i - letters - 1] == b'&';
                if !(amp && letters >= 2) {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn ev(
        method: &'static str,
        path: &'static str,
        headers: &[(&'static str, &'static str)],
        body: Option<&'static str>,
    ) -> ApiEvent<'static> {
        let mut e = ApiEvent {
            method: Cow::Borrowed(method),
            host: Cow::Borrowed("api.example.com"),
            source_format: Cow::Borrowed("rampart"),
            request_body: body.map(Cow::Borrowed),
            ..Default::default()
        };
        if let Some((p, q)) = path.split_once('?') {
            e.path = Cow::Borrowed(p);
            e.query = Cow::Borrowed(q);
        } else {
            e.path = Cow::Borrowed(path);
        }
        e.request_headers = headers
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), Cow::Borrowed(*v)))
            .collect();
        e
    }

    const MP: &str = "multipart/form-data; boundary=xyz";

    /// (method, target, headers, body, expected kind or None).
    #[test]
    fn request_cases() {
        let ua = ("user-agent", "Mozilla/5.0");
        let host = ("host", "api.example.com");
        #[allow(clippy::type_complexity)]
        let cases: &[(&str, &str, &[(&str, &str)], Option<&str>, Option<Abuse>)] = &[
            ("GET", "/a?x=1", &[host, ua], None, None),
            ("GET", "/a?x=%00", &[host, ua], None, Some(Abuse::EncodingAbuse)),
            ("GET", "/a%00.php", &[host, ua], None, Some(Abuse::EncodingAbuse)),
            ("GET", "/?p=%c0%af", &[host, ua], None, Some(Abuse::EncodingAbuse)),
            ("GET", "/?p=%F5%80%BF%BF", &[host, ua], None, Some(Abuse::EncodingAbuse)),
            ("GET", "/?p=%uff0f", &[host, ua], None, Some(Abuse::EncodingAbuse)),
            ("GET", "/?p=caf%C3%A9&q=%E9t%E9", &[host, ua], None, None),
            ("GET", "/", &[host, ("referer", "x%00")], None, Some(Abuse::EncodingAbuse)),
            ("GET", "/", &[("host", ""), ua], None, Some(Abuse::MissingHeader)),
            ("GET", "/", &[host, ("accept", "")], None, Some(Abuse::MissingHeader)),
            ("GET", "/", &[host, ("user-agent", "")], None, Some(Abuse::MissingHeader)),
            ("GET", "/", &[ua, ("accept", "*/*")], None, None), // ev.host is set
            ("GET", "/", &[("host", "10.0.0.1:8080"), ua], None, Some(Abuse::NumericHost)),
            ("GET", "/", &[("host", "[::1]"), ua], None, Some(Abuse::NumericHost)),
            ("GET", "/", &[("host", "a1.example.com"), ua], None, None),
            ("POST", "/", &[host, ("content-type", "application/json; charset=UTF-8")], Some("{}"), None),
            ("POST", "/", &[host, ("content-type", "application/vnd.api+json; version=2")], Some("{}"), None),
            ("POST", "/", &[host, ("content-type", "my-new-content-type")], Some("x"), Some(Abuse::ContentTypeAbuse)),
            ("POST", "/", &[host, ("content-type", "multipart/foo; boundary=0")], Some("x"), Some(Abuse::ContentTypeAbuse)),
            ("POST", "/", &[host, ("content-type", "text/xml; blah")], Some("x"), Some(Abuse::ContentTypeAbuse)),
            ("POST", "/", &[host, ("content-type", "text/plain; charset=ibm037")], Some("x"), Some(Abuse::ContentTypeAbuse)),
            ("POST", "/", &[host, ("content-type", "text/plain; charset=utf-8; charset=utf-7")], Some("x"), Some(Abuse::ContentTypeAbuse)),
            ("POST", "/", &[host, ("content-type", "application/x-www-form-urlencoded;boundary=\"text/xml\"")], Some("x"), Some(Abuse::ContentTypeAbuse)),
            ("POST", "/", &[host, ("content-type", "%{(#nike='multipart/form-data')")], Some("x"), Some(Abuse::ContentTypeAbuse)),
            ("GET", "/", &[host, ("accept", "text/html; charset=CP1026")], None, Some(Abuse::ContentTypeAbuse)),
            ("GET", "/", &[host, ("accept", "text/html;q=0.9,*/*;q=0.8")], None, None),
            ("POST", "/", &[host, ("content-type", MP)], Some("--xyz\nContent-Disposition: form-data; name=\"a;b\"; filename=\"t\"\n\nx\n--xyz--"), Some(Abuse::MultipartEvasion)),
            ("POST", "/", &[host, ("content-type", MP)], Some("--xyz\nContent-Disposition: form-data; name=\"f\"; filename=\"1.j\\s\\p\"\n\nx\n--xyz--"), Some(Abuse::MultipartEvasion)),
            ("POST", "/", &[host, ("content-type", MP)], Some("--xyz\nContent-Disposition: form-data; name=\"f\"; filename=\"r&eacute;sum&eacute;.pdf\"\n\nx\n--xyz--"), None),
            ("POST", "/", &[host, ("content-type", MP)], Some("--xyz\nContent-Disposition: form-data; name=\"photo\"; filename=\"cat.png\"\n\nx\n--xyz--"), None),
            ("GET", "/", &[host, ("content-type", "application/x-www-form-urlencoded")], Some("a=b"), Some(Abuse::BodyWithoutMethod)),
            ("GET", "/_search", &[host, ("content-type", "application/json")], Some("{\"query\":{}}"), None),
            ("GET", "/", &[host, ("transfer-encoding", "chunked")], None, Some(Abuse::BodyWithoutMethod)),
            ("GET", "/", &[host, ("connection", "keep-alive, close")], None, Some(Abuse::ConnectionConflict)),
            ("GET", "/", &[host, ("connection", "close,close")], None, Some(Abuse::ConnectionConflict)),
            ("GET", "/", &[host, ("connection", "keep-alive, Upgrade")], None, None),
            ("GET", "/", &[host, ("range", "bytes=0-,5-0")], None, Some(Abuse::RangeAbuse)),
            ("GET", "/", &[host, ("range", "bytes=0-1023")], None, None),
            ("GET", "/", &[host, ("request-range", "bytes=0-1")], None, Some(Abuse::RangeAbuse)),
            ("GET", "/", &[host, ("content-range", "test")], None, Some(Abuse::RestrictedHeader)),
            ("PUT", "/f", &[host, ("content-range", "bytes 0-1023/4096")], Some("x"), None),
            ("GET", "/", &[host, ("accept", "")], None, Some(Abuse::MissingHeader)),
            ("OPTIONS", "/", &[host, ("accept", "")], None, None),
            ("GET", "/get", &[host], Some("arg=x"), None),
            ("GET", "/", &[host, ("cookie", "$Version=1; session=x")], None, Some(Abuse::RestrictedHeader)),
            ("GET", "/", &[host, ("cookie", "session=x; theme=dark")], None, None),
            ("GET", "/", &[host, ("proxy", "http://evil:8080")], None, Some(Abuse::RestrictedHeader)),
            ("GET", "/", &[host, ("x-middleware-subrequest", "middleware")], None, Some(Abuse::RestrictedHeader)),
            ("GET", "/", &[host, ("content-encoding", "deflate")], None, Some(Abuse::RestrictedHeader)),
            ("POST", "/", &[host, ("content-encoding", "gzip")], Some("x"), None),
        ];
        for (m, p, h, body, want) in cases {
            let e = ev(m, p, h, *body);
            let got = classify(&e).map(|(a, _)| a);
            assert_eq!(got, *want, "{m} {p} {h:?} {body:?}: {:?}", classify(&e));
        }
        // A full record with no Host at all (the event's host is empty too).
        let mut e = ev("GET", "/", &[ua, ("accept", "*/*")], None);
        e.host = Cow::Borrowed("");
        assert_eq!(classify(&e).map(|(a, _)| a), Some(Abuse::MissingHeader));
        // A gateway log line never says a header is missing.
        e.source_format = Cow::Borrowed("nginx_json");
        assert_eq!(classify(&e), None);
    }
}
