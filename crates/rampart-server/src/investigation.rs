//! The automated investigation of an incident: gathers what an analyst looks up first (each
//! actor's stored activity and what it got 2xx answers from, other incidents naming it, earlier
//! containment actions on it, whether it is allow-listed; the inventory facts of each target
//! endpoint) into `rampart_contain::investigation::Facts`, and resolves the alerts it proves
//! benign, each audited as `investigation` with its reason. `GET
//! /api/v1/incidents/{id}/investigation` and the incident page's investigation tab show it.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use rampart_contain::investigation::{
    self, ActorFacts, EarlierAction, Facts, Investigation, Related, TargetFacts,
};
use rampart_model::{Entity, EntityKind, IncidentDetail, IncidentFilter, IncidentSort, Timestamp};
use serde_json::{json, Value};

use crate::api::path_id;
use crate::error::ApiError;
use crate::AppState;

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
        intel_configured: false,
    }))
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

/// `GET /api/v1/incidents/{id}/investigation`: the evidence with verdicts and the alerts
/// proven benign.
pub async fn get(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(id)?;
    let d = crate::recovery::detail(&state, id).await?;
    let inv = investigate(&state, &d).await?;
    Ok(Json(json!({
        "incident_id": id,
        "verdict": inv.verdict,
        "evidence": inv.evidence,
        "benign_alerts": inv.benign,
    })))
}
