//! Streaming, stateful detection over [`ApiEvent`]s.
//!
//! **Pure: no I/O, and never the wall clock.** Time is the event time of the traffic, so a
//! replayed week behaves like a live week. State is bounded whatever the traffic.
//!
//! A detector is a config struct, a [`Detector`] impl, one line in a registry and a
//! data-driven test. This crate holds the trait, the engine and the behavioural detectors;
//! `rampart-signatures` and `rampart-sigma` add content detectors through the same trait.

use std::borrow::Cow;
use std::hash::{BuildHasher, Hash};

use rampart_model::{AlertDraft, ApiEvent, EventKind, Timestamp};

pub mod baseline;
pub mod common;
pub mod config;
pub mod detectors;
pub mod registry;
pub mod state;

use crate::baseline::{
    for_each_param, is_write_method, Baselines, EndpointBaseline, Param, ParamProfile, ParamScan,
};
use crate::common::{AllowList, Suppression};
use crate::config::DetectConfig;
use crate::state::{combine, hash_bytes, hash_str_ci};

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
    /// Status class (2 for 2xx; 0 when none was logged).
    pub status_class: u8,
    /// Hash of the principal (0 when none).
    pub principal: u64,
    /// Hash of the API key id (0 when none).
    pub api_key: u64,
    /// Who acted: the principal, else the API key, else the IP (hash; 0 when none known).
    pub actor: u64,
    /// The object id the call is about: the last id-like path segment, else the value of an
    /// `id` / `*_id` / `*Id` query parameter.
    pub id_value: Option<&'e str>,
    /// Hash of `id_value` (0 when none).
    pub id_hash: u64,
    /// The path looks like a login/token/session endpoint, or the record is an auth failure.
    pub login_like: bool,
    /// The path looks administrative (`/admin`, `/internal`, `/actuator`, ...).
    pub admin_like: bool,
    /// POST, PUT or PATCH.
    pub write: bool,
    /// The failed-authentication outcome: 401/403 on a login-like call, or an auth-failure
    /// record.
    pub auth_failed: bool,
    /// The endpoint's learned baseline as it was before this event (set by the engine when it
    /// runs baselines; `None` otherwise or when the endpoint is new).
    pub base: Option<&'e EndpointBaseline>,
    /// Index in the alert buffer where this event's alerts start: a detector later in the
    /// registry (Sigma) reads `out[first_alert..]` to see what earlier detectors found in the
    /// same request.
    pub first_alert: usize,
    /// The event's parameters, scanned once by the engine when the event has a query or a
    /// body (`None` otherwise, or when the context was built outside the engine): read them
    /// through [`EventCtx::for_each_param`].
    pub params: Option<&'e ParamScan>,
}

/// The fixed hasher used for state keys (deterministic across runs).
pub fn key_hasher() -> std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher> {
    std::hash::BuildHasherDefault::default()
}

const LOGIN_WORDS: &[&str] = &["login", "signin", "sign-in", "auth", "token", "session"];
const ADMIN_WORDS: &[&str] = &[
    "/admin",
    "/internal",
    "/manage",
    "/actuator",
    "/debug",
    "/system",
    "/config",
    "/roles",
    "/permissions",
    "/superuser",
];

/// For each byte, a bit per word of `LOGIN_WORDS` then `ADMIN_WORDS` whose byte at `at` it
/// is (either case), so [`path_words`] compares only the words a position can start.
const fn word_bytes(at: usize) -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut w = 0;
    while w < LOGIN_WORDS.len() + ADMIN_WORDS.len() {
        let word = if w < LOGIN_WORDS.len() {
            LOGIN_WORDS[w]
        } else {
            ADMIN_WORDS[w - LOGIN_WORDS.len()]
        };
        let c = word.as_bytes()[at];
        t[c.to_ascii_lowercase() as usize] |= 1 << w;
        t[c.to_ascii_uppercase() as usize] |= 1 << w;
        w += 1;
    }
    t
}
const WORD_FIRST: [u16; 256] = word_bytes(0);
const WORD_SECOND: [u16; 256] = word_bytes(1);
const LOGIN_BITS: u16 = (1 << LOGIN_WORDS.len()) - 1;

/// Whether the path contains (ASCII case-insensitively) any of `LOGIN_WORDS`, and any of
/// `ADMIN_WORDS`: one pass over the path, a full comparison only where the first two bytes
/// match a word, instead of a substring search per word.
fn path_words(path: &str) -> (bool, bool) {
    let b = path.as_bytes();
    let mut want = u16::MAX;
    for i in 0..b.len().saturating_sub(1) {
        let mut m = WORD_FIRST[usize::from(b[i])] & WORD_SECOND[usize::from(b[i + 1])] & want;
        while m != 0 {
            let w = m.trailing_zeros() as usize;
            m &= m - 1;
            let word = if w < LOGIN_WORDS.len() {
                LOGIN_WORDS[w]
            } else {
                ADMIN_WORDS[w - LOGIN_WORDS.len()]
            };
            let n = word.len();
            if b.len() - i >= n && b[i..i + n].eq_ignore_ascii_case(word.as_bytes()) {
                // Found one of its group: stop looking for that group.
                let group = if w < LOGIN_WORDS.len() {
                    LOGIN_BITS
                } else {
                    !LOGIN_BITS
                };
                want &= !group;
                m &= !group;
            }
        }
        if want == 0 {
            break;
        }
    }
    (want & LOGIN_BITS == 0, want & !LOGIN_BITS == 0)
}

fn is_id_param(name: &str) -> bool {
    name.eq_ignore_ascii_case("id")
        || name.ends_with("_id")
        || name.ends_with("Id")
        || name.ends_with("ID")
}

impl<'e> EventCtx<'e> {
    /// Derive the context of an event (allocates the template when the path has an id; the
    /// engine uses [`EventCtx::with_buffer`] instead).
    pub fn new(ev: &'e ApiEvent<'e>) -> Self {
        let mut buf = String::new();
        let words = path_words(&ev.path);
        match rampart_inventory::template::template_into(&ev.path, &mut buf) {
            Some(last_id) => Self::derive(ev, Cow::Owned(buf), Some(last_id), words),
            None => Self::derive(ev, Cow::Borrowed(&ev.path), None, words),
        }
    }

    /// Derive the context of an event, writing its template (when the path has an id) into
    /// `buf`, which a caller reuses from event to event.
    pub fn with_buffer(ev: &'e ApiEvent<'e>, buf: &'e mut String) -> Self {
        let words = path_words(&ev.path);
        match rampart_inventory::template::template_into(&ev.path, buf) {
            Some(last_id) => {
                let buf: &'e String = buf;
                Self::derive(ev, Cow::Borrowed(buf.as_str()), Some(last_id), words)
            }
            None => Self::derive(ev, Cow::Borrowed(&ev.path), None, words),
        }
    }

    /// Everything else, given the template, the last id segment of the path and the path's
    /// [`path_words`] (login-like, admin-like).
    #[inline]
    fn derive(
        ev: &'e ApiEvent<'e>,
        template: Cow<'e, str>,
        last_id: Option<&'e str>,
        (login_word, admin_like): (bool, bool),
    ) -> Self {
        let endpoint = {
            let mut h = hash_bytes(ev.host.as_bytes());
            h = combine(h, hash_bytes(ev.method.as_bytes()));
            combine(h, hash_bytes(template.as_bytes()))
        };
        let ip = match ev.client_ip {
            Some(std::net::IpAddr::V4(a)) => hash_bytes(&a.octets()),
            Some(std::net::IpAddr::V6(a)) => hash_bytes(&a.octets()),
            None => 0,
        };
        let principal = ev
            .principal
            .as_deref()
            .map_or(0, |p| hash_bytes(p.as_bytes()) | 1);
        let api_key = ev
            .api_key_id
            .as_deref()
            .map_or(0, |k| hash_bytes(k.as_bytes()) | 1);
        let actor = if principal != 0 {
            principal
        } else if api_key != 0 {
            api_key
        } else {
            ip
        };
        let id_value = last_id.or_else(|| {
            if ev.query.is_empty() {
                None
            } else {
                ev.query_params()
                    .find(|(k, v)| !v.is_empty() && is_id_param(k))
                    .map(|(_, v)| v)
            }
        });
        let id_hash = id_value.map_or(0, |v| hash_str_ci(v) | 1);
        let status_class = (ev.status / 100).min(9) as u8;
        let login_like = ev.kind == EventKind::AuthFailure || login_word;
        let auth_failed =
            ev.kind == EventKind::AuthFailure || (login_like && matches!(ev.status, 401 | 403));
        EventCtx {
            ev,
            template,
            endpoint,
            ip,
            status_class,
            principal,
            api_key,
            actor,
            id_value,
            id_hash,
            login_like,
            admin_like,
            write: is_write_method(&ev.method),
            auth_failed,
            base: None,
            first_alert: 0,
            params: None,
        }
    }

    /// Call `f` with each parameter of the event ([`baseline::for_each_param`]), the
    /// `hash_bytes` of its name and its learned profile in [`EventCtx::base`] (as
    /// `base.param_at(loc, hash)`); `f` returns `false` to stop. Reads the engine's one scan
    /// of the event (resolved against `base`) when there is one, else scans.
    #[inline]
    pub fn for_each_param(
        &self,
        mut f: impl FnMut(&Param<'_>, u64, Option<&'e ParamProfile>) -> bool,
    ) {
        let base = self.base;
        match self.params {
            Some(scan) => scan.for_each_resolved(self.ev, |p, h, at| {
                f(p, h, at.and_then(|i| base.and_then(|b| b.params.get(i))))
            }),
            None => for_each_param(self.ev, |p| {
                let h = hash_bytes(p.name.as_bytes());
                f(p, h, base.and_then(|b| b.param_at(p.loc, h)))
            }),
        }
    }
}

/// Slots of [`PathFacts`] (a power of two). On the simulated week's traffic (~22k distinct
/// paths in 200k events) 4,096 slots answer ~70% of events.
const PATH_FACTS_SLOTS: usize = 4096;
/// Longer paths are derived each time (they are rare, and mostly one-off probes).
const PATH_FACTS_MAX_LEN: usize = 256;

/// What [`EventCtx`] derives from the path alone (the template, the last id segment and the
/// path words), remembered for recent paths by their exact bytes: most events repeat a path
/// seen shortly before, and the template and word scans were ~8% of detection. A
/// direct-mapped table of [`PATH_FACTS_SLOTS`] slots, so bounded whatever the traffic; a
/// slot holds one path and is overwritten by the next path that lands on it.
#[derive(Default)]
struct PathFacts {
    slots: Vec<PathSlot>,
}

/// One remembered path of [`PathFacts`].
#[derive(Default)]
struct PathSlot {
    /// Whether the slot holds a path (the empty path is a path).
    used: bool,
    /// The path, exactly.
    path: String,
    /// Its template, when it differs from the path (`last_id` is `Some`).
    template: String,
    /// Byte range in the path of the last id segment, when the template differs from the
    /// path (`template_into` returned `Some`; the range is empty when it named none).
    last_id: Option<(usize, usize)>,
    /// `path_words` of the path.
    words: (bool, bool),
}

impl PathFacts {
    /// The context of `ev`, its path facts read from the table (filled on a miss). Paths
    /// over [`PATH_FACTS_MAX_LEN`] bytes are derived into `buf` instead.
    #[inline]
    fn ctx<'e>(&'e mut self, ev: &'e ApiEvent<'e>, buf: &'e mut String) -> EventCtx<'e> {
        let path: &'e str = &ev.path;
        if path.len() > PATH_FACTS_MAX_LEN {
            return EventCtx::with_buffer(ev, buf);
        }
        if self.slots.is_empty() {
            self.slots.resize_with(PATH_FACTS_SLOTS, PathSlot::default);
        }
        let i = (hash_bytes(path.as_bytes()) as usize) & (PATH_FACTS_SLOTS - 1);
        let slot = &mut self.slots[i];
        if (!slot.used || slot.path != path) && !slot.fill(path) {
            return EventCtx::with_buffer(ev, buf);
        }
        let slot: &'e PathSlot = slot;
        match slot.last_id {
            Some((a, b)) => EventCtx::derive(
                ev,
                Cow::Borrowed(slot.template.as_str()),
                Some(path.get(a..b).unwrap_or("")),
                slot.words,
            ),
            None => EventCtx::derive(ev, Cow::Borrowed(path), None, slot.words),
        }
    }

    /// Approximate bytes held.
    fn bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<PathSlot>()
            + self
                .slots
                .iter()
                .map(|s| s.path.capacity() + s.template.capacity())
                .sum::<usize>()
    }
}

impl PathSlot {
    /// Derive and remember the facts of `path`; `false` (the slot left empty) if the last id
    /// segment could not be located in the path (never expected: it is a slice of it).
    #[cold]
    fn fill(&mut self, path: &str) -> bool {
        self.path.clear();
        self.path.push_str(path);
        self.words = path_words(path);
        self.last_id = match rampart_inventory::template::template_into(path, &mut self.template) {
            None => None,
            Some("") => Some((0, 0)),
            Some(id) => {
                let a = (id.as_ptr() as usize).wrapping_sub(path.as_ptr() as usize);
                let b = a.wrapping_add(id.len());
                if path.get(a..b) != Some(id) {
                    self.used = false;
                    return false;
                }
                Some((a, b))
            }
        };
        self.used = true;
        true
    }
}

/// Hash with the legacy [`key_hasher`] (kept for callers that built keys with it).
pub fn legacy_key<T: Hash>(v: &T) -> u64 {
    key_hasher().hash_one(v)
}

/// One detector.
pub trait Detector: Send {
    /// Stable id (`param_enumeration`, ...): a bounded set, safe as a metric label.
    fn id(&self) -> &'static str;
    /// The engine is about to call [`Detector::observe`] with this event (after every
    /// detector's `prefetch`): start loading the state `observe` will touch (e.g. with
    /// [`state::KeyedState::prefetch`]) so the cache misses of all detectors overlap instead
    /// of coming one after another. A hint only; the default does nothing.
    #[inline]
    fn prefetch(&self, _cx: &EventCtx<'_>) {}
    /// Whether [`Detector::prefetch`] does anything: the engine calls it only on detectors
    /// that say so (most do not, and a dynamic call per detector per event adds up). A
    /// detector that implements `prefetch` returns `true`.
    fn prefetches(&self) -> bool {
        false
    }
    /// Look at one event; push any alerts it completes.
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>);
    /// Called as event time advances to `now`: evict idle state, close windows. The engine
    /// calls it at most once per [`TICK_MILLIS`] of event time, and on sparse traffic only
    /// every [`TICK_MIN_EVENTS`] events or [`TICK_MAX_MILLIS`] of event time, so a detector
    /// must judge its windows on `observe` (state lookups take `now` and treat idle keys as
    /// absent) and use `tick` for housekeeping only.
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
    allow: AllowList,
    suppress: Vec<Suppression>,
    baselines: Option<Baselines>,
    skipped: u64,
    /// Events observed since the last tick.
    since_tick: u32,
    /// Reused for each event's template.
    template_buf: String,
    /// Reused for each event's parameters (one scan per event, read by every consumer).
    param_scan: ParamScan,
    /// Path-derived facts of recent paths.
    path_facts: PathFacts,
    /// Indexes in `detectors` of those whose `prefetch` does something.
    prefetchers: Vec<usize>,
}

/// Indexes of the detectors that prefetch ([`Detector::prefetches`]).
fn prefetchers(detectors: &[Box<dyn Detector>]) -> Vec<usize> {
    (0..detectors.len())
        .filter(|&i| detectors[i].prefetches())
        .collect()
}

/// How often, in event time, the engine ticks detectors at most.
pub const TICK_MILLIS: i64 = 1_000;
/// On sparse traffic (under this many events per [`TICK_MILLIS`]) the engine waits for this
/// many events before ticking: a tick calls every detector, and ticking per event cost ~14%
/// of detection on a simulated week (~1.7 events per second of event time).
pub const TICK_MIN_EVENTS: u32 = 64;
/// ...but never longer than this much event time.
pub const TICK_MAX_MILLIS: i64 = 60_000;

impl Engine {
    /// An engine over these detectors.
    pub fn new(detectors: Vec<Box<dyn Detector>>) -> Self {
        let prefetchers = prefetchers(&detectors);
        Engine {
            detectors,
            last_tick: Timestamp::default(),
            allow: AllowList::default(),
            suppress: Vec::new(),
            baselines: None,
            skipped: 0,
            since_tick: 0,
            template_buf: String::new(),
            param_scan: ParamScan::default(),
            path_facts: PathFacts::default(),
            prefetchers,
        }
    }
    /// An engine over these detectors that skips allow-listed events, drops suppressed
    /// alerts and learns endpoint baselines (which baseline detectors need).
    pub fn with_config(cfg: &DetectConfig, detectors: Vec<Box<dyn Detector>>) -> Self {
        let prefetchers = prefetchers(&detectors);
        Engine {
            detectors,
            last_tick: Timestamp::default(),
            allow: cfg.allow.clone(),
            suppress: cfg.suppress.clone(),
            baselines: Some(Baselines::new(cfg.baseline.clone())),
            skipped: 0,
            since_tick: 0,
            template_buf: String::new(),
            param_scan: ParamScan::default(),
            path_facts: PathFacts::default(),
            prefetchers,
        }
    }
    /// An engine with every built-in detector of this crate ([`builtin`]).
    pub fn builtin(cfg: &DetectConfig) -> Self {
        Engine::with_config(cfg, builtin(cfg))
    }
    /// Events skipped as allow-listed.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
    /// The learned baselines, when the engine runs them.
    pub fn baselines(&self) -> Option<&Baselines> {
        self.baselines.as_ref()
    }
    /// Add a detector.
    pub fn push(&mut self, d: Box<dyn Detector>) {
        if d.prefetches() {
            self.prefetchers.push(self.detectors.len());
        }
        self.detectors.push(d);
    }
    /// Ids of the loaded detectors.
    pub fn ids(&self) -> Vec<&'static str> {
        self.detectors.iter().map(|d| d.id()).collect()
    }
    /// Feed one event.
    #[inline]
    pub fn observe(&mut self, ev: &ApiEvent<'_>, out: &mut Vec<AlertDraft>) {
        self.since_tick = self.since_tick.saturating_add(1);
        let dt = ev.ts.millis() - self.last_tick.millis();
        if dt >= TICK_MILLIS && (self.since_tick >= TICK_MIN_EVENTS || dt >= TICK_MAX_MILLIS) {
            self.tick(ev.ts, out);
        }
        let mut cx = self.path_facts.ctx(ev, &mut self.template_buf);
        if !self.allow.is_empty() && self.allow.allows(&cx) {
            self.skipped += 1;
            return;
        }
        let before = out.len();
        cx.first_alert = before;
        for &i in &self.prefetchers {
            self.detectors[i].prefetch(&cx);
        }
        cx.base = self.baselines.as_ref().and_then(|b| b.get(cx.endpoint));
        // One parameter scan per event, shared by the parameter detectors and the baselines
        // (each used to scan the query and body itself).
        let scanned =
            !ev.query.is_empty() || ev.request_body.as_deref().is_some_and(|b| !b.is_empty());
        if scanned {
            self.param_scan.fill(ev);
            self.param_scan.resolve(cx.base);
            cx.params = Some(&self.param_scan);
        }
        for d in &mut self.detectors {
            d.observe(&cx, out);
        }
        let (endpoint, status_class, write) = (cx.endpoint, cx.status_class, cx.write);
        // An event a detector flagged is not learned from: an attack must not teach the
        // baselines (parameters, sizes, rates) what normal looks like.
        if let Some(b) = &mut self.baselines {
            if out.len() == before {
                let params = scanned.then_some(&self.param_scan);
                b.learn_scanned(ev, params, endpoint, status_class, write);
            }
        }
        if !self.suppress.is_empty() && out.len() > before {
            let sup = &self.suppress;
            let mut i = before;
            while i < out.len() {
                if sup.iter().any(|s| s.matches(&out[i])) {
                    out.remove(i);
                } else {
                    i += 1;
                }
            }
        }
    }
    /// Advance event time explicitly (end of a replay, idle stream).
    pub fn tick(&mut self, now: Timestamp, out: &mut Vec<AlertDraft>) {
        if now > self.last_tick {
            self.last_tick = now;
        }
        self.since_tick = 0;
        let before = out.len();
        for d in &mut self.detectors {
            d.tick(now, out);
        }
        if let Some(b) = &mut self.baselines {
            b.tick(now.millis());
        }
        if !self.suppress.is_empty() && out.len() > before {
            let sup = &self.suppress;
            let mut i = before;
            while i < out.len() {
                if sup.iter().any(|s| s.matches(&out[i])) {
                    out.remove(i);
                } else {
                    i += 1;
                }
            }
        }
    }
    /// Total approximate state size in bytes.
    pub fn state_bytes(&self) -> usize {
        self.detectors
            .iter()
            .map(|d| d.state_bytes())
            .sum::<usize>()
            + self.baselines.as_ref().map_or(0, |b| b.state_bytes())
            + self.path_facts.bytes()
    }
}

/// The built-in behavioural detectors of this crate, one [`registry::Registration`] each.
pub const DETECTORS: &[registry::Registration] = detectors::REGISTRY;

/// The enabled built-in detectors of this crate, configured by `cfg.detectors`. Sections for
/// detectors of other crates are left to them (the pipeline's registry checks every id).
pub fn builtin(cfg: &DetectConfig) -> Vec<Box<dyn Detector>> {
    try_builtin(cfg).expect("valid detector settings")
}

/// [`builtin`], with an error for a section that does not fit its detector.
pub fn try_builtin(cfg: &DetectConfig) -> Result<Vec<Box<dyn Detector>>, registry::ConfigError> {
    let res = registry::Resources::default();
    let mut out = Vec::new();
    for r in DETECTORS {
        let d = (r.build)(&cfg.detectors, &res)?;
        if cfg.detectors.enabled(r.id) {
            out.push(d);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::contains_ci;

    /// Counts the ticks it gets.
    struct TickCounter(std::sync::Arc<std::sync::atomic::AtomicU32>);

    impl Detector for TickCounter {
        fn id(&self) -> &'static str {
            "tick_counter"
        }
        fn observe(&mut self, _cx: &EventCtx<'_>, _out: &mut Vec<AlertDraft>) {}
        fn tick(&mut self, _now: Timestamp, _out: &mut Vec<AlertDraft>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn ticks_for(step_ms: i64, events: i64) -> u32 {
        let n = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let mut engine = Engine::new(vec![Box::new(TickCounter(n.clone()))]);
        let mut out = Vec::new();
        for i in 1..=events {
            let ev = ApiEvent {
                ts: Timestamp::from_millis(1_700_000_000_000 + i * step_ms),
                path: "/x".into(),
                ..Default::default()
            };
            engine.observe(&ev, &mut out);
        }
        n.load(std::sync::atomic::Ordering::Relaxed)
    }

    #[test]
    fn ticks_follow_event_time_and_are_rationed_on_sparse_traffic() {
        // Dense: 100 events a second for 10 s -> one tick per second of event time.
        assert_eq!(ticks_for(10, 1_000), 10);
        // Sparse: two events a second -> a tick every TICK_MIN_EVENTS (64) events, not per
        // second (ticks at events 1, 65, ..., 577).
        assert_eq!(ticks_for(500, 640), 10);
        // One event every 2 s: 64 events would be past TICK_MAX_MILLIS, so every 30 events.
        assert_eq!(ticks_for(2_000, 640), 22);
        // Very sparse: one event every 5 min -> every event is past TICK_MAX_MILLIS.
        assert_eq!(ticks_for(300_000, 50), 50);
    }

    /// Flags every event whose query holds `attack`.
    struct FlagAttack;

    impl Detector for FlagAttack {
        fn id(&self) -> &'static str {
            "flag_attack"
        }
        fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
            if cx.ev.query.contains("attack") {
                out.push(
                    crate::common::alert(
                        "flag_attack",
                        "attack",
                        rampart_model::Severity::High,
                        rampart_model::AttackStage::Exploitation,
                        cx.ev.ts,
                    )
                    .build(),
                );
            }
        }
    }

    /// Requests another detector flags are not learned from.
    #[test]
    fn flagged_events_are_not_learned_from() {
        let mut engine = Engine::with_config(&DetectConfig::default(), vec![Box::new(FlagAttack)]);
        let mut out = Vec::new();
        for i in 0..10 {
            let ev = ApiEvent {
                ts: Timestamp::from_millis(1_700_000_000_000 + i * 1000),
                method: "GET".into(),
                path: "/search".into(),
                query: if i % 2 == 0 {
                    "q=shoes".into()
                } else {
                    "q=attack".into()
                },
                ..Default::default()
            };
            engine.observe(&ev, &mut out);
        }
        assert_eq!(out.len(), 5);
        let b = engine.baselines().expect("baselines");
        let ev = ApiEvent {
            method: "GET".into(),
            path: "/search".into(),
            ..Default::default()
        };
        let cx = EventCtx::new(&ev);
        let learned = b.get(cx.endpoint).expect("the endpoint is learned");
        assert_eq!(
            learned.samples, 5,
            "only the five clean events taught the baseline"
        );
    }

    /// The engine's remembered path facts give the same context as deriving it afresh, on a
    /// first sight, a repeat, after a slot was taken by another path, and for paths too long
    /// to remember or with more segments than a template keeps.
    #[test]
    fn path_facts_match_fresh_derivation() {
        let long = format!("/api/{}/42", "x".repeat(PATH_FACTS_MAX_LEN));
        let deep = format!("{}/7", "/a".repeat(40));
        let deep_words = "/a".repeat(40);
        let mut paths: Vec<String> = [
            "",
            "/",
            "/api/v2/products/865",
            "/api/v2/products",
            "/api/v1/auth/login",
            "/api/v2/admin/users/42/orders/9f1c2b3a4d5e6f70",
            "/invoices/12345.pdf",
            "/api/users/a@b.com",
            "/{id}/x",
        ]
        .iter()
        .map(|p| p.to_string())
        .collect();
        paths.extend([long, deep, deep_words]);
        // Enough distinct paths to reuse slots.
        paths.extend((0..3 * PATH_FACTS_SLOTS).map(|i| format!("/p{i}/login")));
        let mut facts = PathFacts::default();
        let mut buf = String::new();
        for round in 0..2 {
            for p in &paths {
                let ev = ApiEvent {
                    method: "GET".into(),
                    path: p.as_str().into(),
                    query: "user_id=9".into(),
                    ..Default::default()
                };
                let want = EventCtx::new(&ev);
                let got = facts.ctx(&ev, &mut buf);
                assert_eq!(got.template, want.template, "{p:?} round {round}");
                assert_eq!(got.endpoint, want.endpoint, "{p:?}");
                assert_eq!(got.id_value, want.id_value, "{p:?}");
                assert_eq!(got.id_hash, want.id_hash, "{p:?}");
                assert_eq!(got.login_like, want.login_like, "{p:?}");
                assert_eq!(got.admin_like, want.admin_like, "{p:?}");
            }
        }
    }

    /// Guards the one-pass word scan against the per-word substring search it replaced.
    #[test]
    fn path_words_match_substring_search() {
        let paths = [
            "",
            "/",
            "/api/v1/users/42",
            "/api/LOGIN",
            "/oauth2/Token",
            "/v1/sign-in/x",
            "/SignIn",
            "/sessions",
            "/ADMIN/users",
            "/x/actuator/health",
            "/internalish",
            "/api/auth/login/admin",
            "/a/superuser",
            "/PERMISSIONS/Roles",
            "/signi",
            "/sign-i",
            "/admi",
            "admin",
            "/configs",
            "/debu",
            "/api/v1/res12/search",
            "/api/v1/auth/login9",
            "/manage",
            "/system/author",
            "/tok",
        ];
        for p in paths {
            let want = (
                LOGIN_WORDS.iter().any(|w| contains_ci(p, w)),
                ADMIN_WORDS.iter().any(|w| contains_ci(p, w)),
            );
            assert_eq!(path_words(p), want, "{p:?}");
        }
    }
}
