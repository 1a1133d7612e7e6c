//! Configuration of the detection engine: allow-lists, suppressions, baselines, and the
//! `[detect.<id>]` section of every detector ([`Settings`]).

use serde::{Deserialize, Serialize};

use crate::baseline::BaselineConfig;
use crate::common::{AllowList, Suppression};
use crate::registry::Settings;

/// Configuration of the detection engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct DetectConfig {
    /// Traffic no detector looks at.
    pub allow: AllowList,
    /// Alerts to drop.
    pub suppress: Vec<Suppression>,
    /// How endpoints learn their baselines.
    pub baseline: BaselineConfig,
    /// One section per detector (`enabled` and its thresholds), by id.
    pub detectors: Settings,
}
