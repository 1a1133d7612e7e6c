//! Conformance cases of retention (`Store::prune`): bounded chunks, oldest first; events by
//! age and count; incidents only when resolved and nothing of theirs is still running, with
//! their dependants, each audited; finished playbook runs.

use rampart_model::{
    ActionStatus, Comment, IncidentPatch, IncidentStatus, NewRun, NewTask, RunSubject, Severity,
    TaskKind, Timestamp,
};
use serde_json::json;

use super::{draft, event, incident_with_alert, new_action, state, T0};
use crate::{AlertFilter, AuditFilter, EventQuery, Retention, RetentionTable, Store};

fn rule(table: RetentionTable, before: Option<i64>, keep_rows: Option<u64>) -> Retention {
    Retention {
        table,
        before: before.map(Timestamp),
        keep_rows,
    }
}

async fn event_times(s: &dyn Store) -> Vec<i64> {
    let got = s
        .list_events(&EventQuery {
            limit: Some(1000),
            ..EventQuery::default()
        })
        .await
        .expect("list events");
    got.iter().map(|e| e.event.ts.millis() - T0).collect()
}

/// Events older than the cut go, then all but the newest `keep_rows`; each call deletes at
/// most its limit and a rule that keeps everything deletes nothing.
pub async fn retention_prunes_events_by_age_and_count(s: &dyn Store) {
    let evs: Vec<_> = (0..10)
        .map(|i| {
            let mut e = event(i * 1000, "192.0.2.1", "/api/x", 200);
            e.raw = format!("line {i}").into();
            e
        })
        .collect();
    // two writes: two blobs of raw lines, the first one's events all older than T0 + 4.5 s
    s.insert_events(&evs[..4], None).await.expect("insert");
    s.insert_events(&evs[4..], None).await.expect("insert");
    assert_eq!(s.stats().await.expect("stats").event_blobs, 2);

    let none = rule(RetentionTable::Events, None, None);
    assert_eq!(
        s.prune(&none, 100, "system:retention")
            .await
            .expect("prune"),
        0
    );
    let early = rule(RetentionTable::Events, Some(T0 - 1), Some(100));
    assert_eq!(
        s.prune(&early, 100, "system:retention")
            .await
            .expect("prune"),
        0
    );

    // older than T0 + 4 s: five events, in chunks of at most two
    let by_age = rule(RetentionTable::Events, Some(T0 + 4500), None);
    let mut chunks = vec![];
    loop {
        let n = s
            .prune(&by_age, 2, "system:retention")
            .await
            .expect("prune");
        chunks.push(n);
        if n < 2 {
            break;
        }
    }
    assert_eq!(chunks, vec![2, 2, 1]);
    assert_eq!(event_times(s).await, vec![5000, 6000, 7000, 8000, 9000]);
    // the first write's blob went with its events; the events left still read back whole
    assert_eq!(s.stats().await.expect("stats").event_blobs, 1);
    let left = s
        .list_events(&EventQuery::default())
        .await
        .expect("list events");
    assert_eq!(left.len(), 5);
    for e in &left {
        assert_eq!(
            e.event.raw,
            evs[(e.event.ts.millis() - T0) as usize / 1000].raw
        );
        assert!(!e.event.raw.is_empty());
    }

    // at most three rows stay: the newest
    let by_count = rule(RetentionTable::Events, None, Some(3));
    assert_eq!(
        s.prune(&by_count, 100, "system:retention")
            .await
            .expect("prune"),
        2
    );
    assert_eq!(event_times(s).await, vec![7000, 8000, 9000]);
    assert_eq!(
        s.prune(&by_count, 100, "system:retention")
            .await
            .expect("prune"),
        0
    );
    assert_eq!(s.stats().await.expect("stats").events, 3);
    assert_eq!(s.stats().await.expect("stats").event_blobs, 1);

    // every event gone: every blob too
    let all = rule(RetentionTable::Events, Some(T0 + 100_000), None);
    assert_eq!(
        s.prune(&all, 100, "system:retention").await.expect("prune"),
        3
    );
    let stats = s.stats().await.expect("stats");
    assert_eq!((stats.events, stats.event_blobs), (0, 0));
}

/// Only resolved incidents older than the cut go, with their alerts, comments and tasks, one
/// audit entry each; an open one, a recent one and one with an action in force stay.
pub async fn retention_prunes_resolved_incidents_with_their_dependants(s: &dyn Store) {
    let st = |t: &str| state(t, Severity::High, 50, vec![]);
    let (old, old_alert) =
        incident_with_alert(s, st("old"), draft("rate_limit", Severity::High, vec![], 0)).await;
    let (open, _) = incident_with_alert(
        s,
        st("open"),
        draft("rate_limit", Severity::High, vec![], 0),
    )
    .await;
    let (held, _) = incident_with_alert(
        s,
        st("held"),
        draft("rate_limit", Severity::High, vec![], 0),
    )
    .await;
    let resolve = IncidentPatch {
        status: Some(IncidentStatus::Resolved),
        tags: Some(vec!["pentest".into()]),
        ..IncidentPatch::default()
    };
    for id in [old, held] {
        s.update_incident(id, &resolve, "alice")
            .await
            .expect("resolve");
    }
    let _: Comment = s.add_comment(old, "alice", "done").await.expect("comment");
    s.create_tasks(
        old,
        &[NewTask {
            kind: TaskKind::Custom,
            title: "review".into(),
            detail: String::new(),
            entity: None,
        }],
        "alice",
        Timestamp::now(),
    )
    .await
    .expect("task");
    s.create_action(
        &new_action("203.0.113.77", ActionStatus::Active, Some(held)),
        "alice",
    )
    .await
    .expect("action");

    // nothing is older than a cut in the past
    let past = rule(RetentionTable::Incidents, Some(T0), None);
    assert_eq!(
        s.prune(&past, 100, "system:retention")
            .await
            .expect("prune"),
        0
    );

    let cut = rule(
        RetentionTable::Incidents,
        Some(Timestamp::now().millis() + 60_000),
        None,
    );
    assert_eq!(
        s.prune(&cut, 100, "system:retention").await.expect("prune"),
        1
    );
    assert!(s.get_incident(old).await.expect("get").is_none());
    assert!(s.get_incident(open).await.expect("get").is_some());
    assert!(s.get_incident(held).await.expect("get").is_some());
    assert!(s.get_alert(old_alert).await.expect("get alert").is_none());
    let alerts = s
        .list_alerts(&AlertFilter {
            incident_id: Some(old),
            ..AlertFilter::default()
        })
        .await
        .expect("alerts");
    assert_eq!(alerts.total, 0);
    assert!(s.list_tasks(old).await.expect("tasks").is_empty());
    let audit = s
        .list_audit(&AuditFilter {
            object_type: Some("incident".into()),
            object_id: Some(old.to_string()),
            actor: Some("system:retention".into()),
            ..AuditFilter::default()
        })
        .await
        .expect("audit");
    assert_eq!(audit.items.len(), 1, "{:?}", audit.items);
    assert_eq!(audit.items[0].action, "incident.deleted");
    assert_eq!(audit.items[0].details["title"], json!("old"));
    // a second pass finds nothing more
    assert_eq!(
        s.prune(&cut, 100, "system:retention").await.expect("prune"),
        0
    );
}

/// Finished playbook runs older than the cut go with their steps; a queued one stays.
pub async fn retention_prunes_finished_playbook_runs(s: &dyn Store) {
    let new = |name: &str| NewRun {
        playbook: name.into(),
        version: 1,
        body: json!({"name": name, "subject": "entity", "steps": []}),
        subject: RunSubject::Entity {
            kind: rampart_model::EntityKind::Ip,
            value: "203.0.113.9".into(),
        },
        incident_id: None,
        requested_by: "alice".into(),
    };
    let done = s.create_run(&new("done"), "alice").await.expect("run");
    let queued = s.create_run(&new("queued"), "alice").await.expect("run");
    s.cancel_run(done.id, "alice").await.expect("cancel");
    let cut = rule(
        RetentionTable::PlaybookRuns,
        Some(Timestamp::now().millis() + 60_000),
        None,
    );
    assert_eq!(
        s.prune(&cut, 100, "system:retention").await.expect("prune"),
        1
    );
    assert!(s.get_run(done.id).await.expect("get").is_none());
    assert!(s.get_run(queued.id).await.expect("get").is_some());
}
