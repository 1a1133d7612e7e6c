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
