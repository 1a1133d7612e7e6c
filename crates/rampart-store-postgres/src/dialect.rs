//! Where PostgreSQL differs from the SQL written once in `rampart-store/sql/store.rs`: the sqlx
//! types, the row-lock clause and how a unique violation names its key.

/// The sqlx database the shared store code runs on.
pub(crate) type Db = sqlx::Postgres;
/// A fetched row.
pub(crate) type DbRow = sqlx::postgres::PgRow;
/// A connection (what a transaction dereferences to).
pub(crate) type DbConnection = sqlx::PgConnection;
/// The store the shared code implements [`rampart_store::Store`] for.
pub(crate) type SqlStore = crate::PgStore;

/// What [`rampart_store::Store::backend`] answers.
pub(crate) const BACKEND: &str = "postgres";

/// Appended to a `SELECT` whose rows a write transaction checks before changing them: they
/// stay locked until the transaction ends, so concurrent writers (other pooled connections,
/// other nodes) wait instead of acting on what they read before.
pub(crate) const ROW_LOCK: &str = " FOR UPDATE";

/// The unique keys a statement can break, as PostgreSQL names their constraints, and what a
/// client is told instead of the driver's text.
pub(crate) const UNIQUE_KEYS: &[(&str, &str)] = &[
    (TOKEN_NAME_KEY, "a token with this name already exists"),
    ("tokens_secret_hash_key", "token secret already in use"),
    (USER_NAME_KEY, "a user with this name already exists"),
];
/// The unique constraint of a token's name.
pub(crate) const TOKEN_NAME_KEY: &str = "tokens_name_key";

/// The constraint a unique violation broke (`tokens_name_key`), or `None` for any other
/// error.
pub(crate) fn violated_key(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Some(d.constraint().unwrap_or("")),
        _ => None,
    }
}

/// How the multi-row `INSERT` of events begins (a failing statement undoes itself).
pub(crate) const INSERT_EVENTS: &str = "INSERT INTO events";

/// What [`rampart_store::Store::optimize`] runs: nothing: autovacuum keeps the statistics.
pub(crate) const OPTIMIZE: Option<&str> = None;

/// The queue's free-text search: `incident_search` is a plain table keyed by incident (a
/// `pg_trgm` GIN index on `text` would make the `LIKE` an index read; without one it scans
/// this one narrow table).
pub(crate) const SEARCH_KEY: &str = "incident_id";
/// How a search text is matched: `text {SEARCH_MATCH} $n`.
pub(crate) const SEARCH_MATCH: &str = "LIKE";
/// The pattern for [`SEARCH_MATCH`] (`\\` escapes, PostgreSQL's default).
pub(crate) fn search_pattern(needle: &str) -> String {
    rampart_store::codec::contains_pattern(needle)
}

/// The unique key of a console user's name.
pub(crate) const USER_NAME_KEY: &str = "users_name_key";

/// Appended to the sub-select of `claim_deliveries`: rows another node's claim holds are
/// skipped rather than waited for, so concurrent claims hand out different deliveries.
pub(crate) const CLAIM_LOCK: &str = " FOR UPDATE SKIP LOCKED";

// --- hunting (`rampart-store/sql/hunt.rs`) ------------------------------------------------

/// No counting per distinct value first: PostgreSQL hashes the bins of a parallel scan, and
/// grouping 28M events by timestamp first took 27 s against 8.5 s.
pub(crate) const HUNT_PRE_GROUP: bool = false;

/// Prefix of a summarize's GROUP BY keys (nothing: PostgreSQL's planner costs that itself).
pub(crate) const HUNT_GROUP_KEY: &str = "";

/// The collation strings compare and sort with: bytes (`C`), whatever the database's locale.
pub(crate) const HUNT_COLLATE: &str = "\"C\"";
/// The SQL type of a real.
pub(crate) const HUNT_REAL: &str = "DOUBLE PRECISION";
/// An alert's title, read from its draft (JSON text).
pub(crate) const HUNT_ALERT_TITLE: &str = "(CAST(draft AS jsonb) ->> 'title')";

/// ASCII lower case: under the `C` collation PostgreSQL folds ASCII only, as SQLite does.
pub(crate) fn hunt_lower(x: &str) -> String {
    format!("lower({x} COLLATE \"C\")")
}
/// ASCII upper case.
pub(crate) fn hunt_upper(x: &str) -> String {
    format!("upper({x} COLLATE \"C\")")
}
/// `value` matches the regex `pattern` (POSIX ARE).
pub(crate) fn hunt_regex(value: &str, pattern: &str) -> String {
    format!("({value} ~ {pattern})")
}
/// The distinct non-null values of `arg` as a JSON array (text).
pub(crate) fn hunt_json_set(arg: &str) -> String {
    format!("CAST(json_agg(DISTINCT {arg}) FILTER (WHERE {arg} IS NOT NULL) AS TEXT)")
}
/// Bound the hunting statement about to run in this transaction: read-only, and
/// `statement_timeout` (local to the transaction).
pub(crate) async fn hunt_begin(
    conn: &mut DbConnection,
    timeout: std::time::Duration,
) -> Result<(), sqlx::Error> {
    use sqlx::Executor;
    conn.execute("SET TRANSACTION READ ONLY").await?;
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128);
    conn.execute(format!("SET LOCAL statement_timeout = {ms}").as_str())
        .await?;
    Ok(())
}
/// Nothing to undo: the settings end with the transaction.
pub(crate) async fn hunt_end(_conn: &mut DbConnection) {}
/// Whether a statement failed on `statement_timeout` (`query_canceled`).
pub(crate) fn hunt_is_timeout(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("57014"))
}

/// Append event rows inside the caller's transaction: multi-row `INSERT`s.
pub(crate) async fn insert_event_rows(
    conn: &mut DbConnection,
    events: &[rampart_model::ApiEvent<'_>],
    refs: &[crate::sql::BlobRef],
) -> rampart_store::StoreResult<()> {
    crate::sql::insert_event_rows_multi(conn, events, refs).await
}

/// Whether the client-IP index leads with the event's hour: no, PostgreSQL keeps
/// `(client_ip, ts)`.
pub(crate) const CLIENT_IP_BY_HOUR: bool = false;
