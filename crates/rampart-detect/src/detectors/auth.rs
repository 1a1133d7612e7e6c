//! Credential attacks: stuffing, spraying, brute force, password guessing and account
//! takeover per source, leaked credentials.

use rampart_model::{
    AlertDraft, AttackStage, Entity, EntityKind, EntityRole, EventKind, Severity, Timestamp,
};
use serde::{Deserialize, Serialize};

use crate::common::{alert, Cooldown, EvidenceRing};
use crate::registry::Resources;
use crate::state::{combine, hash_str_ci, Footprint, Hll, KeyedState, SlidingCounter};
use crate::{Detector, EventCtx};

/// The account a login attempt was for: the principal, else `user "x"` in an auth-failure
/// message, else a `username`/`email`/`login`/`user` field of the request body (JSON or
/// form). Borrowed from the event; a byte scan.
pub fn account<'e>(cx: &EventCtx<'e>) -> Option<&'e str> {
    let ev = cx.ev;
    if let Some(p) = ev.principal.as_deref() {
        return Some(p);
    }
    if let Some(m) = ev.message.as_deref() {
        if let Some(i) = m.find("user \"") {
            let rest = &m[i + 6..];
            if let Some(j) = rest.find('"') {
                return Some(&rest[..j]);
            }
        }
    }
    let body = ev.request_body.as_deref()?;
    for key in ["username", "email", "login", "user"] {
        // JSON: "key":"value"
        let mut from = 0;
        while let Some(i) = body[from..].find(key) {
            let at = from + i;
            from = at + key.len();
            let before = body.as_bytes()[..at].last().copied();
            let after = &body[from..];
            if before == Some(b'"') && after.starts_with('"') {
                let v = after[1..].trim_start_matches([' ', ':']).trim_start();
                if let Some(v) = v.strip_prefix('"') {
                    if let Some(j) = v.find('"') {
                        return Some(&v[..j]);
                    }
                }
            } else if (before.is_none() || before == Some(b'&')) && after.starts_with('=') {
                let v = &after[1..];
                return Some(v.split('&').next().unwrap_or(v));
            }
        }
    }
    None
}

/// Whether the event is a login attempt, and if so whether it succeeded.
fn attempt(cx: &EventCtx<'_>) -> Option<bool> {
    if cx.auth_failed {
        return Some(false);
    }
    if cx.login_like && cx.write && cx.status_class == 2 {
        return Some(true);
    }
    None
}

fn account_entity(a: &str) -> Entity {
    Entity::new(EntityKind::User, a, EntityRole::Target)
}

#[derive(Debug, Clone)]
struct LoginWindow {
    start: i64,
    attempts: u32,
    failures: u32,
    success_after_failures: bool,
    accounts: Hll,
    ips: Hll,
    fired: bool,
    evidence: EvidenceRing,
}

impl LoginWindow {
    fn new(now: i64, p: u8) -> Self {
        LoginWindow {
            start: now,
            attempts: 0,
            failures: 0,
            success_after_failures: false,
            accounts: Hll::new(p),
            ips: Hll::new(p),
            fired: false,
            evidence: EvidenceRing::default(),
        }
    }
    fn roll(&mut self, now: i64, window_ms: i64) {
        if now - self.start >= window_ms {
            let p = if self.accounts.bytes() >= 256 { 8 } else { 6 };
            *self = LoginWindow::new(now, p);
        }
    }
    fn record(&mut self, ok: bool, account: u64, ip: u64) {
        self.attempts += 1;
        if ok {
            if self.failures >= 3 {
                self.success_after_failures = true;
            }
        } else {
            self.failures += 1;
            self.accounts.insert_hash(account);
            self.ips.insert_hash(ip);
        }
    }
}

impl Footprint for LoginWindow {
    fn heap_bytes(&self) -> usize {
        self.accounts.heap_bytes() + self.ips.heap_bytes() + self.evidence.events().len() * 512
    }
}

// ---------------------------------------------------------------------------------------

/// `credential_stuffing`: one source failing logins for many distinct accounts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StuffingConfig {
    /// Window, ms (one alert per IP per window).
    pub window_ms: i64,
    /// Distinct accounts with failed logins from one IP that fire.
    pub min_accounts: u32,
    /// Most IPs tracked.
    pub max_keys: usize,
}

impl Default for StuffingConfig {
    fn default() -> Self {
        StuffingConfig {
            window_ms: 10 * 60_000,
            min_accounts: 20,
            max_keys: 50_000,
        }
    }
}

/// The `credential_stuffing` detector.
pub struct Stuffing {
    cfg: StuffingConfig,
    ips: KeyedState<LoginWindow>,
}

/// Build `credential_stuffing`.
pub fn credential_stuffing(c: StuffingConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(Stuffing {
        ips: KeyedState::new(c.max_keys, c.window_ms * 2),
        cfg: c,
    })
}

impl Detector for Stuffing {
    fn id(&self) -> &'static str {
        "credential_stuffing"
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        if !cx.login_like || cx.ip == 0 {
            return;
        }
        let Some(ok) = attempt(cx) else { return };
        let acc = account(cx);
        let now = cx.ev.ts.millis();
        let wms = self.cfg.window_ms;
        let w = self
            .ips
            .get_or_insert_with(cx.ip, now, || LoginWindow::new(now, 6));
        w.roll(now, wms);
        w.record(ok, acc.map_or(0, hash_str_ci), cx.ip);
        if w.fired || ok {
            return;
        }
        let d = w.accounts.estimate();
        let min = f64::from(self.cfg.min_accounts);
        if d >= min / 2.0 && w.evidence.has_room() {
            w.evidence.push(cx.ev);
        }
        if d < min {
            return;
        }
        w.fired = true;
        let ip = cx.ev.client_ip.map(|i| i.to_string()).unwrap_or_default();
        out.push(
            alert(
                "credential_stuffing",
                format!("Credential stuffing from {ip}"),
                if w.success_after_failures {
                    Severity::High
                } else {
                    Severity::Medium
                },
                AttackStage::CredentialAccess,
                cx.ev.ts,
            )
            .description(format!(
                "{ip} failed to log in as about {d:.0} different accounts within {} minutes \
                 ({} failures out of {} attempts{}). Trying many accounts from one source is \
                 credential stuffing: replaying leaked username/password pairs. Check which \
                 accounts were tried and whether any login from this source succeeded; reset \
                 those passwords, and block the source.",
                wms / 60_000,
                w.failures,
                w.attempts,
                if w.success_after_failures {
                    ", and at least one login then succeeded"
                } else {
                    ""
                }
            ))
            .mitre(&["T1110.004"])
            .owasp("API2:2023")
            .actors(cx.ev)
            .target(cx)
            .evidence_all(w.evidence.events())
            .evidence(cx.ev)
            .first_seen(Timestamp::from_millis(w.start))
            .reason("distinct_accounts", d, Some(min))
            .reason("failures", f64::from(w.failures), None)
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

/// `password_spray`: failed logins for many accounts from many sources, few per account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SprayConfig {
    /// Window, ms (one alert per login endpoint per window).
    pub window_ms: i64,
    /// Distinct accounts with failures that fire.
    pub min_accounts: u32,
    /// Distinct source IPs needed.
    pub min_ips: u32,
    /// Failures per account at most ("few attempts each").
    pub max_per_account: f64,
    /// Most login endpoints tracked.
    pub max_keys: usize,
}

impl Default for SprayConfig {
    fn default() -> Self {
        SprayConfig {
            window_ms: 30 * 60_000,
            min_accounts: 30,
            min_ips: 5,
            max_per_account: 3.0,
            max_keys: 1_000,
        }
    }
}

/// The `password_spray` detector.
pub struct PasswordSpray {
    cfg: SprayConfig,
    eps: KeyedState<LoginWindow>,
}

/// Build `password_spray`.
pub fn password_spray(c: SprayConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(PasswordSpray {
        eps: KeyedState::new(c.max_keys, c.window_ms * 2),
        cfg: c,
    })
}

impl Detector for PasswordSpray {
    fn id(&self) -> &'static str {
        "password_spray"
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        if !cx.login_like {
            return;
        }
        let Some(ok) = attempt(cx) else { return };
        let Some(acc) = account(cx) else { return };
        let now = cx.ev.ts.millis();
        let wms = self.cfg.window_ms;
        let w = self
            .eps
            .get_or_insert_with(cx.endpoint, now, || LoginWindow::new(now, 8));
        w.roll(now, wms);
        w.record(ok, hash_str_ci(acc), cx.ip);
        if w.fired || ok {
            return;
        }
        let accounts = w.accounts.estimate();
        let ips = w.ips.estimate();
        let per_account = f64::from(w.failures) / accounts.max(1.0);
        if accounts < f64::from(self.cfg.min_accounts)
            || ips < f64::from(self.cfg.min_ips)
            || per_account > self.cfg.max_per_account
        {
            return;
        }
        w.fired = true;
        out.push(
            alert(
                "password_spray",
                "Password spraying against the login endpoint",
                if w.success_after_failures {
                    Severity::High
                } else {
                    Severity::Medium
                },
                AttackStage::CredentialAccess,
                cx.ev.ts,
            )
            .description(format!(
                "About {accounts:.0} accounts failed to log in within {} minutes from about \
                 {ips:.0} source IPs, with only {per_account:.1} failures per account. Trying a \
                 few common passwords against many accounts from many addresses is password \
                 spraying; it stays under per-account lockouts. Check for successful logins from \
                 the same sources, force resets for those accounts, and enable MFA or \
                 breached-password checks.",
                wms / 60_000
            ))
            .mitre(&["T1110.003"])
            .owasp("API2:2023")
            .target(cx)
            .attacker_ip(cx.ev.client_ip)
            .evidence(cx.ev)
            .first_seen(Timestamp::from_millis(w.start))
            .reason(
                "distinct_accounts",
                accounts,
                Some(f64::from(self.cfg.min_accounts)),
            )
            .reason("distinct_ips", ips, Some(f64::from(self.cfg.min_ips)))
            .reason(
                "failures_per_account",
                per_account,
                Some(self.cfg.max_per_account),
            )
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

/// `brute_force`: many failed logins for one account; a success after them is critical.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BruteForceConfig {
    /// Window of failures, ms.
    pub window_ms: i64,
    /// Failures for one account within the window that fire.
    pub min_failures: u32,
    /// Seconds after an alert during which the same key raises no other.
    pub cooldown_secs: i64,
    /// Most accounts tracked.
    pub max_keys: usize,
}

impl Default for BruteForceConfig {
    fn default() -> Self {
        BruteForceConfig {
            window_ms: 10 * 60_000,
            min_failures: 20,
            cooldown_secs: 1_800,
            max_keys: 100_000,
        }
    }
}

/// The `brute_force` detector.
pub struct BruteForce {
    cfg: BruteForceConfig,
    accounts: KeyedState<SlidingCounter>,
    cooldown: Cooldown,
}

/// Build `brute_force`.
pub fn brute_force(c: BruteForceConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(BruteForce {
        accounts: KeyedState::new(c.max_keys, c.window_ms * 2),
        cooldown: Cooldown::secs(c.cooldown_secs, 10_000),
        cfg: c,
    })
}

impl Detector for BruteForce {
    fn id(&self) -> &'static str {
        "brute_force"
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        if !cx.login_like {
            return;
        }
        let Some(ok) = attempt(cx) else { return };
        let Some(acc) = account(cx) else { return };
        let key = hash_str_ci(acc);
        let now = cx.ev.ts.millis();
        let wms = self.cfg.window_ms;
        let c = self
            .accounts
            .get_or_insert_with(key, now, || SlidingCounter::new(wms));
        if !ok {
            c.add(now, 1);
        }
        let n = c.count(now);
        let min = self.cfg.min_failures;
        if n < min {
            return;
        }
        // A success after the failures gets its own (critical) alert.
        let ckey = if ok { key ^ 0x5bd1_e995 } else { key };
        if !self.cooldown.ready(ckey, now) {
            return;
        }
        let (title, sev, what) = if ok {
            (
                format!("Brute force on {acc} followed by a successful login"),
                Severity::Critical,
                "and then a login succeeded: the password was probably guessed. Lock the \
                 account, end its sessions, reset the password and review what it did next.",
            )
        } else {
            (
                format!("Brute force against account {acc}"),
                Severity::Medium,
                "Guessing one account's password is brute force. Check the sources, whether \
                 any attempt succeeded, and lock or challenge the account.",
            )
        };
        out.push(
            alert(
                self.id(),
                title,
                sev,
                AttackStage::CredentialAccess,
                cx.ev.ts,
            )
            .description(format!(
                "Account {acc} had {n} failed logins within {} minutes {what}",
                wms / 60_000
            ))
            .mitre(&["T1110.001"])
            .owasp("API2:2023")
            .attacker_ip(cx.ev.client_ip)
            .entity(account_entity(acc))
            .target(cx)
            .evidence(cx.ev)
            .reason("failures", f64::from(n), Some(f64::from(min)))
            .build(),
        );
    }
    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.accounts.tick(now.millis());
        self.cooldown.tick(now.millis());
    }
    fn state_bytes(&self) -> usize {
        self.accounts.approx_bytes() + self.cooldown.approx_bytes()
    }
}

// ---------------------------------------------------------------------------------------

/// `login_attack`: many failed logins from one source on one login endpoint, whether or not
/// the account is visible; a success after them is a probable account takeover. Judged on
/// behaviour only (statuses, sizes, timing), never on the user agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginAttackConfig {
    /// Window of failures, ms.
    pub window_ms: i64,
    /// Failures from one source on one login endpoint within the window that fire
    /// `password guessing`.
    pub min_failures: u32,
    /// Failures within the window before a success that make it a probable account takeover.
    pub min_failures_before_success: u32,
    /// Statuses of a login call (`POST`/`PUT`/`PATCH` on a login-like path) that are failures.
    /// 429 is not among the defaults: a rate-limited attempt says nothing about the password.
    pub failure_statuses: Vec<u16>,
    /// `200` answers of (nearly) the same size a source must get on a login form, within the
    /// window, before that size is taken as the form's failure page (the form re-rendered
    /// with an error). The answers that taught it count as failures.
    pub min_same_size: u32,
    /// How far (a fraction of the learned size) a `200` may be from the failure page and
    /// still be one.
    pub same_size_tolerance: f64,
    /// How far (a fraction of the learned size) a `200` must be from the failure page to be a
    /// success; sizes in between are neither.
    pub success_size_difference: f64,
    /// Seconds after an alert during which the same source and endpoint raise no other of the
    /// same kind.
    pub cooldown_secs: i64,
    /// Most (source, endpoint) pairs tracked.
    pub max_keys: usize,
}

impl Default for LoginAttackConfig {
    fn default() -> Self {
        LoginAttackConfig {
            window_ms: 10 * 60_000,
            min_failures: 20,
            min_failures_before_success: 10,
            failure_statuses: vec![400, 401, 403, 422],
            min_same_size: 5,
            same_size_tolerance: 0.10,
            success_size_difference: 0.25,
            cooldown_secs: 1_800,
            max_keys: 50_000,
        }
    }
}

/// What one source did on one login endpoint.
#[derive(Debug, Clone)]
struct LoginTrail {
    failures: SlidingCounter,
    /// First failure of the current run (the window was empty before it).
    since: i64,
    /// The learned failure-page size (0: none yet).
    page: u64,
    /// The size `200` answers are agreeing on, how many did, and since when.
    cand: u64,
    cand_n: u32,
    cand_since: i64,
    evidence: EvidenceRing,
}

impl Footprint for LoginTrail {
    fn heap_bytes(&self) -> usize {
        self.evidence.events().len() * 512
    }
}

/// How a login call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoginOutcome {
    /// Refused, or answered with the failure page. `n` failures (more than one when the
    /// answers that taught the failure page are counted at once).
    Failed(u32),
    Succeeded,
    Unknown,
}

fn header<'e>(
    h: &'e [(std::borrow::Cow<'e, str>, std::borrow::Cow<'e, str>)],
    name: &str,
) -> Option<&'e str> {
    h.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_ref())
}

/// Whether a login call is a JSON API call (whose same-size answers are tokens, not a form
/// re-rendered with an error).
fn json_call(cx: &EventCtx<'_>) -> bool {
    let ev = cx.ev;
    let is_json = |v: Option<&str>| v.is_some_and(|v| v.to_ascii_lowercase().contains("json"));
    is_json(header(&ev.request_headers, "content-type"))
        || is_json(header(&ev.response_headers, "content-type"))
        || ev
            .request_body
            .as_deref()
            .is_some_and(|b| b.trim_start().starts_with(['{', '[']))
}

fn within(size: u64, of: u64, frac: f64) -> bool {
    (size as f64 - of as f64).abs() <= of as f64 * frac
}

impl LoginTrail {
    fn new(window_ms: i64) -> Self {
        LoginTrail {
            failures: SlidingCounter::new(window_ms),
            since: 0,
            page: 0,
            cand: 0,
            cand_n: 0,
            cand_since: 0,
            evidence: EvidenceRing::default(),
        }
    }

    /// Classify a login call, learning the failure page from `200` answers.
    fn outcome(&mut self, cx: &EventCtx<'_>, cfg: &LoginAttackConfig, now: i64) -> LoginOutcome {
        let ev = cx.ev;
        if ev.kind == EventKind::AuthFailure || cfg.failure_statuses.contains(&ev.status) {
            return LoginOutcome::Failed(1);
        }
        match cx.status_class {
            3 => {
                // Redirected back to the form (`/login?error`) is a failure; elsewhere, logged in.
                let back = header(&ev.response_headers, "location").is_some_and(|l| {
                    let l = l.to_ascii_lowercase();
                    let to = l.split(['?', '#']).next().unwrap_or("");
                    l.contains("error")
                        || l.contains("fail")
                        || to.ends_with(&ev.path.to_ascii_lowercase())
                });
                if back {
                    LoginOutcome::Failed(1)
                } else {
                    LoginOutcome::Succeeded
                }
            }
            2 => {
                let Some(size) = ev.response_bytes.filter(|_| !json_call(cx)) else {
                    return LoginOutcome::Succeeded;
                };
                if self.page != 0 {
                    return if within(size, self.page, cfg.same_size_tolerance) {
                        LoginOutcome::Failed(1)
                    } else if !within(size, self.page, cfg.success_size_difference) {
                        LoginOutcome::Succeeded
                    } else {
                        LoginOutcome::Unknown
                    };
                }
                let agrees = self.cand_n > 0
                    && now - self.cand_since < cfg.window_ms
                    && within(size, self.cand, cfg.same_size_tolerance);
                if !agrees {
                    self.cand = size;
                    self.cand_n = 0;
                    self.cand_since = now;
                }
                self.cand_n += 1;
                if self.cand_n >= cfg.min_same_size.max(2) {
                    self.page = self.cand;
                    return LoginOutcome::Failed(self.cand_n);
                }
                LoginOutcome::Succeeded
            }
            _ => LoginOutcome::Unknown,
        }
    }
}

/// The `login_attack` detector.
pub struct LoginAttack {
    cfg: LoginAttackConfig,
    trails: KeyedState<LoginTrail>,
    cooldown: Cooldown,
}

/// Build `login_attack`.
pub fn login_attack(c: LoginAttackConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(LoginAttack {
        trails: KeyedState::new(c.max_keys, c.window_ms * 2),
        cooldown: Cooldown::secs(c.cooldown_secs, 10_000),
        cfg: c,
    })
}

/// Cooldown key of the takeover alert, apart from the guessing alert of the same pair.
const TAKEOVER_KEY: u64 = 0x7a6e_0f3c_91d2_4b85;

impl Detector for LoginAttack {
    fn id(&self) -> &'static str {
        "login_attack"
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        let record = cx.ev.kind == EventKind::AuthFailure;
        if cx.ip == 0 || !(record || (cx.login_like && cx.write)) {
            return;
        }
        let key = combine(cx.ip, cx.endpoint);
        let now = cx.ev.ts.millis();
        let wms = self.cfg.window_ms;
        let t = self
            .trails
            .get_or_insert_with(key, now, || LoginTrail::new(wms));
        let before = t.failures.count(now);
        match t.outcome(cx, &self.cfg, now) {
            LoginOutcome::Unknown => {}
            LoginOutcome::Failed(n) => {
                if before == 0 {
                    t.since = now;
                }
                t.failures.add(now, n);
                let count = t.failures.count(now);
                let min = self.cfg.min_failures;
                if count >= min / 2 && t.evidence.has_room() {
                    t.evidence.push(cx.ev);
                }
                if count < min || !self.cooldown.ready(key, now) {
                    return;
                }
                let ip = cx.ev.client_ip.map(|i| i.to_string()).unwrap_or_default();
                out.push(
                    alert(
                        "login_attack",
                        format!("Password guessing from {ip}"),
                        Severity::High,
                        AttackStage::CredentialAccess,
                        cx.ev.ts,
                    )
                    .description(format!(
                        "{ip} failed to log in {count} times within {} minutes on {} {}, \
                         whichever accounts it tried. So many failures from one source on one \
                         login endpoint is password guessing (brute force or stuffing). Check \
                         whether any login from this source succeeded, and block or challenge \
                         the source.",
                        wms / 60_000,
                        cx.ev.method,
                        cx.template
                    ))
                    .mitre(&["T1110", "T1110.001"])
                    .owasp("API2:2023")
                    .attacker_ip(cx.ev.client_ip)
                    .target(cx)
                    .evidence_all(t.evidence.events())
                    .evidence(cx.ev)
                    .first_seen(Timestamp::from_millis(t.since))
                    .reason("failures", f64::from(count), Some(f64::from(min)))
                    .build(),
                );
            }
            LoginOutcome::Succeeded => {
                let min = self.cfg.min_failures_before_success;
                if before < min || !self.cooldown.ready(key ^ TAKEOVER_KEY, now) {
                    return;
                }
                let ip = cx.ev.client_ip.map(|i| i.to_string()).unwrap_or_default();
                let acc = account(cx);
                let mut a = alert(
                    "login_attack",
                    match acc {
                        Some(acc) => format!("Probable account takeover of {acc} from {ip}"),
                        None => format!("Probable account takeover from {ip}"),
                    },
                    Severity::Critical,
                    AttackStage::CredentialAccess,
                    cx.ev.ts,
                )
                .description(format!(
                    "{ip} failed to log in {before} times within {} minutes on {} {}, and then \
                     a login succeeded{}: the password was probably guessed. Find the account \
                     that logged in, end its sessions, reset its password, review what it did \
                     next, and block the source.",
                    wms / 60_000,
                    cx.ev.method,
                    cx.template,
                    acc.map(|a| format!(" as {a}")).unwrap_or_default()
                ))
                .mitre(&["T1110", "T1078"])
                .owasp("API2:2023")
                .attacker_ip(cx.ev.client_ip)
                .target(cx);
                if let Some(acc) = acc {
                    a = a.entity(account_entity(acc));
                }
                out.push(
                    a.evidence_all(t.evidence.events())
                        .evidence(cx.ev)
                        .first_seen(Timestamp::from_millis(t.since))
                        .reason(
                            "failures_before_success",
                            f64::from(before),
                            Some(f64::from(min)),
                        )
                        .build(),
                );
            }
        }
    }
    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.trails.tick(now.millis());
        self.cooldown.tick(now.millis());
    }
    fn state_bytes(&self) -> usize {
        self.trails.approx_bytes_deep() + self.cooldown.approx_bytes()
    }
}

// ---------------------------------------------------------------------------------------

/// `leaked_credential`: one API key or principal used from many IPs at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LeakedConfig {
    /// Window, ms (one alert per credential per window).
    pub window_ms: i64,
    /// Distinct IPs for one credential within the window that fire.
    pub min_ips: u32,
    /// Most credentials tracked.
    pub max_keys: usize,
}

impl Default for LeakedConfig {
    fn default() -> Self {
        LeakedConfig {
            window_ms: 10 * 60_000,
            min_ips: 10,
            max_keys: 100_000,
        }
    }
}

#[derive(Debug, Clone)]
struct CredWindow {
    start: i64,
    ips: Hll,
    fired: bool,
}

impl Footprint for CredWindow {
    fn heap_bytes(&self) -> usize {
        self.ips.heap_bytes()
    }
}

/// The `leaked_credential` detector.
pub struct Leaked {
    cfg: LeakedConfig,
    creds: KeyedState<CredWindow>,
}

/// Build `leaked_credential`.
pub fn leaked_credential(c: LeakedConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(Leaked {
        creds: KeyedState::new(c.max_keys, c.window_ms * 2),
        cfg: c,
    })
}

impl Detector for Leaked {
    fn id(&self) -> &'static str {
        "leaked_credential"
    }
    fn prefetches(&self) -> bool {
        true
    }

    fn prefetch(&self, cx: &EventCtx<'_>) {
        let cred = if cx.api_key != 0 {
            cx.api_key
        } else {
            cx.principal
        };
        if cred != 0 && cx.ip != 0 && !cx.auth_failed {
            self.creds.prefetch(cred);
        }
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        let cred = if cx.api_key != 0 {
            cx.api_key
        } else {
            cx.principal
        };
        if cred == 0 || cx.ip == 0 || cx.auth_failed {
            return;
        }
        let now = cx.ev.ts.millis();
        let wms = self.cfg.window_ms;
        let w = self.creds.get_or_insert_with(cred, now, || CredWindow {
            start: now,
            ips: Hll::new(6),
            fired: false,
        });
        if now - w.start >= wms {
            w.start = now;
            w.ips.clear();
            w.fired = false;
        }
        if !w.ips.insert_hash(cx.ip) || w.fired {
            return;
        }
        let d = w.ips.estimate();
        let min = f64::from(self.cfg.min_ips);
        if d < min {
            return;
        }
        w.fired = true;
        let what = if cx.api_key != 0 {
            "API key"
        } else {
            "account"
        };
        out.push(
            alert(
                "leaked_credential",
                format!("Credential used from {d:.0} IPs at once"),
                Severity::High,
                AttackStage::CredentialAccess,
                cx.ev.ts,
            )
            .description(format!(
                "One {what} was used from about {d:.0} different IP addresses within {} \
                 minutes. A credential shared across that many sources at once has usually \
                 leaked (committed to code, stolen from a client, sold) and is being reused. \
                 Check the addresses and user agents, rotate or revoke the credential, and \
                 review what it accessed.",
                wms / 60_000
            ))
            .mitre(&["T1078"])
            .owasp("API2:2023")
            .actors(cx.ev)
            .target(cx)
            .evidence(cx.ev)
            .first_seen(Timestamp::from_millis(w.start))
            .reason("distinct_ips", d, Some(min))
            .build(),
        );
    }
    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.creds.tick(now.millis());
    }
    fn state_bytes(&self) -> usize {
        self.creds.approx_bytes_deep()
    }
}
