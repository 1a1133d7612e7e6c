//! The built-in behavioural detectors, grouped by what they watch.

pub mod access;
pub mod auth;
pub mod enumeration;
pub mod params;
pub mod volume;

#[cfg(test)]
mod login_attack_tests;
#[cfg(test)]
mod params_tests;
#[cfg(test)]
mod tests;

use crate::registry::Registration;

/// One line per built-in behavioural detector (the pipeline's registry joins these with the
/// content detectors and Sigma).
pub const REGISTRY: &[Registration] = &[
    crate::register!("traffic_spike_endpoint", volume::spike_endpoint),
    crate::register!("traffic_spike_ip", volume::spike_ip),
    crate::register!("large_response", volume::large_response),
    crate::register!("large_request", volume::large_request),
    crate::register!("latency_spike", volume::latency_spike),
    crate::register!("error_burst", volume::error_burst),
    crate::register!("resource_consumption", volume::resource_consumption),
    crate::register!("endpoint_spray", enumeration::endpoint_spray),
    crate::register!("param_enumeration", enumeration::param_enumeration),
    crate::register!(
        "distributed_param_enumeration",
        enumeration::distributed_param_enumeration
    ),
    crate::register!("bola", enumeration::bola),
    crate::register!("credential_stuffing", auth::credential_stuffing),
    crate::register!("password_spray", auth::password_spray),
    crate::register!("brute_force", auth::brute_force),
    crate::register!("login_attack", auth::login_attack),
    crate::register!("leaked_credential", auth::leaked_credential),
    crate::register!("unauth_access", access::unauth_access),
    crate::register!("function_level_authz", access::function_level_authz),
    crate::register!("anomalous_param_type", params::anomalous_param_type),
    crate::register!("anomalous_param_value", params::anomalous_param_value),
    crate::register!("unseen_param", params::unseen_param),
    crate::register!("mass_assignment", params::mass_assignment),
];
