//! Change sets: what the pure correlator decides, for a store to apply in one transaction.

use serde::{Deserialize, Serialize};

use rampart_model::{
    AlertDraft, Classification, Determination, Entity, IncidentStatus, NewAudit, PriorityReason,
    Severity, Timestamp,
};

/// An incident named in a change set: one that exists, or one the same set creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IncidentRef {
    /// A stored incident.
    Existing(i64),
    /// The n-th incident created by this change set (`Change::CreateIncident` with `temp`).
    New(u32),
}

/// The correlation-owned fields of an incident, recomputed by the correlator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentState {
    /// Title.
    pub title: String,
    /// Severity (highest alert, unless an analyst set it: the correlator keeps theirs).
    pub severity: Severity,
    /// Entities of all alerts, deduplicated.
    pub entities: Vec<Entity>,
    /// First activity (event time).
    pub first_activity: Timestamp,
    /// Last activity (event time).
    pub last_activity: Timestamp,
    /// Number of alerts.
    pub alert_count: u32,
    /// Priority 0-100.
    pub priority: u32,
    /// Why that priority.
    pub priority_reasons: Vec<PriorityReason>,
}

/// One change.
// `AlertDraft` makes `InsertAlert` large; change sets are short-lived, so no boxing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Change {
    /// Create an incident (status Active, unassigned, classification Unknown).
    CreateIncident {
        /// Its number within this change set.
        temp: u32,
        /// Its state.
        state: IncidentState,
    },
    /// Store an alert and attach it to an incident.
    InsertAlert {
        /// The alert.
        alert: AlertDraft,
        /// Its incident.
        incident: IncidentRef,
    },
    /// Replace the correlation-owned fields of an incident.
    UpdateIncident {
        /// Which.
        incident: IncidentRef,
        /// New state.
        state: IncidentState,
    },
    /// Merge one incident into another (see `Store::merge_incidents`), with the target's new
    /// state.
    Merge {
        /// The incident that goes away (becomes `Redirected`).
        from: i64,
        /// The target.
        into: IncidentRef,
        /// The target's state after the merge.
        state: IncidentState,
    },
    /// An audit entry.
    Audit(NewAudit),
}

/// A batch of changes, applied all or nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ChangeSet {
    /// The changes, in order.
    pub changes: Vec<Change>,
}

/// What `apply` created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AppliedChanges {
    /// Ids of created incidents, indexed by their `temp` number.
    pub incident_ids: Vec<i64>,
    /// Ids of inserted alerts, in the order of their `InsertAlert` changes.
    pub alert_ids: Vec<i64>,
}

/// Human-owned fields the correlator must respect (merge rules, status).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HumanFields {
    /// Status.
    pub status: IncidentStatus,
    /// Owner.
    pub assigned_to: Option<String>,
    /// Classification.
    pub classification: Classification,
    /// Determination.
    pub determination: Determination,
}
