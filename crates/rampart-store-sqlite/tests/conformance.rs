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
