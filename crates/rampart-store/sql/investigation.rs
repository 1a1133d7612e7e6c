//! Stored automated investigations (`investigations`, migration 0012), written once for
//! every SQL backend like the rest of `store.rs`: a claim is one upsert per candidate whose
//! update only happens for an abandoned run, so `rows_affected` says who won.

use sqlx::Row;

use rampart_model::{IncidentStatus, Timestamp};
use rampart_store::{StoreResult, StoredInvestigation};

use super::db;
use crate::dialect::SqlStore;

impl SqlStore {
    pub(crate) async fn claim_investigation_ids(
        &self,
        owner: &str,
        since: Timestamp,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<i64>> {
        let candidates: Vec<i64> = sqlx::query_scalar(
            "SELECT i.id FROM incidents i \
             LEFT JOIN investigations v ON v.incident_id = i.id \
             WHERE i.created_at >= $1 AND i.status <> $2 \
               AND (v.incident_id IS NULL OR (v.finished_at IS NULL AND v.lease_until < $3)) \
             ORDER BY i.id LIMIT $4",
        )
        .bind(since.millis())
        .bind(IncidentStatus::Redirected.as_str())
        .bind(now.millis())
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        let mut claimed = Vec::with_capacity(candidates.len());
        for id in candidates {
            let done = sqlx::query(
                "INSERT INTO investigations \
                   (incident_id, owner, lease_until, started_at, finished_at, result) \
                 VALUES ($1, $2, $3, $4, NULL, 'null') \
                 ON CONFLICT (incident_id) DO UPDATE SET owner = excluded.owner, \
                   lease_until = excluded.lease_until, started_at = excluded.started_at \
                 WHERE investigations.finished_at IS NULL \
                   AND investigations.lease_until < excluded.started_at",
            )
            .bind(id)
            .bind(owner)
            .bind(lease_until.millis())
            .bind(now.millis())
            .execute(&self.writer)
            .await
            .map_err(db)?;
            if done.rows_affected() == 1 {
                claimed.push(id);
            }
        }
        Ok(claimed)
    }

    pub(crate) async fn store_investigation(
        &self,
        incident_id: i64,
        owner: Option<&str>,
        now: Timestamp,
        result: &serde_json::Value,
    ) -> StoreResult<bool> {
        let done = match owner {
            Some(owner) => sqlx::query(
                "UPDATE investigations SET finished_at = $1, result = $2 \
                 WHERE incident_id = $3 AND owner = $4 AND finished_at IS NULL",
            )
            .bind(now.millis())
            .bind(result.to_string())
            .bind(incident_id)
            .bind(owner)
            .execute(&self.writer)
            .await
            .map_err(db)?,
            None => sqlx::query(
                "INSERT INTO investigations \
                   (incident_id, owner, lease_until, started_at, finished_at, result) \
                 VALUES ($1, 'manual', $2, $2, $2, $3) \
                 ON CONFLICT (incident_id) DO UPDATE SET owner = excluded.owner, \
                   lease_until = excluded.lease_until, started_at = excluded.started_at, \
                   finished_at = excluded.finished_at, result = excluded.result",
            )
            .bind(incident_id)
            .bind(now.millis())
            .bind(result.to_string())
            .execute(&self.writer)
            .await
            .map_err(db)?,
        };
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn load_investigation(
        &self,
        incident_id: i64,
    ) -> StoreResult<Option<StoredInvestigation>> {
        let row = sqlx::query(
            "SELECT incident_id, owner, started_at, finished_at, result \
             FROM investigations WHERE incident_id = $1",
        )
        .bind(incident_id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?;
        row.map(|r| {
            let result: String = r.try_get("result").map_err(db)?;
            Ok(StoredInvestigation {
                incident_id: r.try_get("incident_id").map_err(db)?,
                owner: r.try_get("owner").map_err(db)?,
                started_at: Timestamp(r.try_get("started_at").map_err(db)?),
                finished_at: r
                    .try_get::<Option<i64>, _>("finished_at")
                    .map_err(db)?
                    .map(Timestamp),
                result: serde_json::from_str(&result).unwrap_or(serde_json::Value::Null),
            })
        })
        .transpose()
    }
}
