//! The automated investigation of an incident: gathers what an analyst looks up first (each
//! actor's stored activity and what it got 2xx answers from, other incidents naming it, earlier
//! containment actions on it, whether it is allow-listed; the inventory facts of each target
//! endpoint) into `rampart_contain::investigation::Facts`, and resolves the alerts it proves
//! benign, each audited as `investigation` with its reason. Threat-intelligence feeds list
//! actors; deployment windows (`/api/v1/deployments`, automation objects of kind
//! `deployment`) explain operational spikes.
//!
//! It runs by itself on every new incident: the worker ([`run`], every `investigation_tick`)
//! claims incidents without one in the store ([`Store::claim_investigations`], once across
//! nodes), investigates, resolves what it proves benign and keeps the result. `GET
//! /api/v1/incidents/{id}/investigation` and the incident page's investigation tab show the
//! kept one (or, before it ran, a live preview); `POST` runs it again.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rampart_contain::investigation::{
    self, ActorFacts, Deployment, EarlierAction, Facts, Investigation, Related, TargetFacts,
};
use rampart_model::{Entity, EntityKind, IncidentDetail, IncidentFilter, IncidentSort, Timestamp};
use serde_json::{json, Value};

use crate::api::{body_bytes, path_id};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;

/// The automation kind deployment windows are stored under.
pub const DEPLOYMENT: &str = "deployment";
/// How often the worker looks for new incidents (the default of `investigation_tick`).
pub const TICK: Duration = Duration::from_secs(1);
/// How long a claim holds an incident (a node that died mid-run releases it after this).
pub const LEASE: Duration = Duration::from_secs(120);
/// Incidents younger than this get an investigation by themselves (older ones on demand).
pub const NEW_FOR: Duration = Duration::from_secs(24 * 3600);
/// Most incidents one pass claims.
const CLAIM: u32 = 8;

/// Actors and targets looked up per incident (the rest are left out, and say so).
pub const MAX_SUBJECTS: usize = 10;
/// Rows of access and related incidents read per actor.
pub const ROWS: u32 = 20;

/// Investigate incident `d` from the store.
pub async fn investigate(state: &AppState, d: &IncidentDetail) -> Result<Investigation, ApiError> {
    let id = d.incident.id;
    let mut actors = Vec::new();
    let mut seen: Vec<&Entity> = Vec::new();
    let entities = d
        .incident
        .entities
        .iter()
        .chain(d.alerts.iter().flat_map(|a| a.draft.entities.iter()));
    let mut targets = Vec::new();
    let endpoints = state.store.list_endpoints().await?;
    for e in entities {
        if seen.iter().any(|s| s.kind == e.kind && s.value == e.value) {
            continue;
        }
        seen.push(e);
        if e.kind.is_actor() && actors.len() < MAX_SUBJECTS {
            let filter = IncidentFilter {
                entity: Some(e.value.clone()),
                sort: IncidentSort::Updated,
                limit: Some(ROWS),
                ..Default::default()
            };
            let (activity, access, related, acts) = tokio::join!(
                state.store.entity_activity(e),
                state.store.actor_access(e, Timestamp(0), ROWS),
                state.store.list_incidents(&filter),
                crate::console::pages::entity_actions(state, e.kind, &e.value),
            );
            actors.push(ActorFacts {
                entity: e.clone(),
                activity: activity?,
                access: access?,
                related: related?
                    .items
                    .into_iter()
                    .filter(|i| i.id != id)
                    .map(|i| Related {
                        id: i.id,
                        title: i.title,
                        status: i.status,
                        classification: i.classification,
                    })
                    .collect(),
                actions: acts
                    .map_err(|e| e.0)?
                    .into_iter()
                    .map(|a| EarlierAction {
                        id: a.id,
                        kind: a.action.kind,
                        status: a.status(),
                        incident_id: a.action.incident_id,
                    })
                    .collect(),
                allow_listed: investigation::allow_listed(&state.contain.protected, e),
                intel: match (&state.intel, e.kind) {
                    (Some(intel), EntityKind::Ip) => e
                        .value
                        .parse()
                        .ok()
                        .and_then(|ip| intel.load().lookup(ip, None).map(str::to_string)),
                    _ => None,
                },
            });
        } else if e.kind == EntityKind::Endpoint && targets.len() < MAX_SUBJECTS {
            let info =
                rampart_model::entity::endpoint_parts(&e.value).and_then(|(host, method, path)| {
                    endpoints
                        .iter()
                        .find(|x| {
                            x.method == method
                                && x.path_template == path
                                && host.is_none_or(|h| h == x.host)
                        })
                        .cloned()
                });
            targets.push(TargetFacts {
                endpoint: e.value.clone(),
                info,
            });
        }
    }
    Ok(investigation::investigate(&Facts {
        incident_id: id,
        alerts: &d.alerts,
        actors,
        targets,
        intel_configured: state.intel.is_some(),
        deployments: deployments_around(state, d).await?,
    }))
}

/// The deployment windows that overlap the incident's activity (an hour of slack each side).
async fn deployments_around(
    state: &AppState,
    d: &IncidentDetail,
) -> Result<Vec<Deployment>, ApiError> {
    const SLACK: i64 = 3_600_000;
    let (from, to) = (
        d.incident.first_activity.millis() - SLACK,
        d.incident.last_activity.millis() + SLACK,
    );
    Ok(deployments(state)
        .await?
        .into_iter()
        .filter(|w| w.start.millis() <= to && w.end.millis() >= from)
        .collect())
}

/// Every stored deployment window, by name.
pub async fn deployments(state: &AppState) -> Result<Vec<Deployment>, ApiError> {
    Ok(state
        .store
        .list_automation(DEPLOYMENT)
        .await?
        .into_iter()
        .filter_map(|o| serde_json::from_value(o.body).ok())
        .collect())
}

/// The kept investigation of `d` with when it ran and what it resolved, or before it ran a
/// live preview (`None`).
pub async fn kept_or_preview(
    state: &AppState,
    d: &IncidentDetail,
) -> Result<(Investigation, Option<(Timestamp, u64)>), ApiError> {
    if let Some(kept) = state.store.get_investigation(d.incident.id).await? {
        if let (Some(at), Ok(inv)) = (
            kept.finished_at,
            serde_json::from_value::<Investigation>(kept.result.clone()),
        ) {
            let resolved = kept.result["resolved"].as_u64().unwrap_or(0);
            return Ok((inv, Some((at, resolved))));
        }
    }
    Ok((investigate(state, d).await?, None))
}

/// The JSON kept for an investigation and answered by the API.
pub fn result_json(inv: &Investigation, resolved: usize, ran_at: Timestamp) -> Value {
    json!({
        "verdict": inv.verdict,
        "evidence": inv.evidence,
        "benign_alerts": inv.benign,
        "resolved": resolved,
        "ran_at": ran_at,
    })
}

/// Investigate incident `id` now, resolve what it proves benign, and keep the result (as
/// the claim's `owner`, or, with `None`, replacing whatever is kept): the result.
pub async fn run_for(state: &AppState, id: i64, owner: Option<&str>) -> Result<Value, ApiError> {
    let d = crate::recovery::detail(state, id).await?;
    let inv = investigate(state, &d).await?;
    let resolved = resolve_benign(state, &inv).await?;
    let now = Timestamp::now();
    let v = result_json(&inv, resolved, now);
    state.store.finish_investigation(id, owner, now, &v).await?;
    tracing::info!(
        incident = id,
        verdict = inv.verdict.as_str(),
        resolved,
        "investigation"
    );
    Ok(v)
}

/// Investigate the new incidents no node has investigated yet, as `owner`: their ids.
pub async fn run_pending(
    state: &AppState,
    owner: &str,
    now: Timestamp,
) -> Result<Vec<i64>, ApiError> {
    let since = Timestamp(now.millis() - NEW_FOR.as_millis() as i64);
    let lease = Timestamp(now.millis() + LEASE.as_millis() as i64);
    let ids = state
        .store
        .claim_investigations(owner, since, now, lease, CLAIM)
        .await?;
    for &id in &ids {
        if let Err(e) = run_for(state, id, Some(owner)).await {
            tracing::warn!(incident = id, error = %e.message, "investigation failed");
            let _ = state
                .store
                .finish_investigation(
                    id,
                    Some(owner),
                    Timestamp::now(),
                    &json!({"error": e.message}),
                )
                .await;
        }
    }
    Ok(ids)
}

/// Investigate new incidents every `investigation_tick` until `stop`.
pub async fn run(state: AppState, stop: tokio::sync::watch::Receiver<bool>) {
    let Some(every) = state.config.investigation_tick else {
        return;
    };
    let owner = crate::worker::lease_owner();
    let (state, owner) = (&state, owner.as_str());
    let every = every.max(Duration::from_millis(100));
    crate::worker::every(every, crate::worker::First::Now, stop, move || async move {
        if let Err(e) = run_pending(state, owner, Timestamp::now()).await {
            tracing::warn!(error = %e.message, "investigations: a pass failed");
        }
    })
    .await
}

/// Resolve the alerts `inv` proves benign, each audited as `investigation` with its reason;
/// how many it resolved.
pub async fn resolve_benign(state: &AppState, inv: &Investigation) -> Result<usize, ApiError> {
    let now = Timestamp::now();
    for b in &inv.benign {
        state
            .store
            .resolve_alert(b.alert_id, &b.reason, investigation::ACTOR, now)
            .await?;
        tracing::info!(alert = b.alert_id, reason = %b.reason, "investigation resolved a benign alert");
    }
    Ok(inv.benign.len())
}

/// `GET /api/v1/incidents/{id}/investigation`: the kept investigation (`"stored": true`,
/// with `ran_at` and what it resolved), or before it ran a live preview that changes nothing.
pub async fn get(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(id)?;
    let d = crate::recovery::detail(&state, id).await?;
    if let Some(kept) = state.store.get_investigation(id).await? {
        if kept.finished_at.is_some() && kept.result.get("verdict").is_some() {
            let mut v = kept.result;
            v["incident_id"] = json!(id);
            v["stored"] = json!(true);
            return Ok(Json(v));
        }
    }
    let inv = investigate(&state, &d).await?;
    Ok(Json(json!({
        "incident_id": id,
        "verdict": inv.verdict,
        "evidence": inv.evidence,
        "benign_alerts": inv.benign,
        "stored": false,
    })))
}

/// `POST /api/v1/incidents/{id}/investigation`: run it again now (resolving what it proves
/// benign, audited) and keep the result.
pub async fn rerun(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(id)?;
    tracing::info!(actor = %caller.actor(), incident = id, "investigation re-run");
    let mut v = run_for(&state, id, None).await?;
    v["incident_id"] = json!(id);
    v["stored"] = json!(true);
    Ok(Json(v))
}

// --- deployment windows -------------------------------------------------------------------

fn deployment_body(body: Result<Bytes, BytesRejection>) -> Result<Deployment, ApiError> {
    let bytes = body_bytes(body)?;
    let d: Deployment = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::unprocessable(format!("invalid deployment: {e}")))?;
    if d.name.is_empty()
        || d.name.len() > 100
        || !d
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+'))
    {
        return Err(ApiError::unprocessable(
            "invalid deployment: name: expected 1 to 100 letters, digits, '-', '_', '.' or '+'",
        ));
    }
    if d.end <= d.start {
        return Err(ApiError::unprocessable(
            "invalid deployment: end: must be after start",
        ));
    }
    if d.end.millis() - d.start.millis() > 7 * 86_400_000 {
        return Err(ApiError::unprocessable(
            "invalid deployment: end: a window is at most 7 days",
        ));
    }
    if d.hosts.len() > 50 || d.note.len() > 2_000 {
        return Err(ApiError::unprocessable(
            "invalid deployment: at most 50 hosts and a 2000-byte note",
        ));
    }
    Ok(d)
}

/// `GET /api/v1/deployments`: the deployment windows, by name.
pub async fn list_deployments(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "items": deployments(&state).await? })))
}

/// `POST /api/v1/deployments`: announce a deployment window (a CD pipeline's step); the same
/// name again replaces it. Audited.
pub async fn put_deployment(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let d = deployment_body(body)?;
    let v = serde_json::to_value(&d).map_err(ApiError::internal)?;
    let (_, changed) = state
        .store
        .put_automation(DEPLOYMENT, &d.name, &v, &caller.actor())
        .await?;
    let status = if changed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(v)).into_response())
}

/// `DELETE /api/v1/deployments/{name}` (audited).
pub async fn delete_deployment(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .delete_automation(DEPLOYMENT, &name, &caller.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
