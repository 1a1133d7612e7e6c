//! `auth_failures`: authentication failures and WAF decisions reported by the server
//! (`EventKind::AuthFailure`, `EventKind::Waf`: nginx `user not found`, mail login failures,
//! LiteSpeed failed logins, `limiting requests`, ModSecurity/Coraza matches) and 401 answers,
//! counted per IP in a window. A burst fires; a blocking WAF decision fires at once.

use rampart_detect::{Detector, EventCtx};
use rampart_model::{AlertDraft, AttackStage, EventKind, Severity, Timestamp};

use crate::common::{build_alert, clip, ip_text, reason, AlertSpec, Cooldown, DistinctWindow};
use crate::probes::contains_ci;
use rampart_detect::registry::Resources;

/// Configuration of `auth_failures`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthFailuresConfig {
    /// Server-reported failures (auth failures, WAF decisions) from one IP within the window
    /// that fire.
    pub threshold: usize,
    /// 401 answers from one IP within the window that fire (when `count_401`).
    pub threshold_401: usize,
    /// Window, seconds.
    pub window_secs: i64,
    /// Count access-log answers with status 401 as failures too.
    pub count_401: bool,
    /// Cooldown per (IP, kind), seconds.
    pub cooldown_secs: i64,
    /// Most IPs tracked.
    pub max_ips: usize,
}

impl Default for AuthFailuresConfig {
    fn default() -> Self {
        AuthFailuresConfig {
            threshold: 4,
            threshold_401: 6,
            window_secs: 60,
            count_401: true,
            cooldown_secs: 600,
            max_ips: 100_000,
        }
    }
}

/// WAF messages that mean the request was blocked or scored as an attack (fire at once).
const WAF_CRITICAL: &[&str] = &[
    "access denied",
    "inbound anomaly score exceeded",
    "critical",
    "[severity \"2\"]",
    "[severity \"critical\"]",
];

/// HTML login forms (path suffixes, lower-case) that answer a failed `POST` with 200 (the form
/// again) and a successful one with a redirect: WordPress, Joomla's administrator, apisCP.
/// Such answers count like 401s (same key, `threshold_401`), so a guessing run fires.
const FORM_LOGINS: &[&str] = &["/wp-login.php", "/administrator/index.php", "/apps/login"];

/// Whether the event is a failed `POST` to one of the [`FORM_LOGINS`].
fn failed_form_login(method: &str, path: &str, status: u16) -> bool {
    status == 200
        && method.eq_ignore_ascii_case("POST")
        && FORM_LOGINS.iter().any(|f| {
            path.len() >= f.len()
                && path.as_bytes()[path.len() - f.len()..].eq_ignore_ascii_case(f.as_bytes())
        })
}

/// The `auth_failures` detector.
pub struct AuthFailures {
    cfg: AuthFailuresConfig,
    // Counted with a distinct window keyed by a running sequence number.
    counts: DistinctWindow,
    seq: u32,
    cooldown: Cooldown,
}

impl AuthFailures {
    /// A detector with this configuration.
    pub fn new(cfg: AuthFailuresConfig) -> Self {
        AuthFailures {
            counts: DistinctWindow::new(
                cfg.window_secs,
                cfg.max_ips,
                cfg.threshold.max(cfg.threshold_401).max(1),
            ),
            seq: 0,
            cooldown: Cooldown::secs(cfg.cooldown_secs, cfg.max_ips),
            cfg,
        }
    }
}

impl Detector for AuthFailures {
    fn id(&self) -> &'static str {
        "auth_failures"
    }

    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        let ev = cx.ev;
        let waf = ev.kind == EventKind::Waf;
        let counted = match ev.kind {
            EventKind::AuthFailure | EventKind::Waf => true,
            EventKind::Access => {
                self.cfg.count_401
                    && (ev.status == 401 || failed_form_login(&ev.method, &ev.path, ev.status))
            }
            EventKind::Error => false,
        };
        if !counted || cx.ip == 0 {
            return;
        }
        let now = ev.ts.millis();
        let msg = ev.message.as_deref().unwrap_or("");
        let critical = waf && WAF_CRITICAL.iter().any(|w| contains_ci(msg, w));
        let is_401 = ev.kind == EventKind::Access;
        // 401 answers are counted apart from server-reported failures.
        let key = if is_401 {
            cx.ip ^ 0x9e37_79b9_7f4a_7c15
        } else {
            cx.ip
        };
        let threshold = if is_401 {
            self.cfg.threshold_401
        } else {
            self.cfg.threshold
        };
        self.seq = self.seq.wrapping_add(1);
        let n = self.counts.add(key, self.seq, now);
        if !critical && n < threshold {
            return;
        }
        let family = u32::from(waf);
        if !self.cooldown.ready_for(cx.ip, family, now) {
            return;
        }
        self.counts.reset(key);
        let (title, severity, mitre, stage, what): (
            &str,
            Severity,
            &'static [&'static str],
            AttackStage,
            &str,
        ) = if waf {
            (
                if critical {
                    "WAF blocked an attack"
                } else {
                    "Burst of WAF and rate-limit decisions"
                },
                if critical {
                    Severity::High
                } else {
                    Severity::Medium
                },
                &["T1190", "T1595"],
                AttackStage::Exploitation,
                "triggered WAF rules or rate limits",
            )
        } else {
            (
                "Burst of authentication failures",
                Severity::Medium,
                &["T1110"],
                AttackStage::CredentialAccess,
                "failed authentication repeatedly",
            )
        };
        out.push(build_alert(
            cx,
            AlertSpec {
                detector: "auth_failures",
                title: title.to_string(),
                description: format!(
                    "{ip} {what} ({n} within {w} s; last: {msg}). Check whether any attempt succeeded and block \
                     the source if it continues.",
                    ip = ip_text(ev),
                    w = self.cfg.window_secs,
                    msg = if msg.is_empty() {
                        format!("{} {} answered {}", clip(&ev.method, 16), clip(&ev.path, 120), ev.status)
                    } else {
                        clip(msg, 200).to_string()
                    },
                ),
                severity,
                mitre,
                owasp: Some(if waf { "API8:2023" } else { "API2:2023" }),
                stage,
                with_user_agent: false,
                reasons: vec![reason(
                    "failures_in_window",
                    n as f64,
                    Some(if critical { 1.0 } else { threshold as f64 }),
                )],
            },
        ));
    }

    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.cooldown.tick(now.millis());
    }

    fn state_bytes(&self) -> usize {
        self.counts.bytes() + self.cooldown.approx_bytes()
    }
}

/// Registry constructor.
pub fn build(c: AuthFailuresConfig, _res: &Resources) -> Box<dyn Detector> {
    Box::new(AuthFailures::new(c))
}
