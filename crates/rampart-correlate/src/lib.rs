//! Correlation: alerts into incidents.
//!
//! **Pure: no I/O, and never the wall clock.** The [`Correlator`] decides; it returns a
//! [`ChangeSet`] that the pipeline applies to the store in one transaction, then reports the
//! ids the store assigned through [`Correlator::confirm`].
//!
//! Rules:
//! - An alert joins an open incident that shares an actor entity (IP, or the configured IP
//!   range; user; API key) when the alert is within `window_ms` (event time) of the incident's
//!   activity. Two actors are two incidents unless something links them (a shared actor
//!   entity, or one alert that names both: a distributed or campaign alert lists every
//!   source); a shared target alone does not merge them. `distributed_join` (off by default)
//!   joins alerts of the same detector against the same target whatever their source.
//! - An alert that would join several open incidents attaches to one (the one a person works,
//!   else the oldest) and the others are merged into it, unless [`check_merge`] refuses.
//! - An alert with an `incident_hint` (a contained actor of that incident reappearing) joins
//!   that incident while it is open, whatever the window.
//! - Resolved and Redirected incidents never receive alerts.
//! - State is bounded: incidents idle for longer than the window (relative to the newest event
//!   time seen) are forgotten, and at most `max_incidents` are kept.

use std::collections::BTreeMap;
use std::net::IpAddr;

use rampart_model::{
    AlertDraft, AlertSource, AttackStage, Classification, Entity, EntityKind, EntityRole, Incident,
    IncidentStatus, NewAudit, Severity, Timestamp,
};
use rampart_store::{
    AppliedChanges, Change, ChangeSet, IncidentRef, IncidentState, IncidentSummary,
};

pub mod priority;

pub use priority::{priority, PriorityInputs};

/// The actor recorded on the audit entries the correlator writes.
pub const AUDIT_ACTOR: &str = "system:correlation";

/// Correlation settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrelateConfig {
    /// How close (event time, ms) an alert must be to an incident's activity to join it.
    pub window_ms: i64,
    /// Group IPv4 actors by this prefix length (`Some(24)`); `None` = exact address.
    pub group_ipv4_prefix: Option<u8>,
    /// Group IPv6 actors by this prefix length (`Some(64)`); `None` = exact address.
    pub group_ipv6_prefix: Option<u8>,
    /// Join alerts of the same detector against the same target from different actors (off by
    /// default: a shared target alone does not link two actors).
    pub distributed_join: bool,
    /// Most entities kept on one incident.
    pub max_entities: usize,
    /// Most incidents held in memory (the least recently active are forgotten first).
    pub max_incidents: usize,
}

impl Default for CorrelateConfig {
    fn default() -> Self {
        CorrelateConfig {
            window_ms: 6 * 3_600_000,
            group_ipv4_prefix: None,
            group_ipv6_prefix: None,
            distributed_join: false,
            max_entities: 100,
            max_incidents: 100_000,
        }
    }
}

/// Why two incidents may not be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeRefusal {
    /// One of them is resolved.
    #[error("incident {0} is resolved")]
    Resolved(i64),
    /// One of them was already merged away.
    #[error("incident {0} was merged into another incident")]
    Redirected(i64),
    /// Both are assigned, to different people.
    #[error("incidents are assigned to different owners ({a} and {b})")]
    DifferentOwners {
        /// Owner of the first.
        a: String,
        /// Owner of the second.
        b: String,
    },
    /// Both are classified, differently.
    #[error("incidents are classified differently ({a} and {b})")]
    DifferentClassifications {
        /// Classification of the first.
        a: Classification,
        /// Classification of the second.
        b: Classification,
    },
    /// An incident cannot be merged into itself.
    #[error("cannot merge an incident into itself")]
    SameIncident,
}

/// Whether `a` and `b` may be merged: both open (not Resolved, not Redirected), not assigned
/// to two different owners, not given two different classifications (`Unknown` matches any).
pub fn check_merge(a: &Incident, b: &Incident) -> Result<(), MergeRefusal> {
    if a.id == b.id {
        return Err(MergeRefusal::SameIncident);
    }
    for i in [a, b] {
        match i.status {
            IncidentStatus::Resolved => return Err(MergeRefusal::Resolved(i.id)),
            IncidentStatus::Redirected => return Err(MergeRefusal::Redirected(i.id)),
            _ => {}
        }
    }
    check_human(
        (&a.assigned_to, a.classification),
        (&b.assigned_to, b.classification),
    )
}

fn check_human(
    a: (&Option<String>, Classification),
    b: (&Option<String>, Classification),
) -> Result<(), MergeRefusal> {
    if let (Some(x), Some(y)) = (a.0, b.0) {
        if x != y {
            return Err(MergeRefusal::DifferentOwners {
                a: x.clone(),
                b: y.clone(),
            });
        }
    }
    if a.1 != Classification::Unknown && b.1 != Classification::Unknown && a.1 != b.1 {
        return Err(MergeRefusal::DifferentClassifications { a: a.1, b: b.1 });
    }
    Ok(())
}

/// What the correlator remembers of one incident.
#[derive(Debug, Clone)]
struct Tracked {
    /// Store id, once known.
    id: Option<i64>,
    status: IncidentStatus,
    assigned_to: Option<String>,
    classification: Classification,
    /// Highest alert severity.
    severity: Option<Severity>,
    /// Severity set by a person, kept over the computed one.
    severity_override: Option<Severity>,
    /// Title of the first alert (without actor and count).
    lead: String,
    entities: Vec<Entity>,
    first: Timestamp,
    last: Timestamp,
    alert_count: u32,
    /// Bit per [`AttackStage`] (kill-chain order).
    stages: u8,
    /// (detector, target) pairs, for the distributed join.
    dist_keys: Vec<(String, String)>,
    /// Joined through the distributed rule at least once.
    distributed: bool,
    sigma: bool,
    critical: bool,
    touched: bool,
}

const STAGES: [AttackStage; 5] = [
    AttackStage::Recon,
    AttackStage::CredentialAccess,
    AttackStage::Exploitation,
    AttackStage::DataAccess,
    AttackStage::Impact,
];

fn stage_bit(s: AttackStage) -> u8 {
    1 << (STAGES.iter().position(|x| *x == s).unwrap_or(2) as u8)
}

fn stage_name(s: AttackStage) -> &'static str {
    match s {
        AttackStage::Recon => "recon",
        AttackStage::CredentialAccess => "credential access",
        AttackStage::Exploitation => "exploitation",
        AttackStage::DataAccess => "data access",
        AttackStage::Impact => "impact",
    }
}

const MAX_DIST_KEYS: usize = 32;

fn is_actor(e: &Entity) -> bool {
    e.kind.is_actor() && e.role != EntityRole::Target
}

fn is_target(e: &Entity) -> bool {
    matches!(e.kind, EntityKind::Endpoint | EntityKind::Service)
}

/// Strip `" and N more alert(s)"` and `" from X"` from a stored title to recover its lead.
fn lead_of(title: &str) -> String {
    let mut t = title;
    if let Some(p) = t.rfind(" and ") {
        let tail = &t[p + 5..];
        if tail.ends_with(" more alerts") || tail.ends_with(" more alert") {
            t = &t[..p];
        }
    }
    if let Some(p) = t.rfind(" from ") {
        t = &t[..p];
    }
    t.to_string()
}

impl Tracked {
    fn from_incident(inc: &Incident, stages: &[AttackStage]) -> Self {
        let stages = stages.iter().fold(0u8, |m, s| m | stage_bit(*s));
        let has = |r: &str| inc.priority_reasons.iter().any(|p| p.reason == r);
        Tracked {
            id: Some(inc.id),
            status: inc.status,
            assigned_to: inc.assigned_to.clone(),
            classification: inc.classification,
            severity: Some(inc.severity),
            severity_override: None,
            lead: if inc.title.starts_with("Multi-stage attack") {
                inc.title.clone()
            } else {
                lead_of(&inc.title)
            },
            entities: inc.entities.clone(),
            first: inc.first_activity,
            last: inc.last_activity,
            alert_count: inc.alert_count,
            stages,
            dist_keys: Vec::new(),
            distributed: false,
            sigma: has(priority::SIGMA_REASON),
            critical: has(priority::CRITICAL_REASON),
            touched: false,
        }
    }

    fn stages(&self) -> Vec<AttackStage> {
        STAGES
            .into_iter()
            .filter(|s| self.stages & stage_bit(*s) != 0)
            .collect()
    }

    fn main_actor(&self) -> Option<&Entity> {
        self.entities
            .iter()
            .find(|e| is_actor(e) && e.role == EntityRole::Attacker)
            .or_else(|| self.entities.iter().find(|e| is_actor(e)))
    }

    fn source_ips(&self) -> usize {
        self.entities
            .iter()
            .filter(|e| e.kind == EntityKind::Ip && e.role != EntityRole::Target)
            .count()
    }

    fn actor_phrase(&self) -> Option<String> {
        let ips = self.source_ips();
        if self.distributed && ips > 1 {
            return Some(format!("{ips} IPs"));
        }
        self.main_actor().map(|e| e.value.clone())
    }

    fn title(&self) -> String {
        let stages = self.stages();
        let actor = self.actor_phrase();
        if stages.len() >= 2 {
            let chain: Vec<&str> = stages.iter().map(|s| stage_name(*s)).collect();
            return match actor {
                Some(a) => format!("Multi-stage attack by {a}: {}", chain.join(" → ")),
                None => format!("Multi-stage attack: {}", chain.join(" → ")),
            };
        }
        let mut t = self.lead.clone();
        if let Some(a) = actor {
            if !t.contains(&a) {
                t.push_str(" from ");
                t.push_str(&a);
            }
        }
        match self.alert_count {
            0 | 1 => {}
            2 => t.push_str(" and 1 more alert"),
            n => t.push_str(&format!(" and {} more alerts", n - 1)),
        }
        t
    }

    fn state(&self) -> IncidentState {
        let severity = self
            .severity_override
            .or(self.severity)
            .unwrap_or(Severity::Informational);
        let targets = self.entities.iter().filter(|e| is_target(e)).count();
        let (priority, priority_reasons) = priority(&PriorityInputs {
            severity: Some(severity),
            stages: self.stages(),
            alert_count: self.alert_count,
            targets,
            source_ips: self.source_ips(),
            sigma: self.sigma,
            critical: self.critical,
            sensitive_data: false,
        });
        IncidentState {
            title: self.title(),
            severity,
            entities: self.entities.clone(),
            first_activity: self.first,
            last_activity: self.last,
            alert_count: self.alert_count,
            priority,
            priority_reasons,
        }
    }

    fn add_entity(&mut self, e: &Entity, cap: usize) {
        if self.entities.len() >= cap {
            return;
        }
        if !self
            .entities
            .iter()
            .any(|x| x.kind == e.kind && x.value == e.value)
        {
            self.entities.push(e.clone());
        }
    }

    fn add_alert(&mut self, a: &AlertDraft, cap: usize) {
        if self.alert_count == 0 && self.lead.is_empty() {
            self.lead = a.title.clone();
            self.first = a.first_seen;
            self.last = a.last_seen;
        }
        self.alert_count += 1;
        self.severity = self.severity.max(Some(a.severity));
        self.first = self.first.min(a.first_seen);
        self.last = self.last.max(a.last_seen);
        self.stages |= stage_bit(a.stage);
        self.sigma |= matches!(a.source, AlertSource::Sigma(_));
        self.critical |= a.severity == Severity::Critical;
        // Actors first, so the main actor survives the entity cap.
        for e in a.entities.iter().filter(|e| is_actor(e)) {
            self.add_entity(e, cap);
        }
        for e in a.entities.iter().filter(|e| !is_actor(e)) {
            self.add_entity(e, cap);
        }
        for t in a.entities.iter().filter(|e| is_target(e)) {
            let key = (a.detector.clone(), t.value.clone());
            if self.dist_keys.len() < MAX_DIST_KEYS && !self.dist_keys.contains(&key) {
                self.dist_keys.push(key);
            }
        }
        self.touched = true;
    }

    /// Fold another incident's state into this one.
    fn absorb(&mut self, o: Tracked, cap: usize) {
        self.alert_count += o.alert_count;
        self.severity = self.severity.max(o.severity);
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
        self.stages |= o.stages;
        self.sigma |= o.sigma;
        self.critical |= o.critical;
        self.distributed |= o.distributed;
        for e in o.entities.iter().filter(|e| is_actor(e)) {
            self.add_entity(e, cap);
        }
        for e in o.entities.iter().filter(|e| !is_actor(e)) {
            self.add_entity(e, cap);
        }
        for k in o.dist_keys {
            if self.dist_keys.len() < MAX_DIST_KEYS && !self.dist_keys.contains(&k) {
                self.dist_keys.push(k);
            }
        }
        self.touched = true;
    }
}

/// The correlator: remembers open incidents, assigns alerts to them.
#[derive(Debug)]
pub struct Correlator {
    cfg: CorrelateConfig,
    incidents: BTreeMap<u64, Tracked>,
    next_uid: u64,
    /// Uids of the incidents created by the last change set, by `temp` number.
    pending: Vec<u64>,
    /// Newest event time seen.
    now: Timestamp,
}

/// How an alert may join an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    Actor,
    Distributed,
}

impl Correlator {
    /// A correlator with no incidents.
    pub fn new(cfg: CorrelateConfig) -> Self {
        Correlator {
            cfg,
            incidents: BTreeMap::new(),
            next_uid: 0,
            pending: Vec::new(),
            now: Timestamp::default(),
        }
    }

    /// Resume from the store's incident summaries (after a restart). Redirected incidents are
    /// skipped.
    pub fn seed(&mut self, summaries: Vec<IncidentSummary>) {
        for s in summaries {
            if s.incident.status == IncidentStatus::Redirected {
                continue;
            }
            let t = Tracked::from_incident(&s.incident, &s.stages);
            self.now = self.now.max(t.last);
            self.insert_tracked(t);
        }
        self.evict();
    }

    /// Whether the stored incident `id` is held in memory.
    pub fn tracks(&self, id: i64) -> bool {
        self.uid_of(id).is_some()
    }

    /// Number of incidents held in memory.
    pub fn tracked_count(&self) -> usize {
        self.incidents.len()
    }

    fn insert_tracked(&mut self, t: Tracked) -> u64 {
        let uid = self.next_uid;
        self.next_uid += 1;
        self.incidents.insert(uid, t);
        uid
    }

    fn uid_of(&self, id: i64) -> Option<u64> {
        self.incidents
            .iter()
            .find(|(_, t)| t.id == Some(id))
            .map(|(u, _)| *u)
    }

    /// Canonical key of an actor entity: IPs masked to the configured prefix.
    fn actor_key(&self, e: &Entity) -> String {
        if e.kind != EntityKind::Ip {
            return e.value.clone();
        }
        match e.value.parse::<IpAddr>() {
            Ok(IpAddr::V4(v4)) => match self.cfg.group_ipv4_prefix {
                Some(p) if p < 32 => {
                    let mask = if p == 0 {
                        0
                    } else {
                        u32::MAX << (32 - u32::from(p))
                    };
                    format!("{}/{p}", std::net::Ipv4Addr::from(u32::from(v4) & mask))
                }
                _ => v4.to_string(),
            },
            Ok(IpAddr::V6(v6)) => match self.cfg.group_ipv6_prefix {
                Some(p) if p < 128 => {
                    let mask = if p == 0 {
                        0
                    } else {
                        u128::MAX << (128 - u32::from(p))
                    };
                    format!("{}/{p}", std::net::Ipv6Addr::from(u128::from(v6) & mask))
                }
                _ => v6.to_string(),
            },
            Err(_) => e.value.clone(),
        }
    }

    fn joins(
        &self,
        a: &AlertDraft,
        actor_keys: &[(EntityKind, String)],
        t: &Tracked,
    ) -> Option<Join> {
        if !t.status.is_open() {
            return None;
        }
        if a.incident_hint.is_some() && a.incident_hint == t.id {
            return Some(Join::Actor);
        }
        let w = self.cfg.window_ms;
        if a.first_seen.millis() > t.last.millis().saturating_add(w)
            || a.last_seen.millis().saturating_add(w) < t.first.millis()
        {
            return None;
        }
        let shares_actor = t.entities.iter().filter(|e| is_actor(e)).any(|e| {
            actor_keys
                .iter()
                .any(|(k, v)| *k == e.kind && *v == self.actor_key(e))
        });
        if shares_actor {
            return Some(Join::Actor);
        }
        if self.cfg.distributed_join
            && a.entities.iter().filter(|e| is_target(e)).any(|e| {
                t.dist_keys
                    .iter()
                    .any(|(d, v)| *d == a.detector && *v == e.value)
            })
        {
            return Some(Join::Distributed);
        }
        None
    }

    /// Assign alerts to incidents. New incidents are `IncidentRef::New(temp)`; call
    /// [`Correlator::confirm`] with what the store applied. Incidents of a previous change set
    /// that was never confirmed (its apply failed) are forgotten first.
    pub fn correlate(&mut self, alerts: Vec<AlertDraft>) -> ChangeSet {
        self.incidents.retain(|_, t| t.id.is_some());
        self.pending.clear();
        for t in self.incidents.values_mut() {
            t.touched = false;
        }
        let cap = self.cfg.max_entities;
        // uid -> uid of the incident it was folded into (within this batch).
        let mut folded: BTreeMap<u64, u64> = BTreeMap::new();
        // Existing incidents merged away: (from id, into uid, actor that bridged them).
        let mut merges: Vec<(i64, u64, String)> = Vec::new();
        let mut assigned: Vec<(AlertDraft, u64)> = Vec::with_capacity(alerts.len());

        for a in alerts {
            self.now = self.now.max(a.last_seen);
            let keys: Vec<(EntityKind, String)> = a
                .entities
                .iter()
                .filter(|e| is_actor(e))
                .map(|e| (e.kind, self.actor_key(e)))
                .collect();
            let mut cands: Vec<(u64, Join)> = self
                .incidents
                .iter()
                .filter_map(|(u, t)| self.joins(&a, &keys, t).map(|j| (*u, j)))
                .collect();
            if cands.is_empty() {
                let mut t = Tracked {
                    id: None,
                    status: IncidentStatus::Active,
                    assigned_to: None,
                    classification: Classification::Unknown,
                    severity: None,
                    severity_override: None,
                    lead: String::new(),
                    entities: Vec::new(),
                    first: a.first_seen,
                    last: a.last_seen,
                    alert_count: 0,
                    stages: 0,
                    dist_keys: Vec::new(),
                    distributed: false,
                    sigma: false,
                    critical: false,
                    touched: true,
                };
                t.add_alert(&a, cap);
                let uid = self.insert_tracked(t);
                assigned.push((a, uid));
                continue;
            }
            // The target: one a person works on, then a stored one, then the oldest.
            cands.sort_by_key(|(u, _)| {
                let t = &self.incidents[u];
                (
                    !(t.assigned_to.is_some() || t.status == IncidentStatus::InProgress),
                    t.id.is_none(),
                    t.first,
                    *u,
                )
            });
            let (target, join) = cands[0];
            let bridge = a
                .entities
                .iter()
                .find(|e| is_actor(e))
                .map(|e| e.value.clone())
                .unwrap_or_default();
            for &(other, _) in &cands[1..] {
                let (ta, tb) = (&self.incidents[&target], &self.incidents[&other]);
                if check_human(
                    (&ta.assigned_to, ta.classification),
                    (&tb.assigned_to, tb.classification),
                )
                .is_err()
                {
                    continue;
                }
                let Some(o) = self.incidents.remove(&other) else {
                    continue;
                };
                if let Some(id) = o.id {
                    merges.push((id, target, bridge.clone()));
                }
                folded.insert(other, target);
                if let Some(t) = self.incidents.get_mut(&target) {
                    t.absorb(o, cap);
                }
            }
            if let Some(t) = self.incidents.get_mut(&target) {
                t.distributed |= join == Join::Distributed;
                t.add_alert(&a, cap);
            }
            assigned.push((a, target));
        }

        let resolve = |mut u: u64| {
            while let Some(n) = folded.get(&u) {
                u = *n;
            }
            u
        };
        // Temp numbers for the incidents this set creates.
        let mut temps: BTreeMap<u64, u32> = BTreeMap::new();
        for (u, t) in &self.incidents {
            if t.id.is_none() {
                temps.insert(*u, self.pending.len() as u32);
                self.pending.push(*u);
            }
        }
        let reference =
            |u: u64, incidents: &BTreeMap<u64, Tracked>| match incidents.get(&u).and_then(|t| t.id)
            {
                Some(id) => IncidentRef::Existing(id),
                None => IncidentRef::New(temps.get(&u).copied().unwrap_or(0)),
            };
        let at = self.now;
        let mut changes = Vec::new();
        let mut audits = Vec::new();
        for (u, temp) in &temps {
            let state = self.incidents[u].state();
            audits.push(audit(
                at,
                "incident.create",
                format!("new:{temp}"),
                serde_json::json!({
                    "temp": temp,
                    "title": state.title,
                    "severity": state.severity,
                    "alert_count": state.alert_count,
                }),
            ));
            changes.push(Change::CreateIncident { temp: *temp, state });
        }
        for (from, into, bridge) in &merges {
            let into_ref = reference(*into, &self.incidents);
            let state = self.incidents[into].state();
            audits.push(audit(
                at,
                "incident.merge",
                from.to_string(),
                serde_json::json!({
                    "from": from,
                    "into": ref_json(into_ref),
                    "reason": "an alert shares an actor or target with both incidents",
                    "bridge": bridge,
                }),
            ));
            changes.push(Change::Merge {
                from: *from,
                into: into_ref,
                state,
            });
        }
        for (alert, u) in assigned {
            let incident = reference(resolve(u), &self.incidents);
            changes.push(Change::InsertAlert { alert, incident });
        }
        for t in self.incidents.values().filter(|t| t.touched) {
            if let Some(id) = t.id {
                changes.push(Change::UpdateIncident {
                    incident: IncidentRef::Existing(id),
                    state: t.state(),
                });
            }
        }
        changes.extend(audits.into_iter().map(Change::Audit));
        self.evict();
        ChangeSet { changes }
    }

    /// Learn the ids the store gave to the incidents of the last change set.
    pub fn confirm(&mut self, applied: &AppliedChanges) {
        for (temp, uid) in std::mem::take(&mut self.pending).into_iter().enumerate() {
            match applied.incident_ids.get(temp) {
                Some(id) => {
                    if let Some(t) = self.incidents.get_mut(&uid) {
                        t.id = Some(*id);
                    }
                }
                None => {
                    self.incidents.remove(&uid);
                }
            }
        }
    }

    /// A person changed an incident (status, owner, classification, severity), or merged it
    /// by hand: keep the correlator's view in step.
    pub fn on_incident_changed(&mut self, incident: &Incident) {
        let uid = self.uid_of(incident.id);
        if incident.status == IncidentStatus::Redirected {
            let Some(uid) = uid else { return };
            let Some(from) = self.incidents.remove(&uid) else {
                return;
            };
            if let Some(into) = incident.redirect_to.and_then(|id| self.uid_of(id)) {
                if let Some(t) = self.incidents.get_mut(&into) {
                    t.absorb(from, self.cfg.max_entities);
                }
            }
            return;
        }
        match uid.and_then(|u| self.incidents.get_mut(&u)) {
            Some(t) => {
                t.status = incident.status;
                t.assigned_to = incident.assigned_to.clone();
                t.classification = incident.classification;
                let computed = t.severity.unwrap_or(Severity::Informational);
                t.severity_override = (incident.severity != computed).then_some(incident.severity);
            }
            None if incident.status.is_open() => {
                self.now = self.now.max(incident.last_activity);
                self.insert_tracked(Tracked::from_incident(incident, &[]));
            }
            None => {}
        }
    }

    /// The state `into` would have after merging `from` into it (a manual merge through the
    /// API), or why the merge is refused.
    pub fn merge_plan(
        &self,
        from: &Incident,
        into: &Incident,
    ) -> Result<IncidentState, MergeRefusal> {
        check_merge(from, into)?;
        let known = |i: &Incident| {
            self.uid_of(i.id)
                .and_then(|u| self.incidents.get(&u))
                .cloned()
                .unwrap_or_else(|| Tracked::from_incident(i, &[]))
        };
        let mut target = known(into);
        target.absorb(known(from), self.cfg.max_entities);
        Ok(target.state())
    }

    /// Forget incidents idle for longer than the window, then the least recently active ones
    /// past `max_incidents`.
    fn evict(&mut self) {
        let horizon = self.now.millis().saturating_sub(self.cfg.window_ms);
        let pending = &self.pending;
        self.incidents
            .retain(|u, t| t.last.millis() >= horizon || pending.contains(u));
        if self.incidents.len() > self.cfg.max_incidents {
            let mut by_age: Vec<(Timestamp, u64)> =
                self.incidents.iter().map(|(u, t)| (t.last, *u)).collect();
            by_age.sort();
            let excess = self.incidents.len() - self.cfg.max_incidents;
            for (_, u) in by_age.into_iter().take(excess) {
                if !self.pending.contains(&u) {
                    self.incidents.remove(&u);
                }
            }
        }
    }
}

fn ref_json(r: IncidentRef) -> serde_json::Value {
    match r {
        IncidentRef::Existing(id) => serde_json::json!(id),
        IncidentRef::New(t) => serde_json::json!(format!("new:{t}")),
    }
}

/// An audit entry by the correlator, stamped with event time (pure crate: no wall clock).
fn audit(at: Timestamp, action: &str, object_id: String, details: serde_json::Value) -> NewAudit {
    NewAudit {
        at,
        actor: AUDIT_ACTOR.to_string(),
        action: action.to_string(),
        object_type: "incident".to_string(),
        object_id,
        details,
    }
}

#[cfg(test)]
mod tests;
