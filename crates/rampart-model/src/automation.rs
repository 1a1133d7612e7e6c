//! Stored automation objects: rules today (playbooks and webhooks share the table later), by
//! kind and name. The store keeps each one's document as JSON and knows nothing of its
//! grammar: `rampart-automation` checks a document before it is stored and reads it back.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// Kind of an automation rule object.
pub const AUTOMATION_RULE: &str = "rule";

/// Kind of a playbook object.
pub const AUTOMATION_PLAYBOOK: &str = "playbook";

/// Kind of a webhook subscription object.
pub const AUTOMATION_WEBHOOK: &str = "webhook";

/// One stored automation object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutomationObject {
    /// What it is (`rule`).
    pub kind: String,
    /// Its name, unique per kind.
    pub name: String,
    /// Its document (checked by `rampart-automation` before it is stored).
    pub body: serde_json::Value,
    /// 1 when created, +1 on every change.
    pub version: i64,
    /// When created.
    pub created_at: Timestamp,
    /// When last changed.
    pub updated_at: Timestamp,
    /// Who made the last change (an audit actor).
    pub updated_by: String,
}
