//! `/api/v1/automation/rules`: list, get, create, replace and delete automation rules. A rule
//! is checked by `rampart-automation` (an invalid one is a 422 naming the field and line), and
//! stored through the store, which audits every change in the same transaction as the
//! caller. The pipeline's automation worker reads them from the store.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rampart_automation::Rule;
use rampart_model::{AutomationObject, AUTOMATION_RULE};
use serde_json::{json, Value};

use crate::api::body_bytes;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorKind};
use crate::AppState;

/// A stored rule as the API answers it.
fn view(o: &AutomationObject) -> Result<Value, ApiError> {
    let rule: Rule = serde_json::from_value(o.body.clone()).map_err(ApiError::internal)?;
    Ok(json!({
        "name": o.name,
        "version": o.version,
        "created_at": o.created_at,
        "updated_at": o.updated_at,
        "updated_by": o.updated_by,
        "rule": rule,
    }))
}

/// The request body as a checked rule (JSON; the automation grammar decides what is valid).
fn rule_body(body: Result<Bytes, BytesRejection>) -> Result<Rule, ApiError> {
    let bytes = body_bytes(body)?;
    let text =
        std::str::from_utf8(&bytes).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
        return Err(ApiError::bad_request("malformed json"));
    }
    let rule = rampart_automation::parse_rule(text)
        .map_err(|e| ApiError::unprocessable(format!("invalid rule: {e}")))?;
    Ok(rule)
}

/// Refuse a rule whose `notify` names a webhook subscription that is not stored.
pub(crate) async fn check_notify(state: &AppState, rule: &Rule) -> Result<(), ApiError> {
    let known: Vec<String> = state
        .store
        .list_automation(rampart_model::AUTOMATION_WEBHOOK)
        .await?
        .into_iter()
        .map(|o| o.name)
        .collect();
    let unknown =
        rampart_pipeline::automation::unknown_webhooks(rule, |n| known.iter().any(|k| k == n));
    match unknown.first() {
        Some(n) => Err(ApiError::unprocessable(format!(
            "invalid rule: actions: notify names the webhook {n:?}, which does not exist (create it under /api/v1/webhooks first)"
        ))),
        None => Ok(()),
    }
}

/// Parse and check a document of store `kind` (YAML or JSON) as the API does, with the
/// kind's own parser: its name and the body to store. 422 names the field and line.
pub(crate) async fn checked(
    state: &AppState,
    kind: &str,
    text: &str,
) -> Result<(String, Value), ApiError> {
    match kind {
        AUTOMATION_RULE => {
            let rule = rampart_automation::parse_rule(text)
                .map_err(|e| ApiError::unprocessable(format!("invalid rule: {e}")))?;
            check_notify(state, &rule).await?;
            Ok((
                rule.name.clone(),
                serde_json::to_value(&rule).map_err(ApiError::internal)?,
            ))
        }
        rampart_model::AUTOMATION_PLAYBOOK => {
            let pb = rampart_automation::parse_playbook(text)
                .map_err(|e| ApiError::unprocessable(format!("invalid playbook: {e}")))?;
            Ok((
                pb.name.clone(),
                serde_json::to_value(&pb).map_err(ApiError::internal)?,
            ))
        }
        rampart_model::AUTOMATION_WEBHOOK => {
            let w = rampart_automation::parse_webhook(text)
                .map_err(|e| ApiError::unprocessable(format!("invalid webhook: {e}")))?;
            Ok((
                w.name.clone(),
                serde_json::to_value(&w).map_err(ApiError::internal)?,
            ))
        }
        other => Err(ApiError::internal(format!("no automation kind {other:?}"))),
    }
}

/// Store a new automation object of `kind` (`what` names it in errors: "automation rule",
/// "webhook", "playbook"): 409 when one of that name exists (PUT replaces it). Audited as
/// `actor` by the store.
pub(crate) async fn store_new(
    state: &AppState,
    kind: &str,
    what: &str,
    name: &str,
    object: &impl serde::Serialize,
    actor: &str,
) -> Result<AutomationObject, ApiError> {
    if state.store.get_automation(kind, name).await?.is_some() {
        return Err(ApiError::new(
            ErrorKind::Conflict,
            format!("{what} {name:?} exists (PUT replaces it)"),
        ));
    }
    let body = serde_json::to_value(object).map_err(ApiError::internal)?;
    let (o, _) = state.store.put_automation(kind, name, &body, actor).await?;
    Ok(o)
}

/// Create or replace the automation object of `kind` at the path's `name`: 422 when the
/// body's `body_name` differs (`what` as in "invalid rule"); the same object again changes
/// nothing.
pub(crate) async fn store_named(
    state: &AppState,
    kind: &str,
    what: &str,
    name: &str,
    body_name: &str,
    object: &impl serde::Serialize,
    actor: &str,
) -> Result<AutomationObject, ApiError> {
    if body_name != name {
        return Err(ApiError::unprocessable(format!(
            "invalid {what}: name: {body_name:?} differs from the path's {name:?}"
        )));
    }
    let body = serde_json::to_value(object).map_err(ApiError::internal)?;
    let (o, _) = state.store.put_automation(kind, name, &body, actor).await?;
    Ok(o)
}

/// `GET /api/v1/automation/rules`: every rule, in run order.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let mut items = Vec::new();
    for o in state.store.list_automation(AUTOMATION_RULE).await? {
        let order = o.body.get("order").and_then(Value::as_u64).unwrap_or(0);
        items.push((order, view(&o)?));
    }
    items.sort_by(|a, b| (a.0, a.1["name"].as_str()).cmp(&(b.0, b.1["name"].as_str())));
    Ok(Json(
        json!({"items": items.into_iter().map(|(_, v)| v).collect::<Vec<_>>()}),
    ))
}

/// `GET /api/v1/automation/rules/{name}`.
pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let o = state
        .store
        .get_automation(AUTOMATION_RULE, &name)
        .await?
        .ok_or_else(|| ApiError::not_found("automation rule", &name))?;
    Ok(Json(view(&o)?))
}

/// `POST /api/v1/automation/rules`: a new rule (409 when the name is taken).
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let rule = rule_body(body)?;
    check_notify(&state, &rule).await?;
    let o = store_new(
        &state,
        AUTOMATION_RULE,
        "automation rule",
        &rule.name,
        &rule,
        &caller.actor(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view(&o)?)).into_response())
}

/// `PUT /api/v1/automation/rules/{name}`: create or replace (the body's name must be the
/// path's); the same rule again changes nothing.
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let rule = rule_body(body)?;
    check_notify(&state, &rule).await?;
    let o = store_named(
        &state,
        AUTOMATION_RULE,
        "rule",
        &name,
        &rule.name,
        &rule,
        &caller.actor(),
    )
    .await?;
    Ok(Json(view(&o)?))
}

/// `DELETE /api/v1/automation/rules/{name}`.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .delete_automation(AUTOMATION_RULE, &name, &caller.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
