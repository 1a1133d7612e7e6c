//! A borrowed view of an [`ApiEvent`] under Sigma's `webserver` / `proxy` field names.
//!
//! Implements [`rsigma_eval::Event`] directly, so the evaluator reads the event's own strings
//! without building a JSON map. The few derived strings (full URI, percent-decoded forms, IP
//! text) are computed once per event when the view is built or on first use.

use std::borrow::Cow;
use std::cell::OnceCell;

use rampart_model::ApiEvent;
use rsigma_eval::{Event, EventValue};
use serde_json::Value;

/// The Sigma fields Rampart fills, and what each reads from the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Method,
    Uri,
    Stem,
    Query,
    Extension,
    UserAgent,
    Referer,
    Status,
    Host,
    ClientIp,
    Cookie,
    Version,
    ReqBytes,
    RespBytes,
    User,
    ContentType,
}

/// Sigma field name to slot. Names follow the SigmaHQ `webserver` (W3C extended log) and
/// `proxy` taxonomies; the listed aliases are spellings found in SigmaHQ rules.
const FIELDS: &[(&str, Slot)] = &[
    ("cs-method", Slot::Method),
    ("cs-uri-query", Slot::Uri),
    ("cs-uri", Slot::Uri),
    ("c-uri", Slot::Uri),
    ("cs-uri-stem", Slot::Stem),
    ("c-uri-stem", Slot::Stem),
    ("c-uri-query", Slot::Query),
    ("c-uri-extension", Slot::Extension),
    ("c-useragent", Slot::UserAgent),
    ("cs-user-agent", Slot::UserAgent),
    ("cs-referrer", Slot::Referer),
    ("cs-referer", Slot::Referer),
    ("sc-status", Slot::Status),
    ("cs-host", Slot::Host),
    ("r-dns", Slot::Host),
    ("c-ip", Slot::ClientIp),
    ("src_ip", Slot::ClientIp),
    ("cs-cookie", Slot::Cookie),
    ("cs-version", Slot::Version),
    ("cs-bytes", Slot::ReqBytes),
    ("sc-bytes", Slot::RespBytes),
    ("cs-username", Slot::User),
    ("cs-content-type", Slot::ContentType),
];

/// The Sigma field names this view can answer (for documentation and reports).
pub fn field_names() -> impl Iterator<Item = &'static str> {
    FIELDS.iter().map(|(n, _)| *n)
}

fn slot_of(name: &str) -> Option<Slot> {
    FIELDS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// Which prefilter automaton scans a text: keyword texts, or the values of one field group.
/// A needle derived from a matcher on a field is only looked for in that field's texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScanGroup {
    /// The texts keywords (unnamed detection values) are searched in.
    Keywords = 0,
    /// The URI, path, query and extension, raw and percent-decoded.
    Uri,
    /// The user agent.
    UserAgent,
    /// The referer.
    Referer,
    /// The host.
    Host,
    /// The cookie header, the user name and the content type.
    Other,
}

impl ScanGroup {
    /// Number of groups.
    pub(crate) const COUNT: usize = 6;
}

/// The group whose texts hold every string value of Sigma field `name` as visited by
/// [`EventView::visit_scan_texts`]; `None` for fields that are not scanned. Method, protocol,
/// status, client IP and byte counts are not scanned: short or numeric values that nearly
/// every event shares make poor prefilter needles.
pub(crate) fn scan_group(name: &str) -> Option<ScanGroup> {
    match slot_of(name)? {
        Slot::Uri | Slot::Stem | Slot::Query | Slot::Extension => Some(ScanGroup::Uri),
        Slot::UserAgent => Some(ScanGroup::UserAgent),
        Slot::Referer => Some(ScanGroup::Referer),
        Slot::Host => Some(ScanGroup::Host),
        Slot::Cookie | Slot::User | Slot::ContentType => Some(ScanGroup::Other),
        Slot::Method
        | Slot::Status
        | Slot::ClientIp
        | Slot::Version
        | Slot::ReqBytes
        | Slot::RespBytes => None,
    }
}

/// Percent-decode (and `+` to space when `plus` is set); `None` when decoding changes nothing.
pub(crate) fn percent_decode(s: &str, plus: bool) -> Option<String> {
    let b = s.as_bytes();
    if !b.iter().any(|&c| c == b'%' || (plus && c == b'+')) {
        return None;
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' && i + 2 < b.len() {
            let hi = (b[i + 1] as char).to_digit(16);
            let lo = (b[i + 2] as char).to_digit(16);
            if let (Some(h), Some(l)) = (hi, lo) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(if plus && c == b'+' { b' ' } else { c });
        i += 1;
    }
    let decoded = String::from_utf8_lossy(&out).into_owned();
    (decoded != s).then_some(decoded)
}

/// An [`ApiEvent`] seen through Sigma field names.
pub struct EventView<'e> {
    ev: &'e ApiEvent<'e>,
    uri: Cow<'e, str>,
    uri_decoded: Option<String>,
    stem_decoded: Option<String>,
    query_decoded: Option<String>,
    decode: bool,
    ip: OnceCell<String>,
    request_line: OnceCell<String>,
}

impl<'e> EventView<'e> {
    /// A view of `ev`. With `decode`, URI fields also present their percent-decoded form
    /// (as a second value: a rule matches if either the raw or the decoded form matches).
    pub fn new(ev: &'e ApiEvent<'e>, decode: bool) -> Self {
        let uri = if ev.query.is_empty() {
            Cow::Borrowed(ev.path.as_ref())
        } else {
            let mut s = String::with_capacity(ev.path.len() + 1 + ev.query.len());
            s.push_str(&ev.path);
            s.push('?');
            s.push_str(&ev.query);
            Cow::Owned(s)
        };
        let (uri_decoded, stem_decoded, query_decoded) = if decode {
            (
                percent_decode(&uri, true),
                percent_decode(&ev.path, false),
                percent_decode(&ev.query, true),
            )
        } else {
            (None, None, None)
        };
        EventView {
            ev,
            uri,
            uri_decoded,
            stem_decoded,
            query_decoded,
            decode,
            ip: OnceCell::new(),
            request_line: OnceCell::new(),
        }
    }

    /// The full request URI (`path?query`), raw.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    fn extension(&self) -> Option<&str> {
        let last = self.ev.path.rsplit('/').next()?;
        let (_, ext) = last.rsplit_once('.')?;
        (!ext.is_empty()).then_some(ext)
    }

    fn ip_text(&self) -> Option<&str> {
        let ip = self.ev.client_ip?;
        Some(self.ip.get_or_init(|| ip.to_string()).as_str())
    }

    /// The text keywords (unnamed detection values) are searched in: the raw log line, or a
    /// synthesized `METHOD uri PROTOCOL` line with the user agent and referer when no raw line
    /// was kept; then, when decoding is on, the percent-decoded URI; then the diagnostic message.
    fn keyword_texts(&self, visit: &mut dyn FnMut(&str) -> bool) -> bool {
        if !self.ev.raw.is_empty() {
            if visit(&self.ev.raw) {
                return true;
            }
        } else {
            let line = self.request_line.get_or_init(|| {
                let e = self.ev;
                format!(
                    "{} {} {} \"{}\" \"{}\"",
                    e.method, self.uri, e.protocol, e.referer, e.user_agent
                )
            });
            if visit(line) {
                return true;
            }
        }
        if let Some(d) = self.uri_decoded.as_deref().filter(|_| self.decode) {
            if visit(d) {
                return true;
            }
        }
        if let Some(m) = &self.ev.message {
            if visit(m) {
                return true;
            }
        }
        false
    }

    /// Every text the prefilter scans, with its group: each keyword text, and each string
    /// value the fields [`scan_group`] places can take (exactly the strings
    /// [`Event::get_field`] returns for them, empty ones included), each visited whole, so
    /// that a matcher comparing a whole value (exact, prefix, suffix) may be gated on an
    /// anchored needle.
    pub(crate) fn visit_scan_texts(&self, visit: &mut dyn FnMut(ScanGroup, &str)) {
        self.keyword_texts(&mut |s| {
            visit(ScanGroup::Keywords, s);
            false
        });
        let e = self.ev;
        let uri = &mut |s: &str| visit(ScanGroup::Uri, s);
        uri(&self.uri);
        uri(&e.path);
        if !e.query.is_empty() {
            uri(&e.query);
        }
        if self.decode {
            for d in [&self.uri_decoded, &self.stem_decoded]
                .into_iter()
                .flatten()
            {
                uri(d);
            }
            if !e.query.is_empty() {
                if let Some(d) = &self.query_decoded {
                    uri(d);
                }
            }
        }
        if let Some(x) = self.extension() {
            uri(x);
        }
        for (g, s) in [
            (ScanGroup::UserAgent, &e.user_agent),
            (ScanGroup::Referer, &e.referer),
            (ScanGroup::Host, &e.host),
        ] {
            if !s.is_empty() {
                visit(g, s);
            }
        }
        for s in [
            e.request_header("cookie"),
            e.request_header("content-type"),
            e.principal.as_deref(),
        ]
        .into_iter()
        .flatten()
        {
            if !s.is_empty() {
                visit(ScanGroup::Other, s);
            }
        }
    }

    fn str_or_decoded<'s>(&'s self, raw: &'s str, decoded: &'s Option<String>) -> EventValue<'s> {
        match decoded {
            Some(d) if self.decode => EventValue::Array(vec![
                EventValue::Str(Cow::Borrowed(raw)),
                EventValue::Str(Cow::Borrowed(d.as_str())),
            ]),
            _ => EventValue::Str(Cow::Borrowed(raw)),
        }
    }

    fn nonempty(s: &str) -> Option<EventValue<'_>> {
        (!s.is_empty()).then_some(EventValue::Str(Cow::Borrowed(s)))
    }

    fn slot(&self, slot: Slot) -> Option<EventValue<'_>> {
        let e = self.ev;
        match slot {
            Slot::Method => Self::nonempty(&e.method),
            Slot::Uri => Some(self.str_or_decoded(&self.uri, &self.uri_decoded)),
            Slot::Stem => Some(self.str_or_decoded(&e.path, &self.stem_decoded)),
            Slot::Query => {
                if e.query.is_empty() {
                    None
                } else {
                    Some(self.str_or_decoded(&e.query, &self.query_decoded))
                }
            }
            Slot::Extension => self.extension().and_then(Self::nonempty),
            Slot::UserAgent => Self::nonempty(&e.user_agent),
            Slot::Referer => Self::nonempty(&e.referer),
            Slot::Status => (e.status != 0).then_some(EventValue::Int(i64::from(e.status))),
            Slot::Host => Self::nonempty(&e.host),
            Slot::ClientIp => self.ip_text().map(|s| EventValue::Str(Cow::Borrowed(s))),
            Slot::Cookie => e.request_header("cookie").and_then(Self::nonempty),
            Slot::Version => Self::nonempty(&e.protocol),
            Slot::ReqBytes => e
                .request_bytes
                .map(|b| EventValue::Int(i64::try_from(b).unwrap_or(i64::MAX))),
            Slot::RespBytes => e
                .response_bytes
                .map(|b| EventValue::Int(i64::try_from(b).unwrap_or(i64::MAX))),
            Slot::User => e.principal.as_deref().and_then(Self::nonempty),
            Slot::ContentType => e.request_header("content-type").and_then(Self::nonempty),
        }
    }
}

impl Event for EventView<'_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        self.slot(slot_of(path)?)
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        self.keyword_texts(&mut |s| pred(s))
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        let mut v = Vec::new();
        self.visit_string_values(&mut |s| v.push(Cow::Owned(s.to_string())));
        v
    }

    fn visit_string_values(&self, visit: &mut dyn FnMut(&str)) {
        self.keyword_texts(&mut |s| {
            visit(s);
            false
        });
    }

    fn to_json(&self) -> Value {
        let mut map = serde_json::Map::new();
        for (name, slot) in FIELDS {
            if let Some(v) = self.slot(*slot) {
                map.insert((*name).to_string(), v.to_json());
            }
        }
        Value::Object(map)
    }

    fn visit_top_level_keys(&self, visit: &mut dyn FnMut(&str)) -> bool {
        for (name, slot) in FIELDS {
            if self.slot_present(*slot) {
                visit(name);
            }
        }
        true
    }

    fn top_level_keys(&self) -> Option<Vec<Cow<'_, str>>> {
        let mut v = Vec::new();
        self.visit_top_level_keys(&mut |k| v.push(Cow::Owned(k.to_string())));
        Some(v)
    }
}

impl EventView<'_> {
    fn slot_present(&self, slot: Slot) -> bool {
        let e = self.ev;
        match slot {
            Slot::Method => !e.method.is_empty(),
            Slot::Uri | Slot::Stem => true,
            Slot::Query => !e.query.is_empty(),
            Slot::Extension => self.extension().is_some(),
            Slot::UserAgent => !e.user_agent.is_empty(),
            Slot::Referer => !e.referer.is_empty(),
            Slot::Status => e.status != 0,
            Slot::Host => !e.host.is_empty(),
            Slot::ClientIp => e.client_ip.is_some(),
            Slot::Cookie => e.request_header("cookie").is_some_and(|s| !s.is_empty()),
            Slot::Version => !e.protocol.is_empty(),
            Slot::ReqBytes => e.request_bytes.is_some(),
            Slot::RespBytes => e.response_bytes.is_some(),
            Slot::User => e.principal.as_deref().is_some_and(|s| !s.is_empty()),
            Slot::ContentType => e
                .request_header("content-type")
                .is_some_and(|s| !s.is_empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, plus: bool, expected: Option<&str>) {
        assert_eq!(percent_decode(input, plus).as_deref(), expected, "{input}");
    }

    #[test]
    fn percent_decoding() {
        check("/a/b", true, None);
        check("%2e%2e/etc", false, Some("../etc"));
        check("a+b", true, Some("a b"));
        check("a+b", false, None);
        check("%zz%2", false, None);
        check("x%41", false, Some("xA"));
        check("%", true, None);
    }

    #[test]
    fn fields_map_onto_event() {
        let ev = ApiEvent {
            method: "GET".into(),
            path: "/a/x.php".into(),
            query: "id=1".into(),
            status: 404,
            client_ip: Some("10.0.0.1".parse().unwrap()),
            ..Default::default()
        };
        let v = EventView::new(&ev, false);
        let s = |f: &str| {
            v.get_field(f)
                .and_then(|x| x.as_str().map(|c| c.into_owned()))
        };
        assert_eq!(s("cs-uri-query").as_deref(), Some("/a/x.php?id=1"));
        assert_eq!(s("cs-uri-stem").as_deref(), Some("/a/x.php"));
        assert_eq!(s("c-uri-query").as_deref(), Some("id=1"));
        assert_eq!(s("c-uri-extension").as_deref(), Some("php"));
        assert_eq!(s("sc-status").as_deref(), Some("404"));
        assert_eq!(s("c-ip").as_deref(), Some("10.0.0.1"));
        assert_eq!(s("c-useragent"), None);
        assert_eq!(s("no-such-field"), None);
    }
}
