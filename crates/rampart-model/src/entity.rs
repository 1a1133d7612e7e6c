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
