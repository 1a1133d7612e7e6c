//! Entities: the things alerts and incidents are about, and what correlation joins on.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Kind of an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A client IP address.
    Ip,
    /// An authenticated principal (user name, JWT subject).
    User,
    /// An API key or token, by its keyed hash.
    ApiKey,
    /// An API endpoint: `METHOD /path/{template}` (optionally prefixed with the host).
    Endpoint,
    /// A backend service.
    Service,
    /// A user agent string.
    UserAgent,
}

impl EntityKind {
    /// All kinds, in display order.
    pub const ALL: [EntityKind; 6] = [
        EntityKind::Ip,
        EntityKind::User,
        EntityKind::ApiKey,
        EntityKind::Endpoint,
        EntityKind::Service,
        EntityKind::UserAgent,
    ];
    /// The wire name (`ip`, `user`, `api_key`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            EntityKind::Ip => "ip",
            EntityKind::User => "user",
            EntityKind::ApiKey => "api_key",
            EntityKind::Endpoint => "endpoint",
            EntityKind::Service => "service",
            EntityKind::UserAgent => "user_agent",
        }
    }
    /// Whether this kind identifies an actor (who did it) rather than a target.
    pub const fn is_actor(self) -> bool {
        matches!(self, EntityKind::Ip | EntityKind::User | EntityKind::ApiKey)
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntityKind {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EntityKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| ModelError::InvalidValue {
                field: "entity kind",
                value: s.to_string(),
            })
    }
}

/// The parts of an endpoint entity's value, `METHOD /template` or `host METHOD /template`:
/// `(host, method, template)`; `None` when it is neither. The template is everything after
/// the method, spaces included.
pub fn endpoint_parts(value: &str) -> Option<(Option<&str>, &str, &str)> {
    let is_method =
        |m: &str| m == "*" || (!m.is_empty() && m.bytes().all(|b| b.is_ascii_alphabetic()));
    let (first, rest) = value.split_once(' ')?;
    if is_method(first) && rest.starts_with('/') {
        return Some((None, first, rest));
    }
    let (method, path) = rest.split_once(' ')?;
    (is_method(method) && path.starts_with('/')).then_some((Some(first), method, path))
}

/// The role an entity plays in an alert.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum EntityRole {
    /// The actor behind the activity (attacker IP, abused principal or key).
    Attacker,
    /// What was targeted (endpoint, service).
    Target,
    /// Related but neither.
    #[default]
    Related,
}

/// One entity: a kind and a canonical value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Entity {
    /// What kind of thing it is.
    pub kind: EntityKind,
    /// Canonical value (IP text, user name, key hash, `GET /api/users/{id}`, ...).
    pub value: String,
    /// Its role in the alert.
    #[serde(default)]
    pub role: EntityRole,
}

impl Entity {
    /// A new entity.
    pub fn new(kind: EntityKind, value: impl Into<String>, role: EntityRole) -> Self {
        Entity {
            kind,
            value: value.into(),
            role,
        }
    }
    /// An attacker IP.
    pub fn attacker_ip(ip: impl fmt::Display) -> Self {
        Entity::new(EntityKind::Ip, ip.to_string(), EntityRole::Attacker)
    }
    /// A targeted endpoint.
    pub fn target_endpoint(endpoint: impl Into<String>) -> Self {
        Entity::new(EntityKind::Endpoint, endpoint, EntityRole::Target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_values_split_into_host_method_and_template() {
        let cases = [
            ("GET /users/{id}", Some((None, "GET", "/users/{id}"))),
            ("* /admin", Some((None, "*", "/admin"))),
            ("GET /files/a%2Fb c", Some((None, "GET", "/files/a%2Fb c"))),
            (
                "api.example.com POST /orders",
                Some((Some("api.example.com"), "POST", "/orders")),
            ),
            ("localhost GET /x", Some((Some("localhost"), "GET", "/x"))),
            ("GET", None),
            ("GET users", None),
            ("", None),
            ("host GET nope", None),
        ];
        for (value, want) in cases {
            assert_eq!(endpoint_parts(value), want, "{value:?}");
        }
    }
}
