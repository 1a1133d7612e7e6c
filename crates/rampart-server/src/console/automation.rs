//! The console's automation pages: the overview (`/automation`), one YAML editor per rule,
//! playbook and webhook (checked by the parser the API and `rampart automation apply` use,
//! stored through the same [`crate::automation::store_new`] / `store_named`, audited as the
//! user), a webhook's deliveries with the dead-letter retry, the suppression rule pre-filled
//! from an incident, and the incident page's playbook forms (run, approve, cancel: the API's
//! functions).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use rampart_console::automation::{self as page, EditorView, Kind, OverviewView, RunView};
use rampart_model::{
    AutomationObject, DeliveryFilter, DeliveryStatus, RunSubject, Timestamp, AUTOMATION_PLAYBOOK,
    AUTOMATION_RULE, AUTOMATION_WEBHOOK,
};
use serde_json::Value;

use super::{back, field, form, html_page, ok_page, viewer, PageError};
use crate::api::path_id;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorKind};
use crate::AppState;

/// Deliveries shown on a webhook's page.
pub const DELIVERY_ROWS: u32 = 100;
/// Dead letters counted per webhook on the overview (more show as this many).
pub const DEAD_COUNTED: u32 = 1000;
/// Runs shown on an incident's playbooks tab.
pub const RUN_ROWS: u32 = 50;

fn kind_of(segment: &str) -> Result<Kind, ApiError> {
    Kind::parse(segment).ok_or_else(|| {
        ApiError::new(
            ErrorKind::NotFound,
            format!("no automation kind {segment:?} (rules, playbooks, webhooks)"),
        )
    })
}

fn bad_path(e: PathRejection) -> PageError {
    ApiError::bad_request(format!("malformed path: {}", e.body_text())).into()
}

/// The fixed message of a `done=` code (never text from the URL).
fn done(raw: &str) -> Option<&'static str> {
    const KNOWN: &[(&str, &str)] = &[
        ("created", "Created."),
        ("saved", "Saved."),
        ("deleted", "Deleted."),
        (
            "retried",
            "Dead letter queued again: it is sent within a second.",
        ),
    ];
    form_urlencoded::parse(raw.as_bytes())
        .find(|(k, _)| k == "done")
        .and_then(|(_, v)| KNOWN.iter().find(|(c, _)| *c == v).map(|(_, m)| *m))
}

/// `GET /automation`: rules in run order, playbooks, webhooks with their dead letters.
pub async fn overview(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let (rules, playbooks, hooks) = tokio::join!(
        state.store.list_automation(AUTOMATION_RULE),
        state.store.list_automation(AUTOMATION_PLAYBOOK),
        state.store.list_automation(AUTOMATION_WEBHOOK),
    );
    let mut rules = rules?;
    rules.sort_by(|a, b| {
        let order = |o: &AutomationObject| o.body.get("order").and_then(Value::as_u64);
        (order(a), &a.name).cmp(&(order(b), &b.name))
    });
    let mut webhooks = Vec::new();
    for o in hooks? {
        let dead = state
            .store
            .list_deliveries(&DeliveryFilter {
                webhook: Some(o.name.clone()),
                status: Some(DeliveryStatus::Dead),
                limit: Some(DEAD_COUNTED),
            })
            .await?
            .len();
        webhooks.push((o, dead));
    }
    Ok(ok_page(page::overview(
        &viewer(&caller),
        &OverviewView {
            rules: &rules,
            playbooks: &playbooks?,
            webhooks: &webhooks,
            now: Timestamp::now(),
            flash: done(raw.as_deref().unwrap_or("")),
        },
    )))
}

/// The stored object as the YAML the editor shows.
fn yaml_of(o: &AutomationObject) -> String {
    serde_yaml::to_string(&o.body).unwrap_or_default()
}

/// An editor page answered with `status`.
async fn editor_page(
    state: &AppState,
    caller: &Caller,
    status: StatusCode,
    view: EditorArgs<'_>,
) -> Result<Response, PageError> {
    let deliveries = match (view.kind, view.object) {
        (Kind::Webhook, Some(o)) => {
            state
                .store
                .list_deliveries(&DeliveryFilter {
                    webhook: Some(o.name.clone()),
                    status: view.status,
                    limit: Some(DELIVERY_ROWS),
                })
                .await?
        }
        _ => Vec::new(),
    };
    Ok(html_page(
        status,
        page::editor(
            &viewer(caller),
            &EditorView {
                kind: view.kind,
                object: view.object,
                text: view.text,
                error: view.error,
                flash: view.flash,
                deliveries: &deliveries,
                status: view.status,
            },
        ),
    ))
}

struct EditorArgs<'a> {
    kind: Kind,
    object: Option<&'a AutomationObject>,
    text: &'a str,
    error: Option<&'a str>,
    flash: Option<&'static str>,
    status: Option<DeliveryStatus>,
}

/// `GET /automation/{kind}/new` (`?from_incident=ID` for rules: the suppression rule made
/// from that incident).
pub async fn new_object(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let Path(segment) = path.map_err(bad_path)?;
    let kind = kind_of(&segment)?;
    let from = form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "from_incident")
        .map(|(_, v)| {
            v.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("from_incident {v:?} is not a number")))
        })
        .transpose()?;
    let text = match (kind, from) {
        (Kind::Rule, Some(id)) => suppression_yaml(&state, id).await?,
        (_, Some(_)) => return Err(ApiError::bad_request("from_incident makes rules only").into()),
        (_, None) => kind.template().to_string(),
    };
    editor_page(
        &state,
        &caller,
        StatusCode::OK,
        EditorArgs {
            kind,
            object: None,
            text: &text,
            error: None,
            flash: None,
            status: None,
        },
    )
    .await
}

/// The suppression rule of incident `id`, as YAML with a comment saying what it does.
async fn suppression_yaml(state: &AppState, id: i64) -> Result<String, ApiError> {
    let d = crate::recovery::detail(state, id).await?;
    let detectors: Vec<&str> = d.alerts.iter().map(|a| a.draft.detector.as_str()).collect();
    let expires = Timestamp(
        Timestamp::now().millis() + rampart_automation::suppression::DEFAULT_DAYS * 86_400_000,
    );
    let rule =
        rampart_automation::suppression::from_incident(&d.incident, &detectors, expires, None);
    Ok(rampart_automation::suppression::to_yaml(
        &rule,
        &format!(
            "A suppression rule made from incident #{id}: new incidents raised by the same detectors\n\
             and naming one of its actors are resolved as expected activity until it expires.\n\
             Narrow or widen it before saving; the expiry is {} days from now.",
            rampart_automation::suppression::DEFAULT_DAYS
        ),
    ))
}

/// `GET /automation/{kind}/{name}` (`?status=` filters a webhook's deliveries).
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let Path((segment, name)) = path.map_err(bad_path)?;
    let kind = kind_of(&segment)?;
    let raw = raw.unwrap_or_default();
    let mut status = None;
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        if k == "status" && !v.is_empty() {
            status = Some(v.parse::<DeliveryStatus>().map_err(|_| {
                ApiError::bad_request(format!("status {v:?}: pending, delivered or dead"))
            })?);
        }
    }
    let o = state
        .store
        .get_automation(kind.store_kind(), &name)
        .await?
        .ok_or_else(|| ApiError::not_found(kind.noun(), &name))?;
    let text = yaml_of(&o);
    editor_page(
        &state,
        &caller,
        StatusCode::OK,
        EditorArgs {
            kind,
            object: Some(&o),
            text: &text,
            error: None,
            flash: done(&raw),
            status,
        },
    )
    .await
}

/// Check `text` as the API does and store it (new when `name` is `None`).
async fn store_text(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    name: Option<&str>,
    text: &str,
) -> Result<AutomationObject, ApiError> {
    let (doc_name, body) = crate::automation::checked(state, kind.store_kind(), text).await?;
    let actor = caller.actor();
    match name {
        None => {
            crate::automation::store_new(
                state,
                kind.store_kind(),
                kind.noun(),
                &doc_name,
                &body,
                &actor,
            )
            .await
        }
        Some(n) => {
            crate::automation::store_named(
                state,
                kind.store_kind(),
                kind.noun(),
                n,
                &doc_name,
                &body,
                &actor,
            )
            .await
        }
    }
}

/// A refused document: the editor again, with the text sent and the reason (422, 409).
async fn refused(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    object: Option<&AutomationObject>,
    text: &str,
    e: ApiError,
) -> Result<Response, PageError> {
    if !matches!(e.kind, ErrorKind::Unprocessable | ErrorKind::Conflict) {
        return Err(e.into());
    }
    editor_page(
        state,
        caller,
        e.kind.status(),
        EditorArgs {
            kind,
            object,
            text,
            error: Some(&e.message),
            flash: None,
            status: None,
        },
    )
    .await
}

/// `POST /automation/{kind}` (`text`): create.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let Path(segment) = path.map_err(bad_path)?;
    let kind = kind_of(&segment)?;
    let f = form(&body);
    let text = field(&f, "text").unwrap_or("");
    match store_text(&state, &caller, kind, None, text).await {
        Ok(o) => Ok(
            Redirect::to(&format!("{}?done=created", page::href(kind, &o.name))).into_response(),
        ),
        Err(e) => refused(&state, &caller, kind, None, text, e).await,
    }
}

/// `POST /automation/{kind}/{name}` (`text`): replace (a new version when it changed).
pub async fn save(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let Path((segment, name)) = path.map_err(bad_path)?;
    let kind = kind_of(&segment)?;
    let f = form(&body);
    let text = field(&f, "text").unwrap_or("");
    match store_text(&state, &caller, kind, Some(&name), text).await {
        Ok(o) => {
            Ok(Redirect::to(&format!("{}?done=saved", page::href(kind, &o.name))).into_response())
        }
        Err(e) => {
            let current = state.store.get_automation(kind.store_kind(), &name).await?;
            refused(&state, &caller, kind, current.as_ref(), text, e).await
        }
    }
}

/// `POST /automation/{kind}/{name}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, PageError> {
    let Path((segment, name)) = path.map_err(bad_path)?;
    let kind = kind_of(&segment)?;
    state
        .store
        .delete_automation(kind.store_kind(), &name, &caller.actor())
        .await?;
    Ok(Redirect::to("/automation?done=deleted").into_response())
}

/// `POST /webhook-deliveries/{id}/retry`: send a dead letter again; back to its webhook.
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Response, PageError> {
    let id = path_id(id)?;
    let d = crate::webhook::retry_delivery(&state, &caller, id).await?;
    Ok(Redirect::to(&format!(
        "{}?status=dead&done=retried#deliveries",
        page::href(Kind::Webhook, &d.webhook)
    ))
    .into_response())
}

/// The runs of incident `id` with their step logs and gates, and the playbooks that run on
/// incidents (for the playbooks tab).
pub async fn incident_runs(
    state: &AppState,
    id: i64,
) -> Result<(Vec<RunView>, Vec<String>), ApiError> {
    let mut runs = Vec::new();
    for r in state.store.list_runs(Some(id), RUN_ROWS).await? {
        let Some((run, steps)) = state.store.get_run(r.id).await? else {
            continue;
        };
        let waiting = crate::playbook::awaiting(&run, &steps);
        runs.push(RunView {
            run,
            steps,
            waiting,
        });
    }
    let playbooks = state
        .store
        .list_automation(AUTOMATION_PLAYBOOK)
        .await?
        .into_iter()
        .filter(|o| o.body.get("subject").and_then(Value::as_str) == Some("incident"))
        .map(|o| o.name)
        .collect();
    Ok((runs, playbooks))
}

fn to_runs(incident: Option<i64>, msg: &str) -> Response {
    match incident {
        Some(i) => Redirect::to(&format!("/incidents/{i}?tab=playbooks&msg={msg}")),
        None => Redirect::to("/automation#playbooks"),
    }
    .into_response()
}

/// `POST /incidents/{id}/playbooks` (`playbook`): run a playbook on the incident.
pub async fn run_playbook(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let id = path_id(id)?;
    let f = form(&body);
    let name = field(&f, "playbook").unwrap_or("").trim();
    crate::playbook::start_run(&state, name, RunSubject::Incident(id), &caller.actor()).await?;
    Ok(to_runs(Some(id), "run-started"))
}

/// `POST /playbook-runs/{id}/approve`: pass the gate the run waits at.
pub async fn approve_run(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Response, PageError> {
    let id = path_id(id)?;
    crate::playbook::approve(&state, id, &caller.actor()).await?;
    let run = state.store.get_run(id).await?.map(|(r, _)| r);
    Ok(to_runs(run.and_then(|r| r.incident_id), "run-approved"))
}

/// `POST /playbook-runs/{id}/cancel`.
pub async fn cancel_run(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let id = path_id(id)?;
    let r = state.store.cancel_run(id, &caller.actor()).await?;
    let f = form(&body);
    if field(&f, "back").is_some() {
        return Ok(back(&f, "/automation").into_response());
    }
    Ok(to_runs(r.incident_id, "run-cancelled"))
}
