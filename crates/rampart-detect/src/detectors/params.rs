//! Parameter detectors: anomalous value types, unseen parameters, mass assignment.

use rampart_inventory::values::classify_value;
use rampart_model::{AlertDraft, AttackStage, Severity, Timestamp};
use serde::{Deserialize, Serialize};

use crate::baseline::{body_props, value_type_index, VALUE_TYPES};
use crate::common::{alert, endpoint_key, Cooldown};
use crate::registry::Resources;
use crate::state::{combine, hash_bytes};
use crate::{Detector, EventCtx};

const TYPE_NAMES: [&str; VALUE_TYPES] = [
    "integer", "number", "boolean", "uuid", "email", "date", "token", "url", "string",
];

/// `anomalous_param_type`: a query parameter value of a type never or rarely seen for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ParamTypeConfig {
    /// Seconds after an alert during which the same key raises no other.
    pub cooldown_secs: i64,
    /// Times a parameter must have been seen while learning.
    pub min_seen: u32,
    /// A type seen in at most this share of learned values is anomalous.
    pub rare_fraction: f64,
}

impl Default for ParamTypeConfig {
    fn default() -> Self {
        ParamTypeConfig {
            cooldown_secs: 1_800,
            min_seen: 100,
            rare_fraction: 0.001,
        }
    }
}

/// The `anomalous_param_type` detector.
pub struct ParamType {
    cfg: ParamTypeConfig,
    cooldown: Cooldown,
}

/// Build `anomalous_param_type`.
pub fn anomalous_param_type(c: ParamTypeConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(ParamType {
        cooldown: Cooldown::secs(c.cooldown_secs, 10_000),
        cfg: c,
    })
}

impl Detector for ParamType {
    fn id(&self) -> &'static str {
        "anomalous_param_type"
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        if cx.ev.query.is_empty() {
            return;
        }
        let Some(b) = cx.base.filter(|b| b.learned) else {
            return;
        };
        for (k, v) in cx.ev.query_params() {
            let h = hash_bytes(k.as_bytes());
            let Some(p) = b.param(h).filter(|p| p.seen >= self.cfg.min_seen) else {
                continue;
            };
            let t = value_type_index(classify_value(v));
            let share = f64::from(p.types[t]) / f64::from(p.seen);
            if share > self.cfg.rare_fraction {
                continue;
            }
            let now = cx.ev.ts.millis();
            if !self
                .cooldown
                .ready(combine(combine(cx.ip, cx.endpoint), h), now)
            {
                return;
            }
            let usual = (0..VALUE_TYPES).max_by_key(|&i| p.types[i]).unwrap_or(8);
            let ep = endpoint_key(cx);
            out.push(
                alert(
                    self.id(),
                    format!("Unexpected {} value for '{k}' on {ep}", TYPE_NAMES[t]),
                    Severity::Medium,
                    AttackStage::Exploitation,
                    cx.ev.ts,
                )
                .description(format!(
                    "Parameter '{k}' of {ep} carried a {} value, while {} of {} learned values \
                     were {}. A value of the wrong type is typical of injection or fuzzing \
                     (quotes or operators where a number belongs). Check the full value, the \
                     response status and body, and whether the caller sent more such requests.",
                    TYPE_NAMES[t], p.types[usual], p.seen, TYPE_NAMES[usual]
                ))
                .mitre(&["T1190"])
                .owasp("API8:2023")
                .actors(cx.ev)
                .target(cx)
                .evidence(cx.ev)
                .reason("type_share", share, Some(self.cfg.rare_fraction))
                .build(),
            );
            return;
        }
    }
    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.cooldown.tick(now.millis());
    }
    fn state_bytes(&self) -> usize {
        self.cooldown.approx_bytes()
    }
}

// ---------------------------------------------------------------------------------------

/// `unseen_param`: a query parameter never seen on a well-learned endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnseenParamConfig {
    /// Seconds after an alert during which the same key raises no other.
    pub cooldown_secs: i64,
    /// Learned events the endpoint needs.
    pub min_samples: u64,
}

impl Default for UnseenParamConfig {
    fn default() -> Self {
        UnseenParamConfig {
            cooldown_secs: 1_800,
            min_samples: 1_000,
        }
    }
}

/// The `unseen_param` detector.
pub struct UnseenParam {
    cfg: UnseenParamConfig,
    cooldown: Cooldown,
}

/// Build `unseen_param`.
pub fn unseen_param(c: UnseenParamConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(UnseenParam {
        cooldown: Cooldown::secs(c.cooldown_secs, 10_000),
        cfg: c,
    })
}

impl Detector for UnseenParam {
    fn id(&self) -> &'static str {
        "unseen_param"
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        if cx.ev.query.is_empty() {
            return;
        }
        let Some(b) = cx
            .base
            .filter(|b| b.learned && !b.params_overflow && b.samples >= self.cfg.min_samples)
        else {
            return;
        };
        for (k, _) in cx.ev.query_params() {
            let h = hash_bytes(k.as_bytes());
            if b.param(h).is_some() {
                continue;
            }
            let now = cx.ev.ts.millis();
            if !self
                .cooldown
                .ready(combine(combine(cx.ip, cx.endpoint), h), now)
            {
                return;
            }
            let ep = endpoint_key(cx);
            out.push(
                alert(
                    self.id(),
                    format!("Unknown parameter '{k}' on {ep}"),
                    Severity::Low,
                    AttackStage::Recon,
                    cx.ev.ts,
                )
                .description(format!(
                    "A request to {ep} used parameter '{k}', never seen in its {} learned \
                     calls. Attackers guess hidden parameters (debug flags, admin switches, \
                     filters) to find undocumented behaviour. Check whether the parameter \
                     changed the response, and whether the caller tried many such names.",
                    b.samples
                ))
                .mitre(&["T1595"])
                .owasp("API9:2023")
                .actors(cx.ev)
                .target(cx)
                .evidence(cx.ev)
                .reason(
                    "learned_samples",
                    b.samples as f64,
                    Some(self.cfg.min_samples as f64),
                )
                .build(),
            );
            return;
        }
    }
    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.cooldown.tick(now.millis());
    }
    fn state_bytes(&self) -> usize {
        self.cooldown.approx_bytes()
    }
}

// ---------------------------------------------------------------------------------------

/// Property names whose unexpected appearance in a write body is most dangerous.
pub const SENSITIVE_PROPS: &[&str] = &[
    "role",
    "roles",
    "is_admin",
    "isadmin",
    "admin",
    "permissions",
    "scope",
    "scopes",
    "price",
    "balance",
    "credit",
    "discount",
    "verified",
    "is_verified",
    "owner",
    "owner_id",
    "account_id",
    "user_id",
    "tenant_id",
    "plan",
    "tier",
    "group",
    "groups",
    "status",
];

/// `mass_assignment`: a write body with properties never seen in the endpoint's learned write
/// bodies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MassAssignmentConfig {
    /// Seconds after an alert during which the same key raises no other.
    pub cooldown_secs: i64,
    /// Learned write bodies the endpoint needs.
    pub min_writes: u64,
}

impl Default for MassAssignmentConfig {
    fn default() -> Self {
        MassAssignmentConfig {
            cooldown_secs: 1_800,
            min_writes: 50,
        }
    }
}

/// The `mass_assignment` detector.
pub struct MassAssignment {
    cfg: MassAssignmentConfig,
    cooldown: Cooldown,
}

/// Build `mass_assignment`.
pub fn mass_assignment(c: MassAssignmentConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(MassAssignment {
        cooldown: Cooldown::secs(c.cooldown_secs, 10_000),
        cfg: c,
    })
}

impl Detector for MassAssignment {
    fn id(&self) -> &'static str {
        "mass_assignment"
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        if !cx.write {
            return;
        }
        let Some(body) = cx.ev.request_body.as_deref() else {
            return;
        };
        let Some(b) = cx
            .base
            .filter(|b| b.learned && !b.body_overflow && b.write_bodies >= self.cfg.min_writes)
        else {
            return;
        };
        let mut unseen = 0usize;
        let mut first: Option<&str> = None;
        let mut sensitive: Option<&str> = None;
        body_props(body, |k| {
            if !b.has_body_prop(hash_bytes(k.as_bytes())) {
                unseen += 1;
                first.get_or_insert(k);
                if sensitive.is_none() && SENSITIVE_PROPS.iter().any(|s| s.eq_ignore_ascii_case(k))
                {
                    sensitive = Some(k);
                }
            }
        });
        let Some(prop) = sensitive.or(first) else {
            return;
        };
        let now = cx.ev.ts.millis();
        if !self.cooldown.ready(combine(cx.ip, cx.endpoint), now) {
            return;
        }
        let ok = cx.status_class == 2;
        let sev = match (sensitive.is_some(), ok) {
            (true, true) => Severity::High,
            (true, false) | (false, true) => Severity::Medium,
            (false, false) => Severity::Low,
        };
        let ep = endpoint_key(cx);
        out.push(
            alert(
                self.id(),
                format!("Unexpected property '{prop}' written to {ep}"),
                sev,
                AttackStage::Exploitation,
                cx.ev.ts,
            )
            .description(format!(
                "A {} request to {ep} carried {unseen} properties never seen in its {} learned \
                 write bodies, including '{prop}' (answered {}). Adding properties such as role, \
                 is_admin or price to a write is mass assignment: if the API binds them blindly \
                 the caller can escalate privileges or change prices. Check the stored object \
                 and whether the property took effect.",
                cx.ev.method, b.write_bodies, cx.ev.status
            ))
            .mitre(&["T1190", "T1098"])
            .owasp("API3:2023")
            .actors(cx.ev)
            .target(cx)
            .evidence(cx.ev)
            .reason("unseen_properties", unseen as f64, Some(0.0))
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
