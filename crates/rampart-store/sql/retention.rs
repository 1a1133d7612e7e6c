//! Retention (`Store::prune`), written once for every SQL backend like the rest of
//! `store.rs`. Each call deletes one bounded chunk, oldest first, in one transaction, so the
//! single SQLite writer is never held for long and the pipeline's commits interleave with a
//! long pass. Several nodes pruning at once delete disjoint or already-deleted rows: every
//! statement is idempotent.

use sqlx::{QueryBuilder, Row};

use rampart_model::{ActionStatus, IncidentStatus, NewAudit, RunStatus};
use rampart_store::{Retention, RetentionTable, StoreResult};

use super::{db, insert_audit};
use crate::dialect::{Db, DbConnection, SqlStore, SEARCH_KEY};

impl SqlStore {
    pub(crate) async fn prune_rows(
        &self,
        rule: &Retention,
        limit: u32,
        actor: &str,
    ) -> StoreResult<u64> {
        let limit = i64::from(limit.max(1));
        match rule.table {
            RetentionTable::Events => self.prune_events(rule, limit).await,
            RetentionTable::Incidents => match rule.before {
                Some(before) => self.prune_incidents(before.millis(), limit, actor).await,
                None => Ok(0),
            },
            RetentionTable::PlaybookRuns => match rule.before {
                Some(before) => self.prune_runs(before.millis(), limit).await,
                None => Ok(0),
            },
        }
    }

    async fn prune_events(&self, rule: &Retention, limit: i64) -> StoreResult<u64> {
        let mut gone = 0;
        if let Some(before) = rule.before {
            gone += sqlx::query(
                "DELETE FROM events WHERE id IN \
                 (SELECT id FROM events WHERE ts < $1 ORDER BY ts LIMIT $2)",
            )
            .bind(before.millis())
            .bind(limit)
            .execute(&self.writer)
            .await
            .map_err(db)?
            .rows_affected();
        }
        if let Some(keep) = rule.keep_rows {
            let left = limit - gone as i64;
            if left <= 0 {
                return Ok(gone);
            }
            // the newest `keep` rows stay: everything at or below the id just past them goes
            let cut: Option<i64> =
                sqlx::query_scalar("SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET $1")
                    .bind(i64::try_from(keep).unwrap_or(i64::MAX))
                    .fetch_optional(&self.reader)
                    .await
                    .map_err(db)?;
            if let Some(cut) = cut {
                gone += sqlx::query(
                    "DELETE FROM events WHERE id IN \
                     (SELECT id FROM events WHERE id <= $1 ORDER BY id LIMIT $2)",
                )
                .bind(cut)
                .bind(left)
                .execute(&self.writer)
                .await
                .map_err(db)?
                .rows_affected();
            }
        }
        self.prune_event_blobs(limit).await?;
        Ok(gone)
    }

    /// Drop the blobs no stored event can name any more: a blob whose newest event is older
    /// than the oldest event left held only events that are gone (every event it held is at
    /// least as old as its newest). A blob whose events went by row count while older-stamped
    /// events stay waits for a later pass; with no event left every blob goes.
    async fn prune_event_blobs(&self, limit: i64) -> StoreResult<u64> {
        Ok(sqlx::query(
            "DELETE FROM event_blobs WHERE id IN (SELECT id FROM event_blobs \
             WHERE ts_max < COALESCE((SELECT MIN(ts) FROM events), $1) ORDER BY ts_max LIMIT $2)",
        )
        .bind(i64::MAX)
        .bind(limit)
        .execute(&self.writer)
        .await
        .map_err(db)?
        .rows_affected())
    }

    async fn prune_incidents(&self, before: i64, limit: i64, actor: &str) -> StoreResult<u64> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let rows = sqlx::query(
            "SELECT id, status, title FROM incidents i \
             WHERE status IN ($1, $2) AND updated_at < $3 \
             AND NOT EXISTS (SELECT 1 FROM actions a WHERE a.incident_id = i.id \
                 AND a.status IN ($4, $5)) \
             AND NOT EXISTS (SELECT 1 FROM playbook_runs r WHERE r.incident_id = i.id \
                 AND r.status NOT IN ($6, $7, $8)) \
             ORDER BY id LIMIT $9",
        )
        .bind(IncidentStatus::Resolved.as_str())
        .bind(IncidentStatus::Redirected.as_str())
        .bind(before)
        .bind(ActionStatus::PendingApproval.as_str())
        .bind(ActionStatus::Active.as_str())
        .bind(RunStatus::Succeeded.as_str())
        .bind(RunStatus::Failed.as_str())
        .bind(RunStatus::Cancelled.as_str())
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut ids = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.try_get("id").map_err(db)?;
            let status: String = r.try_get("status").map_err(db)?;
            let title: String = r.try_get("title").map_err(db)?;
            ids.push(id);
            insert_audit(
                &mut tx,
                &NewAudit::now(
                    actor,
                    "incident.deleted",
                    "incident",
                    id,
                    serde_json::json!({"reason": "retention", "status": status, "title": title}),
                ),
            )
            .await?;
        }
        // dependants first (foreign keys), merged incidents that pointed here, the search
        // text, then the incidents
        let steps: [(&str, &str); 11] = [
            (
                "DELETE FROM alert_entities WHERE alert_id IN \
                 (SELECT id FROM alerts WHERE incident_id IN ",
                ")",
            ),
            ("DELETE FROM alerts WHERE incident_id IN ", ""),
            ("DELETE FROM incident_tags WHERE incident_id IN ", ""),
            ("DELETE FROM incident_entities WHERE incident_id IN ", ""),
            ("DELETE FROM incident_facets WHERE incident_id IN ", ""),
            ("DELETE FROM comments WHERE incident_id IN ", ""),
            ("DELETE FROM tasks WHERE incident_id IN ", ""),
            ("DELETE FROM investigations WHERE incident_id IN ", ""),
            (
                "DELETE FROM playbook_run_steps WHERE run_id IN \
                 (SELECT id FROM playbook_runs WHERE incident_id IN ",
                ")",
            ),
            ("DELETE FROM playbook_runs WHERE incident_id IN ", ""),
            (
                "UPDATE incidents SET redirect_to = NULL WHERE redirect_to IN ",
                "",
            ),
        ];
        for (head, tail) in steps {
            exec_in(&mut tx, head, &ids, tail).await?;
        }
        let search = format!("DELETE FROM incident_search WHERE {SEARCH_KEY} IN ");
        exec_in(&mut tx, &search, &ids, "").await?;
        let gone = exec_in(&mut tx, "DELETE FROM incidents WHERE id IN ", &ids, "").await?;
        tx.commit().await.map_err(db)?;
        Ok(gone)
    }

    async fn prune_runs(&self, before: i64, limit: i64) -> StoreResult<u64> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM playbook_runs WHERE status IN ($1, $2, $3) AND updated_at < $4 \
             ORDER BY id LIMIT $5",
        )
        .bind(RunStatus::Succeeded.as_str())
        .bind(RunStatus::Failed.as_str())
        .bind(RunStatus::Cancelled.as_str())
        .bind(before)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        if ids.is_empty() {
            return Ok(0);
        }
        exec_in(
            &mut tx,
            "DELETE FROM playbook_run_steps WHERE run_id IN ",
            &ids,
            "",
        )
        .await?;
        let gone = exec_in(&mut tx, "DELETE FROM playbook_runs WHERE id IN ", &ids, "").await?;
        tx.commit().await.map_err(db)?;
        Ok(gone)
    }
}

/// Run `head (id, id, ...) tail` with the ids bound; answers the rows it touched.
async fn exec_in(conn: &mut DbConnection, head: &str, ids: &[i64], tail: &str) -> StoreResult<u64> {
    let mut q: QueryBuilder<'_, Db> = QueryBuilder::new(head);
    q.push("(");
    let mut list = q.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    q.push(")").push(tail);
    Ok(q.build()
        .execute(&mut *conn)
        .await
        .map_err(db)?
        .rows_affected())
}
