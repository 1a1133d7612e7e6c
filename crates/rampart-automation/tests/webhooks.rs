//! Webhook subscription documents and the payloads built for them.

use rampart_automation::webhook::{payload, Event, Format, Occurrence, Subject, Webhook};
use rampart_automation::{parse_document, parse_webhook, DocumentError};
use rampart_model::{
    Action, ActionKind, ActionStatus, Classification, Entity, EntityKind, EntityRole, Incident,
    IncidentStatus, NewAction, Severity, Timestamp,
};

const NOW: Timestamp = Timestamp(1_780_000_000_000);

fn incident(status: IncidentStatus) -> Incident {
    Incident {
        id: 7,
        title: "Credential stuffing against POST /login".into(),
        severity: Severity::High,
        status,
        assigned_to: Some("ann".into()),
        classification: Classification::Unknown,
        determination: rampart_model::Determination::NotAvailable,
        tags: vec!["api".into()],
        created_at: Timestamp(NOW.millis() - 60_000),
        updated_at: NOW,
        first_activity: Timestamp(NOW.millis() - 120_000),
        last_activity: Timestamp(NOW.millis() - 90_000),
        priority: 70,
        priority_reasons: Vec::new(),
        entities: vec![Entity::new(
            EntityKind::Ip,
            "203.0.113.9",
            EntityRole::Attacker,
        )],
        alert_count: 3,
        redirect_to: None,
    }
}

fn action() -> Action {
    Action {
        id: 11,
        action: NewAction {
            kind: ActionKind::BlockIp,
            target: "203.0.113.9/32".into(),
            scope: Default::default(),
            rate: None,
            reason: "stuffing".into(),
            incident_id: Some(7),
            requested_by: "rule:block".into(),
            status: ActionStatus::Active,
            created_at: NOW,
            starts_at: None,
            expires_at: Some(Timestamp(NOW.millis() + 3_600_000)),
            duration_secs: 3600,
        },
        approved_by: None,
        approved_at: None,
        reverted_by: None,
        revert_reason: None,
        reverted_at: None,
        failure: None,
        denied: 0,
        last_denied: None,
    }
}

#[test]
fn a_minimal_subscription_takes_the_defaults() {
    let w =
        parse_webhook("name: siem\nurl: https://siem.example/hook\nevents: [incident_created]\n")
            .expect("valid");
    assert_eq!(
        w,
        Webhook {
            name: "siem".into(),
            url: "https://siem.example/hook".into(),
            events: vec![Event::IncidentCreated],
            format: Format::Api,
            secret_env: None,
            timeout_secs: 5,
            max_attempts: 6,
            enabled: true,
        }
    );
    // round trip through JSON (the store keeps JSON)
    let json = serde_json::to_string(&w).unwrap();
    assert_eq!(parse_webhook(&json).expect("json again"), w);
}

#[test]
fn documents_carry_webhooks_next_to_rules() {
    let doc = parse_document(
        "rules: []\nwebhooks:\n  - name: a\n    url: http://127.0.0.1:9/x\n    events: [incident_resolved, action_created]\n    format: ocsf\n    secret_env: RAMPART_HOOK_SECRET\n",
    )
    .expect("valid");
    assert_eq!(doc.webhooks.len(), 1);
    assert_eq!(doc.webhooks[0].format, Format::Ocsf);
    assert_eq!(
        doc.webhooks[0].secret_env.as_deref(),
        Some("RAMPART_HOOK_SECRET")
    );
    assert!(matches!(
        parse_document("webhooks:\n  - {name: a, url: 'http://h/', events: [incident_created]}\n  - {name: a, url: 'http://h/', events: [incident_created]}\n"),
        Err(DocumentError::DuplicateWebhook(n)) if n == "a"
    ));
}

#[test]
fn invalid_webhooks_name_the_field_and_line() {
    // (document, error path, line, words the message must hold)
    let cases: &[(&str, &str, Option<usize>, &str)] = &[
        (
            "webhooks:\n  - name: a\n    url: ftp://h/x\n    events: [incident_created]\n",
            "webhooks[0]",
            Some(2),
            "url: must start with http:// or https://",
        ),
        (
            "webhooks:\n  - name: a\n    url: 'http:///x'\n    events: [incident_created]\n",
            "webhooks[0]",
            Some(2),
            "url: has no host",
        ),
        (
            "webhooks:\n  - name: a\n    url: http://h/\n    events: []\n",
            "webhooks[0]",
            Some(2),
            "events: at least one",
        ),
        (
            "webhooks:\n  - name: a\n    url: http://h/\n    events: [incident_deleted]\n",
            "webhooks[0].events[0]",
            Some(4),
            "unknown variant `incident_deleted`",
        ),
        (
            "webhooks:\n  - name: a\n    url: http://h/\n    events: [incident_created]\n    format: xml\n",
            "webhooks[0].format",
            Some(5),
            "unknown variant `xml`",
        ),
        (
            "webhooks:\n  - name: a\n    url: http://h/\n    events: [incident_created]\n    timeout_secs: 61\n",
            "webhooks[0]",
            Some(2),
            "timeout_secs: must be 1-60",
        ),
        (
            "webhooks:\n  - name: a\n    url: http://h/\n    events: [incident_created]\n    max_attempts: 0\n",
            "webhooks[0]",
            Some(2),
            "max_attempts: must be 1-20",
        ),
        (
            "webhooks:\n  - name: a\n    url: http://h/\n    events: [incident_created]\n    secret_env: 's3cr3t value!'\n",
            "webhooks[0]",
            Some(2),
            "secret_env",
        ),
        (
            "webhooks:\n  - name: a\n    url: http://h/\n    events: [incident_created]\n    secret: abc\n",
            "webhooks[0].secret",
            Some(5),
            "unknown field `secret`",
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
            }
            other => panic!("{doc}: expected an invalid-document error, got {other:?}"),
        }
    }
}

#[test]
fn ocsf_payloads_by_event() {
    let open = incident(IncidentStatus::Active);
    let closed = incident(IncidentStatus::Resolved);
    let act = action();
    // (event, subject, class_uid, activity_id, type_uid, status_id)
    type Case<'a> = (Event, Subject<'a>, u64, u64, u64, Option<u64>);
    let cases: &[Case] = &[
        (
            Event::IncidentCreated,
            Subject::Incident(&open),
            2005,
            1,
            200501,
            Some(1),
        ),
        (
            Event::IncidentUpdated,
            Subject::Incident(&open),
            2005,
            2,
            200502,
            Some(1),
        ),
        (
            Event::IncidentResolved,
            Subject::Incident(&closed),
            2005,
            3,
            200503,
            Some(4),
        ),
        (
            Event::Notify,
            Subject::Incident(&open),
            2005,
            2,
            200502,
            Some(1),
        ),
        (
            Event::ActionCreated,
            Subject::Action(&act),
            2004,
            1,
            200401,
            None,
        ),
        (
            Event::ActionChanged,
            Subject::Action(&act),
            2004,
            2,
            200402,
            None,
        ),
    ];
    for (event, subject, class, activity, type_uid, status) in cases {
        let o = Occurrence {
            event: *event,
            subject: *subject,
            actor: Some("rule:triage"),
            at: NOW,
        };
        let v = payload(Format::Ocsf, &o);
        assert_eq!(v["class_uid"], *class, "{event}: {v}");
        assert_eq!(v["category_uid"], 2, "{event}");
        assert_eq!(v["activity_id"], *activity, "{event}");
        assert_eq!(v["type_uid"], *type_uid, "{event}");
        assert_eq!(v["time"], NOW.millis(), "{event}");
        assert_eq!(v["metadata"]["product"]["name"], "Rampart", "{event}");
        assert!(v["metadata"]["version"].as_str().unwrap().starts_with("1."));
        assert_eq!(v["unmapped"]["rampart_event"], event.as_str());
        if let Some(s) = status {
            assert_eq!(v["status_id"], *s, "{event}");
            assert_eq!(v["severity_id"], 4, "High is 4");
            assert_eq!(v["finding_info"]["uid"], "rampart-incident-7");
            assert_eq!(
                v["finding_info"]["title"],
                "Credential stuffing against POST /login"
            );
            assert_eq!(v["finding_info"]["created_time"], NOW.millis() - 60_000);
            assert_eq!(v["finding_info_list"][0], v["finding_info"]);
            assert_eq!(v["assignee"]["name"], "ann");
            assert_eq!(v["observables"][0]["value"], "203.0.113.9");
        } else {
            assert_eq!(v["finding_info"]["uid"], "rampart-action-11");
            assert_eq!(v["unmapped"]["kind"], "block_ip");
            assert_eq!(v["unmapped"]["incident_id"], 7);
        }
    }
}

#[test]
fn api_payloads_carry_the_object_as_the_api_returns_it() {
    let inc = incident(IncidentStatus::Active);
    let v = payload(
        Format::Api,
        &Occurrence {
            event: Event::IncidentCreated,
            subject: Subject::Incident(&inc),
            actor: None,
            at: NOW,
        },
    );
    assert_eq!(v["event"], "incident_created");
    assert_eq!(v["incident"], serde_json::to_value(&inc).unwrap());
    assert_eq!(v["actor"], serde_json::Value::Null);
    let act = action();
    let v = payload(
        Format::Api,
        &Occurrence {
            event: Event::ActionCreated,
            subject: Subject::Action(&act),
            actor: Some("user:ann"),
            at: NOW,
        },
    );
    assert_eq!(v["action"]["id"], 11);
    assert_eq!(v["action"]["status"], "active");
    assert_eq!(v["actor"], "user:ann");
}

#[test]
fn resolving_is_its_own_event() {
    use IncidentStatus::*;
    assert_eq!(Event::of_update(Active, Resolved), Event::IncidentResolved);
    assert_eq!(
        Event::of_update(InProgress, Resolved),
        Event::IncidentResolved
    );
    assert_eq!(Event::of_update(Active, InProgress), Event::IncidentUpdated);
    assert_eq!(Event::of_update(Resolved, Resolved), Event::IncidentUpdated);
}

/// The README's webhook example is a valid document whose rule notifies its subscription.
#[test]
fn the_readme_webhook_example_parses() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("reading README.md");
    let section = &readme[readme.find("#### Webhooks").expect("webhooks section")..];
    let start = section.find("```yaml\n").expect("a yaml block") + 8;
    let end = start + section[start..].find("```").expect("closed block");
    let doc = parse_document(&section[start..end]).expect("the README example parses");
    assert_eq!(doc.webhooks.len(), 1);
    assert_eq!(doc.webhooks[0].format, Format::Ocsf);
    assert_eq!(
        doc.rules[0].actions,
        [rampart_automation::Action::Notify(
            doc.webhooks[0].name.clone()
        )]
    );
}
