//! What every detector needs: the alert builder, per-key cooldowns, allow-lists and
//! suppressions.

use std::net::IpAddr;

use ipnet::IpNet;
use rampart_model::{
    AlertDraft, AlertSource, ApiEvent, AttackStage, Entity, EntityKind, EntityRole, Reason,
    Severity, Timestamp, MAX_EVIDENCE,
};
use serde::{Deserialize, Serialize};

use crate::state::KeyedState;
use crate::EventCtx;

/// Builds an [`AlertDraft`] step by step; evidence is bounded by [`MAX_EVIDENCE`].
#[derive(Debug, Clone)]
pub struct AlertBuilder {
    draft: AlertDraft,
}

/// Start an alert from detector `id` about the event in `cx` (its time is first and last seen).
pub fn alert(
    id: &'static str,
    title: impl Into<String>,
    severity: Severity,
    stage: AttackStage,
    ts: Timestamp,
) -> AlertBuilder {
    AlertBuilder {
        draft: AlertDraft {
            detector: id.to_string(),
            title: title.into(),
            description: String::new(),
            severity,
            mitre: Vec::new(),
            owasp: None,
            entities: Vec::new(),
            evidence: Vec::new(),
            first_seen: ts,
            last_seen: ts,
            reasons: Vec::new(),
            source: AlertSource::Rampart,
            stage,
            incident_hint: None,
        },
    }
}

/// The endpoint entity value of an event: `METHOD /template`.
pub fn endpoint_key(cx: &EventCtx<'_>) -> String {
    format!("{} {}", cx.ev.method, cx.template)
}

impl AlertBuilder {
    /// The description for a tier-1 responder.
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.draft.description = d.into();
        self
    }
    /// MITRE ATT&CK technique ids.
    pub fn mitre(mut self, ids: &[&str]) -> Self {
        self.draft.mitre.extend(ids.iter().map(|s| s.to_string()));
        self
    }
    /// MITRE ATT&CK technique ids, owned.
    pub fn mitre_ids(mut self, ids: impl IntoIterator<Item = String>) -> Self {
        self.draft.mitre.extend(ids);
        self
    }
    /// Where the alert comes from (Rampart's own detectors by default; a Sigma rule).
    pub fn source(mut self, source: AlertSource) -> Self {
        self.draft.source = source;
        self
    }
    /// OWASP API Top 10 (2023) category.
    pub fn owasp(mut self, cat: &str) -> Self {
        self.draft.owasp = Some(cat.to_string());
        self
    }
    /// Add an entity (duplicates are dropped).
    pub fn entity(mut self, e: Entity) -> Self {
        if !self.draft.entities.contains(&e) {
            self.draft.entities.push(e);
        }
        self
    }
    /// Add the event's actors (IP, principal, API key) as attackers.
    pub fn actors(mut self, ev: &ApiEvent<'_>) -> Self {
        if let Some(ip) = ev.client_ip {
            self = self.entity(Entity::attacker_ip(ip));
        }
        if let Some(p) = &ev.principal {
            self = self.entity(Entity::new(
                EntityKind::User,
                p.as_ref(),
                EntityRole::Attacker,
            ));
        }
        if let Some(k) = &ev.api_key_id {
            self = self.entity(Entity::new(
                EntityKind::ApiKey,
                k.as_str(),
                EntityRole::Attacker,
            ));
        }
        self
    }
    /// Add only the event's client IP as the attacker.
    pub fn attacker_ip(self, ip: Option<IpAddr>) -> Self {
        match ip {
            Some(ip) => self.entity(Entity::attacker_ip(ip)),
            None => self,
        }
    }
    /// Add the event's endpoint as the target.
    pub fn target(self, cx: &EventCtx<'_>) -> Self {
        self.entity(Entity::target_endpoint(endpoint_key(cx)))
    }
    /// Add an evidence event (ignored beyond [`MAX_EVIDENCE`]).
    pub fn evidence(mut self, ev: &ApiEvent<'_>) -> Self {
        if self.draft.evidence.len() < MAX_EVIDENCE {
            self.draft.evidence.push(evidence_copy(ev));
        }
        self
    }
    /// Add stored evidence events (bounded).
    pub fn evidence_all(mut self, evs: &[ApiEvent<'static>]) -> Self {
        for e in evs {
            if self.draft.evidence.len() >= MAX_EVIDENCE {
                break;
            }
            self.draft.evidence.push(e.clone());
        }
        self
    }
    /// A number that crossed a threshold.
    pub fn reason(mut self, metric: &str, observed: f64, threshold: Option<f64>) -> Self {
        self.draft.reasons.push(Reason {
            metric: metric.to_string(),
            observed,
            threshold,
        });
        self
    }
    /// First activity covered by the alert.
    pub fn first_seen(mut self, ts: Timestamp) -> Self {
        if ts < self.draft.first_seen {
            self.draft.first_seen = ts;
        }
        self
    }
    /// The finished draft.
    pub fn build(self) -> AlertDraft {
        self.draft
    }
}

/// Largest body kept on an evidence event, in bytes.
pub const EVIDENCE_BODY_LIMIT: usize = 2048;

fn trim_body(b: &mut Option<std::borrow::Cow<'static, str>>) {
    if let Some(body) = b {
        if body.len() > EVIDENCE_BODY_LIMIT {
            let mut end = EVIDENCE_BODY_LIMIT;
            while !body.is_char_boundary(end) {
                end -= 1;
            }
            *b = Some(std::borrow::Cow::Owned(body[..end].to_string()));
        }
    }
}

/// A bounded copy of an event for evidence (bodies cut to [`EVIDENCE_BODY_LIMIT`]).
pub fn evidence_copy(ev: &ApiEvent<'_>) -> ApiEvent<'static> {
    let mut e = ev.clone().into_owned();
    trim_body(&mut e.request_body);
    trim_body(&mut e.response_body);
    e
}

/// What a single-event alert says apart from what comes from the event: the shape content
/// detectors fill in, built by [`AlertSpec::build`] through the same [`AlertBuilder`].
pub struct AlertSpec {
    /// Detector id.
    pub detector: &'static str,
    /// Title.
    pub title: String,
    /// Description for a tier-1 responder.
    pub description: String,
    /// Severity.
    pub severity: Severity,
    /// MITRE ATT&CK technique ids.
    pub mitre: &'static [&'static str],
    /// OWASP API Top 10 category.
    pub owasp: Option<&'static str>,
    /// Attack stage.
    pub stage: AttackStage,
    /// Add the user agent as a related entity.
    pub with_user_agent: bool,
    /// Numbers that crossed thresholds.
    pub reasons: Vec<Reason>,
}

impl AlertSpec {
    /// The alert about the event in `cx`: its client IP as the attacker, its endpoint as the
    /// target, the event (bounded) as evidence.
    pub fn build(self, cx: &EventCtx<'_>) -> AlertDraft {
        let ev = cx.ev;
        let mut b = alert(self.detector, self.title, self.severity, self.stage, ev.ts)
            .description(self.description)
            .mitre(self.mitre)
            .attacker_ip(ev.client_ip);
        if let Some(o) = self.owasp {
            b = b.owasp(o);
        }
        if !ev.method.is_empty() || !cx.template.is_empty() {
            b = b.target(cx);
        }
        if self.with_user_agent && !ev.user_agent.is_empty() {
            b = b.entity(Entity::new(
                EntityKind::UserAgent,
                ev.user_agent.to_string(),
                EntityRole::Related,
            ));
        }
        b.draft.reasons = self.reasons;
        b.evidence(ev).build()
    }
}

/// One reason.
pub fn reason(metric: &str, observed: f64, threshold: Option<f64>) -> Reason {
    Reason {
        metric: metric.to_string(),
        observed,
        threshold,
    }
}

/// A small bounded ring of evidence events kept per key while it looks suspicious.
#[derive(Debug, Clone, Default)]
pub struct EvidenceRing {
    events: Vec<ApiEvent<'static>>,
    next: usize,
}

/// Events an [`EvidenceRing`] keeps.
pub const EVIDENCE_RING: usize = 5;

impl EvidenceRing {
    /// Keep a copy of `ev`, overwriting the oldest when full (allocates: call only on
    /// suspicious keys).
    pub fn push(&mut self, ev: &ApiEvent<'_>) {
        let owned = ev.clone().into_owned();
        if self.events.len() < EVIDENCE_RING {
            self.events.push(owned);
        } else {
            self.events[self.next % EVIDENCE_RING] = owned;
        }
        self.next += 1;
    }
    /// The kept events.
    pub fn events(&self) -> &[ApiEvent<'static>] {
        &self.events
    }
    /// Whether the ring has room left (a cheap test before copying).
    pub fn has_room(&self) -> bool {
        self.events.len() < EVIDENCE_RING
    }
}

/// Lets a detector fire at most once per key per window of event time (bounded keys).
pub struct Cooldown {
    last: KeyedState<i64>,
    window_ms: i64,
}

impl Cooldown {
    /// At most one alert per key per `window_ms`, remembering at most `max_keys` keys.
    pub fn new(window_ms: i64, max_keys: usize) -> Self {
        Cooldown {
            last: KeyedState::new(max_keys, window_ms.max(1)),
            window_ms,
        }
    }
    /// At most one alert per key per `secs` seconds (the unit of every `cooldown_secs`).
    pub fn secs(secs: i64, max_keys: usize) -> Self {
        Cooldown::new(secs.max(0).saturating_mul(1000), max_keys)
    }
    /// Whether `key` may fire at `now`; if so, the window starts now.
    pub fn ready(&mut self, key: u64, now: i64) -> bool {
        let w = self.window_ms;
        let last = self.last.get_or_insert_with(key, now, || i64::MIN);
        if *last == i64::MIN || now - *last >= w {
            *last = now;
            true
        } else {
            false
        }
    }
    /// [`Cooldown::ready`] for a key made of two parts (an IP and an attack family, ...).
    #[inline]
    pub fn ready_for(&mut self, key: u64, part: u32, now: i64) -> bool {
        self.ready(crate::state::combine(key, u64::from(part)), now)
    }
    /// Forget keys whose window has passed.
    pub fn tick(&mut self, now: i64) {
        self.last.tick(now);
    }
    /// Approximate bytes held.
    pub fn approx_bytes(&self) -> usize {
        self.last.approx_bytes()
    }
}

/// Traffic no detector looks at (health checks, scanners you run, trusted partners).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AllowList {
    /// Client IPs or CIDRs.
    pub ips: Vec<IpNet>,
    /// Principals (exact).
    pub principals: Vec<String>,
    /// User agents (substring, case-sensitive).
    pub user_agents: Vec<String>,
    /// Endpoints: `METHOD /template` or `/template` (any method).
    pub endpoints: Vec<String>,
}

impl AllowList {
    /// Whether nothing is allow-listed.
    pub fn is_empty(&self) -> bool {
        self.ips.is_empty()
            && self.principals.is_empty()
            && self.user_agents.is_empty()
            && self.endpoints.is_empty()
    }

    /// Whether the event is allow-listed.
    pub fn allows(&self, cx: &EventCtx<'_>) -> bool {
        let ev = cx.ev;
        if let Some(ip) = ev.client_ip {
            if self.ips.iter().any(|n| n.contains(&ip)) {
                return true;
            }
        }
        if let Some(p) = &ev.principal {
            if self.principals.iter().any(|a| a == p) {
                return true;
            }
        }
        if !ev.user_agent.is_empty()
            && self
                .user_agents
                .iter()
                .any(|u| ev.user_agent.contains(u.as_str()))
        {
            return true;
        }
        self.endpoints.iter().any(|e| match e.split_once(' ') {
            Some((m, t)) => m.eq_ignore_ascii_case(&ev.method) && t == cx.template,
            None => e == &cx.template,
        })
    }
}

/// Drop alerts matching every set field (a known-benign pattern).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Suppression {
    /// Detector id, or any.
    pub detector: Option<String>,
    /// Attacker IP inside this network, or any.
    pub ip: Option<IpNet>,
    /// Principal, or any.
    pub principal: Option<String>,
    /// Target endpoint (`METHOD /template`), or any.
    pub endpoint: Option<String>,
}

impl Suppression {
    /// Whether the alert matches (and is to be dropped).
    pub fn matches(&self, a: &AlertDraft) -> bool {
        if let Some(d) = &self.detector {
            if d != &a.detector {
                return false;
            }
        }
        if let Some(net) = &self.ip {
            let hit = a.entities.iter().any(|e| {
                e.kind == EntityKind::Ip
                    && e.value
                        .parse::<IpAddr>()
                        .map(|ip| net.contains(&ip))
                        .unwrap_or(false)
            });
            if !hit {
                return false;
            }
        }
        if let Some(p) = &self.principal {
            if !a
                .entities
                .iter()
                .any(|e| e.kind == EntityKind::User && &e.value == p)
            {
                return false;
            }
        }
        if let Some(ep) = &self.endpoint {
            if !a
                .entities
                .iter()
                .any(|e| e.kind == EntityKind::Endpoint && &e.value == ep)
            {
                return false;
            }
        }
        true
    }
}

/// Case-insensitive ASCII substring test.
#[inline]
pub fn contains_ci(hay: &str, needle: &str) -> bool {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() {
        return true;
    }
    if h.len() < n.len() {
        return false;
    }
    let first = n[0].to_ascii_lowercase();
    (0..=h.len() - n.len())
        .any(|i| h[i].to_ascii_lowercase() == first && h[i..i + n.len()].eq_ignore_ascii_case(n))
}
