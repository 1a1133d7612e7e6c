//! Retention (`[retention]` in `rampart.toml`): a background pass that deletes what is older
//! than each table's policy, in bounded chunks through [`Store::prune`] so the pipeline's
//! commits interleave with it. Several nodes may run it on one store: every delete is
//! idempotent. Each pass that deleted something is audited per table (incidents are also
//! audited one by one, by the store, in the transaction that deletes them).

use std::time::Duration;

use rampart_model::{NewAudit, Timestamp};
use rampart_store::{Retention, RetentionTable, Store, StoreResult};

use crate::metrics::{Counter, Metrics};

/// The audit actor of retention.
pub const ACTOR: &str = "system:retention";

/// Most rows one chunk deletes.
pub const CHUNK: u32 = 5_000;

/// What one table keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Keep {
    /// Rows older than this go (`None`: any age stays).
    pub max_age: Option<Duration>,
    /// At most this many rows stay, the newest (events only).
    pub max_rows: Option<u64>,
}

/// The retention policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionConfig {
    /// How often a pass runs; the first runs one interval after start. Default: 10 min.
    pub interval: Duration,
    /// Stored events. Default: 30 days.
    pub events: Keep,
    /// Resolved incidents, by their last update, with their alerts. Default: 365 days.
    pub incidents: Keep,
    /// Finished playbook runs. Default: 90 days.
    pub playbook_runs: Keep,
}

const DAY: u64 = 24 * 3600;

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            interval: Duration::from_secs(600),
            events: Keep {
                max_age: Some(Duration::from_secs(30 * DAY)),
                max_rows: None,
            },
            incidents: Keep {
                max_age: Some(Duration::from_secs(365 * DAY)),
                max_rows: None,
            },
            playbook_runs: Keep {
                max_age: Some(Duration::from_secs(90 * DAY)),
                max_rows: None,
            },
        }
    }
}

impl RetentionConfig {
    /// The store rules of a pass at `now`.
    pub fn rules(&self, now: Timestamp) -> Vec<Retention> {
        RetentionTable::ALL
            .iter()
            .map(|&table| {
                let keep = match table {
                    RetentionTable::Events => self.events,
                    RetentionTable::Incidents => self.incidents,
                    RetentionTable::PlaybookRuns => self.playbook_runs,
                };
                Retention {
                    table,
                    before: keep
                        .max_age
                        .map(|age| Timestamp(now.millis().saturating_sub(age.as_millis() as i64))),
                    keep_rows: keep.max_rows.filter(|_| table == RetentionTable::Events),
                }
            })
            .collect()
    }
}

/// What a pass deleted, per table.
pub type Deleted = Vec<(RetentionTable, u64)>;

/// One pass: every rule, chunk after chunk until a chunk comes back short; a table that
/// deleted something gets one audit entry (`retention.pruned`) and its metric.
pub async fn pass(
    store: &dyn Store,
    config: &RetentionConfig,
    now: Timestamp,
    metrics: Option<&Metrics>,
) -> StoreResult<Deleted> {
    let mut out = Vec::new();
    for rule in config.rules(now) {
        if rule.before.is_none() && rule.keep_rows.is_none() {
            continue;
        }
        let mut total = 0;
        loop {
            let n = store.prune(&rule, CHUNK, ACTOR).await?;
            total += n;
            if n < u64::from(CHUNK) {
                break;
            }
            tokio::task::yield_now().await;
        }
        if total > 0 {
            tracing::info!(
                table = rule.table.as_str(),
                deleted = total,
                "retention pass"
            );
            store
                .append_audit(&[NewAudit::now(
                    ACTOR,
                    "retention.pruned",
                    "table",
                    rule.table.as_str(),
                    serde_json::json!({
                        "deleted": total,
                        "before": rule.before,
                        "keep_rows": rule.keep_rows,
                    }),
                )])
                .await?;
            if let Some(m) = metrics {
                m.add(counter(rule.table), total);
            }
        }
        out.push((rule.table, total));
    }
    Ok(out)
}

fn counter(table: RetentionTable) -> Counter {
    match table {
        RetentionTable::Events => Counter::RetentionEvents,
        RetentionTable::Incidents => Counter::RetentionIncidents,
        RetentionTable::PlaybookRuns => Counter::RetentionPlaybookRuns,
    }
}

/// Run a pass every `interval` (the first one interval after start), until `stop`.
pub async fn run(
    store: std::sync::Arc<dyn Store>,
    config: RetentionConfig,
    metrics: std::sync::Arc<Metrics>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let every = config.interval.max(Duration::from_secs(1));
    let (store, config, metrics) = (&store, &config, &metrics);
    let first = crate::worker::First::AfterOneInterval;
    crate::worker::every(every, first, stop, move || async move {
        if let Err(e) = pass(&**store, config, Timestamp::now(), Some(metrics)).await {
            tracing::warn!(error = %e, "retention pass failed");
        }
    })
    .await
}
