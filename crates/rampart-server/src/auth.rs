//! Bearer-token authentication and permission checks.
//!
//! Tokens are checked against the in-memory [`TokenCache`](crate::tokens::TokenCache): no
//! store access per request. A failed check counts against its source in the
//! [`FailureLimiter`](crate::tokens::FailureLimiter): over the limit it is answered 429.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use rampart_model::{ApiToken, Permission, Role};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::metrics::Counter;
use crate::tokens::SourceKey;
use crate::{AppState, Credential};

/// SHA-256 of a token, lower-case hex: what the store keeps instead of the secret.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random token: `rmp_` followed by 32 random bytes in hex.
pub fn generate_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("rmp_{}", hex::encode(bytes))
}

/// The authenticated caller of a request, put in the request's extensions by [`authorize`]:
/// an API token, or a console user signed in with a session.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Token or user name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// How it authenticated.
    pub via: Via,
}

/// How a [`Caller`] authenticated.
#[derive(Debug, Clone)]
pub enum Via {
    /// An API token (bearer, enforcer or bouncer key) with this id.
    Token(i64),
    /// A console session.
    Session(crate::console::session::SessionCaller),
}

impl Caller {
    /// The caller of a token.
    pub fn token(token: &ApiToken) -> Caller {
        Caller {
            name: token.name.clone(),
            role: token.role,
            via: Via::Token(token.id),
        }
    }

    /// The actor name written to audit entries: `token:<name>` or `user:<name>`.
    pub fn actor(&self) -> String {
        match self.via {
            Via::Token(_) => format!("token:{}", self.name),
            Via::Session(_) => format!("user:{}", self.name),
        }
    }

    /// The id of the caller's token, when it used one.
    pub fn token_id(&self) -> Option<i64> {
        match self.via {
            Via::Token(id) => Some(id),
            Via::Session(_) => None,
        }
    }
}

/// The caller [`authorize`] let through. A handler of a public route (no permission in
/// [`crate::ROUTES`]) has no caller: asking for one there is a bug, answered 500.
impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::internal("a handler asked for the caller of a public route"))
    }
}

/// The one place where routes are guarded (a `route_layer` on every route of
/// [`crate::ROUTES`] that names a permission): authenticate the bearer token (401, or 429
/// after too many failures from the source), then refuse with 403 unless its role holds
/// `permission`, before the handler reads the body. The caller goes into the request's
/// extensions for the handler.
pub async fn authorize(
    State((state, permission, credential)): State<(AppState, Permission, Credential)>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if credential == Credential::Session {
        return Ok(crate::console::session::authorize(state, permission, request, next).await);
    }
    let (mut parts, body) = request.into_parts();
    let token = authenticate(&parts, &state, credential)?;
    if !token.role.grants(permission) {
        tracing::debug!(token = %token.name, role = %token.role, %permission, "permission refused");
        return Err(ApiError::forbidden(token.role, permission));
    }
    parts.extensions.insert(Caller::token(&token));
    Ok(next.run(Request::from_parts(parts, body)).await)
}

/// The token of a request, or 401 (429 when its source failed too often).
fn authenticate(
    parts: &Parts,
    state: &AppState,
    credential: Credential,
) -> Result<ApiToken, ApiError> {
    check(parts, state, credential).map_err(|e| {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        let now = std::time::Instant::now();
        match state.auth_failures.fail(SourceKey::of(peer), now) {
            None => e,
            Some(wait) => {
                state.metrics.add(Counter::AuthRateLimited, 1);
                ApiError::too_many_requests(
                    "too many failed authentications from this address",
                    wait.as_secs_f64().ceil() as u64,
                )
            }
        }
    })
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

/// The active token a request's credential header names, from the cache; its use is noted
/// for the next batch written to the store.
fn check(parts: &Parts, state: &AppState, credential: Credential) -> Result<ApiToken, ApiError> {
    let secret = match credential {
        Credential::Bearer => {
            let header = parts
                .headers
                .get(AUTHORIZATION)
                .ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
            header
                .to_str()
                .ok()
                .and_then(bearer)
                .ok_or_else(|| ApiError::unauthorized("malformed authorization header"))?
        }
        Credential::Session => {
            return Err(ApiError::internal(
                "a session route reached the token check",
            ))
        }
        Credential::EnforcerKey | Credential::BouncerKey => {
            let name = if credential == Credential::EnforcerKey {
                "x-rampart-enforcer-key"
            } else {
                "x-api-key"
            };
            parts
                .headers
                .get(name)
                .ok_or_else(|| ApiError::unauthorized(format!("missing {name} header")))?
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .ok_or_else(|| ApiError::unauthorized(format!("malformed {name} header")))?
        }
    };
    let cached = recent_hash(secret, |h| state.tokens.lookup(h))
        .ok_or_else(|| ApiError::unauthorized("unknown or revoked token"))?;
    cached.touch(rampart_model::Timestamp::now());
    Ok(cached.token.clone())
}

/// Secrets of recent requests on this thread with their SHA-256, most recent first.
const RECENT: usize = 8;

thread_local! {
    static RECENT_HASHES: std::cell::RefCell<Vec<(Box<str>, Box<str>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// `lookup(hash_token(secret))`, remembering the hashes of the last few secrets that named a
/// token on this thread: a gateway sends the same key with every request, and hashing it was
/// a sixth of the enforcement path. Only the pure secret -> hash mapping is remembered (in
/// memory, never written anywhere); every lookup still goes to the token cache, so a revoked
/// token is refused at once.
fn recent_hash<T>(secret: &str, lookup: impl Fn(&str) -> Option<T>) -> Option<T> {
    let known = RECENT_HASHES.with(|r| {
        let r = r.borrow();
        r.iter()
            .position(|(s, _)| **s == *secret)
            .map(|i| (i, r[i].1.clone()))
    });
    if let Some((i, hash)) = known {
        if i > 0 {
            RECENT_HASHES.with(|r| {
                let mut r = r.borrow_mut();
                let e = r.remove(i);
                r.insert(0, e);
            });
        }
        return lookup(&hash);
    }
    let hash = hash_token(secret);
    let found = lookup(&hash)?;
    RECENT_HASHES.with(|r| {
        let mut r = r.borrow_mut();
        r.truncate(RECENT - 1);
        r.insert(0, (secret.into(), hash.into()));
    });
    Some(found)
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
    fn recent_hashes_are_the_hashes_and_unknown_secrets_are_not_kept() {
        let lookup = |h: &str| (h == hash_token("known")).then(|| h.to_string());
        for _ in 0..3 {
            assert_eq!(recent_hash("known", lookup), Some(hash_token("known")));
        }
        assert_eq!(recent_hash("unknown", lookup), None);
        let kept = RECENT_HASHES.with(|r| {
            r.borrow()
                .iter()
                .map(|(s, _)| s.to_string())
                .collect::<Vec<_>>()
        });
        assert_eq!(kept, ["known"]);
        // a revoked token (the cache no longer has its hash) is refused even when remembered
        assert_eq!(recent_hash("known", |_| None::<String>), None);
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
}
