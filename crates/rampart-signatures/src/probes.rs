//! Path probes: `sensitive_file_probe` (secrets, dotfiles, backups) and `admin_probe`
//! (admin interfaces, webshell names and known-CVE request paths).
//!
//! Tables adapted from the CrowdSec Hub scenarios `http-sensitive-files`,
//! `http-admin-interface-probing`, `http-backdoors-attempts` and the `CVE-*` scenarios
//! (<https://github.com/crowdsecurity/hub>, MIT licence).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use rampart_detect::{Detector, EventCtx};
use rampart_model::{AlertDraft, AttackStage, Severity, Timestamp};

use crate::common::{
    build_alert, clip, fold_hash, ip_text, reason, AlertSpec, AnyNeedle, Cooldown, DistinctWindow,
};
use rampart_detect::registry::Resources;

/// Configuration of `sensitive_file_probe`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SensitiveFileConfig {
    /// Distinct weak-signal paths (dotfiles, dumps, archives refused with 4xx) from one IP
    /// within `window_secs` that raise an alert. Strong signals (`.env`, `.git/config`,
    /// private keys), and weak ones answered 2xx (a dump served), fire on one request.
    pub weak_threshold: usize,
    /// Window for weak signals, seconds.
    pub window_secs: i64,
    /// Cooldown per IP, seconds.
    pub cooldown_secs: i64,
    /// Most IPs tracked.
    pub max_ips: usize,
}

impl Default for SensitiveFileConfig {
    fn default() -> Self {
        SensitiveFileConfig {
            weak_threshold: 3,
            window_secs: 60,
            cooldown_secs: 600,
            max_ips: 50_000,
        }
    }
}

/// Sensitive path suffixes: (suffix, strong). Matched case-insensitively on the path end.
const SENSITIVE: &[(&str, bool)] = &[
    ("/.env", true),
    ("/.env.bak", true),
    ("/.env.local", true),
    ("/.env.prod", true),
    ("/.env.production", true),
    ("/.env.dev", true),
    ("/.env.old", true),
    ("/.env.save", true),
    ("/.git/config", true),
    ("/.git/head", true),
    ("/.git/index", true),
    ("/.git-credentials", true),
    ("/.gitconfig", true),
    ("/.htpasswd", true),
    ("/.bash_history", true),
    ("/.sh_history", true),
    ("/.zsh_history", true),
    ("/.mysql_history", true),
    ("/.psql_history", true),
    ("/id_rsa", true),
    ("/id_dsa", true),
    ("/id_ecdsa", true),
    ("/id_ed25519", true),
    ("/.ssh/authorized_keys", true),
    ("/.aws/credentials", true),
    ("/.docker/config.json", true),
    ("/.dockercfg", true),
    ("/.npmrc", true),
    ("/.pgpass", true),
    ("/.netrc", true),
    ("/.s3cfg", true),
    ("/.boto", true),
    ("/.svn/entries", true),
    ("/.svn/wc.db", true),
    ("/.ds_store", true),
    ("/wp-config.php.bak", true),
    ("/wp-config.php.old", true),
    ("/wp-config.php.orig", true),
    ("/wp-config.php.save", true),
    ("/wp-config.php.swp", true),
    ("/.wp-config.php.swp", true),
    ("/wp-config.php.txt", true),
    ("/wp-config.php~", true),
    ("/wp-config.bak", true),
    ("/wp-config.php", false),
    ("/config.php.bak", true),
    ("/configuration.php.bak", true),
    ("/web.config.bak", true),
    ("/settings.php.bak", true),
    ("/database.yml", true),
    ("/secrets.yml", true),
    ("/credentials.json", true),
    ("/service-account.json", true),
    ("/phpinfo.php", false),
    ("/info.php", false),
    ("/server-status", false),
    ("/.bashrc", false),
    ("/.profile", false),
    ("/.cache", false),
    ("/.config", false),
    ("/.cvs", false),
    ("/.cvsignore", false),
    ("/.forward", false),
    ("/.listing", false),
    ("/.listings", false),
    ("/.passwd", false),
    ("/.pwd", false),
    ("/.perf", false),
    ("/.rhosts", false),
    ("/.ssh", false),
    ("/.subversion", false),
    ("/.svn", false),
    ("/.git", false),
    ("/.hg", false),
    ("/.bzr", false),
    ("/.idea", false),
    ("/.vscode", false),
    ("/.htaccess", false),
    ("/.user.ini", false),
    ("/web.config", false),
    (".sql", false),
    (".sql.gz", false),
    (".sqlite", false),
    (".bak", false),
    (".old", false),
    (".swp", false),
    (".backup", false),
    (".db", false),
    (".rdb", false),
    (".mdb", false),
    (".sqlite3", false),
    (".dump", false),
    (".orig", false),
    (".save", false),
    (".pem", false),
    ("/privkey.pem", true),
    ("/server.key", true),
    ("~", false),
    ("/backup.zip", false),
    ("/backup.tar.gz", false),
    ("/backup.tgz", false),
    ("/site.zip", false),
    ("/www.zip", false),
    ("/wwwroot.zip", false),
    ("/htdocs.zip", false),
    ("/dump.tar.gz", false),
];

/// Weak suffixes that name a backup copy of another file: served, they disclose it.
const BACKUP_SUFFIXES: &[&str] = &[".bak", ".old", ".orig", ".save", ".swp", ".backup", "~"];

/// Bytes of a suffix's end kept by the `sensitive_file_probe` gate.
const TAIL: usize = 4;

/// `TAIL` bytes, lower-cased, as one key.
fn tail_key(b: &[u8]) -> u32 {
    let mut k = [0u8; TAIL];
    k.copy_from_slice(&b[..TAIL]);
    u32::from_le_bytes(k.map(|c| c.to_ascii_lowercase()))
}

/// The `sensitive_file_probe` detector.
pub struct SensitiveFileProbe {
    cfg: SensitiveFileConfig,
    ac: AhoCorasick,
    /// Exact gate: the last [`TAIL`] bytes (lower-cased) of every suffix that long, sorted;
    /// a path whose tail is not among them (nor ends with a shorter suffix) ends with none.
    tails: Vec<u32>,
    /// Suffixes shorter than [`TAIL`], lower-cased.
    short: Vec<Vec<u8>>,
    weak: DistinctWindow,
    cooldown: Cooldown,
}

impl SensitiveFileProbe {
    /// A detector with this configuration.
    pub fn new(cfg: SensitiveFileConfig) -> Self {
        let ac = AhoCorasickBuilder::new()
            .kind(Some(AhoCorasickKind::DFA))
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(SENSITIVE.iter().map(|s| s.0))
            .expect("the built-in suffixes are valid literals");
        let mut tails = Vec::new();
        let mut short = Vec::new();
        for (suffix, _) in SENSITIVE {
            let b = suffix.as_bytes();
            if b.len() >= TAIL {
                tails.push(tail_key(&b[b.len() - TAIL..]));
            } else {
                short.push(b.to_ascii_lowercase());
            }
        }
        tails.sort_unstable();
        tails.dedup();
        SensitiveFileProbe {
            tails,
            short,
            weak: DistinctWindow::new(cfg.window_secs, cfg.max_ips, cfg.weak_threshold.max(1)),
            cooldown: Cooldown::secs(cfg.cooldown_secs, cfg.max_ips),
            cfg,
            ac,
        }
    }

    /// Whether `p` ends (case-insensitively) with the tail of some suffix.
    fn tail_may_match(&self, p: &[u8]) -> bool {
        (p.len() >= TAIL
            && self
                .tails
                .binary_search(&tail_key(&p[p.len() - TAIL..]))
                .is_ok())
            || self
                .short
                .iter()
                .any(|t| p.len() >= t.len() && p[p.len() - t.len()..].eq_ignore_ascii_case(t))
    }

    /// The sensitive suffix a path ends with, and whether it is a strong signal.
    pub fn classify(&self, path: &str) -> Option<(&'static str, bool)> {
        let p = path.trim_end_matches('/');
        if !self.tail_may_match(p.as_bytes()) {
            return None;
        }
        let mut best: Option<(&'static str, bool)> = None;
        for m in self.ac.find_overlapping_iter(p) {
            if m.end() == p.len() {
                let e = SENSITIVE[m.pattern().as_usize()];
                if best.is_none_or(|b| !b.1 && e.1) {
                    best = Some(e);
                }
            }
        }
        best
    }
}

impl Detector for SensitiveFileProbe {
    fn id(&self) -> &'static str {
        "sensitive_file_probe"
    }

    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        let ev = cx.ev;
        let Some((suffix, strong)) = self.classify(&ev.path) else {
            return;
        };
        let now = ev.ts.millis();
        let refused = ev.status == 0 || (400..500).contains(&ev.status);
        let fire = if strong {
            true
        } else if refused {
            let n = self.weak.add(cx.ip, fold_hash(ev.path.as_bytes()), now);
            n >= self.cfg.weak_threshold
        } else {
            // An editor or backup copy answered 2xx is a disclosure on one request (the
            // source behind a script); dumps and `.sql` files are not: apps serve migrations.
            (200..300).contains(&ev.status) && BACKUP_SUFFIXES.contains(&suffix)
        };
        if !fire || !self.cooldown.ready_for(cx.ip, 0, now) {
            return;
        }
        self.weak.reset(cx.ip);
        let served = (200..300).contains(&ev.status);
        out.push(build_alert(
            cx,
            AlertSpec {
                detector: "sensitive_file_probe",
                title: if served {
                    "Sensitive file served to a probing client".to_string()
                } else {
                    "Probing for sensitive files".to_string()
                },
                description: format!(
                    "{ip} requested {path} (matches `{suffix}`), a file that holds secrets, credentials or source \
                     history and should never be reachable over HTTP; the server answered {st}. {advice}",
                    ip = ip_text(ev),
                    path = clip(&ev.path, 200),
                    st = ev.status,
                    advice = if served {
                        "The file may have been disclosed: check its content, rotate any secret in it and block the path."
                    } else {
                        "Nothing was served; block the source if it keeps probing."
                    }
                ),
                severity: if served && strong {
                    Severity::High
                } else {
                    Severity::Medium
                },
                mitre: &["T1595.003", "T1083"],
                owasp: Some("API8:2023"),
                stage: AttackStage::Recon,
                with_user_agent: true,
                reasons: vec![reason(
                    if strong { "sensitive_path" } else { "distinct_sensitive_paths" },
                    if strong { 1.0 } else { self.cfg.weak_threshold as f64 },
                    Some(if strong { 1.0 } else { self.cfg.weak_threshold as f64 }),
                )],
            },
        ));
    }

    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.cooldown.tick(now.millis());
    }

    fn state_bytes(&self) -> usize {
        self.weak.bytes() + self.cooldown.approx_bytes()
    }
}

/// Configuration of `admin_probe`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminProbeConfig {
    /// Distinct admin-interface paths refused (404/403) from one IP within `window_secs` that
    /// raise an alert. Webshell names and CVE paths fire on one request.
    pub admin_threshold: usize,
    /// Window, seconds.
    pub window_secs: i64,
    /// Cooldown per (IP, rule), seconds.
    pub cooldown_secs: i64,
    /// Most IPs tracked.
    pub max_ips: usize,
}

impl Default for AdminProbeConfig {
    fn default() -> Self {
        AdminProbeConfig {
            admin_threshold: 2,
            window_secs: 60,
            cooldown_secs: 600,
            max_ips: 50_000,
        }
    }
}

/// What kind of probe a rule recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    /// An admin interface (counts only when refused, fires on a burst).
    Admin,
    /// A webshell or backdoor file name (fires at once).
    Backdoor,
    /// A request shaped like a known exploit (fires at once).
    Cve,
}

/// How a rule's path needle must sit in the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// Anywhere.
    Contains,
    /// The whole path.
    Exact,
    /// The path ends with it.
    Suffix,
}

/// One probe rule.
#[derive(Debug, Clone, Copy)]
pub struct ProbeRule {
    /// Rule id (CVE id or short name).
    pub id: &'static str,
    /// Kind.
    pub kind: ProbeKind,
    /// Lower-case path needle.
    pub path: &'static str,
    /// Where it must sit.
    pub at: At,
    /// A lower-case needle the query must contain too (empty: none).
    pub query: &'static str,
    /// The method required (empty: any).
    pub method: &'static str,
    /// Title.
    pub title: &'static str,
    /// MITRE technique.
    pub mitre: &'static str,
}

#[allow(clippy::too_many_arguments)] // a table row constructor: positional on purpose
const fn r(
    id: &'static str,
    kind: ProbeKind,
    path: &'static str,
    at: At,
    query: &'static str,
    method: &'static str,
    title: &'static str,
    mitre: &'static str,
) -> ProbeRule {
    ProbeRule {
        id,
        kind,
        path,
        at,
        query,
        method,
        title,
        mitre,
    }
}

use At::{Contains as IN, Exact as EQ, Suffix as END};
use ProbeKind::{Admin as ADM, Backdoor as BD, Cve as CVE};

/// Admin interfaces, webshells and CVE probes (data adapted from CrowdSec Hub, MIT).
pub const PROBE_RULES: &[ProbeRule] = &[
    // admin interfaces
    r(
        "admin-wp",
        ADM,
        "/wp-admin",
        IN,
        "",
        "",
        "WordPress admin probing",
        "T1595.003",
    ),
    r(
        "admin-wp-plugins",
        ADM,
        "/wp-content/plugins/",
        IN,
        "",
        "",
        "WordPress plugin probing",
        "T1595.003",
    ),
    r(
        "admin-wp-includes",
        ADM,
        "/wp-includes/",
        IN,
        "",
        "",
        "WordPress probing",
        "T1595.003",
    ),
    r(
        "admin-phpmyadmin",
        ADM,
        "/phpmyadmin",
        IN,
        "",
        "",
        "phpMyAdmin probing",
        "T1595.003",
    ),
    r(
        "admin-pma",
        ADM,
        "/pma/",
        IN,
        "",
        "",
        "phpMyAdmin probing",
        "T1595.003",
    ),
    r(
        "admin-myadmin",
        ADM,
        "/myadmin",
        IN,
        "",
        "",
        "phpMyAdmin probing",
        "T1595.003",
    ),
    r(
        "admin-mysqladmin",
        ADM,
        "/mysqladmin",
        IN,
        "",
        "",
        "MySQL admin probing",
        "T1595.003",
    ),
    r(
        "admin-adminer",
        ADM,
        "/adminer",
        IN,
        "",
        "",
        "Adminer probing",
        "T1595.003",
    ),
    r(
        "admin-administrator",
        ADM,
        "/administrator",
        IN,
        "",
        "",
        "Admin interface probing",
        "T1595.003",
    ),
    r(
        "admin-admin",
        ADM,
        "/admin",
        IN,
        "",
        "",
        "Admin interface probing",
        "T1595.003",
    ),
    r(
        "admin-tomcat",
        ADM,
        "/manager/html",
        IN,
        "",
        "",
        "Tomcat manager probing",
        "T1595.003",
    ),
    r(
        "admin-tomcat-host",
        ADM,
        "/host-manager",
        IN,
        "",
        "",
        "Tomcat manager probing",
        "T1595.003",
    ),
    r(
        "admin-actuator",
        ADM,
        "/actuator",
        IN,
        "",
        "",
        "Spring Boot actuator probing",
        "T1595.003",
    ),
    r(
        "admin-console",
        ADM,
        "/console",
        IN,
        "",
        "",
        "Admin console probing",
        "T1595.003",
    ),
    r(
        "admin-jmx",
        ADM,
        "/jmx-console",
        IN,
        "",
        "",
        "JBoss console probing",
        "T1595.003",
    ),
    r(
        "admin-cisco",
        ADM,
        "/+cscoe+",
        IN,
        "",
        "",
        "Cisco ASA portal probing",
        "T1595.003",
    ),
    r(
        "admin-cpanel",
        ADM,
        "/cpanel",
        IN,
        "",
        "",
        "cPanel probing",
        "T1595.003",
    ),
    r(
        "admin-webadmin",
        ADM,
        "/webadmin",
        IN,
        "",
        "",
        "Admin interface probing",
        "T1595.003",
    ),
    r(
        "admin-jenkins",
        ADM,
        "/jenkins",
        IN,
        "",
        "",
        "Jenkins probing",
        "T1595.003",
    ),
    r(
        "admin-server-status",
        ADM,
        "/server-status",
        IN,
        "",
        "",
        "Server status page probing",
        "T1595.003",
    ),
    // webshells and backdoors
    r(
        "backdoor-c99",
        BD,
        "/c99.php",
        END,
        "",
        "",
        "Webshell access attempt",
        "T1505.003",
    ),
    r(
        "backdoor-r57",
        BD,
        "/r57.php",
        END,
        "",
        "",
        "Webshell access attempt",
        "T1505.003",
    ),
    r(
        "backdoor-c100",
        BD,
        "/c100.php",
        END,
        "",
        "",
        "Webshell access attempt",
        "T1505.003",
    ),
    r(
        "backdoor-wso",
        BD,
        "/wso.php",
        END,
        "",
        "",
        "Webshell access attempt",
        "T1505.003",
    ),
    r(
        "backdoor-b374k",
        BD,
        "/b374k",
        IN,
        "",
        "",
        "Webshell access attempt",
        "T1505.003",
    ),
    r(
        "backdoor-alfa",
        BD,
        "/alfa.php",
        END,
        "",
        "",
        "Webshell access attempt",
        "T1505.003",
    ),
    r(
        "backdoor-alfa-data",
        BD,
        "/alfa-rex.php",
        END,
        "",
        "",
        "Webshell access attempt",
        "T1505.003",
    ),
    r(
        "backdoor-webshell",
        BD,
        "webshell",
        IN,
        "",
        "",
        "Webshell access attempt",
        "T1505.003",
    ),
    r(
        "backdoor-shell-php",
        BD,
        "shell.php",
        END,
        "",
        "",
        "Webshell access attempt",
        "T1505.003",
    ),
    r(
        "backdoor-shell-jsp",
        BD,
        "shell.jsp",
        END,
        "",
        "",
        "Webshell access attempt",
        "T1505.003",
    ),
    r(
        "backdoor-shell-asp",
        BD,
        "shell.asp",
        END,
        "",
        "",
        "Webshell access attempt",
        "T1505.003",
    ),
    r(
        "backdoor-shell-aspx",
        BD,
        "shell.aspx",
        END,
        "",
        "",
        "Webshell access attempt",
        "T1505.003",
    ),
    r(
        "backdoor-cmd-jsp",
        BD,
        "/cmd.jsp",
        END,
        "",
        "",
        "Webshell access attempt",
        "T1505.003",
    ),
    r(
        "backdoor-cmd-aspx",
        BD,
        "/cmd.aspx",
        END,
        "",
        "",
        "Webshell access attempt",
        "T1505.003",
    ),
    r(
        "backdoor-xleet",
        BD,
        "/xleet",
        IN,
        "",
        "",
        "Webshell access attempt",
        "T1505.003",
    ),
    r(
        "backdoor-indoxploit",
        BD,
        "indoxploit",
        IN,
        "",
        "",
        "Webshell access attempt",
        "T1505.003",
    ),
    r(
        "backdoor-marijuana",
        BD,
        "/marijuana.php",
        END,
        "",
        "",
        "Webshell access attempt",
        "T1505.003",
    ),
    r(
        "backdoor-priv8",
        BD,
        "/priv8.php",
        END,
        "",
        "",
        "Webshell access attempt",
        "T1505.003",
    ),
    r(
        "backdoor-symlink",
        BD,
        "/sym.php",
        END,
        "",
        "",
        "Webshell access attempt",
        "T1505.003",
    ),
    r(
        "backdoor-fox",
        BD,
        "/fox.php",
        END,
        "",
        "",
        "Webshell access attempt",
        "T1505.003",
    ),
    r(
        "backdoor-wp-shell",
        BD,
        "/wp-content/plugins/wp-file-manager/lib/files/",
        IN,
        "",
        "",
        "Webshell access attempt",
        "T1505.003",
    ),
    // CVE and exploit probes
    r(
        "CVE-2017-9841",
        CVE,
        "util/php/eval-stdin.php",
        END,
        "",
        "",
        "PHPUnit eval-stdin RCE probe (CVE-2017-9841)",
        "T1190",
    ),
    r(
        "CVE-2019-18935",
        CVE,
        "/telerik.web.ui.webresource.axd",
        IN,
        "type=rau",
        "",
        "Telerik UI deserialization probe (CVE-2019-18935)",
        "T1190",
    ),
    r(
        "CVE-2022-35914",
        CVE,
        "/vendor/htmlawed/htmlawed/htmlawedtest.php",
        IN,
        "",
        "",
        "GLPI htmLawed RCE probe (CVE-2022-35914)",
        "T1190",
    ),
    r(
        "CVE-2022-37042",
        CVE,
        "/service/extension/backup/mboximport",
        IN,
        "account-name=",
        "POST",
        "Zimbra mboximport RCE probe (CVE-2022-37042)",
        "T1190",
    ),
    r(
        "CVE-2022-40684",
        CVE,
        "/api/v2/cmdb/system/admin/",
        IN,
        "",
        "",
        "Fortinet authentication bypass probe (CVE-2022-40684)",
        "T1190",
    ),
    r(
        "CVE-2022-41697",
        CVE,
        "/ghost/api/admin/session",
        IN,
        "",
        "POST",
        "Ghost admin session enumeration (CVE-2022-41697)",
        "T1190",
    ),
    r(
        "CVE-2022-46169",
        CVE,
        "/remote_agent.php",
        IN,
        "local_data_ids",
        "",
        "Cacti remote_agent command injection probe (CVE-2022-46169)",
        "T1190",
    ),
    r(
        "CVE-2023-22515",
        CVE,
        "/setup/setupadministrator.action",
        IN,
        "",
        "",
        "Confluence broken access control probe (CVE-2023-22515)",
        "T1190",
    ),
    r(
        "CVE-2023-22515-info",
        CVE,
        "/server-info.action",
        IN,
        "",
        "",
        "Confluence broken access control probe (CVE-2023-22515)",
        "T1190",
    ),
    r(
        "CVE-2023-22518",
        CVE,
        "/json/setup-restore.action",
        IN,
        "",
        "",
        "Confluence restore improper authorization probe (CVE-2023-22518)",
        "T1190",
    ),
    r(
        "CVE-2024-0012",
        CVE,
        "/php/ztp_gate.php",
        IN,
        "",
        "",
        "PAN-OS management authentication bypass probe (CVE-2024-0012/CVE-2025-0108)",
        "T1190",
    ),
    r(
        "CVE-2024-0012-map",
        CVE,
        "/index.php/.js.map",
        IN,
        "",
        "",
        "PAN-OS management authentication bypass probe (CVE-2024-0012)",
        "T1190",
    ),
    r(
        "CVE-2024-9474",
        CVE,
        "/createremoteappwebsession.php",
        IN,
        "",
        "",
        "PAN-OS privilege escalation probe (CVE-2024-9474)",
        "T1190",
    ),
    r(
        "CVE-2023-49103",
        CVE,
        "/microsoft-graph/tests/getphpinfo.php",
        IN,
        "",
        "",
        "ownCloud graphapi information disclosure (CVE-2023-49103)",
        "T1190",
    ),
    r(
        "CVE-2020-5902",
        CVE,
        "/tmui/login.jsp/..;/",
        IN,
        "",
        "",
        "F5 BIG-IP TMUI RCE probe (CVE-2020-5902)",
        "T1190",
    ),
    r(
        "CVE-2020-5902-enc",
        CVE,
        "/tmui/login.jsp/%2e%2e;/",
        IN,
        "",
        "",
        "F5 BIG-IP TMUI RCE probe (CVE-2020-5902)",
        "T1190",
    ),
    r(
        "CVE-2022-1388",
        CVE,
        "/mgmt/tm/util/bash",
        IN,
        "",
        "",
        "F5 BIG-IP iControl REST RCE probe (CVE-2022-1388)",
        "T1190",
    ),
    r(
        "CVE-2018-13379",
        CVE,
        "/remote/fgt_lang",
        IN,
        "sslvpn_websession",
        "",
        "Fortinet SSL VPN path traversal (CVE-2018-13379)",
        "T1190",
    ),
    r(
        "CVE-2021-41773",
        CVE,
        "/cgi-bin/.%2e/",
        IN,
        "",
        "",
        "Apache path traversal RCE (CVE-2021-41773)",
        "T1190",
    ),
    r(
        "CVE-2021-42013",
        CVE,
        "/%%32%65%%32%65/",
        IN,
        "",
        "",
        "Apache path traversal RCE (CVE-2021-42013)",
        "T1190",
    ),
    r(
        "CVE-2021-26086",
        CVE,
        "/_/;/meta-inf/",
        IN,
        "",
        "",
        "Jira path traversal (CVE-2021-26086)",
        "T1190",
    ),
    r(
        "CVE-2021-26086-web",
        CVE,
        "/_/;/web-inf/",
        IN,
        "",
        "",
        "Jira path traversal (CVE-2021-26086)",
        "T1190",
    ),
    r(
        "netgear-setup-rce",
        CVE,
        "/setup.cgi",
        IN,
        "todo=syscmd",
        "",
        "Netgear setup.cgi command execution",
        "T1190",
    ),
    r(
        "CVE-2019-11510",
        CVE,
        "/dana-na/",
        IN,
        "guacamole",
        "",
        "Pulse Secure SSL VPN file read (CVE-2019-11510)",
        "T1190",
    ),
    r(
        "CVE-2019-11510-path",
        CVE,
        "/dana/html5acc/guacamole/",
        IN,
        "",
        "",
        "Pulse Secure SSL VPN file read (CVE-2019-11510)",
        "T1190",
    ),
    r(
        "VMSA-2021-0027",
        CVE,
        "/ui/vcav-bootstrap/rest/vcav-providers/provider-logo",
        IN,
        "url=",
        "",
        "VMware vCenter SSRF / file read (VMSA-2021-0027)",
        "T1190",
    ),
    r(
        "CVE-2022-22954",
        CVE,
        "/catalog-portal/ui/oauth/verify",
        IN,
        "deviceudid=",
        "",
        "VMware Workspace ONE template injection probe (CVE-2022-22954)",
        "T1190",
    ),
    r(
        "CVE-2021-3129",
        CVE,
        "/_ignition/execute-solution",
        IN,
        "",
        "",
        "Laravel Ignition RCE probe (CVE-2021-3129)",
        "T1190",
    ),
    r(
        "netgear-networkdiag",
        CVE,
        "/cgi/networkdiag.cgi",
        IN,
        "",
        "",
        "Router diagnostics command injection probe",
        "T1190",
    ),
    r(
        "setup-cgi",
        CVE,
        "/setup.cgi",
        EQ,
        "",
        "",
        "Router setup.cgi probe",
        "T1595.002",
    ),
    r(
        "videoconfiguration",
        CVE,
        "/cgi-bin/videoconfiguration.cgi",
        IN,
        "",
        "",
        "IP camera configuration probe",
        "T1595.002",
    ),
    r(
        "aem-packmgr",
        CVE,
        "/crx/packmgr/",
        IN,
        "",
        "",
        "Adobe Experience Manager package manager probe",
        "T1595.002",
    ),
    r(
        "sap-webgui",
        CVE,
        "/sap/bc/gui/sap/its/webgui",
        IN,
        "",
        "",
        "SAP WebGUI probe",
        "T1595.002",
    ),
    r(
        "sap-nwa",
        CVE,
        "/nwa",
        EQ,
        "",
        "",
        "SAP NetWeaver Administrator probe",
        "T1595.002",
    ),
    r(
        "dnn-login",
        CVE,
        "/core/skin/login.aspx",
        EQ,
        "",
        "",
        "DNN / SmarterMail login page probe",
        "T1595.002",
    ),
    r(
        "CVE-2020-25213",
        CVE,
        "/wp-file-manager/lib/php/connector.minimal.php",
        IN,
        "",
        "",
        "WordPress File Manager RCE probe (CVE-2020-25213)",
        "T1190",
    ),
    r(
        "CVE-2020-7961",
        CVE,
        "/api/jsonws/invoke",
        IN,
        "",
        "",
        "Liferay JSON web service RCE probe (CVE-2020-7961)",
        "T1190",
    ),
    r(
        "CVE-2021-34473",
        CVE,
        "/autodiscover/autodiscover.json",
        IN,
        "powershell",
        "",
        "Exchange ProxyShell probe (CVE-2021-34473)",
        "T1190",
    ),
    r(
        "CVE-2021-25646",
        CVE,
        "/druid/indexer/v1/sampler",
        IN,
        "",
        "",
        "Apache Druid RCE probe (CVE-2021-25646)",
        "T1190",
    ),
    r(
        "gpon-rce",
        CVE,
        "/gponform/diag_form",
        IN,
        "",
        "",
        "GPON router RCE probe (CVE-2018-10562)",
        "T1190",
    ),
    r(
        "boaform",
        CVE,
        "/boaform/admin/formlogin",
        IN,
        "",
        "",
        "Boa router login probe",
        "T1190",
    ),
    r(
        "hnap",
        CVE,
        "/hnap1",
        IN,
        "",
        "",
        "D-Link HNAP probe",
        "T1595.002",
    ),
    r(
        "luci-stok",
        CVE,
        "/cgi-bin/luci/;stok=",
        IN,
        "",
        "",
        "OpenWrt LuCI RCE probe",
        "T1190",
    ),
    r(
        "crowdsec-test",
        CVE,
        "/crowdsec-test-",
        IN,
        "",
        "",
        "CrowdSec detection test request",
        "T1595.002",
    ),
];

/// The `admin_probe` detector.
pub struct AdminProbe {
    cfg: AdminProbeConfig,
    ac: AhoCorasick,
    /// Exact gate: does any rule path occur at all (most paths match none).
    any: AnyNeedle,
    admin: DistinctWindow,
    cooldown: Cooldown,
}

impl AdminProbe {
    /// A detector with this configuration.
    pub fn new(cfg: AdminProbeConfig) -> Self {
        let ac = AhoCorasickBuilder::new()
            .kind(Some(AhoCorasickKind::DFA))
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(PROBE_RULES.iter().map(|r| r.path))
            .expect("the built-in probe paths are valid literals");
        let any = AnyNeedle::new(PROBE_RULES.iter().map(|r| r.path), true);
        AdminProbe {
            any,
            admin: DistinctWindow::new(cfg.window_secs, cfg.max_ips, cfg.admin_threshold.max(1)),
            cooldown: Cooldown::secs(cfg.cooldown_secs, cfg.max_ips),
            cfg,
            ac,
        }
    }

    /// The first rule matching a request (CVE and backdoor rules before admin ones).
    pub fn matching_rule(
        &self,
        method: &str,
        path: &str,
        query: &str,
    ) -> Option<(usize, &'static ProbeRule)> {
        if !self.any.is_match(path.as_bytes()) {
            return None;
        }
        let mut best: Option<(usize, &'static ProbeRule)> = None;
        for m in self.ac.find_overlapping_iter(path) {
            let idx = m.pattern().as_usize();
            let rule = &PROBE_RULES[idx];
            let placed = match rule.at {
                At::Contains => true,
                At::Exact => m.start() == 0 && m.end() == path.len(),
                At::Suffix => m.end() == path.len(),
            };
            if !placed
                || (!rule.method.is_empty() && !rule.method.eq_ignore_ascii_case(method))
                || (!rule.query.is_empty() && !contains_ci(query, rule.query))
            {
                continue;
            }
            match best {
                Some((_, b)) if b.kind != ProbeKind::Admin => {}
                _ => best = Some((idx, rule)),
            }
        }
        best
    }
}

/// ASCII case-insensitive substring test (`needle` lower-case).
pub(crate) fn contains_ci(hay: &str, needle: &str) -> bool {
    crate::common::contains_ci(hay.as_bytes(), needle.as_bytes())
}

impl Detector for AdminProbe {
    fn id(&self) -> &'static str {
        "admin_probe"
    }

    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        let ev = cx.ev;
        let Some((idx, rule)) = self.matching_rule(&ev.method, &ev.path, &ev.query) else {
            return;
        };
        let now = ev.ts.millis();
        let (family, count) = match rule.kind {
            ProbeKind::Admin => {
                if !matches!(ev.status, 403 | 404) {
                    return;
                }
                let n = self
                    .admin
                    .add(cx.ip, crate::common::fold_hash(ev.path.as_bytes()), now);
                if n < self.cfg.admin_threshold {
                    return;
                }
                (u32::MAX, n)
            }
            _ => (idx as u32, 1),
        };
        if !self.cooldown.ready_for(cx.ip, family, now) {
            return;
        }
        if rule.kind == ProbeKind::Admin {
            self.admin.reset(cx.ip);
        }
        let served = (200..300).contains(&ev.status);
        let (severity, stage, what) = match rule.kind {
            ProbeKind::Admin => (
                Severity::Low,
                AttackStage::Recon,
                "several admin-interface paths that do not exist here, a typical scanner looking for exposed consoles",
            ),
            ProbeKind::Backdoor => (
                if served { Severity::Critical } else { Severity::Medium },
                AttackStage::Exploitation,
                "a well-known webshell or backdoor file name, looking for a server compromised earlier",
            ),
            ProbeKind::Cve => (
                if served && rule.mitre == "T1190" { Severity::High } else { Severity::Medium },
                if rule.mitre == "T1190" { AttackStage::Exploitation } else { AttackStage::Recon },
                "a path used to exploit or fingerprint a known vulnerable product",
            ),
        };
        out.push(build_alert(
            cx,
            AlertSpec {
                detector: "admin_probe",
                title: rule.title.to_string(),
                description: format!(
                    "{ip} requested {m} {path}: {what} (rule {id}). The server answered {st}. {advice}",
                    ip = ip_text(ev),
                    m = clip(&ev.method, 16),
                    path = clip(&ev.path, 200),
                    id = rule.id,
                    st = ev.status,
                    advice = if served {
                        "A success answer means the target may exist: check that it is patched and not exposed, and block the source."
                    } else {
                        "Nothing was served; block the source if probing continues."
                    },
                ),
                severity,
                mitre: match rule.mitre {
                    "T1190" => &["T1190"],
                    "T1505.003" => &["T1505.003", "T1595.003"],
                    "T1595.002" => &["T1595.002"],
                    _ => &["T1595.003"],
                },
                owasp: Some(if rule.kind == ProbeKind::Admin { "API9:2023" } else { "API8:2023" }),
                stage,
                with_user_agent: true,
                reasons: vec![reason("probe_paths", count as f64, Some(if rule.kind == ProbeKind::Admin {
                    self.cfg.admin_threshold as f64
                } else {
                    1.0
                }))],
            },
        ));
    }

    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.cooldown.tick(now.millis());
    }

    fn state_bytes(&self) -> usize {
        self.admin.bytes() + self.cooldown.approx_bytes()
    }
}

/// Registry constructor for `sensitive_file_probe`.
pub fn build_sensitive_file(c: SensitiveFileConfig, _res: &Resources) -> Box<dyn Detector> {
    Box::new(SensitiveFileProbe::new(c))
}

/// Registry constructor for `admin_probe`.
pub fn build_admin_probe(c: AdminProbeConfig, _res: &Resources) -> Box<dyn Detector> {
    Box::new(AdminProbe::new(c))
}

#[cfg(test)]
mod gate_tests {
    use super::*;

    /// Guards the speed gates: every table entry still reaches the full match, in any case.
    #[test]
    fn gates_let_every_table_entry_through() {
        let sf = SensitiveFileProbe::new(SensitiveFileConfig::default());
        for (suffix, _) in SENSITIVE {
            for p in [
                format!("/x{suffix}"),
                format!("/X{}/", suffix.to_ascii_uppercase()),
            ] {
                assert!(sf.classify(&p).is_some(), "{p}");
            }
        }
        let ap = AdminProbe::new(AdminProbeConfig::default());
        for r in PROBE_RULES {
            for p in [r.path.to_string(), r.path.to_ascii_uppercase()] {
                assert!(ap.any.is_match(p.as_bytes()), "{p}");
            }
        }
        assert!(sf.classify("/api/v2/users/12345").is_none());
        assert!(!ap.any.is_match(b"/api/v2/orders/987654/items"));
    }
}
