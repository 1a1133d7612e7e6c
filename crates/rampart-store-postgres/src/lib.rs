//! Rampart's PostgreSQL storage backend: [`PgStore`] implements [`rampart_store::Store`].
//!
//! One connection pool; every write method is one transaction, and the rows a write method
//! checks before changing (the incidents of a merge, a patch) are locked with
//! `SELECT ... FOR UPDATE`. Schema: `migrations/`, embedded and run on connect; the audit table
//! refuses UPDATE and DELETE through a trigger. Timestamps are stored as BIGINT
//! milliseconds; closed vocabularies by their wire names; nested values (evidence, entities,
//! params) as JSON text, with the columns filters need (entity values, tags, severities)
//! copied into indexed columns or side tables kept in sync in the same transaction.
//!
//! The store operations themselves are written once for every SQL backend
//! (`rampart-store/sql/store.rs`, compiled here as the `sql` module); this crate holds the
//! connection setup, the migrations and `dialect.rs`, where this database's SQL differs.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Executor;

use rampart_store::{StoreError, StoreResult};

mod dialect;
#[path = "../../rampart-store/sql/store.rs"]
mod sql;

use sql::db;
pub use sql::CORRELATION_ACTOR;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// The PostgreSQL store. Cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct PgStore {
    writer: PgPool,
    reader: PgPool,
    /// The schema this store created for itself (`connect_isolated`), dropped by
    /// [`PgStore::drop_isolated_schema`].
    isolated_schema: Option<String>,
    /// Rows skipped by reads because they did not decode.
    unreadable: Arc<AtomicU64>,
}

/// Largest connection pool a store opens.
const MAX_CONNECTIONS: u32 = 8;

impl PgStore {
    /// Connect to `url` (`postgres://user@host:5432/db`) and run the migrations in the
    /// connection's default schema.
    pub async fn connect(url: &str) -> StoreResult<PgStore> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect(url)
            .await
            .map_err(db)?;
        Self::migrated(pool, None).await
    }

    /// Connect with every pooled connection's `search_path` set to `schema`, creating the
    /// schema if needed, and run the migrations in it. Gives each test (or tenant) its own
    /// tables in one database. `schema` must be lower-case ASCII letters, digits and `_`.
    pub async fn connect_isolated(url: &str, schema: &str) -> StoreResult<PgStore> {
        let valid = !schema.is_empty()
            && schema.len() <= 63
            && schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !schema.as_bytes()[0].is_ascii_digit();
        if !valid {
            return Err(StoreError::Invalid(format!("schema name {schema:?}")));
        }
        let boot = PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .map_err(db)?;
        boot.execute(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"").as_str())
            .await
            .map_err(db)?;
        boot.close().await;
        let set_path = format!("SET search_path TO \"{schema}\"");
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .after_connect(move |conn, _meta| {
                let set_path = set_path.clone();
                Box::pin(async move {
                    conn.execute(set_path.as_str()).await?;
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(db)?;
        Self::migrated(pool, Some(schema.to_string())).await
    }

    async fn migrated(pool: PgPool, isolated_schema: Option<String>) -> StoreResult<PgStore> {
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::database("migrating", e))?;
        Ok(PgStore {
            writer: pool.clone(),
            reader: pool,
            isolated_schema,
            unreadable: Arc::default(),
        })
    }

    /// Drop the schema made by [`PgStore::connect_isolated`] with everything in it, and close
    /// the pool. Does nothing to the tables of a store opened with [`PgStore::connect`].
    pub async fn drop_isolated_schema(self) -> StoreResult<()> {
        if let Some(schema) = &self.isolated_schema {
            self.writer
                .execute(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE").as_str())
                .await
                .map_err(db)?;
        }
        self.writer.close().await;
        Ok(())
    }
}
