//! Volume detectors: traffic spikes, large bodies, latency, error bursts, resource abuse.

use rampart_model::{AlertDraft, AttackStage, Entity, EntityKind, EntityRole, Severity};
use serde::{Deserialize, Serialize};

use crate::common::{alert, endpoint_key, Cooldown};
use crate::registry::Resources;
use crate::state::{combine, hash_bytes, KeyedState, OnlineStats, SlidingCounter};
use crate::{Detector, EventCtx};

fn related_ip(cx: &EventCtx<'_>) -> Option<Entity> {
    cx.ev
        .client_ip
        .map(|ip| Entity::new(EntityKind::Ip, ip.to_string(), EntityRole::Related))
}

// ---------------------------------------------------------------------------------------

/// `traffic_spike_endpoint`: requests per minute on an endpoint far above its baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpikeEndpointConfig {
    /// Seconds after an alert during which the same key raises no other.
    pub cooldown_secs: i64,
    /// Never fire below this many requests in a minute.
    pub min_rpm: u32,
    /// Fire above this multiple of the learned mean rate...
    pub factor: f64,
    /// ...and this many standard deviations above it.
    pub z: f64,
}

impl Default for SpikeEndpointConfig {
    fn default() -> Self {
        SpikeEndpointConfig {
            cooldown_secs: 600,
            min_rpm: 300,
            factor: 10.0,
            z: 6.0,
        }
    }
}

/// The `traffic_spike_endpoint` detector.
pub struct SpikeEndpoint {
    cfg: SpikeEndpointConfig,
    cooldown: Cooldown,
}

/// Build `traffic_spike_endpoint`.
pub fn spike_endpoint(c: SpikeEndpointConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(SpikeEndpoint {
        cooldown: Cooldown::secs(c.cooldown_secs, 10_000),
        cfg: c,
    })
}

impl Detector for SpikeEndpoint {
    fn id(&self) -> &'static str {
        "traffic_spike_endpoint"
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        let Some(b) = cx.base.filter(|b| b.learned) else {
            return;
        };
        let now = cx.ev.ts.millis();
        let cur = f64::from(b.current_minute(now) + 1);
        let threshold = f64::from(self.cfg.min_rpm)
            .max(self.cfg.factor * b.rate.mean())
            .max(b.rate.mean() + self.cfg.z * b.rate.std_dev());
        if cur < threshold || !self.cooldown.ready(cx.endpoint, now) {
            return;
        }
        let ep = endpoint_key(cx);
        let mut a = alert(
            self.id(),
            format!("Traffic spike on {ep}"),
            Severity::Medium,
            AttackStage::Impact,
            cx.ev.ts,
        )
        .description(format!(
            "{ep} received {cur:.0} requests this minute against a learned mean of {:.1} per \
             minute. A sudden flood can be a denial-of-service attempt, a scraping run or a \
             misbehaving client. Check which clients drive the volume (top IPs, keys), whether \
             errors or latency rose with it, and rate-limit the sources if they are not \
             expected.",
            b.rate.mean()
        ))
        .mitre(&["T1499"])
        .owasp("API4:2023")
        .target(cx)
        .evidence(cx.ev)
        .reason("requests_per_min", cur, Some(threshold))
        .reason("baseline_mean_per_min", b.rate.mean(), None);
        if let Some(e) = related_ip(cx) {
            a = a.entity(e);
        }
        out.push(a.build());
    }
    fn tick(&mut self, now: rampart_model::Timestamp, _out: &mut Vec<AlertDraft>) {
        self.cooldown.tick(now.millis());
    }
    fn state_bytes(&self) -> usize {
        self.cooldown.approx_bytes()
    }
}

// ---------------------------------------------------------------------------------------

/// `traffic_spike_ip`: one client's requests per minute on one endpoint far above that
/// client's own learned rate there (and an absolute floor).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpikeIpConfig {
    /// Seconds after an alert during which the same key raises no other.
    pub cooldown_secs: i64,
    /// Never fire below this many requests from one IP to one endpoint in a minute.
    pub min_rpm: u32,
    /// Fire above this multiple of the pair's learned mean rate.
    pub factor: f64,
    /// Active minutes a pair learns from before its own baseline counts.
    pub learn_minutes: u64,
    /// Most IP x endpoint pairs tracked.
    pub max_keys: usize,
}

impl Default for SpikeIpConfig {
    fn default() -> Self {
        SpikeIpConfig {
            cooldown_secs: 600,
            min_rpm: 300,
            factor: 10.0,
            learn_minutes: 60,
            max_keys: 100_000,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct PairRate {
    minute: i64,
    count: u32,
    stats: OnlineStats,
}

/// The `traffic_spike_ip` detector.
pub struct SpikeIp {
    cfg: SpikeIpConfig,
    pairs: KeyedState<PairRate>,
    cooldown: Cooldown,
}

/// Build `traffic_spike_ip`.
pub fn spike_ip(c: SpikeIpConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(SpikeIp {
        pairs: KeyedState::new(c.max_keys, 2 * 3_600_000),
        cooldown: Cooldown::secs(c.cooldown_secs, 10_000),
        cfg: c,
    })
}

impl Detector for SpikeIp {
    fn id(&self) -> &'static str {
        "traffic_spike_ip"
    }
    fn prefetches(&self) -> bool {
        true
    }

    fn prefetch(&self, cx: &EventCtx<'_>) {
        if cx.ip != 0 {
            self.pairs.prefetch(combine(cx.ip, cx.endpoint));
        }
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        if cx.ip == 0 {
            return;
        }
        let now = cx.ev.ts.millis();
        let minute = now.div_euclid(60_000);
        let key = combine(cx.ip, cx.endpoint);
        let p = self.pairs.get_or_insert_with(key, now, || PairRate {
            minute,
            ..Default::default()
        });
        if minute > p.minute {
            if p.stats.count() < self.cfg.learn_minutes {
                p.stats.push(f64::from(p.count));
            }
            p.minute = minute;
            p.count = 0;
        }
        p.count = p.count.saturating_add(1);
        let cur = f64::from(p.count);
        if cur < f64::from(self.cfg.min_rpm) {
            return;
        }
        let own = if p.stats.count() >= 5 {
            self.cfg.factor * p.stats.mean()
        } else {
            0.0
        };
        let threshold = f64::from(self.cfg.min_rpm).max(own);
        let mean = p.stats.mean();
        if cur < threshold || !self.cooldown.ready(key, now) {
            return;
        }
        let ep = endpoint_key(cx);
        let ip = cx.ev.client_ip.map(|i| i.to_string()).unwrap_or_default();
        out.push(
            alert(
                self.id(),
                format!("Request flood from {ip} on {ep}"),
                Severity::Medium,
                AttackStage::Impact,
                cx.ev.ts,
            )
            .description(format!(
                "{ip} sent {cur:.0} requests to {ep} within one minute (its usual rate there: \
                 {mean:.1} per minute). One client flooding an endpoint is typical of scripted \
                 abuse: scraping, denial of service or automated attacks. Check what the client \
                 requested, whether the responses succeeded, and rate-limit or block it if it is \
                 not a known integration."
            ))
            .mitre(&["T1499"])
            .owasp("API4:2023")
            .actors(cx.ev)
            .target(cx)
            .evidence(cx.ev)
            .reason("requests_per_min", cur, Some(threshold))
            .build(),
        );
    }
    fn tick(&mut self, now: rampart_model::Timestamp, _out: &mut Vec<AlertDraft>) {
        self.pairs.tick(now.millis());
        self.cooldown.tick(now.millis());
    }
    fn state_bytes(&self) -> usize {
        self.pairs.approx_bytes() + self.cooldown.approx_bytes()
    }
}

// ---------------------------------------------------------------------------------------

/// `large_response` / `large_request`: a body far larger than the endpoint's learned sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LargeSizeConfig {
    /// Seconds after an alert during which the same key raises no other.
    pub cooldown_secs: i64,
    /// Never fire below this many bytes.
    pub min_bytes: u64,
    /// Fire above this multiple of the learned mean...
    pub factor: f64,
    /// ...and this many standard deviations above it.
    pub z: f64,
}

impl Default for LargeSizeConfig {
    fn default() -> Self {
        LargeSizeConfig {
            cooldown_secs: 600,
            min_bytes: 1_000_000,
            factor: 10.0,
            z: 6.0,
        }
    }
}

/// The `large_response` and `large_request` detectors.
pub struct LargeSize {
    cfg: LargeSizeConfig,
    response: bool,
    cooldown: Cooldown,
}

/// Build `large_response`.
pub fn large_response(c: LargeSizeConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(LargeSize {
        cooldown: Cooldown::secs(c.cooldown_secs, 10_000),
        cfg: c,
        response: true,
    })
}

/// Build `large_request`.
pub fn large_request(c: LargeSizeConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(LargeSize {
        cooldown: Cooldown::secs(c.cooldown_secs, 10_000),
        cfg: c,
        response: false,
    })
}

impl Detector for LargeSize {
    fn id(&self) -> &'static str {
        if self.response {
            "large_response"
        } else {
            "large_request"
        }
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        let size = if self.response {
            cx.ev.response_bytes
        } else {
            cx.ev.request_bytes
        };
        let Some(size) = size.filter(|s| *s >= self.cfg.min_bytes) else {
            return;
        };
        let Some(b) = cx.base.filter(|b| b.learned) else {
            return;
        };
        let stats = if self.response {
            &b.resp_bytes
        } else {
            &b.req_bytes
        };
        if stats.count() < 30 {
            return;
        }
        let threshold = (self.cfg.min_bytes as f64)
            .max(self.cfg.factor * stats.mean())
            .max(stats.mean() + self.cfg.z * stats.std_dev());
        let now = cx.ev.ts.millis();
        if (size as f64) < threshold || !self.cooldown.ready(combine(cx.ip, cx.endpoint), now) {
            return;
        }
        let ep = endpoint_key(cx);
        let a = if self.response {
            alert(
                self.id(),
                format!("Unusually large response from {ep}"),
                if cx.status_class == 2 {
                    Severity::High
                } else {
                    Severity::Medium
                },
                AttackStage::DataAccess,
                cx.ev.ts,
            )
            .description(format!(
                "{ep} returned {size} bytes, against a learned mean of {:.0} bytes. An \
                 oversized response often means bulk data left the API: a filter bypass, a \
                 missing page limit or excessive data exposure. Check the request's parameters, \
                 who the caller is and whether they are entitled to that much data.",
                stats.mean()
            ))
            .mitre(&["T1530", "T1213"])
            .owasp("API3:2023")
        } else {
            alert(
                self.id(),
                format!("Unusually large request to {ep}"),
                Severity::Medium,
                AttackStage::Exploitation,
                cx.ev.ts,
            )
            .description(format!(
                "A {size}-byte request body was sent to {ep}, against a learned mean of {:.0} \
                 bytes. Oversized bodies are used to exhaust parsers and memory or to smuggle \
                 payloads. Check the body, the response status and whether the client repeats it.",
                stats.mean()
            ))
            .mitre(&["T1499", "T1190"])
            .owasp("API4:2023")
        };
        out.push(
            a.actors(cx.ev)
                .target(cx)
                .evidence(cx.ev)
                .reason("bytes", size as f64, Some(threshold))
                .reason("baseline_mean_bytes", stats.mean(), None)
                .build(),
        );
    }
    fn tick(&mut self, now: rampart_model::Timestamp, _out: &mut Vec<AlertDraft>) {
        self.cooldown.tick(now.millis());
    }
    fn state_bytes(&self) -> usize {
        self.cooldown.approx_bytes()
    }
}

// ---------------------------------------------------------------------------------------

/// `latency_spike`: many requests on one endpoint far slower than its learned latency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LatencyConfig {
    /// Seconds after an alert during which the same key raises no other.
    pub cooldown_secs: i64,
    /// A request is slow above this many microseconds at least...
    pub min_latency_us: u64,
    /// ...and this multiple of the learned mean...
    pub factor: f64,
    /// ...and this many standard deviations above it.
    pub z: f64,
    /// Slow requests within `window_ms` that make a spike.
    pub min_slow: u32,
    /// Window, ms.
    pub window_ms: i64,
}

impl Default for LatencyConfig {
    fn default() -> Self {
        LatencyConfig {
            cooldown_secs: 600,
            min_latency_us: 1_000_000,
            factor: 5.0,
            z: 6.0,
            min_slow: 10,
            window_ms: 5 * 60_000,
        }
    }
}

/// The `latency_spike` detector.
pub struct LatencySpike {
    cfg: LatencyConfig,
    slow: KeyedState<SlidingCounter>,
    cooldown: Cooldown,
}

/// Build `latency_spike`.
pub fn latency_spike(c: LatencyConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(LatencySpike {
        slow: KeyedState::new(10_000, c.window_ms * 2),
        cooldown: Cooldown::secs(c.cooldown_secs, 10_000),
        cfg: c,
    })
}

impl Detector for LatencySpike {
    fn id(&self) -> &'static str {
        "latency_spike"
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        let Some(lat) = cx.ev.latency_us.filter(|l| *l >= self.cfg.min_latency_us) else {
            return;
        };
        let Some(b) = cx.base.filter(|b| b.learned && b.latency_us.count() >= 30) else {
            return;
        };
        let s = &b.latency_us;
        let threshold = (self.cfg.min_latency_us as f64)
            .max(self.cfg.factor * s.mean())
            .max(s.mean() + self.cfg.z * s.std_dev());
        if (lat as f64) < threshold {
            return;
        }
        let now = cx.ev.ts.millis();
        let w = self.cfg.window_ms;
        let c = self
            .slow
            .get_or_insert_with(cx.endpoint, now, || SlidingCounter::new(w));
        c.add(now, 1);
        let n = c.count(now);
        if n < self.cfg.min_slow || !self.cooldown.ready(cx.endpoint, now) {
            return;
        }
        let ep = endpoint_key(cx);
        let mut a = alert(
            self.id(),
            format!("Latency spike on {ep}"),
            Severity::Low,
            AttackStage::Impact,
            cx.ev.ts,
        )
        .description(format!(
            "{n} requests to {ep} took over {:.0} ms in the last {} s (learned mean {:.0} ms). \
             Sudden slowness can come from expensive queries an attacker found (large pages, \
             wildcard searches, injection probes) or resource exhaustion. Check the slow \
             requests' parameters and callers, and the backend's health.",
            threshold / 1000.0,
            w / 1000,
            s.mean() / 1000.0
        ))
        .mitre(&["T1499"])
        .owasp("API4:2023")
        .target(cx)
        .evidence(cx.ev)
        .reason(
            "slow_requests",
            f64::from(n),
            Some(f64::from(self.cfg.min_slow)),
        )
        .reason("latency_us", lat as f64, Some(threshold));
        if let Some(e) = related_ip(cx) {
            a = a.entity(e);
        }
        out.push(a.build());
    }
    fn tick(&mut self, now: rampart_model::Timestamp, _out: &mut Vec<AlertDraft>) {
        self.slow.tick(now.millis());
        self.cooldown.tick(now.millis());
    }
    fn state_bytes(&self) -> usize {
        self.slow.approx_bytes() + self.cooldown.approx_bytes()
    }
}

// ---------------------------------------------------------------------------------------

/// `error_burst`: a burst of 5xx answers on one endpoint, far above its learned error share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ErrorBurstConfig {
    /// Seconds after an alert during which the same key raises no other.
    pub cooldown_secs: i64,
    /// 5xx answers within `window_ms` that make a burst.
    pub min_errors: u32,
    /// Window, ms.
    pub window_ms: i64,
    /// Share of the minute's calls that must have failed.
    pub min_ratio: f64,
    /// ...and this multiple of the learned error share.
    pub factor: f64,
}

impl Default for ErrorBurstConfig {
    fn default() -> Self {
        ErrorBurstConfig {
            cooldown_secs: 600,
            min_errors: 20,
            window_ms: 60_000,
            min_ratio: 0.3,
            factor: 5.0,
        }
    }
}

/// The `error_burst` detector.
pub struct ErrorBurst {
    cfg: ErrorBurstConfig,
    errors: KeyedState<SlidingCounter>,
    cooldown: Cooldown,
}

/// Build `error_burst`.
pub fn error_burst(c: ErrorBurstConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(ErrorBurst {
        errors: KeyedState::new(10_000, c.window_ms * 2),
        cooldown: Cooldown::secs(c.cooldown_secs, 10_000),
        cfg: c,
    })
}

impl Detector for ErrorBurst {
    fn id(&self) -> &'static str {
        "error_burst"
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        if cx.status_class != 5 {
            return;
        }
        let Some(b) = cx.base.filter(|b| b.learned) else {
            return;
        };
        let now = cx.ev.ts.millis();
        let w = self.cfg.window_ms;
        let c = self
            .errors
            .get_or_insert_with(cx.endpoint, now, || SlidingCounter::new(w));
        c.add(now, 1);
        let n = c.count(now);
        if n < self.cfg.min_errors {
            return;
        }
        let total = (b.current_minute(now) + 1).max(n);
        let ratio = f64::from(n) / f64::from(total);
        let need = self.cfg.min_ratio.max(self.cfg.factor * b.error_fraction());
        if ratio < need || !self.cooldown.ready(cx.endpoint, now) {
            return;
        }
        let ep = endpoint_key(cx);
        let mut a = alert(
            self.id(),
            format!("Burst of server errors on {ep}"),
            Severity::Medium,
            AttackStage::Exploitation,
            cx.ev.ts,
        )
        .description(format!(
            "{ep} answered {n} requests with 5xx errors in the last {} s ({:.0}% of its \
             calls; learned error share {:.2}%). Error bursts follow malformed-input probing, \
             injection attempts and crashes, and verbose errors can leak stack traces or \
             configuration. Check the failing requests and response bodies, the callers, and \
             the backend's logs.",
            w / 1000,
            ratio * 100.0,
            b.error_fraction() * 100.0
        ))
        .mitre(&["T1190", "T1499"])
        .owasp("API8:2023")
        .target(cx)
        .evidence(cx.ev)
        .reason(
            "errors_5xx",
            f64::from(n),
            Some(f64::from(self.cfg.min_errors)),
        )
        .reason("error_ratio", ratio, Some(need));
        if let Some(e) = related_ip(cx) {
            a = a.entity(e);
        }
        out.push(a.build());
    }
    fn tick(&mut self, now: rampart_model::Timestamp, _out: &mut Vec<AlertDraft>) {
        self.errors.tick(now.millis());
        self.cooldown.tick(now.millis());
    }
    fn state_bytes(&self) -> usize {
        self.errors.approx_bytes() + self.cooldown.approx_bytes()
    }
}

// ---------------------------------------------------------------------------------------

/// Query parameters that set a page or result size.
pub const PAGE_SIZE_PARAMS: &[&str] = &[
    "limit",
    "per_page",
    "perpage",
    "page_size",
    "pagesize",
    "size",
    "count",
    "max",
    "top",
    "$top",
    "first",
    "take",
    "max_results",
    "maxresults",
    "rows",
    "batch_size",
];

/// `resource_consumption`: a huge page size (`limit=100000`), far above anything learned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResourceConfig {
    /// Seconds after an alert during which the same key raises no other.
    pub cooldown_secs: i64,
    /// Page sizes at or above this fire (when not learned as normal).
    pub min_page_size: u64,
    /// Fire only above this multiple of the largest value learned for the parameter.
    pub factor: u64,
}

impl Default for ResourceConfig {
    fn default() -> Self {
        ResourceConfig {
            cooldown_secs: 600,
            min_page_size: 10_000,
            factor: 10,
        }
    }
}

/// The `resource_consumption` detector.
pub struct Resource {
    cfg: ResourceConfig,
    cooldown: Cooldown,
}

/// Build `resource_consumption`.
pub fn resource_consumption(c: ResourceConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(Resource {
        cooldown: Cooldown::secs(c.cooldown_secs, 10_000),
        cfg: c,
    })
}

impl Detector for Resource {
    fn id(&self) -> &'static str {
        "resource_consumption"
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        if cx.ev.query.is_empty() {
            return;
        }
        for (k, v) in cx.ev.query_params() {
            if !PAGE_SIZE_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(k)) {
                continue;
            }
            let Ok(n) = v.parse::<u64>() else {
                continue;
            };
            if n < self.cfg.min_page_size {
                continue;
            }
            let learned_max = cx
                .base
                .and_then(|b| b.param(hash_bytes(k.as_bytes())))
                .map_or(0, |p| p.max_int);
            let threshold = self
                .cfg
                .min_page_size
                .max(learned_max.saturating_mul(self.cfg.factor));
            let now = cx.ev.ts.millis();
            if n < threshold || !self.cooldown.ready(combine(cx.ip, cx.endpoint), now) {
                return;
            }
            let ep = endpoint_key(cx);
            out.push(
                alert(
                    self.id(),
                    format!("Oversized page requested from {ep}"),
                    if cx.status_class == 2 {
                        Severity::Medium
                    } else {
                        Severity::Low
                    },
                    AttackStage::Impact,
                    cx.ev.ts,
                )
                .description(format!(
                    "A client asked {ep} for {k}={n} items in one call (largest learned value: \
                     {learned_max}). Unbounded page sizes let one request pull a whole table or \
                     tie up the backend. Check whether the API enforced a cap (response size, \
                     status), who asked, and add a server-side maximum."
                ))
                .mitre(&["T1499", "T1530"])
                .owasp("API4:2023")
                .actors(cx.ev)
                .target(cx)
                .evidence(cx.ev)
                .reason("page_size", n as f64, Some(threshold as f64))
                .build(),
            );
            return;
        }
    }
    fn tick(&mut self, now: rampart_model::Timestamp, _out: &mut Vec<AlertDraft>) {
        self.cooldown.tick(now.millis());
    }
    fn state_bytes(&self) -> usize {
        self.cooldown.approx_bytes()
    }
}
