//! The configuration file (`rampart.toml`): flags override environment variables, which
//! override the file, which overrides the defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    /// `[server]`
    pub server: ServerSection,
    /// `[decode]`
    pub decode: DecodeSection,
    /// `[detect]`
    pub detect: DetectSection,
    /// `[correlate]`
    pub correlate: CorrelateSection,
    /// `[ingest]`
    pub ingest: IngestSection,
    /// `[contain]`
    pub contain: ContainSection,
    /// `[disruption]`
    pub disruption: DisruptionSection,
    /// `[webhooks]`
    pub webhooks: WebhooksSection,
    /// `[retention]`
    pub retention: RetentionSection,
}

/// `[retention]`: what the stored tables keep, enforced by a background pass of `rampart
/// serve`. Ages are Go-style durations (`12h`, `30d`); `"forever"` keeps every age.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSection {
    /// How often a pass runs (default `10m`).
    pub interval: Option<String>,
    /// `[retention.events]`: stored events (default 30 days, no row cap).
    pub events: KeepSection,
    /// `[retention.incidents]`: resolved incidents with their alerts (default 365 days).
    pub incidents: KeepSection,
    /// `[retention.playbook_runs]`: finished playbook runs (default 90 days).
    pub playbook_runs: KeepSection,
}

/// What one table keeps.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeepSection {
    /// Rows older than this go (`30d`; `"forever"` keeps every age).
    pub max_age: Option<String>,
    /// At most this many rows stay, the newest (events only).
    pub max_rows: Option<u64>,
}

impl RetentionSection {
    /// The retention policy: these keys over the defaults. Incidents are kept at least a
    /// day (the correlator may still hold a recent one).
    pub fn retention_config(&self) -> Result<rampart_server::retention::RetentionConfig> {
        use rampart_server::retention::{Keep, RetentionConfig};
        use std::time::Duration;
        fn age(v: &Option<String>, def: Option<Duration>, what: &str) -> Result<Option<Duration>> {
            match v.as_deref() {
                None => Ok(def),
                Some("forever") => Ok(None),
                Some(s) => rampart_model::action::parse_duration(s)
                    .map(|secs| Some(Duration::from_secs(secs.max(1))))
                    .with_context(|| format!("[retention.{what}] max_age")),
            }
        }
        fn keep(k: &KeepSection, def: Keep, what: &str) -> Result<Keep> {
            Ok(Keep {
                max_age: age(&k.max_age, def.max_age, what)?,
                max_rows: k.max_rows.or(def.max_rows),
            })
        }
        let d = RetentionConfig::default();
        if self.incidents.max_rows.is_some() || self.playbook_runs.max_rows.is_some() {
            anyhow::bail!("[retention] max_rows applies to events only");
        }
        let mut incidents = keep(&self.incidents, d.incidents, "incidents")?;
        incidents.max_age = incidents
            .max_age
            .map(|a| a.max(Duration::from_secs(24 * 3600)));
        Ok(RetentionConfig {
            interval: match &self.interval {
                None => d.interval,
                Some(s) => Duration::from_secs(
                    rampart_model::action::parse_duration(s)
                        .context("[retention] interval")?
                        .max(1),
                ),
            },
            events: keep(&self.events, d.events, "events")?,
            incidents,
            playbook_runs: keep(&self.playbook_runs, d.playbook_runs, "playbook_runs")?,
        })
    }
}

/// `[disruption]`: automatic attack disruption by the built-in policies
/// (`rampart_contain::disruption::POLICIES`), within the `[contain]` rails.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DisruptionSection {
    /// Mode of every policy `policies` does not name: `off`, `recommend` (the default: the
    /// action waits for one click of approval) or `automatic`.
    pub mode: Option<rampart_contain::disruption::Mode>,
    /// Mode per policy (`account_takeover = "automatic"`).
    pub policies: std::collections::BTreeMap<String, rampart_contain::disruption::Mode>,
    /// Most actions all policies may take within an hour (default 20).
    pub max_actions_per_hour: Option<u32>,
    /// How long a policy's action lasts (default `1h`).
    pub duration: Option<String>,
}

impl DisruptionSection {
    /// The policies' configuration.
    pub fn disruption_config(&self) -> Result<rampart_contain::disruption::DisruptionConfig> {
        let mut c = rampart_contain::disruption::DisruptionConfig::default();
        if let Some(m) = self.mode {
            c.mode = m;
        }
        c.modes = self.policies.clone();
        if let Some(n) = self.max_actions_per_hour {
            c.max_actions_per_hour = n;
        }
        if let Some(d) = &self.duration {
            c.duration_secs = rampart_model::action::parse_duration(d)
                .map_err(|e| anyhow::anyhow!("{e}"))
                .context("[disruption] duration")?;
        }
        c.validate()
            .map_err(|e| anyhow::anyhow!(e))
            .context("[disruption] policies")?;
        Ok(c)
    }
}

/// `[webhooks]`: the delivery worker of outgoing notifications.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksSection {
    /// How often the outbox is polled for due deliveries, in ms (default 500).
    pub poll_ms: Option<u64>,
    /// The first retry's delay in ms; each further one doubles it (default 1000).
    pub retry_base_ms: Option<u64>,
    /// The longest delay between retries, in seconds (default 300).
    pub retry_max_secs: Option<u64>,
    /// Most deliveries in flight at once on this node (default 8).
    pub concurrency: Option<usize>,
    /// A PEM file of extra CA certificates trusted for https receivers (an internal CA).
    pub ca_file: Option<std::path::PathBuf>,
}

impl WebhooksSection {
    /// The delivery worker's settings: these keys over the defaults.
    pub fn webhook_config(&self) -> rampart_server::webhook::WebhookConfig {
        use std::time::Duration;
        let d = rampart_server::webhook::WebhookConfig::default();
        rampart_server::webhook::WebhookConfig {
            poll_interval: self
                .poll_ms
                .map_or(d.poll_interval, |ms| Duration::from_millis(ms.max(10))),
            retry_base: self
                .retry_base_ms
                .map_or(d.retry_base, |ms| Duration::from_millis(ms.max(1))),
            retry_max: self
                .retry_max_secs
                .map_or(d.retry_max, |s| Duration::from_secs(s.max(1))),
            concurrency: self.concurrency.map_or(d.concurrency, |n| n.clamp(1, 256)),
            ca_file: self.ca_file.clone(),
        }
    }
}

/// `[contain]`: the safety rails of containment actions. Durations are Go-style strings
/// (`30s`, `15m`, `4h`, `7d`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContainSection {
    /// `[contain.protected]`: `ips` (IPs/CIDRs), `api_keys` (identities), `principals`,
    /// `endpoints` (`METHOD /template` or `/template`), `services` that no action may target.
    /// `[decode] trusted_proxies` and `[detect.allow]` ips, principals and endpoints join them.
    pub protected: rampart_contain::Protected,
    /// `[contain.default_duration]`: per kind (`block_ip = "4h"`, ...); unset kinds keep
    /// their defaults (block_ip 4h, disable_api_key and disable_principal 24h, the rest 1h).
    pub default_duration: std::collections::BTreeMap<String, String>,
    /// Longest duration anyone may ask for (default `30d`).
    pub max_duration: Option<String>,
    /// Widest IPv4 block, as a prefix length (default 16).
    pub widest_v4: Option<u8>,
    /// Widest IPv6 block (default 48).
    pub widest_v6: Option<u8>,
    /// IPv4 blocks wider than this prefix need approval (default 24).
    pub approval_wider_than_v4: Option<u8>,
    /// IPv6 blocks wider than this prefix need approval (default 64).
    pub approval_wider_than_v6: Option<u8>,
    /// Kinds that always need approval (default `["isolate_endpoint", "isolate_service"]`).
    pub approval_kinds: Option<Vec<String>>,
    /// How long every attacker entity of a contained incident must stay quiet (no event that
    /// was not denied, no alert) before the verdict is `neutralized` (default `1h`).
    pub quiet_period: Option<String>,
}

impl ContainSection {
    /// The rails, with the trusted proxies and the detection allow-list joining the protected
    /// entities.
    pub fn contain_config(
        &self,
        trusted_proxies: &[ipnet::IpNet],
        allow: &rampart_detect::common::AllowList,
    ) -> Result<rampart_contain::ContainConfig> {
        use rampart_model::action::parse_duration;
        use rampart_model::ActionKind;
        let mut c = rampart_contain::ContainConfig {
            protected: self.protected.clone(),
            ..Default::default()
        };
        c.protected.ips.extend(trusted_proxies.iter().copied());
        c.protected.ips.extend(allow.ips.iter().copied());
        c.protected
            .principals
            .extend(allow.principals.iter().cloned());
        c.protected
            .endpoints
            .extend(allow.endpoints.iter().cloned());
        for (kind, d) in &self.default_duration {
            let kind: ActionKind = kind
                .parse()
                .with_context(|| format!("[contain.default_duration] {kind}"))?;
            let secs =
                parse_duration(d).with_context(|| format!("[contain.default_duration] {kind}"))?;
            let d = &mut c.default_duration;
            *match kind {
                ActionKind::BlockIp => &mut d.block_ip,
                ActionKind::DisableApiKey => &mut d.disable_api_key,
                ActionKind::DisablePrincipal => &mut d.disable_principal,
                ActionKind::IsolateEndpoint => &mut d.isolate_endpoint,
                ActionKind::IsolateService => &mut d.isolate_service,
                ActionKind::RateLimit => &mut d.rate_limit,
            } = secs;
        }
        if let Some(m) = &self.max_duration {
            c.max_duration_secs = parse_duration(m).context("[contain] max_duration")?;
        }
        if let Some(q) = &self.quiet_period {
            c.quiet_period_secs = parse_duration(q).context("[contain] quiet_period")?;
        }
        for (v, field, max, name) in [
            (self.widest_v4, &mut c.widest_v4, 32, "widest_v4"),
            (self.widest_v6, &mut c.widest_v6, 128, "widest_v6"),
            (
                self.approval_wider_than_v4,
                &mut c.approval_wider_than_v4,
                32,
                "approval_wider_than_v4",
            ),
            (
                self.approval_wider_than_v6,
                &mut c.approval_wider_than_v6,
                128,
                "approval_wider_than_v6",
            ),
        ] {
            if let Some(v) = v {
                anyhow::ensure!(v <= max, "[contain] {name} must be 0..={max}");
                *field = v;
            }
        }
        if let Some(kinds) = &self.approval_kinds {
            c.approval_kinds = kinds
                .iter()
                .map(|k| {
                    k.parse()
                        .with_context(|| "[contain] approval_kinds".to_string())
                })
                .collect::<Result<_>>()?;
        }
        for (d, kind) in [
            (c.default_duration.block_ip, "block_ip"),
            (c.default_duration.rate_limit, "rate_limit"),
        ] {
            anyhow::ensure!(
                d <= c.max_duration_secs,
                "[contain] the default duration of {kind} is longer than max_duration"
            );
        }
        Ok(c)
    }
}

/// `[server]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// Listen address.
    pub listen: Option<SocketAddr>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: Option<usize>,
    /// How long a pushed request's `Idempotency-Key` is remembered, in seconds (default 86400).
    pub idempotency_ttl_secs: Option<u64>,
    /// Milliseconds a list answer may be served from the cache when nothing this node knows of
    /// changed: how late changes made by another node sharing the database show (default
    /// 1000; 0 turns the cache off).
    pub list_cache_ms: Option<u64>,
    /// Seconds a connection has to send a whole request head (default 10).
    pub header_read_timeout_secs: Option<u64>,
    /// Seconds a request has to send its whole body after its head (default 60).
    pub body_read_timeout_secs: Option<u64>,
    /// Most open connections (default 10 000; keep it below `ulimit -n`).
    pub max_connections: Option<usize>,
    /// Most open connections per source address (IPv6: per /64; default 256).
    pub max_connections_per_source: Option<usize>,
    /// Largest request head in bytes (default 65 536).
    pub max_header_bytes: Option<usize>,
    /// Longest request target in bytes (default 8 192).
    pub max_uri_bytes: Option<usize>,
    /// Seconds between reloads of the token cache: how long a token revoked on another node
    /// sharing the database stays usable here (default 5).
    pub token_refresh_secs: Option<u64>,
    /// Seconds between batched writes of token last-use times (default 10).
    pub token_use_flush_secs: Option<u64>,
    /// Failed authentications a source may make at once before 429 (default 20).
    pub auth_failure_burst: Option<u32>,
    /// Failed authentications a source regains per minute (default 60).
    pub auth_failures_per_minute: Option<u32>,
    /// Milliseconds between checks for containment actions changed by another node sharing
    /// the database (this node's own changes are enforced at once; default 1000).
    pub enforce_sync_ms: Option<u64>,
    /// Milliseconds between batched writes of the enforcement denial counters (default 1000).
    pub enforce_hits_flush_ms: Option<u64>,
    /// Seconds without a request after which a console session ends (default 1800).
    pub session_idle_secs: Option<u64>,
    /// Seconds after sign-in at which a console session ends whatever the activity (default
    /// 43200).
    pub session_lifetime_secs: Option<u64>,
    /// Failed sign-ins for one account within the window that lock it (default 5).
    pub login_max_failures: Option<u32>,
    /// Failed sign-ins from one address within the window that lock it out (default 20).
    pub login_max_source_failures: Option<u32>,
    /// Seconds failed sign-ins are counted over, and a lockout lasts (default 900).
    pub login_failure_window_secs: Option<u64>,
    /// Always mark console cookies `Secure` (they are whenever a proxy sends
    /// `X-Forwarded-Proto: https`; default false).
    pub secure_cookies: Option<bool>,
}

impl ServerSection {
    /// The server settings: these keys over the defaults.
    pub fn server_config(&self) -> rampart_server::ServerConfig {
        use std::time::Duration;
        let d = rampart_server::ServerConfig::default();
        let secs = |v: Option<u64>, def: Duration| v.map_or(def, Duration::from_secs);
        rampart_server::ServerConfig {
            max_body_bytes: self.max_body_bytes.unwrap_or(d.max_body_bytes),
            header_read_timeout: secs(self.header_read_timeout_secs, d.header_read_timeout),
            body_read_timeout: secs(self.body_read_timeout_secs, d.body_read_timeout),
            max_connections: self.max_connections.unwrap_or(d.max_connections),
            max_connections_per_source: self
                .max_connections_per_source
                .unwrap_or(d.max_connections_per_source),
            max_header_bytes: self.max_header_bytes.unwrap_or(d.max_header_bytes),
            max_uri_bytes: self.max_uri_bytes.unwrap_or(d.max_uri_bytes),
            token_refresh_interval: secs(self.token_refresh_secs, d.token_refresh_interval),
            token_use_flush_interval: secs(self.token_use_flush_secs, d.token_use_flush_interval),
            idempotency_ttl: secs(self.idempotency_ttl_secs, d.idempotency_ttl),
            list_cache_ttl: self
                .list_cache_ms
                .map_or(d.list_cache_ttl, Duration::from_millis),
            auth_failure_burst: self.auth_failure_burst.unwrap_or(d.auth_failure_burst),
            auth_failures_per_minute: self
                .auth_failures_per_minute
                .unwrap_or(d.auth_failures_per_minute),
            enforce_sync_interval: self.enforce_sync_ms.map_or(d.enforce_sync_interval, |ms| {
                Duration::from_millis(ms.max(10))
            }),
            enforce_hits_flush_interval: self
                .enforce_hits_flush_ms
                .map_or(d.enforce_hits_flush_interval, |ms| {
                    Duration::from_millis(ms.max(10))
                }),
            session_idle_timeout: secs(self.session_idle_secs, d.session_idle_timeout),
            session_lifetime: secs(self.session_lifetime_secs, d.session_lifetime),
            login_max_failures: self
                .login_max_failures
                .unwrap_or(d.login_max_failures)
                .max(1),
            login_max_source_failures: self
                .login_max_source_failures
                .unwrap_or(d.login_max_source_failures)
                .max(1),
            login_failure_window: secs(self.login_failure_window_secs, d.login_failure_window),
            secure_cookies: self.secure_cookies.unwrap_or(d.secure_cookies),
            ..d
        }
    }
}

/// `[decode]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecodeSection {
    /// Proxies whose `X-Forwarded-For` / `Forwarded` headers are trusted (IPs or CIDRs).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Header naming the caller, when the gateway sets one.
    pub principal_header: Option<String>,
    /// Headers carrying API keys.
    pub api_key_headers: Option<Vec<String>>,
    /// Headers whose values are redacted, in addition to the defaults (`authorization`,
    /// `proxy-authorization`, `cookie`, `set-cookie`, `x-api-key`, `x-auth-token`, ...) and
    /// the API-key headers.
    pub secret_headers: Vec<String>,
    /// Query keys whose values are redacted, in addition to the defaults (`access_token`,
    /// `api_key`, `token`, `password`, `client_secret`, `signature`, ...).
    pub secret_query_keys: Vec<String>,
    /// Body fields (JSON keys, form and multipart fields) whose values are redacted, in
    /// addition to the defaults (`password`, `secret`, `token`, `client_secret`, ...).
    pub secret_body_fields: Vec<String>,
}

impl DecodeSection {
    /// The compiled redaction lists: the defaults, the API-key headers and this section's.
    pub fn secrets(&self, api_key_headers: &[String]) -> rampart_decode::secrets::SecretsConfig {
        let headers: Vec<String> = api_key_headers
            .iter()
            .chain(&self.secret_headers)
            .cloned()
            .collect();
        rampart_decode::secrets::SecretsConfig::new(
            &headers,
            &self.secret_query_keys,
            &self.secret_body_fields,
        )
    }
}

/// `[detect] sigma`: rule directories, or the Sigma detector's section.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SigmaKey {
    /// `sigma = ["/etc/rampart/sigma"]`.
    Dirs(Vec<PathBuf>),
    /// `[detect.sigma]`: `dirs` and the detector's settings (`cooldown_secs`, `min_level`, ...).
    Section(toml::Table),
}

impl Default for SigmaKey {
    fn default() -> Self {
        SigmaKey::Dirs(Vec::new())
    }
}

impl SigmaKey {
    /// The rule directories.
    pub fn dirs(&self) -> Result<Vec<PathBuf>, String> {
        match self {
            SigmaKey::Dirs(d) => Ok(d.clone()),
            SigmaKey::Section(t) => match t.get("dirs") {
                None => Ok(Vec::new()),
                Some(v) => v
                    .clone()
                    .try_into()
                    .map_err(|e| format!("[detect.sigma] dirs must be a list of paths: {e}")),
            },
        }
    }
    /// The detector's settings (the section without `dirs`), when given as a section.
    pub fn settings(&self) -> Option<toml::Table> {
        match self {
            SigmaKey::Dirs(_) => None,
            SigmaKey::Section(t) => {
                let mut t = t.clone();
                t.remove("dirs");
                Some(t)
            }
        }
    }
}

/// `[detect]`: engine settings, and one `[detect.<id>]` table per detector to tune (any key
/// here that is not an engine setting is a detector section; an unknown id is an error).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DetectSection {
    /// Directories of Sigma rules to load: all of them, in order, as one rule set (a rule id
    /// already loaded from an earlier file or directory is refused with a warning). Either a
    /// list of directories (`sigma = [...]`) or the Sigma detector's own section
    /// (`[detect.sigma]` with `dirs = [...]` and its settings).
    pub sigma: SigmaKey,
    /// Load the SigmaHQ web rules shipped in the binary (default `true`); `sigma`
    /// directories override them by rule id and extend them.
    pub builtin_sigma: Option<bool>,
    /// Threat-intelligence feeds: plain IP/CIDR lists, CSV, or STIX 2.1 bundles. A feed whose
    /// file name contains `tor` is treated as Tor exit nodes. Reloaded when they change.
    pub threat_intel: Vec<PathBuf>,
    /// OpenAPI specification of the protected API (shadow-API detection).
    pub openapi: Option<PathBuf>,
    /// Detector ids to turn off: they are not built, so they never run (`rampart replay
    /// --list-detectors` lists the ids; `sigma` turns off every Sigma rule). Shorthand for
    /// `[detect.<id>] enabled = false`.
    pub disabled: Vec<String>,
    /// Baseline learning period in days (default 30; learning ends earlier on busy endpoints).
    pub learning_days: Option<i64>,
    /// Traffic no detector looks at: `ips` (IPs/CIDRs), `principals`, `user_agents`
    /// (substrings), `endpoints` (`METHOD /template` or `/template`).
    pub allow: rampart_detect::common::AllowList,
    /// Alerts to drop: each entry matches on every field it sets (`detector`, `ip` network,
    /// `principal`, `endpoint`).
    pub suppress: Vec<rampart_detect::common::Suppression>,
    /// `[detect.<id>]`: a detector's `enabled` and thresholds (`rampart detectors` prints
    /// every detector's defaults).
    #[serde(flatten)]
    pub detectors: std::collections::BTreeMap<String, toml::Value>,
}

/// `[correlate]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorrelateSection {
    /// Correlation window in minutes.
    pub window_minutes: Option<i64>,
}

/// `[ingest]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestSection {
    /// Longest log line accepted by replay and followed files, in bytes (default 1 MiB, see
    /// `rampart_ingest::lines::DEFAULT_MAX_LINE_BYTES`); a longer line is reported as
    /// malformed and skipped without being buffered.
    pub max_line_bytes: Option<usize>,
}

impl IngestSection {
    /// The line limit in effect: `flag`, else the file's, else the default.
    pub fn max_line_bytes(&self, flag: Option<usize>) -> Result<usize> {
        let n = flag
            .or(self.max_line_bytes)
            .unwrap_or(rampart_ingest::lines::DEFAULT_MAX_LINE_BYTES);
        if !(1..=MAX_LINE_LIMIT).contains(&n) {
            anyhow::bail!("max_line_bytes must be between 1 and {MAX_LINE_LIMIT}, not {n}");
        }
        Ok(n)
    }
}

/// Highest line limit that can be configured (1 GiB).
pub const MAX_LINE_LIMIT: usize = 1 << 30;

impl FileConfig {
    /// Load `explicit`, or `<data>/rampart.toml` when it exists, or defaults.
    pub fn load(explicit: Option<&Path>, data: &Path) -> Result<FileConfig> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => {
                let p = data.join("rampart.toml");
                if !p.exists() {
                    return Ok(FileConfig::default());
                }
                p
            }
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading config {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing config {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `[decode] secret_*` extend the default lists (and the API-key headers join them).
    #[test]
    fn decode_secret_lists_extend_the_defaults() {
        let cfg: FileConfig = toml::from_str(
            r#"
            [decode]
            api_key_headers = ["x-my-key"]
            secret_headers = ["X-Session"]
            secret_query_keys = ["otp"]
            secret_body_fields = ["pin"]
            "#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let api = cfg.decode.api_key_headers.clone().unwrap_or_default();
        let s = cfg.decode.secrets(&api);
        for h in ["x-my-key", "x-session", "authorization", "cookie"] {
            assert!(s.headers().iter().any(|x| x == h), "header {h}");
        }
        for f in ["otp", "pin", "password", "access_token"] {
            assert!(s.is_field(f), "field {f}");
        }
        assert!(!s.is_field("page"));
    }

    /// `[retention]`: ages and the events' row cap over the defaults; `forever` keeps every
    /// age; incidents are kept a day at least; a row cap on another table is refused.
    #[test]
    fn retention_section() {
        use std::time::Duration;
        let cfg: FileConfig = toml::from_str(
            r#"
            [retention]
            interval = "5m"
            [retention.events]
            max_age = "7d"
            max_rows = 1000000
            [retention.incidents]
            max_age = "1h"
            [retention.playbook_runs]
            max_age = "forever"
            "#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let r = cfg
            .retention
            .retention_config()
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(r.interval, Duration::from_secs(300));
        assert_eq!(r.events.max_age, Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(r.events.max_rows, Some(1_000_000));
        assert_eq!(r.incidents.max_age, Some(Duration::from_secs(86_400)));
        assert_eq!(r.playbook_runs.max_age, None);
        let d = FileConfig::default()
            .retention
            .retention_config()
            .expect("defaults");
        assert_eq!(d, rampart_server::retention::RetentionConfig::default());
        for bad in [
            "[retention.incidents]\nmax_rows = 5",
            "[retention.events]\nmax_age = \"soon\"",
            "[retention]\ninterval = \"-1s\"",
        ] {
            let cfg: FileConfig = toml::from_str(bad).unwrap_or_else(|e| panic!("{e}"));
            let e = cfg.retention.retention_config().expect_err(bad);
            assert!(format!("{e:#}").contains("[retention"), "{bad}: {e:#}");
        }
    }

    /// `[contain]` sets the rails; trusted proxies and the allow-list join the protected set.
    #[test]
    fn contain_section() {
        let cfg: FileConfig = toml::from_str(
            r#"
            [decode]
            trusted_proxies = ["192.0.2.10/32"]
            [detect.allow]
            ips = ["198.51.100.0/24"]
            principals = ["healthcheck"]
            [contain]
            max_duration = "7d"
            quiet_period = "30m"
            widest_v4 = 20
            approval_kinds = ["isolate_service"]
            [contain.default_duration]
            block_ip = "1h30m"
            [contain.protected]
            ips = ["10.0.0.0/8"]
            services = ["auth"]
            "#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let c = cfg
            .contain
            .contain_config(&cfg.decode.trusted_proxies, &cfg.detect.allow)
            .unwrap_or_else(|e| panic!("{e:#}"));
        let ips: Vec<String> = c.protected.ips.iter().map(ToString::to_string).collect();
        assert_eq!(ips, ["10.0.0.0/8", "192.0.2.10/32", "198.51.100.0/24"]);
        assert_eq!(c.protected.principals, ["healthcheck"]);
        assert_eq!(c.protected.services, ["auth"]);
        assert_eq!(
            (c.max_duration_secs, c.widest_v4, c.widest_v6),
            (7 * 86_400, 20, 48)
        );
        assert_eq!(c.default_duration.block_ip, 5400);
        assert_eq!(c.quiet_period_secs, 1800);
        assert_eq!(c.default_duration.disable_api_key, 86_400);
        assert_eq!(
            c.approval_kinds,
            [rampart_model::ActionKind::IsolateService]
        );

        for (toml_text, want) in [
            ("[contain]\nmax_duration = \"forever\"", "max_duration"),
            ("[contain]\nwidest_v4 = 40", "widest_v4 must be 0..=32"),
            ("[contain]\nquiet_period = \"soon\"", "quiet_period"),
            ("[contain]\napproval_kinds = [\"nuke\"]", "approval_kinds"),
            (
                "[contain.default_duration]\nblock = \"1h\"",
                "default_duration] block",
            ),
            (
                "[contain]\nmax_duration = \"1h\"",
                "longer than max_duration",
            ),
        ] {
            let cfg: FileConfig = toml::from_str(toml_text).unwrap_or_else(|e| panic!("{e}"));
            let e = cfg
                .contain
                .contain_config(&[], &Default::default())
                .expect_err(toml_text);
            assert!(format!("{e:#}").contains(want), "{toml_text}: {e:#}");
        }
    }
}
