//! Saved hunting queries and custom detections.
//!
//! A saved query is a [`SavedQuery`] document stored as the automation object of kind
//! [`KIND`] (shared by every node, versioned, each change audited by the store as its actor);
//! the routes are `/api/v1/hunt/queries[/{name}]` and need `hunt`. A saved query with a
//! `detection` runs on its schedule: the worker ([`run`]) wakes every [`TICK`], and for each
//! enabled detection whose current slot (now rounded down to its schedule) has not run, claims
//! that slot in the store ([`Store::claim_detection`], so of several nodes one runs it), plans
//! the query over the window ending at the slot, and sends each row's alert through the
//! pipeline (detector `custom:<name>`, correlated like any alert) with the row's dedup key as
//! its idempotency key: the key is committed in the alert's transaction and kept for the
//! window, so a row found again by a later run raises nothing.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rampart_hunt::plan::{plan, Options};
use rampart_hunt::saved::{SavedQuery, SavedQueryError, KIND, MAX_ALERTS_PER_RUN};
use rampart_model::{AutomationObject, Timestamp};
use rampart_pipeline::{IdempotencyKey, PushOutcome};
use rampart_store::DetectionRun;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::api::body_bytes;
use crate::auth::Caller;
use crate::automation::{store_named, store_new};
use crate::error::ApiError;
use crate::AppState;

/// How often the worker looks for due detections.
pub const TICK: Duration = Duration::from_secs(30);
/// How long a claim holds a run (a node that died mid-run releases it after this).
pub const LEASE: Duration = Duration::from_secs(120);

/// The caller name of a detection's idempotency keys and its log actor.
pub fn actor(name: &str) -> String {
    format!("detection:{name}")
}

fn refused(e: SavedQueryError) -> ApiError {
    let mut msg = format!("invalid saved query: {e}");
    if let Some(p) = e.position {
        msg.push_str(&format!(" (query byte {p})"));
    }
    ApiError::unprocessable(msg)
}

/// Parse and check a saved-query body.
pub fn parse(bytes: &[u8]) -> Result<SavedQuery, ApiError> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    let q: SavedQuery = serde_json::from_str(text)
        .map_err(|e| ApiError::unprocessable(format!("invalid saved query: {e}")))?;
    q.check(Timestamp::now().millis()).map_err(refused)?;
    Ok(q)
}

fn view(o: &AutomationObject, last_run: Option<&DetectionRun>) -> Result<Value, ApiError> {
    let q: SavedQuery = serde_json::from_value(o.body.clone()).map_err(ApiError::internal)?;
    let mut v = serde_json::to_value(&q).map_err(ApiError::internal)?;
    v["version"] = json!(o.version);
    v["created_at"] = json!(o.created_at);
    v["updated_at"] = json!(o.updated_at);
    v["updated_by"] = json!(o.updated_by);
    if q.detection.is_some() {
        v["last_run"] = json!(last_run);
    }
    Ok(v)
}

/// The saved queries, by name, each a [`SavedQuery`] (a stored one that no longer parses
/// is left out and logged).
pub async fn saved_queries(
    state: &AppState,
) -> Result<Vec<(AutomationObject, SavedQuery)>, ApiError> {
    let mut out = Vec::new();
    for o in state.store.list_automation(KIND).await? {
        match serde_json::from_value::<SavedQuery>(o.body.clone()) {
            Ok(q) => out.push((o, q)),
            Err(e) => tracing::warn!(name = %o.name, error = %e, "stored saved query unreadable"),
        }
    }
    Ok(out)
}

/// `GET /api/v1/hunt/queries`: every saved query, by name; a detection with its last run.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let runs = state.store.detection_runs().await?;
    let mut items = Vec::new();
    for o in state.store.list_automation(KIND).await? {
        let last = runs.iter().find(|r| r.name == o.name);
        items.push(view(&o, last)?);
    }
    Ok(Json(json!({ "items": items })))
}

/// `GET /api/v1/hunt/queries/{name}`.
pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let o = state
        .store
        .get_automation(KIND, &name)
        .await?
        .ok_or_else(|| ApiError::not_found("saved query", &name))?;
    let runs = state.store.detection_runs().await?;
    Ok(Json(view(&o, runs.iter().find(|r| r.name == name))?))
}

/// `POST /api/v1/hunt/queries`: a new saved query (409 when the name is taken).
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let q = parse(&body_bytes(body)?)?;
    let o = store_new(&state, KIND, "saved query", &q.name, &q, &caller.actor()).await?;
    Ok((StatusCode::CREATED, Json(view(&o, None)?)).into_response())
}

/// `PUT /api/v1/hunt/queries/{name}`: create or replace (the body's name must be the
/// path's); the same document again changes nothing.
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = parse(&body_bytes(body)?)?;
    let o = store_named(
        &state,
        KIND,
        "saved query",
        &name,
        &q.name,
        &q,
        &caller.actor(),
    )
    .await?;
    Ok(Json(view(&o, None)?))
}

/// `DELETE /api/v1/hunt/queries/{name}` (audited).
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .delete_automation(KIND, &name, &caller.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- the scheduler ------------------------------------------------------------------------

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    /// Result rows.
    pub rows: u64,
    /// Alerts raised (new dedup keys).
    pub alerts: u64,
    /// Rows whose key an earlier run raised within the window.
    pub duplicates: u64,
    /// Rows that map no entity value.
    pub skipped: u64,
    /// Whether the query had more rows than a run raises.
    pub truncated: bool,
    /// Why it failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn respond(_: &rampart_pipeline::BatchReport) -> (u16, Value) {
    (200, json!({}))
}

/// Run one detection over the window ending at `slot` (no claim: [`run_due`] claims).
pub async fn run_one(state: &AppState, q: &SavedQuery, slot: Timestamp) -> Outcome {
    let mut out = Outcome::default();
    let Some(d) = &q.detection else {
        return out;
    };
    let timing = match d.timing() {
        Ok(t) => t,
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    };
    let window_ms = timing.window as i64 * 1000;
    let from = Timestamp(slot.millis() - window_ms);
    let opts = Options {
        from: Some(from.millis()),
        to: Some(slot.millis()),
        limit: Some(MAX_ALERTS_PER_RUN),
        ..Options::at(slot.millis())
    };
    let p = match plan(&q.query, &opts) {
        Ok(p) => p,
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    };
    let rows = match state.store.hunt(&p, crate::hunt::TIMEOUT).await {
        Ok(r) => r,
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    };
    out.rows = rows.rows.len() as u64;
    out.truncated = rows.truncated;
    let caller = actor(&q.name);
    for row in &rows.rows {
        let Some((draft, key)) = q.draft(&rows.columns, row, from, slot) else {
            out.skipped += 1;
            continue;
        };
        let key = hex::encode(Sha256::digest(key.as_bytes()));
        let idem = IdempotencyKey {
            caller: caller.clone(),
            key: key.clone(),
            request_hash: key,
            ttl_ms: window_ms,
            respond,
        };
        match state
            .pipeline
            .push_alerts_once(vec![draft], Some(idem))
            .await
        {
            Ok(PushOutcome::Committed(_)) => out.alerts += 1,
            Ok(PushOutcome::Replayed(_)) => out.duplicates += 1,
            Err(e) => {
                out.error = Some(e.to_string());
                break;
            }
        }
    }
    tracing::info!(
        detection = %q.name,
        slot = %slot,
        rows = out.rows,
        alerts = out.alerts,
        duplicates = out.duplicates,
        error = out.error.as_deref().unwrap_or(""),
        "custom detection run"
    );
    out
}

/// Run every enabled detection whose slot at `now` has not run yet, as `owner`: what ran.
pub async fn run_due(
    state: &AppState,
    owner: &str,
    now: Timestamp,
) -> Result<Vec<(String, Outcome)>, ApiError> {
    let mut ran = Vec::new();
    for (_, q) in saved_queries(state).await? {
        let Some(d) = q.detection.as_ref().filter(|d| d.enabled) else {
            continue;
        };
        let Ok(timing) = d.timing() else { continue };
        let every = timing.schedule as i64 * 1000;
        let slot = Timestamp(now.millis() - now.millis().rem_euclid(every));
        let lease = Timestamp(now.millis() + LEASE.as_millis() as i64);
        if !state
            .store
            .claim_detection(&q.name, slot, owner, now, lease)
            .await?
        {
            continue;
        }
        let outcome = run_one(state, &q, slot).await;
        let v = serde_json::to_value(&outcome).map_err(ApiError::internal)?;
        state
            .store
            .finish_detection(&q.name, slot, owner, Timestamp::now(), &v)
            .await?;
        ran.push((q.name.clone(), outcome));
    }
    Ok(ran)
}

/// Run due detections every `detection_tick` of the configuration until `stop`.
pub async fn run(state: AppState, stop: tokio::sync::watch::Receiver<bool>) {
    let Some(every) = state.config.detection_tick else {
        return;
    };
    let owner = crate::worker::lease_owner();
    let (state, owner) = (&state, owner.as_str());
    let every = every.max(Duration::from_secs(1));
    crate::worker::every(every, crate::worker::First::Now, stop, move || async move {
        if let Err(e) = run_due(state, owner, Timestamp::now()).await {
            tracing::warn!(error = %e, "custom detections: a pass failed");
        }
    })
    .await
}
