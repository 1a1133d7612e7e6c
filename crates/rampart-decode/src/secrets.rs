//! Redaction of credentials on the decoded values of an event, and of its raw evidence.
//!
//! Enrichment first derives the identities it needs from the clear values (API-key HMAC id,
//! principal from Basic auth or a JWT `sub`), then [`redact`] replaces every secret by
//! [`REDACTED`]:
//!
//! - secret headers (request and response): the value, keeping what helps an analyst and is
//!   not secret: the auth scheme (`Bearer [redacted]`), cookie names (`sid=[redacted]`) and
//!   `Set-Cookie` attributes;
//! - secret query keys and body fields wherever they appear as `name=value` (query strings,
//!   form bodies, referers, request lines, messages), as JSON keys (bodies, records), or as
//!   multipart form fields;
//! - the raw line: a JSON record is parsed one level at a time into raw slices, redacted by
//!   key (so escaped forms like `\/` and `\u0053`, and array-valued headers, are caught on
//!   their decoded values), and only the values holding secrets are rewritten in place (key
//!   order and formatting stay as written); a text line has its `name=value` spans and the
//!   clear values of its redacted headers rewritten.
//!
//! The clean-input fast path: an event without headers, bodies or messages whose query and
//! referer hold no secret key costs a few length checks; a JSON line is re-parsed only when
//! an Aho-Corasick scan of it finds a secret name (or a `\u00` escape that could hide one).

use std::borrow::Cow;

use aho_corasick::AhoCorasick;
use rampart_model::ApiEvent;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::DecodeConfig;

/// What a secret value is replaced by.
pub const REDACTED: &str = "[redacted]";

/// [`REDACTED`] as a JSON string.
const QUOTED_REDACTED: &str = "\"[redacted]\"";

/// Request and response headers whose values are secrets (lower-case). The configured
/// `api_key_headers` are always added.
pub const DEFAULT_SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
    "x-access-token",
    "x-amz-security-token",
    "ocp-apim-subscription-key",
];

/// Query-string keys whose values are secrets (matched case-insensitively, percent-decoded,
/// `-` and `_` alike; also as JSON keys).
pub const DEFAULT_SECRET_QUERY_KEYS: &[&str] = &[
    "access_token",
    "api_key",
    "apikey",
    "token",
    "id_token",
    "refresh_token",
    "password",
    "secret",
    "client_secret",
    "signature",
    "sig",
    "x-amz-signature",
    "x-amz-security-token",
    "subscription-key",
];

/// Body fields (JSON keys, form and multipart fields) whose values are secrets (matched like
/// query keys; a nested form name `user[password]` matches `password`).
pub const DEFAULT_SECRET_BODY_FIELDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "current_password",
    "new_password",
    "old_password",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "api_key",
    "apikey",
    "private_key",
];

/// Cookie attributes kept in clear in a `Set-Cookie` value.
const COOKIE_ATTRIBUTES: &[&str] = &[
    "path",
    "domain",
    "expires",
    "max-age",
    "samesite",
    "secure",
    "httponly",
    "priority",
    "partitioned",
];

/// Prefixes under which JSON log formats name headers (`http_authorization` in nginx,
/// `request_Authorization` in Traefik, `sent_http_set_cookie`), after `_` became `-`.
const HEADER_KEY_PREFIXES: &[&str] = &[
    "http-",
    "request-",
    "req-",
    "response-",
    "resp-",
    "sent-http-",
    "upstream-http-",
    "downstream-",
];

/// Longest field name compared (normalized); longer keys are never secrets.
const MAX_NAME: usize = 64;

/// Which headers, query keys and body fields hold secrets, compiled once: names normalized
/// and an Aho-Corasick automaton over every spelling a raw line may use.
#[derive(Debug, Clone)]
pub struct SecretsConfig {
    headers: Vec<String>,
    fields: Vec<String>,
    /// Bit `n` set when some field name is `n` bytes long (quick reject).
    field_lens: u128,
    prefilter: AhoCorasick,
    /// `earer ` and `asic `: credentials after an auth scheme in free text.
    schemes: [memchr::memmem::Finder<'static>; 2],
}

impl Default for SecretsConfig {
    fn default() -> Self {
        SecretsConfig::new(&[], &[], &[])
    }
}

fn norm_field(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('-', "_")
}

impl SecretsConfig {
    /// The defaults plus `headers`, `query_keys` and `body_fields` (the configured API-key
    /// headers belong in `headers`).
    pub fn new(headers: &[String], query_keys: &[String], body_fields: &[String]) -> Self {
        let mut hs: Vec<String> = DEFAULT_SECRET_HEADERS
            .iter()
            .map(|h| h.to_string())
            .chain(headers.iter().map(|h| h.trim().to_ascii_lowercase()))
            .filter(|h| !h.is_empty())
            .collect();
        hs.sort();
        hs.dedup();
        let mut fs: Vec<String> = DEFAULT_SECRET_QUERY_KEYS
            .iter()
            .chain(DEFAULT_SECRET_BODY_FIELDS)
            .map(|f| norm_field(f))
            .chain(query_keys.iter().chain(body_fields).map(|f| norm_field(f)))
            .filter(|f| !f.is_empty() && f.len() <= MAX_NAME)
            .collect();
        fs.sort();
        fs.dedup();
        let field_lens = fs.iter().fold(0u128, |m, f| m | (1u128 << f.len()));
        let mut pats: Vec<String> = vec!["\\u00".to_owned()];
        for h in &hs {
            pats.push(h.clone());
            pats.push(h.replace('-', "_"));
        }
        for f in &fs {
            pats.push(f.clone());
            pats.push(f.replace('_', "-"));
            pats.push(f.replace('_', "%5f"));
            pats.push(f.replace('_', "%2d"));
        }
        pats.sort();
        pats.dedup();
        let prefilter = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&pats)
            .unwrap_or_else(|_| {
                // Only a pattern set too large for the automaton fails; the names are short.
                AhoCorasick::new(["\\u00"]).unwrap_or_else(|_| unreachable!())
            });
        SecretsConfig {
            headers: hs,
            fields: fs,
            field_lens,
            prefilter,
            schemes: [
                memchr::memmem::Finder::new("earer ").into_owned(),
                memchr::memmem::Finder::new("asic ").into_owned(),
            ],
        }
    }

    /// The secret header names (lower-case).
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The secret query keys and body fields (lower-case, `_` for `-`).
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// Whether `text` may hold a secret name (cheap scan, false positives allowed).
    pub fn may_contain(&self, text: &str) -> bool {
        self.prefilter.is_match(text)
    }

    /// [`may_contain`](Self::may_contain) for a JSON record: a name used as a key with an
    /// empty value (`"http_authorization":""`, as nginx logs a request without one) does
    /// not count.
    pub fn may_contain_record(&self, raw: &str) -> bool {
        let b = raw.as_bytes();
        self.prefilter.find_iter(raw).any(|m| {
            let after = &b[m.end()..];
            !(after.starts_with(b"\":\"\"")
                || after.starts_with(b"\":\"-\"")
                || after.starts_with(b"\":null")
                || after.starts_with(b"\": \"\""))
        })
    }

    fn is_header(&self, name: &str, cfg: &DecodeConfig) -> bool {
        self.headers.iter().any(|h| h.eq_ignore_ascii_case(name))
            || cfg
                .api_key_headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case(name))
    }

    /// A JSON key naming a secret header (`Authorization`, `http_authorization`,
    /// `request_Authorization`): the canonical header name.
    fn header_key(&self, key: &str, cfg: &DecodeConfig) -> Option<String> {
        if key.len() > 2 * MAX_NAME {
            return None;
        }
        // lower-case with `-` for `_`, on the stack: this runs for every key of a record
        let mut buf = [0u8; 2 * MAX_NAME];
        for (d, c) in buf.iter_mut().zip(key.bytes()) {
            *d = if c == b'_' {
                b'-'
            } else {
                c.to_ascii_lowercase()
            };
        }
        // ASCII case mapping and `_` -> `-` keep UTF-8 valid
        let k = std::str::from_utf8(&buf[..key.len()]).ok()?;
        if self.is_header(k, cfg) {
            return Some(k.to_owned());
        }
        HEADER_KEY_PREFIXES
            .iter()
            .filter_map(|p| k.strip_prefix(p))
            .find(|rest| self.is_header(rest, cfg))
            .map(str::to_owned)
    }

    /// Whether `key` (as written: maybe percent-encoded, any case, nested `a[b]` or `a.b`)
    /// names a secret field.
    pub fn is_field(&self, key: &str) -> bool {
        let b = key.as_bytes();
        if b.is_empty() || b.len() > 3 * MAX_NAME {
            return false;
        }
        let plain = !b.iter().any(|&c| matches!(c, b'%' | b'[' | b'.' | b'+'));
        if plain {
            // the common case (`limit`, `q`): a length test, then a compare without a copy
            return b.len() < 128
                && self.field_lens & (1u128 << b.len()) != 0
                && self.fields.iter().any(|f| {
                    f.len() == b.len()
                        && f.bytes().zip(b).all(|(x, &y)| {
                            x == if y == b'-' {
                                b'_'
                            } else {
                                y.to_ascii_lowercase()
                            }
                        })
                });
        }
        let mut buf = [0u8; 3 * MAX_NAME];
        let mut n = 0;
        let mut i = 0;
        while i < b.len() {
            let c = match b[i] {
                b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        i += 2;
                        h * 16 + l
                    }
                    _ => b'%',
                },
                c => c,
            };
            buf[n] = match c.to_ascii_lowercase() {
                b'-' => b'_',
                c => c,
            };
            n += 1;
            i += 1;
        }
        let norm = &buf[..n];
        if self.has_field(norm) {
            return true;
        }
        // `user[password]`, `user.password`: the innermost name.
        let inner = match norm.iter().rposition(|&c| c == b'[') {
            Some(l) => {
                let rest = &norm[l + 1..];
                rest.strip_suffix(b"]").unwrap_or(rest)
            }
            None => match norm.iter().rposition(|&c| c == b'.') {
                Some(d) => &norm[d + 1..],
                None => return false,
            },
        };
        self.has_field(inner)
    }

    fn has_field(&self, norm: &[u8]) -> bool {
        norm.len() < 128
            && self.field_lens & (1u128 << norm.len()) != 0
            && self.fields.iter().any(|f| f.as_bytes() == norm)
    }
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The redacted form of a secret header's value, or `None` when there is nothing to redact.
pub fn redact_header(name: &str, value: &str) -> Option<String> {
    let v = value.trim();
    if v.is_empty() || v == "-" {
        return None;
    }
    let out = if name.eq_ignore_ascii_case("authorization")
        || name.eq_ignore_ascii_case("proxy-authorization")
    {
        match v.split_once(' ') {
            Some((scheme, cred))
                if !scheme.is_empty()
                    && scheme
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'-')
                    && !cred.trim().is_empty() =>
            {
                format!("{scheme} {REDACTED}")
            }
            _ => REDACTED.to_owned(),
        }
    } else if name.eq_ignore_ascii_case("cookie") {
        redact_pairs(v, b";", &[])
    } else if name.eq_ignore_ascii_case("set-cookie") {
        redact_pairs(v, b";,", COOKIE_ATTRIBUTES)
    } else {
        REDACTED.to_owned()
    };
    (out != value).then_some(out)
}

/// `a=1; b=2` -> `a=[redacted]; b=[redacted]`, splitting on any of `seps`, keeping the
/// separators and the pairs named in `keep`; a piece without `=` is kept when its name is in
/// `keep` (`Secure`), else redacted.
fn redact_pairs(v: &str, seps: &[u8], keep: &[&str]) -> String {
    let mut out = String::with_capacity(v.len());
    let mut rest = v;
    loop {
        let end = rest
            .bytes()
            .position(|c| seps.contains(&c))
            .unwrap_or(rest.len());
        let piece = &rest[..end];
        let name = piece.split_once('=').map_or(piece, |(n, _)| n);
        let lead = &piece[..piece.len() - piece.trim_start().len()];
        let kept = keep.iter().any(|k| name.trim().eq_ignore_ascii_case(k))
            || (!piece.contains('=') && piece.trim().is_empty())
            // `Expires=Wed, 21 Oct 2015 ...`: the part after the comma is a date, not a cookie
            || (!keep.is_empty() && !piece.contains('='));
        if kept {
            out.push_str(piece);
        } else if piece.contains('=') {
            out.push_str(lead);
            out.push_str(name.trim());
            out.push('=');
            out.push_str(REDACTED);
        } else {
            out.push_str(lead);
            out.push_str(REDACTED);
        }
        if end >= rest.len() {
            break;
        }
        out.push_str(&rest[end..end + 1]);
        rest = &rest[end + 1..];
    }
    out
}

fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'%' | b'[' | b']' | b'+')
}

fn is_value_end(c: u8) -> bool {
    matches!(
        c,
        b'&' | b' '
            | b'"'
            | b','
            | b';'
            | b'}'
            | b']'
            | b'<'
            | b'>'
            | b'\''
            | b'\t'
            | b'\r'
            | b'\n'
    )
}

/// Index of the closing `"` of a quoted value starting at `from`, honouring backslash
/// escapes; the length when unterminated (a truncated sample).
fn quoted_end(b: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i,
            _ => i += 1,
        }
    }
    b.len()
}

/// Redact `name=value` and `"name": value` assignments of secret fields, and credentials
/// after `Bearer ` / `Basic `, in free text (query strings, form bodies, request lines, JSON
/// text, messages, log fields Rampart does not parse); `None` when nothing changed.
/// Multipart parts are left to the body redaction.
pub fn redact_text(text: &str, s: &SecretsConfig) -> Option<String> {
    match redact_assignments(text, s) {
        Some(o) => Some(redact_schemes(&o, s).unwrap_or(o)),
        None => redact_schemes(text, s),
    }
}

fn is_token_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'~' | b'+' | b'/' | b'=' | b'-')
}

/// Credentials written after an auth scheme (`Bearer eyJ...`, `basic dXNlcjpw`) anywhere in
/// free text: a token of at least 8 characters after a whole-word scheme.
pub fn redact_schemes(text: &str, s: &SecretsConfig) -> Option<String> {
    let b = text.as_bytes();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for f in &s.schemes {
        for at in f.find_iter(b) {
            // the scheme's first letter, then a word boundary before it
            if at == 0 || !matches!(b[at - 1], b'B' | b'b') {
                continue;
            }
            if at >= 2 && b[at - 2].is_ascii_alphanumeric() {
                continue;
            }
            let ts = at + f.needle().len();
            let te = (ts..b.len())
                .find(|&j| !is_token_byte(b[j]))
                .unwrap_or(b.len());
            if te - ts >= 8 && &text[ts..te] != REDACTED {
                spans.push((ts, te));
            }
        }
    }
    if spans.is_empty() {
        return None;
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (a, e) in spans {
        if a < copied {
            continue;
        }
        out.push_str(&text[copied..a]);
        out.push_str(REDACTED);
        copied = e;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

fn redact_assignments(text: &str, s: &SecretsConfig) -> Option<String> {
    let b = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0usize;
    let mut i = 0usize;
    while i < b.len() {
        let Some(off) = memchr::memchr2(b'=', b':', &b[i..]) else {
            break;
        };
        let sep = i + off;
        i = sep + 1;
        let mut ke = sep;
        while ke > 0 && b[ke - 1] == b' ' {
            ke -= 1;
        }
        let quoted = ke > 0 && b[ke - 1] == b'"';
        if quoted {
            ke -= 1;
        } else if b[sep] == b':' {
            continue;
        }
        let mut ks = ke;
        while ks > 0 && is_key_byte(b[ks - 1]) {
            ks -= 1;
        }
        if ks == ke || (quoted && (ks == 0 || b[ks - 1] != b'"')) {
            continue;
        }
        if !s.is_field(&text[ks..ke]) {
            continue;
        }
        let mut vs = sep + 1;
        while vs < b.len() && b[vs] == b' ' {
            vs += 1;
        }
        // already redacted (a second pass, a re-pushed record): leave it
        if text[vs..].starts_with(REDACTED) {
            i = vs + REDACTED.len();
            continue;
        }
        let mut mark = REDACTED;
        let ve = match b.get(vs) {
            Some(b'"') => {
                vs += 1;
                if text[vs..].starts_with(REDACTED) {
                    i = vs + REDACTED.len();
                    continue;
                }
                quoted_end(b, vs)
            }
            // a nested JSON value: its own keys are looked at as the scan goes on
            Some(b'{') | Some(b'[') if b[sep] == b':' => continue,
            _ => {
                if b[sep] == b':' {
                    // a bare JSON value (`"pin": 1234`) becomes a string, so JSON stays JSON
                    mark = QUOTED_REDACTED;
                }
                (vs..b.len())
                    .find(|&j| is_value_end(b[j]))
                    .unwrap_or(b.len())
            }
        };
        if ve > vs {
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[copied..vs]);
            o.push_str(mark);
            copied = ve;
        }
        i = i.max(ve);
    }
    let mut o = out?;
    o.push_str(&text[copied..]);
    Some(o)
}

/// [`redact_text`], then multipart fields: for bodies.
fn redact_body_text(text: &str, s: &SecretsConfig) -> Option<String> {
    match redact_text(text, s) {
        Some(o) => Some(redact_multipart(&o, s).unwrap_or(o)),
        None => redact_multipart(text, s),
    }
}

/// Multipart form fields named like a secret (`name="password"`): their part bodies.
fn redact_multipart(text: &str, s: &SecretsConfig) -> Option<String> {
    let b = text.as_bytes();
    crate::util::find(b, b"form-data")?;
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while let Some(off) = crate::util::find(&b[i..], b"name=\"") {
        let ns = i + off + 6;
        let ne = quoted_end(b, ns);
        i = ne.max(ns);
        if !s.is_field(&text[ns..ne]) {
            continue;
        }
        let Some(blank) = crate::util::find(&b[ne..], b"\n\n")
            .map(|p| ne + p + 2)
            .or_else(|| crate::util::find(&b[ne..], b"\r\n\r\n").map(|p| ne + p + 4))
        else {
            continue;
        };
        let end = crate::util::find(&b[blank..], b"\n--")
            .map(|p| {
                let e = blank + p;
                if e > blank && b[e - 1] == b'\r' {
                    e - 1
                } else {
                    e
                }
            })
            .unwrap_or(b.len());
        if end > blank && &text[blank..end] != REDACTED {
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[copied..blank]);
            o.push_str(REDACTED);
            copied = end;
        }
        i = i.max(end);
    }
    let mut o = out?;
    o.push_str(&text[copied..]);
    Some(o)
}

fn redact_header_json(name: &str, val: &mut Value) -> bool {
    match val {
        Value::String(st) => match redact_header(name, st) {
            Some(r) => {
                *st = r;
                true
            }
            None => false,
        },
        Value::Array(a) => a
            .iter_mut()
            .fold(false, |c, x| redact_header_json(name, x) | c),
        Value::Null => false,
        other => {
            *other = Value::String(REDACTED.to_owned());
            true
        }
    }
}

/// One JSON value seen one level deep: object entries and array items stay raw slices of the
/// input (so their offsets are known), strings are unescaped.
enum Node<'a> {
    Object(Vec<(Cow<'a, str>, &'a RawValue)>),
    Array(Vec<&'a RawValue>),
    Str(Cow<'a, str>),
    Other,
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Node<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Node<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a json value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Node<'a>, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<Cow<'a, str>, &'a RawValue>()? {
                    out.push((k, v));
                }
                Ok(Node::Object(out))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut q: A,
            ) -> Result<Node<'a>, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = q.next_element::<&'a RawValue>()? {
                    out.push(v);
                }
                Ok(Node::Array(out))
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Node<'a>, E> {
                Ok(Node::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Node<'a>, E> {
                Ok(Node::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Node<'a>, E> {
                Ok(Node::Str(Cow::Owned(v)))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Node<'a>, E> {
                Ok(Node::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Node<'a>, E> {
                Ok(Node::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Node<'a>, E> {
                Ok(Node::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Node<'a>, E> {
                Ok(Node::Other)
            }
            fn visit_unit<E>(self) -> Result<Node<'a>, E> {
                Ok(Node::Other)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Replacements (byte range of the whole text, new JSON text) collected by [`splice_value`].
type Splices = Vec<(usize, usize, String)>;

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{REDACTED}\""))
}

/// Where `part` (a slice of `whole`) starts in it.
fn offset(whole: &str, part: &str) -> usize {
    part.as_ptr() as usize - whole.as_ptr() as usize
}

/// Redact the JSON value `v` (a slice of `whole`) by key, recording replacements of the
/// smallest spans that change: formatting, key order and every clean byte stay as written.
fn splice_value(
    whole: &str,
    v: &str,
    s: &SecretsConfig,
    cfg: &DecodeConfig,
    out: &mut Splices,
) -> Result<(), serde_json::Error> {
    match serde_json::from_str::<Node<'_>>(v)? {
        Node::Object(entries) => {
            // OCSF-style header lists: `{"name": "Authorization", "value": "..."}`.
            let pair_name = entries
                .iter()
                .find(|(k, _)| k == "name")
                .filter(|_| entries.iter().any(|(k, _)| k == "value"))
                .and_then(|(_, n)| serde_json::from_str::<Cow<'_, str>>(n.get()).ok());
            for (k, child) in &entries {
                let key: &str = if k == "value" {
                    pair_name.as_deref().unwrap_or(k)
                } else {
                    k
                };
                let c = child.get();
                if let Some(h) = s.header_key(key, cfg) {
                    let mut val: Value = serde_json::from_str(c)?;
                    if redact_header_json(&h, &mut val) {
                        let at = offset(whole, c);
                        out.push((at, at + c.len(), val.to_string()));
                    }
                } else if s.is_field(key) {
                    if c != "null" && c != QUOTED_REDACTED {
                        let at = offset(whole, c);
                        out.push((at, at + c.len(), QUOTED_REDACTED.to_owned()));
                    }
                } else if s.may_contain(c) {
                    splice_value(whole, c, s, cfg, out)?;
                }
            }
        }
        Node::Array(items) => {
            for child in items {
                if s.may_contain(child.get()) {
                    splice_value(whole, child.get(), s, cfg, out)?;
                }
            }
        }
        Node::Str(text) => {
            if let Some(r) = redact_text_or_json(&text, s, cfg) {
                let at = offset(whole, v);
                out.push((at, at + v.len(), json_string(&r)));
            }
        }
        Node::Other => {}
    }
    Ok(())
}

/// Redact a JSON document (a record or a body) by key, rewriting only the values that hold
/// secrets; `Ok(None)` when nothing changed, an error when it is not JSON.
pub fn redact_json_text(
    text: &str,
    s: &SecretsConfig,
    cfg: &DecodeConfig,
) -> Result<Option<String>, serde_json::Error> {
    let mut splices = Splices::new();
    let t = text.trim();
    splice_value(text, t, s, cfg, &mut splices)?;
    if splices.is_empty() {
        return Ok(None);
    }
    splices.sort_by_key(|x| x.0);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (a, b, r) in splices {
        if a < copied {
            continue;
        }
        out.push_str(&text[copied..a]);
        out.push_str(&r);
        copied = b;
    }
    out.push_str(&text[copied..]);
    Ok(Some(out))
}

/// A body or string value: parsed and redacted by key when it is a JSON object or array,
/// else scanned as text. `None` when nothing changed.
pub fn redact_text_or_json(text: &str, s: &SecretsConfig, cfg: &DecodeConfig) -> Option<String> {
    if !s.may_contain(text) {
        return None;
    }
    let t = text.trim();
    if (t.starts_with('{') && t.ends_with('}')) || (t.starts_with('[') && t.ends_with(']')) {
        if let Ok(r) = redact_json_text(text, s, cfg) {
            return r;
        }
    }
    redact_body_text(text, s)
}

/// The clear secret pieces of a secret header's value (the credential after the scheme,
/// each cookie value, or the whole value), each to be replaced by [`REDACTED`] in a text line.
fn secret_parts(name: &str, value: &str, out: &mut Vec<(String, String)>) {
    let v = value.trim();
    let mut push = |p: &str| {
        let p = p.trim();
        if !p.is_empty() && p != REDACTED {
            out.push((p.to_owned(), REDACTED.to_owned()));
        }
    };
    if name.eq_ignore_ascii_case("authorization")
        || name.eq_ignore_ascii_case("proxy-authorization")
    {
        push(v.split_once(' ').map_or(v, |(_, c)| c));
    } else if name.eq_ignore_ascii_case("cookie") || name.eq_ignore_ascii_case("set-cookie") {
        for piece in v.split([';', ',']) {
            if let Some((n, val)) = piece.split_once('=') {
                if !COOKIE_ATTRIBUTES
                    .iter()
                    .any(|a| n.trim().eq_ignore_ascii_case(a))
                {
                    push(val);
                }
            }
        }
    } else {
        push(v);
    }
}

fn set<'a>(field: &mut Cow<'a, str>, new: Option<String>) -> bool {
    match new {
        Some(n) => {
            *field = Cow::Owned(n);
            true
        }
        None => false,
    }
}

/// Redact every secret of a decoded event: headers, query, path, referer, message, bodies
/// and the raw line. Call after the identities were derived from the clear values.
pub fn redact(ev: &mut ApiEvent<'_>, cfg: &DecodeConfig) {
    let s = &cfg.secrets;
    let mut changed = false;
    // Clear header values and their redacted forms, for rewriting a text line.
    let mut swaps: Vec<(String, String)> = Vec::new();
    for (k, v) in ev
        .request_headers
        .iter_mut()
        .chain(ev.response_headers.iter_mut())
    {
        let new = if s.is_header(k, cfg) {
            let n = redact_header(k, v);
            if n.is_some() {
                secret_parts(k, v, &mut swaps);
            }
            n
        } else {
            redact_text(v, s)
        };
        if let Some(n) = new {
            swaps.push((v.trim().to_owned(), n.clone()));
            *v = Cow::Owned(n);
            changed = true;
        }
    }
    if !ev.query.is_empty() {
        let new = redact_text(&ev.query, s);
        changed |= set(&mut ev.query, new);
    }
    if memchr::memchr(b'=', ev.path.as_bytes()).is_some() {
        let new = redact_text(&ev.path, s);
        changed |= set(&mut ev.path, new);
    }
    if memchr::memchr(b'=', ev.referer.as_bytes()).is_some() {
        let new = redact_text(&ev.referer, s);
        changed |= set(&mut ev.referer, new);
    }
    if let Some(m) = ev.message.as_mut() {
        let new = redact_text(m, s);
        changed |= set(m, new);
    }
    for body in [ev.request_body.as_mut(), ev.response_body.as_mut()]
        .into_iter()
        .flatten()
    {
        let new = redact_text_or_json(body, s, cfg);
        changed |= set(body, new);
    }
    let raw = &ev.raw;
    let new_raw = if raw.as_bytes().first() == Some(&b'{') {
        if !(changed || s.may_contain_record(raw)) {
            return;
        }
        match redact_json_text(raw, s, cfg) {
            Ok(r) => r,
            Err(_) => redact_text(raw, s),
        }
    } else {
        if !changed {
            // fields Rampart does not parse (a custom format's trailing `"$http_authorization"`)
            let r = redact_schemes(raw, s);
            set(&mut ev.raw, r);
            return;
        }
        let mut r = redact_text(raw, s);
        for (clear, red) in &swaps {
            let cur = r.as_deref().unwrap_or(raw);
            if clear.len() >= 4 && cur.contains(clear.as_str()) {
                r = Some(cur.replace(clear.as_str(), red));
            }
        }
        r
    };
    set(&mut ev.raw, new_raw);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values() {
        for (name, value, want) in [
            ("authorization", "Bearer abc.def", Some("Bearer [redacted]")),
            ("authorization", "Bearer [redacted]", None),
            ("authorization", "opaque-token", Some("[redacted]")),
            ("authorization", "-", None),
            ("proxy-authorization", "Basic dTpw", Some("Basic [redacted]")),
            ("cookie", "sid=1; theme=dark", Some("sid=[redacted]; theme=[redacted]")),
            ("cookie", "bare", Some("[redacted]")),
            (
                "set-cookie",
                "sid=1; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT; HttpOnly, b=2; Secure",
                Some("sid=[redacted]; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT; HttpOnly, b=[redacted]; Secure"),
            ),
            ("x-api-key", "k-123", Some("[redacted]")),
        ] {
            assert_eq!(redact_header(name, value).as_deref(), want, "{name}: {value}");
        }
    }

    #[test]
    fn text_assignments() {
        let s = SecretsConfig::default();
        for (text, want) in [
            ("a=1&b=2", None),
            ("access_token=x&a=1", Some("access_token=[redacted]&a=1")),
            ("a=1&Access-Token=x", Some("a=1&Access-Token=[redacted]")),
            ("access%5Ftoken=x", Some("access%5Ftoken=[redacted]")),
            (
                "user%5Bpassword%5D=x&u=b",
                Some("user%5Bpassword%5D=[redacted]&u=b"),
            ),
            ("user.password=x", Some("user.password=[redacted]")),
            (
                "GET /cb?token=abc HTTP/1.1",
                Some("GET /cb?token=[redacted] HTTP/1.1"),
            ),
            (
                r#"{"password": "a\"b", "u": 1}"#,
                Some(r#"{"password": "[redacted]", "u": 1}"#),
            ),
            (
                r#"{"password":"unterminated"#,
                Some(r#"{"password":"[redacted]"#),
            ),
            (r#"{"pwd":12345}"#, Some(r#"{"pwd":"[redacted]"}"#)),
            ("password=[redacted]&a=1", None),
            (r#"{"password":"[redacted]"}"#, None),
            ("password: x", None),
            ("http://h:80/tokens", None),
            ("tokenizer=1&passwords=2", None),
            (
                r#"1.2.3.4 "GET / HTTP/1.1" "Bearer eyJhbGc.x-y_z" "basic dXNlcjpwYXNz""#,
                Some(r#"1.2.3.4 "GET / HTTP/1.1" "Bearer [redacted]" "basic [redacted]""#),
            ),
            ("Basic browser, NotBearer abcdefghij", None),
        ] {
            assert_eq!(redact_text(text, &s).as_deref(), want, "{text}");
        }
    }

    #[test]
    fn configured_names_are_redacted_too() {
        let s = SecretsConfig::new(&["x-session".into()], &["otp".into()], &["PIN".into()]);
        assert_eq!(
            redact_text("otp=1&pin=2&x=3", &s).as_deref(),
            Some("otp=[redacted]&pin=[redacted]&x=3")
        );
        let cfg = DecodeConfig {
            secrets: s,
            ..DecodeConfig::default()
        };
        let mut ev = ApiEvent {
            request_headers: vec![("x-session".into(), "abc123".into())],
            raw: r#"{"h":{"X-Session":"abc123"},"body":"pin=9876"}"#.into(),
            ..ApiEvent::default()
        };
        redact(&mut ev, &cfg);
        assert_eq!(ev.request_header("x-session"), Some(REDACTED));
        assert_eq!(
            ev.raw,
            r#"{"h":{"X-Session":"[redacted]"},"body":"pin=[redacted]"}"#
        );
    }

    /// Only the secret values of a JSON record change: key order, spacing and escapes of the
    /// clean values stay as written.
    #[test]
    fn json_records_are_rewritten_in_place() {
        let s = SecretsConfig::default();
        let cfg = DecodeConfig::default();
        for (text, want) in [
            (
                r#"{ "z": "a\/b",  "Authorization" : ["Bearer x\/y", "Basic ab"], "a": 1 }"#,
                Some(
                    r#"{ "z": "a\/b",  "Authorization" : ["Bearer [redacted]","Basic [redacted]"], "a": 1 }"#,
                ),
            ),
            (
                r#"{"uri":"/x?access_token=t1&b=2","n":{"password":"p","k":[{"name":"X-Api-Key","value":"v"}]}}"#,
                Some(
                    r#"{"uri":"/x?access_token=[redacted]&b=2","n":{"password":"[redacted]","k":[{"name":"X-Api-Key","value":"[redacted]"}]}}"#,
                ),
            ),
            (
                r#"{"password":"x","token":null}"#,
                Some(r#"{"password":"[redacted]","token":null}"#),
            ),
            (r#"{"path":"/a","http_authorization":""}"#, None),
        ] {
            let got = redact_json_text(text, &s, &cfg).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(got.as_deref(), want, "{text}");
        }
        assert!(redact_json_text("{not json", &s, &cfg).is_err());
    }

    /// Bounded property test: random mixes of the bytes the scanners key on never panic
    /// (every cut is on a char boundary), and redacting twice changes nothing more.
    #[test]
    fn redaction_never_panics_and_is_idempotent() {
        const PIECES: &[&str] = &[
            "=",
            ":",
            "\"",
            "\\",
            "%",
            "%5F",
            "[",
            "]",
            "{",
            "}",
            ",",
            " ",
            "&",
            ";",
            "\n",
            "\r\n\r\n",
            "password",
            "access_token",
            "user",
            "é",
            "🦀",
            "x",
            "1",
            "name=\"",
            "form-data",
            "\n--",
            "[redacted]",
            "Bearer ",
            "\\u0061",
        ];
        let s = SecretsConfig::default();
        let cfg = DecodeConfig::default();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut t = String::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for k in 0..(x % 24) {
                t.push_str(PIECES[((x >> (k % 8 * 8)) as usize + k as usize * 7) % PIECES.len()]);
            }
            let once = redact_text(&t, &s).unwrap_or_else(|| t.clone());
            assert_eq!(redact_text(&once, &s), None, "twice: {t:?} -> {once:?}");
            let _ = redact_body_text(&t, &s);
            let _ = redact_json_text(&t, &s, &cfg);
            let _ = redact_header("set-cookie", &t);
            let _ = redact_header("authorization", &t);
            let _ = s.is_field(&t);
        }
    }

    #[test]
    fn record_prefilter_skips_empty_credentials() {
        let s = SecretsConfig::default();
        assert!(
            !s.may_contain_record(r#"{"http_authorization":"","http_x_api_key":"-","path":"/a"}"#)
        );
        assert!(s.may_contain_record(r#"{"http_authorization":"Bearer x"}"#));
        assert!(s.may_contain_record(r#"{"p\u0061ssword":"x"}"#));
    }
}
