//! Webhook subscriptions and the payloads sent to them.
//!
//! A [`Webhook`] names a URL (http or https), the [`Event`]s it wants, the payload
//! [`Format`] (`api`: the incident or action as the API returns it; `ocsf`: OCSF Incident
//! Finding 2005 for incidents, Detection Finding 2004 for actions), the environment variable
//! holding its HMAC secret (`secret_env`: the secret itself is never in a document or the
//! store), a per-request timeout and how many attempts a delivery gets before it is a dead
//! letter. Documents are read like rules (field path and line on error, see `doc.rs`).
//!
//! [`payload`] builds the JSON body of one event for one subscription. Pure: the caller passes
//! the time.

use rampart_model::{Action, Incident, IncidentStatus, Severity, Timestamp};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

/// Longest URL accepted.
pub const MAX_URL: usize = 2048;
/// Longest per-request timeout, in seconds.
pub const MAX_TIMEOUT_SECS: u64 = 60;
/// Most attempts a delivery may be given.
pub const MAX_ATTEMPTS: u32 = 20;

/// What a subscription is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// An incident was created (by correlation).
    IncidentCreated,
    /// An incident changed (a person, a rule, or new alerts attached to it), other than being
    /// resolved.
    IncidentUpdated,
    /// An incident's status became `Resolved`.
    IncidentResolved,
    /// A containment action was created (by a person or a rule).
    ActionCreated,
    /// A containment action was approved, reverted or expired.
    ActionChanged,
    /// A rule's `notify` action named this subscription (sent whatever `events` says).
    Notify,
}

impl Event {
    /// The wire name (`incident_created`), also the `X-Rampart-Event` header.
    pub const fn as_str(self) -> &'static str {
        match self {
            Event::IncidentCreated => "incident_created",
            Event::IncidentUpdated => "incident_updated",
            Event::IncidentResolved => "incident_resolved",
            Event::ActionCreated => "action_created",
            Event::ActionChanged => "action_changed",
            Event::Notify => "notify",
        }
    }

    /// The event of an incident update that changed the status from `before` to `after`.
    pub fn of_update(before: IncidentStatus, after: IncidentStatus) -> Event {
        if after == IncidentStatus::Resolved && before != IncidentStatus::Resolved {
            Event::IncidentResolved
        } else {
            Event::IncidentUpdated
        }
    }
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The payload shape a subscription receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Rampart's envelope with the incident or action as the API returns it.
    #[default]
    Api,
    /// OCSF: Incident Finding (2005) for incidents, Detection Finding (2004) for actions.
    Ocsf,
}

/// One webhook subscription.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Webhook {
    /// Unique name (a rule's `notify` names it).
    pub name: String,
    /// Where to POST (http or https).
    pub url: String,
    /// The events it receives (at least one; `notify` need not be listed).
    pub events: Vec<Event>,
    /// Payload shape.
    pub format: Format,
    /// The environment variable holding the HMAC secret, read at send time; no signature
    /// header when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    /// Per-request timeout (1-60 s, default 5).
    pub timeout_secs: u64,
    /// Attempts before a delivery is a dead letter (1-20, default 6).
    pub max_attempts: u32,
    /// Whether events are enqueued for it.
    pub enabled: bool,
}

impl Webhook {
    /// Whether it receives `event` (`notify` goes to the subscription a rule names, enabled
    /// or listed or not: the rule asked for it).
    pub fn wants(&self, event: Event) -> bool {
        self.enabled && self.events.contains(&event)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookDoc {
    name: String,
    url: String,
    events: Vec<Event>,
    #[serde(default)]
    format: Format,
    #[serde(default)]
    secret_env: Option<String>,
    #[serde(default = "default_timeout")]
    timeout_secs: u64,
    #[serde(default = "default_attempts")]
    max_attempts: u32,
    #[serde(default = "crate::yes")]
    enabled: bool,
}

fn default_timeout() -> u64 {
    5
}

fn default_attempts() -> u32 {
    6
}

/// Check a URL: http or https, a host, no whitespace or control characters.
pub fn check_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_URL {
        return Err(format!("url: longer than {MAX_URL} characters"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("url: contains whitespace or control characters".into());
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("url: must start with http:// or https://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split_once(']')
            .map_or("", |(h, _)| h.trim_start_matches('['))
    } else {
        host.split(':').next().unwrap_or("")
    };
    if host.is_empty() {
        return Err("url: has no host".into());
    }
    Ok(())
}

fn check_env_name(v: &str) -> Result<(), String> {
    let ok = !v.is_empty()
        && v.len() <= 200
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !v.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "secret_env: `{v}` is not an environment variable name (letters, digits, _); it names the variable holding the secret, never the secret"
        ))
    }
}

impl<'de> Deserialize<'de> for Webhook {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let w = WebhookDoc::deserialize(d)?;
        let name = w.name.trim().to_string();
        if name.is_empty() || name.len() > 200 {
            return Err(D::Error::custom("name: must be 1-200 characters"));
        }
        check_url(&w.url).map_err(D::Error::custom)?;
        if w.events.is_empty() {
            return Err(D::Error::custom(
                "events: at least one of incident_created, incident_updated, incident_resolved, action_created, action_changed",
            ));
        }
        if let Some(e) = &w.secret_env {
            check_env_name(e).map_err(D::Error::custom)?;
        }
        if !(1..=MAX_TIMEOUT_SECS).contains(&w.timeout_secs) {
            return Err(D::Error::custom(format!(
                "timeout_secs: must be 1-{MAX_TIMEOUT_SECS}"
            )));
        }
        if !(1..=MAX_ATTEMPTS).contains(&w.max_attempts) {
            return Err(D::Error::custom(format!(
                "max_attempts: must be 1-{MAX_ATTEMPTS}"
            )));
        }
        let mut events = w.events;
        events.sort();
        events.dedup();
        Ok(Webhook {
            name,
            url: w.url,
            events,
            format: w.format,
            secret_env: w.secret_env,
            timeout_secs: w.timeout_secs,
            max_attempts: w.max_attempts,
            enabled: w.enabled,
        })
    }
}

/// What an event is about.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// An incident (`incident_*` events, `notify`).
    Incident(&'a Incident),
    /// A containment action (`action_*` events).
    Action(&'a Action),
}

/// One event to send: what happened, to what, who did it and when.
#[derive(Debug, Clone, Copy)]
pub struct Occurrence<'a> {
    /// The event.
    pub event: Event,
    /// What it is about.
    pub subject: Subject<'a>,
    /// Who caused it (an audit actor such as `rule:triage` or `user:ann`), when known.
    pub actor: Option<&'a str>,
    /// When it happened (wall clock, passed by the caller).
    pub at: Timestamp,
}

/// The JSON body `format` sends for `o`.
pub fn payload(format: Format, o: &Occurrence<'_>) -> Value {
    match format {
        Format::Api => api_payload(o),
        Format::Ocsf => match o.subject {
            Subject::Incident(i) => ocsf_incident(o, i),
            Subject::Action(a) => ocsf_action(o, a),
        },
    }
}

fn api_payload(o: &Occurrence<'_>) -> Value {
    let mut v = json!({
        "event": o.event.as_str(),
        "occurred_at": o.at,
        "actor": o.actor,
    });
    match o.subject {
        Subject::Incident(i) => v["incident"] = json!(i),
        Subject::Action(a) => {
            let mut action = json!(a);
            action["status"] = json!(a.status());
            v["action"] = action;
        }
    }
    v
}

/// OCSF `severity_id` (1 Informational .. 5 Critical) and its caption.
pub fn ocsf_severity(s: Severity) -> (u8, &'static str) {
    match s {
        Severity::Informational => (1, "Informational"),
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

/// The OCSF `metadata` object: product, schema version.
fn ocsf_metadata() -> Value {
    json!({
        "product": {"name": "Rampart", "vendor_name": "Rampart"},
        "version": "1.1.0",
    })
}

/// OCSF activity of an event: (activity_id, activity_name).
fn ocsf_activity(e: Event) -> (u8, &'static str) {
    match e {
        Event::IncidentCreated | Event::ActionCreated => (1, "Create"),
        Event::IncidentResolved => (3, "Close"),
        Event::IncidentUpdated | Event::ActionChanged | Event::Notify => (2, "Update"),
    }
}

/// OCSF Incident Finding (class 2005, category Findings).
fn ocsf_incident(o: &Occurrence<'_>, i: &Incident) -> Value {
    let (activity_id, activity_name) = ocsf_activity(o.event);
    let (severity_id, severity) = ocsf_severity(i.severity);
    let (status_id, status) = match i.status {
        IncidentStatus::Active => (1, "New"),
        IncidentStatus::InProgress => (2, "In Progress"),
        IncidentStatus::Resolved => (4, "Resolved"),
        IncidentStatus::Redirected => (99, "Redirected"),
    };
    let mut v = json!({
        "class_uid": 2005,
        "class_name": "Incident Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": 2005 * 100 + u32::from(activity_id),
        "time": o.at.millis(),
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "priority": i.priority,
        "finding_info": {
            "uid": format!("rampart-incident-{}", i.id),
            "title": i.title,
            "created_time": i.created_at.millis(),
            "modified_time": i.updated_at.millis(),
            "first_seen_time": i.first_activity.millis(),
            "last_seen_time": i.last_activity.millis(),
            "types": i.tags,
        },
        "metadata": ocsf_metadata(),
        "observables": i.entities.iter().map(|e| json!({"name": e.kind.as_str(), "value": e.value})).collect::<Vec<_>>(),
        "unmapped": {"rampart_event": o.event.as_str(), "rampart_incident_id": i.id, "actor": o.actor},
    });
    v["finding_info_list"] = json!([v["finding_info"].clone()]);
    if let Some(owner) = &i.assigned_to {
        v["assignee"] = json!({"name": owner});
    }
    v
}

/// OCSF Detection Finding (class 2004) for a containment action.
fn ocsf_action(o: &Occurrence<'_>, a: &Action) -> Value {
    let (activity_id, activity_name) = ocsf_activity(o.event);
    let status = a.status();
    json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": 2004 * 100 + u32::from(activity_id),
        "time": o.at.millis(),
        "severity_id": 1,
        "severity": "Informational",
        "finding_info": {
            "uid": format!("rampart-action-{}", a.id),
            "title": format!("containment {} {}: {}", a.action.kind, a.action.target, status),
            "created_time": a.action.created_at.millis(),
            "related_events_count": 0,
        },
        "remediation": {"desc": a.action.reason},
        "metadata": ocsf_metadata(),
        "unmapped": {
            "rampart_event": o.event.as_str(),
            "rampart_action_id": a.id,
            "kind": a.action.kind.as_str(),
            "target": a.action.target,
            "status": status.to_string(),
            "incident_id": a.action.incident_id,
            "actor": o.actor,
        },
    })
}
