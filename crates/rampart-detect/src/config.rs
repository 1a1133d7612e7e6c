//! Configuration of every built-in detector, allow-lists and suppressions.

use serde::{Deserialize, Serialize};

use crate::baseline::BaselineConfig;
use crate::common::{AllowList, Suppression};
use crate::detectors::{access, auth, enumeration, params, volume};

macro_rules! detect_config {
    ($( $field:ident : $ty:ty = $id:literal ),* $(,)?) => {
        /// Configuration of the detection engine: allow-lists, suppressions, baselines and one
        /// section per built-in detector (each with `enabled` and `cooldown_ms`).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
        #[serde(default)]
        pub struct DetectConfig {
            /// Traffic no detector looks at.
            pub allow: AllowList,
            /// Alerts to drop.
            pub suppress: Vec<Suppression>,
            /// How endpoints learn their baselines.
            pub baseline: BaselineConfig,
            $( #[doc = concat!("The `", $id, "` detector.")] pub $field: $ty, )*
        }

        impl DetectConfig {
            /// Whether the detector with this id is enabled (unknown ids are).
            pub fn enabled(&self, id: &str) -> bool {
                match id { $( $id => self.$field.enabled, )* _ => true }
            }
        }

        /// Ids of the built-in behavioural detectors.
        pub const IDS: &[&str] = &[$($id),*];
    };
}

detect_config! {
    traffic_spike_endpoint: volume::SpikeEndpointConfig = "traffic_spike_endpoint",
    traffic_spike_ip: volume::SpikeIpConfig = "traffic_spike_ip",
    large_response: volume::LargeSizeConfig = "large_response",
    large_request: volume::LargeSizeConfig = "large_request",
    latency_spike: volume::LatencyConfig = "latency_spike",
    error_burst: volume::ErrorBurstConfig = "error_burst",
    resource_consumption: volume::ResourceConfig = "resource_consumption",
    endpoint_spray: enumeration::SprayConfig = "endpoint_spray",
    param_enumeration: enumeration::ParamEnumConfig = "param_enumeration",
    distributed_param_enumeration: enumeration::DistributedEnumConfig = "distributed_param_enumeration",
    bola: enumeration::BolaConfig = "bola",
    credential_stuffing: auth::StuffingConfig = "credential_stuffing",
    password_spray: auth::SprayConfig = "password_spray",
    brute_force: auth::BruteForceConfig = "brute_force",
    leaked_credential: auth::LeakedConfig = "leaked_credential",
    unauth_access: access::UnauthConfig = "unauth_access",
    function_level_authz: access::FunctionAuthzConfig = "function_level_authz",
    anomalous_param_type: params::ParamTypeConfig = "anomalous_param_type",
    unseen_param: params::UnseenParamConfig = "unseen_param",
    mass_assignment: params::MassAssignmentConfig = "mass_assignment",
}
