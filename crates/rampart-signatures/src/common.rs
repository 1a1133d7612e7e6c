//! Helpers shared by the content detectors: percent-decoding into reused buffers, bounded
//! per-(IP, family) cooldowns and distinct counters, and the alert builder.

use std::collections::HashMap;

use aho_corasick::automaton::Automaton;
use aho_corasick::{dfa, Anchored, MatchKind, StartKind};

use rampart_detect::EventCtx;
use rampart_model::{AlertDraft, ApiEvent};

/// The value of one hexadecimal digit.
#[inline]
pub(crate) fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Append `src` to `out` percent-decoded once and ASCII-lowercased; `+` becomes a space when
/// `plus_space`. Invalid escapes are kept as written.
#[inline]
pub(crate) fn decode_lower_into(src: &[u8], plus_space: bool, out: &mut Vec<u8>) {
    let special = if plus_space {
        memchr::memchr2(b'%', b'+', src)
    } else {
        memchr::memchr(b'%', src)
    };
    // Fast path up to the first escape: a bulk copy and an in-place lower-casing.
    let start = special.unwrap_or(src.len());
    let at = out.len();
    out.extend_from_slice(&src[..start]);
    out[at..].make_ascii_lowercase();
    let mut i = start;
    while i < src.len() {
        let b = src[i];
        if b == b'%' && i + 2 < src.len() {
            if let (Some(h), Some(l)) = (hex_val(src[i + 1]), hex_val(src[i + 2])) {
                out.push(((h << 4) | l).to_ascii_lowercase());
                i += 3;
                continue;
            }
            out.push(b'%');
        } else if b == b'+' && plus_space {
            out.push(b' ');
        } else {
            out.push(b.to_ascii_lowercase());
        }
        i += 1;
    }
}

/// Whether `s` holds a `%XX` escape.
pub(crate) fn has_escape(s: &[u8]) -> bool {
    memchr::memchr_iter(b'%', s)
        .any(|i| i + 2 < s.len() && hex_val(s[i + 1]).is_some() && hex_val(s[i + 2]).is_some())
}

/// Whether any of a set of needles occurs in a text: a DFA walked byte by byte that stops at
/// the first match, much cheaper than a full (overlapping) Aho-Corasick search with match
/// bookkeeping. Used as an exact gate in front of such searches: when it says no, they find
/// nothing.
pub(crate) struct AnyNeedle {
    dfa: dfa::DFA,
}

impl AnyNeedle {
    /// Compile `needles`, ASCII case-insensitively when `ci`.
    pub(crate) fn new<I, P>(needles: I, ci: bool) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        let dfa = dfa::DFA::builder()
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(ci)
            .prefilter(false)
            .start_kind(StartKind::Unanchored)
            .build(needles)
            .expect("built-in needles are valid literals");
        AnyNeedle { dfa }
    }

    /// Whether some needle occurs in `hay`.
    #[inline]
    pub(crate) fn is_match(&self, hay: &[u8]) -> bool {
        let dfa = &self.dfa;
        let Ok(mut sid) = dfa.start_state(Anchored::No) else {
            return true;
        };
        for &b in hay {
            sid = dfa.next_state(Anchored::No, sid, b);
            if dfa.is_special(sid) {
                if dfa.is_match(sid) {
                    return true;
                }
                if dfa.is_dead(sid) {
                    return false;
                }
            }
        }
        false
    }
}

/// ASCII case-insensitive substring test.
pub(crate) fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    if hay.len() < needle.len() {
        return false;
    }
    let last_start = hay.len() - needle.len();
    let (lo, up) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    memchr::memchr2_iter(lo, up, &hay[..=last_start])
        .any(|i| hay[i + 1..i + needle.len()].eq_ignore_ascii_case(rest))
}

/// A bounded, exact set of recently seen field values (user agents, referers) that a
/// detector found to hold nothing. Values repeat heavily in real traffic, so most lookups
/// hit. Direct-mapped: a new value replaces whatever shared its slot; whole values are
/// compared, so a hash collision can never pass an unseen value as clean.
pub(crate) struct CleanCache {
    slots: Vec<(u64, Vec<u8>)>,
    mask: usize,
}

impl CleanCache {
    /// Slots (a power of two).
    const SLOTS: usize = 256;
    /// Longer values are not remembered.
    const MAX_LEN: usize = 512;

    /// An empty cache.
    pub(crate) fn new() -> Self {
        CleanCache::with_slots(Self::SLOTS)
    }

    /// An empty cache of `slots` slots (rounded up to a power of two).
    pub(crate) fn with_slots(slots: usize) -> Self {
        let n = slots.max(1).next_power_of_two();
        CleanCache {
            slots: vec![(0, Vec::new()); n],
            mask: n - 1,
        }
    }

    #[inline]
    fn hash(v: &[u8]) -> u64 {
        // FxHash over 8-byte words, seeded with the length.
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = (v.len() as u64).wrapping_mul(K);
        let mut chunks = v.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("8-byte chunk"));
            h = (h.rotate_left(5) ^ w).wrapping_mul(K);
        }
        let mut last = [0u8; 8];
        last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        h = (h.rotate_left(5) ^ u64::from_le_bytes(last)).wrapping_mul(K);
        h | 1
    }

    #[inline]
    fn slot(&self, h: u64) -> usize {
        (h >> 40) as usize & self.mask
    }

    /// Whether `v` is remembered as clean.
    #[inline]
    pub(crate) fn contains(&self, v: &[u8]) -> bool {
        if v.len() > Self::MAX_LEN {
            return false;
        }
        let h = Self::hash(v);
        let (sh, sv) = &self.slots[self.slot(h)];
        *sh == h && sv.as_slice() == v
    }

    /// Remember `v` as clean (no-op for values longer than the limit).
    pub(crate) fn insert(&mut self, v: &[u8]) {
        if v.len() > Self::MAX_LEN {
            return;
        }
        let h = Self::hash(v);
        let slot = self.slot(h);
        let (sh, sv) = &mut self.slots[slot];
        *sh = h;
        sv.clear();
        sv.extend_from_slice(v);
    }

    /// Approximate bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.slots.iter().map(|(_, v)| 32 + v.capacity()).sum()
    }
}

/// Per-IP count of distinct keys (path hashes) in a fixed window, bounded in IPs and keys.
pub(crate) struct DistinctWindow {
    per_ip: HashMap<u64, (i64, Vec<u32>)>,
    window_ms: i64,
    max_ips: usize,
    max_keys: usize,
}

impl DistinctWindow {
    /// A new counter.
    pub(crate) fn new(window_secs: i64, max_ips: usize, max_keys: usize) -> Self {
        DistinctWindow {
            per_ip: HashMap::new(),
            window_ms: window_secs.max(1) * 1000,
            max_ips: max_ips.max(16),
            max_keys: max_keys.max(1),
        }
    }
    /// Record `key` for `ip` at `now_ms`; returns the distinct count in the current window.
    pub(crate) fn add(&mut self, ip: u64, key: u32, now_ms: i64) -> usize {
        if !self.per_ip.contains_key(&ip) && self.per_ip.len() >= self.max_ips {
            self.evict(now_ms);
        }
        let e = self
            .per_ip
            .entry(ip)
            .or_insert_with(|| (now_ms, Vec::new()));
        if now_ms - e.0 > self.window_ms || now_ms < e.0 {
            e.0 = now_ms;
            e.1.clear();
        }
        if e.1.len() < self.max_keys && !e.1.contains(&key) {
            e.1.push(key);
        }
        e.1.len()
    }
    /// Forget the keys of an IP (after it fired).
    pub(crate) fn reset(&mut self, ip: u64) {
        self.per_ip.remove(&ip);
    }
    /// Drop windows that are over.
    pub(crate) fn evict(&mut self, now_ms: i64) {
        let w = self.window_ms;
        self.per_ip.retain(|_, (start, _)| now_ms - *start <= w);
        if self.per_ip.len() >= self.max_ips {
            self.per_ip.clear();
        }
    }
    /// Approximate bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.per_ip
            .values()
            .map(|(_, v)| 48 + v.capacity() * 4)
            .sum::<usize>()
    }
}

/// FNV-1a of bytes, case-folded (a cheap key for distinct paths).
pub(crate) fn fold_hash(s: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in s {
        h ^= u32::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

pub(crate) use rampart_detect::common::{reason, AlertSpec, Cooldown};

/// Build an alert about the event in `cx` (the one alert builder, `rampart-detect`'s).
pub(crate) fn build_alert(cx: &EventCtx<'_>, spec: AlertSpec) -> AlertDraft {
    spec.build(cx)
}

/// The client IP as text, or `unknown`.
pub(crate) fn ip_text(ev: &ApiEvent<'_>) -> String {
    match ev.client_ip {
        Some(ip) => ip.to_string(),
        None => "unknown".to_string(),
    }
}

/// Cut `s` to at most `max` bytes on a char boundary (for quoting input in descriptions).
pub(crate) fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, plus: bool, expected: &str, expected_escape: bool) {
        let mut out = Vec::new();
        decode_lower_into(input.as_bytes(), plus, &mut out);
        assert_eq!(String::from_utf8_lossy(&out), expected, "{input}");
        assert_eq!(has_escape(&out), expected_escape, "{input}");
    }

    #[test]
    fn decode_cases() {
        check("/A%20B", false, "/a b", false);
        check("a+b", true, "a b", false);
        check("a+b", false, "a+b", false);
        check("%252E%252E%252F", false, "%2e%2e%2f", true);
        check("/%%32%65%%32%65/", false, "/%2e%2e/", true);
        check("100%", false, "100%", false);
        check("%4", false, "%4", false);
        check("%zz", false, "%zz", false);
        check("%41", false, "a", false);
    }

    #[test]
    fn contains_ci_cases() {
        for (hay, needle, want) in [
            ("/W00TW00T.at.blackhats", "w00tw00t", true),
            ("/w00tw00", "w00tw00t", false),
            ("abc", "", true),
            ("", "a", false),
            ("xxAbC", "abc", true),
            ("xxAbC", "ABC", true),
            ("aab", "ab", true),
            ("ab", "abc", false),
        ] {
            assert_eq!(
                contains_ci(hay.as_bytes(), needle.as_bytes()),
                want,
                "{hay} {needle}"
            );
        }
    }

    #[test]
    fn any_needle_cases() {
        let a = AnyNeedle::new(["/.env", "union select"], true);
        assert!(a.is_match(b"/app/.ENV"));
        assert!(a.is_match(b"x UNION SELECT 1"));
        assert!(!a.is_match(b"/api/v2/users/12345"));
        assert!(!a.is_match(b""));
        let cs = AnyNeedle::new(["/.env"], false);
        assert!(!cs.is_match(b"/.ENV"));
    }

    #[test]
    fn clean_cache_is_exact_and_bounded() {
        let mut c = CleanCache::new();
        assert!(!c.contains(b"okhttp/4.12.0"));
        c.insert(b"okhttp/4.12.0");
        assert!(c.contains(b"okhttp/4.12.0"));
        assert!(!c.contains(b"okhttp/4.12.1"));
        assert!(!c.contains(b""));
        let long = vec![b'a'; CleanCache::MAX_LEN + 1];
        c.insert(&long);
        assert!(!c.contains(&long));
        for i in 0..10_000u32 {
            c.insert(format!("agent/{i}").as_bytes());
        }
        assert!(c.contains(b"agent/9999"));
        assert!(c.bytes() <= CleanCache::SLOTS * (32 + CleanCache::MAX_LEN * 2));
    }

    #[test]
    fn distinct_window_counts_and_resets() {
        let mut d = DistinctWindow::new(10, 16, 4);
        assert_eq!(d.add(1, 10, 0), 1);
        assert_eq!(d.add(1, 10, 1), 1);
        assert_eq!(d.add(1, 11, 2), 2);
        assert_eq!(d.add(1, 12, 20_000), 1);
        for k in 0..10 {
            d.add(2, k, 0);
        }
        assert_eq!(d.add(2, 99, 0), 4);
    }
}
