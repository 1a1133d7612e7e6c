//! A Microsoft Defender XDR compatible view of incidents (`/api/incidents`), so scripts and
//! SOAR playbooks written for that API work against Rampart.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use rampart_model::{
    Alert, AlertSource, AttackStage, Classification, Determination, Entity, EntityKind,
    IncidentDetail, IncidentFilter, IncidentPatch, IncidentSort, IncidentStatus,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{apply_patch, body_bytes, json_body, params, path_id, validate_comment, Params};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::odata::{defender_severity, parse_filter, Expr};
use crate::AppState;

/// Largest (and default) `$top`.
pub const MAX_TOP: usize = 100;
/// Rows read from the store per page while filtering.
const SCAN_PAGE: u32 = 500;

const CONTEXT: &str = "/api/$metadata#Incidents";

/// Defender's alert category for an attack stage.
fn category(stage: AttackStage) -> &'static str {
    match stage {
        AttackStage::Recon => "Discovery",
        AttackStage::CredentialAccess => "CredentialAccess",
        AttackStage::Exploitation => "InitialAccess",
        AttackStage::DataAccess => "Exfiltration",
        AttackStage::Impact => "Impact",
    }
}

fn entity(e: &Entity) -> Value {
    match e.kind {
        EntityKind::Ip => json!({"entityType": "Ip", "ipAddress": e.value}),
        EntityKind::User => json!({"entityType": "User", "accountName": e.value}),
        EntityKind::Endpoint => json!({"entityType": "Url", "url": e.value}),
        EntityKind::ApiKey => json!({"entityType": "CloudApplication", "applicationId": e.value}),
        EntityKind::Service => {
            json!({"entityType": "CloudApplication", "applicationName": e.value})
        }
        EntityKind::UserAgent => json!({"entityType": "Process", "processCommandLine": e.value}),
    }
}

/// An alert in Defender's shape.
pub fn alert(a: &Alert) -> Value {
    let detection_source = match &a.draft.source {
        AlertSource::Rampart => "Rampart".to_string(),
        AlertSource::Sigma(_) => "Sigma".to_string(),
        AlertSource::External { product } => product.clone(),
    };
    json!({
        "alertId": a.id.to_string(),
        "incidentId": a.incident_id,
        "title": a.draft.title,
        "description": a.draft.description,
        "category": category(a.draft.stage),
        "severity": defender_severity(a.draft.severity),
        "status": a.status,
        "detectionSource": detection_source,
        "detectorId": a.draft.detector,
        "mitreTechniques": a.draft.mitre,
        "creationTime": a.created_at,
        "firstActivity": a.draft.first_seen,
        "lastActivity": a.draft.last_seen,
        "entities": a.draft.entities.iter().map(entity).collect::<Vec<_>>(),
    })
}

/// An incident in Defender's shape.
pub fn incident(d: &IncidentDetail) -> Value {
    let i = &d.incident;
    json!({
        "incidentId": i.id,
        "incidentName": i.title,
        "redirectIncidentId": i.redirect_to,
        "createdTime": i.created_at,
        "lastUpdateTime": i.updated_at,
        "assignedTo": i.assigned_to,
        "classification": i.classification,
        "determination": i.determination,
        "status": i.status,
        "severity": defender_severity(i.severity),
        "tags": i.tags,
        "comments": d.comments.iter().map(|c| json!({
            "comment": c.text, "createdBy": c.author, "createdTime": c.created_at,
        })).collect::<Vec<_>>(),
        "alerts": d.alerts.iter().map(alert).collect::<Vec<_>>(),
    })
}

/// `$filter`, `$top`, `$skip` from the query.
pub fn odata_params(params: &Params) -> Result<(Option<Expr>, usize, usize), ApiError> {
    let (mut expr, mut top, mut skip) = (None, MAX_TOP, 0usize);
    for (k, v) in params {
        match k.as_str() {
            "$filter" => {
                expr = Some(parse_filter(v).map_err(|e| ApiError::bad_param("$filter", e))?)
            }
            "$top" => {
                top = match v.parse::<usize>() {
                    Ok(n) if n <= MAX_TOP => n,
                    _ => {
                        return Err(ApiError::bad_param(
                            "$top",
                            format!("{v:?} (0..={MAX_TOP})"),
                        ))
                    }
                }
            }
            "$skip" => {
                skip = v
                    .parse()
                    .map_err(|_| ApiError::bad_param("$skip", format!("{v:?}")))?
            }
            _ => return Err(ApiError::bad_param(k, "unsupported query option")),
        }
    }
    Ok((expr, top, skip))
}

/// `GET /api/incidents`: newest first.
pub async fn list(
    State(state): State<AppState>,
    q: Result<Query<Params>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let (expr, top, mut skip) = odata_params(&params(q)?)?;
    let mut f = IncidentFilter {
        sort: IncidentSort::Created,
        limit: Some(SCAN_PAGE),
        offset: Some(0),
        ..Default::default()
    };
    if let Some(e) = &expr {
        e.push_down(&mut f);
    }
    let mut picked = Vec::new();
    'scan: while picked.len() < top {
        let page = state.store.list_incidents(&f).await?;
        let n = page.items.len() as u32;
        for i in page.items {
            if expr.as_ref().is_some_and(|e| !e.matches(&i)) {
                continue;
            }
            if skip > 0 {
                skip -= 1;
                continue;
            }
            picked.push(i.id);
            if picked.len() >= top {
                break 'scan;
            }
        }
        if n < SCAN_PAGE {
            break;
        }
        f.offset = Some(f.offset.unwrap_or(0) + n);
    }
    let mut value = Vec::with_capacity(picked.len());
    for id in picked {
        if let Some(d) = state.store.get_incident(id).await? {
            value.push(incident(&d));
        }
    }
    Ok(Json(json!({"@odata.context": CONTEXT, "value": value})))
}

/// `GET /api/incidents/{id}`.
pub async fn get(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(id)?;
    let d = state
        .store
        .get_incident(id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident", id))?;
    let mut v = incident(&d);
    if let Value::Object(m) = &mut v {
        m.insert(
            "@odata.context".into(),
            json!("/api/$metadata#Incidents/$entity"),
        );
    }
    Ok(Json(v))
}

/// The body of a Defender incident update.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DefenderPatch {
    /// New status.
    #[serde(default)]
    pub status: Option<IncidentStatus>,
    /// New owner (`null` unassigns).
    #[serde(default, with = "rampart_model::incident::double_option")]
    pub assigned_to: Option<Option<String>>,
    /// New classification.
    #[serde(default)]
    pub classification: Option<Classification>,
    /// New determination.
    #[serde(default)]
    pub determination: Option<Determination>,
    /// Replace the tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// A comment to add.
    #[serde(default)]
    pub comment: Option<String>,
}

/// `PATCH /api/incidents/{id}`.
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(id)?;
    let p: DefenderPatch = json_body(&body_bytes(body)?)?;
    if let Some(c) = &p.comment {
        validate_comment(c, state.config.max_comment_chars)?;
    }
    let patch = IncidentPatch {
        status: p.status,
        assigned_to: p.assigned_to,
        classification: p.classification,
        determination: p.determination,
        tags: p.tags,
        ..Default::default()
    };
    let actor = caller.actor();
    if patch.is_empty() && p.comment.is_none() {
        return Err(ApiError::unprocessable("the patch changes nothing"));
    }
    if !patch.is_empty() {
        apply_patch(&state, id, &patch, &actor).await?;
    }
    if let Some(c) = &p.comment {
        state.store.add_comment(id, &actor, c).await?;
        state.list_cache.invalidate();
    }
    let d = state
        .store
        .get_incident(id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident", id))?;
    Ok(Json(incident(&d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &[(&str, &str)], expected: &str) {
        let p: Params = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let got = match odata_params(&p) {
            Ok((e, top, skip)) => format!("filter={} top={top} skip={skip}", e.is_some()),
            Err(e) => e.message,
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn odata_options() {
        check(&[], "filter=false top=100 skip=0");
        check(
            &[
                ("$top", "5"),
                ("$skip", "10"),
                ("$filter", "status eq 'Active'"),
            ],
            "filter=true top=5 skip=10",
        );
        check(
            &[("$top", "101")],
            "invalid parameter $top: \"101\" (0..=100)",
        );
        check(&[("$skip", "x")], "invalid parameter $skip: \"x\"");
        check(
            &[("$filter", "status eq")],
            "invalid parameter $filter: unexpected end of filter",
        );
        check(
            &[("$orderby", "createdTime")],
            "invalid parameter $orderby: unsupported query option",
        );
    }
}
