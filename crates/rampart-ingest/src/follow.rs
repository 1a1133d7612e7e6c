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
    /// Largest chunk read at once (bounds memory).
    pub chunk_bytes: usize,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            format: None,
            decode: DecodeConfig::default(),
            poll: Duration::from_millis(200),
            chunk_bytes: 1 << 20,
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

/// The checkpoint key of a followed path: its absolute form.
pub fn source_key(path: &Path) -> String {
    let abs = match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) if !dir.as_os_str().is_empty() => dir
            .canonicalize()
            .map(|d| d.join(name))
            .unwrap_or_else(|_| path.to_path_buf()),
        _ => std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf()),
    };
    abs.display().to_string()
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
}

impl Reader<'_> {
    /// Read every complete line from `offset` to the end of `file`, committing them with the
    /// checkpoint. Returns the new offset (start of the first incomplete line).
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
        loop {
            file.seek(SeekFrom::Start(offset)).map_err(io)?;
            self.buf.clear();
            let n = file
                .by_ref()
                .take(self.opts.chunk_bytes as u64)
                .read_to_end(&mut self.buf)
                .map_err(io)?;
            if n == 0 {
                return Ok(offset);
            }
            let Some(last_nl) = memchr_last(&self.buf) else {
                // No complete line yet; a line longer than a chunk is cut at the chunk.
                if n < self.opts.chunk_bytes {
                    return Ok(offset);
                }
                self.buf.push(b'\n');
                self.commit_lines(self.buf.len(), id, offset + n as u64)
                    .await?;
                offset += n as u64;
                continue;
            };
            let consumed = last_nl + 1;
            self.commit_lines(consumed, id, offset + consumed as u64)
                .await?;
            offset += consumed as u64;
            if n < self.opts.chunk_bytes {
                return Ok(offset);
            }
        }
    }

    async fn commit_lines(
        &mut self,
        upto: usize,
        id: &str,
        new_offset: u64,
    ) -> Result<(), IngestError> {
        let mut events = Vec::new();
        for raw in self.buf[..upto].split(|b| *b == b'\n') {
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

fn memchr_last(b: &[u8]) -> Option<usize> {
    b.iter().rposition(|c| *c == b'\n')
}

/// Follow `path` until `shutdown` turns true. Resumes from the stored checkpoint.
pub async fn follow(
    path: PathBuf,
    opts: FollowOptions,
    store: Arc<dyn Store>,
    pipeline: PipelineHandle,
    progress: watch::Sender<FollowStats>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<FollowStats, IngestError> {
    let key = source_key(&path);
    let mut r = Reader {
        key: key.clone(),
        opts: &opts,
        dec: LineDecoder::new(opts.format.as_deref())?,
        pipeline: &pipeline,
        stats: FollowStats::default(),
        progress: &progress,
        buf: Vec::with_capacity(opts.chunk_bytes),
    };
    let checkpoint = store.get_checkpoint(&key).await?;
    let mut current: Option<(File, String, u64)> = None;
    let mut resume = checkpoint;
    loop {
        if current.is_none() {
            if let Ok(mut f) = File::open(&path) {
                let meta = f.metadata().map_err(|source| IngestError::Io {
                    path: key.clone(),
                    source,
                })?;
                let id = file_id(&meta);
                let mut offset = 0;
                if let Some(cp) = resume.take() {
                    if cp.file_id == id {
                        offset = if cp.offset <= meta.len() {
                            cp.offset
                        } else {
                            0
                        };
                    } else if let Some(old) = find_rotated(&path, &cp.file_id) {
                        // Rotated while we were stopped: finish the old file first.
                        if let Ok(mut of) = File::open(&old) {
                            r.drain(&mut of, &cp.file_id, cp.offset).await?;
                            r.stats.rotations += 1;
                        }
                    }
                }
                offset = r.drain(&mut f, &id, offset).await?;
                current = Some((f, id, offset));
            }
        } else if let Some((f, id, offset)) = current.as_mut() {
            *offset = r.drain(f, id, *offset).await?;
            match std::fs::metadata(&path) {
                Ok(m) if file_id(&m) == *id => {
                    if m.len() < *offset {
                        r.stats.truncations += 1;
                        *offset = 0;
                        *offset = r.drain(f, id, 0).await?;
                    }
                }
                _ => {
                    // Renamed or removed: drain what is left of the old file, then reopen.
                    *offset = r.drain(f, id, *offset).await?;
                    r.stats.rotations += 1;
                    current = None;
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
