//! One error type for every handler, and one table mapping its kinds to HTTP status codes.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rampart_pipeline::PipelineError;
use rampart_store::StoreError;
use serde_json::json;

/// What went wrong, by kind. The kind decides the status code (see [`ErrorKind::status`]) and
/// the `code` string clients see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A request parameter or body was malformed (400).
    BadRequest,
    /// No usable bearer token (401).
    Unauthorized,
    /// The token's role lacks the right (403).
    Forbidden,
    /// The object does not exist (404).
    NotFound,
    /// A state rule refused the change (409).
    Conflict,
    /// The body exceeded the configured limit (413).
    PayloadTooLarge,
    /// The body was well-formed but its values were not acceptable (422).
    Unprocessable,
    /// Something failed inside the server (500); details are logged, not sent.
    Internal,
    /// The pipeline is not running (503).
    Unavailable,
    /// The route exists but not with this method (405).
    MethodNotAllowed,
    /// The request body did not arrive in time (408).
    RequestTimeout,
    /// The request URI exceeded the configured limit (414).
    UriTooLong,
    /// The request head exceeded the configured limit (431).
    HeadersTooLarge,
    /// Too many failed authentications from this source (429).
    TooManyRequests,
}

/// The table: kind -> (status, wire code).
const KIND_TABLE: &[(ErrorKind, StatusCode, &str)] = &[
    (
        ErrorKind::BadRequest,
        StatusCode::BAD_REQUEST,
        "bad_request",
    ),
    (
        ErrorKind::Unauthorized,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    ),
    (ErrorKind::Forbidden, StatusCode::FORBIDDEN, "forbidden"),
    (ErrorKind::NotFound, StatusCode::NOT_FOUND, "not_found"),
    (ErrorKind::Conflict, StatusCode::CONFLICT, "conflict"),
    (
        ErrorKind::PayloadTooLarge,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    ),
    (
        ErrorKind::Unprocessable,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable",
    ),
    (
        ErrorKind::Internal,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
    ),
    (
        ErrorKind::Unavailable,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    ),
    (
        ErrorKind::MethodNotAllowed,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    ),
    (
        ErrorKind::RequestTimeout,
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
    ),
    (
        ErrorKind::UriTooLong,
        StatusCode::URI_TOO_LONG,
        "uri_too_long",
    ),
    (
        ErrorKind::HeadersTooLarge,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers_too_large",
    ),
    (
        ErrorKind::TooManyRequests,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
    ),
];

impl ErrorKind {
    /// The HTTP status and wire code of this kind.
    pub fn status_and_code(self) -> (StatusCode, &'static str) {
        KIND_TABLE
            .iter()
            .find(|(k, _, _)| *k == self)
            .map(|(_, s, c)| (*s, *c))
            .unwrap_or((StatusCode::INTERNAL_SERVER_ERROR, "internal"))
    }
    /// The HTTP status of this kind.
    pub fn status(self) -> StatusCode {
        self.status_and_code().0
    }
    /// The kind answered with this status, if one is.
    pub fn of_status(status: StatusCode) -> Option<ErrorKind> {
        KIND_TABLE
            .iter()
            .find(|(_, s, _)| *s == status)
            .map(|(k, _, _)| *k)
    }
}

/// An error answered as `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The kind.
    pub kind: ErrorKind,
    /// The message sent to the client (never internal details).
    pub message: String,
    /// Seconds to send in `Retry-After` (429).
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    /// A new error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
            retry_after_secs: None,
        }
    }
    /// 429 with `Retry-After`.
    pub fn too_many_requests(message: impl Into<String>, retry_after_secs: u64) -> Self {
        ApiError {
            retry_after_secs: Some(retry_after_secs.max(1)),
            ..Self::new(ErrorKind::TooManyRequests, message)
        }
    }
    /// The error answered for a bare status (one the router or hyper produced without a
    /// body): its kind, and a generic message.
    pub fn for_status(status: u16) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = match status.as_u16() {
            400 => "malformed request",
            405 => "method not allowed on this route",
            408 => "request not received in time",
            413 => "request body too large",
            414 => "request uri too long",
            431 => "request headers too large",
            s if s >= 500 => "internal error",
            _ => status.canonical_reason().unwrap_or("request refused"),
        };
        let kind = ErrorKind::of_status(status).unwrap_or(if status.is_server_error() {
            ErrorKind::Internal
        } else {
            ErrorKind::BadRequest
        });
        Self::new(kind, message.to_lowercase())
    }
    /// The body: `{"error": {"code": "...", "message": "..."}}`.
    pub fn json_body(&self) -> serde_json::Value {
        let (_, code) = self.kind.status_and_code();
        json!({"error": {"code": code, "message": self.message}})
    }
    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }
    /// 400 naming a query parameter.
    pub fn bad_param(name: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::BadRequest,
            format!("invalid parameter {name}: {reason}"),
        )
    }
    /// 422.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unprocessable, message)
    }
    /// 404.
    pub fn not_found(what: &str, id: impl std::fmt::Display) -> Self {
        Self::new(ErrorKind::NotFound, format!("{what} {id} not found"))
    }
    /// 403.
    pub fn forbidden(role: rampart_model::Role, permission: rampart_model::Permission) -> Self {
        Self::new(
            ErrorKind::Forbidden,
            format!("role {role} lacks the permission {permission}"),
        )
    }
    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthorized, message)
    }
    /// 500: `detail` is logged, the client sees a generic message.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(ErrorKind::Internal, "internal error")
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what, id } => ApiError::not_found(what, id),
            StoreError::Conflict(m) => ApiError::new(ErrorKind::Conflict, m),
            StoreError::Invalid(m) => ApiError::bad_request(m),
            e @ StoreError::Database { .. } => {
                // The driver's error is the source: logged with it, never sent.
                let source = std::error::Error::source(&e).map(ToString::to_string);
                ApiError::internal(format_args!("{e}: {}", source.unwrap_or_default()))
            }
            e @ StoreError::Corrupt(_) => ApiError::internal(e),
            StoreError::Timeout(m) => ApiError::unprocessable(format!("timed out: {m}")),
        }
    }
}

impl From<PipelineError> for ApiError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::Store(s) => ApiError::from(s),
            PipelineError::Stopped => {
                tracing::error!("pipeline stopped");
                ApiError::new(ErrorKind::Unavailable, "pipeline is not running")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.kind.status();
        let mut resp = (status, axum::Json(self.json_body())).into_response();
        if self.kind == ErrorKind::Unauthorized {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after_secs {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// Middleware: an error answer without a JSON body (an axum rejection in plain text, the
/// router's bare 405) becomes the JSON error for its status, keeping its other headers
/// (`Allow`). Answers below 400 and JSON answers pass untouched.
pub async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    // console pages answer their errors as HTML pages
    let is_html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if status.as_u16() < 400 || is_json || is_html {
        return resp;
    }
    let (mut parts, _) = resp.into_parts();
    let fresh = ApiError::for_status(status.as_u16()).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in fresh.headers() {
        parts.headers.insert(name.clone(), value.clone());
    }
    Response::from_parts(parts, fresh.into_body())
}

/// Method-not-allowed fallback of every route: a JSON 405 (the router adds `Allow`).
pub async fn method_not_allowed() -> ApiError {
    ApiError::for_status(405)
}

/// Middleware: 414 for a request target longer than the limit (the state), before routing.
pub async fn uri_limit(
    axum::extract::State(max): axum::extract::State<usize>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if len > max {
        return ApiError::for_status(414).into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: ErrorKind, status: u16, code: &str) {
        assert_eq!(
            kind.status_and_code(),
            (StatusCode::from_u16(status).unwrap(), code)
        );
    }

    #[test]
    fn table_maps_each_kind() {
        check(ErrorKind::BadRequest, 400, "bad_request");
        check(ErrorKind::Unauthorized, 401, "unauthorized");
        check(ErrorKind::Forbidden, 403, "forbidden");
        check(ErrorKind::NotFound, 404, "not_found");
        check(ErrorKind::Conflict, 409, "conflict");
        check(ErrorKind::PayloadTooLarge, 413, "payload_too_large");
        check(ErrorKind::Unprocessable, 422, "unprocessable");
        check(ErrorKind::Internal, 500, "internal");
        check(ErrorKind::Unavailable, 503, "unavailable");
        check(ErrorKind::MethodNotAllowed, 405, "method_not_allowed");
        check(ErrorKind::RequestTimeout, 408, "request_timeout");
        check(ErrorKind::UriTooLong, 414, "uri_too_long");
        check(ErrorKind::HeadersTooLarge, 431, "headers_too_large");
        check(ErrorKind::TooManyRequests, 429, "too_many_requests");
    }

    #[test]
    fn store_errors_map_without_leaking_internals() {
        let e = ApiError::from(StoreError::database(
            "statement failed",
            "SELECT secret FROM x",
        ));
        assert_eq!(e.kind, ErrorKind::Internal);
        assert!(!e.message.contains("SELECT"));
        let e = ApiError::from(StoreError::Conflict("duplicate token name".into()));
        assert_eq!(e.kind, ErrorKind::Conflict);
    }
}
