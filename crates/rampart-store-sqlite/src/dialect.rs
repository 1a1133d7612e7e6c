//! Where SQLite differs from the SQL written once in `rampart-store/sql/store.rs`: the sqlx
//! types, the row-lock clause (none) and how a unique violation names its key.

/// The sqlx database the shared store code runs on.
pub(crate) type Db = sqlx::Sqlite;
/// A fetched row.
pub(crate) type DbRow = sqlx::sqlite::SqliteRow;
/// A connection (what a transaction dereferences to).
pub(crate) type DbConnection = sqlx::SqliteConnection;
/// The store the shared code implements [`rampart_store::Store`] for.
pub(crate) type SqlStore = crate::SqliteStore;

/// What [`rampart_store::Store::backend`] answers.
pub(crate) const BACKEND: &str = "sqlite";

/// Appended to a `SELECT` whose rows a write transaction checks before changing them. None:
/// SQLite has no row locks, and the single writer connection already serialises every write
/// transaction.
pub(crate) const ROW_LOCK: &str = "";

/// The unique keys a statement can break, as SQLite names them (`table.column`), and what a
/// client is told instead of the driver's text.
pub(crate) const UNIQUE_KEYS: &[(&str, &str)] = &[
    (TOKEN_NAME_KEY, "a token with this name already exists"),
    ("tokens.secret_hash", "token secret already in use"),
    (USER_NAME_KEY, "a user with this name already exists"),
];
/// The unique key of a token's name.
pub(crate) const TOKEN_NAME_KEY: &str = "tokens.name";

/// The key a unique violation broke (`tokens.name`), or `None` for any other error.
pub(crate) fn violated_key(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Some(
            d.message()
                .strip_prefix("UNIQUE constraint failed: ")
                .unwrap_or(""),
        ),
        _ => None,
    }
}

/// How the multi-row `INSERT` of events begins. `OR FAIL`: a row that breaks a constraint
/// stops the statement without undoing the rows before it, so SQLite needs no statement
/// journal (a copy of every page the statement changes, the cost of a multi-row `INSERT`
/// inside a transaction); the error still rolls the whole transaction back
/// (`insert_events_tx` runs inside one and returns it).
pub(crate) const INSERT_EVENTS: &str = "INSERT OR FAIL INTO events";

/// What [`rampart_store::Store::optimize`] runs: SQLite's planner statistics refresh, bounded (it sets its own analysis limit; `0x10002` also looks at tables this connection has not used).
pub(crate) const OPTIMIZE: Option<&str> = Some("PRAGMA optimize=0x10002");

/// The queue's free-text search: `incident_search` is an FTS5 table with the trigram tokenizer
/// (its rowid is the incident's id), which answers a `GLOB '*text*'` from its index (a `LIKE`
/// with an `ESCAPE` clause would not use it).
pub(crate) const SEARCH_KEY: &str = "rowid";
/// How a search text is matched: `text {SEARCH_MATCH} $n`.
pub(crate) const SEARCH_MATCH: &str = "GLOB";
/// The pattern for [`SEARCH_MATCH`].
pub(crate) fn search_pattern(needle: &str) -> String {
    rampart_store::codec::glob_contains_pattern(needle)
}

/// The unique key of a console user's name.
pub(crate) const USER_NAME_KEY: &str = "users.name";

/// Appended to the sub-select of `claim_deliveries`: nothing (the single writer serialises
/// claims).
pub(crate) const CLAIM_LOCK: &str = "";

// --- hunting (`rampart-store/sql/hunt.rs`) ------------------------------------------------

/// Count per distinct value before a summarize of `count()`s by `bin()` of one column: SQLite
/// reads that column's index in order instead of sorting every row (a week of 7M events by
/// hour: 1.6 s).
pub(crate) const HUNT_PRE_GROUP: bool = true;

/// Prefix of a summarize's GROUP BY keys: SQLite's unary `+` keeps its planner from reading
/// an index in key order with a table lookup per row (random reads of the whole table).
pub(crate) const HUNT_GROUP_KEY: &str = "+";

/// The collation strings compare and sort with: bytes.
pub(crate) const HUNT_COLLATE: &str = "BINARY";
/// The SQL type of a real.
pub(crate) const HUNT_REAL: &str = "REAL";
/// An alert's title, read from its draft (JSON text).
pub(crate) const HUNT_ALERT_TITLE: &str = "json_extract(draft, '$.title')";

/// ASCII lower case (SQLite's `lower` folds ASCII only).
pub(crate) fn hunt_lower(x: &str) -> String {
    format!("lower({x})")
}
/// ASCII upper case.
pub(crate) fn hunt_upper(x: &str) -> String {
    format!("upper({x})")
}
/// `value` matches the regex `pattern` (sqlx's `regexp` function: Rust's regex crate,
/// registered on every connection by `with_regexp`).
pub(crate) fn hunt_regex(value: &str, pattern: &str) -> String {
    format!("regexp({pattern}, {value})")
}
/// The distinct non-null values of `arg` as a JSON array (text).
pub(crate) fn hunt_json_set(arg: &str) -> String {
    format!("json_group_array(DISTINCT {arg}) FILTER (WHERE {arg} IS NOT NULL)")
}
/// Bound the hunting statement about to run on `conn` (a read-only connection, in a read
/// transaction): a progress handler interrupts it once `timeout` has passed.
pub(crate) async fn hunt_begin(
    conn: &mut DbConnection,
    timeout: std::time::Duration,
) -> Result<(), sqlx::Error> {
    let deadline = std::time::Instant::now() + timeout;
    conn.lock_handle()
        .await?
        .set_progress_handler(1_000, move || std::time::Instant::now() < deadline);
    Ok(())
}
/// Remove the bound before the connection goes back to the pool.
pub(crate) async fn hunt_end(conn: &mut DbConnection) {
    if let Ok(mut h) = conn.lock_handle().await {
        h.remove_progress_handler();
    }
}
/// Whether a statement failed because [`hunt_begin`]'s bound interrupted it.
pub(crate) fn hunt_is_timeout(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            d.code().as_deref() == Some("9") || d.message().contains("interrupted")
        }
        _ => false,
    }
}
