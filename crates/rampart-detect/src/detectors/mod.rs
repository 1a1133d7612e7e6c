//! The built-in behavioural detectors, grouped by what they watch.

pub mod volume;


use crate::config::DetectConfig;
use crate::Detector;

/// One constructor per built-in detector.
pub const REGISTRY: &[fn(&DetectConfig) -> Box<dyn Detector>] = &[
    volume::spike_endpoint,
    volume::spike_ip,
    volume::large_response,
    volume::large_request,
    volume::latency_spike,
    volume::error_burst,
    volume::resource_consumption,
];
