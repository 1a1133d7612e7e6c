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

/// Prepare a change set's audit entry for storage: the id of an incident the set created
/// replaces its `new:<temp>` placeholder, and the commit's wall-clock time becomes the entry's
/// time (the event time the correlator stamped stays in `details.event_time`).
pub fn finalize_audit(
    a: &rampart_model::NewAudit,
    created: &[Option<i64>],
    now: Timestamp,
) -> rampart_model::NewAudit {
    let mut out = a.clone();
    if let Some(temp) = a.object_id.strip_prefix("new:") {
        if let Some(Some(id)) = temp.parse::<usize>().ok().and_then(|t| created.get(t)) {
            out.object_id = id.to_string();
        }
    }
    if a.at != now {
        if let Some(obj) = out.details.as_object_mut() {
            obj.insert("event_time".into(), serde_json::json!(a.at));
        }
        out.at = now;
    }
    out
}

/// Whether a change set carries its own audit entry for merging incident `from`, so the store
/// does not write a second one for the same merge.
pub fn carries_merge_audit(cs: &ChangeSet, from: i64) -> bool {
    let id = from.to_string();
    cs.changes
        .iter()
        .any(|c| matches!(c, Change::Audit(a) if a.action == "incident.merge" && a.object_id == id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::NewAudit;

    fn entry(object_id: &str, at: i64) -> NewAudit {
        NewAudit {
            at: Timestamp::from_millis(at),
            actor: "system:correlation".into(),
            action: "incident.create".into(),
            object_type: "incident".into(),
            object_id: object_id.into(),
            details: serde_json::json!({"title": "x"}),
        }
    }

    #[test]
    fn finalize_resolves_placeholders_and_restamps() {
        let now = Timestamp::from_millis(5_000);
        let a = finalize_audit(&entry("new:1", 1_000), &[Some(10), Some(11)], now);
        assert_eq!(a.object_id, "11");
        assert_eq!(a.at, now);
        assert_eq!(
            a.details["event_time"],
            serde_json::json!(Timestamp::from_millis(1_000))
        );
        let b = finalize_audit(&entry("7", 5_000), &[], now);
        assert_eq!(b.object_id, "7");
        assert!(b.details.get("event_time").is_none());
        let c = finalize_audit(&entry("new:9", 1_000), &[Some(1)], now);
        assert_eq!(c.object_id, "new:9", "an unknown placeholder stays visible");
    }

    #[test]
    fn merge_audit_is_recognised() {
        let mut m = entry("4", 0);
        m.action = "incident.merge".into();
        let cs = ChangeSet {
            changes: vec![Change::Audit(m)],
        };
        assert!(carries_merge_audit(&cs, 4));
        assert!(!carries_merge_audit(&cs, 5));
    }
}
