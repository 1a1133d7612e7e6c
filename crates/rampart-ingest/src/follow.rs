//! Following a live log file, like `tail -F`: through rotation (rename + new file) and
//! truncation (copytruncate), with the read offset checkpointed in the same store transaction
//! as the events it covers, so a restart neither loses nor repeats lines.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use rampart_decode::DecodeConfig;
use rampart_pipeline::PipelineHandle;
use rampart_store::{Checkpoint, Store};

use crate::replay::{line_text, LineDecoder};
use crate::IngestError;

/// How to follow a file.
#[derive(Clone)]
pub struct FollowOptions {
    /// Force a decoder by name; `None` auto-detects per line.
    pub format: Option<String>,
    /// Decoder settings.
    pub decode: DecodeConfig,
    /// How often to look for new data at end of file.
    pub poll: Duration,
    /// Largest chunk read at once (bounds memory); raised to `max_line_bytes + 1` when
    /// smaller, so a full chunk always holds a line end or an over-long line.
    pub chunk_bytes: usize,
    /// Longest line accepted, in bytes without its newline (default
    /// [`crate::lines::DEFAULT_MAX_LINE_BYTES`]); a longer one is reported once as malformed
    /// and skipped to its end without being buffered.
    pub max_line_bytes: usize,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            format: None,
            decode: DecodeConfig::default(),
            poll: Duration::from_millis(200),
            chunk_bytes: 1 << 20,
            max_line_bytes: crate::lines::DEFAULT_MAX_LINE_BYTES,
        }
    }
}

/// Progress of a follower, published after every committed batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowStats {
    /// Events committed since start.
    pub events: u64,
    /// Lines that did not decode since start.
    pub malformed: u64,
    /// Rotations seen.
    pub rotations: u64,
    /// Truncations seen.
    pub truncations: u64,
    /// Offset committed in the current file.
    pub offset: u64,
    /// Checkpointed files that could not be found at restart (not at the path, not rotated
    /// beside it): what was written to them after their checkpoint was not read. Each one is
    /// also logged as an error naming the path, the file id and the offset.
    pub lost_checkpoints: u64,
}

/// Identity of a file on disk (device and inode), stable across renames.
pub fn file_id(meta: &std::fs::Metadata) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        format!("{}:{}", meta.dev(), meta.ino())
    }
    #[cfg(not(unix))]
    {
        format!("{:?}", meta.created().ok())
    }
}

/// The absolute form of a followed path, resolved once when following starts (a relative
/// path's directory is the current directory; the directory is canonicalized, the file name
/// kept, since the file itself comes and goes with rotation).
pub fn resolve_path(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        match std::env::current_dir() {
            Ok(cwd) => cwd.join(path),
            Err(_) => path.to_path_buf(),
        }
    };
    match (abs.parent(), abs.file_name()) {
        (Some(dir), Some(name)) => dir
            .canonicalize()
            .map(|d| d.join(name))
            .unwrap_or(abs.clone()),
        _ => abs,
    }
}

/// The checkpoint key of a followed path: its absolute form ([`resolve_path`]).
pub fn source_key(path: &Path) -> String {
    resolve_path(path).display().to_string()
}

/// Look in the directory of `path` for the file with identity `id` (the file we were reading
/// before it was rotated away while we were stopped).
fn find_rotated(path: &Path, id: &str) -> Option<PathBuf> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty())?;
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            std::fs::metadata(p)
                .map(|m| file_id(&m) == id)
                .unwrap_or(false)
        })
}

struct Reader<'a> {
    key: String,
    opts: &'a FollowOptions,
    dec: LineDecoder,
    pipeline: &'a PipelineHandle,
    stats: FollowStats,
    progress: &'a watch::Sender<FollowStats>,
    buf: Vec<u8>,
    /// Inside an over-long line (of the file with this id) that starts at the committed
    /// offset: where to look next for its end.
    skip: Option<(String, u64)>,
}

impl Reader<'_> {
    /// Read every complete line from `offset` to the end of `file`, committing them with the
    /// checkpoint. Returns the new offset (start of the first incomplete line). A line longer
    /// than the limit is reported once and skipped to its end in chunks, the checkpoint staying
    /// at its start until its end is found (a restart never resumes mid-line; it re-reads the
    /// line from its start and reports it once more).
    async fn drain(
        &mut self,
        file: &mut File,
        id: &str,
        mut offset: u64,
    ) -> Result<u64, IngestError> {
        let io = |source| IngestError::Io {
            path: "followed file".into(),
            source,
        };
        let max = self.opts.max_line_bytes;
        let chunk = self.opts.chunk_bytes.max(max.saturating_add(1));
        if self.skip.as_ref().is_some_and(|(skip_id, _)| skip_id != id) {
            self.skip = None;
        }
        loop {
            let from = match &self.skip {
                Some((_, scan)) => *scan,
                None => offset,
            };
            file.seek(SeekFrom::Start(from)).map_err(io)?;
            self.buf.clear();
            let n = file
                .by_ref()
                .take(chunk as u64)
                .read_to_end(&mut self.buf)
                .map_err(io)?;
            if n == 0 {
                return Ok(offset);
            }
            if self.skip.is_some() {
                match memchr::memchr(b'\n', &self.buf) {
                    Some(i) => {
                        self.skip = None;
                        offset = from + i as u64 + 1;
                        self.buf.clear();
                        self.commit_lines(0, id, offset).await?;
                    }
                    None => {
                        self.skip = Some((id.to_string(), from + n as u64));
                        if n < chunk {
                            return Ok(offset);
                        }
                    }
                }
                continue;
            }
            let consumed = memchr::memrchr(b'\n', &self.buf).map_or(0, |i| i + 1);
            if n - consumed > max {
                // The line after the last complete one is already too long: skip to its end.
                self.stats.malformed += 1;
                tracing::warn!(source = %self.key, offset = offset + consumed as u64, max_line_bytes = max, "line longer than {max} bytes skipped");
                self.skip = Some((id.to_string(), offset + n as u64));
                self.progress.send_replace(self.stats.clone());
            }
            if consumed > 0 {
                self.commit_lines(consumed, id, offset + consumed as u64)
                    .await?;
                offset += consumed as u64;
            }
            if n < chunk && self.skip.is_none() {
                return Ok(offset);
            }
        }
    }

    /// Finish the checkpointed file that is no longer at the path (rotated while we were
    /// stopped), from its checkpoint; warn loudly when it cannot be found.
    async fn finish_rotated(&mut self, path: &Path, cp: &Checkpoint) -> Result<(), IngestError> {
        if let Some(old) = find_rotated(path, &cp.file_id) {
            if let Ok(mut of) = File::open(&old) {
                tracing::info!(source = %self.key, rotated = %old.display(), offset = cp.offset, "finishing the file rotated while stopped");
                self.drain(&mut of, &cp.file_id, cp.offset).await?;
                self.stats.rotations += 1;
                return Ok(());
            }
        }
        self.stats.lost_checkpoints += 1;
        tracing::error!(
            source = %self.key,
            file_id = %cp.file_id,
            read_bytes = cp.offset,
            "checkpointed file not found (not at its path, not rotated in its directory): \
             whatever was written to it after byte {} was not read",
            cp.offset
        );
        self.progress.send_replace(self.stats.clone());
        Ok(())
    }

    async fn commit_lines(
        &mut self,
        upto: usize,
        id: &str,
        new_offset: u64,
    ) -> Result<(), IngestError> {
        let mut events = Vec::new();
        for raw in self.buf[..upto].split(|b| *b == b'\n') {
            if raw.len() > self.opts.max_line_bytes {
                self.stats.malformed += 1;
                tracing::warn!(source = %self.key, offset = new_offset, max_line_bytes = self.opts.max_line_bytes, len = raw.len(), "line longer than the limit skipped");
                continue;
            }
            let text = line_text(raw);
            if text.trim().is_empty() {
                continue;
            }
            match self.dec.decode(&text, &self.opts.decode) {
                Ok(ev) => events.push(ev.into_owned()),
                Err(e) => {
                    self.stats.malformed += 1;
                    tracing::warn!(source = %self.key, offset = new_offset, error = %e, "malformed line skipped");
                }
            }
        }
        let cp = Checkpoint {
            source: self.key.clone(),
            file_id: id.to_string(),
            offset: new_offset,
        };
        let n = events.len() as u64;
        self.pipeline.push_events(events, Some(cp)).await?;
        self.stats.events += n;
        self.stats.offset = new_offset;
        self.progress.send_replace(self.stats.clone());
        Ok(())
    }
}

/// Follow `path` until `shutdown` turns true. Resumes from the stored checkpoint. The path is
/// resolved to an absolute one once, at start ([`resolve_path`]).
pub async fn follow(
    path: PathBuf,
    opts: FollowOptions,
    store: Arc<dyn Store>,
    pipeline: PipelineHandle,
    progress: watch::Sender<FollowStats>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<FollowStats, IngestError> {
    let path = resolve_path(&path);
    let key = path.display().to_string();
    let mut r = Reader {
        key: key.clone(),
        opts: &opts,
        dec: LineDecoder::new(opts.format.as_deref())?,
        pipeline: &pipeline,
        stats: FollowStats::default(),
        progress: &progress,
        buf: Vec::new(),
        skip: None,
    };
    let checkpoint = store.get_checkpoint(&key).await?;
    let mut current: Option<(File, String, u64)> = None;
    let mut resume = checkpoint;
    let mut missing_warned = false;
    loop {
        if current.is_none() {
            match File::open(&path) {
                Ok(mut f) => {
                    let meta = f.metadata().map_err(|source| IngestError::Io {
                        path: key.clone(),
                        source,
                    })?;
                    let id = file_id(&meta);
                    let mut offset = 0;
                    if let Some(cp) = resume.take() {
                        if cp.file_id != id {
                            r.finish_rotated(&path, &cp).await?;
                        } else if cp.offset <= meta.len() {
                            offset = cp.offset;
                        } else {
                            r.stats.truncations += 1;
                            tracing::warn!(source = %key, file_id = %id, checkpoint = cp.offset, size = meta.len(), "followed file is shorter than its checkpoint (truncated while stopped); reading it from its start");
                        }
                    }
                    offset = r.drain(&mut f, &id, offset).await?;
                    current = Some((f, id, offset));
                }
                Err(e) => {
                    if let Some(cp) = resume.as_ref() {
                        if find_rotated(&path, &cp.file_id).is_some() {
                            // Rotated away while we were stopped and no new file yet.
                            let cp = resume.take().expect("checked above");
                            r.finish_rotated(&path, &cp).await?;
                        } else if !missing_warned {
                            missing_warned = true;
                            tracing::warn!(source = %key, file_id = %cp.file_id, offset = cp.offset, error = %e, "checkpointed followed file missing; waiting for it");
                        }
                    }
                }
            }
        } else if let Some((f, id, offset)) = current.as_mut() {
            *offset = r.drain(f, id, *offset).await?;
            match std::fs::metadata(&path) {
                Ok(m) if file_id(&m) == *id => {
                    if m.len() < *offset {
                        r.stats.truncations += 1;
                        r.skip = None;
                        *offset = 0;
                        *offset = r.drain(f, id, 0).await?;
                    }
                }
                _ => {
                    // Renamed or removed: drain what is left of the old file, then reopen.
                    *offset = r.drain(f, id, *offset).await?;
                    r.stats.rotations += 1;
                    current = None;
                    r.skip = None;
                    progress.send_replace(r.stats.clone());
                    continue;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(opts.poll) => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    return Ok(r.stats);
                }
            }
        }
        if *shutdown.borrow() {
            return Ok(r.stats);
        }
    }
}
