//! Event blobs: the `raw` line and the `extra` fields (JSON) of a run of stored events, packed
//! and compressed together (zstd) into one row of `event_blobs`, so that the `events` row
//! keeps only the columns hunting and the entity pages filter on. A stored event names its
//! blob and its position in it (`blob_id`, `blob_pos`); both are read back only when a whole
//! event is (`Store::list_events`: evidence, the event list).
//!
//! Layout before compression: for each event, in position order, the length of `extra` (u32,
//! little-endian), `extra`, the length of `raw` (u32, little-endian), `raw`. A packer flushes
//! at [`BLOB_EVENTS`] events or [`BLOB_BYTES`] bytes, whichever comes first, so reading one
//! event back decompresses at most a few MiB; decompression is refused beyond
//! [`MAX_BLOB_BYTES`].

use crate::codec::ExtraRef;
use crate::StoreError;
use rampart_model::ApiEvent;

/// Events per blob at most.
pub const BLOB_EVENTS: usize = 1000;
/// Packed bytes after which a blob is flushed (before adding another event).
pub const BLOB_BYTES: usize = 4 << 20;
/// What decompressing one blob may produce at most: [`BLOB_BYTES`] plus one event of the
/// largest size any decoder admits, with room to spare.
pub const MAX_BLOB_BYTES: usize = 256 << 20;
/// zstd's level for blobs: its fastest standard level (combined access-log lines compress to
/// about 27 bytes each there, about 10x; BENCHMARKS.md).
const LEVEL: i32 = 1;

/// Packers kept for the next write (at most this many): a compressor's context and the
/// buffers are a few MiB, which allocated anew per write cost more than compressing (fresh
/// pages from the kernel, zeroed).
const POOLED: usize = 4;

static POOL: std::sync::Mutex<Vec<Packer>> = std::sync::Mutex::new(Vec::new());

/// What a [`BlobPacker`] keeps between writes.
struct Packer {
    buf: Vec<u8>,
    out: Vec<u8>,
    zstd: zstd::bulk::Compressor<'static>,
}

/// Packs events into blobs; one per write, reused across its blobs, and its buffers and
/// compressor reused by the next write once it is dropped.
pub struct BlobPacker {
    p: Option<Packer>,
    count: usize,
    ts_max: i64,
}

impl Drop for BlobPacker {
    fn drop(&mut self) {
        if let Some(mut p) = self.p.take() {
            p.buf.clear();
            // one huge event must not keep its buffers alive in the pool
            if p.buf.capacity() > 2 * BLOB_BYTES || p.out.capacity() > 2 * BLOB_BYTES {
                return;
            }
            let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
            if pool.len() < POOLED {
                pool.push(p);
            }
        }
    }
}

impl BlobPacker {
    /// A packer with an empty blob.
    pub fn new() -> Result<BlobPacker, StoreError> {
        let pooled = POOL.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let p = match pooled {
            Some(p) => p,
            None => Packer {
                buf: Vec::with_capacity(256 << 10),
                out: Vec::new(),
                zstd: zstd::bulk::Compressor::new(LEVEL)
                    .map_err(|e| StoreError::database("starting the event compressor", e))?,
            },
        };
        Ok(BlobPacker {
            p: Some(p),
            count: 0,
            ts_max: i64::MIN,
        })
    }

    fn p(&mut self) -> &mut Packer {
        self.p
            .as_mut()
            .expect("a packer holds its parts until dropped")
    }

    /// Add an event; returns its position in the current blob.
    pub fn push(&mut self, ev: &ApiEvent<'_>) -> Result<u32, StoreError> {
        let pos = self.count as u32;
        let buf = &mut self.p().buf;
        let at = buf.len();
        buf.extend_from_slice(&[0; 4]);
        serde_json::to_writer(&mut *buf, &ExtraRef::of(ev))
            .map_err(|e| StoreError::Invalid(format!("event extra fields: {e}")))?;
        let len = len_u32(buf.len() - at - 4)?;
        buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
        buf.extend_from_slice(&len_u32(ev.raw.len())?.to_le_bytes());
        buf.extend_from_slice(ev.raw.as_bytes());
        self.count += 1;
        self.ts_max = self.ts_max.max(ev.ts.millis());
        Ok(pos)
    }

    /// Whether the current blob is due to be flushed: it holds [`BLOB_EVENTS`] events or
    /// [`BLOB_BYTES`] bytes.
    pub fn full(&self) -> bool {
        self.count >= BLOB_EVENTS || self.p.as_ref().map_or(0, |p| p.buf.len()) >= BLOB_BYTES
    }

    /// Events in the current blob.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the current blob holds no event.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The newest event time in the current blob (milliseconds): retention drops a blob once
    /// every stored event is newer than this.
    pub fn ts_max(&self) -> i64 {
        self.ts_max
    }

    /// The current blob, compressed; the packer starts an empty one.
    pub fn finish(&mut self) -> Result<Vec<u8>, StoreError> {
        let p = self.p();
        p.out.clear();
        p.out.reserve(zstd::zstd_safe::compress_bound(p.buf.len()));
        p.zstd
            .compress_to_buffer(&p.buf, &mut p.out)
            .map_err(|e| StoreError::database("compressing events", e))?;
        let out = p.out.clone();
        p.buf.clear();
        self.count = 0;
        self.ts_max = i64::MIN;
        Ok(out)
    }
}

fn len_u32(n: usize) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| StoreError::Invalid(format!("event field of {n} bytes")))
}

/// One decompressed blob: each event's `extra` JSON and `raw` line by position.
pub struct Blob {
    data: Vec<u8>,
    /// (extra start, extra end, raw end) per position; raw starts 4 bytes after extra ends.
    spans: Vec<(usize, usize, usize)>,
}

impl Blob {
    /// Decompress and index a stored blob.
    pub fn open(compressed: &[u8]) -> Result<Blob, StoreError> {
        // the frame header declares the size (the packer always writes it): allocate exactly
        // that, and refuse a declared size beyond the bound before allocating anything
        let size = zstd::zstd_safe::get_frame_content_size(compressed)
            .ok()
            .flatten()
            .ok_or_else(|| StoreError::Corrupt("event blob: no content size".into()))?;
        if size > MAX_BLOB_BYTES as u64 {
            return Err(StoreError::Corrupt(format!(
                "event blob of {size} bytes (at most {MAX_BLOB_BYTES})"
            )));
        }
        let data = zstd::bulk::decompress(compressed, size as usize)
            .map_err(|e| StoreError::Corrupt(format!("event blob: {e}")))?;
        let mut spans = Vec::new();
        let mut at = 0;
        let field = |at: usize| -> Result<(usize, usize), StoreError> {
            let len = data
                .get(at..at + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                .ok_or_else(|| StoreError::Corrupt("event blob: truncated length".into()))?;
            let end = at + 4 + len;
            if end > data.len() {
                return Err(StoreError::Corrupt("event blob: truncated field".into()));
            }
            Ok((at + 4, end))
        };
        while at < data.len() {
            let (es, ee) = field(at)?;
            let (_, re) = field(ee)?;
            spans.push((es, ee, re));
            at = re;
        }
        Ok(Blob { data, spans })
    }

    /// Events in the blob.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the blob holds no event.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The `extra` JSON and the `raw` line at a position.
    pub fn get(&self, pos: usize) -> Result<(&str, &str), StoreError> {
        let &(es, ee, re) = self
            .spans
            .get(pos)
            .ok_or_else(|| StoreError::Corrupt(format!("event blob: no position {pos}")))?;
        let text = |a: usize, b: usize| {
            std::str::from_utf8(&self.data[a..b])
                .map_err(|_| StoreError::Corrupt("event blob: invalid utf-8".into()))
        };
        Ok((text(es, ee)?, text(ee + 4, re)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::Timestamp;
    use std::borrow::Cow;

    fn event(i: usize, raw: String) -> ApiEvent<'static> {
        ApiEvent {
            ts: Timestamp(1_000 + i as i64),
            scheme: Cow::Borrowed("https"),
            referer: Cow::Owned(format!("https://example.com/{i}")),
            raw: Cow::Owned(raw),
            ..Default::default()
        }
    }

    #[test]
    fn packs_and_reads_back_every_position() {
        let mut p = BlobPacker::new().unwrap();
        let evs: Vec<_> = (0..50)
            .map(|i| event(i, format!("GET /{i} \u{e9} line")))
            .chain([event(50, String::new())])
            .collect();
        for (i, ev) in evs.iter().enumerate() {
            assert_eq!(p.push(ev).unwrap(), i as u32);
        }
        assert_eq!(p.ts_max(), 1_050);
        let blob = Blob::open(&p.finish().unwrap()).unwrap();
        assert_eq!(blob.len(), 51);
        for (i, ev) in evs.iter().enumerate() {
            let (extra, raw) = blob.get(i).unwrap();
            assert_eq!(raw, ev.raw);
            let x: serde_json::Value = serde_json::from_str(extra).unwrap();
            assert_eq!(x["referer"], format!("https://example.com/{i}"));
        }
        assert!(blob.get(51).is_err());
        // the packer starts over
        assert!(p.is_empty());
        assert_eq!(p.ts_max(), i64::MIN);
    }

    #[test]
    fn flushes_by_count_and_by_size() {
        let mut p = BlobPacker::new().unwrap();
        for i in 0..BLOB_EVENTS {
            assert!(!p.full());
            p.push(&event(i, "x".into())).unwrap();
        }
        assert!(p.full());
        p.finish().unwrap();
        p.push(&event(0, "y".repeat(BLOB_BYTES))).unwrap();
        assert!(p.full(), "one huge event fills a blob");
    }

    #[test]
    fn pooled_packers_start_empty() {
        {
            let mut p = BlobPacker::new().unwrap();
            p.push(&event(7, "left behind".into())).unwrap();
            p.finish().unwrap();
            p.push(&event(8, "never finished".into())).unwrap();
        }
        // a later packer (perhaps the same one, from the pool) holds nothing of it
        let mut p = BlobPacker::new().unwrap();
        assert!(p.is_empty());
        p.push(&event(9, "fresh".into())).unwrap();
        let blob = Blob::open(&p.finish().unwrap()).unwrap();
        assert_eq!(blob.len(), 1);
        assert_eq!(blob.get(0).unwrap().1, "fresh");
    }

    #[test]
    fn corrupt_blobs_are_errors_not_panics() {
        assert!(Blob::open(b"not zstd").is_err());
        let mut p = BlobPacker::new().unwrap();
        p.push(&event(0, "abc".into())).unwrap();
        let good = zstd::bulk::decompress(&p.finish().unwrap(), 1 << 20).unwrap();
        for cut in 1..good.len() {
            let truncated = zstd::bulk::compress(&good[..cut], 1).unwrap();
            assert!(Blob::open(&truncated).is_err(), "cut at {cut}");
        }
        let bomb = zstd::bulk::compress(&vec![0u8; MAX_BLOB_BYTES + 1], 1).unwrap();
        assert!(Blob::open(&bomb).is_err(), "bounded decompression");
    }
}
