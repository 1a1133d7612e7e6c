//! Bounded state primitives for streaming detectors.
//!
//! Every structure here has a hard size bound fixed at construction and advances in event
//! time (milliseconds passed in by the caller), never the wall clock.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Final mixer of MurmurHash3 (`fmix64`): spreads the bits of a 64-bit value.
#[inline]
pub const fn mix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// Combine two hashes into one key (order matters).
#[inline]
pub const fn combine(a: u64, b: u64) -> u64 {
    mix64(a.rotate_left(23) ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// A fast, deterministic, non-cryptographic hash of bytes, well mixed (usable by [`Hll`]).
#[inline]
pub fn hash_bytes(b: &[u8]) -> u64 {
    let mut h: u64 = 0x243f_6a88_85a3_08d3 ^ (b.len() as u64);
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        let mut w = [0u8; 8];
        w[..rem.len()].copy_from_slice(rem);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    mix64(h)
}

/// Hash of a string, ASCII case-insensitive (for account names, header values).
#[inline]
pub fn hash_str_ci(s: &str) -> u64 {
    let mut h: u64 = 0x1319_8a2e_0370_7344 ^ (s.len() as u64);
    for &c in s.as_bytes() {
        h = (h ^ u64::from(c.to_ascii_lowercase())).wrapping_mul(0x0100_0000_01b3);
    }
    mix64(h)
}

/// A hasher for keys that are already well-mixed `u64` hashes: passes them through.
#[derive(Default, Clone, Copy)]
pub struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = hash_bytes(bytes) ^ self.0.rotate_left(7);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Build hasher for maps keyed by pre-hashed `u64`.
pub type PassThrough = BuildHasherDefault<PassThroughHasher>;

struct Slot<V> {
    key: u64,
    last: i64,
    referenced: bool,
    value: V,
}

/// A map from a `u64` key to `V` with a hard maximum number of keys.
///
/// Keys idle (not touched) for longer than `idle_ms` of event time are dropped by
/// [`KeyedState::tick`]. When the map is full, inserting a new key first evicts one by a
/// clock sweep (second-chance approximation of least recently used): keys touched since the
/// hand last passed survive one more round, new keys that were never touched again go
/// first, so a flood of one-off keys cannot push out established ones wholesale.
pub struct KeyedState<V> {
    index: HashMap<u64, u32, PassThrough>,
    slots: Vec<Slot<V>>,
    max_keys: usize,
    idle_ms: i64,
    hand: usize,
    evicted: u64,
    last_sweep: i64,
}

impl<V> KeyedState<V> {
    /// A map holding at most `max_keys` keys (at least 1), dropping keys idle for `idle_ms`.
    pub fn new(max_keys: usize, idle_ms: i64) -> Self {
        let max_keys = max_keys.clamp(1, u32::MAX as usize);
        KeyedState {
            index: HashMap::with_capacity_and_hasher(max_keys.min(1024), PassThrough::default()),
            slots: Vec::with_capacity(max_keys.min(1024)),
            max_keys,
            idle_ms: idle_ms.max(1),
            hand: 0,
            evicted: 0,
            last_sweep: i64::MIN,
        }
    }

    /// The value of `key`, touched at `now`; inserted with `init` when absent (evicting one
    /// key first when full).
    #[inline]
    pub fn get_or_insert_with(&mut self, key: u64, now: i64, init: impl FnOnce() -> V) -> &mut V {
        if let Some(&i) = self.index.get(&key) {
            let s = &mut self.slots[i as usize];
            if now > s.last {
                s.last = now;
            }
            s.referenced = true;
            return &mut s.value;
        }
        if self.slots.len() >= self.max_keys {
            self.evict_one();
        }
        let i = self.slots.len();
        self.slots.push(Slot {
            key,
            last: now,
            referenced: false,
            value: init(),
        });
        self.index.insert(key, i as u32);
        &mut self.slots[i].value
    }

    /// The value of `key`, touched at `now`, when present.
    #[inline]
    pub fn get_mut(&mut self, key: u64, now: i64) -> Option<&mut V> {
        let i = *self.index.get(&key)?;
        let s = &mut self.slots[i as usize];
        if now > s.last {
            s.last = now;
        }
        s.referenced = true;
        Some(&mut s.value)
    }

    /// The value of `key` without touching it.
    #[inline]
    pub fn get(&self, key: u64) -> Option<&V> {
        let i = *self.index.get(&key)?;
        Some(&self.slots[i as usize].value)
    }

    /// Remove `key`, returning its value.
    pub fn remove(&mut self, key: u64) -> Option<V> {
        let i = *self.index.get(&key)?;
        Some(self.remove_at(i as usize))
    }

    fn remove_at(&mut self, i: usize) -> V {
        let key = self.slots[i].key;
        self.index.remove(&key);
        let slot = self.slots.swap_remove(i);
        if let Some(moved) = self.slots.get(i) {
            self.index.insert(moved.key, i as u32);
        }
        slot.value
    }

    fn evict_one(&mut self) {
        // Terminates within two passes: the first clears every reference bit.
        loop {
            if self.slots.is_empty() {
                return;
            }
            if self.hand >= self.slots.len() {
                self.hand = 0;
            }
            let s = &mut self.slots[self.hand];
            if s.referenced {
                s.referenced = false;
                self.hand += 1;
            } else {
                self.remove_at(self.hand);
                self.evicted += 1;
                return;
            }
        }
    }

    /// Drop keys idle for longer than `idle_ms` before `now`. Sweeps at most every
    /// `idle_ms / 8` (and at least a second) of event time; returns how many were dropped.
    pub fn tick(&mut self, now: i64) -> usize {
        let every = (self.idle_ms / 8).max(1_000);
        if self.last_sweep != i64::MIN && now - self.last_sweep < every {
            return 0;
        }
        self.last_sweep = now;
        let mut dropped = 0;
        let mut i = 0;
        while i < self.slots.len() {
            if now - self.slots[i].last > self.idle_ms {
                self.remove_at(i);
                dropped += 1;
            } else {
                i += 1;
            }
        }
        self.evicted += dropped as u64;
        dropped
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The key bound.
    pub fn max_keys(&self) -> usize {
        self.max_keys
    }

    /// Keys evicted so far (idle or for room).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Approximate bytes held, counting values by their inline size only.
    pub fn approx_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot<V>>()
            + self.index.capacity() * (std::mem::size_of::<(u64, u32)>() + 1)
            + std::mem::size_of::<Self>()
    }

    /// Approximate bytes held, adding each value's heap bytes.
    pub fn approx_bytes_deep(&self) -> usize
    where
        V: Footprint,
    {
        self.approx_bytes()
            + self
                .slots
                .iter()
                .map(|s| s.value.heap_bytes())
                .sum::<usize>()
    }

    /// Iterate over keys and values.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &V)> {
        self.slots.iter().map(|s| (s.key, &s.value))
    }

    /// Iterate mutably over keys and values (without touching them).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (u64, &mut V)> {
        self.slots.iter_mut().map(|s| (s.key, &mut s.value))
    }
}

/// Heap bytes owned by a value held in detector state.
pub trait Footprint {
    /// Bytes on the heap (not counting the value's inline size).
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl Footprint for u32 {}
impl Footprint for u64 {}
impl Footprint for i64 {}

/// Number of buckets in a [`SlidingCounter`].
pub const SLIDING_BUCKETS: usize = 8;

/// A count of events in the last `window_ms` of event time, kept in a ring of
/// [`SLIDING_BUCKETS`] buckets (the window's edge is accurate to one bucket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingCounter {
    buckets: [u32; SLIDING_BUCKETS],
    epoch: i64,
    width_ms: u32,
}

impl SlidingCounter {
    /// A counter over a window of `window_ms` (at least `SLIDING_BUCKETS` ms).
    pub fn new(window_ms: i64) -> Self {
        let width = (window_ms / SLIDING_BUCKETS as i64).clamp(1, u32::MAX as i64) as u32;
        SlidingCounter {
            buckets: [0; SLIDING_BUCKETS],
            epoch: i64::MIN,
            width_ms: width,
        }
    }

    #[inline]
    fn bucket_of(&self, now: i64) -> i64 {
        now.div_euclid(i64::from(self.width_ms))
    }

    /// Add `n` events at `now`. Events older than the newest bucket count in the newest.
    #[inline]
    pub fn add(&mut self, now: i64, n: u32) {
        let b = self.bucket_of(now);
        if self.epoch == i64::MIN || b - self.epoch >= SLIDING_BUCKETS as i64 {
            self.buckets = [0; SLIDING_BUCKETS];
            self.epoch = b;
        } else if b > self.epoch {
            for k in self.epoch + 1..=b {
                self.buckets[k.rem_euclid(SLIDING_BUCKETS as i64) as usize] = 0;
            }
            self.epoch = b;
        }
        let i = self.epoch.rem_euclid(SLIDING_BUCKETS as i64) as usize;
        self.buckets[i] = self.buckets[i].saturating_add(n);
    }

    /// Events in the window ending at `now`.
    #[inline]
    pub fn count(&self, now: i64) -> u32 {
        if self.epoch == i64::MIN {
            return 0;
        }
        let lag = self.bucket_of(now) - self.epoch;
        if lag >= SLIDING_BUCKETS as i64 {
            return 0;
        }
        let keep = SLIDING_BUCKETS as i64 - lag.max(0);
        (0..keep).fold(0u32, |acc, j| {
            let i = (self.epoch - j).rem_euclid(SLIDING_BUCKETS as i64) as usize;
            acc.saturating_add(self.buckets[i])
        })
    }
}

impl Footprint for SlidingCounter {}

/// HyperLogLog distinct counter with `2^precision` one-byte registers (precision 4..=14:
/// 8 bits gives 256 bytes and ~6.5% error, 10 bits 1 KiB and ~3.3%). The harmonic sum is
/// kept up to date on insert, so [`Hll::estimate`] is O(1).
#[derive(Debug, Clone, PartialEq)]
pub struct Hll {
    p: u8,
    zeros: u32,
    sum: f64,
    regs: Box<[u8]>,
}

#[inline]
fn pow2_neg(r: u8) -> f64 {
    f64::from_bits((1023 - u64::from(r)) << 52)
}

impl Hll {
    /// A counter with `2^precision` registers (precision clamped to 4..=14).
    pub fn new(precision: u8) -> Self {
        let p = precision.clamp(4, 14);
        let m = 1usize << p;
        Hll {
            p,
            zeros: m as u32,
            sum: m as f64,
            regs: vec![0u8; m].into_boxed_slice(),
        }
    }

    /// Add an element by its hash (re-mixed here, so any 64-bit hash will do). Returns
    /// whether the estimate changed.
    #[inline]
    pub fn insert_hash(&mut self, h: u64) -> bool {
        let h = mix64(h);
        let p = u32::from(self.p);
        let idx = (h >> (64 - p)) as usize;
        let w = (h << p) | (1u64 << (p - 1));
        let rho = (w.leading_zeros() + 1) as u8;
        match self.regs.get_mut(idx) {
            Some(r) if rho > *r => {
                if *r == 0 {
                    self.zeros -= 1;
                }
                self.sum += pow2_neg(rho) - pow2_neg(*r);
                *r = rho;
                true
            }
            _ => false,
        }
    }

    /// Estimated number of distinct elements.
    #[inline]
    pub fn estimate(&self) -> f64 {
        let m = self.regs.len() as f64;
        let alpha = match self.regs.len() {
            16 => 0.673,
            32 => 0.697,
            64 => 0.709,
            _ => 0.7213 / (1.0 + 1.079 / m),
        };
        let e = alpha * m * m / self.sum;
        if e <= 2.5 * m && self.zeros > 0 {
            m * (m / f64::from(self.zeros)).ln()
        } else {
            e
        }
    }

    /// Forget every element.
    pub fn clear(&mut self) {
        self.regs.iter_mut().for_each(|r| *r = 0);
        self.zeros = self.regs.len() as u32;
        self.sum = self.regs.len() as f64;
    }

    /// Bytes of registers.
    pub fn bytes(&self) -> usize {
        self.regs.len()
    }
}

impl Footprint for Hll {
    fn heap_bytes(&self) -> usize {
        self.regs.len()
    }
}

/// Online mean and variance (Welford) plus an exponentially weighted moving average.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OnlineStats {
    n: u64,
    mean: f64,
    m2: f64,
    ewma: f64,
    alpha: f64,
}

impl Default for OnlineStats {
    fn default() -> Self {
        OnlineStats::new(0.05)
    }
}

impl OnlineStats {
    /// Empty statistics; `alpha` (0..1] weights the newest sample in the EWMA.
    pub fn new(alpha: f64) -> Self {
        OnlineStats {
            n: 0,
            mean: 0.0,
            m2: 0.0,
            ewma: 0.0,
            alpha: alpha.clamp(1e-6, 1.0),
        }
    }

    /// Add a sample.
    #[inline]
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
        self.ewma = if self.n == 1 {
            x
        } else {
            self.ewma + self.alpha * (x - self.ewma)
        };
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Mean (0 when empty).
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// Sample variance (0 with fewer than two samples).
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            self.m2 / (self.n - 1) as f64
        }
    }

    /// Standard deviation.
    pub fn std_dev(&self) -> f64 {
        self.variance().sqrt()
    }

    /// Exponentially weighted moving average (0 when empty).
    pub fn ewma(&self) -> f64 {
        self.ewma
    }

    /// How many standard deviations `x` lies above the mean (std floored at `min_std`).
    pub fn zscore(&self, x: f64, min_std: f64) -> f64 {
        (x - self.mean) / self.std_dev().max(min_std).max(f64::MIN_POSITIVE)
    }
}

impl Footprint for OnlineStats {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_state_never_exceeds_bound() {
        let mut s = KeyedState::new(100, 60_000);
        for k in 0..10_000u64 {
            *s.get_or_insert_with(mix64(k), k as i64, || 0u32) += 1;
            assert!(s.len() <= 100);
        }
        assert_eq!(s.len(), 100);
        assert_eq!(s.evicted(), 9_900);
    }

    #[test]
    fn keyed_state_keeps_hot_keys_under_flood() {
        let mut s = KeyedState::new(64, 1_000_000);
        for t in 0..10_000i64 {
            // one hot key touched every step, and a flood of one-off keys
            *s.get_or_insert_with(7, t, || 0u32) += 1;
            s.get_or_insert_with(mix64(t as u64 + 1_000), t, || 0u32);
        }
        assert_eq!(s.get(7), Some(&10_000));
    }

    #[test]
    fn keyed_state_idle_eviction_in_event_time() {
        let mut s = KeyedState::new(10, 5_000);
        s.get_or_insert_with(1, 0, || 1u32);
        s.get_or_insert_with(2, 4_000, || 2u32);
        assert_eq!(s.tick(6_000), 1);
        assert_eq!(s.get(1), None);
        assert_eq!(s.get(2), Some(&2));
        assert_eq!(s.remove(2), Some(2));
        assert!(s.is_empty());
    }

    #[test]
    fn sliding_counter_forgets_old_buckets() {
        let mut c = SlidingCounter::new(8_000);
        for t in 0..8 {
            c.add(t * 1_000, 1);
        }
        assert_eq!(c.count(7_999), 8);
        assert_eq!(c.count(8_000), 7);
        assert_eq!(c.count(20_000), 0);
        c.add(30_000, 5);
        assert_eq!(c.count(30_500), 5);
    }

    #[test]
    fn hll_estimates_within_error() {
        for (p, n, tol) in [(8u8, 10u64, 0.1), (8, 1_000, 0.15), (10, 100_000, 0.08)] {
            let mut h = Hll::new(p);
            for i in 0..n {
                h.insert_hash(i);
                h.insert_hash(i); // duplicates do not count
            }
            let e = h.estimate();
            assert!(
                (e - n as f64).abs() / (n as f64) < tol,
                "p={p} n={n} estimate={e}"
            );
        }
        assert_eq!(Hll::new(8).bytes(), 256);
    }

    #[test]
    fn online_stats_mean_variance() {
        let mut s = OnlineStats::new(0.5);
        for x in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0] {
            s.push(x);
        }
        assert_eq!(s.count(), 8);
        assert!((s.mean() - 5.0).abs() < 1e-9);
        assert!((s.variance() - 32.0 / 7.0).abs() < 1e-9);
        assert!(s.ewma() > 5.0);
        assert!(s.zscore(20.0, 1.0) > 6.0);
    }
}
