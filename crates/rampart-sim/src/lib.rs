//! Rampart's traffic simulator: a benign population with daily rhythms plus labelled attack
//! scenarios (one per detector id), as [`ApiEvent`]s in event-time order, encodable in any
//! supported log format, with a ground-truth [`Label`] per event and an [`evaluate`]
//! scorer for the alerts detectors raise on it.
//!
//! **Pure: no file, network or clock access.** Output goes to the iterator or to a `Write`
//! the caller passes; time comes from [`SimConfig::start`].

pub mod api;
mod benign;
mod bodies;
pub mod encode;
pub mod eval;
mod rng;
pub mod scenario;
mod text;

use std::iter::Peekable;
use std::net::IpAddr;

use rampart_model::{ApiEvent, Timestamp};

pub use api::ApiSpec;
pub use encode::{encode, OutputFormat};
pub use eval::{
    evaluate, evaluate_summary, label_line, read_labels, write_labels, EvalReport, LabelSummary,
    ScenarioScore,
};
pub use scenario::{Scenario, THREAT_INTEL_IPS, TOR_EXITS};

/// Errors of the simulator crate.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// An output format name that is not supported.
    #[error("unknown output format {0:?}")]
    UnknownFormat(String),
    /// A scenario id that is not supported.
    #[error("unknown scenario {0:?}")]
    UnknownScenario(String),
    /// A label line that could not be parsed.
    #[error("invalid label line {line}: {reason}")]
    InvalidLabel {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// Reading labels failed.
    #[error("reading labels: {0}")]
    Io(#[from] std::io::Error),
}

/// One attack scenario to run.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioConfig {
    /// Which attack.
    pub kind: Scenario,
    /// Intensity: multiplies the scenario's default event count (1.0 = default).
    pub strength: f64,
    /// When it starts, as a fraction of the timeline (0.0 = start, 1.0 = end).
    pub at_fraction: f64,
}

impl ScenarioConfig {
    /// Every scenario at strength 1.0, spread over 62%..95% of the timeline (after a 60%
    /// warm-up so baselines are learned first).
    pub fn all_default() -> Vec<ScenarioConfig> {
        let n = Scenario::ALL.len();
        Scenario::ALL
            .iter()
            .enumerate()
            .map(|(i, &kind)| ScenarioConfig {
                kind,
                strength: 1.0,
                at_fraction: 0.62 + 0.33 * i as f64 / n as f64,
            })
            .collect()
    }
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// PRNG seed: the same config and seed give the same events.
    pub seed: u64,
    /// Start of the timeline (event time).
    pub start: Timestamp,
    /// Length of the timeline, ms (default 7 days).
    pub duration_ms: i64,
    /// Total events to emit, benign plus attack (exact unless attacks alone exceed it).
    pub events: u64,
    /// The API the traffic calls. Attack scenarios use the default shop API's paths.
    pub api: ApiSpec,
    /// Size of the benign population.
    pub users: u32,
    /// Attacks to run.
    pub scenarios: Vec<ScenarioConfig>,
    /// Emit request and response bodies (only the `rampart` format writes them).
    pub bodies: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            // 2026-01-05T00:00:00Z, a Monday.
            start: Timestamp::from_secs(1_767_571_200),
            duration_ms: 7 * 86_400_000,
            events: 1_000_000,
            api: ApiSpec::shop(),
            users: 2_000,
            scenarios: ScenarioConfig::all_default(),
            bodies: false,
        }
    }
}

/// Ground truth for one emitted event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label {
    /// 0-based position of the event in the stream.
    pub index: u64,
    /// The scenario id for attack events, `None` for benign ones.
    pub scenario: Option<&'static str>,
    /// The attacking address for attack events.
    pub attacker: Option<IpAddr>,
}

/// The simulator: an iterator of `(event, label)` in event-time order.
pub struct Simulator {
    users: Vec<benign::User>,
    benign: benign::Benign,
    pending: Option<ApiEvent<'static>>,
    attacks: Peekable<std::vec::IntoIter<(ApiEvent<'static>, &'static str)>>,
    index: u64,
}

impl Simulator {
    /// Plan a simulation. Attack events are generated up front (they are few); benign
    /// events are generated lazily, so memory stays bounded whatever `events` is.
    pub fn new(cfg: SimConfig) -> Self {
        let duration = cfg.duration_ms.max(1);
        let users = benign::population(cfg.seed, cfg.users, cfg.start);
        let mut attacks: Vec<(ApiEvent<'static>, &'static str)> = Vec::new();
        for (j, sc) in cfg.scenarios.iter().enumerate() {
            let frac = if sc.at_fraction.is_finite() {
                sc.at_fraction.clamp(0.0, 1.0)
            } else {
                0.6
            };
            let mut ctx = scenario::Ctx {
                rng: rng::Rng::new(cfg.seed, 0xa77a_c000 + j as u64),
                t: cfg.start.millis() + (duration as f64 * frac) as i64,
                n: scenario::scaled(sc.kind, sc.strength),
                ip: scenario::attacker_ip(sc.kind, j),
                pool: scenario::attacker_pool(j),
                users: &users,
                host: cfg.api.host,
                bodies: cfg.bodies,
                ua: "",
                out: Vec::new(),
            };
            (scenario::def(sc.kind).gen)(&mut ctx);
            let id = sc.kind.id();
            attacks.extend(ctx.out.into_iter().map(|e| (e, id)));
        }
        attacks.sort_by_key(|(e, _)| e.ts);
        let n_benign = cfg.events.saturating_sub(attacks.len() as u64);
        let benign = benign::Benign::new(
            cfg.seed, &users, cfg.api, cfg.start, duration, n_benign, cfg.bodies,
        );
        Simulator {
            users,
            benign,
            pending: None,
            attacks: attacks.into_iter().peekable(),
            index: 0,
        }
    }
}

impl Iterator for Simulator {
    type Item = (ApiEvent<'static>, Label);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pending.is_none() {
            self.pending = self.benign.next_event(&self.users);
        }
        let take_attack = match (&self.pending, self.attacks.peek()) {
            (Some(b), Some((a, _))) => a.ts < b.ts,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        let index = self.index;
        let item = if take_attack {
            let (ev, id) = self.attacks.next()?;
            let label = Label {
                index,
                scenario: Some(id),
                attacker: ev.client_ip,
            };
            (ev, label)
        } else {
            let ev = self.pending.take()?;
            let label = Label {
                index,
                scenario: None,
                attacker: None,
            };
            (ev, label)
        };
        self.index += 1;
        Some(item)
    }
}
