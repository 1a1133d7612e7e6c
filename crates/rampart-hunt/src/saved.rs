//! Saved queries and custom detections: a hunting query kept under a name, shared by the team,
//! that can become a detection. A detection runs on a schedule (every 5 minutes to every day)
//! over the last `window`, and each result row (at most [`MAX_ALERTS_PER_RUN`]) becomes an
//! alert: entities mapped from chosen columns, a severity, MITRE techniques and a title from a
//! template (`{Column}` is replaced by the row's value). A row is raised once per dedup key
//! (the detection and its mapped entity values, or the whole row when nothing is mapped)
//! within the window: the store keeps the key with the alert, in the same transaction.
//!
//! Pure: [`SavedQuery::check`] validates a document (the query plans, every named column
//! exists), [`SavedQuery::draft`] turns one row into an alert. The server stores documents,
//! schedules runs and sends the alerts through the pipeline.

use std::fmt::Write as _;

use rampart_model::{AlertDraft, Entity, EntityKind, EntityRole, Reason, Severity, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::plan::{plan, Column, Options};
use crate::schema::Type;

/// Most alerts one detection run raises (Sentinel's scheduled rules stop at 150).
pub const MAX_ALERTS_PER_RUN: u32 = 100;
/// Shortest schedule, seconds.
pub const MIN_SCHEDULE: u64 = 5 * 60;
/// Longest schedule, seconds.
pub const MAX_SCHEDULE: u64 = 24 * 3600;
/// Longest window, seconds.
pub const MAX_WINDOW: u64 = 14 * 24 * 3600;
/// Longest query text, bytes.
pub const MAX_QUERY: usize = 10_000;
/// The detector name of a detection's alerts: `custom:<name>`.
pub const DETECTOR_PREFIX: &str = "custom:";

/// A saved query (stored as the automation object of kind [`KIND`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedQuery {
    /// Unique name: letters, digits, `-`, `_`, `.`; at most 64.
    pub name: String,
    /// What it looks for.
    #[serde(default)]
    pub description: String,
    /// The query text.
    pub query: String,
    /// When set, the query is also a scheduled detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection: Option<Detection>,
}

/// The automation kind saved queries are stored under.
pub const KIND: &str = "hunt_query";

/// A custom detection: how often, over what, and what each row raises.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detection {
    /// Whether it runs (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// How often it runs (`5m` .. `1d`).
    pub schedule: String,
    /// How far back each run looks (default: the schedule; at most 14 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// The alerts' severity.
    pub severity: Severity,
    /// MITRE ATT&CK techniques (`T1110`, `T1110.004`).
    #[serde(default)]
    pub mitre: Vec<String>,
    /// The alert title; `{Column}` is replaced by the row's value.
    pub title: String,
    /// Entities mapped from result columns.
    #[serde(default)]
    pub entities: Vec<EntityMap>,
}

fn yes() -> bool {
    true
}

/// One result column that names an entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityMap {
    /// The column.
    pub column: String,
    /// The entity kind its values are.
    pub kind: EntityKind,
    /// Its role in the alert (default: attacker for ip, user and api_key; target otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<EntityRole>,
}

/// Why a document was refused: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SavedQueryError {
    /// The field (`name`, `query`, `detection.schedule`, `detection.entities[1].column`).
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// For a query that does not plan: the byte position in the query.
    pub position: Option<usize>,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> SavedQueryError {
    SavedQueryError {
        field: field.into(),
        message: message.into(),
        position: None,
    }
}

/// Seconds of a duration such as `5m`, `1h`, `1d` or `1h30m`.
pub fn seconds(field: &str, s: &str) -> Result<u64, SavedQueryError> {
    rampart_model::action::parse_duration(s).map_err(|e| err(field, e.to_string()))
}

/// A checked detection's schedule and window, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Seconds between runs.
    pub schedule: u64,
    /// Seconds each run looks back.
    pub window: u64,
}

impl Detection {
    /// Its schedule and window, checked against the bounds.
    pub fn timing(&self) -> Result<Timing, SavedQueryError> {
        let schedule = seconds("detection.schedule", &self.schedule)?;
        if !(MIN_SCHEDULE..=MAX_SCHEDULE).contains(&schedule) {
            return Err(err(
                "detection.schedule",
                format!("{:?} is outside 5m..1d", self.schedule),
            ));
        }
        let window = match &self.window {
            Some(w) => seconds("detection.window", w)?,
            None => schedule,
        };
        if !(MIN_SCHEDULE..=MAX_WINDOW).contains(&window) {
            return Err(err(
                "detection.window",
                format!(
                    "{:?} is outside 5m..14d",
                    self.window.as_deref().unwrap_or("")
                ),
            ));
        }
        Ok(Timing { schedule, window })
    }
}

fn valid_technique(t: &str) -> bool {
    let b = t.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    match b.len() {
        5 => b[0] == b'T' && digits(&b[1..]),
        9 => b[0] == b'T' && digits(&b[1..5]) && b[5] == b'.' && digits(&b[6..]),
        _ => false,
    }
}

/// The `{Column}` placeholders of a title template.
fn placeholders(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                out.push(&after[..close]);
                rest = &after[close + 1..];
            }
            None => break,
        }
    }
    out
}

impl SavedQuery {
    /// Check the document: its name, that the query plans (at `now`), and for a detection its
    /// timing, techniques, title placeholders and entity columns. Answers the query's result
    /// columns.
    pub fn check(&self, now: i64) -> Result<Vec<Column>, SavedQueryError> {
        if self.name.is_empty()
            || self.name.len() > 64
            || !self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(err(
                "name",
                "expected 1 to 64 letters, digits, '-', '_' or '.'",
            ));
        }
        if self.description.len() > 2_000 {
            return Err(err("description", "longer than 2000 bytes"));
        }
        if self.query.trim().is_empty() {
            return Err(err("query", "empty"));
        }
        if self.query.len() > MAX_QUERY {
            return Err(err("query", format!("longer than {MAX_QUERY} bytes")));
        }
        let p = plan(&self.query, &Options::at(now)).map_err(|e| SavedQueryError {
            field: "query".into(),
            message: e.to_string(),
            position: Some(e.position()),
        })?;
        let columns = p.columns().to_vec();
        let Some(d) = &self.detection else {
            return Ok(columns);
        };
        d.timing()?;
        for (i, t) in d.mitre.iter().enumerate() {
            if !valid_technique(t) {
                return Err(err(
                    format!("detection.mitre[{i}]"),
                    format!("{t:?} is not a technique id such as T1110 or T1110.004"),
                ));
            }
        }
        if d.title.trim().is_empty() || d.title.len() > 200 {
            return Err(err("detection.title", "expected 1 to 200 bytes"));
        }
        let has = |name: &str| columns.iter().any(|c| c.name == name);
        for name in placeholders(&d.title) {
            if !has(name) {
                return Err(err(
                    "detection.title",
                    format!(
                        "{{{name}}} names no result column (columns: {})",
                        names(&columns)
                    ),
                ));
            }
        }
        if d.entities.len() > 10 {
            return Err(err("detection.entities", "at most 10"));
        }
        for (i, m) in d.entities.iter().enumerate() {
            match columns.iter().find(|c| c.name == m.column) {
                None => {
                    return Err(err(
                        format!("detection.entities[{i}].column"),
                        format!(
                            "{:?} is no result column (columns: {})",
                            m.column,
                            names(&columns)
                        ),
                    ))
                }
                Some(c) if c.ty != Type::String => {
                    return Err(err(
                        format!("detection.entities[{i}].column"),
                        format!("{:?} is not a string column", m.column),
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(columns)
    }

    /// The alert one result row raises, with its dedup key; `None` when the query is no
    /// detection or the row maps no entity value at all while entities are mapped (an empty
    /// column). `from`..`to` is the run's window (the alert's times when the row has no
    /// `DateTime` column).
    pub fn draft(
        &self,
        columns: &[Column],
        row: &[Json],
        from: Timestamp,
        to: Timestamp,
    ) -> Option<(AlertDraft, String)> {
        let d = self.detection.as_ref()?;
        let text = |v: &Json| match v {
            Json::Null => String::new(),
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        let value = |name: &str| {
            columns
                .iter()
                .position(|c| c.name == name)
                .and_then(|i| row.get(i))
                .map(text)
                .unwrap_or_default()
        };
        let mut entities = Vec::new();
        let mut key = format!("{}\u{1f}", self.name);
        for m in &d.entities {
            let v = value(&m.column);
            let _ = write!(key, "{}={}\u{1f}", m.kind.as_str(), v);
            if v.is_empty() || v.len() > 1_000 {
                continue;
            }
            let role = m.role.unwrap_or(match m.kind {
                EntityKind::Ip | EntityKind::User | EntityKind::ApiKey => EntityRole::Attacker,
                _ => EntityRole::Target,
            });
            let e = Entity::new(m.kind, v, role);
            if !entities.contains(&e) {
                entities.push(e);
            }
        }
        if !d.entities.is_empty() && entities.is_empty() {
            return None;
        }
        if d.entities.is_empty() {
            for v in row {
                let _ = write!(key, "{}\u{1f}", text(v));
            }
        }
        let mut title = String::with_capacity(d.title.len());
        let mut rest = d.title.as_str();
        while let Some(open) = rest.find('{') {
            title.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) if columns.iter().any(|c| c.name == after[..close]) => {
                    let v = value(&after[..close]);
                    title.extend(v.chars().take(100));
                    rest = &after[close + 1..];
                }
                _ => {
                    title.push('{');
                    rest = after;
                }
            }
        }
        title.push_str(rest);
        let mut times = columns
            .iter()
            .zip(row)
            .filter(|(c, _)| c.ty == Type::DateTime)
            .filter_map(|(_, v)| v.as_str().and_then(Timestamp::parse_rfc3339));
        let (mut first, mut last) = (None::<Timestamp>, None::<Timestamp>);
        for t in times.by_ref() {
            first = Some(first.map_or(t, |f: Timestamp| f.min(t)));
            last = Some(last.map_or(t, |l: Timestamp| l.max(t)));
        }
        let reasons = columns
            .iter()
            .zip(row)
            .filter(|(c, _)| matches!(c.ty, Type::Long | Type::Real))
            .filter_map(|(c, v)| {
                v.as_f64().map(|x| Reason {
                    metric: c.name.clone(),
                    observed: x,
                    threshold: None,
                })
            })
            .take(10)
            .collect();
        let mut description = format!("Custom detection {:?} matched:", self.name);
        for (c, v) in columns.iter().zip(row).take(20) {
            let mut v = text(v);
            if v.len() > 200 {
                let mut cut = 200;
                while !v.is_char_boundary(cut) {
                    cut -= 1;
                }
                v.truncate(cut);
                v.push('…');
            }
            let _ = write!(description, " {}={}", c.name, v);
        }
        let draft = AlertDraft {
            detector: format!("{DETECTOR_PREFIX}{}", self.name),
            title,
            description,
            severity: d.severity,
            mitre: d.mitre.clone(),
            owasp: None,
            entities,
            evidence: Vec::new(),
            first_seen: first.unwrap_or(from),
            last_seen: last.unwrap_or(to),
            reasons,
            source: Default::default(),
            stage: Default::default(),
            incident_hint: None,
        };
        Some((draft, key))
    }
}

fn names(columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_780_000_000_000;

    fn doc(v: Json) -> SavedQuery {
        serde_json::from_value(v).expect("document")
    }

    fn brute() -> SavedQuery {
        doc(json!({
            "name": "many-401",
            "query": "ApiEvents | where Status == 401 | summarize n = count(), last = max(Timestamp) by ClientIp, Path | where n > 20",
            "detection": {
                "schedule": "5m", "window": "1h", "severity": "High", "mitre": ["T1110"],
                "title": "{n} failed logins from {ClientIp} on {Path}",
                "entities": [{"column": "ClientIp", "kind": "ip"}, {"column": "Path", "kind": "endpoint"}]
            }
        }))
    }

    /// (document, the field the error names, or "" when valid)
    #[test]
    fn documents_are_checked_field_by_field() {
        let base = json!({"name": "x", "query": "ApiEvents | take 1"});
        let with = |patch: Json| {
            let mut v = base.clone();
            for (k, val) in patch.as_object().expect("object") {
                v[k] = val.clone();
            }
            v
        };
        let det = |d: Json| {
            let mut full = json!({"schedule": "5m", "severity": "Low", "title": "t"});
            for (k, val) in d.as_object().expect("object") {
                full[k] = val.clone();
            }
            with(json!({ "detection": full }))
        };
        let cases: Vec<(Json, &str)> = vec![
            (base.clone(), ""),
            (with(json!({"name": ""})), "name"),
            (with(json!({"name": "a b"})), "name"),
            (with(json!({"name": "x".repeat(65)})), "name"),
            (with(json!({"query": "  "})), "query"),
            (with(json!({"query": "ApiEvents | whre x"})), "query"),
            (with(json!({"query": "Nope"})), "query"),
            (det(json!({})), ""),
            (det(json!({"schedule": "1m"})), "detection.schedule"),
            (det(json!({"schedule": "2d"})), "detection.schedule"),
            (det(json!({"schedule": "soon"})), "detection.schedule"),
            (det(json!({"window": "15d"})), "detection.window"),
            (det(json!({"window": "1h"})), ""),
            (det(json!({"mitre": ["T1190", "T1110.004"]})), ""),
            (det(json!({"mitre": ["t1190"]})), "detection.mitre[0]"),
            (det(json!({"title": ""})), "detection.title"),
            (det(json!({"title": "{Path} hit"})), ""),
            (det(json!({"title": "{Nope} hit"})), "detection.title"),
            (
                det(json!({"entities": [{"column": "ClientIp", "kind": "ip"}]})),
                "",
            ),
            (
                det(json!({"entities": [{"column": "Nope", "kind": "ip"}]})),
                "detection.entities[0].column",
            ),
            (
                det(json!({"entities": [{"column": "Status", "kind": "ip"}]})),
                "detection.entities[0].column",
            ),
        ];
        for (i, (v, field)) in cases.into_iter().enumerate() {
            let got = doc(v.clone()).check(NOW);
            match (field, got) {
                ("", Ok(_)) => {}
                ("", Err(e)) => panic!("case {i} {v}: refused: {e}"),
                (f, Ok(_)) => panic!("case {i} {v}: accepted, expected an error on {f}"),
                (f, Err(e)) => assert_eq!(e.field, f, "case {i} {v}: {e}"),
            }
        }
        let e = doc(with(json!({"query": "ApiEvents | whre x"})))
            .check(NOW)
            .expect_err("bad query");
        assert_eq!(e.position, Some(12), "{e}");
        assert!(serde_json::from_value::<SavedQuery>(with(json!({"extra": 1}))).is_err());
    }

    #[test]
    fn a_row_becomes_an_alert_with_mapped_entities_a_title_and_a_dedup_key() {
        let q = brute();
        let cols = q.check(NOW).expect("valid");
        let row = vec![
            json!("203.0.113.9"),
            json!("/login"),
            json!(42),
            json!("2026-12-01T10:00:00.000Z"),
        ];
        let from = Timestamp(NOW - 3_600_000);
        let (a, key) = q
            .draft(&cols, &row, from, Timestamp(NOW))
            .expect("an alert");
        assert_eq!(a.detector, "custom:many-401");
        assert_eq!(a.title, "42 failed logins from 203.0.113.9 on /login");
        assert_eq!(a.severity, Severity::High);
        assert_eq!(a.mitre, vec!["T1110"]);
        assert_eq!(
            a.entities,
            vec![
                Entity::new(EntityKind::Ip, "203.0.113.9", EntityRole::Attacker),
                Entity::new(EntityKind::Endpoint, "/login", EntityRole::Target),
            ]
        );
        assert_eq!(a.reasons[0].metric, "n");
        assert_eq!(a.reasons[0].observed, 42.0);
        assert_eq!(a.first_seen.to_rfc3339(), "2026-12-01T10:00:00.000Z");
        assert!(
            a.description.contains("ClientIp=203.0.113.9"),
            "{}",
            a.description
        );

        // the same entities with another count: the same key (raised once per window)
        let mut again = row.clone();
        again[2] = json!(57);
        let (_, key2) = q.draft(&cols, &again, from, Timestamp(NOW)).expect("alert");
        assert_eq!(key, key2);
        let mut other = row.clone();
        other[0] = json!("203.0.113.10");
        let (_, key3) = q.draft(&cols, &other, from, Timestamp(NOW)).expect("alert");
        assert_ne!(key, key3);

        // a row without any mapped value raises nothing
        let empty = vec![Json::Null, json!(""), json!(3), Json::Null];
        assert!(q.draft(&cols, &empty, from, Timestamp(NOW)).is_none());
    }

    #[test]
    fn titles_keep_unknown_braces_and_bound_values() {
        let mut q = brute();
        q.detection.as_mut().expect("detection").title = "{ClientIp} {x} {".into();
        let cols = q.check(NOW).err();
        assert!(cols.is_some(), "an unknown placeholder is refused at check");
        let cols = brute().check(NOW).expect("valid");
        let long = "a".repeat(500);
        let row = vec![json!(long), json!("/p"), json!(1), Json::Null];
        let (a, _) = q
            .draft(&cols, &row, Timestamp(NOW), Timestamp(NOW))
            .expect("alert");
        assert_eq!(a.title, format!("{} {{x}} {{", "a".repeat(100)));
        assert_eq!(
            a.first_seen,
            Timestamp(NOW),
            "no time column value: the window"
        );
    }
}
