//! Conformance cases of playbook runs: creation audited, claims by lease compare-and-set,
//! steps recorded once, approvals and cancellations.

use rampart_model::{NewRun, RunStatus, RunSubject, StepStatus, Timestamp};
use serde_json::json;

use crate::{AuditFilter, Store, StoreError};

fn new_run(incident: Option<i64>) -> NewRun {
    NewRun {
        playbook: "contain-and-tell".into(),
        version: 3,
        body: json!({"name": "contain-and-tell", "subject": "incident", "steps": []}),
        subject: match incident {
            Some(i) => RunSubject::Incident(i),
            None => RunSubject::Entity {
                kind: rampart_model::EntityKind::Ip,
                value: "203.0.113.9".into(),
            },
        },
        incident_id: incident,
        requested_by: "alice".into(),
    }
}

fn at(ms: i64) -> Timestamp {
    Timestamp(Timestamp::now().millis() + ms)
}

pub async fn playbook_runs_claim_by_lease_and_record_steps_once(s: &dyn Store) {
    let (inc, _) = super::incident_with_alert(
        s,
        super::state("a", rampart_model::Severity::Low, 1, vec![]),
        super::draft("d", rampart_model::Severity::Low, vec![], 0),
    )
    .await;
    let run = s.create_run(&new_run(Some(inc)), "alice").await.unwrap();
    assert_eq!((run.status, run.version), (RunStatus::Queued, 3));
    assert_eq!(run.subject, RunSubject::Incident(inc));
    let other = s.create_run(&new_run(None), "rule:r").await.unwrap();

    // One claim wins; a second runner gets nothing while the lease holds.
    let got = s.claim_runs("node-a", at(0), at(60_000), 10).await.unwrap();
    let ids: Vec<i64> = got.iter().map(|r| r.id).collect();
    assert_eq!(ids, [run.id, other.id]);
    assert!(got
        .iter()
        .all(|r| r.status == RunStatus::Running && r.lease_owner.as_deref() == Some("node-a")));
    assert!(s
        .claim_runs("node-b", at(0), at(60_000), 10)
        .await
        .unwrap()
        .is_empty());

    // A step recorded started, then completed; starting it again is refused.
    let st = s
        .record_step_started(
            run.id,
            "node-a",
            "0",
            "hook",
            &json!({"url": "x"}),
            at(60_000),
        )
        .await
        .unwrap();
    assert_eq!((st.status, st.attempt), (StepStatus::Started, 1));
    // Another runner cannot write to it.
    assert!(matches!(
        s.record_step_finished(run.id, "node-b", "0", "hook", None, Ok(&json!({})))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let done = s
        .record_step_finished(
            run.id,
            "node-a",
            "0",
            "hook",
            None,
            Ok(&json!({"status": 200})),
        )
        .await
        .unwrap();
    assert_eq!(done.status, StepStatus::Completed);
    assert_eq!(done.output, json!({"status": 200}));
    assert_eq!(done.input, json!({"url": "x"}), "input kept from the start");
    assert!(matches!(
        s.record_step_started(run.id, "node-a", "0", "hook", &json!({}), at(60_000))
            .await,
        Err(StoreError::Conflict(_))
    ));
    // A decision recorded finished directly; a step left started counts its attempts.
    s.record_step_finished(
        run.id,
        "node-a",
        "1",
        "if",
        Some(&json!({"c": 1})),
        Ok(&json!({"branch": "then"})),
    )
    .await
    .unwrap();
    s.record_step_started(
        run.id,
        "node-a",
        "1.then.0",
        "gate",
        &json!({"prompt": "ok?"}),
        at(60_000),
    )
    .await
    .unwrap();

    // Approving before the run waits is refused; parked, it is approved once.
    assert!(matches!(
        s.approve_run(run.id, "1.then.0", "bob").await,
        Err(StoreError::Conflict(_))
    ));
    s.park_run(run.id, "node-a", None).await.unwrap();
    assert!(
        s.claim_runs("node-b", at(0), at(60_000), 10)
            .await
            .unwrap()
            .is_empty(),
        "a run waiting for an approval is not claimed"
    );
    assert!(matches!(
        s.approve_run(run.id, "0", "bob").await,
        Err(StoreError::Conflict(_))
    ));
    let approved = s.approve_run(run.id, "1.then.0", "bob").await.unwrap();
    assert_eq!(approved.status, RunStatus::Queued);
    assert!(matches!(
        s.approve_run(run.id, "1.then.0", "bob").await,
        Err(StoreError::Conflict(_))
    ));

    // Another node claims it now, continues, waits on a timer, and finishes it.
    let got = s.claim_runs("node-b", at(0), at(60_000), 10).await.unwrap();
    assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), [run.id]);
    s.park_run(run.id, "node-b", Some(at(-1))).await.unwrap();
    let got = s.claim_runs("node-b", at(0), at(60_000), 10).await.unwrap();
    assert_eq!(got.len(), 1, "a wait whose time is past is claimed");
    let fin = s
        .finish_run(
            run.id,
            "node-b",
            RunStatus::Succeeded,
            None,
            "playbook:contain-and-tell",
        )
        .await
        .unwrap();
    assert_eq!((fin.status, fin.lease_owner), (RunStatus::Succeeded, None));

    let (r, steps) = s.get_run(run.id).await.unwrap().unwrap();
    assert_eq!(r.status, RunStatus::Succeeded);
    let log: Vec<(&str, StepStatus)> = steps
        .iter()
        .map(|s| (s.step_key.as_str(), s.status))
        .collect();
    assert_eq!(
        log,
        [
            ("0", StepStatus::Completed),
            ("1", StepStatus::Completed),
            ("1.then.0", StepStatus::Completed)
        ]
    );
    assert_eq!(steps[2].output["approved_by"], "bob");

    // An expired lease is claimed again (its runner died); the stale runner is refused.
    // (`other` is still leased to node-a from the first claim: past its lease, it is free.)
    let got = s
        .claim_runs("node-c", at(120_000), at(180_000), 10)
        .await
        .unwrap();
    assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), [other.id]);
    assert!(matches!(
        s.record_step_started(other.id, "node-a", "0", "x", &json!({}), at(60_000))
            .await,
        Err(StoreError::Conflict(_))
    ));

    // Cancelled: the runner holding it is refused its next write; cancelling again conflicts.
    let c = s.cancel_run(other.id, "carol").await.unwrap();
    assert_eq!(c.status, RunStatus::Cancelled);
    assert!(matches!(
        s.record_step_started(other.id, "node-c", "0", "x", &json!({}), at(60_000))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.cancel_run(other.id, "carol").await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.cancel_run(9_999_999, "carol").await,
        Err(StoreError::NotFound { .. })
    ));

    let by_incident: Vec<i64> = s
        .list_runs(Some(inc), 50)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(by_incident, [run.id]);
    let all: Vec<i64> = s
        .list_runs(None, 50)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(all, [other.id, run.id], "newest first");

    let audit = s
        .list_audit(&AuditFilter {
            object_type: Some("playbook_run".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut got: Vec<(String, String, String)> = audit
        .items
        .iter()
        .map(|a| (a.object_id.clone(), a.action.clone(), a.actor.clone()))
        .collect();
    got.sort();
    let mut want = vec![
        (
            run.id.to_string(),
            "playbook_run.create".to_string(),
            "alice".to_string(),
        ),
        (
            run.id.to_string(),
            "playbook_run.approve".into(),
            "bob".into(),
        ),
        (
            run.id.to_string(),
            "playbook_run.succeeded".into(),
            "playbook:contain-and-tell".into(),
        ),
        (
            other.id.to_string(),
            "playbook_run.create".into(),
            "rule:r".into(),
        ),
        (
            other.id.to_string(),
            "playbook_run.cancel".into(),
            "carol".into(),
        ),
    ];
    want.sort();
    assert_eq!(got, want);
}
