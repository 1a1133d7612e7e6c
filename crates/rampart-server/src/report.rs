//! `GET /api/v1/incidents/{id}/report?format=html|md|pdf`: the post-incident review, rendered
//! by `rampart-report` from what [`gather`] reads from the store (the incident with its
//! alerts and comments, its actions, containment, tasks, and the shadow endpoints it touched).

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use rampart_contain::recovery::Containment;
use rampart_model::{EntityKind, Timestamp};
use rampart_report::{Format, ReportData};
use rampart_signatures::inventory::OpenApiSpec;
use rampart_store::Store;

use crate::api::{params, path_id, Params};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;

/// Read everything the report of incident `id` shows: 404 when there is no such incident.
/// `containment` is the verdict when the caller assessed it; `spec` the loaded OpenAPI spec
/// (shadow endpoints are known only with one).
pub async fn gather(
    store: &dyn Store,
    id: i64,
    containment: Option<Containment>,
    spec: Option<&OpenApiSpec>,
    generated_at: Timestamp,
    generated_by: &str,
) -> Result<ReportData, ApiError> {
    let detail = store
        .get_incident(id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident", id))?;
    let actions = store
        .list_actions(&rampart_model::ActionFilter {
            incident_id: Some(id),
            limit: Some(1000),
            ..Default::default()
        })
        .await?
        .items;
    let tasks = store.list_tasks(id).await?;
    let shadow_endpoints = spec.map(|s| {
        let mut out: Vec<String> = Vec::new();
        let entities = detail
            .incident
            .entities
            .iter()
            .chain(detail.alerts.iter().flat_map(|a| a.draft.entities.iter()));
        for e in entities.filter(|e| e.kind == EntityKind::Endpoint) {
            if let Some((_, method, path)) = rampart_model::entity::endpoint_parts(&e.value) {
                let key = format!("{method} {path}");
                if !s.documents(method, path) && !out.contains(&key) {
                    out.push(key);
                }
            }
        }
        out
    });
    Ok(ReportData {
        detail,
        actions,
        containment,
        tasks,
        shadow_endpoints,
        generated_at,
        generated_by: generated_by.to_string(),
    })
}

/// The format named by `format=` (html when absent), or 400 naming the known ones.
pub fn format_param(p: &Params) -> Result<Format, ApiError> {
    match p.iter().find(|(k, _)| k == "format") {
        None => Ok(Format::Html),
        Some((_, v)) => Format::parse(v)
            .ok_or_else(|| ApiError::bad_param("format", format!("{v:?}: one of html, md, pdf"))),
    }
}

/// The report of incident `id` as `format`, answered as a download.
pub async fn answer(
    state: &AppState,
    caller: &Caller,
    id: i64,
    format: Format,
) -> Result<Response, ApiError> {
    let d = crate::recovery::detail(state, id).await?;
    let containment = crate::recovery::containment(state, &d).await?;
    let data = gather(
        &*state.store,
        id,
        Some(containment),
        state.api_spec.as_deref(),
        Timestamp::now(),
        &caller.actor(),
    )
    .await?;
    let body = rampart_report::render(&data, format).map_err(ApiError::internal)?;
    tracing::info!(incident = id, format = format.as_str(), actor = %caller.actor(), "incident report generated");
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    let disposition = format!("attachment; filename=\"{}\"", format.file_name(id));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// `GET /api/v1/incidents/{id}/report?format=html|md|pdf`.
pub async fn get_report(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    q: Result<Query<Params>, QueryRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    let format = format_param(&params(q)?)?;
    answer(&state, &caller, id, format).await
}
