//! The web console's routes: HTML pages rendered by `rampart-console` over the same store,
//! the same roles and the same change functions as the REST API.
//!
//! Every console route is in [`crate::ROUTES`] with `Credential::Session` and the permission
//! it needs, so the one guard ([`session::authorize`]) checks the session, the CSRF token and
//! the role before any handler runs: a page hides what a role may not do, and the server
//! refuses it anyway. State changes are plain form posts answered with a redirect (303), so
//! every page works without JavaScript.

pub mod automation;
pub mod hunt;
pub mod incident;
pub mod pages;
pub mod session;
pub mod walkthrough;

use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use maud::Markup;
use rampart_console::queue::{QueueQuery, QueueView};
use rampart_console::Viewer;
use rampart_model::{
    Classification, IncidentFilter, IncidentPatch, IncidentSort, IncidentStatus, Timestamp,
};

use crate::auth::{Caller, Via};
use crate::error::ApiError;
use crate::{methods, AppState, Credential, Route};

/// Every console route, once, with the permission it needs (the console's access policy; the
/// API's is [`crate::ROUTES`]). Pages and forms take the session cookie; the sign-in form,
/// the stylesheet and the script are public.
pub const ROUTES: &[Route] = &[
    route!(get "/", public, "The console: to the incident queue", root),
    route!(get "/static/console.css", public, "The console's stylesheet", css),
    route!(get "/static/console.js", public, "The console's script", js),
    route!(get "/login", public, "Console sign-in form", session::login_form),
    route!(post "/login", public, "Console sign-in (username, password, csrf)", session::login),
    route!(post "/logout", Read by Session, "Console sign-out", session::logout),
    route!(get "/incidents", Read by Session, "Console: the incident queue", queue),
    route!(get "/incidents/live", Read by Session, "Console: new incidents as server-sent events", live),
    route!(post "/incidents/bulk", Triage by Session, "Console: assign, set status, tag or classify selected incidents", bulk),
    route!(post "/incidents/views", Read by Session, "Console: save the queue view", save_view),
    route!(get "/walkthrough", Read by Session, "Console: the first-incident walkthrough", walkthrough::page),
    route!(post "/incidents/views/{id}/delete", Read by Session, "Console: delete a saved view", delete_view),
    route!(get "/incidents/{id}", Read by Session, "Console: the incident page (?tab=story|alerts|graph|response|investigation|tasks|playbooks|activity|comments)", incident::show),
    route!(get "/incidents/{id}/report", Read by Session, "Console: download the post-incident review (?format=html|md|pdf)", report),
    route!(get "/incidents/{id}/review", Read by Session, "Console: the post-incident review, with apply buttons for its lessons", review),
    route!(post "/incidents/{id}/review/apply-rule", ManageAutomation by Session, "Console: apply a lesson's automation rule (a suppression; as POST /api/v1/automation/rules, audited)", apply_rule),
    route!(post "/incidents/{id}/review/apply-action", ContainLow by Session, "Console: apply a lesson's containment action (a rate limit; checked by rampart-contain, as POST /api/v1/actions)", apply_action),
    route!(post "/incidents/{id}/manage", Triage by Session, "Console: rename, assign, set status, severity, tags, classification and determination", incident::manage),
    route!(post "/incidents/{id}/resolve", Triage by Session, "Console: resolve with classification, determination and findings (kept as a comment)", incident::resolve),
    route!(post "/incidents/{id}/comments", Comment by Session, "Console: comment on an incident", incident::comment),
    route!(post "/incidents/{id}/merge", Merge by Session, "Console: merge an incident into another", incident::merge),
    route!(post "/incidents/{id}/contain", ContainLow by Session, "Console: contain an attacker entity (checked by rampart-contain, as POST /api/v1/actions)", incident::contain),
    route!(post "/incidents/{id}/disruption/undo", RevertAny by Session, "Console: undo attack disruption on an incident", incident::undo_disruption),
    route!(post "/incidents/{id}/investigation/run", Triage by Session, "Console: run the automated investigation again now (resolves what it proves benign, audited; kept)", incident::rerun_investigation),
    route!(post "/incidents/{id}/investigation/resolve", Triage by Session, "Console: resolve the alerts the automated investigation proves benign (audited)", incident::resolve_benign),
    route!(post "/incidents/{id}/tasks", Triage by Session, "Console: add a recovery task", incident::add_task),
    route!(post "/incidents/{id}/tasks/seed", Triage by Session, "Console: seed the recovery checklist from what was attacked", incident::seed_tasks),
    route!(post "/incidents/{id}/tasks/{task_id}", Triage by Session, "Console: tick a recovery task off or on", incident::set_task),
    route!(post "/actions/{id}/approve", Approve by Session, "Console: approve someone else's pending action", incident::approve),
    route!(post "/actions/{id}/revert", RevertOwn by Session, "Console: revert an action (another's needs revert_any)", incident::revert),
    route!(get "/entities/{kind}/{*value}", Read by Session, "Console: an entity's page (incidents, alerts, actions, events, inventory)", pages::entity),
    route!(get "/inventory", Read by Session, "Console: the API inventory (filters and sort in the query string)", pages::inventory),
    route!(get "/actions", Read by Session, "Console: the action center (pending, active, past, new action)", pages::action_center),
    route!(post "/actions", ContainLow by Session, "Console: create a containment action (checked by rampart-contain)", pages::create_action),
    route!(get "/soc", Read by Session, "Console: the SOC metrics dashboard (?since=&until=, RFC 3339)", pages::soc),
    route!(get "/hunt", Hunt by Session, "Console: hunting (?q=&range=1h|24h|7d|30d|90d|custom&from=&to=, or ?saved=NAME): results, chart, saved queries", hunt::page),
    route!(post "/hunt/queries", Hunt by Session, "Console: save the query, optionally as a custom detection (checked as the API does; audited)", hunt::save),
    route!(post "/hunt/queries/{name}/delete", Hunt by Session, "Console: delete a saved query (audited)", hunt::delete),
    route!(get "/detectors", Read by Session, "Console: detectors and Sigma rules", pages::detectors),
    route!(get "/automation", Read by Session, "Console: automation rules, playbooks and webhooks", automation::overview),
    route!(get "/automation/{kind}/new", ManageAutomation by Session, "Console: a new rule, playbook or webhook (?from_incident=ID: the suppression rule of an incident)", automation::new_object),
    route!(post "/automation/{kind}", ManageAutomation by Session, "Console: create a rule, playbook or webhook from its YAML (checked as the API does; audited)", automation::create),
    route!(get "/automation/{kind}/{name}", Read by Session, "Console: a rule, playbook or webhook as YAML (a webhook with its deliveries, ?status=dead)", automation::show),
    route!(post "/automation/{kind}/{name}", ManageAutomation by Session, "Console: replace a rule, playbook or webhook (checked; audited)", automation::save),
    route!(post "/automation/{kind}/{name}/delete", ManageAutomation by Session, "Console: delete a rule, playbook or webhook (audited)", automation::delete),
    route!(post "/webhook-deliveries/{id}/retry", ManageAutomation by Session, "Console: send a dead letter again (audited)", automation::retry),
    route!(post "/incidents/{id}/playbooks", ContainLow by Session, "Console: run a playbook on an incident (audited)", automation::run_playbook),
    route!(post "/playbook-runs/{id}/approve", Approve by Session, "Console: pass the approval gate a playbook run waits at (audited)", automation::approve_run),
    route!(post "/playbook-runs/{id}/cancel", ContainLow by Session, "Console: cancel a playbook run (audited)", automation::cancel_run),
    route!(get "/settings", ManageUsers by Session, "Console: users, tokens, gateway keys, protected entities", pages::settings),
    route!(post "/settings/users/{name}/disable", ManageUsers by Session, "Console: disable a user (ending its sessions) or enable it", pages::set_user_disabled),
    route!(post "/settings/users/{name}/password", ManageUsers by Session, "Console: set a user's password (ending its sessions)", pages::set_user_password),
    route!(post "/settings/users", ManageUsers by Session, "Console: create a console user", pages::create_user),
    route!(post "/settings/tokens", ManageTokens by Session, "Console: create an API token, enforcer or bouncer key (shown once)", pages::create_token),
    route!(post "/settings/tokens/{name}/revoke", ManageTokens by Session, "Console: revoke a token or key", pages::revoke_token),
];

/// `GET /incidents/{id}/report?format=`: the post-incident review as a download (what
/// `GET /api/v1/incidents/{id}/report` answers).
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<axum::extract::Path<i64>, axum::extract::rejection::PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let id = crate::api::path_id(id)?;
    let p: Vec<(String, String)> = form(raw.as_deref().unwrap_or("").as_bytes());
    let format = crate::report::format_param(&p)?;
    Ok(crate::report::answer(&state, &caller, id, format).await?)
}

/// The review's data for the console: gathered as the API's report is.
async fn review_data(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<rampart_report::ReportData, ApiError> {
    let d = crate::recovery::detail(state, id).await?;
    let containment = crate::recovery::containment(state, &d).await?;
    crate::report::gather(
        &*state.store,
        id,
        Some(containment),
        state.api_spec.as_deref(),
        Timestamp::now(),
        &caller.actor(),
    )
    .await
}

/// `GET /incidents/{id}/review?msg=`: the report in the console, with apply buttons.
pub async fn review(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<axum::extract::Path<i64>, axum::extract::rejection::PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let id = crate::api::path_id(id)?;
    let q = form(raw.as_deref().unwrap_or("").as_bytes());
    let flash = match field(&q, "msg") {
        Some("applied") => Some("Applied."),
        _ => None,
    };
    let data = review_data(&state, &caller, id).await?;
    Ok(ok_page(rampart_report::html::console_page(
        &viewer(&caller),
        &rampart_report::html::ConsoleView { data: &data, flash },
    )))
}

/// The lesson a form names (`lesson`, its key), recomputed from the store: 422 when there is
/// none or it is not of `kind`. The applied request is the server's, never the form's.
async fn lesson_of(
    state: &AppState,
    caller: &Caller,
    id: i64,
    body: &[u8],
    kind: rampart_report::LessonKind,
) -> Result<rampart_report::ApplyRequest, ApiError> {
    let f = form(body);
    let key = field(&f, "lesson").unwrap_or("");
    let data = review_data(state, caller, id).await?;
    rampart_report::lessons(&data)
        .into_iter()
        .find(|l| l.key == key && l.kind == kind)
        .and_then(|l| l.apply)
        .ok_or_else(|| ApiError::unprocessable(format!("no lesson {key:?} to apply here")))
}

/// `POST /incidents/{id}/review/apply-rule` (`lesson`): store the lesson's automation rule,
/// checked by the rule grammar and audited as the caller, as the API's create does.
pub async fn apply_rule(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<axum::extract::Path<i64>, axum::extract::rejection::PathRejection>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let id = crate::api::path_id(id)?;
    let req = lesson_of(
        &state,
        &caller,
        id,
        &body,
        rampart_report::LessonKind::Suppression,
    )
    .await?;
    let rule = rampart_automation::parse_rule(&req.body.to_string())
        .map_err(|e| ApiError::unprocessable(format!("invalid rule: {e}")))?;
    crate::automation::check_notify(&state, &rule).await?;
    crate::automation::store_new(
        &state,
        rampart_model::AUTOMATION_RULE,
        "automation rule",
        &rule.name,
        &rule,
        &caller.actor(),
    )
    .await?;
    tracing::info!(incident = id, rule = %rule.name, actor = %caller.actor(), "review lesson applied");
    Ok(Redirect::to(&format!("/incidents/{id}/review?msg=applied")).into_response())
}

/// `POST /incidents/{id}/review/apply-action` (`lesson`): create the lesson's action through
/// `actions::create_action` (so `rampart-contain` decides, and it is audited and enforced).
pub async fn apply_action(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<axum::extract::Path<i64>, axum::extract::rejection::PathRejection>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let id = crate::api::path_id(id)?;
    let req = lesson_of(
        &state,
        &caller,
        id,
        &body,
        rampart_report::LessonKind::RateLimit,
    )
    .await?;
    let req: rampart_model::ActionRequest =
        serde_json::from_value(req.body).map_err(ApiError::internal)?;
    crate::actions::create_action(&state, &caller, req).await?;
    Ok(Redirect::to(&format!("/incidents/{id}/review?msg=applied")).into_response())
}

/// Rows on one queue page.
pub const QUEUE_PAGE: u32 = 50;

/// The [`Viewer`] of a session caller (a token caller has no CSRF token: empty).
pub fn viewer(caller: &Caller) -> Viewer {
    Viewer {
        name: caller.name.clone(),
        role: caller.role,
        csrf: match &caller.via {
            Via::Session(s) => s.csrf.clone(),
            Via::Token(_) => String::new(),
        },
    }
}

/// An HTML answer.
pub fn html_page(status: StatusCode, markup: Markup) -> Response {
    let mut resp = (status, markup.into_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A 200 page.
pub fn ok_page(markup: Markup) -> Response {
    html_page(StatusCode::OK, markup)
}

/// A failed console request: the API's error, shown as a page.
#[derive(Debug)]
pub struct PageError(pub ApiError);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        PageError(e)
    }
}

impl From<rampart_store::StoreError> for PageError {
    fn from(e: rampart_store::StoreError) -> Self {
        PageError(ApiError::from(e))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.kind.status();
        html_page(
            status,
            rampart_console::error_page(None, status.as_u16(), &self.0.message),
        )
    }
}

/// The Content-Security-Policy of every answer: scripts and styles from this site's files
/// only (no inline script or style, no eval), no framing, forms only to this site.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Middleware: the security headers of every answer (pages and API alike).
pub async fn security_headers(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}

/// `GET /static/console.css`.
pub async fn css() -> Response {
    asset("text/css; charset=utf-8", rampart_console::CSS)
}

/// `GET /static/console.js`.
pub async fn js() -> Response {
    asset("text/javascript; charset=utf-8", rampart_console::JS)
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    let mut resp = body.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

/// `GET /`: the queue.
pub async fn root() -> Redirect {
    Redirect::to("/incidents")
}

/// Known console user names (for assignment pickers).
pub(crate) async fn user_names(state: &AppState) -> Vec<String> {
    state
        .store
        .list_users()
        .await
        .map(|u| u.into_iter().map(|u| u.name).collect())
        .unwrap_or_default()
}

/// `GET /incidents`: the queue (filters, sort, columns and search from the query string).
pub async fn queue(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let v = viewer(&caller);
    let q =
        QueueQuery::parse(raw.as_deref().unwrap_or("")).map_err(|e| ApiError::bad_request(e.0))?;
    let mut filter = q.to_filter(Timestamp::now(), QUEUE_PAGE + 1);
    filter.limit = Some(QUEUE_PAGE + 1);
    let (page, views, users) = tokio::join!(
        state.store.list_incidents(&filter),
        state.store.list_views(&caller.name),
        user_names(&state),
    );
    let mut page = page?;
    let next = if page.items.len() > QUEUE_PAGE as usize {
        page.items.truncate(QUEUE_PAGE as usize);
        page.items.last().map(|i| i.cursor(q.sort))
    } else {
        None
    };
    let views = views?;
    Ok(ok_page(rampart_console::queue::queue(
        &v,
        &QueueView {
            query: &q,
            page: &page,
            next,
            views: &views,
            detectors: &state.catalogue.detector_ids(),
            users: &users,
            flash: None,
        },
    )))
}

/// Form fields of a body (repeated keys kept in order).
pub fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of a form field.
pub fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A redirect target from a form: a console path, else `fallback`.
pub fn back(form: &[(String, String)], fallback: &str) -> Redirect {
    Redirect::to(back_path(form, fallback))
}

/// The form's `back` field when it is a path on this site (never `//host` or a backslash
/// trick), else `fallback`.
pub fn back_path<'a>(form: &'a [(String, String)], fallback: &'a str) -> &'a str {
    match field(form, "back") {
        Some(b) if b.starts_with('/') && !b.starts_with("//") && !b.contains('\\') => b,
        _ => fallback,
    }
}

/// `POST /incidents/bulk`: assign, set status, tag or classify the selected incidents.
pub async fn bulk(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let f = form(&body);
    let ids: Vec<i64> = f
        .iter()
        .filter(|(k, _)| k == "id")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    if ids.is_empty() {
        return Err(ApiError::unprocessable("select at least one incident").into());
    }
    if ids.len() > 500 {
        return Err(ApiError::unprocessable("at most 500 incidents at once").into());
    }
    let value = field(&f, "value").unwrap_or("").trim().to_string();
    let op = field(&f, "op").unwrap_or("");
    for id in ids {
        let patch = match op {
            "assign" => IncidentPatch {
                assigned_to: Some((!value.is_empty()).then(|| value.clone())),
                ..Default::default()
            },
            "status" => {
                let s: IncidentStatus = value
                    .parse()
                    .map_err(|_| ApiError::unprocessable(format!("unknown status {value:?}")))?;
                if s == IncidentStatus::Resolved {
                    return Err(ApiError::unprocessable(
                        "resolve an incident on its page, with classification, determination and findings",
                    )
                    .into());
                }
                IncidentPatch {
                    status: Some(s),
                    ..Default::default()
                }
            }
            "tag" => {
                let cur = state
                    .store
                    .get_incident(id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("incident", id))?;
                let mut tags = cur.incident.tags;
                if value.is_empty() {
                    return Err(ApiError::unprocessable("the tag is empty").into());
                }
                if tags.contains(&value) {
                    continue;
                }
                tags.push(value.clone());
                IncidentPatch {
                    tags: Some(tags),
                    ..Default::default()
                }
            }
            "classify" => {
                let c: Classification = value.parse().map_err(|_| {
                    ApiError::unprocessable(format!("unknown classification {value:?}"))
                })?;
                IncidentPatch {
                    classification: Some(c),
                    ..Default::default()
                }
            }
            _ => return Err(ApiError::unprocessable(format!("unknown bulk change {op:?}")).into()),
        };
        crate::api::apply_patch(&state, id, &patch, &caller.actor()).await?;
    }
    Ok(back(&f, "/incidents").into_response())
}

/// `POST /incidents/views`: save the current queue view under a name.
pub async fn save_view(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let f = form(&body);
    let name = field(&f, "name").unwrap_or("").trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ApiError::unprocessable("a view name is 1-64 characters").into());
    }
    let query = field(&f, "query").unwrap_or("");
    // only what the queue understands is kept
    let q = QueueQuery::parse(query).map_err(|e| ApiError::unprocessable(e.0))?;
    let query = q.to_query(false);
    state.store.save_view(&caller.name, name, &query).await?;
    Ok(Redirect::to(&format!("/incidents?{query}")).into_response())
}

/// `POST /incidents/views/{id}/delete`.
pub async fn delete_view(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    state.store.delete_view(&caller.name, id).await?;
    Ok(Redirect::to("/incidents").into_response())
}

#[derive(serde::Deserialize)]
pub struct LiveQuery {
    #[serde(default)]
    since: i64,
}

/// How often the live queue checks the store for new incidents (any node may create them).
const LIVE_POLL: Duration = Duration::from_secs(2);

/// `GET /incidents/live?since=ID`: server-sent events, one `incident` event (id, title,
/// severity, priority) per incident created after `since`.
pub async fn live(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<axum::extract::Query<LiveQuery>, axum::extract::rejection::QueryRejection>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>> {
    let since = q.map_or(0, |q| q.since);
    let session = match &caller.via {
        Via::Session(s) => s.id_hash.clone(),
        Via::Token(_) => String::new(),
    };
    let start = (
        state,
        since,
        std::collections::VecDeque::<Event>::new(),
        true,
    );
    let stream =
        futures_util::stream::unfold(start, move |(state, mut since, mut pending, mut first)| {
            let session = session.clone();
            async move {
                loop {
                    if let Some(ev) = pending.pop_front() {
                        return Some((Ok(ev), (state, since, pending, false)));
                    }
                    if !first {
                        tokio::time::sleep(LIVE_POLL).await;
                        // the stream ends with its session (signed out, expired, user disabled)
                        let now = Timestamp::now();
                        let idle = i64::try_from(state.config.session_idle_timeout.as_millis())
                            .unwrap_or(i64::MAX);
                        let live = state
                            .store
                            .session(&session, now, Timestamp(now.millis().saturating_sub(idle)))
                            .await;
                        if !matches!(live, Ok(Some(_))) {
                            return None;
                        }
                    }
                    first = false;
                    let filter = IncidentFilter {
                        sort: IncidentSort::Created,
                        limit: Some(20),
                        ..Default::default()
                    };
                    let Ok(page) = state.store.list_incidents(&filter).await else {
                        continue;
                    };
                    let mut fresh: Vec<_> =
                        page.items.into_iter().filter(|i| i.id > since).collect();
                    fresh.sort_by_key(|i| i.id);
                    if let Some(last) = fresh.last() {
                        since = last.id;
                    }
                    pending.extend(fresh.iter().map(|i| {
                        Event::default().event("incident").data(
                            serde_json::json!({
                                "id": i.id,
                                "title": i.title,
                                "severity": i.severity,
                                "priority": i.priority,
                            })
                            .to_string(),
                        )
                    }));
                }
            }
        });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
