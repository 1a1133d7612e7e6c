//! Replaying whole files (plain or gzip) and stdin through the pipeline.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use rampart_decode::{AutoDecoder, DecodeConfig, Decoder};
use rampart_model::ApiEvent;
use rampart_pipeline::{BatchReport, PipelineHandle};

use crate::{IngestError, MalformedLine, MAX_MALFORMED_KEPT};

/// How to replay.
#[derive(Clone)]
pub struct ReplayOptions {
    /// Force a decoder by name; `None` auto-detects per line.
    pub format: Option<String>,
    /// Events per pipeline batch.
    pub batch_size: usize,
    /// Decoder settings (trusted proxies, principal header, API key secret).
    pub decode: DecodeConfig,
    /// Bytes read so far across files (for a progress bar).
    pub progress: Arc<AtomicU64>,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            format: None,
            batch_size: 2048,
            decode: DecodeConfig::default(),
            progress: Arc::new(AtomicU64::new(0)),
        }
    }
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
}

impl ReplayReport {
    fn malformed(&mut self, m: MalformedLine) {
        self.malformed += 1;
        if self.malformed_lines.len() < MAX_MALFORMED_KEPT {
            self.malformed_lines.push(m);
        }
    }
}

/// Open a file, transparently gunzipping it when it starts with the gzip magic; `-` is stdin.
pub fn open_source(path: &Path) -> Result<Box<dyn BufRead + Send>, IngestError> {
    let io = |source| IngestError::Io {
        path: path.display().to_string(),
        source,
    };
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufReader::with_capacity(
            1 << 20,
            std::io::stdin(),
        )));
    }
    let mut f = File::open(path).map_err(io)?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic).map_err(io)?;
    let head = std::io::Cursor::new(magic[..n].to_vec());
    let chained = head.chain(f);
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::read::MultiGzDecoder::new(chained),
        )))
    } else {
        Ok(Box::new(BufReader::with_capacity(1 << 20, chained)))
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

    /// Decode one line.
    pub fn decode<'a>(
        &mut self,
        line: &'a str,
        cfg: &DecodeConfig,
    ) -> Result<ApiEvent<'a>, rampart_decode::DecodeError> {
        match self.fixed {
            Some(d) => d.decode(line, cfg),
            None => self.auto.decode(line, cfg),
        }
    }
}

enum Batch {
    Events(Vec<ApiEvent<'static>>),
    Malformed(MalformedLine),
    Lines(u64),
    FileDone,
}

/// Replay files (and `-` for stdin) through the pipeline; malformed lines are counted and
/// reported, never fatal. Reading and decoding run on a blocking thread, detection and storage
/// on the pipeline task, so replay uses two cores.
pub async fn replay_files(
    paths: &[std::path::PathBuf],
    opts: &ReplayOptions,
    pipeline: &PipelineHandle,
) -> Result<ReplayReport, IngestError> {
    // Fail fast on an unknown format or a missing file, before reading anything.
    LineDecoder::new(opts.format.as_deref())?;
    for p in paths {
        if p.as_os_str() != "-" {
            std::fs::metadata(p).map_err(|source| IngestError::Io {
                path: p.display().to_string(),
                source,
            })?;
        }
    }
    let (tx, mut rx) = mpsc::channel::<Batch>(4);
    let paths = paths.to_vec();
    let o = opts.clone();
    let reader = tokio::task::spawn_blocking(move || -> Result<(), IngestError> {
        for path in &paths {
            read_one(path, &o, &tx)?;
            if tx.blocking_send(Batch::FileDone).is_err() {
                break;
            }
        }
        Ok(())
    });
    let mut report = ReplayReport::default();
    while let Some(b) = rx.recv().await {
        match b {
            Batch::Events(events) => {
                let n = events.len() as u64;
                let r = pipeline.push_events(events, None).await?;
                report.events += n;
                report.pipeline.add(&r);
            }
            Batch::Malformed(m) => report.malformed(m),
            Batch::Lines(n) => report.lines += n,
            Batch::FileDone => report.files += 1,
        }
    }
    reader.await.map_err(|e| IngestError::Io {
        path: "reader thread".into(),
        source: std::io::Error::other(e.to_string()),
    })??;
    let r = pipeline.flush().await?;
    report.pipeline.add(&r);
    Ok(report)
}

fn read_one(path: &Path, o: &ReplayOptions, tx: &mpsc::Sender<Batch>) -> Result<(), IngestError> {
    let name = path.display().to_string();
    let mut src = open_source(path)?;
    let mut dec = LineDecoder::new(o.format.as_deref())?;
    let mut buf = Vec::with_capacity(4096);
    let mut batch = Vec::with_capacity(o.batch_size);
    let mut lineno = 0u64;
    let mut lines = 0u64;
    loop {
        buf.clear();
        let n = src
            .read_until(b'\n', &mut buf)
            .map_err(|source| IngestError::Io {
                path: name.clone(),
                source,
            })?;
        if n == 0 {
            break;
        }
        o.progress.fetch_add(n as u64, Ordering::Relaxed);
        lineno += 1;
        let text = line_text(&buf);
        if text.trim().is_empty() {
            continue;
        }
        lines += 1;
        match dec.decode(&text, &o.decode) {
            Ok(ev) => batch.push(ev.into_owned()),
            Err(e) => {
                let m = MalformedLine {
                    file: name.clone(),
                    line: lineno,
                    reason: e.to_string(),
                };
                if tx.blocking_send(Batch::Malformed(m)).is_err() {
                    return Ok(());
                }
            }
        }
        if batch.len() >= o.batch_size {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(o.batch_size));
            if tx.blocking_send(Batch::Events(full)).is_err()
                || tx
                    .blocking_send(Batch::Lines(std::mem::take(&mut lines)))
                    .is_err()
            {
                return Ok(());
            }
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(Batch::Events(batch));
    }
    let _ = tx.blocking_send(Batch::Lines(lines));
    Ok(())
}
