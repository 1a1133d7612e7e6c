//! The attack story of an incident: its alerts as a timeline grouped by attack stage in
//! kill-chain order (recon, credential access, exploitation, data access, impact), each alert
//! with its time, detector, severity, MITRE and OWASP mapping, actors, a few key events and a
//! one-sentence explanation a tier-1 responder can read.
//!
//! [`build`] is a pure function from alerts to a [`Story`]; [`render`] draws it.

use maud::{html, Markup};
use rampart_model::{Alert, AlertDraft, ApiEvent, AttackStage, Entity, EntityKind, EntityRole};

use crate::fmt;

/// Alerts shown per stage (the rest are counted, and listed on the alerts tab).
pub const MAX_PER_STAGE: usize = 40;
/// Key events shown per alert (the earliest of its evidence).
pub const KEY_EVENTS: usize = 3;

/// The story: one chapter per stage that has alerts, in kill-chain order.
#[derive(Debug)]
pub struct Story<'a> {
    /// Chapters, in kill-chain order.
    pub chapters: Vec<Chapter<'a>>,
}

/// The alerts of one stage, oldest first.
#[derive(Debug)]
pub struct Chapter<'a> {
    /// The stage.
    pub stage: AttackStage,
    /// Its alerts, by first activity (then id), at most [`MAX_PER_STAGE`].
    pub items: Vec<Item<'a>>,
    /// Alerts of this stage left out.
    pub omitted: usize,
}

/// One alert in the story.
#[derive(Debug)]
pub struct Item<'a> {
    /// The alert.
    pub alert: &'a Alert,
    /// Who did it: the alert's attacker entities (else its actor-kind entities that are not
    /// targets).
    pub actors: Vec<&'a Entity>,
    /// What it means, in one sentence.
    pub explanation: String,
    /// Its earliest evidence events, at most [`KEY_EVENTS`].
    pub key_events: Vec<&'a ApiEvent<'static>>,
}

/// The stage's name and what an actor does in it (the verb of [`explain`]).
pub fn stage_words(s: AttackStage) -> (&'static str, &'static str) {
    match s {
        AttackStage::Recon => ("Reconnaissance", "probed and mapped"),
        AttackStage::CredentialAccess => (
            "Credential access",
            "tried to guess or reuse credentials against",
        ),
        AttackStage::Exploitation => ("Exploitation", "sent attack requests to"),
        AttackStage::DataAccess => ("Data access", "pulled data from"),
        AttackStage::Impact => ("Impact", "flooded or abused"),
    }
}

/// The wire name of a stage (`data_access`), for classes and data attributes.
pub fn stage_id(s: AttackStage) -> &'static str {
    match s {
        AttackStage::Recon => "recon",
        AttackStage::CredentialAccess => "credential_access",
        AttackStage::Exploitation => "exploitation",
        AttackStage::DataAccess => "data_access",
        AttackStage::Impact => "impact",
    }
}

/// The actors of an alert: its attacker entities, else its actor-kind entities that are not
/// targets (deduplicated, in the alert's order).
pub fn actors(a: &AlertDraft) -> Vec<&Entity> {
    let mut out: Vec<&Entity> = a
        .entities
        .iter()
        .filter(|e| e.role == EntityRole::Attacker)
        .collect();
    if out.is_empty() {
        out = a
            .entities
            .iter()
            .filter(|e| e.kind.is_actor() && e.role != EntityRole::Target)
            .collect();
    }
    let mut seen: Vec<&Entity> = Vec::new();
    out.retain(|e| {
        let new = !seen.iter().any(|s| s.kind == e.kind && s.value == e.value);
        seen.push(e);
        new
    });
    out
}

fn figure(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.2}")
    }
}

/// One plain sentence: who did what to which target, and the figure that made it fire
/// (`203.0.113.9 pulled data from GET /users/{id} (distinct_ids 200, threshold 50).`).
pub fn explain(a: &AlertDraft) -> String {
    let who = actors(a);
    let subject = match who.as_slice() {
        [] => "An unidentified client".to_string(),
        [one] => describe(one),
        [one, two] => format!("{} and {}", describe(one), describe(two)),
        [one, rest @ ..] => format!("{} and {} other actors", describe(one), rest.len()),
    };
    let target = a
        .entities
        .iter()
        .find(|e| {
            e.role == EntityRole::Target
                || matches!(e.kind, EntityKind::Endpoint | EntityKind::Service)
        })
        .map_or_else(|| "the API".to_string(), describe);
    let (_, verb) = stage_words(a.stage);
    let why = match a.reasons.first() {
        Some(r) => match r.threshold {
            Some(t) => format!(
                " ({} {}, threshold {})",
                r.metric,
                figure(r.observed),
                figure(t)
            ),
            None => format!(" ({} {})", r.metric, figure(r.observed)),
        },
        None => String::new(),
    };
    let sentence = format!(
        "{subject} {verb} {target}{why}, which {}.",
        detector_hint(a)
    );
    let mut chars = sentence.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => sentence,
    }
}

fn describe(e: &Entity) -> String {
    let v = fmt::short(&e.value, 60);
    match e.kind {
        EntityKind::Ip => format!("the address {v}"),
        EntityKind::User => format!("the user {v}"),
        EntityKind::ApiKey => format!("the API key {v}"),
        EntityKind::Endpoint => v,
        EntityKind::Service => format!("the service {v}"),
        EntityKind::UserAgent => format!("a client calling itself {v}"),
    }
}

/// What the alert's detection says, in words (from its OWASP category when it has one).
fn detector_hint(a: &AlertDraft) -> &'static str {
    let owasp = a.owasp.as_deref().unwrap_or("");
    match owasp.split(':').next().unwrap_or("") {
        "API1" => "looks like reading objects that belong to others",
        "API2" => "looks like an attack on authentication",
        "API3" => "may expose object properties it should not",
        "API4" => "uses more of the API than normal clients do",
        "API5" => "reached functions its role should not reach",
        "API6" => "abuses a business flow",
        "API7" => "tries to make the server fetch other addresses",
        "API8" => "found a security misconfiguration",
        "API9" => "reached endpoints outside the documented inventory",
        "API10" => "abuses data from a third-party API",
        _ => match a.stage {
            AttackStage::Recon => "usually comes before an attack",
            AttackStage::CredentialAccess => "can end in a taken-over account",
            AttackStage::Exploitation => "is an attempt to break in",
            AttackStage::DataAccess => "may mean data left the system",
            AttackStage::Impact => "can slow down or stop the service",
        },
    }
}

/// The story of `alerts`: grouped by stage in kill-chain order, oldest first within a stage.
pub fn build(alerts: &[Alert]) -> Story<'_> {
    let mut sorted: Vec<&Alert> = alerts.iter().collect();
    sorted.sort_by_key(|a| (a.draft.stage, a.draft.first_seen, a.id));
    let mut chapters: Vec<Chapter<'_>> = Vec::new();
    for a in sorted {
        let stage = a.draft.stage;
        if chapters.last().is_none_or(|c| c.stage != stage) {
            chapters.push(Chapter {
                stage,
                items: Vec::new(),
                omitted: 0,
            });
        }
        let Some(ch) = chapters.last_mut() else {
            continue;
        };
        if ch.items.len() >= MAX_PER_STAGE {
            ch.omitted += 1;
            continue;
        }
        let mut key_events: Vec<&ApiEvent<'static>> = a.draft.evidence.iter().collect();
        key_events.sort_by_key(|e| e.ts);
        key_events.truncate(KEY_EVENTS);
        ch.items.push(Item {
            alert: a,
            actors: actors(&a.draft),
            explanation: explain(&a.draft),
            key_events,
        });
    }
    Story { chapters }
}

/// The story as a timeline.
pub fn render(story: &Story<'_>) -> Markup {
    html! {
        @if story.chapters.is_empty() {
            p.muted { "No alerts in this incident." }
        }
        @for ch in &story.chapters {
            section.chapter data-stage=(stage_id(ch.stage)) {
                h3.stage { (stage_words(ch.stage).0) }
                ol.timeline {
                    @for it in &ch.items {
                        (item(it))
                    }
                }
                @if ch.omitted > 0 {
                    p.muted.small { (ch.omitted) " more alerts of this stage: see the " a href="?tab=alerts" { "alerts tab" } "." }
                }
            }
        }
    }
}

fn item(it: &Item<'_>) -> Markup {
    let a = &it.alert.draft;
    html! {
        li.story-item data-alert=(it.alert.id) {
            div.story-head {
                (fmt::time(a.first_seen)) " "
                (fmt::severity(a.severity)) " "
                a.story-title href={ "?tab=alerts#alert-" (it.alert.id) } { (a.title) }
                span.muted.small { " · " (a.detector) }
            }
            p.explain { (it.explanation) }
            div.small {
                @for t in &a.mitre { span.chip.mitre title="MITRE ATT&CK technique" { (t) } }
                @if let Some(o) = &a.owasp { span.chip.owasp title="OWASP API Security Top 10" { (o) } }
                @for e in &it.actors { (fmt::entity_link(e)) " " }
            }
            @if !it.key_events.is_empty() {
                ul.key-events {
                    @for e in &it.key_events {
                        li {
                            (fmt::time(e.ts)) " "
                            code { (fmt::short(&e.method, 16)) " " (fmt::short(&e.path, 120)) }
                            " → " (e.status)
                            @if let Some(ip) = e.client_ip { span.muted { " from " (ip) } }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::{Reason, Timestamp};

    fn alert(id: i64, stage: AttackStage, at: i64) -> Alert {
        let entities = vec![
            Entity::attacker_ip("203.0.113.9"),
            Entity::target_endpoint("GET /users/{id}"),
        ];
        crate::test_support::alert(id, stage, at, entities)
    }

    /// `alerts` as `(id, stage, first_seen)`; expected as `stage: ids | stage: ids`.
    fn check(alerts: &[(i64, AttackStage, i64)], expected: &str) {
        let alerts: Vec<Alert> = alerts.iter().map(|(i, s, t)| alert(*i, *s, *t)).collect();
        let story = build(&alerts);
        let got = story
            .chapters
            .iter()
            .map(|c| {
                let ids: Vec<String> = c.items.iter().map(|i| i.alert.id.to_string()).collect();
                format!("{}: {}", stage_id(c.stage), ids.join(" "))
            })
            .collect::<Vec<_>>()
            .join(" | ");
        assert_eq!(got, expected);
    }

    #[test]
    fn stages_in_kill_chain_order_oldest_first() {
        use AttackStage::*;
        check(&[], "");
        check(&[(1, Exploitation, 5)], "exploitation: 1");
        // stored order does not matter: impact last, recon first
        check(
            &[
                (1, Impact, 1),
                (2, DataAccess, 2),
                (3, Exploitation, 3),
                (4, CredentialAccess, 4),
                (5, Recon, 5),
            ],
            "recon: 5 | credential_access: 4 | exploitation: 3 | data_access: 2 | impact: 1",
        );
        // within a stage by first activity, then id
        check(
            &[
                (7, Recon, 30),
                (3, Recon, 10),
                (9, Recon, 10),
                (2, DataAccess, 0),
            ],
            "recon: 3 9 7 | data_access: 2",
        );
        // a later recon alert still comes before an earlier exploitation
        check(
            &[(1, Exploitation, 10), (2, Recon, 99)],
            "recon: 2 | exploitation: 1",
        );
    }

    #[test]
    fn long_stages_are_cut_and_counted() {
        let alerts: Vec<Alert> = (0..(MAX_PER_STAGE as i64 + 3))
            .map(|i| alert(i, AttackStage::Recon, i))
            .collect();
        let story = build(&alerts);
        assert_eq!(story.chapters[0].items.len(), MAX_PER_STAGE);
        assert_eq!(story.chapters[0].omitted, 3);
        assert!(render(&story).into_string().contains("3 more alerts"));
    }

    #[test]
    fn explanations_read_as_one_sentence() {
        let mut a = alert(1, AttackStage::DataAccess, 0).draft;
        a.owasp = Some("API1:2023".into());
        a.reasons = vec![Reason {
            metric: "distinct_ids".into(),
            observed: 200.0,
            threshold: Some(50.0),
        }];
        assert_eq!(
            explain(&a),
            "The address 203.0.113.9 pulled data from GET /users/{id} (distinct_ids 200, threshold 50), which looks like reading objects that belong to others."
        );
        a.entities = vec![];
        a.reasons = vec![];
        a.stage = AttackStage::Recon;
        a.owasp = None;
        assert_eq!(
            explain(&a),
            "An unidentified client probed and mapped the API, which usually comes before an attack."
        );
    }

    #[test]
    fn key_events_are_the_earliest_and_escaped() {
        let mut a = alert(1, AttackStage::Exploitation, 0);
        a.draft.evidence = (0..5)
            .rev()
            .map(|i| ApiEvent {
                ts: Timestamp(i * 1000),
                method: "GET".into(),
                path: format!("/<script>{i}").into(),
                status: 200,
                ..Default::default()
            })
            .collect();
        let alerts = [a];
        let story = build(&alerts);
        let ts: Vec<i64> = story.chapters[0].items[0]
            .key_events
            .iter()
            .map(|e| e.ts.millis())
            .collect();
        assert_eq!(ts, [0, 1000, 2000]);
        let out = render(&story).into_string();
        assert!(out.contains("/&lt;script&gt;0"), "{out}");
        assert!(!out.contains("<script>"), "{out}");
    }
}
