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
