//! The storage contract. Backends (`rampart-store-sqlite`, `rampart-store-postgres`)
//! implement [`Store`]; [`conformance`] holds the one test suite every backend must pass.
//!
//! Invariants every backend keeps:
//! - **Every method that changes incidents, alerts, tokens or actions appends its audit
//!   entries in the same transaction as the change.**
//! - **`insert_events` stores the events and the source checkpoint atomically**, so a restart
//!   neither loses nor repeats lines.
//! - **`apply` is all-or-nothing.**
//! - **`commit_batch` commits a whole batch (events, checkpoint, change set, endpoints,
//!   idempotency record) in one transaction, or nothing of it**: what the pipeline acknowledges
//!   is exactly what one commit stored.
//! - Reads are tolerant: a row that does not decode is skipped by every list (logged with its
//!   id, counted by [`Store::unreadable_rows`]); only reading that row alone fails
//!   ([`StoreError::Corrupt`]).
//! - Token secrets never reach the store: only their hash.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use rampart_model::{
    Action, ActionChange, ActionFilter, ActionKind, ActionStatus, ActorAccess, Alert, AlertStatus,
    ApiEvent, ApiToken, AuditEntry, AutomationObject, Comment, Delivery, DeliveryFilter,
    DeliveryStatus, EndpointInfo, Entity, EntityActivity, Incident, IncidentDetail, IncidentFilter,
    IncidentPatch, NewAction, NewAudit, NewDelivery, NewTask, Page, Role, SavedView, Session,
    Severity, Task, Timestamp, User,
};
use rampart_model::{NewRun, PlaybookRun, RunStatus, RunStep};

pub mod blob;
pub mod changes;
pub mod codec;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod service;
pub use changes::{
    carries_merge_audit, finalize_audit, AppliedChanges, Change, ChangeSet, HumanFields,
    IncidentRef, IncidentState,
};

/// Storage errors, by kind.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist.
    #[error("{what} {id} not found")]
    NotFound {
        /// Kind of object.
        what: &'static str,
        /// Its id or name.
        id: String,
    },
    /// A uniqueness or state rule was broken (duplicate token name, merging a resolved
    /// incident, ...).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request was invalid for the store (bad filter value).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The database failed. `context` says what was being done; the driver's error is the
    /// `source` (logged, never sent to a client: it can name tables, columns and values).
    #[error("database error: {context}")]
    Database {
        /// What failed (`migrating`, `creating /var/lib/rampart`, `statement failed`).
        context: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Stored data could not be decoded.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// A bounded read ran out of time (a hunting query); the message says which bound.
    #[error("timed out: {0}")]
    Timeout(String),
}

impl StoreError {
    /// A [`StoreError::Database`] from what was being done and the error it failed with.
    pub fn database(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> StoreError {
        StoreError::Database {
            context: context.into(),
            source: source.into(),
        }
    }
}

/// Result alias.
pub type StoreResult<T> = Result<T, StoreError>;

/// Where a followed file had got to: committed with the events read up to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Source key (canonical path of the followed file).
    pub source: String,
    /// Identity of the file (inode / device), to notice rotation across restarts.
    pub file_id: String,
    /// Byte offset of the next unread line.
    pub offset: u64,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Store-assigned id.
    pub id: i64,
    /// The event.
    #[serde(flatten)]
    pub event: ApiEvent<'static>,
}

/// Filters for listing events (hunting).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct EventQuery {
    /// From this event time (inclusive).
    #[serde(default)]
    pub since: Option<Timestamp>,
    /// Until this event time (exclusive).
    #[serde(default)]
    pub until: Option<Timestamp>,
    /// Exactly this client IP.
    #[serde(default)]
    pub client_ip: Option<String>,
    /// Path starts with this.
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// Exactly this status.
    #[serde(default)]
    pub status: Option<u16>,
    /// Page size (default 100, at most 10000).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Rows to skip.
    #[serde(default)]
    pub offset: Option<u32>,
    /// Newest first (by event time, then id) instead of oldest first.
    #[serde(default)]
    pub newest_first: bool,
}

/// Filters for listing alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AlertFilter {
    /// Only alerts of this incident.
    #[serde(default)]
    pub incident_id: Option<i64>,
    /// Only this detector.
    #[serde(default)]
    pub detector: Option<String>,
    /// Any of these severities.
    #[serde(default)]
    pub severity: Vec<Severity>,
    /// Any of these statuses.
    #[serde(default)]
    pub status: Vec<AlertStatus>,
    /// Has an entity with exactly this value.
    #[serde(default)]
    pub entity: Option<String>,
    /// Page size (default 50, at most 1000), newest first.
    #[serde(default)]
    pub limit: Option<u32>,
    /// Rows to skip.
    #[serde(default)]
    pub offset: Option<u32>,
}

/// Filters for listing the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AuditFilter {
    /// Only entries about this object type.
    #[serde(default)]
    pub object_type: Option<String>,
    /// Only entries about this object id.
    #[serde(default)]
    pub object_id: Option<String>,
    /// Only this actor.
    #[serde(default)]
    pub actor: Option<String>,
    /// Page size (default 100, at most 1000), newest first.
    #[serde(default)]
    pub limit: Option<u32>,
    /// Rows to skip.
    #[serde(default)]
    pub offset: Option<u32>,
}

/// The trails of a set of incidents ([`Store::incident_trails`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentTrails {
    /// `(incident id, detector, stored at)` of every alert of theirs.
    pub alerts: Vec<(i64, String, Timestamp)>,
    /// Every audit entry about them (object type `incident`), oldest first.
    pub audit: Vec<AuditEntry>,
    /// Every containment action of theirs.
    pub actions: Vec<rampart_model::Action>,
}

/// What the correlator needs to know of an open (or recently closed) incident to resume after
/// a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentSummary {
    /// The incident.
    pub incident: Incident,
    /// Attack stages seen in its alerts.
    pub stages: Vec<rampart_model::AttackStage>,
}

/// Counts for a status line and SOC metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct StoreStats {
    /// Stored events.
    pub events: u64,
    /// Stored alerts.
    pub alerts: u64,
    /// Stored incidents (any status).
    pub incidents: u64,
    /// Known endpoints.
    pub endpoints: u64,
    /// Stored event blobs (the compressed raw lines and extra fields of runs of events).
    pub event_blobs: u64,
}

/// A batch to commit in one transaction (see [`Store::commit_batch`]). Every part may be empty.
#[derive(Debug, Clone, Copy, Default)]
pub struct Batch<'a> {
    /// Events to store.
    pub events: &'a [ApiEvent<'a>],
    /// The checkpoint of the source the events came from.
    pub checkpoint: Option<&'a Checkpoint>,
    /// The correlator's change set for the alerts of these events.
    pub changes: Option<&'a ChangeSet>,
    /// Endpoints to insert or replace.
    pub endpoints: &'a [EndpointInfo],
    /// The idempotency record of the request the batch answers.
    pub idempotency: Option<&'a IdempotencyRecord>,
}

/// A pushed request's idempotency key and the answer it got, kept until `expires_at` so a
/// retry with the same key is answered the same way and stores nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// Who sent it (token name): keys are per caller.
    pub caller: String,
    /// The client's `Idempotency-Key`.
    pub key: String,
    /// Hash of the request (method, path and body), to refuse a key reused for another one.
    pub request_hash: String,
    /// The answer's HTTP status.
    pub status: u16,
    /// The answer's JSON body.
    pub response: serde_json::Value,
    /// When it was stored (wall clock).
    pub created_at: Timestamp,
    /// When the key may be used again for a new request (wall clock).
    pub expires_at: Timestamp,
}

/// What [`Store::commit_batch`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchOutcome {
    /// The batch was committed.
    Committed(AppliedChanges),
    /// Nothing was stored: the caller's key already belongs to this (stored) record.
    Duplicate(IdempotencyRecord),
}

/// The storage contract. All methods are transactional.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Backend name (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;

    // --- events and inventory -------------------------------------------------------------

    /// Store a batch of events, and with them (same transaction) the checkpoint of the source
    /// they came from, when there is one.
    async fn insert_events(
        &self,
        events: &[ApiEvent<'_>],
        checkpoint: Option<&Checkpoint>,
    ) -> StoreResult<()>;
    /// List events, oldest first.
    async fn list_events(&self, q: &EventQuery) -> StoreResult<Vec<StoredEvent>>;
    /// The saved checkpoint of a source.
    async fn get_checkpoint(&self, source: &str) -> StoreResult<Option<Checkpoint>>;
    /// Insert or replace endpoints, keyed by (host, method, path_template).
    async fn upsert_endpoints(&self, endpoints: &[EndpointInfo]) -> StoreResult<()>;
    /// Every known endpoint, ordered by host, path template, method.
    async fn list_endpoints(&self) -> StoreResult<Vec<EndpointInfo>>;
    /// Counts.
    async fn stats(&self) -> StoreResult<StoreStats>;

    // --- correlation ----------------------------------------------------------------------

    /// Apply a change set from the correlator, all or nothing.
    async fn apply(&self, changes: &ChangeSet) -> StoreResult<AppliedChanges>;
    /// Incidents last active at or after `since` (event time), with any status except
    /// `Redirected`: the correlator's state after a restart.
    async fn incident_summaries(&self, since: Timestamp) -> StoreResult<Vec<IncidentSummary>>;

    // --- incidents, alerts, comments ------------------------------------------------------

    /// Resolve alert `id` as benign with `reason`, audited (`alert.resolve`) as `actor` in
    /// the same transaction; an alert already resolved changes and audits nothing. An alert
    /// that does not exist is `NotFound`.
    async fn resolve_alert(
        &self,
        id: i64,
        reason: &str,
        actor: &str,
        at: Timestamp,
    ) -> StoreResult<Alert>;

    /// List incidents.
    async fn list_incidents(&self, filter: &IncidentFilter) -> StoreResult<Page<Incident>>;
    /// One incident with alerts and comments.
    async fn get_incident(&self, id: i64) -> StoreResult<Option<IncidentDetail>>;
    /// Change an incident, auditing each changed field (before/after) as `actor`.
    /// Setting status `Redirected` by patch is refused (`Invalid`).
    async fn update_incident(
        &self,
        id: i64,
        patch: &IncidentPatch,
        actor: &str,
    ) -> StoreResult<Incident>;
    /// Add a comment, audited.
    async fn add_comment(&self, incident_id: i64, author: &str, text: &str)
        -> StoreResult<Comment>;
    /// Merge `from` into `into`: alerts, entities and comments move, `from` becomes
    /// `Redirected` with `redirect_to = into`; audited. Callers check the merge rules first
    /// (`rampart_correlate::check_merge`); the store refuses only merges of an incident into
    /// itself, of a `Redirected` incident, or into a non-existent one.
    async fn merge_incidents(
        &self,
        from: i64,
        into: i64,
        state: &IncidentState,
        actor: &str,
    ) -> StoreResult<Incident>;
    /// List alerts, newest first.
    async fn list_alerts(&self, filter: &AlertFilter) -> StoreResult<Page<Alert>>;
    /// One alert.
    async fn get_alert(&self, id: i64) -> StoreResult<Option<Alert>>;
    /// How many alerts each detector raised that were stored (wall clock) at or after
    /// `since`: one row per detector with at least one, most first (then by detector id).
    async fn alert_counts_by_detector(&self, since: Timestamp) -> StoreResult<Vec<(String, u64)>>;

    // --- audit ----------------------------------------------------------------------------

    /// Append audit entries on their own (for actions with no other state change in the store).
    async fn append_audit(&self, entries: &[NewAudit]) -> StoreResult<()>;
    /// List audit entries, newest first.
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Page<AuditEntry>>;
    /// What the SOC metrics read of these incidents, in a few bulk reads (not three per
    /// incident): every alert's detector and time, every audit entry about them (oldest
    /// first) and every containment action of theirs.
    async fn incident_trails(&self, incident_ids: &[i64]) -> StoreResult<IncidentTrails>;

    // --- tokens ---------------------------------------------------------------------------

    /// Create a token from its hash (the caller generated and hashed the secret); audited.
    /// A duplicate name is a `Conflict`.
    async fn create_token(
        &self,
        name: &str,
        role: Role,
        secret_hash: &str,
        actor: &str,
    ) -> StoreResult<ApiToken>;
    /// The non-revoked token with this hash; records the use time.
    async fn authenticate_token(&self, secret_hash: &str) -> StoreResult<Option<ApiToken>>;
    /// All tokens (revoked too).
    async fn list_tokens(&self) -> StoreResult<Vec<ApiToken>>;
    /// Revoke by name; audited.
    async fn revoke_token(&self, name: &str, actor: &str) -> StoreResult<ApiToken>;

    // --- server: token cache ----------------------------------------------------------------

    /// Every non-revoked token with its secret hash, for an in-memory authentication cache
    /// (the server rebuilds its cache from this at start and refreshes it periodically).
    async fn active_tokens(&self) -> StoreResult<Vec<(String, ApiToken)>>;
    /// Record last-use times of tokens by id, in one transaction. A use never moves a token's
    /// last use back (several nodes may report out of order); unknown ids are ignored. Not
    /// audited: a use is not a state change.
    async fn record_token_use(&self, uses: &[(i64, Timestamp)]) -> StoreResult<()>;

    // --- atomic batches and idempotency ---------------------------------------------------

    /// Commit a batch in one transaction, all or nothing: its idempotency record first, then
    /// events with their checkpoint, the change set (as [`Store::apply`]), the endpoints (as
    /// [`Store::upsert_endpoints`]). When the record's caller already holds an unexpired record
    /// for the same key (committed before, or by another node racing on the key: the
    /// database's unique key decides), nothing is stored and that record is returned as
    /// [`BatchOutcome::Duplicate`]. Expired records are deleted on the way (at the record's
    /// `created_at`).
    async fn commit_batch(&self, batch: &Batch<'_>) -> StoreResult<BatchOutcome>;
    /// The record of `caller`'s `key`, unless it expired at or before `now`.
    async fn get_idempotency(
        &self,
        caller: &str,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<Option<IdempotencyRecord>>;
    /// Rows that reads skipped because they did not decode, since the store was opened.
    fn unreadable_rows(&self) -> u64;

    // --- containment actions ----------------------------------------------------------------

    /// Store an action decided by `rampart-contain` (`action.create` audited in the same
    /// transaction as `actor`).
    async fn create_action(&self, new: &NewAction, actor: &str) -> StoreResult<Action>;
    /// List actions, newest first.
    async fn list_actions(&self, filter: &ActionFilter) -> StoreResult<Page<Action>>;
    /// One action.
    async fn get_action(&self, id: i64) -> StoreResult<Option<Action>>;
    /// Apply `change` to action `id` if its status is still `expected` (a compare-and-set:
    /// of two nodes approving one action, one gets `Conflict`), audited in the same
    /// transaction as `actor`. An unknown id is `NotFound`.
    async fn update_action_state(
        &self,
        id: i64,
        expected: ActionStatus,
        change: &ActionChange,
        actor: &str,
    ) -> StoreResult<Action>;
    /// Expire every active action whose expiry is at or before `now`, each audited
    /// (`action.expire`) in one transaction; returns them as they are now.
    async fn expire_actions(&self, now: Timestamp, actor: &str) -> StoreResult<Vec<Action>>;

    // --- enforcement ------------------------------------------------------------------------

    /// Every active action: what the enforcement decision path is built from.
    async fn active_actions(&self) -> StoreResult<Vec<Action>>;
    /// Actions of `kind` that entered a status (created, approved, ended) after `since`,
    /// oldest change first: the deltas a CrowdSec bouncer pulls.
    async fn actions_changed_since(
        &self,
        kind: ActionKind,
        since: Timestamp,
    ) -> StoreResult<Vec<Action>>;
    /// A cheap fingerprint of the actions' state: (number of active actions, latest change
    /// time in milliseconds). Nodes poll it to notice each other's changes.
    async fn actions_signature(&self) -> StoreResult<(i64, i64)>;
    /// Add the denials the decision path counted, `(action id, denials, last denial)`, in one
    /// transaction (several nodes add to the same counters). Unknown ids are skipped. Not
    /// audited: counters are observations, not state changes.
    async fn record_action_hits(&self, hits: &[(i64, u64, Timestamp)]) -> StoreResult<()>;
    /// When the bouncer key `token_id` last pulled decisions.
    async fn enforcer_last_pull(&self, token_id: i64) -> StoreResult<Option<Timestamp>>;
    /// Record that the bouncer key `token_id` pulled decisions at `at`.
    async fn set_enforcer_last_pull(&self, token_id: i64, at: Timestamp) -> StoreResult<()>;
    // --- recovery ---------------------------------------------------------------------------

    /// Store tasks on incident `incident_id` at `at`, each audited (`task.create`) as `actor`
    /// in the same transaction. A seeded task (any kind but `custom`) whose kind and entity
    /// the incident already has is skipped (so seeding twice, or on two nodes at once, stores
    /// it once); returns the tasks stored now. An unknown incident is `NotFound`.
    async fn create_tasks(
        &self,
        incident_id: i64,
        tasks: &[NewTask],
        actor: &str,
        at: Timestamp,
    ) -> StoreResult<Vec<Task>>;
    /// The tasks of an incident, oldest first.
    async fn list_tasks(&self, incident_id: i64) -> StoreResult<Vec<Task>>;
    /// Tick a task off (`done`) or on again, audited (`task.done` / `task.undone`) as
    /// `actor` in the same transaction; setting what it already is changes and audits
    /// nothing. A task that does not exist or belongs to another incident is `NotFound`.
    async fn set_task_done(
        &self,
        incident_id: i64,
        task_id: i64,
        done: bool,
        actor: &str,
        at: Timestamp,
    ) -> StoreResult<Task>;
    /// What one actor (an `ip`, `user` or `api_key` entity) got 2xx answers from in the
    /// stored events since `since`, summed by method and path, most requests first, at most
    /// `limit` rows. Another entity kind is `Invalid`.
    async fn actor_access(
        &self,
        entity: &Entity,
        since: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ActorAccess>>;
    /// When an actor (`ip`, `user` or `api_key`) was last seen in the stored events, and
    /// last seen not denied ([`rampart_model::task::DENIED_STATUSES`]). Another entity kind
    /// is `Invalid`.
    async fn entity_activity(&self, entity: &Entity) -> StoreResult<EntityActivity>;

    // --- console users, sessions and saved views --------------------------------------------

    /// Create a console user with an argon2id `password_hash` (never a password), audited
    /// (`user.create`) as `actor`. A taken name is `Conflict`.
    async fn create_user(
        &self,
        name: &str,
        role: Role,
        password_hash: &str,
        actor: &str,
    ) -> StoreResult<User>;
    /// A user and its password hash, by name (disabled users too: the caller refuses them).
    async fn user_by_name(&self, name: &str) -> StoreResult<Option<(User, String)>>;
    /// Every user, by name.
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    /// Disable (`true`) or enable a user, audited (`user.disable` / `user.enable`) as `actor`;
    /// disabling ends every session of the user in the same transaction. Setting what it
    /// already is changes and audits nothing. An unknown name is `NotFound`.
    async fn set_user_disabled(&self, name: &str, disabled: bool, actor: &str)
        -> StoreResult<User>;
    /// Replace a user's password hash, audited (`user.password`, never the hash) as `actor`,
    /// ending every session of the user in the same transaction. An unknown name is
    /// `NotFound`.
    async fn set_user_password(
        &self,
        name: &str,
        password_hash: &str,
        actor: &str,
    ) -> StoreResult<User>;
    /// Store a new session for a successful sign-in and note the sign-in on the user, audited
    /// (`user.login`, details: `source`) in the same transaction.
    async fn create_session(&self, session: &Session, source: &str) -> StoreResult<()>;
    /// A live session and its user by the hash of its secret: `None` when unknown, past
    /// `expires_at`, idle since before `idle_since`, or its user is disabled.
    async fn session(
        &self,
        id_hash: &str,
        now: Timestamp,
        idle_since: Timestamp,
    ) -> StoreResult<Option<(Session, User)>>;
    /// Note that a session was used at `at` (the idle timeout counts from the latest).
    async fn touch_session(&self, id_hash: &str, at: Timestamp) -> StoreResult<()>;
    /// End a session (sign-out), audited (`user.logout`) as `actor` when one was ended.
    async fn delete_session(&self, id_hash: &str, actor: &str) -> StoreResult<bool>;
    /// Record a failed sign-in for `account` from `source` at `at`; failures before
    /// `forget_before` are deleted on the way. Returns the failures since `since` for the
    /// account and for the source.
    async fn add_login_failure(
        &self,
        account: &str,
        source: &str,
        at: Timestamp,
        since: Timestamp,
    ) -> StoreResult<(u64, u64)>;
    /// Failures since `since` for `account` and for `source` (the lockout check).
    async fn login_failures(
        &self,
        account: &str,
        source: &str,
        since: Timestamp,
    ) -> StoreResult<(u64, u64)>;
    /// Forget an account's failures (after a successful sign-in).
    async fn clear_login_failures(&self, account: &str) -> StoreResult<()>;
    /// Save (or replace, by name) a queue view for `user_name`.
    /// Create or replace the automation object `kind`/`name` with `body`, audited as `actor`
    /// in the same transaction (`automation.create` / `automation.update`). The same body
    /// again changes nothing and audits nothing (`false`): applying a document twice is
    /// idempotent.
    async fn put_automation(
        &self,
        kind: &str,
        name: &str,
        body: &serde_json::Value,
        actor: &str,
    ) -> StoreResult<(AutomationObject, bool)>;
    /// The automation objects of `kind`, by name.
    async fn list_automation(&self, kind: &str) -> StoreResult<Vec<AutomationObject>>;
    /// One automation object.
    async fn get_automation(&self, kind: &str, name: &str)
        -> StoreResult<Option<AutomationObject>>;
    /// Delete an automation object, audited (`NotFound` when there is none).
    async fn delete_automation(&self, kind: &str, name: &str, actor: &str) -> StoreResult<()>;

    async fn save_view(&self, user_name: &str, name: &str, query: &str) -> StoreResult<SavedView>;
    /// A user's saved views, by name.
    async fn list_views(&self, user_name: &str) -> StoreResult<Vec<SavedView>>;
    /// Delete one of a user's saved views; another user's is `NotFound`.
    async fn delete_view(&self, user_name: &str, id: i64) -> StoreResult<()>;
    /// Note a walkthrough step of `user_name` (its first value is kept: noting it again
    /// changes nothing).
    async fn note_walkthrough(&self, user_name: &str, step: &str, value: &str) -> StoreResult<()>;
    /// A user's noted walkthrough steps and their values.
    async fn walkthrough(&self, user_name: &str) -> StoreResult<Vec<(String, String)>>;

    // --- playbook runs ----------------------------------------------------------------------

    /// Create a queued run, audited as `actor` (`playbook_run.create`) in the same
    /// transaction.
    async fn create_run(&self, new: &NewRun, actor: &str) -> StoreResult<PlaybookRun>;
    /// Claim up to `limit` runnable runs for `owner` until `lease_until`: queued ones, running
    /// ones whose lease expired (their runner died) and waiting ones whose `wake_at` is past.
    /// Each is taken by a compare-and-set on its lease, so two runners never hold one run.
    async fn claim_runs(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<PlaybookRun>>;
    /// Record step `key` of a run `owner` holds as started with `input` (attempt + 1 when it
    /// was left started), and extend the lease. `Conflict` when the run is no longer held by
    /// `owner` and running (cancelled, or claimed by another runner) or the step is completed.
    async fn record_step_started(
        &self,
        run_id: i64,
        owner: &str,
        key: &str,
        step_id: &str,
        input: &serde_json::Value,
        lease_until: Timestamp,
    ) -> StoreResult<RunStep>;
    /// Record step `key` as finished (`output`, or failed with `error`) and the run's progress
    /// in one transaction (a decision step never started is inserted finished). `Conflict` as
    /// for [`Store::record_step_started`].
    async fn record_step_finished(
        &self,
        run_id: i64,
        owner: &str,
        key: &str,
        step_id: &str,
        input: Option<&serde_json::Value>,
        output: Result<&serde_json::Value, &str>,
    ) -> StoreResult<RunStep>;
    /// Release a run `owner` holds as `waiting` until `wake_at` (none: for an approval).
    async fn park_run(
        &self,
        run_id: i64,
        owner: &str,
        wake_at: Option<Timestamp>,
    ) -> StoreResult<()>;
    /// End a run `owner` holds as `succeeded` or `failed` (with `error`), audited as `actor`
    /// (`playbook_run.succeeded` / `playbook_run.failed`).
    async fn finish_run(
        &self,
        run_id: i64,
        owner: &str,
        status: RunStatus,
        error: Option<&str>,
        actor: &str,
    ) -> StoreResult<PlaybookRun>;
    /// Approve the gate `key` of a run waiting for it: the step completes with who approved,
    /// the run is queued again; audited (`playbook_run.approve`). `Conflict` when the run is
    /// not waiting at that gate (already approved, cancelled, ...).
    async fn approve_run(&self, run_id: i64, key: &str, actor: &str) -> StoreResult<PlaybookRun>;
    /// Cancel a run that is not over, audited (`playbook_run.cancel`); its runner stops at its
    /// next step. `Conflict` when it is over.
    async fn cancel_run(&self, run_id: i64, actor: &str) -> StoreResult<PlaybookRun>;
    /// Runs, newest first (of one incident when given).
    async fn list_runs(
        &self,
        incident_id: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<PlaybookRun>>;
    /// One run with its steps, in the order they first started.
    async fn get_run(&self, run_id: i64) -> StoreResult<Option<(PlaybookRun, Vec<RunStep>)>>;
    // --- webhook deliveries (the outbox of outgoing notifications) --------------------------

    /// Enqueue deliveries, all in one transaction, due at `now`; returns their ids in order.
    async fn enqueue_deliveries(
        &self,
        items: &[NewDelivery],
        now: Timestamp,
    ) -> StoreResult<Vec<i64>>;
    /// Claim up to `limit` due deliveries (pending, `next_attempt_at <= now`, no lease or an
    /// expired one), setting their lease to `lease_until` in one statement that re-checks the
    /// lease, so two nodes never claim one delivery at once. Oldest due first.
    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>>;
    /// Record that a delivery claimed with `lease` was answered 2xx (`status`). `false` when
    /// the lease was lost (another node reclaimed it): nothing is changed.
    async fn record_delivery_success(
        &self,
        id: i64,
        lease: Timestamp,
        status: u16,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Record a failed attempt of a delivery claimed with `lease`: attempts + 1, the lease
    /// released, due again at `retry_at`, or `dead` when that was its last attempt. Returns
    /// its status now (`None` when the lease was lost: nothing is changed).
    async fn record_delivery_failure(
        &self,
        id: i64,
        lease: Timestamp,
        error: &str,
        status: Option<u16>,
        retry_at: Timestamp,
    ) -> StoreResult<Option<DeliveryStatus>>;
    /// Delete the deliveries delivered before `before` (the outbox keeps pending ones and
    /// dead letters until someone acts on them); how many it deleted.
    async fn prune_deliveries(&self, before: Timestamp) -> StoreResult<u64>;
    /// Deliveries, newest first (`status: dead`: the dead letters).
    async fn list_deliveries(&self, filter: &DeliveryFilter) -> StoreResult<Vec<Delivery>>;
    /// One delivery.
    async fn get_delivery(&self, id: i64) -> StoreResult<Option<Delivery>>;
    /// Send a dead letter again: back to `pending`, attempts reset, due at `now`, audited
    /// (`webhook.delivery.retry`) as `actor` in the same transaction. `NotFound`, or
    /// `Conflict` when it is not dead.
    async fn retry_delivery(&self, id: i64, actor: &str, now: Timestamp) -> StoreResult<Delivery>;

    // --- hunting ----------------------------------------------------------------------------

    /// Run a hunting query (`rampart_hunt::plan::plan`) read-only: every table scan in the
    /// plan's time range, at most its limit of rows (`truncated` when there were more), and
    /// [`StoreError::Timeout`] after `timeout`. Both backends answer the same rows in the
    /// same order.
    async fn hunt(
        &self,
        plan: &rampart_hunt::plan::Plan,
        timeout: std::time::Duration,
    ) -> StoreResult<rampart_hunt::rows::Rows>;

    // --- maintenance ------------------------------------------------------------------------

    /// Refresh the query planner's statistics where they are stale, in bounded time (SQLite:
    /// `PRAGMA optimize`, without which its planner guesses that every index is selective and
    /// may sort a whole table instead of reading an ordered index; PostgreSQL's autovacuum
    /// does this itself). Run at open and periodically by the server.
    async fn optimize(&self) -> StoreResult<()>;

    /// Delete at most `limit` rows that `rule` lets go, oldest first, in one transaction;
    /// answers how many went (callers repeat until it is below `limit`, so the writer is never
    /// held long). Incidents go with what hangs off them (alerts, entities, tags, facets,
    /// comments, tasks, playbook runs), each audited as deleted by `actor` in the same
    /// transaction; an incident with an action pending or in force, or a run not finished, is
    /// kept. The audit log is never pruned (append-only).
    async fn prune(&self, rule: &Retention, limit: u32, actor: &str) -> StoreResult<u64>;

    // --- custom detections -------------------------------------------------------------------

    /// Claim the run of detection `name` for the window ending at `slot` (ms), as `owner`
    /// until `lease_until`: `true` when this caller holds it now. A slot later than the last
    /// claimed one is always claimable; the same slot again only when its run never finished
    /// and its lease expired before `now` (its node died). A compare-and-set: of several
    /// nodes claiming one slot at once, one wins.
    async fn claim_detection(
        &self,
        name: &str,
        slot: Timestamp,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<bool>;
    /// Record the outcome of a claimed run (`false`, and nothing written, when the claim was
    /// lost: another node took the slot over or a later slot was claimed).
    async fn finish_detection(
        &self,
        name: &str,
        slot: Timestamp,
        owner: &str,
        now: Timestamp,
        outcome: &serde_json::Value,
    ) -> StoreResult<bool>;
    /// The latest run of every detection that ever ran, by name.
    async fn detection_runs(&self) -> StoreResult<Vec<DetectionRun>>;

    // --- automated investigations ------------------------------------------------------------

    /// Claim, as `owner` until `lease_until`, at most `limit` incidents created at or after
    /// `since` (oldest first, merged ones left out) that have no investigation, or whose
    /// investigation never finished and whose lease expired before `now`: their ids. A
    /// compare-and-set per incident: of several nodes, one claims each.
    async fn claim_investigations(
        &self,
        owner: &str,
        since: Timestamp,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<i64>>;
    /// Store an incident's investigation: as the claim's `owner` (`false`, nothing written,
    /// when the claim was lost or already finished), or with `owner` `None` unconditionally
    /// (a manual re-run, which replaces the stored one).
    async fn finish_investigation(
        &self,
        incident_id: i64,
        owner: Option<&str>,
        now: Timestamp,
        result: &serde_json::Value,
    ) -> StoreResult<bool>;
    /// An incident's stored investigation.
    async fn get_investigation(&self, incident_id: i64)
        -> StoreResult<Option<StoredInvestigation>>;
}

/// An incident's automated investigation as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredInvestigation {
    /// The incident.
    pub incident_id: i64,
    /// Who ran it (a node, or `manual`).
    pub owner: String,
    /// When it started.
    pub started_at: Timestamp,
    /// When it finished (`None` while it runs).
    pub finished_at: Option<Timestamp>,
    /// What it found (`null` while it runs).
    pub result: serde_json::Value,
}

/// The latest run of a custom detection.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DetectionRun {
    /// The saved query's name.
    pub name: String,
    /// The end of the window the run covers.
    pub slot: Timestamp,
    /// The node that claimed it.
    pub owner: String,
    /// When it started.
    pub started_at: Timestamp,
    /// When it finished (`None` while it runs, or when its node died mid-run).
    pub finished_at: Option<Timestamp>,
    /// What it did: `{"rows", "alerts", "duplicates", "truncated"}` or `{"error"}`.
    pub outcome: serde_json::Value,
}

/// The tables a retention policy prunes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionTable {
    /// Stored events (`ApiEvents`), by their time.
    Events,
    /// Resolved or merged incidents, by their last update, with their alerts.
    Incidents,
    /// Finished playbook runs, by their last update, with their steps.
    PlaybookRuns,
}

impl RetentionTable {
    /// Every table, in the order a pass prunes them.
    pub const ALL: [RetentionTable; 3] = [
        RetentionTable::Events,
        RetentionTable::Incidents,
        RetentionTable::PlaybookRuns,
    ];

    /// Its name in configuration, metrics and the audit log.
    pub const fn as_str(self) -> &'static str {
        match self {
            RetentionTable::Events => "events",
            RetentionTable::Incidents => "incidents",
            RetentionTable::PlaybookRuns => "playbook_runs",
        }
    }
}

/// What one table keeps: rows older than `before` go, and (events only) all but the newest
/// `keep_rows`. Neither set keeps everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The table.
    pub table: RetentionTable,
    /// Rows older than this go.
    pub before: Option<Timestamp>,
    /// At most this many rows stay (the newest); events only.
    pub keep_rows: Option<u64>,
}

/// Helper re-exports used by backends and the conformance suite.
pub mod prelude {
    pub use super::{
        AlertFilter, AuditFilter, Batch, BatchOutcome, Checkpoint, DetectionRun, EventQuery,
        IdempotencyRecord, IncidentSummary, Retention, RetentionTable, Store, StoreError,
        StoreResult, StoreStats, StoredEvent,
    };
    pub use rampart_model::*;
}
