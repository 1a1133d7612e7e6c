//! Console sign-in: argon2id passwords, server-side sessions, CSRF and lockout.
//!
//! - The session cookie (`rampart_session`) holds 32 random bytes; the store keeps only their
//!   SHA-256, with the user, the session's CSRF token and its times. It is `HttpOnly`,
//!   `SameSite=Strict`, `Path=/`, and `Secure` when the request came over TLS (a proxy saying
//!   `X-Forwarded-Proto: https`) or `[server] secure_cookies` is set.
//! - Every console route that is not GET or HEAD needs the session's CSRF token, as the form
//!   field `csrf` or the `X-CSRF-Token` header, and a request whose `Origin` is another site is
//!   refused. The sign-in form, before any session, uses a double-submit token (cookie
//!   `rampart_login` and field `csrf`).
//! - A session ends after [`crate::ServerConfig::session_idle_timeout`] without a request,
//!   after [`crate::ServerConfig::session_lifetime`] whatever the activity, and at sign-out.
//! - Failed sign-ins are kept in the store (so every node sees them): over
//!   `login_max_failures` for an account, or `login_max_source_failures` from a source,
//!   within `login_failure_window`, sign-in is refused (429) until the window has passed,
//!   even with the right password.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use argon2::password_hash::{rand_core::OsRng, PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use rampart_model::{Permission, Session, Timestamp};

use super::{html_page, PageError};
use crate::auth::{Caller, Via};
use crate::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "rampart_session";
/// The sign-in form's double-submit cookie.
pub const LOGIN_COOKIE: &str = "rampart_login";
/// Longest form body a console route reads (the CSRF check buffers it).
const MAX_FORM_BYTES: usize = 256 * 1024;
/// A session's `last_seen` is written at most this often.
const TOUCH_EVERY_MS: i64 = 60_000;

/// What a session caller carries besides its name and role.
#[derive(Debug, Clone)]
pub struct SessionCaller {
    /// SHA-256 of the cookie's secret.
    pub id_hash: String,
    /// The session's CSRF token.
    pub csrf: String,
}

/// An argon2id hash (PHC string) of `password`, with a random salt.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Whether `password` matches the PHC `hash` (false for a malformed hash).
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash no password matches, verified for unknown users so that a wrong user name takes as
/// long as a wrong password.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password("rampart-no-such-user").unwrap_or_default())
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether cookies set in answer to this request get `Secure`.
fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let s = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn random_hex() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn source_of(request_peer: Option<&ConnectInfo<SocketAddr>>) -> IpAddr {
    request_peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

/// Whether a request's `Origin` (when it sends one) is this server.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let bare = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    !host.is_empty() && bare == host
}

/// The guard of every console route (`Credential::Session` in [`crate::ROUTES`]): a live
/// session (else to `/login`), the CSRF token on every state change, then the permission.
pub async fn authorize(
    state: AppState,
    permission: Permission,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let now = Timestamp::now();
    let to_login = |parts: &axum::http::request::Parts| {
        let target = parts
            .uri
            .path_and_query()
            .map_or("/incidents", |p| p.as_str());
        let next = if parts.method == Method::GET && target.starts_with('/') {
            target
        } else {
            "/incidents"
        };
        Redirect::to(&format!("/login?next={}", rampart_console::fmt::enc(next))).into_response()
    };
    let Some(secret) = cookie(&parts.headers, SESSION_COOKIE).map(str::to_string) else {
        return to_login(&parts);
    };
    let id_hash = crate::auth::hash_token(&secret);
    let idle = i64::try_from(state.config.session_idle_timeout.as_millis()).unwrap_or(i64::MAX);
    let found = match state
        .store
        .session(&id_hash, now, Timestamp(now.millis().saturating_sub(idle)))
        .await
    {
        Ok(f) => f,
        Err(e) => return PageError::from(crate::error::ApiError::from(e)).into_response(),
    };
    let Some((session, user)) = found else {
        return to_login(&parts);
    };
    let caller = Caller {
        name: user.name.clone(),
        role: user.role,
        via: Via::Session(SessionCaller {
            id_hash: id_hash.clone(),
            csrf: session.csrf.clone(),
        }),
    };
    let viewer = super::viewer(&caller);
    let changes = !matches!(parts.method, Method::GET | Method::HEAD);
    let body = if changes {
        if !same_origin(&parts.headers) {
            return html_page(
                StatusCode::FORBIDDEN,
                rampart_console::error_page(Some(&viewer), 403, "cross-site request refused"),
            );
        }
        let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
            Ok(b) => b,
            Err(_) => {
                return html_page(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    rampart_console::error_page(Some(&viewer), 413, "form too large"),
                )
            }
        };
        let sent = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| super::field(&super::form(&bytes), "csrf").map(str::to_string));
        if !sent.is_some_and(|t| constant_eq(&t, &session.csrf)) {
            tracing::info!(user = %user.name, path = %parts.uri.path(), "console request without a valid csrf token");
            return html_page(
                StatusCode::FORBIDDEN,
                rampart_console::error_page(
                    Some(&viewer),
                    403,
                    "this form expired or did not come from this console (csrf token missing or wrong); reload the page and try again",
                ),
            );
        }
        Body::from(bytes)
    } else {
        body
    };
    if !user.role.grants(permission) {
        tracing::debug!(user = %user.name, role = %user.role, %permission, "console permission refused");
        return html_page(
            StatusCode::FORBIDDEN,
            rampart_console::error_page(
                Some(&viewer),
                403,
                &format!("your role {} lacks the permission {permission}", user.role),
            ),
        );
    }
    if now.millis() - session.last_seen.millis() >= TOUCH_EVERY_MS {
        if let Err(e) = state.store.touch_session(&id_hash, now).await {
            tracing::warn!(error = %e, "noting session use");
        }
    }
    parts.extensions.insert(caller);
    next.run(Request::from_parts(parts, body)).await
}

#[derive(serde::Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default)]
    next: Option<String>,
}

/// Where to go after signing in: a console path of this site, else the queue.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/incidents".into(),
    }
}

/// `GET /login`: the form, with a fresh double-submit token.
pub async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<axum::extract::Query<LoginQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let next = safe_next(q.as_ref().ok().and_then(|q| q.next.as_deref()));
    login_page(&state, &headers, StatusCode::OK, &next, None, "")
}

fn login_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    next: &str,
    error: Option<&str>,
    username: &str,
) -> Response {
    let token = random_hex();
    let mut resp = html_page(
        status,
        rampart_console::login::login(&token, next, error, username),
    );
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, &token, 3600, secure(state, headers)),
    );
    resp
}

/// `POST /login`: check the double-submit token, the lockout, then the password; on success a
/// new session and its cookie, and a redirect to `next`.
pub async fn login(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().cloned();
    let headers = parts.headers;
    let Ok(body) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return html_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            rampart_console::error_page(None, 413, "form too large"),
        );
    };
    let form = super::form(&body);
    let field = |k: &str| super::field(&form, k).unwrap_or_default().to_string();
    let (username, password) = (field("username"), field("password"));
    let next = safe_next(Some(&field("next")));
    let fail = |status: StatusCode, msg: &str| {
        login_page(&state, &headers, status, &next, Some(msg), &username)
    };
    let sent = field("csrf");
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if sent.is_empty() || !constant_eq(&sent, expected) || !same_origin(&headers) {
        return fail(
            StatusCode::FORBIDDEN,
            "the sign-in form expired (csrf token missing or wrong); try again",
        );
    }
    let source = source_of(peer.as_ref()).to_string();
    let cfg = &state.config;
    let now = Timestamp::now();
    let window = i64::try_from(cfg.login_failure_window.as_millis()).unwrap_or(i64::MAX);
    let since = Timestamp(now.millis().saturating_sub(window));
    let account = username.trim().to_ascii_lowercase();
    let locked = |(by_account, by_source): (u64, u64)| {
        by_account >= u64::from(cfg.login_max_failures)
            || by_source >= u64::from(cfg.login_max_source_failures)
    };
    let lockout_msg =
        "too many failed sign-ins for this account or from this address; try again later";
    match state.store.login_failures(&account, &source, since).await {
        Ok(c) if locked(c) => {
            tracing::warn!(account = %account, %source, "sign-in refused: locked out");
            return fail(StatusCode::TOO_MANY_REQUESTS, lockout_msg);
        }
        Ok(_) => {}
        Err(e) => return PageError::from(crate::error::ApiError::from(e)).into_response(),
    }
    let found = match state.store.user_by_name(username.trim()).await {
        Ok(f) => f,
        Err(e) => return PageError::from(crate::error::ApiError::from(e)).into_response(),
    };
    // argon2 is slow on purpose: off the async threads
    let check = {
        let hash = found
            .as_ref()
            .map_or_else(|| dummy_hash().to_string(), |(_, h)| h.clone());
        let password = password.clone();
        tokio::task::spawn_blocking(move || verify_password(&hash, &password))
    };
    let ok = check.await.unwrap_or(false);
    let user = match found {
        Some((u, _)) if ok && u.disabled_at.is_none() => u,
        _ => {
            let counts = state
                .store
                .add_login_failure(&account, &source, now, since)
                .await
                .unwrap_or((0, 0));
            tracing::info!(account = %account, %source, "failed sign-in");
            if locked(counts) {
                let _ = state
                    .store
                    .append_audit(&[rampart_model::NewAudit {
                        at: now,
                        actor: "system:login".into(),
                        action: "user.lockout".into(),
                        object_type: "user".into(),
                        object_id: account.clone(),
                        details: serde_json::json!({ "source": source, "failures": counts.0 }),
                    }])
                    .await;
                return fail(StatusCode::TOO_MANY_REQUESTS, lockout_msg);
            }
            return fail(StatusCode::UNAUTHORIZED, "wrong user name or password");
        }
    };
    let secret = random_hex();
    let lifetime = i64::try_from(cfg.session_lifetime.as_millis()).unwrap_or(i64::MAX);
    let session = Session {
        id_hash: crate::auth::hash_token(&secret),
        user_id: user.id,
        csrf: random_hex(),
        created_at: now,
        last_seen: now,
        expires_at: Timestamp(now.millis().saturating_add(lifetime)),
    };
    if let Err(e) = state.store.create_session(&session, &source).await {
        return PageError::from(crate::error::ApiError::from(e)).into_response();
    }
    let _ = state.store.clear_login_failures(&account).await;
    tracing::info!(user = %user.name, %source, "signed in");
    let secure = secure(&state, &headers);
    let mut resp = Redirect::to(&next).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &secret, lifetime / 1000, secure),
    );
    resp.headers_mut()
        .append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, "", 0, secure));
    resp
}

/// `POST /logout`: end the session, clear the cookie, back to the sign-in form.
pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if let Via::Session(s) = &caller.via {
        state
            .store
            .delete_session(&s.id_hash, &caller.actor())
            .await
            .map_err(crate::error::ApiError::from)?;
    }
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, secure(&state, &headers)),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "wrong"));
        assert!(!verify_password("not a hash", "x"));
        assert_ne!(h, hash_password("correct horse").unwrap(), "salted");
    }

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(
            safe_next(Some("/incidents/4?tab=graph")),
            "/incidents/4?tab=graph"
        );
        for bad in ["//evil.example", "https://evil.example", "/\\evil", ""] {
            assert_eq!(safe_next(Some(bad)), "/incidents", "{bad}");
        }
    }

    #[test]
    fn cookies_and_origins() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; rampart_session=abc"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "b"), None);
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&h));
        let c = set_cookie(SESSION_COOKIE, "v", 60, true);
        let c = c.to_str().unwrap();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
    }
}
