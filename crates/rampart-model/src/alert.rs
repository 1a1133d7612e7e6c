//! Alerts: one detection, from Rampart's detectors or an outside tool.

use serde::{Deserialize, Serialize};

use crate::entity::Entity;
use crate::enums::{AlertStatus, Severity};
use crate::event::ApiEvent;
use crate::time::{TimeRangeError, Timestamp};

/// Largest number of evidence events kept on one alert.
pub const MAX_EVIDENCE: usize = 20;

/// Metadata of the Sigma rule that raised an alert. The rules' licence (DRL 1.1) requires the
/// author to be shown wherever the alert is shown or exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SigmaRuleRef {
    /// Rule title.
    pub title: String,
    /// Rule id (UUID).
    pub id: String,
    /// Rule level (`low`, `medium`, `high`, `critical`, `informational`).
    pub level: String,
    /// Rule author(s), as written in the rule.
    pub author: String,
    /// Rule tags (`attack.t1190`, ...).
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Where an alert came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum AlertSource {
    /// One of Rampart's built-in detectors.
    #[default]
    Rampart,
    /// A Sigma rule.
    Sigma(SigmaRuleRef),
    /// An outside tool (pushed through the API).
    External {
        /// The product or tool name.
        product: String,
    },
}

/// A number that crossed a threshold: why an alert fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// What was measured (`distinct_ids`, `requests_per_min`, ...).
    pub metric: String,
    /// The observed value.
    pub observed: f64,
    /// The threshold or baseline it crossed, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
}

/// An alert as a detector (or an outside tool) produces it, before it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertDraft {
    /// Detector id (`API_ParameterEnumeration`, `sigma`, ...). Bounded set for built-ins.
    pub detector: String,
    /// Short title.
    pub title: String,
    /// What happened and what to do, written for a tier-1 responder.
    pub description: String,
    /// Severity.
    pub severity: Severity,
    /// MITRE ATT&CK technique ids (`T1190`, ...).
    #[serde(default)]
    pub mitre: Vec<String>,
    /// OWASP API Security Top 10 (2023) category (`API1:2023`, ...), when one applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owasp: Option<String>,
    /// Entities involved.
    pub entities: Vec<Entity>,
    /// A bounded set of evidence events (at most [`MAX_EVIDENCE`]).
    #[serde(default)]
    pub evidence: Vec<ApiEvent<'static>>,
    /// First activity covered by the alert (event time).
    pub first_seen: Timestamp,
    /// Last activity covered by the alert (event time).
    pub last_seen: Timestamp,
    /// The numbers that made it fire.
    #[serde(default)]
    pub reasons: Vec<Reason>,
    /// Where it came from.
    #[serde(default)]
    pub source: AlertSource,
    /// Attack stage, for linking recon, exploitation and data access by the same actor.
    #[serde(default)]
    pub stage: AttackStage,
    /// The incident this alert belongs to, when the detector knows it (a contained actor of
    /// that incident reappearing): the correlator attaches it there while the incident is
    /// open, whatever the time window. Only Rampart's own detectors set it; the pipeline
    /// clears it on pushed alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_hint: Option<i64>,
}

impl AlertDraft {
    /// Check every time the alert carries (`first_seen`, `last_seen`, each evidence event's
    /// `ts`) against the accepted range ([`crate::SANE_MIN`]..[`crate::SANE_MAX`]).
    pub fn check_times(&self) -> Result<(), TimeRangeError> {
        self.first_seen.check_sane("first_seen")?;
        self.last_seen.check_sane("last_seen")?;
        for (i, e) in self.evidence.iter().enumerate() {
            if !e.ts.is_sane() {
                e.ts.check_sane(&format!("evidence[{i}].ts"))?;
            }
        }
        Ok(())
    }
}

/// Stage of an attack, in kill-chain order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum AttackStage {
    /// Scanning, probing, enumeration of the API surface.
    Recon,
    /// Credential attacks (stuffing, spray, brute force).
    CredentialAccess,
    /// Exploitation attempts (injection, SSRF, BOLA, broken auth).
    #[default]
    Exploitation,
    /// Reading or pulling data out (large responses, sensitive data, bulk enumeration).
    DataAccess,
    /// Resource abuse (floods, spikes).
    Impact,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Store-assigned id.
    pub id: i64,
    /// The incident it belongs to, once correlated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<i64>,
    /// Alert status.
    pub status: AlertStatus,
    /// When Rampart stored it (wall clock).
    pub created_at: Timestamp,
    /// The detection itself.
    #[serde(flatten)]
    pub draft: AlertDraft,
}
