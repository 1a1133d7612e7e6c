//! Every value a request carries, normalised, bounded, with where it sits.
//!
//! [`Inspector::visit`] walks an [`ApiEvent`]: the path and its segments, query names and
//! values, cookies, request headers, then the body as its content type (or its first bytes)
//! says: urlencoded form, multipart, JSON, XML/SOAP, GraphQL or plain text. Each value reaches
//! the callback as a [`Value`]: the raw text for evidence, the fully decoded text, a folded
//! form for matching, and a base64-decoded form when the value looks like base64.
//!
//! **Pure: no I/O, no clock, no allocation per value in steady state** (the inspector reuses
//! its buffers). **Work is O(bytes looked at)**: the body is cut at
//! [`InspectConfig::max_body_bytes`], each value at [`InspectConfig::max_value_bytes`],
//! nesting at [`InspectConfig::max_depth`] and the walk stops after
//! [`InspectConfig::max_values`]; [`Stats::truncated`] says when a cap was hit. No input
//! makes it panic.

#![warn(missing_docs)]

mod b64;
mod json;
mod multipart;
mod normalize;
mod xml;

use rampart_model::ApiEvent;
use serde::{Deserialize, Serialize};

pub use normalize::{normalize_into, MAX_ROUNDS};

use normalize::Mode;

/// Longest name reported (a JSON key path such as `user.roles[0]` is cut there).
pub const MAX_NAME_BYTES: usize = 128;

/// Bytes shared by consecutive chunks of a long opaque value (raw body, uploaded file), so a
/// payload shorter than this that straddles a cut is seen whole in one chunk.
pub const CHUNK_OVERLAP: usize = 256;

/// Limits of one request's inspection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InspectConfig {
    /// Body bytes looked at (cut at a char boundary); default 64 KiB.
    pub max_body_bytes: usize,
    /// Deepest JSON, XML or multipart nesting walked; default 32. JSON nested deeper is not
    /// walked as JSON (reported as raw body, `malformed_body`); deeper XML elements are
    /// reported under the name of the deepest element tracked.
    pub max_depth: usize,
    /// Values visited per request, then the walk stops (`truncated`); default 1024.
    pub max_values: usize,
    /// A longer value is cut (at a char boundary) before normalising; a long raw body or
    /// uploaded file is reported in chunks of this size instead. Default 16 KiB.
    pub max_value_bytes: usize,
    /// Also offer the base64-decoded form of values that look base64; default true.
    pub base64: bool,
}

impl Default for InspectConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            max_depth: 32,
            max_values: 1024,
            max_value_bytes: 64 * 1024,
            base64: true,
        }
    }
}

/// Largest [`InspectConfig::max_depth`] accepted: `serde_json` refuses deeper documents.
pub const MAX_DEPTH_LIMIT: usize = 127;

/// An [`InspectConfig`] that cannot work as configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `max_depth` is 0 or above [`MAX_DEPTH_LIMIT`].
    #[error("max_depth must be between 1 and {MAX_DEPTH_LIMIT}, got {0}")]
    Depth(usize),
    /// `max_value_bytes` is below 4 (one char of any width must fit).
    #[error("max_value_bytes must be at least 4, got {0}")]
    ValueBytes(usize),
}

impl InspectConfig {
    /// Check the limits make sense (the inspector works with any values, but a depth above
    /// [`MAX_DEPTH_LIMIT`] is not honoured for JSON and a tiny value cap reports nothing useful).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_depth == 0 || self.max_depth > MAX_DEPTH_LIMIT {
            return Err(ConfigError::Depth(self.max_depth));
        }
        if self.max_value_bytes < 4 {
            return Err(ConfigError::ValueBytes(self.max_value_bytes));
        }
        Ok(())
    }
}

/// Where in the request a value sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Location {
    /// The whole path.
    Path,
    /// One `/`-separated segment of the path.
    PathSegment,
    /// A query parameter's name.
    QueryName,
    /// A query parameter's value.
    QueryValue,
    /// A cookie's value (name in [`Value::name`]).
    Cookie,
    /// A request header's value (name in [`Value::name`]).
    HeaderValue,
    /// An urlencoded form field's name.
    FormName,
    /// An urlencoded form field's value.
    FormValue,
    /// A multipart part's `name`.
    MultipartName,
    /// A multipart part's `filename`.
    MultipartFilename,
    /// A multipart part's content (not JSON, XML or multipart itself).
    MultipartValue,
    /// A JSON object key (name: the path of the object holding it).
    JsonKey,
    /// A JSON string value (name: its key path); numbers, booleans and null are skipped.
    JsonValue,
    /// An XML text node, CDATA section or attribute value, or the prologue (`doctype`).
    Xml,
    /// A GraphQL document (also reported as JSON or query value where it came from).
    GraphQl,
    /// A body that is none of the above, or could not be parsed as what it claimed.
    RawBody,
}

impl Location {
    /// Stable lower-case name, for alert evidence and metrics labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Location::Path => "path",
            Location::PathSegment => "path_segment",
            Location::QueryName => "query_name",
            Location::QueryValue => "query",
            Location::Cookie => "cookie",
            Location::HeaderValue => "header",
            Location::FormName => "form_name",
            Location::FormValue => "form",
            Location::MultipartName => "multipart_name",
            Location::MultipartFilename => "multipart_filename",
            Location::MultipartValue => "multipart",
            Location::JsonKey => "json_key",
            Location::JsonValue => "json",
            Location::Xml => "xml",
            Location::GraphQl => "graphql",
            Location::RawBody => "body",
        }
    }

    /// Whether the value came from the body (a GraphQL document counts as body even when it
    /// came from `?query=`).
    pub const fn is_body(self) -> bool {
        matches!(
            self,
            Location::FormName
                | Location::FormValue
                | Location::MultipartName
                | Location::MultipartFilename
                | Location::MultipartValue
                | Location::JsonKey
                | Location::JsonValue
                | Location::Xml
                | Location::GraphQl
                | Location::RawBody
        )
    }

    /// Whether the value is a name (parameter, field or key) rather than a value.
    pub const fn is_name(self) -> bool {
        matches!(
            self,
            Location::QueryName | Location::FormName | Location::MultipartName | Location::JsonKey
        )
    }
}

/// One value of a request, as a detector sees it. Borrowed from the event and from the
/// inspector's buffers: valid only during the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Value<'v> {
    /// Where the value sits.
    pub location: Location,
    /// Parameter, header, cookie or form field name, JSON key path (`user.roles[0]`, at most
    /// [`MAX_NAME_BYTES`]), XML element or attribute name; empty for the path and raw body.
    pub name: &'v str,
    /// The value as it came (cut at [`InspectConfig::max_value_bytes`]), for evidence.
    pub raw: &'v str,
    /// Fully decoded: percent (repeated until stable, at most [`MAX_ROUNDS`] rounds; `+` is a
    /// space in query and form), `%uXXXX`, HTML entities, JS escapes (`\uXXXX`, `\xHH`; all
    /// JSON escapes in JSON strings), NUL bytes removed.
    pub decoded: &'v str,
    /// `decoded` lower-cased (ASCII), SQL comments to one space (`/*!50000x*/` keeps `x`),
    /// whitespace runs to one space, trimmed.
    pub folded: &'v str,
    /// When `decoded` is base64 or base64url of text or of a serialized object: the decoded
    /// bytes as text (lossy UTF-8).
    pub base64: Option<&'v str>,
    /// The same decoded bytes, raw (serialized objects are binary).
    pub base64_bytes: Option<&'v [u8]>,
}

/// What the callback wants after a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on with the next value.
    Continue,
    /// Stop the walk (a detector that has seen enough).
    Stop,
}

/// How the body was read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body.
    #[default]
    None,
    /// `application/x-www-form-urlencoded` (declared or sniffed).
    Form,
    /// `multipart/*` with a boundary.
    Multipart,
    /// JSON (declared or sniffed).
    Json,
    /// XML or SOAP (declared or sniffed).
    Xml,
    /// GraphQL: `application/graphql`, or JSON with a `query` string field.
    GraphQl,
    /// Anything else, reported whole as [`Location::RawBody`].
    Text,
}

/// What one [`Inspector::visit`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Values visited, plain ones (skipped by [`is_plain`]) included.
    pub values: u32,
    /// A cap was hit: body, value length, nesting or value count.
    pub truncated: bool,
    /// How the body was read.
    pub body_kind: BodyKind,
    /// The body did not parse as its (declared or sniffed) kind; what could not be walked
    /// was reported as [`Location::RawBody`].
    pub malformed_body: bool,
}

/// Fast gate: a value made only of `[A-Za-z0-9_.-]` and shorter than 24 bytes cannot carry an
/// attack of any family we check, unless it holds `__` (`__proto__`), `..` (traversal) or
/// two dots (a Java class name such as `java.lang.Runtime`), or could be base64 of text.
/// [`Inspector::visit`] skips such values (still counting them).
pub fn is_plain(raw: &str) -> bool {
    raw.len() < 24
        && raw
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
        && !raw.contains("__")
        && !raw.contains("..")
        && raw.bytes().filter(|&b| b == b'.').count() < 2
        && !maybe_base64_text(raw)
}

/// Long enough to be base64 of a payload (`KGFsZXJ0KSgxKQ` is `(alert)(1)`) and mixing upper
/// and lower case as base64 of text does.
fn maybe_base64_text(raw: &str) -> bool {
    raw.len() >= b64::MIN_CHARS
        && raw.bytes().any(|b| b.is_ascii_uppercase())
        && raw.bytes().any(|b| b.is_ascii_lowercase())
}

/// Visits the values of requests, reusing its buffers from one request to the next.
#[derive(Debug, Default)]
pub struct Inspector {
    cfg: InspectConfig,
    buf: Buffers,
    scratch: Scratch,
}

/// Where a value's forms are written.
#[derive(Debug, Default)]
struct Buffers {
    decoded: String,
    folded: String,
    b64: Vec<u8>,
    b64_text: String,
}

/// Walk state of the structured body parsers.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub(crate) path: String,
    pub(crate) frames: Vec<json::Frame>,
    pub(crate) xml: Vec<(usize, usize)>,
}

/// Headers that carry no user data worth inspecting. `cookie` is reported cookie by cookie.
fn skip_header(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "content-length",
        "connection",
        "accept-encoding",
        "cache-control",
        "pragma",
        "upgrade-insecure-requests",
        "te",
        "priority",
        "cookie",
    ];
    const PREFIX: &[&str] = &["sec-fetch-", "sec-ch-ua"];
    EXACT.iter().any(|h| name.eq_ignore_ascii_case(h))
        || PREFIX.iter().any(|p| {
            name.get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p))
        })
}

impl Inspector {
    /// An inspector with these limits.
    pub fn new(cfg: InspectConfig) -> Self {
        Self {
            cfg,
            buf: Buffers::default(),
            scratch: Scratch::default(),
        }
    }

    /// The limits in use.
    pub fn config(&self) -> &InspectConfig {
        &self.cfg
    }

    /// Visit every value of the request, in order: the whole path and each segment, query
    /// names and values, cookies and request headers (a few headers without user data
    /// skipped), then the body per its content type or, when that is missing or generic, its
    /// first bytes. A GraphQL document (`application/graphql`, a JSON `query` string, or
    /// `?query=` on a path containing `graphql`) is also reported as [`Location::GraphQl`].
    /// Plain values ([`is_plain`]) are counted but not passed to `f` (a cookie or header
    /// with a plain value but a name that is not plain is passed).
    pub fn visit(&mut self, ev: &ApiEvent<'_>, f: &mut dyn FnMut(&Value<'_>) -> Flow) -> Stats {
        let mut stats = Stats::default();
        let Inspector { cfg, buf, scratch } = self;
        let mut sink = Sink {
            cfg,
            buf,
            stats: &mut stats,
            f,
            stopped: false,
        };
        request_line(&mut sink, ev);
        headers(&mut sink, ev);
        if let Some(body) = ev.request_body.as_deref().filter(|b| !b.is_empty()) {
            if !sink.stopped {
                let body = if body.len() > sink.cfg.max_body_bytes {
                    sink.stats.truncated = true;
                    &body[..floor_boundary(body, sink.cfg.max_body_bytes)]
                } else {
                    body
                };
                let ct = ev.request_header("content-type").unwrap_or("");
                let kind = classify(ct, body, true);
                let read = walk_body(&mut sink, scratch, body, kind, "", 0);
                sink.stats.body_kind = read;
            }
        }
        stats
    }
}

fn request_line(sink: &mut Sink<'_>, ev: &ApiEvent<'_>) {
    let path: &str = &ev.path;
    if !path.is_empty() {
        sink.emit(Location::Path, "", path, Mode::Plain);
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            if sink.stopped {
                return;
            }
            sink.emit(Location::PathSegment, "", seg, Mode::Plain);
        }
    }
    let graphql = contains_ci(path, "graphql");
    for (name, value) in ev.query_params() {
        if sink.stopped {
            return;
        }
        sink.emit(Location::QueryName, name, name, Mode::Plus);
        sink.emit(Location::QueryValue, name, value, Mode::Plus);
        if graphql && name == "query" {
            sink.emit(Location::GraphQl, "query", value, Mode::Plus);
        }
    }
}

fn headers(sink: &mut Sink<'_>, ev: &ApiEvent<'_>) {
    let (mut ua, mut referer, mut host) = (false, false, false);
    for (name, value) in &ev.request_headers {
        if sink.stopped {
            return;
        }
        ua |= name.eq_ignore_ascii_case("user-agent");
        referer |= name.eq_ignore_ascii_case("referer");
        host |= name.eq_ignore_ascii_case("host");
        if name.eq_ignore_ascii_case("cookie") {
            cookies(sink, value);
        } else if !skip_header(name) {
            sink.emit(Location::HeaderValue, name, value, Mode::Plain);
        }
    }
    for (seen, name, value) in [
        (ua, "user-agent", &ev.user_agent),
        (referer, "referer", &ev.referer),
        (host, "host", &ev.host),
    ] {
        if !seen && !value.is_empty() {
            sink.emit(Location::HeaderValue, name, value, Mode::Plain);
        }
    }
}

fn cookies(sink: &mut Sink<'_>, header: &str) {
    for piece in header.split(';') {
        if sink.stopped {
            return;
        }
        let piece = piece.trim_matches([' ', '\t']);
        if piece.is_empty() {
            continue;
        }
        let (name, value) = piece.split_once('=').unwrap_or(("", piece));
        sink.emit(
            Location::Cookie,
            name.trim_end(),
            value.trim_start(),
            Mode::Plain,
        );
    }
}

/// A body kind as declared or sniffed; multipart with its boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind<'c> {
    Form,
    Multipart(&'c str),
    Json,
    Xml,
    GraphQl,
    Text,
}

/// The kind of `body` declared by content type `ct`; when `sniff` and the type is missing,
/// generic (`text/plain`, `application/octet-stream`, unknown) or a form type on a body that
/// opens with `{`, `[` or `<`, guessed from the first bytes.
pub(crate) fn classify<'c>(ct: &'c str, body: &str, sniff: bool) -> Kind<'c> {
    let mime = ct.split(';').next().unwrap_or("").trim();
    let head = body.trim_start();
    let first = head.as_bytes().first().copied();
    // a form type on a JSON or XML body is a wrong header: sniff instead
    if mime.eq_ignore_ascii_case("application/x-www-form-urlencoded")
        && !(sniff && matches!(first, Some(b'{' | b'[' | b'<')))
    {
        return Kind::Form;
    }
    if mime
        .get(..10)
        .is_some_and(|m| m.eq_ignore_ascii_case("multipart/"))
    {
        if let Some(b) = multipart::param(ct, "boundary").filter(|b| !b.is_empty()) {
            return Kind::Multipart(b);
        }
    }
    if mime.eq_ignore_ascii_case("application/graphql") {
        return Kind::GraphQl;
    }
    if contains_ci(mime, "json") {
        return Kind::Json;
    }
    if contains_ci(mime, "xml") {
        return Kind::Xml;
    }
    if !sniff {
        return Kind::Text;
    }
    match first {
        Some(b'{' | b'[') => Kind::Json,
        Some(b'<') => Kind::Xml,
        _ if looks_form(head) => Kind::Form,
        _ => Kind::Text,
    }
}

/// `key=value...`: a short name of non-space, non-markup bytes, then `=`.
fn looks_form(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(eq) = b.iter().take(256).position(|&c| c == b'=') else {
        return false;
    };
    eq > 0
        && b[..eq].iter().all(|&c| {
            c > b' ' && !matches!(c, b'<' | b'>' | b'{' | b'}' | b'"' | b'\'' | b'&' | 0x7f)
        })
}

/// Walk `body` as `kind`; returns how it was read. `prefix` names the values of a body nested
/// in a multipart part; `depth` is the multipart nesting.
pub(crate) fn walk_body(
    sink: &mut Sink<'_>,
    scratch: &mut Scratch,
    body: &str,
    kind: Kind<'_>,
    prefix: &str,
    depth: usize,
) -> BodyKind {
    match kind {
        Kind::Form => {
            form(sink, body);
            BodyKind::Form
        }
        Kind::Multipart(boundary) => {
            if !multipart::walk(sink, scratch, body, boundary, depth) {
                sink.stats.malformed_body = true;
            }
            BodyKind::Multipart
        }
        Kind::Json => {
            if !json::check(body, sink.cfg.max_depth) {
                sink.stats.malformed_body = true;
                let loc = if prefix.is_empty() {
                    Location::RawBody
                } else {
                    Location::MultipartValue
                };
                sink.emit_chunked(loc, prefix, body);
                return BodyKind::Json;
            }
            if json::walk(sink, scratch, body, prefix) {
                BodyKind::GraphQl
            } else {
                BodyKind::Json
            }
        }
        Kind::Xml => {
            if !xml::walk(sink, &mut scratch.xml, body) {
                sink.stats.malformed_body = true;
            }
            BodyKind::Xml
        }
        Kind::GraphQl => {
            sink.emit_chunked(Location::GraphQl, "query", body);
            BodyKind::GraphQl
        }
        Kind::Text => {
            let loc = if prefix.is_empty() {
                Location::RawBody
            } else {
                Location::MultipartValue
            };
            sink.emit_chunked(loc, prefix, body);
            BodyKind::Text
        }
    }
}

fn form(sink: &mut Sink<'_>, body: &str) {
    for pair in body.split('&') {
        if sink.stopped {
            return;
        }
        if pair.is_empty() {
            continue;
        }
        // A pair without `=` (` ls /etc` after an unencoded `&&`) is read as a value too:
        // a name is checked by fewer families, and a payload split this way is still one.
        let (name, value) = pair.split_once('=').unwrap_or((pair, pair));
        sink.emit(Location::FormName, name, name, Mode::Plus);
        sink.emit(Location::FormValue, name, value, Mode::Plus);
    }
}

/// Whether `hay` contains `needle` (ASCII, case-insensitively).
pub(crate) fn contains_ci(hay: &str, needle: &str) -> bool {
    let n = needle.len();
    n == 0
        || hay
            .as_bytes()
            .windows(n)
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// The largest char boundary of `s` at or below `i`.
pub(crate) fn floor_boundary(s: &str, i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    let mut i = i;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Where values go: counts them, applies the caps, normalises and calls the callback.
pub(crate) struct Sink<'s> {
    cfg: &'s InspectConfig,
    buf: &'s mut Buffers,
    pub(crate) stats: &'s mut Stats,
    f: &'s mut dyn FnMut(&Value<'_>) -> Flow,
    pub(crate) stopped: bool,
}

impl Sink<'_> {
    pub(crate) fn max_depth(&self) -> usize {
        self.cfg.max_depth
    }

    /// Report one value (cut at `max_value_bytes`).
    pub(crate) fn emit(&mut self, location: Location, name: &str, raw: &str, mode: Mode) {
        if self.stopped {
            return;
        }
        if self.stats.values as usize >= self.cfg.max_values {
            self.stats.truncated = true;
            self.stopped = true;
            return;
        }
        self.stats.values += 1;
        // A cookie's or header's name is attacker-chosen too: the pair is skipped only when
        // both are plain.
        let named = matches!(location, Location::Cookie | Location::HeaderValue);
        if is_plain(raw) && (!named || is_plain(name)) {
            return;
        }
        let raw = if raw.len() > self.cfg.max_value_bytes {
            self.stats.truncated = true;
            &raw[..floor_boundary(raw, self.cfg.max_value_bytes)]
        } else {
            raw
        };
        let name = &name[..floor_boundary(name, MAX_NAME_BYTES)];
        let buf = &mut *self.buf;
        normalize::normalize_mode(raw, mode, &mut buf.decoded, &mut buf.folded);
        let b64 = self.cfg.base64 && b64::sniff(&buf.decoded, &mut buf.b64, &mut buf.b64_text);
        let value = Value {
            location,
            name,
            raw,
            decoded: &buf.decoded,
            folded: &buf.folded,
            base64: b64.then_some(buf.b64_text.as_str()),
            base64_bytes: b64.then_some(buf.b64.as_slice()),
        };
        if (self.f)(&value) == Flow::Stop {
            self.stopped = true;
        }
    }

    /// Report a long opaque text (raw body, uploaded file) in chunks of `max_value_bytes`
    /// that overlap by [`CHUNK_OVERLAP`] bytes, so nothing looked at is left unseen.
    pub(crate) fn emit_chunked(&mut self, location: Location, name: &str, text: &str) {
        let max = self.cfg.max_value_bytes.max(4);
        let overlap = CHUNK_OVERLAP.min(max / 4);
        let mut start: usize = 0;
        loop {
            let mut end = floor_boundary(text, start.saturating_add(max));
            if end <= start {
                end = text.len();
            }
            let chunk = text.get(start..end).unwrap_or("");
            self.emit(location, name, chunk, Mode::Plain);
            if end >= text.len() || self.stopped {
                return;
            }
            let next = floor_boundary(text, end - overlap);
            start = if next > start { next } else { end };
        }
    }
}
