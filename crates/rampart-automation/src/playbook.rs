//! Playbooks: multi-step workflows as versioned YAML documents, and the pure engine that
//! runs them one step at a time.
//!
//! A [`Playbook`] has a name, a `subject` (what it runs on: an incident, an alert or an
//! entity), optional `params` (values the document carries, such as a webhook URL) and
//! `steps`. A step has an `id` (unique in the playbook) and exactly one kind: a built-in
//! action (`contain`, `revert`, `assign`, `tag`, `comment`, `add_task`, `lookup_inventory`,
//! `lookup_intel`, `query_events`), a `webhook`, a `wait`, an `approval` gate, an `if` with
//! `then`/`else` branches, or a `foreach` over the subject's entities of a kind or over a list another step
//! returned. String fields are templates: `{{ incident.id }}`, `{{ entity.value }}`,
//! `{{ item }}`, `{{ params.<name> }}`, `{{ steps.<id>.<field> }}`; every reference is checked
//! when the document is parsed (an unknown one is refused, naming the field and line).
//!
//! The engine ([`next`]) is a state machine: given the playbook, the run's [`Context`] and the
//! persisted state of the run (for each step key, started with its input or completed with its
//! output), it says what to do next: execute a step (with its key and expanded input), record
//! a decision (an `if`'s branch, a loop's items, a finished wait), wait until a time, wait for
//! an approval, done, or failed. A step key is a stable path: `3`, `2.then.0`, `4[1].0` (loop
//! iteration 1). Keys of completed steps are never handed out again, so a run resumed from its
//! persisted state never repeats a completed step. Pure: `now` is an argument.

use std::collections::{BTreeMap, BTreeSet};

use rampart_model::{ActionKind, Entity, EntityKind, EntityRole, Timestamp};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

/// Longest expansion of one template, in bytes.
pub const MAX_EXPANDED: usize = 64 * 1024;
/// How a playbook's own check marks the field it names, for the document parser to move it
/// into the error's path.
pub(crate) const FIELD_MARK: &str = "in ";

/// Most items a `foreach` iterates over (the rest are left out and counted).
pub const MAX_ITEMS: usize = 100;
/// Most steps (including nested ones) a playbook may hold.
pub const MAX_STEPS: usize = 200;
/// Most webhook retries a step may ask for.
pub const MAX_RETRIES: u32 = 10;
/// Longest webhook timeout, in seconds.
pub const MAX_TIMEOUT_SECS: u64 = 120;
/// Most events a `query_events` step may ask for.
pub const MAX_QUERY_LIMIT: u32 = 10_000;

/// What a playbook runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// An incident (and its entities).
    Incident,
    /// An alert (and its incident, when it has one).
    Alert,
    /// One entity (kind and value).
    Entity,
}

impl SubjectKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Incident => "incident",
            SubjectKind::Alert => "alert",
            SubjectKind::Entity => "entity",
        }
    }
}

/// One playbook (deserialized through [`PlaybookDoc`], which checks it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Playbook {
    /// Unique name (the audit actor of its changes is `playbook:<name>`).
    pub name: String,
    /// What it is for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// What it runs on.
    pub subject: SubjectKind,
    /// Values the document carries (`{{ params.<name> }}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// The steps, in order (at least one).
    pub steps: Vec<Step>,
}

/// One step (deserialized through `StepDoc`: exactly one kind).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Unique in the playbook (`[a-z0-9_-]`, 1-64); outputs are `steps.<id>`.
    pub id: String,
    /// What it does.
    #[serde(flatten)]
    pub kind: StepKind,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// A containment action through `rampart-contain` (its rails and approvals apply).
    Contain {
        /// Action kind (`block_ip`, `disable_api_key`, ...).
        kind: ActionKind,
        /// The target (template): an IP or range, a key hash, a principal, ...
        target: String,
        /// Go-style duration (`1h`); the containment default when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration: Option<String>,
    },
    /// Revert a containment action by id (template).
    Revert {
        /// The action's id.
        action: String,
    },
    /// Set the incident's owner (template).
    Assign(String),
    /// Add tags to the incident (templates).
    Tag(Vec<String>),
    /// Comment on the incident (template).
    Comment(String),
    /// Add a task to the incident.
    AddTask {
        /// Title (template).
        title: String,
        /// Longer text (template).
        #[serde(default)]
        description: String,
    },
    /// What the inventory knows of an endpoint (`GET /users/{id}`, template).
    LookupInventory {
        /// The endpoint: method and path template.
        endpoint: String,
    },
    /// Whether threat intelligence lists an address (template): `{"listed", "feed"}`.
    LookupIntel {
        /// The IP.
        ip: String,
    },
    /// Stored events of an address, a principal or an API key (one of them, a template).
    QueryEvents {
        /// Client IP.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ip: Option<String>,
        /// Principal.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        principal: Option<String>,
        /// API key identity (hash).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_key: Option<String>,
        /// How far back, Go-style (`24h`); default 24h.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<String>,
        /// Most events read (default 1000).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// An outgoing HTTP POST, signed with HMAC-SHA256 when `secret_env` names a variable.
    Webhook(Webhook),
    /// Wait this long (Go-style duration).
    Wait {
        /// How long.
        duration: String,
    },
    /// Wait until a person approves (or cancels) the run.
    Approval {
        /// What the approver is asked.
        prompt: String,
    },
    /// Run `then` when the condition holds, else `else`.
    If {
        /// `<template>` (true when not empty, `false` or `0`) or
        /// `<template> == | != | > | < <value>`.
        condition: String,
        /// Steps when it holds.
        #[serde(default, rename = "then")]
        then_steps: Vec<Step>,
        /// Steps when it does not.
        #[serde(default, rename = "else", skip_serializing_if = "Vec::is_empty")]
        else_steps: Vec<Step>,
    },
    /// Run `steps` once for each item (`{{ item }}`).
    Foreach {
        /// The subject's entities of this kind (each value once).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        entities: Option<EntityKind>,
        /// Only the entities of this role (`attacker`, `target`, `related`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<EntityRole>,
        /// A list a reference names (`steps.events.addresses`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        items: Option<String>,
        /// The steps of one iteration.
        steps: Vec<Step>,
    },
}

/// A webhook step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// `http://` or `https://` URL (template).
    pub url: String,
    /// Name of the environment variable holding the HMAC secret (never the secret itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    /// The JSON body; strings in it are templates (a string that is one `{{ ref }}` becomes
    /// the referenced value itself, so a list stays a list). Default: the run's subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Timeout of one attempt, in seconds (default 10, at most 120).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Retries after the first attempt (default 3, at most 10).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Delay before the first retry, doubled for each next one (default 500 ms).
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
}

fn default_timeout() -> u64 {
    10
}
fn default_retries() -> u32 {
    3
}
fn default_backoff() -> u64 {
    500
}

// --- parsing and checks ---------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContainDoc {
    kind: ActionKind,
    target: String,
    #[serde(default)]
    duration: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevertDoc {
    action: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskDoc {
    title: String,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoryDoc {
    endpoint: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntelDoc {
    ip: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryDoc {
    #[serde(default)]
    ip: Option<String>,
    #[serde(default)]
    principal: Option<String>,
    #[serde(default)]
    api_key: Option<String>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitDoc {
    duration: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalDoc {
    prompt: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IfDoc {
    condition: String,
    #[serde(default, rename = "then")]
    then_steps: Vec<Step>,
    #[serde(default, rename = "else")]
    else_steps: Vec<Step>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForeachDoc {
    #[serde(default)]
    entities: Option<EntityKind>,
    #[serde(default)]
    role: Option<EntityRole>,
    #[serde(default)]
    items: Option<String>,
    steps: Vec<Step>,
}

/// A step as written: an id and exactly one kind.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepDoc {
    id: String,
    #[serde(default)]
    contain: Option<ContainDoc>,
    #[serde(default)]
    revert: Option<RevertDoc>,
    #[serde(default)]
    assign: Option<String>,
    #[serde(default)]
    tag: Option<OneOrMany>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    add_task: Option<TaskDoc>,
    #[serde(default)]
    lookup_inventory: Option<InventoryDoc>,
    #[serde(default)]
    lookup_intel: Option<IntelDoc>,
    #[serde(default)]
    query_events: Option<QueryDoc>,
    #[serde(default)]
    webhook: Option<Webhook>,
    #[serde(default)]
    wait: Option<WaitDoc>,
    #[serde(default)]
    approval: Option<ApprovalDoc>,
    #[serde(default, rename = "if")]
    if_: Option<IfDoc>,
    #[serde(default)]
    foreach: Option<ForeachDoc>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

const STEP_KINDS: &str = "contain, revert, assign, tag, comment, add_task, lookup_inventory, lookup_intel, query_events, webhook, wait, approval, if, foreach";

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = StepDoc::deserialize(d)?;
        let mut kinds = Vec::new();
        if let Some(c) = s.contain {
            kinds.push(StepKind::Contain {
                kind: c.kind,
                target: c.target,
                duration: c.duration,
            });
        }
        if let Some(r) = s.revert {
            kinds.push(StepKind::Revert { action: r.action });
        }
        if let Some(a) = s.assign {
            kinds.push(StepKind::Assign(a));
        }
        if let Some(t) = s.tag {
            kinds.push(StepKind::Tag(match t {
                OneOrMany::One(t) => vec![t],
                OneOrMany::Many(v) => v,
            }));
        }
        if let Some(c) = s.comment {
            kinds.push(StepKind::Comment(c));
        }
        if let Some(t) = s.add_task {
            kinds.push(StepKind::AddTask {
                title: t.title,
                description: t.description,
            });
        }
        if let Some(i) = s.lookup_inventory {
            kinds.push(StepKind::LookupInventory {
                endpoint: i.endpoint,
            });
        }
        if let Some(i) = s.lookup_intel {
            kinds.push(StepKind::LookupIntel { ip: i.ip });
        }
        if let Some(q) = s.query_events {
            kinds.push(StepKind::QueryEvents {
                ip: q.ip,
                principal: q.principal,
                api_key: q.api_key,
                since: q.since,
                limit: q.limit,
            });
        }
        if let Some(w) = s.webhook {
            kinds.push(StepKind::Webhook(w));
        }
        if let Some(w) = s.wait {
            kinds.push(StepKind::Wait {
                duration: w.duration,
            });
        }
        if let Some(a) = s.approval {
            kinds.push(StepKind::Approval { prompt: a.prompt });
        }
        if let Some(i) = s.if_ {
            kinds.push(StepKind::If {
                condition: i.condition,
                then_steps: i.then_steps,
                else_steps: i.else_steps,
            });
        }
        if let Some(f) = s.foreach {
            kinds.push(StepKind::Foreach {
                entities: f.entities,
                role: f.role,
                items: f.items,
                steps: f.steps,
            });
        }
        if kinds.len() != 1 {
            return Err(serde::de::Error::custom(format!(
                "step `{}`: a step is exactly one of {STEP_KINDS}",
                s.id
            )));
        }
        Ok(Step {
            id: s.id,
            kind: kinds.pop().expect("one kind"),
        })
    }
}

/// A playbook as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaybookDoc {
    name: String,
    #[serde(default)]
    description: String,
    subject: SubjectKind,
    #[serde(default)]
    params: BTreeMap<String, String>,
    steps: Vec<Step>,
}

impl<'de> Deserialize<'de> for Playbook {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let p = PlaybookDoc::deserialize(d)?;
        let pb = Playbook {
            name: p.name,
            description: p.description,
            subject: p.subject,
            params: p.params,
            steps: p.steps,
        };
        pb.validate()
            .map_err(|e| serde::de::Error::custom(format!("{FIELD_MARK}{e}")))?;
        Ok(pb)
    }
}

/// What a template may reference where it is.
struct Scope<'a> {
    pb: &'a Playbook,
    /// Step ids defined before this point (document order).
    earlier: BTreeSet<String>,
    /// Inside a `foreach`.
    in_loop: bool,
}

impl Playbook {
    /// Check what serde cannot: the name, unique step ids, sizes, durations, URLs, and that
    /// every template reference exists where it is used. The message names the step's path.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() || self.name.len() > 200 {
            return Err("name: must be 1-200 characters".into());
        }
        if self.steps.is_empty() {
            return Err("steps: at least one".into());
        }
        let mut ids = BTreeSet::new();
        let mut count = 0;
        collect_ids(&self.steps, "steps", &mut ids, &mut count)?;
        if count > MAX_STEPS {
            return Err(format!("steps: {count} steps, at most {MAX_STEPS}"));
        }
        let mut scope = Scope {
            pb: self,
            earlier: BTreeSet::new(),
            in_loop: false,
        };
        check_steps(&self.steps, "steps", &mut scope)
    }
}

fn collect_ids(
    steps: &[Step],
    path: &str,
    ids: &mut BTreeSet<String>,
    count: &mut usize,
) -> Result<(), String> {
    for (i, s) in steps.iter().enumerate() {
        let p = format!("{path}[{i}]");
        *count += 1;
        if s.id.is_empty()
            || s.id.len() > 64
            || !s
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            return Err(format!(
                "{p}.id: `{}` must be 1-64 of a-z, 0-9, `_` and `-`",
                s.id
            ));
        }
        if !ids.insert(s.id.clone()) {
            return Err(format!("{p}.id: two steps are named `{}`", s.id));
        }
        match &s.kind {
            StepKind::If {
                then_steps,
                else_steps,
                ..
            } => {
                collect_ids(then_steps, &format!("{p}.if.then"), ids, count)?;
                collect_ids(else_steps, &format!("{p}.if.else"), ids, count)?;
            }
            StepKind::Foreach { steps, .. } => {
                collect_ids(steps, &format!("{p}.foreach.steps"), ids, count)?
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_duration(path: &str, d: &str) -> Result<u64, String> {
    let secs = rampart_model::action::parse_duration(d).map_err(|e| format!("{path}: {e}"))?;
    if secs == 0 {
        return Err(format!("{path}: must be positive"));
    }
    Ok(secs)
}

fn check_steps(steps: &[Step], path: &str, scope: &mut Scope) -> Result<(), String> {
    for (i, s) in steps.iter().enumerate() {
        let p = format!("{path}[{i}]");
        match &s.kind {
            StepKind::Contain {
                target, duration, ..
            } => {
                check_template(&format!("{p}.contain.target"), target, scope)?;
                if let Some(d) = duration {
                    check_duration(&format!("{p}.contain.duration"), d)?;
                }
            }
            StepKind::Revert { action } => {
                check_template(&format!("{p}.revert.action"), action, scope)?
            }
            StepKind::Assign(o) => check_template(&format!("{p}.assign"), o, scope)?,
            StepKind::Tag(tags) => {
                if tags.is_empty() {
                    return Err(format!("{p}.tag: at least one tag"));
                }
                for (j, t) in tags.iter().enumerate() {
                    check_template(&format!("{p}.tag[{j}]"), t, scope)?;
                }
            }
            StepKind::Comment(c) => check_template(&format!("{p}.comment"), c, scope)?,
            StepKind::AddTask { title, description } => {
                if title.trim().is_empty() {
                    return Err(format!("{p}.add_task.title: must not be empty"));
                }
                check_template(&format!("{p}.add_task.title"), title, scope)?;
                check_template(&format!("{p}.add_task.description"), description, scope)?;
            }
            StepKind::LookupInventory { endpoint } => {
                check_template(&format!("{p}.lookup_inventory.endpoint"), endpoint, scope)?
            }
            StepKind::LookupIntel { ip } => {
                check_template(&format!("{p}.lookup_intel.ip"), ip, scope)?
            }
            StepKind::QueryEvents {
                ip,
                principal,
                api_key,
                since,
                limit,
            } => {
                let given = [ip, principal, api_key]
                    .iter()
                    .filter(|v| v.is_some())
                    .count();
                if given != 1 {
                    return Err(format!(
                        "{p}.query_events: give exactly one of ip, principal, api_key"
                    ));
                }
                for (name, v) in [("ip", ip), ("principal", principal), ("api_key", api_key)] {
                    if let Some(v) = v {
                        check_template(&format!("{p}.query_events.{name}"), v, scope)?;
                    }
                }
                if let Some(d) = since {
                    check_duration(&format!("{p}.query_events.since"), d)?;
                }
                if let Some(l) = limit {
                    if *l == 0 || *l > MAX_QUERY_LIMIT {
                        return Err(format!(
                            "{p}.query_events.limit: must be 1-{MAX_QUERY_LIMIT}"
                        ));
                    }
                }
            }
            StepKind::Webhook(w) => {
                let lower = w.url.to_ascii_lowercase();
                let templated_whole = w.url.trim_start().starts_with("{{");
                let http = lower.starts_with("http://") || lower.starts_with("https://");
                if !templated_whole && !http {
                    return Err(format!(
                        "{p}.webhook.url: `{}` is not an http:// or https:// URL",
                        w.url
                    ));
                }
                check_template(&format!("{p}.webhook.url"), &w.url, scope)?;
                if let Some(env) = &w.secret_env {
                    if env.is_empty()
                        || !env.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    {
                        return Err(format!(
                            "{p}.webhook.secret_env: `{env}` is not an environment variable name (the secret itself is never written in a document)"
                        ));
                    }
                }
                if let Some(b) = &w.body {
                    check_value(&format!("{p}.webhook.body"), b, scope)?;
                }
                if w.timeout_secs == 0 || w.timeout_secs > MAX_TIMEOUT_SECS {
                    return Err(format!(
                        "{p}.webhook.timeout_secs: must be 1-{MAX_TIMEOUT_SECS}"
                    ));
                }
                if w.retries > MAX_RETRIES {
                    return Err(format!("{p}.webhook.retries: at most {MAX_RETRIES}"));
                }
                if w.backoff_ms > 60_000 {
                    return Err(format!("{p}.webhook.backoff_ms: at most 60000"));
                }
            }
            StepKind::Wait { duration } => {
                check_duration(&format!("{p}.wait.duration"), duration)?;
            }
            StepKind::Approval { prompt } => {
                check_template(&format!("{p}.approval.prompt"), prompt, scope)?
            }
            StepKind::If {
                condition,
                then_steps,
                else_steps,
            } => {
                Condition::parse(condition)
                    .map_err(|e| format!("{p}.if.condition: {e}"))?
                    .check(&format!("{p}.if.condition"), scope)?;
                if then_steps.is_empty() && else_steps.is_empty() {
                    return Err(format!("{p}.if: needs then or else steps"));
                }
                // Steps of both branches are "earlier" for what follows the `if` (a step of
                // the branch not taken expands to nothing).
                let before = scope.earlier.clone();
                check_steps(then_steps, &format!("{p}.if.then"), scope)?;
                let after_then = std::mem::replace(&mut scope.earlier, before);
                check_steps(else_steps, &format!("{p}.if.else"), scope)?;
                scope.earlier.extend(after_then);
            }
            StepKind::Foreach {
                entities,
                role,
                items,
                steps,
            } => {
                if role.is_some() && entities.is_none() {
                    return Err(format!("{p}.foreach.role: only with entities"));
                }
                match (entities, items) {
                    (Some(_), None) => {}
                    (None, Some(r)) => {
                        let r = r.trim().trim_start_matches("{{").trim_end_matches("}}");
                        check_ref(&format!("{p}.foreach.items"), r.trim(), scope)?
                    }
                    _ => {
                        return Err(format!(
                        "{p}.foreach: give exactly one of entities (a kind) or items (a reference)"
                    ))
                    }
                }
                if steps.is_empty() {
                    return Err(format!("{p}.foreach.steps: at least one step"));
                }
                let was = scope.in_loop;
                scope.in_loop = true;
                check_steps(steps, &format!("{p}.foreach.steps"), scope)?;
                scope.in_loop = was;
            }
        }
        scope.earlier.insert(s.id.clone());
    }
    Ok(())
}

fn check_value(path: &str, v: &Value, scope: &Scope) -> Result<(), String> {
    match v {
        Value::String(s) => check_template(path, s, scope),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                check_value(&format!("{path}[{i}]"), x, scope)?;
            }
            Ok(())
        }
        Value::Object(o) => {
            for (k, x) in o {
                check_value(&format!("{path}.{k}"), x, scope)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn check_template(path: &str, t: &str, scope: &Scope) -> Result<(), String> {
    for part in parse_template(t).map_err(|e| format!("{path}: {e}"))? {
        if let Part::Ref(r) = part {
            check_ref(path, r, scope)?;
        }
    }
    Ok(())
}

fn check_ref(path: &str, r: &str, scope: &Scope) -> Result<(), String> {
    let mut it = r.split('.');
    let head = it.next().unwrap_or("");
    let rest: Vec<&str> = it.collect();
    let subject = scope.pb.subject;
    let ok = match head {
        "run" => rest == ["id"],
        "item" => {
            if !scope.in_loop {
                return Err(format!(
                    "{path}: `{{{{ item }}}}` is only known inside a foreach"
                ));
            }
            true
        }
        "incident" => {
            matches!(subject, SubjectKind::Incident | SubjectKind::Alert)
                && matches!(
                    rest.as_slice(),
                    ["id"] | ["title"] | ["severity"] | ["status"]
                )
        }
        "alert" => {
            subject == SubjectKind::Alert
                && matches!(rest.as_slice(), ["id"] | ["title"] | ["detector"])
        }
        "entity" => {
            subject == SubjectKind::Entity && matches!(rest.as_slice(), ["kind"] | ["value"])
        }
        "params" => match rest.as_slice() {
            [name] => {
                if !scope.pb.params.contains_key(*name) {
                    return Err(format!("{path}: unknown parameter `params.{name}`"));
                }
                true
            }
            _ => false,
        },
        "steps" => match rest.first() {
            Some(id) => {
                if !scope.earlier.contains(*id) {
                    return Err(format!(
                        "{path}: `steps.{id}` is not a step before this one"
                    ));
                }
                true
            }
            None => false,
        },
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{path}: unknown reference `{r}` on a playbook of subject {} (run.id, incident.id|title|severity|status, alert.id|title|detector, entity.kind|value, item, params.<name>, steps.<id>.<field>)",
            subject.as_str()
        ))
    }
}

// --- templates ------------------------------------------------------------------------------

/// A piece of a template.
#[derive(Debug, PartialEq)]
enum Part<'a> {
    Text(&'a str),
    Ref(&'a str),
}

fn parse_template(t: &str) -> Result<Vec<Part<'_>>, String> {
    let mut parts = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            parts.push(Part::Text(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| "a `{{` is not closed by `}}`".to_string())?;
        let r = after[..close].trim();
        if r.is_empty()
            || !r
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        {
            return Err(format!("`{{{{ {r} }}}}` is not a reference"));
        }
        parts.push(Part::Ref(r));
        rest = &after[close + 2..];
    }
    if rest.contains("}}") {
        return Err("a `}}` has no `{{`".into());
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest));
    }
    Ok(parts)
}

/// What a run runs on, as the runner read it from the store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// The run's id.
    pub run_id: i64,
    /// The incident (subject `incident`, or the alert's incident): id, title, severity,
    /// status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<Value>,
    /// The alert (subject `alert`): id, title, detector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<Value>,
    /// The entity (subject `entity`): kind, value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<Value>,
    /// The subject's entities.
    #[serde(default)]
    pub entities: Vec<Entity>,
}

/// The values a template sees at one point of a run.
struct Env<'a> {
    pb: &'a Playbook,
    cx: &'a Context,
    outputs: BTreeMap<String, Value>,
    item: Option<Value>,
}

impl Env<'_> {
    fn lookup(&self, r: &str) -> Result<Value, String> {
        let mut it = r.split('.');
        let head = it.next().unwrap_or("");
        let rest: Vec<&str> = it.collect();
        let root = match head {
            "run" => return Ok(json!(self.cx.run_id)),
            "item" => return Ok(self.item.clone().unwrap_or(Value::Null)),
            "incident" => self.cx.incident.clone(),
            "alert" => self.cx.alert.clone(),
            "entity" => self.cx.entity.clone(),
            "params" => {
                return Ok(rest
                    .first()
                    .and_then(|n| self.pb.params.get(*n))
                    .map_or(Value::Null, |v| Value::String(v.clone())))
            }
            "steps" => {
                let Some(id) = rest.first() else {
                    return Ok(Value::Null);
                };
                let mut v = self.outputs.get(*id).cloned().unwrap_or(Value::Null);
                for f in &rest[1..] {
                    v = field(&v, f);
                }
                return Ok(v);
            }
            _ => None,
        };
        let Some(mut v) = root else {
            return Err(format!("`{r}` is not known for this run"));
        };
        for f in &rest {
            v = field(&v, f);
        }
        Ok(v)
    }

    fn expand(&self, t: &str) -> Result<String, String> {
        let mut out = String::new();
        for part in parse_template(t)? {
            match part {
                Part::Text(s) => out.push_str(s),
                Part::Ref(r) => out.push_str(&as_text(&self.lookup(r)?)),
            }
            if out.len() > MAX_EXPANDED {
                return Err(format!("a template expands past {MAX_EXPANDED} bytes"));
            }
        }
        Ok(out)
    }

    /// A JSON value with its strings expanded; a string that is exactly one reference
    /// becomes the referenced value.
    fn expand_value(&self, v: &Value) -> Result<Value, String> {
        Ok(match v {
            Value::String(s) => {
                let parts = parse_template(s)?;
                if let [Part::Ref(r)] = parts.as_slice() {
                    let v = self.lookup(r)?;
                    if v.to_string().len() > MAX_EXPANDED {
                        return Err(format!("a template expands past {MAX_EXPANDED} bytes"));
                    }
                    v
                } else {
                    Value::String(self.expand(s)?)
                }
            }
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|x| self.expand_value(x))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| Ok((k.clone(), self.expand_value(x)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }
}

fn field(v: &Value, f: &str) -> Value {
    match v {
        Value::Object(o) => o.get(f).cloned().unwrap_or(Value::Null),
        Value::Array(a) => f
            .parse::<usize>()
            .ok()
            .and_then(|i| a.get(i).cloned())
            .unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// How a value reads inside a text: strings as they are, null as nothing, lists joined by
/// `, `, objects as JSON.
fn as_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(as_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

// --- conditions -----------------------------------------------------------------------------

/// An `if` condition.
#[derive(Debug, Clone, PartialEq)]
struct Condition {
    left: String,
    op: Option<(CmpOp, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    Eq,
    Ne,
    Gt,
    Lt,
}

impl Condition {
    fn parse(s: &str) -> Result<Condition, String> {
        for (tok, op) in [
            ("==", CmpOp::Eq),
            ("!=", CmpOp::Ne),
            (">", CmpOp::Gt),
            ("<", CmpOp::Lt),
        ] {
            // operators outside the `{{ }}` only
            let mut depth_free = String::new();
            let mut i = 0;
            let b = s.as_bytes();
            while i < b.len() {
                if s[i..].starts_with("{{") {
                    let end = s[i..].find("}}").map_or(b.len(), |e| i + e + 2);
                    depth_free.push_str(&" ".repeat(end - i));
                    i = end;
                } else {
                    depth_free.push(b[i] as char);
                    i += 1;
                }
            }
            if let Some(at) = depth_free.find(tok) {
                let left = s[..at].trim().to_string();
                let right = s[at + tok.len()..].trim().trim_matches('"').to_string();
                if left.is_empty() {
                    return Err("nothing left of the operator".into());
                }
                return Ok(Condition {
                    left,
                    op: Some((op, right)),
                });
            }
        }
        if s.trim().is_empty() {
            return Err("must not be empty".into());
        }
        Ok(Condition {
            left: s.trim().to_string(),
            op: None,
        })
    }

    fn check(&self, path: &str, scope: &Scope) -> Result<(), String> {
        check_template(path, &self.left, scope)?;
        if let Some((_, r)) = &self.op {
            check_template(path, r, scope)?;
        }
        Ok(())
    }

    fn holds(&self, env: &Env) -> Result<bool, String> {
        let left = env.expand(&self.left)?;
        let Some((op, right)) = &self.op else {
            let l = left.trim();
            return Ok(!(l.is_empty() || l == "false" || l == "0"));
        };
        let right = env.expand(right)?;
        let num = |s: &str| s.trim().parse::<f64>().ok();
        Ok(match op {
            CmpOp::Eq => left.trim() == right.trim(),
            CmpOp::Ne => left.trim() != right.trim(),
            CmpOp::Gt => matches!((num(&left), num(&right)), (Some(a), Some(b)) if a > b),
            CmpOp::Lt => matches!((num(&left), num(&right)), (Some(a), Some(b)) if a < b),
        })
    }
}

// --- the engine -----------------------------------------------------------------------------

/// The persisted state of one step of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum StepState {
    /// Recorded before its side effect, with its input (a wait's `until`, an approval's
    /// prompt); not finished (a crash may have cut it).
    Started(Value),
    /// Finished with this output.
    Completed(Value),
}

/// A step the runner executes (built-in actions and webhooks), with its expanded input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Exec {
    /// A containment action.
    Contain {
        /// Kind.
        kind: ActionKind,
        /// Target.
        target: String,
        /// Seconds (the default when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_secs: Option<u64>,
    },
    /// Revert an action.
    Revert {
        /// Its id.
        action_id: i64,
    },
    /// Set the owner.
    Assign {
        /// Owner.
        owner: String,
    },
    /// Add tags.
    Tag {
        /// Tags.
        tags: Vec<String>,
    },
    /// A comment.
    Comment {
        /// Text.
        text: String,
    },
    /// A task.
    AddTask {
        /// Title.
        title: String,
        /// Text.
        description: String,
    },
    /// An inventory lookup.
    LookupInventory {
        /// Endpoint.
        endpoint: String,
    },
    /// A threat-intelligence lookup.
    LookupIntel {
        /// The address.
        ip: String,
    },
    /// A query of stored events.
    QueryEvents {
        /// `ip`, `principal` or `api_key`.
        by: String,
        /// The value.
        value: String,
        /// From when.
        since: Timestamp,
        /// Most events.
        limit: u32,
    },
    /// A webhook.
    Webhook {
        /// URL.
        url: String,
        /// Environment variable with the secret.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret_env: Option<String>,
        /// Body.
        body: Value,
        /// Timeout per attempt.
        timeout_secs: u64,
        /// Retries.
        retries: u32,
        /// First backoff.
        backoff_ms: u64,
    },
}

/// What a run does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Execute a step: record it started with `input`, do it, record it completed with its
    /// output (or failed).
    Execute {
        /// Step key.
        key: String,
        /// Step id.
        id: String,
        /// What to do.
        exec: Exec,
    },
    /// Record a decision as the completed step `key` (an `if`'s branch, a loop's items, a
    /// finished wait), then ask again.
    Record {
        /// Step key.
        key: String,
        /// Step id.
        id: String,
        /// What it read.
        input: Value,
        /// What it decided.
        output: Value,
    },
    /// A wait: record it started with `{"until": ..}` when `first`, and sleep until `until`.
    WaitUntil {
        /// Step key.
        key: String,
        /// Step id.
        id: String,
        /// When it ends.
        until: Timestamp,
        /// Not yet recorded.
        first: bool,
    },
    /// An approval gate: record it started with `{"prompt": ..}` when `first`, and wait for
    /// a person.
    AwaitApproval {
        /// Step key.
        key: String,
        /// Step id.
        id: String,
        /// The prompt, expanded.
        prompt: String,
        /// Not yet recorded.
        first: bool,
    },
    /// Every step is done.
    Done,
    /// The run cannot go on.
    Failed {
        /// The step at fault.
        key: String,
        /// Why.
        error: String,
    },
}

/// What to do next on a run of `pb` over `cx`, given the persisted state of its steps (by
/// key) and `now`. Completed steps are skipped (their outputs feed later templates), so the
/// same state always gives the same answer, and a completed step is never handed out again.
pub fn next(
    pb: &Playbook,
    cx: &Context,
    state: &BTreeMap<String, StepState>,
    now: Timestamp,
) -> Next {
    let mut env = Env {
        pb,
        cx,
        outputs: BTreeMap::new(),
        item: None,
    };
    walk(&pb.steps, "", &mut env, state, now).unwrap_or(Next::Done)
}

fn key_of(prefix: &str, i: usize) -> String {
    if prefix.is_empty() {
        i.to_string()
    } else {
        format!("{prefix}.{i}")
    }
}

fn walk(
    steps: &[Step],
    prefix: &str,
    env: &mut Env,
    state: &BTreeMap<String, StepState>,
    now: Timestamp,
) -> Option<Next> {
    for (i, s) in steps.iter().enumerate() {
        let key = key_of(prefix, i);
        let id = s.id.clone();
        let st = state.get(&key);
        if let (Some(StepState::Completed(out)), false) = (
            st,
            matches!(s.kind, StepKind::If { .. } | StepKind::Foreach { .. }),
        ) {
            env.outputs.insert(s.id.clone(), out.clone());
            continue;
        }
        let fail = |error: String| Next::Failed {
            key: key.clone(),
            error,
        };
        match &s.kind {
            StepKind::If {
                condition,
                then_steps,
                else_steps,
            } => {
                let Some(StepState::Completed(out)) = st else {
                    let holds = match Condition::parse(condition).and_then(|c| c.holds(env)) {
                        Ok(h) => h,
                        Err(e) => return Some(fail(e)),
                    };
                    return Some(Next::Record {
                        key,
                        id,
                        input: json!({ "condition": condition }),
                        output: json!({ "branch": if holds { "then" } else { "else" } }),
                    });
                };
                env.outputs.insert(s.id.clone(), out.clone());
                let (branch, name) = if out["branch"] == "then" {
                    (then_steps, "then")
                } else {
                    (else_steps, "else")
                };
                if let Some(n) = walk(branch, &format!("{key}.{name}"), env, state, now) {
                    return Some(n);
                }
            }
            StepKind::Foreach {
                entities,
                role,
                items,
                steps: body,
            } => {
                let Some(StepState::Completed(out)) = st else {
                    let list: Vec<Value> = match (entities, items) {
                        (Some(kind), _) => {
                            let mut seen = BTreeSet::new();
                            env.cx
                                .entities
                                .iter()
                                .filter(|e| {
                                    e.kind == *kind
                                        && role.is_none_or(|r| r == e.role)
                                        && seen.insert(e.value.clone())
                                })
                                .map(|e| Value::String(e.value.clone()))
                                .collect()
                        }
                        (None, Some(r)) => {
                            let r = r.trim().trim_start_matches("{{").trim_end_matches("}}");
                            match env.lookup(r.trim()) {
                                Ok(Value::Array(a)) => a,
                                Ok(Value::Null) => Vec::new(),
                                Ok(other) => vec![other],
                                Err(e) => return Some(fail(e)),
                            }
                        }
                        (None, None) => Vec::new(),
                    };
                    let total = list.len();
                    let list: Vec<Value> = list.into_iter().take(MAX_ITEMS).collect();
                    return Some(Next::Record {
                        key,
                        id,
                        input: json!({ "entities": entities, "role": role, "items": items }),
                        output: json!({
                            "items": list,
                            "count": list.len(),
                            "left_out": total - list.len(),
                        }),
                    });
                };
                env.outputs.insert(s.id.clone(), out.clone());
                let list = out["items"].as_array().cloned().unwrap_or_default();
                let outer = env.item.take();
                for (j, item) in list.into_iter().enumerate() {
                    env.item = Some(item);
                    if let Some(n) = walk(body, &format!("{key}[{j}]"), env, state, now) {
                        return Some(n);
                    }
                }
                env.item = outer;
            }
            StepKind::Wait { duration } => {
                let until = match st {
                    Some(StepState::Started(input)) => Timestamp(input["until"].as_i64()?),
                    _ => {
                        let secs = rampart_model::action::parse_duration(duration).unwrap_or(0);
                        Timestamp(
                            now.millis()
                                .saturating_add((secs as i64).saturating_mul(1000)),
                        )
                    }
                };
                if st.is_some() && now >= until {
                    return Some(Next::Record {
                        key,
                        id,
                        input: json!({ "until": until }),
                        output: json!({ "waited_until": until }),
                    });
                }
                return Some(Next::WaitUntil {
                    key,
                    id,
                    until,
                    first: st.is_none(),
                });
            }
            StepKind::Approval { prompt } => {
                let prompt = match st {
                    Some(StepState::Started(input)) => {
                        input["prompt"].as_str().unwrap_or_default().to_string()
                    }
                    _ => match env.expand(prompt) {
                        Ok(p) => p,
                        Err(e) => return Some(fail(e)),
                    },
                };
                return Some(Next::AwaitApproval {
                    key,
                    id,
                    prompt,
                    first: st.is_none(),
                });
            }
            kind => {
                return Some(match exec_of(kind, env, now) {
                    Ok(exec) => Next::Execute { key, id, exec },
                    Err(e) => fail(e),
                })
            }
        }
    }
    None
}

fn exec_of(kind: &StepKind, env: &Env, now: Timestamp) -> Result<Exec, String> {
    let dur = |d: &Option<String>| -> Result<Option<u64>, String> {
        d.as_deref()
            .map(rampart_model::action::parse_duration)
            .transpose()
            .map_err(|e| e.to_string())
    };
    Ok(match kind {
        StepKind::Contain {
            kind,
            target,
            duration,
        } => Exec::Contain {
            kind: *kind,
            target: env.expand(target)?.trim().to_string(),
            duration_secs: dur(duration)?,
        },
        StepKind::Revert { action } => {
            let a = env.expand(action)?;
            Exec::Revert {
                action_id: a
                    .trim()
                    .parse()
                    .map_err(|_| format!("revert.action: `{a}` is not an action id"))?,
            }
        }
        StepKind::Assign(o) => Exec::Assign {
            owner: env.expand(o)?.trim().to_string(),
        },
        StepKind::Tag(tags) => Exec::Tag {
            tags: tags
                .iter()
                .map(|t| env.expand(t).map(|t| t.trim().to_string()))
                .filter(|t| t.as_ref().map_or(true, |t| !t.is_empty()))
                .collect::<Result<_, _>>()?,
        },
        StepKind::Comment(c) => Exec::Comment {
            text: env.expand(c)?,
        },
        StepKind::AddTask { title, description } => Exec::AddTask {
            title: env.expand(title)?,
            description: env.expand(description)?,
        },
        StepKind::LookupInventory { endpoint } => Exec::LookupInventory {
            endpoint: env.expand(endpoint)?.trim().to_string(),
        },
        StepKind::LookupIntel { ip } => Exec::LookupIntel {
            ip: env.expand(ip)?.trim().to_string(),
        },
        StepKind::QueryEvents {
            ip,
            principal,
            api_key,
            since,
            limit,
        } => {
            let (by, value) = match (ip, principal, api_key) {
                (Some(v), _, _) => ("ip", v),
                (_, Some(v), _) => ("principal", v),
                (_, _, Some(v)) => ("api_key", v),
                _ => return Err("query_events: nothing to query by".into()),
            };
            let secs = dur(since)?.unwrap_or(24 * 3600);
            Exec::QueryEvents {
                by: by.into(),
                value: env.expand(value)?.trim().to_string(),
                since: Timestamp(
                    now.millis()
                        .saturating_sub((secs as i64).saturating_mul(1000)),
                ),
                limit: limit.unwrap_or(1000),
            }
        }
        StepKind::Webhook(w) => Exec::Webhook {
            url: env.expand(&w.url)?.trim().to_string(),
            secret_env: w.secret_env.clone(),
            body: match &w.body {
                Some(b) => env.expand_value(b)?,
                None => json!({
                    "playbook": env.pb.name,
                    "run_id": env.cx.run_id,
                    "incident": env.cx.incident,
                    "alert": env.cx.alert,
                    "entity": env.cx.entity,
                }),
            },
            timeout_secs: w.timeout_secs,
            retries: w.retries,
            backoff_ms: w.backoff_ms,
        },
        StepKind::Wait { .. }
        | StepKind::Approval { .. }
        | StepKind::If { .. }
        | StepKind::Foreach { .. } => return Err("not an executable step".into()),
    })
}

/// The delay before retry `attempt` (1-based) of a webhook: `backoff_ms` doubled for each
/// retry after the first, capped at a minute.
pub fn backoff_delay_ms(backoff_ms: u64, attempt: u32) -> u64 {
    let shift = attempt.saturating_sub(1).min(16);
    backoff_ms.saturating_mul(1u64 << shift).min(60_000)
}

/// The shipped playbooks, as YAML documents (`playbooks:`): credential stuffing, leaked API
/// key, BOLA data scraping.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "credential-stuffing",
        include_str!("../playbooks/credential-stuffing.yaml"),
    ),
    (
        "leaked-api-key",
        include_str!("../playbooks/leaked-api-key.yaml"),
    ),
    (
        "bola-scraping",
        include_str!("../playbooks/bola-scraping.yaml"),
    ),
];
