//! Streaming, stateful detection over [`ApiEvent`]s.
//!
//! **Pure: no I/O, and never the wall clock.** Time is the event time of the traffic, so a
//! replayed week behaves like a live week. State is bounded whatever the traffic.
//!
//! A detector is a config struct, a [`Detector`] impl, one line in a registry and a
//! data-driven test. This crate holds the trait, the engine and the behavioural detectors;
//! `rampart-signatures` and `rampart-sigma` add content detectors through the same trait.

use std::borrow::Cow;
use std::hash::{BuildHasher, Hash, Hasher};

use rampart_model::{AlertDraft, ApiEvent, Timestamp};

/// One event with what every detector needs derived from it, computed once by the engine.
pub struct EventCtx<'e> {
    /// The event.
    pub ev: &'e ApiEvent<'e>,
    /// Path template (`/api/users/{id}`).
    pub template: Cow<'e, str>,
    /// Hash of host + method + template: the endpoint key.
    pub endpoint: u64,
    /// Hash of the client IP (0 when unknown).
    pub ip: u64,
}

/// The fixed hasher used for state keys (deterministic across runs).
pub fn key_hasher() -> std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher> {
    std::hash::BuildHasherDefault::default()
}

impl<'e> EventCtx<'e> {
    /// Derive the context of an event.
    pub fn new(ev: &'e ApiEvent<'e>) -> Self {
        let template = rampart_inventory::template::path_template(&ev.path);
        let bh = key_hasher();
        let mut h = bh.build_hasher();
        ev.host.hash(&mut h);
        ev.method.hash(&mut h);
        template.hash(&mut h);
        let endpoint = h.finish();
        let ip = match ev.client_ip {
            Some(ip) => bh.hash_one(ip),
            None => 0,
        };
        EventCtx {
            ev,
            template,
            endpoint,
            ip,
        }
    }
}

/// One detector.
pub trait Detector: Send {
    /// Stable id (`param_enumeration`, ...): a bounded set, safe as a metric label.
    fn id(&self) -> &'static str;
    /// Look at one event; push any alerts it completes.
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>);
    /// Called when event time has advanced to `now` (at least once per batch): close windows,
    /// evict idle state, emit alerts that only a window's end reveals.
    fn tick(&mut self, _now: Timestamp, _out: &mut Vec<AlertDraft>) {}
    /// Approximate bytes of state held (for the state-size metric and memory bounds).
    fn state_bytes(&self) -> usize {
        0
    }
}

/// Runs a set of detectors over a stream of events.
pub struct Engine {
    detectors: Vec<Box<dyn Detector>>,
    last_tick: Timestamp,
}

/// How often, in event time, the engine ticks detectors.
pub const TICK_MILLIS: i64 = 1_000;

impl Engine {
    /// An engine over these detectors.
    pub fn new(detectors: Vec<Box<dyn Detector>>) -> Self {
        Engine {
            detectors,
            last_tick: Timestamp::default(),
        }
    }
    /// Add a detector.
    pub fn push(&mut self, d: Box<dyn Detector>) {
        self.detectors.push(d);
    }
    /// Ids of the loaded detectors.
    pub fn ids(&self) -> Vec<&'static str> {
        self.detectors.iter().map(|d| d.id()).collect()
    }
    /// Feed one event.
    #[inline]
    pub fn observe(&mut self, ev: &ApiEvent<'_>, out: &mut Vec<AlertDraft>) {
        if ev.ts.millis() - self.last_tick.millis() >= TICK_MILLIS {
            self.tick(ev.ts, out);
        }
        let cx = EventCtx::new(ev);
        for d in &mut self.detectors {
            d.observe(&cx, out);
        }
    }
    /// Advance event time explicitly (end of a replay, idle stream).
    pub fn tick(&mut self, now: Timestamp, out: &mut Vec<AlertDraft>) {
        if now > self.last_tick {
            self.last_tick = now;
        }
        for d in &mut self.detectors {
            d.tick(now, out);
        }
    }
    /// Total approximate state size in bytes.
    pub fn state_bytes(&self) -> usize {
        self.detectors.iter().map(|d| d.state_bytes()).sum()
    }
}
