//! Rampart's REST API: the only crate that knows HTTP and JSON wire shapes.
//!
//! Routes are listed once in [`ROUTES`]; [`router`] builds the axum router from that list and
//! the OpenAPI document ([`openapi::document`]) describes the same list, so neither can miss
//! a route. Every route except `/healthz` needs a bearer token (see [`auth`]); errors are
//! answered by one [`error::ApiError`] type.

pub mod api;
pub mod auth;
pub mod defender;
pub mod error;
pub mod metrics;
pub mod ocsf;
pub mod odata;
pub mod openapi;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{self, MethodRouter};
use axum::Router;
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
    /// Longest comment, in characters. Default: 10 000.
    pub max_comment_chars: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_body_bytes: 10 * 1024 * 1024,
            max_events_per_request: 100_000,
            idempotency_ttl: std::time::Duration::from_secs(24 * 3600),
            max_comment_chars: 10_000,
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The pipeline that takes pushed events and alerts.
    pub pipeline: PipelineHandle,
    /// How pushed NDJSON lines are decoded (trusted proxies, API key hashing).
    pub decode: rampart_decode::DecodeConfig,
    /// Server settings.
    pub config: ServerConfig,
    /// Request and ingestion counters.
    pub metrics: Arc<metrics::Metrics>,
}

impl AppState {
    /// State with fresh metrics.
    pub fn new(
        store: Arc<dyn Store>,
        pipeline: PipelineHandle,
        decode: rampart_decode::DecodeConfig,
        config: ServerConfig,
    ) -> Self {
        AppState {
            store,
            pipeline,
            decode,
            config,
            metrics: Arc::new(metrics::Metrics::default()),
        }
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
    /// Whether a bearer token is needed.
    pub auth: bool,
    /// Builds the method router.
    pub handler: fn() -> MethodRouter<AppState>,
}

macro_rules! route {
    ($m:ident $path:literal, $auth:literal, $summary:literal, $h:path) => {
        Route {
            method: stringify!($m),
            path: $path,
            summary: $summary,
            auth: $auth,
            handler: || routing::$m($h),
        }
    };
}

/// Every route, once.
pub const ROUTES: &[Route] = &[
    route!(get "/healthz", false, "Liveness and storage backend", api::healthz),
    route!(get "/metrics", true, "Prometheus counters", metrics::handler),
    route!(get "/api/v1/openapi.json", true, "This document", openapi::handler),
    route!(post "/api/v1/events", true, "Push Rampart NDJSON events", api::push_events),
    route!(post "/api/v1/alerts", true, "Push Rampart alerts or OCSF detection findings", api::push_alerts),
    route!(get "/api/v1/alerts", true, "List alerts", api::list_alerts),
    route!(get "/api/v1/alerts/{id}", true, "One alert", api::get_alert),
    route!(get "/api/v1/incidents", true, "List incidents", api::list_incidents),
    route!(get "/api/v1/incidents/{id}", true, "One incident with alerts and comments", api::get_incident),
    route!(patch "/api/v1/incidents/{id}", true, "Change an incident", api::patch_incident),
    route!(post "/api/v1/incidents/{id}/comments", true, "Comment on an incident", api::add_comment),
    route!(post "/api/v1/incidents/{id}/merge", true, "Merge an incident into another", api::merge_incident),
    route!(get "/api/v1/audit", true, "The audit log", api::list_audit),
    route!(get "/api/v1/inventory/endpoints", true, "Learned API endpoints", api::list_endpoints),
    route!(get "/api/v1/tokens", true, "List API tokens (admin)", api::list_tokens),
    route!(post "/api/v1/tokens", true, "Create an API token (admin); shown once", api::create_token),
    route!(delete "/api/v1/tokens/{name}", true, "Revoke an API token (admin)", api::revoke_token),
    route!(get "/api/incidents", true, "Defender XDR compatible incident list (OData)", defender::list),
    route!(get "/api/incidents/{id}", true, "Defender XDR compatible incident", defender::get),
    route!(patch "/api/incidents/{id}", true, "Defender XDR compatible incident update", defender::patch),
];

/// The router over every route in [`ROUTES`], with the body limit, metrics and a JSON 404.
pub fn router(state: AppState) -> Router {
    let mut paths: Vec<(&'static str, MethodRouter<AppState>)> = Vec::new();
    for r in ROUTES {
        match paths.iter_mut().find(|(p, _)| *p == r.path) {
            Some((_, mr)) => *mr = std::mem::take(mr).merge((r.handler)()),
            None => paths.push((r.path, (r.handler)())),
        }
    }
    let mut app = Router::new();
    for (path, mr) in paths {
        app = app.route(path, mr);
    }
    let max_body = state.config.max_body_bytes;
    app.fallback(api::no_route)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Serve until ctrl-c, then finish in-flight requests and flush the pipeline.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let pipeline = state.pipeline.clone();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            if let Err(e) = tokio::signal::ctrl_c().await {
                tracing::error!(error = %e, "cannot listen for ctrl-c");
                std::future::pending::<()>().await;
            }
            tracing::info!("shutting down");
        })
        .await?;
    if let Err(e) = pipeline.flush().await {
        tracing::warn!(error = %e, "final pipeline flush failed");
    }
    Ok(())
}
