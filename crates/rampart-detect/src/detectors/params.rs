//! Parameter detectors over the endpoints' learned parameter profiles (query parameters,
//! form fields, JSON keys): anomalous value types, anomalous values (length, characters),
//! unseen parameters; and mass assignment over write-body properties.
//!
//! Who reports what, so one request raises one parameter alert: a value of a type never
//! learned for its parameter is `anomalous_param_type`'s (`anomalous_param_value` leaves it
//! alone); a value of a known type that is far too long or carries characters never learned
//! is `anomalous_param_value`'s; a name never learned is `unseen_param`'s, except top-level
//! properties of write bodies once the endpoint's baseline (which `mass_assignment` reads) is
//! learned: those are `mass_assignment`'s, and so are the nested keys under a top-level
//! property it does not know.

use rampart_model::{AlertDraft, AttackStage, Severity, Timestamp};
use serde::{Deserialize, Serialize};

use crate::baseline::{
    body_props, classify_param, value_shape, value_type_index, CharClass, EndpointBaseline, Param,
    ParamLoc, ParamProfile, VALUE_TYPES,
};
use crate::common::{alert, contains_ci, endpoint_key, Cooldown};
use crate::registry::Resources;
use crate::state::{combine, hash_bytes};
use crate::{Detector, EventCtx};

const TYPE_NAMES: [&str; VALUE_TYPES] = [
    "integer", "number", "boolean", "uuid", "email", "date", "token", "url", "string",
];

/// A location mask from a list.
fn loc_mask(locs: &[ParamLoc]) -> u8 {
    locs.iter().fold(0, |m, l| m | l.bit())
}

/// The endpoint's baseline, when its parameter profiles are usable and the request has
/// parameters at all (the cheap checks first).
#[inline]
fn learned_params<'e>(cx: &EventCtx<'e>, min_samples: u64) -> Option<&'e EndpointBaseline> {
    if cx.ev.query.is_empty() && cx.ev.request_body.as_deref().is_none_or(str::is_empty) {
        return None;
    }
    cx.base
        .filter(|b| b.params_learned && b.param_samples >= min_samples)
}

/// The per-(ip, endpoint, parameter) cooldown key.
#[inline]
fn param_key(cx: &EventCtx<'_>, p: &Param<'_>, h: u64) -> u64 {
    combine(combine(cx.ip, cx.endpoint), combine(h, p.loc as u64))
}

/// Most characters of a value quoted in a description.
const VALUE_QUOTE_CHARS: usize = 200;

/// `{"name": "value"}` (the value cut to [`VALUE_QUOTE_CHARS`] characters), JSON-escaped.
fn quote_param(name: &str, value: &str) -> String {
    let cut: String = value.chars().take(VALUE_QUOTE_CHARS).collect();
    let more = if cut.len() < value.len() { "..." } else { "" };
    let mut m = serde_json::Map::new();
    m.insert(name.to_string(), format!("{cut}{more}").into());
    serde_json::Value::Object(m).to_string()
}

/// Parameter names whose values are secrets: never quoted in an alert, and too random to
/// profile.
const SECRET_WORDS: &[&str] = &[
    "pass",
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "auth",
    "credential",
    "signature",
    "session",
    "cookie",
    "cvv",
    "card",
];

fn is_secret_name(name: &str) -> bool {
    SECRET_WORDS.iter().any(|w| contains_ci(name, w))
}

/// `anomalous_param_type`: a parameter value (query, form field or JSON key) of a type never
/// or rarely seen for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ParamTypeConfig {
    /// Seconds after an alert during which the same key raises no other.
    pub cooldown_secs: i64,
    /// Values a parameter must have learned.
    pub min_seen: u32,
    /// A type seen in at most this share of learned values is anomalous.
    pub rare_fraction: f64,
    /// Where parameters are checked (`query`, `form`, `json`).
    pub locations: Vec<ParamLoc>,
}

impl Default for ParamTypeConfig {
    fn default() -> Self {
        ParamTypeConfig {
            cooldown_secs: 1_800,
            min_seen: 100,
            rare_fraction: 0.001,
            locations: ParamLoc::ALL.to_vec(),
        }
    }
}

/// The `anomalous_param_type` detector.
pub struct ParamType {
    cfg: ParamTypeConfig,
    locs: u8,
    cooldown: Cooldown,
}

/// Build `anomalous_param_type`.
pub fn anomalous_param_type(c: ParamTypeConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(ParamType {
        cooldown: Cooldown::secs(c.cooldown_secs, 10_000),
        locs: loc_mask(&c.locations),
        cfg: c,
    })
}

impl Detector for ParamType {
    fn id(&self) -> &'static str {
        "anomalous_param_type"
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        // `for_each_param` hands each parameter its profile in this same baseline.
        if learned_params(cx, 0).is_none_or(|b| b.params.is_empty()) {
            return;
        }
        let now = cx.ev.ts.millis();
        cx.for_each_param(|p, h, prof| {
            if p.null || p.loc.bit() & self.locs == 0 {
                return true;
            }
            let Some(prof) = prof.filter(|q| q.values() >= self.cfg.min_seen) else {
                return true;
            };
            let t = value_type_index(classify_param(p));
            let share = prof.type_share(t);
            if share > self.cfg.rare_fraction {
                return true;
            }
            if self.cooldown.ready(param_key(cx, p, h), now) {
                out.push(self.alert(cx, p, prof, t, share));
            }
            false
        });
    }
    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.cooldown.tick(now.millis());
    }
    fn state_bytes(&self) -> usize {
        self.cooldown.approx_bytes()
    }
}

impl ParamType {
    fn alert(
        &self,
        cx: &EventCtx<'_>,
        p: &Param<'_>,
        prof: &ParamProfile,
        t: usize,
        share: f64,
    ) -> AlertDraft {
        let usual = prof.usual_type();
        let ep = endpoint_key(cx);
        let (k, noun) = (p.name, p.loc.noun());
        let new = value_shape(p.value, p.loc).0 & !prof.classes;
        let chars = if new == 0 {
            String::new()
        } else {
            format!(
                " It also held {} never seen in that parameter.",
                CharClass::describe_mask(new)
            )
        };
        alert(
            self.id(),
            format!(
                "Unexpected {} value for {noun} '{k}' on {ep}",
                TYPE_NAMES[t]
            ),
            Severity::Medium,
            AttackStage::Exploitation,
            cx.ev.ts,
        )
        .description(format!(
            "The {noun} '{k}' of {ep} carried a {} value, while {} of its {} learned values \
             were {}.{chars} A value of the wrong type is typical of injection or fuzzing \
             (quotes or operators where a number belongs). Check the full value, the response \
             status and body, and whether the caller sent more such requests.",
            TYPE_NAMES[t],
            prof.types[usual],
            prof.values(),
            TYPE_NAMES[usual]
        ))
        .mitre(&["T1190"])
        .owasp("API8:2023")
        .actors(cx.ev)
        .target(cx)
        .evidence(cx.ev)
        .reason(
            &format!("type_share[{}:{k}]", p.loc.name()),
            share,
            Some(self.cfg.rare_fraction),
        )
        .build()
    }
}

// ---------------------------------------------------------------------------------------

/// `anomalous_param_value`: a parameter value (query, form field or JSON key) far longer
/// than any learned for it, or with characters (quotes, `<>`, shell metacharacters, ...)
/// never learned for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ParamValueConfig {
    /// Seconds after an alert during which the same (ip, endpoint, parameter) raises no
    /// other.
    pub cooldown_secs: i64,
    /// Values a parameter must have learned.
    pub min_seen: u32,
    /// A value longer than both `length_factor` times and `length_slack` bytes more than the
    /// longest learned value is anomalous.
    pub length_factor: f64,
    /// See `length_factor`.
    pub length_slack: u32,
    /// Character classes whose first appearance in a parameter is anomalous (`digit`,
    /// `lower`, `upper`, `space`, `dash`, `quote`, `angle`, `shell`, `bracket`, `slash`,
    /// `percent`, `equals`, `punct`, `control`, `non_ascii`).
    pub classes: Vec<CharClass>,
    /// A parameter whose learned values span more classes than this is free text: only its
    /// length is judged.
    pub max_learned_classes: u32,
    /// Where parameters are checked (`query`, `form`, `json`).
    pub locations: Vec<ParamLoc>,
}

impl Default for ParamValueConfig {
    fn default() -> Self {
        ParamValueConfig {
            cooldown_secs: 1_800,
            min_seen: 100,
            length_factor: 2.0,
            length_slack: 32,
            classes: vec![
                CharClass::Quote,
                CharClass::Angle,
                CharClass::Shell,
                CharClass::Bracket,
                CharClass::Slash,
                CharClass::Percent,
                CharClass::Control,
            ],
            max_learned_classes: 6,
            locations: ParamLoc::ALL.to_vec(),
        }
    }
}

/// Classes whose first appearance is injection-like (Medium rather than Low).
const INJECTION_CLASSES: u16 = CharClass::Quote.bit()
    | CharClass::Angle.bit()
    | CharClass::Shell.bit()
    | CharClass::Control.bit();

/// The `anomalous_param_value` detector.
pub struct ParamValue {
    cfg: ParamValueConfig,
    locs: u8,
    classes: u16,
    cooldown: Cooldown,
}

/// Build `anomalous_param_value`.
pub fn anomalous_param_value(c: ParamValueConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(ParamValue {
        cooldown: Cooldown::secs(c.cooldown_secs, 10_000),
        locs: loc_mask(&c.locations),
        classes: c.classes.iter().fold(0, |m, c| m | c.bit()),
        cfg: c,
    })
}

/// What is anomalous about one value.
struct ValueFinding {
    /// Classes never learned (among the watched ones).
    new_classes: u16,
    /// Bytes after decoding.
    len: u32,
    /// The length threshold, when the value crossed it.
    too_long: Option<u32>,
}

impl ParamValue {
    /// Judge one value against its learned profile.
    #[inline]
    fn judge(&self, p: &Param<'_>, prof: &ParamProfile) -> Option<ValueFinding> {
        let (classes, len) = value_shape(p.value, p.loc);
        let learned_max = u32::from(prof.max_len);
        let limit = ((f64::from(learned_max) * self.cfg.length_factor) as u32)
            .max(learned_max.saturating_add(self.cfg.length_slack));
        let too_long = (len > limit).then_some(limit);
        let free_text = prof.classes.count_ones() > self.cfg.max_learned_classes;
        let new_classes = if free_text {
            0
        } else {
            classes & !prof.classes & self.classes
        };
        if new_classes == 0 && too_long.is_none() {
            return None;
        }
        // A type never learned for the parameter is `anomalous_param_type`'s.
        if prof.types[value_type_index(classify_param(p))] == 0 {
            return None;
        }
        Some(ValueFinding {
            new_classes,
            len,
            too_long,
        })
    }

    fn alert(
        &self,
        cx: &EventCtx<'_>,
        p: &Param<'_>,
        prof: &ParamProfile,
        f: &ValueFinding,
    ) -> AlertDraft {
        let ep = endpoint_key(cx);
        let (k, noun, loc) = (p.name, p.loc.noun(), p.loc.name());
        let mut what = Vec::with_capacity(2);
        if f.new_classes != 0 {
            what.push(format!(
                "{} never seen in it",
                CharClass::describe_mask(f.new_classes)
            ));
        }
        if f.too_long.is_some() {
            what.push(format!(
                "{} bytes, far longer than the {} bytes at most learned",
                f.len, prof.max_len
            ));
        }
        let what = what.join(", and ");
        let sev = if f.new_classes & INJECTION_CLASSES != 0 {
            Severity::Medium
        } else {
            Severity::Low
        };
        let title = if f.new_classes != 0 {
            format!("Unusual characters in {noun} '{k}' on {ep}")
        } else {
            format!("Overlong value for {noun} '{k}' on {ep}")
        };
        let mut a = alert(self.id(), title, sev, AttackStage::Exploitation, cx.ev.ts)
            .description(format!(
                "The {noun} '{k}' of {ep} carried a value with {what}: {}. Its {} learned values \
             were {} to {} bytes long and held only {}. A parameter suddenly carrying quotes, \
             angle brackets, shell or path characters, or a far longer value than ever, is \
             typical of injection (SQL, script, command, template), path traversal and \
             overflow probing. Check the full request, the response (status {}) and whether \
             the caller sent more such values.",
                quote_param(k, p.value),
                prof.values(),
                prof.min_len,
                prof.max_len,
                CharClass::describe_mask(prof.classes),
                cx.ev.status
            ))
            .mitre(&["T1190"])
            .owasp("API8:2023")
            .actors(cx.ev)
            .target(cx)
            .evidence(cx.ev);
        if f.new_classes != 0 {
            a = a.reason(
                &format!("new_char_classes[{loc}:{k}]"),
                f64::from(f.new_classes.count_ones()),
                Some(0.0),
            );
        }
        if let Some(limit) = f.too_long {
            a = a.reason(
                &format!("value_bytes[{loc}:{k}]"),
                f64::from(f.len),
                Some(f64::from(limit)),
            );
        }
        a.build()
    }
}

impl Detector for ParamValue {
    fn id(&self) -> &'static str {
        "anomalous_param_value"
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        // `for_each_param` hands each parameter its profile in this same baseline.
        if learned_params(cx, 0).is_none_or(|b| b.params.is_empty()) {
            return;
        }
        let now = cx.ev.ts.millis();
        cx.for_each_param(|p, h, prof| {
            if p.null || p.loc.bit() & self.locs == 0 {
                return true;
            }
            let Some(prof) = prof.filter(|q| q.values() >= self.cfg.min_seen) else {
                return true;
            };
            let Some(f) = self.judge(p, prof) else {
                return true;
            };
            if is_secret_name(p.name) {
                return true;
            }
            if self.cooldown.ready(param_key(cx, p, h), now) {
                out.push(self.alert(cx, p, prof, &f));
            }
            false
        });
    }
    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.cooldown.tick(now.millis());
    }
    fn state_bytes(&self) -> usize {
        self.cooldown.approx_bytes()
    }
}

// ---------------------------------------------------------------------------------------

/// `unseen_param`: a parameter (query, form field or JSON key) never seen on an endpoint
/// whose parameter profile is learned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnseenParamConfig {
    /// Seconds after an alert during which the same key raises no other.
    pub cooldown_secs: i64,
    /// Calls the endpoint's parameter profile must have learned from (it is learned after
    /// `baseline.param_min_samples` calls or the learning period).
    pub min_samples: u64,
    /// Where parameters are checked (`query`, `form`, `json`).
    pub locations: Vec<ParamLoc>,
}

impl Default for UnseenParamConfig {
    fn default() -> Self {
        UnseenParamConfig {
            cooldown_secs: 1_800,
            min_samples: 100,
            locations: ParamLoc::ALL.to_vec(),
        }
    }
}

/// The `unseen_param` detector.
pub struct UnseenParam {
    cfg: UnseenParamConfig,
    locs: u8,
    cooldown: Cooldown,
}

/// Build `unseen_param`.
pub fn unseen_param(c: UnseenParamConfig, _: &Resources) -> Box<dyn Detector> {
    Box::new(UnseenParam {
        cooldown: Cooldown::secs(c.cooldown_secs, 10_000),
        locs: loc_mask(&c.locations),
        cfg: c,
    })
}

/// The top-level property a body parameter belongs to (`user` of `user.role`), `None` for
/// the elements of a top-level array.
fn top_property(name: &str) -> Option<&str> {
    let end = name.find(['.', '[']).unwrap_or(name.len());
    (end > 0).then(|| &name[..end])
}

impl Detector for UnseenParam {
    fn id(&self) -> &'static str {
        "unseen_param"
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        let Some(b) = learned_params(cx, self.cfg.min_samples) else {
            return;
        };
        // Once the endpoint's baseline is learned, `mass_assignment` watches the top-level
        // properties of its write bodies (learned for longer than parameter profiles): they,
        // and everything under one it does not know, are its.
        let mass_assignment = cx.write && b.learned && !b.body_overflow;
        let now = cx.ev.ts.millis();
        cx.for_each_param(|p, h, prof| {
            if p.loc.bit() & self.locs == 0 || b.params_overflowed(p.loc) {
                return true;
            }
            if prof.is_some() {
                return true;
            }
            if mass_assignment && p.loc != ParamLoc::Query {
                let top = if p.loc == ParamLoc::Form {
                    Some(p.name)
                } else {
                    top_property(p.name)
                };
                // A top-level property, or one under a top-level property it does not know.
                if top.is_some_and(|t| {
                    t.len() == p.name.len() || !b.has_body_prop(hash_bytes(t.as_bytes()))
                }) {
                    return true;
                }
            }
            if self.cooldown.ready(param_key(cx, p, h), now) {
                out.push(self.alert(cx, p, b));
            }
            false
        });
    }
    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.cooldown.tick(now.millis());
    }
    fn state_bytes(&self) -> usize {
        self.cooldown.approx_bytes()
    }
}

impl UnseenParam {
    fn alert(&self, cx: &EventCtx<'_>, p: &Param<'_>, b: &EndpointBaseline) -> AlertDraft {
        let ep = endpoint_key(cx);
        let (k, noun) = (p.name, p.loc.noun());
        let leaf = k.rsplit(['.', ']']).next().unwrap_or(k);
        let sensitive = SENSITIVE_PROPS.iter().any(|s| s.eq_ignore_ascii_case(leaf));
        let (sev, stage) = if sensitive {
            (Severity::Medium, AttackStage::Exploitation)
        } else {
            (Severity::Low, AttackStage::Recon)
        };
        let body = p.loc != ParamLoc::Query;
        let why = if body {
            "Attackers add properties to request bodies (role, is_admin, owner ids, prices) \
             hoping the API binds them blindly, or guess hidden ones to find undocumented \
             behaviour. Check whether the property took effect on the stored object"
        } else {
            "Attackers guess hidden parameters (debug flags, admin switches, filters) to find \
             undocumented behaviour. Check whether the parameter changed the response"
        };
        alert(
            self.id(),
            format!("Unknown {noun} '{k}' on {ep}"),
            sev,
            stage,
            cx.ev.ts,
        )
        .description(format!(
            "A request to {ep} sent the {noun} '{k}', never seen in the {} calls its \
             parameter profile learned from (answered {}). {why}, and whether the caller tried \
             many such names.",
            b.param_samples, cx.ev.status
        ))
        .mitre(&["T1595"])
        .owasp(if body { "API3:2023" } else { "API9:2023" })
        .actors(cx.ev)
        .target(cx)
        .evidence(cx.ev)
        .reason(
            &format!("learned_samples[{}:{k}]", p.loc.name()),
            b.param_samples as f64,
            Some(self.cfg.min_samples as f64),
        )
        .build()
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
