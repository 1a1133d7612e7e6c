//! `protocol_abuse`: open-proxy attempts (`CONNECT`, absolute-URI requests), invalid HTTP
//! versions and methods, binary junk request lines, `w00tw00t` probes, and (on records that
//! carry headers and bodies, [`crate::protocol_request`]) the protocol evasions a WAF's
//! protocol-enforcement rules catch: multipart and content-type confusion, smuggling set-ups,
//! range abuse, evasive encodings, restricted and missing headers.

use rampart_detect::{Detector, EventCtx};
use rampart_model::{AlertDraft, AttackStage, Severity, Timestamp};

use crate::common::{build_alert, clip, ip_text, reason, AlertSpec, Cooldown};
use rampart_detect::registry::Resources;

/// Configuration of `protocol_abuse`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProtocolConfig {
    /// HTTP versions accepted as valid (after `HTTP/`).
    pub valid_versions: Vec<String>,
    /// Cooldown per (IP, kind), seconds.
    pub cooldown_secs: i64,
    /// Most cooldown entries.
    pub max_entries: usize,
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        ProtocolConfig {
            valid_versions: ["0.9", "1.0", "1.1", "2", "2.0", "3", "3.0"]
                .map(String::from)
                .to_vec(),
            cooldown_secs: 600,
            max_entries: 50_000,
        }
    }
}

/// What kind of abuse was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abuse {
    /// `CONNECT` or an absolute URI for another host.
    OpenProxy,
    /// A protocol version that does not exist.
    InvalidVersion,
    /// A request line that is not HTTP (binary, other protocol).
    Malformed,
    /// The `w00tw00t` scanner probe.
    W00tw00t,
    /// A diagnostic method ([`DIAGNOSTIC_METHODS`]) no API serves.
    DiagnosticMethod,
    /// A method no HTTP specification defines ([`KNOWN_METHODS`]).
    UnknownMethod,
    /// A multipart part name or file name built to confuse body parsers (`;`, `=`, `\\`, `'`).
    MultipartEvasion,
    /// A body on `GET`/`HEAD`, or `Transfer-Encoding` on them: request smuggling set-up.
    BodyWithoutMethod,
    /// Many or reversed byte ranges, or the obsolete `Request-Range` header (Apache Killer).
    RangeAbuse,
    /// A `Connection` header that repeats or contradicts itself.
    ConnectionConflict,
    /// A null byte or invalid UTF-8 / full-width encoding in the request target or headers.
    EncodingAbuse,
    /// `Host` missing or empty, or `Accept`/`User-Agent` sent empty, on a full request record.
    MissingHeader,
    /// `Host` is a bare IP address: the caller reached the server by address, not by name.
    NumericHost,
    /// A `Content-Type` that is malformed, names an unusual charset or several, or hides
    /// another type in its parameters (parser confusion); the same for `Accept` charsets.
    ContentTypeAbuse,
    /// A request header no client should send (`Proxy` = httpoxy, `X-Middleware-Subrequest`,
    /// WebDAV lock headers on plain calls, method overrides).
    RestrictedHeader,
}

/// Methods of HTTP and its extensions (WebDAV, CalDAV, versioning): anything else is
/// [`Abuse::UnknownMethod`].
pub const KNOWN_METHODS: &[&str] = &[
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "PATCH",
    "OPTIONS",
    "CONNECT",
    "TRACE",
    "TRACK",
    "DEBUG",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "REPORT",
    "SEARCH",
    "MKCALENDAR",
    "MKACTIVITY",
    "CHECKOUT",
    "CHECKIN",
    "MERGE",
    "UPDATE",
    "LABEL",
    "VERSION-CONTROL",
    "UNCHECKOUT",
    "MKWORKSPACE",
    "BASELINE-CONTROL",
    "ORDERPATCH",
    "ACL",
    "BIND",
    "UNBIND",
    "REBIND",
    "LINK",
    "UNLINK",
    "PURGE",
    "QUERY",
    "PRI",
    "NOTIFY",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "M-SEARCH",
    "BREW",
    "VIEW",
    "SOURCE",
];

/// Request headers no legitimate client sends to an API ([`Abuse::RestrictedHeader`]).
pub const RESTRICTED_HEADERS: &[&str] = &[
    "proxy",
    "lock-token",
    "if",
    "x-middleware-subrequest",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Charsets accepted in `Content-Type` and `Accept` (others are an evasion: `ibm037`, `utf-7`).
pub const ALLOWED_CHARSETS: &[&str] = &[
    "utf-8",
    "utf8",
    "iso-8859-1",
    "iso-8859-15",
    "windows-1252",
    "us-ascii",
];

/// Methods that echo or debug a request: `TRACE`/`TRACK` (cross-site tracing) and IIS/ASP.NET
/// `DEBUG`. No API needs them from a client; scanners send them to fingerprint the server.
/// (WebDAV methods such as `PROPFIND` are left out: file-sync clients use them.)
pub const DIAGNOSTIC_METHODS: &[&str] = &["TRACE", "TRACK", "DEBUG"];

/// Classify an event.
pub fn classify(cfg: &ProtocolConfig, cx: &EventCtx<'_>) -> Option<Abuse> {
    classify_line(cfg, cx).or_else(|| crate::protocol_request::classify(cx.ev).map(|(a, _)| a))
}

/// Classify the request line alone.
pub fn classify_line(cfg: &ProtocolConfig, cx: &EventCtx<'_>) -> Option<Abuse> {
    let ev = cx.ev;
    let method = ev.method.as_bytes();
    if !method.is_empty()
        && !method
            .iter()
            .all(|b| b.is_ascii_alphabetic() || *b == b'-' || *b == b'_')
    {
        return Some(Abuse::Malformed);
    }
    // The everyday methods as clients write them are known, not `CONNECT` and not
    // diagnostic: one comparison instead of three case-insensitive list searches.
    let everyday = matches!(
        method,
        b"GET" | b"POST" | b"PUT" | b"DELETE" | b"PATCH" | b"HEAD" | b"OPTIONS"
    );
    if !everyday {
        if !method.is_empty()
            && !KNOWN_METHODS
                .iter()
                .any(|m| ev.method.eq_ignore_ascii_case(m))
        {
            return Some(Abuse::UnknownMethod);
        }
        if ev.method.eq_ignore_ascii_case("CONNECT") {
            return Some(Abuse::OpenProxy);
        }
        if DIAGNOSTIC_METHODS
            .iter()
            .any(|m| ev.method.eq_ignore_ascii_case(m))
        {
            return Some(Abuse::DiagnosticMethod);
        }
    }
    let p = ev.path.as_bytes();
    if p.len() > 7
        && (p[..7].eq_ignore_ascii_case(b"http://")
            || (p.len() > 8 && p[..8].eq_ignore_ascii_case(b"https://")))
    {
        let refused = matches!(ev.status, 400 | 405);
        let rest = &ev.path[if p[4] == b':' { 7 } else { 8 }..];
        let authority = rest.split('/').next().unwrap_or("");
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        let ours = ev.host.split(':').next().unwrap_or("");
        if refused || (!ours.is_empty() && !host.eq_ignore_ascii_case(ours)) {
            return Some(Abuse::OpenProxy);
        }
    }
    if crate::probes::contains_ci(&ev.path, "w00tw00t") {
        return Some(Abuse::W00tw00t);
    }
    if !ev.protocol.is_empty() {
        // A byte search: `str::split_once(char)` sets up a searcher that costs more than
        // the whole of `HTTP/1.1`.
        let proto = ev.protocol.as_bytes();
        let valid = match proto.iter().position(|&c| c == b'/') {
            Some(i) => {
                proto[..i].eq_ignore_ascii_case(b"HTTP")
                    && cfg
                        .valid_versions
                        .iter()
                        .any(|x| x.as_bytes() == &proto[i + 1..])
            }
            None => false,
        };
        if !valid {
            return Some(if ev.protocol.bytes().all(|b| b.is_ascii_graphic()) {
                Abuse::InvalidVersion
            } else {
                Abuse::Malformed
            });
        }
    }
    None
}

/// The `protocol_abuse` detector.
pub struct ProtocolAbuse {
    cfg: ProtocolConfig,
    cooldown: Cooldown,
}

impl ProtocolAbuse {
    /// A detector with this configuration.
    pub fn new(cfg: ProtocolConfig) -> Self {
        ProtocolAbuse {
            cooldown: Cooldown::secs(cfg.cooldown_secs, cfg.max_entries),
            cfg,
        }
    }
}

impl Detector for ProtocolAbuse {
    fn id(&self) -> &'static str {
        "protocol_abuse"
    }

    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        let (kind, detail) = match classify_line(&self.cfg, cx) {
            Some(k) => (k, None),
            None => match crate::protocol_request::classify(cx.ev) {
                Some((k, d)) => (k, Some(d)),
                None => return,
            },
        };
        let ev = cx.ev;
        if !self.cooldown.ready_for(cx.ip, kind as u32, ev.ts.millis()) {
            return;
        }
        let (title, what, severity, mitre): (&str, &str, Severity, &'static [&'static str]) = match kind {
            Abuse::OpenProxy => (
                "Open proxy probe",
                "tried to use this server as a proxy to reach another host",
                if (200..300).contains(&ev.status) { Severity::High } else { Severity::Medium },
                &["T1090", "T1595.002"],
            ),
            Abuse::InvalidVersion => (
                "Invalid HTTP version",
                "sent a request with an HTTP version that does not exist, a fuzzing or denial-of-service pattern",
                Severity::Low,
                &["T1595.002"],
            ),
            Abuse::Malformed => (
                "Malformed request line",
                "sent bytes that are not an HTTP request (binary or another protocol), typical of port scanners and malware beacons",
                Severity::Low,
                &["T1595.002", "T1046"],
            ),
            Abuse::W00tw00t => (
                "w00tw00t scanner probe",
                "sent the w00tw00t probe of the DFind vulnerability scanner",
                Severity::Medium,
                &["T1595.002"],
            ),
            Abuse::DiagnosticMethod => (
                "Diagnostic HTTP method",
                "sent a TRACE/TRACK/DEBUG request, used to fingerprint servers and for cross-site tracing",
                if (200..300).contains(&ev.status) { Severity::Medium } else { Severity::Low },
                &["T1595.002"],
            ),
            Abuse::UnknownMethod => (
                "Unknown HTTP method",
                "sent a method no HTTP specification defines, a fuzzing or filter-bypass pattern",
                Severity::Low,
                &["T1595.002"],
            ),
            Abuse::MultipartEvasion => (
                "Multipart parser evasion",
                "sent a multipart part whose name or file name carries separators or escapes that body parsers disagree on, a way to slip a payload past a WAF",
                Severity::Medium,
                &["T1190", "T1027"],
            ),
            Abuse::BodyWithoutMethod => (
                "Body on a GET or HEAD request",
                "sent a body (or Transfer-Encoding) on a method that carries none, a request-smuggling set-up",
                Severity::Low,
                &["T1190"],
            ),
            Abuse::RangeAbuse => (
                "Byte-range abuse",
                "asked for many, overlapping or reversed byte ranges (or used the obsolete Request-Range header), a denial-of-service pattern",
                Severity::Low,
                &["T1499.002"],
            ),
            Abuse::ConnectionConflict => (
                "Conflicting Connection header",
                "sent a Connection header that repeats or contradicts itself, a request-smuggling probe",
                Severity::Low,
                &["T1190"],
            ),
            Abuse::EncodingAbuse => (
                "Evasive request encoding",
                "sent a null byte, invalid UTF-8 or full-width encoding, used to cut strings or slip past filters",
                Severity::Medium,
                &["T1027", "T1190"],
            ),
            Abuse::MissingHeader => (
                "Missing or empty request header",
                "sent a request without a Host, or with an empty Accept or User-Agent, which browsers and HTTP libraries never do: a hand-made or scripted request",
                Severity::Low,
                &["T1595.002"],
            ),
            Abuse::NumericHost => (
                "Request by IP address",
                "addressed the server by IP address rather than its name, typical of scanners sweeping address ranges",
                Severity::Low,
                &["T1595.001"],
            ),
            Abuse::ContentTypeAbuse => (
                "Evasive content type",
                "sent a malformed content type, an unusual or doubled charset, or a type hidden in its parameters, so that the server and a filter parse the body differently",
                Severity::Medium,
                &["T1027", "T1190"],
            ),
            Abuse::RestrictedHeader => (
                "Restricted request header",
                "sent a header that no ordinary client sends and that servers act on (httpoxy Proxy, Next.js X-Middleware-Subrequest, method overrides, WebDAV locks)",
                Severity::Medium,
                &["T1190"],
            ),
        };
        let detail = detail.map(|d| format!(" ({d})")).unwrap_or_default();
        out.push(build_alert(
            cx,
            AlertSpec {
                detector: "protocol_abuse",
                title: title.to_string(),
                description: format!(
                    "{ip} {what}: \"{m} {path} {proto}\"{detail} answered {st}. Block the source if it repeats.",
                    ip = ip_text(ev),
                    m = clip(&ev.method, 40).escape_debug(),
                    path = clip(&ev.path, 200),
                    proto = clip(&ev.protocol, 20).escape_debug(),
                    st = ev.status,
                ),
                severity,
                mitre,
                owasp: Some("API8:2023"),
                stage: AttackStage::Recon,
                with_user_agent: false,
                reasons: vec![reason("protocol_violation", 1.0, None)],
            },
        ));
    }

    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.cooldown.tick(now.millis());
    }

    fn state_bytes(&self) -> usize {
        self.cooldown.approx_bytes()
    }
}

/// Registry constructor.
pub fn build(c: ProtocolConfig, _res: &Resources) -> Box<dyn Detector> {
    Box::new(ProtocolAbuse::new(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The everyday methods `classify_line` lets through without the list searches are known,
    /// not `CONNECT` and not diagnostic, so skipping the searches changes nothing.
    #[test]
    fn everyday_methods_skip_nothing() {
        for m in ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"] {
            assert!(
                KNOWN_METHODS.iter().any(|k| m.eq_ignore_ascii_case(k)),
                "{m}"
            );
            assert!(!m.eq_ignore_ascii_case("CONNECT"));
            assert!(
                !DIAGNOSTIC_METHODS.iter().any(|k| m.eq_ignore_ascii_case(k)),
                "{m}"
            );
        }
    }
}
