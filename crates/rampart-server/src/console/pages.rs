//! The console's entity pages, inventory, action center, detectors and settings.
//!
//! Handlers read the store and render `rampart-console` pages; every change goes through the
//! function the REST API uses too (`actions::create_action`, `approve_action`,
//! `revert_action`, `api::issue_token`, the token cache's `revoke`), so the API and the
//! console cannot disagree on a rule. The permission of each route is in
//! [`super::ROUTES`], checked before the handler runs.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use rampart_console::actions::{ActionDraft, ActionsView};
use rampart_console::entity::EntityView;
use rampart_console::inventory::{EndpointRow, InventoryQuery, InventoryView};
use rampart_console::pages::DetectorsView;
use rampart_console::settings::{KeyPurpose, SettingsView};
use rampart_model::{
    Action, ActionFilter, ActionStatus, Entity, EntityKind, EntityRole, IncidentFilter,
    IncidentSort, Permission, Role, Target, Timestamp,
};
use rampart_store::{AlertFilter, EventQuery};

use super::{back, field, form, ok_page, viewer, PageError};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorKind};
use crate::{actions, api, AppState};

/// Rows of each list on an entity page (incidents, alerts, events, actions).
pub const ENTITY_ROWS: u32 = 50;
/// Rows of the "what it reached" summary of an actor.
pub const ACCESS_ROWS: u32 = 20;
/// Recent actions an entity page looks through for the ones acting on it (besides every
/// active one).
pub const ENTITY_ACTION_SCAN: u32 = 500;
/// Rows of each list of the action center.
pub const ACTION_ROWS: u32 = 200;
/// Rows of the action center's past actions.
pub const PAST_ROWS: usize = 50;
/// The window of the detectors page's alert counts, in days.
pub const DETECTOR_DAYS: u32 = 7;

fn bad_path(e: PathRejection) -> PageError {
    ApiError::bad_request(format!("malformed path: {}", e.body_text())).into()
}

/// `GET /entities/{kind}/{value}`: incidents, alerts, actions, activity, and for an IP its
/// recent events, for an endpoint its inventory records. An unknown kind is a 404 page.
pub async fn entity(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, PageError> {
    let Path((kind, value)) = path.map_err(bad_path)?;
    let kind: EntityKind = kind.parse().map_err(|_| {
        ApiError::new(
            ErrorKind::NotFound,
            format!(
                "no entity kind {kind:?} (kinds: {})",
                EntityKind::ALL.map(EntityKind::as_str).join(", ")
            ),
        )
    })?;
    // the walkthrough's "inspect the attacker" step
    super::walkthrough::note(
        &state,
        &caller,
        &format!("entity:{}:{value}", kind.as_str()),
    )
    .await;
    let incidents = IncidentFilter {
        entity: Some(value.clone()),
        sort: IncidentSort::Updated,
        limit: Some(ENTITY_ROWS),
        ..Default::default()
    };
    let alerts = AlertFilter {
        entity: Some(value.clone()),
        limit: Some(ENTITY_ROWS),
        ..Default::default()
    };
    let (incidents, alerts, acts) = tokio::join!(
        state.store.list_incidents(&incidents),
        state.store.list_alerts(&alerts),
        entity_actions(&state, kind, &value),
    );
    let (incidents, alerts, acts) = (incidents?, alerts?, acts?);
    let entity = Entity::new(kind, value.clone(), EntityRole::Related);
    let (activity, access) = if kind.is_actor() {
        let (a, b) = tokio::join!(
            state.store.entity_activity(&entity),
            state.store.actor_access(&entity, Timestamp(0), ACCESS_ROWS)
        );
        (Some(a?), b?)
    } else {
        (None, Vec::new())
    };
    let events = if kind == EntityKind::Ip {
        let q = EventQuery {
            client_ip: Some(value.clone()),
            newest_first: true,
            limit: Some(ENTITY_ROWS),
            ..Default::default()
        };
        state
            .store
            .list_events(&q)
            .await?
            .into_iter()
            .map(|e| e.event)
            .collect()
    } else {
        Vec::new()
    };
    let endpoints = match (kind, rampart_model::entity::endpoint_parts(&value)) {
        (EntityKind::Endpoint, Some((host, method, path))) => state
            .store
            .list_endpoints()
            .await?
            .into_iter()
            .filter(|e| {
                e.method == method && e.path_template == path && host.is_none_or(|h| h == e.host)
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(ok_page(rampart_console::entity::entity(
        &viewer(&caller),
        &EntityView {
            kind,
            value: &value,
            activity,
            incidents: &incidents,
            alerts: &alerts,
            events: &events,
            access: &access,
            actions: &acts,
            endpoints: &endpoints,
        },
    )))
}

/// The actions acting on an entity ([`Target::concerns`]): every active one and the most
/// recent others, newest first, at most [`ENTITY_ROWS`].
pub(crate) async fn entity_actions(
    state: &AppState,
    kind: EntityKind,
    value: &str,
) -> Result<Vec<Action>, PageError> {
    let recent = ActionFilter {
        limit: Some(ENTITY_ACTION_SCAN),
        ..Default::default()
    };
    let (active, recent) = tokio::join!(
        state.store.active_actions(),
        state.store.list_actions(&recent)
    );
    let mut all = active?;
    all.extend(recent?.items);
    all.sort_by_key(|a| std::cmp::Reverse(a.id));
    all.dedup_by_key(|a| a.id);
    all.retain(|a| {
        Target::parse(a.action.kind, &a.action.target).is_ok_and(|t| t.concerns(kind, value))
    });
    all.truncate(ENTITY_ROWS as usize);
    Ok(all)
}

/// `GET /inventory`: the learned endpoints, filtered and sorted by the query string.
pub async fn inventory(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let q = InventoryQuery::parse(raw.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::bad_request(e.0))?;
    let eps = state.store.list_endpoints().await?;
    let newest = eps.iter().map(|e| e.last_seen).max().unwrap_or_default();
    let spec = state.api_spec.as_deref();
    let rows: Vec<EndpointRow> = eps
        .into_iter()
        .map(|e| EndpointRow {
            shadow: spec.map(|s| !s.documents(&e.method, &e.path_template)),
            inactive: e.is_inactive(newest),
            info: e,
        })
        .collect();
    Ok(ok_page(rampart_console::inventory::inventory(
        &viewer(&caller),
        &InventoryView {
            query: &q,
            rows: &rows,
            spec_loaded: spec.is_some(),
        },
    )))
}

async fn actions_with(
    state: &AppState,
    status: ActionStatus,
    limit: u32,
) -> Result<Vec<Action>, PageError> {
    let f = ActionFilter {
        status: Some(status),
        limit: Some(limit),
        ..Default::default()
    };
    Ok(state.store.list_actions(&f).await?.items)
}

/// `GET /actions`: pending, active and past actions, and the new-action form (filled in from
/// `kind`, `target` and `incident` in the query string).
pub async fn action_center(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let raw = raw.unwrap_or_default();
    let draft = ActionDraft::parse(&raw);
    let past_rows = PAST_ROWS as u32;
    let (pending, active, expired, reverted, failed) = tokio::join!(
        actions_with(&state, ActionStatus::PendingApproval, ACTION_ROWS),
        actions_with(&state, ActionStatus::Active, ACTION_ROWS),
        actions_with(&state, ActionStatus::Expired, past_rows),
        actions_with(&state, ActionStatus::Reverted, past_rows),
        actions_with(&state, ActionStatus::Failed, past_rows),
    );
    let mut past = expired?;
    past.extend(reverted?);
    past.extend(failed?);
    past.sort_by_key(|a| std::cmp::Reverse(a.id));
    past.truncate(PAST_ROWS);
    let flash = done_message(
        &raw,
        &[
            ("created", "action created"),
            ("approved", "action approved"),
            ("reverted", "action reverted"),
        ],
    );
    Ok(ok_page(rampart_console::actions::action_center(
        &viewer(&caller),
        &ActionsView {
            pending: &pending?,
            active: &active?,
            past: &past,
            draft: &draft,
            flash,
        },
    )))
}

/// The fixed message of a `done=` code in a query string (never text from the URL).
fn done_message(query: &str, known: &[(&str, &'static str)]) -> Option<&'static str> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "done")
        .and_then(|(_, v)| known.iter().find(|(c, _)| *c == v).map(|(_, m)| *m))
}

/// A trimmed form field, `None` when absent or blank.
fn given<'a>(f: &'a [(String, String)], name: &str) -> Option<&'a str> {
    field(f, name).map(str::trim).filter(|v| !v.is_empty())
}

/// `POST /actions`: `kind`, `target`, `reason`, optional `duration` (Go-style),
/// `incident_id`, and for `rate_limit` `rate_requests` per `rate_window`. Planned by
/// `rampart-contain` exactly as `POST /api/v1/actions`; back to `back` or the action center.
pub async fn create_action(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let f = form(&body);
    let incident_id = given(&f, "incident_id")
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| ApiError::unprocessable(format!("incident {v:?} is not a number")))
        })
        .transpose()?;
    let rate = match (given(&f, "rate_requests"), given(&f, "rate_window")) {
        (None, None) => None,
        (Some(n), w) => Some((
            n.parse::<u32>().map_err(|_| {
                ApiError::unprocessable(format!("rate requests {n:?} is not a number"))
            })?,
            w.unwrap_or("1m"),
        )),
        (None, Some(_)) => {
            return Err(ApiError::unprocessable("a rate window needs a number of requests").into())
        }
    };
    let req = actions::action_request(
        given(&f, "kind").unwrap_or(""),
        given(&f, "target").unwrap_or("").to_string(),
        rate,
        given(&f, "duration"),
        field(&f, "reason").unwrap_or("").to_string(),
        incident_id,
    )?;
    actions::create_action(&state, &caller, req).await?;
    Ok(back(&f, "/actions?done=created").into_response())
}

/// `GET /detectors`: the catalogue, alerts per detector over [`DETECTOR_DAYS`] days, and the
/// Sigma rules with their authors.
pub async fn detectors(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, PageError> {
    let since = Timestamp(Timestamp::now().millis() - i64::from(DETECTOR_DAYS) * 86_400_000);
    let counts = state.store.alert_counts_by_detector(since).await?;
    Ok(ok_page(rampart_console::pages::detectors(
        &viewer(&caller),
        &DetectorsView {
            catalogue: &state.catalogue,
            counts: &counts,
            days: DETECTOR_DAYS,
        },
    )))
}

/// The protected entities of the running configuration, by kind, for the settings page.
fn protected(state: &AppState) -> Vec<(&'static str, Vec<String>)> {
    let p = &state.contain.protected;
    vec![
        (
            "IPs and ranges",
            p.ips.iter().map(ToString::to_string).collect(),
        ),
        ("API keys", p.api_keys.clone()),
        ("Principals", p.principals.clone()),
        ("Endpoints", p.endpoints.clone()),
        ("Services", p.services.clone()),
    ]
}

/// `GET /settings`: users, tokens and gateway keys (with `manage_tokens`), protected entities.
pub async fn settings(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let v = viewer(&caller);
    let users = if v.can(Permission::ManageUsers) {
        state.store.list_users().await?
    } else {
        Vec::new()
    };
    // what a role may not manage it does not see either
    let tokens = if v.can(Permission::ManageTokens) {
        state.store.list_tokens().await?
    } else {
        Vec::new()
    };
    let flash = done_message(
        raw.as_deref().unwrap_or(""),
        &[
            ("user", "user created"),
            ("revoked", "token revoked"),
            ("disabled", "user disabled: their sessions ended"),
            ("enabled", "user enabled"),
            ("password", "password set: their sessions ended"),
        ],
    );
    Ok(ok_page(rampart_console::settings::settings(
        &v,
        &SettingsView {
            users: &users,
            tokens: &tokens,
            protected: &protected(&state),
            flash,
        },
    )))
}

/// `POST /settings/users`: `name`, `role`, `password`. Machine roles are refused, and so is
/// a role holding a permission the creator lacks ([`Role::may_grant`]); the password is
/// stored as an argon2id hash, the creation audited.
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let f = form(&body);
    let name = given(&f, "name").unwrap_or("");
    rampart_model::validate_user_name(name).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let role: Role = given(&f, "role")
        .unwrap_or("")
        .parse()
        .map_err(|e: rampart_model::ModelError| ApiError::unprocessable(e.to_string()))?;
    if role.is_machine() {
        return Err(ApiError::unprocessable(format!(
            "{role} is a machine role: create a token for it, not a user"
        ))
        .into());
    }
    if !caller.role.may_grant(role) {
        return Err(ApiError::new(
            ErrorKind::Forbidden,
            format!(
                "your role {} may not create a user of role {role}",
                caller.role
            ),
        )
        .into());
    }
    let password = field(&f, "password").unwrap_or("").to_string();
    rampart_model::validate_password(&password)
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    // argon2 is slow on purpose: off the async threads
    let hash = tokio::task::spawn_blocking(move || super::session::hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let user = state
        .store
        .create_user(name, role, &hash, &caller.actor())
        .await?;
    tracing::info!(user = %user.name, role = %user.role, actor = %caller.actor(), "console user created");
    Ok(Redirect::to("/settings?done=user").into_response())
}

/// The user another user (`caller`) is about to change: it exists, is not the caller, and
/// holds nothing the caller's role lacks.
async fn managed_user(
    state: &AppState,
    caller: &Caller,
    name: &str,
) -> Result<rampart_model::User, PageError> {
    let (user, _) = state
        .store
        .user_by_name(name)
        .await?
        .ok_or_else(|| ApiError::not_found("user", name))?;
    if user.name == caller.name {
        return Err(ApiError::unprocessable("you may not change your own account here").into());
    }
    if !caller.role.may_grant(user.role) {
        return Err(ApiError::new(
            ErrorKind::Forbidden,
            format!(
                "your role {} may not change a user of role {}",
                caller.role, user.role
            ),
        )
        .into());
    }
    Ok(user)
}

/// `POST /settings/users/{name}/disable` (`disabled`: `true` or `false`): disable a user
/// (ending its sessions at once) or enable it again.
pub async fn set_user_disabled(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let f = form(&body);
    let disabled = match given(&f, "disabled") {
        Some("true") => true,
        Some("false") => false,
        _ => return Err(ApiError::unprocessable("disabled must be true or false").into()),
    };
    let user = managed_user(&state, &caller, &name).await?;
    state
        .store
        .set_user_disabled(&user.name, disabled, &caller.actor())
        .await?;
    let done = if disabled { "disabled" } else { "enabled" };
    Ok(Redirect::to(&format!("/settings?done={done}")).into_response())
}

/// `POST /settings/users/{name}/password` (`password`): set a new password (ending the
/// user's sessions).
pub async fn set_user_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let f = form(&body);
    let password = field(&f, "password").unwrap_or("").to_string();
    rampart_model::validate_password(&password)
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let user = managed_user(&state, &caller, &name).await?;
    let hash = tokio::task::spawn_blocking(move || super::session::hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    state
        .store
        .set_user_password(&user.name, &hash, &caller.actor())
        .await?;
    Ok(Redirect::to("/settings?done=password").into_response())
}

/// `POST /settings/tokens`: `purpose` (`api` with a `role`, or `enforcer` / `bouncer`, which
/// are `enforcer` tokens) and `name`. The answer page shows the secret, once; only its hash
/// is stored.
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let f = form(&body);
    let purpose = KeyPurpose::parse(given(&f, "purpose").unwrap_or("api"))
        .ok_or_else(|| ApiError::unprocessable("purpose is api, enforcer or bouncer"))?;
    let role = match purpose.role() {
        Some(r) => r,
        None => given(&f, "role")
            .unwrap_or("")
            .parse()
            .map_err(|e: rampart_model::ModelError| ApiError::unprocessable(e.to_string()))?,
    };
    let name = given(&f, "name").unwrap_or("");
    let (token, secret) = api::issue_token(&state, &caller, name, role).await?;
    tracing::info!(token = %token.name, role = %token.role, actor = %caller.actor(), "token created in the console");
    Ok(ok_page(rampart_console::settings::secret_once(
        &viewer(&caller),
        &token,
        &secret,
        purpose,
    )))
}

/// `POST /settings/tokens/{name}/revoke`: refused at once on this node, on the others within
/// their token refresh interval.
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    name: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let Path(name) = name.map_err(bad_path)?;
    state
        .tokens
        .revoke(&*state.store, &name, &caller.actor())
        .await
        .map_err(ApiError::from)?;
    Ok(Redirect::to("/settings?done=revoked").into_response())
}

/// `GET /soc?since=&until=`: the SOC metrics dashboard (as `GET /api/v1/metrics/soc`).
pub async fn soc(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<axum::extract::Query<crate::api::Params>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let a = crate::soc::answer(&state, q).await?;
    Ok(ok_page(rampart_report::soc::dashboard(
        &viewer(&caller),
        &a.metrics,
        a.since,
        a.until,
        a.incidents_measured,
        a.incidents_total,
    )))
}
