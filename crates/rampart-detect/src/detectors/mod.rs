//! The built-in behavioural detectors, grouped by what they watch.

pub mod access;
pub mod auth;
pub mod enumeration;
pub mod params;
pub mod volume;

#[cfg(test)]
mod tests;

use crate::config::DetectConfig;
use crate::Detector;

/// The constructor of one detector from the configuration.
pub type Build = fn(&DetectConfig) -> Box<dyn Detector>;

/// One constructor per built-in detector.
pub const REGISTRY: &[Build] = &[
    volume::spike_endpoint,
    volume::spike_ip,
    volume::large_response,
    volume::large_request,
    volume::latency_spike,
    volume::error_burst,
    volume::resource_consumption,
    enumeration::endpoint_spray,
    enumeration::param_enumeration,
    enumeration::distributed_param_enumeration,
    enumeration::bola,
    auth::credential_stuffing,
    auth::password_spray,
    auth::brute_force,
    auth::leaked_credential,
    access::unauth_access,
    access::function_level_authz,
    params::anomalous_param_type,
    params::unseen_param,
    params::mass_assignment,
];
