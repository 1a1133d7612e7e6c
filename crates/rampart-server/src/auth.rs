//! Bearer-token authentication and role checks.
//!
//! Tokens are checked against the in-memory [`TokenCache`](crate::tokens::TokenCache): no
//! store access per request. A failed check counts against its source in the
//! [`FailureLimiter`](crate::tokens::FailureLimiter): over the limit it is answered 429.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use rampart_model::{ApiToken, Role};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::metrics::Counter;
use crate::tokens::SourceKey;
use crate::AppState;

/// SHA-256 of a token, lower-case hex: what the store keeps instead of the secret.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random token: `rmp_` followed by 32 random bytes in hex.
pub fn generate_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("rmp_{}", hex::encode(bytes))
}

/// A right a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    /// Read incidents, alerts, inventory, audit, metrics.
    Read,
    /// Change incidents.
    Write,
    /// Push events and alerts.
    Ingest,
    /// Manage tokens.
    Admin,
}

impl Right {
    /// Whether a role holds this right.
    pub const fn granted_to(self, role: Role) -> bool {
        match self {
            Right::Read => role.can_read(),
            Right::Write => role.can_write(),
            Right::Ingest => role.can_ingest(),
            Right::Admin => role.can_admin(),
        }
    }
    const fn verb(self) -> &'static str {
        match self {
            Right::Read => "read",
            Right::Write => "change incidents or alerts",
            Right::Ingest => "push events or alerts",
            Right::Admin => "manage tokens",
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token used.
    pub token: ApiToken,
}

impl Caller {
    /// The actor name written to audit entries: `token:<name>`.
    pub fn actor(&self) -> String {
        format!("token:{}", self.token.name)
    }
    /// Refuse with 403 unless the caller's role holds `right`.
    pub fn require(&self, right: Right) -> Result<(), ApiError> {
        if right.granted_to(self.token.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(right.verb()))
        }
    }
}

/// The secret of an `Authorization: Bearer <token>` header value.
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let t = rest.trim();
    (!t.is_empty()).then_some(t)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match check(parts, state) {
            Ok(token) => Ok(Caller { token }),
            Err(e) => {
                let peer = parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
                let now = std::time::Instant::now();
                match state.auth_failures.fail(SourceKey::of(peer), now) {
                    None => Err(e),
                    Some(wait) => {
                        state.metrics.add(Counter::AuthRateLimited, 1);
                        Err(ApiError::too_many_requests(
                            "too many failed authentications from this address",
                            wait.as_secs_f64().ceil() as u64,
                        ))
                    }
                }
            }
        }
    }
}

/// The active token a request's `Authorization` header names, from the cache; its use is
/// noted for the next batch written to the store.
fn check(parts: &Parts, state: &AppState) -> Result<ApiToken, ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
    let secret = header
        .to_str()
        .ok()
        .and_then(bearer)
        .ok_or_else(|| ApiError::unauthorized("malformed authorization header"))?;
    let cached = state
        .tokens
        .lookup(&hash_token(secret))
        .ok_or_else(|| ApiError::unauthorized("unknown or revoked token"))?;
    cached.touch(rampart_model::Timestamp::now());
    Ok(cached.token.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(header: &str, expected: Option<&str>) {
        assert_eq!(bearer(header), expected, "{header:?}");
    }

    #[test]
    fn bearer_parsing() {
        check("Bearer abc", Some("abc"));
        check("bearer  abc ", Some("abc"));
        check("Basic abc", None);
        check("Bearer ", None);
        check("Bearer", None);
    }

    #[test]
    fn tokens_hash_and_differ() {
        let a = generate_token();
        let b = generate_token();
        assert!(a.starts_with("rmp_") && a.len() == 4 + 64, "{a}");
        assert_ne!(a, b);
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn rights_by_role() {
        let table = [
            (Role::Admin, [true, true, true, true]),
            (Role::Analyst, [true, true, false, false]),
            (Role::Ingest, [false, false, true, false]),
            (Role::Viewer, [true, false, false, false]),
        ];
        for (role, rights) in table {
            let got = [Right::Read, Right::Write, Right::Ingest, Right::Admin]
                .map(|r| r.granted_to(role));
            assert_eq!(got, rights, "{role}");
        }
    }
}
