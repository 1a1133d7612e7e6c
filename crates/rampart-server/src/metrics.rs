//! Prometheus counters. Names come from one enum ([`Counter`]); labels only from bounded sets:
//! route templates from [`crate::ROUTES`], status classes, and alert source kinds.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::{AppState, ROUTES};

/// Counters without labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Events accepted by `POST /api/v1/events`.
    IngestEvents,
    /// NDJSON lines refused (the whole request is refused with them).
    IngestRejectedLines,
    /// Rampart-format alerts accepted by `POST /api/v1/alerts`.
    IngestAlertsRampart,
    /// OCSF findings accepted by `POST /api/v1/alerts`.
    IngestAlertsOcsf,
    /// Connections closed at once because a connection cap was reached.
    ConnectionsRefused,
    /// Idle connections closed to make room for a new one at a connection cap.
    ConnectionsEvicted,
    /// Failed authentications answered 429 (the source was over its failure limit).
    AuthRateLimited,
    /// Gateway requests the enforcement endpoints allowed.
    EnforceAllowed,
    /// Gateway requests denied by a containment action.
    EnforceDenied,
    /// Gateway requests refused by a rate limit.
    EnforceRateLimited,
    /// Webhook deliveries answered 2xx.
    WebhookDelivered,
    /// Webhook delivery attempts that failed (retried or dead).
    WebhookFailed,
    /// Webhook deliveries that became dead letters.
    WebhookDead,
    /// Events deleted by retention.
    RetentionEvents,
    /// Incidents deleted by retention.
    RetentionIncidents,
    /// Playbook runs deleted by retention.
    RetentionPlaybookRuns,
}

impl Counter {
    const ALL: [Counter; 16] = [
        Counter::IngestEvents,
        Counter::IngestRejectedLines,
        Counter::IngestAlertsRampart,
        Counter::IngestAlertsOcsf,
        Counter::ConnectionsRefused,
        Counter::ConnectionsEvicted,
        Counter::AuthRateLimited,
        Counter::EnforceAllowed,
        Counter::EnforceDenied,
        Counter::EnforceRateLimited,
        Counter::WebhookDelivered,
        Counter::WebhookFailed,
        Counter::WebhookDead,
        Counter::RetentionEvents,
        Counter::RetentionIncidents,
        Counter::RetentionPlaybookRuns,
    ];
    /// Metric name and labels.
    const fn series(self) -> (&'static str, &'static str) {
        match self {
            Counter::IngestEvents => ("rampart_ingest_events_total", ""),
            Counter::IngestRejectedLines => ("rampart_ingest_rejected_lines_total", ""),
            Counter::IngestAlertsRampart => ("rampart_ingest_alerts_total", "{format=\"rampart\"}"),
            Counter::IngestAlertsOcsf => ("rampart_ingest_alerts_total", "{format=\"ocsf\"}"),
            Counter::ConnectionsRefused => ("rampart_http_connections_refused_total", ""),
            Counter::ConnectionsEvicted => ("rampart_http_connections_evicted_total", ""),
            Counter::AuthRateLimited => ("rampart_auth_rate_limited_total", ""),
            Counter::EnforceAllowed => ("rampart_enforce_decisions_total", "{verdict=\"allow\"}"),
            Counter::EnforceDenied => ("rampart_enforce_decisions_total", "{verdict=\"deny\"}"),
            Counter::EnforceRateLimited => (
                "rampart_enforce_decisions_total",
                "{verdict=\"rate_limited\"}",
            ),
            Counter::WebhookDelivered => (
                "rampart_webhook_deliveries_total",
                "{outcome=\"delivered\"}",
            ),
            Counter::WebhookFailed => ("rampart_webhook_deliveries_total", "{outcome=\"failed\"}"),
            Counter::WebhookDead => ("rampart_webhook_deliveries_total", "{outcome=\"dead\"}"),
            Counter::RetentionEvents => ("rampart_retention_deleted_total", "{table=\"events\"}"),
            Counter::RetentionIncidents => {
                ("rampart_retention_deleted_total", "{table=\"incidents\"}")
            }
            Counter::RetentionPlaybookRuns => (
                "rampart_retention_deleted_total",
                "{table=\"playbook_runs\"}",
            ),
        }
    }
}

/// Status classes counted: 1xx..5xx.
const CLASSES: usize = 5;

/// The server's counters: lock-free, fixed size.
#[derive(Debug)]
pub struct Metrics {
    /// Requests per (route index in ROUTES, or ROUTES.len() for unmatched) x status class.
    requests: Vec<[AtomicU64; CLASSES]>,
    counters: [AtomicU64; 16],
    /// The SOC gauges as last rendered, and when: recomputed at most every
    /// [`SOC_REFRESH`], so a scrape never runs the metrics query more often.
    soc: tokio::sync::Mutex<Option<(std::time::Instant, String)>>,
}

/// How long the SOC gauges are reused between scrapes.
pub const SOC_REFRESH: std::time::Duration = std::time::Duration::from_secs(60);

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: (0..=ROUTES.len()).map(|_| Default::default()).collect(),
            counters: Default::default(),
            soc: Default::default(),
        }
    }
}

impl Metrics {
    /// Add to a counter.
    pub fn add(&self, c: Counter, n: u64) {
        self.counters[c as usize].fetch_add(n, Relaxed);
    }
    /// Count one request.
    pub fn request(&self, method: &str, template: Option<&str>, status: u16) {
        let idx = template
            .and_then(|t| {
                ROUTES.iter().position(|r| {
                    r.path == t && (r.method == "any" || r.method.eq_ignore_ascii_case(method))
                })
            })
            .unwrap_or(ROUTES.len());
        let class = usize::from(status / 100).clamp(1, CLASSES) - 1;
        if let Some(row) = self.requests.get(idx) {
            row[class].fetch_add(1, Relaxed);
        }
    }
    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP rampart_http_requests_total HTTP requests by route template and status class.\n");
        out.push_str("# TYPE rampart_http_requests_total counter\n");
        for (i, row) in self.requests.iter().enumerate() {
            let (method, route) = ROUTES
                .get(i)
                .map_or(("", "unmatched"), |r| (r.method, r.path));
            for (c, v) in row.iter().enumerate() {
                let v = v.load(Relaxed);
                if v > 0 {
                    let _ = writeln!(
                        out,
                        "rampart_http_requests_total{{method=\"{method}\",route=\"{route}\",status_class=\"{}xx\"}} {v}",
                        c + 1
                    );
                }
            }
        }
        let mut last = "";
        for c in Counter::ALL {
            let (name, labels) = c.series();
            if name != last {
                let _ = writeln!(out, "# TYPE {name} counter");
                last = name;
            }
            let _ = writeln!(
                out,
                "{name}{labels} {}",
                self.counters[c as usize].load(Relaxed)
            );
        }
        out
    }
}

/// Middleware: count each request by route template and status class.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let template = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let resp = next.run(req).await;
    state.metrics.request(
        method.as_str(),
        template.as_ref().map(MatchedPath::as_str),
        resp.status().as_u16(),
    );
    resp
}

/// `GET /metrics`.
pub async fn handler(State(state): State<AppState>) -> Result<Response, ApiError> {
    let mut body = state.metrics.render();
    body.push_str(&state.pipeline.stats().render());
    body.push_str(&format!(
        "# TYPE rampart_store_unreadable_rows_total counter\nrampart_store_unreadable_rows_total {}\n",
        state.store.unreadable_rows()
    ));
    body.push_str(&soc_gauges(&state).await?);
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
}

/// The SOC gauges of the last 30 days, labelled by severity only (a closed vocabulary):
/// incidents created, median MTTD/MTTA/MTTC/MTTR in seconds, and the automation share.
async fn soc_gauges(state: &AppState) -> Result<String, ApiError> {
    let mut cached = state.metrics.soc.lock().await;
    if let Some((at, text)) = cached.as_ref() {
        if at.elapsed() < SOC_REFRESH {
            return Ok(text.clone());
        }
    }
    let until = rampart_model::Timestamp::now();
    let since = rampart_model::Timestamp(until.millis() - crate::soc::DEFAULT_DAYS * 86_400_000);
    let (facts, _, _) = crate::soc::gather(&*state.store, since, until).await?;
    let text = render_soc(&rampart_report::soc::compute(&facts));
    *cached = Some((std::time::Instant::now(), text.clone()));
    Ok(text)
}

/// The SOC gauges as Prometheus text: only severities (every one, so a series never vanishes)
/// as labels, never detectors or owners (those are data).
pub fn render_soc(m: &rampart_report::soc::SocMetrics) -> String {
    use rampart_report::soc::{Stat, Times};
    let mut out = String::new();
    let _ = writeln!(out, "# TYPE rampart_soc_incidents gauge");
    let empty = Times::default();
    let of = |s: &rampart_model::Severity| m.by_severity.get(s.as_str()).unwrap_or(&empty);
    for s in rampart_model::Severity::ALL {
        let _ = writeln!(
            out,
            "rampart_soc_incidents{{severity=\"{}\"}} {}",
            s.as_str(),
            of(s).incidents
        );
    }
    type Stage = fn(&Times) -> &Stat;
    let stages: [(&str, Stage); 4] = [
        ("mttd", |t| &t.mttd),
        ("mtta", |t| &t.mtta),
        ("mttc", |t| &t.mttc),
        ("mttr", |t| &t.mttr),
    ];
    for (name, get) in stages {
        let _ = writeln!(out, "# TYPE rampart_soc_{name}_seconds gauge");
        for s in rampart_model::Severity::ALL {
            if let Some(v) = get(of(s)).median_secs {
                let _ = writeln!(
                    out,
                    "rampart_soc_{name}_seconds{{severity=\"{}\"}} {v}",
                    s.as_str()
                );
            }
        }
    }
    let _ = writeln!(out, "# TYPE rampart_soc_automation_share gauge");
    let _ = writeln!(
        out,
        "rampart_soc_automation_share {}",
        m.automation_share.unwrap_or(0.0)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_bounded_series() {
        let m = Metrics::default();
        m.request("GET", Some("/api/v1/incidents/{id}"), 404);
        m.request("GET", Some("/api/v1/incidents/{id}"), 200);
        m.request("GET", Some("/etc/passwd"), 404);
        m.request("GET", None, 404);
        m.add(Counter::IngestEvents, 3);
        let text = m.render();
        assert!(text.contains("rampart_http_requests_total{method=\"get\",route=\"/api/v1/incidents/{id}\",status_class=\"4xx\"} 1"), "{text}");
        assert!(
            text.contains("route=\"unmatched\",status_class=\"4xx\"} 2"),
            "{text}"
        );
        assert!(!text.contains("passwd"));
        assert!(text.contains("rampart_ingest_events_total 3"));
        assert!(text.contains("rampart_ingest_alerts_total{format=\"ocsf\"} 0"));
    }
}
