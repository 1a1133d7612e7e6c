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
}

/// An error answered as `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The kind.
    pub kind: ErrorKind,
    /// The message sent to the client (never internal details).
    pub message: String,
}

impl ApiError {
    /// A new error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
        }
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
    pub fn forbidden(right: &str) -> Self {
        Self::new(
            ErrorKind::Forbidden,
            format!("this token's role may not {right}"),
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
        let (status, code) = self.kind.status_and_code();
        let body = json!({"error": {"code": code, "message": self.message}});
        let mut resp = (status, axum::Json(body)).into_response();
        if self.kind == ErrorKind::Unauthorized {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
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
