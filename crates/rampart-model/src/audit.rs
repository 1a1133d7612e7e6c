//! The append-only audit log: every state change, who made it and when.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Store-assigned id (monotonic).
    pub id: i64,
    /// When (wall clock).
    pub at: Timestamp,
    /// Who: `token:<name>`, `system:correlation`, `cli:<user>`.
    pub actor: String,
    /// What: `incident.update`, `incident.merge`, `token.create`, ...
    pub action: String,
    /// The kind of object changed (`incident`, `alert`, `token`, ...).
    pub object_type: String,
    /// Its id.
    pub object_id: String,
    /// Details: before/after values.
    pub details: serde_json::Value,
}

/// An audit entry to append (the store assigns id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAudit {
    /// When.
    pub at: Timestamp,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// Object kind.
    pub object_type: String,
    /// Object id.
    pub object_id: String,
    /// Details.
    pub details: serde_json::Value,
}

impl NewAudit {
    /// A new entry stamped now.
    pub fn now(
        actor: impl Into<String>,
        action: impl Into<String>,
        object_type: impl Into<String>,
        object_id: impl ToString,
        details: serde_json::Value,
    ) -> Self {
        NewAudit {
            at: Timestamp::now(),
            actor: actor.into(),
            action: action.into(),
            object_type: object_type.into(),
            object_id: object_id.to_string(),
            details,
        }
    }
}
