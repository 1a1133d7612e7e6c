//! The enforcement decision: given a request as a gateway sees it, which active action (if
//! any) denies or rate-limits it.
//!
//! [`Decisions`] is built once from the active actions ([`Decisions::build`]) and then only
//! read: the server keeps it behind an atomic pointer and swaps in a new one when an action
//! changes, so the per-request path takes no lock, makes no syscall beyond reading the clock
//! when an action matched, and allocates nothing (but to normalize an unusual path when an
//! endpoint is isolated). Addresses and ranges sit in one hash table
//! per prefix length in use (a lookup costs one probe per distinct length, in practice one to
//! three), keys by their 16-byte identity, principals and services by name, endpoints in a
//! short list matched segment by segment.
//!
//! Hit counters ([`Hits`]) and rate-limit windows are atomics shared by every build that holds
//! the same action, so a rebuild loses no count; the server writes them to the store in
//! batches.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use rampart_model::action::{RateSubject, Target};
use rampart_model::{Action, ActionKind, ActionScope, ActionStatus};

/// Denials of one action since the counters were last taken, and the last one.
#[derive(Debug, Default)]
pub struct Hits {
    /// Requests denied (or rate-limited) since [`Hits::take`] last ran.
    denied: AtomicU64,
    /// Milliseconds since the epoch of the last denial (0: none).
    last: AtomicI64,
}

impl Hits {
    fn hit(&self, now_ms: i64) {
        self.denied.fetch_add(1, Relaxed);
        self.last.fetch_max(now_ms, Relaxed);
    }

    /// The denials counted since the last call and the time of the last one, resetting the
    /// count; `None` when there were none.
    pub fn take(&self) -> Option<(u64, i64)> {
        let n = self.denied.swap(0, Relaxed);
        (n > 0).then(|| (n, self.last.load(Relaxed)))
    }
}

/// A fixed-window counter: the window number in the high 32 bits, the count in the low 32.
#[derive(Debug, Default)]
struct Window(AtomicU64);

impl Window {
    /// Count one request at `now_ms`; whether it is over `limit` requests per `window_ms`.
    fn over(&self, now_ms: i64, window_ms: i64, limit: u32) -> bool {
        let win = (now_ms.max(0) / window_ms.max(1)) as u64 & 0xffff_ffff;
        let mut cur = self.0.load(Relaxed);
        loop {
            let (w, n) = (cur >> 32, cur & 0xffff_ffff);
            let next = if w == win {
                (win << 32) | (n + 1).min(0xffff_ffff)
            } else {
                (win << 32) | 1
            };
            match self.0.compare_exchange_weak(cur, next, Relaxed, Relaxed) {
                Ok(_) => return (next & 0xffff_ffff) > u64::from(limit),
                Err(actual) => cur = actual,
            }
        }
    }
}

/// One active action as the decision path needs it.
#[derive(Debug)]
pub struct Rule {
    /// The action's id.
    pub id: i64,
    /// Its kind.
    pub kind: ActionKind,
    /// Its target, canonical text.
    pub target: Box<str>,
    /// Its reason.
    pub reason: Box<str>,
    scope: ActionScope,
    /// Milliseconds since the epoch when it stops applying (`i64::MAX`: never).
    pub expires_ms: i64,
    /// Not before (milliseconds since the epoch).
    starts_ms: i64,
    rate: Option<(u32, i64)>,
    window: Window,
    /// Its hit counters, shared with every other build holding this action.
    pub hits: Arc<Hits>,
}

impl Rule {
    fn applies(&self, req: &Request<'_>, now_ms: i64) -> bool {
        if now_ms >= self.expires_ms || now_ms < self.starts_ms {
            return false;
        }
        if let Some(h) = &self.scope.host {
            match req.host {
                Some(rh) if host_eq(h, rh) => {}
                _ => return false,
            }
        }
        if let Some(s) = &self.scope.service {
            match req.service {
                Some(rs) if rs == s => {}
                _ => return false,
            }
        }
        true
    }
}

/// `Host` without its port (`name:8080`, `[::1]:8080`), compared case-insensitively.
fn host_eq(want: &str, got: &str) -> bool {
    let host = if let Some(rest) = got.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else if got.bytes().filter(|b| *b == b':').count() == 1 {
        got.split(':').next().unwrap_or(got)
    } else {
        got
    };
    want.trim_matches(['[', ']']).eq_ignore_ascii_case(host)
}

/// A request as a gateway describes it. Everything is borrowed from the request.
#[derive(Debug, Default, Clone, Copy)]
pub struct Request<'a> {
    /// The client address (after the trusted-proxy rules).
    pub ip: Option<IpAddr>,
    /// Upper- or lower-case method.
    pub method: &'a str,
    /// The path, without the query.
    pub path: &'a str,
    /// The `Host` header.
    pub host: Option<&'a str>,
    /// The backend service, when the gateway names it.
    pub service: Option<&'a str>,
    /// The keyed identity of the request's API key or bearer token (see
    /// `rampart_decode::api_key_id`), as its 16 bytes.
    pub key: Option<[u8; 16]>,
    /// The principal the request authenticates as.
    pub principal: Option<&'a str>,
}

/// What the gateway should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Let it through.
    Allow,
    /// Refuse it (403), naming the action.
    Deny(i64),
    /// Too many requests (429), naming the action.
    RateLimited(i64),
}

/// The path as a backend would resolve it: percent-decoded, empty and `.` segments dropped,
/// `..` applied, so `/%75sers//./42` cannot slip past an isolated `/users/{id}`. Borrowed
/// when there is nothing to resolve (the common case).
pub fn normalize_path(path: &str) -> std::borrow::Cow<'_, str> {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let plain = !path.contains('%') && !path.contains("//") && !path.contains("/.");
    if plain {
        return std::borrow::Cow::Borrowed(path);
    }
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let mut out: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut p = String::with_capacity(decoded.len());
    for seg in &out {
        p.push('/');
        p.push_str(seg);
    }
    if p.is_empty() {
        p.push('/');
    }
    std::borrow::Cow::Owned(p)
}

/// Endpoint template segments: `None` matches any one segment (`{id}`).
#[derive(Debug)]
struct EndpointRule {
    method: Box<str>,
    segments: Vec<Option<Box<str>>>,
    rule: Rule,
}

impl EndpointRule {
    fn matches(&self, method: &str, path: &str) -> bool {
        if !self.method.eq_ignore_ascii_case(method) {
            return false;
        }
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let mut got = path.trim_end_matches('/').split('/').skip(1);
        for want in &self.segments {
            match (want, got.next()) {
                (_, None) => return false,
                (None, Some(s)) if !s.is_empty() => {}
                (None, Some(_)) => return false,
                (Some(w), Some(s)) if **w == *s => {}
                _ => return false,
            }
        }
        got.next().is_none()
    }
}

fn segments(template: &str) -> Vec<Option<Box<str>>> {
    template
        .trim_end_matches('/')
        .split('/')
        .skip(1)
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') {
                None
            } else {
                Some(s.into())
            }
        })
        .collect()
}

/// Every active action, arranged for the decision path.
#[derive(Debug, Default)]
pub struct Decisions {
    v4: Vec<(u8, HashMap<u32, Vec<Rule>>)>,
    v6: Vec<(u8, HashMap<u128, Vec<Rule>>)>,
    keys: HashMap<[u8; 16], Vec<Rule>>,
    principals: HashMap<Box<str>, Vec<Rule>>,
    services: HashMap<Box<str>, Vec<Rule>>,
    endpoints: Vec<EndpointRule>,
    rate_ips: HashMap<IpAddr, Vec<Rule>>,
    rate_keys: HashMap<[u8; 16], Vec<Rule>>,
    rate_principals: HashMap<Box<str>, Vec<Rule>>,
    /// Active actions of every kind, by id, with their hit counters.
    hits: HashMap<i64, Arc<Hits>>,
    /// How many active actions this holds.
    len: usize,
}

fn mask4(a: u32, len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        a & (u32::MAX << (32 - u32::from(len)))
    }
}

fn mask6(a: u128, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        a & (u128::MAX << (128 - u32::from(len)))
    }
}

/// 16 bytes from 32 lower-case hex digits.
pub fn key_bytes(hex_id: &str) -> Option<[u8; 16]> {
    let b = hex_id.as_bytes();
    if b.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

impl Decisions {
    /// Arrange the active actions of `actions` (others are skipped). Hit counters of actions
    /// `previous` already held are carried over.
    pub fn build<'a>(
        actions: impl IntoIterator<Item = &'a Action>,
        previous: Option<&Decisions>,
    ) -> Decisions {
        let mut d = Decisions::default();
        let mut v4: HashMap<u8, HashMap<u32, Vec<Rule>>> = HashMap::new();
        let mut v6: HashMap<u8, HashMap<u128, Vec<Rule>>> = HashMap::new();
        for a in actions {
            if a.status() != ActionStatus::Active {
                continue;
            }
            let Ok(target) = Target::parse(a.action.kind, &a.action.target) else {
                continue;
            };
            let hits = previous
                .and_then(|p| p.hits.get(&a.id).cloned())
                .unwrap_or_default();
            d.hits.insert(a.id, hits.clone());
            d.len += 1;
            let rule = Rule {
                id: a.id,
                kind: a.action.kind,
                target: a.action.target.as_str().into(),
                reason: a.action.reason.as_str().into(),
                scope: a.action.scope.clone(),
                expires_ms: a.action.expires_at.map_or(i64::MAX, |t| t.millis()),
                starts_ms: a.action.starts_at.map_or(i64::MIN, |t| t.millis()),
                rate: a
                    .action
                    .rate
                    .map(|r| (r.requests, (r.window_secs as i64).saturating_mul(1000))),
                window: Window::default(),
                hits,
            };
            match target {
                Target::Ip(net) => match (net.addr(), net.prefix_len()) {
                    (IpAddr::V4(a4), len) => v4
                        .entry(len)
                        .or_default()
                        .entry(mask4(u32::from(a4), len))
                        .or_default()
                        .push(rule),
                    (IpAddr::V6(a6), len) => v6
                        .entry(len)
                        .or_default()
                        .entry(mask6(u128::from(a6), len))
                        .or_default()
                        .push(rule),
                },
                Target::ApiKey(k) => {
                    if let Some(b) = key_bytes(&k) {
                        d.keys.entry(b).or_default().push(rule);
                    }
                }
                Target::Principal(p) => d.principals.entry(p.into()).or_default().push(rule),
                Target::Service(s) => d.services.entry(s.into()).or_default().push(rule),
                Target::Endpoint { method, path } => d.endpoints.push(EndpointRule {
                    method: method.into(),
                    segments: segments(&path),
                    rule,
                }),
                Target::Rate(RateSubject::Ip(ip)) => d.rate_ips.entry(ip).or_default().push(rule),
                Target::Rate(RateSubject::ApiKey(k)) => {
                    if let Some(b) = key_bytes(&k) {
                        d.rate_keys.entry(b).or_default().push(rule);
                    }
                }
                Target::Rate(RateSubject::Principal(p)) => {
                    d.rate_principals.entry(p.into()).or_default().push(rule)
                }
            }
        }
        d.v4 = v4.into_iter().collect();
        d.v4.sort_by_key(|t| std::cmp::Reverse(t.0));
        d.v6 = v6.into_iter().collect();
        d.v6.sort_by_key(|t| std::cmp::Reverse(t.0));
        d
    }

    /// Number of active actions held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no action is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether any API-key action is held (so the caller need not hash the request's key).
    pub fn wants_keys(&self) -> bool {
        !self.keys.is_empty() || !self.rate_keys.is_empty()
    }

    /// Whether any principal action is held (so the caller need not decode the principal).
    pub fn wants_principals(&self) -> bool {
        !self.principals.is_empty() || !self.rate_principals.is_empty()
    }

    /// The hit counters of every held action, by id.
    pub fn hits(&self) -> impl Iterator<Item = (i64, &Arc<Hits>)> {
        self.hits.iter().map(|(id, h)| (*id, h))
    }

    /// The verdict for `req` at `now_ms` (milliseconds since the epoch). A denial is counted
    /// on the action's hits. Blocks win over rate limits; among blocks, the address first.
    pub fn decide(&self, req: &Request<'_>, now_ms: i64) -> Verdict {
        if let Some(r) = self.deny_rule(req, now_ms) {
            r.hits.hit(now_ms);
            return Verdict::Deny(r.id);
        }
        if let Some(r) = self.rate_rule(req, now_ms) {
            r.hits.hit(now_ms);
            return Verdict::RateLimited(r.id);
        }
        Verdict::Allow
    }

    fn first<'s>(rules: Option<&'s Vec<Rule>>, req: &Request<'_>, now: i64) -> Option<&'s Rule> {
        rules?.iter().find(|r| r.applies(req, now))
    }

    /// The address or range block covering `ip`, if any (ignoring scope).
    pub fn ip_rule(&self, ip: IpAddr, req: &Request<'_>, now_ms: i64) -> Option<&Rule> {
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4
                    .iter()
                    .find_map(|(len, t)| Self::first(t.get(&mask4(a, *len)), req, now_ms))
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6
                    .iter()
                    .find_map(|(len, t)| Self::first(t.get(&mask6(a, *len)), req, now_ms))
            }
        }
    }

    fn deny_rule(&self, req: &Request<'_>, now: i64) -> Option<&Rule> {
        if let Some(ip) = req.ip {
            if let Some(r) = self.ip_rule(ip, req, now) {
                return Some(r);
            }
        }
        if let Some(k) = &req.key {
            if let Some(r) = Self::first(self.keys.get(k), req, now) {
                return Some(r);
            }
        }
        if let Some(p) = req.principal {
            if let Some(r) = Self::first(self.principals.get(p), req, now) {
                return Some(r);
            }
        }
        if let Some(s) = req.service {
            if let Some(r) = Self::first(self.services.get(s), req, now) {
                return Some(r);
            }
        }
        if self.endpoints.is_empty() {
            return None;
        }
        let path = normalize_path(req.path);
        self.endpoints
            .iter()
            .find(|e| e.matches(req.method, &path) && e.rule.applies(req, now))
            .map(|e| &e.rule)
    }

    fn rate_rule(&self, req: &Request<'_>, now: i64) -> Option<&Rule> {
        fn over<'s>(rules: Option<&'s Vec<Rule>>, req: &Request<'_>, now: i64) -> Option<&'s Rule> {
            rules?.iter().find(|r| {
                r.applies(req, now)
                    && r.rate
                        .is_some_and(|(limit, win)| r.window.over(now, win, limit))
            })
        }
        if let Some(r) = req.ip.and_then(|ip| over(self.rate_ips.get(&ip), req, now)) {
            return Some(r);
        }
        if let Some(r) = req
            .key
            .as_ref()
            .and_then(|k| over(self.rate_keys.get(k), req, now))
        {
            return Some(r);
        }
        req.principal
            .and_then(|p| over(self.rate_principals.get(p), req, now))
    }

    /// Every address or range block covering `ip` and in force at `now_ms`, narrowest
    /// first, whatever its scope (for the CrowdSec bouncer API, which has no scopes).
    pub fn ip_rules(&self, ip: IpAddr, now_ms: i64) -> Vec<&Rule> {
        let live = |r: &&Rule| now_ms < r.expires_ms && now_ms >= r.starts_ms;
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4
                    .iter()
                    .filter_map(|(len, t)| t.get(&mask4(a, *len)))
                    .flatten()
                    .filter(live)
                    .collect()
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6
                    .iter()
                    .filter_map(|(len, t)| t.get(&mask6(a, *len)))
                    .flatten()
                    .filter(live)
                    .collect()
            }
        }
    }

    /// Every held address or range block (for the CrowdSec bouncer API), with its action id.
    pub fn ip_blocks(&self) -> impl Iterator<Item = i64> + '_ {
        self.v4
            .iter()
            .flat_map(|(_, t)| t.values().flatten().map(|r| r.id))
            .chain(
                self.v6
                    .iter()
                    .flat_map(|(_, t)| t.values().flatten().map(|r| r.id)),
            )
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
