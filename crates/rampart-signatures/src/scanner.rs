//! `scanner`: one IP getting 404/403/400 answers on many distinct paths in a short window
//! (content discovery, forced browsing). Static resources (images, scripts, styles) do not
//! count.

use rampart_detect::{Detector, EventCtx};
use rampart_model::{AlertDraft, AttackStage, Severity, Timestamp};

use crate::common::{build_alert, fold_hash, ip_text, reason, AlertSpec, Cooldown, DistinctWindow};
use rampart_detect::registry::Resources;

/// Configuration of `scanner`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScannerConfig {
    /// Distinct refused paths from one IP within the window that raise an alert.
    pub distinct_paths: usize,
    /// Window, seconds.
    pub window_secs: i64,
    /// Cooldown per IP, seconds.
    pub cooldown_secs: i64,
    /// Most IPs tracked.
    pub max_ips: usize,
}

impl Default for ScannerConfig {
    fn default() -> Self {
        ScannerConfig {
            distinct_paths: 10,
            window_secs: 60,
            cooldown_secs: 900,
            max_ips: 100_000,
        }
    }
}

const STATIC_EXT: &[&str] = &[
    "js", "css", "png", "jpg", "jpeg", "gif", "ico", "svg", "webp", "woff", "woff2", "ttf", "eot",
    "map", "mp4", "webm", "avif", "bmp",
];

/// Whether a path names a static resource.
pub fn is_static(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or("");
    match last.rsplit_once('.') {
        Some((_, ext)) => STATIC_EXT.iter().any(|e| e.eq_ignore_ascii_case(ext)),
        None => false,
    }
}

/// The `scanner` detector.
pub struct Scanner {
    cfg: ScannerConfig,
    paths: DistinctWindow,
    cooldown: Cooldown,
}

impl Scanner {
    /// A detector with this configuration.
    pub fn new(cfg: ScannerConfig) -> Self {
        Scanner {
            paths: DistinctWindow::new(cfg.window_secs, cfg.max_ips, cfg.distinct_paths.max(1)),
            cooldown: Cooldown::secs(cfg.cooldown_secs, cfg.max_ips),
            cfg,
        }
    }
}

impl Detector for Scanner {
    fn id(&self) -> &'static str {
        "scanner"
    }

    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        let ev = cx.ev;
        if !matches!(ev.status, 400 | 403 | 404) || cx.ip == 0 || is_static(&ev.path) {
            return;
        }
        let now = ev.ts.millis();
        let n = self.paths.add(cx.ip, fold_hash(ev.path.as_bytes()), now);
        if n < self.cfg.distinct_paths || !self.cooldown.ready_for(cx.ip, 0, now) {
            return;
        }
        self.paths.reset(cx.ip);
        out.push(build_alert(
            cx,
            AlertSpec {
                detector: "scanner",
                title: "Content discovery scan".to_string(),
                description: format!(
                    "{ip} received 404/403/400 answers on at least {n} distinct paths within {w} s, the pattern of a \
                     scanner enumerating files and endpoints. Block the source unless it is a sanctioned test, and \
                     check whether any of its requests succeeded.",
                    ip = ip_text(ev),
                    w = self.cfg.window_secs,
                ),
                severity: Severity::Medium,
                mitre: &["T1595.002", "T1595.003"],
                owasp: Some("API9:2023"),
                stage: AttackStage::Recon,
                with_user_agent: true,
                reasons: vec![reason(
                    "distinct_error_paths",
                    n as f64,
                    Some(self.cfg.distinct_paths as f64),
                )],
            },
        ));
    }

    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.cooldown.tick(now.millis());
    }

    fn state_bytes(&self) -> usize {
        self.paths.bytes() + self.cooldown.approx_bytes()
    }
}

/// Registry constructor.
pub fn build(c: ScannerConfig, _res: &Resources) -> Box<dyn Detector> {
    Box::new(Scanner::new(c))
}
