//! Recovery: the containment block of an incident (`rampart_contain::recovery::assess`) and
//! its task checklist (`/api/v1/incidents/{id}/tasks`). Decisions are `rampart-contain`'s;
//! this module reads what they need from the store and maps wire shapes.
//!
//! Reading the tasks never writes: the checklist is seeded by
//! `POST /api/v1/incidents/{id}/tasks/seed` (idempotent: a task already there by kind and
//! entity is not added again), which a responder calls when recovery starts, and again after
//! new alerts joined the incident.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rampart_contain::recovery::{self, Containment};
use rampart_model::task::{MAX_TASK_DETAIL_CHARS, MAX_TASK_TITLE_CHARS};
use rampart_model::{
    Action, ActionFilter, ActionStatus, EntityActivity, IncidentDetail, NewTask, Task, TaskKind,
    Timestamp,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{body_bytes, json_body, path_id};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;

/// Endpoints read per actor for a `review_access` task (it lists the first 50 and counts the
/// rest).
const REVIEW_ENDPOINTS: u32 = 1000;

/// Incident `id` with its alerts and comments, or 404.
pub async fn detail(state: &AppState, id: i64) -> Result<IncidentDetail, ApiError> {
    state
        .store
        .get_incident(id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident", id))
}

/// The actions of incident `id`, newest first (at most 1000).
pub async fn incident_actions(state: &AppState, id: i64) -> Result<Vec<Action>, ApiError> {
    Ok(state
        .store
        .list_actions(&ActionFilter {
            incident_id: Some(id),
            limit: Some(1000),
            ..ActionFilter::default()
        })
        .await?
        .items)
}

/// The containment of an incident now: its attacker entities with the incident's actions and
/// any other active action that covers them, their activity from the stored events, the
/// verdict over the configured quiet period (`[contain] quiet_period`).
pub async fn containment(state: &AppState, d: &IncidentDetail) -> Result<Containment, ApiError> {
    let mut actions = incident_actions(state, d.incident.id).await?;
    let active = state
        .store
        .list_actions(&ActionFilter {
            status: Some(ActionStatus::Active),
            limit: Some(1000),
            ..ActionFilter::default()
        })
        .await?;
    for a in active.items {
        if !actions.iter().any(|x| x.id == a.id) {
            actions.push(a);
        }
    }
    let mut activity: HashMap<(rampart_model::EntityKind, String), EntityActivity> = HashMap::new();
    for e in recovery::attacker_entities(&d.incident) {
        let act = state.store.entity_activity(e).await?;
        activity.insert((e.kind, e.value.clone()), act);
    }
    Ok(recovery::assess(
        &d.incident,
        &d.alerts,
        &actions,
        |e| {
            activity
                .get(&(e.kind, e.value.clone()))
                .copied()
                .unwrap_or_default()
        },
        Timestamp::now(),
        state.contain.quiet_period_secs,
    ))
}

/// `GET /api/v1/incidents/{id}/containment`: the containment block alone.
pub async fn get_containment(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Containment>, ApiError> {
    let id = path_id(id)?;
    let d = detail(&state, id).await?;
    Ok(Json(containment(&state, &d).await?))
}

/// Rebuild the pipeline's reappearance watch after an action changed on this node, so the
/// change is watched when the answer is sent (a failure is logged: the periodic rebuild
/// catches up).
pub async fn refresh_watch(state: &AppState, changed: &[rampart_model::Action]) {
    if let Err(e) = state.pipeline.watch().apply(&*state.store, changed).await {
        tracing::warn!(error = %e, "rebuilding the reappearance watch failed");
    }
}

fn items(tasks: Vec<Task>) -> Value {
    json!({ "items": tasks })
}

/// `GET /api/v1/incidents/{id}/tasks`: the checklist, oldest first. Never writes.
pub async fn list_tasks(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(id)?;
    detail(&state, id).await?;
    Ok(Json(items(state.store.list_tasks(id).await?)))
}

/// `POST /api/v1/incidents/{id}/tasks/seed`: add the tasks derived from what was attacked
/// (`rampart_contain::recovery::seed_tasks`) that the incident does not have yet; answers the
/// whole checklist and how many tasks were added.
pub async fn seed_tasks(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(id)?;
    let created = seed(&state, id, &caller.actor()).await?;
    let mut v = items(state.store.list_tasks(id).await?);
    v["created"] = json!(created.len());
    Ok(Json(v))
}

/// Add the tasks derived from what was attacked that incident `id` does not have yet (by
/// `actor`, audited), for the API and the console: the tasks added.
pub async fn seed(state: &AppState, id: i64, actor: &str) -> Result<Vec<Task>, ApiError> {
    let d = detail(state, id).await?;
    let actions = incident_actions(state, id).await?;
    let mut accessed = Vec::new();
    for e in recovery::attacker_entities(&d.incident) {
        let access = state
            .store
            .actor_access(e, d.incident.first_activity, REVIEW_ENDPOINTS)
            .await?;
        accessed.push((e.clone(), access));
    }
    let tasks = recovery::seed_tasks(&d.incident, &actions, &accessed);
    Ok(state
        .store
        .create_tasks(id, &tasks, actor, Timestamp::now())
        .await?)
}

/// The body of `POST /api/v1/incidents/{id}/tasks`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTaskBody {
    title: String,
    #[serde(default)]
    detail: String,
}

fn check_text(what: &str, s: &str, max: usize, required: bool) -> Result<(), ApiError> {
    if required && s.trim().is_empty() {
        return Err(ApiError::unprocessable(format!("{what} is empty")));
    }
    if s.chars().count() > max {
        return Err(ApiError::unprocessable(format!(
            "{what} is longer than {max} characters"
        )));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(ApiError::unprocessable(format!(
            "{what} has control characters"
        )));
    }
    Ok(())
}

/// `POST /api/v1/incidents/{id}/tasks` `{"title": "...", "detail": "..."}`: a custom task, 201.
pub async fn create_task(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    let body: NewTaskBody = json_body(&body_bytes(body)?)?;
    let task = add_task(&state, id, &caller.actor(), &body.title, body.detail).await?;
    Ok((StatusCode::CREATED, Json(task)).into_response())
}

/// Check and store a custom task of incident `id` by `actor` (audited), for the API and the
/// console.
pub async fn add_task(
    state: &AppState,
    id: i64,
    actor: &str,
    title: &str,
    detail: String,
) -> Result<Task, ApiError> {
    check_text("title", title, MAX_TASK_TITLE_CHARS, true)?;
    check_text("detail", &detail, MAX_TASK_DETAIL_CHARS, false)?;
    let task = NewTask {
        kind: TaskKind::Custom,
        title: title.trim().to_string(),
        detail,
        entity: None,
    };
    let mut made = state
        .store
        .create_tasks(id, &[task], actor, Timestamp::now())
        .await?;
    made.pop()
        .ok_or_else(|| ApiError::internal("custom task not stored"))
}

/// The body of `POST /api/v1/incidents/{id}/tasks/{task_id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DoneBody {
    done: bool,
}

/// `POST /api/v1/incidents/{id}/tasks/{task_id}` `{"done": true|false}`: tick a task off or on
/// again (audited); a task of another incident is 404.
pub async fn set_done(
    State(state): State<AppState>,
    caller: Caller,
    ids: Result<Path<(i64, i64)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Task>, ApiError> {
    let (id, task_id) = ids
        .map(|Path(p)| p)
        .map_err(|_| ApiError::bad_param("id", "not an integer"))?;
    let body: DoneBody = json_body(&body_bytes(body)?)?;
    Ok(Json(
        state
            .store
            .set_task_done(id, task_id, body.done, &caller.actor(), Timestamp::now())
            .await?,
    ))
}
