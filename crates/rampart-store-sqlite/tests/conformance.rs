//! The shared store conformance suite against SQLite, one fresh database per case.

use rampart_store_sqlite::SqliteStore;

async fn make() -> Option<(SqliteStore, tempfile::TempDir)> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("nested/dir/rampart.db"))
        .await
        .expect("open sqlite store");
    Some((store, dir))
}

rampart_store::store_conformance!(make);

#[tokio::test]
async fn unreadable_rows_are_skipped() {
    let (store, _dir) = make().await.expect("sqlite");
    let raw = |sql: String| {
        let store = store.clone();
        async move {
            store.execute_raw(&sql).await.expect("raw sql");
        }
    };
    rampart_store::conformance::unreadable_rows_are_skipped(&store, raw).await;
}

#[tokio::test]
async fn audit_rows_cannot_be_changed_or_deleted() {
    let (store, _dir) = make().await.expect("sqlite");
    let raw = |sql: String| {
        let store = store.clone();
        async move { store.execute_raw(&sql).await }
    };
    rampart_store::conformance::audit_rows_cannot_be_changed_or_deleted(&store, raw).await;
}

#[tokio::test]
async fn unique_violations_carry_no_driver_text() {
    let (store, _dir) = make().await.expect("sqlite");
    let raw = |sql: String| {
        let store = store.clone();
        async move { store.execute_raw(&sql).await }
    };
    rampart_store::conformance::unique_violations_carry_no_driver_text(&store, raw).await;
}
