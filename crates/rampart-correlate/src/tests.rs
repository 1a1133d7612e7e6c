//! Data-driven correlation tests: alerts in (in batches), incidents out, through a small
//! in-memory store that applies change sets the way a real backend must.

use std::collections::BTreeMap;

use rampart_model::{Determination, EntityRole, SigmaRuleRef};

use super::*;

const MIN: i64 = 60_000;

/// An alert: `label` goes in the description, `ents` is `kind=value,...` with kinds `ip`,
/// `user`, `key`, `ep`, `svc`.
fn al(
    label: &str,
    minute: i64,
    detector: &str,
    sev: Severity,
    stage: AttackStage,
    ents: &str,
) -> AlertDraft {
    let entities: Vec<Entity> = ents
        .split(',')
        .filter(|s| !s.is_empty())
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| match k {
            "ip" => Entity::attacker_ip(v),
            "user" => Entity::new(EntityKind::User, v, EntityRole::Attacker),
            "key" => Entity::new(EntityKind::ApiKey, v, EntityRole::Attacker),
            "svc" => Entity::new(EntityKind::Service, v, EntityRole::Target),
            _ => Entity::target_endpoint(v),
        })
        .collect();
    let target = entities
        .iter()
        .find(|e| is_target(e))
        .map(|e| e.value.clone());
    let title = match target {
        Some(t) => format!("{detector} on {t}"),
        None => detector.to_string(),
    };
    AlertDraft {
        detector: detector.to_string(),
        title,
        description: label.to_string(),
        severity: sev,
        mitre: vec![],
        owasp: None,
        entities,
        evidence: vec![],
        first_seen: Timestamp::from_millis(minute * MIN),
        last_seen: Timestamp::from_millis(minute * MIN + MIN),
        reasons: vec![],
        source: AlertSource::Rampart,
        stage,
        incident_hint: None,
    }
}

use AttackStage::*;
use Severity::*;

#[derive(Debug, Clone)]
struct Stored {
    alerts: Vec<String>,
    state: IncidentState,
    status: IncidentStatus,
    assigned_to: Option<String>,
    classification: Classification,
    redirect: Option<i64>,
    stages: Vec<AttackStage>,
}

/// A store stand-in that applies change sets with the contract's rules.
#[derive(Debug, Default)]
struct FakeStore {
    incidents: BTreeMap<i64, Stored>,
    audits: Vec<NewAudit>,
    merges: usize,
}

impl FakeStore {
    fn apply(&mut self, cs: &ChangeSet) -> AppliedChanges {
        let mut applied = AppliedChanges::default();
        let id_of = |r: &IncidentRef, applied: &AppliedChanges| match r {
            IncidentRef::Existing(id) => *id,
            IncidentRef::New(t) => applied.incident_ids[*t as usize],
        };
        for c in &cs.changes {
            match c {
                Change::CreateIncident { temp, state } => {
                    assert_eq!(*temp as usize, applied.incident_ids.len(), "temps in order");
                    let id = self.incidents.len() as i64 + 1;
                    applied.incident_ids.push(id);
                    self.incidents.insert(
                        id,
                        Stored {
                            alerts: vec![],
                            state: state.clone(),
                            status: IncidentStatus::Active,
                            assigned_to: None,
                            classification: Classification::Unknown,
                            redirect: None,
                            stages: vec![],
                        },
                    );
                }
                Change::InsertAlert { alert, incident } => {
                    let id = id_of(incident, &applied);
                    let inc = self
                        .incidents
                        .get_mut(&id)
                        .expect("alert to a known incident");
                    assert!(
                        inc.status.is_open(),
                        "alert sent to {:?} incident {id}",
                        inc.status
                    );
                    inc.alerts.push(alert.description.clone());
                    if !inc.stages.contains(&alert.stage) {
                        inc.stages.push(alert.stage);
                    }
                    applied.alert_ids.push(applied.alert_ids.len() as i64 + 1);
                }
                Change::UpdateIncident { incident, state } => {
                    let id = id_of(incident, &applied);
                    let inc = self.incidents.get_mut(&id).expect("known incident");
                    assert!(inc.status != IncidentStatus::Redirected);
                    inc.state = state.clone();
                }
                Change::Merge { from, into, state } => {
                    let into = id_of(into, &applied);
                    assert_ne!(*from, into);
                    let f = self.incidents.get_mut(from).expect("known from");
                    assert!(f.status.is_open(), "merging a {:?} incident", f.status);
                    f.status = IncidentStatus::Redirected;
                    f.redirect = Some(into);
                    let moved = std::mem::take(&mut f.alerts);
                    let stages = f.stages.clone();
                    let t = self.incidents.get_mut(&into).expect("known into");
                    t.alerts.extend(moved);
                    t.stages.extend(stages);
                    t.state = state.clone();
                    self.merges += 1;
                }
                Change::Audit(a) => self.audits.push(a.clone()),
            }
        }
        for inc in self.incidents.values() {
            let sum: u32 = inc.state.priority_reasons.iter().map(|r| r.points).sum();
            assert_eq!(sum, inc.state.priority, "priority reasons sum to the score");
            assert!(inc.state.priority <= 100);
        }
        applied
    }

    fn incident(&self, id: i64) -> Incident {
        let s = &self.incidents[&id];
        Incident {
            id,
            title: s.state.title.clone(),
            severity: s.state.severity,
            status: s.status,
            assigned_to: s.assigned_to.clone(),
            classification: s.classification,
            determination: Determination::NotAvailable,
            tags: vec![],
            created_at: Timestamp::default(),
            updated_at: Timestamp::default(),
            first_activity: s.state.first_activity,
            last_activity: s.state.last_activity,
            priority: s.state.priority,
            priority_reasons: s.state.priority_reasons.clone(),
            entities: s.state.entities.clone(),
            alert_count: s.state.alert_count,
            redirect_to: s.redirect,
        }
    }

    fn summaries(&self) -> Vec<IncidentSummary> {
        self.incidents
            .iter()
            .filter(|(_, s)| s.status != IncidentStatus::Redirected)
            .map(|(id, s)| IncidentSummary {
                incident: self.incident(*id),
                stages: s.stages.clone(),
            })
            .collect()
    }

    /// One line per incident: `#id Status [alerts] sev title`, or `#id -> #into`.
    fn render(&self) -> String {
        let mut out = String::new();
        for (id, s) in &self.incidents {
            if let Some(into) = s.redirect {
                out.push_str(&format!("#{id} -> #{into}\n"));
                continue;
            }
            assert_eq!(
                s.alerts.len() as u32,
                s.state.alert_count,
                "alert count of #{id}"
            );
            out.push_str(&format!(
                "#{id} {} [{}] {} {}\n",
                s.status,
                s.alerts.join(" "),
                s.state.severity,
                s.state.title
            ));
        }
        out
    }
}

/// A step of a scenario: a batch of alerts, or a person changing an incident.
enum Step {
    Batch(Vec<AlertDraft>),
    Human(i64, fn(&mut Stored)),
}

fn run(cfg: CorrelateConfig, steps: Vec<Step>) -> (FakeStore, Correlator) {
    let mut store = FakeStore::default();
    let mut c = Correlator::new(cfg);
    for step in steps {
        match step {
            Step::Batch(alerts) => {
                let cs = c.correlate(alerts);
                let applied = store.apply(&cs);
                c.confirm(&applied);
            }
            Step::Human(id, f) => {
                if let Some(s) = store.incidents.get_mut(&id) {
                    f(s);
                }
                c.on_incident_changed(&store.incident(id));
            }
        }
    }
    (store, c)
}

fn check(steps: Vec<Step>, expected: &str) {
    check_cfg(CorrelateConfig::default(), steps, expected);
}

fn check_cfg(cfg: CorrelateConfig, steps: Vec<Step>, expected: &str) {
    let (store, _) = run(cfg, steps);
    assert_eq!(store.render(), expected.trim_start());
}

const A: &str = "203.0.113.9";
const B: &str = "198.51.100.7";

fn ip(x: &str) -> String {
    format!("ip={x}")
}

#[test]
fn alerts_sharing_an_attacker_become_one_incident() {
    check(
        vec![Step::Batch(vec![
            al("a0", 0, "API_ParameterEnumeration", Medium, Exploitation, &format!("{},ep=GET /api/users/{{id}}", ip(A))),
            al("a1", 30, "API_ParameterEnumeration", High, Exploitation, &format!("{},ep=GET /api/orders/{{id}}", ip(A))),
        ])],
        "#1 Active [a0 a1] High API_ParameterEnumeration on GET /api/users/{id} from 203.0.113.9 and 1 more alert\n",
    );
}

#[test]
fn shared_user_or_key_joins_across_ips() {
    check(
        vec![Step::Batch(vec![
            al(
                "a0",
                0,
                "D1",
                Low,
                Exploitation,
                &format!("{},user=alice", ip(A)),
            ),
            al(
                "a1",
                1,
                "D2",
                Low,
                Exploitation,
                &format!("{},user=alice", ip(B)),
            ),
            al("a2", 2, "D3", Low, Exploitation, "ip=192.0.2.1,key=k1"),
            al("a3", 3, "D4", Low, Exploitation, "ip=192.0.2.2,key=k1"),
        ])],
        "
#1 Active [a0 a1] Low D1 from 203.0.113.9 and 1 more alert
#2 Active [a2 a3] Low D3 from 192.0.2.1 and 1 more alert
",
    );
}

#[test]
fn unrelated_alerts_stay_apart() {
    check(
        vec![Step::Batch(vec![
            al(
                "a0",
                0,
                "D1",
                Low,
                Exploitation,
                &format!("{},ep=GET /a", ip(A)),
            ),
            al(
                "a1",
                1,
                "D2",
                Medium,
                Exploitation,
                &format!("{},ep=GET /b", ip(B)),
            ),
            al("a2", 2, "D1", Low, Exploitation, "user=carol,ep=GET /c"),
        ])],
        "
#1 Active [a0] Low D1 on GET /a from 203.0.113.9
#2 Active [a1] Medium D2 on GET /b from 198.51.100.7
#3 Active [a2] Low D1 on GET /c from carol
",
    );
}

#[test]
fn window_expiry_starts_a_new_incident() {
    check(
        vec![
            Step::Batch(vec![al("a0", 0, "D1", Low, Exploitation, &ip(A))]),
            // 5h later: inside the 6h window.
            Step::Batch(vec![al("a1", 300, "D1", Low, Exploitation, &ip(A))]),
            // 7h after the last activity: a new incident.
            Step::Batch(vec![al("a2", 301 + 420, "D1", Low, Exploitation, &ip(A))]),
        ],
        "
#1 Active [a0 a1] Low D1 from 203.0.113.9 and 1 more alert
#2 Active [a2] Low D1 from 203.0.113.9
",
    );
}

#[test]
fn a_shared_target_alone_does_not_merge_actors_unless_distributed_join() {
    let batch = || {
        Step::Batch(vec![
            al(
                "a0",
                0,
                "API_CredentialStuffing",
                High,
                CredentialAccess,
                "ip=192.0.2.1,ep=POST /login",
            ),
            al(
                "a1",
                5,
                "API_CredentialStuffing",
                High,
                CredentialAccess,
                "ip=192.0.2.2,ep=POST /login",
            ),
            al(
                "a2",
                9,
                "API_CredentialStuffing",
                High,
                CredentialAccess,
                "ip=192.0.2.3,ep=POST /login",
            ),
            al(
                "a3",
                9,
                "API_Other",
                High,
                CredentialAccess,
                "ip=192.0.2.4,ep=POST /login",
            ),
        ])
    };
    // By default a shared target alone does not link independent actors.
    check(
        vec![batch()],
        "
#1 Active [a0] High API_CredentialStuffing on POST /login from 192.0.2.1
#2 Active [a1] High API_CredentialStuffing on POST /login from 192.0.2.2
#3 Active [a2] High API_CredentialStuffing on POST /login from 192.0.2.3
#4 Active [a3] High API_Other on POST /login from 192.0.2.4
",
    );
    check_cfg(
        CorrelateConfig {
            distributed_join: true,
            ..Default::default()
        },
        vec![batch()],
        "
#1 Active [a0 a1 a2] High API_CredentialStuffing on POST /login from 3 IPs and 2 more alerts
#2 Active [a3] High API_Other on POST /login from 192.0.2.4
",
    );
}

#[test]
fn ip_prefix_groups_a_range() {
    let steps = || {
        vec![Step::Batch(vec![
            al("a0", 0, "D1", Low, Exploitation, "ip=203.0.113.9"),
            al("a1", 1, "D2", Low, Exploitation, "ip=203.0.113.77"),
            al("a2", 2, "D3", Low, Exploitation, "ip=2001:db8::1"),
            al("a3", 3, "D4", Low, Exploitation, "ip=2001:db8::ff"),
        ])]
    };
    check_cfg(
        CorrelateConfig {
            group_ipv4_prefix: Some(24),
            group_ipv6_prefix: Some(64),
            ..Default::default()
        },
        steps(),
        "
#1 Active [a0 a1] Low D1 from 203.0.113.9 and 1 more alert
#2 Active [a2 a3] Low D3 from 2001:db8::1 and 1 more alert
",
    );
    let (store, _) = run(CorrelateConfig::default(), steps());
    assert_eq!(store.incidents.len(), 4, "exact addresses by default");
}

#[test]
fn multi_stage_attack_is_linked_and_titled() {
    check(
        vec![
            Step::Batch(vec![al("a0", 0, "API_Scanner", Low, Recon, &format!("{},ep=GET /", ip(A)))]),
            Step::Batch(vec![al("a1", 20, "API_SQLi", High, Exploitation, &format!("{},ep=GET /api/search", ip(A)))]),
            Step::Batch(vec![al("a2", 40, "API_DataExfil", Medium, DataAccess, &format!("{},ep=GET /api/export", ip(A)))]),
        ],
        "#1 Active [a0 a1 a2] High Multi-stage attack by 203.0.113.9: recon → exploitation → data access\n",
    );
}

#[test]
fn multi_stage_raises_priority() {
    let (store, _) = run(
        CorrelateConfig::default(),
        vec![Step::Batch(vec![
            al("a0", 0, "D1", High, Recon, &ip(A)),
            al("a1", 1, "D2", High, Exploitation, &ip(A)),
            al("a2", 2, "D3", High, DataAccess, &ip(A)),
            al("b0", 0, "D1", High, Exploitation, &ip(B)),
        ])],
    );
    let multi = &store.incidents[&1].state;
    let single = &store.incidents[&2].state;
    assert!(
        multi.priority > single.priority,
        "{} > {}",
        multi.priority,
        single.priority
    );
    assert!(multi
        .priority_reasons
        .iter()
        .any(|r| r.reason.contains("3 attack stages")));
    assert!(multi
        .priority_reasons
        .iter()
        .any(|r| r.reason.contains("data access")));
}

#[test]
fn an_alert_bridging_two_incidents_merges_them() {
    let (store, _) = run(
        CorrelateConfig::default(),
        vec![
            Step::Batch(vec![
                al("a0", 0, "D1", Medium, Exploitation, &ip(A)),
                al(
                    "a1",
                    1,
                    "D2",
                    High,
                    Exploitation,
                    &format!("{},user=bob", ip(B)),
                ),
            ]),
            Step::Batch(vec![al(
                "a2",
                2,
                "D3",
                Low,
                Exploitation,
                &format!("{},user=bob", ip(A)),
            )]),
            // After the merge, alerts of #2's actors go to #1.
            Step::Batch(vec![al("a3", 3, "D4", Low, Exploitation, &ip(B))]),
        ],
    );
    assert_eq!(
        store.render(),
        "#1 Active [a0 a1 a2 a3] High D1 from 203.0.113.9 and 3 more alerts\n#2 -> #1\n"
    );
    assert_eq!(store.merges, 1);
    let merge_audits: Vec<_> = store
        .audits
        .iter()
        .filter(|a| a.action == "incident.merge")
        .collect();
    assert_eq!(merge_audits.len(), 1);
    assert_eq!(merge_audits[0].object_id, "2");
    assert_eq!(merge_audits[0].actor, AUDIT_ACTOR);
}

#[test]
fn bridging_within_one_batch_folds_new_incidents() {
    let c = {
        let mut c = Correlator::new(CorrelateConfig::default());
        let cs = c.correlate(vec![
            al("a0", 0, "D1", Low, Exploitation, &ip(A)),
            al("a1", 1, "D2", Low, Exploitation, &ip(B)),
            al(
                "a2",
                2,
                "D3",
                Low,
                Exploitation,
                &format!("{},{}", ip(A), ip(B)),
            ),
        ]);
        cs
    };
    let creates = c
        .changes
        .iter()
        .filter(|x| matches!(x, Change::CreateIncident { .. }))
        .count();
    let merges = c
        .changes
        .iter()
        .filter(|x| matches!(x, Change::Merge { .. }))
        .count();
    let inserts: Vec<IncidentRef> = c
        .changes
        .iter()
        .filter_map(|x| match x {
            Change::InsertAlert { incident, .. } => Some(*incident),
            _ => None,
        })
        .collect();
    assert_eq!((creates, merges), (1, 0));
    assert_eq!(inserts, vec![IncidentRef::New(0); 3]);
}

fn assign(owner: &'static str) -> fn(&mut Stored) {
    match owner {
        "alice" => |s: &mut Stored| s.assigned_to = Some("alice".into()),
        _ => |s: &mut Stored| s.assigned_to = Some("bob".into()),
    }
}

fn bridge_steps(h1: fn(&mut Stored), h2: fn(&mut Stored)) -> Vec<Step> {
    vec![
        Step::Batch(vec![
            al("a0", 0, "D1", Low, Exploitation, &ip(A)),
            al("a1", 1, "D2", Low, Exploitation, &ip(B)),
        ]),
        Step::Human(1, h1),
        Step::Human(2, h2),
        Step::Batch(vec![al(
            "a2",
            2,
            "D3",
            Low,
            Exploitation,
            &format!("{},{}", ip(A), ip(B)),
        )]),
    ]
}

#[test]
fn merge_refusals_attach_to_one_incident_only() {
    fn noop(_: &mut Stored) {}
    fn tp(s: &mut Stored) {
        s.classification = Classification::TruePositive;
    }
    fn fp(s: &mut Stored) {
        s.classification = Classification::FalsePositive;
    }
    fn resolve(s: &mut Stored) {
        s.status = IncidentStatus::Resolved;
    }
    fn in_progress(s: &mut Stored) {
        s.status = IncidentStatus::InProgress;
    }
    type Case = (&'static str, fn(&mut Stored), fn(&mut Stored), &'static str);
    let cases: Vec<Case> = vec![
        (
            "different owners",
            assign("alice"),
            assign("bob"),
            "#1 Active [a0 a2] Low D1 from 203.0.113.9 and 1 more alert\n#2 Active [a1] Low D2 from 198.51.100.7\n",
        ),
        (
            "same owner merges",
            assign("alice"),
            assign("alice"),
            "#1 Active [a0 a1 a2] Low D1 from 203.0.113.9 and 2 more alerts\n#2 -> #1\n",
        ),
        (
            "different classifications",
            tp,
            fp,
            "#1 Active [a0 a2] Low D1 from 203.0.113.9 and 1 more alert\n#2 Active [a1] Low D2 from 198.51.100.7\n",
        ),
        (
            "unknown classification merges",
            tp,
            noop,
            "#1 Active [a0 a1 a2] Low D1 from 203.0.113.9 and 2 more alerts\n#2 -> #1\n",
        ),
        (
            "resolved never receives or merges",
            resolve,
            noop,
            "#1 Resolved [a0] Low D1 from 203.0.113.9\n#2 Active [a1 a2] Low D2 from 198.51.100.7 and 1 more alert\n",
        ),
        (
            "worked incident is the target",
            noop,
            in_progress,
            "#1 -> #2\n#2 InProgress [a1 a0 a2] Low D2 from 198.51.100.7 and 2 more alerts\n",
        ),
    ];
    for (name, h1, h2, expected) in cases {
        let (store, _) = run(CorrelateConfig::default(), bridge_steps(h1, h2));
        assert_eq!(store.render(), expected, "case {name}");
    }
}

#[test]
fn resolved_incident_gets_a_new_incident_instead() {
    fn resolve(s: &mut Stored) {
        s.status = IncidentStatus::Resolved;
    }
    check(
        vec![
            Step::Batch(vec![al("a0", 0, "D1", Low, Exploitation, &ip(A))]),
            Step::Human(1, resolve),
            Step::Batch(vec![al("a1", 1, "D1", Low, Exploitation, &ip(A))]),
        ],
        "#1 Resolved [a0] Low D1 from 203.0.113.9\n#2 Active [a1] Low D1 from 203.0.113.9\n",
    );
}

#[test]
fn manually_redirected_incident_never_receives_alerts() {
    fn redirect(s: &mut Stored) {
        s.status = IncidentStatus::Redirected;
        s.redirect = Some(1);
    }
    let (store, c) = run(
        CorrelateConfig::default(),
        vec![
            Step::Batch(vec![
                al("a0", 0, "D1", Low, Exploitation, &ip(A)),
                al("a1", 1, "D2", Low, Exploitation, &ip(B)),
            ]),
            Step::Human(2, redirect),
            Step::Batch(vec![al("a2", 2, "D2", Low, Exploitation, &ip(B))]),
        ],
    );
    // a1 stays on #2 in the fake store (it does not move alerts on a human merge); a2 goes to #1.
    assert_eq!(store.incidents[&1].alerts, vec!["a0", "a2"]);
    assert_eq!(store.incidents[&2].alerts, vec!["a1"]);
    assert_eq!(
        c.merge_plan(&store.incident(2), &store.incident(1)),
        Err(MergeRefusal::Redirected(2))
    );
}

fn inc(id: i64, status: IncidentStatus, owner: Option<&str>, class: Classification) -> Incident {
    let mut s = FakeStore::default();
    s.incidents.insert(
        id,
        Stored {
            alerts: vec![],
            state: IncidentState {
                title: format!("D{id} from 192.0.2.{id}"),
                severity: Severity::Low,
                entities: vec![Entity::attacker_ip(format!("192.0.2.{id}"))],
                first_activity: Timestamp::from_millis(0),
                last_activity: Timestamp::from_millis(MIN),
                alert_count: 1,
                priority: 10,
                priority_reasons: vec![],
            },
            status,
            assigned_to: owner.map(str::to_string),
            classification: class,
            redirect: None,
            stages: vec![],
        },
    );
    s.incident(id)
}

#[test]
fn check_merge_rules() {
    use Classification::*;
    use IncidentStatus::*;
    let cases: Vec<(Incident, Incident, Result<(), MergeRefusal>)> = vec![
        (
            inc(1, Active, None, Unknown),
            inc(2, Active, None, Unknown),
            Ok(()),
        ),
        (
            inc(1, Active, None, Unknown),
            inc(1, Active, None, Unknown),
            Err(MergeRefusal::SameIncident),
        ),
        (
            inc(1, Resolved, None, Unknown),
            inc(2, Active, None, Unknown),
            Err(MergeRefusal::Resolved(1)),
        ),
        (
            inc(1, Active, None, Unknown),
            inc(2, Resolved, None, Unknown),
            Err(MergeRefusal::Resolved(2)),
        ),
        (
            inc(1, Redirected, None, Unknown),
            inc(2, Active, None, Unknown),
            Err(MergeRefusal::Redirected(1)),
        ),
        (
            inc(1, InProgress, Some("a"), Unknown),
            inc(2, Active, None, Unknown),
            Ok(()),
        ),
        (
            inc(1, InProgress, Some("a"), Unknown),
            inc(2, Active, Some("a"), Unknown),
            Ok(()),
        ),
        (
            inc(1, Active, Some("a"), Unknown),
            inc(2, Active, Some("b"), Unknown),
            Err(MergeRefusal::DifferentOwners {
                a: "a".into(),
                b: "b".into(),
            }),
        ),
        (
            inc(1, Active, None, TruePositive),
            inc(2, Active, None, FalsePositive),
            Err(MergeRefusal::DifferentClassifications {
                a: TruePositive,
                b: FalsePositive,
            }),
        ),
        (
            inc(1, Active, None, TruePositive),
            inc(2, Active, None, Unknown),
            Ok(()),
        ),
    ];
    for (a, b, expected) in cases {
        assert_eq!(
            check_merge(&a, &b),
            expected,
            "merge {} into {}",
            a.id,
            b.id
        );
    }
    assert_eq!(
        MergeRefusal::DifferentOwners {
            a: "a".into(),
            b: "b".into()
        }
        .to_string(),
        "incidents are assigned to different owners (a and b)"
    );
}

#[test]
fn merge_plan_combines_both_incidents() {
    let c = Correlator::new(CorrelateConfig::default());
    let from = inc(1, IncidentStatus::Active, None, Classification::Unknown);
    let mut into = inc(2, IncidentStatus::Active, None, Classification::Unknown);
    into.severity = Severity::High;
    let state = c.merge_plan(&from, &into).expect("mergeable");
    assert_eq!(state.alert_count, 2);
    assert_eq!(state.severity, Severity::High);
    assert_eq!(state.entities.len(), 2);
    assert_eq!(state.title, "D2 from 192.0.2.2 and 1 more alert");
    let sum: u32 = state.priority_reasons.iter().map(|r| r.points).sum();
    assert_eq!(sum, state.priority);
}

#[test]
fn seed_and_confirm_round_trip() {
    let (store, _) = run(
        CorrelateConfig::default(),
        vec![Step::Batch(vec![
            al("a0", 0, "D1", Medium, Recon, &ip(A)),
            al("a1", 1, "D2", Low, Exploitation, &ip(B)),
        ])],
    );
    // Restart: a fresh correlator resumes from the store.
    let mut c = Correlator::new(CorrelateConfig::default());
    c.seed(store.summaries());
    assert_eq!(c.tracked_count(), 2);
    let cs = c.correlate(vec![al("a2", 10, "D3", High, Exploitation, &ip(A))]);
    let refs: Vec<String> = cs
        .changes
        .iter()
        .map(|ch| match ch {
            Change::CreateIncident { temp, .. } => format!("create {temp}"),
            Change::InsertAlert { incident, .. } => format!("insert {incident:?}"),
            Change::UpdateIncident { incident, state } => {
                format!("update {incident:?} {}", state.title)
            }
            Change::Merge { from, .. } => format!("merge {from}"),
            Change::Audit(a) => format!("audit {}", a.action),
        })
        .collect();
    assert_eq!(
        refs,
        vec![
            "insert Existing(1)",
            "update Existing(1) Multi-stage attack by 203.0.113.9: recon → exploitation",
        ]
    );
    // A new incident gets its id through confirm, then later alerts reference it.
    let cs = c.correlate(vec![al("a3", 11, "D4", Low, Exploitation, "ip=192.0.2.50")]);
    assert!(matches!(
        cs.changes[0],
        Change::CreateIncident { temp: 0, .. }
    ));
    c.confirm(&AppliedChanges {
        incident_ids: vec![77],
        alert_ids: vec![5],
    });
    let cs = c.correlate(vec![al("a4", 12, "D4", Low, Exploitation, "ip=192.0.2.50")]);
    assert!(cs.changes.iter().any(|ch| matches!(
        ch,
        Change::InsertAlert {
            incident: IncidentRef::Existing(77),
            ..
        }
    )));
}

#[test]
fn unconfirmed_incidents_are_forgotten() {
    let mut c = Correlator::new(CorrelateConfig::default());
    let _ = c.correlate(vec![al("a0", 0, "D1", Low, Exploitation, &ip(A))]);
    // The apply failed: no confirm. The next set must not reference the lost incident.
    let cs = c.correlate(vec![al("a1", 1, "D1", Low, Exploitation, &ip(A))]);
    assert!(matches!(
        cs.changes[0],
        Change::CreateIncident { temp: 0, .. }
    ));
    assert_eq!(c.tracked_count(), 1);
}

#[test]
fn every_create_and_merge_is_audited() {
    let (store, _) = run(
        CorrelateConfig::default(),
        vec![
            Step::Batch(vec![
                al("a0", 0, "D1", Low, Exploitation, &ip(A)),
                al("a1", 1, "D2", Low, Exploitation, &ip(B)),
            ]),
            Step::Batch(vec![al(
                "a2",
                2,
                "D3",
                Low,
                Exploitation,
                &format!("{},{}", ip(A), ip(B)),
            )]),
        ],
    );
    let actions: Vec<&str> = store.audits.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(
        actions,
        vec!["incident.create", "incident.create", "incident.merge"]
    );
    assert!(store
        .audits
        .iter()
        .all(|a| a.actor == AUDIT_ACTOR && a.object_type == "incident"));
}

#[test]
fn severity_is_the_highest_and_sigma_counts() {
    let mut sigma = al("a1", 1, "sigma", Critical, Exploitation, &ip(A));
    sigma.source = AlertSource::Sigma(SigmaRuleRef {
        title: "x".into(),
        ..Default::default()
    });
    let (store, _) = run(
        CorrelateConfig::default(),
        vec![Step::Batch(vec![
            al("a0", 0, "D1", Low, Exploitation, &ip(A)),
            sigma,
            al("a2", 2, "D2", Medium, Exploitation, &ip(A)),
        ])],
    );
    let st = &store.incidents[&1].state;
    assert_eq!(st.severity, Critical);
    let reasons: Vec<&str> = st
        .priority_reasons
        .iter()
        .map(|r| r.reason.as_str())
        .collect();
    assert_eq!(
        reasons,
        vec![
            "severity Critical",
            "3 correlated alerts",
            priority::SIGMA_REASON,
            priority::CRITICAL_REASON
        ]
    );
}

#[test]
fn analyst_severity_is_kept() {
    fn raise(s: &mut Stored) {
        s.state.severity = Severity::Critical;
    }
    check(
        vec![
            Step::Batch(vec![al("a0", 0, "D1", Low, Exploitation, &ip(A))]),
            Step::Human(1, raise),
            Step::Batch(vec![al("a1", 1, "D1", Medium, Exploitation, &ip(A))]),
        ],
        "#1 Active [a0 a1] Critical D1 from 203.0.113.9 and 1 more alert\n",
    );
}

#[test]
fn state_is_bounded() {
    let mut c = Correlator::new(CorrelateConfig {
        max_entities: 100,
        max_incidents: 50,
        distributed_join: true,
        ..Default::default()
    });
    let alerts: Vec<AlertDraft> = (0..300)
        .map(|i| {
            al(
                "x",
                0,
                "D1",
                Low,
                Exploitation,
                &format!("ip=10.0.{}.{},ep=POST /login", i / 250, i % 250),
            )
        })
        .collect();
    let cs = c.correlate(alerts);
    let applied = FakeStore::default().apply(&cs);
    c.confirm(&applied);
    assert_eq!(applied.incident_ids.len(), 1, "one distributed incident");
    let Some(Change::CreateIncident { state, .. }) = cs.changes.first() else {
        panic!("expected a create first, got {:?}", cs.changes.first());
    };
    assert_eq!(state.entities.len(), 100, "entities capped");
    assert_eq!(state.alert_count, 300);
    // Many unrelated incidents: at most max_incidents stay in memory.
    let alerts: Vec<AlertDraft> = (0..200)
        .map(|i| {
            al(
                "y",
                10 + i,
                &format!("X{i}"),
                Low,
                Exploitation,
                &format!("ip=172.16.0.{i}"),
            )
        })
        .collect();
    let cs = c.correlate(alerts);
    let applied = FakeStore::default().apply(&cs);
    c.confirm(&applied);
    assert!(c.tracked_count() <= 50 + 200, "pending kept until confirm");
    let _ = c.correlate(vec![]);
    assert!(c.tracked_count() <= 50, "tracked {}", c.tracked_count());
    // Window expiry relative to the newest event time.
    let _ = c.correlate(vec![al(
        "z",
        100_000,
        "Z",
        Low,
        Exploitation,
        "ip=192.0.2.99",
    )]);
    c.confirm(&AppliedChanges {
        incident_ids: vec![1],
        alert_ids: vec![],
    });
    assert_eq!(c.tracked_count(), 1);
}

fn hinted(mut a: AlertDraft, incident: i64) -> AlertDraft {
    a.incident_hint = Some(incident);
    a
}

#[test]
fn a_hinted_alert_joins_its_incident_past_the_window_and_even_without_a_shared_actor() {
    check(
        vec![
            Step::Batch(vec![al("a0", 0, "D1", Low, Exploitation, &ip(A))]),
            // 20h later, from another address: the hint decides.
            Step::Batch(vec![hinted(
                al(
                    "a1",
                    1200,
                    "containment_reappearance",
                    High,
                    Exploitation,
                    &ip(B),
                ),
                1,
            )]),
            // Without a hint the same alert starts its own incident.
            Step::Batch(vec![al("a2", 2600, "D1", Low, Exploitation, &ip(A))]),
        ],
        "
#1 Active [a0 a1] High D1 from 203.0.113.9 and 1 more alert
#2 Active [a2] Low D1 from 203.0.113.9
",
    );
}

#[test]
fn a_hint_naming_a_resolved_incident_starts_a_new_one() {
    fn resolve(s: &mut Stored) {
        s.status = IncidentStatus::Resolved;
    }
    check(
        vec![
            Step::Batch(vec![al("a0", 0, "D1", Low, Exploitation, &ip(A))]),
            Step::Human(1, resolve),
            Step::Batch(vec![hinted(
                al("a1", 1, "D1", Low, Exploitation, &ip(A)),
                1,
            )]),
        ],
        "#1 Resolved [a0] Low D1 from 203.0.113.9\n#2 Active [a1] Low D1 from 203.0.113.9\n",
    );
}
