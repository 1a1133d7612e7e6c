//! Automation rules, with Microsoft Sentinel's semantics (which SOC teams already know):
//! a rule has triggers (incident created, incident updated, alert created), conditions on the
//! incident's and its alerts' properties (AND/OR groups, "changed from / to", "updated by"),
//! and actions (assign, change status, severity, tags, tasks, run a playbook, contain,
//! notify). Rules run in `order` (1-1000, then name), one after another, and each sees the
//! changes of the rules before it. A rule that is disabled or past its `expires_at` does not
//! run; a rule never runs on an update it made itself, and a chain of rule-made updates stops
//! at [`MAX_CHAIN`].
//!
//! Pure: no I/O and no clock (the caller passes `now`). The server turns a [`Plan`]'s steps
//! into store changes and containment requests, audited as made by `rule:<name>`.
//!
//! Documents are YAML (or JSON, a subset): `rules:` is a list of [`Rule`]s. Invalid documents
//! are refused with an error naming the field path and the line ([`DocumentError`]).

use core::net::IpAddr;
use std::fmt;

use ipnet::IpNet;
use rampart_model::{
    ActionKind, AlertDraft, Classification, Determination, EntityKind, Incident, IncidentStatus,
    Severity, Timestamp,
};
use serde::{Deserialize, Serialize};

mod doc;
pub mod playbook;
pub mod signature;
pub mod suppression;
pub mod webhook;
pub use doc::{parse_document, parse_playbook, parse_rule, parse_webhook, Document, DocumentError};

/// Most rule-made updates in a row that may trigger rules again (a rule changing what
/// another rule reacts to, and back).
pub const MAX_CHAIN: u8 = 5;

/// Lowest and highest rule order.
pub const ORDER_RANGE: std::ops::RangeInclusive<u16> = 1..=1000;

/// What makes rules run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A new incident.
    IncidentCreated,
    /// An incident changed (status, severity, owner, tags, classification, alerts added).
    IncidentUpdated,
    /// A new alert (joined to its incident).
    AlertCreated,
}

/// One automation rule (deserialized through `doc`, which checks it with [`Rule::validate`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    /// Unique name (the audit actor is `rule:<name>`).
    pub name: String,
    /// Run order, 1-1000 (lower first; ties by name; 100 when not given).
    pub order: u16,
    /// Whether it runs.
    pub enabled: bool,
    /// After this instant it no longer runs (a suppression for a pen test, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// What makes it run (at least one).
    pub triggers: Vec<Trigger>,
    /// When it applies (none: always).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Condition>,
    /// What it does, in order (at least one).
    pub actions: Vec<Action>,
}

pub(crate) fn default_order() -> u16 {
    100
}

pub(crate) fn yes() -> bool {
    true
}

impl Rule {
    /// Check what serde cannot: a name, an order in range, a trigger and an action, and
    /// "changed" or "updated by" conditions only on rules that run on updates.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() || self.name.len() > 200 {
            return Err("name: must be 1-200 characters".into());
        }
        if !ORDER_RANGE.contains(&self.order) {
            return Err(format!("order: {} is outside 1-1000", self.order));
        }
        if self.triggers.is_empty() {
            return Err("triggers: at least one".into());
        }
        if self.actions.is_empty() {
            return Err("actions: at least one".into());
        }
        if let Some(c) = &self.conditions {
            if c.needs_update() && !self.triggers.contains(&Trigger::IncidentUpdated) {
                return Err(
                    "conditions: `changed` and `updated_by` need the incident_updated trigger"
                        .into(),
                );
            }
        }
        Ok(())
    }
}

/// A property of the incident (or of any of its alerts) a condition reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Property {
    /// The incident's title.
    Title,
    /// The incident's severity.
    Severity,
    /// The incident's status.
    Status,
    /// The incident's owner (empty when unassigned).
    Owner,
    /// The incident's classification.
    Classification,
    /// Any of its tags.
    Tag,
    /// Any of its alerts' detectors.
    Detector,
    /// Any of its alerts' MITRE ATT&CK technique ids (`T1110`, `T1110.004`).
    Mitre,
    /// Any of its alerts' OWASP API Top 10 categories (`API2:2023`).
    Owasp,
    /// Any of its alerts' titles.
    AlertTitle,
    /// Any entity value (of one kind, or of any kind).
    Entity(Option<EntityKind>),
}

impl Property {
    /// The wire name: `title`, ..., `entity`, `entity.ip`.
    pub fn name(self) -> String {
        match self {
            Property::Title => "title".into(),
            Property::Severity => "severity".into(),
            Property::Status => "status".into(),
            Property::Owner => "owner".into(),
            Property::Classification => "classification".into(),
            Property::Tag => "tag".into(),
            Property::Detector => "detector".into(),
            Property::Mitre => "mitre".into(),
            Property::Owasp => "owasp".into(),
            Property::AlertTitle => "alert_title".into(),
            Property::Entity(None) => "entity".into(),
            Property::Entity(Some(k)) => format!("entity.{}", k.as_str()),
        }
    }
}

impl std::str::FromStr for Property {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "title" => Property::Title,
            "severity" => Property::Severity,
            "status" => Property::Status,
            "owner" => Property::Owner,
            "classification" => Property::Classification,
            "tag" | "tags" => Property::Tag,
            "detector" => Property::Detector,
            "mitre" | "technique" => Property::Mitre,
            "owasp" => Property::Owasp,
            "alert_title" => Property::AlertTitle,
            "entity" => Property::Entity(None),
            _ => match s.strip_prefix("entity.") {
                Some(k) => Property::Entity(Some(k.parse().map_err(|_| {
                    format!("unknown entity kind `{k}` (ip, user, api_key, endpoint, service, user_agent)")
                })?)),
                None => {
                    return Err(format!(
                        "unknown property `{s}` (title, severity, status, owner, classification, tag, detector, mitre, owasp, alert_title, entity, entity.<kind>)"
                    ))
                }
            },
        })
    }
}

impl Serialize for Property {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Property {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How a condition compares (strings case-insensitively; CIDR on IP values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    /// Equal to one of the values.
    Equals,
    /// Equal to none of the values.
    NotEquals,
    /// Contains one of the values.
    Contains,
    /// Contains none of the values.
    NotContains,
    /// Starts with one of the values.
    StartsWith,
    /// Ends with one of the values.
    EndsWith,
    /// An IP inside one of the networks.
    InCidr,
    /// An IP inside none of the networks.
    NotInCidr,
}

impl Operator {
    fn negated(self) -> bool {
        matches!(
            self,
            Operator::NotEquals | Operator::NotContains | Operator::NotInCidr
        )
    }
}

/// A property that "changed from / to" reads on updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Changeable {
    /// Severity.
    Severity,
    /// Status.
    Status,
    /// Owner.
    Owner,
}

/// Who made an update.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A person (console, API token, CLI).
    User(String),
    /// An automation rule.
    Rule(String),
    /// A playbook.
    Playbook(String),
    /// An attack-disruption policy.
    Disruption(String),
    /// The correlator (alerts joined, severity raised).
    System,
}

impl Actor {
    /// The audit actor: `alice`, `rule:<name>`, `playbook:<name>`, `disruption:<policy>`,
    /// `system`.
    pub fn audit_name(&self) -> String {
        match self {
            Actor::User(u) => u.clone(),
            Actor::Rule(n) => format!("rule:{n}"),
            Actor::Playbook(n) => format!("playbook:{n}"),
            Actor::Disruption(n) => format!("disruption:{n}"),
            Actor::System => "system".into(),
        }
    }

    /// Read an audit actor back (anything without a known prefix is a user).
    pub fn from_audit_name(s: &str) -> Actor {
        match s.split_once(':') {
            Some(("rule", n)) => Actor::Rule(n.into()),
            Some(("playbook", n)) => Actor::Playbook(n.into()),
            Some(("disruption", n)) => Actor::Disruption(n.into()),
            _ if s == "system" => Actor::System,
            _ => Actor::User(s.into()),
        }
    }
}

/// Which updates an `updated_by` condition matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UpdatedBy {
    /// Any person.
    User,
    /// Any automation rule, or the one named.
    Rule(Option<String>),
    /// Any playbook, or the one named.
    Playbook(Option<String>),
    /// Any attack-disruption policy.
    Disruption,
    /// The correlator.
    System,
}

impl UpdatedBy {
    fn matches(&self, a: &Actor) -> bool {
        match (self, a) {
            (UpdatedBy::User, Actor::User(_)) => true,
            (UpdatedBy::Rule(None), Actor::Rule(_)) => true,
            (UpdatedBy::Rule(Some(n)), Actor::Rule(m)) => n == m,
            (UpdatedBy::Playbook(None), Actor::Playbook(_)) => true,
            (UpdatedBy::Playbook(Some(n)), Actor::Playbook(m)) => n == m,
            (UpdatedBy::Disruption, Actor::Disruption(_)) => true,
            (UpdatedBy::System, Actor::System) => true,
            _ => false,
        }
    }
}

impl std::str::FromStr for UpdatedBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, name) = match s.split_once(':') {
            Some((k, n)) if !n.is_empty() => (k, Some(n.to_string())),
            _ => (s, None),
        };
        Ok(match (kind, name) {
            ("user", None) => UpdatedBy::User,
            ("rule", n) => UpdatedBy::Rule(n),
            ("playbook", n) => UpdatedBy::Playbook(n),
            ("disruption", None) => UpdatedBy::Disruption,
            ("system", None) => UpdatedBy::System,
            _ => {
                return Err(format!(
                    "updated_by `{s}`: one of user, rule, rule:<name>, playbook, playbook:<name>, disruption, system"
                ))
            }
        })
    }
}

impl fmt::Display for UpdatedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpdatedBy::User => f.write_str("user"),
            UpdatedBy::Rule(None) => f.write_str("rule"),
            UpdatedBy::Rule(Some(n)) => write!(f, "rule:{n}"),
            UpdatedBy::Playbook(None) => f.write_str("playbook"),
            UpdatedBy::Playbook(Some(n)) => write!(f, "playbook:{n}"),
            UpdatedBy::Disruption => f.write_str("disruption"),
            UpdatedBy::System => f.write_str("system"),
        }
    }
}

/// A condition: a group, a comparison, a change, or who updated.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Every one holds.
    All(Vec<Condition>),
    /// At least one holds.
    Any(Vec<Condition>),
    /// It does not hold.
    Not(Box<Condition>),
    /// A property compared with values (any of them).
    Compare {
        /// What is read.
        property: Property,
        /// How.
        operator: Operator,
        /// With what (one matching is enough; for negated operators none may match).
        values: Vec<String>,
        /// Parsed networks for the CIDR operators.
        networks: Vec<IpNet>,
    },
    /// On an update: the property changed (from this, to that, either optional).
    Changed {
        /// Which property.
        property: Changeable,
        /// The value before (any when absent).
        from: Option<String>,
        /// The value after (any when absent).
        to: Option<String>,
    },
    /// On an update: made by one of these.
    UpdatedBy(Vec<UpdatedBy>),
}

impl Condition {
    fn needs_update(&self) -> bool {
        match self {
            Condition::All(cs) | Condition::Any(cs) => cs.iter().any(Condition::needs_update),
            Condition::Not(c) => c.needs_update(),
            Condition::Compare { .. } => false,
            Condition::Changed { .. } | Condition::UpdatedBy(_) => true,
        }
    }

    /// Whether it holds for `subject` (and `update`, for the update-only kinds).
    pub fn holds(&self, subject: &Subject, update: Option<&Update>) -> bool {
        match self {
            Condition::All(cs) => cs.iter().all(|c| c.holds(subject, update)),
            Condition::Any(cs) => cs.iter().any(|c| c.holds(subject, update)),
            Condition::Not(c) => !c.holds(subject, update),
            Condition::Compare {
                property,
                operator,
                values,
                networks,
            } => {
                let mut found = false;
                subject.for_each(*property, &mut |v| {
                    if !found && compare(*operator, v, values, networks) {
                        found = true;
                    }
                });
                found != operator.negated()
            }
            Condition::Changed { property, from, to } => update.is_some_and(|u| {
                u.changes.iter().any(|c| {
                    c.property == *property
                        && from
                            .as_ref()
                            .is_none_or(|f| f.eq_ignore_ascii_case(&c.from))
                        && to.as_ref().is_none_or(|t| t.eq_ignore_ascii_case(&c.to))
                })
            }),
            Condition::UpdatedBy(who) => {
                update.is_some_and(|u| who.iter().any(|w| w.matches(&u.by)))
            }
        }
    }
}

/// The positive form of `op` on one value (negation is applied over all values).
fn compare(op: Operator, v: &str, values: &[String], networks: &[IpNet]) -> bool {
    let lower = v.to_ascii_lowercase();
    match op {
        Operator::Equals | Operator::NotEquals => values.iter().any(|x| x.eq_ignore_ascii_case(v)),
        Operator::Contains | Operator::NotContains => values
            .iter()
            .any(|x| lower.contains(&x.to_ascii_lowercase())),
        Operator::StartsWith => values
            .iter()
            .any(|x| lower.starts_with(&x.to_ascii_lowercase())),
        Operator::EndsWith => values
            .iter()
            .any(|x| lower.ends_with(&x.to_ascii_lowercase())),
        Operator::InCidr | Operator::NotInCidr => v
            .parse::<IpAddr>()
            .is_ok_and(|ip| networks.iter().any(|n| n.contains(&ip))),
    }
}

/// What a rule does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Set the owner.
    Assign(String),
    /// Change the status; closing carries the classification, determination and a comment.
    SetStatus {
        /// New status.
        status: IncidentStatus,
        /// Classification (required to resolve).
        classification: Option<Classification>,
        /// Determination (required to resolve).
        determination: Option<Determination>,
        /// Comment (required to resolve).
        comment: Option<String>,
    },
    /// Set the severity.
    SetSeverity(Severity),
    /// Add tags.
    AddTags(Vec<String>),
    /// Add a task to the incident.
    AddTask {
        /// Task title.
        title: String,
        /// Longer text.
        description: Option<String>,
    },
    /// Start a playbook on the incident.
    RunPlaybook(String),
    /// Request containment of the incident's entities of the kind the action takes, through
    /// the containment module (its approvals and safety rails apply).
    Contain {
        /// Action kind (`block_ip`, `disable_api_key`, ...).
        kind: ActionKind,
        /// Duration in seconds (the containment default when absent).
        duration_secs: Option<u64>,
    },
    /// Send the incident to a webhook subscription.
    Notify(String),
}

impl Action {
    /// Apply what it changes on the incident to `s` (the later rules see it). Returns the
    /// property changes it made.
    fn apply(&self, s: &mut Subject) -> Vec<Change> {
        let mut changes = Vec::new();
        match self {
            Action::Assign(owner) => {
                if s.owner.as_deref() != Some(owner.as_str()) {
                    changes.push(Change {
                        property: Changeable::Owner,
                        from: s.owner.clone().unwrap_or_default(),
                        to: owner.clone(),
                    });
                    s.owner = Some(owner.clone());
                }
            }
            Action::SetStatus {
                status,
                classification,
                ..
            } => {
                if s.status != *status {
                    changes.push(Change {
                        property: Changeable::Status,
                        from: s.status.as_str().into(),
                        to: status.as_str().into(),
                    });
                    s.status = *status;
                }
                if let Some(c) = classification {
                    s.classification = *c;
                }
            }
            Action::SetSeverity(sev) => {
                if s.severity != *sev {
                    changes.push(Change {
                        property: Changeable::Severity,
                        from: s.severity.as_str().into(),
                        to: sev.as_str().into(),
                    });
                    s.severity = *sev;
                }
            }
            Action::AddTags(tags) => {
                for t in tags {
                    if !s.tags.iter().any(|x| x.eq_ignore_ascii_case(t)) {
                        s.tags.push(t.clone());
                    }
                }
            }
            Action::AddTask { .. }
            | Action::RunPlaybook(_)
            | Action::Contain { .. }
            | Action::Notify(_) => {}
        }
        changes
    }
}

/// The incident as rules see it (with its alerts' properties folded in).
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    /// Incident id.
    pub incident_id: i64,
    /// Title.
    pub title: String,
    /// Severity.
    pub severity: Severity,
    /// Status.
    pub status: IncidentStatus,
    /// Owner.
    pub owner: Option<String>,
    /// Classification.
    pub classification: Classification,
    /// Tags.
    pub tags: Vec<String>,
    /// Its alerts' detectors, titles, MITRE techniques and OWASP categories.
    pub detectors: Vec<String>,
    /// Alert titles.
    pub alert_titles: Vec<String>,
    /// MITRE technique ids.
    pub mitre: Vec<String>,
    /// OWASP categories.
    pub owasp: Vec<String>,
    /// Entities (kind, value).
    pub entities: Vec<(EntityKind, String)>,
}

impl Subject {
    /// An incident and (some of) its alerts.
    pub fn new(incident: &Incident, alerts: &[&AlertDraft]) -> Subject {
        let mut s = Subject {
            incident_id: incident.id,
            title: incident.title.clone(),
            severity: incident.severity,
            status: incident.status,
            owner: incident.assigned_to.clone(),
            classification: incident.classification,
            tags: incident.tags.clone(),
            detectors: Vec::new(),
            alert_titles: Vec::new(),
            mitre: Vec::new(),
            owasp: Vec::new(),
            entities: incident
                .entities
                .iter()
                .map(|e| (e.kind, e.value.clone()))
                .collect(),
        };
        fn add(v: &mut Vec<String>, x: &str) {
            if !v.iter().any(|y| y == x) {
                v.push(x.to_string());
            }
        }
        for a in alerts {
            add(&mut s.detectors, &a.detector);
            add(&mut s.alert_titles, &a.title);
            for m in &a.mitre {
                add(&mut s.mitre, m);
            }
            if let Some(o) = &a.owasp {
                add(&mut s.owasp, o);
            }
            for e in &a.entities {
                if !s
                    .entities
                    .iter()
                    .any(|(k, v)| *k == e.kind && *v == e.value)
                {
                    s.entities.push((e.kind, e.value.clone()));
                }
            }
        }
        s
    }

    fn for_each(&self, p: Property, f: &mut dyn FnMut(&str)) {
        match p {
            Property::Title => f(&self.title),
            Property::Severity => f(self.severity.as_str()),
            Property::Status => f(self.status.as_str()),
            Property::Owner => f(self.owner.as_deref().unwrap_or("")),
            Property::Classification => f(self.classification.as_str()),
            Property::Tag => self.tags.iter().for_each(|t| f(t)),
            Property::Detector => self.detectors.iter().for_each(|t| f(t)),
            Property::AlertTitle => self.alert_titles.iter().for_each(|t| f(t)),
            Property::Mitre => {
                // `T1110` matches `T1110.004` with `equals` too: a technique covers its
                // sub-techniques.
                for m in &self.mitre {
                    f(m);
                    if let Some((base, _)) = m.split_once('.') {
                        f(base);
                    }
                }
            }
            Property::Owasp => self.owasp.iter().for_each(|t| f(t)),
            Property::Entity(kind) => self
                .entities
                .iter()
                .filter(|(k, _)| kind.is_none_or(|x| x == *k))
                .for_each(|(_, v)| f(v)),
        }
    }
}

/// One property change of an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Which property.
    pub property: Changeable,
    /// Its wire value before (`""` for no owner).
    pub from: String,
    /// Its wire value after.
    pub to: String,
}

/// What an `incident_updated` trigger carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// Who made it.
    pub by: Actor,
    /// What changed.
    pub changes: Vec<Change>,
    /// How many rule-made updates led to this one (0 for a person's or the correlator's).
    pub chain: u8,
}

/// One action a rule decided on.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The rule's name (the audit actor is `rule:<name>`).
    pub rule: String,
    /// What to do.
    pub action: Action,
}

/// The outcome of running the rules on one trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Actions in the order the rules decided them.
    pub steps: Vec<Step>,
    /// The incident after every rule's changes.
    pub subject: Subject,
    /// Rules that ran (their conditions held), in order.
    pub matched: Vec<String>,
    /// Property changes the rules made, per rule (to raise the next `incident_updated`
    /// trigger with `Actor::Rule`).
    pub changes: Vec<(String, Vec<Change>)>,
}

/// Run `rules` on `trigger` for `subject` at `now`. Rules run in (order, name); disabled and
/// expired ones are skipped; on an update, a rule does not run on its own change, and nothing
/// runs once the chain of rule-made updates reaches [`MAX_CHAIN`].
pub fn run(
    rules: &[Rule],
    trigger: Trigger,
    subject: Subject,
    update: Option<&Update>,
    now: Timestamp,
) -> Plan {
    let mut plan = Plan {
        steps: Vec::new(),
        subject,
        matched: Vec::new(),
        changes: Vec::new(),
    };
    if update.is_some_and(|u| u.chain >= MAX_CHAIN) {
        return plan;
    }
    let mut order: Vec<&Rule> = rules.iter().collect();
    order.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.name.cmp(&b.name)));
    for rule in order {
        if !rule.enabled
            || rule.expires_at.is_some_and(|e| e <= now)
            || !rule.triggers.contains(&trigger)
        {
            continue;
        }
        if update.is_some_and(|u| u.by == Actor::Rule(rule.name.clone())) {
            continue;
        }
        if !rule
            .conditions
            .as_ref()
            .is_none_or(|c| c.holds(&plan.subject, update))
        {
            continue;
        }
        plan.matched.push(rule.name.clone());
        let mut made = Vec::new();
        for a in &rule.actions {
            made.extend(a.apply(&mut plan.subject));
            plan.steps.push(Step {
                rule: rule.name.clone(),
                action: a.clone(),
            });
        }
        if !made.is_empty() {
            plan.changes.push((rule.name.clone(), made));
        }
    }
    plan
}
