//! `POST /api/v1/hunt`: a KQL-subset query (`rampart-hunt`) planned with its bounds (a time
//! range, by default the last 24 h; a row limit; [`TIMEOUT`]) and run read-only by the store.
//! A query that does not parse or type-check is a 400 whose error names the byte position and
//! the offending token. Who ran what is logged (hunting reads, it changes nothing).

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rampart_hunt::plan::{plan, Options};
use rampart_model::Timestamp;
use serde::Deserialize;
use serde_json::json;

use crate::api::{body_bytes, json_body};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;

/// Longest a hunting query may run.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The body of `POST /api/v1/hunt`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HuntBody {
    query: String,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

fn time(name: &str, v: Option<&str>) -> Result<Option<i64>, ApiError> {
    v.map(|s| {
        Timestamp::parse_rfc3339(s)
            .map(Timestamp::millis)
            .ok_or_else(|| {
                ApiError::unprocessable(format!("{name}: {s:?} is not an RFC 3339 time"))
            })
    })
    .transpose()
}

/// Plan and run `query` (the API and `rampart hunt`): the rows, or the error answer.
pub async fn run(
    state: &AppState,
    query: &str,
    opts: &Options,
    actor: &str,
) -> Result<serde_json::Value, Response> {
    let p = plan(query, opts).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {
                "code": "bad_request",
                "message": e.to_string(),
                "position": e.position(),
                "token": e.token(),
            }})),
        )
            .into_response()
    })?;
    let started = Instant::now();
    let rows = state
        .store
        .hunt(&p, TIMEOUT)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    tracing::info!(%actor, rows = rows.rows.len(), elapsed_ms, query = %query, "hunt");
    Ok(json!({
        "columns": rows.columns,
        "rows": rows.rows,
        "truncated": rows.truncated,
        "elapsed_ms": elapsed_ms,
    }))
}

/// `POST /api/v1/hunt` `{"query", "from"?, "to"?, "limit"?}`.
pub async fn hunt(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let b: HuntBody = match body_bytes(body).and_then(|b| json_body(&b)) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let opts = match (time("from", b.from.as_deref()), time("to", b.to.as_deref())) {
        (Ok(from), Ok(to)) => Options {
            from,
            to,
            limit: b.limit,
            ..Options::at(Timestamp::now().millis())
        },
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    match run(&state, &b.query, &opts, &caller.actor()).await {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}
