//! Byte-scanning helpers shared by the text decoders: timestamps, addresses, request lines.
//! No regex, no allocation.

use std::borrow::Cow;
use std::net::IpAddr;

use rampart_model::time::days_from_civil;
use rampart_model::{ApiEvent, Timestamp};

/// `"-"` (and the empty string) mean "absent" in most access logs.
pub(crate) fn dash(s: &str) -> &str {
    if s == "-" {
        ""
    } else {
        s
    }
}

/// Month number from a three-letter English abbreviation.
pub(crate) fn month(b: &[u8]) -> Option<u32> {
    let m = match b {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    Some(m)
}

/// All-digit ASCII to a number (at most 18 digits).
pub(crate) fn digits(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 18 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(c - b'0');
    }
    Some(n)
}

#[inline]
fn d2(b: &[u8], i: usize) -> Option<u32> {
    let x = *b.get(i)?;
    let y = *b.get(i + 1)?;
    if x.is_ascii_digit() && y.is_ascii_digit() {
        Some(u32::from(x - b'0') * 10 + u32::from(y - b'0'))
    } else {
        None
    }
}

fn secs(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86400 + i64::from(h * 3600 + mi * 60 + s))
}

/// Fractional seconds (`.123456`) at `b[i..]` to milliseconds; returns (millis, next index).
fn frac_ms(b: &[u8], mut i: usize) -> (i64, usize) {
    if b.get(i) != Some(&b'.') && b.get(i) != Some(&b',') {
        return (0, i);
    }
    i += 1;
    let mut ms = 0i64;
    let mut n = 0;
    while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
        if n < 3 {
            ms = ms * 10 + i64::from(c - b'0');
        }
        n += 1;
        i += 1;
    }
    while n < 3 {
        ms *= 10;
        n += 1;
    }
    (ms, i)
}

/// A `+hhmm`, `+hh:mm`, `Z` or `-hhmm` offset at `b[i..]`, in seconds east of UTC.
fn offset(b: &[u8], i: usize) -> Option<i64> {
    match b.get(i) {
        None => Some(0),
        Some(b'Z') | Some(b'z') => Some(0),
        Some(&sign @ (b'+' | b'-')) => {
            let h = d2(b, i + 1)?;
            let m = if b.get(i + 3) == Some(&b':') {
                d2(b, i + 4)?
            } else {
                d2(b, i + 3).unwrap_or(0)
            };
            let off = i64::from(h * 3600 + m * 60);
            Some(if sign == b'-' { -off } else { off })
        }
        Some(b' ') => offset(b, i + 1),
        _ => None,
    }
}

/// Common Log Format time: `08/Jun/2020:06:49:01 +0000`, also `14/Jan/2015:12:48:57.127`
/// (HAProxy, no zone: read as UTC).
pub(crate) fn clf_time(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 20 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' {
        return None;
    }
    let d = d2(b, 0)?;
    let mo = month(&b[3..6])?;
    let y = digits(&b[7..11])? as i64;
    let h = d2(b, 12)?;
    let mi = d2(b, 15)?;
    let sec = d2(b, 18)?;
    let (ms, i) = frac_ms(b, 20);
    // nginx writes UTC as ` +0000` on almost every line: what `offset` reads it as.
    let off = if &b[i..] == b" +0000" {
        0
    } else {
        offset(b, i)?
    };
    Some(Timestamp::from_millis(
        (secs(y, mo, d, h, mi, sec)? - off) * 1000 + ms,
    ))
}

/// ISO 8601 / RFC 3339-like time: `2020-01-04T08:41:43+00:00`, `...Z`, `...123456Z`,
/// `2024-03-12 15:22:28` (no zone: UTC), `2021/12/02 11:53:15` (nginx error log).
pub(crate) fn iso_time(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let sep = b[4];
    if (sep != b'-' && sep != b'/') || b[7] != sep || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let y = digits(&b[0..4])? as i64;
    let mo = d2(b, 5)?;
    let d = d2(b, 8)?;
    let h = d2(b, 11)?;
    let mi = d2(b, 14)?;
    let sec = d2(b, 17)?;
    let (ms, i) = frac_ms(b, 19);
    let off = offset(b, i)?;
    Some(Timestamp::from_millis(
        (secs(y, mo, d, h, mi, sec)? - off) * 1000 + ms,
    ))
}

/// Epoch seconds as a float (`1693840791.7564995`) to a timestamp.
pub(crate) fn epoch_secs_f64(v: f64) -> Timestamp {
    Timestamp::from_millis((v * 1000.0).round() as i64)
}

/// An epoch number that may be seconds, milliseconds or microseconds.
pub(crate) fn epoch_guess(v: f64) -> Timestamp {
    if v > 1e14 {
        Timestamp::from_millis((v / 1000.0) as i64)
    } else if v > 1e11 {
        Timestamp::from_millis(v as i64)
    } else {
        epoch_secs_f64(v)
    }
}

/// Any of the timestamp shapes above, or an epoch number written as text.
pub(crate) fn any_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if let Some(t) = iso_time(s) {
        return Some(t);
    }
    if let Some(t) = clf_time(s.trim_start_matches('[').trim_end_matches(']')) {
        return Some(t);
    }
    if s.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        if let Ok(v) = s.parse::<f64>() {
            return Some(epoch_guess(v));
        }
    }
    None
}

/// `s.parse::<IpAddr>()`, with a fast road for the common dotted IPv4 address: four octets of
/// one to three digits, no leading zero, each at most 255. Anything else (IPv6, leading zeros,
/// junk) goes to the standard parser, so the result is the same; the fast road takes a tenth
/// of its instructions on the client address every access-log line starts with.
#[inline]
pub(crate) fn parse_ip_exact(s: &str) -> Option<IpAddr> {
    if let Some(v4) = ipv4_canonical(s.as_bytes()) {
        return Some(IpAddr::V4(v4));
    }
    s.parse().ok()
}

/// A dotted IPv4 address in canonical form (see [`parse_ip_exact`]), else `None`: one pass,
/// an octet closed at each `.` and at the end.
#[inline]
fn ipv4_canonical(b: &[u8]) -> Option<std::net::Ipv4Addr> {
    if b.len() < 7 || b.len() > 15 {
        return None;
    }
    let mut octets = [0u8; 4];
    let mut k = 0usize;
    let mut v: u32 = 0;
    let mut digits = 0u32;
    for &c in b {
        if c == b'.' {
            if digits == 0 || k == 3 {
                return None;
            }
            octets[k] = u8::try_from(v).ok()?;
            k += 1;
            v = 0;
            digits = 0;
        } else {
            let d = c.wrapping_sub(b'0');
            // Not a digit, a fourth digit, or a digit after a leading zero.
            if d > 9 || digits == 3 || (digits == 1 && v == 0) {
                return None;
            }
            v = v * 10 + u32::from(d);
            digits += 1;
        }
    }
    if k != 3 || digits == 0 {
        return None;
    }
    octets[3] = u8::try_from(v).ok()?;
    Some(std::net::Ipv4Addr::from(octets))
}

/// An IP address, optionally with a port: `1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]:80`.
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']')?;
        return rest[..end].parse().ok();
    }
    let (host, port) = s.rsplit_once(':')?;
    if port.bytes().all(|c| c.is_ascii_digit()) && !host.contains(':') {
        return host.parse().ok();
    }
    None
}

/// Split a request target into the event's scheme/host/path/query. Absolute URIs
/// (`http://host/x`) fill scheme and host; authority form (`foo.com:25`) is kept as the path.
pub(crate) fn set_target<'a>(ev: &mut ApiEvent<'a>, target: &'a str) {
    let mut t = target;
    // An origin-form target (`/x`) has no scheme: a scheme is all letters before `://`, and
    // one starting with `/` is not, so the search is skipped.
    let origin_form = t.as_bytes().first() == Some(&b'/');
    if let Some(p) = (!origin_form).then(|| find(t.as_bytes(), b"://")).flatten() {
        let scheme = &t[..p];
        if !scheme.is_empty() && scheme.bytes().all(|c| c.is_ascii_alphabetic()) {
            let rest = &t[p + 3..];
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            ev.scheme = Cow::Borrowed(scheme);
            ev.host = Cow::Borrowed(&rest[..end]);
            t = &rest[end..];
            if t.is_empty() {
                t = "/";
            }
        }
    }
    // A byte search (`?` is ASCII, so the split is on a char boundary): `str::find(char)`
    // sets up a searcher that costs more than most targets.
    match memchr::memchr(b'?', t.as_bytes()) {
        Some(q) => {
            ev.path = Cow::Borrowed(&t[..q]);
            ev.query = Cow::Borrowed(&t[q + 1..]);
        }
        None => ev.path = Cow::Borrowed(t),
    }
}

/// Same as [`set_target`] for a target that is not borrowed from the line.
pub(crate) fn set_target_owned(ev: &mut ApiEvent<'_>, target: &str) {
    let mut tmp = ApiEvent::default();
    set_target(&mut tmp, target);
    if !tmp.scheme.is_empty() {
        ev.scheme = Cow::Owned(tmp.scheme.into_owned());
    }
    if !tmp.host.is_empty() {
        ev.host = Cow::Owned(tmp.host.into_owned());
    }
    ev.path = Cow::Owned(tmp.path.into_owned());
    ev.query = Cow::Owned(tmp.query.into_owned());
}

fn is_method(m: &str) -> bool {
    !m.is_empty()
        && m.len() <= 20
        && m.bytes()
            .all(|c| c.is_ascii_uppercase() || c == b'-' || c == b'_')
}

/// Parse an HTTP request line (`GET /x?y HTTP/1.1`) into the event. A line that is not a
/// request (binary junk, `HELP`) leaves the method empty and puts the raw text in `path`.
pub(crate) fn set_request_line<'a>(ev: &mut ApiEvent<'a>, req: &'a str) {
    // method = up to the first space; protocol = after the last space when it is HTTP/x;
    // target = everything between (kept as written, even with stray spaces).
    // Byte searches (spaces are ASCII, so every split is on a char boundary): cheaper than
    // `str::split_once(char)`, which sets up a searcher per call.
    let (m, rest) = match memchr::memchr(b' ', req.as_bytes()) {
        Some(i) => (&req[..i], &req[i + 1..]),
        None => (req, ""),
    };
    let (target, proto) = match memchr::memrchr(b' ', rest.as_bytes()) {
        Some(i) if rest[i + 1..].starts_with("HTTP/") => (&rest[..i], &rest[i + 1..]),
        _ => (rest, ""),
    };
    let target = target.trim_start_matches(' ');
    if is_method(m) && !target.trim().is_empty() && (!proto.is_empty() || !target.contains(' ')) {
        ev.method = Cow::Borrowed(m);
        ev.protocol = Cow::Borrowed(proto);
        set_target(ev, target);
    } else {
        ev.method = Cow::Borrowed("");
        ev.path = Cow::Borrowed(req);
    }
}

/// Owned variant of [`set_request_line`] for text that had to be unescaped.
pub(crate) fn set_request_line_owned(ev: &mut ApiEvent<'_>, req: &str) {
    let mut tmp = ApiEvent::default();
    set_request_line(&mut tmp, req);
    ev.method = Cow::Owned(tmp.method.into_owned());
    ev.protocol = Cow::Owned(tmp.protocol.into_owned());
    if !tmp.scheme.is_empty() {
        ev.scheme = Cow::Owned(tmp.scheme.into_owned());
    }
    if !tmp.host.is_empty() {
        ev.host = Cow::Owned(tmp.host.into_owned());
    }
    ev.path = Cow::Owned(tmp.path.into_owned());
    ev.query = Cow::Owned(tmp.query.into_owned());
}

/// First index of `needle` (non-empty) in `hay`: `memchr` on its first byte, then a compare.
/// For the short, fixed needles of sniffers and field searches this is much cheaper than
/// `memchr::memmem::find` or `str::find(&str)`, which build a searcher on every call.
#[inline]
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut i = 0;
    while let Some(off) = memchr::memchr(first, &hay[i..]) {
        let at = i + off;
        if hay.len() - at > rest.len() && &hay[at + 1..at + 1 + rest.len()] == rest {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// Index of the closing quote of a quoted field whose content starts at `start`: the first
/// `"` not escaped by a backslash and followed by a space or the end of the line.
pub(crate) fn closing_quote(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while let Some(off) = memchr::memchr(b'"', &b[i.min(b.len())..]) {
        let q = i + off;
        let escaped = q > start && b[q - 1] == b'\\' && !(q > start + 1 && b[q - 2] == b'\\');
        if !escaped && (q + 1 == b.len() || b[q + 1] == b' ' || b[q + 1] == b'\t') {
            return Some(q);
        }
        i = q + 1;
    }
    None
}

/// A quoted or bare token at `s` after skipping spaces; returns (token, rest).
pub(crate) fn next_field(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start_matches(' ');
    if s.is_empty() {
        return None;
    }
    if let Some(inner) = s.strip_prefix('"') {
        let end = closing_quote(s.as_bytes(), 1)?;
        let _ = inner;
        Some((&s[1..end], &s[end + 1..]))
    } else {
        let end = s.find(' ').unwrap_or(s.len());
        Some((&s[..end], &s[end..]))
    }
}

/// Seconds written as a decimal (`0.002`) to microseconds.
pub(crate) fn secs_to_us(s: &str) -> Option<u64> {
    let v: f64 = s.parse().ok()?;
    if v.is_finite() && v >= 0.0 {
        Some((v * 1_000_000.0).round() as u64)
    } else {
        None
    }
}

/// Strip a classic BSD syslog prefix (`Jul  8 11:07:07 host prog[pid]: `) when present.
pub(crate) fn strip_syslog(line: &str) -> &str {
    let b = line.as_bytes();
    if b.len() < 17 || month(&b[0..3]).is_none() || b[3] != b' ' || b[9] != b':' || b[12] != b':' {
        return line;
    }
    // after "Mmm dd hh:mm:ss host "
    let Some(rest) = line.get(16..) else {
        return line;
    };
    let Some(sp) = rest.find(' ') else {
        return line;
    };
    let after_host = &rest[sp + 1..];
    match after_host.find(": ") {
        Some(c) if !after_host[..c].contains(' ') => &after_host[c + 2..],
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Guards the short-needle search against `memchr::memmem::find`, which it replaced.
    #[test]
    fn find_agrees_with_memmem() {
        let hays = [
            "",
            "a",
            " [",
            "x [y",
            "[[ [",
            "ab://",
            ":/",
            "\"ts\"",
            "a \"ts\" \"ts\"",
        ];
        let needles = [" [", "://", "\"ts\"", "a", "[", "x [y z"];
        for h in hays {
            for n in needles {
                assert_eq!(
                    find(h.as_bytes(), n.as_bytes()),
                    memchr::memmem::find(h.as_bytes(), n.as_bytes()),
                    "{h:?} {n:?}"
                );
            }
        }
    }

    #[test]
    fn clf_times() {
        let t = clf_time("04/Jan/2020:08:41:43 +0000").map(|t| t.to_rfc3339());
        assert_eq!(t.as_deref(), Some("2020-01-04T08:41:43.000Z"));
        let t = clf_time("29/Jul/2023:10:26:06 -0700").map(|t| t.to_rfc3339());
        assert_eq!(t.as_deref(), Some("2023-07-29T17:26:06.000Z"));
        let t = clf_time("14/Jan/2015:12:48:57.127").map(|t| t.to_rfc3339());
        assert_eq!(t.as_deref(), Some("2015-01-14T12:48:57.127Z"));
        assert_eq!(clf_time("xx/Jan/2015:12:48:57"), None);
    }

    #[test]
    fn iso_times() {
        for (s, want) in [
            ("2020-01-04T08:41:43+01:00", "2020-01-04T07:41:43.000Z"),
            ("2023-04-26T12:22:55.463821Z", "2023-04-26T12:22:55.463Z"),
            ("2024-03-12 15:22:28", "2024-03-12T15:22:28.000Z"),
            ("2021/12/02 11:53:15", "2021-12-02T11:53:15.000Z"),
        ] {
            assert_eq!(
                iso_time(s).map(|t| t.to_rfc3339()).as_deref(),
                Some(want),
                "{s}"
            );
        }
        assert_eq!(iso_time("2020-13-04T08:41:43Z"), None);
    }

    /// Guards the IPv4 fast road against the standard parser it stands in front of.
    #[test]
    fn parse_ip_exact_agrees_with_std() {
        let cases = [
            "1.2.3.4",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3.04",
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.4 ",
            "1..3.4",
            "1.2.3.4:80",
            "1234.1.1.1",
            "10.0.0.1000",
            "192.168.100.200",
            "::1",
            "2600:72ff:a4b5::822a",
            "::ffff:1.2.3.4",
            "",
            "-",
            "a.b.c.d",
            "1.2.3.-4",
            "+1.2.3.4",
            "1.2.3.4a",
            "0.0.0.00",
            "00.1.2.3",
            "1.2.3.",
            ".1.2.3",
            "1.2.3.4.",
            "1.0.0.1",
            "10.20.30.40",
        ];
        for c in cases {
            assert_eq!(parse_ip_exact(c), c.parse::<IpAddr>().ok(), "{c:?}");
        }
        for a in [0u32, 7, 9, 10, 99, 100, 199, 200, 249, 250, 255, 256, 999] {
            let c = format!("{a}.{a}.1.{a}");
            assert_eq!(parse_ip_exact(&c), c.parse::<IpAddr>().ok(), "{c:?}");
        }
    }

    #[test]
    fn ips() {
        assert_eq!(parse_ip("1.2.3.4:80"), "1.2.3.4".parse().ok());
        assert_eq!(parse_ip("[::1]:80"), "::1".parse().ok());
        assert_eq!(parse_ip("2001:db8::1"), "2001:db8::1".parse().ok());
        assert_eq!(parse_ip("example.com"), None);
    }

    #[test]
    fn syslog_prefix() {
        assert_eq!(
            strip_syslog("Jul  8 11:07:07 host nginx[2869]: 1.2.3.4 - -"),
            "1.2.3.4 - -"
        );
        assert_eq!(strip_syslog("1.2.3.4 - - [x]"), "1.2.3.4 - - [x]");
    }
}
