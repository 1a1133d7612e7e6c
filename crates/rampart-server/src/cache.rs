//! A small cache of list answers (`GET /api/v1/incidents`, `GET /api/v1/alerts`): the incident
//! queue is polled by every analyst's console and script with the same few views, and each
//! answer costs two store queries and a page of rows to decode and encode.
//!
//! An entry is the serialized body of one route and query string, tagged with the
//! **generation** it was read at: the sum of the pipeline's generation (bumped after every
//! committed batch that changed alerts or incidents) and this server's own (bumped after every
//! change it makes to incidents: patch, comment, merge). The generation is read *before* the
//! store is queried, so an entry can only be older-tagged than its data, never newer; a hit
//! needs the current generation, so on one node an answer is never stale. Changes made by
//! another process or node sharing the database do not move this node's generation: entries
//! also expire after `ttl` (default 1 s), which bounds that staleness. A `ttl` of zero turns
//! the cache off.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;

/// Most entries kept; when full, the cache is emptied (views are few, so this is rare).
const MAX_ENTRIES: usize = 512;

/// See the module documentation.
pub struct ListCache {
    ttl: Duration,
    local: AtomicU64,
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    generation: u64,
    at: Instant,
    body: Bytes,
}

impl ListCache {
    /// A cache whose entries live at most `ttl` (zero: nothing is cached).
    pub fn new(ttl: Duration) -> Self {
        ListCache {
            ttl,
            local: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The generation to tag a read with, given the pipeline's: read it before querying.
    pub fn generation(&self, pipeline: u64) -> u64 {
        pipeline.wrapping_add(self.local.load(SeqCst))
    }

    /// This server changed incidents or alerts: every entry is out of date.
    pub fn invalidate(&self) {
        self.local.fetch_add(1, SeqCst);
    }

    /// The cached body of `key`, if it was read at `generation` and is younger than the TTL.
    pub fn get(&self, key: &str, generation: u64) -> Option<Bytes> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|e| e.generation == generation && e.at.elapsed() < self.ttl)
            .map(|e| e.body.clone())
    }

    /// Keep `body` as the answer of `key` read at `generation`.
    pub fn put(&self, key: String, generation: u64, body: Bytes) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                generation,
                at: Instant::now(),
                body,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_need_the_same_generation_and_a_live_entry() {
        let c = ListCache::new(Duration::from_secs(60));
        let g = c.generation(7);
        c.put("a".into(), g, Bytes::from_static(b"one"));
        assert_eq!(c.get("a", c.generation(7)).as_deref(), Some(&b"one"[..]));
        // the pipeline committed a change
        assert_eq!(c.get("a", c.generation(8)), None);
        // this server changed an incident
        c.invalidate();
        assert_eq!(c.get("a", c.generation(7)), None);
        assert_eq!(c.get("b", c.generation(7)), None);
    }

    #[test]
    fn entries_expire_and_zero_ttl_caches_nothing() {
        let c = ListCache::new(Duration::ZERO);
        c.put("a".into(), 0, Bytes::from_static(b"x"));
        assert_eq!(c.get("a", 0), None);
        let c = ListCache::new(Duration::from_nanos(1));
        c.put("a".into(), 0, Bytes::from_static(b"x"));
        std::thread::sleep(Duration::from_millis(1));
        assert_eq!(c.get("a", 0), None, "expired");
    }

    #[test]
    fn a_full_cache_starts_over() {
        let c = ListCache::new(Duration::from_secs(60));
        for i in 0..MAX_ENTRIES + 1 {
            c.put(format!("k{i}"), 0, Bytes::from_static(b"x"));
        }
        let n = c.entries.lock().map(|e| e.len()).unwrap_or(0);
        assert!(n <= MAX_ENTRIES, "{n}");
    }
}
