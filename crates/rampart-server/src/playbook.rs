//! Playbooks: the API (`/api/v1/playbooks`, `/api/v1/playbook-runs`) and the runner that
//! executes runs, started by [`crate::serve_with_shutdown`].
//!
//! The runner claims runnable runs from the store with a lease (a compare-and-set, so several
//! nodes sharing one PostgreSQL never run one run at the same time), asks the pure engine
//! (`rampart_automation::playbook::next`) what to do from the run's persisted steps, and does
//! it one step at a time: a step is recorded `started` (with its expanded input) before its
//! side effect and `completed` (with its output) after it, so a completed step is never
//! executed again, whatever happens to the node. A step left `started` by a node that died is
//! executed again by the node that claims the run after its lease expired: built-in steps are
//! idempotent (containment skips a target an active or pending action of the kind already
//! covers, tags are a set, a task with the same title is not added twice, a revert of a
//! reverted action is a no-op), and a webhook is re-sent with the same `X-Rampart-Delivery`
//! id (`<run>-<step key>`) so the receiver can de-duplicate.
//!
//! Built-in steps change the incident through the same functions as the API
//! ([`crate::api::apply_patch`], the store's comment and task writes, containment through
//! `rampart_contain::plan` / `revert` and the store), audited as `playbook:<name>`;
//! containment is planned with the role of those who manage automation (`soc_manager`),
//! within the `[contain]` rails (an action that needs approval waits for a person).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rampart_automation::playbook::{self as engine, Context, Exec, Next, Playbook, StepState};
use rampart_automation::Actor;
use rampart_model::{
    ActionRequest, ActionStatus, AutomationObject, Entity, EntityKind, EntityRole, IncidentPatch,
    NewRun, NewTask, PlaybookRun, RunStatus, RunStep, RunSubject, StepStatus, TaskKind, Timestamp,
    AUTOMATION_PLAYBOOK,
};
use rampart_store::{EventQuery, StoreError};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{body_bytes, path_id};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorKind};
use crate::AppState;

/// How often the runner looks for runnable runs.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// How long a claim holds a run without progress (a node that died releases its runs after
/// it; each step extends it by this plus the step's own longest duration).
pub const LEASE: Duration = Duration::from_secs(60);
/// Most runs one node drives at once.
const MAX_CLAIM: u32 = 8;

// --- the runner ---------------------------------------------------------------------------

/// Claim and drive runnable runs until `stop`.
pub async fn run(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let owner = crate::worker::lease_owner();
    let client = match crate::webhook::http_client(&state.config.webhooks) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "playbook runner: building the HTTP client failed");
            return;
        }
    };
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut driving: tokio::task::JoinSet<()> = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        while driving.try_join_next().is_some() {}
        let room = MAX_CLAIM.saturating_sub(driving.len() as u32);
        if room == 0 {
            continue;
        }
        let now = Timestamp::now();
        let claimed = match state
            .store
            .claim_runs(&owner, now, lease_from(now, 0), room)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "claiming playbook runs failed");
                continue;
            }
        };
        for r in claimed {
            let runner = Runner {
                state: state.clone(),
                owner: owner.clone(),
                client: client.clone(),
            };
            driving.spawn(async move { runner.drive(r).await });
        }
    }
    // In-flight runs stop at their next step; their leases expire and another node (or this
    // one, restarted) continues them.
    driving.abort_all();
}

fn lease_from(now: Timestamp, extra_ms: u64) -> Timestamp {
    Timestamp(now.millis() + LEASE.as_millis() as i64 + extra_ms as i64)
}

struct Runner {
    state: AppState,
    owner: String,
    client: reqwest::Client,
}

/// A run's steps as the engine reads them.
fn step_states(steps: &[RunStep]) -> BTreeMap<String, StepState> {
    steps
        .iter()
        .filter_map(|s| match s.status {
            StepStatus::Started => Some((s.step_key.clone(), StepState::Started(s.input.clone()))),
            StepStatus::Completed => {
                Some((s.step_key.clone(), StepState::Completed(s.output.clone())))
            }
            StepStatus::Failed => None,
        })
        .collect()
}

impl Runner {
    async fn drive(&self, run: PlaybookRun) {
        let id = run.id;
        if let Err(e) = self.drive_inner(run).await {
            match e {
                StoreError::Conflict(m) => {
                    tracing::info!(run = id, reason = %m, "playbook run left (cancelled or taken over)")
                }
                e => tracing::warn!(run = id, error = %e, "playbook run interrupted"),
            }
        }
    }

    async fn drive_inner(&self, run: PlaybookRun) -> Result<(), StoreError> {
        let store = &self.state.store;
        let pb: Playbook = match serde_json::from_value(run.body.clone()) {
            Ok(p) => p,
            Err(e) => {
                let msg = format!("the stored playbook does not read: {e}");
                store
                    .finish_run(
                        run.id,
                        &self.owner,
                        RunStatus::Failed,
                        Some(&msg),
                        &actor(&run),
                    )
                    .await?;
                return Ok(());
            }
        };
        let cx = match self.context(&run).await {
            Ok(c) => c,
            Err(msg) => {
                store
                    .finish_run(
                        run.id,
                        &self.owner,
                        RunStatus::Failed,
                        Some(&msg),
                        &actor(&run),
                    )
                    .await?;
                return Ok(());
            }
        };
        loop {
            let steps = match store.get_run(run.id).await? {
                Some((_, steps)) => steps,
                None => return Ok(()),
            };
            let now = Timestamp::now();
            match engine::next(&pb, &cx, &step_states(&steps), now) {
                Next::Execute { key, id, exec } => {
                    let input = serde_json::to_value(&exec).unwrap_or(Value::Null);
                    let step = store
                        .record_step_started(
                            run.id,
                            &self.owner,
                            &key,
                            &id,
                            &input,
                            lease_from(now, max_duration_ms(&exec)),
                        )
                        .await?;
                    tracing::info!(run = run.id, step = %key, id = %id, attempt = step.attempt, "playbook step started");
                    let result = self.execute(&run, &pb, &key, &exec).await;
                    match &result {
                        Ok(out) => {
                            store
                                .record_step_finished(run.id, &self.owner, &key, &id, None, Ok(out))
                                .await?;
                        }
                        Err(e) => {
                            store
                                .record_step_finished(run.id, &self.owner, &key, &id, None, Err(e))
                                .await?;
                            let msg = format!("step {key} ({id}): {e}");
                            tracing::warn!(run = run.id, step = %key, error = %e, "playbook step failed");
                            store
                                .finish_run(
                                    run.id,
                                    &self.owner,
                                    RunStatus::Failed,
                                    Some(&msg),
                                    &actor(&run),
                                )
                                .await?;
                            return Ok(());
                        }
                    }
                }
                Next::Record {
                    key,
                    id,
                    input,
                    output,
                } => {
                    store
                        .record_step_finished(
                            run.id,
                            &self.owner,
                            &key,
                            &id,
                            Some(&input),
                            Ok(&output),
                        )
                        .await?;
                }
                Next::WaitUntil {
                    key,
                    id,
                    until,
                    first,
                } => {
                    if first {
                        store
                            .record_step_started(
                                run.id,
                                &self.owner,
                                &key,
                                &id,
                                &json!({ "until": until }),
                                lease_from(now, 0),
                            )
                            .await?;
                    }
                    store.park_run(run.id, &self.owner, Some(until)).await?;
                    return Ok(());
                }
                Next::AwaitApproval {
                    key,
                    id,
                    prompt,
                    first,
                } => {
                    if first {
                        store
                            .record_step_started(
                                run.id,
                                &self.owner,
                                &key,
                                &id,
                                &json!({ "prompt": prompt }),
                                lease_from(now, 0),
                            )
                            .await?;
                    }
                    tracing::info!(run = run.id, step = %key, "playbook run waiting for an approval");
                    store.park_run(run.id, &self.owner, None).await?;
                    return Ok(());
                }
                Next::Done => {
                    store
                        .finish_run(
                            run.id,
                            &self.owner,
                            RunStatus::Succeeded,
                            None,
                            &actor(&run),
                        )
                        .await?;
                    tracing::info!(run = run.id, playbook = %run.playbook, "playbook run succeeded");
                    return Ok(());
                }
                Next::Failed { key, error } => {
                    let id = key.clone();
                    store
                        .record_step_finished(run.id, &self.owner, &key, &id, None, Err(&error))
                        .await?;
                    let msg = format!("step {key}: {error}");
                    store
                        .finish_run(
                            run.id,
                            &self.owner,
                            RunStatus::Failed,
                            Some(&msg),
                            &actor(&run),
                        )
                        .await?;
                    return Ok(());
                }
            }
        }
    }

    /// What the run's subject is, read from the store.
    async fn context(&self, run: &PlaybookRun) -> Result<Context, String> {
        let store = &self.state.store;
        let mut cx = Context {
            run_id: run.id,
            ..Default::default()
        };
        let incident_view = |i: &rampart_model::Incident| json!({"id": i.id, "title": i.title, "severity": i.severity, "status": i.status});
        match &run.subject {
            RunSubject::Incident(id) => {
                let d = store
                    .get_incident(*id)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("incident {id} not found"))?;
                cx.incident = Some(incident_view(&d.incident));
                cx.entities = attackers_first(d.incident.entities.clone());
            }
            RunSubject::Alert(id) => {
                let a = store
                    .get_alert(*id)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("alert {id} not found"))?;
                cx.alert =
                    Some(json!({"id": a.id, "title": a.draft.title, "detector": a.draft.detector}));
                cx.entities = attackers_first(a.draft.entities.clone());
                if let Some(inc) = a.incident_id {
                    if let Ok(Some(d)) = store.get_incident(inc).await {
                        cx.incident = Some(incident_view(&d.incident));
                    }
                }
            }
            RunSubject::Entity { kind, value } => {
                cx.entity = Some(json!({"kind": kind, "value": value}));
                cx.entities = vec![Entity::new(*kind, value.clone(), EntityRole::Attacker)];
            }
        }
        Ok(cx)
    }

    async fn execute(
        &self,
        run: &PlaybookRun,
        pb: &Playbook,
        key: &str,
        exec: &Exec,
    ) -> Result<Value, String> {
        let state = &self.state;
        let actor = Actor::Playbook(pb.name.clone()).audit_name();
        let incident = || {
            run.incident_id.ok_or_else(|| {
                "this step needs an incident (the run's subject has none)".to_string()
            })
        };
        let err = |e: ApiError| e.to_string();
        match exec {
            Exec::Contain {
                kind,
                target,
                duration_secs,
            } => {
                self.contain(run, &actor, *kind, target, *duration_secs)
                    .await
            }
            Exec::Revert { action_id } => {
                let action = state
                    .store
                    .get_action(*action_id)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("action {action_id} not found"))?;
                if matches!(
                    action.status(),
                    ActionStatus::Reverted | ActionStatus::Expired
                ) {
                    return Ok(
                        json!({"action_id": action_id, "status": action.status(), "already": true}),
                    );
                }
                let by = rampart_contain::Person {
                    actor: &actor,
                    role: rampart_model::Role::SocManager,
                };
                let reason = format!("playbook {} run {}", pb.name, run.id);
                let change = rampart_contain::revert(&action, by, &reason, Timestamp::now())
                    .map_err(|r| r.to_string())?;
                let done = state
                    .store
                    .update_action_state(*action_id, action.status(), &change, &actor)
                    .await
                    .map_err(|e| e.to_string())?;
                state.actions_changed(std::slice::from_ref(&done)).await;
                Ok(json!({"action_id": action_id, "status": done.status()}))
            }
            Exec::Assign { owner } => {
                let patch = IncidentPatch {
                    assigned_to: Some(Some(owner.clone())),
                    ..Default::default()
                };
                crate::api::apply_patch(state, incident()?, &patch, &actor)
                    .await
                    .map_err(err)?;
                Ok(json!({"owner": owner}))
            }
            Exec::Tag { tags } => {
                let id = incident()?;
                let d = state
                    .store
                    .get_incident(id)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("incident {id} not found"))?;
                let mut all = d.incident.tags.clone();
                for t in tags {
                    if !all.iter().any(|x| x.eq_ignore_ascii_case(t)) {
                        all.push(t.clone());
                    }
                }
                if all != d.incident.tags {
                    let patch = IncidentPatch {
                        tags: Some(all.clone()),
                        ..Default::default()
                    };
                    crate::api::apply_patch(state, id, &patch, &actor)
                        .await
                        .map_err(err)?;
                }
                Ok(json!({"tags": all}))
            }
            Exec::Comment { text } => {
                crate::api::validate_comment(text, state.config.max_comment_chars).map_err(err)?;
                let c = state
                    .store
                    .add_comment(incident()?, &actor, text)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(json!({"comment_id": c.id}))
            }
            Exec::AddTask { title, description } => {
                let id = incident()?;
                let existing = state
                    .store
                    .list_tasks(id)
                    .await
                    .map_err(|e| e.to_string())?;
                if let Some(t) = existing.iter().find(|t| &t.task.title == title) {
                    return Ok(json!({"task_id": t.id, "already": true}));
                }
                let task = NewTask {
                    kind: TaskKind::Custom,
                    title: title.clone(),
                    detail: description.clone(),
                    entity: None,
                };
                let made = state
                    .store
                    .create_tasks(id, &[task], &actor, Timestamp::now())
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(json!({"task_id": made.first().map(|t| t.id)}))
            }
            Exec::LookupInventory { endpoint } => {
                let all = state
                    .store
                    .list_endpoints()
                    .await
                    .map_err(|e| e.to_string())?;
                let want = endpoint.trim();
                let found = all.iter().find(|e| {
                    format!("{} {}", e.method, e.path_template) == want || e.key() == want
                });
                Ok(match found {
                    Some(e) => json!({
                        "found": true,
                        "host": e.host,
                        "method": e.method,
                        "path_template": e.path_template,
                        "calls": e.calls,
                        "authenticated_calls": e.authenticated_calls,
                        "sensitive_data": e.sensitive_data,
                        "first_seen": e.first_seen,
                        "last_seen": e.last_seen,
                    }),
                    None => json!({"found": false}),
                })
            }
            Exec::LookupIntel { ip } => {
                let addr: std::net::IpAddr = ip
                    .parse()
                    .map_err(|_| format!("lookup_intel: {ip:?} is not an IP address"))?;
                Ok(match &state.intel {
                    None => json!({"listed": false, "feed": null, "configured": false}),
                    Some(intel) => {
                        let feed = intel.load().lookup(addr, None).map(str::to_string);
                        json!({"listed": feed.is_some(), "feed": feed, "configured": true})
                    }
                })
            }
            Exec::QueryEvents {
                by,
                value,
                since,
                limit,
            } => self.query_events(by, value, *since, *limit).await,
            Exec::Webhook {
                url,
                secret_env,
                body,
                timeout_secs,
                retries,
                backoff_ms,
            } => {
                let delivery = format!("{}-{key}", run.id);
                self.webhook(
                    &delivery,
                    url,
                    secret_env.as_deref(),
                    body,
                    *timeout_secs,
                    *retries,
                    *backoff_ms,
                )
                .await
            }
        }
    }

    async fn contain(
        &self,
        run: &PlaybookRun,
        actor: &str,
        kind: rampart_model::ActionKind,
        target: &str,
        duration_secs: Option<u64>,
    ) -> Result<Value, String> {
        let state = &self.state;
        let req = ActionRequest {
            kind,
            target: target.to_string(),
            raw_key: None,
            scope: Default::default(),
            rate: None,
            duration_secs,
            reason: format!("playbook {} run {}", run.playbook, run.id),
            incident_id: run.incident_id,
        };
        let person = rampart_contain::Person {
            actor,
            role: rampart_model::Role::SocManager,
        };
        let new = rampart_contain::plan(&req, person, &state.contain, Timestamp::now())
            .map_err(|r| r.to_string())?;
        // Idempotent: a target an active or pending action of the kind covers is left alone.
        let mut existing = state
            .store
            .active_actions()
            .await
            .map_err(|e| e.to_string())?;
        if let Some(incident) = run.incident_id {
            let page = state
                .store
                .list_actions(&rampart_model::ActionFilter {
                    incident_id: Some(incident),
                    ..Default::default()
                })
                .await
                .map_err(|e| e.to_string())?;
            existing.extend(page.items);
        }
        if let Some(a) = existing.iter().find(|a| {
            a.action.kind == kind
                && a.action.target == new.target
                && matches!(
                    a.status(),
                    ActionStatus::Active | ActionStatus::PendingApproval
                )
        }) {
            return Ok(json!({"action_id": a.id, "status": a.status(), "already": true}));
        }
        let action = state
            .store
            .create_action(&new, actor)
            .await
            .map_err(|e| e.to_string())?;
        state.actions_changed(std::slice::from_ref(&action)).await;
        Ok(json!({"action_id": action.id, "status": action.status()}))
    }

    async fn query_events(
        &self,
        by: &str,
        value: &str,
        since: Timestamp,
        limit: u32,
    ) -> Result<Value, String> {
        let store = &self.state.store;
        let limit = limit.clamp(1, engine::MAX_QUERY_LIMIT);
        // By address the store filters; by principal or key the newest `limit` events of
        // the window are read and filtered here (bounded by `limit`).
        let q = EventQuery {
            since: Some(since),
            client_ip: (by == "ip").then(|| value.to_string()),
            limit: Some(limit),
            newest_first: true,
            ..Default::default()
        };
        let events = store.list_events(&q).await.map_err(|e| e.to_string())?;
        let matching: Vec<_> = events
            .iter()
            .map(|s| &s.event)
            .filter(|e| match by {
                "principal" => e.principal.as_deref() == Some(value),
                "api_key" => e.api_key_id.as_deref() == Some(value),
                _ => true,
            })
            .collect();
        let mut addresses = BTreeSet::new();
        let mut principals = BTreeSet::new();
        let mut endpoints = BTreeSet::new();
        let mut objects = BTreeSet::new();
        let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
        for e in &matching {
            if let Some(ip) = e.client_ip {
                addresses.insert(ip.to_string());
            }
            if let Some(p) = &e.principal {
                principals.insert(p.to_string());
            }
            endpoints.insert(format!("{} {}", e.method, e.path));
            if e.method.eq_ignore_ascii_case("GET") && (200..300).contains(&e.status) {
                objects.insert(e.path.to_string());
            }
            *statuses.entry(e.status.to_string()).or_default() += 1;
        }
        const SHOWN: usize = 500;
        let cap = |s: BTreeSet<String>| s.into_iter().take(SHOWN).collect::<Vec<_>>();
        let objects_read_count = objects.len();
        Ok(json!({
            "by": by,
            "value": value,
            "count": matching.len(),
            "addresses": cap(addresses),
            "principals": cap(principals),
            "endpoints": cap(endpoints),
            "objects_read": cap(objects),
            "objects_read_count": objects_read_count,
            "statuses": statuses,
        }))
    }

    #[allow(clippy::too_many_arguments)]
    async fn webhook(
        &self,
        delivery: &str,
        url: &str,
        secret_env: Option<&str>,
        body: &Value,
        timeout_secs: u64,
        retries: u32,
        backoff_ms: u64,
    ) -> Result<Value, String> {
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err(format!(
                "webhook url `{url}` is not an http:// or https:// URL"
            ));
        }
        // Read at send time, never stored.
        let secret = match secret_env {
            Some(name) => Some(
                std::env::var(name)
                    .map_err(|_| format!("environment variable {name} (secret_env) is not set"))?,
            ),
            None => None,
        };
        let bytes = serde_json::to_vec(body).map_err(|e| e.to_string())?;
        let mut last = String::new();
        let attempts = retries + 1;
        for attempt in 1..=attempts {
            let mut req = self
                .client
                .post(url)
                .timeout(Duration::from_secs(timeout_secs))
                .header("content-type", "application/json")
                .header("x-rampart-delivery", delivery)
                .body(bytes.clone());
            if let Some(secret) = &secret {
                let ts = Timestamp::now().millis() / 1000;
                req = req.header(
                    rampart_automation::signature::HEADER,
                    rampart_automation::signature::sign(secret.as_bytes(), ts, &bytes),
                );
            }
            match req.send().await {
                Ok(resp) if resp.status().is_success() => {
                    return Ok(json!({
                        "status": resp.status().as_u16(),
                        "attempts": attempt,
                        "delivery": delivery,
                    }));
                }
                Ok(resp) => last = format!("answered {}", resp.status().as_u16()),
                Err(e) if e.is_timeout() => last = format!("timed out after {timeout_secs}s"),
                Err(e) => last = format!("failed to send: {e}"),
            }
            tracing::info!(%delivery, attempt, error = %last, "webhook attempt failed");
            if attempt < attempts {
                tokio::time::sleep(Duration::from_millis(engine::backoff_delay_ms(
                    backoff_ms, attempt,
                )))
                .await;
            }
        }
        Err(format!("webhook {url}: {last} (after {attempts} attempts)"))
    }
}

/// The longest a step may take, in milliseconds (its lease is extended by it).
fn max_duration_ms(exec: &Exec) -> u64 {
    match exec {
        Exec::Webhook {
            timeout_secs,
            retries,
            backoff_ms,
            ..
        } => {
            let sends = u64::from(*retries + 1) * timeout_secs * 1000;
            let waits: u64 = (1..=*retries)
                .map(|a| engine::backoff_delay_ms(*backoff_ms, a))
                .sum();
            sends + waits
        }
        _ => 0,
    }
}

fn actor(run: &PlaybookRun) -> String {
    Actor::Playbook(run.playbook.clone()).audit_name()
}

fn attackers_first(mut e: Vec<Entity>) -> Vec<Entity> {
    e.sort_by_key(|x| x.role != EntityRole::Attacker);
    e
}

// --- API: playbooks -------------------------------------------------------------------------

/// A stored playbook as the API answers it.
fn playbook_view(o: &AutomationObject) -> Result<Value, ApiError> {
    let pb: Playbook = serde_json::from_value(o.body.clone()).map_err(ApiError::internal)?;
    Ok(json!({
        "name": o.name,
        "version": o.version,
        "created_at": o.created_at,
        "updated_at": o.updated_at,
        "updated_by": o.updated_by,
        "playbook": pb,
    }))
}

/// The request body as a checked playbook (YAML or JSON; an invalid one is a 422 naming the
/// field and line).
fn playbook_body(body: Result<Bytes, BytesRejection>) -> Result<Playbook, ApiError> {
    let bytes = body_bytes(body)?;
    let text =
        std::str::from_utf8(&bytes).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    rampart_automation::parse_playbook(text)
        .map_err(|e| ApiError::unprocessable(format!("invalid playbook: {e}")))
}

/// `GET /api/v1/playbooks`.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let items = state
        .store
        .list_automation(AUTOMATION_PLAYBOOK)
        .await?
        .iter()
        .map(playbook_view)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({ "items": items })))
}

/// `GET /api/v1/playbooks/{name}`.
pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let o = state
        .store
        .get_automation(AUTOMATION_PLAYBOOK, &name)
        .await?
        .ok_or_else(|| ApiError::not_found("playbook", &name))?;
    Ok(Json(playbook_view(&o)?))
}

/// `POST /api/v1/playbooks`: a new playbook (409 when the name is taken).
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let pb = playbook_body(body)?;
    let o = crate::automation::store_new(
        &state,
        AUTOMATION_PLAYBOOK,
        "playbook",
        &pb.name,
        &pb,
        &caller.actor(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(playbook_view(&o)?)).into_response())
}

/// `PUT /api/v1/playbooks/{name}`: create or replace (a new version; runs already started
/// keep the version they started with).
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let pb = playbook_body(body)?;
    let o = crate::automation::store_named(
        &state,
        AUTOMATION_PLAYBOOK,
        "playbook",
        &name,
        &pb.name,
        &pb,
        &caller.actor(),
    )
    .await?;
    Ok(Json(playbook_view(&o)?))
}

/// `DELETE /api/v1/playbooks/{name}` (runs already started go on with their snapshot).
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .delete_automation(AUTOMATION_PLAYBOOK, &name, &caller.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- API: runs ------------------------------------------------------------------------------

/// A run as answered; with its step log when `steps` is given.
pub fn run_view(r: &PlaybookRun, steps: Option<&[RunStep]>) -> Value {
    let mut v = json!({
        "id": r.id,
        "playbook": r.playbook,
        "version": r.version,
        "subject": r.subject,
        "incident_id": r.incident_id,
        "status": r.status,
        "wake_at": r.wake_at,
        "requested_by": r.requested_by,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "error": r.error,
    });
    if let Some(steps) = steps {
        let log: Vec<Value> = steps
            .iter()
            .map(|s| {
                json!({
                    "key": s.step_key,
                    "id": s.step_id,
                    "status": s.status,
                    "input": s.input,
                    "output": s.output,
                    "error": s.error,
                    "attempt": s.attempt,
                    "started_at": s.started_at,
                    "finished_at": s.finished_at,
                    "duration_ms": s.finished_at.map(|f| f.millis() - s.started_at.millis()),
                })
            })
            .collect();
        v["steps"] = Value::Array(log);
        v["waiting_for"] = match awaiting(r, steps) {
            Some((key, prompt)) => json!({"step": key, "prompt": prompt}),
            None => Value::Null,
        };
    }
    v
}

/// The approval gate a waiting run stands at (its step key and prompt).
pub fn awaiting(r: &PlaybookRun, steps: &[RunStep]) -> Option<(String, String)> {
    if r.status != RunStatus::Waiting || r.wake_at.is_some() {
        return None;
    }
    let pb: Playbook = serde_json::from_value(r.body.clone()).ok()?;
    let cx = Context {
        run_id: r.id,
        ..Default::default()
    };
    match engine::next(&pb, &cx, &step_states(steps), Timestamp::now()) {
        Next::AwaitApproval {
            key,
            prompt,
            first: false,
            ..
        } => Some((key, prompt)),
        _ => None,
    }
}

/// Query of `GET /api/v1/playbook-runs`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunsQuery {
    #[serde(default)]
    incident_id: Option<i64>,
    #[serde(default)]
    limit: Option<u32>,
}

/// `GET /api/v1/playbook-runs?incident_id=&limit=`, newest first.
pub async fn list_runs(
    State(state): State<AppState>,
    q: Result<Query<RunsQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let runs = state
        .store
        .list_runs(q.incident_id, q.limit.unwrap_or(100).clamp(1, 1000))
        .await?;
    let items: Vec<Value> = runs.iter().map(|r| run_view(r, None)).collect();
    Ok(Json(json!({ "items": items })))
}

/// `GET /api/v1/playbook-runs/{id}`: the run and its step log (inputs, outputs, errors,
/// timing).
pub async fn get_run(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(id)?;
    let (r, steps) = state
        .store
        .get_run(id)
        .await?
        .ok_or_else(|| ApiError::not_found("playbook run", id))?;
    Ok(Json(run_view(&r, Some(&steps))))
}

/// The body of `POST /api/v1/playbook-runs`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRun {
    playbook: String,
    #[serde(default)]
    incident_id: Option<i64>,
    #[serde(default)]
    alert_id: Option<i64>,
    #[serde(default)]
    entity: Option<EntityBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntityBody {
    kind: EntityKind,
    value: String,
}

/// Queue a run of the stored playbook `name` on `subject`, as `actor` (a person through the
/// API, or `rule:<name>`). The run keeps the playbook's current version.
pub async fn start_run(
    state: &AppState,
    name: &str,
    subject: RunSubject,
    actor: &str,
) -> Result<PlaybookRun, ApiError> {
    let o = state
        .store
        .get_automation(AUTOMATION_PLAYBOOK, name)
        .await?
        .ok_or_else(|| ApiError::unprocessable(format!("playbook {name:?} not found")))?;
    let pb: Playbook = serde_json::from_value(o.body.clone()).map_err(ApiError::internal)?;
    if pb.subject.as_str() != subject.kind_str() {
        return Err(ApiError::unprocessable(format!(
            "playbook {name:?} runs on an {}, not an {}",
            pb.subject.as_str(),
            subject.kind_str()
        )));
    }
    let incident_id = match &subject {
        RunSubject::Incident(id) => {
            state
                .store
                .get_incident(*id)
                .await?
                .ok_or_else(|| ApiError::unprocessable(format!("incident {id} not found")))?;
            Some(*id)
        }
        RunSubject::Alert(id) => {
            state
                .store
                .get_alert(*id)
                .await?
                .ok_or_else(|| ApiError::unprocessable(format!("alert {id} not found")))?
                .incident_id
        }
        RunSubject::Entity { value, .. } => {
            if value.trim().is_empty() || value.len() > 1024 {
                return Err(ApiError::unprocessable(
                    "entity.value: must be 1-1024 characters",
                ));
            }
            None
        }
    };
    let run = state
        .store
        .create_run(
            &NewRun {
                playbook: name.to_string(),
                version: o.version,
                body: o.body,
                subject,
                incident_id,
                requested_by: actor.to_string(),
            },
            actor,
        )
        .await?;
    tracing::info!(run = run.id, playbook = %name, %actor, "playbook run queued");
    Ok(run)
}

/// `POST /api/v1/playbook-runs` `{"playbook": .., "incident_id" | "alert_id" | "entity":
/// {"kind", "value"}}`: 201 with the queued run.
pub async fn create_run(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let b: CreateRun = crate::api::json_body(&body_bytes(body)?)?;
    let subject = match (b.incident_id, b.alert_id, b.entity) {
        (Some(i), None, None) => RunSubject::Incident(i),
        (None, Some(a), None) => RunSubject::Alert(a),
        (None, None, Some(e)) => RunSubject::Entity {
            kind: e.kind,
            value: e.value,
        },
        _ => {
            return Err(ApiError::unprocessable(
                "give exactly one of incident_id, alert_id, entity",
            ))
        }
    };
    let run = start_run(&state, &b.playbook, subject, &caller.actor()).await?;
    Ok((StatusCode::CREATED, Json(run_view(&run, Some(&[])))).into_response())
}

/// `POST /api/v1/playbook-runs/{id}/approve`: pass the approval gate the run waits at (409
/// when it waits at none).
pub async fn approve_run(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(id)?;
    let r = approve(&state, id, &caller.actor()).await?;
    Ok(Json(r))
}

/// Approve the gate run `id` waits at, as `actor` (shared by the API and the console).
pub async fn approve(state: &AppState, id: i64, actor: &str) -> Result<Value, ApiError> {
    let (r, steps) = state
        .store
        .get_run(id)
        .await?
        .ok_or_else(|| ApiError::not_found("playbook run", id))?;
    let (key, _) = awaiting(&r, &steps).ok_or_else(|| {
        ApiError::new(
            ErrorKind::Conflict,
            format!(
                "playbook run {id} is {}, not waiting for an approval",
                r.status
            ),
        )
    })?;
    let r = state.store.approve_run(id, &key, actor).await?;
    Ok(run_view(&r, None))
}

/// `POST /api/v1/playbook-runs/{id}/cancel`.
pub async fn cancel_run(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(id)?;
    let r = state.store.cancel_run(id, &caller.actor()).await?;
    Ok(Json(run_view(&r, None)))
}
