//! Path templates: `/api/users/42/orders/9f1c...` becomes `/api/users/{id}/orders/{id}`.
//!
//! Hot path: every event goes through [`path_template`]. Segments are classified by a byte
//! scan (no regex, no allocation); the template is borrowed when no segment changes.

use std::borrow::Cow;

/// A segment longer than this (in bytes) is templated as `{id}`: no route is named by a
/// 129-byte word, and a huge segment must not become a huge template.
pub const MAX_TEMPLATE_SEGMENT: usize = 128;

/// Segments kept in a template (the empty one before the leading `/` counts); the rest of a
/// longer path becomes one [`REST_SEGMENT`]. With [`MAX_TEMPLATE_SEGMENT`] this bounds every
/// template to about 4 KiB whatever the path.
pub const MAX_TEMPLATE_SEGMENTS: usize = 32;

/// Stands for the segments past [`MAX_TEMPLATE_SEGMENTS`].
pub const REST_SEGMENT: &str = "{rest}";

/// What to do with one path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seg {
    /// Keep it as written.
    Keep,
    /// Replace it by `{id}`.
    Id,
    /// Replace the stem (bytes before `.ext` at this offset) by `{id}`, keep the extension.
    IdWithExt(usize),
}

/// Whether a path segment looks like an object identifier (number, UUID, hex hash, e-mail,
/// date, opaque token, prefixed id like `ord_8f3k2`).
pub fn is_id_segment(seg: &str) -> bool {
    classify(seg.as_bytes()) != Seg::Keep
}

fn classify(b: &[u8]) -> Seg {
    if b.is_empty() || b == b"{id}" {
        return Seg::Keep;
    }
    if b.len() > MAX_TEMPLATE_SEGMENT {
        return Seg::Id;
    }
    if is_id_bytes(b) {
        return Seg::Id;
    }
    // `12345.json`, `INV-2024-0001.pdf`: an id with a file extension.
    if let Some(dot) = b.iter().rposition(|&c| c == b'.') {
        let ext = &b[dot + 1..];
        if dot > 0
            && (1..=5).contains(&ext.len())
            && ext[0].is_ascii_alphabetic()
            && ext.iter().all(u8::is_ascii_alphanumeric)
            && is_id_bytes(&b[..dot])
        {
            return Seg::IdWithExt(dot);
        }
    }
    Seg::Keep
}

/// Bytes that can make a segment an id: digits, `@` and `%` (e-mails, raw or encoded).
static ID_HINT: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = true;
        c += 1;
    }
    t[b'@' as usize] = true;
    t[b'%' as usize] = true;
    t
};

fn is_id_bytes(b: &[u8]) -> bool {
    // Plain words (`users`, `index.php`, `well-known`) are the common case: one table
    // lookup per byte rules them out before the full classification below.
    if !b.iter().any(|&c| ID_HINT[usize::from(c)]) {
        return false;
    }
    let mut digits = 0usize;
    let mut alpha = 0usize;
    let mut hex_only = true;
    let mut other = 0usize;
    let mut at_or_pct = false;
    for &c in b {
        if c.is_ascii_digit() {
            digits += 1;
        } else if c.is_ascii_alphabetic() {
            alpha += 1;
            if !c.is_ascii_hexdigit() {
                hex_only = false;
            }
        } else {
            other += 1;
            hex_only = false;
            at_or_pct |= c == b'@' || c == b'%';
        }
    }
    // Plain words (`users`, `index.php`, `well-known`) are the common case.
    if digits == 0 && !at_or_pct {
        return false;
    }
    // Integers.
    if digits == b.len() {
        return true;
    }
    // API versions are never ids: v1, v2, V10, v1.2.
    if is_version(b) {
        return false;
    }
    // UUIDs (8-4-4-4-12) and hex hashes (>= 16 hex chars, possibly hyphenated).
    if is_uuid(b) {
        return true;
    }
    if hex_only && b.len() >= 16 && digits > 0 {
        return true;
    }
    // E-mails, raw or percent-encoded (`%40`).
    if is_email_like(b) {
        return true;
    }
    // Dates: 2024-01-15, 2024-01-15T10:00:00Z.
    if is_date_prefix(b) {
        return true;
    }
    // Dotted numbers: IPv4 addresses, package versions.
    if digits > 0 && b.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        return true;
    }
    if digits == 0 {
        return false;
    }
    // Prefixed/suffixed ids: `ord_8f3k2`, `user-1234`, `42-my-post`.
    if let Some(sep) = b.iter().position(|&c| c == b'_' || c == b'-') {
        let (head, rest) = (&b[..sep], &b[sep + 1..]);
        if !head.is_empty()
            && head.len() <= 16
            && head.iter().all(u8::is_ascii_alphabetic)
            && is_id_tail(rest)
        {
            return true;
        }
        if head.len() >= 2 && head.iter().all(u8::is_ascii_digit) && !rest.is_empty() {
            return true;
        }
    }
    // Opaque tokens: base64/base64url or long mixed alphanumerics with digits.
    let token_chars = b
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'=' | b'+' | b'~'));
    if token_chars && alpha > 0 {
        if b.len() >= 16 {
            return true;
        }
        if other == 0 && b.len() >= 8 && digits >= 2 && transitions(b) >= 3 {
            return true;
        }
    }
    false
}

/// The part after `user-` / `ord_`: digits (`1234`), or mixed alphanumerics with digits
/// (`8f3k2`), at least two characters.
fn is_id_tail(rest: &[u8]) -> bool {
    rest.len() >= 2
        && rest.iter().all(u8::is_ascii_alphanumeric)
        && rest.iter().any(u8::is_ascii_digit)
        && (rest.iter().all(u8::is_ascii_digit) || rest.len() >= 4)
}

/// Number of letter/digit alternations (`a8f3` has 3).
fn transitions(b: &[u8]) -> usize {
    b.windows(2)
        .filter(|w| w[0].is_ascii_digit() != w[1].is_ascii_digit())
        .count()
}

fn is_version(b: &[u8]) -> bool {
    matches!(b[0], b'v' | b'V')
        && b.len() >= 2
        && b.len() <= 8
        && b[1].is_ascii_digit()
        && b[1..].iter().all(|c| c.is_ascii_digit() || *c == b'.')
}

/// `8-4-4-4-12` hex with hyphens.
pub(crate) fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `local@domain.tld` or `local%40domain.tld`, with a plausible local part and domain.
pub(crate) fn is_email_like(b: &[u8]) -> bool {
    let (local, domain) = match memchr_at(b) {
        Some((at, len)) => (&b[..at], &b[at + len..]),
        None => return false,
    };
    if local.is_empty() || domain.len() < 3 {
        return false;
    }
    let local_ok = local
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-'));
    let dot = match domain.iter().rposition(|&c| c == b'.') {
        Some(d) => d,
        None => return false,
    };
    let domain_ok = dot > 0
        && domain.len() - dot > 2
        && domain
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-'));
    local_ok && domain_ok
}

/// Position and length of `@` or `%40`.
fn memchr_at(b: &[u8]) -> Option<(usize, usize)> {
    for i in 0..b.len() {
        if b[i] == b'@' {
            return Some((i, 1));
        }
        if b[i] == b'%' && b.get(i + 1) == Some(&b'4') && b.get(i + 2) == Some(&b'0') {
            return Some((i, 3));
        }
    }
    None
}

/// Starts with `YYYY-MM-DD` (and nothing but a time after it), or is `YYYYMMDD`-like digits
/// (already covered by integers).
pub(crate) fn is_date_prefix(b: &[u8]) -> bool {
    if b.len() < 10 {
        return false;
    }
    let d = |i: usize| b[i].is_ascii_digit();
    let date = d(0)
        && d(1)
        && d(2)
        && d(3)
        && b[4] == b'-'
        && d(5)
        && d(6)
        && b[7] == b'-'
        && d(8)
        && d(9);
    if !date {
        return false;
    }
    let month = (b[5] - b'0') * 10 + (b[6] - b'0');
    let day = (b[8] - b'0') * 10 + (b[9] - b'0');
    (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && b[10..].iter().all(|&c| {
            c.is_ascii_digit()
                || matches!(
                    c,
                    b'T' | b't' | b' ' | b':' | b'.' | b'Z' | b'z' | b'+' | b'-'
                )
                || c == b'%'
        })
}

/// The template of a path (without query). Borrowed when no segment is an id.
pub fn path_template(path: &str) -> Cow<'_, str> {
    let mut out = String::new();
    match template_into(path, &mut out) {
        Some(_) => Cow::Owned(out),
        None => Cow::Borrowed(path),
    }
}

/// Write the template of `path` into `out` (cleared first) when some segment is an id, and
/// return the last such segment as written (`12345.pdf` for `/invoices/12345.pdf`); return
/// `None`, leaving `out` empty, when the template is the path itself. Lets a hot loop reuse
/// one buffer instead of allocating a template per path.
pub fn template_into<'p>(path: &'p str, out: &mut String) -> Option<&'p str> {
    out.clear();
    let b = path.as_bytes();
    // Find the first segment that changes; most paths have none or one late one.
    let mut start = 0usize;
    let mut seg = 0usize;
    let mut first_change = None;
    while start <= b.len() {
        if seg == MAX_TEMPLATE_SEGMENTS {
            first_change = Some(start);
            break;
        }
        let end = memchr_slash(b, start);
        if classify(&b[start..end]) != Seg::Keep {
            first_change = Some(start);
            break;
        }
        start = end + 1;
        seg += 1;
    }
    let first = first_change?;
    out.reserve(
        path.len()
            .min(MAX_TEMPLATE_SEGMENTS * (MAX_TEMPLATE_SEGMENT + 1)),
    );
    out.push_str(&path[..first]);
    let mut start = first;
    let mut last_id = "";
    loop {
        if seg == MAX_TEMPLATE_SEGMENTS {
            out.push_str(REST_SEGMENT);
            break;
        }
        seg += 1;
        let end = memchr_slash(b, start);
        match classify(&b[start..end]) {
            Seg::Keep => out.push_str(&path[start..end]),
            Seg::Id => {
                out.push_str("{id}");
                last_id = &path[start..end];
            }
            Seg::IdWithExt(dot) => {
                out.push_str("{id}");
                out.push_str(&path[start + dot..end]);
                last_id = &path[start..end];
            }
        }
        if end >= b.len() {
            break;
        }
        out.push('/');
        start = end + 1;
    }
    Some(last_id)
}

/// Index of the next `/` at or after `from`, or the length.
fn memchr_slash(b: &[u8], from: usize) -> usize {
    b[from.min(b.len())..]
        .iter()
        .position(|&c| c == b'/')
        .map_or(b.len(), |p| from + p)
}

/// Byte ranges of the segments of `path` that [`path_template`] replaces, with the original
/// text of each (the id values), in order. Used by the inventory to type path parameters.
pub fn id_segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .take(MAX_TEMPLATE_SEGMENTS)
        .filter_map(|seg| match classify(seg.as_bytes()) {
            Seg::Keep => None,
            Seg::Id => Some(seg),
            Seg::IdWithExt(dot) => Some(&seg[..dot]),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str, expected: &str) {
        let got = path_template(path);
        assert_eq!(got, expected, "template of {path:?}");
        if path == expected {
            assert!(
                matches!(got, Cow::Borrowed(_)),
                "{path:?} should be borrowed"
            );
        }
    }

    #[test]
    fn templates() {
        let cases: &[(&str, &str)] = &[
            ("/", "/"),
            ("", ""),
            ("/api/users", "/api/users"),
            ("/api/users/42", "/api/users/{id}"),
            ("/api/users/42/", "/api/users/{id}/"),
            (
                "/api/v1/users/42/orders/7",
                "/api/v1/users/{id}/orders/{id}",
            ),
            ("/api/v2/items", "/api/v2/items"),
            ("/api/V10/items", "/api/V10/items"),
            ("/api/v1.2/items", "/api/v1.2/items"),
            (
                "/orders/3f2504e0-4f89-11d3-9a0c-0305e82c3301",
                "/orders/{id}",
            ),
            ("/files/d41d8cd98f00b204e9800998ecf8427e", "/files/{id}"),
            (
                "/commits/da39a3ee5e6b4b0d3255bfef95601890afd80709/diff",
                "/commits/{id}/diff",
            ),
            ("/users/alice@example.com/profile", "/users/{id}/profile"),
            ("/users/alice%40example.com", "/users/{id}"),
            ("/reports/2024-01-15", "/reports/{id}"),
            ("/reports/2024-01-15T10:00:00Z/rows", "/reports/{id}/rows"),
            ("/orders/ord_8f3k2", "/orders/{id}"),
            ("/users/user-1234", "/users/{id}"),
            ("/users/usr_12", "/users/{id}"),
            ("/posts/42-my-first-post", "/posts/{id}"),
            ("/sessions/dGhpcyBpcyBhIHRva2VuMTIz", "/sessions/{id}"),
            ("/k/a8f3k2x9", "/k/{id}"),
            ("/index.php", "/index.php"),
            ("/static/logo.png", "/static/logo.png"),
            ("/invoices/12345.pdf", "/invoices/{id}.pdf"),
            ("/hosts/10.0.0.1", "/hosts/{id}"),
            ("/api/oauth2/token", "/api/oauth2/token"),
            ("/codecs/h264", "/codecs/h264"),
            ("/tools/sha256sum", "/tools/sha256sum"),
            ("/api/user-profile", "/api/user-profile"),
            ("/api/well-known/top-level", "/api/well-known/top-level"),
            ("/api/feed/deadbeef", "/api/feed/deadbeef"),
            ("/api/x86_64/builds", "/api/x86_64/builds"),
            ("/a/1/b/2/c/3", "/a/{id}/b/{id}/c/{id}"),
            ("/api/users/{id}", "/api/users/{id}"),
            ("/api/users/john%20doe", "/api/users/john%20doe"),
            ("/api/users/@me", "/api/users/@me"),
        ];
        for (path, expected) in cases {
            check(path, expected);
        }
    }

    /// Guards issue 8 item 3: a multi-megabyte path used to become a template of the same size.
    #[test]
    fn templates_are_bounded_whatever_the_path() {
        let long = "a".repeat(MAX_TEMPLATE_SEGMENT + 1);
        let many = "/x".repeat(40);
        let many_want = format!("{}/{REST_SEGMENT}", "/x".repeat(MAX_TEMPLATE_SEGMENTS - 1));
        let cases: Vec<(String, String)> = vec![
            (format!("/files/{long}/raw"), "/files/{id}/raw".into()),
            (
                format!("/{}", "a".repeat(MAX_TEMPLATE_SEGMENT)),
                format!("/{}", "a".repeat(MAX_TEMPLATE_SEGMENT)),
            ),
            (many.clone(), many_want.clone()),
            (format!("{many}/42"), many_want),
            (
                format!("/u/7{}", "/y".repeat(40)),
                format!(
                    "/u/{{id}}{}/{REST_SEGMENT}",
                    "/y".repeat(MAX_TEMPLATE_SEGMENTS - 3)
                ),
            ),
        ];
        for (path, expected) in &cases {
            check(path, expected);
        }
        let bound = MAX_TEMPLATE_SEGMENTS * (MAX_TEMPLATE_SEGMENT + 1) + REST_SEGMENT.len();
        for path in [
            "/".repeat(5 << 20),
            format!("/{}", "b".repeat(5 << 20)),
            "/seg-word".repeat(1 << 19),
            "/1".repeat(1 << 20),
        ] {
            let t = path_template(&path);
            assert!(t.len() <= bound, "template of {} bytes", t.len());
            assert!(id_segments(&path).count() <= MAX_TEMPLATE_SEGMENTS);
        }
    }

    #[test]
    fn template_into_reuses_the_buffer_and_names_the_last_id() {
        let mut buf = String::from("stale");
        assert_eq!(template_into("/api/users", &mut buf), None);
        assert_eq!(buf, "");
        assert_eq!(template_into("/u/42/f/9.pdf/x", &mut buf), Some("9.pdf"));
        assert_eq!(buf, "/u/{id}/f/{id}.pdf/x");
        assert_eq!(template_into("/a/7", &mut buf), Some("7"));
        assert_eq!(buf, "/a/{id}");
    }

    #[test]
    fn id_segments_give_original_values() {
        let got: Vec<_> = id_segments("/u/42/f/9.pdf/x").collect();
        assert_eq!(got, vec!["42", "9"]);
    }
}
