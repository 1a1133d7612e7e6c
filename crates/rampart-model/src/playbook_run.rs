//! Playbook runs as the store keeps them: one row per run (the playbook's body snapshot, so a
//! run keeps the version it started with; its subject; status; when it wakes; its lease) and
//! one row per step key (status, input, output, error, attempt, timing). The grammar of the
//! body and the engine that walks it are `rampart-automation::playbook`'s.

use serde::{Deserialize, Serialize};

use crate::enums::wire_enum;
use crate::{EntityKind, Timestamp};

wire_enum! {
    /// Where a run is.
    RunStatus, "run status" {
        /// Ready to be claimed by a runner.
        Queued = "queued",
        /// Claimed by a runner (its lease says until when).
        Running = "running",
        /// Waiting for a time (`wake_at`) or an approval (no `wake_at`).
        Waiting = "waiting",
        /// Every step done.
        Succeeded = "succeeded",
        /// A step failed.
        Failed = "failed",
        /// A person cancelled it.
        Cancelled = "cancelled",
    }
}

impl RunStatus {
    /// Whether the run is over.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled
        )
    }
}

wire_enum! {
    /// Where a step of a run is.
    StepStatus, "step status" {
        /// Recorded before its side effect; not finished.
        Started = "started",
        /// Finished, with its output.
        Completed = "completed",
        /// Failed, with its error.
        Failed = "failed",
    }
}

/// What a run runs on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunSubject {
    /// An incident.
    Incident(i64),
    /// An alert.
    Alert(i64),
    /// One entity.
    Entity {
        /// Its kind.
        kind: EntityKind,
        /// Its value.
        value: String,
    },
}

impl RunSubject {
    /// The wire name of the subject's kind (`incident`, `alert`, `entity`).
    pub fn kind_str(&self) -> &'static str {
        match self {
            RunSubject::Incident(_) => "incident",
            RunSubject::Alert(_) => "alert",
            RunSubject::Entity { .. } => "entity",
        }
    }
}

/// A run to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    /// The playbook's name.
    pub playbook: String,
    /// Its version when the run was requested.
    pub version: i64,
    /// Its body at that version.
    pub body: serde_json::Value,
    /// What it runs on.
    pub subject: RunSubject,
    /// The incident the run shows on (the subject incident, or the alert's).
    pub incident_id: Option<i64>,
    /// Who asked (`alice`, `rule:<name>`).
    pub requested_by: String,
}

/// One run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaybookRun {
    /// Id.
    pub id: i64,
    /// Playbook name.
    pub playbook: String,
    /// Playbook version it runs.
    pub version: i64,
    /// The playbook body it runs (snapshot).
    pub body: serde_json::Value,
    /// What it runs on.
    pub subject: RunSubject,
    /// The incident it shows on.
    pub incident_id: Option<i64>,
    /// Where it is.
    pub status: RunStatus,
    /// When a waiting run may go on (none while it waits for an approval).
    pub wake_at: Option<Timestamp>,
    /// Who asked.
    pub requested_by: String,
    /// The runner holding it.
    pub lease_owner: Option<String>,
    /// Until when it holds it.
    pub lease_until: Option<Timestamp>,
    /// Created.
    pub created_at: Timestamp,
    /// Last progress.
    pub updated_at: Timestamp,
    /// Why it failed.
    pub error: Option<String>,
}

/// One step of a run (a step key: `3`, `2.then.0`, `4[1].0`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStep {
    /// The run.
    pub run_id: i64,
    /// The step's key in the run.
    pub step_key: String,
    /// The step's id in the playbook.
    pub step_id: String,
    /// Where it is.
    pub status: StepStatus,
    /// Its expanded input.
    pub input: serde_json::Value,
    /// Its output (null until completed).
    pub output: serde_json::Value,
    /// Why it failed.
    pub error: Option<String>,
    /// 1 for the first execution, +1 each time a step left started is executed again.
    pub attempt: i64,
    /// When it (last) started.
    pub started_at: Timestamp,
    /// When it finished.
    pub finished_at: Option<Timestamp>,
}
