//! Rampart's REST API: the only crate that knows HTTP and JSON wire shapes.
//!
//! Routes are listed once in [`ROUTES`]; [`router`] builds the axum router from that list and
//! the OpenAPI document ([`openapi::document`]) describes the same list, so neither can miss
//! a route. Every route except `/healthz` needs a bearer token whose role holds the permission
//! the route names there, checked in one layer ([`auth::authorize`]); errors are
//! answered by one [`error::ApiError`] type, and every error answer is JSON, including those of
//! the HTTP layer (405, 414, 431, malformed request heads). [`serve`] runs the accept loop of
//! [`transport`] with header/body read timeouts and connection caps; tokens are checked from
//! the in-memory cache of [`tokens`].

pub mod actions;
pub mod api;
pub mod auth;
pub mod automation;
pub mod cache;
pub mod defender;
pub mod detections;
pub mod enforce;
pub mod error;
pub mod hunt;
pub mod investigation;
pub mod metrics;
pub mod ocsf;
pub mod odata;
pub mod openapi;
pub mod playbook;
pub mod recovery;
pub mod report;
pub mod retention;
pub mod soc;
pub mod tokens;
pub mod transport;
pub mod webhook;
pub mod worker;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::MethodRouter;
use axum::Router;
use rampart_model::Permission;
use rampart_pipeline::PipelineHandle;
use rampart_store::Store;

pub use auth::{generate_token, hash_token};

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request body accepted, in bytes (413 above it). Default: 10 MiB.
    pub max_body_bytes: usize,
    /// Most events (NDJSON lines) or alerts accepted in one request. Default: 100 000.
    pub max_events_per_request: usize,
    /// How long a pushed request's `Idempotency-Key` is kept (a retry within it stores
    /// nothing and gets the first answer). Default: 24 hours.
    pub idempotency_ttl: std::time::Duration,
    /// How long an answer of the list routes may be served from the cache when nothing this
    /// node knows of changed (it bounds how late changes made by another node or process
    /// sharing the database show; zero turns the cache off). Default: 1 s.
    pub list_cache_ttl: std::time::Duration,
    /// Longest comment, in characters. Default: 10 000.
    pub max_comment_chars: usize,
    /// Time a connection has to send a whole request head, from when it opens or its previous
    /// answer was sent (idle keep-alive connections are closed after it). Default: 10 s.
    pub header_read_timeout: Duration,
    /// Time a request has to send its whole body after its head (408 after it). Default: 60 s.
    pub body_read_timeout: Duration,
    /// Most open connections. At it, the oldest idle connection of the source holding the
    /// most is closed to make room; when none is idle a new connection is closed at once. Keep
    /// it below the process's file descriptor limit (`ulimit -n`). Default: 10 000.
    pub max_connections: usize,
    /// Most open connections from one source (IPv4 address or IPv6 /64). At it, the source's
    /// oldest idle connection is closed to make room; when none is idle a new connection is
    /// closed at once. Default: 256.
    pub max_connections_per_source: usize,
    /// Largest request head (request line and headers), in bytes (431 above it; at least
    /// 8 192). Default: 64 KiB.
    pub max_header_bytes: usize,
    /// Longest request target (path and query), in bytes (414 above it). Default: 8 KiB.
    pub max_uri_bytes: usize,
    /// How often the token cache is reloaded from the store: the longest a token revoked on
    /// another node stays usable here. Default: 5 s.
    pub token_refresh_interval: Duration,
    /// How often token last-use times are written to the store, in one batch. Default: 10 s.
    pub token_use_flush_interval: Duration,
    /// Failed authentications a source may make at once before it gets 429. Default: 20.
    pub auth_failure_burst: u32,
    /// Failed authentications a source regains per minute. Default: 60.
    pub auth_failures_per_minute: u32,
    /// Most sources whose failures are tracked. Default: 100 000.
    pub auth_failure_sources: usize,
    /// How often active containment actions whose time is up are expired in the store
    /// (`action.expire`, audited as `system:expiry`). Default: 1 s.
    pub action_expiry_interval: Duration,
    /// How often the enforcement decision set checks the store for actions another node
    /// changed (this node's changes are enforced at once). Default: 1 s.
    pub enforce_sync_interval: Duration,
    /// How often the enforcement endpoints' denial counters are written to the store, in
    /// one batch. Default: 1 s.
    pub enforce_hits_flush_interval: Duration,
    /// How often the pipeline's reappearance watch is rebuilt from the store's active actions
    /// (actions changed through this node are watched at once). Default: 1 s.
    pub watch_refresh_interval: Duration,
    /// A console session ends after this long without a request. Default: 30 min.
    pub session_idle_timeout: Duration,
    /// A console session ends this long after sign-in, whatever the activity. Default: 12 h.
    pub session_lifetime: Duration,
    /// Failed sign-ins for one account within `login_failure_window` that lock it. Default: 5.
    pub login_max_failures: u32,
    /// Failed sign-ins from one address within `login_failure_window` that lock it out.
    /// Default: 20.
    pub login_max_source_failures: u32,
    /// The window failed sign-ins are counted over (and the lockout lasts). Default: 15 min.
    pub login_failure_window: Duration,
    /// Always mark console cookies `Secure` (they are whenever a proxy says
    /// `X-Forwarded-Proto: https`). Default: false.
    pub secure_cookies: bool,
    /// The webhook delivery worker (`[webhooks]`).
    pub webhooks: webhook::WebhookConfig,
    /// What the stored tables keep (`[retention]`).
    pub retention: retention::RetentionConfig,
    /// How often this node looks for due custom detections (`None`: never; another node
    /// sharing the store runs them). Default: [`detections::TICK`].
    pub detection_tick: Option<Duration>,
    /// How often this node looks for new incidents to investigate (`None`: never; another
    /// node sharing the store does). Default: [`investigation::TICK`].
    pub investigation_tick: Option<Duration>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_body_bytes: 10 * 1024 * 1024,
            max_events_per_request: 100_000,
            idempotency_ttl: std::time::Duration::from_secs(24 * 3600),
            list_cache_ttl: std::time::Duration::from_secs(1),
            max_comment_chars: 10_000,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            max_connections_per_source: 256,
            max_header_bytes: 64 * 1024,
            max_uri_bytes: 8 * 1024,
            token_refresh_interval: Duration::from_secs(5),
            token_use_flush_interval: Duration::from_secs(10),
            auth_failure_burst: 20,
            auth_failures_per_minute: 60,
            auth_failure_sources: 100_000,
            action_expiry_interval: Duration::from_secs(1),
            enforce_sync_interval: Duration::from_secs(1),
            enforce_hits_flush_interval: Duration::from_secs(1),
            watch_refresh_interval: Duration::from_secs(1),
            session_idle_timeout: Duration::from_secs(30 * 60),
            session_lifetime: Duration::from_secs(12 * 3600),
            login_max_failures: 5,
            login_max_source_failures: 20,
            login_failure_window: Duration::from_secs(15 * 60),
            secure_cookies: false,
            webhooks: webhook::WebhookConfig::default(),
            retention: retention::RetentionConfig::default(),
            detection_tick: Some(detections::TICK),
            investigation_tick: Some(investigation::TICK),
        }
    }
}

/// What every handler shares. Cloned for every request (axum hands each handler and middleware
/// its own copy), so everything in it is an `Arc` or a cheap handle.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The pipeline that takes pushed events and alerts.
    pub pipeline: PipelineHandle,
    /// How pushed NDJSON lines are decoded (trusted proxies, API key hashing).
    pub decode: Arc<rampart_decode::DecodeConfig>,
    /// Server settings.
    pub config: Arc<ServerConfig>,
    /// Request and ingestion counters.
    pub metrics: Arc<metrics::Metrics>,
    /// The active tokens, by secret hash (loaded by [`serve`]).
    pub tokens: Arc<tokens::TokenCache>,
    /// Failed authentications per source.
    pub auth_failures: Arc<tokens::FailureLimiter>,
    /// Cached answers of the list routes (see [`cache`]).
    pub list_cache: Arc<cache::ListCache>,
    /// The containment safety rails (`[contain]`); default rails until the caller sets them.
    pub contain: Arc<rampart_contain::ContainConfig>,
    /// The active actions as the enforcement endpoints read them (see [`enforce`]).
    pub enforcement: Arc<enforce::Enforcement>,
    /// What detection runs (the console's detectors page and filters); empty until the
    /// caller sets it.
    pub catalogue: Arc<rampart_console::pages::Catalogue>,
    /// The OpenAPI spec of the protected API (`[detect] openapi`), when one is loaded: the
    /// console's inventory marks endpoints it does not document as shadow endpoints.
    pub api_spec: Option<Arc<rampart_signatures::inventory::OpenApiSpec>>,
    /// The threat-intelligence feeds (`[detect] threat_intel`), when any is configured: the
    /// automated investigation and the playbooks' `lookup_intel` step read them.
    pub intel: Option<Arc<rampart_signatures::intel::SharedIntel>>,
}

impl AppState {
    /// State with fresh metrics.
    pub fn new(
        store: Arc<dyn Store>,
        pipeline: PipelineHandle,
        decode: rampart_decode::DecodeConfig,
        config: ServerConfig,
    ) -> Self {
        let auth_failures = tokens::FailureLimiter::new(tokens::FailureLimits {
            burst: config.auth_failure_burst,
            per_minute: config.auth_failures_per_minute,
            max_sources: config.auth_failure_sources,
        });
        AppState {
            store,
            pipeline,
            decode: Arc::new(decode),
            metrics: Arc::new(metrics::Metrics::default()),
            tokens: Arc::new(tokens::TokenCache::default()),
            auth_failures: Arc::new(auth_failures),
            list_cache: Arc::new(cache::ListCache::new(config.list_cache_ttl)),
            contain: Arc::new(rampart_contain::ContainConfig::default()),
            enforcement: Arc::new(enforce::Enforcement::default()),
            catalogue: Arc::default(),
            api_spec: None,
            intel: None,
            config: Arc::new(config),
        }
    }

    /// Actions changed in the store through this node (`changed`, as they are now): apply
    /// them to the enforcement decision set and the pipeline's reappearance watch now, from
    /// memory, so every gateway asking this node sees them on its next request.
    pub async fn actions_changed(&self, changed: &[rampart_model::Action]) {
        self.enforcement.apply(changed).await;
        recovery::refresh_watch(self, changed).await;
    }
}

/// One route: method, path template, what it does, and how to build its handler.
pub struct Route {
    /// HTTP method, lower case (`get`, `post`, `patch`, `delete`).
    pub method: &'static str,
    /// Path template in axum syntax (`/api/v1/incidents/{id}`).
    pub path: &'static str,
    /// One-line summary (OpenAPI).
    pub summary: &'static str,
    /// The permission a caller's role must hold ([`rampart_model::roles::MATRIX`]); `None`
    /// for a public route (no token read at all). Checked by [`auth::authorize`], nowhere else.
    pub permission: Option<Permission>,
    /// Where the caller's secret is read from.
    pub credential: Credential,
    /// Builds the method router.
    pub handler: fn() -> MethodRouter<AppState>,
}

/// Where a route reads its caller's secret. The enforcement routes take their own keys: an
/// `Authorization` or `X-Api-Key` header reaching `/enforce/*` belongs to the request being
/// judged, never to the gateway asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `X-Rampart-Enforcer-Key: <key>` (nginx `auth_request`, Envoy `ext_authz`).
    EnforcerKey,
    /// `X-Api-Key: <key>` (CrowdSec bouncers).
    BouncerKey,
    /// The console's session cookie; every method but GET and HEAD also needs the session's
    /// CSRF token (see [`console::session`]). Refusals are HTML pages or a redirect to
    /// `/login`, never JSON.
    Session,
}

impl Route {
    /// Whether a bearer token is needed.
    pub const fn auth(&self) -> bool {
        self.permission.is_some()
    }
}

/// The method routers [`route!`] builds from: axum's, and `any` as every method a gateway may
/// forward (axum's own `any` is a fallback, which a route layer would not guard).
pub(crate) mod methods {
    use axum::handler::Handler;
    pub use axum::routing::{delete, get, patch, post, put};
    use axum::routing::{on, MethodFilter, MethodRouter};

    pub fn any<H, T>(h: H) -> MethodRouter<crate::AppState>
    where
        H: Handler<T, crate::AppState>,
        T: 'static,
    {
        let all = MethodFilter::GET
            .or(MethodFilter::POST)
            .or(MethodFilter::PUT)
            .or(MethodFilter::PATCH)
            .or(MethodFilter::DELETE)
            .or(MethodFilter::HEAD)
            .or(MethodFilter::OPTIONS);
        on(all, h)
    }
}

macro_rules! route {
    ($m:ident $path:literal, public, $summary:literal, $h:path) => {
        Route {
            method: stringify!($m),
            path: $path,
            summary: $summary,
            permission: None,
            credential: Credential::Bearer,
            handler: || methods::$m($h),
        }
    };
    ($m:ident $path:literal, $perm:ident, $summary:literal, $h:path) => {
        route!($m $path, $perm by Bearer, $summary, $h)
    };
    ($m:ident $path:literal, $perm:ident by $cred:ident, $summary:literal, $h:path) => {
        Route {
            method: stringify!($m),
            path: $path,
            summary: $summary,
            permission: Some(rampart_model::Permission::$perm),
            credential: $crate::Credential::$cred,
            handler: || methods::$m($h),
        }
    };
}

// After `route!`, which it uses.
pub mod console;

/// Every route, once, with the permission it needs: this table is the access policy.
pub const ROUTES: &[Route] = &[
    route!(get "/healthz", public, "Liveness and storage backend", api::healthz),
    route!(get "/metrics", Read, "Prometheus counters", metrics::handler),
    route!(get "/api/v1/openapi.json", Read, "This document", openapi::handler),
    route!(post "/api/v1/events", Ingest, "Push Rampart NDJSON events", api::push_events),
    route!(post "/api/v1/alerts", Ingest, "Push Rampart alerts or OCSF detection findings", api::push_alerts),
    route!(get "/api/v1/alerts", Read, "List alerts", api::list_alerts),
    route!(get "/api/v1/alerts/{id}", Read, "One alert", api::get_alert),
    route!(post "/api/v1/hunt", Hunt, "Run a hunting query (KQL subset over ApiEvents, Alerts, Incidents, Entities, Actions, AuditLog; bounded: time range, row limit, timeout)", hunt::hunt),
    route!(get "/api/v1/hunt/queries", Hunt, "Saved hunting queries and custom detections (each with its last run)", detections::list),
    route!(post "/api/v1/hunt/queries", Hunt, "Save a hunting query, optionally a custom detection (schedule 5m..1d, window, severity, MITRE, title template, entity columns; checked; audited)", detections::create),
    route!(get "/api/v1/hunt/queries/{name}", Hunt, "A saved hunting query", detections::get),
    route!(put "/api/v1/hunt/queries/{name}", Hunt, "Create or replace a saved hunting query (audited)", detections::replace),
    route!(delete "/api/v1/hunt/queries/{name}", Hunt, "Delete a saved hunting query (audited)", detections::delete),
    route!(get "/api/v1/incidents/{id}/investigation", Read, "The automated investigation of an incident (run by itself on each new incident and kept): evidence with verdicts, alerts proven benign and resolved", investigation::get),
    route!(post "/api/v1/incidents/{id}/investigation", Triage, "Run the automated investigation again now (resolves what it proves benign, audited; the result is kept)", investigation::rerun),
    route!(get "/api/v1/deployments", Read, "Deployment windows (explain traffic spikes, latency and error bursts to the investigation)", investigation::list_deployments),
    route!(post "/api/v1/deployments", Ingest, "Announce a deployment window {name, start, end, hosts?, note?} (a CD pipeline's step; the same name replaces; audited)", investigation::put_deployment),
    route!(delete "/api/v1/deployments/{name}", ManageAutomation, "Delete a deployment window (audited)", investigation::delete_deployment),
    route!(get "/api/v1/incidents", Read, "List incidents", api::list_incidents),
    route!(get "/api/v1/incidents/{id}", Read, "One incident with alerts and comments", api::get_incident),
    route!(patch "/api/v1/incidents/{id}", Triage, "Change an incident", api::patch_incident),
    route!(post "/api/v1/incidents/{id}/comments", Comment, "Comment on an incident", api::add_comment),
    route!(post "/api/v1/incidents/{id}/merge", Merge, "Merge an incident into another", api::merge_incident),
    route!(post "/api/v1/incidents/{id}/disruption/undo", RevertAny, "Undo attack disruption: revert every action its policies took on the incident (audited)", actions::undo_disruption),
    route!(get "/api/v1/incidents/{id}/containment", Read, "Containment of an incident: attacker entities, actions, verdict", recovery::get_containment),
    route!(get "/api/v1/metrics/soc", Read, "SOC metrics of the incidents created in a period (?since=&until=, RFC 3339; default 30 days): MTTD/MTTA/MTTC/MTTR by severity, detector, owner and week, TP rates, automation share", soc::get_soc),
    route!(get "/api/v1/incidents/{id}/report", Read, "Post-incident review of an incident (?format=html|md|pdf), as a download", report::get_report),
    route!(get "/api/v1/incidents/{id}/tasks", Read, "Recovery tasks of an incident", recovery::list_tasks),
    route!(post "/api/v1/incidents/{id}/tasks", Triage, "Add a custom recovery task", recovery::create_task),
    route!(post "/api/v1/incidents/{id}/tasks/seed", Triage, "Seed the recovery checklist from what was attacked (idempotent)", recovery::seed_tasks),
    route!(post "/api/v1/incidents/{id}/tasks/{task_id}", Triage, "Tick a recovery task off or on", recovery::set_done),
    route!(post "/api/v1/actions", ContainLow, "Create a containment action (checked by rampart-contain)", actions::create),
    route!(get "/api/v1/actions", Read, "List containment actions", actions::list),
    route!(get "/api/v1/actions/{id}", Read, "One containment action", actions::get),
    route!(post "/api/v1/actions/{id}/approve", Approve, "Approve someone else's pending action", actions::approve),
    route!(post "/api/v1/actions/{id}/revert", RevertOwn, "Revert an action (another's needs revert_any)", actions::revert),
    route!(get "/api/v1/audit", Read, "The audit log", api::list_audit),
    route!(get "/api/v1/automation/rules", Read, "Automation rules, in run order", automation::list),
    route!(post "/api/v1/automation/rules", ManageAutomation, "Create an automation rule (checked; audited)", automation::create),
    route!(get "/api/v1/automation/rules/{name}", Read, "One automation rule", automation::get),
    route!(put "/api/v1/automation/rules/{name}", ManageAutomation, "Create or replace an automation rule (checked; audited)", automation::replace),
    route!(delete "/api/v1/automation/rules/{name}", ManageAutomation, "Delete an automation rule (audited)", automation::delete),
    route!(get "/api/v1/playbooks", Read, "Playbooks", playbook::list),
    route!(post "/api/v1/playbooks", ManageAutomation, "Create a playbook (YAML or JSON; checked; audited)", playbook::create),
    route!(get "/api/v1/playbooks/{name}", Read, "One playbook", playbook::get),
    route!(put "/api/v1/playbooks/{name}", ManageAutomation, "Create or replace a playbook: a new version (checked; audited)", playbook::replace),
    route!(delete "/api/v1/playbooks/{name}", ManageAutomation, "Delete a playbook (audited)", playbook::delete),
    route!(get "/api/v1/playbook-runs", Read, "Playbook runs, newest first (?incident_id=)", playbook::list_runs),
    route!(post "/api/v1/playbook-runs", ContainLow, "Run a playbook on an incident, alert or entity (audited)", playbook::create_run),
    route!(get "/api/v1/playbook-runs/{id}", Read, "One playbook run with its step log", playbook::get_run),
    route!(post "/api/v1/playbook-runs/{id}/approve", Approve, "Pass the approval gate a run waits at (audited)", playbook::approve_run),
    route!(post "/api/v1/playbook-runs/{id}/cancel", ContainLow, "Cancel a run (audited)", playbook::cancel_run),
    route!(get "/api/v1/webhooks", Read, "Webhook subscriptions", webhook::list),
    route!(post "/api/v1/webhooks", ManageAutomation, "Create a webhook subscription (checked; audited)", webhook::create),
    route!(get "/api/v1/webhooks/{name}", Read, "One webhook subscription", webhook::get),
    route!(put "/api/v1/webhooks/{name}", ManageAutomation, "Create or replace a webhook subscription (checked; audited)", webhook::replace),
    route!(delete "/api/v1/webhooks/{name}", ManageAutomation, "Delete a webhook subscription (audited)", webhook::delete),
    route!(get "/api/v1/webhooks/{name}/deliveries", Read, "Deliveries of a webhook, newest first (status=dead: dead letters)", webhook::deliveries),
    route!(post "/api/v1/webhook-deliveries/{id}/retry", ManageAutomation, "Send a dead letter again (audited)", webhook::retry),
    route!(get "/api/v1/inventory/endpoints", Read, "Learned API endpoints", api::list_endpoints),
    route!(get "/api/v1/tokens", ManageTokens, "List API tokens (admin)", api::list_tokens),
    route!(post "/api/v1/tokens", ManageTokens, "Create an API token (admin); shown once", api::create_token),
    route!(delete "/api/v1/tokens/{name}", ManageTokens, "Revoke an API token (admin)", api::revoke_token),
    route!(get "/enforce/nginx", Enforce by EnforcerKey, "nginx auth_request decision: 204 allow, 403 deny, 429 rate-limited", enforce::nginx),
    route!(any "/enforce/envoy", Enforce by EnforcerKey, "Envoy ext_authz (HTTP service) decision: 200 allow, 403 deny, 429 rate-limited", enforce::envoy),
    route!(any "/enforce/envoy/{*path}", Enforce by EnforcerKey, "Envoy ext_authz decision for the appended original path", enforce::envoy),
    route!(get "/v1/decisions/stream", Enforce by BouncerKey, "CrowdSec bouncer API: decisions stream (startup, deltas since the last pull)", enforce::stream),
    route!(get "/v1/decisions", Enforce by BouncerKey, "CrowdSec bouncer API: decisions for an address", enforce::decisions),
    route!(get "/api/incidents", Read, "Defender XDR compatible incident list (OData)", defender::list),
    route!(get "/api/incidents/{id}", Read, "Defender XDR compatible incident", defender::get),
    route!(patch "/api/incidents/{id}", Triage, "Defender XDR compatible incident update", defender::patch),
];

/// The router over every route in [`ROUTES`], with the body and URI limits, metrics, a JSON
/// 404 and 405, and JSON bodies on every other error answer.
pub fn router(state: AppState) -> Router {
    let mut paths: Vec<(&'static str, MethodRouter<AppState>)> = Vec::new();
    for r in ROUTES.iter().chain(console::ROUTES) {
        let mut handler = (r.handler)();
        if let Some(permission) = r.permission {
            handler = handler.route_layer(axum::middleware::from_fn_with_state(
                (state.clone(), permission, r.credential),
                auth::authorize,
            ));
        }
        match paths.iter_mut().find(|(p, _)| *p == r.path) {
            Some((_, mr)) => *mr = std::mem::take(mr).merge(handler),
            None => paths.push((r.path, handler)),
        }
    }
    let mut app = Router::new();
    for (path, mr) in paths {
        app = app.route(path, mr);
    }
    let max_body = state.config.max_body_bytes;
    app.fallback(api::no_route)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn(error::json_errors))
        .layer(axum::middleware::from_fn(console::security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.config.max_uri_bytes,
            error::uri_limit,
        ))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Why [`serve`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The token cache could not be loaded from the store.
    #[error("loading tokens")]
    Tokens(#[source] rampart_store::StoreError),
}

/// Serve until ctrl-c or SIGTERM, then finish in-flight requests and flush the pipeline.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> Result<(), ServeError> {
    serve_with_shutdown(listener, state, shutdown_signal()).await
}

/// Resolves on ctrl-c (SIGINT) or, on Unix, SIGTERM (what service managers send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}

/// Serve until `shutdown` resolves, then finish in-flight requests, write pending token uses
/// and flush the pipeline. The token cache is loaded before the first connection is accepted.
pub async fn serve_with_shutdown(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    state
        .tokens
        .reload(&*state.store)
        .await
        .map_err(ServeError::Tokens)?;
    if let Err(e) = state.enforcement.reload(&*state.store).await {
        // the periodic sync retries; until then nothing is denied
        tracing::warn!(error = %e, "loading enforcement decisions");
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let enforcing = tokio::spawn(enforce::maintain(state.clone(), stop_tx.subscribe()));
    let maintain = tokio::spawn(tokens::maintain(
        state.tokens.clone(),
        state.store.clone(),
        state.config.token_refresh_interval,
        state.config.token_use_flush_interval,
        stop_rx,
    ));
    let expiry = tokio::spawn(expire_actions(
        state.clone(),
        state.config.action_expiry_interval,
        stop_tx.subscribe(),
    ));
    let watch = tokio::spawn(rampart_pipeline::watch::maintain(
        state.pipeline.watch().clone(),
        state.store.clone(),
        state.config.watch_refresh_interval,
        stop_tx.subscribe(),
    ));
    let optimizing = tokio::spawn(optimize_store(state.store.clone(), stop_tx.subscribe()));
    let playbooks = tokio::spawn(playbook::run(state.clone(), stop_tx.subscribe()));
    let delivering = tokio::spawn(webhook::deliver(state.clone(), stop_tx.subscribe()));
    let detecting = tokio::spawn(detections::run(state.clone(), stop_tx.subscribe()));
    let investigating = tokio::spawn(investigation::run(state.clone(), stop_tx.subscribe()));
    let retaining = tokio::spawn(retention::run(
        state.store.clone(),
        state.config.retention.clone(),
        state.metrics.clone(),
        stop_tx.subscribe(),
    ));
    let pipeline = state.pipeline.clone();
    let config = state.config.clone();
    let metrics = state.metrics.clone();
    transport::run(listener, router(state), &config, metrics, shutdown).await;
    let _ = stop_tx.send(true);
    let _ = maintain.await;
    let _ = expiry.await;
    let _ = enforcing.await;
    let _ = watch.await;
    let _ = optimizing.await;
    let _ = playbooks.await;
    let _ = delivering.await;
    let _ = retaining.await;
    let _ = detecting.await;
    let _ = investigating.await;
    if let Err(e) = pipeline.flush().await {
        tracing::warn!(error = %e, "final pipeline flush failed");
    }
    Ok(())
}

/// How often the store's planner statistics are refreshed ([`Store::optimize`]).
const OPTIMIZE_EVERY: Duration = Duration::from_secs(3600);

/// Every hour, let the store refresh its planner statistics, until `stop`.
async fn optimize_store(store: Arc<dyn Store>, stop: tokio::sync::watch::Receiver<bool>) {
    // the store did it at open
    let store = &store;
    worker::every(
        OPTIMIZE_EVERY,
        worker::First::AfterOneInterval,
        stop,
        move || async move {
            if let Err(e) = store.optimize().await {
                tracing::warn!(error = %e, "refreshing the store's planner statistics failed");
            }
        },
    )
    .await
}

/// Actor of the expiries made by [`expire_actions`].
pub const EXPIRY_ACTOR: &str = "system:expiry";

/// Every `interval`, expire the active actions whose time is up (the store does it as a
/// compare-and-set, so several nodes doing it at once expire each action once), until `stop`.
async fn expire_actions(
    state: AppState,
    interval: Duration,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let state = &state;
    let every = interval.max(Duration::from_millis(10));
    worker::every(every, worker::First::Now, stop, move || async move {
        match state
            .store
            .expire_actions(rampart_model::Timestamp::now(), EXPIRY_ACTOR)
            .await
        {
            Ok(done) => {
                for a in &done {
                    tracing::info!(action = a.id, kind = %a.action.kind, "containment action expired");
                }
                if !done.is_empty() {
                    state.actions_changed(&done).await;
                }
                for a in &done {
                    rampart_pipeline::webhooks::action_event(
                        &*state.store,
                        state.pipeline.deliveries_enqueued(),
                        rampart_automation::webhook::Event::ActionChanged,
                        a,
                        EXPIRY_ACTOR,
                    )
                    .await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "expiring actions failed"),
        }
    })
    .await
}
