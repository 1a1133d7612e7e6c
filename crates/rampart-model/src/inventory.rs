//! The learned API inventory: endpoints, their auth, parameters and sensitive data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Days without calls after which an endpoint counts as inactive.
pub const INACTIVE_AFTER_DAYS: i64 = 30;

/// Whether calls to an endpoint carry credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AuthMix {
    /// Every call carried credentials.
    Authenticated,
    /// No call carried credentials.
    #[default]
    Unauthenticated,
    /// Some did, some did not.
    Mixed,
}

/// The value type of a parameter, as seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    /// Integer.
    Integer,
    /// Decimal number.
    Number,
    /// true/false.
    Boolean,
    /// UUID.
    Uuid,
    /// E-mail address.
    Email,
    /// Date or date-time.
    Date,
    /// Hex or base64 token-like string.
    Token,
    /// URL.
    Url,
    /// Anything else.
    String,
}

/// What the inventory knows of one parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ParamInfo {
    /// Count of calls per value type seen.
    pub types: BTreeMap<ValueType, u64>,
    /// Where it appears: `query`, `path`, `body`.
    pub location: String,
}

/// One learned endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointInfo {
    /// Host, empty when logs carry none.
    pub host: String,
    /// HTTP method.
    pub method: String,
    /// Path template (`/api/users/{id}`).
    pub path_template: String,
    /// First call (event time).
    pub first_seen: Timestamp,
    /// Last call (event time).
    pub last_seen: Timestamp,
    /// Number of calls.
    pub calls: u64,
    /// Calls per status class: index 0 = no status, 1 = 1xx ... 5 = 5xx.
    pub status_classes: [u64; 6],
    /// Calls that carried credentials.
    pub authenticated_calls: u64,
    /// Parameters by name.
    pub params: BTreeMap<String, ParamInfo>,
    /// Kinds of sensitive data seen in responses (`card_number`, `email`, `jwt`, ...).
    pub sensitive_data: Vec<String>,
}

impl EndpointInfo {
    /// The endpoint key used as an entity value: `METHOD /template`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path_template)
    }
    /// Authenticated, unauthenticated or mixed.
    pub fn auth(&self) -> AuthMix {
        if self.authenticated_calls == 0 {
            AuthMix::Unauthenticated
        } else if self.authenticated_calls == self.calls {
            AuthMix::Authenticated
        } else {
            AuthMix::Mixed
        }
    }
    /// Inactive when no call for [`INACTIVE_AFTER_DAYS`] before `now` (event time).
    pub fn is_inactive(&self, now: Timestamp) -> bool {
        now.millis() - self.last_seen.millis() > INACTIVE_AFTER_DAYS * 86_400_000
    }
}
