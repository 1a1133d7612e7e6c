//! Reappearance: a contained actor coming back. A principal or API key disabled by an active
//! action seen from an address that is not one of its incident's, or the client fingerprint
//! of a blocked address (its user agent with its principal or API key) coming from another
//! address, raises an alert (`containment_reappearance`) that carries the contained entity,
//! so the correlator joins it to the incident (which shares that entity).
//!
//! The pipeline checks every event against a [`Watch`] held in memory (rebuilt from the
//! store's active actions by its caller, never read from the store per event): an event that
//! matches nothing costs a few hash lookups by borrowed `&str` and allocates nothing.
//! Pure: no I/O, no clock.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use rampart_model::{
    Action, ActionKind, ActionStatus, AlertDraft, AlertSource, ApiEvent, AttackStage, Entity,
    EntityKind, EntityRole, Reason, Severity, Timestamp,
};

/// The detector id of reappearance alerts.
pub const DETECTOR_ID: &str = "containment_reappearance";

/// A client fingerprint of a blocked address, from its stored events: a user agent with the
/// principal or API key it came with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// The user agent (never empty in a watch).
    pub user_agent: String,
    /// The principal, if the requests carried one.
    pub principal: Option<String>,
    /// The API key identity, if the requests carried one.
    pub api_key: Option<String>,
}

/// What one watch entry came from, and the addresses that are not new for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    /// The action that contains the entity.
    pub action_id: i64,
    /// Its incident, if any.
    pub incident_id: Option<i64>,
    /// Addresses and ranges that are not new: the incident's IPs and blocked ranges.
    pub known: Vec<IpNet>,
}

impl Watched {
    fn knows(&self, ip: IpAddr) -> bool {
        self.known.iter().any(|n| n.contains(&ip))
    }
}

/// One action to watch, with what its incident knows.
#[derive(Debug, Clone, Copy)]
pub struct WatchInput<'a> {
    /// An action (only `active` ones are watched).
    pub action: &'a Action,
    /// The entities of its incident (empty without one).
    pub incident_entities: &'a [Entity],
    /// Fingerprints of the blocked address (`block_ip` only; see [`Fingerprint`]).
    pub fingerprints: &'a [Fingerprint],
}

/// What reappeared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitKind {
    /// A disabled principal.
    Principal,
    /// A disabled API key.
    ApiKey,
    /// The fingerprint of a blocked address.
    Fingerprint,
}

/// A match of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit<'w> {
    /// What matched.
    pub kind: HitKind,
    /// The watch entry.
    pub watched: &'w Watched,
    /// The contained entity (the principal or key; for a fingerprint the principal or key
    /// that came with the user agent).
    pub entity: EntityKind,
    /// Its value.
    pub value: &'w str,
    /// The new address.
    pub ip: IpAddr,
}

/// The contained actors to watch for, in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Watch {
    principals: HashMap<String, Watched>,
    api_keys: HashMap<String, Watched>,
    /// principal -> user agent -> entry.
    principal_agents: HashMap<String, HashMap<String, Watched>>,
    /// API key -> user agent -> entry.
    key_agents: HashMap<String, HashMap<String, Watched>>,
}

fn ip_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

fn add(map: &mut HashMap<String, Watched>, key: &str, w: &Watched) {
    match map.get_mut(key) {
        Some(old) => {
            for n in &w.known {
                if !old.known.contains(n) {
                    old.known.push(*n);
                }
            }
        }
        None => {
            map.insert(key.to_string(), w.clone());
        }
    }
}

fn hit<'w>(
    ip: IpAddr,
    kind: HitKind,
    entity: EntityKind,
    (value, watched): (&'w String, &'w Watched),
) -> Option<Hit<'w>> {
    (!watched.knows(ip)).then_some(Hit {
        kind,
        watched,
        entity,
        value: value.as_str(),
        ip,
    })
}

impl Watch {
    /// The watch over `inputs`: every active `disable_principal` and `disable_api_key`, and
    /// the fingerprints of every active `block_ip`. Known addresses of an entry are its
    /// incident's IP entities and the ranges blocked by active actions of the same incident.
    pub fn build(inputs: &[WatchInput<'_>]) -> Watch {
        let active = |i: &&WatchInput<'_>| i.action.status() == ActionStatus::Active;
        let mut w = Watch::default();
        // The blocked addresses of each incident, once (not once per action: 10 000 active
        // blocks made that 10^8 steps per build).
        let mut blocked_by_incident: HashMap<i64, Vec<IpNet>> = HashMap::new();
        for other in inputs.iter().filter(active) {
            let o = &other.action.action;
            if let (Some(incident), ActionKind::BlockIp) = (o.incident_id, o.kind) {
                blocked_by_incident
                    .entry(incident)
                    .or_default()
                    .extend(ip_net(&o.target));
            }
        }
        for input in inputs.iter().filter(active) {
            let a = &input.action.action;
            let watches = match a.kind {
                ActionKind::DisablePrincipal | ActionKind::DisableApiKey => true,
                ActionKind::BlockIp => !input.fingerprints.is_empty(),
                _ => false,
            };
            if !watches {
                continue;
            }
            let mut known: Vec<IpNet> = input
                .incident_entities
                .iter()
                .filter(|e| e.kind == EntityKind::Ip)
                .filter_map(|e| ip_net(&e.value))
                .collect();
            match a.incident_id.and_then(|i| blocked_by_incident.get(&i)) {
                Some(blocked) => known.extend(blocked.iter().copied()),
                None if a.kind == ActionKind::BlockIp => known.extend(ip_net(&a.target)),
                None => {}
            }
            let entry = Watched {
                action_id: input.action.id,
                incident_id: a.incident_id,
                known,
            };
            match a.kind {
                ActionKind::DisablePrincipal => add(&mut w.principals, &a.target, &entry),
                ActionKind::DisableApiKey => add(&mut w.api_keys, &a.target, &entry),
                ActionKind::BlockIp => {
                    for fp in input.fingerprints {
                        if fp.user_agent.is_empty() {
                            continue;
                        }
                        if let Some(p) = &fp.principal {
                            add(
                                w.principal_agents.entry(p.clone()).or_default(),
                                &fp.user_agent,
                                &entry,
                            );
                        }
                        if let Some(k) = &fp.api_key {
                            add(
                                w.key_agents.entry(k.clone()).or_default(),
                                &fp.user_agent,
                                &entry,
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        w
    }

    /// Whether nothing is watched (the pipeline then skips the check altogether).
    pub fn is_empty(&self) -> bool {
        self.principals.is_empty()
            && self.api_keys.is_empty()
            && self.principal_agents.is_empty()
            && self.key_agents.is_empty()
    }

    /// Entries watched (principals, keys, fingerprints).
    pub fn len(&self) -> usize {
        self.principals.len()
            + self.api_keys.len()
            + self
                .principal_agents
                .values()
                .map(HashMap::len)
                .sum::<usize>()
            + self.key_agents.values().map(HashMap::len).sum::<usize>()
    }

    /// Whether `ev` is a contained actor seen from a new address. No allocation.
    pub fn check(&self, ev: &ApiEvent<'_>) -> Option<Hit<'_>> {
        let ip = ev.client_ip?;
        let principal = ev.principal.as_deref();
        let key = ev.api_key_id.as_deref();
        if let Some(h) = principal
            .and_then(|p| self.principals.get_key_value(p))
            .and_then(|e| hit(ip, HitKind::Principal, EntityKind::User, e))
        {
            return Some(h);
        }
        if let Some(h) = key
            .and_then(|k| self.api_keys.get_key_value(k))
            .and_then(|e| hit(ip, HitKind::ApiKey, EntityKind::ApiKey, e))
        {
            return Some(h);
        }
        let ua = ev.user_agent.as_ref();
        if ua.is_empty() {
            return None;
        }
        for (by, map, entity) in [
            (principal, &self.principal_agents, EntityKind::User),
            (key, &self.key_agents, EntityKind::ApiKey),
        ] {
            let Some((value, agents)) = by.and_then(|v| map.get_key_value(v)) else {
                continue;
            };
            if let Some(w) = agents.get(ua) {
                if let Some(h) = hit(ip, HitKind::Fingerprint, entity, (value, w)) {
                    return Some(h);
                }
            }
        }
        None
    }
}

impl Hit<'_> {
    /// The alert for this hit on `ev`: the contained entity and the new address as
    /// attackers, the action's incident as its `incident_hint` (so it joins that incident
    /// even past the correlation window), the event as evidence.
    pub fn alert(&self, ev: &ApiEvent<'_>) -> AlertDraft {
        let what = match self.entity {
            EntityKind::User => "principal",
            _ => "API key",
        };
        let action = self.watched.action_id;
        let incident = self
            .watched
            .incident_id
            .map_or_else(String::new, |i| format!(" of incident {i}"));
        let (title, how) = match self.kind {
            HitKind::Principal | HitKind::ApiKey => (
                format!("Contained {what} {} seen from a new address {}", self.value, self.ip),
                format!("is disabled by action {action}{incident}"),
            ),
            HitKind::Fingerprint => (
                format!(
                    "Client of a blocked address back from {} ({what} {})",
                    self.ip, self.value
                ),
                format!(
                    "came with the same user agent from an address blocked by action {action}{incident}"
                ),
            ),
        };
        let mut entities = vec![
            Entity::new(self.entity, self.value, EntityRole::Attacker),
            Entity::attacker_ip(self.ip),
        ];
        if self.kind == HitKind::Fingerprint {
            entities.push(Entity::new(
                EntityKind::UserAgent,
                ev.user_agent.as_ref(),
                EntityRole::Related,
            ));
        }
        AlertDraft {
            detector: DETECTOR_ID.into(),
            title,
            description: format!(
                "The {what} {} {how}, and was seen in traffic from {}, an address the incident \
                 does not know: the actor may have moved. Check whether the gateway denied the \
                 request (its status), contain the new address and review the account.",
                self.value, self.ip
            ),
            severity: Severity::High,
            mitre: vec!["T1078".into()],
            owasp: Some("API2:2023".into()),
            entities,
            evidence: vec![ev.clone().into_owned()],
            first_seen: ev.ts,
            last_seen: ev.ts,
            reasons: vec![Reason {
                metric: "containment_action".into(),
                observed: action as f64,
                threshold: None,
            }],
            source: AlertSource::Rampart,
            stage: AttackStage::Exploitation,
            incident_hint: self.watched.incident_id,
        }
    }
}

/// Alerts on reappearances, at most one per action and new address per cooldown (event
/// time). State is bounded: at most `cap` pairs are remembered.
#[derive(Debug, Clone)]
pub struct Reappearances {
    last: HashMap<(i64, IpAddr), Timestamp>,
    cooldown_ms: i64,
    cap: usize,
}

impl Default for Reappearances {
    /// A cooldown of 10 minutes, 10 000 pairs.
    fn default() -> Self {
        Reappearances::new(10 * 60_000, 10_000)
    }
}

impl Reappearances {
    /// With this cooldown (ms of event time) and at most `cap` remembered pairs.
    pub fn new(cooldown_ms: i64, cap: usize) -> Self {
        Reappearances {
            last: HashMap::new(),
            cooldown_ms,
            cap: cap.max(1),
        }
    }

    /// Check `ev` against `watch`; push an alert on a hit outside the cooldown.
    pub fn observe(&mut self, watch: &Watch, ev: &ApiEvent<'_>, out: &mut Vec<AlertDraft>) {
        let Some(hit) = watch.check(ev) else {
            return;
        };
        let pair = (hit.watched.action_id, hit.ip);
        if let Some(t) = self.last.get(&pair) {
            if ev.ts.millis().saturating_sub(t.millis()) < self.cooldown_ms && ev.ts >= *t {
                return;
            }
        }
        if self.last.len() >= self.cap {
            let (now, cd) = (ev.ts.millis(), self.cooldown_ms);
            self.last.retain(|_, t| now.saturating_sub(t.millis()) < cd);
            if self.last.len() >= self.cap {
                self.last.clear();
            }
        }
        self.last.insert(pair, ev.ts);
        out.push(hit.alert(ev));
    }
}

#[cfg(test)]
mod tests;
