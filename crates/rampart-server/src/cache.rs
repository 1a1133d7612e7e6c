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
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use tokio::sync::OnceCell;

/// Most entries kept; when full, the cache is emptied (views are few, so this is rare).
const MAX_ENTRIES: usize = 512;

/// One answer being read or read: every request for the same key and generation shares it,
/// so a change (which makes every entry miss at once) costs one store read per view, not one
/// per waiting request.
pub type Slot = Arc<OnceCell<Bytes>>;

/// See the module documentation.
pub struct ListCache {
    ttl: Duration,
    local: AtomicU64,
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    generation: u64,
    at: Instant,
    slot: Slot,
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

    /// The slot of `key` read at `generation`: the live one if there is one (filled, or being
    /// filled by another request), else a new empty one that replaces it.
    pub fn slot(&self, key: &str, generation: u64) -> Slot {
        if self.ttl.is_zero() {
            return Slot::default();
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = entries.get(key) {
            if e.generation == generation && e.at.elapsed() < self.ttl {
                return e.slot.clone();
            }
        }
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(key) {
            entries.clear();
        }
        let slot = Slot::default();
        entries.insert(
            key.to_owned(),
            Entry {
                generation,
                at: Instant::now(),
                slot: slot.clone(),
            },
        );
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(s: &Slot, v: &'static [u8]) {
        s.set(Bytes::from_static(v)).unwrap_or_default();
    }

    #[test]
    fn hits_need_the_same_generation_and_a_live_entry() {
        let c = ListCache::new(Duration::from_secs(60));
        fill(&c.slot("a", c.generation(7)), b"one");
        assert_eq!(
            c.slot("a", c.generation(7)).get().map(|b| b.to_vec()),
            Some(b"one".to_vec())
        );
        // the pipeline committed a change
        assert!(c.slot("a", c.generation(8)).get().is_none());
        // this server changed an incident
        c.invalidate();
        assert!(c.slot("a", c.generation(8)).get().is_none());
        assert!(c.slot("b", c.generation(8)).get().is_none());
    }

    #[test]
    fn concurrent_requests_share_one_slot() {
        let c = ListCache::new(Duration::from_secs(60));
        let a = c.slot("a", 1);
        let b = c.slot("a", 1);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c.slot("a", 2)));
    }

    #[test]
    fn entries_expire_and_zero_ttl_caches_nothing() {
        let c = ListCache::new(Duration::ZERO);
        fill(&c.slot("a", 0), b"x");
        assert!(c.slot("a", 0).get().is_none());
        let c = ListCache::new(Duration::from_nanos(1));
        fill(&c.slot("a", 0), b"x");
        std::thread::sleep(Duration::from_millis(1));
        assert!(c.slot("a", 0).get().is_none(), "expired");
    }

    #[test]
    fn a_full_cache_starts_over() {
        let c = ListCache::new(Duration::from_secs(60));
        for i in 0..MAX_ENTRIES + 1 {
            fill(&c.slot(&format!("k{i}"), 0), b"x");
        }
        let n = c.entries.lock().map(|e| e.len()).unwrap_or(0);
        assert!(n <= MAX_ENTRIES, "{n}");
    }
}
