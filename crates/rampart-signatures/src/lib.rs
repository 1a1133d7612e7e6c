//! Rampart's content detectors: signatures over what a request and its answer carry.
//!
//! **Pure: no I/O, and never the wall clock.** Feeds and specs are parsed from text the
//! caller read ([`intel::ThreatIntel::parse`], [`inventory::OpenApiSpec::parse`]); windows
//! and cooldowns run in event time. State is bounded whatever the traffic.
//!
//! Every detector is a config struct (in [`SignatureConfig`]), a
//! [`rampart_detect::Detector`] impl, one line in [`DETECTORS`] and a table of test cases.
//!
//! Path, user-agent and CVE tables are modelled on the CrowdSec Hub scenarios
//! (<https://github.com/crowdsecurity/hub>, MIT licence).

pub mod auth;
mod common;
pub mod exposure;
pub mod injection;
pub mod intel;
pub mod inventory;
pub mod probes;
pub mod protocol;
pub mod scanner;
pub mod ssrf;
pub mod user_agent;

use rampart_detect::Detector;

/// Errors from parsing feeds and specs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A threat-intelligence feed could not be read.
    #[error("invalid {format} feed {feed:?}: {reason}")]
    Feed {
        /// The feed name.
        feed: String,
        /// Its format.
        format: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// An OpenAPI document could not be read.
    #[error("invalid openapi spec: {0}")]
    Spec(String),
}

/// Configuration of every content detector.
#[derive(Debug, Clone, Default)]
pub struct SignatureConfig {
    /// `injection`.
    pub injection: injection::InjectionConfig,
    /// `ssrf`.
    pub ssrf: ssrf::SsrfConfig,
    /// `scanner`.
    pub scanner: scanner::ScannerConfig,
    /// `sensitive_file_probe`.
    pub sensitive_file: probes::SensitiveFileConfig,
    /// `admin_probe`.
    pub admin_probe: probes::AdminProbeConfig,
    /// `suspicious_user_agent`.
    pub user_agent: user_agent::UserAgentConfig,
    /// `protocol_abuse`.
    pub protocol: protocol::ProtocolConfig,
    /// `tor_exit` and `threat_intel_ip` (they share the swappable feed set).
    pub intel: intel::IntelConfig,
    /// `sensitive_data_exposure`.
    pub exposure: exposure::ExposureConfig,
    /// `security_misconfig`.
    pub misconfig: exposure::MisconfigConfig,
    /// `improper_inventory`.
    pub inventory: inventory::InventoryConfig,
    /// `auth_failures`.
    pub auth: auth::AuthFailuresConfig,
}

/// A registry entry: builds one detector from the configuration.
pub type BuildFn = fn(&SignatureConfig) -> Box<dyn Detector>;

/// The built-in content detectors, in a fixed order.
pub const DETECTORS: &[BuildFn] = &[
    injection::build,
    ssrf::build,
    scanner::build,
    probes::build_sensitive_file,
    probes::build_admin_probe,
    user_agent::build,
    protocol::build,
    intel::build_tor_exit,
    intel::build_threat_intel,
    exposure::build_exposure,
    exposure::build_misconfig,
    inventory::build,
    auth::build,
];

/// Instantiate every built-in content detector.
pub fn builtin(cfg: &SignatureConfig) -> Vec<Box<dyn Detector>> {
    DETECTORS.iter().map(|f| f(cfg)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_ids_are_unique_and_known() {
        let ids: Vec<_> = builtin(&SignatureConfig::default())
            .iter()
            .map(|d| d.id())
            .collect();
        assert_eq!(
            ids,
            [
                "injection",
                "ssrf",
                "scanner",
                "sensitive_file_probe",
                "admin_probe",
                "suspicious_user_agent",
                "protocol_abuse",
                "tor_exit",
                "threat_intel_ip",
                "sensitive_data_exposure",
                "security_misconfig",
                "improper_inventory",
                "auth_failures",
            ]
        );
    }
}
