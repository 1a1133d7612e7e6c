//! Rampart's SQLite storage backend: [`SqliteStore`] implements [`rampart_store::Store`].
//!
//! One file, WAL journal, one writer connection (so write transactions never race each other
//! for the lock) and a small pool of reader connections (WAL lets them read while the writer
//! writes). Schema: `migrations/`, embedded and run on open. Timestamps are stored as INTEGER
//! milliseconds; closed vocabularies by their wire names; nested values (evidence, entities,
//! params) as JSON text, with the columns filters need (entity values, tags, severities)
//! copied into indexed columns or side tables kept in sync in the same transaction.
//!
//! The store operations themselves are written once for every SQL backend
//! (`rampart-store/sql/store.rs`, compiled here as the `sql` module); this crate holds the
//! connection setup, the migrations and `dialect.rs`, where this database's SQL differs.

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use rampart_store::{StoreError, StoreResult};

mod dialect;
#[path = "../../rampart-store/sql/store.rs"]
mod sql;

use sql::db;
pub use sql::CORRELATION_ACTOR;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// How a SQLite database is opened.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// `synchronous=FULL` instead of `NORMAL`. With `NORMAL` (the default) in WAL mode a
    /// committed transaction survives a crash of the process, but the last transactions may be
    /// lost on power loss or an OS crash; `FULL` syncs the WAL on every commit and survives
    /// those too, at a cost in write throughput.
    pub synchronous_full: bool,
    /// How long a connection waits for a lock held by another process before failing.
    pub busy_timeout: Duration,
    /// Size of the read connection pool.
    pub max_readers: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous_full: false,
            busy_timeout: Duration::from_secs(5),
            max_readers: 4,
        }
    }
}

/// The SQLite store. Cheap to clone (pools are shared).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Rows skipped by reads because they did not decode.
    unreadable: Arc<AtomicU64>,
}

impl SqliteStore {
    /// Open (creating the file and its parent directory if needed) with default options and
    /// run the migrations.
    pub async fn open(path: &Path) -> StoreResult<SqliteStore> {
        Self::open_with(path, SqliteOptions::default()).await
    }

    /// Open with explicit options and run the migrations. Directories it creates are owner-only
    /// (0700) and the database file and its `-wal`/`-shm` files are made owner-only (0600),
    /// whatever the umask, tightening files left looser by an older version.
    pub async fn open_with(path: &Path, opts: SqliteOptions) -> StoreResult<SqliteStore> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                private::create_dirs(dir)
                    .map_err(|e| StoreError::database(format!("creating {}", dir.display()), e))?;
            }
        }
        private::prepare_files(path)
            .map_err(|e| StoreError::database(format!("creating {}", path.display()), e))?;
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if opts.synchronous_full {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .foreign_keys(true)
            .busy_timeout(opts.busy_timeout)
            // A 64 MiB page cache per connection and memory-mapped reads: without them every
            // index lookup of a large event table is a read() syscall (half of a replay's time
            // was in the kernel copying pages).
            .pragma("cache_size", "-65536")
            .pragma("mmap_size", "268435456")
            .pragma("temp_store", "memory")
            // Checkpoint the WAL into the database every 64 MiB of WAL instead of SQLite's
            // 4 MiB: a batch of events rewrites the same index pages, and each checkpoint
            // copies them once and syncs; at 4 MiB nearly every batch paid one (a quarter of
            // the writer's time in a replay). Durability is unchanged: a commit is in the WAL.
            .pragma("wal_autocheckpoint", "16384")
            // hunting's `matches regex` and `has`
            .with_regexp();
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(connect.clone())
            .await
            .map_err(db)?;
        MIGRATOR
            .run(&writer)
            .await
            .map_err(|e| StoreError::database("migrating", e))?;
        // planner statistics, so big tables are read through the right index from the start
        sqlx::query("PRAGMA optimize=0x10002")
            .execute(&writer)
            .await
            .map_err(db)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(opts.max_readers.max(1))
            .connect_with(connect.read_only(true))
            .await
            .map_err(db)?;
        Ok(SqliteStore {
            writer,
            reader,
            unreadable: Arc::default(),
        })
    }
}

/// Owner-only modes for what the store creates on disk.
mod private {
    use std::io;
    use std::path::Path;

    /// Create `dir` and its missing parents, each 0700 (umask-independent); existing
    /// directories are left as they are.
    pub fn create_dirs(dir: &Path) -> io::Result<()> {
        let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
        std::fs::create_dir_all(dir)?;
        for d in missing {
            if !d.as_os_str().is_empty() {
                set_mode(d, 0o700)?;
            }
        }
        Ok(())
    }

    /// Create the database file 0600 before SQLite opens it (SQLite gives the `-wal` and
    /// `-shm` files the database file's mode), and tighten existing looser files to 0600.
    pub fn prepare_files(db: &Path) -> io::Result<()> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        match opts.open(db) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            let file = Path::new(&name);
            if file.exists() {
                set_mode(file, 0o600)?;
            }
        }
        Ok(())
    }

    #[cfg(unix)]
    fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        if std::fs::metadata(path)?.permissions().mode() & 0o777 != mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
        Ok(())
    }

    #[cfg(not(unix))]
    fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::{ApiEvent, Timestamp};
    use rampart_store::{Checkpoint, Store};
    use sqlx::Row;

    async fn query_plan(store: &SqliteStore, sql: &str) -> String {
        sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
            .fetch_all(&store.reader)
            .await
            .expect("explain")
            .iter()
            .map(|r| r.get::<String, _>("detail"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Every lookup by client address reaches the hour-keyed client-IP index with both of its
    /// leading keys (one seek per hour), never a scan of the time range: the store's own
    /// lookups (`client_ip_hours`) and a hunting filter on one address.
    #[tokio::test]
    async fn lookups_by_client_seek_the_hour_index() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(&dir.path().join("rampart.db"))
            .await
            .expect("open");
        let seek = "USING COVERING INDEX events_hour_client_ip_ts (<expr>=? AND client_ip=?)";
        for (since, until) in [("$1", "NULL"), ("NULL", "NULL"), ("$1", "$2")] {
            let sql = format!(
                "SELECT COUNT(*) FROM events WHERE client_ip = $3{}",
                sql::client_ip_hours("ts", since, until)
            );
            let plan = query_plan(&store, &sql).await;
            assert!(plan.contains(seek), "{since}..{until}: {plan}");
        }
        let plan = rampart_hunt::plan::plan(
            "ApiEvents | where Status >= 400 and ClientIp == \"192.0.2.1\" \
             | summarize count() by Path",
            &rampart_hunt::plan::Options::at(1_700_000_000_000),
        )
        .expect("plan");
        let (text, _) = sql::hunt::statement(&plan);
        let got = query_plan(&store, &text).await;
        assert!(
            got.contains(
                "USING INDEX events_hour_client_ip_ts (<expr>=? AND client_ip=? AND ts>? AND ts<?)"
            ),
            "{got}"
        );
    }

    async fn pragma(store: &SqliteStore, name: &str) -> String {
        let row = sqlx::query(&format!("PRAGMA {name}"))
            .fetch_one(&store.writer)
            .await
            .expect("pragma");
        row.try_get::<String, _>(0)
            .or_else(|_| row.try_get::<i64, _>(0).map(|n| n.to_string()))
            .expect("pragma value")
    }

    #[tokio::test]
    async fn open_creates_dirs_and_sets_pragmas() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a/b/rampart.db");
        let store = SqliteStore::open(&path).await.expect("open");
        assert!(path.exists());
        assert_eq!(pragma(&store, "journal_mode").await, "wal");
        assert_eq!(pragma(&store, "synchronous").await, "1"); // NORMAL
        assert_eq!(pragma(&store, "foreign_keys").await, "1");
        assert_eq!(pragma(&store, "busy_timeout").await, "5000");
        store.close().await;

        let full = SqliteStore::open_with(
            &dir.path().join("full.db"),
            SqliteOptions {
                synchronous_full: true,
                ..Default::default()
            },
        )
        .await
        .expect("open full");
        assert_eq!(pragma(&full, "synchronous").await, "2"); // FULL
    }

    #[tokio::test]
    async fn reopen_keeps_data_and_migrations_are_idempotent() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("r.db");
        let store = SqliteStore::open(&path).await.expect("open");
        let ev = ApiEvent {
            ts: Timestamp(1),
            path: "/x".into(),
            ..Default::default()
        };
        let cp = Checkpoint {
            source: "s".into(),
            file_id: "f".into(),
            offset: 3,
        };
        store
            .insert_events(&[ev.clone(), ev], Some(&cp))
            .await
            .expect("insert");
        store.close().await;
        let again = SqliteStore::open(&path).await.expect("reopen");
        assert_eq!(again.stats().await.expect("stats").events, 2);
        assert_eq!(again.get_checkpoint("s").await.expect("cp"), Some(cp));
    }

    /// Regression: `StoreError::Database(String)` dropped the error it came from.
    #[tokio::test]
    async fn database_errors_keep_their_source() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("plain-file");
        std::fs::write(&file, b"not a directory").expect("write");
        for path in [file.join("r.db"), file.clone()] {
            let err = SqliteStore::open(&path).await.expect_err("cannot open");
            assert!(
                matches!(err, StoreError::Database { .. }),
                "{path:?}: {err:?}"
            );
            assert!(
                std::error::Error::source(&err).is_some(),
                "{path:?}: {err:?} has no source"
            );
        }
    }

    /// Regression: the data directory and database files were created with the umask's mode
    /// (0755/0644, readable by every local user).
    #[cfg(unix)]
    #[tokio::test]
    async fn database_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let path = data.join("rampart.db");
        let store = SqliteStore::open(&path).await.expect("open");
        store
            .insert_events(&[ApiEvent::default()], None)
            .await
            .expect("insert");
        assert_eq!(mode(&data), 0o700, "data directory");
        for f in ["rampart.db", "rampart.db-wal", "rampart.db-shm"] {
            let p = data.join(f);
            assert!(p.exists(), "{f} exists");
            assert_eq!(mode(&p), 0o600, "{f}");
        }
        store.close().await;

        // An existing, looser database file (made by an older version) is tightened.
        let old = dir.path().join("old.db");
        std::fs::write(&old, b"").expect("create");
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let store = SqliteStore::open(&old).await.expect("open old");
        assert_eq!(mode(&old), 0o600, "existing database file");
        store.close().await;
    }
}
