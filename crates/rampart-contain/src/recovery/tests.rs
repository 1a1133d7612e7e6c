use rampart_model::{
    AlertDraft, AlertSource, AlertStatus, AttackStage, Classification, Determination,
    IncidentStatus, Severity,
};

use super::*;

const MIN: i64 = 60_000;
/// Containment time of every action in the cases.
const T0: Timestamp = Timestamp(1_700_000_000_000);
const KEY: &str = "0123456789abcdef0123456789abcdef";

fn incident(entities: &[Entity]) -> Incident {
    Incident {
        id: 7,
        title: "t".into(),
        severity: Severity::High,
        status: IncidentStatus::Active,
        assigned_to: None,
        classification: Classification::Unknown,
        determination: Determination::NotAvailable,
        tags: vec![],
        created_at: T0,
        updated_at: T0,
        first_activity: T0,
        last_activity: T0,
        priority: 0,
        priority_reasons: vec![],
        entities: entities.to_vec(),
        alert_count: 0,
        redirect_to: None,
    }
}

fn ent(kind: EntityKind, value: &str) -> Entity {
    Entity::new(kind, value, EntityRole::Attacker)
}

fn action(id: i64, kind: ActionKind, target: &str, status: ActionStatus) -> Action {
    crate::test_support::action(id, kind, target, status, T0, 4 * 3600, true)
}

fn alert_at(e: &Entity, at: Timestamp) -> Alert {
    Alert {
        id: 1,
        incident_id: Some(7),
        status: AlertStatus::New,
        created_at: at,
        draft: AlertDraft {
            detector: "d".into(),
            title: "t".into(),
            description: String::new(),
            severity: Severity::High,
            mitre: vec![],
            owasp: None,
            entities: vec![e.clone()],
            evidence: vec![],
            first_seen: at,
            last_seen: at,
            reasons: vec![],
            source: AlertSource::Rampart,
            stage: AttackStage::Exploitation,
            incident_hint: None,
        },
    }
}

use ActionKind::*;
use ActionStatus::{Active, Expired, Reverted};
use EntityKind::{ApiKey, Ip, User};

/// One case: the incident's attacker entities, the actions, the last allowed event of each
/// entity (minutes after T0; `None` = none), alerts (entity index, minutes), minutes from T0
/// to now; the expected verdict and reasons (substrings, in order).
struct Case {
    name: &'static str,
    entities: &'static [(EntityKind, &'static str)],
    actions: &'static [(ActionKind, &'static str, ActionStatus)],
    allowed_at: &'static [Option<i64>],
    alerts: &'static [(usize, i64)],
    now: i64,
    want: Verdict,
    reasons: &'static [&'static str],
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    Case { name: "no attacker", entities: &[], actions: &[], allowed_at: &[], alerts: &[], now: 0,
        want: Verdict::NotContained, reasons: &["names no attacker"] },
    Case { name: "nothing done", entities: &[(Ip, "203.0.113.7")], actions: &[], allowed_at: &[None], alerts: &[], now: 10,
        want: Verdict::NotContained, reasons: &["ip 203.0.113.7 has no active action"] },
    Case { name: "blocked just now", entities: &[(Ip, "203.0.113.7")], actions: &[(BlockIp, "203.0.113.7", Active)], allowed_at: &[None], alerts: &[], now: 10,
        want: Verdict::Contained, reasons: &["every attacker entity is contained", "ip 203.0.113.7 quiet for 10m of 1h"] },
    Case { name: "blocked an hour, quiet", entities: &[(Ip, "203.0.113.7")], actions: &[(BlockIp, "203.0.113.7", Active)], allowed_at: &[Some(-5)], alerts: &[], now: 60,
        want: Verdict::Neutralized, reasons: &["none was active for 1h"] },
    Case { name: "range covers the address", entities: &[(Ip, "203.0.113.7")], actions: &[(BlockIp, "203.0.113.0/24", Active)], allowed_at: &[None], alerts: &[], now: 90,
        want: Verdict::Neutralized, reasons: &["contained"] },
    Case { name: "another range does not", entities: &[(Ip, "203.0.113.7")], actions: &[(BlockIp, "198.51.100.0/24", Active)], allowed_at: &[None], alerts: &[], now: 90,
        want: Verdict::NotContained, reasons: &["ip 203.0.113.7 has no active action"] },
    Case { name: "reverted block", entities: &[(Ip, "203.0.113.7")], actions: &[(BlockIp, "203.0.113.7", Reverted)], allowed_at: &[None], alerts: &[], now: 90,
        want: Verdict::NotContained, reasons: &["no active action"] },
    Case { name: "expired block", entities: &[(Ip, "203.0.113.7")], actions: &[(BlockIp, "203.0.113.7", Expired)], allowed_at: &[None], alerts: &[], now: 300,
        want: Verdict::NotContained, reasons: &["no active action"] },
    Case { name: "rate limit is partial", entities: &[(Ip, "203.0.113.7")], actions: &[(RateLimit, "ip:203.0.113.7", Active)], allowed_at: &[None], alerts: &[], now: 90,
        want: Verdict::NotContained, reasons: &["only partly covered"] },
    Case { name: "one of two actors", entities: &[(Ip, "203.0.113.7"), (User, "mallory")], actions: &[(BlockIp, "203.0.113.7", Active)], allowed_at: &[None, None], alerts: &[], now: 90,
        want: Verdict::NotContained, reasons: &["principal mallory has no active action"] },
    Case { name: "key and principal disabled", entities: &[(ApiKey, KEY), (User, "mallory")], actions: &[(DisableApiKey, KEY, Active), (DisablePrincipal, "mallory", Active)], allowed_at: &[None, None], alerts: &[], now: 61,
        want: Verdict::Neutralized, reasons: &["contained"] },
    Case { name: "allowed traffic after containment", entities: &[(User, "mallory")], actions: &[(DisablePrincipal, "mallory", Active)], allowed_at: &[Some(30)], alerts: &[], now: 61,
        want: Verdict::Contained, reasons: &["contained", "principal mallory was active at", "quiet for 31m of 1h"] },
    Case { name: "active long ago after containment, quiet since", entities: &[(User, "mallory")], actions: &[(DisablePrincipal, "mallory", Active)], allowed_at: &[Some(30)], alerts: &[], now: 120,
        want: Verdict::Neutralized, reasons: &["none was active", "was active at"] },
    Case { name: "a new alert after containment", entities: &[(User, "mallory")], actions: &[(DisablePrincipal, "mallory", Active)], allowed_at: &[None], alerts: &[(0, 50)], now: 70,
        want: Verdict::Contained, reasons: &["contained", "was active at", "quiet for 20m of 1h"] },
    Case { name: "alerts before containment do not count", entities: &[(User, "mallory")], actions: &[(DisablePrincipal, "mallory", Active)], allowed_at: &[None], alerts: &[(0, -30)], now: 61,
        want: Verdict::Neutralized, reasons: &["none was active"] },
];

#[test]
fn verdicts() {
    for c in CASES {
        let entities: Vec<Entity> = c.entities.iter().map(|(k, v)| ent(*k, v)).collect();
        let actions: Vec<Action> = c
            .actions
            .iter()
            .enumerate()
            .map(|(i, (k, t, s))| action(i as i64 + 1, *k, t, *s))
            .collect();
        let alerts: Vec<Alert> = c
            .alerts
            .iter()
            .map(|(i, m)| alert_at(&entities[*i], T0.add_millis(m * MIN)))
            .collect();
        let activity = |e: &Entity| {
            let i = entities.iter().position(|x| x == e).unwrap();
            let at = c.allowed_at[i].map(|m| T0.add_millis(m * MIN));
            EntityActivity {
                last_seen: at,
                last_allowed: at,
            }
        };
        let got = assess(
            &incident(&entities),
            &alerts,
            &actions,
            activity,
            T0.add_millis(c.now * MIN),
            3600,
        );
        assert_eq!(got.verdict, c.want, "{}: {:?}", c.name, got.reasons);
        assert_eq!(
            got.reasons.len(),
            c.reasons.len(),
            "{}: {:?}",
            c.name,
            got.reasons
        );
        for (r, w) in got.reasons.iter().zip(c.reasons) {
            assert!(r.contains(w), "{}: {r:?} lacks {w:?}", c.name);
        }
        assert_eq!(got.quiet_period, "1h");
    }
}

#[test]
fn entities_carry_their_actions_and_denied_counts() {
    let ip = ent(Ip, "203.0.113.7");
    let mut block = action(1, BlockIp, "203.0.113.0/24", Active);
    block.denied = 40;
    block.last_denied = Some(T0.add_millis(5 * MIN));
    let mut old = action(2, BlockIp, "203.0.113.7", Expired);
    old.denied = 2;
    let unrelated = action(3, DisablePrincipal, "bob", Active);
    let mut scoped = action(4, BlockIp, "203.0.113.7", Active);
    scoped.action.scope.host = Some("api.example.com".into());
    let victim = Entity::new(User, "alice", EntityRole::Target);
    let got = assess(
        &incident(&[ip.clone(), victim, ip.clone()]),
        &[],
        &[block, old, unrelated, scoped],
        |_| EntityActivity {
            last_seen: Some(T0.add_millis(6 * MIN)),
            last_allowed: None,
        },
        T0.add_millis(10 * MIN),
        3600,
    );
    assert_eq!(
        got.entities.len(),
        1,
        "the targeted principal is not an attacker"
    );
    let e = &got.entities[0];
    assert!(e.contained);
    assert_eq!(e.contained_since, Some(T0));
    assert_eq!(
        e.actions
            .iter()
            .map(|a| (a.id, a.active, a.coverage))
            .collect::<Vec<_>>(),
        vec![
            (4, true, Coverage::Partial),
            (2, false, Coverage::Full),
            (1, true, Coverage::Full)
        ]
    );
    assert_eq!(e.denied_since_containment, 42);
    assert_eq!(e.last_denied, Some(T0.add_millis(5 * MIN)));
    assert_eq!(e.last_seen, Some(T0.add_millis(6 * MIN)));
    assert_eq!(e.last_active, None, "denied traffic is not activity");
    let json = serde_json::to_value(&got).unwrap();
    assert_eq!(json["verdict"], "contained");
    assert_eq!(json["entities"][0]["kind"], "ip");
}

#[test]
fn seeded_checklist_follows_what_was_attacked() {
    let key = ent(ApiKey, KEY);
    let user = ent(User, "mallory");
    let ip = ent(Ip, "203.0.113.7");
    let victim = Entity::new(User, "alice", EntityRole::Target);
    let inc = incident(&[ip.clone(), key.clone(), user.clone(), victim]);
    let access = vec![ActorAccess {
        method: "GET".into(),
        path: "/api/v1/users/42".into(),
        requests: 12,
        last: T0,
    }];
    let accessed = vec![(user.clone(), access), (ip.clone(), vec![])];
    let no_actions = seed_tasks(&inc, &[], &accessed);
    let summary = |tasks: &[NewTask]| {
        tasks
            .iter()
            .map(|t| format!("{} {}", t.kind, t.title))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        summary(&no_actions),
        vec![
            format!("rotate_key rotate API key {KEY}"),
            "reset_password reset credentials of mallory".into(),
            "review_access review what principal mallory read".into(),
        ]
    );
    assert_eq!(
        no_actions[2].detail,
        "GET /api/v1/users/42 (12 x 2xx, last 2023-11-14T22:13:20.000Z)"
    );
    assert_eq!(no_actions[1].entity.as_ref(), Some(&user));
    let with = seed_tasks(
        &inc,
        &[action(9, BlockIp, "203.0.113.7", Active)],
        &accessed,
    );
    assert_eq!(with.len(), 4);
    assert_eq!(with[3].kind, TaskKind::RevertActions);
    assert_eq!(with[3].detail, "action 9: block_ip 203.0.113.7 (active)");
    assert_eq!(with[3].dedupe_key().as_deref(), Some("revert_actions"));
}
