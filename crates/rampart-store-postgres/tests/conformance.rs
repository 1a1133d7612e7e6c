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
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let schema = format!(
        "t_{}_{}_{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let store = PgStore::connect_isolated(&url, &schema)
        .await
        .expect("connect to postgres");
    Some((store, ()))
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
