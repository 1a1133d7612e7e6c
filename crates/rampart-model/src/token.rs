//! API tokens. Only a hash is ever stored; the token itself is shown once.

use serde::{Deserialize, Serialize};

use crate::enums::Role;
use crate::time::Timestamp;

/// A stored API token (no secret in it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Store-assigned id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// When created.
    pub created_at: Timestamp,
    /// When revoked, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
    /// When last used, if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<Timestamp>,
}
