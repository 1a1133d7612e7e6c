//! Rampart's own `/api/v1` handlers.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rampart_model::{
    AlertDraft, ApiEvent, Entity, Incident, IncidentFilter, IncidentPatch, IncidentSort,
    IncidentStatus, Role, Timestamp, MAX_EVIDENCE,
};
use rampart_pipeline::{BatchReport, IdempotencyKey, PushOutcome};
use rampart_store::{AlertFilter, AuditFilter, IdempotencyRecord, IncidentState, StoreError};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{generate_token, hash_token, Caller};
use crate::error::{ApiError, ErrorKind};
use crate::metrics::Counter;
use crate::AppState;
use rampart_decode::DecodeConfig;

/// Query parameters as name/value pairs.
pub type Params = Vec<(String, String)>;

/// One page of a list, serialized straight from the typed items (no intermediate JSON tree:
/// the list routes are the hottest reads).
#[derive(serde::Serialize)]
pub struct PageOut<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Items matching the filter, all pages.
    pub total: u64,
    /// Page size.
    pub limit: u32,
    /// Items skipped.
    pub offset: u32,
}

impl<T> PageOut<T> {
    /// The answer for `page`, read with this page size and offset.
    pub fn new(page: rampart_model::Page<T>, limit: u32, offset: u32) -> Self {
        PageOut {
            items: page.items,
            total: page.total,
            limit,
            offset,
        }
    }
}

/// The body bytes, or 413/408/400 as a JSON error.
pub fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ErrorKind::PayloadTooLarge, "request body too large")
        } else if is_body_timeout(&e) {
            ApiError::for_status(408)
        } else {
            ApiError::bad_request(format!("cannot read body: {e}"))
        }
    })
}

fn is_body_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<crate::transport::BodyTimeout>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Parse a JSON body: 400 for a syntax error, 422 for a shape or value error.
pub fn json_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(json_error)
}

fn json_error(e: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => ApiError::unprocessable(format!("invalid body: {e}")),
        _ => ApiError::bad_request(format!("malformed json: {e}")),
    }
}

/// The query pairs, or 400.
pub fn params(q: Result<Query<Params>, QueryRejection>) -> Result<Params, ApiError> {
    q.map(|Query(p)| p)
        .map_err(|e| ApiError::bad_request(format!("malformed query string: {e}")))
}

/// A numeric id path parameter, or 400.
pub fn path_id(p: Result<Path<i64>, PathRejection>) -> Result<i64, ApiError> {
    p.map(|Path(id)| id)
        .map_err(|_| ApiError::bad_param("id", "not an integer"))
}

fn parse_one<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, ApiError> {
    v.parse()
        .map_err(|_| ApiError::bad_param(name, format!("{v:?}")))
}

fn parse_list<T: std::str::FromStr>(name: &str, v: &str) -> Result<Vec<T>, ApiError> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse_one(name, s))
        .collect()
}

pub(crate) fn parse_time(name: &str, v: &str) -> Result<Timestamp, ApiError> {
    Timestamp::parse_rfc3339(v)
        .ok_or_else(|| ApiError::bad_param(name, format!("{v:?} is not RFC 3339")))
}

fn parse_limit(v: &str, max: u32) -> Result<u32, ApiError> {
    match v.parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::bad_param("limit", format!("{v:?} (1..={max})"))),
    }
}

fn unknown_param(name: &str) -> ApiError {
    ApiError::bad_param(name, "unknown parameter")
}

/// `GET /healthz`.
pub async fn healthz(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"status": "ok", "backend": state.store.backend()}))
}

/// Any unknown route: a JSON 404.
pub async fn no_route() -> ApiError {
    ApiError::new(ErrorKind::NotFound, "no such route")
}

// --- ingestion -----------------------------------------------------------------------------

/// The decoder of pushed lines: Rampart's own NDJSON event record.
pub const PUSH_DECODER: &str = "rampart";

/// Decode one NDJSON line (a Rampart event record) into an owned event.
pub fn decode_line(line: &str, cfg: &DecodeConfig) -> Result<ApiEvent<'static>, String> {
    let dec = rampart_decode::decoder_by_name(PUSH_DECODER)
        .ok_or_else(|| format!("decoder {PUSH_DECODER} is not registered"))?;
    dec.decode(line, cfg)
        .map(ApiEvent::into_owned)
        .map_err(|e| e.to_string())
}

/// Decode a whole NDJSON body. Blank lines are skipped; the first bad line (undecodable, or
/// with a time outside [`rampart_model::SANE_MIN`]..[`rampart_model::SANE_MAX`]) fails all
/// of it.
pub fn decode_ndjson(
    body: &str,
    cfg: &DecodeConfig,
    max_events: usize,
) -> Result<Vec<ApiEvent<'static>>, ApiError> {
    let mut events = Vec::new();
    for (i, line) in body.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        if events.len() >= max_events {
            return Err(ApiError::new(
                ErrorKind::PayloadTooLarge,
                format!("more than {max_events} events in one request"),
            ));
        }
        let ev = decode_line(line, cfg)
            .and_then(|ev| match ev.ts.check_sane("ts") {
                Ok(_) => Ok(ev),
                Err(e) => Err(e.to_string()),
            })
            .map_err(|reason| ApiError::bad_request(format!("line {}: {reason}", i + 1)))?;
        events.push(ev);
    }
    Ok(events)
}

/// Header naming a pushed request's idempotency key.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Header set on an answer replayed for a retried idempotency key.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";
/// Longest idempotency key accepted, in bytes.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The request's `Idempotency-Key`: 1-255 visible ASCII characters (no spaces), or 400.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(v) = values.next() else {
        return Ok(None);
    };
    let bad = || {
        ApiError::bad_request(format!(
            "Idempotency-Key must be one value of 1-{MAX_IDEMPOTENCY_KEY} visible ASCII characters"
        ))
    };
    if values.next().is_some() {
        return Err(bad());
    }
    let b = v.as_bytes();
    if b.is_empty() || b.len() > MAX_IDEMPOTENCY_KEY || !b.iter().all(u8::is_ascii_graphic) {
        return Err(bad());
    }
    Ok(Some(String::from_utf8_lossy(b).into_owned()))
}

/// What to do with a pushed request that may carry an idempotency key.
enum Intake {
    /// The key was used before for this request: its stored answer.
    Replay(Response),
    /// Process it (with the key, when it has one).
    Process(Option<IdempotencyKey>),
}

/// Look up the request's idempotency key: a known key answers with its stored answer (or 422
/// when it was used for a different request); a new one is passed on to be stored with the
/// request's commit.
async fn intake(
    state: &AppState,
    caller: &Caller,
    route: &str,
    headers: &HeaderMap,
    body: &[u8],
    respond: fn(&BatchReport) -> (u16, Value),
) -> Result<Intake, ApiError> {
    let Some(key) = idempotency_key(headers)? else {
        return Ok(Intake::Process(None));
    };
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(route.as_bytes());
    h.update([0]);
    h.update(body);
    let request_hash = hex::encode(h.finalize());
    let caller_name = caller.name.clone();
    if let Some(rec) = state
        .store
        .get_idempotency(&caller_name, &key, Timestamp::now())
        .await?
    {
        return replay(&rec, &request_hash).map(Intake::Replay);
    }
    Ok(Intake::Process(Some(IdempotencyKey {
        caller: caller_name,
        key,
        request_hash,
        ttl_ms: i64::try_from(state.config.idempotency_ttl.as_millis()).unwrap_or(i64::MAX),
        respond,
    })))
}

/// The stored answer of an idempotency key, if `request_hash` is the request it was used for.
fn replay(rec: &IdempotencyRecord, request_hash: &str) -> Result<Response, ApiError> {
    if rec.request_hash != request_hash {
        return Err(ApiError::unprocessable(format!(
            "Idempotency-Key {:?} was used for a different request",
            rec.key
        )));
    }
    let status = StatusCode::from_u16(rec.status).map_err(ApiError::internal)?;
    let mut resp = (status, Json(rec.response.clone())).into_response();
    resp.headers_mut()
        .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    Ok(resp)
}

/// The answer to a pushed request: committed now, or replayed.
fn pushed(
    outcome: PushOutcome,
    request_hash: Option<&str>,
    respond: fn(&BatchReport) -> (u16, Value),
) -> Result<(Response, Option<BatchReport>), ApiError> {
    match outcome {
        PushOutcome::Committed(report) => {
            let (status, body) = respond(&report);
            let status = StatusCode::from_u16(status).map_err(ApiError::internal)?;
            Ok(((status, Json(body)).into_response(), Some(report)))
        }
        // Another request with the same key committed first (a racing retry, another node).
        PushOutcome::Replayed(rec) => Ok((replay(&rec, request_hash.unwrap_or_default())?, None)),
    }
}

fn report_body(report: &BatchReport, accepted: u64) -> Value {
    let mut out = serde_json::to_value(report).unwrap_or_else(|_| json!({}));
    if let Value::Object(m) = &mut out {
        m.insert("accepted".into(), json!(accepted));
    }
    out
}

fn events_answer(report: &BatchReport) -> (u16, Value) {
    (202, report_body(report, report.events))
}

fn alerts_answer(report: &BatchReport) -> (u16, Value) {
    (202, report_body(report, report.alerts))
}

/// `POST /api/v1/events`: NDJSON of Rampart event records, stored in one transaction
/// (all or nothing). With an `Idempotency-Key`, a retry is answered as the first request was
/// and stores nothing.
pub async fn push_events(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_bytes(body)?;
    let key = match intake(&state, &caller, "events", &headers, &body, events_answer).await? {
        Intake::Replay(resp) => return Ok(resp),
        Intake::Process(key) => key,
    };
    let text = std::str::from_utf8(&body).map_err(|e| {
        ApiError::bad_request(format!("body is not utf-8 (byte {})", e.valid_up_to()))
    })?;
    let events = match decode_ndjson(text, &state.decode, state.config.max_events_per_request) {
        Ok(evs) => evs,
        Err(e) => {
            state.metrics.add(Counter::IngestRejectedLines, 1);
            return Err(e);
        }
    };
    let hash = key.as_ref().map(|k| k.request_hash.clone());
    let outcome = state.pipeline.push_events_once(events, key).await?;
    let (resp, report) = pushed(outcome, hash.as_deref(), events_answer)?;
    if let Some(r) = report {
        state.metrics.add(Counter::IngestEvents, r.events);
    }
    Ok(resp)
}

/// Turn one pushed JSON value (Rampart alert or OCSF finding) into a draft.
pub fn alert_from_json(v: Value) -> Result<(AlertDraft, bool), String> {
    if v.get("class_uid").is_some() {
        return crate::ocsf::finding_to_alert(&v)
            .map(|a| (a, true))
            .map_err(|e| e.to_string());
    }
    let a: AlertDraft = serde_json::from_value(v).map_err(|e| e.to_string())?;
    a.check_times().map_err(|e| e.to_string())?;
    if a.title.trim().is_empty() {
        return Err("empty title".into());
    }
    if a.detector.trim().is_empty() {
        return Err("empty detector".into());
    }
    if a.first_seen > a.last_seen {
        return Err("first_seen is after last_seen".into());
    }
    if a.evidence.len() > MAX_EVIDENCE {
        return Err(format!("more than {MAX_EVIDENCE} evidence events"));
    }
    Ok((a, false))
}

/// `POST /api/v1/alerts`: one alert or an array, Rampart form or OCSF Detection Finding,
/// stored in one transaction; `Idempotency-Key` as for events.
pub async fn push_alerts(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_bytes(body)?;
    let key = match intake(&state, &caller, "alerts", &headers, &body, alerts_answer).await? {
        Intake::Replay(resp) => return Ok(resp),
        Intake::Process(key) => key,
    };
    let v: Value = serde_json::from_slice(&body).map_err(json_error)?;
    let items = match v {
        Value::Array(a) => a,
        o @ Value::Object(_) => vec![o],
        _ => {
            return Err(ApiError::unprocessable(
                "expected an alert object or an array of them",
            ))
        }
    };
    if items.len() > state.config.max_events_per_request {
        return Err(ApiError::new(
            ErrorKind::PayloadTooLarge,
            "too many alerts in one request",
        ));
    }
    let (mut drafts, mut ocsf) = (Vec::with_capacity(items.len()), 0u64);
    for (i, item) in items.into_iter().enumerate() {
        let (a, is_ocsf) = alert_from_json(item)
            .map_err(|e| ApiError::unprocessable(format!("alert {i}: {e}")))?;
        ocsf += u64::from(is_ocsf);
        drafts.push(a);
    }
    let accepted = drafts.len() as u64;
    if drafts.is_empty() {
        let (_, body) = alerts_answer(&BatchReport::default());
        return Ok((StatusCode::ACCEPTED, Json(body)).into_response());
    }
    let hash = key.as_ref().map(|k| k.request_hash.clone());
    let outcome = state.pipeline.push_alerts_once(drafts, key).await?;
    let (resp, report) = pushed(outcome, hash.as_deref(), alerts_answer)?;
    if report.is_some() {
        state.metrics.add(Counter::IngestAlertsOcsf, ocsf);
        state
            .metrics
            .add(Counter::IngestAlertsRampart, accepted - ocsf);
    }
    Ok(resp)
}

/// A detail read of a row that does not decode: a 500 that says which row, instead of a
/// bare internal error (lists skip such rows).
fn unreadable(what: &str, id: i64, e: StoreError) -> ApiError {
    match e {
        StoreError::Corrupt(detail) => {
            tracing::error!(row = what, id, error = %detail, "stored row cannot be read");
            ApiError::new(
                ErrorKind::Internal,
                format!("{what} {id} is stored in a form that cannot be read"),
            )
        }
        other => other.into(),
    }
}

// --- incidents -----------------------------------------------------------------------------

/// Map `/api/v1/incidents` query parameters to a filter.
pub fn incident_filter(params: &Params) -> Result<IncidentFilter, ApiError> {
    let mut f = IncidentFilter::default();
    for (k, v) in params {
        match k.as_str() {
            "status" => f.status = parse_list(k, v)?,
            "severity" => f.severity = parse_list(k, v)?,
            "classification" => f.classification = parse_list(k, v)?,
            "assigned_to" => f.assigned_to = Some(v.clone()),
            "tag" => f.tag = Some(v.clone()),
            "entity" => f.entity = Some(v.clone()),
            "q" => f.text = Some(v.clone()),
            "created_after" => f.created_after = Some(parse_time(k, v)?),
            "created_before" => f.created_before = Some(parse_time(k, v)?),
            "updated_after" => f.updated_after = Some(parse_time(k, v)?),
            "updated_before" => f.updated_before = Some(parse_time(k, v)?),
            "sort" => {
                f.sort = match v.as_str() {
                    "priority" => IncidentSort::Priority,
                    "severity" => IncidentSort::Severity,
                    "created" => IncidentSort::Created,
                    "updated" => IncidentSort::Updated,
                    _ => return Err(ApiError::bad_param(k, format!("{v:?}"))),
                }
            }
            "order" => {
                f.ascending = match v.as_str() {
                    "asc" => true,
                    "desc" => false,
                    _ => return Err(ApiError::bad_param(k, format!("{v:?}"))),
                }
            }
            "limit" => f.limit = Some(parse_limit(v, 1000)?),
            "offset" => f.offset = Some(parse_one(k, v)?),
            _ => return Err(unknown_param(k)),
        }
    }
    Ok(f)
}

/// Answer a list route from the [`crate::cache::ListCache`] when the store has not changed
/// since the cached answer was read, else read it with `read` (and keep it).
async fn cached_list<T, F, Fut>(
    state: &AppState,
    uri: &axum::http::Uri,
    read: F,
) -> Result<Response, ApiError>
where
    T: serde::Serialize,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<PageOut<T>, ApiError>>,
{
    let key = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let generation = state.list_cache.generation(
        state
            .pipeline
            .stats()
            .generation
            .load(std::sync::atomic::Ordering::SeqCst),
    );
    let slot = state.list_cache.slot(&key, generation);
    let body = slot
        .get_or_try_init(|| async {
            let page = read().await?;
            serde_json::to_vec(&page)
                .map(Bytes::from)
                .map_err(ApiError::internal)
        })
        .await?
        .clone();
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

/// `GET /api/v1/incidents`.
pub async fn list_incidents(
    State(state): State<AppState>,
    uri: axum::http::Uri,
    q: Result<Query<Params>, QueryRejection>,
) -> Result<Response, ApiError> {
    cached_list(&state, &uri, || async {
        let mut f = incident_filter(&params(q)?)?;
        let limit = *f.limit.get_or_insert(50);
        let offset = *f.offset.get_or_insert(0);
        Ok(PageOut::new(
            state.store.list_incidents(&f).await?,
            limit,
            offset,
        ))
    })
    .await
}

/// `GET /api/v1/incidents/{id}`.
pub async fn get_incident(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(id)?;
    let d = state
        .store
        .get_incident(id)
        .await
        .map_err(|e| unreadable("incident", id, e))?
        .ok_or_else(|| ApiError::not_found("incident", id))?;
    let containment = crate::recovery::containment(&state, &d).await?;
    let mut v = serde_json::to_value(d).map_err(ApiError::internal)?;
    if let Value::Object(m) = &mut v {
        let actions = crate::actions::of_incident(&state, id).await?;
        m.insert("actions".into(), Value::Array(actions));
        m.insert(
            "containment".into(),
            serde_json::to_value(containment).map_err(ApiError::internal)?,
        );
    }
    Ok(Json(v))
}

/// Check a patch's values before the store sees it.
pub fn validate_patch(p: &IncidentPatch) -> Result<(), ApiError> {
    if p.is_empty() {
        return Err(ApiError::unprocessable("the patch changes nothing"));
    }
    if p.status == Some(IncidentStatus::Redirected) {
        return Err(ApiError::unprocessable(
            "status Redirected is set only by merging",
        ));
    }
    if let Some(t) = &p.title {
        if t.trim().is_empty() || t.len() > 500 {
            return Err(ApiError::unprocessable("title must be 1..=500 bytes"));
        }
    }
    if let Some(Some(a)) = &p.assigned_to {
        if a.trim().is_empty() || a.len() > 256 {
            return Err(ApiError::unprocessable(
                "assigned_to must be 1..=256 bytes or null",
            ));
        }
    }
    if let Some(tags) = &p.tags {
        if tags.len() > 64 || tags.iter().any(|t| t.trim().is_empty() || t.len() > 100) {
            return Err(ApiError::unprocessable("at most 64 tags of 1..=100 bytes"));
        }
    }
    Ok(())
}

/// Apply a validated patch and tell the pipeline.
pub async fn apply_patch(
    state: &AppState,
    id: i64,
    patch: &IncidentPatch,
    actor: &str,
) -> Result<Incident, ApiError> {
    validate_patch(patch)?;
    let before = state.store.get_incident(id).await?;
    let inc = state.store.update_incident(id, patch, actor).await?;
    state.list_cache.invalidate();
    state.pipeline.incident_changed(inc.clone()).await;
    if let Some(before) = before {
        // Automation rules on `incident_updated` (changed from / to, updated by).
        state
            .pipeline
            .incident_updated(id, &before.incident, &inc, actor)
            .await;
    }
    Ok(inc)
}

/// `PATCH /api/v1/incidents/{id}`.
pub async fn patch_incident(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Incident>, ApiError> {
    let id = path_id(id)?;
    let patch: IncidentPatch = json_body(&body_bytes(body)?)?;
    Ok(Json(
        apply_patch(&state, id, &patch, &caller.actor()).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewComment {
    text: String,
}

/// Check a comment's text.
pub fn validate_comment(text: &str, max_chars: usize) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::unprocessable("comment text is empty"));
    }
    if text.chars().count() > max_chars {
        return Err(ApiError::unprocessable(format!(
            "comment longer than {max_chars} characters"
        )));
    }
    Ok(())
}

/// `POST /api/v1/incidents/{id}/comments`.
pub async fn add_comment(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    let c: NewComment = json_body(&body_bytes(body)?)?;
    let comment = comment(&state, id, &caller.actor(), &c.text).await?;
    Ok((StatusCode::CREATED, Json(comment)).into_response())
}

/// Check and store a comment by `actor` (audited by the store), for the API and the console.
pub async fn comment(
    state: &AppState,
    id: i64,
    actor: &str,
    text: &str,
) -> Result<rampart_model::Comment, ApiError> {
    validate_comment(text, state.config.max_comment_chars)?;
    let comment = state.store.add_comment(id, actor, text).await?;
    state.list_cache.invalidate();
    Ok(comment)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeRequest {
    into: i64,
}

/// The target's state after a merge: union of entities, highest severity and priority,
/// activity span over both, summed alert count.
pub fn merged_state(from: &Incident, into: &Incident) -> IncidentState {
    let mut entities: Vec<Entity> = into.entities.clone();
    for e in &from.entities {
        if !entities.contains(e) {
            entities.push(e.clone());
        }
    }
    let hi = if from.priority > into.priority {
        from
    } else {
        into
    };
    IncidentState {
        title: into.title.clone(),
        severity: from.severity.max(into.severity),
        entities,
        first_activity: from.first_activity.min(into.first_activity),
        last_activity: from.last_activity.max(into.last_activity),
        alert_count: from.alert_count.saturating_add(into.alert_count),
        priority: hi.priority,
        priority_reasons: hi.priority_reasons.clone(),
    }
}

/// `POST /api/v1/incidents/{id}/merge`.
pub async fn merge_incident(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Incident>, ApiError> {
    let id = path_id(id)?;
    let req: MergeRequest = json_body(&body_bytes(body)?)?;
    Ok(Json(merge(&state, id, req.into, &caller.actor()).await?))
}

/// Merge incident `id` into `into` by `actor` (`rampart_correlate::check_merge` decides
/// whether it may, 409 when not), for the API and the console: the merged incident.
pub async fn merge(
    state: &AppState,
    id: i64,
    into: i64,
    actor: &str,
) -> Result<Incident, ApiError> {
    let load = |id: i64| {
        let store = state.store.clone();
        async move {
            store
                .get_incident(id)
                .await?
                .map(|d| d.incident)
                .ok_or_else(|| ApiError::not_found("incident", id))
        }
    };
    let from = load(id).await?;
    let into = load(into).await?;
    rampart_correlate::check_merge(&from, &into)
        .map_err(|r| ApiError::new(ErrorKind::Conflict, r.to_string()))?;
    let st = merged_state(&from, &into);
    let merged = state
        .store
        .merge_incidents(from.id, into.id, &st, actor)
        .await?;
    state.list_cache.invalidate();
    if let Ok(src) = load(from.id).await {
        state.pipeline.incident_changed(src).await;
    }
    state.pipeline.incident_changed(merged.clone()).await;
    Ok(merged)
}

// --- alerts, audit, inventory --------------------------------------------------------------

/// Map `/api/v1/alerts` query parameters to a filter.
pub fn alert_filter(params: &Params) -> Result<AlertFilter, ApiError> {
    let mut f = AlertFilter::default();
    for (k, v) in params {
        match k.as_str() {
            "incident_id" => f.incident_id = Some(parse_one(k, v)?),
            "detector" => f.detector = Some(v.clone()),
            "severity" => f.severity = parse_list(k, v)?,
            "status" => f.status = parse_list(k, v)?,
            "entity" => f.entity = Some(v.clone()),
            "limit" => f.limit = Some(parse_limit(v, 1000)?),
            "offset" => f.offset = Some(parse_one(k, v)?),
            _ => return Err(unknown_param(k)),
        }
    }
    Ok(f)
}

/// `GET /api/v1/alerts`.
pub async fn list_alerts(
    State(state): State<AppState>,
    uri: axum::http::Uri,
    q: Result<Query<Params>, QueryRejection>,
) -> Result<Response, ApiError> {
    cached_list(&state, &uri, || async {
        let mut f = alert_filter(&params(q)?)?;
        let limit = *f.limit.get_or_insert(50);
        let offset = *f.offset.get_or_insert(0);
        Ok(PageOut::new(
            state.store.list_alerts(&f).await?,
            limit,
            offset,
        ))
    })
    .await
}

/// `GET /api/v1/alerts/{id}`.
pub async fn get_alert(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(id)?;
    let a = state
        .store
        .get_alert(id)
        .await
        .map_err(|e| unreadable("alert", id, e))?
        .ok_or_else(|| ApiError::not_found("alert", id))?;
    Ok(Json(serde_json::to_value(a).map_err(ApiError::internal)?))
}

/// `GET /api/v1/audit`.
pub async fn list_audit(
    State(state): State<AppState>,
    q: Result<Query<Params>, QueryRejection>,
) -> Result<Json<PageOut<rampart_model::AuditEntry>>, ApiError> {
    let mut f = AuditFilter::default();
    for (k, v) in params(q)? {
        match k.as_str() {
            "object_type" => f.object_type = Some(v),
            "object_id" => f.object_id = Some(v),
            "actor" => f.actor = Some(v),
            "limit" => f.limit = Some(parse_limit(&v, 1000)?),
            "offset" => f.offset = Some(parse_one(&k, &v)?),
            _ => return Err(unknown_param(&k)),
        }
    }
    let limit = *f.limit.get_or_insert(100);
    let offset = *f.offset.get_or_insert(0);
    Ok(Json(PageOut::new(
        state.store.list_audit(&f).await?,
        limit,
        offset,
    )))
}

/// `GET /api/v1/inventory/endpoints`.
pub async fn list_endpoints(
    State(state): State<AppState>,
    q: Result<Query<Params>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    if let Some((k, _)) = params(q)?.first() {
        return Err(unknown_param(k));
    }
    let eps = state.store.list_endpoints().await?;
    let newest = eps.iter().map(|e| e.last_seen).max().unwrap_or_default();
    let items: Vec<Value> = eps
        .iter()
        .map(|e| {
            let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("key".into(), json!(e.key()));
                m.insert("auth".into(), json!(e.auth()));
                m.insert("inactive".into(), json!(e.is_inactive(newest)));
            }
            v
        })
        .collect();
    Ok(Json(json!({"items": items, "total": items.len()})))
}

// --- tokens --------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    /// A role name, parsed like the CLI's (`analyst` is `tier2`).
    role: String,
}

/// `GET /api/v1/tokens`.
pub async fn list_tokens(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let items = state.store.list_tokens().await?;
    Ok(Json(json!({"items": items})))
}

/// `POST /api/v1/tokens`: the secret is in the answer, and nowhere else, ever.
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: NewToken = json_body(&body_bytes(body)?)?;
    let role: Role = req
        .role
        .parse()
        .map_err(|e: rampart_model::ModelError| ApiError::unprocessable(e.to_string()))?;
    let (tok, secret) = issue_token(&state, &caller, &req.name, role).await?;
    let mut v = serde_json::to_value(tok).map_err(ApiError::internal)?;
    if let Value::Object(m) = &mut v {
        m.insert("token".into(), json!(secret));
    }
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// A new token `name` of `role` made by `caller` (API and console): the name checked, a
/// random secret whose SHA-256 alone is stored (audited) and cached; returns the token and
/// the secret, for the caller to show once.
pub async fn issue_token(
    state: &AppState,
    caller: &Caller,
    name: &str,
    role: Role,
) -> Result<(rampart_model::ApiToken, String), ApiError> {
    rampart_model::validate_token_name(name).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let secret = generate_token();
    let tok = state
        .tokens
        .create(
            &*state.store,
            name,
            role,
            &hash_token(&secret),
            &caller.actor(),
        )
        .await?;
    Ok((tok, secret))
}

/// `DELETE /api/v1/tokens/{name}`.
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tok = state
        .tokens
        .revoke(&*state.store, &name, &caller.actor())
        .await?;
    Ok(Json(serde_json::to_value(tok).map_err(ApiError::internal)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::{Classification, Severity};

    fn check_filter(query: &str, expected: &str) {
        let params: Params = query
            .split('&')
            .filter(|s| !s.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k.to_string(), v.to_string())
            })
            .collect();
        let got = match incident_filter(&params) {
            Ok(f) => format!(
                "status={:?} severity={:?} assigned={:?} tag={:?} after={:?} sort={:?} asc={} limit={:?} offset={:?}",
                f.status, f.severity, f.assigned_to, f.tag,
                f.created_after.map(|t| t.to_rfc3339()), f.sort, f.ascending, f.limit, f.offset
            ),
            Err(e) => format!("{:?}: {}", e.kind, e.message),
        };
        assert_eq!(got, expected, "{query}");
    }

    #[test]
    fn incident_filters() {
        check_filter("", "status=[] severity=[] assigned=None tag=None after=None sort=Priority asc=false limit=None offset=None");
        check_filter(
            "status=Active,InProgress&severity=high&assigned_to=bob&tag=pci&created_after=2024-01-01T00:00:00Z&sort=created&order=asc&limit=5&offset=10",
            "status=[Active, InProgress] severity=[High] assigned=Some(\"bob\") tag=Some(\"pci\") after=Some(\"2024-01-01T00:00:00.000Z\") sort=Created asc=true limit=Some(5) offset=Some(10)",
        );
        check_filter(
            "status=Sleeping",
            "BadRequest: invalid parameter status: \"Sleeping\"",
        );
        check_filter(
            "limit=1001",
            "BadRequest: invalid parameter limit: \"1001\" (1..=1000)",
        );
        check_filter(
            "limit=0",
            "BadRequest: invalid parameter limit: \"0\" (1..=1000)",
        );
        check_filter(
            "sort=colour",
            "BadRequest: invalid parameter sort: \"colour\"",
        );
        check_filter(
            "order=sideways",
            "BadRequest: invalid parameter order: \"sideways\"",
        );
        check_filter(
            "created_before=yesterday",
            "BadRequest: invalid parameter created_before: \"yesterday\" is not RFC 3339",
        );
        check_filter("offset=-1", "BadRequest: invalid parameter offset: \"-1\"");
        check_filter(
            "colour=red",
            "BadRequest: invalid parameter colour: unknown parameter",
        );
    }

    fn check_ndjson(body: &str, expected: &str) {
        let got = match decode_ndjson(body, &DecodeConfig::default(), 3) {
            Ok(evs) => evs
                .iter()
                .map(|e| format!("{} {} {}", e.method, e.path, e.status))
                .collect::<Vec<_>>()
                .join("; "),
            Err(e) => format!("{:?}: {}", e.kind, e.message),
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn ndjson_lines() {
        let ok = r#"{"ts":"2024-01-01T00:00:00Z","client_ip":"203.0.113.9","method":"GET","path":"/a","status":200}"#;
        check_ndjson(&format!("{ok}\n\r\n{ok}\r\n"), "GET /a 200; GET /a 200");
        check_ndjson(
            &format!("{ok}\n{{\"ts\":1}}\n"),
            "BadRequest: line 2: invalid json in rampart record: missing field `method` at line 1 column 8",
        );
        check_ndjson(
            &format!("{ok}\nnot json"),
            "BadRequest: line 2: invalid json in rampart record: expected ident at line 1 column 2",
        );
        check_ndjson(
            &format!("{ok}\n{ok}\n{ok}\n{ok}"),
            "PayloadTooLarge: more than 3 events in one request",
        );
        let range = "is outside the accepted range 1990-01-01T00:00:00Z..2200-01-01T00:00:00Z";
        check_ndjson(
            &format!("{ok}\n{}", ok.replace("2024-01-01", "2200-01-01")),
            &format!("BadRequest: line 2: ts 2200-01-01T00:00:00.000Z {range}"),
        );
        check_ndjson(
            &ok.replace("\"2024-01-01T00:00:00Z\"", "631151999999"),
            &format!("BadRequest: line 1: ts 1989-12-31T23:59:59.999Z {range}"),
        );
    }

    #[test]
    fn idempotency_keys() {
        fn check(values: &[&[u8]], expected: &str) {
            let mut h = HeaderMap::new();
            for v in values {
                h.append(IDEMPOTENCY_KEY, HeaderValue::from_bytes(v).unwrap());
            }
            let got = match idempotency_key(&h) {
                Ok(k) => format!("{k:?}"),
                Err(e) => format!("{:?}: {}", e.kind, e.message),
            };
            assert_eq!(got, expected, "{values:?}");
        }
        let bad = "BadRequest: Idempotency-Key must be one value of 1-255 visible ASCII characters";
        check(&[], "None");
        check(&[b"req-1"], "Some(\"req-1\")");
        check(&[b"a:b/c=d+e_f.g~!"], "Some(\"a:b/c=d+e_f.g~!\")");
        check(
            &["k".repeat(255).as_bytes()],
            &format!("Some({:?})", "k".repeat(255)),
        );
        check(&["k".repeat(256).as_bytes()], bad);
        check(&[b""], bad);
        check(&[b"two words"], bad);
        check(&[b"tab\t"], bad);
        check(&[b"caf\xc3\xa9"], bad);
        check(&[b"a", b"b"], bad);
    }

    fn inc(id: i64, status: IncidentStatus, class: Classification) -> Incident {
        Incident {
            id,
            title: format!("i{id}"),
            severity: Severity::Low,
            status,
            assigned_to: None,
            classification: class,
            determination: rampart_model::Determination::NotAvailable,
            tags: vec![],
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            first_activity: Timestamp(id * 10),
            last_activity: Timestamp(id * 100),
            priority: id as u32,
            priority_reasons: vec![],
            entities: vec![Entity::attacker_ip(format!("10.0.0.{id}"))],
            alert_count: 2,
            redirect_to: None,
        }
    }

    #[test]
    fn merged_state_unions() {
        let mut a = inc(1, IncidentStatus::Active, Classification::Unknown);
        a.severity = Severity::High;
        let b = inc(2, IncidentStatus::Active, Classification::Unknown);
        let s = merged_state(&a, &b);
        assert_eq!(s.title, "i2");
        assert_eq!(s.severity, Severity::High);
        assert_eq!(s.entities.len(), 2);
        assert_eq!(
            (s.first_activity, s.last_activity),
            (Timestamp(10), Timestamp(200))
        );
        assert_eq!(s.alert_count, 4);
        assert_eq!(s.priority, 2);
    }
}
