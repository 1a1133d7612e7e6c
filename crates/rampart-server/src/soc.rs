//! `GET /api/v1/metrics/soc?since=&until=`: the SOC metrics of `rampart_report::soc` over the
//! incidents created in a period (default the last 30 days), from facts read here: each
//! incident's alerts (detectors, first alert), its audit trail (first owner or InProgress,
//! resolution, and whether automation made them) and its containment actions, read for all
//! the incidents at once (`Store::incident_trails`).
//!
//! On demand and bounded: at most [`MAX_INCIDENTS`] incidents (the newest), said in the answer.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use std::collections::HashMap;

use rampart_model::{ActionStatus, IncidentFilter, IncidentSort, IncidentStatus, Timestamp};
use rampart_report::soc::{compute, IncidentFacts, SocMetrics};
use rampart_store::Store;
use serde::Serialize;

use crate::api::{params, Params};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;

/// Most incidents one answer measures.
pub const MAX_INCIDENTS: u32 = 1000;
/// Default period: the last 30 days.
pub const DEFAULT_DAYS: i64 = 30;

/// The answer.
#[derive(Debug, Serialize)]
pub struct SocAnswer {
    /// Start of the period (incidents created at or after).
    pub since: Timestamp,
    /// End of the period (created before).
    pub until: Timestamp,
    /// Incidents created in the period.
    pub incidents_total: u64,
    /// Incidents measured (at most [`MAX_INCIDENTS`], the newest).
    pub incidents_measured: u64,
    /// Alerts of the measured incidents.
    pub alerts: u64,
    /// The metrics.
    #[serde(flatten)]
    pub metrics: SocMetrics,
}

/// Whether an audit actor or `requested_by` is automation.
pub fn is_automation(actor: &str) -> bool {
    [
        "rule:",
        "playbook:",
        rampart_contain::disruption::ACTOR_PREFIX,
    ]
    .iter()
    .any(|p| actor.starts_with(p))
        || actor == "investigation"
}

fn time_param(p: &Params, name: &'static str) -> Result<Option<Timestamp>, ApiError> {
    match p.iter().find(|(k, _)| k == name) {
        None => Ok(None),
        Some((_, v)) => crate::api::parse_time(name, v).map(Some),
    }
}

/// Read the facts of the incidents created in `since..until` (newest first, at most
/// [`MAX_INCIDENTS`]); also the total created in the period and the alerts measured.
pub async fn gather(
    store: &dyn Store,
    since: Timestamp,
    until: Timestamp,
) -> Result<(Vec<IncidentFacts>, u64, u64), ApiError> {
    let page = store
        .list_incidents(&IncidentFilter {
            created_after: Some(since),
            created_before: Some(until),
            sort: IncidentSort::default(),
            limit: Some(MAX_INCIDENTS),
            ..Default::default()
        })
        .await?;
    let incidents: Vec<_> = page
        .items
        .iter()
        .filter(|i| i.status != IncidentStatus::Redirected)
        .collect();
    let ids: Vec<i64> = incidents.iter().map(|i| i.id).collect();
    let trails = store.incident_trails(&ids).await?;
    let alerts = trails.alerts.len() as u64;
    let mut detectors: HashMap<i64, (Vec<String>, Timestamp)> = HashMap::new();
    for (id, detector, at) in trails.alerts {
        let e = detectors.entry(id).or_insert_with(|| (Vec::new(), at));
        // `compute` counts each detector once per incident
        e.0.push(detector);
        e.1 = e.1.min(at);
    }
    let mut audit: HashMap<&str, Vec<&rampart_model::AuditEntry>> = HashMap::new();
    for a in &trails.audit {
        // oldest first (as the store answers)
        audit.entry(a.object_id.as_str()).or_default().push(a);
    }
    let mut actions: HashMap<i64, Vec<&rampart_model::Action>> = HashMap::new();
    for a in &trails.actions {
        if let Some(id) = a.action.incident_id {
            actions.entry(id).or_default().push(a);
        }
    }
    let mut out = Vec::with_capacity(incidents.len());
    for inc in incidents {
        let (detectors, first_alert) = detectors
            .remove(&inc.id)
            .unwrap_or_else(|| (Vec::new(), inc.created_at));
        let mut acknowledged = None;
        let mut resolved = None;
        let mut automated = false;
        for a in audit.get(inc.id.to_string().as_str()).into_iter().flatten() {
            let field = a.details.get("field").and_then(|v| v.as_str());
            let after = a.details.get("after");
            let ack = match (field, after) {
                (Some("assigned_to"), Some(v)) => !v.is_null(),
                (Some("status"), Some(v)) => {
                    v.as_str() == Some(IncidentStatus::InProgress.as_str())
                }
                _ => false,
            };
            let res = field == Some("status")
                && after.and_then(|v| v.as_str()) == Some(IncidentStatus::Resolved.as_str());
            if ack && acknowledged.is_none() {
                acknowledged = Some(a.at);
                automated |= is_automation(&a.actor);
            }
            if res && resolved.is_none() {
                resolved = Some(a.at);
                automated |= is_automation(&a.actor);
            }
        }
        if inc.status == IncidentStatus::Resolved && resolved.is_none() {
            resolved = Some(inc.updated_at);
        }
        let applied = actions
            .get(&inc.id)
            .into_iter()
            .flatten()
            .filter(|a| {
                matches!(
                    a.action.status,
                    ActionStatus::Active | ActionStatus::Expired | ActionStatus::Reverted
                )
            })
            .min_by_key(|a| a.approved_at.unwrap_or(a.action.created_at));
        let contained = applied.map(|a| a.approved_at.unwrap_or(a.action.created_at));
        automated |= applied.is_some_and(|a| is_automation(&a.action.requested_by));
        out.push(IncidentFacts {
            id: inc.id,
            severity: inc.severity,
            owner: inc.assigned_to.clone(),
            detectors,
            classification: inc.classification,
            first_activity: inc.first_activity,
            first_alert,
            created: inc.created_at,
            acknowledged,
            contained,
            resolved,
            automated,
        });
    }
    Ok((out, page.total, alerts))
}

/// The metrics of the period `since=`/`until=` name (RFC 3339; default the last 30 days).
pub async fn answer(
    state: &AppState,
    q: Result<Query<Params>, QueryRejection>,
) -> Result<SocAnswer, ApiError> {
    let p = params(q)?;
    let until = time_param(&p, "until")?.unwrap_or_else(Timestamp::now);
    let since =
        time_param(&p, "since")?.unwrap_or(Timestamp(until.millis() - DEFAULT_DAYS * 86_400_000));
    if since >= until {
        return Err(ApiError::bad_param(
            "since",
            "must be before until".to_string(),
        ));
    }
    let (facts, total, alerts) = gather(&*state.store, since, until).await?;
    Ok(SocAnswer {
        since,
        until,
        incidents_total: total,
        incidents_measured: facts.len() as u64,
        alerts,
        metrics: compute(&facts),
    })
}

/// `GET /api/v1/metrics/soc?since=&until=` (RFC 3339; default the last 30 days).
pub async fn get_soc(
    State(state): State<AppState>,
    _caller: Caller,
    q: Result<Query<Params>, QueryRejection>,
) -> Result<Json<SocAnswer>, ApiError> {
    Ok(Json(answer(&state, q).await?))
}
