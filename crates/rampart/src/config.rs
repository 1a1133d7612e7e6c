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
}

/// `[detect]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectSection {
    /// Directories (or files) of Sigma rules to load.
    pub sigma: Vec<PathBuf>,
    /// Threat-intelligence feeds: plain IP/CIDR lists, CSV, or STIX 2.1 bundles. A feed whose
    /// file name contains `tor` is treated as Tor exit nodes. Reloaded when they change.
    pub threat_intel: Vec<PathBuf>,
    /// OpenAPI specification of the protected API (shadow-API detection).
    pub openapi: Option<PathBuf>,
    /// Detector ids to turn off (`rampart replay --list-detectors` lists them).
    pub disabled: Vec<String>,
    /// Baseline learning period in days (default 30; learning ends earlier on busy endpoints).
    pub learning_days: Option<i64>,
    /// Traffic no detector looks at: `ips` (IPs/CIDRs), `principals`, `user_agents`
    /// (substrings), `endpoints` (`METHOD /template` or `/template`).
    pub allow: rampart_detect::common::AllowList,
    /// Alerts to drop: each entry matches on every field it sets (`detector`, `ip` network,
    /// `principal`, `endpoint`).
    pub suppress: Vec<rampart_detect::common::Suppression>,
}

/// `[correlate]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorrelateSection {
    /// Correlation window in minutes.
    pub window_minutes: Option<i64>,
}

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
