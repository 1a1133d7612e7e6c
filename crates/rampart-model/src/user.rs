//! Console users, their sessions and saved queue views.
//!
//! A user signs in to the console with a password (only its argon2id hash is stored) and gets a
//! server-side session: the browser holds a random secret in a cookie, the store holds its
//! SHA-256 ([`Session::id_hash`]) with the user, the CSRF token and the times that expire it.
//! Sessions live in the store so that every node sharing it accepts them.

use serde::{Deserialize, Serialize};

use crate::{Role, Timestamp};

/// A console user (no password hash in it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Store-assigned id.
    pub id: i64,
    /// Unique sign-in name.
    pub name: String,
    /// Role ([`crate::roles::MATRIX`]).
    pub role: Role,
    /// When created.
    pub created_at: Timestamp,
    /// When disabled, if it was (a disabled user cannot sign in and its sessions end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<Timestamp>,
    /// Last successful sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login_at: Option<Timestamp>,
}

/// A server-side console session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// SHA-256 (hex) of the cookie's secret: the secret itself is never stored.
    pub id_hash: String,
    /// The signed-in user.
    pub user_id: i64,
    /// The CSRF token every state-changing console request must carry.
    pub csrf: String,
    /// When it was created (sign-in).
    pub created_at: Timestamp,
    /// Last request seen (written at most once a minute): the idle timeout counts from it.
    pub last_seen: Timestamp,
    /// Absolute end, whatever the activity.
    pub expires_at: Timestamp,
}

/// A saved set of queue filters (the query string of `/incidents`), per user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedView {
    /// Store-assigned id.
    pub id: i64,
    /// Whose it is.
    pub user_name: String,
    /// Its name, unique per user.
    pub name: String,
    /// The queue's query string (`status=New&sort=priority`).
    pub query: String,
    /// When saved.
    pub created_at: Timestamp,
}

/// A user name the CLI and the console refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("user name must be 1-64 of [A-Za-z0-9._@-]")]
pub struct InvalidUserName;

/// Check a user name: 1-64 of `[A-Za-z0-9._@-]` (it appears in audit actors and URLs).
pub fn validate_user_name(name: &str) -> Result<(), InvalidUserName> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
    ok.then_some(()).ok_or(InvalidUserName)
}

/// A password the CLI and the console refuse for a new user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPassword {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    /// More than [`MAX_PASSWORD_BYTES`] bytes.
    #[error("the password must have at most {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
}

/// Fewest characters of a new user's password.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Most bytes of a password (argon2 hashes any length; this bounds the work).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Check a new user's password: at least [`MIN_PASSWORD_CHARS`] characters, at most
/// [`MAX_PASSWORD_BYTES`] bytes. The one check used by `rampart user create` and the console.
pub fn validate_password(password: &str) -> Result<(), InvalidPassword> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        Err(InvalidPassword::TooShort)
    } else if password.len() > MAX_PASSWORD_BYTES {
        Err(InvalidPassword::TooLong)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        for ok in ["alice", "a.b-c_d", "bob@example.com", &"x".repeat(64)] {
            assert!(validate_user_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "<script>", "é", &"x".repeat(65), "a/b"] {
            assert!(validate_user_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        assert_eq!(validate_password("1234567"), Err(InvalidPassword::TooShort));
        assert_eq!(
            validate_password("éééééééé"),
            Ok(()),
            "characters, not bytes"
        );
        assert_eq!(validate_password(&"x".repeat(1024)), Ok(()));
        assert_eq!(
            validate_password(&"x".repeat(1025)),
            Err(InvalidPassword::TooLong)
        );
        assert_eq!(
            InvalidPassword::TooShort.to_string(),
            "the password must have at least 8 characters"
        );
    }
}
