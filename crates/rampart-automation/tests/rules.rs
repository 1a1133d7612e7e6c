//! Automation rules, table-driven: a document, a trigger on an incident (with an update for
//! `incident_updated`), and the steps expected in order. Then the documents that must be
//! refused, each with the field path and line its error names.

use rampart_automation::{
    parse_document, run, Action, Actor, Change, Changeable, DocumentError, Subject, Trigger,
    Update, MAX_CHAIN,
};
use rampart_model::{
    AlertDraft, Classification, Entity, EntityKind, EntityRole, Incident, IncidentStatus, Severity,
    Timestamp,
};

fn now() -> Timestamp {
    Timestamp::parse_rfc3339("2026-12-01T12:00:00Z").expect("time")
}

fn incident() -> Incident {
    Incident {
        id: 7,
        title: "Credential stuffing against POST /login from 203.0.113.9".into(),
        severity: Severity::Medium,
        status: IncidentStatus::Active,
        assigned_to: None,
        classification: Classification::Unknown,
        determination: rampart_model::Determination::NotAvailable,
        tags: vec!["api".into()],
        created_at: now(),
        updated_at: now(),
        first_activity: now(),
        last_activity: now(),
        priority: 40,
        priority_reasons: Vec::new(),
        entities: vec![
            Entity::new(EntityKind::Ip, "203.0.113.9", EntityRole::Attacker),
            Entity::new(EntityKind::Endpoint, "POST /login", EntityRole::Target),
        ],
        alert_count: 1,
        redirect_to: None,
    }
}

fn alert() -> AlertDraft {
    serde_json::from_value(serde_json::json!({
        "detector": "credential_stuffing",
        "title": "Credential stuffing",
        "description": "many failed logins",
        "severity": "Medium",
        "mitre": ["T1110.004"],
        "owasp": "API2:2023",
        "entities": [{"kind": "user", "value": "alice@example.com", "role": "attacker"}],
        "evidence": [],
        "first_seen": "2026-12-01T11:00:00Z",
        "last_seen": "2026-12-01T11:05:00Z",
    }))
    .expect("alert draft")
}

fn subject() -> Subject {
    let a = alert();
    Subject::new(&incident(), &[&a])
}

/// A step as `rule: action`.
fn describe(rule: &str, a: &Action) -> String {
    let what = match a {
        Action::Assign(o) => format!("assign {o}"),
        Action::SetStatus { status, .. } => format!("status {status}"),
        Action::SetSeverity(s) => format!("severity {s}"),
        Action::AddTags(t) => format!("tags {}", t.join(",")),
        Action::AddTask { title, .. } => format!("task {title}"),
        Action::RunPlaybook(p) => format!("playbook {p}"),
        Action::Contain { kind, .. } => format!("contain {kind}"),
        Action::Notify(w) => format!("notify {w}"),
    };
    format!("{rule}: {what}")
}

fn update(by: Actor, changes: &[(Changeable, &str, &str)], chain: u8) -> Update {
    Update {
        by,
        changes: changes
            .iter()
            .map(|(p, f, t)| Change {
                property: *p,
                from: (*f).into(),
                to: (*t).into(),
            })
            .collect(),
        chain,
    }
}

struct Case {
    name: &'static str,
    doc: &'static str,
    trigger: Trigger,
    update: Option<Update>,
    want: &'static [&'static str],
}

#[test]
fn rules_run_in_order_on_their_triggers_and_conditions() {
    let cases = vec![
        Case {
            name: "order, then name; later rules see earlier changes",
            doc: r#"
rules:
  - name: b-tag-alice
    order: 20
    triggers: [incident_created]
    conditions: {property: owner, operator: equals, value: alice}
    actions: [{add_tags: [owned]}]
  - name: a-assign
    order: 10
    triggers: [incident_created]
    actions: [{assign: alice}, {set_severity: high}]
  - name: c-high
    order: 20
    triggers: [incident_created]
    conditions: {property: severity, operator: equals, value: High}
    actions: [{add_task: {title: Reset passwords}}]
"#,
            trigger: Trigger::IncidentCreated,
            update: None,
            want: &[
                "a-assign: assign alice",
                "a-assign: severity High",
                "b-tag-alice: tags owned",
                "c-high: task Reset passwords",
            ],
        },
        Case {
            name: "triggers filter; disabled and expired rules do not run",
            doc: r#"
rules:
  - name: on-alerts
    triggers: [alert_created]
    actions: [{notify: soc}]
  - name: off
    enabled: false
    triggers: [incident_created]
    actions: [{notify: soc}]
  - name: pentest-over
    expires_at: "2026-12-01T11:59:59Z"
    triggers: [incident_created]
    actions: [{add_tags: pentest}]
  - name: pentest-on
    expires_at: "2026-12-01T12:00:01Z"
    triggers: [incident_created]
    actions: [{add_tags: pentest}]
"#,
            trigger: Trigger::IncidentCreated,
            update: None,
            want: &["pentest-on: tags pentest"],
        },
        Case {
            name: "properties of the alerts and entities; CIDR; sub-techniques; AND/OR/NOT",
            doc: r#"
rules:
  - name: internal
    triggers: [incident_created]
    conditions: {property: entity.ip, operator: in_cidr, values: [10.0.0.0/8, 192.168.0.0/16]}
    actions: [{add_tags: internal}]
  - name: external
    triggers: [incident_created]
    conditions: {property: entity.ip, operator: not_in_cidr, value: 10.0.0.0/8}
    actions: [{add_tags: external}]
  - name: brute
    triggers: [incident_created]
    conditions:
      all:
        - {property: mitre, operator: equals, value: T1110}
        - {property: owasp, operator: starts_with, value: "API2:"}
        - any:
            - {property: detector, operator: equals, value: nope}
            - {property: entity.user, operator: ends_with, value: "@EXAMPLE.com"}
        - not: {property: tag, operator: contains, value: pentest}
    actions: [{contain: {kind: block_ip, duration_secs: 3600}}, {run_playbook: credential-stuffing}]
  - name: title-words
    triggers: [incident_created]
    conditions: {property: title, operator: contains, values: [stuffing]}
    actions: [{set_status: {status: InProgress}}]
  - name: not-equals-on-lists
    triggers: [incident_created]
    conditions: {property: tag, operator: not_equals, value: api}
    actions: [{notify: never}]
"#,
            trigger: Trigger::IncidentCreated,
            update: None,
            want: &[
                "brute: contain block_ip",
                "brute: playbook credential-stuffing",
                "external: tags external",
                "title-words: status InProgress",
            ],
        },
        Case {
            name: "changed from / to on updates",
            doc: r#"
rules:
  - name: raised
    triggers: [incident_updated]
    conditions: {changed: severity, from: Low, to: High}
    actions: [{notify: raised}]
  - name: raised-from-medium
    triggers: [incident_updated]
    conditions: {changed: severity, from: Medium}
    actions: [{notify: wrong}]
  - name: to-anything
    triggers: [incident_updated]
    conditions: {changed: owner}
    actions: [{notify: owner}]
  - name: by-people
    triggers: [incident_updated]
    conditions: {updated_by: user}
    actions: [{add_tags: touched}]
"#,
            trigger: Trigger::IncidentUpdated,
            update: Some(update(
                Actor::User("bob".into()),
                &[(Changeable::Severity, "Low", "High")],
                0,
            )),
            want: &["by-people: tags touched", "raised: notify raised"],
        },
        Case {
            name: "a rule never runs on its own change; others skip rule changes by condition",
            doc: r#"
rules:
  - name: escalate
    triggers: [incident_updated]
    conditions: {changed: status}
    actions: [{set_severity: High}]
  - name: people-only
    triggers: [incident_updated]
    conditions:
      all:
        - {changed: status}
        - not: {updated_by: [rule, playbook]}
    actions: [{notify: people}]
  - name: after-escalate
    triggers: [incident_updated]
    conditions: {updated_by: "rule:escalate"}
    actions: [{notify: escalated}]
"#,
            trigger: Trigger::IncidentUpdated,
            update: Some(update(
                Actor::Rule("escalate".into()),
                &[(Changeable::Status, "Active", "InProgress")],
                1,
            )),
            want: &["after-escalate: notify escalated"],
        },
        Case {
            name: "a chain of rule-made updates stops",
            doc: r#"
rules:
  - name: ping
    triggers: [incident_updated]
    actions: [{notify: soc}]
"#,
            trigger: Trigger::IncidentUpdated,
            update: Some(update(Actor::Rule("pong".into()), &[], MAX_CHAIN)),
            want: &[],
        },
        Case {
            name: "closing with classification, determination and comment",
            doc: r#"
rules:
  - name: close-pentest
    triggers: [incident_created]
    conditions: {property: entity.ip, operator: equals, value: 203.0.113.9}
    actions:
      - set_status:
          status: Resolved
          classification: InformationalExpectedActivity
          determination: SecurityTesting
          comment: pentest window, ticket SEC-42
  - name: still-open
    order: 200
    triggers: [incident_created]
    conditions: {property: status, operator: not_equals, value: Resolved}
    actions: [{notify: open}]
"#,
            trigger: Trigger::IncidentCreated,
            update: None,
            want: &["close-pentest: status Resolved"],
        },
    ];
    for c in cases {
        let doc = parse_document(c.doc).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let plan = run(&doc.rules, c.trigger, subject(), c.update.as_ref(), now());
        let got: Vec<String> = plan
            .steps
            .iter()
            .map(|s| describe(&s.rule, &s.action))
            .collect();
        assert_eq!(got, c.want, "{}", c.name);
    }
}

#[test]
fn plans_carry_the_changed_incident_and_the_changes_per_rule() {
    let doc = parse_document(
        r#"
rules:
  - name: triage
    triggers: [incident_created]
    actions: [{assign: alice}, {set_severity: High}, {add_tags: [triaged, api]}]
"#,
    )
    .expect("valid");
    let plan = run(&doc.rules, Trigger::IncidentCreated, subject(), None, now());
    assert_eq!(plan.matched, ["triage"]);
    assert_eq!(plan.subject.owner.as_deref(), Some("alice"));
    assert_eq!(plan.subject.severity, Severity::High);
    assert_eq!(plan.subject.tags, ["api", "triaged"]);
    assert_eq!(
        plan.changes,
        [(
            "triage".to_string(),
            vec![
                Change {
                    property: Changeable::Owner,
                    from: String::new(),
                    to: "alice".into()
                },
                Change {
                    property: Changeable::Severity,
                    from: "Medium".into(),
                    to: "High".into()
                },
            ]
        )]
    );
    assert_eq!(Actor::Rule("triage".into()).audit_name(), "rule:triage");
    assert_eq!(
        Actor::from_audit_name("playbook:leaked-key"),
        Actor::Playbook("leaked-key".into())
    );
    assert_eq!(Actor::from_audit_name("alice"), Actor::User("alice".into()));
}

#[test]
fn documents_round_trip_through_yaml_and_json() {
    let text = r#"
rules:
  - name: everything
    order: 5
    expires_at: "2027-01-01T00:00:00Z"
    triggers: [incident_created, incident_updated]
    conditions:
      any:
        - {property: entity.ip, operator: in_cidr, values: [10.0.0.0/8, 2001:db8::/32]}
        - {changed: status, to: InProgress}
        - {updated_by: "playbook:x"}
    actions:
      - {assign: bob}
      - {set_status: {status: Resolved, classification: FalsePositive, determination: NotMalicious, comment: ok}}
      - {contain: {kind: disable_api_key}}
      - {add_task: {title: Check, description: why}}
"#;
    let doc = parse_document(text).expect("valid");
    let yaml = serde_yaml::to_string(&doc).expect("yaml");
    assert_eq!(parse_document(&yaml).expect("yaml again"), doc, "{yaml}");
    let json = serde_json::to_string(&doc).expect("json");
    assert_eq!(
        parse_document(&json).expect("json parses as yaml"),
        doc,
        "{json}"
    );
}

#[test]
fn invalid_documents_name_the_field_and_line() {
    // (document, error path, line, words the message must hold)
    let cases: &[(&str, &str, Option<usize>, &str)] = &[
        (
            "rules:\n  - name: r\n    triggers: [incident_created]\n    conditions: {property: colour, operator: equals, value: x}\n    actions: [{notify: a}]\n",
            "rules[0].conditions.property",
            Some(4),
            "unknown property `colour`",
        ),
        (
            "rules:\n  - name: r\n    triggers: [incident_created]\n    actions:\n      - set_status: {status: Resolved}\n",
            "rules[0].actions[0]",
            Some(5),
            "needs a classification, a determination and a comment",
        ),
        (
            "rules:\n  - name: r\n    order: 1001\n    triggers: [incident_created]\n    actions: [{notify: a}]\n",
            "rules[0]",
            Some(2),
            "order: 1001 is outside 1-1000",
        ),
        (
            "rules:\n  - name: r\n    triggers: [incident_created]\n    conditions: {changed: severity, to: High}\n    actions: [{notify: a}]\n",
            "rules[0]",
            Some(2),
            "need the incident_updated trigger",
        ),
        (
            "rules:\n  - name: r\n    triggers: [incident_created]\n    conditions: {property: entity.ip, operator: in_cidr, value: ten}\n    actions: [{notify: a}]\n",
            "rules[0].conditions",
            Some(2),
            "not a network",
        ),
        (
            "rules:\n  - name: r\n    triggers: [sometimes]\n    actions: [{notify: a}]\n",
            "rules[0].triggers[0]",
            Some(3),
            "unknown variant `sometimes`",
        ),
        (
            "rules:\n  - name: r\n    triggers: [incident_created]\n    actions: [{assign: a, notify: b}]\n",
            "rules[0].actions[0]",
            Some(4),
            "exactly one of assign",
        ),
        (
            "rules:\n  - name: r\n    triggers: [incident_created]\n    action: [{notify: a}]\n",
            "rules[0].action",
            Some(4),
            "unknown field `action`",
        ),
        (
            "rules:\n  - name: r\n    triggers: [incident_created]\n    actions: [{contain: {kind: nuke}}]\n",
            "rules[0].actions[0]",
            Some(4),
            "contain.kind",
        ),
    ];
    for (doc, path, line, words) in cases {
        match parse_document(doc) {
            Err(DocumentError::Invalid {
                path: p,
                line: l,
                message,
                ..
            }) => {
                assert_eq!(&p, path, "{doc}: {message}");
                assert_eq!(&l, line, "{doc}: {message}");
                assert!(message.contains(words), "{doc}: {message}");
                assert!(!message.contains(" at line "), "{message}");
            }
            other => panic!("{doc}: expected an invalid-document error, got {other:?}"),
        }
    }
    assert!(matches!(
        parse_document("rules:\n  - {name: r, triggers: [alert_created], actions: [{notify: a}]}\n  - {name: r, triggers: [alert_created], actions: [{notify: b}]}\n"),
        Err(DocumentError::DuplicateName(n)) if n == "r"
    ));
}

/// The README's example document is a valid document.
#[test]
fn the_readme_example_parses() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("reading README.md");
    let section = &readme[readme
        .find("#### Automation rules")
        .expect("automation section")..];
    let start = section.find("```yaml\n").expect("a yaml block") + 8;
    let end = start + section[start..].find("```").expect("closed block");
    let doc = parse_document(&section[start..end]).expect("the README example parses");
    assert_eq!(doc.rules.len(), 2);
}
