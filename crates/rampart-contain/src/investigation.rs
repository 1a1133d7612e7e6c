//! The automated investigation of an incident (Defender XDR's automated investigation, for
//! APIs): from what the store knows about the incident's actors and targets, a list of
//! evidence, each with a verdict (malicious, suspicious, clean) and the reason, and the
//! alerts it proves benign (every actor of the alert allow-listed), which the server
//! resolves with that reason, audited as `investigation`.
//!
//! Pure: the server gathers [`Facts`] (stored events, related incidents, earlier actions,
//! the inventory, the protected list) and renders the result; nothing here reads a clock.

use rampart_model::{
    ActionKind, ActionStatus, ActorAccess, Alert, AlertStatus, Classification, EndpointInfo,
    Entity, EntityActivity, EntityKind, EntityRole, IncidentStatus, Severity,
};
use serde::{Deserialize, Serialize};

/// The audit actor of what the investigation changes.
pub const ACTOR: &str = "investigation";

/// A verdict on one piece of evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing wrong found.
    Clean,
    /// Worth a look.
    Suspicious,
    /// Proven bad.
    Malicious,
}

impl Verdict {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Suspicious => "suspicious",
            Verdict::Malicious => "malicious",
        }
    }
}

/// Another incident naming the same actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    /// Its id.
    pub id: i64,
    /// Its title.
    pub title: String,
    /// Its status.
    pub status: IncidentStatus,
    /// How it was classified.
    pub classification: Classification,
}

/// An earlier containment action on the actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlierAction {
    /// Its id.
    pub id: i64,
    /// Its kind.
    pub kind: ActionKind,
    /// Its status.
    pub status: ActionStatus,
    /// The incident it answered.
    pub incident_id: Option<i64>,
}

/// What the store knows about one actor (an IP, user or API key of the incident).
#[derive(Debug, Clone)]
pub struct ActorFacts {
    /// The actor.
    pub entity: Entity,
    /// When it was last seen and last allowed.
    pub activity: EntityActivity,
    /// What it got 2xx answers from (most requests first).
    pub access: Vec<ActorAccess>,
    /// Other incidents naming it.
    pub related: Vec<Related>,
    /// Containment actions on it (any incident).
    pub actions: Vec<EarlierAction>,
    /// The protected (allow-list) entry it falls under, if any.
    pub allow_listed: Option<String>,
    /// The threat-intelligence feed that lists it (IPs), if any.
    pub intel: Option<String>,
}

/// A deployment window: a known change during which traffic spikes, latency and error bursts
/// on its hosts are expected (announced by a CD pipeline or an operator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// Its name (`api-v2.14.0`).
    pub name: String,
    /// When it starts.
    pub start: rampart_model::Timestamp,
    /// When it ends.
    pub end: rampart_model::Timestamp,
    /// The hosts it changes (empty: every host).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Free text.
    #[serde(default)]
    pub note: String,
}

/// The detectors whose alerts a deployment explains: operational anomalies, not attacks.
pub const DEPLOYMENT_EXPLAINS: [&str; 3] =
    ["traffic_spike_endpoint", "latency_spike", "error_burst"];

impl Deployment {
    /// Whether this window explains `alert`: an operational anomaly inside the window (with
    /// a minute of slack each side) on one of its hosts.
    pub fn explains(&self, alert: &Alert) -> bool {
        const SLACK: i64 = 60_000;
        if !DEPLOYMENT_EXPLAINS.contains(&alert.draft.detector.as_str()) {
            return false;
        }
        if alert.draft.first_seen.millis() < self.start.millis() - SLACK
            || alert.draft.last_seen.millis() > self.end.millis() + SLACK
        {
            return false;
        }
        if self.hosts.is_empty() {
            return true;
        }
        let hosts: Vec<&str> = alert
            .draft
            .entities
            .iter()
            .filter(|e| e.kind == EntityKind::Endpoint)
            .filter_map(|e| rampart_model::entity::endpoint_parts(&e.value).and_then(|(h, _, _)| h))
            .collect();
        !hosts.is_empty() && hosts.iter().all(|h| self.hosts.iter().any(|x| x == h))
    }
}

/// What the inventory knows about one target endpoint (`None`: not in it, a shadow).
#[derive(Debug, Clone)]
pub struct TargetFacts {
    /// The endpoint entity's value (`host METHOD /template`).
    pub endpoint: String,
    /// Its inventory record.
    pub info: Option<EndpointInfo>,
}

/// Everything an investigation reads.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// The incident's id.
    pub incident_id: i64,
    /// Its alerts.
    pub alerts: &'a [Alert],
    /// Its actors.
    pub actors: Vec<ActorFacts>,
    /// Its target endpoints.
    pub targets: Vec<TargetFacts>,
    /// Whether a threat-intelligence source is configured (none ships: the evidence says so).
    pub intel_configured: bool,
    /// Known deployment windows around the incident.
    pub deployments: Vec<Deployment>,
}

/// One piece of evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// What it is about: `actor`, `target`, `intel`.
    pub kind: String,
    /// The entity's kind and value (`ip 203.0.113.9`).
    pub subject: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in words.
    pub reasons: Vec<String>,
}

/// An alert the investigation proves benign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Benign {
    /// The alert.
    pub alert_id: i64,
    /// Why.
    pub reason: String,
}

/// What an investigation found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Investigation {
    /// The worst verdict of its evidence.
    pub verdict: Verdict,
    /// The evidence, worst first.
    pub evidence: Vec<Evidence>,
    /// Open alerts proven benign (to resolve).
    #[serde(alias = "benign_alerts")]
    pub benign: Vec<Benign>,
}

/// Investigate.
pub fn investigate(f: &Facts<'_>) -> Investigation {
    let mut evidence = Vec::new();
    for a in &f.actors {
        evidence.push(actor(f, a));
    }
    for t in &f.targets {
        evidence.push(target(t));
    }
    if !f.intel_configured {
        evidence.push(Evidence {
            kind: "intel".into(),
            subject: "threat intelligence".into(),
            verdict: Verdict::Clean,
            reasons: vec!["no threat-intelligence source is configured: nothing looked up".into()],
        });
    }
    evidence.sort_by_key(|e| std::cmp::Reverse(e.verdict));
    let benign = benign_alerts(f);
    let verdict = evidence
        .iter()
        .filter(|e| e.kind != "intel")
        .map(|e| e.verdict)
        .max()
        .unwrap_or(Verdict::Clean);
    Investigation {
        verdict,
        evidence,
        benign,
    }
}

fn subject(e: &Entity) -> String {
    format!("{} {}", e.kind.as_str(), e.value)
}

fn actor(f: &Facts<'_>, a: &ActorFacts) -> Evidence {
    let mut reasons = Vec::new();
    let mut verdict = Verdict::Suspicious;
    if let Some(by) = &a.allow_listed {
        return Evidence {
            kind: "actor".into(),
            subject: subject(&a.entity),
            verdict: Verdict::Clean,
            reasons: vec![format!("allow-listed: protected by {by}")],
        };
    }
    let alerts: Vec<&Alert> = f
        .alerts
        .iter()
        .filter(|al| {
            al.draft
                .entities
                .iter()
                .any(|e| e.kind == a.entity.kind && e.value == a.entity.value)
        })
        .collect();
    if let Some(feed) = &a.intel {
        verdict = Verdict::Malicious;
        reasons.push(format!("listed by threat intelligence: {feed}"));
    }
    let worst = alerts.iter().map(|al| al.draft.severity).max();
    if let Some(s) = worst {
        reasons.push(format!(
            "named by {} alert{} of this incident (worst {})",
            alerts.len(),
            if alerts.len() == 1 { "" } else { "s" },
            s.as_str()
        ));
    }
    for r in &a.related {
        if r.classification == Classification::TruePositive {
            verdict = Verdict::Malicious;
            reasons.push(format!(
                "incident #{} ({}) about it was a true positive",
                r.id, r.title
            ));
        }
    }
    let open_related = a.related.iter().filter(|r| r.status.is_open()).count();
    if open_related > 0 {
        reasons.push(format!("{open_related} other open incident(s) name it"));
    }
    for act in &a.actions {
        if act.incident_id != Some(f.incident_id) {
            verdict = Verdict::Malicious;
            reasons.push(format!(
                "contained before: action #{} {} ({})",
                act.id,
                act.kind.as_str(),
                act.status.as_str()
            ));
        }
    }
    let reads: u64 = a.access.iter().map(|x| x.requests).sum();
    if reads > 0 {
        let top: Vec<String> = a
            .access
            .iter()
            .take(3)
            .map(|x| format!("{} {} x{}", x.method, x.path, x.requests))
            .collect();
        reasons.push(format!(
            "{reads} successful (2xx) answers on {} endpoint(s): {}",
            a.access.len(),
            top.join(", ")
        ));
        if worst.is_some_and(|s| s >= Severity::High) {
            verdict = Verdict::Malicious;
            reasons.push("high-severity attack that the API answered with data".into());
        }
    } else if a.activity.last_seen.is_some() {
        reasons.push("every request it made was refused (no 2xx answer)".into());
    }
    match (a.activity.last_seen, a.activity.last_allowed) {
        (Some(_), None) => reasons.push("every answer since containment was denied".into()),
        (None, _) => reasons.push("no stored events".into()),
        _ => {}
    }
    Evidence {
        kind: "actor".into(),
        subject: subject(&a.entity),
        verdict,
        reasons,
    }
}

fn target(t: &TargetFacts) -> Evidence {
    let subject = format!("endpoint {}", t.endpoint);
    let Some(info) = &t.info else {
        return Evidence {
            kind: "target".into(),
            subject,
            verdict: Verdict::Suspicious,
            reasons: vec!["not in the learned inventory (a shadow or unknown endpoint)".into()],
        };
    };
    let mut reasons = vec![format!(
        "{} calls, authentication: {:?}",
        info.calls,
        info.auth()
    )];
    let mut verdict = Verdict::Clean;
    if !info.sensitive_data.is_empty() {
        verdict = Verdict::Suspicious;
        reasons.push(format!(
            "returns sensitive data: {}",
            info.sensitive_data.join(", ")
        ));
    }
    if info.authenticated_calls == 0 {
        verdict = Verdict::Suspicious;
        reasons.push("no call carried credentials: anyone can reach it".into());
    }
    Evidence {
        kind: "target".into(),
        subject,
        verdict,
        reasons,
    }
}

/// Open alerts all of whose actors (IPs, users, API keys named as attackers, or as anything
/// when none is an attacker) are allow-listed.
fn benign_alerts(f: &Facts<'_>) -> Vec<Benign> {
    let mut out = Vec::new();
    for al in f.alerts {
        if al.status == AlertStatus::Resolved {
            continue;
        }
        let actors: Vec<&Entity> = {
            let attackers: Vec<&Entity> = al
                .draft
                .entities
                .iter()
                .filter(|e| e.kind.is_actor() && e.role == EntityRole::Attacker)
                .collect();
            if attackers.is_empty() {
                al.draft
                    .entities
                    .iter()
                    .filter(|e| e.kind.is_actor())
                    .collect()
            } else {
                attackers
            }
        };
        if let Some(d) = f.deployments.iter().find(|d| d.explains(al)) {
            out.push(Benign {
                alert_id: al.id,
                reason: format!(
                    "inside deployment window {} ({} to {}): {} is expected during it",
                    d.name, d.start, d.end, al.draft.detector
                ),
            });
            continue;
        }
        if actors.is_empty() {
            continue;
        }
        let mut by = Vec::new();
        for e in &actors {
            match f
                .actors
                .iter()
                .find(|a| a.entity.kind == e.kind && a.entity.value == e.value)
                .and_then(|a| a.allow_listed.as_deref())
            {
                Some(entry) => by.push(format!("{} {} ({entry})", e.kind.as_str(), e.value)),
                None => {
                    by.clear();
                    break;
                }
            }
        }
        if !by.is_empty() {
            out.push(Benign {
                alert_id: al.id,
                reason: format!("every actor is allow-listed: {}", by.join(", ")),
            });
        }
    }
    out
}

/// The protected (allow-list) entry `e` falls under: an address in a protected range, a
/// protected principal or API key.
pub fn allow_listed(p: &crate::Protected, e: &Entity) -> Option<String> {
    match e.kind {
        EntityKind::Ip => {
            let ip: std::net::IpAddr = e.value.parse().ok()?;
            p.ips
                .iter()
                .find(|n| n.contains(&ip))
                .map(ToString::to_string)
        }
        EntityKind::User => p.principals.iter().find(|x| **x == e.value).cloned(),
        EntityKind::ApiKey => p.api_keys.iter().find(|x| **x == e.value).cloned(),
        _ => None,
    }
}

/// Why `alert` is benign by the allow-list alone (every actor protected), for the
/// automation worker, which resolves such alerts as soon as they are stored.
pub fn allow_listed_alert(alert: &Alert, p: &crate::Protected) -> Option<String> {
    let facts = Facts {
        incident_id: alert.incident_id.unwrap_or(0),
        alerts: std::slice::from_ref(alert),
        actors: alert
            .draft
            .entities
            .iter()
            .filter(|e| e.kind.is_actor())
            .map(|e| ActorFacts {
                entity: e.clone(),
                activity: EntityActivity::default(),
                access: Vec::new(),
                related: Vec::new(),
                actions: Vec::new(),
                allow_listed: allow_listed(p, e),
                intel: None,
            })
            .collect(),
        targets: Vec::new(),
        intel_configured: true,
        deployments: Vec::new(),
    };
    benign_alerts(&facts).pop().map(|b| b.reason)
}

/// The entity kinds an investigation looks up as actors.
pub const ACTOR_KINDS: [EntityKind; 3] = [EntityKind::Ip, EntityKind::User, EntityKind::ApiKey];

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::{AlertDraft, Timestamp};

    fn alert(id: i64, ip: &str, severity: Severity) -> Alert {
        Alert {
            id,
            incident_id: Some(1),
            status: AlertStatus::New,
            created_at: Timestamp(0),
            draft: AlertDraft {
                detector: "sigma".into(),
                title: "t".into(),
                severity,
                description: String::new(),
                mitre: Vec::new(),
                owasp: None,
                entities: vec![Entity::new(EntityKind::Ip, ip, EntityRole::Attacker)],
                evidence: Vec::new(),
                first_seen: Timestamp(0),
                last_seen: Timestamp(0),
                reasons: Vec::new(),
                source: Default::default(),
                stage: Default::default(),
                incident_hint: None,
            },
        }
    }

    fn actor(ip: &str) -> ActorFacts {
        ActorFacts {
            entity: Entity::new(EntityKind::Ip, ip, EntityRole::Attacker),
            activity: EntityActivity {
                last_seen: Some(Timestamp(10)),
                last_allowed: Some(Timestamp(10)),
            },
            access: Vec::new(),
            related: Vec::new(),
            actions: Vec::new(),
            allow_listed: None,
            intel: None,
        }
    }

    fn check(f: &Facts<'_>, expected: &[&str]) {
        let inv = investigate(f);
        let got: Vec<String> = inv
            .evidence
            .iter()
            .map(|e| {
                format!(
                    "{} {}: {}",
                    e.verdict.as_str(),
                    e.subject,
                    e.reasons.join("; ")
                )
            })
            .chain(
                inv.benign
                    .iter()
                    .map(|b| format!("benign #{}: {}", b.alert_id, b.reason)),
            )
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn an_allow_listed_scanner_is_clean_and_its_alerts_benign() {
        let alerts = [alert(5, "10.0.0.9", Severity::Medium)];
        let mut a = actor("10.0.0.9");
        a.allow_listed = Some("10.0.0.0/8".into());
        check(
            &Facts {
                incident_id: 1,
                alerts: &alerts,
                actors: vec![a],
                targets: Vec::new(),
                intel_configured: true,
                deployments: Vec::new(),
            },
            &[
                "clean ip 10.0.0.9: allow-listed: protected by 10.0.0.0/8",
                "benign #5: every actor is allow-listed: ip 10.0.0.9 (10.0.0.0/8)",
            ],
        );
    }

    #[test]
    fn data_answered_to_a_high_attack_and_an_earlier_containment_are_malicious() {
        let alerts = [alert(5, "203.0.113.9", Severity::High)];
        let mut a = actor("203.0.113.9");
        a.access = vec![ActorAccess {
            method: "GET".into(),
            path: "/api/users/1".into(),
            requests: 40,
            last: Timestamp(9),
        }];
        a.actions = vec![EarlierAction {
            id: 3,
            kind: ActionKind::BlockIp,
            status: ActionStatus::Expired,
            incident_id: Some(99),
        }];
        let inv = investigate(&Facts {
            incident_id: 1,
            alerts: &alerts,
            actors: vec![a],
            targets: vec![TargetFacts {
                endpoint: "api GET /api/users/{id}".into(),
                info: None,
            }],
            intel_configured: false,
            deployments: Vec::new(),
        });
        assert_eq!(inv.verdict, Verdict::Malicious);
        assert!(inv.benign.is_empty());
        let r = &inv.evidence[0].reasons;
        assert!(
            r.iter().any(|x| x.contains("contained before: action #3")),
            "{r:?}"
        );
        assert!(r.iter().any(|x| x.contains("40 successful (2xx)")), "{r:?}");
        assert_eq!(
            inv.evidence[1].verdict,
            Verdict::Suspicious,
            "shadow target"
        );
        assert_eq!(inv.evidence[2].kind, "intel");
    }

    #[test]
    fn one_actor_not_allow_listed_keeps_the_alert() {
        let mut al = alert(5, "10.0.0.9", Severity::Low);
        al.draft.entities.push(Entity::new(
            EntityKind::Ip,
            "203.0.113.1",
            EntityRole::Attacker,
        ));
        let mut a = actor("10.0.0.9");
        a.allow_listed = Some("10.0.0.0/8".into());
        let inv = investigate(&Facts {
            incident_id: 1,
            alerts: std::slice::from_ref(&al),
            actors: vec![a, actor("203.0.113.1")],
            targets: Vec::new(),
            intel_configured: true,
            deployments: Vec::new(),
        });
        assert!(inv.benign.is_empty());
        assert_eq!(inv.verdict, Verdict::Suspicious);
    }

    fn deployment(hosts: &[&str]) -> Deployment {
        Deployment {
            name: "api-v2.14".into(),
            start: Timestamp(1_000_000),
            end: Timestamp(2_000_000),
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            note: String::new(),
        }
    }

    fn spike(id: i64, detector: &str, host: &str, at: i64) -> Alert {
        let mut a = alert(id, "203.0.113.5", Severity::Medium);
        a.draft.detector = detector.into();
        a.draft.entities = vec![Entity::new(
            EntityKind::Endpoint,
            format!("{host} GET /api/orders"),
            EntityRole::Target,
        )];
        a.draft.first_seen = Timestamp(at);
        a.draft.last_seen = Timestamp(at + 60_000);
        a
    }

    /// (alert, deployment hosts, benign?)
    #[test]
    fn a_deployment_window_explains_operational_spikes_on_its_hosts_only() {
        let cases = [
            (
                spike(1, "traffic_spike_endpoint", "api", 1_500_000),
                vec![],
                true,
            ),
            (
                spike(2, "latency_spike", "api", 1_500_000),
                vec!["api"],
                true,
            ),
            (
                spike(3, "error_burst", "api", 1_500_000),
                vec!["shop"],
                false,
            ),
            (spike(4, "error_burst", "api", 5_000_000), vec![], false),
            (spike(5, "sigma", "api", 1_500_000), vec![], false),
            (
                spike(6, "traffic_spike_ip", "api", 1_500_000),
                vec![],
                false,
            ),
            (spike(7, "error_burst", "api", 960_000), vec![], true),
        ];
        for (al, hosts, benign) in cases {
            let id = al.id;
            let inv = investigate(&Facts {
                incident_id: 1,
                alerts: std::slice::from_ref(&al),
                actors: Vec::new(),
                targets: Vec::new(),
                intel_configured: true,
                deployments: vec![deployment(&hosts)],
            });
            assert_eq!(!inv.benign.is_empty(), benign, "alert {id}: {inv:?}");
            if benign {
                assert!(inv.benign[0]
                    .reason
                    .contains("inside deployment window api-v2.14"));
            }
        }
    }

    #[test]
    fn a_threat_intel_listing_makes_an_actor_malicious() {
        let alerts = [alert(5, "203.0.113.9", Severity::Low)];
        let mut a = actor("203.0.113.9");
        a.intel = Some("abuse-feed".into());
        let inv = investigate(&Facts {
            incident_id: 1,
            alerts: &alerts,
            actors: vec![a],
            targets: Vec::new(),
            intel_configured: true,
            deployments: Vec::new(),
        });
        assert_eq!(inv.verdict, Verdict::Malicious);
        assert!(inv.evidence[0]
            .reasons
            .contains(&"listed by threat intelligence: abuse-feed".to_string()));
        assert!(
            inv.evidence.iter().all(|e| e.kind != "intel"),
            "configured: no note"
        );
    }
}
