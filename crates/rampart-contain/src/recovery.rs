//! Recovery: is the threat of an incident neutralized, and what is left to do.
//!
//! - [`assess`]: every attacker entity of the incident with the actions that cover it, and a
//!   [`Verdict`] with its reasons.
//! - [`seed_tasks`]: the checklist derived from what was attacked.
//!
//! Pure: the caller reads the incident, its alerts, the actions and the entities' activity
//! from the store and passes `now`.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use rampart_model::action::format_duration;
use rampart_model::{
    Action, ActionKind, ActionStatus, ActorAccess, Alert, Entity, EntityActivity, EntityKind,
    EntityRole, Incident, NewTask, TaskKind, Timestamp,
};

/// How much of an entity's traffic an action stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// Nothing.
    None,
    /// Some of it: a rate limit, or an action scoped to one host or service.
    Partial,
    /// All of it: `block_ip` over the address (or a range holding it), `disable_api_key`,
    /// `disable_principal`, unscoped.
    Full,
}

/// The verdict on an incident's containment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// At least one attacker entity has no active action that covers it fully (or the
    /// incident names no attacker).
    NotContained,
    /// Every attacker entity is fully covered by an active action.
    Contained,
    /// Contained, and no attacker entity was active (an event not denied, or an alert) for
    /// the quiet period since it was contained.
    Neutralized,
}

/// One action as the containment view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionRef {
    /// The action.
    pub id: i64,
    /// Its kind.
    pub kind: ActionKind,
    /// Its target.
    pub target: String,
    /// Its status.
    pub status: ActionStatus,
    /// Whether it is in force.
    pub active: bool,
    /// What it covers of the entity while active.
    pub coverage: Coverage,
    /// Requests it denied.
    pub denied: u64,
}

/// One attacker entity and its containment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntityContainment {
    /// `ip`, `user` or `api_key`.
    pub kind: EntityKind,
    /// The value.
    pub value: String,
    /// Whether an active action covers it fully.
    pub contained: bool,
    /// The best coverage of its active actions.
    pub coverage: Coverage,
    /// When the earliest active action that covers it fully came into force.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contained_since: Option<Timestamp>,
    /// Every action on it (active or ended), newest first.
    pub actions: Vec<ActionRef>,
    /// Requests denied by its actions (the sum of their `denied` counters).
    pub denied_since_containment: u64,
    /// When one of its actions last denied a request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_denied: Option<Timestamp>,
    /// Its last event or alert (event time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
    /// Its last activity that counts against the quiet period: an event not denied, or an
    /// alert.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_active: Option<Timestamp>,
}

/// The containment block of an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Containment {
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in words (one line per fact that decided it).
    pub reasons: Vec<String>,
    /// The quiet period, as a Go-style duration.
    pub quiet_period: String,
    /// Every attacker entity.
    pub entities: Vec<EntityContainment>,
}

/// The attacker entities of an incident: IPs, principals and API keys in the `attacker`
/// role (a targeted principal, e.g. an account under credential stuffing, is not one),
/// deduplicated, in the incident's order.
pub fn attacker_entities(incident: &Incident) -> Vec<&Entity> {
    let mut out: Vec<&Entity> = Vec::new();
    for e in &incident.entities {
        if e.kind.is_actor()
            && e.role == EntityRole::Attacker
            && !out.iter().any(|o| o.kind == e.kind && o.value == e.value)
        {
            out.push(e);
        }
    }
    out
}

/// What `action` covers of `entity` were it active (scope and status ignored except that a
/// scoped action is partial).
pub fn coverage_of(action: &Action, entity: &Entity) -> Coverage {
    let a = &action.action;
    let full = if a.scope.is_global() {
        Coverage::Full
    } else {
        Coverage::Partial
    };
    match (a.kind, entity.kind) {
        (ActionKind::BlockIp, EntityKind::Ip) => {
            match (
                a.target
                    .parse::<IpNet>()
                    .ok()
                    .or_else(|| a.target.parse::<IpAddr>().ok().map(IpNet::from)),
                entity.value.parse::<IpAddr>(),
            ) {
                (Some(net), Ok(ip)) if net.contains(&ip) => full,
                _ => Coverage::None,
            }
        }
        (ActionKind::DisableApiKey, EntityKind::ApiKey)
        | (ActionKind::DisablePrincipal, EntityKind::User)
            if a.target == entity.value =>
        {
            full
        }
        (ActionKind::RateLimit, _) => {
            let subject = match entity.kind {
                EntityKind::Ip => "ip",
                EntityKind::ApiKey => "api_key",
                EntityKind::User => "principal",
                _ => return Coverage::None,
            };
            match a.target.split_once(':') {
                Some((s, v)) if s == subject && same_value(entity.kind, v, &entity.value) => {
                    Coverage::Partial
                }
                _ => Coverage::None,
            }
        }
        _ => Coverage::None,
    }
}

fn same_value(kind: EntityKind, a: &str, b: &str) -> bool {
    if kind == EntityKind::Ip {
        return matches!((a.parse::<IpAddr>(), b.parse::<IpAddr>()), (Ok(x), Ok(y)) if x == y);
    }
    a == b
}

fn alert_mentions(alert: &Alert, e: &Entity) -> bool {
    alert
        .draft
        .entities
        .iter()
        .any(|x| x.kind == e.kind && x.value == e.value)
}

fn label(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Ip => "ip",
        EntityKind::User => "principal",
        EntityKind::ApiKey => "api key",
        _ => "entity",
    }
}

/// The containment of `incident`: each attacker entity with the actions on it (`actions`:
/// the incident's own and any other active action, in any order), its activity
/// (`activity(entity)`, from the stored events) and the incident's `alerts`, and the verdict
/// at `now` with a quiet period of `quiet_secs`.
pub fn assess(
    incident: &Incident,
    alerts: &[Alert],
    actions: &[Action],
    activity: impl Fn(&Entity) -> EntityActivity,
    now: Timestamp,
    quiet_secs: u64,
) -> Containment {
    let mut entities = Vec::new();
    for e in attacker_entities(incident) {
        let mut refs: Vec<(&Action, Coverage)> = actions
            .iter()
            .map(|a| (a, coverage_of(a, e)))
            .filter(|(_, c)| *c != Coverage::None)
            .collect();
        refs.sort_by_key(|(a, _)| std::cmp::Reverse(a.id));
        refs.dedup_by_key(|(a, _)| a.id);
        let active = |a: &Action| a.status() == ActionStatus::Active;
        let coverage = refs
            .iter()
            .filter(|(a, _)| active(a))
            .map(|(_, c)| *c)
            .max()
            .unwrap_or(Coverage::None);
        let contained_since = refs
            .iter()
            .filter(|(a, c)| active(a) && *c == Coverage::Full)
            .filter_map(|(a, _)| a.action.starts_at)
            .min();
        let act = activity(e);
        let last_alert = alerts
            .iter()
            .filter(|a| alert_mentions(a, e))
            .map(|a| a.draft.last_seen)
            .max();
        entities.push(EntityContainment {
            kind: e.kind,
            value: e.value.clone(),
            contained: coverage == Coverage::Full,
            coverage,
            contained_since,
            denied_since_containment: refs.iter().map(|(a, _)| a.denied).sum(),
            last_denied: refs.iter().filter_map(|(a, _)| a.last_denied).max(),
            last_seen: act.last_seen.max(last_alert),
            last_active: act.last_allowed.max(last_alert),
            actions: refs
                .iter()
                .map(|(a, c)| ActionRef {
                    id: a.id,
                    kind: a.action.kind,
                    target: a.action.target.clone(),
                    status: a.status(),
                    active: active(a),
                    coverage: *c,
                    denied: a.denied,
                })
                .collect(),
        });
    }
    let (verdict, reasons) = verdict(&entities, now, quiet_secs);
    Containment {
        verdict,
        reasons,
        quiet_period: format_duration(quiet_secs),
        entities,
    }
}

/// The verdict over assessed entities, with its reasons (see [`Verdict`]).
pub fn verdict(
    entities: &[EntityContainment],
    now: Timestamp,
    quiet_secs: u64,
) -> (Verdict, Vec<String>) {
    if entities.is_empty() {
        return (
            Verdict::NotContained,
            vec!["the incident names no attacker ip, principal or api key".into()],
        );
    }
    let mut reasons = Vec::new();
    for e in entities.iter().filter(|e| !e.contained) {
        let why = match e.coverage {
            Coverage::Partial => "is only partly covered (rate limit or scoped action)",
            _ => "has no active action",
        };
        reasons.push(format!("{} {} {why}", label(e.kind), e.value));
    }
    if !reasons.is_empty() {
        return (Verdict::NotContained, reasons);
    }
    let quiet_ms = i64::try_from(quiet_secs)
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000);
    let mut quiet = true;
    for e in entities {
        // Contained implies an active, fully covering action with a start.
        let since = e.contained_since.unwrap_or(now);
        let from = match e.last_active {
            Some(t) if t > since => {
                reasons.push(format!(
                    "{} {} was active at {} after containment at {}",
                    label(e.kind),
                    e.value,
                    t.to_rfc3339(),
                    since.to_rfc3339()
                ));
                t
            }
            _ => since,
        };
        let quiet_for = now.millis().saturating_sub(from.millis()).max(0);
        if quiet_for < quiet_ms {
            quiet = false;
            reasons.push(format!(
                "{} {} quiet for {} of {}",
                label(e.kind),
                e.value,
                format_duration(u64::try_from(quiet_for / 1000).unwrap_or(0)),
                format_duration(quiet_secs)
            ));
        }
    }
    if quiet {
        reasons.insert(
            0,
            format!(
                "every attacker entity is contained and none was active for {} since",
                format_duration(quiet_secs)
            ),
        );
        (Verdict::Neutralized, reasons)
    } else {
        reasons.insert(0, "every attacker entity is contained".into());
        (Verdict::Contained, reasons)
    }
}

/// Most endpoints listed in one `review_access` task.
pub const MAX_REVIEW_LINES: usize = 50;

/// The recovery checklist of an incident, from what was attacked: for every attacker API key
/// "rotate API key <id>", for every attacker principal "reset credentials of <principal>",
/// for every attacker entity that got 2xx answers (`accessed`, from the stored events)
/// "review what <actor> read" listing the endpoints, and one "revert or let expire the
/// containment actions" when the incident has actions. Seeding again is harmless: the store
/// keeps one task per kind and entity.
pub fn seed_tasks(
    incident: &Incident,
    actions: &[Action],
    accessed: &[(Entity, Vec<ActorAccess>)],
) -> Vec<NewTask> {
    let mut out = Vec::new();
    for e in attacker_entities(incident) {
        let (kind, title, detail) = match e.kind {
            EntityKind::ApiKey => (
                TaskKind::RotateKey,
                format!("rotate API key {}", e.value),
                "issue a new key to its owner, revoke this one and check where it leaked".into(),
            ),
            EntityKind::User => (
                TaskKind::ResetPassword,
                format!("reset credentials of {}", e.value),
                "reset the password, revoke its sessions and tokens, and check its MFA".into(),
            ),
            _ => continue,
        };
        out.push(NewTask {
            kind,
            title,
            detail,
            entity: Some(e.clone()),
        });
    }
    for (e, access) in accessed {
        if access.is_empty() {
            continue;
        }
        let mut lines: Vec<String> = access
            .iter()
            .take(MAX_REVIEW_LINES)
            .map(|a| {
                format!(
                    "{} {} ({} x 2xx, last {})",
                    a.method,
                    a.path,
                    a.requests,
                    a.last.to_rfc3339()
                )
            })
            .collect();
        if access.len() > MAX_REVIEW_LINES {
            lines.push(format!(
                "... and {} more endpoints",
                access.len() - MAX_REVIEW_LINES
            ));
        }
        out.push(NewTask {
            kind: TaskKind::ReviewAccess,
            title: format!("review what {} {} read", label(e.kind), e.value),
            detail: lines.join("\n"),
            entity: Some(e.clone()),
        });
    }
    if !actions.is_empty() {
        let lines: Vec<String> = actions
            .iter()
            .map(|a| {
                format!(
                    "action {}: {} {} ({})",
                    a.id,
                    a.action.kind,
                    a.action.target,
                    a.status()
                )
            })
            .collect();
        out.push(NewTask {
            kind: TaskKind::RevertActions,
            title: "revert or let expire the containment actions".into(),
            detail: lines.join("\n"),
            entity: None,
        });
    }
    out
}

#[cfg(test)]
mod tests;
