//! The enforcement endpoints: what real gateways ask before letting a request through.
//!
//! - `GET /enforce/nginx` for nginx `auth_request` (204 allow, 403 deny, 429 rate-limited),
//! - `/enforce/envoy[/{path}]` for Envoy `ext_authz` in HTTP service mode (200, 403, 429),
//! - `GET /v1/decisions/stream` and `GET /v1/decisions` speaking CrowdSec's bouncer API, so
//!   existing bouncers enforce Rampart's address and range blocks.
//!
//! The decision is `rampart_contain::decide`'s, read from [`Enforcement`]: the active actions
//! arranged in memory and swapped atomically when an action changes (at once on this node,
//! within `enforce_sync_interval` for changes another node made). No request here touches the
//! database, except the bouncer stream (one read per pull, every few seconds per bouncer).
//! Denials are counted in memory and written to the store in batches ([`maintain`]).

use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rampart_contain::decide::{Decisions, Request, Rule, Verdict};
use rampart_model::action::format_duration;
use rampart_model::{Action, ActionKind, ActionStatus, Timestamp};
use rampart_store::{Store, StoreResult};
use serde_json::{json, Value};

use crate::api::{params, Params};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::metrics::Counter;
use crate::AppState;

/// The active actions as the decision path reads them, and what keeps them current.
#[derive(Default)]
pub struct Enforcement {
    decisions: ArcSwap<Decisions>,
    /// The active actions `decisions` was built from, so one change rebuilds from memory.
    actions: Mutex<std::collections::BTreeMap<i64, Action>>,
    /// The store's action signature when `decisions` was built.
    signature: Mutex<(i64, i64)>,
    /// One rebuild at a time.
    writer: tokio::sync::Mutex<()>,
    /// Denials of actions that left the set before their counts were written.
    orphan_hits: Mutex<Vec<(i64, u64, Timestamp)>>,
    /// When `decisions` was last rebuilt (milliseconds since the epoch).
    built_at: AtomicI64,
}

impl std::fmt::Debug for Enforcement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enforcement")
            .field("active", &self.decisions.load().len())
            .finish()
    }
}

impl Enforcement {
    /// The current decision set.
    pub fn current(&self) -> arc_swap::Guard<Arc<Decisions>> {
        self.decisions.load()
    }

    /// Rebuild from the store's active actions and swap it in.
    pub async fn reload(&self, store: &dyn Store) -> StoreResult<()> {
        let _w = self.writer.lock().await;
        let signature = store.actions_signature().await?;
        let active = store.active_actions().await?;
        *lock(&self.actions) = active.into_iter().map(|a| (a.id, a)).collect();
        self.swap();
        *lock(&self.signature) = signature;
        Ok(())
    }

    /// Apply actions this node just changed (as they are now) and swap in the new set,
    /// without reading the store.
    pub async fn apply(&self, changed: &[Action]) {
        let _w = self.writer.lock().await;
        {
            let mut actions = lock(&self.actions);
            for a in changed {
                if a.status() == ActionStatus::Active {
                    actions.insert(a.id, a.clone());
                } else {
                    actions.remove(&a.id);
                }
            }
        }
        self.swap();
    }

    /// Build from `actions` (carrying hit counters over) and swap it in. Under `writer`.
    fn swap(&self) {
        let old = self.decisions.load_full();
        let new = {
            let actions = lock(&self.actions);
            Decisions::build(actions.values(), Some(&old))
        };
        let kept: std::collections::HashSet<i64> = new.hits().map(|(id, _)| id).collect();
        let mut orphans = Vec::new();
        for (id, h) in old.hits() {
            if !kept.contains(&id) {
                if let Some((n, last)) = h.take() {
                    orphans.push((id, n, Timestamp(last)));
                }
            }
        }
        tracing::debug!(active = new.len(), "enforcement decisions rebuilt");
        self.decisions.store(Arc::new(new));
        self.built_at.store(Timestamp::now().millis(), Relaxed);
        lock(&self.orphan_hits).extend(orphans);
    }

    /// Catch up with changes made elsewhere (another node, the CLI, an expiry): when the
    /// store's action signature moved, read only the actions changed since the last change
    /// seen and apply them; a full reload when the counts then disagree or the set is older
    /// than `max_age_ms` (a backstop for what the signature cannot see).
    pub async fn sync(&self, store: &dyn Store, max_age_ms: i64) -> StoreResult<bool> {
        let now = store.actions_signature().await?;
        let seen = *lock(&self.signature);
        let stale = Timestamp::now().millis() - self.built_at.load(Relaxed) > max_age_ms;
        if stale {
            self.reload(store).await?;
            return Ok(true);
        }
        if now == seen {
            return Ok(false);
        }
        let since = Timestamp(seen.1 - SKEW_MS);
        let mut changed = Vec::new();
        for kind in ActionKind::ALL {
            changed.extend(store.actions_changed_since(*kind, since).await?);
        }
        self.apply(&changed).await;
        let held = lock(&self.actions).len() as i64;
        if held != now.0 {
            self.reload(store).await?;
        } else {
            *lock(&self.signature) = now;
        }
        Ok(true)
    }

    /// Write the denials counted since the last flush, in one transaction.
    pub async fn flush_hits(&self, store: &dyn Store) -> StoreResult<usize> {
        let mut batch = std::mem::take(&mut *lock(&self.orphan_hits));
        for (id, h) in self.decisions.load().hits() {
            if let Some((n, last)) = h.take() {
                batch.push((id, n, Timestamp(last)));
            }
        }
        if batch.is_empty() {
            return Ok(0);
        }
        let n = batch.len();
        if let Err(e) = store.record_action_hits(&batch).await {
            // keep them for the next flush
            lock(&self.orphan_hits).extend(batch);
            return Err(e);
        }
        Ok(n)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Keep the decision set in sync with the store and write hit counters, until `shutdown`;
/// a last flush on the way out.
pub async fn maintain(state: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let cfg = state.config.clone();
    let mut sync = tokio::time::interval(cfg.enforce_sync_interval);
    let mut flush = tokio::time::interval(cfg.enforce_hits_flush_interval);
    sync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // the signature sees every change but a pathological one; a full reload now and then
    let backstop = (cfg.enforce_sync_interval.as_millis() as i64).saturating_mul(300);
    let automation = state.pipeline.actions_changed().clone();
    loop {
        tokio::select! {
            // automation on this node created an action: in force now, not at the next tick
            _ = automation.notified() => {
                if let Err(e) = state.enforcement.sync(&*state.store, backstop).await {
                    tracing::warn!(error = %e, "syncing enforcement decisions");
                }
            }
            _ = sync.tick() => {
                if let Err(e) = state.enforcement.sync(&*state.store, backstop).await {
                    tracing::warn!(error = %e, "syncing enforcement decisions");
                }
            }
            _ = flush.tick() => {
                if let Err(e) = state.enforcement.flush_hits(&*state.store).await {
                    tracing::warn!(error = %e, "writing action hit counters");
                }
            }
            _ = shutdown.changed() => break,
        }
    }
    if let Err(e) = state.enforcement.flush_hits(&*state.store).await {
        tracing::warn!(error = %e, "writing action hit counters at shutdown");
    }
}

/// A header's value as text, when it is valid text.
fn header<'h>(h: &'h HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name)?.to_str().ok().map(str::trim)
}

/// Judge the request the headers describe.
fn judge(state: &AppState, h: &HeaderMap, method: &str, uri: &str) -> Verdict {
    let decisions = state.enforcement.current();
    if decisions.is_empty() {
        state.metrics.add(Counter::EnforceAllowed, 1);
        return Verdict::Allow;
    }
    let cfg = &state.decode;
    let ip =
        rampart_decode::gateway_client(header(h, "x-real-ip"), header(h, "x-forwarded-for"), cfg);
    let (key, principal) = rampart_decode::gateway_credentials(
        h.iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))),
        cfg,
        decisions.wants_keys(),
        decisions.wants_principals(),
    );
    let path = uri.split(['?', '#']).next().unwrap_or(uri);
    let host = header(h, "x-original-host")
        .or_else(|| header(h, "x-forwarded-host"))
        .or_else(|| header(h, "host"));
    let req = Request {
        ip,
        method,
        path,
        host,
        service: header(h, "x-rampart-service"),
        key,
        principal: principal.as_deref(),
    };
    let v = decisions.decide(&req, Timestamp::now().millis());
    state.metrics.add(
        match v {
            Verdict::Allow => Counter::EnforceAllowed,
            Verdict::Deny(_) => Counter::EnforceDenied,
            Verdict::RateLimited(_) => Counter::EnforceRateLimited,
        },
        1,
    );
    v
}

fn answer(v: Verdict, allow: StatusCode) -> Response {
    let (status, id, message) = match v {
        Verdict::Allow => return allow.into_response(),
        Verdict::Deny(id) => (StatusCode::FORBIDDEN, id, "denied by a containment action"),
        Verdict::RateLimited(id) => (
            StatusCode::TOO_MANY_REQUESTS,
            id,
            "rate-limited by a containment action",
        ),
    };
    let code = if status == StatusCode::FORBIDDEN {
        "denied"
    } else {
        "rate_limited"
    };
    let mut r = (
        status,
        Json(json!({"error": {"code": code, "message": message, "action": id}})),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        r.headers_mut().insert("x-rampart-action", v);
    }
    r
}

/// `GET /enforce/nginx`: the original request in `X-Original-Method`, `X-Original-URI`,
/// `X-Original-Host` (or `Host`), `X-Real-IP`/`X-Forwarded-For` and its own credential
/// headers. 204 allow, 403 deny, 429 rate-limited; `X-Rampart-Action` names the action.
pub async fn nginx(State(state): State<AppState>, req: axum::extract::Request) -> Response {
    // the request itself, not the `HeaderMap` extractor, which would copy every header
    let headers = req.headers();
    let method = header(headers, "x-original-method").unwrap_or("GET");
    let uri = header(headers, "x-original-uri").unwrap_or("/");
    answer(judge(&state, headers, method, uri), StatusCode::NO_CONTENT)
}

/// `/enforce/envoy/{path}`: Envoy's ext_authz HTTP service appends the original path to the
/// configured `path_prefix` and sends the original method. 200 allow, 403, 429.
pub async fn envoy(State(state): State<AppState>, req: axum::extract::Request) -> Response {
    let (method, uri, headers) = (req.method(), req.uri(), req.headers());
    let full = uri.path_and_query().map_or("/", |p| p.as_str());
    let original = full.strip_prefix("/enforce/envoy").unwrap_or(full);
    let original = if original.is_empty() || original.starts_with('?') {
        "/"
    } else {
        original
    };
    answer(
        judge(&state, headers, method.as_str(), original),
        StatusCode::OK,
    )
}

/// CrowdSec's origin for Rampart's decisions.
pub const ORIGIN: &str = "rampart";

/// An address or range block as a CrowdSec decision (`None` for other kinds or a block
/// whose time is up).
fn decision(a: &Action, now: Timestamp) -> Option<Value> {
    if a.action.kind != ActionKind::BlockIp {
        return None;
    }
    let left_ms = a
        .action
        .expires_at
        .map_or(i64::MAX, |t| t.millis() - now.millis());
    if left_ms <= 0 && a.status() == ActionStatus::Active {
        return None;
    }
    Some(crowdsec_decision(
        a.id,
        &a.action.target,
        &a.action.reason,
        a.action.expires_at,
        now,
    ))
}

/// CrowdSec's decision shape: `id`, `origin`, `type`, `scope` (`Ip`/`Range`), `value`,
/// `duration` (a Go duration string), `until`, `scenario`, `simulated`.
fn crowdsec_decision(
    id: i64,
    target: &str,
    reason: &str,
    expires: Option<Timestamp>,
    now: Timestamp,
) -> Value {
    let left_ms = expires
        .map_or(i64::MAX, |t| t.millis() - now.millis())
        .max(0);
    let scope = if target.contains('/') { "Range" } else { "Ip" };
    let reason: String = reason.chars().take(120).collect();
    json!({
        "id": id,
        "origin": ORIGIN,
        "type": "ban",
        "scope": scope,
        "value": target,
        "duration": format_duration(u64::try_from(left_ms / 1000).unwrap_or(u64::MAX)),
        "until": expires.map(|t| t.to_rfc3339()),
        "scenario": format!("rampart/block_ip: {reason}"),
        "simulated": false,
    })
}

/// The `scopes`/`origins`/`scenarios_*` filters bouncers send.
#[derive(Default)]
struct Filters {
    scopes: Option<Vec<String>>,
    origins: Option<Vec<String>>,
    containing: Vec<String>,
    not_containing: Vec<String>,
}

impl Filters {
    fn keep(&self, d: &Value) -> bool {
        let field = |k: &str| d[k].as_str().unwrap_or_default().to_ascii_lowercase();
        let (scope, origin, scenario) = (field("scope"), field("origin"), field("scenario"));
        self.scopes.as_ref().is_none_or(|s| s.contains(&scope))
            && self.origins.as_ref().is_none_or(|o| o.contains(&origin))
            && (self.containing.is_empty() || self.containing.iter().any(|c| scenario.contains(c)))
            && !self.not_containing.iter().any(|c| scenario.contains(c))
    }
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

fn bool_param(k: &str, v: &str) -> Result<bool, ApiError> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" | "" => Ok(false),
        _ => Err(ApiError::bad_param(k, format!("{v:?} (true or false)"))),
    }
}

/// How far back a delta reaches before the bouncer's last pull, for clock differences
/// between the nodes that stamped the changes and the one answering (re-sending a decision
/// is harmless to bouncers; missing one is not).
const SKEW_MS: i64 = 2_000;

/// `GET /v1/decisions/stream?startup=&scopes=&origins=&scenarios_containing=&scenarios_not_containing=`:
/// on startup (or a bouncer key never seen) every active block as `new`; otherwise the blocks
/// that started (`new`) and ended (`deleted`) since the key's last pull.
pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<Params>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let mut startup = false;
    let mut f = Filters::default();
    for (k, v) in params(q)? {
        match k.as_str() {
            "startup" => startup = bool_param(&k, &v)?,
            "scopes" => f.scopes = Some(list(&v)),
            "origins" => f.origins = Some(list(&v)),
            "scenarios_containing" => f.containing = list(&v),
            "scenarios_not_containing" => f.not_containing = list(&v),
            "community_pull" | "additional_pull" => {}
            _ => return Err(ApiError::bad_param(&k, "unknown parameter")),
        }
    }
    let now = Timestamp::now();
    let token = caller
        .token_id()
        .ok_or_else(|| ApiError::internal("a bouncer route without a token"))?;
    let since = if startup {
        None
    } else {
        state.store.enforcer_last_pull(token).await?
    };
    let (new, deleted): (Vec<Value>, Vec<Value>) = match since {
        None => {
            let active = state.store.active_actions().await?;
            (
                active.iter().filter_map(|a| decision(a, now)).collect(),
                Vec::new(),
            )
        }
        Some(since) => {
            let changed = state
                .store
                .actions_changed_since(ActionKind::BlockIp, Timestamp(since.millis() - SKEW_MS))
                .await?;
            let mut new = Vec::new();
            let mut deleted = Vec::new();
            for a in &changed {
                match a.status() {
                    ActionStatus::Active => new.extend(decision(a, now)),
                    ActionStatus::PendingApproval => {}
                    _ => deleted.extend(decision(a, now)),
                }
            }
            (new, deleted)
        }
    };
    state.store.set_enforcer_last_pull(token, now).await?;
    let keep = |v: Vec<Value>| -> Value {
        let v: Vec<Value> = v.into_iter().filter(|d| f.keep(d)).collect();
        if v.is_empty() {
            Value::Null
        } else {
            Value::Array(v)
        }
    };
    Ok(Json(json!({"new": keep(new), "deleted": keep(deleted)})))
}

/// `GET /v1/decisions?ip=` (or `scope=ip&value=`, `range=`): the active blocks covering an
/// address, or naming a range; `null` when none, as CrowdSec answers. Read from memory.
pub async fn decisions(
    State(state): State<AppState>,
    q: Result<Query<Params>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let mut ip = None;
    let mut range = None;
    let mut scope_ip = true;
    let mut value = None;
    let mut f = Filters::default();
    for (k, v) in params(q)? {
        match k.as_str() {
            "ip" => {
                ip = Some(
                    v.parse::<std::net::IpAddr>()
                        .map_err(|_| ApiError::bad_param(&k, format!("{v:?} is not an address")))?,
                )
            }
            "range" => {
                range = Some(
                    v.parse::<ipnet::IpNet>()
                        .map_err(|_| ApiError::bad_param(&k, format!("{v:?} is not a range")))?
                        .trunc(),
                )
            }
            "scope" => scope_ip = v.eq_ignore_ascii_case("ip"),
            "value" => value = Some(v),
            "type" => {
                if !v.eq_ignore_ascii_case("ban") {
                    return Ok(Json(Value::Null));
                }
            }
            "origins" => f.origins = Some(list(&v)),
            "scenarios_containing" => f.containing = list(&v),
            "scenarios_not_containing" => f.not_containing = list(&v),
            "contains" => {}
            _ => return Err(ApiError::bad_param(&k, "unknown parameter")),
        }
    }
    if let (Some(v), true) = (value.as_deref(), scope_ip) {
        ip = Some(
            v.parse()
                .map_err(|_| ApiError::bad_param("value", format!("{v:?} is not an address")))?,
        );
    }
    let now = Timestamp::now();
    let d = state.enforcement.current();
    let mut out = Vec::new();
    if let Some(ip) = ip {
        out.extend(
            d.ip_rules(ip, now.millis())
                .into_iter()
                .map(|r| rule_decision(r, now)),
        );
    }
    if let Some(net) = range {
        let want = if net.prefix_len() == net.max_prefix_len() {
            net.addr().to_string()
        } else {
            net.to_string()
        };
        out.extend(
            d.ip_rules(net.addr(), now.millis())
                .into_iter()
                .filter(|r| *r.target == *want)
                .map(|r| rule_decision(r, now)),
        );
    }
    let out: Vec<Value> = out.into_iter().filter(|x| f.keep(x)).collect();
    Ok(Json(if out.is_empty() {
        Value::Null
    } else {
        Value::Array(out)
    }))
}

/// A held block as a CrowdSec decision.
fn rule_decision(r: &Rule, now: Timestamp) -> Value {
    let expires = (r.expires_ms != i64::MAX).then_some(Timestamp(r.expires_ms));
    crowdsec_decision(r.id, &r.target, &r.reason, expires, now)
}
