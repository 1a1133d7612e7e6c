//! Sources of events: replaying files (plain or gzip) and stdin, and following live log files
//! through rotation and truncation with checkpoints committed atomically with the events.
//!
//! Sources decode lines with `rampart-decode` and hand batches to the pipeline. A malformed
//! line is counted and reported with its file and line number; it never stops a source.

pub mod follow;
pub mod lines;
pub mod replay;

use serde::{Deserialize, Serialize};

/// One line that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MalformedLine {
    /// File (or `-` for stdin).
    pub file: String,
    /// 1-based line number.
    pub line: u64,
    /// Why.
    pub reason: String,
}

/// Most malformed lines kept for the report (all are counted).
pub const MAX_MALFORMED_KEPT: usize = 100;

/// Ingestion errors (I/O on the source, or the pipeline refusing a batch).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Reading a source failed.
    #[error("reading {path}: {source}")]
    Io {
        /// The source.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The pipeline failed to commit a batch.
    #[error("pipeline: {0}")]
    Pipeline(#[from] rampart_pipeline::PipelineError),
    /// The store failed (checkpoint lookup).
    #[error("store: {0}")]
    Store(#[from] rampart_store::StoreError),
    /// The format named on the command line does not exist.
    #[error("unknown format {0:?}")]
    UnknownFormat(String),
}
