//! Custom detection runs (`detection_runs`, migration 0010), written once for every SQL
//! backend like the rest of `store.rs`: a claim is one upsert whose update only happens when
//! the slot is new or its run was abandoned, so `rows_affected` says who won.

use sqlx::Row;

use rampart_model::Timestamp;
use rampart_store::{DetectionRun, StoreResult};

use super::db;
use crate::dialect::SqlStore;

impl SqlStore {
    pub(crate) async fn claim_detection_run(
        &self,
        name: &str,
        slot: Timestamp,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO detection_runs \
               (name, slot, owner, lease_until, started_at, finished_at, outcome) \
             VALUES ($1, $2, $3, $4, $5, NULL, '{}') \
             ON CONFLICT (name) DO UPDATE SET slot = excluded.slot, owner = excluded.owner, \
               lease_until = excluded.lease_until, started_at = excluded.started_at, \
               finished_at = NULL, outcome = '{}' \
             WHERE detection_runs.slot < excluded.slot \
                OR (detection_runs.slot = excluded.slot \
                    AND detection_runs.finished_at IS NULL \
                    AND detection_runs.lease_until < $5)",
        )
        .bind(name)
        .bind(slot.millis())
        .bind(owner)
        .bind(lease_until.millis())
        .bind(now.millis())
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn finish_detection_run(
        &self,
        name: &str,
        slot: Timestamp,
        owner: &str,
        now: Timestamp,
        outcome: &serde_json::Value,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE detection_runs SET finished_at = $1, outcome = $2 \
             WHERE name = $3 AND slot = $4 AND owner = $5 AND finished_at IS NULL",
        )
        .bind(now.millis())
        .bind(outcome.to_string())
        .bind(name)
        .bind(slot.millis())
        .bind(owner)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn list_detection_runs(&self) -> StoreResult<Vec<DetectionRun>> {
        let rows = sqlx::query(
            "SELECT name, slot, owner, started_at, finished_at, outcome \
             FROM detection_runs ORDER BY name",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                let outcome: String = r.try_get("outcome").map_err(db)?;
                Ok(DetectionRun {
                    name: r.try_get("name").map_err(db)?,
                    slot: Timestamp(r.try_get("slot").map_err(db)?),
                    owner: r.try_get("owner").map_err(db)?,
                    started_at: Timestamp(r.try_get("started_at").map_err(db)?),
                    finished_at: r
                        .try_get::<Option<i64>, _>("finished_at")
                        .map_err(db)?
                        .map(Timestamp),
                    outcome: serde_json::from_str(&outcome).unwrap_or(serde_json::Value::Null),
                })
            })
            .collect()
    }
}
