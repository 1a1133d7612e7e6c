//! Incidents: correlated alerts, worked by people.

use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::entity::Entity;
use crate::enums::{Classification, Determination, IncidentStatus, Severity};
use crate::time::Timestamp;

/// One contribution to an incident's priority score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriorityReason {
    /// Points added (0-100 in total, capped).
    pub points: u32,
    /// Why, in words.
    pub reason: String,
}

/// A stored incident (without its alerts and comments; see [`IncidentDetail`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Store-assigned id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Severity: follows the highest alert unless set by hand.
    pub severity: Severity,
    /// Status.
    pub status: IncidentStatus,
    /// Who works it (free text: e-mail or user name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
    /// Classification.
    pub classification: Classification,
    /// Determination.
    pub determination: Determination,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// When it was created (wall clock).
    pub created_at: Timestamp,
    /// When it last changed (wall clock).
    pub updated_at: Timestamp,
    /// First activity of any alert (event time).
    pub first_activity: Timestamp,
    /// Last activity of any alert (event time).
    pub last_activity: Timestamp,
    /// Priority score 0-100.
    pub priority: u32,
    /// What made up the priority score.
    #[serde(default)]
    pub priority_reasons: Vec<PriorityReason>,
    /// Entities from all its alerts (deduplicated).
    #[serde(default)]
    pub entities: Vec<Entity>,
    /// Number of alerts.
    pub alert_count: u32,
    /// When status is `Redirected`: the incident it was merged into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_to: Option<i64>,
}

/// A comment on an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    /// Store-assigned id.
    pub id: i64,
    /// The incident.
    pub incident_id: i64,
    /// Who wrote it.
    pub author: String,
    /// Text.
    pub text: String,
    /// When (wall clock).
    pub created_at: Timestamp,
}

/// An incident with everything needed to show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentDetail {
    /// The incident.
    #[serde(flatten)]
    pub incident: Incident,
    /// Its alerts.
    pub alerts: Vec<Alert>,
    /// Its comments, oldest first.
    pub comments: Vec<Comment>,
}

/// A change to an incident. `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct IncidentPatch {
    /// New title.
    #[serde(default)]
    pub title: Option<String>,
    /// New status (`Redirected` is set only by merging).
    #[serde(default)]
    pub status: Option<IncidentStatus>,
    /// New severity.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// New owner; `Some(None)` unassigns.
    #[serde(default, with = "double_option")]
    pub assigned_to: Option<Option<String>>,
    /// New classification.
    #[serde(default)]
    pub classification: Option<Classification>,
    /// New determination.
    #[serde(default)]
    pub determination: Option<Determination>,
    /// Replace the tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

impl IncidentPatch {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self == &IncidentPatch::default()
    }
}

/// Distinguish "absent" from "null" for optional fields in a patch.
pub mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Serialize: absent stays absent (skip), null is null.
    pub fn serialize<S: Serializer, T: Serialize>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            None | Some(None) => s.serialize_none(),
            Some(Some(t)) => t.serialize(s),
        }
    }
    /// Deserialize: a present field (even null) becomes `Some`.
    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// Sort order of an incident listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IncidentSort {
    /// Highest priority first.
    #[default]
    Priority,
    /// Highest severity first.
    Severity,
    /// Newest first.
    Created,
    /// Most recently updated first.
    Updated,
}

/// Filters for listing incidents. Every set field must match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct IncidentFilter {
    /// Any of these statuses.
    #[serde(default)]
    pub status: Vec<IncidentStatus>,
    /// Any of these severities.
    #[serde(default)]
    pub severity: Vec<Severity>,
    /// Assigned to exactly this.
    #[serde(default)]
    pub assigned_to: Option<String>,
    /// Carries this tag.
    #[serde(default)]
    pub tag: Option<String>,
    /// Any of these classifications.
    #[serde(default)]
    pub classification: Vec<Classification>,
    /// Created at or after.
    #[serde(default)]
    pub created_after: Option<Timestamp>,
    /// Created strictly before.
    #[serde(default)]
    pub created_before: Option<Timestamp>,
    /// Updated at or after.
    #[serde(default)]
    pub updated_after: Option<Timestamp>,
    /// Updated strictly before.
    #[serde(default)]
    pub updated_before: Option<Timestamp>,
    /// Has an entity with exactly this value.
    #[serde(default)]
    pub entity: Option<String>,
    /// Free text over title, tags and entity values (case-insensitive substring).
    #[serde(default)]
    pub text: Option<String>,
    /// Has an alert from this detector (`API_BOLA`, `sigma`, ...).
    #[serde(default)]
    pub detector: Option<String>,
    /// Has an alert mapped to any of these MITRE ATT&CK techniques (a technique matches its
    /// sub-techniques too: `T1190` matches `T1190.001`).
    #[serde(default)]
    pub techniques: Vec<String>,
    /// Sort order.
    #[serde(default)]
    pub sort: IncidentSort,
    /// Reverse the sort order.
    #[serde(default)]
    pub ascending: bool,
    /// Page size (default 50, at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Rows to skip.
    #[serde(default)]
    pub offset: Option<u32>,
    /// Keyset pagination: only incidents after this one in the sort order, as
    /// `<sort value>.<id>` ([`Incident::cursor`] of the last one of the previous page). The
    /// total still counts every match.
    #[serde(default)]
    pub after: Option<String>,
}

impl Incident {
    /// The keyset cursor of this incident in `sort` order (see [`IncidentFilter::after`]).
    pub fn cursor(&self, sort: IncidentSort) -> String {
        let v = match sort {
            IncidentSort::Priority => i64::from(self.priority),
            IncidentSort::Severity => crate::Severity::ALL
                .iter()
                .position(|x| *x == self.severity)
                .unwrap_or(0) as i64,
            IncidentSort::Created => self.created_at.millis(),
            IncidentSort::Updated => self.updated_at.millis(),
        };
        format!("{v}.{}", self.id)
    }
}

/// A page of results with the total count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// How many match in all.
    pub total: u64,
}
