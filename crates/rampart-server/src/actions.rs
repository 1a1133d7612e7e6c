//! `/api/v1/actions`: containment actions. Every decision is `rampart-contain`'s; this module
//! only maps wire shapes to its requests and its refusals to status codes (403 not permitted,
//! 409 state, 422 protected / too wide / invalid), and the store applies and audits.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rampart_contain::{Person, Refusal, RefusalClass};
use rampart_model::action::{format_duration, parse_duration};
use rampart_model::{
    Action, ActionChange, ActionError, ActionFilter, ActionKind, ActionRequest, ActionScope,
    ActionStatus, RateLimit, Timestamp,
};
use serde::Deserialize;
use serde_json::Value;

use crate::api::{body_bytes, json_body, params, path_id, PageOut, Params};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorKind};
use crate::AppState;

/// A refusal as an API error of its class.
pub fn refusal(r: Refusal) -> ApiError {
    let kind = match r.class() {
        RefusalClass::Forbidden => ErrorKind::Forbidden,
        RefusalClass::Conflict => ErrorKind::Conflict,
        RefusalClass::Unprocessable => ErrorKind::Unprocessable,
    };
    ApiError::new(kind, r.to_string())
}

fn invalid(e: ActionError) -> ApiError {
    ApiError::unprocessable(e.to_string())
}

/// The `rate` of a `rate_limit` request: `{"requests": 100, "window": "1m"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateBody {
    requests: u32,
    window: String,
}

/// The body of `POST /api/v1/actions`. No `Debug`: it can hold a raw API key.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    kind: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    raw_key: Option<String>,
    #[serde(default)]
    scope: ActionScope,
    #[serde(default)]
    rate: Option<RateBody>,
    #[serde(default)]
    duration: Option<String>,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    incident_id: Option<i64>,
}

impl CreateBody {
    fn into_request(self) -> Result<ActionRequest, ApiError> {
        let mut req = action_request(
            &self.kind,
            self.target,
            self.rate.as_ref().map(|r| (r.requests, r.window.as_str())),
            self.duration.as_deref(),
            self.reason,
            self.incident_id,
        )?;
        req.raw_key = self.raw_key;
        req.scope = self.scope;
        Ok(req)
    }
}

/// An action request from its wire values: the kind's name, a rate as requests per a
/// Go-style window, a Go-style duration (`None` for the kind's default). Shared by the API
/// and the console's form; everything else is checked by `rampart-contain`.
pub fn action_request(
    kind: &str,
    target: String,
    rate: Option<(u32, &str)>,
    duration: Option<&str>,
    reason: String,
    incident_id: Option<i64>,
) -> Result<ActionRequest, ApiError> {
    let kind: ActionKind = kind
        .parse()
        .map_err(|e: rampart_model::ModelError| ApiError::unprocessable(e.to_string()))?;
    let rate = rate
        .map(|(requests, window)| {
            parse_duration(window).map(|w| RateLimit {
                requests,
                window_secs: w,
            })
        })
        .transpose()
        .map_err(invalid)?;
    let duration_secs = duration.map(parse_duration).transpose().map_err(invalid)?;
    Ok(ActionRequest {
        kind,
        target,
        raw_key: None,
        scope: ActionScope::default(),
        rate,
        duration_secs,
        reason,
        incident_id,
    })
}

/// An action as answered: the stored record plus its `duration` as a Go-style string.
fn wire(a: &Action) -> Result<Value, ApiError> {
    let mut v = serde_json::to_value(a).map_err(ApiError::internal)?;
    if let Value::Object(m) = &mut v {
        m.insert(
            "duration".into(),
            Value::String(format_duration(a.action.duration_secs)),
        );
    }
    Ok(v)
}

fn person(caller: &Caller) -> (String, rampart_model::Role) {
    (caller.actor(), caller.role)
}

/// `POST /api/v1/actions`: plan through `rampart-contain`, store (audited), 201.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body: CreateBody = json_body(&body_bytes(body)?)?;
    let action = create_action(&state, &caller, body.into_request()?).await?;
    Ok((StatusCode::CREATED, Json(wire(&action)?)).into_response())
}

/// Create an action for `caller`: the one path every containment request takes (the API and
/// the console). A raw key becomes its identity, `rampart-contain` plans it (permission,
/// protected targets, width, duration, approval), the store keeps it (audited) and this node
/// enforces it before returning.
pub async fn create_action(
    state: &AppState,
    caller: &Caller,
    req: ActionRequest,
) -> Result<Action, ApiError> {
    let secret = &state.decode.api_key_secret;
    let req = req
        .resolve_raw_key(|raw| rampart_decode::api_key_id(secret, raw))
        .map_err(invalid)?;
    let (actor, role) = person(caller);
    let new = rampart_contain::plan(
        &req,
        Person {
            actor: &actor,
            role,
        },
        &state.contain,
        Timestamp::now(),
    )
    .map_err(refusal)?;
    if let Some(incident) = new.incident_id {
        if state.store.get_incident(incident).await?.is_none() {
            return Err(ApiError::unprocessable(format!(
                "incident {incident} not found"
            )));
        }
    }
    let action = state.store.create_action(&new, &actor).await?;
    state.actions_changed(std::slice::from_ref(&action)).await;
    rampart_pipeline::webhooks::action_event(
        &*state.store,
        state.pipeline.deliveries_enqueued(),
        rampart_automation::webhook::Event::ActionCreated,
        &action,
        &actor,
    )
    .await;
    tracing::info!(
        action = action.id,
        kind = %action.action.kind,
        status = %action.status(),
        actor = %actor,
        "containment action created"
    );
    Ok(action)
}

/// `GET /api/v1/actions?status=&incident_id=&limit=&offset=`, newest first.
pub async fn list(
    State(state): State<AppState>,
    q: Result<Query<Params>, QueryRejection>,
) -> Result<Json<PageOut<Value>>, ApiError> {
    let mut f = ActionFilter::default();
    for (k, v) in params(q)? {
        match k.as_str() {
            "status" => {
                f.status = Some(
                    v.parse::<ActionStatus>()
                        .map_err(|_| ApiError::bad_param(&k, format!("{v:?}")))?,
                )
            }
            "incident_id" => {
                f.incident_id = Some(
                    v.parse()
                        .map_err(|_| ApiError::bad_param(&k, format!("{v:?}")))?,
                )
            }
            "requested_by" => f.requested_by = Some(v),
            "limit" => match v.parse::<u32>() {
                Ok(n) if (1..=1000).contains(&n) => f.limit = Some(n),
                _ => return Err(ApiError::bad_param(&k, format!("{v:?} (1..=1000)"))),
            },
            "offset" => {
                f.offset = Some(
                    v.parse()
                        .map_err(|_| ApiError::bad_param(&k, format!("{v:?}")))?,
                )
            }
            _ => return Err(ApiError::bad_param(&k, "unknown parameter")),
        }
    }
    let limit = *f.limit.get_or_insert(100);
    let offset = *f.offset.get_or_insert(0);
    let page = state.store.list_actions(&f).await?;
    Ok(Json(PageOut {
        items: page.items.iter().map(wire).collect::<Result<_, _>>()?,
        total: page.total,
        limit,
        offset,
    }))
}

async fn load(state: &AppState, id: i64) -> Result<Action, ApiError> {
    state
        .store
        .get_action(id)
        .await?
        .ok_or_else(|| ApiError::not_found("action", id))
}

/// `GET /api/v1/actions/{id}`.
pub async fn get(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(id)?;
    Ok(Json(wire(&load(&state, id).await?)?))
}

/// `POST /api/v1/actions/{id}/approve`: by another person than the requester; a
/// compare-and-set in the store, so of two approvals racing one gets 409.
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(id)?;
    Ok(Json(wire(&approve_action(&state, &caller, id).await?)?))
}

/// Approve action `id` as `caller` (`rampart_contain::approve`: another person with
/// `approve`), store the change (audited) and enforce it before returning.
pub async fn approve_action(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<Action, ApiError> {
    change_action(state, caller, id, |action, by| {
        rampart_contain::approve(action, by, Timestamp::now())
    })
    .await
}

/// Load action `id`, let `decide` (a `rampart-contain` rule) turn it and `caller` into a
/// change, apply it in the store as a compare-and-set on the status it had (audited), and
/// apply it to this node's enforcement before returning it.
async fn change_action(
    state: &AppState,
    caller: &Caller,
    id: i64,
    decide: impl FnOnce(&Action, Person<'_>) -> Result<ActionChange, Refusal>,
) -> Result<Action, ApiError> {
    let action = load(state, id).await?;
    let (actor, role) = person(caller);
    let by = Person {
        actor: &actor,
        role,
    };
    let change = decide(&action, by).map_err(refusal)?;
    let done = state
        .store
        .update_action_state(id, action.status(), &change, &actor)
        .await?;
    state.actions_changed(std::slice::from_ref(&done)).await;
    rampart_pipeline::webhooks::action_event(
        &*state.store,
        state.pipeline.deliveries_enqueued(),
        rampart_automation::webhook::Event::ActionChanged,
        &done,
        &actor,
    )
    .await;
    Ok(done)
}

/// The body of `POST /api/v1/actions/{id}/revert`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevertBody {
    reason: String,
}

/// `POST /api/v1/actions/{id}/revert` `{"reason": "..."}`: one's own with `revert_own`,
/// anyone's with `revert_any`.
pub async fn revert(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(id)?;
    let body: RevertBody = json_body(&body_bytes(body)?)?;
    Ok(Json(wire(
        &revert_action(&state, &caller, id, &body.reason).await?,
    )?))
}

/// Revert action `id` as `caller` with `reason` (`rampart_contain::revert`: one's own with
/// `revert_own`, anyone's with `revert_any`), store the change (audited) and stop enforcing
/// it before returning.
pub async fn revert_action(
    state: &AppState,
    caller: &Caller,
    id: i64,
    reason: &str,
) -> Result<Action, ApiError> {
    change_action(state, caller, id, |action, by| {
        rampart_contain::revert(action, by, reason, Timestamp::now())
    })
    .await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct UndoBody {
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /api/v1/incidents/{id}/disruption/undo` `{"reason": "..."}` (optional): revert every
/// active or pending action attack disruption took on the incident, in one click. Each
/// revert is `rampart-contain`'s (the caller needs `revert_any`: the actions are the
/// policies'), audited, and out of enforcement before the answer.
pub async fn undo_disruption(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let incident = path_id(id)?;
    let bytes = body_bytes(body)?;
    let body: UndoBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        UndoBody::default()
    } else {
        json_body(&bytes)?
    };
    let reason = body
        .reason
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| "attack disruption undone".to_string());
    let reverted = undo_disruption_of(&state, &caller, incident, &reason).await?;
    Ok(Json(serde_json::json!({
        "reverted": reverted.iter().map(wire).collect::<Result<Vec<_>, _>>()?,
    })))
}

/// Revert every active or pending action of `incident` requested by a disruption policy, as
/// `caller`; the reverted actions. The incident must exist.
pub async fn undo_disruption_of(
    state: &AppState,
    caller: &Caller,
    incident: i64,
    reason: &str,
) -> Result<Vec<Action>, ApiError> {
    if state.store.get_incident(incident).await?.is_none() {
        return Err(ApiError::not_found("incident", incident));
    }
    let page = state
        .store
        .list_actions(&ActionFilter {
            incident_id: Some(incident),
            requested_by: Some(rampart_contain::disruption::ACTOR_PREFIX.to_string()),
            limit: Some(1000),
            ..ActionFilter::default()
        })
        .await?;
    let mut out = Vec::new();
    for a in page.items.iter().filter(|a| !a.status().is_final()) {
        out.push(revert_action(state, caller, a.id, reason).await?);
    }
    Ok(out)
}

/// The actions of one incident, as answered (for `GET /api/v1/incidents/{id}`).
pub async fn of_incident(state: &AppState, incident: i64) -> Result<Vec<Value>, ApiError> {
    let page = state
        .store
        .list_actions(&ActionFilter {
            incident_id: Some(incident),
            limit: Some(1000),
            ..ActionFilter::default()
        })
        .await?;
    page.items.iter().map(wire).collect()
}
