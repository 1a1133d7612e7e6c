//! One batch, one transaction: a checkpoint is never committed without the alerts of its
//! lines, a pushed request is stored once per idempotency key, and times outside the accepted
//! range never reach the store (issue 8, items 1, 5 and 7).

use std::borrow::Cow;
use std::sync::Arc;

use rampart_model::{ApiEvent, Timestamp};
use rampart_pipeline::{BatchReport, IdempotencyKey, PushOutcome};
use rampart_store::{Checkpoint, EventQuery, Store};
use rampart_store_sqlite::SqliteStore;

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

/// A request one content signature alerts on by itself.
fn sqli(i: i64) -> ApiEvent<'static> {
    ApiEvent {
        ts: Timestamp(T0 + i),
        client_ip: Some("203.0.113.9".parse().expect("ip")),
        method: Cow::Borrowed("GET"),
        host: Cow::Borrowed("api.example.com"),
        path: Cow::Borrowed("/api/v1/users"),
        query: Cow::Owned(format!(
            "id={i}' UNION SELECT username, password FROM users--"
        )),
        status: 200,
        user_agent: Cow::Borrowed("Mozilla/5.0"),
        source_format: Cow::Borrowed("combined"),
        ..Default::default()
    }
}

async fn setup() -> (
    SqliteStore,
    rampart_pipeline::PipelineHandle,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("r.db"))
        .await
        .expect("open");
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    let (pipeline, _task) = rampart_pipeline::spawn(shared, Default::default())
        .await
        .expect("spawn");
    (store, pipeline, dir)
}

/// Regression (issue 8.7): the follow checkpoint was committed before the transaction that
/// stored the alerts of its lines; when that one failed (or the process died in between),
/// the alerts were lost for good because the lines were never read again.
#[tokio::test]
async fn a_checkpoint_commits_with_the_alerts_of_its_lines() {
    let (store, pipeline, _dir) = setup().await;
    store
        .execute_raw(
            "CREATE TRIGGER no_alerts BEFORE INSERT ON alerts BEGIN SELECT RAISE(ABORT, 'down'); END",
        )
        .await
        .expect("trigger");
    let cp = Checkpoint {
        source: "/var/log/api.log".into(),
        file_id: "1:2".into(),
        offset: 4096,
    };
    let events: Vec<_> = (0..3).map(sqli).collect();
    pipeline
        .push_events(events.clone(), Some(cp.clone()))
        .await
        .expect_err("the alerts cannot be stored");
    assert_eq!(
        store.get_checkpoint(&cp.source).await.expect("get"),
        None,
        "a checkpoint without its lines' alerts would skip them on restart"
    );
    assert_eq!(store.stats().await.expect("stats").events, 0);

    // A restart reads the lines again from the stored checkpoint (none): a fresh pipeline,
    // as after a crash, alerts on them again.
    store
        .execute_raw("DROP TRIGGER no_alerts")
        .await
        .expect("drop");
    drop(pipeline);
    let (pipeline, _task) = rampart_pipeline::spawn(Arc::new(store.clone()), Default::default())
        .await
        .expect("respawn");
    let report = pipeline
        .push_events(events, Some(cp.clone()))
        .await
        .expect("push");
    assert!(report.alerts >= 1, "{report:?}");
    let st = store.stats().await.expect("stats");
    assert_eq!((st.events, st.alerts), (3, report.alerts));
    assert_eq!(
        store.get_checkpoint(&cp.source).await.expect("get"),
        Some(cp)
    );
}

fn key(caller: &str, k: &str, hash: &str) -> IdempotencyKey {
    fn respond(r: &BatchReport) -> (u16, serde_json::Value) {
        (
            202,
            serde_json::json!({"events": r.events, "alerts": r.alerts}),
        )
    }
    IdempotencyKey {
        caller: caller.into(),
        key: k.into(),
        request_hash: hash.into(),
        ttl_ms: 3_600_000,
        respond,
    }
}

/// A second commit under one caller's key stores nothing and returns the first answer, even
/// when it reaches the pipeline (a retry racing the first request, another node).
#[tokio::test]
async fn one_key_commits_once() {
    let (store, pipeline, _dir) = setup().await;
    let events: Vec<_> = (0..5).map(sqli).collect();
    let first = pipeline
        .push_events_once(events.clone(), Some(key("ingest", "k", "h")))
        .await
        .expect("first");
    let PushOutcome::Committed(report) = first else {
        panic!("expected a commit: {first:?}");
    };
    let stored = store.stats().await.expect("stats");
    assert_eq!(stored.events, 5);
    let again = pipeline
        .push_events_once(events.clone(), Some(key("ingest", "k", "h")))
        .await
        .expect("again");
    let PushOutcome::Replayed(rec) = again else {
        panic!("expected a replay: {again:?}");
    };
    assert_eq!(
        (rec.status, rec.response.clone()),
        (
            202,
            serde_json::json!({"events": report.events, "alerts": report.alerts})
        )
    );
    assert_eq!(rec.request_hash, "h");
    assert_eq!(
        store.stats().await.expect("stats"),
        stored,
        "nothing stored"
    );
    // The pipeline still works after a replay (its correlator was reseeded).
    let other = pipeline
        .push_events_once(events, Some(key("other", "k", "h")))
        .await
        .expect("other caller");
    assert!(matches!(other, PushOutcome::Committed(_)), "{other:?}");
    assert_eq!(store.stats().await.expect("stats").events, 10);
}

/// Regression (issue 8.1): events and alerts with times outside the accepted range are dropped
/// and counted, never stored (a source that cannot refuse the line itself still cannot poison
/// the store).
#[tokio::test]
async fn out_of_range_times_never_reach_the_store() {
    let (store, pipeline, _dir) = setup().await;
    let mut bad = sqli(1);
    bad.ts = Timestamp(253_402_300_800_000);
    let mut ancient = sqli(2);
    ancient.ts = Timestamp(0);
    let report = pipeline
        .push_events(vec![sqli(0), bad, ancient], None)
        .await
        .expect("push");
    assert_eq!((report.events, report.out_of_range), (1, 2));
    let stored = store
        .list_events(&EventQuery::default())
        .await
        .expect("list");
    assert_eq!(stored.len(), 1);
    assert!(stored.iter().all(|e| e.event.ts.is_sane()));

    let mut alert = rampart_model::AlertDraft {
        detector: "external:x".into(),
        title: "t".into(),
        description: String::new(),
        severity: rampart_model::Severity::High,
        mitre: vec![],
        owasp: None,
        entities: vec![rampart_model::Entity::attacker_ip("198.51.100.1")],
        evidence: vec![],
        first_seen: Timestamp(T0),
        last_seen: Timestamp(i64::MAX),
        reasons: vec![],
        source: Default::default(),
        stage: Default::default(),
        incident_hint: None,
    };
    let report = pipeline
        .push_alerts(vec![alert.clone()])
        .await
        .expect("push");
    assert_eq!((report.alerts, report.out_of_range), (0, 1));
    alert.last_seen = Timestamp(T0);
    let report = pipeline.push_alerts(vec![alert]).await.expect("push");
    assert_eq!((report.alerts, report.out_of_range), (1, 0));
    assert!(pipeline
        .stats()
        .render()
        .contains("rampart_pipeline_out_of_range_total 3"));
}

/// Batches handed over without waiting for their commit (`submit_events`, as replay does, so
/// the next batch is detected while one commits) commit in the order they were handed, each
/// acknowledged only once its events and checkpoint committed; a batch whose commit fails is
/// refused with nothing of it stored, and the batches before it stay.
#[tokio::test]
async fn submitted_batches_commit_in_order_and_are_acknowledged_once_committed() {
    let (store, pipeline, _dir) = setup().await;
    let benign = |i: i64| ApiEvent {
        ts: Timestamp(T0 + i * 1000),
        client_ip: Some("198.51.100.7".parse().expect("ip")),
        method: Cow::Borrowed("GET"),
        host: Cow::Borrowed("api.example.com"),
        path: Cow::Borrowed("/api/v1/items"),
        status: 200,
        user_agent: Cow::Borrowed("Mozilla/5.0"),
        source_format: Cow::Borrowed("combined"),
        ..Default::default()
    };
    let cp = |offset: u64| Checkpoint {
        source: "replay:/var/log/api.log".into(),
        file_id: "1:2".into(),
        offset,
    };
    let first = pipeline
        .submit_events((0..50).map(benign).collect(), Some(cp(50)))
        .await
        .expect("submit first");
    let second = pipeline
        .submit_events((50..100).map(benign).collect(), Some(cp(100)))
        .await
        .expect("submit second");
    // Acknowledged: the second batch and, before it, the first are committed.
    assert_eq!(second.committed().await.expect("second").events, 50);
    assert_eq!(store.stats().await.expect("stats").events, 100);
    assert_eq!(
        store.get_checkpoint(&cp(0).source).await.expect("get"),
        Some(cp(100))
    );
    assert_eq!(first.committed().await.expect("first").events, 50);

    store
        .execute_raw(
            "CREATE TRIGGER no_events BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'down'); END",
        )
        .await
        .expect("trigger");
    let failing = pipeline
        .submit_events((100..150).map(benign).collect(), Some(cp(150)))
        .await
        .expect("submit failing");
    failing
        .committed()
        .await
        .expect_err("the events cannot be stored");
    assert_eq!(store.stats().await.expect("stats").events, 100);
    assert_eq!(
        store.get_checkpoint(&cp(0).source).await.expect("get"),
        Some(cp(100)),
        "a refused batch leaves the checkpoint of the last committed one"
    );
    let listed = store
        .list_events(&EventQuery {
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .expect("list");
    let ts: Vec<i64> = listed.iter().map(|e| e.event.ts.millis()).collect();
    let expected: Vec<i64> = (0..100).map(|i| T0 + i * 1000).collect();
    assert_eq!(ts, expected, "stored in the order handed over");
}
