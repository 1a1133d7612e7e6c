//! `sensitive_data_exposure` (card numbers, national ids, secrets and keys, bulk personal data
//! in response bodies) and `security_misconfig` (TRACE answered, stack traces and verbose
//! errors in responses, debug endpoints answering).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use rampart_detect::{Detector, EventCtx};
use rampart_inventory::sensitive::{scan, SensitiveKind};
use rampart_model::{AlertDraft, AttackStage, Severity, Timestamp};

use crate::common::{build_alert, clip, ip_text, reason, AlertSpec, Cooldown};
use crate::probes::contains_ci;
use rampart_detect::registry::Resources;

/// Configuration of `sensitive_data_exposure`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExposureConfig {
    /// Personal-data findings (e-mails, phones, IBANs...) in one response that count as bulk.
    pub bulk_personal: u32,
    /// Path words of endpoints expected to hand out tokens (JWTs there are not alerts).
    pub token_endpoints: Vec<String>,
    /// Cooldown per (IP, category), seconds.
    pub cooldown_secs: i64,
    /// Most cooldown entries.
    pub max_entries: usize,
}

impl Default for ExposureConfig {
    fn default() -> Self {
        ExposureConfig {
            bulk_personal: 20,
            token_endpoints: [
                "login", "token", "oauth", "auth", "session", "refresh", "signin", "sso",
            ]
            .map(String::from)
            .to_vec(),
            cooldown_secs: 600,
            max_entries: 50_000,
        }
    }
}

/// The `sensitive_data_exposure` detector.
pub struct SensitiveDataExposure {
    cfg: ExposureConfig,
    cooldown: Cooldown,
}

impl SensitiveDataExposure {
    /// A detector with this configuration.
    pub fn new(cfg: ExposureConfig) -> Self {
        SensitiveDataExposure {
            cooldown: Cooldown::secs(cfg.cooldown_secs, cfg.max_entries),
            cfg,
        }
    }
}

impl Detector for SensitiveDataExposure {
    fn id(&self) -> &'static str {
        "sensitive_data_exposure"
    }

    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        let ev = cx.ev;
        let Some(body) = &ev.response_body else {
            return;
        };
        if !(200..300).contains(&ev.status) || body.is_empty() {
            return;
        }
        let found = scan(body);
        if found.is_empty() {
            return;
        }
        let token_endpoint = self
            .cfg
            .token_endpoints
            .iter()
            .any(|w| contains_ci(&ev.path, w));
        let cards = found.count(SensitiveKind::CardNumber);
        let ssns = found.count(SensitiveKind::Ssn);
        let keys =
            found.count(SensitiveKind::PrivateKey) + found.count(SensitiveKind::AwsAccessKey);
        let tokens = if token_endpoint {
            0
        } else {
            found.count(SensitiveKind::Jwt) + found.count(SensitiveKind::Secret)
        };
        let personal = found.personal_total();
        // (category, title, severity, metric, observed)
        let (cat, title, severity, metric, observed) = if keys > 0 {
            (
                0,
                "Private key or cloud credential in a response",
                Severity::Critical,
                "credentials",
                keys,
            )
        } else if cards > 0 {
            (
                1,
                "Payment card numbers in a response",
                Severity::High,
                "card_numbers",
                cards,
            )
        } else if ssns > 0 {
            (
                2,
                "National identity numbers in a response",
                Severity::High,
                "national_ids",
                ssns,
            )
        } else if tokens > 0 {
            (
                3,
                "Secrets or tokens in a response",
                Severity::High,
                "secrets",
                tokens,
            )
        } else if personal >= self.cfg.bulk_personal {
            (
                4,
                "Bulk personal data in a response",
                Severity::Medium,
                "personal_records",
                personal,
            )
        } else {
            return;
        };
        if !self.cooldown.ready_for(cx.ip, cat, ev.ts.millis()) {
            return;
        }
        let kinds: Vec<String> = found.iter().map(|(k, c)| format!("{k}={c}")).collect();
        out.push(build_alert(
            cx,
            AlertSpec {
                detector: "sensitive_data_exposure",
                title: title.to_string(),
                description: format!(
                    "The answer to {m} {t} for {ip} contained sensitive data ({kinds}). Check that this caller may \
                     see it, that the endpoint filters its output (no excessive data exposure) and whether the caller \
                     is pulling records in bulk.",
                    m = clip(&ev.method, 16),
                    t = cx.template,
                    ip = ip_text(ev),
                    kinds = kinds.join(", "),
                ),
                severity,
                mitre: &["T1530"],
                owasp: Some("API3:2023"),
                stage: AttackStage::DataAccess,
                with_user_agent: false,
                reasons: vec![reason(metric, f64::from(observed), None)],
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

/// Configuration of `security_misconfig`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MisconfigConfig {
    /// Bytes of a response body scanned for error traces.
    pub max_body_bytes: usize,
    /// Cooldown per (IP, finding), seconds.
    pub cooldown_secs: i64,
    /// Most cooldown entries.
    pub max_entries: usize,
}

impl Default for MisconfigConfig {
    fn default() -> Self {
        MisconfigConfig {
            max_body_bytes: 16 * 1024,
            cooldown_secs: 3600,
            max_entries: 50_000,
        }
    }
}

/// Verbose-error markers in response bodies: (needle, what).
const ERROR_MARKERS: &[(&str, &str)] = &[
    ("traceback (most recent call last)", "Python traceback"),
    ("\tat com.", "Java stack trace"),
    ("\tat org.", "Java stack trace"),
    ("\tat java.", "Java stack trace"),
    ("\\tat com.", "Java stack trace"),
    ("\\tat org.", "Java stack trace"),
    ("\\tat java.", "Java stack trace"),
    ("exception in thread \"", "Java stack trace"),
    ("at system.", ".NET stack trace"),
    ("sqlstate[", "SQL error"),
    ("sqlstate ", "SQL error"),
    ("you have an error in your sql syntax", "SQL error"),
    ("ora-00", "Oracle error"),
    ("pg::syntaxerror", "PostgreSQL error"),
    (
        "unclosed quotation mark after the character string",
        "SQL Server error",
    ),
    ("fatal error</b>:", "PHP fatal error"),
    ("php fatal error", "PHP fatal error"),
    ("fatal error: uncaught", "PHP fatal error"),
    ("on line <b>", "PHP warning"),
    ("goroutine 1 [running]", "Go panic"),
    ("panicked at '", "Rust panic"),
    ("whitelabel error page", "Spring error page"),
    ("werkzeug debugger", "Werkzeug debugger"),
    ("django debug", "Django debug page"),
    (
        "<title>action controller: exception caught",
        "Rails debug page",
    ),
];

/// Debug endpoints that should not answer 2xx publicly (path prefixes, lower-case).
const DEBUG_PATHS: &[&str] = &[
    "/actuator/env",
    "/actuator/heapdump",
    "/actuator/threaddump",
    "/actuator/configprops",
    "/actuator/mappings",
    "/actuator/logfile",
    "/debug/pprof",
    "/debug/vars",
    "/_profiler",
    "/__debug__",
    "/phpinfo.php",
    "/server-status",
    "/server-info",
    "/jolokia",
    "/trace.axd",
    "/elmah.axd",
    "/console/",
    "/h2-console",
    "/.well-known/openid-configuration/debug",
];

/// What misconfiguration was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misconfig {
    /// TRACE or TRACK answered with success (cross-site tracing).
    TraceEnabled,
    /// A stack trace or verbose error in a response body.
    VerboseError(&'static str),
    /// A debug endpoint answered with success.
    DebugEndpoint(&'static str),
}

/// The `security_misconfig` detector.
pub struct SecurityMisconfig {
    cfg: MisconfigConfig,
    ac: AhoCorasick,
    /// Exact gate for [`DEBUG_PATHS`]: their first four bytes, lower-cased (a path starting
    /// otherwise starts with none of them). `None` if one is shorter.
    debug_heads: Option<Vec<[u8; 4]>>,
    cooldown: Cooldown,
}

impl SecurityMisconfig {
    /// A detector with this configuration.
    pub fn new(cfg: MisconfigConfig) -> Self {
        let ac = AhoCorasickBuilder::new()
            .kind(Some(AhoCorasickKind::DFA))
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .build(ERROR_MARKERS.iter().map(|m| m.0))
            .expect("the built-in error markers are valid literals");
        let debug_heads = DEBUG_PATHS
            .iter()
            .map(|d| {
                d.as_bytes()
                    .first_chunk::<4>()
                    .map(|h| h.map(|c| c.to_ascii_lowercase()))
            })
            .collect();
        SecurityMisconfig {
            debug_heads,
            cooldown: Cooldown::secs(cfg.cooldown_secs, cfg.max_entries),
            cfg,
            ac,
        }
    }

    /// Classify an event.
    pub fn classify(&self, cx: &EventCtx<'_>) -> Option<Misconfig> {
        let ev = cx.ev;
        let ok = (200..300).contains(&ev.status);
        if ok
            && (ev.method.eq_ignore_ascii_case("TRACE") || ev.method.eq_ignore_ascii_case("TRACK"))
        {
            return Some(Misconfig::TraceEnabled);
        }
        if ok {
            let p = ev.path.as_bytes();
            let skip = match (&self.debug_heads, p.first_chunk::<4>()) {
                (Some(heads), Some(head)) => !heads.contains(&head.map(|c| c.to_ascii_lowercase())),
                _ => false,
            };
            if skip {
                // No debug path starts like this one.
            } else if let Some(d) = DEBUG_PATHS
                .iter()
                .find(|d| p.len() >= d.len() && p[..d.len()].eq_ignore_ascii_case(d.as_bytes()))
            {
                return Some(Misconfig::DebugEndpoint(d));
            }
        }
        let body = ev.response_body.as_deref()?;
        let b = &body.as_bytes()[..body.len().min(self.cfg.max_body_bytes)];
        self.ac
            .find(b)
            .map(|m| Misconfig::VerboseError(ERROR_MARKERS[m.pattern().as_usize()].1))
    }
}

impl Detector for SecurityMisconfig {
    fn id(&self) -> &'static str {
        "security_misconfig"
    }

    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        let Some(found) = self.classify(cx) else {
            return;
        };
        let ev = cx.ev;
        let key = match found {
            Misconfig::TraceEnabled => 0,
            Misconfig::VerboseError(_) => 1,
            Misconfig::DebugEndpoint(_) => 2,
        };
        // Dedupe per endpoint, not per caller: it is the server that is misconfigured.
        if !self.cooldown.ready_for(cx.endpoint, key, ev.ts.millis()) {
            return;
        }
        let (title, what, severity) = match found {
            Misconfig::TraceEnabled => (
                "HTTP TRACE enabled".to_string(),
                "the server answered a TRACE/TRACK request with success, which enables cross-site tracing".to_string(),
                Severity::Low,
            ),
            Misconfig::VerboseError(kind) => (
                format!("Verbose error leaked: {kind}"),
                format!("the response body contains a {kind}, which reveals internals (code paths, queries, versions) to callers"),
                Severity::Medium,
            ),
            Misconfig::DebugEndpoint(p) => (
                format!("Debug endpoint exposed: {p}"),
                format!("the debug endpoint {p} answered with success"),
                Severity::High,
            ),
        };
        out.push(build_alert(
            cx,
            AlertSpec {
                detector: "security_misconfig",
                title,
                description: format!(
                    "On {m} {t} (caller {ip}, status {st}) {what}. Turn off debug output and the endpoint in production.",
                    m = clip(&ev.method, 16),
                    t = cx.template,
                    ip = ip_text(ev),
                    st = ev.status,
                ),
                severity,
                mitre: &["T1592"],
                owasp: Some("API8:2023"),
                stage: AttackStage::Recon,
                with_user_agent: false,
                reasons: vec![reason("misconfiguration", 1.0, None)],
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

/// Registry constructor for `sensitive_data_exposure`.
pub fn build_exposure(c: ExposureConfig, _res: &Resources) -> Box<dyn Detector> {
    Box::new(SensitiveDataExposure::new(c))
}

/// Registry constructor for `security_misconfig`.
pub fn build_misconfig(c: MisconfigConfig, _res: &Resources) -> Box<dyn Detector> {
    Box::new(SecurityMisconfig::new(c))
}

#[cfg(test)]
mod gate_tests {
    use std::borrow::Cow;

    use rampart_model::ApiEvent;

    use super::*;

    /// Guards the debug-path gate: every debug path is still recognised, in any case.
    #[test]
    fn debug_gate_lets_every_debug_path_through() {
        let m = SecurityMisconfig::new(MisconfigConfig::default());
        for d in DEBUG_PATHS {
            for p in [d.to_string(), format!("{}/x", d.to_ascii_uppercase())] {
                let ev = ApiEvent {
                    method: Cow::Borrowed("GET"),
                    path: Cow::Owned(p.clone()),
                    status: 200,
                    ..Default::default()
                };
                assert_eq!(
                    m.classify(&EventCtx::new(&ev)),
                    Some(Misconfig::DebugEndpoint(d)),
                    "{p}"
                );
            }
        }
    }
}
