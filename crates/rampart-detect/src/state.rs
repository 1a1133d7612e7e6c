//! Bounded state primitives for streaming detectors.
//!
//! Every structure here has a hard size bound fixed at construction and advances in event
//! time (milliseconds passed in by the caller), never the wall clock.

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
    fn write_u32(&mut self, n: u32) {
        // Small keys (folded 32-bit hashes) are spread over the 64 bits the table uses.
        self.0 = mix64(u64::from(n));
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

/// Hint the CPU to load the cache line holding `p` (no-op where no hint is available).
#[inline(always)]
fn prefetch_read<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE, which `prefetcht0` needs, is part of the x86_64 baseline; a prefetch
        // reads nothing into the program and never faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Control byte of an empty table position.
const EMPTY: u8 = 0;

/// Where `key` wants to live in a table of `mask + 1` positions, and its control byte (7
/// bits of the hash with the high bit set, so never [`EMPTY`]).
#[inline]
fn home_and_tag(key: u64, mask: usize) -> (usize, u8) {
    // Keys are usually well mixed already, but not always (tests use small integers): one
    // multiply spreads them; the top bits pick the position, the low bits the tag.
    let h = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((h >> 32) as usize & mask, (h >> 25) as u8 | 0x80)
}

/// A map from a `u64` key to `V` with a hard maximum number of keys.
///
/// Keys idle (not touched) for longer than `idle_ms` of event time are gone: lookups treat
/// them as absent at once (an insert starts them afresh), and [`KeyedState::tick`] sweeps
/// them out to free their positions. Sweeps are rationed by event time *and* by inserts
/// (see [`KeyedState::tick`]), so traffic sparse in event time (a replayed week, a quiet
/// API) does not sweep the whole table on every event. When the map is full, inserting a new key first evicts one by a
/// clock sweep (second-chance approximation of least recently used): keys touched since the
/// hand last passed survive one more round, new keys that were never touched again go
/// first, so a flood of one-off keys cannot push out established ones wholesale.
///
/// Layout: an open-addressing table (linear probing, backward-shift deletion) holding each
/// key's slot inline, beside one control byte per position. Probing reads the small, usually
/// cached, control bytes; a lookup then touches a single slot, so a hit in a large map costs
/// one cache miss instead of the three of a `HashMap` index into a separate slot vector. The
/// table grows by doubling up to the size `max_keys` needs (at most 7/8 full), never beyond.
pub struct KeyedState<V> {
    ctrl: Vec<u8>,
    slots: Vec<Option<Slot<V>>>,
    mask: usize,
    len: usize,
    max_keys: usize,
    max_positions: usize,
    idle_ms: i64,
    hand: usize,
    evicted: u64,
    last_sweep: i64,
    /// Latest event time seen by any call: keys idle for longer than `idle_ms` before it are
    /// treated as absent.
    now: i64,
    /// Keys inserted since the last sweep.
    inserts: usize,
}

/// Table positions needed to hold `n` keys at most 7/8 full (a power of two).
fn positions_for(n: usize) -> usize {
    (n + n / 7 + 1).next_power_of_two().max(8)
}

impl<V> KeyedState<V> {
    /// A map holding at most `max_keys` keys (at least 1), dropping keys idle for `idle_ms`.
    pub fn new(max_keys: usize, idle_ms: i64) -> Self {
        let max_keys = max_keys.clamp(1, u32::MAX as usize);
        let max_positions = positions_for(max_keys);
        let cap = max_positions.min(1024);
        KeyedState {
            ctrl: vec![EMPTY; cap],
            slots: std::iter::repeat_with(|| None).take(cap).collect(),
            mask: cap - 1,
            len: 0,
            max_keys,
            max_positions,
            idle_ms: idle_ms.max(1),
            hand: 0,
            evicted: 0,
            last_sweep: i64::MIN,
            now: i64::MIN,
            inserts: 0,
        }
    }

    /// Position of `key`, when present.
    #[inline]
    fn find(&self, key: u64) -> Option<usize> {
        let (mut i, tag) = home_and_tag(key, self.mask);
        loop {
            let c = self.ctrl[i];
            if c == EMPTY {
                return None;
            }
            if c == tag {
                if let Some(s) = &self.slots[i] {
                    if s.key == key {
                        return Some(i);
                    }
                }
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Start loading the cache lines a lookup of `key` will read first (its control byte and
    /// home slot), without waiting for them: a hint, with no effect on the contents. Lets a
    /// caller overlap the cache misses of several tables before it looks anything up.
    #[inline]
    pub fn prefetch(&self, key: u64) {
        let (i, _) = home_and_tag(key, self.mask);
        prefetch_read(self.ctrl.as_ptr().wrapping_add(i));
        prefetch_read(self.slots.as_ptr().wrapping_add(i));
    }

    /// Put a slot whose key is known to be absent (room is known to exist); its position.
    fn place(&mut self, slot: Slot<V>) -> usize {
        let (mut i, tag) = home_and_tag(slot.key, self.mask);
        while self.ctrl[i] != EMPTY {
            i = (i + 1) & self.mask;
        }
        self.ctrl[i] = tag;
        self.slots[i] = Some(slot);
        self.len += 1;
        i
    }

    /// Double the table (rehashing every key), when `max_keys` still needs more room.
    fn grow(&mut self) {
        let cap = (self.mask + 1) * 2;
        let old = std::mem::replace(
            &mut self.slots,
            std::iter::repeat_with(|| None).take(cap).collect(),
        );
        self.ctrl = vec![EMPTY; cap];
        self.mask = cap - 1;
        self.len = 0;
        self.hand = 0;
        for s in old.into_iter().flatten() {
            self.place(s);
        }
    }

    /// The value of `key`, touched at `now`; inserted with `init` when absent (evicting one
    /// key first when full).
    #[inline]
    pub fn get_or_insert_with(&mut self, key: u64, now: i64, init: impl FnOnce() -> V) -> &mut V {
        if now > self.now {
            self.now = now;
        }
        let i = match self.find(key) {
            Some(i) => {
                let idle_ms = self.idle_ms;
                let latest = self.now;
                let s = self.slots[i].as_mut().expect("found slot is full");
                if latest - s.last > idle_ms {
                    // Idle past the limit but not swept yet: gone, so it starts afresh.
                    s.value = init();
                    s.last = now;
                    s.referenced = false;
                    self.evicted += 1;
                } else {
                    if now > s.last {
                        s.last = now;
                    }
                    s.referenced = true;
                }
                i
            }
            None => self.insert_new(key, now, init()),
        };
        &mut self.slots[i].as_mut().expect("slot is full").value
    }

    #[cold]
    #[inline(never)]
    fn insert_new(&mut self, key: u64, now: i64, value: V) -> usize {
        // Reuse the first idle position on the key's probe path, if any: every position
        // between its home and there stays full, so no probe chain breaks, and steady churn
        // of short-lived keys (sparse per-IP traffic) neither grows the table nor needs sweeps.
        let (mut i, tag) = home_and_tag(key, self.mask);
        let (latest, idle_ms) = (self.now, self.idle_ms);
        while self.ctrl[i] != EMPTY {
            if let Some(s) = &mut self.slots[i] {
                if latest - s.last > idle_ms {
                    *s = Slot {
                        key,
                        last: now,
                        referenced: false,
                        value,
                    };
                    self.ctrl[i] = tag;
                    self.evicted += 1;
                    return i;
                }
            }
            i = (i + 1) & self.mask;
        }
        self.inserts += 1;
        if self.len >= self.max_keys {
            self.evict_one();
        } else if (self.len + 1) * 8 > (self.mask + 1) * 7 && self.mask + 1 < self.max_positions {
            // Idle keys may hold the room: sweep before doubling, and keep the size when the
            // sweep freed a quarter of the table (so sweeps here cost at most ~4 positions
            // per insert).
            let cap = self.mask + 1;
            if self.sweep(self.now) < cap / 4 {
                self.grow();
            }
        }
        self.place(Slot {
            key,
            last: now,
            referenced: false,
            value,
        })
    }

    /// The value of `key`, touched at `now`, when present.
    #[inline]
    pub fn get_mut(&mut self, key: u64, now: i64) -> Option<&mut V> {
        if now > self.now {
            self.now = now;
        }
        let i = self.find(key)?;
        let (latest, idle_ms) = (self.now, self.idle_ms);
        let s = self.slots[i].as_mut()?;
        if latest - s.last > idle_ms {
            return None;
        }
        if now > s.last {
            s.last = now;
        }
        s.referenced = true;
        Some(&mut s.value)
    }

    /// The value of `key` without touching it.
    #[inline]
    pub fn get(&self, key: u64) -> Option<&V> {
        let i = self.find(key)?;
        self.slots[i]
            .as_ref()
            .filter(|s| self.live(s.last))
            .map(|s| &s.value)
    }

    /// Whether a key last touched at `last` is still held (not idle past the limit).
    #[inline]
    fn live(&self, last: i64) -> bool {
        self.now.saturating_sub(last) <= self.idle_ms
    }

    /// Remove `key`, returning its value.
    pub fn remove(&mut self, key: u64) -> Option<V> {
        let i = self.find(key)?;
        Some(self.remove_at(i))
    }

    /// Empty position `i` and shift back the keys after it that probed past it, so lookups
    /// never meet a hole before their key (no tombstones).
    fn remove_at(&mut self, i: usize) -> V {
        let slot = self.slots[i].take().expect("removed slot is full");
        self.ctrl[i] = EMPTY;
        self.len -= 1;
        let mut hole = i;
        let mut j = (i + 1) & self.mask;
        while self.ctrl[j] != EMPTY {
            let key = self.slots[j].as_ref().map_or(0, |s| s.key);
            let (home, _) = home_and_tag(key, self.mask);
            // Move `j` into the hole when its home is not cyclically within (hole, j].
            let dist_home = j.wrapping_sub(home) & self.mask;
            let dist_hole = j.wrapping_sub(hole) & self.mask;
            if dist_home >= dist_hole {
                self.ctrl[hole] = self.ctrl[j];
                self.slots[hole] = self.slots[j].take();
                self.ctrl[j] = EMPTY;
                hole = j;
            }
            j = (j + 1) & self.mask;
        }
        slot.value
    }

    /// Evict one key by the clock. The hand visits table positions in a fixed permutation
    /// (an odd stride near 0.618 of the table, co-prime with its power-of-two size) rather
    /// than in table order: evicting positions in order would empty the region behind the
    /// hand while random inserts pile up ahead of it, growing probe clusters of hundreds of
    /// positions that every later eviction and miss must scan.
    fn evict_one(&mut self) {
        if self.len == 0 {
            return;
        }
        let stride = (((self.mask as u64 + 1) * 0x9e37_79b9) >> 32) as usize | 1;
        // Terminates within two cycles: the first clears every reference bit.
        loop {
            self.hand &= self.mask;
            match &mut self.slots[self.hand] {
                None => self.hand += stride,
                Some(s) if s.referenced => {
                    s.referenced = false;
                    self.hand += stride;
                }
                Some(_) => {
                    // The hand stays: a key shifted back into this position is looked at next.
                    self.remove_at(self.hand);
                    self.evicted += 1;
                    return;
                }
            }
        }
    }

    /// Sweep out keys idle for longer than `idle_ms` before `now`, freeing their positions;
    /// returns how many were dropped. (Idle keys are already invisible to lookups; sweeping
    /// only reclaims room.) A sweep reads the whole table, so it runs only when room is
    /// short, with the table at least half full, and then at most every `idle_ms / 8` (and
    /// at least a second) of event time and once a sixteenth of the table's positions were
    /// inserted since the last one (only inserts need the room): sweep work stays within
    /// ~16 positions per insert however sparse the traffic is in event time. (An insert
    /// that is about to grow the table sweeps first; see `insert_new`.)
    #[inline]
    pub fn tick(&mut self, now: i64) -> usize {
        if now > self.now {
            self.now = now;
        }
        if self.last_sweep != i64::MIN
            && (now.saturating_sub(self.last_sweep) < (self.idle_ms / 8).max(1_000)
                || self.inserts < (self.mask + 1) / 16
                || self.len * 2 <= self.mask + 1)
        {
            return 0;
        }
        self.sweep(now)
    }

    #[cold]
    #[inline(never)]
    fn sweep(&mut self, now: i64) -> usize {
        self.last_sweep = now;
        self.inserts = 0;
        if self.len == 0 {
            return 0;
        }
        let mut dropped = 0;
        let mut i = 0;
        while i <= self.mask {
            // Read the slot only behind a full control byte (most of a sparse table is
            // skipped on its control bytes alone).
            if self.ctrl[i] == EMPTY {
                i += 1;
                continue;
            }
            // Backward shifts only move keys to lower positions (or from the start of the
            // table to its end), so re-examining `i` after a removal skips no key.
            match &self.slots[i] {
                Some(s) if now - s.last > self.idle_ms => {
                    self.remove_at(i);
                    dropped += 1;
                }
                _ => i += 1,
            }
        }
        self.evicted += dropped as u64;
        dropped
    }

    /// Number of keys held, idle keys not yet swept out included.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The key bound.
    pub fn max_keys(&self) -> usize {
        self.max_keys
    }

    /// Keys evicted so far (idle or for room).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Length of the longest run of occupied table positions (a probe cluster): what a miss
    /// or a deletion may have to scan. Linear in the table size; for tests and diagnostics.
    pub fn longest_cluster(&self) -> usize {
        let n = self.mask + 1;
        let Some(start) = self.ctrl.iter().position(|&c| c == EMPTY) else {
            return n;
        };
        let (mut best, mut run) = (0, 0);
        for k in 1..=n {
            if self.ctrl[(start + k) & self.mask] == EMPTY {
                run = 0;
            } else {
                run += 1;
                best = best.max(run);
            }
        }
        best
    }

    /// Approximate bytes held, counting values by their inline size only.
    pub fn approx_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Option<Slot<V>>>()
            + self.ctrl.capacity()
            + std::mem::size_of::<Self>()
    }

    /// Approximate bytes held, adding each value's heap bytes.
    pub fn approx_bytes_deep(&self) -> usize
    where
        V: Footprint,
    {
        self.approx_bytes() + self.iter().map(|(_, v)| v.heap_bytes()).sum::<usize>()
    }

    /// Iterate over the keys held (idle ones excluded) and their values.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &V)> {
        self.slots
            .iter()
            .flatten()
            .filter(|s| self.live(s.last))
            .map(|s| (s.key, &s.value))
    }

    /// Iterate mutably over the keys held (idle ones excluded) and their values, without
    /// touching them.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (u64, &mut V)> {
        let (latest, idle_ms) = (self.now, self.idle_ms);
        self.slots
            .iter_mut()
            .flatten()
            .filter(move |s| latest.saturating_sub(s.last) <= idle_ms)
            .map(|s| (s.key, &mut s.value))
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
///
/// Up to [`HLL_INLINE_PRECISION`] the registers live inside the value (no allocation, and in
/// the same cache lines as the state slot holding it); larger counters keep them boxed.
#[derive(Debug, Clone, PartialEq)]
pub struct Hll {
    p: u8,
    zeros: u32,
    sum: f64,
    regs: Regs,
}

/// Largest precision whose registers are stored inline.
pub const HLL_INLINE_PRECISION: u8 = 6;

#[derive(Debug, Clone, PartialEq)]
enum Regs {
    /// The first `2^p` bytes are the registers; the rest stay 0.
    Inline([u8; 1 << HLL_INLINE_PRECISION]),
    Heap(Box<[u8]>),
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
            regs: if p <= HLL_INLINE_PRECISION {
                Regs::Inline([0; 1 << HLL_INLINE_PRECISION])
            } else {
                Regs::Heap(vec![0u8; m].into_boxed_slice())
            },
        }
    }

    #[inline]
    fn m(&self) -> usize {
        1usize << self.p
    }

    #[inline]
    fn regs_mut(&mut self) -> &mut [u8] {
        let m = self.m();
        match &mut self.regs {
            Regs::Inline(r) => &mut r[..m],
            Regs::Heap(r) => r,
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
        let r = match self.regs_mut().get_mut(idx) {
            Some(r) if rho > *r => r,
            _ => return false,
        };
        let old = std::mem::replace(r, rho);
        if old == 0 {
            self.zeros -= 1;
        }
        self.sum += pow2_neg(rho) - pow2_neg(old);
        true
    }

    /// Estimated number of distinct elements.
    #[inline]
    pub fn estimate(&self) -> f64 {
        let m = self.m() as f64;
        let alpha = match self.m() {
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
        self.regs_mut().iter_mut().for_each(|r| *r = 0);
        self.zeros = self.m() as u32;
        self.sum = self.m() as f64;
    }

    /// Bytes of registers.
    pub fn bytes(&self) -> usize {
        self.m()
    }
}

impl Footprint for Hll {
    /// Boxed registers only: inline ones are part of the value's inline size.
    fn heap_bytes(&self) -> usize {
        match self.regs {
            Regs::Inline(_) => 0,
            Regs::Heap(_) => self.m(),
        }
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

    /// A flood of one-off keys into a full table (the adversarial stream: every event a new
    /// IP) must not pile keys into long probe clusters, which make each eviction scan
    /// thousands of positions. Eviction order must not follow table order.
    #[test]
    fn keyed_state_churn_keeps_clusters_short() {
        // 57,000 keys in 65,536 positions: the table at its fullest (87%).
        let max = 57_000;
        let mut s = KeyedState::new(max, i64::MAX / 4);
        for k in 0..(20 * max as u64) {
            s.get_or_insert_with(mix64(k), k as i64, || 0u32);
        }
        assert_eq!(s.len(), max);
        let longest = s.longest_cluster();
        eprintln!(
            "longest cluster after churn: {longest} of {} positions",
            s.mask + 1
        );
        assert!(
            longest < 600,
            "probe cluster of {longest} positions after churn"
        );
    }

    #[test]
    fn keyed_state_reuses_idle_positions_without_a_sweep() {
        let mut s = KeyedState::new(1_000, 1_000);
        for k in 0..500u64 {
            s.get_or_insert_with(mix64(k), 0, || k);
        }
        assert_eq!(s.len(), 500);
        // All 500 are idle at t = 2000; no tick, so no sweep runs. New keys whose probe path
        // meets an idle key take its position instead of a fresh one.
        for k in 500..1_000u64 {
            s.get_or_insert_with(mix64(k), 2_000, || k);
        }
        assert!(
            s.len() < 900,
            "{} keys held: idle positions were not reused",
            s.len()
        );
        for k in 0..500u64 {
            assert!(s.get_mut(mix64(k), 2_000).is_none(), "idle key {k} is gone");
        }
        for k in 500..1_000u64 {
            assert_eq!(s.get(mix64(k)), Some(&k), "new key {k} is found");
        }
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

    /// Guards the open-addressing table (growth, backward-shift deletion, eviction, idle
    /// sweeps) against a plain map model: same keys, same values, never above the bound.
    #[test]
    fn keyed_state_agrees_with_a_map_model() {
        use std::collections::HashMap;
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut s = KeyedState::new(3_000, 50_000);
        let mut model: HashMap<u64, (u64, i64)> = HashMap::new();
        for t in 0..50_000i64 {
            let r = rnd();
            // Small keys collide in their home positions: exercises probing and shifts.
            let key = r % 4_000;
            match r >> 60 {
                0 => {
                    assert_eq!(s.remove(key), model.remove(&key).map(|(v, _)| v));
                }
                1 => {
                    s.tick(t);
                    model.retain(|k, (_, last)| {
                        let keep = t - *last <= 50_000;
                        assert_eq!(s.get(*k).is_some(), keep, "key {k} at {t}");
                        keep
                    });
                }
                _ => {
                    let v = s.get_or_insert_with(key, t, || 0u64);
                    *v += 1;
                    if model.get(&key).is_some_and(|(_, last)| t - *last > 50_000) {
                        model.remove(&key);
                    }
                    let m = model.entry(key).or_insert((0, t));
                    m.0 += 1;
                    m.1 = t;
                    assert_eq!(*v, m.0, "key {key} at {t}");
                }
            }
            assert!(s.len() <= 3_000);
            // Keys idle past the limit are gone from the state at once, from the model at
            // its next sweep.
            model.retain(|_, (_, last)| t - *last <= 50_000);
            let live = s.iter().count();
            if live < model.len() {
                // An eviction happened: drop from the model what the state dropped.
                model.retain(|k, _| s.get(*k).is_some());
            }
            assert_eq!(live, model.len());
        }
        let mut keys: Vec<u64> = s.iter().map(|(k, _)| k).collect();
        keys.sort_unstable();
        let mut want: Vec<u64> = model.keys().copied().collect();
        want.sort_unstable();
        assert_eq!(keys, want);
        for (k, v) in s.iter() {
            assert_eq!(*v, model[&k].0);
        }
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
        for (p, n, tol) in [
            (6u8, 40u64, 0.15),
            (8, 10, 0.1),
            (8, 1_000, 0.15),
            (10, 100_000, 0.08),
        ] {
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
        assert_eq!(Hll::new(8).heap_bytes(), 256);
        assert_eq!(Hll::new(6).bytes(), 64);
        assert_eq!(Hll::new(6).heap_bytes(), 0);
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
