//! Per-endpoint baselines learned online, in event time.
//!
//! An endpoint learns for `learning_ms` of traffic (30 days by default), or less once it has
//! seen `min_samples` events: heavy traffic learns faster. While learning, every event
//! updates the profile (rate per minute, request and response sizes, latency, status mix,
//! authentication share, query parameters with their value types, write-body properties);
//! afterwards the profile is frozen, so an attacker cannot teach it, and only the current
//! minute's count keeps moving. Detectors that need a baseline stay silent until
//! [`EndpointBaseline::learned`] is true.

use rampart_inventory::values::classify_value;
use rampart_model::{ApiEvent, ValueType};
use serde::{Deserialize, Serialize};

use crate::state::{hash_bytes, Footprint, KeyedState, OnlineStats};

/// How endpoints learn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BaselineConfig {
    /// Longest learning period, in ms of event time (default 30 days).
    pub learning_ms: i64,
    /// Learning ends early once an endpoint has seen this many events (default 10,000).
    pub min_samples: u64,
    /// Fewest events for a learned baseline when the period ends (default 100).
    pub min_learned_samples: u64,
    /// Most endpoints tracked (default 20,000).
    pub max_endpoints: usize,
    /// Most parameters remembered per endpoint (default 32).
    pub max_params: usize,
    /// Most write-body properties remembered per endpoint (default 64).
    pub max_body_props: usize,
    /// Endpoints idle this long are forgotten (default 60 days).
    pub idle_ms: i64,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        BaselineConfig {
            learning_ms: 30 * 86_400_000,
            min_samples: 10_000,
            min_learned_samples: 100,
            max_endpoints: 20_000,
            max_params: 32,
            max_body_props: 64,
            idle_ms: 60 * 86_400_000,
        }
    }
}

/// Number of [`ValueType`]s.
pub const VALUE_TYPES: usize = 9;

/// Index of a value type in [`ParamProfile::types`].
pub const fn value_type_index(t: ValueType) -> usize {
    match t {
        ValueType::Integer => 0,
        ValueType::Number => 1,
        ValueType::Boolean => 2,
        ValueType::Uuid => 3,
        ValueType::Email => 4,
        ValueType::Date => 5,
        ValueType::Token => 6,
        ValueType::Url => 7,
        ValueType::String => 8,
    }
}

/// What was learned of one query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ParamProfile {
    /// Hash of the parameter name.
    pub name: u64,
    /// Times seen.
    pub seen: u32,
    /// Times seen per value type ([`value_type_index`]).
    pub types: [u32; VALUE_TYPES],
    /// Largest numeric value seen (integer values only).
    pub max_int: u64,
}

/// The learned profile of one endpoint.
#[derive(Debug, Clone, Default)]
pub struct EndpointBaseline {
    /// First event (ms).
    pub first_seen: i64,
    /// Events seen while learning.
    pub samples: u64,
    /// Whether learning is over and the profile usable.
    pub learned: bool,
    /// Minute (ms / 60,000) of `minute_count`.
    pub minute: i64,
    /// Events in that minute.
    pub minute_count: u32,
    /// Events per minute over the learning period (idle minutes count as zero).
    pub rate: OnlineStats,
    /// Request sizes.
    pub req_bytes: OnlineStats,
    /// Response sizes.
    pub resp_bytes: OnlineStats,
    /// Latency, microseconds.
    pub latency_us: OnlineStats,
    /// Events per status class (0 = none, 1..=5).
    pub status: [u64; 6],
    /// Events that carried credentials.
    pub authenticated: u64,
    /// Write calls (POST/PUT/PATCH) with a body.
    pub write_bodies: u64,
    /// Query parameters (bounded).
    pub params: Vec<ParamProfile>,
    /// Whether more parameters were seen than kept.
    pub params_overflow: bool,
    /// Hashes of top-level properties seen in write bodies (bounded).
    pub body_props: Vec<u64>,
    /// Whether more properties were seen than kept.
    pub body_overflow: bool,
}

impl EndpointBaseline {
    /// Events in the minute of `now` (before the current event is counted).
    #[inline]
    pub fn current_minute(&self, now_ms: i64) -> u32 {
        if now_ms.div_euclid(60_000) == self.minute {
            self.minute_count
        } else {
            0
        }
    }
    /// Share of learned events that carried credentials.
    pub fn auth_fraction(&self) -> f64 {
        self.authenticated as f64 / self.samples.max(1) as f64
    }
    /// Share of learned events answered 5xx.
    pub fn error_fraction(&self) -> f64 {
        self.status[5] as f64 / self.samples.max(1) as f64
    }
    /// The learned profile of a parameter by name hash.
    pub fn param(&self, name_hash: u64) -> Option<&ParamProfile> {
        self.params.iter().find(|p| p.name == name_hash)
    }
    /// Whether a write-body property (by hash) was seen while learning.
    pub fn has_body_prop(&self, h: u64) -> bool {
        self.body_props.contains(&h)
    }
}

impl Footprint for EndpointBaseline {
    fn heap_bytes(&self) -> usize {
        self.params.capacity() * std::mem::size_of::<ParamProfile>()
            + self.body_props.capacity() * 8
    }
}

/// All endpoint baselines (bounded).
pub struct Baselines {
    cfg: BaselineConfig,
    map: KeyedState<EndpointBaseline>,
}

/// Whether a method writes (POST, PUT, PATCH).
#[inline]
pub fn is_write_method(m: &str) -> bool {
    m.eq_ignore_ascii_case("POST")
        || m.eq_ignore_ascii_case("PUT")
        || m.eq_ignore_ascii_case("PATCH")
}

/// Call `f` with each top-level property name of a write body: JSON object keys, or
/// `a=1&b=2` form keys. A byte scan; stops at the first malformed byte.
pub fn body_props<'b>(body: &'b str, mut f: impl FnMut(&'b str)) {
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    if i >= b.len() {
        return;
    }
    if b[i] == b'[' {
        return;
    }
    if b[i] != b'{' {
        for kv in body.split('&') {
            let k = kv.split_once('=').map_or(kv, |(k, _)| k);
            if !k.is_empty() && k.len() <= 64 {
                f(k);
            }
        }
        return;
    }
    let mut depth = 0i32;
    let mut expect_key = false;
    while i < b.len() {
        match b[i] {
            b'{' | b'[' => {
                depth += 1;
                expect_key = b[i] == b'{' && depth == 1;
                i += 1;
            }
            b'}' | b']' => {
                depth -= 1;
                i += 1;
                if depth <= 0 {
                    return;
                }
            }
            b',' => {
                expect_key = depth == 1;
                i += 1;
            }
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                let end = j.min(b.len());
                if expect_key && depth == 1 {
                    if let Some(k) = body.get(start..end) {
                        f(k);
                    }
                    expect_key = false;
                }
                i = end + 1;
            }
            _ => i += 1,
        }
    }
}

impl Baselines {
    /// Empty baselines.
    pub fn new(cfg: BaselineConfig) -> Self {
        let map = KeyedState::new(cfg.max_endpoints, cfg.idle_ms);
        Baselines { cfg, map }
    }

    /// The baseline of an endpoint key, when known.
    #[inline]
    pub fn get(&self, endpoint: u64) -> Option<&EndpointBaseline> {
        self.map.get(endpoint)
    }

    /// Number of endpoints tracked.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no endpoint is tracked.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Learn from one event (after detectors looked at it).
    pub fn learn(&mut self, ev: &ApiEvent<'_>, endpoint: u64, status_class: u8, write: bool) {
        let now = ev.ts.millis();
        let cfg = &self.cfg;
        let b = self
            .map
            .get_or_insert_with(endpoint, now, || EndpointBaseline {
                first_seen: now,
                minute: now.div_euclid(60_000),
                ..Default::default()
            });
        let minute = now.div_euclid(60_000);
        if minute > b.minute {
            if !b.learned {
                b.rate.push(f64::from(b.minute_count));
                let gap = (minute - b.minute - 1).min(60);
                for _ in 0..gap {
                    b.rate.push(0.0);
                }
            }
            b.minute = minute;
            b.minute_count = 0;
        }
        b.minute_count = b.minute_count.saturating_add(1);
        if b.learned {
            return;
        }
        b.samples += 1;
        if let Some(n) = ev.request_bytes {
            b.req_bytes.push(n as f64);
        }
        if let Some(n) = ev.response_bytes {
            b.resp_bytes.push(n as f64);
        }
        if let Some(n) = ev.latency_us {
            b.latency_us.push(n as f64);
        }
        b.status[usize::from(status_class.min(5))] += 1;
        if ev.authenticated {
            b.authenticated += 1;
        }
        for (k, v) in ev.query_params() {
            let h = hash_bytes(k.as_bytes());
            let t = value_type_index(classify_value(v));
            let p = match b.params.iter_mut().position(|p| p.name == h) {
                Some(i) => &mut b.params[i],
                None if b.params.len() < cfg.max_params => {
                    b.params.push(ParamProfile {
                        name: h,
                        ..Default::default()
                    });
                    let last = b.params.len() - 1;
                    &mut b.params[last]
                }
                None => {
                    b.params_overflow = true;
                    continue;
                }
            };
            p.seen = p.seen.saturating_add(1);
            p.types[t] = p.types[t].saturating_add(1);
            if t == 0 {
                if let Ok(n) = v.parse::<u64>() {
                    p.max_int = p.max_int.max(n);
                }
            }
        }
        if write {
            if let Some(body) = &ev.request_body {
                b.write_bodies += 1;
                let max = cfg.max_body_props;
                let (props, overflow) = (&mut b.body_props, &mut b.body_overflow);
                body_props(body, |k| {
                    let h = hash_bytes(k.as_bytes());
                    if !props.contains(&h) {
                        if props.len() < max {
                            props.push(h);
                        } else {
                            *overflow = true;
                        }
                    }
                });
            }
        }
        if b.samples >= cfg.min_samples
            || (now - b.first_seen >= cfg.learning_ms && b.samples >= cfg.min_learned_samples)
        {
            b.learned = true;
            b.rate.push(f64::from(b.minute_count));
        }
    }

    /// Forget idle endpoints.
    pub fn tick(&mut self, now: i64) {
        self.map.tick(now);
    }

    /// Approximate bytes held.
    pub fn state_bytes(&self) -> usize {
        self.map.approx_bytes_deep()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(body: &str) -> Vec<String> {
        let mut v = Vec::new();
        body_props(body, |k| v.push(k.to_string()));
        v
    }

    #[test]
    fn body_props_cases() {
        for (body, expected) in [
            (r#"{"name":"a","role":"admin"}"#, vec!["name", "role"]),
            (
                r#" {"a":{"b":1},"c":[1,{"d":2}],"e":"x\"y"}"#,
                vec!["a", "c", "e"],
            ),
            ("name=a&is_admin=1", vec!["name", "is_admin"]),
            ("", vec![]),
            (r#"[{"a":1}]"#, vec![]),
        ] {
            assert_eq!(props(body), expected, "{body}");
        }
    }
}
