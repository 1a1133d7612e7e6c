//! Automation documents: YAML (JSON is a subset) holding `rules:`. Conditions and actions
//! are read through plain "doc" structs with optional fields and checked while deserializing,
//! so a mistake is reported by serde with its field path and line.

use std::collections::BTreeSet;

use ipnet::IpNet;
use rampart_model::{ActionKind, Classification, Determination, IncidentStatus, Severity};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Action, Changeable, Condition, Operator, Property, Rule, UpdatedBy};

/// An automation document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Automation rules.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Playbooks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub playbooks: Vec<crate::playbook::Playbook>,
    /// Webhook subscriptions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<crate::webhook::Webhook>,
}

/// Why a document was refused.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// Not valid YAML, or a field does not fit.
    #[error("{path}{}: {message}", line.map(|l| format!(" (line {l})")).unwrap_or_default())]
    Invalid {
        /// Field path (`rules[1].conditions.all[0].operator`; `.` for the document).
        path: String,
        /// 1-based line, when the parser knows it.
        line: Option<usize>,
        /// What is wrong.
        message: String,
        /// The parser's error.
        #[source]
        source: serde_yaml::Error,
    },
    /// Two rules share a name.
    #[error("rules: two rules are named `{0}`")]
    DuplicateName(String),
    /// Two playbooks share a name.
    #[error("playbooks: two playbooks are named `{0}`")]
    DuplicatePlaybook(String),
    /// Two webhooks share a name.
    #[error("webhooks: two webhooks are named `{0}`")]
    DuplicateWebhook(String),
}

/// Parse and check an automation document.
pub fn parse_document(text: &str) -> Result<Document, DocumentError> {
    let de = serde_yaml::Deserializer::from_str(text);
    let doc: Document = serde_path_to_error::deserialize(de).map_err(|e| invalid(e, text))?;
    let mut names = BTreeSet::new();
    for r in &doc.rules {
        if !names.insert(r.name.as_str()) {
            return Err(DocumentError::DuplicateName(r.name.clone()));
        }
    }
    let mut playbooks = BTreeSet::new();
    for p in &doc.playbooks {
        if !playbooks.insert(p.name.as_str()) {
            return Err(DocumentError::DuplicatePlaybook(p.name.clone()));
        }
    }
    let mut hooks = BTreeSet::new();
    for w in &doc.webhooks {
        if !hooks.insert(w.name.as_str()) {
            return Err(DocumentError::DuplicateWebhook(w.name.clone()));
        }
    }
    Ok(doc)
}

/// Parse and check one playbook (YAML or JSON, the API's request body).
pub fn parse_playbook(text: &str) -> Result<crate::playbook::Playbook, DocumentError> {
    let de = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| invalid(e, text))
}

/// Parse and check one webhook subscription (YAML or JSON, the API's request body).
pub fn parse_webhook(text: &str) -> Result<crate::webhook::Webhook, DocumentError> {
    let de = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| invalid(e, text))
}

/// Parse and check one rule (YAML or JSON, the API's request body).
pub fn parse_rule(text: &str) -> Result<Rule, DocumentError> {
    let de = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| invalid(e, text))
}

/// A deserialization error as [`DocumentError::Invalid`]: the field path, the line, the bare
/// message.
///
/// A playbook's own checks name the field inside it (`in steps[2].webhook.url: ...`, see
/// `playbook::Playbook`'s deserializer): that path is appended to serde's, and its line found
/// in `text` ([`locate`]), more precise than the enclosing mapping's.
fn invalid(e: serde_path_to_error::Error<serde_yaml::Error>, text: &str) -> DocumentError {
    let mut path = e.path().to_string();
    let source = e.into_inner();
    let mut line = source.location().map(|l| l.line());
    let mut message = bare_message(&source.to_string(), &path);
    if let Some((inner, rest)) = message
        .strip_prefix(crate::playbook::FIELD_MARK)
        .and_then(|m| m.split_once(": "))
    {
        path = if path == "." {
            inner.to_string()
        } else {
            format!("{path}.{inner}")
        };
        line = locate(text, &path).or(line);
        message = rest.to_string();
    }
    DocumentError::Invalid {
        path,
        line,
        message,
        source,
    }
}

/// The 1-based line of a field path (`playbooks[0].steps[2].webhook.url`) in a block-style
/// YAML text, as deep as it can be followed (flow mappings end the walk at their line).
fn locate(text: &str, path: &str) -> Option<usize> {
    // Each line: (line number, column of its first key, the text from there).
    let lines: Vec<(usize, usize, &str)> = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let mut col = l.len() - l.trim_start().len();
            let mut rest = l.trim_start();
            if rest.is_empty() || rest.starts_with('#') {
                return None;
            }
            while let Some(r) = rest.strip_prefix("- ") {
                col += 2 + (r.len() - r.trim_start().len());
                rest = r.trim_start();
            }
            Some((i + 1, col, rest))
        })
        .collect();
    let mut from = 0;
    let mut to = lines.len();
    let mut parent: Option<usize> = None;
    let mut found = None;
    for seg in path.split('.').filter(|s| !s.is_empty()) {
        let (key, index) = match seg.split_once('[') {
            Some((k, i)) => (k, i.trim_end_matches(']').parse::<usize>().ok()),
            None => (seg, None),
        };
        let Some(at) = (from..to).find(|&i| {
            let (_, col, t) = lines[i];
            parent.is_none_or(|p| col > p)
                && t.strip_prefix(key).is_some_and(|r| r.starts_with(':'))
        }) else {
            return found;
        };
        let col = lines[at].1;
        found = Some(lines[at].0);
        from = at + 1;
        to = (from..to)
            .find(|&i| lines[i].1 <= col && !text_line_is_item(text, lines[i].0, col))
            .unwrap_or(to);
        parent = Some(col);
        if let Some(n) = index {
            // list items: lines whose raw text has `- ` at the items' column
            let indent = |i: usize| {
                text.lines()
                    .nth(lines[i].0 - 1)
                    .map_or(0, |l| l.len() - l.trim_start().len())
            };
            let all: Vec<usize> = (from..to)
                .filter(|&i| text_line_is_item(text, lines[i].0, col))
                .collect();
            let level = all.first().map(|&i| indent(i));
            let items: Vec<usize> = all
                .into_iter()
                .filter(|&i| Some(indent(i)) == level)
                .collect();
            let Some(&first) = items.get(n) else {
                return found;
            };
            let item_col = lines[first].1;
            let end = items.get(n + 1).copied().unwrap_or(to);
            found = Some(lines[first].0);
            from = first;
            to = end;
            parent = Some(item_col.saturating_sub(1));
        }
    }
    found
}

/// Whether line `n` (1-based) of `text` starts a list item at or after `col`'s indent level
/// (`- ` at column `col` or deeper, the items of a key at `col`).
fn text_line_is_item(text: &str, n: usize, col: usize) -> bool {
    text.lines().nth(n - 1).is_some_and(|l| {
        let indent = l.len() - l.trim_start().len();
        indent >= col && l.trim_start().starts_with("- ")
    })
}

/// serde_yaml's message without its own path prefix (`rules[0]: `) and location suffix
/// (` at line 2 column 5`): [`DocumentError::Invalid`] carries both, more precisely.
fn bare_message(m: &str, path: &str) -> String {
    let m = match m.rfind(" at line ") {
        Some(i)
            if m[i + 9..]
                .bytes()
                .all(|b| b.is_ascii_digit() || b" column".contains(&b)) =>
        {
            &m[..i]
        }
        _ => m,
    };
    let m = match m.split_once(": ") {
        // only serde_yaml's own path prefix: a check's message may start with its field
        // (`url: ...`), which stays when the error is at the document's top level
        Some((head, rest))
            if !head.is_empty()
                && (head == path
                    || path
                        .strip_prefix(head)
                        .is_some_and(|rest| rest.starts_with(['[', '.'])))
                && head
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.[]".contains(&b)) =>
        {
            rest
        }
        _ => m,
    };
    m.to_string()
}

/// A rule as written, checked by [`Rule::validate`] on the way in.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDoc {
    name: String,
    #[serde(default = "crate::default_order")]
    order: u16,
    #[serde(default = "crate::yes")]
    enabled: bool,
    #[serde(default)]
    expires_at: Option<rampart_model::Timestamp>,
    triggers: Vec<crate::Trigger>,
    #[serde(default)]
    conditions: Option<Condition>,
    actions: Vec<Action>,
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RuleDoc::deserialize(d)?;
        let rule = Rule {
            name: r.name,
            order: r.order,
            enabled: r.enabled,
            expires_at: r.expires_at,
            triggers: r.triggers,
            conditions: r.conditions,
            actions: r.actions,
        };
        rule.validate().map_err(serde::de::Error::custom)?;
        Ok(rule)
    }
}

/// One value or a list of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConditionDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    all: Option<Vec<Condition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    any: Option<Vec<Condition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    not: Option<Box<Condition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    property: Option<Property>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    operator: Option<Operator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    values: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    changed: Option<Changeable>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    updated_by: Option<OneOrMany>,
}

fn check_changed_value(p: Changeable, v: &str) -> Result<(), String> {
    match p {
        Changeable::Severity => v.parse::<Severity>().map(|_| ()).map_err(|e| e.to_string()),
        Changeable::Status => v
            .parse::<IncidentStatus>()
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Changeable::Owner => Ok(()),
    }
}

impl TryFrom<ConditionDoc> for Condition {
    type Error = String;
    fn try_from(d: ConditionDoc) -> Result<Self, String> {
        let kinds = [
            d.all.is_some(),
            d.any.is_some(),
            d.not.is_some(),
            d.property.is_some(),
            d.changed.is_some(),
            d.updated_by.is_some(),
        ]
        .iter()
        .filter(|k| **k)
        .count();
        if kinds != 1 {
            return Err(
                "a condition is exactly one of all, any, not, property (with operator and value or values), changed (with from and/or to), updated_by"
                    .into(),
            );
        }
        if let Some(cs) = d.all {
            return non_empty(cs, "all").map(Condition::All);
        }
        if let Some(cs) = d.any {
            return non_empty(cs, "any").map(Condition::Any);
        }
        if let Some(c) = d.not {
            return Ok(Condition::Not(c));
        }
        if let Some(property) = d.changed {
            if d.operator.is_some() || d.value.is_some() || d.values.is_some() {
                return Err("changed: takes from and to, not operator or value".into());
            }
            for v in [&d.from, &d.to].into_iter().flatten() {
                check_changed_value(property, v)?;
            }
            return Ok(Condition::Changed {
                property,
                from: d.from,
                to: d.to,
            });
        }
        if let Some(who) = d.updated_by {
            let who = who
                .into_vec()
                .iter()
                .map(|w| w.parse::<UpdatedBy>())
                .collect::<Result<Vec<_>, _>>()?;
            return non_empty(who, "updated_by").map(Condition::UpdatedBy);
        }
        let property = d.property.ok_or("property: missing")?;
        if d.from.is_some() || d.to.is_some() {
            return Err("from and to belong to a `changed` condition".into());
        }
        let operator = d
            .operator
            .ok_or("operator: missing (equals, not_equals, contains, not_contains, starts_with, ends_with, in_cidr, not_in_cidr)")?;
        let values = match (d.value, d.values) {
            (Some(v), None) => vec![v],
            (None, Some(vs)) if !vs.is_empty() => vs,
            _ => return Err("give either value or a non-empty values list".into()),
        };
        let networks = if matches!(operator, Operator::InCidr | Operator::NotInCidr) {
            values
                .iter()
                .map(|v| {
                    v.parse::<IpNet>()
                        .or_else(|_| v.parse::<core::net::IpAddr>().map(IpNet::from))
                        .map_err(|_| format!("value `{v}` is not a network (10.0.0.0/8) or an IP"))
                })
                .collect::<Result<Vec<_>, _>>()?
        } else {
            Vec::new()
        };
        match property {
            Property::Severity => {
                for v in &values {
                    v.parse::<Severity>().map_err(|e| e.to_string())?;
                }
            }
            Property::Status => {
                for v in &values {
                    v.parse::<IncidentStatus>().map_err(|e| e.to_string())?;
                }
            }
            Property::Classification => {
                for v in &values {
                    v.parse::<Classification>().map_err(|e| e.to_string())?;
                }
            }
            _ => {}
        }
        Ok(Condition::Compare {
            property,
            operator,
            values,
            networks,
        })
    }
}

fn non_empty<T>(v: Vec<T>, what: &str) -> Result<Vec<T>, String> {
    if v.is_empty() {
        Err(format!("{what}: at least one condition"))
    } else {
        Ok(v)
    }
}

impl From<&Condition> for ConditionDoc {
    fn from(c: &Condition) -> Self {
        match c {
            Condition::All(cs) => ConditionDoc {
                all: Some(cs.clone()),
                ..Default::default()
            },
            Condition::Any(cs) => ConditionDoc {
                any: Some(cs.clone()),
                ..Default::default()
            },
            Condition::Not(c) => ConditionDoc {
                not: Some(c.clone()),
                ..Default::default()
            },
            Condition::Compare {
                property,
                operator,
                values,
                ..
            } => ConditionDoc {
                property: Some(*property),
                operator: Some(*operator),
                value: (values.len() == 1).then(|| values[0].clone()),
                values: (values.len() != 1).then(|| values.clone()),
                ..Default::default()
            },
            Condition::Changed { property, from, to } => ConditionDoc {
                changed: Some(*property),
                from: from.clone(),
                to: to.clone(),
                ..Default::default()
            },
            Condition::UpdatedBy(who) => ConditionDoc {
                updated_by: Some(OneOrMany::Many(who.iter().map(|w| w.to_string()).collect())),
                ..Default::default()
            },
        }
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ConditionDoc::from(self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ConditionDoc::deserialize(d)?
            .try_into()
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetStatusDoc {
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    classification: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    determination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskDoc {
    title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContainDoc {
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    duration_secs: Option<u64>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    assign: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    set_status: Option<SetStatusDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    set_severity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    add_tags: Option<OneOrMany>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    add_task: Option<TaskDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    run_playbook: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    contain: Option<ContainDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notify: Option<String>,
}

/// Longest tag, owner, playbook or webhook name an action takes.
const MAX_NAME: usize = 200;

fn name(v: String, what: &str) -> Result<String, String> {
    let t = v.trim();
    if t.is_empty() || t.len() > MAX_NAME {
        return Err(format!("{what}: must be 1-{MAX_NAME} characters"));
    }
    Ok(t.to_string())
}

impl TryFrom<ActionDoc> for Action {
    type Error = String;
    fn try_from(d: ActionDoc) -> Result<Self, String> {
        let set = [
            d.assign.is_some(),
            d.set_status.is_some(),
            d.set_severity.is_some(),
            d.add_tags.is_some(),
            d.add_task.is_some(),
            d.run_playbook.is_some(),
            d.contain.is_some(),
            d.notify.is_some(),
        ]
        .iter()
        .filter(|k| **k)
        .count();
        if set != 1 {
            return Err("an action is exactly one of assign, set_status, set_severity, add_tags, add_task, run_playbook, contain, notify".into());
        }
        if let Some(o) = d.assign {
            return name(o, "assign").map(Action::Assign);
        }
        if let Some(s) = d.set_status {
            let status: IncidentStatus = s
                .status
                .parse()
                .map_err(|e| format!("set_status.status: {e}"))?;
            let classification = s
                .classification
                .map(|c| c.parse::<Classification>())
                .transpose()
                .map_err(|e| format!("set_status.classification: {e}"))?;
            let determination = s
                .determination
                .map(|c| c.parse::<Determination>())
                .transpose()
                .map_err(|e| format!("set_status.determination: {e}"))?;
            let comment = s.comment.filter(|c| !c.trim().is_empty());
            if status == IncidentStatus::Resolved
                && (classification.is_none_or(|c| c == Classification::Unknown)
                    || determination.is_none()
                    || comment.is_none())
            {
                return Err(
                    "set_status: closing (Resolved) needs a classification, a determination and a comment"
                        .into(),
                );
            }
            if status == IncidentStatus::Redirected {
                return Err("set_status: Redirected is set by merging incidents".into());
            }
            return Ok(Action::SetStatus {
                status,
                classification,
                determination,
                comment,
            });
        }
        if let Some(s) = d.set_severity {
            return s
                .parse::<Severity>()
                .map(Action::SetSeverity)
                .map_err(|e| format!("set_severity: {e}"));
        }
        if let Some(tags) = d.add_tags {
            let tags = tags
                .into_vec()
                .into_iter()
                .map(|t| name(t, "add_tags"))
                .collect::<Result<Vec<_>, _>>()?;
            return non_empty_tags(tags).map(Action::AddTags);
        }
        if let Some(t) = d.add_task {
            return Ok(Action::AddTask {
                title: name(t.title, "add_task.title")?,
                description: t.description,
            });
        }
        if let Some(p) = d.run_playbook {
            return name(p, "run_playbook").map(Action::RunPlaybook);
        }
        if let Some(c) = d.contain {
            let kind: ActionKind = c.kind.parse().map_err(|e| format!("contain.kind: {e}"))?;
            if c.duration_secs == Some(0) {
                return Err("contain.duration_secs: must be positive".into());
            }
            return Ok(Action::Contain {
                kind,
                duration_secs: c.duration_secs,
            });
        }
        let n = d.notify.unwrap_or_default();
        name(n, "notify").map(Action::Notify)
    }
}

fn non_empty_tags(t: Vec<String>) -> Result<Vec<String>, String> {
    if t.is_empty() {
        Err("add_tags: at least one tag".into())
    } else {
        Ok(t)
    }
}

impl From<&Action> for ActionDoc {
    fn from(a: &Action) -> Self {
        match a {
            Action::Assign(o) => ActionDoc {
                assign: Some(o.clone()),
                ..Default::default()
            },
            Action::SetStatus {
                status,
                classification,
                determination,
                comment,
            } => ActionDoc {
                set_status: Some(SetStatusDoc {
                    status: status.as_str().into(),
                    classification: classification.map(|c| c.as_str().into()),
                    determination: determination.map(|c| c.as_str().into()),
                    comment: comment.clone(),
                }),
                ..Default::default()
            },
            Action::SetSeverity(s) => ActionDoc {
                set_severity: Some(s.as_str().into()),
                ..Default::default()
            },
            Action::AddTags(t) => ActionDoc {
                add_tags: Some(OneOrMany::Many(t.clone())),
                ..Default::default()
            },
            Action::AddTask { title, description } => ActionDoc {
                add_task: Some(TaskDoc {
                    title: title.clone(),
                    description: description.clone(),
                }),
                ..Default::default()
            },
            Action::RunPlaybook(p) => ActionDoc {
                run_playbook: Some(p.clone()),
                ..Default::default()
            },
            Action::Contain {
                kind,
                duration_secs,
            } => ActionDoc {
                contain: Some(ContainDoc {
                    kind: kind.as_str().into(),
                    duration_secs: *duration_secs,
                }),
                ..Default::default()
            },
            Action::Notify(w) => ActionDoc {
                notify: Some(w.clone()),
                ..Default::default()
            },
        }
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ActionDoc::from(self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ActionDoc::deserialize(d)?
            .try_into()
            .map_err(serde::de::Error::custom)
    }
}
