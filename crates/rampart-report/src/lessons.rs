//! Lessons: suggested changes derived from an incident, each with why, and either the exact
//! API request that applies it (what Rampart can change itself: automation rules, containment
//! actions) or the snippet a person applies by hand (an OpenAPI entry, a detector setting).
//!
//! The rules, one function each, in the order the report lists them:
//! - [`LessonKind::Suppression`]: a false-positive or benign (expected activity) incident: an
//!   automation rule that closes new incidents from the same detectors and actors, with the
//!   same classification, expiring after [`SUPPRESSION_DAYS`].
//! - [`LessonKind::RateLimit`]: a volumetric or credential attack (impact or credential-access
//!   stage, or OWASP API4) that was not benign: a `rate_limit` action per attacker address no
//!   active block or rate limit covers.
//! - [`LessonKind::OpenApiEntry`]: every shadow endpoint the incident touched: the OpenAPI
//!   path item to add to the spec once the endpoint is confirmed legitimate (or to remove the
//!   endpoint).
//! - [`LessonKind::DetectorThreshold`]: a false-positive or benign incident whose alerts fired
//!   on a threshold: the detector, the metric, what was observed against the threshold.

use rampart_model::{
    ActionKind, ActionStatus, AlertSource, AttackStage, Classification, EntityKind, EntityRole,
    Timestamp,
};
use serde::Serialize;
use serde_json::{json, Value};

use crate::ReportData;

/// How long a suggested suppression rule runs before it expires, in days.
pub const SUPPRESSION_DAYS: i64 = 30;
/// The limit a suggested rate limit sets: requests per window.
pub const RATE_REQUESTS: u32 = 60;
/// The window of a suggested rate limit, in seconds.
pub const RATE_WINDOW_SECS: u64 = 60;
/// How long a suggested rate limit lasts, in seconds (one day).
pub const RATE_DURATION_SECS: u64 = 86_400;
/// Most actors a suppression rule or the rate limits name.
pub const MAX_ACTORS: usize = 10;
/// Most shadow endpoints the OpenAPI lesson lists.
pub const MAX_SHADOW: usize = 20;

/// What a lesson changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LessonKind {
    /// An automation rule that closes incidents like this one.
    Suppression,
    /// A rate limit on an attacker.
    RateLimit,
    /// An OpenAPI entry for a shadow endpoint.
    OpenApiEntry,
    /// A detector threshold to review.
    DetectorThreshold,
}

impl LessonKind {
    /// The wire name (`suppression`, `rate_limit`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            LessonKind::Suppression => "suppression",
            LessonKind::RateLimit => "rate_limit",
            LessonKind::OpenApiEntry => "openapi_entry",
            LessonKind::DetectorThreshold => "detector_threshold",
        }
    }
}

/// The request that applies a lesson through Rampart's API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApplyRequest {
    /// HTTP method (`POST`).
    pub method: &'static str,
    /// Path (`/api/v1/automation/rules`).
    pub path: String,
    /// The JSON body.
    pub body: Value,
}

/// One suggested change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lesson {
    /// Stable key within the report (`suppression`, `rate_limit:203.0.113.9`): what the
    /// console's apply button names.
    pub key: String,
    /// What it changes.
    pub kind: LessonKind,
    /// One line: what to do.
    pub title: String,
    /// Why this incident suggests it.
    pub why: String,
    /// The API request that applies it, when Rampart can.
    pub apply: Option<ApplyRequest>,
    /// What to change by hand, when Rampart cannot (YAML or TOML text).
    pub manual: Option<String>,
}

/// Every lesson of `data`, in the order of the module's rules.
pub fn lessons(data: &ReportData) -> Vec<Lesson> {
    let mut out = Vec::new();
    out.extend(suppression(data));
    out.extend(rate_limits(data));
    out.extend(openapi_entries(data));
    out.extend(thresholds(data));
    out
}

fn benign(c: Classification) -> bool {
    matches!(
        c,
        Classification::FalsePositive | Classification::InformationalExpectedActivity
    )
}

/// Distinct values, in first-seen order.
fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

fn detectors(data: &ReportData) -> Vec<String> {
    let mut out = Vec::new();
    for a in &data.detail.alerts {
        push_unique(&mut out, &a.draft.detector);
    }
    out
}

/// The actor entities (ip, user, api key) that are not targets, by kind, in incident order.
fn actors(data: &ReportData, kind: EntityKind) -> Vec<String> {
    let mut out = Vec::new();
    for e in &data.detail.incident.entities {
        if e.kind == kind && e.role != EntityRole::Target && out.len() < MAX_ACTORS {
            push_unique(&mut out, &e.value);
        }
    }
    out
}

fn suppression(data: &ReportData) -> Option<Lesson> {
    let inc = &data.detail.incident;
    if !benign(inc.classification) {
        return None;
    }
    let detectors = detectors(data);
    if detectors.is_empty() {
        return None;
    }
    let mut named = Vec::new();
    for kind in [EntityKind::Ip, EntityKind::User, EntityKind::ApiKey] {
        let values = actors(data, kind);
        if !values.is_empty() {
            named.push(format!("{} {}", kind.as_str(), values.join(", ")));
        }
    }
    let expires = Timestamp(data.generated_at.millis() + SUPPRESSION_DAYS * 86_400_000);
    let comment = format!(
        "Closed by the suppression rule suppress-incident-{}, suggested by the post-incident review of incident #{} ({}).",
        inc.id, inc.id, inc.classification
    );
    let dets: Vec<&str> = detectors.iter().map(String::as_str).collect();
    let rule = rampart_automation::suppression::from_incident(inc, &dets, expires, Some(comment));
    let body = serde_json::to_value(&rule).unwrap_or_default();
    let scope = if named.is_empty() {
        "any actor".to_string()
    } else {
        named.join("; ")
    };
    Some(Lesson {
        key: "suppression".into(),
        kind: LessonKind::Suppression,
        title: format!(
            "Close new incidents from {} and {scope} for {SUPPRESSION_DAYS} days",
            detectors.join(", ")
        ),
        why: format!(
            "The incident was classified {} ({}): the same detectors on the same actors would raise the same noise again.",
            inc.classification, inc.determination
        ),
        apply: Some(ApplyRequest {
            method: "POST",
            path: "/api/v1/automation/rules".into(),
            body,
        }),
        manual: None,
    })
}

fn volumetric(data: &ReportData) -> bool {
    data.detail.alerts.iter().any(|a| {
        matches!(
            a.draft.stage,
            AttackStage::Impact | AttackStage::CredentialAccess
        ) || a
            .draft
            .owasp
            .as_deref()
            .is_some_and(|o| o.starts_with("API4:"))
    })
}

/// Whether an active block or rate limit already covers the address.
fn limited(data: &ReportData, ip: &str) -> bool {
    data.actions.iter().any(|a| {
        a.status() == ActionStatus::Active
            && match a.action.kind {
                ActionKind::BlockIp => a.action.target == ip,
                ActionKind::RateLimit => a.action.target == format!("ip:{ip}"),
                _ => false,
            }
    })
}

fn rate_limits(data: &ReportData) -> Vec<Lesson> {
    let inc = &data.detail.incident;
    if benign(inc.classification) || !volumetric(data) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for e in &inc.entities {
        if e.kind != EntityKind::Ip || e.role != EntityRole::Attacker || out.len() >= MAX_ACTORS {
            continue;
        }
        if e.value.contains('/') || limited(data, &e.value) {
            continue;
        }
        let key = format!("rate_limit:{}", e.value);
        if out.iter().any(|l: &Lesson| l.key == key) {
            continue;
        }
        out.push(Lesson {
            key,
            kind: LessonKind::RateLimit,
            title: format!(
                "Rate-limit {} to {RATE_REQUESTS} requests per {RATE_WINDOW_SECS} s for a day",
                e.value
            ),
            why: "The incident is a volumetric or credential attack (flood, spike, guessing) and no active block or rate limit covers this address.".into(),
            apply: Some(ApplyRequest {
                method: "POST",
                path: "/api/v1/actions".into(),
                body: json!({
                    "kind": "rate_limit",
                    "target": format!("ip:{}", e.value),
                    "rate": {"requests": RATE_REQUESTS, "window_secs": RATE_WINDOW_SECS},
                    "duration_secs": RATE_DURATION_SECS,
                    "reason": format!("post-incident review of incident #{}: volumetric attack", inc.id),
                    "incident_id": inc.id,
                }),
            }),
            manual: None,
        });
    }
    out
}

fn openapi_entries(data: &ReportData) -> Vec<Lesson> {
    let Some(shadow) = &data.shadow_endpoints else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for ep in shadow.iter().take(MAX_SHADOW) {
        let Some((method, path)) = ep.split_once(' ') else {
            continue;
        };
        // JSON strings are YAML strings: an attacker-chosen path cannot break the snippet
        let snippet = format!(
            "paths:\n  {}:\n    {}:\n      summary: {}\n      responses:\n        \"200\":\n          description: OK\n",
            json_str(path),
            method.to_ascii_lowercase(),
            json_str(&format!(
                "documented after incident #{} (describe it, or remove the endpoint)",
                data.detail.incident.id
            )),
        );
        out.push(Lesson {
            key: format!("openapi:{ep}"),
            kind: LessonKind::OpenApiEntry,
            title: format!("Document {ep} in the OpenAPI spec, or remove it"),
            why: "The incident touched an endpoint the loaded OpenAPI spec does not document (a shadow endpoint): the spec is the inventory the detectors check against.".into(),
            apply: None,
            manual: Some(snippet),
        });
    }
    out
}

fn json_str(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

fn thresholds(data: &ReportData) -> Vec<Lesson> {
    let inc = &data.detail.incident;
    if !benign(inc.classification) {
        return Vec::new();
    }
    let mut out: Vec<Lesson> = Vec::new();
    for a in &data.detail.alerts {
        if a.draft.source != AlertSource::Rampart {
            continue;
        }
        for r in &a.draft.reasons {
            let Some(t) = r.threshold else { continue };
            let key = format!("threshold:{}:{}", a.draft.detector, r.metric);
            if out.iter().any(|l| l.key == key) {
                continue;
            }
            out.push(Lesson {
                key,
                kind: LessonKind::DetectorThreshold,
                title: format!(
                    "Review the threshold of {} on {}: {} observed against {}",
                    a.draft.detector,
                    r.metric,
                    figure(r.observed),
                    figure(t)
                ),
                why: format!(
                    "The incident was classified {}, and the alert fired because {} crossed its threshold: raise it (or exempt this traffic) in the detector's section.",
                    inc.classification, r.metric
                ),
                apply: None,
                manual: Some(format!(
                    "# rampart.toml: the detector's own section; its threshold setting for {} (observed {}, threshold {})\n[detect.{}]\n",
                    r.metric,
                    figure(r.observed),
                    figure(t),
                    toml_key(&a.draft.detector)
                )),
            });
        }
    }
    out
}

/// A TOML key: bare when it is one, else quoted.
fn toml_key(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        s.to_string()
    } else {
        json_str(s)
    }
}

fn figure(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_data::{alert, data, incident_with};
    use rampart_model::{Determination, Reason};

    /// The lessons of an incident as `kind key` lines, then each apply body must parse as
    /// what the API takes.
    fn check(d: &ReportData, expected: &[&str]) {
        let got = lessons(d);
        let lines: Vec<String> = got
            .iter()
            .map(|l| format!("{} {}", l.kind.as_str(), l.key))
            .collect();
        assert_eq!(lines, expected);
        for l in &got {
            assert!(l.apply.is_some() != l.manual.is_some(), "{l:?}");
            if let Some(a) = &l.apply {
                match l.kind {
                    LessonKind::Suppression => {
                        let rule = rampart_automation::parse_rule(&a.body.to_string())
                            .unwrap_or_else(|e| panic!("{e}: {}", a.body));
                        assert!(rule.expires_at.is_some());
                    }
                    LessonKind::RateLimit => {
                        let req: rampart_model::ActionRequest =
                            serde_json::from_value(a.body.clone()).expect("an action request");
                        req.validate().expect("a valid rate limit");
                    }
                    _ => panic!("{:?} has no apply", l.kind),
                }
            }
        }
    }

    #[test]
    fn true_positive_exploitation_suggests_nothing() {
        let d = data(
            incident_with(Classification::TruePositive),
            vec![alert("content_inspection", AttackStage::Exploitation, None)],
        );
        check(&d, &[]);
    }

    #[test]
    fn false_positive_suggests_suppression_and_threshold() {
        let mut a = alert("API_RateSpike", AttackStage::Impact, Some("API4:2023"));
        a.draft.reasons = vec![Reason {
            metric: "requests_per_min".into(),
            observed: 1200.0,
            threshold: Some(600.0),
        }];
        let mut inc = incident_with(Classification::FalsePositive);
        inc.determination = Determination::LineOfBusinessApplication;
        let d = data(inc, vec![a]);
        check(
            &d,
            &[
                "suppression suppression",
                "detector_threshold threshold:API_RateSpike:requests_per_min",
            ],
        );
        let l = &lessons(&d)[0];
        let body = &l.apply.as_ref().map(|a| a.body.clone()).unwrap_or_default();
        assert_eq!(
            body["conditions"]["all"][1]["value"], "203.0.113.9",
            "{body}"
        );
        assert_eq!(
            body["actions"][0]["set_status"]["classification"], "FalsePositive",
            "the incident's own classification"
        );
        let expires = body["expires_at"].as_str().unwrap_or_default();
        assert!(expires.starts_with("2026-01-31"), "{expires}");
    }

    #[test]
    fn volumetric_attack_suggests_a_rate_limit_per_uncovered_attacker() {
        let d = data(
            incident_with(Classification::TruePositive),
            vec![alert(
                "API_RateSpike",
                AttackStage::Impact,
                Some("API4:2023"),
            )],
        );
        check(&d, &["rate_limit rate_limit:203.0.113.9"]);
    }

    #[test]
    fn an_active_block_covers_the_rate_limit() {
        let mut d = data(
            incident_with(Classification::Unknown),
            vec![alert(
                "API_CredentialStuffing",
                AttackStage::CredentialAccess,
                None,
            )],
        );
        d.actions = vec![crate::test_data::block("203.0.113.9")];
        check(&d, &[]);
    }

    #[test]
    fn shadow_endpoints_get_openapi_entries_with_quoted_paths() {
        let mut d = data(
            incident_with(Classification::TruePositive),
            vec![alert(
                "improper_inventory",
                AttackStage::Recon,
                Some("API9:2023"),
            )],
        );
        d.shadow_endpoints = Some(vec!["GET /internal/\"x\":\n{id}".into()]);
        check(&d, &["openapi_entry openapi:GET /internal/\"x\":\n{id}"]);
        let snippet = lessons(&d)[0].manual.clone().unwrap_or_default();
        assert!(
            snippet.contains(r#"  "/internal/\"x\":\n{id}":"#),
            "{snippet}"
        );
        assert!(snippet.contains("    get:"), "{snippet}");
    }

    #[test]
    fn no_spec_no_openapi_lesson() {
        let mut d = data(
            incident_with(Classification::TruePositive),
            vec![alert("improper_inventory", AttackStage::Recon, None)],
        );
        d.shadow_endpoints = None;
        check(&d, &[]);
    }

    #[test]
    fn benign_incident_without_alerts_suggests_nothing() {
        let d = data(
            incident_with(Classification::InformationalExpectedActivity),
            vec![],
        );
        check(&d, &[]);
    }
}
