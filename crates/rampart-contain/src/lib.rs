//! Containment goes through this one module: every action is planned, approved, reverted or
//! expired by the rules here, whoever asks (the API, the CLI, later automation rules).
//!
//! Pure: no I/O and no clock (the caller passes `now`). The store applies what these functions
//! decide, auditing it in the same transaction.

pub mod decide;
pub mod disruption;
pub mod investigation;

use ipnet::IpNet;
use serde::Deserialize;

pub mod reappear;
pub mod recovery;

use rampart_model::action::RateSubject;
use rampart_model::{
    Action, ActionChange, ActionError, ActionKind, ActionRequest, ActionStatus, NewAction,
    Permission, Role, Target, Timestamp,
};

/// Entities no action may target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Protected {
    /// Addresses and ranges (a block overlapping one is refused). The configured trusted
    /// proxies and `[detect.allow]` ips are added by the caller.
    pub ips: Vec<IpNet>,
    /// API key identities.
    pub api_keys: Vec<String>,
    /// Principals (exact).
    pub principals: Vec<String>,
    /// Endpoints: `METHOD /template`, or `/template` for every method.
    pub endpoints: Vec<String>,
    /// Services.
    pub services: Vec<String>,
}

/// Default durations per kind, in seconds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Durations {
    /// `block_ip` (default 4 h).
    pub block_ip: u64,
    /// `disable_api_key` (default 24 h).
    pub disable_api_key: u64,
    /// `disable_principal` (default 24 h).
    pub disable_principal: u64,
    /// `isolate_endpoint` (default 1 h).
    pub isolate_endpoint: u64,
    /// `isolate_service` (default 1 h).
    pub isolate_service: u64,
    /// `rate_limit` (default 1 h).
    pub rate_limit: u64,
}

impl Default for Durations {
    fn default() -> Self {
        Durations {
            block_ip: 4 * 3600,
            disable_api_key: 24 * 3600,
            disable_principal: 24 * 3600,
            isolate_endpoint: 3600,
            isolate_service: 3600,
            rate_limit: 3600,
        }
    }
}

impl Durations {
    /// The default of `kind`.
    pub fn of(&self, kind: ActionKind) -> u64 {
        match kind {
            ActionKind::BlockIp => self.block_ip,
            ActionKind::DisableApiKey => self.disable_api_key,
            ActionKind::DisablePrincipal => self.disable_principal,
            ActionKind::IsolateEndpoint => self.isolate_endpoint,
            ActionKind::IsolateService => self.isolate_service,
            ActionKind::RateLimit => self.rate_limit,
        }
    }
}

/// The safety rails (`[contain]` in `rampart.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContainConfig {
    /// What no action may target.
    pub protected: Protected,
    /// Default duration per kind.
    pub default_duration: Durations,
    /// Longest duration anyone may ask for, in seconds (default 30 days).
    pub max_duration_secs: u64,
    /// Widest IPv4 range a block may cover (prefix length; default 16).
    pub widest_v4: u8,
    /// Widest IPv6 range a block may cover (default 48).
    pub widest_v6: u8,
    /// IPv4 blocks wider than this prefix need approval (default 24).
    pub approval_wider_than_v4: u8,
    /// IPv6 blocks wider than this prefix need approval (default 64).
    pub approval_wider_than_v6: u8,
    /// Kinds that always need approval (default `isolate_endpoint`, `isolate_service`).
    pub approval_kinds: Vec<ActionKind>,
    /// How long every attacker entity of a contained incident must stay quiet (no event
    /// that was not denied, no alert) for the verdict `neutralized`, in seconds (default 1 h).
    pub quiet_period_secs: u64,
}

impl Default for ContainConfig {
    fn default() -> Self {
        ContainConfig {
            protected: Protected::default(),
            default_duration: Durations::default(),
            max_duration_secs: 30 * 86_400,
            widest_v4: 16,
            widest_v6: 48,
            approval_wider_than_v4: 24,
            approval_wider_than_v6: 64,
            approval_kinds: vec![ActionKind::IsolateEndpoint, ActionKind::IsolateService],
            quiet_period_secs: 3600,
        }
    }
}

/// How a refusal is answered over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalClass {
    /// 403: the person may not do this.
    Forbidden,
    /// 409: the action's state does not allow it.
    Conflict,
    /// 422: the request is well-formed but refused (invalid, protected, too wide, too long).
    Unprocessable,
}

/// Why a containment request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The request itself is invalid.
    #[error(transparent)]
    Invalid(#[from] ActionError),
    /// The requester's role lacks the permission.
    #[error("not permitted: {role} lacks {needed}")]
    NotPermitted {
        /// The role.
        role: Role,
        /// What was needed.
        needed: Permission,
    },
    /// The approver is the requester.
    #[error("not permitted: an action must be approved by another person than {0}")]
    SelfApproval(String),
    /// The target is protected.
    #[error("protected target: {target} is protected ({by})")]
    Protected {
        /// The target.
        target: String,
        /// The protected entry it hits.
        by: String,
    },
    /// The range is wider than allowed.
    #[error("too wide: {target} is wider than /{widest}")]
    TooWide {
        /// The target.
        target: String,
        /// The widest prefix allowed.
        widest: u8,
    },
    /// The duration is longer than allowed.
    #[error("too long: {asked}s is longer than the maximum {max}s")]
    TooLong {
        /// Seconds asked for.
        asked: u64,
        /// The maximum.
        max: u64,
    },
    /// The action is not in a state that allows the change.
    #[error("action {id} is {status}: cannot {what}")]
    State {
        /// The action.
        id: i64,
        /// Its status.
        status: ActionStatus,
        /// What was asked (`approve`, `revert`).
        what: &'static str,
    },
}

impl Refusal {
    /// Its HTTP class.
    pub fn class(&self) -> RefusalClass {
        match self {
            Refusal::NotPermitted { .. } | Refusal::SelfApproval(_) => RefusalClass::Forbidden,
            Refusal::State { .. } => RefusalClass::Conflict,
            Refusal::Invalid(_)
            | Refusal::Protected { .. }
            | Refusal::TooWide { .. }
            | Refusal::TooLong { .. } => RefusalClass::Unprocessable,
        }
    }
}

/// Who asks: the audit actor and the role.
#[derive(Debug, Clone, Copy)]
pub struct Person<'a> {
    /// Actor name (`token:<name>`).
    pub actor: &'a str,
    /// Role.
    pub role: Role,
}

/// The permission an action on `target` needs: one IP, key, principal or rate limit is low
/// impact; ranges and isolation are high impact.
pub fn needed_permission(target: &Target) -> Permission {
    match target {
        Target::Ip(_) if target.is_range() => Permission::ContainHigh,
        Target::Ip(_) | Target::ApiKey(_) | Target::Principal(_) | Target::Rate(_) => {
            Permission::ContainLow
        }
        Target::Endpoint { .. } | Target::Service(_) => Permission::ContainHigh,
    }
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

fn endpoint_matches(entry: &str, method: &str, path: &str) -> bool {
    match entry.split_once(' ') {
        Some((m, p)) => (m == "*" || m.eq_ignore_ascii_case(method) || method == "*") && p == path,
        None => entry == path,
    }
}

fn check_protected(target: &Target, p: &Protected) -> Result<(), Refusal> {
    let refuse = |by: String| {
        Err(Refusal::Protected {
            target: target.canonical(),
            by,
        })
    };
    let ip_hit = |net: &IpNet| {
        p.ips
            .iter()
            .find(|q| overlaps(net, q))
            .map(|q| q.to_string())
    };
    match target {
        Target::Ip(net) => ip_hit(net).map_or(Ok(()), refuse),
        Target::Rate(RateSubject::Ip(a)) => ip_hit(&IpNet::from(*a)).map_or(Ok(()), refuse),
        Target::ApiKey(k) | Target::Rate(RateSubject::ApiKey(k)) => {
            if p.api_keys.contains(k) {
                refuse(format!("api key {k}"))
            } else {
                Ok(())
            }
        }
        Target::Principal(u) | Target::Rate(RateSubject::Principal(u)) => {
            if p.principals.contains(u) {
                refuse(format!("principal {u}"))
            } else {
                Ok(())
            }
        }
        Target::Endpoint { method, path } => p
            .endpoints
            .iter()
            .find(|e| endpoint_matches(e, method, path))
            .map_or(Ok(()), |e| refuse(format!("endpoint {e}"))),
        Target::Service(s) => {
            if p.services.contains(s) {
                refuse(format!("service {s}"))
            } else {
                Ok(())
            }
        }
    }
}

fn needs_approval(kind: ActionKind, target: &Target, cfg: &ContainConfig) -> bool {
    if cfg.approval_kinds.contains(&kind) {
        return true;
    }
    match target {
        Target::Ip(IpNet::V4(n)) => n.prefix_len() < cfg.approval_wider_than_v4,
        Target::Ip(IpNet::V6(n)) => n.prefix_len() < cfg.approval_wider_than_v6,
        _ => false,
    }
}

/// Decide a request: validated target, permission (low or high impact), protected target,
/// range width, duration (the kind's default when none is given, at most the maximum), and
/// whether it starts `active` or `pending_approval`. The requester never approves their own
/// action, whatever their role.
pub fn plan(
    req: &ActionRequest,
    by: Person<'_>,
    cfg: &ContainConfig,
    now: Timestamp,
) -> Result<NewAction, Refusal> {
    let target = req.validate()?;
    let needed = needed_permission(&target);
    if !by.role.grants(needed) {
        return Err(Refusal::NotPermitted {
            role: by.role,
            needed,
        });
    }
    if let Target::Ip(net) = &target {
        let widest = match net {
            IpNet::V4(_) => cfg.widest_v4,
            IpNet::V6(_) => cfg.widest_v6,
        };
        if net.prefix_len() < widest {
            return Err(Refusal::TooWide {
                target: target.canonical(),
                widest,
            });
        }
    }
    check_protected(&target, &cfg.protected)?;
    let duration_secs = req
        .duration_secs
        .unwrap_or_else(|| cfg.default_duration.of(req.kind));
    if duration_secs > cfg.max_duration_secs {
        return Err(Refusal::TooLong {
            asked: duration_secs,
            max: cfg.max_duration_secs,
        });
    }
    let pending = needs_approval(req.kind, &target, cfg);
    let (status, starts_at, expires_at) = if pending {
        (ActionStatus::PendingApproval, None, None)
    } else {
        (
            ActionStatus::Active,
            Some(now),
            Some(after(now, duration_secs)),
        )
    };
    Ok(NewAction {
        kind: req.kind,
        target: target.canonical(),
        scope: req.scope.clone(),
        rate: req.rate,
        reason: req.reason.trim().to_string(),
        incident_id: req.incident_id,
        requested_by: by.actor.to_string(),
        status,
        created_at: now,
        starts_at,
        expires_at,
        duration_secs,
    })
}

fn after(now: Timestamp, secs: u64) -> Timestamp {
    let ms = i64::try_from(secs)
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000);
    Timestamp(now.millis().saturating_add(ms))
}

/// Approve a pending action: the approver must hold `Approve` and be another person than the
/// requester. It comes into force now for its duration.
pub fn approve(action: &Action, by: Person<'_>, now: Timestamp) -> Result<ActionChange, Refusal> {
    if !by.role.grants(Permission::Approve) {
        return Err(Refusal::NotPermitted {
            role: by.role,
            needed: Permission::Approve,
        });
    }
    if action.action.requested_by == by.actor {
        return Err(Refusal::SelfApproval(by.actor.to_string()));
    }
    if action.status() != ActionStatus::PendingApproval {
        return Err(Refusal::State {
            id: action.id,
            status: action.status(),
            what: "approve",
        });
    }
    Ok(ActionChange::Approve {
        by: by.actor.to_string(),
        at: now,
        expires_at: after(now, action.action.duration_secs),
    })
}

/// Revert an active or pending action (access is restored at once): one's own with
/// `RevertOwn`, anyone's with `RevertAny`. A reason is required.
pub fn revert(
    action: &Action,
    by: Person<'_>,
    reason: &str,
    now: Timestamp,
) -> Result<ActionChange, Refusal> {
    let needed = if action.action.requested_by == by.actor {
        Permission::RevertOwn
    } else {
        Permission::RevertAny
    };
    if !by.role.grants(needed) {
        return Err(Refusal::NotPermitted {
            role: by.role,
            needed,
        });
    }
    if action.status().is_final() {
        return Err(Refusal::State {
            id: action.id,
            status: action.status(),
            what: "revert",
        });
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ActionError::InvalidRequest("reason is required".into()).into());
    }
    if reason.chars().count() > rampart_model::action::MAX_REASON_CHARS {
        return Err(ActionError::InvalidRequest("reason is too long".into()).into());
    }
    Ok(ActionChange::Revert {
        by: by.actor.to_string(),
        reason: reason.to_string(),
        at: now,
    })
}

/// Whether `action` has run out at `now` (active, and its expiry at or before `now`): the
/// rule the store's `expire_actions` applies in SQL.
pub fn is_expired(action: &Action, now: Timestamp) -> bool {
    action.status() == ActionStatus::Active && action.action.expires_at.is_some_and(|e| e <= now)
}

/// The expiry of every action in `actions` that has run out at `now`.
pub fn expire(actions: &[Action], now: Timestamp) -> Vec<(i64, ActionChange)> {
    actions
        .iter()
        .filter(|a| is_expired(a, now))
        .map(|a| (a.id, ActionChange::Expire { at: now }))
        .collect()
}

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
