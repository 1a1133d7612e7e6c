//! Per-endpoint baselines learned online, in event time.
//!
//! An endpoint learns for `learning_ms` of traffic (30 days by default), or less once it has
//! seen `min_samples` events: heavy traffic learns faster. While learning, every event
//! updates the profile (rate per minute, request and response sizes, latency, status mix,
//! authentication share, write-body properties); afterwards the profile is frozen, so an
//! attacker cannot teach it, and only the current minute's count keeps moving. Detectors that
//! need a baseline stay silent until [`EndpointBaseline::learned`] is true.
//!
//! Parameter profiles learn on their own, shorter clock: query parameters, urlencoded form
//! fields and JSON body keys (nested keys as dotted paths, arrays collapsed to `[]`), each
//! with its value types, length range and the character classes its values held. They are
//! usable ([`EndpointBaseline::params_learned`]) and frozen after `param_min_samples` calls
//! (1,000 by default) or when the endpoint's own learning ends, whichever comes first, so a
//! new deployment detects unknown or anomalous parameters on its first busy day.

use rampart_inventory::values::classify_value;
use rampart_model::{ApiEvent, ValueType};
use serde::{Deserialize, Serialize};

use crate::state::{hash_bytes, Footprint, KeyedState, OnlineStats};

/// How endpoints learn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BaselineConfig {
    /// Longest learning period, in ms of event time (default 30 days).
    pub learning_ms: i64,
    /// Learning ends early once an endpoint has seen this many events (default 10,000).
    pub min_samples: u64,
    /// Fewest events for a learned baseline when the period ends (default 100).
    pub min_learned_samples: u64,
    /// Most endpoints tracked (default 20,000).
    pub max_endpoints: usize,
    /// Parameter profiles are learned (and frozen) after this many calls to the endpoint, or
    /// when its learning period ends, whichever comes first (default 1,000).
    pub param_min_samples: u64,
    /// Most parameters (query, form and JSON together) remembered per endpoint (default 64).
    pub max_params: usize,
    /// Most write-body properties remembered per endpoint (default 64).
    pub max_body_props: usize,
    /// Endpoints idle this long are forgotten (default 60 days).
    pub idle_ms: i64,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        BaselineConfig {
            learning_ms: 30 * 86_400_000,
            min_samples: 10_000,
            min_learned_samples: 100,
            max_endpoints: 20_000,
            param_min_samples: 1_000,
            max_params: 64,
            max_body_props: 64,
            idle_ms: 60 * 86_400_000,
        }
    }
}

/// Number of [`ValueType`]s.
pub const VALUE_TYPES: usize = 9;

/// Index of a value type in [`ParamProfile::types`].
pub const fn value_type_index(t: ValueType) -> usize {
    match t {
        ValueType::Integer => 0,
        ValueType::Number => 1,
        ValueType::Boolean => 2,
        ValueType::Uuid => 3,
        ValueType::Email => 4,
        ValueType::Date => 5,
        ValueType::Token => 6,
        ValueType::Url => 7,
        ValueType::String => 8,
    }
}

/// Where a parameter was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamLoc {
    /// The query string.
    #[default]
    Query = 0,
    /// An `application/x-www-form-urlencoded` body.
    Form = 1,
    /// A JSON body (dotted path of the key).
    Json = 2,
}

impl ParamLoc {
    /// All locations.
    pub const ALL: [ParamLoc; 3] = [ParamLoc::Query, ParamLoc::Form, ParamLoc::Json];
    /// Lower-case name (`query`, `form`, `json`).
    pub const fn name(self) -> &'static str {
        match self {
            ParamLoc::Query => "query",
            ParamLoc::Form => "form",
            ParamLoc::Json => "json",
        }
    }
    /// How a responder calls it: "query parameter", "form field", "JSON key".
    pub const fn noun(self) -> &'static str {
        match self {
            ParamLoc::Query => "query parameter",
            ParamLoc::Form => "form field",
            ParamLoc::Json => "JSON key",
        }
    }
    /// Its bit in a location mask.
    #[inline]
    pub const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A class of characters a parameter value may hold (one bit of [`ParamProfile::classes`]).
/// Values are classified after one layer of decoding: `%XX` and `+` in query strings and form
/// bodies, backslash escapes in JSON strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CharClass {
    /// `0-9`.
    Digit = 0,
    /// `a-z`.
    Lower = 1,
    /// `A-Z`.
    Upper = 2,
    /// A space.
    Space = 3,
    /// `-`, `_`, `.`.
    Dash = 4,
    /// `"` or `'`.
    Quote = 5,
    /// `<` or `>`.
    Angle = 6,
    /// `;`, `|`, `&`, `` ` ``, `$`.
    Shell = 7,
    /// `(){}[]`.
    Bracket = 8,
    /// `/` or `\`.
    Slash = 9,
    /// A literal `%` (after decoding: double encoding).
    Percent = 10,
    /// `=`.
    Equals = 11,
    /// Other ASCII punctuation (`!#*+,:?@^~`).
    Punct = 12,
    /// Control characters (tab, CR, LF, NUL, DEL, ...).
    Control = 13,
    /// Bytes of non-ASCII characters.
    NonAscii = 14,
}

impl CharClass {
    /// Every class, in bit order.
    pub const ALL: [CharClass; 15] = [
        CharClass::Digit,
        CharClass::Lower,
        CharClass::Upper,
        CharClass::Space,
        CharClass::Dash,
        CharClass::Quote,
        CharClass::Angle,
        CharClass::Shell,
        CharClass::Bracket,
        CharClass::Slash,
        CharClass::Percent,
        CharClass::Equals,
        CharClass::Punct,
        CharClass::Control,
        CharClass::NonAscii,
    ];
    /// Its bit in a class mask.
    #[inline]
    pub const fn bit(self) -> u16 {
        1 << (self as u16)
    }
    /// What a responder reads ("quotes", "angle brackets", ...).
    pub const fn describe(self) -> &'static str {
        match self {
            CharClass::Digit => "digits",
            CharClass::Lower => "lower-case letters",
            CharClass::Upper => "upper-case letters",
            CharClass::Space => "spaces",
            CharClass::Dash => "'-', '_' or '.'",
            CharClass::Quote => "quotes",
            CharClass::Angle => "angle brackets",
            CharClass::Shell => "shell metacharacters (; | & ` $)",
            CharClass::Bracket => "brackets or parentheses",
            CharClass::Slash => "slashes",
            CharClass::Percent => "a literal '%' (double encoding)",
            CharClass::Equals => "'='",
            CharClass::Punct => "other punctuation",
            CharClass::Control => "control characters",
            CharClass::NonAscii => "non-ASCII characters",
        }
    }
    /// The classes of a mask, comma-separated, for descriptions.
    pub fn describe_mask(mask: u16) -> String {
        let mut s = String::new();
        for c in CharClass::ALL {
            if mask & c.bit() != 0 {
                if !s.is_empty() {
                    s.push_str(", ");
                }
                s.push_str(c.describe());
            }
        }
        s
    }
}

/// The [`CharClass`] bit of every byte.
const CLASS_OF: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let class = match c {
            b'0'..=b'9' => CharClass::Digit,
            b'a'..=b'z' => CharClass::Lower,
            b'A'..=b'Z' => CharClass::Upper,
            b' ' => CharClass::Space,
            b'-' | b'_' | b'.' => CharClass::Dash,
            b'"' | b'\'' => CharClass::Quote,
            b'<' | b'>' => CharClass::Angle,
            b';' | b'|' | b'&' | b'`' | b'$' => CharClass::Shell,
            b'(' | b')' | b'{' | b'}' | b'[' | b']' => CharClass::Bracket,
            b'/' | b'\\' => CharClass::Slash,
            b'%' => CharClass::Percent,
            b'=' => CharClass::Equals,
            0..=31 | 127 => CharClass::Control,
            128..=255 => CharClass::NonAscii,
            _ => CharClass::Punct,
        };
        t[i] = class.bit();
        i += 1;
    }
    t
};

#[inline]
fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The character classes of a value and its length in bytes, after one layer of decoding for
/// its location (`%XX` and `+` for query and form values, backslash escapes for JSON
/// strings). No allocation.
pub fn value_shape(v: &str, loc: ParamLoc) -> (u16, u32) {
    let b = v.as_bytes();
    let (mut classes, mut len, mut i) = (0u16, 0u32, 0usize);
    while i < b.len() {
        let mut c = b[i];
        i += 1;
        match (loc, c) {
            (ParamLoc::Query | ParamLoc::Form, b'+') => c = b' ',
            (ParamLoc::Query | ParamLoc::Form, b'%') => {
                if let (Some(h), Some(l)) = (
                    b.get(i).copied().and_then(hex_val),
                    b.get(i + 1).copied().and_then(hex_val),
                ) {
                    c = h << 4 | l;
                    i += 2;
                }
            }
            (ParamLoc::Json, b'\\') if i < b.len() => {
                let e = b[i];
                i += 1;
                c = match e {
                    b'n' | b'r' | b't' | b'b' | b'f' => 0x0a,
                    b'u' => {
                        let mut n = 0u32;
                        let mut ok = i + 4 <= b.len();
                        if ok {
                            for &h in &b[i..i + 4] {
                                match hex_val(h) {
                                    Some(d) => n = n << 4 | u32::from(d),
                                    None => ok = false,
                                }
                            }
                        }
                        if ok {
                            i += 4;
                            if n < 0x80 {
                                n as u8
                            } else {
                                0x80
                            }
                        } else {
                            b'u'
                        }
                    }
                    other => other,
                };
            }
            _ => {}
        }
        classes |= CLASS_OF[usize::from(c)];
        len += 1;
    }
    (classes, len)
}

/// Longest query or form value decoded (on the stack) before its type is classified; longer
/// ones are classified as written.
const DECODE_MAX: usize = 256;

/// The value type of a parameter: [`classify_value`] of the value after percent-decoding
/// (query and form values up to [`DECODE_MAX`] bytes; no allocation), so `a%3Bb%2Fc` is the
/// string `a;b/c`, not a token.
pub fn classify_param(p: &Param<'_>) -> ValueType {
    let v = p.value.as_bytes();
    if p.loc == ParamLoc::Json || v.len() > DECODE_MAX || !v.iter().any(|&c| c == b'%' || c == b'+')
    {
        return classify_value(p.value);
    }
    let mut buf = [0u8; DECODE_MAX];
    let (mut i, mut n) = (0, 0);
    while i < v.len() {
        let mut c = v[i];
        i += 1;
        if c == b'+' {
            c = b' ';
        } else if c == b'%' {
            if let (Some(h), Some(l)) = (
                v.get(i).copied().and_then(hex_val),
                v.get(i + 1).copied().and_then(hex_val),
            ) {
                c = h << 4 | l;
                i += 2;
            }
        }
        buf[n] = c;
        n += 1;
    }
    match std::str::from_utf8(&buf[..n]) {
        Ok(s) => classify_value(s),
        Err(_) => ValueType::String,
    }
}

/// What was learned of one parameter (48 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ParamProfile {
    /// Hash of the parameter name (the dotted path of a JSON key).
    pub name: u64,
    /// Largest numeric value seen (integer values only).
    pub max_int: u64,
    /// Times the name was seen (with a value or, in JSON, `null`).
    pub seen: u32,
    /// Values seen per value type ([`value_type_index`]); halved together when one would
    /// overflow, so shares stay right.
    pub types: [u16; VALUE_TYPES],
    /// Shortest value seen, bytes after decoding (meaningful once [`ParamProfile::values`]
    /// is not zero).
    pub min_len: u16,
    /// Longest value seen, bytes after decoding (saturating).
    pub max_len: u16,
    /// [`CharClass`] bits of every value seen.
    pub classes: u16,
    /// Where the parameter was found.
    pub loc: ParamLoc,
}

impl ParamProfile {
    /// Values learned (the sum of [`ParamProfile::types`]).
    #[inline]
    pub fn values(&self) -> u32 {
        self.types.iter().map(|&n| u32::from(n)).sum()
    }
    /// Share of learned values of type index `t`.
    #[inline]
    pub fn type_share(&self, t: usize) -> f64 {
        f64::from(self.types[t]) / f64::from(self.values().max(1))
    }
    /// The most frequent learned type index.
    pub fn usual_type(&self) -> usize {
        (0..VALUE_TYPES)
            .max_by_key(|&i| self.types[i])
            .unwrap_or(VALUE_TYPES - 1)
    }
    /// Learn one value.
    fn learn(&mut self, p: &Param<'_>) {
        self.seen = self.seen.saturating_add(1);
        if p.null {
            return;
        }
        let t = value_type_index(classify_param(p));
        if self.types[t] == u16::MAX {
            for n in &mut self.types {
                *n /= 2;
            }
        }
        let first = self.values() == 0;
        self.types[t] += 1;
        let (classes, len) = value_shape(p.value, p.loc);
        let len = len.min(u32::from(u16::MAX)) as u16;
        if first {
            self.min_len = len;
        } else {
            self.min_len = self.min_len.min(len);
        }
        self.max_len = self.max_len.max(len);
        self.classes |= classes;
        if t == 0 {
            if let Ok(n) = p.value.parse::<u64>() {
                self.max_int = self.max_int.max(n);
            }
        }
    }
}

/// The learned profile of one endpoint.
#[derive(Debug, Clone, Default)]
pub struct EndpointBaseline {
    /// First event (ms).
    pub first_seen: i64,
    /// Events seen while learning.
    pub samples: u64,
    /// Whether learning is over and the profile usable.
    pub learned: bool,
    /// Minute (ms / 60,000) of `minute_count`.
    pub minute: i64,
    /// Events in that minute.
    pub minute_count: u32,
    /// Events per minute over the learning period (idle minutes count as zero).
    pub rate: OnlineStats,
    /// Request sizes.
    pub req_bytes: OnlineStats,
    /// Response sizes.
    pub resp_bytes: OnlineStats,
    /// Latency, microseconds.
    pub latency_us: OnlineStats,
    /// Events per status class (0 = none, 1..=5).
    pub status: [u64; 6],
    /// Events that carried credentials.
    pub authenticated: u64,
    /// Write calls (POST/PUT/PATCH) with a body.
    pub write_bodies: u64,
    /// Whether the parameter profiles are learned (and frozen): after `param_min_samples`
    /// calls or when the endpoint is learned, whichever comes first.
    pub params_learned: bool,
    /// Calls the parameter profiles learned from.
    pub param_samples: u64,
    /// Parameter profiles: query, form and JSON (bounded by `max_params`).
    pub params: Vec<ParamProfile>,
    /// [`ParamLoc::bit`]s of the locations where more parameters were seen than kept.
    pub params_overflow: u8,
    /// Hashes of top-level properties seen in write bodies (bounded).
    pub body_props: Vec<u64>,
    /// Whether more properties were seen than kept.
    pub body_overflow: bool,
}

impl EndpointBaseline {
    /// Events in the minute of `now` (before the current event is counted).
    #[inline]
    pub fn current_minute(&self, now_ms: i64) -> u32 {
        if now_ms.div_euclid(60_000) == self.minute {
            self.minute_count
        } else {
            0
        }
    }
    /// Share of learned events that carried credentials.
    pub fn auth_fraction(&self) -> f64 {
        self.authenticated as f64 / self.samples.max(1) as f64
    }
    /// Share of learned events answered 5xx.
    pub fn error_fraction(&self) -> f64 {
        self.status[5] as f64 / self.samples.max(1) as f64
    }
    /// The learned profile of a query parameter by name hash.
    pub fn param(&self, name_hash: u64) -> Option<&ParamProfile> {
        self.param_at(ParamLoc::Query, name_hash)
    }
    /// The learned profile of a parameter by location and name hash.
    #[inline]
    pub fn param_at(&self, loc: ParamLoc, name_hash: u64) -> Option<&ParamProfile> {
        self.params
            .iter()
            .find(|p| p.name == name_hash && p.loc == loc)
    }
    /// Whether more parameters were seen at `loc` than kept (an unknown name there proves
    /// nothing).
    #[inline]
    pub fn params_overflowed(&self, loc: ParamLoc) -> bool {
        self.params_overflow & loc.bit() != 0
    }
    /// Whether a write-body property (by hash) was seen while learning.
    pub fn has_body_prop(&self, h: u64) -> bool {
        self.body_props.contains(&h)
    }
}

impl Footprint for EndpointBaseline {
    fn heap_bytes(&self) -> usize {
        self.params.capacity() * std::mem::size_of::<ParamProfile>()
            + self.body_props.capacity() * 8
    }
}

/// All endpoint baselines (bounded).
pub struct Baselines {
    cfg: BaselineConfig,
    map: KeyedState<EndpointBaseline>,
}

/// Whether a method writes (POST, PUT, PATCH).
#[inline]
pub fn is_write_method(m: &str) -> bool {
    m.eq_ignore_ascii_case("POST")
        || m.eq_ignore_ascii_case("PUT")
        || m.eq_ignore_ascii_case("PATCH")
}

/// Where the JSON string whose content starts at `start` ends: the index of its closing `"`
/// (a `\\` skips the byte after it), or `b.len()` or more when it is not closed. Jumps from
/// `"`/`\\` to the next with memchr rather than stepping byte by byte: the body scans spend
/// most of their time inside string content.
#[inline]
fn string_end(b: &[u8], start: usize) -> usize {
    let mut j = start;
    while j < b.len() {
        match memchr::memchr2(b'"', b'\\', &b[j..]) {
            None => return b.len(),
            Some(k) => {
                j += k;
                if b[j] == b'"' {
                    return j;
                }
                j += 2;
            }
        }
    }
    j
}

/// Call `f` with each top-level property name of a write body: JSON object keys, or
/// `a=1&b=2` form keys. A byte scan; stops at the first malformed byte.
pub fn body_props<'b>(body: &'b str, mut f: impl FnMut(&'b str)) {
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    if i >= b.len() {
        return;
    }
    if b[i] == b'[' {
        return;
    }
    if b[i] != b'{' {
        for kv in body.split('&') {
            let k = kv.split_once('=').map_or(kv, |(k, _)| k);
            if !k.is_empty() && k.len() <= 64 {
                f(k);
            }
        }
        return;
    }
    let mut depth = 0i32;
    let mut expect_key = false;
    while i < b.len() {
        match b[i] {
            b'{' | b'[' => {
                depth += 1;
                expect_key = b[i] == b'{' && depth == 1;
                i += 1;
            }
            b'}' | b']' => {
                depth -= 1;
                i += 1;
                if depth <= 0 {
                    return;
                }
            }
            b',' => {
                expect_key = depth == 1;
                i += 1;
            }
            b'"' => {
                let start = i + 1;
                let end = string_end(b, start).min(b.len());
                if expect_key && depth == 1 {
                    if let Some(k) = body.get(start..end) {
                        f(k);
                    }
                    expect_key = false;
                }
                i = end + 1;
            }
            _ => i += 1,
        }
    }
}

/// One parameter of a request, as [`for_each_param`] finds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Param<'a> {
    /// Where it was found.
    pub loc: ParamLoc,
    /// Its name: raw for query and form, the dotted path for JSON (`user.role`,
    /// `items[].qty`; an id-like key is `{id}`).
    pub name: &'a str,
    /// Its value, raw (percent-encoded for query and form; a JSON string without its quotes,
    /// escapes kept; a JSON number, `true` or `false` as written).
    pub value: &'a str,
    /// A JSON `null` (the key is there, without a value).
    pub null: bool,
}

/// Deepest JSON key path kept (`a.b.c.d`); deeper members are skipped.
pub const PARAM_MAX_DEPTH: usize = 4;
/// Most parameters read from one request (query and body together).
pub const PARAM_MAX_PER_REQUEST: usize = 64;
/// Elements of one JSON array read (the rest are skipped): `items[].qty` once per element.
pub const PARAM_MAX_ARRAY_ITEMS: usize = 8;
/// Bytes of a body scanned for parameters.
pub const PARAM_MAX_BODY_SCAN: usize = 64 * 1024;
/// Longest parameter name (or JSON key path) kept, bytes.
pub const PARAM_MAX_NAME: usize = 128;

/// How a request body carries parameters: from its `content-type`, or sniffed when there is
/// none (`{`/`[` for JSON; `a=1&b=2` for a form). Other content types carry none.
pub fn body_loc(ev: &ApiEvent<'_>) -> Option<ParamLoc> {
    let body = ev.request_body.as_deref()?;
    let first = body.bytes().find(|c| !c.is_ascii_whitespace())?;
    let json_like = first == b'{' || first == b'[';
    match ev.request_header("content-type") {
        Some(ct) if crate::common::contains_ci(ct, "json") => json_like.then_some(ParamLoc::Json),
        Some(ct) if crate::common::contains_ci(ct, "x-www-form-urlencoded") => Some(ParamLoc::Form),
        Some(_) => None,
        None if json_like => Some(ParamLoc::Json),
        None if looks_like_form(body) => Some(ParamLoc::Form),
        None => None,
    }
}

/// `a=1&b=x+y`: printable ASCII without spaces or markup, a name first, an `=`.
fn looks_like_form(body: &str) -> bool {
    let b = &body.as_bytes()[..body.len().min(512)];
    b.first()
        .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_')
        && b.contains(&b'=')
        && b.iter()
            .all(|&c| c.is_ascii_graphic() && !matches!(c, b'<' | b'>' | b'{' | b'"'))
}

/// Call `f` with each parameter of a request: query parameters, then the fields of a form
/// body or the leaf keys of a JSON body ([`body_loc`]), at most [`PARAM_MAX_PER_REQUEST`].
/// `f` returns `false` to stop. No allocation: names of JSON keys are built in a stack
/// buffer, values are slices of the event.
pub fn for_each_param(ev: &ApiEvent<'_>, mut f: impl FnMut(&Param<'_>) -> bool) {
    let mut n = 0usize;
    if !ev.query.is_empty() {
        for (k, v) in ev.query_params() {
            if k.is_empty() || k.len() > PARAM_MAX_NAME {
                continue;
            }
            n += 1;
            let p = Param {
                loc: ParamLoc::Query,
                name: k,
                value: v,
                null: false,
            };
            if n > PARAM_MAX_PER_REQUEST || !f(&p) {
                return;
            }
        }
    }
    let Some(loc) = body_loc(ev) else {
        return;
    };
    let Some(body) = ev.request_body.as_deref() else {
        return;
    };
    let mut end = body.len().min(PARAM_MAX_BODY_SCAN);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    let body = &body[..end];
    match loc {
        ParamLoc::Form => {
            for kv in body.split('&') {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                if k.is_empty() || k.len() > PARAM_MAX_NAME {
                    continue;
                }
                n += 1;
                let p = Param {
                    loc: ParamLoc::Form,
                    name: k,
                    value: v,
                    null: false,
                };
                if n > PARAM_MAX_PER_REQUEST || !f(&p) {
                    return;
                }
            }
        }
        ParamLoc::Json => {
            let mut s = JsonScan {
                s: body,
                i: 0,
                path: [0; PARAM_MAX_NAME],
                plen: 0,
                n,
                stop: false,
                f: &mut f,
            };
            s.value(0);
        }
        ParamLoc::Query => {}
    }
}

/// The parameters of one event, scanned once by the engine ([`ParamScan::fill`]) and read by
/// every consumer (the three parameter detectors, then the baselines' learning) instead of each
/// scanning the query and body again.
///
/// Invariant: after `fill(ev)`, [`ParamScan::for_each`] over the same `ev` yields exactly what
/// [`for_each_param`] yields, in the same order, each with `hash_bytes(name)`. Values are kept
/// as offsets into the event (no copy); names are copied, since JSON key paths are built on
/// the scanner's stack. The buffers are reused from event to event. After
/// [`ParamScan::resolve`] each parameter also carries the index of its learned profile in the
/// endpoint baseline it was resolved against (the event's `EventCtx::base`), so the
/// detectors do not each search the profile list.
#[derive(Debug, Default)]
pub struct ParamScan {
    names: String,
    items: Vec<ScannedParam>,
}

/// One parameter of a [`ParamScan`].
#[derive(Debug, Clone, Copy)]
struct ScannedParam {
    loc: ParamLoc,
    null: bool,
    /// Range of the name in [`ParamScan::names`].
    name: (u32, u32),
    /// Range of the value in the event's query (query parameters) or request body.
    value: (u32, u32),
    /// `hash_bytes` of the name.
    hash: u64,
    /// Index of the parameter's profile in the baseline of the last [`ParamScan::resolve`]
    /// ([`NO_PROFILE`] when it has none).
    profile: u16,
}

/// [`ScannedParam::profile`] of a parameter without a learned profile.
const NO_PROFILE: u16 = u16::MAX;

/// Where `part` starts in `whole`, when it is a slice of it.
#[inline]
fn offset_in(whole: &str, part: &str) -> Option<usize> {
    let (w, p) = (whole.as_ptr() as usize, part.as_ptr() as usize);
    (p >= w && p + part.len() <= w + whole.len()).then(|| p - w)
}

impl ParamScan {
    /// Scan the parameters of `ev` ([`for_each_param`]), replacing what was scanned before.
    pub fn fill(&mut self, ev: &ApiEvent<'_>) {
        self.names.clear();
        self.items.clear();
        let (names, items) = (&mut self.names, &mut self.items);
        let query: &str = &ev.query;
        let body: &str = ev.request_body.as_deref().unwrap_or("");
        for_each_param(ev, |p| {
            let src = if p.loc == ParamLoc::Query {
                query
            } else {
                body
            };
            // Every non-empty value is a slice of the query or the body (see
            // `for_each_param`); an empty one may be a literal `""`.
            let at = if p.value.is_empty() {
                0
            } else if let Some(at) = offset_in(src, p.value) {
                at
            } else {
                debug_assert!(false, "a parameter value outside its source");
                return true;
            };
            let start = names.len();
            names.push_str(p.name);
            items.push(ScannedParam {
                loc: p.loc,
                null: p.null,
                name: (start as u32, names.len() as u32),
                value: (at as u32, (at + p.value.len()) as u32),
                hash: hash_bytes(p.name.as_bytes()),
                profile: NO_PROFILE,
            });
            true
        });
    }

    /// Find each scanned parameter's profile in `base` (by location and name hash, as
    /// [`EndpointBaseline::param_at`]); none when `base` is `None`.
    pub fn resolve(&mut self, base: Option<&EndpointBaseline>) {
        for it in &mut self.items {
            it.profile = base
                .and_then(|b| {
                    b.params
                        .iter()
                        .position(|q| q.name == it.hash && q.loc == it.loc)
                })
                .and_then(|i| u16::try_from(i).ok())
                .unwrap_or(NO_PROFILE);
        }
    }

    /// Call `f` with each scanned parameter of `ev` (the event given to [`ParamScan::fill`])
    /// and its name's hash, in scan order; `f` returns `false` to stop.
    #[inline]
    pub fn for_each<'a>(
        &'a self,
        ev: &'a ApiEvent<'_>,
        mut f: impl FnMut(&Param<'a>, u64) -> bool,
    ) {
        self.for_each_resolved(ev, |p, h, _| f(p, h));
    }

    /// [`ParamScan::for_each`], with each parameter's profile index from the last
    /// [`ParamScan::resolve`] (`None` when it has none).
    #[inline]
    pub fn for_each_resolved<'a>(
        &'a self,
        ev: &'a ApiEvent<'_>,
        mut f: impl FnMut(&Param<'a>, u64, Option<usize>) -> bool,
    ) {
        let query: &'a str = &ev.query;
        let body: &'a str = ev.request_body.as_deref().unwrap_or("");
        for it in &self.items {
            let src = if it.loc == ParamLoc::Query {
                query
            } else {
                body
            };
            let p = Param {
                loc: it.loc,
                name: &self.names[it.name.0 as usize..it.name.1 as usize],
                value: &src[it.value.0 as usize..it.value.1 as usize],
                null: it.null,
            };
            let profile = (it.profile != NO_PROFILE).then_some(usize::from(it.profile));
            if !f(&p, it.hash, profile) {
                return;
            }
        }
    }

    /// Parameters scanned.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether no parameter was scanned.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// A bounded, recursive (at most [`PARAM_MAX_DEPTH`] deep) scan of a JSON body that reports
/// leaf values by dotted key path. Stops at the first malformed byte.
struct JsonScan<'b, 'f, F: FnMut(&Param<'_>) -> bool> {
    s: &'b str,
    i: usize,
    path: [u8; PARAM_MAX_NAME],
    plen: usize,
    n: usize,
    stop: bool,
    f: &'f mut F,
}

/// Whether a JSON key is an id (all digits, a UUID, long hex): such keys make maps, not
/// schemas, and are all named `{id}`.
fn id_like_key(k: &[u8]) -> bool {
    !k.is_empty()
        && (k.iter().all(u8::is_ascii_digit)
            || (k.len() >= 16 && k.iter().all(|c| c.is_ascii_hexdigit() || *c == b'-')))
}

impl<F: FnMut(&Param<'_>) -> bool> JsonScan<'_, '_, F> {
    #[inline]
    fn bytes(&self) -> &[u8] {
        self.s.as_bytes()
    }
    fn ws(&mut self) {
        while self.i < self.s.len() && self.bytes()[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    /// At a `"`: the content's range, past the closing quote.
    fn string(&mut self) -> Option<(usize, usize)> {
        let b = self.s.as_bytes();
        let start = self.i + 1;
        let j = string_end(b, start);
        if j >= b.len() {
            self.stop = true;
            return None;
        }
        self.i = j + 1;
        Some((start, j))
    }
    /// Append `.seg` (or `seg` at the root); `false` when the path would be too long.
    fn push(&mut self, seg: &[u8], dot: bool) -> bool {
        let extra = usize::from(dot && self.plen > 0);
        if self.plen + extra + seg.len() > PARAM_MAX_NAME {
            return false;
        }
        if extra == 1 {
            self.path[self.plen] = b'.';
            self.plen += 1;
        }
        self.path[self.plen..self.plen + seg.len()].copy_from_slice(seg);
        self.plen += seg.len();
        true
    }
    fn emit(&mut self, value: &str, null: bool) {
        if self.plen == 0 || self.stop {
            return;
        }
        self.n += 1;
        if self.n > PARAM_MAX_PER_REQUEST {
            self.stop = true;
            return;
        }
        let Ok(name) = std::str::from_utf8(&self.path[..self.plen]) else {
            return;
        };
        let p = Param {
            loc: ParamLoc::Json,
            name,
            value,
            null,
        };
        if !(self.f)(&p) {
            self.stop = true;
        }
    }
    /// Skip one value without reporting it.
    fn skip(&mut self) {
        self.ws();
        let b = self.s.as_bytes();
        let mut depth = 0usize;
        while self.i < b.len() && !self.stop {
            match b[self.i] {
                b'"' => {
                    self.string();
                    if depth == 0 {
                        return;
                    }
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    if depth == 0 {
                        return;
                    }
                    depth -= 1;
                    if depth == 0 {
                        self.i += 1;
                        return;
                    }
                }
                b',' if depth == 0 => return,
                _ => {}
            }
            self.i += 1;
        }
    }
    /// One value; `depth` containers are open around it.
    fn value(&mut self, depth: usize) {
        self.ws();
        let b = self.s.as_bytes();
        let Some(&c) = b.get(self.i) else {
            self.stop = true;
            return;
        };
        match c {
            b'{' | b'[' if depth >= PARAM_MAX_DEPTH => self.skip(),
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => {
                if let Some((a, z)) = self.string() {
                    let s = self.s;
                    self.emit(&s[a..z], false);
                }
            }
            _ => {
                let start = self.i;
                while self.i < b.len()
                    && !matches!(b[self.i], b',' | b'}' | b']')
                    && !b[self.i].is_ascii_whitespace()
                {
                    self.i += 1;
                }
                if self.i == start {
                    self.stop = true;
                    return;
                }
                let s = self.s;
                let tok = &s[start..self.i];
                self.emit(tok, tok == "null");
            }
        }
    }
    fn object(&mut self, depth: usize) {
        self.i += 1;
        self.ws();
        if self.bytes().get(self.i) == Some(&b'}') {
            self.i += 1;
            return;
        }
        while !self.stop {
            self.ws();
            if self.bytes().get(self.i) != Some(&b'"') {
                self.stop = true;
                return;
            }
            let Some((a, z)) = self.string() else {
                return;
            };
            self.ws();
            if self.bytes().get(self.i) != Some(&b':') {
                self.stop = true;
                return;
            }
            self.i += 1;
            let saved = self.plen;
            let s = self.s;
            let key = &s.as_bytes()[a..z];
            let seg: &[u8] = if id_like_key(key) { b"{id}" } else { key };
            if !key.is_empty() && self.push(seg, true) {
                self.value(depth);
            } else {
                self.skip();
            }
            self.plen = saved;
            self.ws();
            match self.bytes().get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return;
                }
                _ => {
                    self.stop = true;
                    return;
                }
            }
        }
    }
    fn array(&mut self, depth: usize) {
        self.i += 1;
        self.ws();
        if self.bytes().get(self.i) == Some(&b']') {
            self.i += 1;
            return;
        }
        let saved = self.plen;
        let pushed = self.push(b"[]", false);
        let mut items = 0usize;
        while !self.stop {
            if pushed && items < PARAM_MAX_ARRAY_ITEMS {
                self.value(depth);
            } else {
                self.skip();
            }
            items += 1;
            self.ws();
            match self.bytes().get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    break;
                }
                _ => {
                    self.stop = true;
                    break;
                }
            }
        }
        self.plen = saved;
    }
}

impl Baselines {
    /// Empty baselines.
    pub fn new(cfg: BaselineConfig) -> Self {
        let map = KeyedState::new(cfg.max_endpoints, cfg.idle_ms);
        Baselines { cfg, map }
    }

    /// The baseline of an endpoint key, when known.
    #[inline]
    pub fn get(&self, endpoint: u64) -> Option<&EndpointBaseline> {
        self.map.get(endpoint)
    }

    /// Number of endpoints tracked.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no endpoint is tracked.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Learn from one event (after detectors looked at it).
    pub fn learn(&mut self, ev: &ApiEvent<'_>, endpoint: u64, status_class: u8, write: bool) {
        self.learn_scanned(ev, None, endpoint, status_class, write);
    }

    /// [`Baselines::learn`], reading the event's parameters from `params` (its [`ParamScan`],
    /// when the engine scanned it) instead of scanning them again.
    pub fn learn_scanned(
        &mut self,
        ev: &ApiEvent<'_>,
        params: Option<&ParamScan>,
        endpoint: u64,
        status_class: u8,
        write: bool,
    ) {
        let now = ev.ts.millis();
        let cfg = &self.cfg;
        let b = self
            .map
            .get_or_insert_with(endpoint, now, || EndpointBaseline {
                first_seen: now,
                minute: now.div_euclid(60_000),
                ..Default::default()
            });
        let minute = now.div_euclid(60_000);
        if minute > b.minute {
            if !b.learned {
                b.rate.push(f64::from(b.minute_count));
                let gap = (minute - b.minute - 1).min(60);
                for _ in 0..gap {
                    b.rate.push(0.0);
                }
            }
            b.minute = minute;
            b.minute_count = 0;
        }
        b.minute_count = b.minute_count.saturating_add(1);
        if b.learned {
            return;
        }
        b.samples += 1;
        if !b.params_learned {
            b.param_samples += 1;
            let max = cfg.max_params;
            let (profiles, overflow) = (&mut b.params, &mut b.params_overflow);
            // `at`: where the scan resolved the profile (against this same baseline, before
            // this event), checked; a name first seen in this event is searched for, since an
            // earlier parameter of the event may have just added it.
            let mut learn_one = |p: &Param<'_>, h: u64, at: Option<usize>| {
                let found = at
                    .filter(|&i| {
                        profiles
                            .get(i)
                            .is_some_and(|q| q.name == h && q.loc == p.loc)
                    })
                    .or_else(|| profiles.iter().position(|q| q.name == h && q.loc == p.loc));
                match found {
                    Some(i) => profiles[i].learn(p),
                    None if profiles.len() < max => {
                        let mut q = ParamProfile {
                            name: h,
                            loc: p.loc,
                            ..Default::default()
                        };
                        q.learn(p);
                        profiles.push(q);
                    }
                    None => *overflow |= p.loc.bit(),
                }
                true
            };
            match params {
                Some(scan) => scan.for_each_resolved(ev, learn_one),
                None => for_each_param(ev, |p| learn_one(p, hash_bytes(p.name.as_bytes()), None)),
            }
        }
        if let Some(n) = ev.request_bytes {
            b.req_bytes.push(n as f64);
        }
        if let Some(n) = ev.response_bytes {
            b.resp_bytes.push(n as f64);
        }
        if let Some(n) = ev.latency_us {
            b.latency_us.push(n as f64);
        }
        b.status[usize::from(status_class.min(5))] += 1;
        if ev.authenticated {
            b.authenticated += 1;
        }
        if write {
            if let Some(body) = &ev.request_body {
                b.write_bodies += 1;
                let max = cfg.max_body_props;
                let (props, overflow) = (&mut b.body_props, &mut b.body_overflow);
                body_props(body, |k| {
                    let h = hash_bytes(k.as_bytes());
                    if !props.contains(&h) {
                        if props.len() < max {
                            props.push(h);
                        } else {
                            *overflow = true;
                        }
                    }
                });
            }
        }
        if b.samples >= cfg.min_samples
            || (now - b.first_seen >= cfg.learning_ms && b.samples >= cfg.min_learned_samples)
        {
            b.learned = true;
            b.params_learned = true;
            b.rate.push(f64::from(b.minute_count));
        } else if b.param_samples >= cfg.param_min_samples {
            b.params_learned = true;
        }
    }

    /// Forget idle endpoints.
    pub fn tick(&mut self, now: i64) {
        self.map.tick(now);
    }

    /// Approximate bytes held.
    pub fn state_bytes(&self) -> usize {
        self.map.approx_bytes_deep()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(body: &str) -> Vec<String> {
        let mut v = Vec::new();
        body_props(body, |k| v.push(k.to_string()));
        v
    }

    #[test]
    fn body_props_cases() {
        for (body, expected) in [
            (r#"{"name":"a","role":"admin"}"#, vec!["name", "role"]),
            (
                r#" {"a":{"b":1},"c":[1,{"d":2}],"e":"x\"y"}"#,
                vec!["a", "c", "e"],
            ),
            ("name=a&is_admin=1", vec!["name", "is_admin"]),
            ("", vec![]),
            (r#"[{"a":1}]"#, vec![]),
        ] {
            assert_eq!(props(body), expected, "{body}");
        }
    }

    fn params_of(
        ct: Option<&str>,
        query: &str,
        body: Option<&str>,
    ) -> Vec<(ParamLoc, String, String, bool)> {
        let ev = ApiEvent {
            query: query.to_string().into(),
            request_body: body.map(|b| b.to_string().into()),
            request_headers: ct
                .map(|c| vec![("content-type".into(), c.to_string().into())])
                .unwrap_or_default(),
            ..Default::default()
        };
        let mut v = Vec::new();
        for_each_param(&ev, |p| {
            v.push((p.loc, p.name.to_string(), p.value.to_string(), p.null));
            true
        });
        // The engine's shared scan yields the same parameters, in order, with their hashes.
        let mut scan = ParamScan::default();
        scan.fill(&ev);
        let mut shared = Vec::new();
        scan.for_each(&ev, |p, h| {
            assert_eq!(h, hash_bytes(p.name.as_bytes()));
            shared.push((p.loc, p.name.to_string(), p.value.to_string(), p.null));
            true
        });
        assert_eq!(shared, v, "ParamScan differs from for_each_param");
        v
    }

    fn names(ct: Option<&str>, query: &str, body: Option<&str>) -> Vec<String> {
        params_of(ct, query, body)
            .into_iter()
            .map(|(l, n, v, _)| format!("{}:{n}={v}", l.name()))
            .collect()
    }

    #[test]
    fn params_are_found_in_query_form_and_json() {
        use ParamLoc::*;
        type Case<'a> = (Option<&'a str>, &'a str, Option<&'a str>, &'a [&'a str]);
        let cases: &[Case<'_>] = &[
            (None, "a=1&b=x", None, &["query:a=1", "query:b=x"]),
            (
                None,
                "",
                Some(r#"{"user":{"name":"a b","role":"admin"},"n":-1.5e3,"ok":true}"#),
                &[
                    "json:user.name=a b",
                    "json:user.role=admin",
                    "json:n=-1.5e3",
                    "json:ok=true",
                ],
            ),
            // Arrays collapse to `[]`; id-like keys are `{id}`; escapes are kept raw.
            (
                Some("application/json; charset=utf-8"),
                "p=2",
                Some(r#" {"items":[{"qty":1},{"qty":2}],"tags":["x"],"m":{"123":{"v":"q\"r"}}}"#),
                &[
                    "query:p=2",
                    "json:items[].qty=1",
                    "json:items[].qty=2",
                    "json:tags[]=x",
                    r#"json:m.{id}.v=q\"r"#,
                ],
            ),
            // Depth is bounded: a.b.c.d is kept, a.b.c.d.e is not; the scan goes on after.
            (
                None,
                "",
                Some(r#"{"a":{"b":{"c":{"d":1,"x":{"e":2}}}},"z":3}"#),
                &["json:a.b.c.d=1", "json:z=3"],
            ),
            (None, "", Some(r#"[{"a":1}]"#), &["json:[].a=1"]),
            (
                None,
                "",
                Some("name=a+b&is_admin=1"),
                &["form:name=a+b", "form:is_admin=1"],
            ),
            (
                Some("application/x-www-form-urlencoded"),
                "",
                Some("x=%3Cb%3E"),
                &["form:x=%3Cb%3E"],
            ),
            // Not a form, not JSON, or the content type says otherwise: no body parameters.
            (None, "", Some("hello world"), &[]),
            (None, "", Some("<a b=\"1\"/>"), &[]),
            (Some("text/plain"), "", Some("a=1"), &[]),
            (Some("application/json"), "", Some("a=1"), &[]),
            // Malformed JSON: what came before the bad byte.
            (None, "", Some(r#"{"a":1,"b" 2,"c":3}"#), &["json:a=1"]),
            (None, "", Some(r#"{"a":"unterminated"#), &[]),
        ];
        for (ct, q, b, want) in cases {
            assert_eq!(names(*ct, q, *b), *want, "{ct:?} {q:?} {b:?}");
        }
        let nulls = params_of(None, "", Some(r#"{"a":null,"b":"null"}"#));
        assert_eq!(
            nulls.iter().map(|p| (p.0, p.3)).collect::<Vec<_>>(),
            [(Json, true), (Json, false)]
        );
    }

    #[test]
    fn params_per_request_and_array_items_are_bounded() {
        let big = format!(
            "{{\"xs\":[{}],\"after\":1}}",
            (0..100)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(
            names(None, "", Some(&big)).len(),
            PARAM_MAX_ARRAY_ITEMS + 1,
            "8 items, then the key after the array"
        );
        let wide = format!(
            "{{{}}}",
            (0..200)
                .map(|i| format!("\"k{i}\":1"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(names(None, "", Some(&wide)).len(), PARAM_MAX_PER_REQUEST);
        let long_key = format!("{{\"{}\":1,\"b\":2}}", "k".repeat(PARAM_MAX_NAME + 1));
        assert_eq!(names(None, "", Some(&long_key)), ["json:b=2"]);
    }

    #[test]
    fn value_shapes_decode_one_layer() {
        use CharClass::*;
        let m = |cs: &[CharClass]| cs.iter().fold(0u16, |m, c| m | c.bit());
        for (v, loc, classes, len) in [
            ("42", ParamLoc::Query, m(&[Digit]), 2),
            (
                "1%27%20OR%201=1",
                ParamLoc::Query,
                m(&[Digit, Quote, Space, Upper, Equals]),
                9,
            ),
            ("desk+lamp", ParamLoc::Query, m(&[Lower, Space]), 9),
            (
                "%253Cx",
                ParamLoc::Form,
                m(&[Percent, Digit, Upper, Lower]),
                4,
            ),
            ("%zz", ParamLoc::Form, m(&[Percent, Lower]), 3),
            (
                r#"a\"b\u003c\n"#,
                ParamLoc::Json,
                m(&[Lower, Quote, Angle, Control]),
                5,
            ),
            ("a+b", ParamLoc::Json, m(&[Lower, Punct]), 3),
            (
                "é/x;",
                ParamLoc::Json,
                m(&[NonAscii, Slash, Lower, Shell]),
                5,
            ),
            (
                "(A_b)",
                ParamLoc::Json,
                m(&[Bracket, Upper, Dash, Lower]),
                5,
            ),
        ] {
            assert_eq!(value_shape(v, loc), (classes, len), "{v:?} {loc:?}");
        }
    }

    /// `string_end` stops where stepping byte by byte (a `\\` skipping the next byte) does.
    #[test]
    fn string_end_matches_stepping() {
        let step = |b: &[u8], start: usize| {
            let mut j = start;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            j.min(b.len())
        };
        for s in [
            r#""""#,
            r#""abc""#,
            r#""a\"b"c"#,
            r#""a\\"b"#,
            r#""a\"#,
            r#""\"#,
            r#""abc"#,
            r#""\u0022x" y"#,
            "\"caf\u{e9}\\\"\"",
        ] {
            let b = s.as_bytes();
            assert_eq!(string_end(b, 1).min(b.len()), step(b, 1), "{s}");
        }
    }

    /// Learning through the engine's resolved scan (a repeated name in one event included)
    /// gives the same profiles as learning by scanning, and a resolved index names the
    /// profile `param_at` finds.
    #[test]
    fn scanned_learning_matches_scanning_and_resolves_profiles() {
        let (mut plain, mut scanned) = (
            Baselines::new(BaselineConfig::default()),
            Baselines::new(BaselineConfig::default()),
        );
        let mut scan = ParamScan::default();
        for i in 0..40i64 {
            let ev = ApiEvent {
                ts: rampart_model::Timestamp::from_millis(i * 1_000),
                query: format!("a={i}&b=x&a=%27{i}&n{}=1", i % 5).into(),
                request_body: Some(format!(r#"{{"u":{{"r":"v{i}"}},"l":[1,"x"]}}"#).into()),
                ..Default::default()
            };
            plain.learn(&ev, 1, 2, true);
            scan.fill(&ev);
            scan.resolve(scanned.get(1));
            if let Some(base) = scanned.get(1) {
                scan.for_each_resolved(&ev, |p, h, at| {
                    let want = base.param_at(p.loc, h).map(|q| q as *const ParamProfile);
                    let got = at.map(|i| &base.params[i] as *const ParamProfile);
                    assert_eq!(got, want, "{}", p.name);
                    true
                });
            }
            scanned.learn_scanned(&ev, Some(&scan), 1, 2, true);
        }
        let (a, b) = (
            plain.get(1).expect("learned"),
            scanned.get(1).expect("learned"),
        );
        assert_eq!(a.params, b.params);
        assert_eq!(a.params_overflow, b.params_overflow);
    }

    #[test]
    fn param_profiles_learn_then_freeze_and_stay_bounded() {
        let cfg = BaselineConfig {
            param_min_samples: 50,
            max_params: 3,
            ..Default::default()
        };
        let mut b = Baselines::new(cfg);
        for i in 0..60i64 {
            let ev = ApiEvent {
                ts: rampart_model::Timestamp::from_millis(i * 1_000),
                query: format!("id={}&q=ab&k{}=1", i % 7 + 1, i % 4).into(),
                ..Default::default()
            };
            b.learn(&ev, 1, 2, false);
        }
        let e = b.get(1).expect("learned");
        assert!(
            e.params_learned && !e.learned,
            "params learn before the endpoint"
        );
        assert_eq!(e.param_samples, 50, "frozen at param_min_samples");
        assert_eq!(e.params.len(), 3);
        assert!(e.params_overflowed(ParamLoc::Query));
        assert!(!e.params_overflowed(ParamLoc::Json));
        let id = e.param(hash_bytes(b"id")).expect("id learned");
        assert_eq!(
            (id.seen, id.values(), id.min_len, id.max_len),
            (50, 50, 1, 1)
        );
        assert_eq!((id.classes, id.max_int), (CharClass::Digit.bit(), 7));
        assert_eq!(id.types[value_type_index(ValueType::Integer)], 50);
        assert!(std::mem::size_of::<ParamProfile>() <= 48);
    }
}
