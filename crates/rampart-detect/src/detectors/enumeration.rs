//! Enumeration detectors: endpoint spraying, id enumeration (single and distributed), BOLA.

use rampart_model::{AlertDraft, AttackStage, Severity, Timestamp};
use serde::{Deserialize, Serialize};

use crate::common::{alert, endpoint_key, EvidenceRing};
use crate::registry::Resources;
use crate::state::{combine, Footprint, Hll, KeyedState, OnlineStats};
use crate::{Detector, EventCtx};

/// A tumbling window with a distinct counter, fired at most once.
#[derive(Debug, Clone)]
struct Window {
    start: i64,
    n: u32,
    hits: u32,
    distinct: Hll,
    fired: bool,
    evidence: EvidenceRing,
}

impl Window {
    fn new(now: i64, p: u8) -> Self {
        Window {
            start: now,
            n: 0,
            hits: 0,
            distinct: Hll::new(p),
            fired: false,
            evidence: EvidenceRing::default(),
        }
    }
    /// Start a new window when `window_ms` has passed.
    fn roll(&mut self, now: i64, window_ms: i64) {
        if now - self.start >= window_ms {
            self.start = now;
            self.n = 0;
            self.hits = 0;
            self.distinct.clear();
            self.fired = false;
            self.evidence = EvidenceRing::default();
        }
    }
}

impl Footprint for Window {
    fn heap_bytes(&self) -> usize {
        self.distinct.heap_bytes() + self.evidence.events().len() * 512
    }
}

// ---------------------------------------------------------------------------------------

/// `endpoint_spray`: one IP probing many distinct endpoints that do not exist or refuse it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SprayConfig {
    /// Window, ms (one alert per IP per window).
    pub window_ms: i64,
    /// Distinct endpoints answered 4xx (not 429) within the window that fire.
    pub min_endpoints: u32,
    /// Most IPs tracked.
    pub max_keys: usize,
}

impl Default for SprayConfig {
    fn default() -> Self {
        SprayConfig {
            window_ms: 5 * 60_000,
            min_endpoints: 30,
            max_keys: 50_000,
        }
    }
}

/// The `endpoint_spray` detector.
pub struct EndpointSpray {
    cfg: SprayConfig,
    ips: KeyedState<Window>,
}

/// Build `endpoint_spray`.
pub fn endpoint_spray(c: SprayConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(EndpointSpray {
        ips: KeyedState::new(c.max_keys, c.window_ms * 2),
        cfg: c,
    })
}

impl Detector for EndpointSpray {
    fn id(&self) -> &'static str {
        "endpoint_spray"
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        if cx.ip == 0 || cx.status_class != 4 || cx.ev.status == 429 {
            return;
        }
        let now = cx.ev.ts.millis();
        let wms = self.cfg.window_ms;
        let w = self
            .ips
            .get_or_insert_with(cx.ip, now, || Window::new(now, 6));
        w.roll(now, wms);
        w.n += 1;
        if !w.distinct.insert_hash(cx.endpoint) || w.fired {
            return;
        }
        let d = w.distinct.estimate();
        if d >= f64::from(self.cfg.min_endpoints) / 2.0 && w.evidence.has_room() {
            w.evidence.push(cx.ev);
        }
        if d < f64::from(self.cfg.min_endpoints) {
            return;
        }
        w.fired = true;
        let ip = cx.ev.client_ip.map(|i| i.to_string()).unwrap_or_default();
        out.push(
            alert(
                "endpoint_spray",
                format!("Endpoint spraying from {ip}"),
                Severity::Medium,
                AttackStage::Recon,
                cx.ev.ts,
            )
            .description(format!(
                "{ip} requested about {d:.0} distinct endpoints that answered 4xx within {} \
                 minutes ({} refused calls). Walking many paths that do not exist is how \
                 scanners and attackers map an API before attacking it, often hunting for \
                 undocumented or legacy endpoints. Check which paths it tried, whether any \
                 answered 2xx, and block the source if it is not your own scanner.",
                wms / 60_000,
                w.n
            ))
            .mitre(&["T1595.003", "T1595"])
            .owasp("API9:2023")
            .actors(cx.ev)
            .evidence_all(w.evidence.events())
            .evidence(cx.ev)
            .first_seen(Timestamp::from_millis(w.start))
            .reason(
                "distinct_endpoints_4xx",
                d,
                Some(f64::from(self.cfg.min_endpoints)),
            )
            .build(),
        );
    }
    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.ips.tick(now.millis());
    }
    fn state_bytes(&self) -> usize {
        self.ips.approx_bytes_deep()
    }
}

// ---------------------------------------------------------------------------------------

/// `param_enumeration`: one IP walking many distinct values of an id on one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ParamEnumConfig {
    /// Window, ms (one alert per IP and endpoint per window).
    pub window_ms: i64,
    /// Distinct id values within the window that fire.
    pub min_ids: u32,
    /// Most IP x endpoint pairs tracked.
    pub max_keys: usize,
}

impl Default for ParamEnumConfig {
    fn default() -> Self {
        ParamEnumConfig {
            window_ms: 10 * 60_000,
            min_ids: 100,
            max_keys: 50_000,
        }
    }
}

/// The `param_enumeration` detector.
pub struct ParamEnum {
    cfg: ParamEnumConfig,
    pairs: KeyedState<Window>,
}

/// Build `param_enumeration`.
pub fn param_enumeration(c: ParamEnumConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(ParamEnum {
        pairs: KeyedState::new(c.max_keys, c.window_ms * 2),
        cfg: c,
    })
}

impl Detector for ParamEnum {
    fn id(&self) -> &'static str {
        "param_enumeration"
    }
    fn prefetches(&self) -> bool {
        true
    }

    fn prefetch(&self, cx: &EventCtx<'_>) {
        if cx.id_hash != 0 && cx.ip != 0 {
            self.pairs.prefetch(combine(cx.ip, cx.endpoint));
        }
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        if cx.id_hash == 0 || cx.ip == 0 {
            return;
        }
        let now = cx.ev.ts.millis();
        let wms = self.cfg.window_ms;
        let w = self
            .pairs
            .get_or_insert_with(combine(cx.ip, cx.endpoint), now, || Window::new(now, 6));
        w.roll(now, wms);
        w.n += 1;
        if cx.status_class == 2 {
            w.hits += 1;
        }
        if !w.distinct.insert_hash(cx.id_hash) || w.fired {
            return;
        }
        let d = w.distinct.estimate();
        let min = f64::from(self.cfg.min_ids);
        if d >= min / 2.0 && w.evidence.has_room() {
            w.evidence.push(cx.ev);
        }
        if d < min {
            return;
        }
        w.fired = true;
        let ip = cx.ev.client_ip.map(|i| i.to_string()).unwrap_or_default();
        let ep = endpoint_key(cx);
        let ok = f64::from(w.hits) / f64::from(w.n.max(1));
        out.push(
            alert(
                "param_enumeration",
                format!("Parameter enumeration on {ep} from {ip}"),
                if ok >= 0.5 {
                    Severity::High
                } else {
                    Severity::Medium
                },
                AttackStage::Recon,
                cx.ev.ts,
            )
            .description(format!(
                "{ip} requested about {d:.0} distinct object ids on {ep} within {} minutes \
                 ({} calls, {:.0}% answered 2xx). Walking ids is how attackers harvest records \
                 or discover which objects exist. Check whether the caller is entitled to those \
                 objects, what data the 2xx answers returned, and block or rate-limit it.",
                wms / 60_000,
                w.n,
                ok * 100.0
            ))
            .mitre(&["T1595", "T1087"])
            .owasp("API1:2023")
            .actors(cx.ev)
            .target(cx)
            .evidence_all(w.evidence.events())
            .evidence(cx.ev)
            .first_seen(Timestamp::from_millis(w.start))
            .reason("distinct_ids", d, Some(min))
            .reason("success_ratio", ok, None)
            .build(),
        );
    }
    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.pairs.tick(now.millis());
    }
    fn state_bytes(&self) -> usize {
        self.pairs.approx_bytes_deep()
    }
}

// ---------------------------------------------------------------------------------------

/// `distributed_param_enumeration`: many IPs together walking many ids of one endpoint, each
/// IP sending few requests, far beyond the endpoint's learned distinct ids per window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistributedEnumConfig {
    /// Window, ms (one alert per endpoint per window).
    pub window_ms: i64,
    /// Distinct ids within the window that fire (at least).
    pub min_ids: u32,
    /// Distinct IPs within the window needed.
    pub min_ips: u32,
    /// Mean requests per IP at most ("each IP few").
    pub max_per_ip: f64,
    /// Windows learned before it may fire.
    pub learn_windows: u64,
    /// Fire above this multiple of the learned distinct ids per window.
    pub factor: f64,
    /// Most endpoints tracked.
    pub max_keys: usize,
}

impl Default for DistributedEnumConfig {
    fn default() -> Self {
        DistributedEnumConfig {
            window_ms: 10 * 60_000,
            min_ids: 300,
            min_ips: 20,
            max_per_ip: 10.0,
            learn_windows: 3,
            factor: 5.0,
            max_keys: 5_000,
        }
    }
}

#[derive(Debug, Clone)]
struct EndpointWindow {
    w: Window,
    ips: Hll,
    history: OnlineStats,
}

impl Footprint for EndpointWindow {
    fn heap_bytes(&self) -> usize {
        self.w.heap_bytes() + self.ips.heap_bytes()
    }
}

/// The `distributed_param_enumeration` detector.
pub struct DistributedEnum {
    cfg: DistributedEnumConfig,
    eps: KeyedState<EndpointWindow>,
}

/// Build `distributed_param_enumeration`.
pub fn distributed_param_enumeration(c: DistributedEnumConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(DistributedEnum {
        eps: KeyedState::new(c.max_keys, 7 * 86_400_000),
        cfg: c,
    })
}

impl Detector for DistributedEnum {
    fn id(&self) -> &'static str {
        "distributed_param_enumeration"
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        if cx.id_hash == 0 {
            return;
        }
        let now = cx.ev.ts.millis();
        let wms = self.cfg.window_ms;
        let e = self
            .eps
            .get_or_insert_with(cx.endpoint, now, || EndpointWindow {
                w: Window::new(now, 10),
                ips: Hll::new(8),
                history: OnlineStats::default(),
            });
        if now - e.w.start >= wms {
            if !e.w.fired {
                // Only windows that did not fire teach the baseline.
                e.history.push(e.w.distinct.estimate());
            }
            e.w.roll(now, wms);
            e.ips.clear();
        }
        e.w.n += 1;
        e.ips.insert_hash(cx.ip);
        if !e.w.distinct.insert_hash(cx.id_hash) || e.w.fired {
            return;
        }
        if e.history.count() < self.cfg.learn_windows {
            return;
        }
        let d = e.w.distinct.estimate();
        let threshold = f64::from(self.cfg.min_ids)
            .max(self.cfg.factor * e.history.mean() + 3.0 * e.history.std_dev());
        if d < threshold {
            return;
        }
        let ips = e.ips.estimate();
        let per_ip = f64::from(e.w.n) / ips.max(1.0);
        if ips < f64::from(self.cfg.min_ips) || per_ip > self.cfg.max_per_ip {
            return;
        }
        e.w.fired = true;
        let ep = endpoint_key(cx);
        out.push(
            alert(
                "distributed_param_enumeration",
                format!("Distributed enumeration of {ep}"),
                Severity::High,
                AttackStage::Recon,
                cx.ev.ts,
            )
            .description(format!(
                "About {ips:.0} client IPs together requested about {d:.0} distinct object ids \
                 on {ep} within {} minutes, each sending only {per_ip:.1} requests on average; \
                 this endpoint normally sees about {:.0} distinct ids per window. Spreading an \
                 enumeration over many addresses (botnets, proxies) evades per-IP limits. Check \
                 the sources' networks and user agents, what the answers returned, and consider \
                 per-object or per-account rate limits.",
                wms / 60_000,
                e.history.mean()
            ))
            .mitre(&["T1595", "T1087"])
            .owasp("API1:2023")
            .target(cx)
            .evidence(cx.ev)
            .first_seen(Timestamp::from_millis(e.w.start))
            .reason("distinct_ids", d, Some(threshold))
            .reason("distinct_ips", ips, Some(f64::from(self.cfg.min_ips)))
            .reason("requests_per_ip", per_ip, Some(self.cfg.max_per_ip))
            .build(),
        );
    }
    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.eps.tick(now.millis());
    }
    fn state_bytes(&self) -> usize {
        self.eps.approx_bytes_deep()
    }
}

// ---------------------------------------------------------------------------------------

/// `bola`: one principal (or IP) successfully reading many distinct objects of a templated
/// endpoint: broken object-level authorization being exploited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BolaConfig {
    /// Window, ms (one alert per caller and endpoint per window).
    pub window_ms: i64,
    /// Distinct ids answered 2xx within the window that fire.
    pub min_ids: u32,
    /// Most caller x endpoint pairs tracked.
    pub max_keys: usize,
}

impl Default for BolaConfig {
    fn default() -> Self {
        BolaConfig {
            window_ms: 30 * 60_000,
            min_ids: 50,
            max_keys: 50_000,
        }
    }
}

/// The `bola` detector.
pub struct Bola {
    cfg: BolaConfig,
    pairs: KeyedState<Window>,
}

/// Build `bola`.
pub fn bola(c: BolaConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(Bola {
        pairs: KeyedState::new(c.max_keys, c.window_ms * 2),
        cfg: c,
    })
}

impl Detector for Bola {
    fn id(&self) -> &'static str {
        "bola"
    }
    fn prefetches(&self) -> bool {
        true
    }

    fn prefetch(&self, cx: &EventCtx<'_>) {
        if cx.id_hash != 0 && cx.actor != 0 && cx.status_class == 2 {
            self.pairs.prefetch(combine(cx.actor, cx.endpoint));
        }
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        if cx.id_hash == 0 || cx.actor == 0 || cx.status_class != 2 {
            return;
        }
        let now = cx.ev.ts.millis();
        let wms = self.cfg.window_ms;
        let w = self
            .pairs
            .get_or_insert_with(combine(cx.actor, cx.endpoint), now, || Window::new(now, 6));
        w.roll(now, wms);
        w.n += 1;
        if cx.ev.response_body.as_deref().is_some_and(|b| b.len() > 2) {
            w.hits += 1;
        }
        if !w.distinct.insert_hash(cx.id_hash) || w.fired {
            return;
        }
        let d = w.distinct.estimate();
        let min = f64::from(self.cfg.min_ids);
        if d >= min / 2.0 && w.evidence.has_room() {
            w.evidence.push(cx.ev);
        }
        if d < min {
            return;
        }
        w.fired = true;
        let who = cx
            .ev
            .principal
            .as_deref()
            .map(str::to_string)
            .or_else(|| cx.ev.api_key_id.clone())
            .or_else(|| cx.ev.client_ip.map(|i| i.to_string()))
            .unwrap_or_default();
        let ep = endpoint_key(cx);
        out.push(
            alert(
                "bola",
                format!("Possible BOLA: {who} read {d:.0} objects of {ep}"),
                if d >= 5.0 * min {
                    Severity::Critical
                } else {
                    Severity::High
                },
                AttackStage::Exploitation,
                cx.ev.ts,
            )
            .description(format!(
                "{who} received successful (2xx) answers for about {d:.0} distinct object ids \
                 on {ep} within {} minutes. A single caller reading that many objects usually \
                 means object-level authorization is missing and ids are being walked to pull \
                 other users' records. Verify whether these objects belong to the caller, \
                 review what was returned, and suspend the credential if not.",
                wms / 60_000
            ))
            .mitre(&["T1530", "T1213"])
            .owasp("API1:2023")
            .actors(cx.ev)
            .target(cx)
            .evidence_all(w.evidence.events())
            .evidence(cx.ev)
            .first_seen(Timestamp::from_millis(w.start))
            .reason("distinct_ids_2xx", d, Some(min))
            .reason("answers_with_body", f64::from(w.hits), None)
            .build(),
        );
    }
    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.pairs.tick(now.millis());
    }
    fn state_bytes(&self) -> usize {
        self.pairs.approx_bytes_deep()
    }
}
