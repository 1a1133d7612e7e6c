//! API tokens. Only a hash is ever stored; the token itself is shown once.

use serde::{Deserialize, Serialize};

use crate::roles::Role;
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

/// A token name the API and the CLI refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token name must be 1-64 of [A-Za-z0-9._-]")]
pub struct InvalidTokenName;

/// Check a token name: 1-64 of `[A-Za-z0-9._-]` (it appears in paths and audit actors). The
/// one check used by `POST /api/v1/tokens` and `rampart token create`.
pub fn validate_token_name(name: &str) -> Result<(), InvalidTokenName> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(InvalidTokenName)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_names() {
        let long = "x".repeat(65);
        let max = "x".repeat(64);
        for (n, ok) in [
            ("ci-bot", true),
            ("a.b_c", true),
            (max.as_str(), true),
            ("", false),
            ("a b", false),
            ("a/b", false),
            ("é", false),
            (long.as_str(), false),
        ] {
            assert_eq!(validate_token_name(n).is_ok(), ok, "{n:?}");
        }
    }
}
