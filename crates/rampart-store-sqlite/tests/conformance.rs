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
