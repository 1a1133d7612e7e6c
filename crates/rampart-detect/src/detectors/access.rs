//! Access-control detectors: unauthenticated access, function-level authorization.

use rampart_model::{AlertDraft, AttackStage, Severity, Timestamp};
use serde::{Deserialize, Serialize};

use crate::common::{alert, endpoint_key, Cooldown};
use crate::registry::Resources;
use crate::state::{combine, Footprint, KeyedState};
use crate::{Detector, EventCtx};

/// `unauth_access`: a 2xx answer without credentials on an endpoint whose learned calls were
/// (almost) all authenticated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnauthConfig {
    /// Seconds after an alert during which the same key raises no other.
    pub cooldown_secs: i64,
    /// Learned share of authenticated calls needed.
    pub min_auth_fraction: f64,
}

impl Default for UnauthConfig {
    fn default() -> Self {
        UnauthConfig {
            cooldown_secs: 1_800,
            min_auth_fraction: 0.99,
        }
    }
}

/// The `unauth_access` detector.
pub struct Unauth {
    cfg: UnauthConfig,
    cooldown: Cooldown,
}

/// Build `unauth_access`.
pub fn unauth_access(c: UnauthConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(Unauth {
        cooldown: Cooldown::secs(c.cooldown_secs, 10_000),
        cfg: c,
    })
}

impl Detector for Unauth {
    fn id(&self) -> &'static str {
        "unauth_access"
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        if cx.ev.authenticated || cx.status_class != 2 {
            return;
        }
        let Some(b) = cx.base.filter(|b| b.learned) else {
            return;
        };
        let frac = b.auth_fraction();
        let now = cx.ev.ts.millis();
        if frac < self.cfg.min_auth_fraction
            || !self.cooldown.ready(combine(cx.ip, cx.endpoint), now)
        {
            return;
        }
        let ep = endpoint_key(cx);
        out.push(
            alert(
                "unauth_access",
                format!("Unauthenticated access succeeded on {ep}"),
                Severity::High,
                AttackStage::Exploitation,
                cx.ev.ts,
            )
            .description(format!(
                "{ep} answered {} to a request carrying no credentials, although {:.1}% of its \
                 learned calls were authenticated. Either authentication can be bypassed on \
                 this endpoint or a route was exposed by mistake. Replay the request without \
                 credentials to confirm, check what data it returned, and fix the route's \
                 authentication.",
                cx.ev.status,
                frac * 100.0
            ))
            .mitre(&["T1190", "T1078"])
            .owasp("API2:2023")
            .actors(cx.ev)
            .target(cx)
            .evidence(cx.ev)
            .reason(
                "learned_auth_fraction",
                frac,
                Some(self.cfg.min_auth_fraction),
            )
            .build(),
        );
    }
    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.cooldown.tick(now.millis());
    }
    fn state_bytes(&self) -> usize {
        self.cooldown.approx_bytes()
    }
}

// ---------------------------------------------------------------------------------------

/// `function_level_authz`: a principal calling administrative endpoints outside its learned
/// profile; worse when the call succeeded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FunctionAuthzConfig {
    /// Seconds after an alert during which the same key raises no other.
    pub cooldown_secs: i64,
    /// Calls a principal makes before its profile counts as learned...
    pub min_calls: u32,
    /// ...or this much event time since it was first seen.
    pub learning_ms: i64,
    /// While a profile is still learning, this many refused (401/403) admin calls mark the
    /// principal as one the API itself treats as non-admin, and fire; after a refusal, an admin
    /// call that succeeds fires at once (0 turns the learning-time signal off).
    pub min_denied: u32,
    /// Admin endpoints remembered per principal.
    pub max_admin_endpoints: usize,
    /// Most principals tracked.
    pub max_keys: usize,
}

impl Default for FunctionAuthzConfig {
    fn default() -> Self {
        FunctionAuthzConfig {
            cooldown_secs: 1_800,
            min_calls: 200,
            learning_ms: 7 * 86_400_000,
            min_denied: 3,
            max_admin_endpoints: 16,
            max_keys: 100_000,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Profile {
    first_seen: i64,
    calls: u32,
    admin: Vec<u64>,
    /// Admin calls refused (401/403) while learning.
    denied: u32,
}

impl Footprint for Profile {
    fn heap_bytes(&self) -> usize {
        self.admin.capacity() * 8
    }
}

/// The `function_level_authz` detector.
pub struct FunctionAuthz {
    cfg: FunctionAuthzConfig,
    principals: KeyedState<Profile>,
    cooldown: Cooldown,
}

/// Build `function_level_authz`.
pub fn function_level_authz(c: FunctionAuthzConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(FunctionAuthz {
        principals: KeyedState::new(c.max_keys, 30 * 86_400_000),
        cooldown: Cooldown::secs(c.cooldown_secs, 10_000),
        cfg: c,
    })
}

impl Detector for FunctionAuthz {
    fn id(&self) -> &'static str {
        "function_level_authz"
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        let who = if cx.principal != 0 {
            cx.principal
        } else {
            cx.api_key
        };
        if who == 0 {
            return;
        }
        let now = cx.ev.ts.millis();
        let p = self.principals.get_or_insert_with(who, now, || Profile {
            first_seen: now,
            ..Default::default()
        });
        p.calls = p.calls.saturating_add(1);
        let learned = p.calls > self.cfg.min_calls || now - p.first_seen >= self.cfg.learning_ms;
        if !cx.admin_like {
            return;
        }
        if p.admin.contains(&cx.endpoint) {
            return;
        }
        let refused = matches!(cx.ev.status, 401 | 403);
        if !learned {
            // The API's own answers tell a non-admin apart before the profile is learned.
            if self.cfg.min_denied == 0 || (!refused && p.denied == 0) {
                if p.admin.len() < self.cfg.max_admin_endpoints {
                    p.admin.push(cx.endpoint);
                }
                return;
            }
            if refused {
                p.denied = p.denied.saturating_add(1);
                if p.denied < self.cfg.min_denied {
                    return;
                }
            }
        }
        if !self.cooldown.ready(combine(who, cx.endpoint), now) {
            return;
        }
        let ok = cx.status_class == 2;
        let privileged = ["DELETE", "PUT", "PATCH"]
            .iter()
            .any(|m| m.eq_ignore_ascii_case(&cx.ev.method));
        let sev = match (ok, privileged) {
            (true, true) => Severity::Critical,
            (true, false) => Severity::High,
            (false, _) => Severity::Low,
        };
        // Why it fired: a learned profile without this endpoint, or refusals while learning.
        let (reason, observed, threshold, refused_note) = if learned {
            (
                "earlier_calls",
                p.calls - 1,
                self.cfg.min_calls,
                String::new(),
            )
        } else {
            (
                "refused_admin_calls",
                p.denied,
                self.cfg.min_denied,
                format!(
                    "; the API refused {} of its admin calls, so it does not hold an admin role",
                    p.denied
                ),
            )
        };
        let ep = endpoint_key(cx);
        let name = cx
            .ev
            .principal
            .as_deref()
            .map(str::to_string)
            .or_else(|| cx.ev.api_key_id.clone())
            .unwrap_or_default();
        out.push(
            alert(
                "function_level_authz",
                format!("{name} called administrative endpoint {ep}"),
                sev,
                AttackStage::Exploitation,
                cx.ev.ts,
            )
            .description(format!(
                "{name} called {ep} (answered {}), an administrative function it had never used \
                 in its {} earlier calls{}. Regular users reaching admin functions is broken \
                 function-level authorization{}. Check whether {name} holds an admin role, what \
                 the call changed, and restrict the route to admin roles.",
                cx.ev.status,
                p.calls - 1,
                refused_note,
                if ok {
                    ", and this call succeeded"
                } else {
                    " being probed; this call was refused"
                }
            ))
            .mitre(&["T1078", "T1190"])
            .owasp("API5:2023")
            .actors(cx.ev)
            .target(cx)
            .evidence(cx.ev)
            .reason(reason, f64::from(observed), Some(f64::from(threshold)))
            .build(),
        );
    }
    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.principals.tick(now.millis());
        self.cooldown.tick(now.millis());
    }
    fn state_bytes(&self) -> usize {
        self.principals.approx_bytes_deep() + self.cooldown.approx_bytes()
    }
}
