//! The pipeline: one task that owns the per-stream state (inventory, detection engine,
//! correlator) and turns batches of events and alerts into stored events, endpoints, alerts
//! and incidents. Everything that changes correlation state goes through it, so there is one
//! writer of incidents from detection.
//!
//! Sources (file replay, tail, HTTP push) hand batches to a [`PipelineHandle`]; a batch is
//! acknowledged only after its store transaction committed. **One batch is one transaction**
//! ([`Store::commit_batch`]): its events, its source checkpoint, the alerts and incident
//! changes they produced, the endpoints due to be written and the request's idempotency
//! record, so a crash never keeps a checkpoint without the alerts of its lines, nor part of a
//! pushed request.
//!
//! Times outside [`rampart_model::SANE_MIN`]..[`rampart_model::SANE_MAX`] never reach
//! detection or the store: such events and alerts are dropped, counted
//! ([`BatchReport::out_of_range`]) and logged. Sources refuse them first where they can say
//! which line it was.

pub mod automation;
pub mod watch;
pub mod webhooks;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use rampart_correlate::{CorrelateConfig, Correlator};
use rampart_detect::config::DetectConfig;
use rampart_detect::registry::{build_all, ConfigError, Registration, Resources};
use rampart_detect::Engine;
use rampart_inventory::endpoints::{Inventory, InventoryConfig};
use rampart_model::{AlertDraft, ApiEvent, Incident, Timestamp};
use rampart_sigma::RuleSet;
use rampart_signatures::intel::SharedIntel;
use rampart_signatures::inventory::OpenApiSpec;
use rampart_store::{
    Batch, BatchOutcome, Change, ChangeSet, Checkpoint, IdempotencyRecord, Store, StoreError,
};

/// Pipeline errors.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The store failed; the batch was not committed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The pipeline task has stopped.
    #[error("pipeline stopped")]
    Stopped,
}

/// What one acknowledged batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchReport {
    /// Events stored.
    pub events: u64,
    /// Alerts stored (from detectors and pushed).
    pub alerts: u64,
    /// Incidents created.
    pub incidents_created: u64,
    /// Incidents merged away.
    pub incidents_merged: u64,
    /// Events and alerts dropped because a time they carry is outside the accepted range.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub out_of_range: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl BatchReport {
    /// Add another report into this one.
    pub fn add(&mut self, o: &BatchReport) {
        self.events += o.events;
        self.alerts += o.alerts;
        self.incidents_created += o.incidents_created;
        self.incidents_merged += o.incidents_merged;
        self.out_of_range += o.out_of_range;
    }
}

/// The idempotency key of a pushed request: committing it stores an [`IdempotencyRecord`] in
/// the same transaction, and a second request with the same caller and key stores nothing.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    /// Who sent the request (token name).
    pub caller: String,
    /// The client's key.
    pub key: String,
    /// Hash of the request, kept to refuse the key for a different request.
    pub request_hash: String,
    /// How long the key is kept, in milliseconds.
    pub ttl_ms: i64,
    /// The answer (HTTP status and JSON body) to store for this request's report.
    pub respond: fn(&BatchReport) -> (u16, serde_json::Value),
}

impl IdempotencyKey {
    fn record(&self, report: &BatchReport) -> IdempotencyRecord {
        let (status, response) = (self.respond)(report);
        let now = Timestamp::now();
        IdempotencyRecord {
            caller: self.caller.clone(),
            key: self.key.clone(),
            request_hash: self.request_hash.clone(),
            status,
            response,
            created_at: now,
            expires_at: now.add_millis(self.ttl_ms.max(0)),
        }
    }
}

/// What a request with an idempotency key got.
#[derive(Debug, Clone, PartialEq)]
pub enum PushOutcome {
    /// Committed now.
    Committed(BatchReport),
    /// Nothing stored: the key was used before; its stored record (compare its
    /// `request_hash`, answer with its response).
    Replayed(IdempotencyRecord),
}

impl PushOutcome {
    fn into_report(self) -> BatchReport {
        match self {
            PushOutcome::Committed(r) => r,
            // Only a request with a key can be a replay.
            PushOutcome::Replayed(_) => BatchReport::default(),
        }
    }
}

type Ack = oneshot::Sender<Result<PushOutcome, PipelineError>>;

enum Msg {
    Events {
        events: Vec<ApiEvent<'static>>,
        checkpoint: Option<Checkpoint>,
        idempotency: Option<IdempotencyKey>,
        ack: Ack,
    },
    Alerts {
        alerts: Vec<AlertDraft>,
        idempotency: Option<IdempotencyKey>,
        ack: Ack,
    },
    IncidentChanged(Box<Incident>),
    /// A person changed an incident: automation rules on `incident_updated` run.
    IncidentUpdated(i64, rampart_automation::Update),
    Flush {
        ack: oneshot::Sender<Result<BatchReport, PipelineError>>,
    },
}

/// Counters and gauges the pipeline publishes (for `/metrics`): lock-free, updated per batch.
#[derive(Debug, Default)]
pub struct PipelineStats {
    /// Events processed.
    pub events: AtomicU64,
    /// Alerts stored (detected and pushed).
    pub alerts: AtomicU64,
    /// Incidents created.
    pub incidents_created: AtomicU64,
    /// Incidents merged away.
    pub incidents_merged: AtomicU64,
    /// Approximate bytes of detection state (gauge).
    pub detection_state_bytes: AtomicU64,
    /// Endpoints in the learned inventory (gauge).
    pub inventory_endpoints: AtomicU64,
    /// Events whose endpoint was not tracked because the inventory was full.
    pub inventory_overflow: AtomicU64,
    /// Events and alerts dropped for a time outside the accepted range.
    pub out_of_range: AtomicU64,
    /// Bumped after every committed batch that changed alerts or incidents: readers that
    /// cache what they read from the store compare it to know their copy is still current.
    pub generation: AtomicU64,
    /// Trigger batches handed to the automation worker.
    pub automation_queued: AtomicU64,
    /// Trigger batches the automation worker finished (equal to `automation_queued` when it
    /// is idle).
    pub automation_done: AtomicU64,
}

impl PipelineStats {
    fn record(&self, r: &BatchReport) {
        self.events.fetch_add(r.events, Relaxed);
        self.alerts.fetch_add(r.alerts, Relaxed);
        self.incidents_created
            .fetch_add(r.incidents_created, Relaxed);
        self.incidents_merged.fetch_add(r.incidents_merged, Relaxed);
        self.out_of_range.fetch_add(r.out_of_range, Relaxed);
    }

    /// Prometheus text exposition of these series.
    pub fn render(&self) -> String {
        let counters = [
            ("rampart_pipeline_events_total", &self.events),
            ("rampart_pipeline_alerts_total", &self.alerts),
            (
                "rampart_pipeline_incidents_created_total",
                &self.incidents_created,
            ),
            (
                "rampart_pipeline_incidents_merged_total",
                &self.incidents_merged,
            ),
            (
                "rampart_inventory_overflow_events_total",
                &self.inventory_overflow,
            ),
            ("rampart_pipeline_out_of_range_total", &self.out_of_range),
        ];
        let gauges = [
            ("rampart_detection_state_bytes", &self.detection_state_bytes),
            ("rampart_inventory_endpoints", &self.inventory_endpoints),
        ];
        let mut out = String::new();
        for (name, v) in counters {
            out.push_str(&format!(
                "# TYPE {name} counter\n{name} {}\n",
                v.load(Relaxed)
            ));
        }
        for (name, v) in gauges {
            out.push_str(&format!(
                "# TYPE {name} gauge\n{name} {}\n",
                v.load(Relaxed)
            ));
        }
        out
    }
}

/// A batch handed to the pipeline by [`PipelineHandle::submit_events`], not yet acknowledged.
#[must_use = "a batch is acknowledged only once `committed` resolves"]
pub struct Pending(oneshot::Receiver<Result<PushOutcome, PipelineError>>);

impl Pending {
    /// Wait until the batch is committed (or failed to be).
    pub async fn committed(self) -> Result<BatchReport, PipelineError> {
        self.0
            .await
            .map_err(|_| PipelineError::Stopped)?
            .map(PushOutcome::into_report)
    }
}

/// A cheap, cloneable handle to the pipeline task.
#[derive(Clone)]
pub struct PipelineHandle {
    tx: mpsc::Sender<Msg>,
    stats: Arc<PipelineStats>,
    watch: Arc<watch::WatchHandle>,
    actions_changed: Arc<tokio::sync::Notify>,
    wake: webhooks::Wake,
}

impl PipelineHandle {
    /// Notified whenever this node enqueues webhook deliveries (the pipeline's automation
    /// worker, the server's actions): the delivery worker waits on it between polls.
    pub fn deliveries_enqueued(&self) -> &webhooks::Wake {
        &self.wake
    }

    /// Signalled when automation (a rule, a disruption policy) created an action, so the
    /// server puts it in force at once instead of at its next sync.
    pub fn actions_changed(&self) -> &Arc<tokio::sync::Notify> {
        &self.actions_changed
    }

    /// The reappearance watch list the pipeline checks events against (rebuild it after
    /// changing an action; [`watch::maintain`] rebuilds it periodically).
    pub fn watch(&self) -> &Arc<watch::WatchHandle> {
        &self.watch
    }

    /// The pipeline's counters and gauges.
    pub fn stats(&self) -> &PipelineStats {
        &self.stats
    }

    /// Process and store a batch of events (and, atomically with them, the checkpoint of the
    /// source they came from). Resolves once committed.
    pub async fn push_events(
        &self,
        events: Vec<ApiEvent<'static>>,
        checkpoint: Option<Checkpoint>,
    ) -> Result<BatchReport, PipelineError> {
        self.send_events(events, checkpoint, None)
            .await
            .map(PushOutcome::into_report)
    }

    /// Hand a batch of events (and its source's checkpoint) to the pipeline without waiting
    /// for its commit: a source may read and hand over the next batch while this one is
    /// detected and committed. The batch is acknowledged (stored, checkpoint included) only
    /// when [`Pending::committed`] resolves; batches commit in the order they were handed.
    pub async fn submit_events(
        &self,
        events: Vec<ApiEvent<'static>>,
        checkpoint: Option<Checkpoint>,
    ) -> Result<Pending, PipelineError> {
        let (ack, rx) = oneshot::channel();
        self.tx
            .send(Msg::Events {
                events,
                checkpoint,
                idempotency: None,
                ack,
            })
            .await
            .map_err(|_| PipelineError::Stopped)?;
        Ok(Pending(rx))
    }

    /// Process and store one pushed request's events in one transaction, with its
    /// idempotency record: a request whose caller and key were committed before stores
    /// nothing and resolves to [`PushOutcome::Replayed`].
    pub async fn push_events_once(
        &self,
        events: Vec<ApiEvent<'static>>,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<PushOutcome, PipelineError> {
        self.send_events(events, None, idempotency).await
    }

    async fn send_events(
        &self,
        events: Vec<ApiEvent<'static>>,
        checkpoint: Option<Checkpoint>,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<PushOutcome, PipelineError> {
        let (ack, rx) = oneshot::channel();
        self.tx
            .send(Msg::Events {
                events,
                checkpoint,
                idempotency,
                ack,
            })
            .await
            .map_err(|_| PipelineError::Stopped)?;
        rx.await.map_err(|_| PipelineError::Stopped)?
    }

    /// Correlate and store alerts from outside tools. Resolves once committed.
    pub async fn push_alerts(&self, alerts: Vec<AlertDraft>) -> Result<BatchReport, PipelineError> {
        self.push_alerts_once(alerts, None)
            .await
            .map(PushOutcome::into_report)
    }

    /// Correlate and store one pushed request's alerts in one transaction, with its
    /// idempotency record (see [`PipelineHandle::push_events_once`]).
    pub async fn push_alerts_once(
        &self,
        alerts: Vec<AlertDraft>,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<PushOutcome, PipelineError> {
        let (ack, rx) = oneshot::channel();
        self.tx
            .send(Msg::Alerts {
                alerts,
                idempotency,
                ack,
            })
            .await
            .map_err(|_| PipelineError::Stopped)?;
        rx.await.map_err(|_| PipelineError::Stopped)?
    }

    /// Tell the correlator a person changed an incident (status, owner, classification).
    pub async fn incident_changed(&self, incident: Incident) {
        let _ = self.tx.send(Msg::IncidentChanged(Box::new(incident))).await;
    }

    /// Run the automation rules on `incident_updated` for a change `actor` made to incident
    /// `id` from `before` to `after` (severity, status and owner are what "changed" reads).
    pub async fn incident_updated(
        &self,
        id: i64,
        before: &Incident,
        after: &Incident,
        actor: &str,
    ) {
        use rampart_automation::{Actor, Change, Changeable, Update};
        let mut changes = Vec::new();
        if before.severity != after.severity {
            changes.push(Change {
                property: Changeable::Severity,
                from: before.severity.as_str().into(),
                to: after.severity.as_str().into(),
            });
        }
        if before.status != after.status {
            changes.push(Change {
                property: Changeable::Status,
                from: before.status.as_str().into(),
                to: after.status.as_str().into(),
            });
        }
        if before.assigned_to != after.assigned_to {
            changes.push(Change {
                property: Changeable::Owner,
                from: before.assigned_to.clone().unwrap_or_default(),
                to: after.assigned_to.clone().unwrap_or_default(),
            });
        }
        if changes.is_empty()
            && before.tags == after.tags
            && before.classification == after.classification
        {
            return;
        }
        let update = Update {
            by: Actor::from_audit_name(actor),
            changes,
            chain: 0,
        };
        let _ = self.tx.send(Msg::IncidentUpdated(id, update)).await;
    }

    /// Close detection windows at the current event time and store what they produce, plus
    /// pending inventory changes.
    pub async fn flush(&self) -> Result<BatchReport, PipelineError> {
        let (ack, rx) = oneshot::channel();
        self.tx
            .send(Msg::Flush { ack })
            .await
            .map_err(|_| PipelineError::Stopped)?;
        rx.await.map_err(|_| PipelineError::Stopped)?
    }
}

/// Every detector Rampart has, one line each: behavioural (`rampart-detect`), content
/// (`rampart-signatures`) and Sigma, in that order. Each line names the detector's id (its
/// `[detect.<id>]` section) and how it is built; nothing else lists detectors.
pub const REGISTRY: &[Registration] = &registry_concat::<{ REGISTRY_LEN }>(&[
    rampart_detect::DETECTORS,
    rampart_signatures::DETECTORS,
    &[rampart_sigma::REGISTRATION],
]);

const REGISTRY_LEN: usize =
    rampart_detect::DETECTORS.len() + rampart_signatures::DETECTORS.len() + 1;

/// Join registry parts into one array at compile time.
const fn registry_concat<const N: usize>(parts: &[&[Registration]]) -> [Registration; N] {
    let mut out = [rampart_sigma::REGISTRATION; N];
    let (mut i, mut n) = (0, 0);
    while i < parts.len() {
        let mut j = 0;
        while j < parts[i].len() {
            out[n] = parts[i][j];
            n += 1;
            j += 1;
        }
        i += 1;
    }
    assert!(n == N, "REGISTRY_LEN counts every part");
    out
}

/// Which detectors run, how each is configured, and the runtime handles they read.
#[derive(Clone)]
pub struct DetectionSetup {
    /// Allow-lists, suppressions, baselines and every detector's `[detect.<id>]` section.
    pub detect: DetectConfig,
    /// Runtime handles: the threat-intel feed set (always present, empty until feeds are
    /// stored into it), the OpenAPI spec and the Sigma rules when loaded.
    pub resources: Resources,
}

impl Default for DetectionSetup {
    fn default() -> Self {
        DetectionSetup {
            detect: DetectConfig::default(),
            resources: Resources::default().with(Arc::new(SharedIntel::from_pointee(
                rampart_signatures::intel::ThreatIntel::empty(),
            ))),
        }
    }
}

impl DetectionSetup {
    /// Whether detector `id` is turned off (`[detect.<id>] enabled = false`).
    pub fn is_disabled(&self, id: &str) -> bool {
        !self.detect.detectors.enabled(id)
    }
    /// Turn detector `id` off.
    pub fn disable(&mut self, id: &str) {
        self.detect.detectors.set_enabled(id, false);
    }
    /// The Sigma rules, when loaded.
    pub fn sigma(&self) -> Option<Arc<RuleSet>> {
        self.resources.get::<RuleSet>()
    }
    /// Load these Sigma rules.
    pub fn set_sigma(&mut self, rules: Arc<RuleSet>) {
        self.resources.insert(rules);
    }
    /// The swappable threat-intel feed set the intel detectors read (added, empty, when the
    /// resources hold none, so that what a caller stores into it always reaches them).
    pub fn intel(&mut self) -> Arc<SharedIntel> {
        if let Some(i) = self.resources.get::<SharedIntel>() {
            return i;
        }
        let i = Arc::new(SharedIntel::from_pointee(
            rampart_signatures::intel::ThreatIntel::empty(),
        ));
        self.resources.insert(Arc::clone(&i));
        i
    }
    /// The OpenAPI spec of the protected API, when loaded.
    pub fn api_spec(&self) -> Option<Arc<OpenApiSpec>> {
        self.resources.get::<OpenApiSpec>()
    }
    /// Load the OpenAPI spec of the protected API.
    pub fn set_api_spec(&mut self, spec: Arc<OpenApiSpec>) {
        self.resources.insert(spec);
    }
}

/// Assemble the engine: every enabled detector of [`REGISTRY`], configured by its section,
/// behind the allow-lists and baselines of `setup.detect`. A disabled detector is not in the
/// engine: it sees no event and holds no state. An unknown id or a section that does not fit
/// its detector is an error.
pub fn try_build_engine(setup: &DetectionSetup) -> Result<Engine, ConfigError> {
    let detectors = build_all(REGISTRY, &setup.detect.detectors, &setup.resources)?;
    Ok(Engine::with_config(&setup.detect, detectors))
}

/// [`try_build_engine`] for settings already checked (panics on invalid ones).
pub fn build_engine(setup: &DetectionSetup) -> Engine {
    try_build_engine(setup).expect("detector settings were checked")
}

/// Pipeline configuration.
pub struct PipelineConfig {
    /// Bound of the input queue (batches), for backpressure.
    pub queue_batches: usize,
    /// The detection engine (see [`build_engine`]).
    pub engine: Engine,
    /// Correlation settings.
    pub correlate: CorrelateConfig,
    /// Inventory settings.
    pub inventory: InventoryConfig,
    /// Write changed endpoints to the store every this many event batches (and on flush), in
    /// the batch's transaction.
    pub inventory_flush_batches: u32,
    /// The secrets to redact (`decode.secrets`) and the body limit: every event, and the
    /// evidence and text of every alert, pass through [`rampart_decode::sanitize`] after
    /// detection and before the store sees them.
    pub decode: rampart_decode::DecodeConfig,
    /// The containment rails automation rules' `contain` actions go through.
    pub contain: rampart_contain::ContainConfig,
    /// Attack disruption: the built-in policies' modes and rails (`[disruption]`).
    pub disruption: rampart_contain::disruption::DisruptionConfig,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            queue_batches: 8,
            engine: build_engine(&DetectionSetup::default()),
            correlate: CorrelateConfig::default(),
            inventory: InventoryConfig::default(),
            inventory_flush_batches: 16,
            decode: rampart_decode::DecodeConfig::default(),
            contain: rampart_contain::ContainConfig::default(),
            disruption: rampart_contain::disruption::DisruptionConfig::default(),
        }
    }
}

/// A batch of events detected and sanitised, not yet committed.
struct Prepared {
    events: Vec<ApiEvent<'static>>,
    checkpoint: Option<Checkpoint>,
    alerts: Vec<AlertDraft>,
    endpoints: Vec<rampart_model::EndpointInfo>,
    report: BatchReport,
}

/// A batch whose transaction is committing on its own task, with the acknowledgement its
/// source waits for (sent only once the commit is done).
struct InFlight {
    commit: tokio::task::JoinHandle<Result<BatchOutcome, StoreError>>,
    report: BatchReport,
    ack: Ack,
}

/// The commit of the batch in flight, or never.
async fn landed(
    inflight: &mut Option<InFlight>,
) -> Result<Result<BatchOutcome, StoreError>, tokio::task::JoinError> {
    match inflight {
        Some(f) => (&mut f.commit).await,
        None => std::future::pending().await,
    }
}

/// The pipeline's state, owned by its task.
struct Core {
    store: Arc<dyn Store>,
    engine: Engine,
    inventory: Inventory,
    correlator: Correlator,
    correlate_cfg: CorrelateConfig,
    alerts: Vec<AlertDraft>,
    latest: Timestamp,
    batches: u32,
    inventory_flush_batches: u32,
    decode: rampart_decode::DecodeConfig,
    stats: Arc<PipelineStats>,
    watch: Arc<watch::WatchHandle>,
    reappear: rampart_contain::reappear::Reappearances,
    /// The automation worker's queue (`None` once the pipeline stops).
    automation: Option<tokio::sync::mpsc::UnboundedSender<automation::Triggers>>,
}

impl Core {
    async fn seed(&mut self) -> Result<(), PipelineError> {
        let endpoints = self.store.list_endpoints().await?;
        self.inventory.seed(endpoints);
        self.reseed_correlator().await
    }

    async fn reseed_correlator(&mut self) -> Result<(), PipelineError> {
        let since = Timestamp::from_millis(self.latest.millis() - self.correlate_cfg.window_ms);
        let summaries = self.store.incident_summaries(since).await?;
        self.correlator = Correlator::new(self.correlate_cfg.clone());
        self.correlator.seed(summaries);
        Ok(())
    }

    /// Detection and sanitising of one batch of events: everything before its commit.
    fn prepare_events(
        &mut self,
        mut events: Vec<ApiEvent<'static>>,
        checkpoint: Option<Checkpoint>,
    ) -> Prepared {
        let before = events.len();
        events.retain(|ev| {
            let sane = ev.ts.is_sane();
            if !sane {
                tracing::warn!(ts = ev.ts.millis(), source_format = %ev.source_format, "dropping an event whose time is outside the accepted range");
            }
            sane
        });
        let out_of_range = (before - events.len()) as u64;
        // One load per batch; an empty watch (nothing contained) costs nothing per event.
        let watch = self.watch.load();
        let watching = !watch.is_empty();
        for ev in &events {
            if ev.ts > self.latest {
                self.latest = ev.ts;
            }
            self.inventory.observe(ev);
            self.engine.observe(ev, &mut self.alerts);
            if watching {
                self.reappear.observe(&watch, ev, &mut self.alerts);
            }
        }
        drop(watch);
        // Detection saw the clear values; nothing stored keeps a secret.
        for ev in &mut events {
            rampart_decode::sanitize(ev, &self.decode);
        }
        self.batches += 1;
        let endpoints = if self
            .batches
            .is_multiple_of(self.inventory_flush_batches.max(1))
        {
            self.inventory.take_dirty()
        } else {
            Vec::new()
        };
        let report = BatchReport {
            events: events.len() as u64,
            out_of_range,
            ..Default::default()
        };
        Prepared {
            events,
            checkpoint,
            alerts: std::mem::take(&mut self.alerts),
            endpoints,
            report,
        }
    }

    /// Commit a prepared batch here (correlating its alerts first).
    async fn commit_prepared(
        &mut self,
        p: Prepared,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<PushOutcome, PipelineError> {
        let Prepared {
            events,
            checkpoint,
            alerts,
            endpoints,
            mut report,
        } = p;
        self.commit(
            &events,
            checkpoint.as_ref(),
            alerts,
            &endpoints,
            idempotency,
            &mut report,
            false,
        )
        .await
    }

    /// Commit a prepared batch that carries no alerts and no idempotency key on a task of its
    /// own, so the pipeline detects the next batch meanwhile. Its commit changes no
    /// correlation state; it is acknowledged by [`Core::land`] once committed.
    fn commit_in_background(&self, p: Prepared, ack: Ack) -> InFlight {
        debug_assert!(p.alerts.is_empty());
        let store = Arc::clone(&self.store);
        let Prepared {
            events,
            checkpoint,
            endpoints,
            report,
            ..
        } = p;
        let commit = tokio::spawn(async move {
            let batch = Batch {
                events: &events,
                checkpoint: checkpoint.as_ref(),
                changes: None,
                endpoints: &endpoints,
                idempotency: None,
            };
            store.commit_batch(&batch).await
        });
        InFlight {
            commit,
            report,
            ack,
        }
    }

    /// Acknowledge a batch committed in the background with the outcome of its commit.
    fn land(
        &mut self,
        f: InFlight,
        outcome: Result<Result<BatchOutcome, StoreError>, tokio::task::JoinError>,
    ) {
        let r = match outcome {
            Ok(Ok(BatchOutcome::Committed(applied))) => {
                self.correlator.confirm(&applied);
                Ok(PushOutcome::Committed(f.report))
            }
            Ok(Ok(BatchOutcome::Duplicate(stored))) => Ok(PushOutcome::Replayed(stored)),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "committing a batch failed");
                Err(e.into())
            }
            Err(e) => {
                tracing::error!(error = %e, "the task committing a batch failed");
                Err(StoreError::database("committing a batch", e).into())
            }
        };
        self.publish_outcome(&r);
        let _ = f.ack.send(r);
    }

    /// Wait for the batch committing in the background, if any, and acknowledge it.
    async fn land_pending(&mut self, inflight: &mut Option<InFlight>) {
        if let Some(mut f) = inflight.take() {
            let outcome = (&mut f.commit).await;
            self.land(f, outcome);
        }
    }

    async fn on_alerts(
        &mut self,
        mut alerts: Vec<AlertDraft>,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<PushOutcome, PipelineError> {
        let before = alerts.len();
        alerts.retain(|a| match a.check_times() {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(detector = %a.detector, error = %e, "dropping an alert whose time is outside the accepted range");
                false
            }
        });
        // Only Rampart's own detectors may name the incident an alert belongs to.
        for a in &mut alerts {
            a.incident_hint = None;
        }
        let mut report = BatchReport {
            out_of_range: (before - alerts.len()) as u64,
            ..Default::default()
        };
        self.commit(&[], None, alerts, &[], idempotency, &mut report, true)
            .await
    }

    fn publish_outcome(&self, r: &Result<PushOutcome, PipelineError>) {
        match r {
            Ok(PushOutcome::Committed(rep)) => self.publish(Ok(rep)),
            Ok(PushOutcome::Replayed(_)) => self.publish(Ok(&BatchReport::default())),
            Err(e) => self.publish(Err(e)),
        }
    }

    fn publish(&self, r: Result<&BatchReport, &PipelineError>) {
        if let Ok(r) = r {
            self.stats.record(r);
        }
        self.stats
            .detection_state_bytes
            .store(self.engine.state_bytes() as u64, Relaxed);
        self.stats
            .inventory_endpoints
            .store(self.inventory.len() as u64, Relaxed);
        self.stats
            .inventory_overflow
            .store(self.inventory.overflow_count(), Relaxed);
    }

    /// Correlate `alerts` and commit everything of one batch in one transaction. `pushed`:
    /// the alerts came from outside (`POST /api/v1/alerts`), so attack disruption never acts
    /// on them (a pushed alert may claim any detector).
    #[allow(clippy::too_many_arguments)]
    async fn commit(
        &mut self,
        events: &[ApiEvent<'static>],
        checkpoint: Option<&Checkpoint>,
        alerts: Vec<AlertDraft>,
        endpoints: &[rampart_model::EndpointInfo],
        idempotency: Option<IdempotencyKey>,
        report: &mut BatchReport,
        pushed: bool,
    ) -> Result<PushOutcome, PipelineError> {
        let mut alerts = alerts;
        self.track_hinted(&mut alerts).await?;
        let changes = if alerts.is_empty() {
            None
        } else {
            Some(self.correlate(alerts, report))
        };
        let record = idempotency.map(|k| k.record(report));
        let batch = Batch {
            events,
            checkpoint,
            changes: changes.as_ref(),
            endpoints,
            idempotency: record.as_ref(),
        };
        let outcome = self.store.commit_batch(&batch).await;
        if let Ok(BatchOutcome::Committed(applied)) = &outcome {
            self.correlator.confirm(applied);
            if let Some(auto) = &self.automation {
                if !applied.incident_ids.is_empty() || !applied.alert_ids.is_empty() {
                    self.stats.automation_queued.fetch_add(1, Relaxed);
                    let _ = auto.send(automation::Triggers {
                        incidents: applied.incident_ids.clone(),
                        alerts: applied.alert_ids.clone(),
                        pushed,
                        updated: Vec::new(),
                    });
                }
            }
            if changes.is_some() {
                self.stats
                    .generation
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            return Ok(PushOutcome::Committed(std::mem::take(report)));
        }
        if changes.is_some() {
            // The correlator assumed the change set applied; rebuild it from the store.
            tracing::warn!("correlation changes were not committed; reseeding correlator");
            self.reseed_correlator().await?;
        }
        match outcome {
            Ok(BatchOutcome::Duplicate(stored)) => Ok(PushOutcome::Replayed(stored)),
            Err(e) => {
                tracing::error!(error = %e, "committing a batch failed");
                Err(e.into())
            }
            Ok(BatchOutcome::Committed(_)) => unreachable!("handled above"),
        }
    }

    /// Make sure the correlator holds the incidents that alerts name in `incident_hint`
    /// (forgotten when idle past the window): read from the store, only for hinted alerts
    /// (reappearances, rare), never per event.
    /// A hint naming an incident merged away follows it to the one it was merged into.
    async fn track_hinted(&mut self, alerts: &mut [AlertDraft]) -> Result<(), PipelineError> {
        for a in alerts.iter_mut() {
            // A few hops at most: merges redirect once, chains are short.
            for _ in 0..8 {
                let Some(id) = a.incident_hint else { break };
                if self.correlator.tracks(id) {
                    break;
                }
                let Some(d) = self.store.get_incident(id).await? else {
                    a.incident_hint = None;
                    break;
                };
                match d.incident.redirect_to {
                    Some(into)
                        if d.incident.status == rampart_model::IncidentStatus::Redirected =>
                    {
                        a.incident_hint = Some(into);
                    }
                    _ => {
                        self.correlator.on_incident_changed(&d.incident);
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// Run the correlator over `alerts` (it assumes the change set will be committed), and
    /// count what the change set does into `report`.
    fn correlate(&mut self, mut alerts: Vec<AlertDraft>, report: &mut BatchReport) -> ChangeSet {
        report.alerts += alerts.len() as u64;
        for a in &mut alerts {
            rampart_decode::sanitize_alert(a, &self.decode);
            if a.last_seen > self.latest {
                self.latest = a.last_seen;
            }
        }
        let changes = self.correlator.correlate(alerts);
        for c in &changes.changes {
            match c {
                Change::CreateIncident { .. } => report.incidents_created += 1,
                Change::Merge { .. } => report.incidents_merged += 1,
                _ => {}
            }
        }
        changes
    }

    async fn flush(&mut self) -> Result<BatchReport, PipelineError> {
        self.engine.tick(self.latest, &mut self.alerts);
        let endpoints = self.inventory.take_dirty();
        let alerts = std::mem::take(&mut self.alerts);
        if alerts.is_empty() && endpoints.is_empty() {
            return Ok(BatchReport::default());
        }
        let mut report = BatchReport::default();
        self.commit(&[], None, alerts, &endpoints, None, &mut report, false)
            .await
            .map(PushOutcome::into_report)
    }
}

/// Start the pipeline task over a store. Loads the inventory and open incidents first.
pub async fn spawn(
    store: Arc<dyn Store>,
    cfg: PipelineConfig,
) -> Result<(PipelineHandle, tokio::task::JoinHandle<()>), PipelineError> {
    let (tx, mut rx) = mpsc::channel::<Msg>(cfg.queue_batches.max(1));
    let actions_changed = Arc::new(tokio::sync::Notify::new());
    let stats = Arc::new(PipelineStats::default());
    let wake = webhooks::Wake::default();
    let (auto_tx, auto_task) = automation::spawn(
        Arc::clone(&store),
        tx.downgrade(),
        automation::Rails {
            contain: cfg.contain.clone(),
            disruption: cfg.disruption.clone(),
            actions_changed: Arc::clone(&actions_changed),
            stats: Arc::clone(&stats),
            wake: wake.clone(),
        },
    );
    let mut core = Core {
        automation: Some(auto_tx),
        store,
        engine: cfg.engine,
        inventory: Inventory::new(cfg.inventory),
        correlator: Correlator::new(cfg.correlate.clone()),
        correlate_cfg: cfg.correlate,
        alerts: Vec::new(),
        latest: Timestamp::default(),
        batches: 0,
        inventory_flush_batches: cfg.inventory_flush_batches,
        decode: cfg.decode,
        stats,
        watch: Arc::new(watch::WatchHandle::default()),
        reappear: rampart_contain::reappear::Reappearances::default(),
    };
    let stats = core.stats.clone();
    let watch = core.watch.clone();
    core.seed().await?;
    let task = tokio::spawn(async move {
        // At most one batch of events commits in the background while the next one is
        // detected; every other message waits for it first, so writes stay in order.
        let mut inflight: Option<InFlight> = None;
        loop {
            let msg = tokio::select! {
                biased;
                outcome = landed(&mut inflight) => {
                    if let Some(f) = inflight.take() {
                        core.land(f, outcome);
                    }
                    continue;
                }
                msg = rx.recv() => msg,
            };
            let Some(msg) = msg else { break };
            match msg {
                Msg::Events {
                    events,
                    checkpoint,
                    idempotency,
                    ack,
                } => {
                    let prepared = core.prepare_events(events, checkpoint);
                    core.land_pending(&mut inflight).await;
                    if idempotency.is_none() && prepared.alerts.is_empty() {
                        inflight = Some(core.commit_in_background(prepared, ack));
                    } else {
                        let r = core.commit_prepared(prepared, idempotency).await;
                        core.publish_outcome(&r);
                        let _ = ack.send(r);
                    }
                }
                Msg::Alerts {
                    alerts,
                    idempotency,
                    ack,
                } => {
                    core.land_pending(&mut inflight).await;
                    let r = core.on_alerts(alerts, idempotency).await;
                    core.publish_outcome(&r);
                    let _ = ack.send(r);
                }
                // The batch in flight changes no incident: no need to wait for it.
                Msg::IncidentChanged(inc) => core.correlator.on_incident_changed(&inc),
                Msg::IncidentUpdated(id, update) => {
                    if let Some(auto) = &core.automation {
                        core.stats.automation_queued.fetch_add(1, Relaxed);
                        let _ = auto.send(automation::Triggers {
                            updated: vec![(id, update)],
                            ..Default::default()
                        });
                    }
                }
                Msg::Flush { ack } => {
                    core.land_pending(&mut inflight).await;
                    let r = core.flush().await;
                    core.publish(r.as_ref());
                    let _ = ack.send(r);
                }
            }
        }
        core.land_pending(&mut inflight).await;
        // Senders gone: store what is pending, then let automation finish its queue.
        if let Err(e) = core.flush().await {
            tracing::error!(error = %e, "final pipeline flush failed");
        }
        drop(core.automation.take());
        if let Err(e) = auto_task.await {
            tracing::error!(error = %e, "automation worker failed");
        }
    });
    Ok((
        PipelineHandle {
            tx,
            stats,
            watch,
            actions_changed,
            wake,
        },
        task,
    ))
}
