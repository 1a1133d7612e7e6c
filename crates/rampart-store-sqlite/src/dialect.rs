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

// --- appending events ----------------------------------------------------------------------

/// Append event rows inside the caller's transaction, through prepared multi-row `INSERT`s
/// of [`APPEND_ROWS`] rows (and a single-row one for the rest) stepped on SQLite's own handle:
/// every value is bound in place from the borrowed event (no copy, no per-value allocation,
/// no hop to sqlx's worker thread), and a statement of many rows keeps the table's and the
/// indexes' cursors open across them (BENCHMARKS.md, "Storing events, an append layout",
/// measures each step). The statements are the ones `EVENT_ROW_COLS` names, like
/// PostgreSQL's.
///
/// The append runs on the calling thread; on a multi-threaded runtime it tells tokio first
/// (`block_in_place`), so other tasks move to another worker meanwhile.
pub(crate) async fn insert_event_rows(
    conn: &mut DbConnection,
    events: &[rampart_model::ApiEvent<'_>],
    refs: &[crate::sql::BlobRef],
) -> rampart_store::StoreResult<()> {
    let mut handle = conn.lock_handle().await.map_err(crate::sql::db)?;
    let raw = handle.as_raw_handle();
    let multi = crate::sql::insert_event_rows_sql(APPEND_ROWS);
    let single = crate::sql::insert_event_rows_sql(1);
    // SAFETY: the handle is locked for the whole call (sqlx's worker cannot use it meanwhile)
    // and `append` finalizes its statements before it returns.
    let run = || unsafe { append::append(raw.as_ptr(), [&multi, &single], events, refs) };
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi_thread {
        tokio::task::block_in_place(run)
    } else {
        run()
    }
}

/// Rows per prepared multi-row event `INSERT`: 16 (measured against 8, 32 and 64: fewer rows
/// reopen cursors more often, more make the statement slower to prepare, once per batch).
const APPEND_ROWS: usize = 16;

mod append {
    use std::ffi::{c_char, c_int, CStr};
    use std::fmt::Write as _;
    use std::net::IpAddr;
    use std::ptr;

    use libsqlite3_sys as ffi;
    use rampart_model::ApiEvent;
    use rampart_store::codec::{kind_str, u64_col};
    use rampart_store::{StoreError, StoreResult};

    use super::APPEND_ROWS;
    use crate::sql::EVENT_ROW_PARAMS;

    /// A prepared statement, finalized on drop.
    struct Stmt {
        s: *mut ffi::sqlite3_stmt,
        db: *mut ffi::sqlite3,
    }

    impl Drop for Stmt {
        fn drop(&mut self) {
            // SAFETY: prepared by `sqlite3_prepare_v2` in `prepare` and finalized only here
            unsafe {
                ffi::sqlite3_finalize(self.s);
            }
        }
    }

    fn error(db: *mut ffi::sqlite3, doing: &str) -> StoreError {
        // SAFETY: `db` is an open connection; its message is a NUL-terminated string it owns
        let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db)) }
            .to_string_lossy()
            .into_owned();
        StoreError::database(doing, message)
    }

    /// Safety: `db` is an open connection no one else uses during the call.
    unsafe fn prepare(db: *mut ffi::sqlite3, sql: &str) -> StoreResult<Stmt> {
        let mut s = ptr::null_mut();
        let rc = ffi::sqlite3_prepare_v2(
            db,
            sql.as_ptr().cast::<c_char>(),
            sql.len() as c_int,
            &mut s,
            ptr::null_mut(),
        );
        if rc != ffi::SQLITE_OK {
            return Err(error(db, "preparing the event append"));
        }
        Ok(Stmt { s, db })
    }

    impl Stmt {
        fn check(&self, rc: c_int) -> StoreResult<()> {
            if rc == ffi::SQLITE_OK {
                Ok(())
            } else {
                Err(error(self.db, "binding an event"))
            }
        }

        /// Bound SQLITE_STATIC: the caller keeps `t` alive and unmoved until the step.
        unsafe fn text(&self, i: c_int, t: &str) -> StoreResult<()> {
            let len = c_int::try_from(t.len())
                .map_err(|_| StoreError::Invalid(format!("event field of {} bytes", t.len())))?;
            self.check(ffi::sqlite3_bind_text(
                self.s,
                i,
                t.as_ptr().cast::<c_char>(),
                len,
                ffi::SQLITE_STATIC(),
            ))
        }

        unsafe fn opt_text(&self, i: c_int, t: Option<&str>) -> StoreResult<()> {
            match t {
                Some(t) => self.text(i, t),
                None => self.check(ffi::sqlite3_bind_null(self.s, i)),
            }
        }

        unsafe fn int(&self, i: c_int, v: i64) -> StoreResult<()> {
            self.check(ffi::sqlite3_bind_int64(self.s, i, v))
        }

        unsafe fn opt_int(&self, i: c_int, v: Option<u64>) -> StoreResult<()> {
            match v {
                Some(v) => self.int(i, u64_col(v)),
                None => self.check(ffi::sqlite3_bind_null(self.s, i)),
            }
        }

        /// Bind one event's values as row `row` of the statement.
        unsafe fn row(
            &self,
            row: usize,
            ev: &ApiEvent<'_>,
            ip: Option<&str>,
            (blob, pos): crate::sql::BlobRef,
        ) -> StoreResult<()> {
            let at = |i: usize| (row * EVENT_ROW_PARAMS + i) as c_int;
            self.int(at(1), ev.ts.millis())?;
            self.opt_text(at(2), ip)?;
            self.text(at(3), &ev.method)?;
            self.text(at(4), &ev.host)?;
            self.text(at(5), &ev.path)?;
            self.text(at(6), &ev.query)?;
            self.int(at(7), i64::from(ev.status))?;
            self.opt_int(at(8), ev.request_bytes)?;
            self.opt_int(at(9), ev.response_bytes)?;
            self.opt_int(at(10), ev.latency_us)?;
            self.text(at(11), &ev.user_agent)?;
            self.opt_text(at(12), ev.principal.as_deref())?;
            self.opt_text(at(13), ev.api_key_id.as_deref())?;
            self.opt_text(at(14), ev.service.as_deref())?;
            self.text(at(15), kind_str(ev.kind))?;
            self.text(at(16), &ev.source_format)?;
            self.int(at(17), blob)?;
            self.int(at(18), pos)
        }

        unsafe fn step(&self) -> StoreResult<()> {
            let rc = ffi::sqlite3_step(self.s);
            ffi::sqlite3_reset(self.s);
            if rc != ffi::SQLITE_DONE {
                return Err(error(self.db, "appending events"));
            }
            Ok(())
        }
    }

    /// Append one row per event: `sql` is the statement of [`APPEND_ROWS`] rows and the one
    /// of a single row. Safety: `db` is an open connection no one else uses during the call.
    pub(super) unsafe fn append(
        db: *mut ffi::sqlite3,
        sql: [&str; 2],
        events: &[ApiEvent<'_>],
        refs: &[crate::sql::BlobRef],
    ) -> StoreResult<()> {
        let multi = prepare(db, sql[0])?;
        let single = prepare(db, sql[1])?;
        // the chunk's client addresses as text, one buffer filled before any is bound
        let mut ips = String::with_capacity(APPEND_ROWS * 16);
        let mut spans: Vec<Option<(usize, usize)>> = Vec::with_capacity(APPEND_ROWS);
        let mut done = 0;
        while done < events.len() {
            let n = if events.len() - done >= APPEND_ROWS {
                APPEND_ROWS
            } else {
                1
            };
            let stmt = if n == APPEND_ROWS { &multi } else { &single };
            let chunk = &events[done..done + n];
            ips.clear();
            spans.clear();
            for ev in chunk {
                spans.push(ev.client_ip.map(|addr| {
                    let a = ips.len();
                    push_ip(&mut ips, addr);
                    (a, ips.len())
                }));
            }
            for (k, (ev, span)) in chunk.iter().zip(&spans).enumerate() {
                let ip = span.map(|(a, b)| &ips[a..b]);
                stmt.row(k, ev, ip, refs[done + k])?;
            }
            stmt.step()?;
            done += n;
        }
        Ok(())
    }

    /// An address in its usual text form (what `Display` writes), v4 without the formatter.
    fn push_ip(out: &mut String, addr: IpAddr) {
        match addr {
            IpAddr::V4(a) => {
                for (i, o) in a.octets().into_iter().enumerate() {
                    if i > 0 {
                        out.push('.');
                    }
                    if o >= 100 {
                        out.push((b'0' + o / 100) as char);
                    }
                    if o >= 10 {
                        out.push((b'0' + o / 10 % 10) as char);
                    }
                    out.push((b'0' + o % 10) as char);
                }
            }
            IpAddr::V6(a) => {
                let _ = write!(out, "{a}");
            }
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn addresses_are_written_as_display_writes_them() {
            for a in [
                "0.0.0.0",
                "1.2.3.4",
                "10.100.255.9",
                "255.255.255.255",
                "::1",
                "2001:db8::7",
            ] {
                let addr: std::net::IpAddr = a.parse().unwrap();
                let mut s = String::new();
                super::push_ip(&mut s, addr);
                assert_eq!(s, addr.to_string());
            }
        }
    }
}

/// Whether the client-IP index leads with the event's hour (`ts / 3600000`, migration 0014):
/// a lookup by client then names the hours it visits (`store.rs`, `client_ip_hours`).
pub(crate) const CLIENT_IP_BY_HOUR: bool = true;
