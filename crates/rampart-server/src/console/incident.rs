//! The incident page (`GET /incidents/{id}?tab=`) and its forms: manage, resolve, comment,
//! merge, contain, approve, revert and the recovery tasks.
//!
//! Every change goes through the function the REST API uses for it (`api::apply_patch`,
//! `api::comment`, `api::merge`, `actions::create_action` / `approve_action` /
//! `revert_action`, `recovery::seed` / `add_task`), so the console cannot do what the API
//! would refuse, and every change is audited as `user:<name>`. Each form answers 303 back to
//! the page with a `msg=` code (post/redirect/get).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use rampart_console::automation::{PlaybooksTab, RunView};
use rampart_console::detail::{self, IncidentPage, ResponseView, Tab, TabBody};
use rampart_contain::recovery::Containment;
use rampart_model::action::parse_duration;
use rampart_model::{
    Action, ActionKind, ActionRequest, ActionScope, ActionStatus, AuditEntry, Classification,
    Determination, IncidentPatch, IncidentStatus, Permission, Severity, Task, Timestamp,
};
use rampart_store::AuditFilter;

use super::{back_path, field, form, ok_page, user_names, viewer, PageError};
use crate::api::path_id;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::recovery::{self, incident_actions};
use crate::AppState;

/// Audit entries read for the incident itself.
const ACTIVITY_INCIDENT: u32 = 500;
/// Audit entries read per action or task of the incident.
const ACTIVITY_PER_OBJECT: u32 = 50;
/// Actions and tasks whose audit entries the activity tab reads.
const ACTIVITY_OBJECTS: usize = 100;
/// Entries the activity tab shows, newest first.
const ACTIVITY_SHOWN: usize = 500;

/// Back to the incident page on `tab`, saying `msg` (a code of [`detail::MESSAGES`]).
fn to_page(id: i64, tab: Tab, msg: &str) -> Response {
    Redirect::to(&format!("/incidents/{id}?tab={}&msg={msg}", tab.as_str())).into_response()
}

/// The tab a form came from (its hidden `tab` field), else `default`.
fn tab_of(f: &[(String, String)], default: Tab) -> Tab {
    match field(f, "tab") {
        Some(v) if !v.is_empty() => Tab::parse(v).unwrap_or(default),
        _ => default,
    }
}

/// A form field parsed as `T`: `None` when absent or empty, 422 naming it when it does not
/// parse.
fn parsed<T: std::str::FromStr>(f: &[(String, String)], name: &str) -> Result<Option<T>, ApiError> {
    match field(f, name).map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::unprocessable(format!("unknown {name} {v:?}"))),
    }
}

/// What the selected tab needs beyond the incident itself.
enum Loaded {
    Nothing,
    Response(Vec<Action>, Containment),
    Tasks(Vec<Task>),
    Playbooks(Vec<RunView>, Vec<String>),
    Investigation(
        rampart_contain::investigation::Investigation,
        Option<(Timestamp, u64)>,
    ),
    Activity(Vec<AuditEntry>),
}

/// `GET /incidents/{id}?tab=&msg=`: the incident page.
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let id = path_id(id)?;
    let (mut tab_value, mut msg) = (String::new(), None);
    for (k, v) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "tab" => tab_value = v.into_owned(),
            "msg" => msg = detail::message(&v),
            _ => {}
        }
    }
    let tab = Tab::parse(&tab_value).ok_or_else(|| {
        let names: Vec<&str> = Tab::ALL.iter().map(|t| t.as_str()).collect();
        ApiError::bad_request(format!(
            "unknown tab {tab_value:?}: one of {}",
            names.join(", ")
        ))
    })?;
    let d = recovery::detail(&state, id).await?;
    let v = viewer(&caller);
    let users = if v.can(Permission::Triage) {
        user_names(&state).await
    } else {
        Vec::new()
    };
    let loaded = match tab {
        Tab::Response => Loaded::Response(
            incident_actions(&state, id).await?,
            recovery::containment(&state, &d).await?,
        ),
        Tab::Tasks => Loaded::Tasks(state.store.list_tasks(id).await?),
        Tab::Investigation => {
            let (inv, kept) = crate::investigation::kept_or_preview(&state, &d).await?;
            Loaded::Investigation(inv, kept)
        }
        Tab::Playbooks => {
            let (runs, playbooks) = super::automation::incident_runs(&state, id).await?;
            Loaded::Playbooks(runs, playbooks)
        }
        Tab::Activity => Loaded::Activity(activity(&state, id).await?),
        Tab::Story | Tab::Alerts | Tab::Graph | Tab::Comments => Loaded::Nothing,
    };
    // the walkthrough's "read the story" and "verify" steps
    match (&loaded, tab) {
        (_, Tab::Story) => super::walkthrough::note(&state, &caller, &format!("story:{id}")).await,
        (Loaded::Response(actions, _), _) if !actions.is_empty() => {
            super::walkthrough::note(&state, &caller, &format!("verify:{id}")).await
        }
        _ => {}
    }
    let guide = super::walkthrough::next_step(&state, &caller, &d).await;
    let body = match (&loaded, tab) {
        (Loaded::Response(actions, containment), _) => TabBody::Response(ResponseView {
            actions,
            containment,
            durations: &state.contain.default_duration,
        }),
        (Loaded::Tasks(t), _) => TabBody::Tasks(t),
        (Loaded::Investigation(i, kept), _) => TabBody::Investigation(i, *kept),
        (Loaded::Playbooks(runs, playbooks), _) => {
            TabBody::Playbooks(PlaybooksTab { runs, playbooks })
        }
        (Loaded::Activity(a), _) => TabBody::Activity(a),
        (Loaded::Nothing, Tab::Alerts) => TabBody::Alerts,
        (Loaded::Nothing, Tab::Graph) => TabBody::Graph,
        (Loaded::Nothing, Tab::Comments) => TabBody::Comments,
        (Loaded::Nothing, _) => TabBody::Story,
    };
    Ok(ok_page(detail::incident(
        &v,
        &IncidentPage {
            detail: &d,
            body,
            users: &users,
            flash: msg,
            guide: guide.as_ref().map(|(n, s)| (*n, s)),
        },
    )))
}

/// The audit entries of the incident (its updates, comments, merges) and of its actions and
/// tasks, newest first.
async fn activity(state: &AppState, id: i64) -> Result<Vec<AuditEntry>, ApiError> {
    let filter = |object_type: &str, object_id: String, limit: u32| AuditFilter {
        object_type: Some(object_type.to_string()),
        object_id: Some(object_id),
        limit: Some(limit),
        ..AuditFilter::default()
    };
    let mut out = state
        .store
        .list_audit(&filter("incident", id.to_string(), ACTIVITY_INCIDENT))
        .await?
        .items;
    let actions = incident_actions(state, id).await?;
    let tasks = state.store.list_tasks(id).await?;
    let objects = actions
        .iter()
        .map(|a| ("action", a.id))
        .chain(tasks.iter().map(|t| ("task", t.id)))
        .take(ACTIVITY_OBJECTS);
    for (object_type, object_id) in objects {
        let page = state
            .store
            .list_audit(&filter(
                object_type,
                object_id.to_string(),
                ACTIVITY_PER_OBJECT,
            ))
            .await?;
        out.extend(page.items);
    }
    out.sort_by(|a, b| b.at.cmp(&a.at).then(b.id.cmp(&a.id)));
    out.truncate(ACTIVITY_SHOWN);
    Ok(out)
}

/// `POST /incidents/{id}/manage` (`title`, `assigned_to`, `status`, `severity`, `tags`,
/// `classification`, `determination`, all optional): one patch of the fields that differ
/// from the incident now. Resolving takes the resolve form.
pub async fn manage(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let id = path_id(id)?;
    let f = form(&body);
    let tab = tab_of(&f, Tab::Story);
    let cur = recovery::detail(&state, id).await?.incident;
    let mut patch = IncidentPatch::default();
    if let Some(t) = field(&f, "title").map(str::trim) {
        if t != cur.title {
            patch.title = Some(t.to_string());
        }
    }
    if let Some(a) = field(&f, "assigned_to").map(str::trim) {
        let owner = (!a.is_empty()).then(|| a.to_string());
        if owner != cur.assigned_to {
            patch.assigned_to = Some(owner);
        }
    }
    if let Some(s) = parsed::<IncidentStatus>(&f, "status")? {
        if s != cur.status {
            if s == IncidentStatus::Resolved {
                return Err(ApiError::unprocessable(
                    "resolve an incident with the resolve form: classification, determination and findings",
                )
                .into());
            }
            patch.status = Some(s);
        }
    }
    if let Some(s) = parsed::<Severity>(&f, "severity")? {
        if s != cur.severity {
            patch.severity = Some(s);
        }
    }
    if let Some(raw) = field(&f, "tags") {
        let mut tags: Vec<String> = Vec::new();
        for t in raw.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if !tags.iter().any(|x| x == t) {
                tags.push(t.to_string());
            }
        }
        if tags != cur.tags {
            patch.tags = Some(tags);
        }
    }
    if let Some(c) = parsed::<Classification>(&f, "classification")? {
        if c != cur.classification {
            patch.classification = Some(c);
        }
    }
    if let Some(d) = parsed::<Determination>(&f, "determination")? {
        if d != cur.determination {
            patch.determination = Some(d);
        }
    }
    if patch.is_empty() {
        return Ok(to_page(id, tab, "unchanged"));
    }
    crate::api::apply_patch(&state, id, &patch, &caller.actor()).await?;
    Ok(to_page(id, tab, "saved"))
}

/// Prefix of the comment a resolution leaves.
pub const RESOLUTION_PREFIX: &str = "Resolution: ";

/// `POST /incidents/{id}/resolve` (`classification`, `determination`, `findings`, all
/// required): status Resolved with the classification and determination, then the findings
/// as a comment. Nothing changes unless all three are given and valid.
pub async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let id = path_id(id)?;
    let f = form(&body);
    let classification =
        parsed::<Classification>(&f, "classification")?.filter(|c| *c != Classification::Unknown);
    let determination =
        parsed::<Determination>(&f, "determination")?.filter(|d| *d != Determination::NotAvailable);
    let findings = field(&f, "findings").map_or("", str::trim);
    let missing: Vec<&str> = [
        ("a classification", classification.is_none()),
        ("a determination", determination.is_none()),
        ("the findings", findings.is_empty()),
    ]
    .into_iter()
    .filter_map(|(what, gone)| gone.then_some(what))
    .collect();
    let (Some(classification), Some(determination), false) =
        (classification, determination, findings.is_empty())
    else {
        return Err(ApiError::unprocessable(format!(
            "to resolve an incident, give its classification, its determination and the findings (what happened, what was done, what is left); missing: {}",
            missing.join(", ")
        ))
        .into());
    };
    let note = format!("{RESOLUTION_PREFIX}{findings}");
    crate::api::validate_comment(&note, state.config.max_comment_chars)?;
    let cur = recovery::detail(&state, id).await?.incident;
    if let Some(to) = cur.redirect_to {
        return Err(ApiError::new(
            crate::error::ErrorKind::Conflict,
            format!("incident {id} was merged into incident {to}: resolve that one"),
        )
        .into());
    }
    let actor = caller.actor();
    let patch = IncidentPatch {
        status: Some(IncidentStatus::Resolved),
        classification: Some(classification),
        determination: Some(determination),
        ..IncidentPatch::default()
    };
    crate::api::apply_patch(&state, id, &patch, &actor).await?;
    crate::api::comment(&state, id, &actor, &note).await?;
    tracing::info!(incident = id, actor = %actor, classification = classification.as_str(), "incident resolved");
    Ok(to_page(id, tab_of(&f, Tab::Story), "resolved"))
}

/// `POST /incidents/{id}/comments` (`text`).
pub async fn comment(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let id = path_id(id)?;
    let f = form(&body);
    let text = field(&f, "text").unwrap_or("");
    crate::api::comment(&state, id, &caller.actor(), text).await?;
    Ok(to_page(id, tab_of(&f, Tab::Comments), "commented"))
}

/// `POST /incidents/{id}/merge` (`into`): to the incident it was merged into.
pub async fn merge(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let id = path_id(id)?;
    let f = form(&body);
    let into = parsed::<i64>(&f, "into")?
        .ok_or_else(|| ApiError::unprocessable("give the number of the incident to merge into"))?;
    let merged = crate::api::merge(&state, id, into, &caller.actor()).await?;
    Ok(to_page(merged.id, Tab::Story, "merged"))
}

/// `POST /incidents/{id}/contain` (`kind`, `entity`, `duration` optional, `reason`
/// optional): a containment action for this incident, planned, stored and enforced exactly as
/// `POST /api/v1/actions` does (a refusal is its page: 403, 409 or 422 in words).
pub async fn contain(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let id = path_id(id)?;
    let f = form(&body);
    let kind = parsed::<ActionKind>(&f, "kind")?
        .ok_or_else(|| ApiError::unprocessable("choose what to do (kind)"))?;
    let target = field(&f, "entity").map_or("", str::trim).to_string();
    if target.is_empty() {
        return Err(ApiError::unprocessable("no entity to contain").into());
    }
    let duration_secs = match field(&f, "duration").map(str::trim) {
        None | Some("") => None,
        Some(d) => Some(parse_duration(d).map_err(|e| ApiError::unprocessable(e.to_string()))?),
    };
    let reason = match field(&f, "reason").map(str::trim) {
        None | Some("") => format!("attacker of incident #{id}"),
        Some(r) => r.to_string(),
    };
    let req = ActionRequest {
        kind,
        target,
        raw_key: None,
        scope: ActionScope::default(),
        rate: None,
        duration_secs,
        reason,
        incident_id: Some(id),
    };
    let action = crate::actions::create_action(&state, &caller, req).await?;
    let msg = if action.status() == ActionStatus::PendingApproval {
        "pending"
    } else {
        "contained"
    };
    Ok(to_page(id, Tab::Response, msg))
}

/// Back to the form's page (`back`), else the action's incident, with `msg`.
fn after_action(f: &[(String, String)], action: &Action, msg: &str) -> Response {
    let fallback = match action.action.incident_id {
        Some(i) => format!("/incidents/{i}?tab=response"),
        None => "/actions".to_string(),
    };
    let to = back_path(f, &fallback);
    let sep = if to.contains('?') { '&' } else { '?' };
    // the action center's flash codes are `done=`, the incident page's `msg=`
    let key = if to.starts_with("/actions") {
        "done"
    } else {
        "msg"
    };
    Redirect::to(&format!("{to}{sep}{key}={msg}")).into_response()
}

/// `POST /actions/{id}/approve` (`back` optional): as `POST /api/v1/actions/{id}/approve`.
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let id = path_id(id)?;
    let f = form(&body);
    let done = crate::actions::approve_action(&state, &caller, id).await?;
    Ok(after_action(&f, &done, "approved"))
}

/// `POST /actions/{id}/revert` (`reason`, `back` optional): as
/// `POST /api/v1/actions/{id}/revert`.
pub async fn revert(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let id = path_id(id)?;
    let f = form(&body);
    let reason = field(&f, "reason").unwrap_or("");
    let done = crate::actions::revert_action(&state, &caller, id, reason).await?;
    Ok(after_action(&f, &done, "reverted"))
}

/// `POST /incidents/{id}/disruption/undo`: as `POST /api/v1/incidents/{id}/disruption/undo`.
pub async fn undo_disruption(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Response, PageError> {
    let id = path_id(id)?;
    crate::actions::undo_disruption_of(
        &state,
        &caller,
        id,
        "attack disruption undone from the console",
    )
    .await?;
    Ok(to_page(id, Tab::Response, "disruption-undone"))
}

/// `POST /incidents/{id}/tasks` (`title`, `detail` optional): a custom task.
pub async fn add_task(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let id = path_id(id)?;
    let f = form(&body);
    recovery::detail(&state, id).await?;
    let title = field(&f, "title").unwrap_or("");
    let detail = field(&f, "detail").unwrap_or("").to_string();
    recovery::add_task(&state, id, &caller.actor(), title, detail).await?;
    Ok(to_page(id, Tab::Tasks, "task-added"))
}

/// `POST /incidents/{id}/tasks/seed`: the checklist from what was attacked (idempotent).
pub async fn seed_tasks(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Response, PageError> {
    let id = path_id(id)?;
    recovery::seed(&state, id, &caller.actor()).await?;
    Ok(to_page(id, Tab::Tasks, "seeded"))
}

/// `POST /incidents/{id}/tasks/{task_id}` (`done`: `true` or `false`).
pub async fn set_task(
    State(state): State<AppState>,
    caller: Caller,
    ids: Result<Path<(i64, i64)>, PathRejection>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let (id, task_id) = ids
        .map(|Path(p)| p)
        .map_err(|_| ApiError::bad_param("id", "not an integer"))?;
    let f = form(&body);
    let done = match field(&f, "done") {
        Some("true") => true,
        Some("false") => false,
        _ => return Err(ApiError::unprocessable("done must be true or false").into()),
    };
    state
        .store
        .set_task_done(id, task_id, done, &caller.actor(), Timestamp::now())
        .await?;
    Ok(to_page(
        id,
        Tab::Tasks,
        if done { "task-done" } else { "task-undone" },
    ))
}

/// `POST /incidents/{id}/investigation/resolve`: resolve the alerts the investigation proves
/// benign now (each audited as `investigation` with its reason).
pub async fn resolve_benign(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Response, PageError> {
    let id = path_id(id)?;
    let d = recovery::detail(&state, id).await?;
    let inv = crate::investigation::investigate(&state, &d).await?;
    crate::investigation::resolve_benign(&state, &inv).await?;
    Ok(to_page(id, Tab::Investigation, "benign-resolved"))
}

/// `POST /incidents/{id}/investigation/run`: run the investigation again now and keep it.
pub async fn rerun_investigation(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Response, PageError> {
    let id = path_id(id)?;
    crate::investigation::run_for(&state, id, None).await?;
    Ok(to_page(id, Tab::Investigation, "investigation-run"))
}
