//! The pipeline: one task that owns the per-stream state (inventory, detection engine,
//! correlator) and turns batches of events and alerts into stored events, endpoints, alerts
//! and incidents. Everything that changes correlation state goes through it, so there is one
//! writer of incidents from detection.
//!
//! Sources (file replay, tail, HTTP push) hand batches to a [`PipelineHandle`]; a batch is
//! acknowledged only after its store transaction committed.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use rampart_correlate::{CorrelateConfig, Correlator};
use rampart_detect::config::DetectConfig;
use rampart_detect::Engine;
use rampart_inventory::endpoints::{Inventory, InventoryConfig};
use rampart_model::{AlertDraft, ApiEvent, Incident, Timestamp};
use rampart_sigma::{RuleSet, SigmaConfig, SigmaDetector};
use rampart_signatures::SignatureConfig;
use rampart_store::{Change, Checkpoint, Store, StoreError};

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
}

impl BatchReport {
    /// Add another report into this one.
    pub fn add(&mut self, o: &BatchReport) {
        self.events += o.events;
        self.alerts += o.alerts;
        self.incidents_created += o.incidents_created;
        self.incidents_merged += o.incidents_merged;
    }
}

enum Msg {
    Events {
        events: Vec<ApiEvent<'static>>,
        checkpoint: Option<Checkpoint>,
        ack: oneshot::Sender<Result<BatchReport, PipelineError>>,
    },
    Alerts {
        alerts: Vec<AlertDraft>,
        ack: oneshot::Sender<Result<BatchReport, PipelineError>>,
    },
    IncidentChanged(Box<Incident>),
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
}

impl PipelineStats {
    fn record(&self, r: &BatchReport) {
        self.events.fetch_add(r.events, Relaxed);
        self.alerts.fetch_add(r.alerts, Relaxed);
        self.incidents_created
            .fetch_add(r.incidents_created, Relaxed);
        self.incidents_merged.fetch_add(r.incidents_merged, Relaxed);
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

/// A cheap, cloneable handle to the pipeline task.
#[derive(Clone)]
pub struct PipelineHandle {
    tx: mpsc::Sender<Msg>,
    stats: Arc<PipelineStats>,
}

impl PipelineHandle {
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
        let (ack, rx) = oneshot::channel();
        self.tx
            .send(Msg::Events {
                events,
                checkpoint,
                ack,
            })
            .await
            .map_err(|_| PipelineError::Stopped)?;
        rx.await.map_err(|_| PipelineError::Stopped)?
    }

    /// Correlate and store alerts from outside tools. Resolves once committed.
    pub async fn push_alerts(&self, alerts: Vec<AlertDraft>) -> Result<BatchReport, PipelineError> {
        let (ack, rx) = oneshot::channel();
        self.tx
            .send(Msg::Alerts { alerts, ack })
            .await
            .map_err(|_| PipelineError::Stopped)?;
        rx.await.map_err(|_| PipelineError::Stopped)?
    }

    /// Tell the correlator a person changed an incident (status, owner, classification).
    pub async fn incident_changed(&self, incident: Incident) {
        let _ = self.tx.send(Msg::IncidentChanged(Box::new(incident))).await;
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

/// Which detectors run, and how they are configured.
#[derive(Clone, Default)]
pub struct DetectionSetup {
    /// Behavioural detectors, baselines, allow-lists and suppressions.
    pub detect: DetectConfig,
    /// Content detectors (signatures, threat intelligence, OpenAPI spec).
    pub signatures: SignatureConfig,
    /// Sigma rules, when loaded.
    pub sigma: Option<Arc<RuleSet>>,
    /// Sigma settings.
    pub sigma_config: SigmaConfig,
    /// Ids of detectors not to run at all (`[detect] disabled`; `sigma` for the Sigma rules).
    pub disabled: Vec<String>,
}

impl DetectionSetup {
    /// Whether the detector with this id is turned off by [`DetectionSetup::disabled`].
    pub fn is_disabled(&self, id: &str) -> bool {
        self.disabled.iter().any(|d| d == id)
    }
}

/// Assemble the engine: every enabled built-in behavioural and content detector, plus Sigma
/// when rules are loaded, behind the allow-lists and baselines of `setup.detect`. A disabled
/// detector is not in the engine: it sees no event and holds no state.
pub fn build_engine(setup: &DetectionSetup) -> Engine {
    let mut detectors = rampart_detect::builtin(&setup.detect);
    detectors.extend(rampart_signatures::builtin(&setup.signatures));
    if let Some(rules) = setup
        .sigma
        .as_ref()
        .filter(|_| !setup.is_disabled(rampart_sigma::DETECTOR_ID))
    {
        detectors.push(Box::new(SigmaDetector::new(
            rules.clone(),
            setup.sigma_config.clone(),
        )));
    }
    if !setup.disabled.is_empty() {
        detectors.retain(|d| !setup.is_disabled(d.id()));
    }
    Engine::with_config(&setup.detect, detectors)
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
    /// Write changed endpoints to the store every this many event batches (and on flush).
    pub inventory_flush_batches: u32,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            queue_batches: 8,
            engine: build_engine(&DetectionSetup::default()),
            correlate: CorrelateConfig::default(),
            inventory: InventoryConfig::default(),
            inventory_flush_batches: 16,
        }
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
    stats: Arc<PipelineStats>,
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

    async fn on_events(
        &mut self,
        events: Vec<ApiEvent<'static>>,
        checkpoint: Option<Checkpoint>,
    ) -> Result<BatchReport, PipelineError> {
        for ev in &events {
            if ev.ts > self.latest {
                self.latest = ev.ts;
            }
            self.inventory.observe(ev);
            self.engine.observe(ev, &mut self.alerts);
        }
        self.store
            .insert_events(&events, checkpoint.as_ref())
            .await?;
        let mut report = BatchReport {
            events: events.len() as u64,
            ..Default::default()
        };
        self.batches += 1;
        if self
            .batches
            .is_multiple_of(self.inventory_flush_batches.max(1))
        {
            self.flush_inventory().await?;
        }
        if !self.alerts.is_empty() {
            let alerts = std::mem::take(&mut self.alerts);
            report.add(&self.correlate(alerts).await?);
        }
        Ok(report)
    }

    fn publish(&self, r: &Result<BatchReport, PipelineError>) {
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

    async fn flush_inventory(&mut self) -> Result<(), PipelineError> {
        let dirty = self.inventory.take_dirty();
        if !dirty.is_empty() {
            self.store.upsert_endpoints(&dirty).await?;
        }
        Ok(())
    }

    async fn correlate(&mut self, alerts: Vec<AlertDraft>) -> Result<BatchReport, PipelineError> {
        let n = alerts.len() as u64;
        for a in &alerts {
            if a.last_seen > self.latest {
                self.latest = a.last_seen;
            }
        }
        let changes = self.correlator.correlate(alerts);
        let created = changes
            .changes
            .iter()
            .filter(|c| matches!(c, Change::CreateIncident { .. }))
            .count() as u64;
        let merged = changes
            .changes
            .iter()
            .filter(|c| matches!(c, Change::Merge { .. }))
            .count() as u64;
        match self.store.apply(&changes).await {
            Ok(applied) => {
                self.correlator.confirm(&applied);
                Ok(BatchReport {
                    alerts: n,
                    incidents_created: created,
                    incidents_merged: merged,
                    ..Default::default()
                })
            }
            Err(e) => {
                // The correlator assumed the change set applied; rebuild it from the store.
                tracing::error!(error = %e, "applying correlation changes failed; reseeding correlator");
                self.reseed_correlator().await?;
                Err(e.into())
            }
        }
    }

    async fn flush(&mut self) -> Result<BatchReport, PipelineError> {
        self.engine.tick(self.latest, &mut self.alerts);
        self.flush_inventory().await?;
        if self.alerts.is_empty() {
            return Ok(BatchReport::default());
        }
        let alerts = std::mem::take(&mut self.alerts);
        self.correlate(alerts).await
    }
}

/// Start the pipeline task over a store. Loads the inventory and open incidents first.
pub async fn spawn(
    store: Arc<dyn Store>,
    cfg: PipelineConfig,
) -> Result<(PipelineHandle, tokio::task::JoinHandle<()>), PipelineError> {
    let (tx, mut rx) = mpsc::channel::<Msg>(cfg.queue_batches.max(1));
    let mut core = Core {
        store,
        engine: cfg.engine,
        inventory: Inventory::new(cfg.inventory),
        correlator: Correlator::new(cfg.correlate.clone()),
        correlate_cfg: cfg.correlate,
        alerts: Vec::new(),
        latest: Timestamp::default(),
        batches: 0,
        inventory_flush_batches: cfg.inventory_flush_batches,
        stats: Arc::new(PipelineStats::default()),
    };
    let stats = core.stats.clone();
    core.seed().await?;
    let task = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Events {
                    events,
                    checkpoint,
                    ack,
                } => {
                    let r = core.on_events(events, checkpoint).await;
                    core.publish(&r);
                    let _ = ack.send(r);
                }
                Msg::Alerts { alerts, ack } => {
                    let r = core.correlate(alerts).await;
                    core.publish(&r);
                    let _ = ack.send(r);
                }
                Msg::IncidentChanged(inc) => core.correlator.on_incident_changed(&inc),
                Msg::Flush { ack } => {
                    let r = core.flush().await;
                    core.publish(&r);
                    let _ = ack.send(r);
                }
            }
        }
        // Senders gone: store what is pending.
        if let Err(e) = core.flush().await {
            tracing::error!(error = %e, "final pipeline flush failed");
        }
    });
    Ok((PipelineHandle { tx, stats }, task))
}
