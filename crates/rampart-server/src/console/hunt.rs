//! The console's hunting page: `GET /hunt` runs the query of its form (`q`, `range`, `from`,
//! `to`) or of a saved query (`saved`) with the page's row limit, and lists the saved
//! queries; `POST /hunt/queries` saves the form's query (optionally as a custom detection),
//! checked as `POST /api/v1/hunt/queries` checks it and stored the same way (audited); `POST
//! /hunt/queries/{name}/delete` deletes one. Every route needs `hunt`.

use std::time::Instant;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use rampart_console::hunt::{DetectionForm, HuntView, QueryError, Results, SavedRow, MAX_ROWS};
use rampart_hunt::plan::{plan, Options};
use rampart_hunt::saved::{Detection, EntityMap, SavedQuery, KIND};
use rampart_model::Timestamp;

use super::{field, form, html_page, ok_page, viewer, PageError};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;

fn type_name(t: rampart_hunt::schema::Type) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{t:?}").to_lowercase())
}

/// The range of the form: `(from, to)` in ms, or why it is not one.
fn range(
    now: i64,
    range: &str,
    from: &str,
    to: &str,
) -> Result<(Option<i64>, Option<i64>), String> {
    let at = |name: &str, s: &str| -> Result<Option<i64>, String> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        Timestamp::parse_rfc3339(s)
            .map(|t| Some(t.millis()))
            .ok_or_else(|| format!("{name}: {s:?} is not an RFC 3339 time"))
    };
    match range {
        "custom" => Ok((at("from", from)?, at("to", to)?)),
        "" => Ok((None, None)),
        r => {
            let secs = rampart_model::action::parse_duration(r).map_err(|e| e.to_string())?;
            Ok((Some(now - secs as i64 * 1000), None))
        }
    }
}

/// Plan and run `query` for the page.
async fn execute(
    state: &AppState,
    caller: &Caller,
    query: &str,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<Results, QueryError> {
    let opts = Options {
        from,
        to,
        limit: Some(MAX_ROWS),
        ..Options::at(Timestamp::now().millis())
    };
    let p = plan(query, &opts).map_err(|e| QueryError {
        message: e.to_string(),
        position: Some(e.position()),
    })?;
    let started = Instant::now();
    let rows = state
        .store
        .hunt(&p, crate::hunt::TIMEOUT)
        .await
        .map_err(|e| QueryError {
            message: ApiError::from(e).message,
            position: None,
        })?;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    tracing::info!(actor = %caller.actor(), rows = rows.rows.len(), elapsed_ms, query = %query, "hunt (console)");
    Ok(Results {
        columns: rows
            .columns
            .iter()
            .map(|c| (c.name.clone(), type_name(c.ty)))
            .collect(),
        rows: rows.rows,
        truncated: rows.truncated,
        elapsed_ms,
    })
}

fn detection_form(d: Option<&Detection>) -> DetectionForm {
    match d {
        None => DetectionForm::default(),
        Some(d) => DetectionForm {
            enabled: d.enabled,
            schedule: d.schedule.clone(),
            window: d.window.clone().unwrap_or_else(|| d.schedule.clone()),
            severity: d.severity.as_str().to_string(),
            mitre: d.mitre.join(", "),
            title: d.title.clone(),
            entities: d
                .entities
                .iter()
                .map(|m| format!("{}={}", m.column, m.kind.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
        },
    }
}

async fn saved_rows(state: &AppState) -> Result<Vec<SavedRow>, PageError> {
    let runs = state.store.detection_runs().await?;
    let saved = crate::detections::saved_queries(state).await?;
    Ok(saved
        .into_iter()
        .map(|(o, q)| {
            let last_run = q.detection.as_ref().and_then(|_| {
                let r = runs.iter().find(|r| r.name == q.name)?;
                let o = &r.outcome;
                Some(
                    match (r.finished_at, o.get("error").and_then(|e| e.as_str())) {
                        (None, _) => format!("running since {}", r.started_at),
                        (Some(_), Some(e)) => format!("{}: failed: {e}", r.slot),
                        (Some(_), None) => format!(
                            "{}: {} rows, {} new alerts",
                            r.slot,
                            o["rows"].as_u64().unwrap_or(0),
                            o["alerts"].as_u64().unwrap_or(0)
                        ),
                    },
                )
            });
            SavedRow {
                detection: q.detection.as_ref().map(|d| {
                    (
                        format!(
                            "every {} over {} · {}",
                            d.schedule,
                            d.window.as_deref().unwrap_or(&d.schedule),
                            d.severity.as_str()
                        ),
                        d.enabled,
                    )
                }),
                last_run,
                updated: format!("{} by {}", o.updated_at, o.updated_by),
                name: q.name,
                description: q.description,
                query: q.query,
            }
        })
        .collect())
}

fn done(what: &str) -> Option<(String, String)> {
    match what {
        "saved" => Some(("ok".into(), "Saved.".into())),
        "deleted" => Some(("ok".into(), "Deleted.".into())),
        _ => None,
    }
}

/// `GET /hunt`.
pub async fn page(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let q = form(raw.as_deref().unwrap_or("").as_bytes());
    let get = |k: &str| field(&q, k).unwrap_or("").to_string();
    let mut view = HuntView {
        query: get("q"),
        range: get("range"),
        from: get("from"),
        to: get("to"),
        flash: done(&get("done")),
        ..HuntView::default()
    };
    let saved_name = get("saved");
    if !saved_name.is_empty() {
        let o = state
            .store
            .get_automation(KIND, &saved_name)
            .await?
            .ok_or_else(|| ApiError::not_found("saved query", &saved_name))?;
        let s: SavedQuery = serde_json::from_value(o.body).map_err(ApiError::internal)?;
        if view.query.is_empty() {
            view.query = s.query.clone();
        }
        view.name = s.name;
        view.description = s.description;
        view.detection = detection_form(s.detection.as_ref());
        if view.range.is_empty() {
            if let Some(d) = &s.detection {
                view.range = d.window.clone().unwrap_or_else(|| d.schedule.clone());
            }
        }
    }
    if view.range.is_empty() {
        view.range = "24h".into();
    }
    if !view.query.trim().is_empty() {
        let now = Timestamp::now().millis();
        view.outcome = Some(match range(now, &view.range, &view.from, &view.to) {
            Ok((from, to)) => execute(&state, &caller, &view.query, from, to).await,
            Err(message) => Err(QueryError {
                message,
                position: None,
            }),
        });
    }
    view.saved = saved_rows(&state).await?;
    Ok(ok_page(rampart_console::hunt::hunt_page(
        &viewer(&caller),
        &view,
    )))
}

/// The saved query a form describes, or what is wrong with it.
fn from_form(f: &[(String, String)]) -> Result<SavedQuery, String> {
    let get = |k: &str| field(f, k).unwrap_or("").trim().to_string();
    let detection = if field(f, "detect") == Some("on") {
        let mut entities = Vec::new();
        for part in get("entities")
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let (column, kind) = part
                .split_once('=')
                .ok_or_else(|| format!("entities: {part:?} is not Column=kind"))?;
            entities.push(EntityMap {
                column: column.trim().to_string(),
                kind: kind
                    .trim()
                    .parse()
                    .map_err(|_| format!("entities: {:?} is no entity kind", kind.trim()))?,
                role: None,
            });
        }
        Some(Detection {
            enabled: true,
            schedule: get("schedule"),
            window: Some(get("window")).filter(|w| !w.is_empty()),
            severity: get("severity")
                .parse()
                .map_err(|_| format!("severity: {:?} is no severity", get("severity")))?,
            mitre: get("mitre")
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
            title: get("title"),
            entities,
        })
    } else {
        None
    };
    let q = SavedQuery {
        name: get("name"),
        description: get("description"),
        query: field(f, "query").unwrap_or("").to_string(),
        detection,
    };
    q.check(Timestamp::now().millis())
        .map_err(|e| match e.position {
            Some(p) => format!("{e} (query byte {p})"),
            None => e.to_string(),
        })?;
    Ok(q)
}

/// `POST /hunt/queries`: save (create or replace by name) the form's query.
pub async fn save(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let f = form(&body);
    match from_form(&f) {
        Ok(q) => {
            let v = serde_json::to_value(&q).map_err(ApiError::internal)?;
            state
                .store
                .put_automation(KIND, &q.name, &v, &caller.actor())
                .await?;
            Ok(Redirect::to(&format!(
                "/hunt?saved={}&done=saved",
                rampart_console::fmt::enc(&q.name)
            ))
            .into_response())
        }
        Err(message) => {
            let get = |k: &str| field(&f, k).unwrap_or("").to_string();
            let view = HuntView {
                query: get("query"),
                range: "24h".into(),
                name: get("name"),
                description: get("description"),
                detection: DetectionForm {
                    enabled: get("detect") == "on",
                    schedule: get("schedule"),
                    window: get("window"),
                    severity: get("severity"),
                    mitre: get("mitre"),
                    title: get("title"),
                    entities: get("entities"),
                },
                flash: Some(("err".into(), format!("Not saved: {message}"))),
                saved: saved_rows(&state).await?,
                ..HuntView::default()
            };
            Ok(html_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                rampart_console::hunt::hunt_page(&viewer(&caller), &view),
            ))
        }
    }
}

/// `POST /hunt/queries/{name}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let Path(name) =
        path.map_err(|e| ApiError::bad_request(format!("malformed path: {}", e.body_text())))?;
    state
        .store
        .delete_automation(KIND, &name, &caller.actor())
        .await?;
    Ok(Redirect::to("/hunt?done=deleted").into_response())
}
