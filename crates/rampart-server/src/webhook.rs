//! Webhooks: the `/api/v1/webhooks` routes (subscriptions, checked by `rampart-automation`,
//! stored as automation objects of kind `webhook`, audited), their deliveries and dead
//! letters, and the delivery worker [`deliver`] that `serve` runs.
//!
//! The worker claims due deliveries from the store's outbox under a lease (so nodes sharing a
//! store never send one at the same time), POSTs each with the subscription's timeout,
//! `Content-Type: application/json`, `X-Rampart-Event`, `X-Rampart-Delivery` (its id, for
//! de-duplication) and, when the subscription names `secret_env`, `X-Rampart-Signature`
//! (`rampart_automation::signature::sign` over the body with the secret read from that
//! environment variable at send time), at most `concurrency` at once. A 2xx answer delivers
//! it; anything else is retried with exponential backoff (`retry_base` doubling up to
//! `retry_max`) until the subscription's `max_attempts`, then it is a dead letter, listed by
//! `GET /api/v1/webhooks/{name}/deliveries?status=dead` and sent again by
//! `POST /api/v1/webhook-deliveries/{id}/retry`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rampart_automation::webhook::Webhook;
use rampart_model::{
    AutomationObject, Delivery, DeliveryFilter, DeliveryStatus, Timestamp, AUTOMATION_WEBHOOK,
};
use serde_json::{json, Value};

use crate::api::{body_bytes, params, path_id, Params};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::metrics::Counter;
use crate::AppState;

/// Delivery worker settings (`[webhooks]` in `rampart.toml`).
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// How often the outbox is polled for due deliveries (other nodes' and retries); this
    /// node's own enqueues wake the worker at once. Default: 500 ms.
    pub poll_interval: Duration,
    /// The first retry's delay; each further one doubles it. Default: 1 s.
    pub retry_base: Duration,
    /// The longest delay between retries. Default: 5 min.
    pub retry_max: Duration,
    /// Most deliveries in flight at once on this node. Default: 8.
    pub concurrency: usize,
    /// A PEM file of extra CA certificates trusted for https receivers (an internal CA),
    /// besides the bundled web PKI roots (`webpki-roots`). Default: none.
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            poll_interval: Duration::from_millis(500),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            concurrency: 8,
            ca_file: None,
        }
    }
}

/// The HTTP client of webhook deliveries and playbook webhook steps: TLS (rustls, the web PKI
/// roots plus `ca_file`), no redirects followed (a receiver cannot bounce a signed body
/// elsewhere), Rampart's user agent.
pub fn http_client(cfg: &WebhookConfig) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("rampart/", env!("CARGO_PKG_VERSION")))
        .use_rustls_tls();
    if let Some(path) = &cfg.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("reading the webhook CA file {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("parsing the webhook CA file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "the webhook CA file {} holds no certificate",
                path.display()
            ));
        }
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build()
        .map_err(|e| format!("building the HTTP client: {e}"))
}

impl WebhookConfig {
    /// The delay before the next attempt after `attempts` failed ones (1 or more).
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1u32 << attempts.saturating_sub(1).min(20);
        self.retry_base
            .checked_mul(factor)
            .unwrap_or(self.retry_max)
            .min(self.retry_max)
    }
}

/// How long a claimed delivery is hidden from other claims: longer than the longest request
/// timeout, so a lease never ends while its request may still be answered.
const LEASE: Duration = Duration::from_secs(rampart_automation::webhook::MAX_TIMEOUT_SECS + 30);

// --- API ------------------------------------------------------------------------------------

fn view(o: &AutomationObject) -> Result<Value, ApiError> {
    let w: Webhook = serde_json::from_value(o.body.clone()).map_err(ApiError::internal)?;
    Ok(json!({
        "name": o.name,
        "version": o.version,
        "created_at": o.created_at,
        "updated_at": o.updated_at,
        "updated_by": o.updated_by,
        "webhook": w,
    }))
}

fn webhook_body(body: Result<Bytes, BytesRejection>) -> Result<Webhook, ApiError> {
    let bytes = body_bytes(body)?;
    let text =
        std::str::from_utf8(&bytes).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
        return Err(ApiError::bad_request("malformed json"));
    }
    rampart_automation::parse_webhook(text)
        .map_err(|e| ApiError::unprocessable(format!("invalid webhook: {e}")))
}

/// `GET /api/v1/webhooks`: every subscription, by name.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let items = state
        .store
        .list_automation(AUTOMATION_WEBHOOK)
        .await?
        .iter()
        .map(view)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({ "items": items })))
}

/// `GET /api/v1/webhooks/{name}`.
pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let o = state
        .store
        .get_automation(AUTOMATION_WEBHOOK, &name)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook", &name))?;
    Ok(Json(view(&o)?))
}

/// `POST /api/v1/webhooks`: a new subscription (409 when the name is taken).
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let w = webhook_body(body)?;
    let o = crate::automation::store_new(
        &state,
        AUTOMATION_WEBHOOK,
        "webhook",
        &w.name,
        &w,
        &caller.actor(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view(&o)?)).into_response())
}

/// `PUT /api/v1/webhooks/{name}`: create or replace (the body's name must be the path's).
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let w = webhook_body(body)?;
    let o = crate::automation::store_named(
        &state,
        AUTOMATION_WEBHOOK,
        "webhook",
        &name,
        &w.name,
        &w,
        &caller.actor(),
    )
    .await?;
    Ok(Json(view(&o)?))
}

/// `DELETE /api/v1/webhooks/{name}` (its pending deliveries then fail as dead letters).
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .delete_automation(AUTOMATION_WEBHOOK, &name, &caller.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/webhooks/{name}/deliveries?status=pending|delivered|dead&limit=`: newest
/// first (`status=dead`: the dead letters).
pub async fn deliveries(
    State(state): State<AppState>,
    Path(name): Path<String>,
    q: Result<Query<Params>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let mut f = DeliveryFilter {
        webhook: Some(name),
        ..Default::default()
    };
    for (k, v) in params(q)? {
        match k.as_str() {
            "status" => {
                f.status = Some(v.parse::<DeliveryStatus>().map_err(|_| {
                    ApiError::bad_param(&k, format!("{v:?} (pending, delivered, dead)"))
                })?)
            }
            "limit" => match v.parse::<u32>() {
                Ok(n) if (1..=1000).contains(&n) => f.limit = Some(n),
                _ => return Err(ApiError::bad_param(&k, format!("{v:?} (1..=1000)"))),
            },
            _ => return Err(ApiError::bad_param(&k, "unknown parameter")),
        }
    }
    let items = state.store.list_deliveries(&f).await?;
    Ok(Json(json!({ "items": items })))
}

/// `POST /api/v1/webhook-deliveries/{id}/retry`: send a dead letter again (audited; 409 when
/// it is not dead).
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Delivery>, ApiError> {
    let id = path_id(id)?;
    let d = retry_delivery(&state, &caller, id).await?;
    Ok(Json(d))
}

/// Send dead letter `id` again as `caller` (the API and the console).
pub async fn retry_delivery(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<Delivery, ApiError> {
    let d = state
        .store
        .retry_delivery(id, &caller.actor(), Timestamp::now())
        .await?;
    state.pipeline.deliveries_enqueued().notify_one();
    Ok(d)
}

// --- delivery worker ------------------------------------------------------------------------

/// How long a delivered delivery is kept in the outbox (pending ones and dead letters stay
/// until they are sent or retried).
pub const KEEP_DELIVERED: Duration = Duration::from_secs(7 * 86_400);
/// How often the delivery worker prunes delivered deliveries.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Send due deliveries until `stop`: poll every `poll_interval` or when this node enqueues,
/// claim as many as there is room for in flight, send each on its own task.
pub async fn deliver(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let cfg = state.config.webhooks.clone();
    let client = match http_client(&cfg) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook delivery client failed to start; no deliveries");
            return;
        }
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(cfg.concurrency.max(1)));
    let wake = state.pipeline.deliveries_enqueued().clone();
    let mut pruned_at: Option<std::time::Instant> = None;
    loop {
        if pruned_at.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            pruned_at = Some(std::time::Instant::now());
            let before = Timestamp(Timestamp::now().millis() - KEEP_DELIVERED.as_millis() as i64);
            match state.store.prune_deliveries(before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(pruned = n, "delivered webhook deliveries pruned"),
                Err(e) => tracing::warn!(error = %e, "pruning webhook deliveries failed"),
            }
        }
        let free = slots.available_permits();
        if free > 0 {
            let now = Timestamp::now();
            let lease = Timestamp(now.millis() + LEASE.as_millis() as i64);
            match state.store.claim_deliveries(now, lease, free as u32).await {
                Ok(due) => {
                    for d in due {
                        let Ok(permit) = slots.clone().acquire_owned().await else {
                            return;
                        };
                        let (state, client, cfg) = (state.clone(), client.clone(), cfg.clone());
                        tokio::spawn(async move {
                            send(&state, &client, &cfg, d, lease).await;
                            drop(permit);
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "claiming webhook deliveries failed"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(cfg.poll_interval) => {}
            _ = wake.notified() => {}
            _ = stop.changed() => return,
        }
    }
}

/// Why an attempt failed, and the answer's status when there was one.
struct Failure {
    error: String,
    status: Option<u16>,
}

/// One attempt of `d`, recorded in the store.
async fn send(
    state: &AppState,
    client: &reqwest::Client,
    cfg: &WebhookConfig,
    d: Delivery,
    lease: Timestamp,
) {
    let outcome = attempt(state, client, &d).await;
    let now = Timestamp::now();
    match outcome {
        Ok(status) => {
            state.metrics.add(Counter::WebhookDelivered, 1);
            match state
                .store
                .record_delivery_success(d.id, lease, status, now)
                .await
            {
                Ok(true) => {
                    tracing::debug!(delivery = d.id, webhook = %d.webhook, status, "webhook delivered")
                }
                Ok(false) => {
                    tracing::warn!(
                        delivery = d.id,
                        "webhook delivered after its lease was lost"
                    )
                }
                Err(e) => {
                    tracing::error!(delivery = d.id, error = %e, "recording a webhook delivery failed")
                }
            }
        }
        Err(f) => {
            state.metrics.add(Counter::WebhookFailed, 1);
            let delay = cfg.backoff(d.attempts + 1);
            let retry_at = Timestamp(now.millis() + delay.as_millis() as i64);
            match state
                .store
                .record_delivery_failure(d.id, lease, &f.error, f.status, retry_at)
                .await
            {
                Ok(Some(DeliveryStatus::Dead)) => {
                    state.metrics.add(Counter::WebhookDead, 1);
                    tracing::warn!(delivery = d.id, webhook = %d.webhook, error = %f.error, "webhook delivery is a dead letter");
                }
                Ok(_) => {
                    tracing::info!(delivery = d.id, webhook = %d.webhook, error = %f.error, retry_in_ms = delay.as_millis() as u64, "webhook delivery failed; retrying")
                }
                Err(e) => {
                    tracing::error!(delivery = d.id, error = %e, "recording a webhook failure failed")
                }
            }
        }
    }
}

/// POST `d` to its subscription: the answer's status when 2xx.
async fn attempt(state: &AppState, client: &reqwest::Client, d: &Delivery) -> Result<u16, Failure> {
    let fail = |error: String| Failure {
        error,
        status: None,
    };
    let hook = match state
        .store
        .get_automation(AUTOMATION_WEBHOOK, &d.webhook)
        .await
    {
        Ok(Some(o)) => serde_json::from_value::<Webhook>(o.body)
            .map_err(|e| fail(format!("the stored subscription does not read: {e}")))?,
        Ok(None) => return Err(fail("the webhook subscription was deleted".into())),
        Err(e) => return Err(fail(format!("reading the subscription failed: {e}"))),
    };
    let body = serde_json::to_vec(&d.payload).map_err(|e| fail(e.to_string()))?;
    let mut req = client
        .post(&hook.url)
        .timeout(Duration::from_secs(hook.timeout_secs))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Rampart-Event", &d.event)
        .header("X-Rampart-Delivery", d.id.to_string());
    if let Some(var) = &hook.secret_env {
        let secret = std::env::var(var)
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                fail(format!(
                    "secret_env: the environment variable {var} is not set on this node"
                ))
            })?;
        let ts = Timestamp::now().millis().div_euclid(1000);
        req = req.header(
            rampart_automation::signature::HEADER,
            rampart_automation::signature::sign(secret.as_bytes(), ts, &body),
        );
    }
    match req.body(body).send().await {
        Ok(resp) if resp.status().is_success() => Ok(resp.status().as_u16()),
        Ok(resp) => Err(Failure {
            error: format!("the receiver answered {}", resp.status().as_u16()),
            status: Some(resp.status().as_u16()),
        }),
        Err(e) => {
            let what = if e.is_timeout() {
                format!("timed out after {} s", hook.timeout_secs)
            } else if e.is_connect() {
                "could not connect".to_string()
            } else {
                "the request failed".to_string()
            };
            // without the URL: it may carry a token in its query
            Err(fail(format!("{what}: {}", e.without_url())))
        }
    }
}
