//! The SQL store written once for every SQL backend: row decoding, the helpers that run inside
//! transactions, and the whole [`Store`] implementation.
//!
//! Not a module of `rampart-store` (which knows no SQL and has no `sqlx` dependency): each
//! backend crate compiles this file as its own `sql` module
//! (`#[path = "../../rampart-store/sql/store.rs"] mod sql;`) next to its `dialect` module, which
//! names the concrete sqlx types (`Db`, `DbRow`, `DbConnection`), the store type (`SqlStore`,
//! with fields `writer`, `reader` and `unreadable`) and the few places where the dialects
//! differ: the row-lock clause, how a unique violation names its key, and the backend's name.
//! Every statement here is SQL both SQLite and PostgreSQL accept (`$N` placeholders,
//! `ON CONFLICT`, `RETURNING`, `lower(..) LIKE .. ESCAPE`).

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};

use rampart_model::{
    Action, ActionChange, ActionFilter, ActionKind, ActionStatus, ActorAccess, Alert, AlertDraft,
    AlertStatus, ApiEvent, ApiToken, AttackStage, AuditEntry, AutomationObject, Classification,
    Comment, Delivery, DeliveryFilter, DeliveryStatus, Determination, EndpointInfo, Entity,
    EntityActivity, EntityKind, EntityRole, Incident, IncidentDetail, IncidentFilter,
    IncidentPatch, IncidentSort, IncidentStatus, NewAction, NewAudit, NewDelivery, NewTask, Page,
    Role, SavedView, Session, Task, TaskKind, Timestamp, User,
};
use rampart_store::{
    AlertFilter, AppliedChanges, AuditFilter, Batch, BatchOutcome, Change, ChangeSet, Checkpoint,
    EventQuery, IdempotencyRecord, IncidentRef, IncidentState, IncidentSummary, IncidentTrails,
    Store, StoreError, StoreResult, StoreStats, StoredEvent,
};

use rampart_store::codec::*;

// Playbook runs (their SQL, called by the `Store` impl below).
#[path = "playbook.rs"]
mod playbook;

// Hunting queries (their SQL, generated from `rampart-hunt` plans).
#[path = "hunt.rs"]
pub(crate) mod hunt;

// Retention: bounded, idempotent deletes of old rows.
#[path = "detection.rs"]
mod detection;
#[path = "investigation.rs"]
mod investigation;
#[path = "retention.rs"]
mod retention;

use crate::dialect::{
    search_pattern, violated_key, Db, DbConnection, DbRow, SqlStore, BACKEND, CLAIM_LOCK,
    CLIENT_IP_BY_HOUR, INSERT_EVENTS, OPTIMIZE, ROW_LOCK, SEARCH_KEY, SEARCH_MATCH, TOKEN_NAME_KEY,
    UNIQUE_KEYS, USER_NAME_KEY,
};

/// Actor recorded for changes made by `apply` (the correlator).
pub const CORRELATION_ACTOR: &str = "system:correlation";

/// Rows per multi-row `INSERT` of events (18 columns each: well under SQLite's 32766
/// bind-variable limit and PostgreSQL's 65535 bind-parameter limit).
const EVENT_CHUNK: usize = 1000;

/// A driver error as a store error. A unique violation becomes a `Conflict` with a message
/// naming what conflicted, never the driver's text (which names tables and columns and
/// reaches the client as the 409 body); anything else is `Database` with the driver's error as
/// its source.
pub(crate) fn db(e: sqlx::Error) -> StoreError {
    if let Some(key) = violated_key(&e) {
        let message = UNIQUE_KEYS
            .iter()
            .find(|(k, _)| *k == key)
            .map_or("a record with the same key already exists", |(_, m)| *m);
        return StoreError::Conflict(message.to_string());
    }
    StoreError::database("statement failed", e)
}

fn not_found(what: &'static str, id: impl ToString) -> StoreError {
    StoreError::NotFound {
        what,
        id: id.to_string(),
    }
}

/// What every SQL store offers beyond the [`Store`] contract.
impl SqlStore {
    /// Close the store's pools (the writer and the readers; one pool on PostgreSQL), waiting
    /// for connections to finish.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    /// Run one raw SQL statement on the writer, outside the [`Store`] contract: for tests that
    /// plant unreadable rows or failing triggers, and for manual repairs. Returns the number of
    /// rows changed.
    pub async fn execute_raw(&self, sql: &str) -> StoreResult<u64> {
        sqlx::query(sql)
            .execute(&self.writer)
            .await
            .map(|r| r.rows_affected())
            .map_err(db)
    }
}

// --- row decoding ------------------------------------------------------------------------

const EVENT_COLS: &str = "id, ts, client_ip, method, host, path, query, status, request_bytes, \
    response_bytes, latency_us, user_agent, principal, api_key_id, service, kind, source_format, \
    extra, raw, blob_id, blob_pos";

/// The blobs a page of event rows names, opened (a blob that does not open keeps its error:
/// its events then fail to decode, are skipped and counted, and the rest of the page stands).
type EventBlobs = std::collections::HashMap<i64, Result<rampart_store::blob::Blob, String>>;

async fn event_blobs(conn: &mut DbConnection, rows: &[DbRow]) -> StoreResult<EventBlobs> {
    let mut ids: Vec<i64> = rows
        .iter()
        .filter_map(|r| r.try_get::<Option<i64>, _>("blob_id").ok().flatten())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(EVENT_CHUNK) {
        let mut qb: QueryBuilder<Db> =
            QueryBuilder::new("SELECT id, data FROM event_blobs WHERE id IN (");
        let mut sep = qb.separated(", ");
        for id in chunk {
            sep.push_bind(*id);
        }
        qb.push(")");
        for r in qb.build().fetch_all(&mut *conn).await.map_err(db)? {
            let id: i64 = r.try_get("id").map_err(db)?;
            let data: Vec<u8> = r.try_get("data").map_err(db)?;
            out.insert(
                id,
                rampart_store::blob::Blob::open(&data).map_err(|e| e.to_string()),
            );
        }
    }
    Ok(out)
}

fn event_from_row(r: &DbRow, blobs: &EventBlobs) -> StoreResult<StoredEvent> {
    let (inline_extra, inline_raw): (String, String);
    let (extra, raw) = match r.try_get::<Option<i64>, _>("blob_id").map_err(db)? {
        Some(blob) => {
            let pos: i64 = r.try_get("blob_pos").map_err(db)?;
            blobs
                .get(&blob)
                .ok_or_else(|| StoreError::Corrupt(format!("event blob {blob} is missing")))?
                .as_ref()
                .map_err(|e| StoreError::Corrupt(format!("event blob {blob}: {e}")))?
                .get(usize::try_from(pos).unwrap_or(usize::MAX))?
        }
        None => {
            inline_extra = r.try_get("extra").map_err(db)?;
            inline_raw = r.try_get("raw").map_err(db)?;
            (inline_extra.as_str(), inline_raw.as_str())
        }
    };
    let x: ExtraOwned = from_json("event extra", extra)?;
    let client_ip: Option<String> = r.try_get("client_ip").map_err(db)?;
    let client_ip = match client_ip {
        Some(s) => Some(
            s.parse()
                .map_err(|_| StoreError::Corrupt(format!("client ip {s:?}")))?,
        ),
        None => None,
    };
    let opt_u64 = |name: &str| -> StoreResult<Option<u64>> {
        Ok(r.try_get::<Option<i64>, _>(name).map_err(db)?.map(col_u64))
    };
    let kind: String = r.try_get("kind").map_err(db)?;
    let status: i64 = r.try_get("status").map_err(db)?;
    let event = ApiEvent {
        ts: Timestamp(r.try_get("ts").map_err(db)?),
        client_ip,
        peer_ip: x.peer_ip,
        method: own(r.try_get("method").map_err(db)?),
        scheme: own(x.scheme),
        host: own(r.try_get("host").map_err(db)?),
        path: own(r.try_get("path").map_err(db)?),
        query: own(r.try_get("query").map_err(db)?),
        protocol: own(x.protocol),
        status: u16::try_from(status).unwrap_or(0),
        request_bytes: opt_u64("request_bytes")?,
        response_bytes: opt_u64("response_bytes")?,
        latency_us: opt_u64("latency_us")?,
        user_agent: own(r.try_get("user_agent").map_err(db)?),
        referer: own(x.referer),
        principal: r
            .try_get::<Option<String>, _>("principal")
            .map_err(db)?
            .map(own),
        api_key_id: r.try_get("api_key_id").map_err(db)?,
        authenticated: x.authenticated,
        service: r
            .try_get::<Option<String>, _>("service")
            .map_err(db)?
            .map(own),
        request_headers: x
            .request_headers
            .into_iter()
            .map(|(k, v)| (own(k), own(v)))
            .collect(),
        response_headers: x
            .response_headers
            .into_iter()
            .map(|(k, v)| (own(k), own(v)))
            .collect(),
        request_body: x.request_body.map(own),
        response_body: x.response_body.map(own),
        kind: parse_kind(&kind)?,
        message: x.message.map(own),
        source_format: own(r.try_get("source_format").map_err(db)?),
        raw: own(raw.to_owned()),
    };
    Ok(StoredEvent {
        id: r.try_get("id").map_err(db)?,
        event,
    })
}

const INCIDENT_COLS: &str = "i.id, i.title, i.severity, i.status, i.assigned_to, \
    i.classification, i.determination, i.tags, i.created_at, i.updated_at, i.first_activity, \
    i.last_activity, i.priority, i.priority_reasons, i.entities, i.alert_count, i.redirect_to";

fn incident_from_row(r: &DbRow) -> StoreResult<Incident> {
    let s = |name: &str| -> StoreResult<String> { r.try_get(name).map_err(db) };
    let n = |name: &str| -> StoreResult<i64> { r.try_get(name).map_err(db) };
    Ok(Incident {
        id: n("id")?,
        title: s("title")?,
        severity: parse_wire("severity", &s("severity")?)?,
        status: parse_wire("status", &s("status")?)?,
        assigned_to: r.try_get("assigned_to").map_err(db)?,
        classification: parse_wire("classification", &s("classification")?)?,
        determination: parse_wire("determination", &s("determination")?)?,
        tags: from_json("incident tags", &s("tags")?)?,
        created_at: Timestamp(n("created_at")?),
        updated_at: Timestamp(n("updated_at")?),
        first_activity: Timestamp(n("first_activity")?),
        last_activity: Timestamp(n("last_activity")?),
        priority: u32::try_from(n("priority")?).unwrap_or(0),
        priority_reasons: from_json("priority reasons", &s("priority_reasons")?)?,
        entities: from_json("incident entities", &s("entities")?)?,
        alert_count: u32::try_from(n("alert_count")?).unwrap_or(0),
        redirect_to: r.try_get("redirect_to").map_err(db)?,
    })
}

const ALERT_COLS: &str = "a.id, a.incident_id, a.status, a.created_at, a.draft";

fn alert_from_row(r: &DbRow) -> StoreResult<Alert> {
    let status: String = r.try_get("status").map_err(db)?;
    let draft: String = r.try_get("draft").map_err(db)?;
    Ok(Alert {
        id: r.try_get("id").map_err(db)?,
        incident_id: r.try_get("incident_id").map_err(db)?,
        status: parse_wire::<AlertStatus>("alert status", &status)?,
        created_at: Timestamp(r.try_get("created_at").map_err(db)?),
        draft: from_json::<AlertDraft>("alert", &draft)?,
    })
}

const AUDIT_COLS: &str = "id, at, actor, action, object_type, object_id, details";

fn audit_from_row(r: &DbRow) -> StoreResult<AuditEntry> {
    let details: String = r.try_get("details").map_err(db)?;
    Ok(AuditEntry {
        id: r.try_get("id").map_err(db)?,
        at: Timestamp(r.try_get("at").map_err(db)?),
        actor: r.try_get("actor").map_err(db)?,
        action: r.try_get("action").map_err(db)?,
        object_type: r.try_get("object_type").map_err(db)?,
        object_id: r.try_get("object_id").map_err(db)?,
        details: from_json("audit details", &details)?,
    })
}

const COMMENT_COLS: &str = "id, incident_id, author, text, created_at";

fn comment_from_row(r: &DbRow) -> StoreResult<Comment> {
    Ok(Comment {
        id: r.try_get("id").map_err(db)?,
        incident_id: r.try_get("incident_id").map_err(db)?,
        author: r.try_get("author").map_err(db)?,
        text: r.try_get("text").map_err(db)?,
        created_at: Timestamp(r.try_get("created_at").map_err(db)?),
    })
}

const TOKEN_COLS: &str = "id, name, role, created_at, revoked_at, last_used_at";

fn token_from_row(r: &DbRow) -> StoreResult<ApiToken> {
    let role: String = r.try_get("role").map_err(db)?;
    Ok(ApiToken {
        id: r.try_get("id").map_err(db)?,
        name: r.try_get("name").map_err(db)?,
        role: parse_wire::<Role>("role", &role)?,
        created_at: Timestamp(r.try_get("created_at").map_err(db)?),
        revoked_at: r
            .try_get::<Option<i64>, _>("revoked_at")
            .map_err(db)?
            .map(Timestamp),
        last_used_at: r
            .try_get::<Option<i64>, _>("last_used_at")
            .map_err(db)?
            .map(Timestamp),
    })
}

// --- helpers used inside transactions ------------------------------------------------------

async fn insert_audit(conn: &mut DbConnection, a: &NewAudit) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit (at, actor, action, object_type, object_id, details) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(a.at.millis())
    .bind(&a.actor)
    .bind(&a.action)
    .bind(&a.object_type)
    .bind(&a.object_id)
    .bind(to_json(&a.details)?)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// An incident, without locking it (reads).
async fn read_incident(conn: &mut DbConnection, id: i64) -> StoreResult<Option<Incident>> {
    let row = sqlx::query(&format!(
        "SELECT {INCIDENT_COLS} FROM incidents i WHERE i.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    row.as_ref().map(incident_from_row).transpose()
}

/// An incident, locked until the end of the transaction (writes that check it first) where
/// the dialect has row locks ([`ROW_LOCK`]).
async fn fetch_incident(conn: &mut DbConnection, id: i64) -> StoreResult<Option<Incident>> {
    let row = sqlx::query(&format!(
        "SELECT {INCIDENT_COLS} FROM incidents i WHERE i.id = $1{ROW_LOCK}"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    row.as_ref().map(incident_from_row).transpose()
}

async fn sync_entities(conn: &mut DbConnection, id: i64, entities: &[Entity]) -> StoreResult<()> {
    sqlx::query("DELETE FROM incident_entities WHERE incident_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    for e in entities {
        sqlx::query(
            "INSERT INTO incident_entities (incident_id, kind, value) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(e.kind.as_str())
        .bind(&e.value)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

/// Rewrite incident `id`'s free-text search row from its title, tags and entities as stored.
async fn sync_search(conn: &mut DbConnection, id: i64) -> StoreResult<()> {
    let row = sqlx::query("SELECT title, tags, entities FROM incidents WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    let tags: Vec<String> = from_json("incident tags", &r_str(&row, "tags")?)?;
    let entities: Vec<Entity> = from_json("incident entities", &r_str(&row, "entities")?)?;
    let text = rampart_store::codec::search_text(&r_str(&row, "title")?, &tags, &entities);
    sqlx::query(&format!(
        "DELETE FROM incident_search WHERE {SEARCH_KEY} = $1"
    ))
    .bind(id)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    sqlx::query(&format!(
        "INSERT INTO incident_search ({SEARCH_KEY}, text) VALUES ($1, $2)"
    ))
    .bind(id)
    .bind(text)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

fn r_str(row: &DbRow, name: &str) -> StoreResult<String> {
    row.try_get::<String, _>(name).map_err(db)
}

async fn sync_tags(conn: &mut DbConnection, id: i64, tags: &[String]) -> StoreResult<()> {
    sqlx::query("DELETE FROM incident_tags WHERE incident_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    for t in tags {
        sqlx::query(
            "INSERT INTO incident_tags (incident_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(t)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

async fn create_incident(
    conn: &mut DbConnection,
    state: &IncidentState,
    now: Timestamp,
) -> StoreResult<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO incidents (title, severity, severity_rank, status, assigned_to, \
         classification, determination, tags, created_at, updated_at, first_activity, \
         last_activity, priority, priority_reasons, entities, alert_count, redirect_to) \
         VALUES ($1, $2, $3, $4, NULL, $5, $6, '[]', $7, $7, $8, $9, $10, $11, $12, $13, NULL) \
         RETURNING id",
    )
    .bind(&state.title)
    .bind(state.severity.as_str())
    .bind(severity_rank(state.severity))
    .bind(IncidentStatus::Active.as_str())
    .bind(Classification::Unknown.as_str())
    .bind(Determination::NotAvailable.as_str())
    .bind(now.millis())
    .bind(state.first_activity.millis())
    .bind(state.last_activity.millis())
    .bind(i64::from(state.priority))
    .bind(to_json(&state.priority_reasons)?)
    .bind(to_json(&state.entities)?)
    .bind(i64::from(state.alert_count))
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    sync_entities(conn, id, &state.entities).await?;
    sync_search(conn, id).await?;
    Ok(id)
}

async fn write_state(
    conn: &mut DbConnection,
    id: i64,
    state: &IncidentState,
    now: Timestamp,
) -> StoreResult<()> {
    let res = sqlx::query(
        "UPDATE incidents SET title = $1, severity = $2, severity_rank = $3, first_activity = $4, \
         last_activity = $5, priority = $6, priority_reasons = $7, entities = $8, \
         alert_count = $9, updated_at = $10 WHERE id = $11",
    )
    .bind(&state.title)
    .bind(state.severity.as_str())
    .bind(severity_rank(state.severity))
    .bind(state.first_activity.millis())
    .bind(state.last_activity.millis())
    .bind(i64::from(state.priority))
    .bind(to_json(&state.priority_reasons)?)
    .bind(to_json(&state.entities)?)
    .bind(i64::from(state.alert_count))
    .bind(now.millis())
    .bind(id)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    if res.rows_affected() == 0 {
        return Err(not_found("incident", id));
    }
    sync_entities(conn, id, &state.entities).await?;
    sync_search(conn, id).await
}

async fn insert_alert(
    conn: &mut DbConnection,
    alert: &AlertDraft,
    incident: Option<i64>,
    now: Timestamp,
) -> StoreResult<i64> {
    if let Some(iid) = incident {
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM incidents WHERE id = $1")
            .bind(iid)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
        if exists.is_none() {
            return Err(not_found("incident", iid));
        }
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO alerts (incident_id, status, created_at, detector, severity, severity_rank, \
         stage, first_seen, last_seen, draft) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(incident)
    .bind(AlertStatus::New.as_str())
    .bind(now.millis())
    .bind(&alert.detector)
    .bind(alert.severity.as_str())
    .bind(severity_rank(alert.severity))
    .bind(stage_str(alert.stage))
    .bind(alert.first_seen.millis())
    .bind(alert.last_seen.millis())
    .bind(to_json(alert)?)
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    for e in &alert.entities {
        sqlx::query(
            "INSERT INTO alert_entities (alert_id, kind, value) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(e.kind.as_str())
        .bind(&e.value)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    if let Some(iid) = incident {
        for (facet, value) in facets(alert) {
            sqlx::query(
                "INSERT INTO incident_facets (incident_id, facet, value) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(iid)
            .bind(facet)
            .bind(value)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        }
    }
    Ok(id)
}

/// What an alert adds to its incident's facets (the queue's detector and technique filters):
/// its detector, and each MITRE technique with, for a sub-technique, its parent.
fn facets(alert: &AlertDraft) -> Vec<(&'static str, &str)> {
    let mut out = vec![("detector", alert.detector.as_str())];
    for t in &alert.mitre {
        out.push(("technique", t.as_str()));
        if let Some((parent, _)) = t.split_once('.') {
            out.push(("technique", parent));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Merge `from` into `into` inside a transaction; returns the target afterwards.
async fn merge_in_tx(
    conn: &mut DbConnection,
    from: i64,
    into: i64,
    state: &IncidentState,
    actor: &str,
    write_audit: bool,
    now: Timestamp,
) -> StoreResult<Incident> {
    if from == into {
        return Err(StoreError::Invalid(format!(
            "cannot merge incident {from} into itself"
        )));
    }
    // Lock both rows in id order, so concurrent opposite merges cannot deadlock.
    sqlx::query(&format!(
        "SELECT id FROM incidents WHERE id IN ($1, $2) ORDER BY id{ROW_LOCK}"
    ))
    .bind(from.min(into))
    .bind(from.max(into))
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let src = fetch_incident(conn, from)
        .await?
        .ok_or_else(|| not_found("incident", from))?;
    if src.status == IncidentStatus::Redirected {
        return Err(StoreError::Conflict(format!(
            "incident {from} was already merged into {}",
            src.redirect_to.unwrap_or_default()
        )));
    }
    let dst = fetch_incident(conn, into)
        .await?
        .ok_or_else(|| not_found("incident", into))?;
    if dst.status == IncidentStatus::Redirected {
        return Err(StoreError::Conflict(format!(
            "incident {into} was merged into another one"
        )));
    }
    let moved = sqlx::query("UPDATE alerts SET incident_id = $1 WHERE incident_id = $2")
        .bind(into)
        .bind(from)
        .execute(&mut *conn)
        .await
        .map_err(db)?
        .rows_affected();
    // the target now has the source's alerts, so their facets too
    sqlx::query(
        "INSERT INTO incident_facets (incident_id, facet, value) \
         SELECT $1, facet, value FROM incident_facets WHERE incident_id = $2 \
         ON CONFLICT DO NOTHING",
    )
    .bind(into)
    .bind(from)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    sqlx::query("DELETE FROM incident_facets WHERE incident_id = $1")
        .bind(from)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    sqlx::query("UPDATE comments SET incident_id = $1 WHERE incident_id = $2")
        .bind(into)
        .bind(from)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    // Tasks move too, except seeded ones the target already has (they stay with `from`).
    sqlx::query(
        "UPDATE tasks SET incident_id = $1 WHERE incident_id = $2 AND (dedupe_key IS NULL \
         OR dedupe_key NOT IN (SELECT dedupe_key FROM tasks WHERE incident_id = $1 \
         AND dedupe_key IS NOT NULL))",
    )
    .bind(into)
    .bind(from)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    sqlx::query(
        "UPDATE incidents SET status = $1, redirect_to = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(IncidentStatus::Redirected.as_str())
    .bind(into)
    .bind(now.millis())
    .bind(from)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    // The target keeps its own tags and gains the source's.
    let mut tags = dst.tags.clone();
    for t in src.tags {
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    if tags != dst.tags {
        sqlx::query("UPDATE incidents SET tags = $1 WHERE id = $2")
            .bind(to_json(&tags)?)
            .bind(into)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        sync_tags(conn, into, &tags).await?;
    }
    write_state(conn, into, state, now).await?;
    if write_audit {
        insert_audit(
            conn,
            &NewAudit {
                at: now,
                actor: actor.to_string(),
                action: "incident.merge".into(),
                object_type: "incident".into(),
                object_id: from.to_string(),
                details: serde_json::json!({ "from": from, "into": into, "alerts_moved": moved }),
            },
        )
        .await?;
    }
    fetch_incident(conn, into)
        .await?
        .ok_or_else(|| not_found("incident", into))
}

fn resolve(r: IncidentRef, created: &[Option<i64>]) -> StoreResult<i64> {
    match r {
        IncidentRef::Existing(id) => Ok(id),
        IncidentRef::New(t) => created.get(t as usize).copied().flatten().ok_or_else(|| {
            StoreError::Invalid(format!(
                "change set refers to new incident {t} before creating it"
            ))
        }),
    }
}

fn push_in<'a, T: Copy>(
    qb: &mut QueryBuilder<'a, Db>,
    col: &str,
    values: &'a [T],
    name: fn(T) -> &'static str,
) {
    qb.push(" AND ").push(col).push(" IN (");
    let mut sep = qb.separated(", ");
    for v in values {
        sep.push_bind(name(*v));
    }
    qb.push(")");
}

fn push_incident_where<'a>(qb: &mut QueryBuilder<'a, Db>, f: &'a IncidentFilter, part: Part) {
    qb.push(" WHERE 1 = 1");
    if !f.status.is_empty() {
        push_in(qb, "i.status", &f.status, IncidentStatus::as_str);
    }
    if !f.severity.is_empty() {
        push_in(
            qb,
            "i.severity",
            &f.severity,
            rampart_model::Severity::as_str,
        );
    }
    if !f.classification.is_empty() {
        push_in(
            qb,
            "i.classification",
            &f.classification,
            Classification::as_str,
        );
    }
    if let Some(a) = &f.assigned_to {
        qb.push(" AND i.assigned_to = ").push_bind(a.as_str());
    }
    if let Some(t) = &f.tag {
        qb.push(" AND i.id IN (SELECT t.incident_id FROM incident_tags t WHERE t.tag = ")
            .push_bind(t.as_str())
            .push(")");
    }
    if let Some(t) = f.created_after {
        qb.push(" AND i.created_at >= ").push_bind(t.millis());
    }
    if let Some(t) = f.created_before {
        qb.push(" AND i.created_at < ").push_bind(t.millis());
    }
    if let Some(t) = f.updated_after {
        qb.push(" AND i.updated_at >= ").push_bind(t.millis());
    }
    if let Some(t) = f.updated_before {
        qb.push(" AND i.updated_at < ").push_bind(t.millis());
    }
    if let Some(e) = &f.entity {
        qb.push(" AND i.id IN (SELECT e.incident_id FROM incident_entities e WHERE e.value = ")
            .push_bind(e.as_str())
            .push(")");
    }
    // Facets: the count reads the facet's index (`IN`); the page walks the sort's index and
    // probes each incident's facets (`EXISTS`), so a facet most incidents have does not sort
    // all of them to show fifty.
    let facet = |qb: &mut QueryBuilder<'a, Db>| match part {
        Part::Count => {
            qb.push(" AND i.id IN (SELECT f.incident_id FROM incident_facets f WHERE");
        }
        Part::Page => {
            qb.push(" AND EXISTS (SELECT 1 FROM incident_facets f WHERE f.incident_id = i.id AND");
        }
    };
    if let Some(d) = &f.detector {
        facet(qb);
        qb.push(" f.facet = 'detector' AND f.value = ")
            .push_bind(d.as_str())
            .push(")");
    }
    if !f.techniques.is_empty() {
        // a sub-technique's parent is a facet too, so `T1110` finds `T1110.004`
        facet(qb);
        qb.push(" f.facet = 'technique' AND f.value IN (");
        let mut sep = qb.separated(", ");
        for t in &f.techniques {
            sep.push_bind(t.as_str());
        }
        qb.push("))");
    }
    if let Some(text) = &f.text {
        qb.push(format!(
            " AND i.id IN (SELECT {SEARCH_KEY} FROM incident_search WHERE text {SEARCH_MATCH} "
        ))
        .push_bind(search_pattern(text))
        .push(")");
    }
}

fn push_alert_where<'a>(qb: &mut QueryBuilder<'a, Db>, f: &'a AlertFilter) {
    qb.push(" WHERE 1 = 1");
    if let Some(id) = f.incident_id {
        qb.push(" AND a.incident_id = ").push_bind(id);
    }
    if let Some(d) = &f.detector {
        qb.push(" AND a.detector = ").push_bind(d.as_str());
    }
    if !f.severity.is_empty() {
        push_in(
            qb,
            "a.severity",
            &f.severity,
            rampart_model::Severity::as_str,
        );
    }
    if !f.status.is_empty() {
        push_in(qb, "a.status", &f.status, AlertStatus::as_str);
    }
    if let Some(e) = &f.entity {
        qb.push(
            " AND EXISTS (SELECT 1 FROM alert_entities e WHERE e.alert_id = a.id AND e.value = ",
        )
        .push_bind(e.as_str())
        .push(")");
    }
}

fn push_audit_where<'a>(qb: &mut QueryBuilder<'a, Db>, f: &'a AuditFilter) {
    qb.push(" WHERE 1 = 1");
    if let Some(v) = &f.object_type {
        qb.push(" AND object_type = ").push_bind(v.as_str());
    }
    if let Some(v) = &f.object_id {
        qb.push(" AND object_id = ").push_bind(v.as_str());
    }
    if let Some(v) = &f.actor {
        qb.push(" AND actor = ").push_bind(v.as_str());
    }
}

fn audit_change(
    id: i64,
    actor: &str,
    now: Timestamp,
    field: &str,
    before: serde_json::Value,
    after: serde_json::Value,
) -> NewAudit {
    NewAudit {
        at: now,
        actor: actor.to_string(),
        action: "incident.update".into(),
        object_type: "incident".into(),
        object_id: id.to_string(),
        details: serde_json::json!({ "field": field, "before": before, "after": after }),
    }
}

/// The columns of a stored event row, in bind order (`extra` and `raw` are '' in a new row:
/// both live in the event's blob, `rampart_store::blob`).
pub(crate) const EVENT_ROW_COLS: &str = "ts, client_ip, method, host, path, query, status, \
    request_bytes, response_bytes, latency_us, user_agent, principal, api_key_id, service, \
    kind, source_format, extra, raw, blob_id, blob_pos";

/// Values bound per event row by [`insert_event_rows_sql`].
#[allow(dead_code)] // SQLite's dialect uses it, PostgreSQL's the multi-row builder
pub(crate) const EVENT_ROW_PARAMS: usize = 18;

/// The event insert of `rows` rows with [`EVENT_ROW_PARAMS`] placeholders each, for a backend
/// that appends through prepared statements (`dialect::insert_event_rows`).
#[allow(dead_code)] // SQLite's dialect uses it, PostgreSQL's the multi-row builder
pub(crate) fn insert_event_rows_sql(rows: usize) -> String {
    let mut sql = format!("{INSERT_EVENTS} ({EVENT_ROW_COLS}) VALUES ");
    for r in 0..rows {
        let p = |i: usize| format!("${}", r * EVENT_ROW_PARAMS + i);
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for i in 1..=16 {
            sql.push_str(&p(i));
            sql.push_str(", ");
        }
        sql.push_str("'', '', ");
        sql.push_str(&p(17));
        sql.push_str(", ");
        sql.push_str(&p(18));
        sql.push(')');
    }
    sql
}

/// Where each event's `extra` and `raw` went: its blob's id and its position in it.
pub(crate) type BlobRef = (i64, i64);

/// Store events and their source's checkpoint inside a transaction: first their blobs (the
/// raw lines and extra fields, compressed per run of events), then their rows.
async fn insert_events_tx(
    conn: &mut DbConnection,
    events: &[ApiEvent<'_>],
    checkpoint: Option<&Checkpoint>,
) -> StoreResult<()> {
    if !events.is_empty() {
        let mut packer = rampart_store::blob::BlobPacker::new()?;
        let mut refs: Vec<BlobRef> = Vec::with_capacity(events.len());
        for (i, ev) in events.iter().enumerate() {
            packer.push(ev)?;
            if packer.full() || i + 1 == events.len() {
                // the blob's events are its positions 0..n, in order
                let n = packer.len() as i64;
                let ts_max = packer.ts_max();
                let data = packer.finish()?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO event_blobs (ts_max, data) VALUES ($1, $2) RETURNING id",
                )
                .bind(ts_max)
                .bind(data)
                .fetch_one(&mut *conn)
                .await
                .map_err(db)?;
                refs.extend((0..n).map(|p| (id, p)));
            }
        }
        crate::dialect::insert_event_rows(conn, events, &refs).await?;
    }
    if let Some(cp) = checkpoint {
        let offset = i64::try_from(cp.offset).map_err(|_| {
            StoreError::Invalid(format!("checkpoint offset {} out of range", cp.offset))
        })?;
        sqlx::query(
            "INSERT INTO checkpoints (source, file_id, \"offset\") VALUES ($1, $2, $3) \
             ON CONFLICT (source) DO UPDATE SET file_id = excluded.file_id, \
             \"offset\" = excluded.\"offset\"",
        )
        .bind(&cp.source)
        .bind(&cp.file_id)
        .bind(offset)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

/// Insert event rows with multi-row `INSERT`s of [`EVENT_CHUNK`] rows (PostgreSQL's
/// `dialect::insert_event_rows`).
#[allow(dead_code)] // PostgreSQL's dialect uses it, SQLite's the prepared statements
pub(crate) async fn insert_event_rows_multi(
    conn: &mut DbConnection,
    events: &[ApiEvent<'_>],
    refs: &[BlobRef],
) -> StoreResult<()> {
    let mut ips = Vec::with_capacity(events.len().min(EVENT_CHUNK));
    for (chunk, refs) in events.chunks(EVENT_CHUNK).zip(refs.chunks(EVENT_CHUNK)) {
        ips.clear();
        ips.extend(chunk.iter().map(|ev| ev.client_ip.map(|ip| ip.to_string())));
        let mut qb: QueryBuilder<Db> =
            QueryBuilder::new(format!("{INSERT_EVENTS} ({EVENT_ROW_COLS}) "));
        qb.push_values(
            chunk.iter().zip(refs).zip(ips.iter()),
            |mut b, ((ev, &(blob, pos)), ip)| {
                b.push_bind(ev.ts.millis())
                    .push_bind(ip.as_deref())
                    .push_bind(ev.method.as_ref())
                    .push_bind(ev.host.as_ref())
                    .push_bind(ev.path.as_ref())
                    .push_bind(ev.query.as_ref())
                    .push_bind(i64::from(ev.status))
                    .push_bind(ev.request_bytes.map(u64_col))
                    .push_bind(ev.response_bytes.map(u64_col))
                    .push_bind(ev.latency_us.map(u64_col))
                    .push_bind(ev.user_agent.as_ref())
                    .push_bind(ev.principal.as_deref())
                    .push_bind(ev.api_key_id.as_deref())
                    .push_bind(ev.service.as_deref())
                    .push_bind(kind_str(ev.kind))
                    .push_bind(ev.source_format.as_ref())
                    .push("''")
                    .push("''")
                    .push_bind(blob)
                    .push_bind(pos);
            },
        );
        qb.build()
            .persistent(true)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    Ok(())
}

/// Insert or replace endpoints inside a transaction.
async fn upsert_endpoints_tx(
    conn: &mut DbConnection,
    endpoints: &[EndpointInfo],
) -> StoreResult<()> {
    for ep in endpoints {
        sqlx::query(
            "INSERT INTO endpoints (host, method, path_template, first_seen, last_seen, calls, data) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (host, method, path_template) DO UPDATE SET \
             first_seen = excluded.first_seen, last_seen = excluded.last_seen, \
             calls = excluded.calls, data = excluded.data",
        )
        .bind(&ep.host)
        .bind(&ep.method)
        .bind(&ep.path_template)
        .bind(ep.first_seen.millis())
        .bind(ep.last_seen.millis())
        .bind(u64_col(ep.calls))
        .bind(to_json(ep)?)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

/// Apply a change set inside a transaction.
async fn apply_tx(
    conn: &mut DbConnection,
    changes: &ChangeSet,
    now: Timestamp,
) -> StoreResult<AppliedChanges> {
    let mut created: Vec<Option<i64>> = Vec::new();
    let mut alert_ids = Vec::new();
    for change in &changes.changes {
        match change {
            Change::CreateIncident { temp, state } => {
                let t = *temp as usize;
                if created.get(t).copied().flatten().is_some() {
                    return Err(StoreError::Invalid(format!(
                        "change set creates new incident {temp} twice"
                    )));
                }
                let id = create_incident(&mut *conn, state, now).await?;
                if created.len() <= t {
                    created.resize(t + 1, None);
                }
                created[t] = Some(id);
            }
            Change::InsertAlert { alert, incident } => {
                let iid = resolve(*incident, &created)?;
                alert_ids.push(insert_alert(&mut *conn, alert, Some(iid), now).await?);
            }
            Change::UpdateIncident { incident, state } => {
                let iid = resolve(*incident, &created)?;
                write_state(&mut *conn, iid, state, now).await?;
            }
            Change::Merge { from, into, state } => {
                let into = resolve(*into, &created)?;
                merge_in_tx(
                    &mut *conn,
                    *from,
                    into,
                    state,
                    CORRELATION_ACTOR,
                    !rampart_store::carries_merge_audit(changes, *from),
                    now,
                )
                .await?;
            }
            Change::Audit(a) => {
                insert_audit(&mut *conn, &rampart_store::finalize_audit(a, &created, now)).await?
            }
        }
    }
    let incident_ids = created
        .iter()
        .enumerate()
        .map(|(t, id)| {
            id.ok_or_else(|| {
                StoreError::Invalid(format!("change set skips new incident number {t}"))
            })
        })
        .collect::<StoreResult<Vec<i64>>>()?;
    Ok(AppliedChanges {
        incident_ids,
        alert_ids,
    })
}

/// The id column of a row, for logging a row that does not decode.
fn row_id(r: &DbRow) -> String {
    r.try_get::<i64, _>("id")
        .map_or_else(|_| "?".into(), |id| id.to_string())
}

impl SqlStore {
    /// Decode rows, skipping (logging and counting) those that do not decode.
    fn decode_rows<T>(
        &self,
        what: &'static str,
        rows: &[DbRow],
        decode: fn(&DbRow) -> StoreResult<T>,
    ) -> Vec<T> {
        decode_rows(what, rows, &self.unreadable, row_id, decode)
    }

    /// One page of a list: the count of every row `filter` matches and the page itself, in
    /// `order`. `from` is the table (with its alias), `filter` pushes the `WHERE` clause.
    async fn page<'a, T>(
        &self,
        list: PageQuery<'a, T>,
        filter: impl Fn(&mut QueryBuilder<'a, Db>, Part),
    ) -> StoreResult<Page<T>> {
        let mut count: QueryBuilder<Db> =
            QueryBuilder::new(format!("SELECT COUNT(*) FROM {}", list.from));
        filter(&mut count, Part::Count);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&self.reader)
            .await
            .map_err(db)?;
        // With a key, the page's keys are chosen first and only then are their rows read: a
        // sort the planner does over many matches then holds keys, not whole rows.
        let mut qb: QueryBuilder<Db> = match list.key {
            Some(key) => QueryBuilder::new(format!(
                "SELECT {} FROM {} WHERE {key} IN (SELECT {key} FROM {}",
                list.cols, list.from, list.from
            )),
            None => QueryBuilder::new(format!("SELECT {} FROM {}", list.cols, list.from)),
        };
        filter(&mut qb, Part::Page);
        if let Some(k) = list.keyset {
            qb.push(k);
        }
        qb.push(format!(" ORDER BY {} LIMIT ", list.order))
            .push_bind(list.limit)
            .push(" OFFSET ")
            .push_bind(i64::from(list.offset.unwrap_or(0)));
        if list.key.is_some() {
            qb.push(format!(") ORDER BY {}", list.order));
        }
        let rows = qb.build().fetch_all(&self.reader).await.map_err(db)?;
        Ok(Page {
            items: self.decode_rows(list.what, &rows, list.decode),
            total: col_u64(total),
        })
    }
}

/// Which query of a listing a filter is written into: the same rows match in both, but the
/// best form can differ (see [`push_incident_where`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The count of every match.
    Count,
    /// The page: ordered, limited.
    Page,
}

/// What [`SqlStore::page`] lists.
struct PageQuery<'a, T> {
    what: &'static str,
    from: &'static str,
    cols: &'static str,
    order: &'a str,
    limit: i64,
    offset: Option<u32>,
    decode: fn(&DbRow) -> StoreResult<T>,
    /// Extra condition of the listed page only (not the count): a keyset cursor, built from
    /// parsed integers and fixed column names.
    keyset: Option<&'a str>,
    /// The listed table's key (`i.id`): pick the page's keys first, then read their rows.
    key: Option<&'static str>,
}

const IDEMPOTENCY_COLS: &str =
    "caller, idem_key, request_hash, status, response, created_at, expires_at";

fn idempotency_from_row(r: &DbRow) -> StoreResult<IdempotencyRecord> {
    let response: String = r.try_get("response").map_err(db)?;
    let status: i64 = r.try_get("status").map_err(db)?;
    Ok(IdempotencyRecord {
        caller: r.try_get("caller").map_err(db)?,
        key: r.try_get("idem_key").map_err(db)?,
        request_hash: r.try_get("request_hash").map_err(db)?,
        status: u16::try_from(status)
            .map_err(|_| StoreError::Corrupt(format!("idempotency status {status}")))?,
        response: from_json("idempotency response", &response)?,
        created_at: Timestamp(r.try_get("created_at").map_err(db)?),
        expires_at: Timestamp(r.try_get("expires_at").map_err(db)?),
    })
}

/// Delete expired idempotency keys, then claim `rec`'s key: false when an unexpired record
/// of the same caller and key exists (committed, or being committed by another transaction,
/// which this insert waits for).
async fn claim_idempotency_key(
    conn: &mut DbConnection,
    rec: &IdempotencyRecord,
) -> StoreResult<bool> {
    sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
        .bind(rec.created_at.millis())
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    let res = sqlx::query(
        "INSERT INTO idempotency_keys (caller, idem_key, request_hash, status, response, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (caller, idem_key) DO NOTHING",
    )
    .bind(&rec.caller)
    .bind(&rec.key)
    .bind(&rec.request_hash)
    .bind(i64::from(rec.status))
    .bind(to_json(&rec.response)?)
    .bind(rec.created_at.millis())
    .bind(rec.expires_at.millis())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(res.rows_affected() == 1)
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn insert_events(
        &self,
        events: &[ApiEvent<'_>],
        checkpoint: Option<&Checkpoint>,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        insert_events_tx(&mut tx, events, checkpoint).await?;
        tx.commit().await.map_err(db)
    }

    async fn list_events(&self, q: &EventQuery) -> StoreResult<Vec<StoredEvent>> {
        let mut qb: QueryBuilder<Db> =
            QueryBuilder::new(format!("SELECT {EVENT_COLS} FROM events WHERE 1 = 1"));
        if let Some(t) = q.since {
            qb.push(" AND ts >= ").push_bind(t.millis());
        }
        if let Some(t) = q.until {
            qb.push(" AND ts < ").push_bind(t.millis());
        }
        if let Some(ip) = &q.client_ip {
            let [a, b, c] = client_ip_hours_parts("ts");
            if !a.is_empty() {
                qb.push(a)
                    .push_bind(q.since.map(|t| t.millis()))
                    .push(b)
                    .push_bind(q.until.map(|t| t.millis()))
                    .push(c);
            }
            qb.push(" AND client_ip = ").push_bind(ip.as_str());
        }
        if let Some(p) = &q.path_prefix {
            qb.push(" AND substr(path, 1, CAST(")
                // an INTEGER, not a BIGINT: PostgreSQL has no substr(text, int, bigint)
                .push_bind(i32::try_from(p.chars().count()).unwrap_or(i32::MAX))
                .push(" AS INTEGER)) = ")
                .push_bind(p.as_str());
        }
        if let Some(s) = q.status {
            qb.push(" AND status = ").push_bind(i64::from(s));
        }
        qb.push(if q.newest_first {
            " ORDER BY ts DESC, id DESC LIMIT "
        } else {
            " ORDER BY ts, id LIMIT "
        })
        .push_bind(page_limit(q.limit, 100, 10_000))
        .push(" OFFSET ")
        .push_bind(i64::from(q.offset.unwrap_or(0)));
        let mut conn = self.reader.acquire().await.map_err(db)?;
        let rows = qb.build().fetch_all(&mut *conn).await.map_err(db)?;
        let blobs = event_blobs(&mut conn, &rows).await?;
        Ok(decode_rows("event", &rows, &self.unreadable, row_id, |r| {
            event_from_row(r, &blobs)
        }))
    }

    async fn get_checkpoint(&self, source: &str) -> StoreResult<Option<Checkpoint>> {
        let row =
            sqlx::query("SELECT source, file_id, \"offset\" FROM checkpoints WHERE source = $1")
                .bind(source)
                .fetch_optional(&self.reader)
                .await
                .map_err(db)?;
        row.map(|r| {
            Ok(Checkpoint {
                source: r.try_get("source").map_err(db)?,
                file_id: r.try_get("file_id").map_err(db)?,
                offset: col_u64(r.try_get("offset").map_err(db)?),
            })
        })
        .transpose()
    }

    async fn upsert_endpoints(&self, endpoints: &[EndpointInfo]) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        upsert_endpoints_tx(&mut tx, endpoints).await?;
        tx.commit().await.map_err(db)
    }

    async fn list_endpoints(&self) -> StoreResult<Vec<EndpointInfo>> {
        let rows = sqlx::query(
            "SELECT host, method, path_template, data FROM endpoints \
             ORDER BY host, path_template, method",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        Ok(decode_rows(
            "endpoint",
            &rows,
            &self.unreadable,
            |r| {
                let col = |c: &str| r.try_get::<String, _>(c).unwrap_or_default();
                format!("{} {} {}", col("host"), col("method"), col("path_template"))
            },
            |r| from_json("endpoint", &r.try_get::<String, _>("data").map_err(db)?),
        ))
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM events) AS events, (SELECT COUNT(*) FROM alerts) AS alerts, \
             (SELECT COUNT(*) FROM incidents) AS incidents, \
             (SELECT COUNT(*) FROM endpoints) AS endpoints, \
             (SELECT COUNT(*) FROM event_blobs) AS event_blobs",
        )
        .fetch_one(&self.reader)
        .await
        .map_err(db)?;
        let n = |name: &str| -> StoreResult<u64> { Ok(col_u64(row.try_get(name).map_err(db)?)) };
        Ok(StoreStats {
            events: n("events")?,
            alerts: n("alerts")?,
            incidents: n("incidents")?,
            endpoints: n("endpoints")?,
            event_blobs: n("event_blobs")?,
        })
    }

    async fn apply(&self, changes: &ChangeSet) -> StoreResult<AppliedChanges> {
        let now = Timestamp::now();
        let mut tx = self.writer.begin().await.map_err(db)?;
        let applied = apply_tx(&mut tx, changes, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(applied)
    }

    async fn incident_summaries(&self, since: Timestamp) -> StoreResult<Vec<IncidentSummary>> {
        let rows = sqlx::query(&format!(
            "SELECT {INCIDENT_COLS} FROM incidents i WHERE i.last_activity >= $1 \
             AND i.status <> $2 ORDER BY i.id"
        ))
        .bind(since.millis())
        .bind(IncidentStatus::Redirected.as_str())
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        let stage_rows = sqlx::query(
            "SELECT DISTINCT a.incident_id, a.stage FROM alerts a JOIN incidents i \
             ON i.id = a.incident_id WHERE i.last_activity >= $1 AND i.status <> $2",
        )
        .bind(since.millis())
        .bind(IncidentStatus::Redirected.as_str())
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        let mut stages: std::collections::HashMap<i64, Vec<AttackStage>> = Default::default();
        let stage_of = |r: &DbRow| -> StoreResult<(i64, AttackStage)> {
            let id: i64 = r.try_get("incident_id").map_err(db)?;
            let s: String = r.try_get("stage").map_err(db)?;
            Ok((id, parse_stage(&s)?))
        };
        let id_of = |r: &DbRow| {
            r.try_get::<i64, _>("incident_id")
                .map_or_else(|_| "?".into(), |id| format!("of incident {id}"))
        };
        for (id, stage) in decode_rows(
            "alert stage",
            &stage_rows,
            &self.unreadable,
            id_of,
            stage_of,
        ) {
            stages.entry(id).or_default().push(stage);
        }
        let incidents = self.decode_rows("incident", &rows, incident_from_row);
        Ok(incidents
            .into_iter()
            .map(|incident| {
                let mut st = stages.remove(&incident.id).unwrap_or_default();
                st.sort();
                st.dedup();
                IncidentSummary {
                    incident,
                    stages: st,
                }
            })
            .collect())
    }

    async fn list_incidents(&self, filter: &IncidentFilter) -> StoreResult<Page<Incident>> {
        let col = match filter.sort {
            IncidentSort::Priority => "i.priority",
            IncidentSort::Severity => "i.severity_rank",
            IncidentSort::Created => "i.created_at",
            IncidentSort::Updated => "i.updated_at",
        };
        let dir = if filter.ascending { "ASC" } else { "DESC" };
        let order = format!("{col} {dir}, i.id {dir}");
        let keyset = match &filter.after {
            None => None,
            Some(c) => {
                let (v, id) = c
                    .split_once('.')
                    .and_then(|(v, id)| Some((v.parse::<i64>().ok()?, id.parse::<i64>().ok()?)))
                    .ok_or_else(|| StoreError::Invalid(format!("bad cursor {c:?}")))?;
                let op = if filter.ascending { ">" } else { "<" };
                Some(format!(
                    " AND ({col} {op} {v} OR ({col} = {v} AND i.id {op} {id}))"
                ))
            }
        };
        let list = PageQuery {
            what: "incident",
            from: "incidents i",
            cols: INCIDENT_COLS,
            order: &order,
            limit: page_limit(filter.limit, 50, 1000),
            offset: filter.offset,
            decode: incident_from_row,
            keyset: keyset.as_deref(),
            key: Some("i.id"),
        };
        self.page(list, |qb, part| push_incident_where(qb, filter, part))
            .await
    }

    async fn get_incident(&self, id: i64) -> StoreResult<Option<IncidentDetail>> {
        // One read transaction so the incident, its alerts and comments are consistent.
        let mut tx = self.reader.begin().await.map_err(db)?;
        let Some(incident) = read_incident(&mut tx, id).await? else {
            return Ok(None);
        };
        let alerts = sqlx::query(&format!(
            "SELECT {ALERT_COLS} FROM alerts a WHERE a.incident_id = $1 ORDER BY a.first_seen, a.id"
        ))
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let comments = sqlx::query(&format!(
            "SELECT {COMMENT_COLS} FROM comments WHERE incident_id = $1 ORDER BY created_at, id"
        ))
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Some(IncidentDetail {
            incident,
            alerts: self.decode_rows("alert", &alerts, alert_from_row),
            comments: self.decode_rows("comment", &comments, comment_from_row),
        }))
    }

    async fn update_incident(
        &self,
        id: i64,
        patch: &IncidentPatch,
        actor: &str,
    ) -> StoreResult<Incident> {
        if patch.status == Some(IncidentStatus::Redirected) {
            return Err(StoreError::Invalid(
                "status Redirected is set only by merging".into(),
            ));
        }
        let now = Timestamp::now();
        let mut tx = self.writer.begin().await.map_err(db)?;
        let cur = fetch_incident(&mut tx, id)
            .await?
            .ok_or_else(|| not_found("incident", id))?;
        if cur.status == IncidentStatus::Redirected && patch.status.is_some() {
            return Err(StoreError::Conflict(format!(
                "incident {id} was merged into another one"
            )));
        }
        let mut next = cur.clone();
        let mut audits = Vec::new();
        let j = |v: &dyn erased::ToJson| v.to_json();
        if let Some(v) = &patch.title {
            next.title = v.clone();
        }
        if let Some(v) = patch.status {
            next.status = v;
        }
        if let Some(v) = patch.severity {
            next.severity = v;
        }
        if let Some(v) = &patch.assigned_to {
            next.assigned_to = v.clone();
        }
        if let Some(v) = patch.classification {
            next.classification = v;
        }
        if let Some(v) = patch.determination {
            next.determination = v;
        }
        if let Some(v) = &patch.tags {
            let mut tags: Vec<String> = Vec::with_capacity(v.len());
            for t in v {
                if !tags.contains(t) {
                    tags.push(t.clone());
                }
            }
            next.tags = tags;
        }
        macro_rules! diff {
            ($field:ident) => {
                if cur.$field != next.$field {
                    audits.push(audit_change(
                        id,
                        actor,
                        now,
                        stringify!($field),
                        j(&cur.$field),
                        j(&next.$field),
                    ));
                }
            };
        }
        diff!(title);
        diff!(status);
        diff!(severity);
        diff!(assigned_to);
        diff!(classification);
        diff!(determination);
        diff!(tags);
        if audits.is_empty() {
            return Ok(cur);
        }
        next.updated_at = now;
        sqlx::query(
            "UPDATE incidents SET title = $1, status = $2, severity = $3, severity_rank = $4, \
             assigned_to = $5, classification = $6, determination = $7, tags = $8, \
             updated_at = $9 WHERE id = $10",
        )
        .bind(&next.title)
        .bind(next.status.as_str())
        .bind(next.severity.as_str())
        .bind(severity_rank(next.severity))
        .bind(next.assigned_to.as_deref())
        .bind(next.classification.as_str())
        .bind(next.determination.as_str())
        .bind(to_json(&next.tags)?)
        .bind(now.millis())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if cur.tags != next.tags {
            sync_tags(&mut tx, id, &next.tags).await?;
        }
        if cur.tags != next.tags || cur.title != next.title {
            sync_search(&mut tx, id).await?;
        }
        for a in &audits {
            insert_audit(&mut tx, a).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(next)
    }

    async fn add_comment(
        &self,
        incident_id: i64,
        author: &str,
        text: &str,
    ) -> StoreResult<Comment> {
        let now = Timestamp::now();
        let mut tx = self.writer.begin().await.map_err(db)?;
        let touched = sqlx::query("UPDATE incidents SET updated_at = $1 WHERE id = $2")
            .bind(now.millis())
            .bind(incident_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if touched.rows_affected() == 0 {
            return Err(not_found("incident", incident_id));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO comments (incident_id, author, text, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING id",
        )
        .bind(incident_id)
        .bind(author)
        .bind(text)
        .bind(now.millis())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        insert_audit(
            &mut tx,
            &NewAudit {
                at: now,
                actor: author.to_string(),
                action: "incident.comment".into(),
                object_type: "incident".into(),
                object_id: incident_id.to_string(),
                details: serde_json::json!({ "comment_id": id, "text": text }),
            },
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(Comment {
            id,
            incident_id,
            author: author.to_string(),
            text: text.to_string(),
            created_at: now,
        })
    }

    async fn merge_incidents(
        &self,
        from: i64,
        into: i64,
        state: &IncidentState,
        actor: &str,
    ) -> StoreResult<Incident> {
        let now = Timestamp::now();
        let mut tx = self.writer.begin().await.map_err(db)?;
        let merged = merge_in_tx(&mut tx, from, into, state, actor, true, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(merged)
    }

    async fn list_alerts(&self, filter: &AlertFilter) -> StoreResult<Page<Alert>> {
        let list = PageQuery {
            what: "alert",
            from: "alerts a",
            cols: ALERT_COLS,
            order: "a.created_at DESC, a.id DESC",
            limit: page_limit(filter.limit, 50, 1000),
            offset: filter.offset,
            decode: alert_from_row,
            keyset: None,
            key: None,
        };
        self.page(list, |qb, _| push_alert_where(qb, filter)).await
    }

    async fn get_alert(&self, id: i64) -> StoreResult<Option<Alert>> {
        let row = sqlx::query(&format!(
            "SELECT {ALERT_COLS} FROM alerts a WHERE a.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?;
        row.as_ref().map(alert_from_row).transpose()
    }

    async fn resolve_alert(
        &self,
        id: i64,
        reason: &str,
        actor: &str,
        at: Timestamp,
    ) -> StoreResult<Alert> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let row = sqlx::query(&format!(
            "SELECT {ALERT_COLS} FROM alerts a WHERE a.id = $1{ROW_LOCK}"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let mut alert = row
            .as_ref()
            .map(alert_from_row)
            .transpose()?
            .ok_or_else(|| not_found("alert", id))?;
        if alert.status == AlertStatus::Resolved {
            return Ok(alert);
        }
        sqlx::query("UPDATE alerts SET status = $1 WHERE id = $2")
            .bind(AlertStatus::Resolved.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        alert.status = AlertStatus::Resolved;
        insert_audit(
            &mut tx,
            &NewAudit {
                at,
                actor: actor.to_string(),
                action: "alert.resolve".into(),
                object_type: "alert".into(),
                object_id: id.to_string(),
                details: serde_json::json!({ "incident_id": alert.incident_id, "reason": reason }),
            },
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(alert)
    }

    async fn alert_counts_by_detector(&self, since: Timestamp) -> StoreResult<Vec<(String, u64)>> {
        let rows = sqlx::query(
            "SELECT detector, COUNT(*) AS n FROM alerts WHERE created_at >= $1 \
             GROUP BY detector ORDER BY n DESC, detector",
        )
        .bind(since.millis())
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.try_get("n").map_err(db)?;
                Ok((r.try_get("detector").map_err(db)?, col_u64(n)))
            })
            .collect()
    }

    async fn append_audit(&self, entries: &[NewAudit]) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        for a in entries {
            insert_audit(&mut tx, a).await?;
        }
        tx.commit().await.map_err(db)
    }

    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Page<AuditEntry>> {
        let list = PageQuery {
            what: "audit entry",
            from: "audit",
            cols: AUDIT_COLS,
            order: "id DESC",
            limit: page_limit(filter.limit, 100, 1000),
            offset: filter.offset,
            decode: audit_from_row,
            keyset: None,
            key: None,
        };
        self.page(list, |qb, _| push_audit_where(qb, filter)).await
    }

    async fn incident_trails(&self, incident_ids: &[i64]) -> StoreResult<IncidentTrails> {
        let mut out = IncidentTrails::default();
        // bounded statements: at most 500 bound ids each
        for ids in incident_ids.chunks(500) {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT incident_id, detector, created_at FROM alerts WHERE incident_id IN (",
            );
            push_ids(&mut qb, ids);
            qb.push(") ORDER BY id");
            for r in qb.build().fetch_all(&self.reader).await.map_err(db)? {
                out.alerts.push((
                    r.try_get("incident_id").map_err(db)?,
                    r.try_get("detector").map_err(db)?,
                    Timestamp(r.try_get("created_at").map_err(db)?),
                ));
            }
            let mut qb = QueryBuilder::<Db>::new(format!(
                "SELECT {AUDIT_COLS} FROM audit WHERE object_type = 'incident' AND object_id IN ("
            ));
            {
                let mut sep = qb.separated(", ");
                for id in ids {
                    sep.push_bind(id.to_string());
                }
            }
            qb.push(")");
            for r in qb.build().fetch_all(&self.reader).await.map_err(db)? {
                out.audit.push(audit_from_row(&r)?);
            }
            let mut qb = QueryBuilder::<Db>::new(format!(
                "SELECT {ACTION_COLS} FROM actions WHERE incident_id IN ("
            ));
            push_ids(&mut qb, ids);
            qb.push(") ORDER BY id");
            for r in qb.build().fetch_all(&self.reader).await.map_err(db)? {
                out.actions.push(action_from_row(&r)?);
            }
        }
        out.audit.sort_by_key(|a| (a.at, a.id));
        Ok(out)
    }

    async fn create_token(
        &self,
        name: &str,
        role: Role,
        secret_hash: &str,
        actor: &str,
    ) -> StoreResult<ApiToken> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let insert = format!(
            "INSERT INTO tokens (name, role, secret_hash, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING {TOKEN_COLS}"
        );
        let new = Named {
            what: "token",
            name_key: TOKEN_NAME_KEY,
            insert: &insert,
        };
        let row = insert_named(&mut tx, new, name, role, secret_hash, actor).await?;
        let token = token_from_row(&row)?;
        tx.commit().await.map_err(db)?;
        Ok(token)
    }

    async fn authenticate_token(&self, secret_hash: &str) -> StoreResult<Option<ApiToken>> {
        let row = sqlx::query(&format!(
            "UPDATE tokens SET last_used_at = $1 WHERE secret_hash = $2 AND revoked_at IS NULL \
             RETURNING {TOKEN_COLS}"
        ))
        .bind(Timestamp::now().millis())
        .bind(secret_hash)
        .fetch_optional(&self.writer)
        .await
        .map_err(db)?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn list_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        let rows = sqlx::query(&format!("SELECT {TOKEN_COLS} FROM tokens ORDER BY name"))
            .fetch_all(&self.reader)
            .await
            .map_err(db)?;
        Ok(self.decode_rows("token", &rows, token_from_row))
    }

    async fn revoke_token(&self, name: &str, actor: &str) -> StoreResult<ApiToken> {
        let now = Timestamp::now();
        let mut tx = self.writer.begin().await.map_err(db)?;
        let row = sqlx::query(&format!("SELECT {TOKEN_COLS} FROM tokens WHERE name = $1"))
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        let mut token = row
            .as_ref()
            .map(token_from_row)
            .transpose()?
            .ok_or_else(|| not_found("token", name))?;
        if token.revoked_at.is_some() {
            return Err(StoreError::Conflict(format!(
                "token {name:?} is already revoked"
            )));
        }
        sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2")
            .bind(now.millis())
            .bind(token.id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        token.revoked_at = Some(now);
        insert_audit(
            &mut tx,
            &NewAudit {
                at: now,
                actor: actor.to_string(),
                action: "token.revoke".into(),
                object_type: "token".into(),
                object_id: name.to_string(),
                details: serde_json::json!({ "id": token.id }),
            },
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(token)
    }

    // --- server: token cache ------------------------------------------------------------

    async fn active_tokens(&self) -> StoreResult<Vec<(String, ApiToken)>> {
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLS}, secret_hash FROM tokens WHERE revoked_at IS NULL ORDER BY id"
        ))
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| Ok((r.try_get("secret_hash").map_err(db)?, token_from_row(r)?)))
            .collect()
    }

    async fn record_token_use(&self, uses: &[(i64, Timestamp)]) -> StoreResult<()> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin().await.map_err(db)?;
        for (id, at) in uses {
            sqlx::query(
                "UPDATE tokens SET last_used_at = $1 \
                 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
            .bind(at.millis())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    // --- atomic batches and idempotency ---------------------------------------------------

    async fn commit_batch(&self, batch: &Batch<'_>) -> StoreResult<BatchOutcome> {
        let now = Timestamp::now();
        let mut tx = self.writer.begin().await.map_err(db)?;
        if let Some(rec) = batch.idempotency {
            if !claim_idempotency_key(&mut tx, rec).await? {
                tx.rollback().await.map_err(db)?;
                return match self
                    .get_idempotency(&rec.caller, &rec.key, rec.created_at)
                    .await?
                {
                    Some(stored) => Ok(BatchOutcome::Duplicate(stored)),
                    None => Err(StoreError::Conflict(format!(
                        "idempotency key {:?} is in use",
                        rec.key
                    ))),
                };
            }
        }
        insert_events_tx(&mut tx, batch.events, batch.checkpoint).await?;
        let applied = match batch.changes {
            Some(cs) => apply_tx(&mut tx, cs, now).await?,
            None => AppliedChanges::default(),
        };
        upsert_endpoints_tx(&mut tx, batch.endpoints).await?;
        tx.commit().await.map_err(db)?;
        Ok(BatchOutcome::Committed(applied))
    }

    async fn get_idempotency(
        &self,
        caller: &str,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        // A reader sees every committed record: a WAL reader of SQLite sees every committed
        // transaction, and PostgreSQL's reader is the writer's pool.
        let row = sqlx::query(&format!(
            "SELECT {IDEMPOTENCY_COLS} FROM idempotency_keys \
             WHERE caller = $1 AND idem_key = $2 AND expires_at > $3"
        ))
        .bind(caller)
        .bind(key)
        .bind(now.millis())
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?;
        row.as_ref().map(idempotency_from_row).transpose()
    }

    fn unreadable_rows(&self) -> u64 {
        self.unreadable.load(std::sync::atomic::Ordering::Relaxed)
    }

    // --- containment actions ------------------------------------------------------------

    async fn create_action(&self, new: &NewAction, actor: &str) -> StoreResult<Action> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO actions (kind, target, status, incident_id, requested_by, created_at, \
             expires_at, changed_at, record) VALUES ($1, $2, $3, $4, $5, $6, $7, $6, '{}') \
             RETURNING id",
        )
        .bind(new.kind.as_str())
        .bind(&new.target)
        .bind(new.status.as_str())
        .bind(new.incident_id)
        .bind(&new.requested_by)
        .bind(new.created_at.millis())
        .bind(new.expires_at.map(Timestamp::millis))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let action = Action {
            id,
            action: new.clone(),
            approved_by: None,
            approved_at: None,
            reverted_by: None,
            revert_reason: None,
            reverted_at: None,
            failure: None,
            denied: 0,
            last_denied: None,
        };
        sqlx::query("UPDATE actions SET record = $1 WHERE id = $2")
            .bind(to_json(&action)?)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        insert_audit(
            &mut tx,
            &NewAudit {
                at: new.created_at,
                actor: actor.to_string(),
                action: "action.create".into(),
                object_type: "action".into(),
                object_id: id.to_string(),
                details: serde_json::to_value(new).unwrap_or(serde_json::Value::Null),
            },
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(action)
    }

    async fn list_actions(&self, filter: &ActionFilter) -> StoreResult<Page<Action>> {
        let list = PageQuery {
            what: "action",
            from: "actions",
            cols: ACTION_COLS,
            order: "id DESC",
            limit: page_limit(filter.limit, 100, 1000),
            offset: filter.offset,
            decode: action_from_row,
            keyset: None,
            key: None,
        };
        self.page(list, |qb, _| push_action_where(qb, filter)).await
    }

    async fn get_action(&self, id: i64) -> StoreResult<Option<Action>> {
        let row = sqlx::query(&format!("SELECT {ACTION_COLS} FROM actions WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        row.as_ref().map(action_from_row).transpose()
    }

    async fn update_action_state(
        &self,
        id: i64,
        expected: ActionStatus,
        change: &ActionChange,
        actor: &str,
    ) -> StoreResult<Action> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let row = sqlx::query(&format!(
            "SELECT {ACTION_COLS} FROM actions WHERE id = $1{ROW_LOCK}"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let action = row
            .as_ref()
            .map(action_from_row)
            .transpose()?
            .ok_or_else(|| not_found("action", id))?;
        let changed = change_action_tx(&mut tx, &action, expected, change, actor).await?;
        tx.commit().await.map_err(db)?;
        Ok(changed)
    }

    async fn expire_actions(&self, now: Timestamp, actor: &str) -> StoreResult<Vec<Action>> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let rows = sqlx::query(&format!(
            "SELECT {ACTION_COLS} FROM actions WHERE status = $1 AND expires_at <= $2 \
             ORDER BY id{ROW_LOCK}"
        ))
        .bind(ActionStatus::Active.as_str())
        .bind(now.millis())
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut expired = Vec::with_capacity(rows.len());
        for action in self.decode_rows("action", &rows, action_from_row) {
            let change = ActionChange::Expire { at: now };
            expired.push(
                change_action_tx(&mut tx, &action, ActionStatus::Active, &change, actor).await?,
            );
        }
        tx.commit().await.map_err(db)?;
        Ok(expired)
    }

    // --- enforcement ------------------------------------------------------------------------

    async fn active_actions(&self) -> StoreResult<Vec<Action>> {
        let rows = sqlx::query(&format!(
            "SELECT {ACTION_COLS} FROM actions WHERE status = $1 ORDER BY id"
        ))
        .bind(ActionStatus::Active.as_str())
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        Ok(self.decode_rows("action", &rows, action_from_row))
    }

    async fn actions_changed_since(
        &self,
        kind: ActionKind,
        since: Timestamp,
    ) -> StoreResult<Vec<Action>> {
        let rows = sqlx::query(&format!(
            "SELECT {ACTION_COLS} FROM actions WHERE kind = $1 AND changed_at > $2 \
             ORDER BY changed_at, id"
        ))
        .bind(kind.as_str())
        .bind(since.millis())
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        Ok(self.decode_rows("action", &rows, action_from_row))
    }

    async fn actions_signature(&self) -> StoreResult<(i64, i64)> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM actions WHERE status = $1) AS active, \
             (SELECT COALESCE(MAX(changed_at), 0) FROM actions) AS changed",
        )
        .bind(ActionStatus::Active.as_str())
        .fetch_one(&self.reader)
        .await
        .map_err(db)?;
        Ok((
            row.try_get("active").map_err(db)?,
            row.try_get("changed").map_err(db)?,
        ))
    }

    async fn record_action_hits(&self, hits: &[(i64, u64, Timestamp)]) -> StoreResult<()> {
        if hits.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin().await.map_err(db)?;
        for (id, n, last) in hits {
            sqlx::query(
                "UPDATE actions SET denied = denied + $1, last_denied = CASE \
                 WHEN last_denied IS NULL OR last_denied < $2 THEN $2 ELSE last_denied END \
                 WHERE id = $3",
            )
            .bind(i64::try_from(*n).unwrap_or(i64::MAX))
            .bind(last.millis())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn enforcer_last_pull(&self, token_id: i64) -> StoreResult<Option<Timestamp>> {
        let at: Option<i64> =
            sqlx::query_scalar("SELECT last_pull FROM enforcer_pulls WHERE token_id = $1")
                .bind(token_id)
                .fetch_optional(&self.reader)
                .await
                .map_err(db)?;
        Ok(at.map(Timestamp))
    }

    async fn set_enforcer_last_pull(&self, token_id: i64, at: Timestamp) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO enforcer_pulls (token_id, last_pull) VALUES ($1, $2) \
             ON CONFLICT (token_id) DO UPDATE SET last_pull = excluded.last_pull",
        )
        .bind(token_id)
        .bind(at.millis())
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }
    // --- recovery -----------------------------------------------------------------------

    async fn create_tasks(
        &self,
        incident_id: i64,
        tasks: &[NewTask],
        actor: &str,
        at: Timestamp,
    ) -> StoreResult<Vec<Task>> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        if read_incident(&mut tx, incident_id).await?.is_none() {
            return Err(not_found("incident", incident_id));
        }
        let mut created = Vec::new();
        for t in tasks {
            let id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO tasks (incident_id, kind, title, detail, entity_kind, entity_value, \
                 dedupe_key, done, created_at, created_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(incident_id)
            .bind(t.kind.as_str())
            .bind(&t.title)
            .bind(&t.detail)
            .bind(t.entity.as_ref().map(|e| e.kind.as_str()))
            .bind(t.entity.as_ref().map(|e| e.value.as_str()))
            .bind(t.dedupe_key())
            .bind(false)
            .bind(at.millis())
            .bind(actor)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            let Some(id) = id else { continue };
            insert_audit(
                &mut tx,
                &NewAudit {
                    at,
                    actor: actor.to_string(),
                    action: "task.create".into(),
                    object_type: "task".into(),
                    object_id: id.to_string(),
                    details: serde_json::json!({
                        "incident_id": incident_id,
                        "kind": t.kind,
                        "title": t.title,
                    }),
                },
            )
            .await?;
            created.push(Task {
                id,
                incident_id,
                task: t.clone(),
                done: false,
                done_by: None,
                done_at: None,
                created_at: at,
                created_by: actor.to_string(),
            });
        }
        tx.commit().await.map_err(db)?;
        Ok(created)
    }

    async fn list_tasks(&self, incident_id: i64) -> StoreResult<Vec<Task>> {
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLS} FROM tasks WHERE incident_id = $1 ORDER BY created_at, id"
        ))
        .bind(incident_id)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        Ok(self.decode_rows("task", &rows, task_from_row))
    }

    async fn set_task_done(
        &self,
        incident_id: i64,
        task_id: i64,
        done: bool,
        actor: &str,
        at: Timestamp,
    ) -> StoreResult<Task> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let row = sqlx::query(&format!(
            "SELECT {TASK_COLS} FROM tasks WHERE id = $1 AND incident_id = $2{ROW_LOCK}"
        ))
        .bind(task_id)
        .bind(incident_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let mut task = row
            .as_ref()
            .map(task_from_row)
            .transpose()?
            .ok_or_else(|| not_found("task", task_id))?;
        if task.done == done {
            return Ok(task);
        }
        task.done = done;
        task.done_by = done.then(|| actor.to_string());
        task.done_at = done.then_some(at);
        sqlx::query("UPDATE tasks SET done = $1, done_by = $2, done_at = $3 WHERE id = $4")
            .bind(done)
            .bind(task.done_by.as_deref())
            .bind(task.done_at.map(Timestamp::millis))
            .bind(task_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        insert_audit(
            &mut tx,
            &NewAudit {
                at,
                actor: actor.to_string(),
                action: if done { "task.done" } else { "task.undone" }.into(),
                object_type: "task".into(),
                object_id: task_id.to_string(),
                details: serde_json::json!({ "incident_id": incident_id, "done": done }),
            },
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(task)
    }

    async fn actor_access(
        &self,
        entity: &Entity,
        since: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ActorAccess>> {
        let col = actor_column(entity)?;
        let hours = if col == "client_ip" {
            client_ip_hours("ts", "$2", "NULL")
        } else {
            String::new()
        };
        let rows = sqlx::query(&format!(
            "SELECT method, path, COUNT(*) AS requests, MAX(ts) AS last FROM events \
             WHERE {col} = $1 AND ts >= $2{hours} AND status >= 200 AND status < 300 \
             GROUP BY method, path ORDER BY requests DESC, method, path LIMIT $3"
        ))
        .bind(&entity.value)
        .bind(since.millis())
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(ActorAccess {
                    method: r.try_get("method").map_err(db)?,
                    path: r.try_get("path").map_err(db)?,
                    requests: col_u64(r.try_get("requests").map_err(db)?),
                    last: Timestamp(r.try_get("last").map_err(db)?),
                })
            })
            .collect()
    }

    async fn entity_activity(&self, entity: &Entity) -> StoreResult<EntityActivity> {
        let col = actor_column(entity)?;
        let [d1, d2] = rampart_model::task::DENIED_STATUSES;
        let hours = if col == "client_ip" {
            client_ip_hours("ts", "NULL", "NULL")
        } else {
            String::new()
        };
        let row = sqlx::query(&format!(
            "SELECT MAX(ts) AS last_seen, \
             MAX(CASE WHEN status IN ({d1}, {d2}) THEN NULL ELSE ts END) AS last_allowed \
             FROM events WHERE {col} = $1{hours}"
        ))
        .bind(&entity.value)
        .fetch_one(&self.reader)
        .await
        .map_err(db)?;
        let at = |name: &str| -> StoreResult<Option<Timestamp>> {
            Ok(r_opt(&row, name)?.map(Timestamp))
        };
        Ok(EntityActivity {
            last_seen: at("last_seen")?,
            last_allowed: at("last_allowed")?,
        })
    }

    async fn create_user(
        &self,
        name: &str,
        role: Role,
        password_hash: &str,
        actor: &str,
    ) -> StoreResult<User> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let insert = format!(
            "INSERT INTO users (name, role, password_hash, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING {USER_COLS}"
        );
        let new = Named {
            what: "user",
            name_key: USER_NAME_KEY,
            insert: &insert,
        };
        let row = insert_named(&mut tx, new, name, role, password_hash, actor).await?;
        let user = user_from_row(&row)?;
        tx.commit().await.map_err(db)?;
        Ok(user)
    }

    async fn user_by_name(&self, name: &str) -> StoreResult<Option<(User, String)>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLS}, password_hash FROM users WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?;
        row.map(|r| Ok((user_from_row(&r)?, r.try_get("password_hash").map_err(db)?)))
            .transpose()
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(&format!("SELECT {USER_COLS} FROM users ORDER BY name"))
            .fetch_all(&self.reader)
            .await
            .map_err(db)?;
        Ok(self.decode_rows("user", &rows, user_from_row))
    }

    async fn set_user_disabled(
        &self,
        name: &str,
        disabled: bool,
        actor: &str,
    ) -> StoreResult<User> {
        let now = Timestamp::now();
        let mut tx = self.writer.begin().await.map_err(db)?;
        let user = user_in_tx(&mut tx, name).await?;
        if user.disabled_at.is_some() == disabled {
            return Ok(user);
        }
        let row = sqlx::query(&format!(
            "UPDATE users SET disabled_at = $1 WHERE id = $2 RETURNING {USER_COLS}"
        ))
        .bind(disabled.then_some(now.millis()))
        .bind(user.id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let user = user_from_row(&row)?;
        if disabled {
            end_sessions(&mut tx, user.id).await?;
        }
        insert_audit(
            &mut tx,
            &NewAudit {
                at: now,
                actor: actor.to_string(),
                action: if disabled {
                    "user.disable"
                } else {
                    "user.enable"
                }
                .into(),
                object_type: "user".into(),
                object_id: name.to_string(),
                details: serde_json::json!({ "id": user.id }),
            },
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(user)
    }

    async fn set_user_password(
        &self,
        name: &str,
        password_hash: &str,
        actor: &str,
    ) -> StoreResult<User> {
        let now = Timestamp::now();
        let mut tx = self.writer.begin().await.map_err(db)?;
        let user = user_in_tx(&mut tx, name).await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(user.id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        end_sessions(&mut tx, user.id).await?;
        insert_audit(
            &mut tx,
            &NewAudit {
                at: now,
                actor: actor.to_string(),
                action: "user.password".into(),
                object_type: "user".into(),
                object_id: name.to_string(),
                details: serde_json::json!({ "id": user.id }),
            },
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(user)
    }

    async fn create_session(&self, session: &Session, source: &str) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf, created_at, last_seen, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&session.id_hash)
        .bind(session.user_id)
        .bind(&session.csrf)
        .bind(session.created_at.millis())
        .bind(session.last_seen.millis())
        .bind(session.expires_at.millis())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let name: String =
            sqlx::query_scalar("UPDATE users SET last_login_at = $1 WHERE id = $2 RETURNING name")
                .bind(session.created_at.millis())
                .bind(session.user_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?
                .ok_or_else(|| not_found("user", session.user_id))?;
        // Old sessions of anyone are swept on the way: a sign-in is rare, the table stays small.
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(session.created_at.millis())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        insert_audit(
            &mut tx,
            &NewAudit {
                at: session.created_at,
                actor: format!("user:{name}"),
                action: "user.login".into(),
                object_type: "user".into(),
                object_id: name.clone(),
                details: serde_json::json!({ "source": source }),
            },
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn session(
        &self,
        id_hash: &str,
        now: Timestamp,
        idle_since: Timestamp,
    ) -> StoreResult<Option<(Session, User)>> {
        let row = sqlx::query(&format!(
            "SELECT s.id_hash, s.user_id, s.csrf, s.created_at AS s_created_at, s.last_seen, \
             s.expires_at, {USER_COLS_U} FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND s.last_seen >= $3 \
             AND u.disabled_at IS NULL"
        ))
        .bind(id_hash)
        .bind(now.millis())
        .bind(idle_since.millis())
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?;
        let Some(r) = row else { return Ok(None) };
        let session = Session {
            id_hash: r.try_get("id_hash").map_err(db)?,
            user_id: r.try_get("user_id").map_err(db)?,
            csrf: r.try_get("csrf").map_err(db)?,
            created_at: Timestamp(r.try_get("s_created_at").map_err(db)?),
            last_seen: Timestamp(r.try_get("last_seen").map_err(db)?),
            expires_at: Timestamp(r.try_get("expires_at").map_err(db)?),
        };
        Ok(Some((session, user_from_row(&r)?)))
    }

    async fn touch_session(&self, id_hash: &str, at: Timestamp) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_seen = $1 WHERE id_hash = $2 AND last_seen < $1")
            .bind(at.millis())
            .bind(id_hash)
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn delete_session(&self, id_hash: &str, actor: &str) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let gone = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected()
            > 0;
        if gone {
            insert_audit(
                &mut tx,
                &NewAudit {
                    at: Timestamp::now(),
                    actor: actor.to_string(),
                    action: "user.logout".into(),
                    object_type: "user".into(),
                    object_id: actor.strip_prefix("user:").unwrap_or(actor).to_string(),
                    details: serde_json::json!({}),
                },
            )
            .await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(gone)
    }

    async fn add_login_failure(
        &self,
        account: &str,
        source: &str,
        at: Timestamp,
        since: Timestamp,
    ) -> StoreResult<(u64, u64)> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(since.millis())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("INSERT INTO login_failures (account, source, at) VALUES ($1, $2, $3)")
            .bind(account)
            .bind(source)
            .bind(at.millis())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let counts = count_login_failures(&mut tx, account, source, since).await?;
        tx.commit().await.map_err(db)?;
        Ok(counts)
    }

    async fn login_failures(
        &self,
        account: &str,
        source: &str,
        since: Timestamp,
    ) -> StoreResult<(u64, u64)> {
        let mut conn = self.reader.acquire().await.map_err(db)?;
        count_login_failures(&mut conn, account, source, since).await
    }

    async fn clear_login_failures(&self, account: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_failures WHERE account = $1")
            .bind(account)
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn put_automation(
        &self,
        kind: &str,
        name: &str,
        body: &serde_json::Value,
        actor: &str,
    ) -> StoreResult<(AutomationObject, bool)> {
        let now = Timestamp::now();
        let text = body.to_string();
        let mut tx = self.writer.begin().await.map_err(db)?;
        let old = sqlx::query(&format!(
            "SELECT {AUTOMATION_COLS} FROM automation WHERE kind = $1 AND name = $2{ROW_LOCK}"
        ))
        .bind(kind)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        .as_ref()
        .map(automation_from_row)
        .transpose()?;
        if let Some(old) = &old {
            if &old.body == body {
                return Ok((old.clone(), false));
            }
        }
        let row = sqlx::query(&format!(
            "INSERT INTO automation (kind, name, body, version, created_at, updated_at, updated_by) \
             VALUES ($1, $2, $3, 1, $4, $4, $5) \
             ON CONFLICT (kind, name) DO UPDATE SET body = excluded.body, \
             version = automation.version + 1, updated_at = excluded.updated_at, \
             updated_by = excluded.updated_by RETURNING {AUTOMATION_COLS}"
        ))
        .bind(kind)
        .bind(name)
        .bind(&text)
        .bind(now.millis())
        .bind(actor)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let stored = automation_from_row(&row)?;
        insert_audit(
            &mut tx,
            &NewAudit {
                at: now,
                actor: actor.to_string(),
                action: if old.is_some() {
                    "automation.update".into()
                } else {
                    "automation.create".into()
                },
                object_type: format!("automation.{kind}"),
                object_id: name.to_string(),
                details: serde_json::json!({
                    "version": stored.version,
                    "before": old.map(|o| o.body),
                    "after": body,
                }),
            },
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok((stored, true))
    }

    async fn list_automation(&self, kind: &str) -> StoreResult<Vec<AutomationObject>> {
        let rows = sqlx::query(&format!(
            "SELECT {AUTOMATION_COLS} FROM automation WHERE kind = $1 ORDER BY name"
        ))
        .bind(kind)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        Ok(self.decode_rows("automation object", &rows, automation_from_row))
    }

    async fn get_automation(
        &self,
        kind: &str,
        name: &str,
    ) -> StoreResult<Option<AutomationObject>> {
        sqlx::query(&format!(
            "SELECT {AUTOMATION_COLS} FROM automation WHERE kind = $1 AND name = $2"
        ))
        .bind(kind)
        .bind(name)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?
        .as_ref()
        .map(automation_from_row)
        .transpose()
    }

    async fn delete_automation(&self, kind: &str, name: &str, actor: &str) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let old = sqlx::query(&format!(
            "DELETE FROM automation WHERE kind = $1 AND name = $2 RETURNING {AUTOMATION_COLS}"
        ))
        .bind(kind)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        .as_ref()
        .map(automation_from_row)
        .transpose()?
        .ok_or_else(|| not_found("automation object", name))?;
        insert_audit(
            &mut tx,
            &NewAudit::now(
                actor,
                "automation.delete",
                format!("automation.{kind}"),
                name,
                serde_json::json!({ "version": old.version, "before": old.body }),
            ),
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn save_view(&self, user_name: &str, name: &str, query: &str) -> StoreResult<SavedView> {
        let row = sqlx::query(&format!(
            "INSERT INTO saved_views (user_name, name, query, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_name, name) DO UPDATE SET query = excluded.query, \
             created_at = excluded.created_at RETURNING {VIEW_COLS}"
        ))
        .bind(user_name)
        .bind(name)
        .bind(query)
        .bind(Timestamp::now().millis())
        .fetch_one(&self.writer)
        .await
        .map_err(db)?;
        view_from_row(&row)
    }

    async fn list_views(&self, user_name: &str) -> StoreResult<Vec<SavedView>> {
        let rows = sqlx::query(&format!(
            "SELECT {VIEW_COLS} FROM saved_views WHERE user_name = $1 ORDER BY name"
        ))
        .bind(user_name)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        Ok(self.decode_rows("saved view", &rows, view_from_row))
    }

    async fn delete_view(&self, user_name: &str, id: i64) -> StoreResult<()> {
        let n = sqlx::query("DELETE FROM saved_views WHERE id = $1 AND user_name = $2")
            .bind(id)
            .bind(user_name)
            .execute(&self.writer)
            .await
            .map_err(db)?
            .rows_affected();
        if n == 0 {
            return Err(not_found("saved view", id));
        }
        Ok(())
    }

    async fn note_walkthrough(&self, user_name: &str, step: &str, value: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO walkthrough (user_name, step, value, at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_name, step) DO NOTHING",
        )
        .bind(user_name)
        .bind(step)
        .bind(value)
        .bind(Timestamp::now().millis())
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn create_run(
        &self,
        new: &rampart_model::NewRun,
        actor: &str,
    ) -> StoreResult<rampart_model::PlaybookRun> {
        self.pb_create_run(new, actor).await
    }

    async fn claim_runs(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<rampart_model::PlaybookRun>> {
        self.pb_claim_runs(owner, now, lease_until, limit).await
    }

    async fn record_step_started(
        &self,
        run_id: i64,
        owner: &str,
        key: &str,
        step_id: &str,
        input: &serde_json::Value,
        lease_until: Timestamp,
    ) -> StoreResult<rampart_model::RunStep> {
        self.pb_record_step_started(run_id, owner, key, step_id, input, lease_until)
            .await
    }

    async fn record_step_finished(
        &self,
        run_id: i64,
        owner: &str,
        key: &str,
        step_id: &str,
        input: Option<&serde_json::Value>,
        output: Result<&serde_json::Value, &str>,
    ) -> StoreResult<rampart_model::RunStep> {
        self.pb_record_step_finished(run_id, owner, key, step_id, input, output)
            .await
    }

    async fn park_run(
        &self,
        run_id: i64,
        owner: &str,
        wake_at: Option<Timestamp>,
    ) -> StoreResult<()> {
        self.pb_park_run(run_id, owner, wake_at).await
    }

    async fn finish_run(
        &self,
        run_id: i64,
        owner: &str,
        status: rampart_model::RunStatus,
        error: Option<&str>,
        actor: &str,
    ) -> StoreResult<rampart_model::PlaybookRun> {
        self.pb_finish_run(run_id, owner, status, error, actor)
            .await
    }

    async fn approve_run(
        &self,
        run_id: i64,
        key: &str,
        actor: &str,
    ) -> StoreResult<rampart_model::PlaybookRun> {
        self.pb_approve_run(run_id, key, actor).await
    }

    async fn cancel_run(
        &self,
        run_id: i64,
        actor: &str,
    ) -> StoreResult<rampart_model::PlaybookRun> {
        self.pb_cancel_run(run_id, actor).await
    }

    async fn list_runs(
        &self,
        incident_id: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<rampart_model::PlaybookRun>> {
        self.pb_list_runs(incident_id, limit).await
    }

    async fn get_run(
        &self,
        run_id: i64,
    ) -> StoreResult<Option<(rampart_model::PlaybookRun, Vec<rampart_model::RunStep>)>> {
        self.pb_get_run(run_id).await
    }

    async fn hunt(
        &self,
        plan: &rampart_hunt::plan::Plan,
        timeout: std::time::Duration,
    ) -> StoreResult<rampart_hunt::rows::Rows> {
        hunt::hunt(self, plan, timeout).await
    }

    async fn prune(
        &self,
        rule: &rampart_store::Retention,
        limit: u32,
        actor: &str,
    ) -> StoreResult<u64> {
        self.prune_rows(rule, limit, actor).await
    }

    async fn claim_detection(
        &self,
        name: &str,
        slot: Timestamp,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<bool> {
        self.claim_detection_run(name, slot, owner, now, lease_until)
            .await
    }

    async fn finish_detection(
        &self,
        name: &str,
        slot: Timestamp,
        owner: &str,
        now: Timestamp,
        outcome: &serde_json::Value,
    ) -> StoreResult<bool> {
        self.finish_detection_run(name, slot, owner, now, outcome)
            .await
    }

    async fn detection_runs(&self) -> StoreResult<Vec<rampart_store::DetectionRun>> {
        self.list_detection_runs().await
    }

    async fn claim_investigations(
        &self,
        owner: &str,
        since: Timestamp,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<i64>> {
        self.claim_investigation_ids(owner, since, now, lease_until, limit)
            .await
    }

    async fn finish_investigation(
        &self,
        incident_id: i64,
        owner: Option<&str>,
        now: Timestamp,
        result: &serde_json::Value,
    ) -> StoreResult<bool> {
        self.store_investigation(incident_id, owner, now, result)
            .await
    }

    async fn get_investigation(
        &self,
        incident_id: i64,
    ) -> StoreResult<Option<rampart_store::StoredInvestigation>> {
        self.load_investigation(incident_id).await
    }

    async fn optimize(&self) -> StoreResult<()> {
        if let Some(sql) = OPTIMIZE {
            sqlx::query(sql).execute(&self.writer).await.map_err(db)?;
        }
        Ok(())
    }

    async fn walkthrough(&self, user_name: &str) -> StoreResult<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT step, value FROM walkthrough WHERE user_name = $1 ORDER BY at, step",
        )
        .bind(user_name)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("step").map_err(db)?,
                    r.try_get("value").map_err(db)?,
                ))
            })
            .collect()
    }

    async fn enqueue_deliveries(
        &self,
        items: &[NewDelivery],
        now: Timestamp,
    ) -> StoreResult<Vec<i64>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.writer.begin().await.map_err(db)?;
        let mut ids = Vec::with_capacity(items.len());
        for d in items {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO webhook_deliveries (webhook, event, payload, status, attempts, \
                 max_attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, 'pending', 0, $4, $5, $5) RETURNING id",
            )
            .bind(&d.webhook)
            .bind(&d.event)
            .bind(d.payload.to_string())
            .bind(i64::from(d.max_attempts.max(1)))
            .bind(now.millis())
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            ids.push(id);
        }
        tx.commit().await.map_err(db)?;
        Ok(ids)
    }

    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>> {
        // The outer WHERE repeats the lease check: on PostgreSQL a concurrent claim of the
        // same row re-evaluates it on the claimed row, which no longer matches; the dialect's
        // `CLAIM_LOCK` makes the sub-select skip rows another claim holds. `MATERIALIZED`:
        // the due rows are picked once (a sub-select in `IN` may be run again per row).
        let rows = sqlx::query(&format!(
            "WITH due AS MATERIALIZED (SELECT id FROM webhook_deliveries \
               WHERE status = 'pending' AND next_attempt_at <= $2 \
               AND (claimed_until IS NULL OR claimed_until <= $2) \
               ORDER BY next_attempt_at, id LIMIT $3{CLAIM_LOCK}) \
             UPDATE webhook_deliveries SET claimed_until = $1 \
             WHERE id IN (SELECT id FROM due) \
             AND status = 'pending' AND (claimed_until IS NULL OR claimed_until <= $2) \
             RETURNING {DELIVERY_COLS}"
        ))
        .bind(lease_until.millis())
        .bind(now.millis())
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await
        .map_err(db)?;
        let mut out = self.decode_rows("webhook delivery", &rows, delivery_from_row);
        out.sort_by_key(|d| (d.next_attempt_at, d.id));
        Ok(out)
    }

    async fn record_delivery_success(
        &self,
        id: i64,
        lease: Timestamp,
        status: u16,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, \
             last_status = $1, last_error = NULL, delivered_at = $2, claimed_until = NULL \
             WHERE id = $3 AND status = 'pending' AND claimed_until = $4",
        )
        .bind(i64::from(status))
        .bind(now.millis())
        .bind(id)
        .bind(lease.millis())
        .execute(&self.writer)
        .await
        .map_err(db)?
        .rows_affected();
        Ok(done == 1)
    }

    async fn record_delivery_failure(
        &self,
        id: i64,
        lease: Timestamp,
        error: &str,
        status: Option<u16>,
        retry_at: Timestamp,
    ) -> StoreResult<Option<DeliveryStatus>> {
        let error: String = error.chars().take(1000).collect();
        let row: Option<String> = sqlx::query_scalar(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, last_error = $1, \
             last_status = $2, claimed_until = NULL, next_attempt_at = $3, \
             status = CASE WHEN attempts + 1 >= max_attempts THEN 'dead' ELSE 'pending' END \
             WHERE id = $4 AND status = 'pending' AND claimed_until = $5 RETURNING status",
        )
        .bind(&error)
        .bind(status.map(i64::from))
        .bind(retry_at.millis())
        .bind(id)
        .bind(lease.millis())
        .fetch_optional(&self.writer)
        .await
        .map_err(db)?;
        row.map(|s| {
            s.parse::<DeliveryStatus>()
                .map_err(|e| StoreError::Corrupt(format!("delivery status: {e}")))
        })
        .transpose()
    }

    async fn list_deliveries(&self, filter: &DeliveryFilter) -> StoreResult<Vec<Delivery>> {
        let mut q = QueryBuilder::<Db>::new(format!(
            "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE 1 = 1"
        ));
        if let Some(w) = &filter.webhook {
            q.push(" AND webhook = ").push_bind(w.clone());
        }
        if let Some(s) = filter.status {
            q.push(" AND status = ").push_bind(s.as_str());
        }
        q.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(filter.limit.unwrap_or(100).clamp(1, 1000)));
        let rows = q.build().fetch_all(&self.reader).await.map_err(db)?;
        Ok(self.decode_rows("webhook delivery", &rows, delivery_from_row))
    }

    async fn prune_deliveries(&self, before: Timestamp) -> StoreResult<u64> {
        let done =
            sqlx::query("DELETE FROM webhook_deliveries WHERE status = $1 AND delivered_at < $2")
                .bind(DeliveryStatus::Delivered.as_str())
                .bind(before.millis())
                .execute(&self.writer)
                .await
                .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn get_delivery(&self, id: i64) -> StoreResult<Option<Delivery>> {
        sqlx::query(&format!(
            "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?
        .as_ref()
        .map(delivery_from_row)
        .transpose()
    }

    async fn retry_delivery(&self, id: i64, actor: &str, now: Timestamp) -> StoreResult<Delivery> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let row = sqlx::query(&format!(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, \
             next_attempt_at = $1, claimed_until = NULL \
             WHERE id = $2 AND status = 'dead' RETURNING {DELIVERY_COLS}"
        ))
        .bind(now.millis())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(row) = row else {
            let status: Option<String> =
                sqlx::query_scalar("SELECT status FROM webhook_deliveries WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
            return Err(match status {
                None => not_found("webhook delivery", id),
                Some(s) => StoreError::Conflict(format!(
                    "webhook delivery {id} is {s}; only a dead letter is retried"
                )),
            });
        };
        let d = delivery_from_row(&row)?;
        insert_audit(
            &mut tx,
            &NewAudit {
                at: now,
                actor: actor.to_string(),
                action: "webhook.delivery.retry".into(),
                object_type: "webhook_delivery".into(),
                object_id: id.to_string(),
                details: serde_json::json!({
                    "webhook": d.webhook,
                    "event": d.event,
                    "last_error": d.last_error,
                }),
            },
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(d)
    }
}

const USER_COLS: &str = "id, name, role, created_at, disabled_at, last_login_at";

/// A named credential row to insert: a token or a console user.
struct Named<'a> {
    /// `token` or `user` (its table is `{what}s`; its audit action `{what}.create`).
    what: &'static str,
    /// The unique key of its name, as the dialect names it.
    name_key: &'static str,
    /// `INSERT ... (name, role, <secret>, created_at) VALUES ($1, $2, $3, $4) RETURNING ...`.
    insert: &'a str,
}

/// Insert a named credential row in `tx` and audit its creation (`{what}.create`, its id and
/// role, never the secret) as `actor`. A taken name is a `Conflict`, found by a check first
/// or by the name's unique key when another writer races past it.
async fn insert_named(
    tx: &mut DbConnection,
    new: Named<'_>,
    name: &str,
    role: Role,
    secret: &str,
    actor: &str,
) -> StoreResult<DbRow> {
    let what = new.what;
    let taken = || StoreError::Conflict(format!("{what} {name:?} already exists"));
    let exists: Option<i64> =
        sqlx::query_scalar(&format!("SELECT id FROM {what}s WHERE name = $1"))
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
    if exists.is_some() {
        return Err(taken());
    }
    let now = Timestamp::now();
    let row = sqlx::query(new.insert)
        .bind(name)
        .bind(role.as_str())
        .bind(secret)
        .bind(now.millis())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match violated_key(&e) {
            Some(k) if k == new.name_key => taken(),
            _ => db(e),
        })?;
    let id: i64 = row.try_get("id").map_err(db)?;
    insert_audit(
        tx,
        &NewAudit {
            at: now,
            actor: actor.to_string(),
            action: format!("{what}.create"),
            object_type: what.into(),
            object_id: name.to_string(),
            details: serde_json::json!({ "id": id, "role": role.as_str() }),
        },
    )
    .await?;
    Ok(row)
}

/// User `name` inside a write transaction, or `NotFound`.
async fn user_in_tx(conn: &mut DbConnection, name: &str) -> StoreResult<User> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLS} FROM users WHERE name = $1{ROW_LOCK}"
    ))
    .bind(name)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    row.as_ref()
        .map(user_from_row)
        .transpose()?
        .ok_or_else(|| not_found("user", name))
}

/// End every session of user `id` (disabled, or its password changed).
async fn end_sessions(conn: &mut DbConnection, id: i64) -> StoreResult<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}
const USER_COLS_U: &str = "u.id, u.name, u.role, u.created_at, u.disabled_at, u.last_login_at";
const VIEW_COLS: &str = "id, user_name, name, query, created_at";

const AUTOMATION_COLS: &str = "kind, name, body, version, created_at, updated_at, updated_by";

fn automation_from_row(r: &DbRow) -> StoreResult<AutomationObject> {
    let body: String = r.try_get("body").map_err(db)?;
    Ok(AutomationObject {
        kind: r.try_get("kind").map_err(db)?,
        name: r.try_get("name").map_err(db)?,
        body: serde_json::from_str(&body)
            .map_err(|e| StoreError::Corrupt(format!("automation body: {e}")))?,
        version: r.try_get("version").map_err(db)?,
        created_at: Timestamp(r.try_get("created_at").map_err(db)?),
        updated_at: Timestamp(r.try_get("updated_at").map_err(db)?),
        updated_by: r.try_get("updated_by").map_err(db)?,
    })
}

fn user_from_row(r: &DbRow) -> StoreResult<User> {
    let role: String = r.try_get("role").map_err(db)?;
    Ok(User {
        id: r.try_get("id").map_err(db)?,
        name: r.try_get("name").map_err(db)?,
        role: parse_wire::<Role>("role", &role)?,
        created_at: Timestamp(r.try_get("created_at").map_err(db)?),
        disabled_at: r_opt(r, "disabled_at")?.map(Timestamp),
        last_login_at: r_opt(r, "last_login_at")?.map(Timestamp),
    })
}

fn view_from_row(r: &DbRow) -> StoreResult<SavedView> {
    Ok(SavedView {
        id: r.try_get("id").map_err(db)?,
        user_name: r.try_get("user_name").map_err(db)?,
        name: r.try_get("name").map_err(db)?,
        query: r.try_get("query").map_err(db)?,
        created_at: Timestamp(r.try_get("created_at").map_err(db)?),
    })
}

async fn count_login_failures(
    conn: &mut DbConnection,
    account: &str,
    source: &str,
    since: Timestamp,
) -> StoreResult<(u64, u64)> {
    let by_account: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE account = $1 AND at >= $2")
            .bind(account)
            .bind(since.millis())
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
    let by_source: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE source = $1 AND at >= $2")
            .bind(source)
            .bind(since.millis())
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
    Ok((col_u64(by_account), col_u64(by_source)))
}

fn r_opt(row: &DbRow, name: &str) -> StoreResult<Option<i64>> {
    row.try_get::<Option<i64>, _>(name).map_err(db)
}

/// Milliseconds per hour: the leading key of SQLite's client-IP index (`ts / 3600000`).
const HOUR_MS: i64 = 3_600_000;

/// What lets a `client_ip = ..` lookup between `since` and `until` (SQL expressions of
/// milliseconds, `NULL` for an open end) use the backend's client-IP index; `ts` names the
/// events' time column in the caller's query (`ts`, or `src.ts` under an alias). On SQLite
/// (`dialect::CLIENT_IP_BY_HOUR`, migration 0014) that index leads with the event's hour, so
/// that appending a batch rewrites only the current hour's part of it instead of a page per
/// client across the whole table: a lookup then visits each hour from the later of `since` and
/// the oldest event to the earlier of `until` and the newest (a recursive CTE the planner
/// answers with one index seek per hour; the oldest and newest come from the `ts` index).
/// Empty on PostgreSQL, whose `(client_ip, ts)` index answers the equality alone.
pub(crate) fn client_ip_hours(ts: &str, since: &str, until: &str) -> String {
    let [a, b, c] = client_ip_hours_parts(ts);
    if a.is_empty() {
        return a;
    }
    format!("{a}{since}{b}{until}{c}")
}

/// [`client_ip_hours`] cut where `since` and `until` go, for a `QueryBuilder` to bind them
/// (all three empty on a backend without the hour-keyed index).
fn client_ip_hours_parts(ts: &str) -> [String; 3] {
    if !CLIENT_IP_BY_HOUR {
        return [String::new(), String::new(), String::new()];
    }
    [
        format!(" AND {ts} / {HOUR_MS} IN (WITH RECURSIVE b(lo, hi) AS (SELECT max(COALESCE("),
        format!(", o.lo), o.lo) / {HOUR_MS}, min(COALESCE("),
        format!(
            ", o.hi), o.hi) / {HOUR_MS} FROM \
             (SELECT (SELECT MIN(ts) FROM events) AS lo, (SELECT MAX(ts) FROM events) AS hi) o), \
             h(x) AS (SELECT lo FROM b UNION ALL SELECT x + 1 FROM h, b WHERE x < b.hi) \
             SELECT x FROM h)"
        ),
    ]
}

/// The events column that names an actor of this kind (never from input: a fixed name).
fn actor_column(e: &Entity) -> StoreResult<&'static str> {
    match e.kind {
        EntityKind::Ip => Ok("client_ip"),
        EntityKind::User => Ok("principal"),
        EntityKind::ApiKey => Ok("api_key_id"),
        other => Err(StoreError::Invalid(format!(
            "{other} is not an actor (ip, user, api_key)"
        ))),
    }
}

const TASK_COLS: &str = "id, incident_id, kind, title, detail, entity_kind, entity_value, done, \
    done_by, done_at, created_at, created_by";

fn task_from_row(r: &DbRow) -> StoreResult<Task> {
    let kind: String = r.try_get("kind").map_err(db)?;
    let entity_kind: Option<String> = r.try_get("entity_kind").map_err(db)?;
    let entity_value: Option<String> = r.try_get("entity_value").map_err(db)?;
    let entity = match (entity_kind, entity_value) {
        (Some(k), Some(v)) => Some(Entity::new(
            parse_wire::<EntityKind>("task entity kind", &k)?,
            v,
            EntityRole::Attacker,
        )),
        _ => None,
    };
    Ok(Task {
        id: r.try_get("id").map_err(db)?,
        incident_id: r.try_get("incident_id").map_err(db)?,
        task: NewTask {
            kind: parse_wire::<TaskKind>("task kind", &kind)?,
            title: r.try_get("title").map_err(db)?,
            detail: r.try_get("detail").map_err(db)?,
            entity,
        },
        done: r.try_get("done").map_err(db)?,
        done_by: r.try_get("done_by").map_err(db)?,
        done_at: r_opt(r, "done_at")?.map(Timestamp),
        created_at: Timestamp(r.try_get("created_at").map_err(db)?),
        created_by: r.try_get("created_by").map_err(db)?,
    })
}

const ACTION_COLS: &str = "id, status, record, denied, last_denied";

fn action_from_row(r: &DbRow) -> StoreResult<Action> {
    let record: String = r.try_get("record").map_err(db)?;
    let status: String = r.try_get("status").map_err(db)?;
    let mut action: Action = from_json("action", &record)?;
    action.id = r.try_get("id").map_err(db)?;
    action.action.status = parse_wire::<ActionStatus>("action status", &status)?;
    let denied: i64 = r.try_get("denied").map_err(db)?;
    action.denied = u64::try_from(denied).unwrap_or(0);
    action.last_denied = r
        .try_get::<Option<i64>, _>("last_denied")
        .map_err(db)?
        .map(Timestamp);
    Ok(action)
}

/// `id, id, ...` as bound parameters.
fn push_ids(qb: &mut QueryBuilder<'_, Db>, ids: &[i64]) {
    let mut sep = qb.separated(", ");
    for id in ids {
        sep.push_bind(*id);
    }
}

fn push_action_where<'a>(qb: &mut QueryBuilder<'a, Db>, f: &'a ActionFilter) {
    let mut sep = " WHERE ";
    if let Some(s) = f.status {
        qb.push(sep).push("status = ").push_bind(s.as_str());
        sep = " AND ";
    }
    if let Some(i) = f.incident_id {
        qb.push(sep).push("incident_id = ").push_bind(i);
        sep = " AND ";
    }
    if let Some(p) = &f.requested_by {
        // a prefix compared as text (no LIKE: `%` and `_` in a name are literal)
        qb.push(sep)
            .push("substr(requested_by, 1, ")
            // an INTEGER, not a BIGINT: PostgreSQL has no substr(text, int, bigint)
            .push_bind(i32::try_from(p.chars().count()).unwrap_or(i32::MAX))
            .push(") = ")
            .push_bind(p.as_str());
        sep = " AND ";
    }
    if let Some(t) = f.created_since {
        qb.push(sep).push("created_at >= ").push_bind(t.millis());
    }
}

/// Apply `change` to `action` (read in this transaction) as a compare-and-set on its status,
/// and audit it.
async fn change_action_tx(
    conn: &mut DbConnection,
    action: &Action,
    expected: ActionStatus,
    change: &ActionChange,
    actor: &str,
) -> StoreResult<Action> {
    let conflict = |status: ActionStatus| {
        StoreError::Conflict(format!("action {} is {status}, not {expected}", action.id))
    };
    if action.status() != expected {
        return Err(conflict(action.status()));
    }
    let changed = change.apply(action);
    let at = match change {
        ActionChange::Approve { at, .. }
        | ActionChange::Revert { at, .. }
        | ActionChange::Expire { at }
        | ActionChange::Fail { at, .. } => *at,
    };
    let done = sqlx::query(
        "UPDATE actions SET status = $1, expires_at = $2, record = $3, changed_at = $4 \
         WHERE id = $5 AND status = $6",
    )
    .bind(changed.status().as_str())
    .bind(changed.action.expires_at.map(Timestamp::millis))
    .bind(to_json(&changed)?)
    .bind(at.millis())
    .bind(action.id)
    .bind(expected.as_str())
    .execute(&mut *conn)
    .await
    .map_err(db)?
    .rows_affected();
    if done != 1 {
        return Err(conflict(changed.status()));
    }
    insert_audit(
        conn,
        &NewAudit {
            at,
            actor: actor.to_string(),
            action: change.audit_name().into(),
            object_type: "action".into(),
            object_id: action.id.to_string(),
            details: serde_json::json!({
                "from": expected.as_str(),
                "to": changed.status().as_str(),
                "change": change,
            }),
        },
    )
    .await?;
    Ok(changed)
}

/// JSON values of patchable fields, for audit before/after details.
mod erased {
    /// A value that can be shown in an audit entry.
    pub trait ToJson {
        /// As JSON (null when not representable).
        fn to_json(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> ToJson for T {
        fn to_json(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
        }
    }
}

const DELIVERY_COLS: &str = "id, webhook, event, payload, status, attempts, max_attempts, \
     next_attempt_at, claimed_until, last_error, last_status, created_at, delivered_at";

fn delivery_from_row(r: &DbRow) -> StoreResult<Delivery> {
    let payload: String = r.try_get("payload").map_err(db)?;
    let status: String = r.try_get("status").map_err(db)?;
    let opt_ts = |name: &str| -> StoreResult<Option<Timestamp>> {
        Ok(r.try_get::<Option<i64>, _>(name)
            .map_err(db)?
            .map(Timestamp))
    };
    Ok(Delivery {
        id: r.try_get("id").map_err(db)?,
        webhook: r.try_get("webhook").map_err(db)?,
        event: r.try_get("event").map_err(db)?,
        payload: serde_json::from_str(&payload)
            .map_err(|e| StoreError::Corrupt(format!("delivery payload: {e}")))?,
        status: status
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("delivery status: {e}")))?,
        attempts: u32::try_from(r.try_get::<i64, _>("attempts").map_err(db)?).unwrap_or(0),
        max_attempts: u32::try_from(r.try_get::<i64, _>("max_attempts").map_err(db)?).unwrap_or(1),
        next_attempt_at: Timestamp(r.try_get("next_attempt_at").map_err(db)?),
        claimed_until: opt_ts("claimed_until")?,
        last_error: r.try_get("last_error").map_err(db)?,
        last_status: r
            .try_get::<Option<i64>, _>("last_status")
            .map_err(db)?
            .and_then(|s| u16::try_from(s).ok()),
        created_at: Timestamp(r.try_get("created_at").map_err(db)?),
        delivered_at: opt_ts("delivered_at")?,
    })
}
