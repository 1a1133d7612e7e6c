//! Containment actions: blocking an IP or range, disabling an API key or a principal,
//! isolating an endpoint or a service, rate-limiting an actor.
//!
//! An [`Action`] is a first-class record with a life cycle ([`ActionStatus`]); what an
//! analyst (or, later, an automation rule) asks for is an [`ActionRequest`]. This module only
//! parses and validates targets ([`Target::parse`]); the rules (who may, protected targets,
//! approvals, durations) live in `rampart-contain`.

use std::fmt;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::entity::EntityKind;
use crate::enums::wire_enum;
use crate::time::Timestamp;

wire_enum! {
    /// What an action does.
    ActionKind, "action kind" {
        /// Block an IPv4/IPv6 address or CIDR range.
        BlockIp = "block_ip",
        /// Disable an API key, by the keyed identity Rampart shows in entities.
        DisableApiKey = "disable_api_key",
        /// Disable a principal (user name, JWT subject).
        DisablePrincipal = "disable_principal",
        /// Isolate an endpoint: `METHOD /path/{template}`, optionally per host or service.
        IsolateEndpoint = "isolate_endpoint",
        /// Isolate a whole backend service.
        IsolateService = "isolate_service",
        /// Rate-limit one IP, API key or principal to N requests per window.
        RateLimit = "rate_limit",
    }
}

impl ActionKind {
    /// The entity kind an action of this kind targets (a rate limit: its IP form).
    pub fn entity_kind(self) -> EntityKind {
        match self {
            ActionKind::BlockIp | ActionKind::RateLimit => EntityKind::Ip,
            ActionKind::DisableApiKey => EntityKind::ApiKey,
            ActionKind::DisablePrincipal => EntityKind::User,
            ActionKind::IsolateEndpoint => EntityKind::Endpoint,
            ActionKind::IsolateService => EntityKind::Service,
        }
    }
}

wire_enum! {
    /// Where an action is in its life.
    ActionStatus, "action status" {
        /// Waiting for another person's approval; not enforced.
        PendingApproval = "pending_approval",
        /// Enforced until it expires or is reverted.
        Active = "active",
        /// Its duration ran out.
        Expired = "expired",
        /// Undone by a person (with a reason).
        Reverted = "reverted",
        /// Could not be put in force.
        Failed = "failed",
    }
}

impl ActionStatus {
    /// Whether no further state change is possible.
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            ActionStatus::Expired | ActionStatus::Reverted | ActionStatus::Failed
        )
    }
}

/// Where an action applies: everywhere, or only on one host and/or service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionScope {
    /// Only requests to this host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Only requests to this service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

impl ActionScope {
    /// Whether the action applies everywhere.
    pub fn is_global(&self) -> bool {
        self.host.is_none() && self.service.is_none()
    }
}

/// The limit of a `rate_limit` action: at most `requests` per `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Requests allowed per window (1..=1 000 000).
    pub requests: u32,
    /// Window length in seconds (1..=86 400).
    pub window_secs: u64,
}

/// Who a rate limit counts by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateSubject {
    /// One client address.
    Ip(std::net::IpAddr),
    /// One API key identity.
    ApiKey(String),
    /// One principal.
    Principal(String),
}

/// A parsed, validated target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An address (a /32 or /128) or a range.
    Ip(IpNet),
    /// An API key identity (32 lower-case hex digits).
    ApiKey(String),
    /// A principal.
    Principal(String),
    /// `METHOD /path/{template}`.
    Endpoint {
        /// Upper-case method.
        method: String,
        /// Path template starting with `/`.
        path: String,
    },
    /// A service name.
    Service(String),
    /// The subject of a rate limit.
    Rate(RateSubject),
}

/// Longest target, principal or service name, in bytes.
pub const MAX_TARGET_BYTES: usize = 256;
/// Longest reason, in characters.
pub const MAX_REASON_CHARS: usize = 2000;

/// A target, reason or request that cannot be an action, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The target does not parse for its kind.
    #[error("invalid target for {kind}: {why}")]
    InvalidTarget {
        /// The action kind.
        kind: ActionKind,
        /// What is wrong with it.
        why: String,
    },
    /// The rest of the request is malformed (raw key, rate, scope, reason).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

fn bad(kind: ActionKind, why: impl Into<String>) -> ActionError {
    ActionError::InvalidTarget {
        kind,
        why: why.into(),
    }
}

/// A name (principal, service, host): 1..=256 bytes, no control characters or spaces at
/// either end.
fn check_name(kind: ActionKind, what: &str, s: &str) -> Result<String, ActionError> {
    if s.is_empty() {
        return Err(bad(kind, format!("{what} is empty")));
    }
    if s.len() > MAX_TARGET_BYTES {
        return Err(bad(
            kind,
            format!("{what} is longer than {MAX_TARGET_BYTES} bytes"),
        ));
    }
    if s.chars().any(char::is_control) || s.trim() != s {
        return Err(bad(
            kind,
            format!("{what} has control characters or surrounding spaces"),
        ));
    }
    Ok(s.to_string())
}

fn parse_net(kind: ActionKind, s: &str) -> Result<IpNet, ActionError> {
    if let Ok(addr) = s.parse::<std::net::IpAddr>() {
        return Ok(IpNet::from(addr));
    }
    let net: IpNet = s
        .parse()
        .map_err(|_| bad(kind, format!("{s:?} is not an IP address or CIDR range")))?;
    if net.trunc() != net {
        return Err(bad(
            kind,
            format!("{s} has host bits set (the range is {})", net.trunc()),
        ));
    }
    Ok(net)
}

fn parse_key_id(kind: ActionKind, s: &str) -> Result<String, ActionError> {
    if s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(s.to_string())
    } else {
        Err(bad(
            kind,
            "an API key identity is 32 lower-case hex digits (give a raw key as raw_key)",
        ))
    }
}

const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "*",
];

impl Target {
    /// Parse `s` as a target of `kind`.
    pub fn parse(kind: ActionKind, s: &str) -> Result<Target, ActionError> {
        if s.len() > MAX_TARGET_BYTES {
            return Err(bad(kind, format!("longer than {MAX_TARGET_BYTES} bytes")));
        }
        match kind {
            ActionKind::BlockIp => parse_net(kind, s).map(Target::Ip),
            ActionKind::DisableApiKey => parse_key_id(kind, s).map(Target::ApiKey),
            ActionKind::DisablePrincipal => check_name(kind, "principal", s).map(Target::Principal),
            ActionKind::IsolateService => check_name(kind, "service", s).map(Target::Service),
            ActionKind::IsolateEndpoint => {
                let (method, path) = s
                    .split_once(' ')
                    .ok_or_else(|| bad(kind, "expected `METHOD /path/{template}`"))?;
                let method = method.to_ascii_uppercase();
                if !METHODS.contains(&method.as_str()) {
                    return Err(bad(kind, format!("unknown method {method:?}")));
                }
                if !path.starts_with('/')
                    || path
                        .bytes()
                        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
                {
                    return Err(bad(kind, "the path must start with `/` and have no spaces"));
                }
                Ok(Target::Endpoint {
                    method,
                    path: path.to_string(),
                })
            }
            ActionKind::RateLimit => {
                let (by, value) = s.split_once(':').ok_or_else(|| {
                    bad(
                        kind,
                        "expected `ip:ADDRESS`, `api_key:ID` or `principal:NAME`",
                    )
                })?;
                let subject = match by {
                    "ip" => {
                        let net = parse_net(kind, value)?;
                        if net.prefix_len() != net.max_prefix_len() {
                            return Err(bad(kind, "a rate limit is per address, not per range"));
                        }
                        RateSubject::Ip(net.addr())
                    }
                    "api_key" | "key" => RateSubject::ApiKey(parse_key_id(kind, value)?),
                    "principal" => RateSubject::Principal(check_name(kind, "principal", value)?),
                    other => return Err(bad(kind, format!("unknown subject {other:?}"))),
                };
                Ok(Target::Rate(subject))
            }
        }
    }

    /// The canonical text form (what is stored and shown): an address without `/32`, a range
    /// with its host bits cleared, an upper-case method.
    pub fn canonical(&self) -> String {
        self.to_string()
    }

    /// Whether this is a range of more than one address.
    pub fn is_range(&self) -> bool {
        matches!(self, Target::Ip(n) if n.prefix_len() != n.max_prefix_len())
    }

    /// Whether an action on this target acts on the entity `kind`/`value`: an address in a
    /// blocked range, the principal, key or service itself, a rate limit's subject, or the
    /// endpoint (method and template; a `*` method covers every one, a host prefix on the
    /// entity is ignored). A user agent is never a target.
    pub fn concerns(&self, kind: EntityKind, value: &str) -> bool {
        match (self, kind) {
            (Target::Ip(net), EntityKind::Ip) => value
                .parse::<std::net::IpAddr>()
                .is_ok_and(|a| net.contains(&a)),
            (Target::Rate(RateSubject::Ip(a)), EntityKind::Ip) => {
                value.parse::<std::net::IpAddr>().is_ok_and(|v| v == *a)
            }
            (Target::Principal(p) | Target::Rate(RateSubject::Principal(p)), EntityKind::User)
            | (Target::ApiKey(p) | Target::Rate(RateSubject::ApiKey(p)), EntityKind::ApiKey)
            | (Target::Service(p), EntityKind::Service) => p == value,
            (Target::Endpoint { method, path }, EntityKind::Endpoint) => {
                crate::entity::endpoint_parts(value).is_some_and(|(_, m, p)| {
                    p == path && (method == "*" || method.eq_ignore_ascii_case(m))
                })
            }
            _ => false,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Ip(n) if n.prefix_len() == n.max_prefix_len() => write!(f, "{}", n.addr()),
            Target::Ip(n) => write!(f, "{n}"),
            Target::ApiKey(k) | Target::Principal(k) | Target::Service(k) => f.write_str(k),
            Target::Endpoint { method, path } => write!(f, "{method} {path}"),
            Target::Rate(RateSubject::Ip(a)) => write!(f, "ip:{a}"),
            Target::Rate(RateSubject::ApiKey(k)) => write!(f, "api_key:{k}"),
            Target::Rate(RateSubject::Principal(p)) => write!(f, "principal:{p}"),
        }
    }
}

/// What a person (or rule) asks for. `duration_secs` `None` takes the kind's default.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRequest {
    /// The kind.
    pub kind: ActionKind,
    /// The target, as text (see [`Target::parse`]); empty when `raw_key` gives it.
    #[serde(default)]
    pub target: String,
    /// A raw API key (`disable_api_key` only), given once: [`ActionRequest::resolve_raw_key`]
    /// replaces it by its keyed identity before anything else sees it. Never serialized.
    #[serde(default, skip_serializing)]
    pub raw_key: Option<String>,
    /// Where it applies.
    #[serde(default)]
    pub scope: ActionScope,
    /// The limit (`rate_limit` only, required there).
    #[serde(default)]
    pub rate: Option<RateLimit>,
    /// How long, in seconds; `None` for the kind's default.
    #[serde(default)]
    pub duration_secs: Option<u64>,
    /// Why (required).
    pub reason: String,
    /// The incident it answers, if any.
    #[serde(default)]
    pub incident_id: Option<i64>,
}

impl fmt::Debug for ActionRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActionRequest")
            .field("kind", &self.kind)
            .field("target", &self.target)
            .field("raw_key", &self.raw_key.as_ref().map(|_| "[redacted]"))
            .field("scope", &self.scope)
            .field("rate", &self.rate)
            .field("duration_secs", &self.duration_secs)
            .field("reason", &self.reason)
            .field("incident_id", &self.incident_id)
            .finish()
    }
}

impl ActionRequest {
    /// Replace a raw key by its identity (`identity(raw)`, the installation's keyed hash),
    /// dropping the raw key. Exactly one of `target` and `raw_key` must be given for
    /// `disable_api_key`, and `raw_key` only there.
    pub fn resolve_raw_key(
        mut self,
        identity: impl FnOnce(&str) -> String,
    ) -> Result<ActionRequest, ActionError> {
        match self.raw_key.take() {
            None => Ok(self),
            Some(_) if self.kind != ActionKind::DisableApiKey => Err(ActionError::InvalidRequest(
                "raw_key is only for disable_api_key".into(),
            )),
            Some(_) if !self.target.is_empty() => Err(ActionError::InvalidRequest(
                "give either target or raw_key, not both".into(),
            )),
            Some(raw) if raw.is_empty() => {
                Err(ActionError::InvalidRequest("raw_key is empty".into()))
            }
            Some(raw) => {
                self.target = identity(&raw);
                Ok(self)
            }
        }
    }

    /// Check everything that does not depend on configuration or on who asks: the target
    /// for the kind, the rate (required for `rate_limit`, refused elsewhere), the scope names
    /// and the reason. Returns the parsed target.
    pub fn validate(&self) -> Result<Target, ActionError> {
        if self.raw_key.is_some() {
            return Err(ActionError::InvalidRequest(
                "raw_key was not resolved".into(),
            ));
        }
        let target = Target::parse(self.kind, &self.target)?;
        match (self.kind, self.rate) {
            (ActionKind::RateLimit, None) => {
                return Err(ActionError::InvalidRequest(
                    "rate_limit needs rate (requests per window)".into(),
                ))
            }
            (ActionKind::RateLimit, Some(r)) => {
                if !(1..=1_000_000).contains(&r.requests) || !(1..=86_400).contains(&r.window_secs)
                {
                    return Err(ActionError::InvalidRequest(
                        "rate needs 1..=1000000 requests per a window of 1s..=1d".into(),
                    ));
                }
            }
            (_, Some(_)) => {
                return Err(ActionError::InvalidRequest(
                    "rate is only for rate_limit".into(),
                ))
            }
            (_, None) => {}
        }
        if let Some(h) = &self.scope.host {
            check_name(self.kind, "scope host", h)?;
        }
        if let Some(s) = &self.scope.service {
            check_name(self.kind, "scope service", s)?;
        }
        if self.reason.trim().is_empty() {
            return Err(ActionError::InvalidRequest("reason is required".into()));
        }
        if self.reason.chars().count() > MAX_REASON_CHARS {
            return Err(ActionError::InvalidRequest(format!(
                "reason is longer than {MAX_REASON_CHARS} characters"
            )));
        }
        Ok(target)
    }
}

/// An action to store (the store assigns its id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAction {
    /// The kind.
    pub kind: ActionKind,
    /// The canonical target ([`Target::canonical`]).
    pub target: String,
    /// Where it applies.
    #[serde(default, skip_serializing_if = "ActionScope::is_global")]
    pub scope: ActionScope,
    /// The limit of a `rate_limit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateLimit>,
    /// Why.
    pub reason: String,
    /// The incident it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<i64>,
    /// Who asked (`token:<name>`, `cli:<user>`).
    pub requested_by: String,
    /// `Active` or `PendingApproval`.
    pub status: ActionStatus,
    /// When it was asked for (wall clock).
    pub created_at: Timestamp,
    /// When it came into force (`None` while pending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<Timestamp>,
    /// When it runs out (`None` while pending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// How long it lasts once in force, in seconds.
    pub duration_secs: u64,
}

/// A stored action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// Store-assigned id.
    pub id: i64,
    /// Everything it was created with, and its current status and times.
    #[serde(flatten)]
    pub action: NewAction,
    /// Who approved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// When it was approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<Timestamp>,
    /// Who reverted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverted_by: Option<String>,
    /// Why it was reverted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert_reason: Option<String>,
    /// When it was reverted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverted_at: Option<Timestamp>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Requests denied because of it.
    #[serde(default)]
    pub denied: u64,
    /// When it last denied a request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_denied: Option<Timestamp>,
}

impl Action {
    /// Its status.
    pub fn status(&self) -> ActionStatus {
        self.action.status
    }
}

/// A state change of an action (decided by `rampart-contain`, applied by the store as a
/// compare-and-set on the status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ActionChange {
    /// Approved: in force from `at` to `expires_at`.
    Approve {
        /// Who approved.
        by: String,
        /// When.
        at: Timestamp,
        /// When it runs out.
        expires_at: Timestamp,
    },
    /// Reverted (access restored).
    Revert {
        /// Who.
        by: String,
        /// Why.
        reason: String,
        /// When.
        at: Timestamp,
    },
    /// Ran out.
    Expire {
        /// When it was noticed.
        at: Timestamp,
    },
    /// Could not be put in force.
    Fail {
        /// Why.
        reason: String,
        /// When.
        at: Timestamp,
    },
}

impl ActionChange {
    /// The status after the change.
    pub const fn status(&self) -> ActionStatus {
        match self {
            ActionChange::Approve { .. } => ActionStatus::Active,
            ActionChange::Revert { .. } => ActionStatus::Reverted,
            ActionChange::Expire { .. } => ActionStatus::Expired,
            ActionChange::Fail { .. } => ActionStatus::Failed,
        }
    }
    /// The audit action name (`action.approve`, ...).
    pub const fn audit_name(&self) -> &'static str {
        match self {
            ActionChange::Approve { .. } => "action.approve",
            ActionChange::Revert { .. } => "action.revert",
            ActionChange::Expire { .. } => "action.expire",
            ActionChange::Fail { .. } => "action.fail",
        }
    }
    /// `action` with the change applied.
    pub fn apply(&self, action: &Action) -> Action {
        let mut a = action.clone();
        a.action.status = self.status();
        match self {
            ActionChange::Approve { by, at, expires_at } => {
                a.approved_by = Some(by.clone());
                a.approved_at = Some(*at);
                a.action.starts_at = Some(*at);
                a.action.expires_at = Some(*expires_at);
            }
            ActionChange::Revert { by, reason, at } => {
                a.reverted_by = Some(by.clone());
                a.revert_reason = Some(reason.clone());
                a.reverted_at = Some(*at);
            }
            ActionChange::Expire { .. } => {}
            ActionChange::Fail { reason, .. } => a.failure = Some(reason.clone()),
        }
        a
    }
}

/// Filters for listing actions (newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionFilter {
    /// Only this status.
    #[serde(default)]
    pub status: Option<ActionStatus>,
    /// Only actions of this incident.
    #[serde(default)]
    pub incident_id: Option<i64>,
    /// Only actions requested by an actor whose name starts with this (`disruption:`,
    /// `rule:`, `user:alice`).
    #[serde(default)]
    pub requested_by: Option<String>,
    /// Only actions created at or after this instant.
    #[serde(default)]
    pub created_since: Option<Timestamp>,
    /// Page size (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Rows to skip.
    #[serde(default)]
    pub offset: Option<u32>,
}

/// Parse a Go-style duration: one or more `<digits><unit>` with units `s`, `m`, `h`, `d`
/// (`30s`, `15m`, `4h`, `7d`, `1h30m`), into seconds. Zero is refused.
pub fn parse_duration(s: &str) -> Result<u64, ActionError> {
    let invalid = || {
        ActionError::InvalidRequest(format!(
            "invalid duration {s:?}: expected e.g. 30s, 15m, 4h, 7d or 1h30m"
        ))
    };
    let mut total: u64 = 0;
    let mut rest = s;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 12 {
            return Err(invalid());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        let unit = match rest.as_bytes().get(digits) {
            Some(b's') => 1,
            Some(b'm') => 60,
            Some(b'h') => 3600,
            Some(b'd') => 86_400,
            _ => return Err(invalid()),
        };
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(invalid)?;
        rest = &rest[digits + 1..];
    }
    if total == 0 {
        return Err(invalid());
    }
    Ok(total)
}

/// Write seconds as the shortest Go-style duration (`4h`, `1h30m`, `90s` as `1m30s`).
pub fn format_duration(mut secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, name) in [(86_400, 'd'), (3600, 'h'), (60, 'm'), (1, 's')] {
        if secs >= unit {
            out.push_str(&(secs / unit).to_string());
            out.push(name);
            secs %= unit;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    /// `Ok(canonical)` or `Err(part of the message)`.
    fn check(kind: ActionKind, input: &str, want: Result<&str, &str>) {
        let got = Target::parse(kind, input).map(|t| t.canonical());
        match (got, want) {
            (Ok(g), Ok(w)) => assert_eq!(g, w, "{kind} {input:?}"),
            (Err(e), Err(w)) => {
                assert!(
                    e.to_string().contains(w),
                    "{kind} {input:?}: {e} lacks {w:?}"
                )
            }
            (got, want) => panic!("{kind} {input:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn targets() {
        use ActionKind::*;
        let long = "a".repeat(300);
        #[rustfmt::skip]
        let cases: &[(ActionKind, &str, Result<&str, &str>)] = &[
            (BlockIp, "203.0.113.7", Ok("203.0.113.7")),
            (BlockIp, "203.0.113.7/32", Ok("203.0.113.7")),
            (BlockIp, "203.0.113.0/24", Ok("203.0.113.0/24")),
            (BlockIp, "2001:db8::1", Ok("2001:db8::1")),
            (BlockIp, "2001:db8::/48", Ok("2001:db8::/48")),
            (BlockIp, "203.0.113.7/24", Err("host bits set (the range is 203.0.113.0/24)")),
            (BlockIp, "203.0.113", Err("not an IP address or CIDR range")),
            (BlockIp, "203.0.113.0/33", Err("not an IP address or CIDR range")),
            (BlockIp, "", Err("not an IP address")),
            (BlockIp, " 203.0.113.7", Err("not an IP address")),
            (DisableApiKey, KEY, Ok(KEY)),
            (DisableApiKey, "0123456789ABCDEF0123456789ABCDEF", Err("32 lower-case hex")),
            (DisableApiKey, "sk_live_abc", Err("give a raw key as raw_key")),
            (DisablePrincipal, "alice@example.com", Ok("alice@example.com")),
            (DisablePrincipal, "", Err("principal is empty")),
            (DisablePrincipal, "al\nice", Err("control characters")),
            (DisablePrincipal, " alice", Err("surrounding spaces")),
            (DisablePrincipal, &long, Err("longer than 256 bytes")),
            (IsolateEndpoint, "post /api/v1/users/{id}", Ok("POST /api/v1/users/{id}")),
            (IsolateEndpoint, "* /admin", Ok("* /admin")),
            (IsolateEndpoint, "/api/v1/users", Err("expected `METHOD /path/{template}`")),
            (IsolateEndpoint, "FETCH /x", Err("unknown method \"FETCH\"")),
            (IsolateEndpoint, "GET api/v1", Err("must start with `/`")),
            (IsolateEndpoint, "GET /a b", Err("no spaces")),
            (IsolateService, "billing", Ok("billing")),
            (IsolateService, "", Err("service is empty")),
            (RateLimit, "ip:203.0.113.7", Ok("ip:203.0.113.7")),
            (RateLimit, "ip:203.0.113.0/24", Err("per address, not per range")),
            (RateLimit, &format!("key:{KEY}"), Ok(&format!("api_key:{KEY}"))),
            (RateLimit, "principal:bob", Ok("principal:bob")),
            (RateLimit, "user:bob", Err("unknown subject \"user\"")),
            (RateLimit, "203.0.113.7", Err("expected `ip:ADDRESS`")),
        ];
        for (kind, input, want) in cases {
            check(*kind, input, *want);
        }
    }

    fn request(kind: ActionKind, target: &str) -> ActionRequest {
        ActionRequest {
            kind,
            target: target.into(),
            raw_key: None,
            scope: ActionScope::default(),
            rate: None,
            duration_secs: None,
            reason: "credential stuffing".into(),
            incident_id: None,
        }
    }

    #[test]
    fn targets_concern_their_entities() {
        use ActionKind::*;
        use EntityKind as E;
        #[rustfmt::skip]
        let cases: &[(ActionKind, &str, EntityKind, &str, bool)] = &[
            (BlockIp, "203.0.113.7", E::Ip, "203.0.113.7", true),
            (BlockIp, "203.0.113.0/24", E::Ip, "203.0.113.99", true),
            (BlockIp, "203.0.113.0/24", E::Ip, "203.0.114.1", false),
            (BlockIp, "203.0.113.7", E::Ip, "not an ip", false),
            (BlockIp, "203.0.113.7", E::User, "203.0.113.7", false),
            (RateLimit, "ip:203.0.113.7", E::Ip, "203.0.113.7", true),
            (RateLimit, "principal:bob", E::User, "bob", true),
            (RateLimit, "principal:bob", E::User, "bobby", false),
            (RateLimit, &format!("api_key:{KEY}"), E::ApiKey, KEY, true),
            (DisableApiKey, KEY, E::ApiKey, KEY, true),
            (DisablePrincipal, "alice", E::User, "alice", true),
            (IsolateService, "billing", E::Service, "billing", true),
            (IsolateEndpoint, "GET /users/{id}", E::Endpoint, "GET /users/{id}", true),
            (IsolateEndpoint, "GET /users/{id}", E::Endpoint, "api.example.com GET /users/{id}", true),
            (IsolateEndpoint, "* /users/{id}", E::Endpoint, "DELETE /users/{id}", true),
            (IsolateEndpoint, "GET /users/{id}", E::Endpoint, "POST /users/{id}", false),
            (IsolateEndpoint, "GET /users/{id}", E::UserAgent, "GET /users/{id}", false),
        ];
        for (kind, target, ek, value, want) in cases {
            let t = Target::parse(*kind, target).expect("target");
            assert_eq!(
                t.concerns(*ek, value),
                *want,
                "{kind} {target} / {ek} {value}"
            );
        }
    }

    #[test]
    fn requests() {
        use ActionKind::{BlockIp, IsolateService};
        let rl = ActionKind::RateLimit;
        let ok_rate = Some(super::RateLimit {
            requests: 10,
            window_secs: 60,
        });
        let cases: Vec<(ActionRequest, Result<(), &str>)> = vec![
            (request(BlockIp, "203.0.113.7"), Ok(())),
            (
                ActionRequest {
                    reason: " ".into(),
                    ..request(BlockIp, "203.0.113.7")
                },
                Err("reason is required"),
            ),
            (
                ActionRequest {
                    reason: "x".repeat(2001),
                    ..request(BlockIp, "203.0.113.7")
                },
                Err("longer than 2000"),
            ),
            (
                ActionRequest {
                    rate: ok_rate,
                    ..request(BlockIp, "203.0.113.7")
                },
                Err("only for rate_limit"),
            ),
            (request(rl, "ip:203.0.113.7"), Err("needs rate")),
            (
                ActionRequest {
                    rate: ok_rate,
                    ..request(rl, "ip:203.0.113.7")
                },
                Ok(()),
            ),
            (
                ActionRequest {
                    rate: Some(super::RateLimit {
                        requests: 0,
                        window_secs: 60,
                    }),
                    ..request(rl, "ip:203.0.113.7")
                },
                Err("1..=1000000"),
            ),
            (
                ActionRequest {
                    scope: ActionScope {
                        host: Some("".into()),
                        service: None,
                    },
                    ..request(IsolateService, "billing")
                },
                Err("scope host is empty"),
            ),
        ];
        for (req, want) in cases {
            let got = req.validate().map(|_| ()).map_err(|e| e.to_string());
            match (&got, want) {
                (Ok(()), Ok(())) => {}
                (Err(e), Err(w)) => assert!(e.contains(w), "{req:?}: {e} lacks {w:?}"),
                _ => panic!("{req:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn raw_keys_become_identities_and_are_never_serialized() {
        let id = |_: &str| KEY.to_string();
        let raw = ActionRequest {
            raw_key: Some("sk_live_secret".into()),
            ..request(ActionKind::DisableApiKey, "")
        };
        assert!(!format!("{raw:?}").contains("sk_live_secret"));
        assert!(!serde_json::to_string(&raw)
            .unwrap()
            .contains("sk_live_secret"));
        let resolved = raw.clone().resolve_raw_key(id).unwrap();
        assert_eq!((resolved.target.as_str(), resolved.raw_key), (KEY, None));
        for (req, want) in [
            (
                ActionRequest {
                    target: KEY.into(),
                    ..raw.clone()
                },
                "not both",
            ),
            (
                ActionRequest {
                    kind: ActionKind::BlockIp,
                    ..raw.clone()
                },
                "only for disable_api_key",
            ),
            (
                ActionRequest {
                    raw_key: Some(String::new()),
                    ..raw.clone()
                },
                "raw_key is empty",
            ),
        ] {
            let e = req.resolve_raw_key(id).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        assert!(raw
            .validate()
            .unwrap_err()
            .to_string()
            .contains("not resolved"));
    }

    #[test]
    fn durations() {
        for (input, want) in [
            ("30s", Some(30)),
            ("15m", Some(900)),
            ("4h", Some(14_400)),
            ("7d", Some(604_800)),
            ("1h30m", Some(5400)),
            ("0s", None),
            ("", None),
            ("4", None),
            ("h", None),
            ("4x", None),
            ("-4h", None),
            ("4h ", None),
            ("9999999999999h", None),
            ("1.5h", None),
        ] {
            assert_eq!(parse_duration(input).ok(), want, "{input:?}");
        }
        for (secs, want) in [
            (14_400, "4h"),
            (5400, "1h30m"),
            (90, "1m30s"),
            (604_800, "7d"),
        ] {
            assert_eq!(format_duration(secs), want);
            assert_eq!(parse_duration(want).unwrap(), secs);
        }
    }

    #[test]
    fn changes_set_status_and_fields() {
        let new = NewAction {
            kind: ActionKind::BlockIp,
            target: "203.0.113.0/24".into(),
            scope: ActionScope::default(),
            rate: None,
            reason: "r".into(),
            incident_id: Some(3),
            requested_by: "token:a".into(),
            status: ActionStatus::PendingApproval,
            created_at: Timestamp(1000),
            starts_at: None,
            expires_at: None,
            duration_secs: 60,
        };
        let a = Action {
            id: 1,
            action: new,
            approved_by: None,
            approved_at: None,
            reverted_by: None,
            revert_reason: None,
            reverted_at: None,
            failure: None,
            denied: 0,
            last_denied: None,
        };
        let approved = ActionChange::Approve {
            by: "token:b".into(),
            at: Timestamp(2000),
            expires_at: Timestamp(62_000),
        }
        .apply(&a);
        assert_eq!(approved.status(), ActionStatus::Active);
        assert_eq!(
            (approved.action.starts_at, approved.action.expires_at),
            (Some(Timestamp(2000)), Some(Timestamp(62_000)))
        );
        let json = serde_json::to_value(&approved).unwrap();
        assert_eq!(json["status"], "active");
        assert_eq!(json["kind"], "block_ip");
        assert_eq!(serde_json::from_value::<Action>(json).unwrap(), approved);
    }
}
