//! Replaying whole files (plain or gzip) and stdin through the pipeline.
//!
//! Lines are read with a bound on their length ([`crate::lines`]). With a checkpoint store,
//! every batch commits the offset after its last line (in decompressed bytes for gzip) under
//! `replay:<absolute path>` with the file's identity, in the same transaction as its events:
//! rerunning a replay adds nothing, a file that grew is resumed, a replay killed midway and
//! rerun stores every event once. stdin has no checkpoint.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use rampart_decode::{AutoDecoder, DecodeConfig, Decoder};
use rampart_model::ApiEvent;
use rampart_pipeline::{BatchReport, Pending, PipelineHandle};
use rampart_store::{Checkpoint, Store};

use crate::lines::{Line, LineReader, DEFAULT_MAX_LINE_BYTES};
use crate::{IngestError, MalformedLine, MAX_MALFORMED_KEPT};

/// How to replay.
#[derive(Clone)]
pub struct ReplayOptions {
    /// Force a decoder by name; `None` auto-detects per line.
    pub format: Option<String>,
    /// Events per pipeline batch.
    pub batch_size: usize,
    /// Line bytes per pipeline batch: a batch is sent when it holds this much input even with
    /// fewer than `batch_size` events, so long lines cannot pile up gigabytes in one batch.
    pub batch_bytes: usize,
    /// Decoder settings (trusted proxies, principal header, API key secret).
    pub decode: DecodeConfig,
    /// Bytes read so far across files (for a progress bar).
    pub progress: Arc<AtomicU64>,
    /// Longest line accepted, in bytes without its newline (default
    /// [`DEFAULT_MAX_LINE_BYTES`]); a longer one is skipped in bounded chunks and reported as
    /// malformed.
    pub max_line_bytes: usize,
    /// Where per-file checkpoints are read and committed; `None` reads every file from its
    /// start and records nothing (benchmarks, the demo).
    pub checkpoints: Option<Arc<dyn Store>>,
    /// Read files from their start even when a checkpoint says they were replayed (the
    /// checkpoint is then rewritten as the replay goes).
    pub restart: bool,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            format: None,
            batch_size: 16384,
            batch_bytes: 4 << 20,
            decode: DecodeConfig::default(),
            progress: Arc::new(AtomicU64::new(0)),
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            checkpoints: None,
            restart: false,
        }
    }
}

/// What a replay did with one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileReport {
    /// The file as given (`-` for stdin).
    pub file: String,
    /// Non-empty lines read.
    pub lines: u64,
    /// Events decoded and stored.
    pub events: u64,
    /// Lines that did not decode (including over-long lines and an unreadable tail).
    pub malformed: u64,
    /// Bytes skipped because an earlier replay had already stored them (decompressed bytes
    /// for gzip).
    pub skipped_bytes: u64,
    /// An earlier replay had read the whole file: nothing new was read.
    pub already_replayed: bool,
    /// Why reading stopped before the end (I/O error, truncated or corrupt gzip); the lines
    /// before it were stored.
    pub error: Option<String>,
    /// Largest line buffer held while reading the file, in bytes (bounded by the line limit).
    pub max_line_buffer: u64,
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplayReport {
    /// Files read.
    pub files: u64,
    /// Non-empty lines read.
    pub lines: u64,
    /// Events decoded and stored.
    pub events: u64,
    /// Lines that did not decode.
    pub malformed: u64,
    /// The first malformed lines, with file and line number.
    pub malformed_lines: Vec<MalformedLine>,
    /// What the pipeline did with the events.
    pub pipeline: BatchReport,
    /// Files resumed from a checkpoint (new lines after the part already replayed).
    pub resumed: u64,
    /// Files an earlier replay had read to the end.
    pub already_replayed: u64,
    /// Bytes skipped across files because earlier replays had stored them.
    pub skipped_bytes: u64,
    /// Files that could not be read to their end (see each file's `error`).
    pub failed: u64,
    /// Largest line buffer held, in bytes (bounded by the line limit).
    pub max_line_buffer: u64,
    /// One report per file, in order.
    pub per_file: Vec<FileReport>,
}

/// Batches of one replay handed to the pipeline and not yet acknowledged, at most.
const IN_FLIGHT: usize = 2;

impl ReplayReport {
    fn acknowledged(&mut self, events: u64, lines: u64, r: &BatchReport) {
        self.events += events;
        self.lines += lines;
        self.pipeline.add(r);
    }

    fn malformed(&mut self, m: MalformedLine) {
        self.malformed += 1;
        if self.malformed_lines.len() < MAX_MALFORMED_KEPT {
            self.malformed_lines.push(m);
        }
    }

    fn file(&mut self, f: FileReport) {
        self.files += 1;
        if f.already_replayed {
            self.already_replayed += 1;
        } else if f.skipped_bytes > 0 {
            self.resumed += 1;
        }
        self.skipped_bytes += f.skipped_bytes;
        self.failed += u64::from(f.error.is_some());
        self.max_line_buffer = self.max_line_buffer.max(f.max_line_buffer);
        self.per_file.push(f);
    }
}

/// The checkpoint key of a replayed file: `replay:` and its canonical absolute path (a key
/// space apart from followed files').
pub fn replay_key(path: &Path) -> std::io::Result<String> {
    Ok(format!("replay:{}", std::fs::canonicalize(path)?.display()))
}

/// Open a file, transparently gunzipping it when it starts with the gzip magic; `-` is stdin.
pub fn open_source(path: &Path) -> Result<Box<dyn BufRead + Send>, IngestError> {
    open_with_id(path)
        .map(|(r, _)| r)
        .map_err(|source| IngestError::Io {
            path: path.display().to_string(),
            source,
        })
}

/// [`open_source`], plus the identity of the file ([`crate::follow::file_id`]; `None` for
/// stdin).
fn open_with_id(path: &Path) -> std::io::Result<(Box<dyn BufRead + Send>, Option<String>)> {
    if path.as_os_str() == "-" {
        return Ok((
            Box::new(BufReader::with_capacity(1 << 20, std::io::stdin())),
            None,
        ));
    }
    let mut f = File::open(path)?;
    let id = crate::follow::file_id(&f.metadata()?);
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic)?;
    let head = std::io::Cursor::new(magic[..n].to_vec());
    let chained = head.chain(f);
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok((
            Box::new(BufReader::with_capacity(
                1 << 20,
                flate2::read::MultiGzDecoder::new(chained),
            )),
            Some(id),
        ))
    } else {
        Ok((
            Box::new(BufReader::with_capacity(1 << 20, chained)),
            Some(id),
        ))
    }
}

/// Strip a trailing `\n` / `\r\n` and turn bytes into text (lossy: log lines may carry junk).
pub fn line_text(buf: &[u8]) -> std::borrow::Cow<'_, str> {
    let mut end = buf.len();
    while end > 0 && (buf[end - 1] == b'\n' || buf[end - 1] == b'\r') {
        end -= 1;
    }
    String::from_utf8_lossy(&buf[..end])
}

/// Decodes lines one by one with a fixed or auto-detected decoder.
pub struct LineDecoder {
    fixed: Option<&'static dyn Decoder>,
    auto: AutoDecoder,
}

impl LineDecoder {
    /// A decoder for a format name (`None` = auto-detect per line).
    pub fn new(format: Option<&str>) -> Result<Self, IngestError> {
        let fixed = match format {
            None => None,
            Some(name) => Some(
                rampart_decode::decoder_by_name(name)
                    .ok_or_else(|| IngestError::UnknownFormat(name.to_string()))?,
            ),
        };
        Ok(LineDecoder {
            fixed,
            auto: AutoDecoder::new(),
        })
    }

    /// Decode one line. A line whose event time is outside the accepted range
    /// ([`rampart_model::SANE_MIN`]..[`rampart_model::SANE_MAX`]) is malformed: reported
    /// with its file and line like any other, rather than dropped later by the pipeline.
    pub fn decode<'a>(
        &mut self,
        line: &'a str,
        cfg: &DecodeConfig,
    ) -> Result<ApiEvent<'a>, rampart_decode::DecodeError> {
        let ev = match self.fixed {
            Some(d) => d.decode(line, cfg),
            None => self.auto.decode(line, cfg),
        }?;
        if !ev.ts.is_sane() {
            return Err(rampart_decode::DecodeError::Malformed {
                format: self.fixed.map_or("auto", |d| d.name()),
                reason: "event time outside the accepted range (1990-01-01..2200-01-01)",
            });
        }
        Ok(ev)
    }
}

enum Batch {
    Events {
        events: Vec<ApiEvent<'static>>,
        checkpoint: Option<Checkpoint>,
        lines: u64,
    },
    Malformed(MalformedLine),
    FileDone(FileReport),
}

/// A file to read, with the checkpoint an earlier replay left for it.
struct Planned {
    path: PathBuf,
    key: Option<String>,
    checkpoint: Option<Checkpoint>,
}

/// Replay files (and `-` for stdin) through the pipeline; malformed lines are counted and
/// reported, never fatal, and a file that cannot be read to its end is reported (its readable
/// part stored) before the next one is read. Reading and decoding run on a blocking thread,
/// detection and storage on the pipeline task, so replay uses two cores.
pub async fn replay_files(
    paths: &[PathBuf],
    opts: &ReplayOptions,
    pipeline: &PipelineHandle,
) -> Result<ReplayReport, IngestError> {
    // Fail fast on an unknown format or a missing file, before reading anything.
    LineDecoder::new(opts.format.as_deref())?;
    let mut plan = Vec::with_capacity(paths.len());
    for p in paths {
        let io = |source| IngestError::Io {
            path: p.display().to_string(),
            source,
        };
        let mut planned = Planned {
            path: p.clone(),
            key: None,
            checkpoint: None,
        };
        if p.as_os_str() != "-" {
            std::fs::metadata(p).map_err(io)?;
            if let Some(store) = &opts.checkpoints {
                let key = replay_key(p).map_err(io)?;
                if plan.iter().any(|q: &Planned| q.key.as_ref() == Some(&key)) {
                    tracing::warn!(file = %p.display(), "file named twice; replaying it once");
                    continue;
                }
                if !opts.restart {
                    planned.checkpoint = store.get_checkpoint(&key).await?;
                }
                planned.key = Some(key);
            }
        }
        plan.push(planned);
    }
    let (tx, mut rx) = mpsc::channel::<Batch>(4);
    let o = opts.clone();
    let reader = tokio::task::spawn_blocking(move || {
        for p in &plan {
            let Some(r) = read_one(p, &o, &tx) else { break };
            if tx.blocking_send(Batch::FileDone(r)).is_err() {
                break;
            }
        }
    });
    let mut report = ReplayReport::default();
    // Batches handed to the pipeline and not yet acknowledged, oldest first: the next batch
    // is detected while the one before commits. Counted only once acknowledged.
    let mut pending: std::collections::VecDeque<(u64, u64, Pending)> =
        std::collections::VecDeque::with_capacity(IN_FLIGHT);
    while let Some(b) = rx.recv().await {
        match b {
            Batch::Events {
                events,
                checkpoint,
                lines,
            } => {
                if pending.len() >= IN_FLIGHT {
                    if let Some((n, lines, p)) = pending.pop_front() {
                        let r = p.committed().await?;
                        report.acknowledged(n, lines, &r);
                    }
                }
                let n = events.len() as u64;
                let p = pipeline.submit_events(events, checkpoint).await?;
                pending.push_back((n, lines, p));
            }
            Batch::Malformed(m) => report.malformed(m),
            Batch::FileDone(f) => {
                if let Some(e) = &f.error {
                    tracing::warn!(file = %f.file, error = %e, "file not read to its end");
                }
                report.file(f)
            }
        }
    }
    while let Some((n, lines, p)) = pending.pop_front() {
        let r = p.committed().await?;
        report.acknowledged(n, lines, &r);
    }
    reader.await.map_err(|e| IngestError::Io {
        path: "reader thread".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let r = pipeline.flush().await?;
    report.pipeline.add(&r);
    Ok(report)
}

/// Read one file to its end (or to its first I/O error), sending batches with checkpoints.
/// `None` when the receiving side has gone (the replay is failing).
fn read_one(p: &Planned, o: &ReplayOptions, tx: &mpsc::Sender<Batch>) -> Option<FileReport> {
    let name = p.path.display().to_string();
    let mut rep = FileReport {
        file: name.clone(),
        ..Default::default()
    };
    let opened = open_with_id(&p.path);
    let (mut r, id) = match opened {
        Ok((src, id)) => (LineReader::new(src, o.max_line_bytes), id),
        Err(e) => {
            rep.error = Some(e.to_string());
            return Some(rep);
        }
    };
    let mut lineno = 0u64;
    let mut skipped_to = 0u64;
    if let (Some(cp), Some(id)) = (&p.checkpoint, &id) {
        if cp.file_id == *id {
            match r.skip(cp.offset) {
                Ok(s) if s.bytes == cp.offset => {
                    lineno = s.newlines;
                    skipped_to = s.bytes;
                    o.progress.fetch_add(s.bytes, Ordering::Relaxed);
                }
                Ok(s) => {
                    // Shorter than what was replayed: rewritten in place. Start over.
                    tracing::warn!(file = %name, checkpoint = cp.offset, size = s.bytes, "file shorter than its replay checkpoint; replaying it from its start");
                    match open_with_id(&p.path) {
                        Ok((src, _)) => r = LineReader::new(src, o.max_line_bytes),
                        Err(e) => {
                            rep.error = Some(e.to_string());
                            return Some(rep);
                        }
                    }
                }
                Err(e) => {
                    rep.error = Some(e.to_string());
                    let m = MalformedLine {
                        file: name,
                        line: 1,
                        reason: format!("unreadable before the replay checkpoint: {e}"),
                    };
                    tx.blocking_send(Batch::Malformed(m)).ok()?;
                    rep.malformed += 1;
                    return Some(rep);
                }
            }
        }
    }
    rep.skipped_bytes = skipped_to;
    let checkpoint = |offset: u64| {
        p.key.as_ref().zip(id.as_ref()).map(|(k, id)| Checkpoint {
            source: k.clone(),
            file_id: id.clone(),
            offset,
        })
    };
    let mut dec = match LineDecoder::new(o.format.as_deref()) {
        Ok(d) => d,
        Err(e) => {
            rep.error = Some(e.to_string());
            return Some(rep);
        }
    };
    let mut batch = Vec::with_capacity(o.batch_size.min(1 << 16));
    let mut lines = 0u64;
    let mut batch_bytes = 0usize;
    let mut good = r.offset();
    let mut committed = good;
    loop {
        let line = match r.next_line() {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(e) => {
                // A truncated or corrupt gzip, or a read error: the rest of the file is one
                // malformed tail; what came before is stored.
                rep.error = Some(e.to_string());
                rep.malformed += 1;
                let m = MalformedLine {
                    file: name.clone(),
                    line: lineno + 1,
                    reason: format!("unreadable tail: {e}"),
                };
                tx.blocking_send(Batch::Malformed(m)).ok()?;
                break;
            }
        };
        lineno += 1;
        let malformed = match line {
            Line::TooLong { len } => Some(format!(
                "line longer than {} bytes ({len} bytes)",
                o.max_line_bytes
            )),
            Line::Text(bytes) => {
                let text = line_text(bytes);
                if text.trim().is_empty() {
                    None
                } else {
                    lines += 1;
                    match dec.decode(&text, &o.decode) {
                        Ok(ev) => {
                            batch_bytes += bytes.len();
                            batch.push(ev.into_owned());
                            None
                        }
                        Err(e) => Some(e.to_string()),
                    }
                }
            }
        };
        o.progress.fetch_add(r.offset() - good, Ordering::Relaxed);
        good = r.offset();
        if let Some(reason) = malformed {
            rep.malformed += 1;
            let m = MalformedLine {
                file: name.clone(),
                line: lineno,
                reason,
            };
            tx.blocking_send(Batch::Malformed(m)).ok()?;
        }
        if batch.len() >= o.batch_size || batch_bytes >= o.batch_bytes {
            batch_bytes = 0;
            rep.events += batch.len() as u64;
            rep.lines += lines;
            let events = std::mem::replace(&mut batch, Vec::with_capacity(o.batch_size));
            let b = Batch::Events {
                events,
                checkpoint: checkpoint(good),
                lines: std::mem::take(&mut lines),
            };
            tx.blocking_send(b).ok()?;
            committed = good;
        }
    }
    rep.already_replayed =
        p.checkpoint.is_some() && skipped_to > 0 && good == skipped_to && rep.error.is_none();
    rep.events += batch.len() as u64;
    rep.lines += lines;
    rep.max_line_buffer = r.max_buffered() as u64;
    let cp = if good > committed {
        checkpoint(good)
    } else {
        None
    };
    if !batch.is_empty() || lines > 0 || cp.is_some() {
        let b = Batch::Events {
            events: batch,
            checkpoint: cp,
            lines,
        };
        tx.blocking_send(b).ok()?;
    }
    Some(rep)
}
