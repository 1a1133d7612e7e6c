//! Playbook runs and their steps (`playbook_runs`, `playbook_run_steps`), written once for
//! every SQL backend like the rest of `store.rs`, whose `Store` impl calls these. A runner
//! holds a run by its lease: every write a runner makes checks, in the same statement or
//! transaction, that the run is still `running` and leased to it, so a cancelled run or one
//! another node claimed after this one's lease expired is not advanced by a stale runner.

use sqlx::Row;

use rampart_model::{
    EntityKind, NewAudit, NewRun, PlaybookRun, RunStatus, RunStep, RunSubject, StepStatus,
    Timestamp,
};
use rampart_store::{StoreError, StoreResult};

use super::{db, insert_audit, not_found};
use crate::dialect::{DbRow, SqlStore, ROW_LOCK};

const RUN_COLS: &str = "id, playbook, version, body, subject_kind, subject_id, entity_kind, \
    entity_value, incident_id, status, wake_at, requested_by, lease_owner, lease_until, \
    created_at, updated_at, error";

const STEP_COLS: &str =
    "run_id, step_key, step_id, status, input, output, error, attempt, started_at, finished_at";

fn json_col(r: &DbRow, name: &str) -> StoreResult<serde_json::Value> {
    let text: String = r.try_get(name).map_err(db)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("run {name}: {e}")))
}

fn ts_col(r: &DbRow, name: &str) -> StoreResult<Option<Timestamp>> {
    Ok(r.try_get::<Option<i64>, _>(name)
        .map_err(db)?
        .map(Timestamp))
}

fn run_from_row(r: &DbRow) -> StoreResult<PlaybookRun> {
    let kind: String = r.try_get("subject_kind").map_err(db)?;
    let subject_id: Option<i64> = r.try_get("subject_id").map_err(db)?;
    let subject = match (kind.as_str(), subject_id) {
        ("incident", Some(id)) => RunSubject::Incident(id),
        ("alert", Some(id)) => RunSubject::Alert(id),
        ("entity", _) => {
            let k: Option<String> = r.try_get("entity_kind").map_err(db)?;
            let kind: EntityKind =
                serde_json::from_value(serde_json::Value::String(k.unwrap_or_default()))
                    .map_err(|e| StoreError::Corrupt(format!("run entity kind: {e}")))?;
            RunSubject::Entity {
                kind,
                value: r
                    .try_get::<Option<String>, _>("entity_value")
                    .map_err(db)?
                    .unwrap_or_default(),
            }
        }
        _ => return Err(StoreError::Corrupt(format!("run subject {kind:?}"))),
    };
    let status: String = r.try_get("status").map_err(db)?;
    Ok(PlaybookRun {
        id: r.try_get("id").map_err(db)?,
        playbook: r.try_get("playbook").map_err(db)?,
        version: r.try_get("version").map_err(db)?,
        body: json_col(r, "body")?,
        subject,
        incident_id: r.try_get("incident_id").map_err(db)?,
        status: status
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("run status {status:?}")))?,
        wake_at: ts_col(r, "wake_at")?,
        requested_by: r.try_get("requested_by").map_err(db)?,
        lease_owner: r.try_get("lease_owner").map_err(db)?,
        lease_until: ts_col(r, "lease_until")?,
        created_at: Timestamp(r.try_get("created_at").map_err(db)?),
        updated_at: Timestamp(r.try_get("updated_at").map_err(db)?),
        error: r.try_get("error").map_err(db)?,
    })
}

fn step_from_row(r: &DbRow) -> StoreResult<RunStep> {
    let status: String = r.try_get("status").map_err(db)?;
    Ok(RunStep {
        run_id: r.try_get("run_id").map_err(db)?,
        step_key: r.try_get("step_key").map_err(db)?,
        step_id: r.try_get("step_id").map_err(db)?,
        status: status
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("step status {status:?}")))?,
        input: json_col(r, "input")?,
        output: json_col(r, "output")?,
        error: r.try_get("error").map_err(db)?,
        attempt: r.try_get("attempt").map_err(db)?,
        started_at: Timestamp(r.try_get("started_at").map_err(db)?),
        finished_at: ts_col(r, "finished_at")?,
    })
}

fn not_held(run_id: i64) -> StoreError {
    StoreError::Conflict(format!(
        "playbook run {run_id} is not running under this runner (cancelled, or claimed by another)"
    ))
}

fn run_audit(actor: &str, action: &str, run: &PlaybookRun, details: serde_json::Value) -> NewAudit {
    let mut d = serde_json::json!({
        "playbook": run.playbook,
        "version": run.version,
        "subject": run.subject,
        "incident_id": run.incident_id,
        "status": run.status,
    });
    if let (Some(o), serde_json::Value::Object(extra)) = (d.as_object_mut(), details) {
        o.extend(extra);
    }
    NewAudit::now(actor, action, "playbook_run", run.id, d)
}

/// Playbook-run operations, called by the `Store` impl in `store.rs`.
impl SqlStore {
    pub(crate) async fn pb_create_run(
        &self,
        new: &NewRun,
        actor: &str,
    ) -> StoreResult<PlaybookRun> {
        let now = Timestamp::now().millis();
        let (subject_id, entity_kind, entity_value) = match &new.subject {
            RunSubject::Incident(id) | RunSubject::Alert(id) => (Some(*id), None, None),
            RunSubject::Entity { kind, value } => {
                (None, Some(kind.as_str().to_string()), Some(value.clone()))
            }
        };
        let mut tx = self.writer.begin().await.map_err(db)?;
        let row = sqlx::query(&format!(
            "INSERT INTO playbook_runs (playbook, version, body, subject_kind, subject_id, \
             entity_kind, entity_value, incident_id, status, wake_at, requested_by, lease_owner, \
             lease_until, created_at, updated_at, error) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', NULL, $9, NULL, NULL, $10, $10, NULL) \
             RETURNING {RUN_COLS}"
        ))
        .bind(&new.playbook)
        .bind(new.version)
        .bind(new.body.to_string())
        .bind(new.subject.kind_str())
        .bind(subject_id)
        .bind(entity_kind)
        .bind(entity_value)
        .bind(new.incident_id)
        .bind(&new.requested_by)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let run = run_from_row(&row)?;
        insert_audit(
            &mut tx,
            &run_audit(actor, "playbook_run.create", &run, serde_json::json!({})),
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(run)
    }

    pub(crate) async fn pb_claim_runs(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<PlaybookRun>> {
        let now = now.millis();
        let candidates = sqlx::query(
            "SELECT id, status FROM playbook_runs WHERE status = 'queued' \
             OR (status = 'running' AND (lease_until IS NULL OR lease_until < $1)) \
             OR (status = 'waiting' AND wake_at IS NOT NULL AND wake_at <= $1) \
             ORDER BY id LIMIT $2",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        let mut claimed = Vec::new();
        for c in &candidates {
            let id: i64 = c.try_get("id").map_err(db)?;
            let status: String = c.try_get("status").map_err(db)?;
            // Compare-and-set: only if nobody took it since it was read.
            let row = sqlx::query(&format!(
                "UPDATE playbook_runs SET status = 'running', lease_owner = $1, lease_until = $2, \
                 wake_at = NULL, updated_at = $3 \
                 WHERE id = $4 AND status = $5 AND (lease_until IS NULL OR lease_until < $3) \
                 RETURNING {RUN_COLS}"
            ))
            .bind(owner)
            .bind(lease_until.millis())
            .bind(now)
            .bind(id)
            .bind(&status)
            .fetch_optional(&self.writer)
            .await
            .map_err(db)?;
            if let Some(row) = row {
                claimed.push(run_from_row(&row)?);
            }
        }
        Ok(claimed)
    }

    /// Extend the lease of a run `owner` holds (inside `conn`'s transaction), or `Conflict`.
    async fn pb_hold(
        conn: &mut crate::dialect::DbConnection,
        run_id: i64,
        owner: &str,
        lease_until: Option<Timestamp>,
    ) -> StoreResult<()> {
        let now = Timestamp::now().millis();
        let n = sqlx::query(
            "UPDATE playbook_runs SET updated_at = $1, lease_until = COALESCE($2, lease_until) \
             WHERE id = $3 AND lease_owner = $4 AND status = 'running'",
        )
        .bind(now)
        .bind(lease_until.map(|t| t.millis()))
        .bind(run_id)
        .bind(owner)
        .execute(&mut *conn)
        .await
        .map_err(db)?
        .rows_affected();
        if n == 1 {
            Ok(())
        } else {
            Err(not_held(run_id))
        }
    }

    pub(crate) async fn pb_record_step_started(
        &self,
        run_id: i64,
        owner: &str,
        key: &str,
        step_id: &str,
        input: &serde_json::Value,
        lease_until: Timestamp,
    ) -> StoreResult<RunStep> {
        let now = Timestamp::now().millis();
        let mut tx = self.writer.begin().await.map_err(db)?;
        Self::pb_hold(&mut tx, run_id, owner, Some(lease_until)).await?;
        let row = sqlx::query(&format!(
            "INSERT INTO playbook_run_steps (run_id, step_key, step_id, status, input, output, \
             error, attempt, started_at, finished_at, seq) \
             VALUES ($1, $2, $3, 'started', $4, 'null', NULL, 1, $5, NULL, \
             (SELECT COALESCE(MAX(seq), 0) + 1 FROM playbook_run_steps WHERE run_id = $1)) \
             ON CONFLICT (run_id, step_key) DO UPDATE SET status = 'started', \
             input = excluded.input, error = NULL, started_at = excluded.started_at, \
             attempt = playbook_run_steps.attempt + 1 \
             WHERE playbook_run_steps.status <> 'completed' RETURNING {STEP_COLS}"
        ))
        .bind(run_id)
        .bind(key)
        .bind(step_id)
        .bind(input.to_string())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        .ok_or_else(|| {
            StoreError::Conflict(format!("step {key} of playbook run {run_id} is completed"))
        })?;
        let step = step_from_row(&row)?;
        tx.commit().await.map_err(db)?;
        Ok(step)
    }

    pub(crate) async fn pb_record_step_finished(
        &self,
        run_id: i64,
        owner: &str,
        key: &str,
        step_id: &str,
        input: Option<&serde_json::Value>,
        output: Result<&serde_json::Value, &str>,
    ) -> StoreResult<RunStep> {
        let now = Timestamp::now().millis();
        let (status, out, error) = match output {
            Ok(v) => (StepStatus::Completed, v.to_string(), None),
            Err(e) => (StepStatus::Failed, "null".to_string(), Some(e.to_string())),
        };
        let mut tx = self.writer.begin().await.map_err(db)?;
        Self::pb_hold(&mut tx, run_id, owner, None).await?;
        let row = sqlx::query(&format!(
            "INSERT INTO playbook_run_steps (run_id, step_key, step_id, status, input, output, \
             error, attempt, started_at, finished_at, seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8, \
             (SELECT COALESCE(MAX(seq), 0) + 1 FROM playbook_run_steps WHERE run_id = $1)) \
             ON CONFLICT (run_id, step_key) DO UPDATE SET status = excluded.status, \
             output = excluded.output, error = excluded.error, finished_at = excluded.finished_at \
             WHERE playbook_run_steps.status = 'started' RETURNING {STEP_COLS}"
        ))
        .bind(run_id)
        .bind(key)
        .bind(step_id)
        .bind(status.as_str())
        .bind(input.map_or_else(|| "null".to_string(), |v| v.to_string()))
        .bind(out)
        .bind(error)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        .ok_or_else(|| {
            StoreError::Conflict(format!("step {key} of playbook run {run_id} is finished"))
        })?;
        let step = step_from_row(&row)?;
        tx.commit().await.map_err(db)?;
        Ok(step)
    }

    pub(crate) async fn pb_park_run(
        &self,
        run_id: i64,
        owner: &str,
        wake_at: Option<Timestamp>,
    ) -> StoreResult<()> {
        let n = sqlx::query(
            "UPDATE playbook_runs SET status = 'waiting', wake_at = $1, lease_owner = NULL, \
             lease_until = NULL, updated_at = $2 \
             WHERE id = $3 AND lease_owner = $4 AND status = 'running'",
        )
        .bind(wake_at.map(|t| t.millis()))
        .bind(Timestamp::now().millis())
        .bind(run_id)
        .bind(owner)
        .execute(&self.writer)
        .await
        .map_err(db)?
        .rows_affected();
        if n == 1 {
            Ok(())
        } else {
            Err(not_held(run_id))
        }
    }

    pub(crate) async fn pb_finish_run(
        &self,
        run_id: i64,
        owner: &str,
        status: RunStatus,
        error: Option<&str>,
        actor: &str,
    ) -> StoreResult<PlaybookRun> {
        if !matches!(status, RunStatus::Succeeded | RunStatus::Failed) {
            return Err(StoreError::Invalid(format!(
                "a run is finished as succeeded or failed, not {status}"
            )));
        }
        let mut tx = self.writer.begin().await.map_err(db)?;
        let row = sqlx::query(&format!(
            "UPDATE playbook_runs SET status = $1, error = $2, lease_owner = NULL, \
             lease_until = NULL, wake_at = NULL, updated_at = $3 \
             WHERE id = $4 AND lease_owner = $5 AND status = 'running' RETURNING {RUN_COLS}"
        ))
        .bind(status.as_str())
        .bind(error)
        .bind(Timestamp::now().millis())
        .bind(run_id)
        .bind(owner)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        .ok_or_else(|| not_held(run_id))?;
        let run = run_from_row(&row)?;
        insert_audit(
            &mut tx,
            &run_audit(
                actor,
                &format!("playbook_run.{status}"),
                &run,
                serde_json::json!({ "error": error }),
            ),
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(run)
    }

    pub(crate) async fn pb_approve_run(
        &self,
        run_id: i64,
        key: &str,
        actor: &str,
    ) -> StoreResult<PlaybookRun> {
        let now = Timestamp::now();
        let mut tx = self.writer.begin().await.map_err(db)?;
        let found = sqlx::query(&format!(
            "SELECT {RUN_COLS} FROM playbook_runs WHERE id = $1{ROW_LOCK}"
        ))
        .bind(run_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(row) = found else {
            return Err(not_found("playbook run", run_id));
        };
        let run = run_from_row(&row)?;
        if run.status != RunStatus::Waiting {
            return Err(StoreError::Conflict(format!(
                "playbook run {run_id} is {}, not waiting for an approval",
                run.status
            )));
        }
        let output = serde_json::json!({ "approved_by": actor, "approved_at": now });
        let n = sqlx::query(
            "UPDATE playbook_run_steps SET status = 'completed', output = $1, finished_at = $2 \
             WHERE run_id = $3 AND step_key = $4 AND status = 'started'",
        )
        .bind(output.to_string())
        .bind(now.millis())
        .bind(run_id)
        .bind(key)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if n != 1 {
            return Err(StoreError::Conflict(format!(
                "playbook run {run_id} is not waiting at step {key}"
            )));
        }
        let row = sqlx::query(&format!(
            "UPDATE playbook_runs SET status = 'queued', wake_at = NULL, updated_at = $1 \
             WHERE id = $2 AND status = 'waiting' RETURNING {RUN_COLS}"
        ))
        .bind(now.millis())
        .bind(run_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        .ok_or_else(|| StoreError::Conflict(format!("playbook run {run_id} changed")))?;
        let run = run_from_row(&row)?;
        insert_audit(
            &mut tx,
            &run_audit(
                actor,
                "playbook_run.approve",
                &run,
                serde_json::json!({ "step": key }),
            ),
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(run)
    }

    pub(crate) async fn pb_cancel_run(&self, run_id: i64, actor: &str) -> StoreResult<PlaybookRun> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let row = sqlx::query(&format!(
            "UPDATE playbook_runs SET status = 'cancelled', lease_owner = NULL, \
             lease_until = NULL, wake_at = NULL, updated_at = $1 \
             WHERE id = $2 AND status IN ('queued', 'running', 'waiting') RETURNING {RUN_COLS}"
        ))
        .bind(Timestamp::now().millis())
        .bind(run_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(row) = row else {
            drop(tx);
            return match self.pb_get_run(run_id).await? {
                None => Err(not_found("playbook run", run_id)),
                Some((r, _)) => Err(StoreError::Conflict(format!(
                    "playbook run {run_id} is {}",
                    r.status
                ))),
            };
        };
        let run = run_from_row(&row)?;
        insert_audit(
            &mut tx,
            &run_audit(actor, "playbook_run.cancel", &run, serde_json::json!({})),
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(run)
    }

    pub(crate) async fn pb_list_runs(
        &self,
        incident_id: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<PlaybookRun>> {
        let rows = match incident_id {
            Some(i) => sqlx::query(&format!(
                "SELECT {RUN_COLS} FROM playbook_runs WHERE incident_id = $1 ORDER BY id DESC LIMIT $2"
            ))
            .bind(i)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db)?,
            None => sqlx::query(&format!(
                "SELECT {RUN_COLS} FROM playbook_runs ORDER BY id DESC LIMIT $1"
            ))
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db)?,
        };
        Ok(self.decode_rows("playbook run", &rows, run_from_row))
    }

    pub(crate) async fn pb_get_run(
        &self,
        run_id: i64,
    ) -> StoreResult<Option<(PlaybookRun, Vec<RunStep>)>> {
        let Some(row) = sqlx::query(&format!(
            "SELECT {RUN_COLS} FROM playbook_runs WHERE id = $1"
        ))
        .bind(run_id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?
        else {
            return Ok(None);
        };
        let run = run_from_row(&row)?;
        let rows = sqlx::query(&format!(
            "SELECT {STEP_COLS} FROM playbook_run_steps WHERE run_id = $1 ORDER BY seq"
        ))
        .bind(run_id)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        let steps = rows
            .iter()
            .map(step_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Some((run, steps)))
    }
}
