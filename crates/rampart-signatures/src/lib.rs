//! Rampart's content detectors: signatures over what a request and its answer carry.
//!
//! **Pure: no I/O, and never the wall clock.** Feeds and specs are parsed from text the
//! caller read ([`intel::ThreatIntel::parse`], [`inventory::OpenApiSpec::parse`]); windows
//! and cooldowns run in event time. State is bounded whatever the traffic.
//!
//! Every detector is a config struct (its `[detect.<id>]` section), a
//! [`rampart_detect::Detector`] impl, one line in [`DETECTORS`] and a table of test cases.
//!
//! Path, user-agent and CVE tables are modelled on the CrowdSec Hub scenarios
//! (<https://github.com/crowdsecurity/hub>, MIT licence).

pub mod auth;
mod common;
pub mod content;
pub mod exposure;
pub mod injection;
pub mod intel;
pub mod inventory;
pub mod probes;
pub mod protocol;
pub mod protocol_request;
pub mod scanner;
pub mod ssrf;
pub mod user_agent;

use rampart_detect::registry::{Registration, Resources, Settings};
use rampart_detect::{register, Detector};

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

/// One line per built-in content detector (the pipeline's registry joins these with the
/// behavioural detectors and Sigma). Runtime handles come as resources: the threat-intel
/// feed set ([`intel::SharedIntel`]) and the OpenAPI spec ([`inventory::OpenApiSpec`]).
pub const DETECTORS: &[Registration] = &[
    register!("injection", injection::build),
    register!("content_inspection", content::build),
    register!("ssrf", ssrf::build),
    register!("scanner", scanner::build),
    register!("sensitive_file_probe", probes::build_sensitive_file),
    register!("admin_probe", probes::build_admin_probe),
    register!("suspicious_user_agent", user_agent::build),
    register!("protocol_abuse", protocol::build),
    register!("tor_exit", intel::build_tor_exit),
    register!("threat_intel_ip", intel::build_threat_intel),
    register!("sensitive_data_exposure", exposure::build_exposure),
    register!("security_misconfig", exposure::build_misconfig),
    register!("improper_inventory", inventory::build),
    register!("auth_failures", auth::build),
];

/// Every built-in content detector with its default settings and no resources.
pub fn builtin() -> Vec<Box<dyn Detector>> {
    builtin_with(&Settings::default(), &Resources::default())
}

/// Every enabled built-in content detector, configured by `settings`, with `res`.
pub fn builtin_with(settings: &Settings, res: &Resources) -> Vec<Box<dyn Detector>> {
    rampart_detect::registry::build_all(DETECTORS, settings, res).expect("valid settings")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_ids_are_unique_and_known() {
        let ids: Vec<_> = builtin().iter().map(|d| d.id()).collect();
        assert_eq!(
            ids,
            [
                "injection",
                "content_inspection",
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
