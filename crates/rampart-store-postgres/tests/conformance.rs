//! The shared store conformance suite against PostgreSQL, one fresh schema per case.
//!
//! Runs when `RAMPART_TEST_POSTGRES_URL` is set (e.g. `postgres://postgres@127.0.0.1:5432/test`);
//! otherwise each case prints that it was skipped and passes, except under CI (`CI` set), where
//! it fails.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rampart_store_postgres::PgStore;

static NEXT: AtomicU32 = AtomicU32::new(0);

async fn make() -> Option<(PgStore, ())> {
    let url = std::env::var("RAMPART_TEST_POSTGRES_URL").ok()?;
    let store = PgStore::connect_isolated(&url, &schema_name())
        .await
        .expect("connect to postgres");
    Some((store, ()))
}

/// A schema name no other case, process or concurrent run uses.
fn schema_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "t_{}_{}_{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

rampart_store::store_conformance!(make, |(store, ()): (PgStore, ())| async move {
    store
        .drop_isolated_schema()
        .await
        .expect("drop test schema");
});

#[tokio::test]
async fn isolated_schema_name_is_validated() {
    for bad in ["", "Upper", "1abc", "a-b", "x\"; DROP TABLE y; --"] {
        let err = PgStore::connect_isolated("postgres://127.0.0.1:1/none", bad)
            .await
            .expect_err("invalid schema name");
        assert!(
            matches!(err, rampart_store::StoreError::Invalid(_)),
            "{bad:?}: {err:?}"
        );
    }
}

#[tokio::test]
async fn unreadable_rows_are_skipped() {
    let Some((store, ())) = make().await else {
        println!("skipped unreadable_rows_are_skipped: store backend not available");
        return;
    };
    let raw = |sql: String| {
        let store = store.clone();
        async move {
            store.execute_raw(&sql).await.expect("raw sql");
        }
    };
    rampart_store::conformance::unreadable_rows_are_skipped(&store, raw).await;
    store
        .drop_isolated_schema()
        .await
        .expect("drop test schema");
}

/// Two nodes (two stores on one database) racing on one idempotency key: the primary key
/// decides, one commits and the other stores nothing and gets the winner's record.
#[tokio::test]
async fn racing_nodes_commit_one_key_once() {
    use rampart_store::{Batch, BatchOutcome, IdempotencyRecord, Store};
    let Ok(url) = std::env::var("RAMPART_TEST_POSTGRES_URL") else {
        println!("skipped racing_nodes_commit_one_key_once: store backend not available");
        return;
    };
    let schema = schema_name();
    let a = PgStore::connect_isolated(&url, &schema)
        .await
        .expect("first node");
    let b = PgStore::connect_isolated(&url, &schema)
        .await
        .expect("second node");
    let events: Vec<_> = (0..1000)
        .map(|i| rampart_store::conformance::event(i, "192.0.2.1", "/a", 200))
        .collect();
    let rec = |node: &str| IdempotencyRecord {
        caller: "ingest".into(),
        key: "same".into(),
        request_hash: "h".into(),
        status: 202,
        response: serde_json::json!({"node": node}),
        created_at: rampart_model::Timestamp(rampart_store::conformance::T0),
        expires_at: rampart_model::Timestamp(rampart_store::conformance::T0 + 60_000),
    };
    let (ra, rb) = (rec("a"), rec("b"));
    let batch = |r| Batch {
        events: &events,
        idempotency: Some(r),
        ..Default::default()
    };
    let (ba, bb) = (batch(&ra), batch(&rb));
    let (oa, ob) = tokio::join!(a.commit_batch(&ba), b.commit_batch(&bb));
    let outcomes = [oa.expect("node a"), ob.expect("node b")];
    let committed = outcomes
        .iter()
        .filter(|o| matches!(o, BatchOutcome::Committed(_)))
        .count();
    assert_eq!(committed, 1, "{outcomes:?}");
    let winner = if matches!(outcomes[0], BatchOutcome::Committed(_)) {
        &ra
    } else {
        &rb
    };
    assert!(
        outcomes
            .iter()
            .any(|o| *o == BatchOutcome::Duplicate(winner.clone())),
        "{outcomes:?}"
    );
    assert_eq!(a.stats().await.expect("stats").events, 1000);
    b.close().await;
    a.drop_isolated_schema().await.expect("drop test schema");
}

#[tokio::test]
async fn audit_rows_cannot_be_changed_or_deleted() {
    let Some((store, ())) = make().await else {
        println!("skipped audit_rows_cannot_be_changed_or_deleted: store backend not available");
        return;
    };
    let raw = |sql: String| {
        let store = store.clone();
        async move { store.execute_raw(&sql).await }
    };
    rampart_store::conformance::audit_rows_cannot_be_changed_or_deleted(&store, raw).await;
    store
        .drop_isolated_schema()
        .await
        .expect("drop test schema");
}

#[tokio::test]
async fn unique_violations_carry_no_driver_text() {
    let Some((store, ())) = make().await else {
        println!("skipped unique_violations_carry_no_driver_text: store backend not available");
        return;
    };
    let raw = |sql: String| {
        let store = store.clone();
        async move { store.execute_raw(&sql).await }
    };
    rampart_store::conformance::unique_violations_carry_no_driver_text(&store, raw).await;
    store
        .drop_isolated_schema()
        .await
        .expect("drop test schema");
}
