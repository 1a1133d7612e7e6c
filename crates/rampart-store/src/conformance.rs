//! The conformance suite every [`Store`] backend passes, written once.
//!
//! Each case is a `pub async fn(&dyn Store)` that panics (through `assert!`) when the backend
//! breaks the contract; [`store_conformance!`](crate::store_conformance) instantiates one
//! `#[tokio::test]` per case in the backend's test crate, each with a fresh store:
//!
//! ```text
//! async fn make() -> Option<(SqliteStore, tempfile::TempDir)> { ... }
//! rampart_store::store_conformance!(make);
//! // or, with a teardown run after each passing case:
//! rampart_store::store_conformance!(make, |(store, guard)| async move { ... });
//! ```
//!
//! The factory returns `None` when the backend is not available (no database configured): the
//! test then prints one line saying it was skipped and passes, or fails when the environment
//! variable `CI` is set ([`crate::service::skip_or_fail`]). The backend's test crate needs
//! `tokio` (with `macros` and `rt`) as a dev-dependency.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

use rampart_model::{
    Action, ActionChange, ActionFilter, ActionKind, ActionScope, ActionStatus, AlertDraft,
    AlertStatus, ApiEvent, AttackStage, Classification, Determination, EndpointInfo, Entity,
    EntityKind, EntityRole, EventKind, IncidentFilter, IncidentPatch, IncidentSort, IncidentStatus,
    NewAction, NewAudit, NewTask, ParamInfo, PriorityReason, RateLimit, Role, Session, Severity,
    TaskKind, Timestamp, ValueType,
};

use crate::{
    AlertFilter, AuditFilter, Batch, BatchOutcome, Change, ChangeSet, Checkpoint, EventQuery,
    IdempotencyRecord, IncidentRef, IncidentState, IncidentTrails, Store, StoreError,
};

/// Instantiate the conformance suite: one `#[tokio::test]` per case.
///
/// `$make` is called with no argument and returns a future of `Option<(S, G)>` where `S:
/// Store` and `G` is anything to keep alive during the case (a temporary directory, a schema
/// name); `None` skips the case. The optional `$teardown` receives the `(S, G)` pair after the
/// case passed.
#[macro_export]
macro_rules! store_conformance {
    ($make:expr) => {
        $crate::store_conformance!($make, |_fixture| async {});
    };
    ($make:expr, $teardown:expr) => {
        $crate::__store_conformance_cases!(
            $make, $teardown;
            events_roundtrip,
            events_filters,
            events_checkpoint_in_same_call,
            events_failing_batch_leaves_nothing,
            events_large_batch,
            endpoints_upsert_replaces_and_orders,
            stats_counts_everything,
            apply_creates_and_resolves_temp_ids,
            apply_bad_reference_leaves_nothing,
            apply_merge_redirects,
            incident_summaries_skip_redirected_and_old,
            list_incidents_filters,
            list_incidents_sorts,
            list_incidents_pagination_total,
            get_incident_with_alerts_and_comments,
            update_incident_audits_each_field,
            update_incident_refusals,
            add_comment_audited,
            merge_incidents_moves_alerts_and_comments,
            merge_incidents_refusals,
            list_alerts_filters,
            audit_list_filters_newest_first,
            tokens_create_authenticate_revoke,
            tokens_conflicts_and_unknowns,
            tokens_concurrent_duplicate_names_conflict_cleanly,
            tokens_active_listing_and_batched_use,
            commit_batch_stores_everything,
            commit_batch_is_all_or_nothing,
            commit_batch_idempotency_keys,
            actions_create_list_filter_get,
            actions_approve_is_compare_and_set,
            actions_revert_and_expire_are_audited,
            enforcement_active_changes_hits_and_pulls,
            tasks_create_dedupe_list_audited,
            tasks_done_undone_audited_and_scoped_to_their_incident,
            tasks_move_with_a_merge,
            alerts_resolve_audited_once,
            actor_access_and_activity_from_events,
            users_create_conflict_and_list,
            sessions_expire_idle_and_logout,
            login_failures_count_by_account_and_source,
            saved_views_per_user,
            automation_objects_versioned_idempotent_audited,
            walkthrough_steps_keep_their_first_value,
            queue_facets_follow_alerts_and_merges,
            users_disable_and_password_end_their_sessions,
            playbook_runs_claim_by_lease_and_record_steps_once,
            webhook_deliveries_claim_lease_and_backoff,
            webhook_dead_letters_retry_audited,
            webhook_claims_never_overlap,
            hunt_queries_give_their_results,
            hunt_queries_are_bounded,
            retention_prunes_events_by_age_and_count,
            retention_prunes_resolved_incidents_with_their_dependants,
            retention_prunes_finished_playbook_runs,
            detection_runs_are_claimed_once_per_slot,
            investigations_are_claimed_once_and_kept,
            incident_trails_read_alerts_audit_and_actions_in_bulk,
        );
    };
}

/// Implementation detail of [`store_conformance!`](crate::store_conformance).
#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_cases {
    ($make:expr, $teardown:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let Some(fixture) = ($make)().await else {
                    // Fails instead under CI: a CI run must not pass a suite it did not run.
                    $crate::service::skip_or_fail(
                        stringify!($case),
                        "store backend not available",
                    );
                    return;
                };
                $crate::conformance::$case(&fixture.0).await;
                ($teardown)(fixture).await;
            }
        )+
    };
}

mod detection;
mod hunt;
mod investigation;
mod playbook;
mod retention;
pub use detection::*;
pub use hunt::*;
pub use investigation::*;
pub use playbook::*;
pub use retention::*;

// --- fixtures -----------------------------------------------------------------------------

/// A base event time: 2023-11-14T22:13:20Z.
pub const T0: i64 = 1_700_000_000_000;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test ip")
}

/// A plain access event.
pub fn event(ts_offset_ms: i64, client: &str, path: &str, status: u16) -> ApiEvent<'static> {
    ApiEvent {
        ts: Timestamp(T0 + ts_offset_ms),
        client_ip: Some(ip(client)),
        method: Cow::Borrowed("GET"),
        host: Cow::Borrowed("api.example.com"),
        path: Cow::Owned(path.to_string()),
        status,
        source_format: Cow::Borrowed("combined"),
        raw: Cow::Owned(format!("{client} GET {path} {status}")),
        ..Default::default()
    }
}

/// An event with every field set.
pub fn rich_event() -> ApiEvent<'static> {
    ApiEvent {
        ts: Timestamp(T0 + 123),
        client_ip: Some(ip("2001:db8::7")),
        peer_ip: Some(ip("10.0.0.1")),
        method: "POST".into(),
        scheme: "https".into(),
        host: "api.example.com".into(),
        path: "/api/v1/login".into(),
        query: "next=%2Fhome&x=1".into(),
        protocol: "HTTP/2.0".into(),
        status: 403,
        request_bytes: Some(512),
        response_bytes: Some(u64::from(u32::MAX) + 7),
        latency_us: Some(15_000),
        user_agent: "curl/8.5 \"quoted\" ünïcode".into(),
        referer: "https://evil.example/".into(),
        principal: Some("alice".into()),
        api_key_id: Some("k:1f2e".into()),
        authenticated: true,
        service: Some("auth-svc".into()),
        request_headers: vec![("x-forwarded-for".into(), "2001:db8::7, 10.0.0.1".into())],
        response_headers: vec![("content-type".into(), "application/json".into())],
        request_body: Some("{\"user\":\"alice\",\"password\":\"' OR 1=1 --\"}".into()),
        response_body: Some("{\"error\":\"denied\"}".into()),
        kind: EventKind::Waf,
        message: Some("ModSecurity: SQL injection".into()),
        source_format: "nginx_json".into(),
        raw: "{\"raw\":true}\u{0001}".into(),
    }
}

/// An incident state.
pub fn state(
    title: &str,
    severity: Severity,
    priority: u32,
    entities: Vec<Entity>,
) -> IncidentState {
    IncidentState {
        title: title.to_string(),
        severity,
        entities,
        first_activity: Timestamp(T0),
        last_activity: Timestamp(T0 + 60_000),
        alert_count: 1,
        priority,
        priority_reasons: vec![PriorityReason {
            points: priority,
            reason: "severity".into(),
        }],
    }
}

/// An alert draft.
pub fn draft(
    detector: &str,
    severity: Severity,
    entities: Vec<Entity>,
    first_seen_offset: i64,
) -> AlertDraft {
    AlertDraft {
        detector: detector.to_string(),
        title: format!("{detector} fired"),
        description: "test alert".into(),
        severity,
        mitre: vec!["T1190".into()],
        owasp: Some("API1:2023".into()),
        entities,
        evidence: vec![event(first_seen_offset, "203.0.113.9", "/api/x", 200)],
        first_seen: Timestamp(T0 + first_seen_offset),
        last_seen: Timestamp(T0 + first_seen_offset + 1000),
        reasons: vec![rampart_model::Reason {
            metric: "requests".into(),
            observed: 42.0,
            threshold: Some(10.0),
        }],
        source: Default::default(),
        stage: AttackStage::Exploitation,
        incident_hint: None,
    }
}

fn ent(kind: EntityKind, value: &str) -> Entity {
    Entity::new(kind, value, EntityRole::Attacker)
}

/// Create one incident with one alert through `apply`; returns (incident id, alert id).
pub async fn incident_with_alert(
    s: &dyn Store,
    st: IncidentState,
    alert: AlertDraft,
) -> (i64, i64) {
    let applied = s
        .apply(&ChangeSet {
            changes: vec![
                Change::CreateIncident { temp: 0, state: st },
                Change::InsertAlert {
                    alert,
                    incident: IncidentRef::New(0),
                },
            ],
        })
        .await
        .expect("apply");
    (applied.incident_ids[0], applied.alert_ids[0])
}

fn patch() -> IncidentPatch {
    IncidentPatch::default()
}

// --- events -------------------------------------------------------------------------------

/// Every event field survives a round trip.
pub async fn events_roundtrip(s: &dyn Store) {
    let ev = rich_event();
    s.insert_events(&[ev.clone(), event(0, "192.0.2.1", "/", 200)], None)
        .await
        .expect("insert");
    let got = s.list_events(&EventQuery::default()).await.expect("list");
    assert_eq!(got.len(), 2);
    // Oldest first.
    assert_eq!(got[0].event.path, "/");
    assert_eq!(got[1].event, ev);
    assert!(got[0].id != got[1].id);
}

/// Each event filter, alone and combined.
pub async fn events_filters(s: &dyn Store) {
    let evs = vec![
        event(0, "192.0.2.1", "/api/users/1", 200),
        event(1000, "192.0.2.1", "/api/users/2", 404),
        event(2000, "192.0.2.2", "/API/users/3", 200),
        event(3000, "192.0.2.2", "/health", 500),
        event(4000, "192.0.2.3", "/api/orders", 200),
        event(5000, "192.0.2.3", "/api_users%/x", 200),
    ];
    s.insert_events(&evs, None).await.expect("insert");
    async fn check(s: &dyn Store, q: EventQuery, expected_offsets: &[i64]) {
        let got: Vec<i64> = s
            .list_events(&q)
            .await
            .expect("list")
            .iter()
            .map(|e| (e.event.ts.millis() - T0) / 1000)
            .collect();
        assert_eq!(got, expected_offsets, "query {q:?}");
    }
    let q = EventQuery::default;
    check(s, q(), &[0, 1, 2, 3, 4, 5]).await;
    check(
        s,
        EventQuery {
            since: Some(Timestamp(T0 + 2000)),
            ..q()
        },
        &[2, 3, 4, 5],
    )
    .await;
    check(
        s,
        EventQuery {
            until: Some(Timestamp(T0 + 2000)),
            ..q()
        },
        &[0, 1],
    )
    .await;
    check(
        s,
        EventQuery {
            since: Some(Timestamp(T0 + 1000)),
            until: Some(Timestamp(T0 + 3000)),
            ..q()
        },
        &[1, 2],
    )
    .await;
    check(
        s,
        EventQuery {
            client_ip: Some("192.0.2.2".into()),
            ..q()
        },
        &[2, 3],
    )
    .await;
    check(
        s,
        EventQuery {
            client_ip: Some("192.0.2.9".into()),
            ..q()
        },
        &[],
    )
    .await;
    // Prefix match is case-sensitive and treats LIKE wildcards literally.
    check(
        s,
        EventQuery {
            path_prefix: Some("/api/".into()),
            ..q()
        },
        &[0, 1, 4],
    )
    .await;
    check(
        s,
        EventQuery {
            path_prefix: Some("/api_".into()),
            ..q()
        },
        &[5],
    )
    .await;
    check(
        s,
        EventQuery {
            path_prefix: Some("/api%".into()),
            ..q()
        },
        &[],
    )
    .await;
    check(
        s,
        EventQuery {
            status: Some(200),
            ..q()
        },
        &[0, 2, 4, 5],
    )
    .await;
    check(
        s,
        EventQuery {
            status: Some(200),
            client_ip: Some("192.0.2.1".into()),
            ..q()
        },
        &[0],
    )
    .await;
    check(
        s,
        EventQuery {
            limit: Some(2),
            ..q()
        },
        &[0, 1],
    )
    .await;
    check(
        s,
        EventQuery {
            limit: Some(2),
            offset: Some(3),
            ..q()
        },
        &[3, 4],
    )
    .await;
    check(
        s,
        EventQuery {
            offset: Some(6),
            ..q()
        },
        &[],
    )
    .await;
    check(
        s,
        EventQuery {
            newest_first: true,
            limit: Some(3),
            ..q()
        },
        &[5, 4, 3],
    )
    .await;
    check(
        s,
        EventQuery {
            newest_first: true,
            client_ip: Some("192.0.2.1".into()),
            ..q()
        },
        &[1, 0],
    )
    .await;
}

/// Events and the checkpoint from one call are both stored; a later call replaces it.
pub async fn events_checkpoint_in_same_call(s: &dyn Store) {
    assert_eq!(s.get_checkpoint("/var/log/a.log").await.expect("get"), None);
    let cp = Checkpoint {
        source: "/var/log/a.log".into(),
        file_id: "dev1:ino42".into(),
        offset: 4096,
    };
    s.insert_events(&[event(0, "192.0.2.1", "/", 200)], Some(&cp))
        .await
        .expect("insert");
    assert_eq!(
        s.get_checkpoint(&cp.source).await.expect("get"),
        Some(cp.clone())
    );
    assert_eq!(
        s.list_events(&EventQuery::default())
            .await
            .expect("list")
            .len(),
        1
    );
    let cp2 = Checkpoint {
        offset: 8192,
        file_id: "dev1:ino43".into(),
        ..cp.clone()
    };
    // A checkpoint with no events (e.g. only blank lines were read) is stored too.
    s.insert_events(&[], Some(&cp2)).await.expect("insert");
    assert_eq!(s.get_checkpoint(&cp.source).await.expect("get"), Some(cp2));
    assert_eq!(s.get_checkpoint("/var/log/b.log").await.expect("get"), None);
}

/// A batch that fails leaves neither its events nor its checkpoint behind.
pub async fn events_failing_batch_leaves_nothing(s: &dyn Store) {
    let good = Checkpoint {
        source: "src".into(),
        file_id: "f".into(),
        offset: 10,
    };
    s.insert_events(&[event(0, "192.0.2.1", "/a", 200)], Some(&good))
        .await
        .expect("insert");
    // An offset no database integer holds: the batch must fail as a whole.
    let bad = Checkpoint {
        offset: u64::MAX,
        ..good.clone()
    };
    let err = s
        .insert_events(
            &[
                event(1, "192.0.2.1", "/b", 200),
                event(2, "192.0.2.1", "/c", 200),
            ],
            Some(&bad),
        )
        .await
        .expect_err("offset out of range must fail");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let paths: Vec<String> = s
        .list_events(&EventQuery::default())
        .await
        .expect("list")
        .into_iter()
        .map(|e| e.event.path.into_owned())
        .collect();
    assert_eq!(paths, vec!["/a".to_string()]);
    assert_eq!(s.get_checkpoint("src").await.expect("get"), Some(good));
}

/// Batches bigger than any backend's bind-variable limit work, and `limit` is capped.
pub async fn events_large_batch(s: &dyn Store) {
    let evs: Vec<ApiEvent<'static>> = (0..5000)
        .map(|i| event(i, "192.0.2.1", &format!("/items/{i}"), 200))
        .collect();
    s.insert_events(&evs, None).await.expect("insert");
    assert_eq!(s.stats().await.expect("stats").events, 5000);
    let page = s
        .list_events(&EventQuery {
            limit: Some(1_000_000),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(page.len(), 5000);
    // five blobs of raw lines, each event back whole from its own
    assert_eq!(s.stats().await.expect("stats").event_blobs, 5);
    for (got, want) in page.iter().zip(&evs) {
        assert_eq!(&got.event, want);
    }
    let default_page = s.list_events(&EventQuery::default()).await.expect("list");
    assert_eq!(default_page.len(), 100);
    assert_eq!(default_page[99].event.path, "/items/99");
}

// --- endpoints and stats ------------------------------------------------------------------

fn endpoint(host: &str, method: &str, template: &str, calls: u64) -> EndpointInfo {
    let mut params = BTreeMap::new();
    params.insert(
        "id".to_string(),
        ParamInfo {
            types: [(ValueType::Integer, calls)].into_iter().collect(),
            location: "path".into(),
        },
    );
    EndpointInfo {
        host: host.into(),
        method: method.into(),
        path_template: template.into(),
        first_seen: Timestamp(T0),
        last_seen: Timestamp(T0 + calls as i64),
        calls,
        status_classes: [0, 0, calls, 0, 0, 0],
        authenticated_calls: calls / 2,
        params,
        sensitive_data: vec!["email".into()],
    }
}

/// Upsert replaces by (host, method, template); listing orders by host, template, method.
pub async fn endpoints_upsert_replaces_and_orders(s: &dyn Store) {
    assert!(s.list_endpoints().await.expect("list").is_empty());
    s.upsert_endpoints(&[
        endpoint("b.example", "GET", "/x", 1),
        endpoint("a.example", "POST", "/users/{id}", 2),
        endpoint("a.example", "GET", "/users/{id}", 3),
        endpoint("a.example", "GET", "/orders", 4),
    ])
    .await
    .expect("upsert");
    let replaced = endpoint("a.example", "GET", "/users/{id}", 30);
    s.upsert_endpoints(std::slice::from_ref(&replaced))
        .await
        .expect("upsert");
    let got = s.list_endpoints().await.expect("list");
    let keys: Vec<(String, String, u64)> = got
        .iter()
        .map(|e| (e.host.clone(), e.key(), e.calls))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("a.example".to_string(), "GET /orders".to_string(), 4),
            ("a.example".to_string(), "GET /users/{id}".to_string(), 30),
            ("a.example".to_string(), "POST /users/{id}".to_string(), 2),
            ("b.example".to_string(), "GET /x".to_string(), 1),
        ]
    );
    assert_eq!(got[1], replaced);
}

/// Stats count events, alerts, incidents (any status) and endpoints.
pub async fn stats_counts_everything(s: &dyn Store) {
    assert_eq!(s.stats().await.expect("stats"), Default::default());
    s.insert_events(
        &[
            event(0, "192.0.2.1", "/", 200),
            event(1, "192.0.2.1", "/", 200),
        ],
        None,
    )
    .await
    .expect("insert");
    s.upsert_endpoints(&[endpoint("h", "GET", "/", 1)])
        .await
        .expect("upsert");
    let (a, _) = incident_with_alert(
        s,
        state("a", Severity::Low, 1, vec![]),
        draft("d", Severity::Low, vec![], 0),
    )
    .await;
    let (b, _) = incident_with_alert(
        s,
        state("b", Severity::Low, 1, vec![]),
        draft("d", Severity::Low, vec![], 0),
    )
    .await;
    s.merge_incidents(a, b, &state("b", Severity::Low, 2, vec![]), "test")
        .await
        .expect("merge");
    let st = s.stats().await.expect("stats");
    assert_eq!(
        (st.events, st.alerts, st.incidents, st.endpoints),
        (2, 2, 2, 1)
    );
}

// --- apply --------------------------------------------------------------------------------

/// Temp ids resolve within the set; alerts attach; updates and audits land.
pub async fn apply_creates_and_resolves_temp_ids(s: &dyn Store) {
    let ip9 = ent(EntityKind::Ip, "203.0.113.9");
    let (existing, _) = incident_with_alert(
        s,
        state("old", Severity::Low, 5, vec![]),
        draft("d0", Severity::Low, vec![], 0),
    )
    .await;
    let set = ChangeSet {
        changes: vec![
            Change::CreateIncident {
                temp: 0,
                state: state("first", Severity::High, 70, vec![ip9.clone()]),
            },
            Change::CreateIncident {
                temp: 1,
                state: state("second", Severity::Low, 10, vec![]),
            },
            Change::InsertAlert {
                alert: draft("d1", Severity::High, vec![ip9.clone()], 10),
                incident: IncidentRef::New(1),
            },
            Change::InsertAlert {
                alert: draft("d2", Severity::High, vec![], 20),
                incident: IncidentRef::New(0),
            },
            Change::InsertAlert {
                alert: draft("d3", Severity::Medium, vec![], 30),
                incident: IncidentRef::Existing(existing),
            },
            Change::UpdateIncident {
                incident: IncidentRef::New(1),
                state: state("second, updated", Severity::High, 60, vec![ip9.clone()]),
            },
            Change::Audit(NewAudit {
                at: Timestamp(T0),
                actor: "system:correlation".into(),
                action: "incident.create".into(),
                object_type: "incident".into(),
                object_id: "new".into(),
                details: serde_json::json!({ "k": 1 }),
            }),
            Change::Audit(NewAudit {
                at: Timestamp(T0),
                actor: "system:correlation".into(),
                action: "incident.create".into(),
                object_type: "incident".into(),
                object_id: "new:1".into(),
                details: serde_json::json!({ "k": 2 }),
            }),
        ],
    };
    let applied = s.apply(&set).await.expect("apply");
    assert_eq!(applied.incident_ids.len(), 2);
    assert_eq!(applied.alert_ids.len(), 3);
    let [first, second] = [applied.incident_ids[0], applied.incident_ids[1]];
    assert!(first != second && first != existing && second != existing);

    let d1 = s.get_incident(first).await.expect("get").expect("exists");
    assert_eq!(d1.incident.title, "first");
    assert_eq!(d1.incident.status, IncidentStatus::Active);
    assert_eq!(d1.incident.classification, Classification::Unknown);
    assert_eq!(d1.incident.determination, Determination::NotAvailable);
    assert_eq!(d1.incident.assigned_to, None);
    assert_eq!(d1.incident.priority, 70);
    assert_eq!(d1.incident.entities, vec![ip9.clone()]);
    assert_eq!(
        d1.alerts
            .iter()
            .map(|a| a.draft.detector.as_str())
            .collect::<Vec<_>>(),
        vec!["d2"]
    );
    assert_eq!(d1.alerts[0].status, AlertStatus::New);
    assert_eq!(d1.alerts[0].incident_id, Some(first));
    assert_eq!(d1.alerts[0].id, applied.alert_ids[1]);

    let d2 = s.get_incident(second).await.expect("get").expect("exists");
    assert_eq!(d2.incident.title, "second, updated");
    assert_eq!(d2.incident.severity, Severity::High);
    assert_eq!(d2.incident.priority, 60);
    assert_eq!(d2.alerts.len(), 1);
    assert_eq!(
        d2.alerts[0].draft,
        draft("d1", Severity::High, vec![ip9.clone()], 10)
    );
    // Entities from the update are searchable.
    let by_entity = s
        .list_incidents(&IncidentFilter {
            entity: Some("203.0.113.9".into()),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(by_entity.total, 2);

    let old = s
        .get_incident(existing)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(old.alerts.len(), 2);

    let audit = s
        .list_audit(&AuditFilter {
            object_id: Some("new".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(audit.total, 1);
    // The entry is stamped with the commit's wall-clock time; the correlator's event time
    // stays in the details.
    assert_eq!(audit.items[0].details["k"], serde_json::json!(1));
    assert_eq!(
        audit.items[0].details["event_time"],
        serde_json::json!(Timestamp(T0))
    );
    assert!(audit.items[0].at > Timestamp(T0));
    // A `new:<temp>` placeholder names the incident the set created.
    let resolved = s
        .list_audit(&AuditFilter {
            object_id: Some(second.to_string()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert!(
        resolved
            .items
            .iter()
            .any(|a| a.details["k"] == serde_json::json!(2)),
        "{resolved:?}"
    );
}

/// A change set with a bad reference leaves nothing behind.
pub async fn apply_bad_reference_leaves_nothing(s: &dyn Store) {
    let audit = |id: &str| {
        Change::Audit(NewAudit {
            at: Timestamp(T0),
            actor: "system:correlation".into(),
            action: "incident.create".into(),
            object_type: "incident".into(),
            object_id: id.into(),
            details: serde_json::Value::Null,
        })
    };
    let unknown_existing = ChangeSet {
        changes: vec![
            Change::CreateIncident {
                temp: 0,
                state: state("a", Severity::High, 1, vec![]),
            },
            Change::InsertAlert {
                alert: draft("d", Severity::High, vec![], 0),
                incident: IncidentRef::New(0),
            },
            audit("x"),
            Change::InsertAlert {
                alert: draft("d", Severity::High, vec![], 0),
                incident: IncidentRef::Existing(987_654),
            },
        ],
    };
    let err = s
        .apply(&unknown_existing)
        .await
        .expect_err("unknown incident");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");

    let unknown_temp = ChangeSet {
        changes: vec![
            Change::CreateIncident {
                temp: 0,
                state: state("a", Severity::High, 1, vec![]),
            },
            audit("y"),
            Change::InsertAlert {
                alert: draft("d", Severity::High, vec![], 0),
                incident: IncidentRef::New(3),
            },
        ],
    };
    let err = s.apply(&unknown_temp).await.expect_err("unknown temp");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

    let update_unknown = ChangeSet {
        changes: vec![
            Change::CreateIncident {
                temp: 0,
                state: state("a", Severity::High, 1, vec![]),
            },
            Change::UpdateIncident {
                incident: IncidentRef::Existing(987_654),
                state: state("b", Severity::Low, 1, vec![]),
            },
        ],
    };
    let err = s.apply(&update_unknown).await.expect_err("update unknown");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");

    let st = s.stats().await.expect("stats");
    assert_eq!((st.incidents, st.alerts), (0, 0));
    assert_eq!(
        s.list_audit(&AuditFilter::default())
            .await
            .expect("audit")
            .total,
        0
    );
    assert_eq!(
        s.incident_summaries(Timestamp(0)).await.expect("summaries"),
        vec![]
    );
}

/// `Change::Merge` redirects the source to a target created in the same set.
pub async fn apply_merge_redirects(s: &dyn Store) {
    let (old, old_alert) = incident_with_alert(
        s,
        state("old", Severity::Low, 5, vec![]),
        draft("d0", Severity::Low, vec![], 0),
    )
    .await;
    let applied = s
        .apply(&ChangeSet {
            changes: vec![
                Change::CreateIncident {
                    temp: 0,
                    state: state("new", Severity::High, 50, vec![]),
                },
                Change::InsertAlert {
                    alert: draft("d1", Severity::High, vec![], 10),
                    incident: IncidentRef::New(0),
                },
                Change::Merge {
                    from: old,
                    into: IncidentRef::New(0),
                    state: state("merged", Severity::High, 55, vec![]),
                },
            ],
        })
        .await
        .expect("apply");
    let target = applied.incident_ids[0];
    let src = s.get_incident(old).await.expect("get").expect("exists");
    assert_eq!(src.incident.status, IncidentStatus::Redirected);
    assert_eq!(src.incident.redirect_to, Some(target));
    assert!(src.alerts.is_empty());
    let dst = s.get_incident(target).await.expect("get").expect("exists");
    assert_eq!(dst.incident.title, "merged");
    assert_eq!(dst.incident.priority, 55);
    let mut ids: Vec<i64> = dst.alerts.iter().map(|a| a.id).collect();
    ids.sort();
    let mut expected = vec![old_alert, applied.alert_ids[0]];
    expected.sort();
    assert_eq!(ids, expected);
    // Merging the redirected one again fails and rolls back the whole set.
    let err = s
        .apply(&ChangeSet {
            changes: vec![
                Change::CreateIncident {
                    temp: 0,
                    state: state("another", Severity::High, 50, vec![]),
                },
                Change::Merge {
                    from: old,
                    into: IncidentRef::New(0),
                    state: state("x", Severity::High, 1, vec![]),
                },
            ],
        })
        .await
        .expect_err("merge of redirected");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(s.stats().await.expect("stats").incidents, 2);
}

/// Summaries: recent incidents of any status except Redirected, with their stages.
pub async fn incident_summaries_skip_redirected_and_old(s: &dyn Store) {
    let mut old_state = state("old", Severity::Low, 5, vec![]);
    old_state.last_activity = Timestamp(T0 - 86_400_000);
    let (old, _) = incident_with_alert(s, old_state, draft("d", Severity::Low, vec![], 0)).await;
    let mut recon = draft("scan", Severity::Low, vec![], 0);
    recon.stage = AttackStage::Recon;
    let mut exfil = draft("exfil", Severity::High, vec![], 5);
    exfil.stage = AttackStage::DataAccess;
    let (a, _) = incident_with_alert(s, state("a", Severity::High, 50, vec![]), exfil).await;
    s.apply(&ChangeSet {
        changes: vec![Change::InsertAlert {
            alert: recon.clone(),
            incident: IncidentRef::Existing(a),
        }],
    })
    .await
    .expect("apply");
    let (b, _) = incident_with_alert(s, state("b", Severity::Low, 5, vec![]), recon.clone()).await;
    let (c, _) = incident_with_alert(s, state("c", Severity::Low, 5, vec![]), recon).await;
    s.update_incident(
        b,
        &IncidentPatch {
            status: Some(IncidentStatus::Resolved),
            ..patch()
        },
        "t",
    )
    .await
    .expect("resolve");
    s.merge_incidents(c, a, &state("a", Severity::High, 60, vec![]), "t")
        .await
        .expect("merge");

    let got = s
        .incident_summaries(Timestamp(T0 - 1000))
        .await
        .expect("summaries");
    let mut seen: Vec<(i64, IncidentStatus, Vec<AttackStage>)> = got
        .into_iter()
        .map(|x| (x.incident.id, x.incident.status, x.stages))
        .collect();
    seen.sort_by_key(|x| x.0);
    assert_eq!(
        seen,
        vec![
            (
                a,
                IncidentStatus::Active,
                vec![AttackStage::Recon, AttackStage::DataAccess]
            ),
            (b, IncidentStatus::Resolved, vec![AttackStage::Recon]),
        ]
    );
    let all = s.incident_summaries(Timestamp(0)).await.expect("summaries");
    assert!(all.iter().any(|x| x.incident.id == old));
    assert_eq!(all.len(), 3);
}

// --- listing incidents --------------------------------------------------------------------

/// Four incidents: D (Critical, 95), A (High, 80), B (Medium, 50), C (Low, 10), with
/// owners, tags, classifications and entities; returns [a, b, c, d].
pub async fn seed_incidents(s: &dyn Store) -> [i64; 4] {
    let (a, _) = incident_with_alert(
        s,
        state(
            "SQL injection on /login",
            Severity::High,
            80,
            vec![
                ent(EntityKind::Ip, "203.0.113.9"),
                Entity::target_endpoint("POST /login"),
            ],
        ),
        draft(
            "API_Injection",
            Severity::High,
            vec![ent(EntityKind::Ip, "203.0.113.9")],
            0,
        ),
    )
    .await;
    let (b, _) = incident_with_alert(
        s,
        state(
            "Credential stuffing",
            Severity::Medium,
            50,
            vec![
                ent(EntityKind::Ip, "198.51.100.7"),
                ent(EntityKind::User, "alice"),
            ],
        ),
        draft(
            "API_CredentialStuffing",
            Severity::Medium,
            vec![ent(EntityKind::User, "alice")],
            0,
        ),
    )
    .await;
    let (c, _) = incident_with_alert(
        s,
        state(
            "Scanner noise",
            Severity::Low,
            10,
            vec![
                ent(EntityKind::Ip, "192.0.2.1"),
                ent(EntityKind::UserAgent, "Nikto/2.1"),
            ],
        ),
        draft(
            "API_Scan",
            Severity::Low,
            vec![ent(EntityKind::Ip, "192.0.2.1")],
            0,
        ),
    )
    .await;
    let (d, _) = incident_with_alert(
        s,
        state(
            "Data exfiltration",
            Severity::Critical,
            95,
            vec![
                ent(EntityKind::User, "bob"),
                Entity::target_endpoint("GET /api/users/{id}"),
            ],
        ),
        draft(
            "API_Exfil",
            Severity::Critical,
            vec![ent(EntityKind::User, "bob")],
            0,
        ),
    )
    .await;
    s.update_incident(
        a,
        &IncidentPatch {
            assigned_to: Some(Some("ann".into())),
            tags: Some(vec!["pentest".into(), "Urgent".into()]),
            status: Some(IncidentStatus::InProgress),
            ..patch()
        },
        "t",
    )
    .await
    .expect("update a");
    s.update_incident(
        b,
        &IncidentPatch {
            classification: Some(Classification::TruePositive),
            tags: Some(vec!["urgent".into()]),
            ..patch()
        },
        "t",
    )
    .await
    .expect("update b");
    s.update_incident(
        c,
        &IncidentPatch {
            status: Some(IncidentStatus::Resolved),
            classification: Some(Classification::FalsePositive),
            ..patch()
        },
        "t",
    )
    .await
    .expect("update c");
    [a, b, c, d]
}

async fn list_ids(s: &dyn Store, f: &IncidentFilter) -> (Vec<i64>, u64) {
    let page = s.list_incidents(f).await.expect("list incidents");
    (page.items.iter().map(|i| i.id).collect(), page.total)
}

/// Every incident filter, alone and combined (default sort: priority, highest first).
pub async fn list_incidents_filters(s: &dyn Store) {
    let before = Timestamp::now().add_millis(-1);
    let [a, b, c, d] = seed_incidents(s).await;
    let far = Timestamp::now().add_millis(86_400_000);
    async fn check(s: &dyn Store, f: IncidentFilter, expected: &[i64]) {
        let (ids, total) = list_ids(s, &f).await;
        assert_eq!(ids, expected, "filter {f:?}");
        assert_eq!(total, expected.len() as u64, "total for {f:?}");
    }
    let f = IncidentFilter::default;
    check(s, f(), &[d, a, b, c]).await;
    check(
        s,
        IncidentFilter {
            status: vec![IncidentStatus::Active],
            ..f()
        },
        &[d, b],
    )
    .await;
    check(
        s,
        IncidentFilter {
            status: vec![IncidentStatus::InProgress, IncidentStatus::Resolved],
            ..f()
        },
        &[a, c],
    )
    .await;
    check(
        s,
        IncidentFilter {
            status: vec![IncidentStatus::Redirected],
            ..f()
        },
        &[],
    )
    .await;
    check(
        s,
        IncidentFilter {
            severity: vec![Severity::High, Severity::Critical],
            ..f()
        },
        &[d, a],
    )
    .await;
    check(
        s,
        IncidentFilter {
            severity: vec![Severity::Informational],
            ..f()
        },
        &[],
    )
    .await;
    check(
        s,
        IncidentFilter {
            assigned_to: Some("ann".into()),
            ..f()
        },
        &[a],
    )
    .await;
    check(
        s,
        IncidentFilter {
            assigned_to: Some("an".into()),
            ..f()
        },
        &[],
    )
    .await;
    check(
        s,
        IncidentFilter {
            tag: Some("urgent".into()),
            ..f()
        },
        &[b],
    )
    .await;
    check(
        s,
        IncidentFilter {
            tag: Some("pentest".into()),
            ..f()
        },
        &[a],
    )
    .await;
    check(
        s,
        IncidentFilter {
            classification: vec![Classification::TruePositive],
            ..f()
        },
        &[b],
    )
    .await;
    check(
        s,
        IncidentFilter {
            classification: vec![Classification::Unknown, Classification::FalsePositive],
            ..f()
        },
        &[d, a, c],
    )
    .await;
    check(
        s,
        IncidentFilter {
            created_after: Some(before),
            ..f()
        },
        &[d, a, b, c],
    )
    .await;
    check(
        s,
        IncidentFilter {
            created_after: Some(far),
            ..f()
        },
        &[],
    )
    .await;
    check(
        s,
        IncidentFilter {
            created_before: Some(far),
            ..f()
        },
        &[d, a, b, c],
    )
    .await;
    check(
        s,
        IncidentFilter {
            created_before: Some(before),
            ..f()
        },
        &[],
    )
    .await;
    check(
        s,
        IncidentFilter {
            updated_after: Some(before),
            ..f()
        },
        &[d, a, b, c],
    )
    .await;
    check(
        s,
        IncidentFilter {
            updated_after: Some(far),
            ..f()
        },
        &[],
    )
    .await;
    check(
        s,
        IncidentFilter {
            updated_before: Some(before),
            ..f()
        },
        &[],
    )
    .await;
    check(
        s,
        IncidentFilter {
            entity: Some("198.51.100.7".into()),
            ..f()
        },
        &[b],
    )
    .await;
    check(
        s,
        IncidentFilter {
            entity: Some("POST /login".into()),
            ..f()
        },
        &[a],
    )
    .await;
    check(
        s,
        IncidentFilter {
            entity: Some("198.51.100".into()),
            ..f()
        },
        &[],
    )
    .await;
    // Free text: title, tags and entity values, case-insensitive substring.
    check(
        s,
        IncidentFilter {
            text: Some("INJECTION".into()),
            ..f()
        },
        &[a],
    )
    .await;
    check(
        s,
        IncidentFilter {
            text: Some("nikto".into()),
            ..f()
        },
        &[c],
    )
    .await;
    check(
        s,
        IncidentFilter {
            text: Some("PenTest".into()),
            ..f()
        },
        &[a],
    )
    .await;
    check(
        s,
        IncidentFilter {
            text: Some("urgent".into()),
            ..f()
        },
        &[a, b],
    )
    .await;
    check(
        s,
        IncidentFilter {
            text: Some("/api/users/{".into()),
            ..f()
        },
        &[d],
    )
    .await;
    check(
        s,
        IncidentFilter {
            text: Some("%".into()),
            ..f()
        },
        &[],
    )
    .await;
    check(
        s,
        IncidentFilter {
            text: Some("_".into()),
            ..f()
        },
        &[],
    )
    .await;
    check(
        s,
        IncidentFilter {
            text: Some("\\".into()),
            ..f()
        },
        &[],
    )
    .await;
    // Combined.
    check(
        s,
        IncidentFilter {
            status: vec![IncidentStatus::Active],
            severity: vec![Severity::Critical],
            ..f()
        },
        &[d],
    )
    .await;
    check(
        s,
        IncidentFilter {
            text: Some("urgent".into()),
            classification: vec![Classification::Unknown],
            ..f()
        },
        &[a],
    )
    .await;
    // glob metacharacters are matched literally too
    for needle in ["*", "?", "[", "s*l", "s?l"] {
        check(
            s,
            IncidentFilter {
                text: Some(needle.into()),
                ..f()
            },
            &[],
        )
        .await;
    }
    // a rename is found by its new title, no longer by its old one
    s.update_incident(
        a,
        &IncidentPatch {
            title: Some("Renamed zebra [x]".into()),
            ..Default::default()
        },
        "token:tier1",
    )
    .await
    .expect("rename");
    for (needle, hits) in [
        ("zebra", vec![a]),
        ("ZEBRA [x", vec![a]),
        ("sql injection on", vec![]),
    ] {
        check(
            s,
            IncidentFilter {
                text: Some(needle.into()),
                ..f()
            },
            &hits,
        )
        .await;
    }
}

/// Every sort, both directions.
pub async fn list_incidents_sorts(s: &dyn Store) {
    let [a, b, c, d] = seed_incidents(s).await;
    async fn check(s: &dyn Store, sort: IncidentSort, expected_desc: &[i64]) {
        let (desc, _) = list_ids(
            s,
            &IncidentFilter {
                sort,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(desc, expected_desc, "{sort:?}");
        let (asc, _) = list_ids(
            s,
            &IncidentFilter {
                sort,
                ascending: true,
                ..Default::default()
            },
        )
        .await;
        let mut rev = expected_desc.to_vec();
        rev.reverse();
        assert_eq!(asc, rev, "{sort:?} ascending");
    }
    check(s, IncidentSort::Priority, &[d, a, b, c]).await;
    check(s, IncidentSort::Severity, &[d, a, b, c]).await;
    // Creation order is id order; ties in the clock fall back to id.
    check(s, IncidentSort::Created, &[d, c, b, a]).await;
    // Updated: the store's clock decides; check the order against the stored values.
    let page = s
        .list_incidents(&IncidentFilter {
            sort: IncidentSort::Updated,
            ..Default::default()
        })
        .await
        .expect("list");
    let keys: Vec<(Timestamp, i64)> = page.items.iter().map(|i| (i.updated_at, i.id)).collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    assert_eq!(keys, sorted);
    assert_eq!(keys.len(), 4);
    // Updating one makes it the most recently updated.
    s.update_incident(
        b,
        &IncidentPatch {
            title: Some("Credential stuffing (bot)".into()),
            ..patch()
        },
        "t",
    )
    .await
    .expect("update");
    let (ids, _) = list_ids(
        s,
        &IncidentFilter {
            sort: IncidentSort::Updated,
            ..Default::default()
        },
    )
    .await;
    let page = s
        .list_incidents(&IncidentFilter {
            sort: IncidentSort::Updated,
            ..Default::default()
        })
        .await
        .expect("list");
    let top = page.items[0].updated_at;
    assert!(page.items.iter().all(|i| i.updated_at <= top));
    assert!(ids.contains(&b));
    let b_updated = page.items.iter().find(|i| i.id == b).map(|i| i.updated_at);
    assert_eq!(b_updated, Some(top));
}

/// Pages with the total of all matches.
pub async fn list_incidents_pagination_total(s: &dyn Store) {
    let [a, b, c, d] = seed_incidents(s).await;
    async fn check(s: &dyn Store, f: IncidentFilter, expected: &[i64], total: u64) {
        let got = list_ids(s, &f).await;
        assert_eq!(got, (expected.to_vec(), total), "{f:?}");
    }
    let page = |limit, offset| IncidentFilter {
        limit: Some(limit),
        offset: Some(offset),
        ..Default::default()
    };
    check(s, page(2, 0), &[d, a], 4).await;
    check(s, page(2, 2), &[b, c], 4).await;
    check(s, page(3, 3), &[c], 4).await;
    check(s, page(2, 4), &[], 4).await;
    check(
        s,
        IncidentFilter {
            status: vec![IncidentStatus::Active],
            ..page(1, 0)
        },
        &[d],
        2,
    )
    .await;
    check(
        s,
        IncidentFilter {
            status: vec![IncidentStatus::Active],
            ..page(1, 1)
        },
        &[b],
        2,
    )
    .await;
    // keyset pages walk every sort, both ways, in the order of the offset listing
    for sort in [
        IncidentSort::Priority,
        IncidentSort::Severity,
        IncidentSort::Created,
        IncidentSort::Updated,
    ] {
        for ascending in [false, true] {
            let base = IncidentFilter {
                sort,
                ascending,
                ..Default::default()
            };
            let (all, _) = list_ids(s, &base).await;
            let mut walked = Vec::new();
            let mut after = None;
            loop {
                let p = s
                    .list_incidents(&IncidentFilter {
                        limit: Some(1),
                        after: after.clone(),
                        ..base.clone()
                    })
                    .await
                    .expect("keyset page");
                assert_eq!(p.total, 4, "the total counts every match");
                let Some(last) = p.items.last() else { break };
                walked.push(last.id);
                after = Some(last.cursor(sort));
            }
            assert_eq!(walked, all, "{sort:?} ascending={ascending}");
        }
    }
    let bad = s
        .list_incidents(&IncidentFilter {
            after: Some("1;DROP".into()),
            ..Default::default()
        })
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");
    // by detector, and by MITRE technique (matching sub-techniques)
    let by = |detector: Option<&str>, techniques: &[&str]| IncidentFilter {
        detector: detector.map(str::to_string),
        techniques: techniques.iter().map(|t| t.to_string()).collect(),
        ..Default::default()
    };
    assert_eq!(
        list_ids(s, &by(Some("API_CredentialStuffing"), &[])).await,
        (vec![b], 1)
    );
    assert_eq!(list_ids(s, &by(Some("nope"), &[])).await.1, 0);
    assert_eq!(list_ids(s, &by(None, &["T1190"])).await.1, 4);
    assert_eq!(list_ids(s, &by(None, &["T1110", "T1190"])).await.1, 4);
    assert_eq!(list_ids(s, &by(None, &["T1110"])).await.1, 0);
    assert_eq!(
        list_ids(s, &by(None, &["T119"])).await.1,
        0,
        "no prefix match"
    );
    let _ = (a, c, d);
}

// --- one incident ---------------------------------------------------------------------------

/// Alerts oldest first, comments oldest first; unknown id is `None`.
pub async fn get_incident_with_alerts_and_comments(s: &dyn Store) {
    assert!(s.get_incident(424_242).await.expect("get").is_none());
    let (id, first) = incident_with_alert(
        s,
        state("x", Severity::High, 50, vec![]),
        draft("late", Severity::High, vec![], 50_000),
    )
    .await;
    let applied = s
        .apply(&ChangeSet {
            changes: vec![Change::InsertAlert {
                alert: draft("early", Severity::Low, vec![], 0),
                incident: IncidentRef::Existing(id),
            }],
        })
        .await
        .expect("apply");
    s.add_comment(id, "ann", "looking").await.expect("comment");
    s.add_comment(id, "bob", "done").await.expect("comment");
    let d = s.get_incident(id).await.expect("get").expect("exists");
    assert_eq!(d.incident.id, id);
    assert_eq!(
        d.alerts.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![applied.alert_ids[0], first]
    );
    assert_eq!(
        d.comments
            .iter()
            .map(|c| (c.author.as_str(), c.text.as_str()))
            .collect::<Vec<_>>(),
        vec![("ann", "looking"), ("bob", "done")]
    );
    assert!(d.comments.iter().all(|c| c.incident_id == id));
    let alert = s
        .get_alert(first)
        .await
        .expect("get alert")
        .expect("exists");
    assert_eq!(alert.draft.detector, "late");
    assert_eq!(alert.incident_id, Some(id));
    assert!(s.get_alert(424_242).await.expect("get alert").is_none());
}

/// Each changed field is audited with before and after; unchanged fields are not.
pub async fn update_incident_audits_each_field(s: &dyn Store) {
    let (id, _) = incident_with_alert(
        s,
        state("t", Severity::Low, 5, vec![]),
        draft("d", Severity::Low, vec![], 0),
    )
    .await;
    let before = s
        .get_incident(id)
        .await
        .expect("get")
        .expect("exists")
        .incident;
    let updated = s
        .update_incident(
            id,
            &IncidentPatch {
                title: Some("t".into()), // unchanged: not audited
                status: Some(IncidentStatus::InProgress),
                severity: Some(Severity::High),
                assigned_to: Some(Some("ann".into())),
                classification: Some(Classification::TruePositive),
                determination: Some(Determination::MultiStagedAttack),
                tags: Some(vec!["a".into(), "b".into()]),
            },
            "token:ann",
        )
        .await
        .expect("update");
    assert_eq!(updated.status, IncidentStatus::InProgress);
    assert_eq!(updated.severity, Severity::High);
    assert_eq!(updated.assigned_to.as_deref(), Some("ann"));
    assert_eq!(updated.classification, Classification::TruePositive);
    assert_eq!(updated.determination, Determination::MultiStagedAttack);
    assert_eq!(updated.tags, vec!["a".to_string(), "b".to_string()]);
    assert!(updated.updated_at >= before.updated_at);
    assert_eq!(
        s.get_incident(id)
            .await
            .expect("get")
            .expect("exists")
            .incident,
        updated
    );

    let audit = s
        .list_audit(&AuditFilter {
            actor: Some("token:ann".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    let mut fields: Vec<(String, serde_json::Value, serde_json::Value)> = audit
        .items
        .iter()
        .map(|e| {
            assert_eq!(e.action, "incident.update");
            assert_eq!(e.object_type, "incident");
            assert_eq!(e.object_id, id.to_string());
            (
                e.details["field"].as_str().unwrap_or_default().to_string(),
                e.details["before"].clone(),
                e.details["after"].clone(),
            )
        })
        .collect();
    fields.sort_by(|x, y| x.0.cmp(&y.0));
    use serde_json::json;
    assert_eq!(
        fields,
        vec![
            ("assigned_to".into(), json!(null), json!("ann")),
            (
                "classification".into(),
                json!("Unknown"),
                json!("TruePositive")
            ),
            (
                "determination".into(),
                json!("NotAvailable"),
                json!("MultiStagedAttack")
            ),
            ("severity".into(), json!("Low"), json!("High")),
            ("status".into(), json!("Active"), json!("InProgress")),
            ("tags".into(), json!([]), json!(["a", "b"])),
        ]
    );
    // Unassigning is a change too; an empty patch changes nothing and audits nothing.
    let un = s
        .update_incident(
            id,
            &IncidentPatch {
                assigned_to: Some(None),
                ..patch()
            },
            "token:ann",
        )
        .await
        .expect("unassign");
    assert_eq!(un.assigned_to, None);
    s.update_incident(id, &patch(), "token:ann")
        .await
        .expect("empty");
    let audit = s
        .list_audit(&AuditFilter {
            actor: Some("token:ann".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(audit.total, 7);
    assert_eq!(audit.items[0].details["field"], json!("assigned_to"));
    assert_eq!(audit.items[0].details["after"], json!(null));
    // Tags filter follows the new tags.
    let (ids, _) = list_ids(
        s,
        &IncidentFilter {
            tag: Some("b".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids, vec![id]);
}

/// Redirected by patch is `Invalid`; an unknown id is `NotFound`; nothing is audited.
pub async fn update_incident_refusals(s: &dyn Store) {
    let (id, _) = incident_with_alert(
        s,
        state("t", Severity::Low, 5, vec![]),
        draft("d", Severity::Low, vec![], 0),
    )
    .await;
    let err = s
        .update_incident(
            id,
            &IncidentPatch {
                status: Some(IncidentStatus::Redirected),
                title: Some("x".into()),
                ..patch()
            },
            "a",
        )
        .await
        .expect_err("redirected by patch");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let err = s
        .update_incident(
            999_999,
            &IncidentPatch {
                title: Some("x".into()),
                ..patch()
            },
            "a",
        )
        .await
        .expect_err("unknown");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(
        s.get_incident(id)
            .await
            .expect("get")
            .expect("exists")
            .incident
            .title,
        "t"
    );
    assert_eq!(
        s.list_audit(&AuditFilter {
            actor: Some("a".into()),
            ..Default::default()
        })
        .await
        .expect("audit")
        .total,
        0
    );
}

/// Comments are stored and audited; an unknown incident is `NotFound`.
pub async fn add_comment_audited(s: &dyn Store) {
    let (id, _) = incident_with_alert(
        s,
        state("t", Severity::Low, 5, vec![]),
        draft("d", Severity::Low, vec![], 0),
    )
    .await;
    let c = s
        .add_comment(id, "token:ann", "Blocked at the WAF")
        .await
        .expect("comment");
    assert_eq!(
        (c.incident_id, c.author.as_str(), c.text.as_str()),
        (id, "token:ann", "Blocked at the WAF")
    );
    let audit = s
        .list_audit(&AuditFilter {
            object_type: Some("incident".into()),
            object_id: Some(id.to_string()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(audit.total, 1);
    assert_eq!(audit.items[0].actor, "token:ann");
    assert_eq!(audit.items[0].action, "incident.comment");
    let err = s.add_comment(999_999, "x", "y").await.expect_err("unknown");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let d = s.get_incident(id).await.expect("get").expect("exists");
    assert_eq!(d.comments, vec![c]);
}

/// Merging moves alerts and comments, redirects the source, applies the state, audits.
pub async fn merge_incidents_moves_alerts_and_comments(s: &dyn Store) {
    let ip9 = ent(EntityKind::Ip, "203.0.113.9");
    let alice = ent(EntityKind::User, "alice");
    let (from, fa) = incident_with_alert(
        s,
        state("from", Severity::Low, 5, vec![alice.clone()]),
        draft("d1", Severity::Low, vec![alice.clone()], 0),
    )
    .await;
    let (into, ia) = incident_with_alert(
        s,
        state("into", Severity::High, 50, vec![ip9.clone()]),
        draft("d2", Severity::High, vec![ip9.clone()], 10),
    )
    .await;
    s.update_incident(
        from,
        &IncidentPatch {
            tags: Some(vec!["x".into()]),
            ..patch()
        },
        "t",
    )
    .await
    .expect("tag");
    s.add_comment(from, "ann", "on from")
        .await
        .expect("comment");
    let mut st = state(
        "into + from",
        Severity::High,
        70,
        vec![ip9.clone(), alice.clone()],
    );
    st.alert_count = 2;
    let merged = s
        .merge_incidents(from, into, &st, "token:ann")
        .await
        .expect("merge");
    assert_eq!(merged.id, into);
    assert_eq!(merged.title, "into + from");
    assert_eq!(merged.alert_count, 2);
    assert_eq!(merged.priority, 70);
    assert_eq!(merged.entities, vec![ip9, alice]);

    let src = s.get_incident(from).await.expect("get").expect("exists");
    assert_eq!(src.incident.status, IncidentStatus::Redirected);
    assert_eq!(src.incident.redirect_to, Some(into));
    assert!(src.alerts.is_empty());
    assert!(src.comments.is_empty());
    let dst = s.get_incident(into).await.expect("get").expect("exists");
    assert_eq!(
        dst.alerts.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![fa, ia]
    );
    assert!(dst.alerts.iter().all(|a| a.incident_id == Some(into)));
    assert_eq!(dst.comments.len(), 1);
    // The entity index follows: alice now finds only the target (the source is redirected).
    let (ids, _) = list_ids(
        s,
        &IncidentFilter {
            entity: Some("alice".into()),
            status: vec![IncidentStatus::Active],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids, vec![into]);
    let audit = s
        .list_audit(&AuditFilter {
            actor: Some("token:ann".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert!(
        audit.items.iter().any(|e| e.action == "incident.merge"),
        "{audit:?}"
    );
}

/// Self-merge, merging a Redirected incident and merging into a missing one are refused.
pub async fn merge_incidents_refusals(s: &dyn Store) {
    let (a, _) = incident_with_alert(
        s,
        state("a", Severity::Low, 5, vec![]),
        draft("d", Severity::Low, vec![], 0),
    )
    .await;
    let (b, _) = incident_with_alert(
        s,
        state("b", Severity::Low, 5, vec![]),
        draft("d", Severity::Low, vec![], 0),
    )
    .await;
    let (c, _) = incident_with_alert(
        s,
        state("c", Severity::Low, 5, vec![]),
        draft("d", Severity::Low, vec![], 0),
    )
    .await;
    let st = state("m", Severity::Low, 5, vec![]);
    let err = s.merge_incidents(a, a, &st, "t").await.expect_err("self");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let err = s
        .merge_incidents(a, 999_999, &st, "t")
        .await
        .expect_err("missing target");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = s
        .merge_incidents(999_999, a, &st, "t")
        .await
        .expect_err("missing source");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    s.merge_incidents(a, b, &st, "t").await.expect("merge");
    let err = s
        .merge_incidents(a, c, &st, "t")
        .await
        .expect_err("redirected source");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // Nothing moved by the refused merges.
    assert_eq!(
        s.get_incident(c)
            .await
            .expect("get")
            .expect("exists")
            .alerts
            .len(),
        1
    );
    assert_eq!(
        s.get_incident(b)
            .await
            .expect("get")
            .expect("exists")
            .alerts
            .len(),
        2
    );
    let merges = s
        .list_audit(&AuditFilter {
            actor: Some("t".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(
        merges
            .items
            .iter()
            .filter(|e| e.action == "incident.merge")
            .count(),
        1
    );
}

// --- alerts ----------------------------------------------------------------------------------

/// Every alert filter; newest first; total.
pub async fn list_alerts_filters(s: &dyn Store) {
    let ip9 = ent(EntityKind::Ip, "203.0.113.9");
    let applied = s
        .apply(&ChangeSet {
            changes: vec![
                Change::CreateIncident {
                    temp: 0,
                    state: state("x", Severity::High, 50, vec![]),
                },
                Change::CreateIncident {
                    temp: 1,
                    state: state("y", Severity::Medium, 30, vec![]),
                },
                Change::InsertAlert {
                    alert: draft("API_Injection", Severity::High, vec![ip9.clone()], 0),
                    incident: IncidentRef::New(0),
                },
                Change::InsertAlert {
                    alert: draft(
                        "API_Scan",
                        Severity::Low,
                        vec![ent(EntityKind::Ip, "192.0.2.1")],
                        0,
                    ),
                    incident: IncidentRef::New(0),
                },
                Change::InsertAlert {
                    alert: draft(
                        "API_Injection",
                        Severity::Medium,
                        vec![ent(EntityKind::User, "alice")],
                        0,
                    ),
                    incident: IncidentRef::New(1),
                },
            ],
        })
        .await
        .expect("apply");
    let [a1, a2, a3] = [
        applied.alert_ids[0],
        applied.alert_ids[1],
        applied.alert_ids[2],
    ];
    let x = applied.incident_ids[0];
    async fn check(s: &dyn Store, f: AlertFilter, expected: &[i64], total: u64) {
        let page = s.list_alerts(&f).await.expect("list alerts");
        let ids: Vec<i64> = page.items.iter().map(|a| a.id).collect();
        assert_eq!((ids, page.total), (expected.to_vec(), total), "{f:?}");
    }
    let f = AlertFilter::default;
    check(s, f(), &[a3, a2, a1], 3).await;
    check(
        s,
        AlertFilter {
            incident_id: Some(x),
            ..f()
        },
        &[a2, a1],
        2,
    )
    .await;
    check(
        s,
        AlertFilter {
            incident_id: Some(999_999),
            ..f()
        },
        &[],
        0,
    )
    .await;
    check(
        s,
        AlertFilter {
            detector: Some("API_Injection".into()),
            ..f()
        },
        &[a3, a1],
        2,
    )
    .await;
    check(
        s,
        AlertFilter {
            severity: vec![Severity::Low],
            ..f()
        },
        &[a2],
        1,
    )
    .await;
    check(
        s,
        AlertFilter {
            severity: vec![Severity::Low, Severity::High],
            ..f()
        },
        &[a2, a1],
        2,
    )
    .await;
    check(
        s,
        AlertFilter {
            status: vec![AlertStatus::New],
            ..f()
        },
        &[a3, a2, a1],
        3,
    )
    .await;
    check(
        s,
        AlertFilter {
            status: vec![AlertStatus::Resolved],
            ..f()
        },
        &[],
        0,
    )
    .await;
    check(
        s,
        AlertFilter {
            entity: Some("alice".into()),
            ..f()
        },
        &[a3],
        1,
    )
    .await;
    check(
        s,
        AlertFilter {
            entity: Some("203.0.113.9".into()),
            ..f()
        },
        &[a1],
        1,
    )
    .await;
    check(
        s,
        AlertFilter {
            limit: Some(1),
            ..f()
        },
        &[a3],
        3,
    )
    .await;
    check(
        s,
        AlertFilter {
            limit: Some(1),
            offset: Some(2),
            ..f()
        },
        &[a1],
        3,
    )
    .await;
    check(
        s,
        AlertFilter {
            detector: Some("API_Injection".into()),
            incident_id: Some(x),
            ..f()
        },
        &[a1],
        1,
    )
    .await;
    // Counted per detector, most first; `since` is the wall-clock time the store kept them.
    let counts = s
        .alert_counts_by_detector(Timestamp(0))
        .await
        .expect("counts");
    assert_eq!(
        counts,
        [
            ("API_Injection".to_string(), 2),
            ("API_Scan".to_string(), 1)
        ]
    );
    let later = Timestamp(Timestamp::now().millis() + 3_600_000);
    assert_eq!(s.alert_counts_by_detector(later).await.expect("counts"), []);
}

// --- audit -----------------------------------------------------------------------------------

/// Newest first, each filter, pagination with total.
pub async fn audit_list_filters_newest_first(s: &dyn Store) {
    let entry = |actor: &str, ty: &str, id: &str, n: i64| NewAudit {
        at: Timestamp(T0 + n),
        actor: actor.into(),
        action: "test.action".into(),
        object_type: ty.into(),
        object_id: id.into(),
        details: serde_json::json!({ "n": n }),
    };
    s.append_audit(&[
        entry("cli:root", "incident", "1", 1),
        entry("token:ann", "incident", "2", 2),
        entry("token:ann", "token", "ci", 3),
    ])
    .await
    .expect("append");
    s.append_audit(&[entry("cli:root", "incident", "1", 4)])
        .await
        .expect("append");
    async fn check(s: &dyn Store, f: AuditFilter, expected: &[i64], total: u64) {
        let page = s.list_audit(&f).await.expect("list audit");
        let ns: Vec<i64> = page
            .items
            .iter()
            .map(|e| e.details["n"].as_i64().unwrap_or(-1))
            .collect();
        assert_eq!((ns, page.total), (expected.to_vec(), total), "{f:?}");
    }
    let f = AuditFilter::default;
    check(s, f(), &[4, 3, 2, 1], 4).await;
    check(
        s,
        AuditFilter {
            object_type: Some("incident".into()),
            ..f()
        },
        &[4, 2, 1],
        3,
    )
    .await;
    check(
        s,
        AuditFilter {
            object_type: Some("incident".into()),
            object_id: Some("1".into()),
            ..f()
        },
        &[4, 1],
        2,
    )
    .await;
    check(
        s,
        AuditFilter {
            object_id: Some("ci".into()),
            ..f()
        },
        &[3],
        1,
    )
    .await;
    check(
        s,
        AuditFilter {
            actor: Some("token:ann".into()),
            ..f()
        },
        &[3, 2],
        2,
    )
    .await;
    check(
        s,
        AuditFilter {
            actor: Some("nobody".into()),
            ..f()
        },
        &[],
        0,
    )
    .await;
    check(
        s,
        AuditFilter {
            limit: Some(2),
            ..f()
        },
        &[4, 3],
        4,
    )
    .await;
    check(
        s,
        AuditFilter {
            limit: Some(2),
            offset: Some(2),
            ..f()
        },
        &[2, 1],
        4,
    )
    .await;
    let all = s.list_audit(&f()).await.expect("list");
    assert!(all.items.windows(2).all(|w| w[0].id > w[1].id));
    assert_eq!(all.items[0].at, Timestamp(T0 + 4));
}

// --- tokens ----------------------------------------------------------------------------------

/// Create (audited), authenticate (records use), revoke (audited, then refused).
pub async fn tokens_create_authenticate_revoke(s: &dyn Store) {
    let t = s
        .create_token("ci", Role::Ingest, "hash-ci", "cli:root")
        .await
        .expect("create");
    assert_eq!(
        (t.name.as_str(), t.role, t.revoked_at, t.last_used_at),
        ("ci", Role::Ingest, None, None)
    );
    let admin = s
        .create_token("admin", Role::Admin, "hash-admin", "cli:root")
        .await
        .expect("create");
    assert!(admin.id != t.id);

    let authed = s
        .authenticate_token("hash-ci")
        .await
        .expect("auth")
        .expect("known");
    assert_eq!(authed.id, t.id);
    assert_eq!(authed.role, Role::Ingest);
    assert!(authed.last_used_at.is_some());
    assert!(s
        .authenticate_token("hash-unknown")
        .await
        .expect("auth")
        .is_none());
    let listed = s.list_tokens().await.expect("list");
    assert_eq!(listed.len(), 2);
    let ci = listed.iter().find(|x| x.name == "ci").expect("ci listed");
    assert!(ci.last_used_at.is_some());
    let adm = listed
        .iter()
        .find(|x| x.name == "admin")
        .expect("admin listed");
    assert_eq!(adm.last_used_at, None);

    let revoked = s.revoke_token("ci", "token:admin").await.expect("revoke");
    assert!(revoked.revoked_at.is_some());
    assert!(s
        .authenticate_token("hash-ci")
        .await
        .expect("auth")
        .is_none());
    assert!(s
        .authenticate_token("hash-admin")
        .await
        .expect("auth")
        .is_some());
    let listed = s.list_tokens().await.expect("list");
    assert!(listed
        .iter()
        .any(|x| x.name == "ci" && x.revoked_at.is_some()));

    let audit = s
        .list_audit(&AuditFilter {
            object_type: Some("token".into()),
            object_id: Some("ci".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    let actions: Vec<(&str, &str)> = audit
        .items
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("token.revoke", "token:admin"),
            ("token.create", "cli:root")
        ]
    );
    // The secret hash is never in the audit log.
    assert!(audit
        .items
        .iter()
        .all(|e| !e.details.to_string().contains("hash-ci")));
}

/// Duplicate names are `Conflict`; unknown names are `NotFound`; failures audit nothing.
pub async fn tokens_conflicts_and_unknowns(s: &dyn Store) {
    s.create_token("ci", Role::Viewer, "h1", "cli:root")
        .await
        .expect("create");
    let err = s
        .create_token("ci", Role::Admin, "h2", "cli:root")
        .await
        .expect_err("dup name");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = s
        .create_token("other", Role::Admin, "h1", "cli:root")
        .await
        .expect_err("dup hash");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = s
        .revoke_token("nope", "cli:root")
        .await
        .expect_err("unknown");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(s.list_tokens().await.expect("list").len(), 1);
    let audit = s
        .list_audit(&AuditFilter {
            object_type: Some("token".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(audit.total, 1);
    // The surviving token keeps its role.
    assert_eq!(
        s.authenticate_token("h1")
            .await
            .expect("auth")
            .map(|t| t.role),
        Some(Role::Viewer)
    );
}

// --- misc (issue 8) -------------------------------------------------------------------------

/// Poll every future together (no runtime needed), so their statements interleave.
async fn join_all<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut futs: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in futs.iter_mut().zip(done.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    done.into_iter().flatten().collect()
}

/// Regression: a create racing past the name check hit the unique key, and the conflict said
/// "token secret already in use" (or, for other keys, the driver's text, sent as the 409
/// body). Every losing create is a `Conflict` that names the token and no table or column.
pub async fn tokens_concurrent_duplicate_names_conflict_cleanly(s: &dyn Store) {
    let hashes: Vec<String> = (0..6).map(|i| format!("race-hash-{i}")).collect();
    let results = join_all(
        hashes
            .iter()
            .map(|h| s.create_token("race", Role::Viewer, h, "cli:root"))
            .collect(),
    )
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    for r in results.into_iter().filter_map(Result::err) {
        let StoreError::Conflict(msg) = &r else {
            panic!("not a conflict: {r:?}");
        };
        assert!(msg.contains("\"race\""), "{msg:?} does not name the token");
        for leak in [
            "UNIQUE",
            "constraint",
            "duplicate key",
            "tokens.",
            "tokens_",
            "secret",
        ] {
            assert!(!msg.contains(leak), "{msg:?} leaks {leak:?}");
        }
    }
    assert_eq!(s.list_tokens().await.expect("list").len(), 1);
}

// --- server: token cache ---------------------------------------------------------------------

/// `active_tokens` lists non-revoked tokens with their hashes; `record_token_use` writes a
/// batch of last uses, never moving one back, ignoring unknown ids, touching nothing else.
pub async fn tokens_active_listing_and_batched_use(s: &dyn Store) {
    let a = s
        .create_token("a", Role::Viewer, "hash-a", "cli:root")
        .await
        .expect("create");
    let b = s
        .create_token("b", Role::Admin, "hash-b", "cli:root")
        .await
        .expect("create");
    assert_eq!(
        active(s).await,
        vec![
            ("hash-a".to_string(), "a".to_string(), Role::Viewer),
            ("hash-b".to_string(), "b".to_string(), Role::Admin)
        ]
    );
    s.revoke_token("b", "cli:root").await.expect("revoke");
    assert_eq!(
        active(s).await,
        vec![("hash-a".to_string(), "a".to_string(), Role::Viewer)]
    );

    s.record_token_use(&[]).await.expect("empty batch");
    s.record_token_use(&[
        (a.id, Timestamp(T0 + 5)),
        (b.id, Timestamp(T0 + 7)),
        (-1, Timestamp(T0)),
    ])
    .await
    .expect("batch");
    assert_eq!(
        last_used(s).await,
        vec![
            ("a".to_string(), Some(Timestamp(T0 + 5))),
            ("b".to_string(), Some(Timestamp(T0 + 7)))
        ]
    );
    // An older use reported later (another node) does not move the last use back.
    s.record_token_use(&[(a.id, Timestamp(T0 + 1)), (b.id, Timestamp(T0 + 9))])
        .await
        .expect("batch");
    assert_eq!(
        last_used(s).await,
        vec![
            ("a".to_string(), Some(Timestamp(T0 + 5))),
            ("b".to_string(), Some(Timestamp(T0 + 9)))
        ]
    );
    // Uses are not audited: only the two creations and the revocation are.
    let audit = s
        .list_audit(&AuditFilter {
            object_type: Some("token".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(audit.total, 3);
}

async fn active(s: &dyn Store) -> Vec<(String, String, Role)> {
    let mut v: Vec<(String, String, Role)> = s
        .active_tokens()
        .await
        .expect("active")
        .into_iter()
        .map(|(h, t)| (h, t.name, t.role))
        .collect();
    v.sort();
    v
}

async fn last_used(s: &dyn Store) -> Vec<(String, Option<Timestamp>)> {
    let mut v: Vec<(String, Option<Timestamp>)> = s
        .list_tokens()
        .await
        .expect("list")
        .into_iter()
        .map(|t| (t.name, t.last_used_at))
        .collect();
    v.sort();
    v
}

// --- atomic batches and idempotency -------------------------------------------------------

fn idempotency(caller: &str, key: &str, hash: &str, created_at: i64) -> IdempotencyRecord {
    IdempotencyRecord {
        caller: caller.into(),
        key: key.into(),
        request_hash: hash.into(),
        status: 202,
        response: serde_json::json!({"events": 1, "accepted": 1}),
        created_at: Timestamp(created_at),
        expires_at: Timestamp(created_at + 86_400_000),
    }
}

fn one_incident_changes(title: &str) -> ChangeSet {
    ChangeSet {
        changes: vec![
            Change::CreateIncident {
                temp: 0,
                state: state(title, Severity::High, 50, vec![]),
            },
            Change::InsertAlert {
                alert: draft("d", Severity::High, vec![], 0),
                incident: IncidentRef::New(0),
            },
        ],
    }
}

/// One batch stores events, checkpoint, change set, endpoints and idempotency record.
pub async fn commit_batch_stores_everything(s: &dyn Store) {
    let cp = Checkpoint {
        source: "/var/log/a.log".into(),
        file_id: "f".into(),
        offset: 99,
    };
    let events = [
        event(0, "192.0.2.1", "/a", 200),
        event(1, "192.0.2.1", "/b", 200),
    ];
    let changes = one_incident_changes("batch");
    let endpoints = [endpoint("api.example.com", "GET", "/a", 1)];
    let rec = idempotency("ingest", "k1", "h1", T0);
    let out = s
        .commit_batch(&Batch {
            events: &events,
            checkpoint: Some(&cp),
            changes: Some(&changes),
            endpoints: &endpoints,
            idempotency: Some(&rec),
        })
        .await
        .expect("commit");
    let BatchOutcome::Committed(applied) = out else {
        panic!("expected a commit: {out:?}");
    };
    assert_eq!(
        (applied.incident_ids.len(), applied.alert_ids.len()),
        (1, 1)
    );
    let st = s.stats().await.expect("stats");
    assert_eq!(
        (st.events, st.alerts, st.incidents, st.endpoints),
        (2, 1, 1, 1)
    );
    assert_eq!(s.get_checkpoint(&cp.source).await.expect("cp"), Some(cp));
    assert_eq!(
        s.get_idempotency("ingest", "k1", Timestamp(T0))
            .await
            .expect("get"),
        Some(rec)
    );
    // An empty batch commits nothing and fails nothing.
    assert_eq!(
        s.commit_batch(&Batch::default()).await.expect("empty"),
        BatchOutcome::Committed(Default::default())
    );
}

/// Regression (issue 8.7): a batch whose change set fails leaves neither its events, nor its
/// checkpoint, endpoints or idempotency record behind.
pub async fn commit_batch_is_all_or_nothing(s: &dyn Store) {
    let good = Checkpoint {
        source: "src".into(),
        file_id: "f".into(),
        offset: 10,
    };
    s.insert_events(&[event(0, "192.0.2.1", "/a", 200)], Some(&good))
        .await
        .expect("insert");
    let bad_cp = Checkpoint {
        offset: 20,
        ..good.clone()
    };
    let mut changes = one_incident_changes("lost");
    changes.changes.push(Change::InsertAlert {
        alert: draft("d", Severity::High, vec![], 0),
        incident: IncidentRef::Existing(987_654),
    });
    let rec = idempotency("ingest", "k1", "h1", T0);
    let err = s
        .commit_batch(&Batch {
            events: &[
                event(1, "192.0.2.1", "/b", 200),
                event(2, "192.0.2.1", "/c", 200),
            ],
            checkpoint: Some(&bad_cp),
            changes: Some(&changes),
            endpoints: &[endpoint("api.example.com", "GET", "/b", 1)],
            idempotency: Some(&rec),
        })
        .await
        .expect_err("unknown incident");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let paths: Vec<String> = s
        .list_events(&EventQuery::default())
        .await
        .expect("list")
        .into_iter()
        .map(|e| e.event.path.into_owned())
        .collect();
    assert_eq!(paths, vec!["/a".to_string()]);
    assert_eq!(s.get_checkpoint("src").await.expect("get"), Some(good));
    let st = s.stats().await.expect("stats");
    assert_eq!((st.alerts, st.incidents, st.endpoints), (0, 0, 0));
    assert_eq!(
        s.list_audit(&AuditFilter::default())
            .await
            .expect("audit")
            .total,
        0
    );
    assert_eq!(
        s.get_idempotency("ingest", "k1", Timestamp(T0))
            .await
            .expect("get"),
        None,
        "the key of a failed request stays free"
    );
    // A failing checkpoint fails the change set with it.
    let huge = Checkpoint {
        offset: u64::MAX,
        ..bad_cp
    };
    let changes = one_incident_changes("also lost");
    s.commit_batch(&Batch {
        checkpoint: Some(&huge),
        changes: Some(&changes),
        ..Default::default()
    })
    .await
    .expect_err("offset out of range");
    assert_eq!(s.stats().await.expect("stats").incidents, 0);
}

/// A key is stored with its batch; the same caller's key again stores nothing and returns the
/// first record; keys are per caller, and expire.
pub async fn commit_batch_idempotency_keys(s: &dyn Store) {
    let first = idempotency("ingest", "k1", "h1", T0);
    let commit = |events: Vec<ApiEvent<'static>>, rec: IdempotencyRecord| async move {
        s.commit_batch(&Batch {
            events: &events,
            idempotency: Some(&rec),
            ..Default::default()
        })
        .await
        .expect("commit")
    };
    assert!(matches!(
        commit(vec![event(0, "192.0.2.1", "/a", 200)], first.clone()).await,
        BatchOutcome::Committed(_)
    ));
    // A retry (even one whose body differs: the caller compares hashes) stores nothing.
    let mut retry = idempotency("ingest", "k1", "h2", T0 + 1000);
    retry.response = serde_json::json!({"other": true});
    assert_eq!(
        commit(vec![event(1, "192.0.2.1", "/b", 200)], retry).await,
        BatchOutcome::Duplicate(first.clone())
    );
    assert_eq!(s.stats().await.expect("stats").events, 1);
    // Another caller's key of the same name is its own.
    assert!(matches!(
        commit(
            vec![event(2, "192.0.2.1", "/c", 200)],
            idempotency("other", "k1", "h1", T0)
        )
        .await,
        BatchOutcome::Committed(_)
    ));
    assert_eq!(s.stats().await.expect("stats").events, 2);
    let day = 86_400_000;
    assert_eq!(
        s.get_idempotency("ingest", "k1", Timestamp(T0 + day - 1))
            .await
            .expect("get"),
        Some(first)
    );
    assert_eq!(
        s.get_idempotency("ingest", "k1", Timestamp(T0 + day))
            .await
            .expect("get"),
        None,
        "expired"
    );
    assert_eq!(
        s.get_idempotency("nobody", "k1", Timestamp(T0))
            .await
            .expect("get"),
        None
    );
    // After expiry the key is free again: the old record is replaced.
    let later = idempotency("ingest", "k1", "h3", T0 + day);
    assert!(matches!(
        commit(vec![event(3, "192.0.2.1", "/d", 200)], later.clone()).await,
        BatchOutcome::Committed(_)
    ));
    assert_eq!(
        s.get_idempotency("ingest", "k1", Timestamp(T0 + day))
            .await
            .expect("get"),
        Some(later)
    );
    assert_eq!(s.stats().await.expect("stats").events, 3);
}

/// Regression (issue 8.1): a row that does not decode is skipped by every list (and counted),
/// not fatal to the whole call; reading it alone is `Corrupt`. `raw` runs one SQL statement
/// on the backend (the same SQL works on every backend here).
pub async fn unreadable_rows_are_skipped<F, Fut>(s: &dyn Store, raw: F)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (good_incident, good_alert) = incident_with_alert(
        s,
        state("good", Severity::High, 50, vec![]),
        draft("good", Severity::High, vec![], 0),
    )
    .await;
    let (bad_incident, bad_alert) = incident_with_alert(
        s,
        state("bad", Severity::High, 40, vec![]),
        draft("bad", Severity::High, vec![], 0),
    )
    .await;
    // An alert of the good incident that no longer decodes.
    let applied = s
        .apply(&ChangeSet {
            changes: vec![Change::InsertAlert {
                alert: draft("late", Severity::Low, vec![], 10),
                incident: IncidentRef::Existing(good_incident),
            }],
        })
        .await
        .expect("apply");
    let unreadable_alert = applied.alert_ids[0];
    s.insert_events(
        &[
            event(0, "192.0.2.1", "/a", 200),
            event(1, "192.0.2.1", "/b", 200),
        ],
        None,
    )
    .await
    .expect("insert");
    s.upsert_endpoints(&[
        endpoint("api.example.com", "GET", "/a", 1),
        endpoint("api.example.com", "GET", "/b", 1),
    ])
    .await
    .expect("endpoints");
    s.create_token("good", Role::Viewer, "h1", "t")
        .await
        .expect("token");
    s.create_token("bad", Role::Viewer, "h2", "t")
        .await
        .expect("token");
    let before = s.unreadable_rows();
    for sql in [
        // What a year-10000 alert looked like once stored.
        format!(
            "UPDATE alerts SET draft = '{{\"first_seen\":\"+10000-01-01T00:00:00.000Z\"}}' \
             WHERE id = {unreadable_alert}"
        ),
        format!("UPDATE incidents SET entities = 'not json' WHERE id = {bad_incident}"),
        // an event whose blob has no such position
        "UPDATE events SET blob_pos = 99 WHERE path = '/b'".to_string(),
        // events written before event blobs, extra and raw inline: one readable, one not
        format!(
            "INSERT INTO events (ts, client_ip, method, host, path, query, status, user_agent, \
             kind, source_format, extra, raw) VALUES ({}, '192.0.2.1', 'GET', \
             'api.example.com', '/c', '', 200, '', 'access', 'combined', \
             '{{\"referer\":\"https://r.example/\"}}', 'an old line')",
            T0 + 2
        ),
        format!(
            "INSERT INTO events (ts, client_ip, method, host, path, query, status, user_agent, \
             kind, source_format, extra, raw) VALUES ({}, '192.0.2.1', 'GET', \
             'api.example.com', '/d', '', 200, '', 'access', 'combined', 'not json', 'x')",
            T0 + 3
        ),
        "UPDATE endpoints SET data = 'not json' WHERE path_template = '/b'".to_string(),
        "UPDATE tokens SET role = 'emperor' WHERE name = 'bad'".to_string(),
        "INSERT INTO audit (at, actor, action, object_type, object_id, details) \
         VALUES (1, 'a', 'x', 't', '1', 'not json')"
            .to_string(),
    ] {
        raw(sql).await;
    }
    let alerts = s
        .list_alerts(&AlertFilter::default())
        .await
        .expect("alerts");
    let mut ids: Vec<i64> = alerts.items.iter().map(|a| a.id).collect();
    ids.sort();
    assert_eq!(ids, vec![good_alert, bad_alert]);
    let incidents = s
        .list_incidents(&IncidentFilter::default())
        .await
        .expect("incidents");
    assert_eq!(
        incidents.items.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![good_incident]
    );
    let d = s
        .get_incident(good_incident)
        .await
        .expect("detail")
        .expect("exists");
    assert_eq!(
        d.alerts.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![good_alert]
    );
    let summaries = s.incident_summaries(Timestamp(0)).await.expect("summaries");
    assert_eq!(
        summaries.iter().map(|x| x.incident.id).collect::<Vec<_>>(),
        vec![good_incident]
    );
    let events = s.list_events(&EventQuery::default()).await.expect("events");
    assert_eq!(
        events
            .iter()
            .map(|e| e.event.path.as_ref())
            .collect::<Vec<_>>(),
        vec!["/a", "/c"]
    );
    assert_eq!(events[0].event.raw, "192.0.2.1 GET /a 200");
    assert_eq!(
        (
            events[1].event.raw.as_ref(),
            events[1].event.referer.as_ref()
        ),
        ("an old line", "https://r.example/")
    );
    let eps = s.list_endpoints().await.expect("endpoints");
    assert_eq!(
        eps.iter()
            .map(|e| e.path_template.as_str())
            .collect::<Vec<_>>(),
        vec!["/a"]
    );
    let tokens = s.list_tokens().await.expect("tokens");
    assert_eq!(
        tokens.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        vec!["good"]
    );
    let audit = s.list_audit(&AuditFilter::default()).await.expect("audit");
    assert!(audit.items.iter().all(|a| a.action != "x"), "{audit:?}");
    assert!(!audit.items.is_empty());
    // Alone, a bad row is an error that says so.
    for err in [
        s.get_alert(unreadable_alert).await.expect_err("bad alert"),
        s.get_incident(bad_incident)
            .await
            .expect_err("bad incident"),
    ] {
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    }
    assert!(s.get_alert(good_alert).await.expect("good").is_some());
    assert!(
        s.unreadable_rows() - before >= 9,
        "skipped rows are counted: {}",
        s.unreadable_rows() - before
    );
}

/// The error and its sources, as one line (a driver's message is in a source).
fn error_chain(e: &StoreError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The audit table refuses UPDATE and DELETE (a trigger in each backend's migrations). `raw`
/// runs one SQL statement on the backend and returns the number of rows changed.
pub async fn audit_rows_cannot_be_changed_or_deleted<F, Fut>(s: &dyn Store, raw: F)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<u64, StoreError>>,
{
    s.append_audit(&[NewAudit {
        at: Timestamp(1),
        actor: "a".into(),
        action: "x".into(),
        object_type: "t".into(),
        object_id: "1".into(),
        details: serde_json::Value::Null,
    }])
    .await
    .expect("append");
    for sql in ["UPDATE audit SET actor = 'b'", "DELETE FROM audit"] {
        let err = raw(sql.to_string()).await.expect_err(sql);
        let text = error_chain(&err);
        assert!(text.contains("append-only"), "{sql}: {text}");
    }
    let page = s.list_audit(&AuditFilter::default()).await.expect("list");
    assert_eq!(page.items[0].actor, "a");
}

/// Regression: a unique violation became a `Conflict` carrying the driver's text
/// (`UNIQUE constraint failed: tokens.name`), which the API sends as the 409 body. Each
/// backend names its unique keys its own way (its dialect's `violated_key`); `raw` runs what a
/// second writer racing past the name check would run.
pub async fn unique_violations_carry_no_driver_text<F, Fut>(s: &dyn Store, raw: F)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<u64, StoreError>>,
{
    s.create_token("ci", Role::Admin, "h1", "test")
        .await
        .expect("create");
    for (name, hash, expected) in [
        ("ci", "h2", "a token with this name already exists"),
        ("other", "h1", "token secret already in use"),
    ] {
        let err = raw(format!(
            "INSERT INTO tokens (name, role, secret_hash, created_at) \
             VALUES ('{name}', 'admin', '{hash}', 0)"
        ))
        .await
        .expect_err("duplicate");
        let StoreError::Conflict(msg) = &err else {
            panic!("{name}: not a conflict: {err:?}");
        };
        assert_eq!(msg, expected, "{name}");
    }
}

/// `incident_trails` answers every alert, audit entry (oldest first) and action of the
/// incidents asked for, and nothing of the others, however many ids are asked at once.
pub async fn incident_trails_read_alerts_audit_and_actions_in_bulk(s: &dyn Store) {
    let (a, alert_a) = incident_with_alert(
        s,
        state("a", Severity::High, 60, vec![]),
        draft("brute_force", Severity::High, vec![], 0),
    )
    .await;
    let (b, _) = incident_with_alert(
        s,
        state("b", Severity::Low, 5, vec![]),
        draft("scanner", Severity::Low, vec![], 0),
    )
    .await;
    s.update_incident(
        a,
        &IncidentPatch {
            assigned_to: Some(Some("ana".into())),
            ..patch()
        },
        "user:ana",
    )
    .await
    .expect("assign");
    s.update_incident(
        a,
        &IncidentPatch {
            status: Some(IncidentStatus::Resolved),
            ..patch()
        },
        "rule:close",
    )
    .await
    .expect("resolve");
    s.update_incident(
        b,
        &IncidentPatch {
            assigned_to: Some(Some("bo".into())),
            ..patch()
        },
        "user:bo",
    )
    .await
    .expect("assign b");
    let act = s
        .create_action(
            &new_action("203.0.113.7", ActionStatus::Active, Some(a)),
            "rule:block",
        )
        .await
        .expect("action");
    s.create_action(
        &new_action("203.0.113.8", ActionStatus::Active, Some(b)),
        "token:alice",
    )
    .await
    .expect("action b");

    // more ids than one statement binds, most of them unknown
    let mut ids: Vec<i64> = (1_000_000..1_001_200).collect();
    ids.push(a);
    let t = s.incident_trails(&ids).await.expect("trails");
    assert_eq!(t.alerts.len(), 1, "{t:?}");
    assert_eq!(t.alerts[0].0, a);
    assert_eq!(t.alerts[0].1, "brute_force");
    let stored = s.get_alert(alert_a).await.expect("alert").expect("some");
    assert_eq!(t.alerts[0].2, stored.created_at);
    assert!(t
        .audit
        .iter()
        .all(|e| e.object_type == "incident" && e.object_id == a.to_string()));
    let fields: Vec<_> = t
        .audit
        .iter()
        .filter_map(|e| {
            e.details
                .get("field")
                .and_then(|v| v.as_str())
                .map(|f| (f, e.actor.as_str()))
        })
        .collect();
    let assign = fields
        .iter()
        .position(|f| *f == ("assigned_to", "user:ana"));
    let resolve = fields.iter().position(|f| *f == ("status", "rule:close"));
    assert!(
        assign.is_some() && resolve.is_some() && assign < resolve,
        "oldest first: {fields:?}"
    );
    assert!(t
        .audit
        .windows(2)
        .all(|w| (w[0].at, w[0].id) <= (w[1].at, w[1].id)));
    assert_eq!(t.actions.len(), 1);
    assert_eq!(t.actions[0].id, act.id);
    assert_eq!(t.actions[0].action.requested_by, "token:alice");

    let both = s.incident_trails(&[a, b]).await.expect("both");
    assert_eq!(both.alerts.len(), 2);
    assert_eq!(both.actions.len(), 2);
    assert!(both
        .audit
        .iter()
        .any(|e| e.object_id == b.to_string() && e.actor == "user:bo"));
    assert_eq!(
        s.incident_trails(&[]).await.expect("none"),
        IncidentTrails::default()
    );
}

// --- containment actions --------------------------------------------------------------------

pub(crate) fn new_action(
    target: &str,
    status: ActionStatus,
    incident_id: Option<i64>,
) -> NewAction {
    let active = status == ActionStatus::Active;
    NewAction {
        kind: ActionKind::BlockIp,
        target: target.to_string(),
        scope: ActionScope::default(),
        rate: None,
        reason: "credential stuffing".into(),
        incident_id,
        requested_by: "token:alice".into(),
        status,
        created_at: Timestamp(T0),
        starts_at: active.then_some(Timestamp(T0)),
        expires_at: active.then_some(Timestamp(T0 + 60_000)),
        duration_secs: 60,
    }
}

async fn audit_actions_of(s: &dyn Store, id: i64) -> Vec<String> {
    let page = s
        .list_audit(&AuditFilter {
            object_type: Some("action".into()),
            object_id: Some(id.to_string()),
            ..AuditFilter::default()
        })
        .await
        .expect("audit");
    let mut names: Vec<String> = page.items.into_iter().map(|e| e.action).collect();
    names.reverse();
    names
}

/// Actions are stored whole, listed newest first with their filters and total, and read back
/// one by one; creating one is audited.
pub async fn actions_create_list_filter_get(s: &dyn Store) {
    let a = s
        .create_action(
            &new_action("203.0.113.7", ActionStatus::Active, Some(3)),
            "token:alice",
        )
        .await
        .expect("create");
    let mut rate = new_action("ip:203.0.113.8", ActionStatus::Active, None);
    rate.kind = ActionKind::RateLimit;
    rate.rate = Some(RateLimit {
        requests: 10,
        window_secs: 60,
    });
    rate.scope.host = Some("api.example.com".into());
    let b = s.create_action(&rate, "token:alice").await.expect("create");
    let c = s
        .create_action(
            &new_action("198.51.0.0/16", ActionStatus::PendingApproval, Some(3)),
            "token:alice",
        )
        .await
        .expect("create");
    assert!(a.id < b.id && b.id < c.id);
    assert_eq!(
        (a.status(), a.denied, a.approved_by.as_deref()),
        (ActionStatus::Active, 0, None)
    );
    assert_eq!(s.get_action(b.id).await.expect("get"), Some(b.clone()));
    assert_eq!(s.get_action(c.id + 1000).await.expect("get"), None);

    let ids = |p: rampart_model::Page<Action>| {
        (p.items.iter().map(|a| a.id).collect::<Vec<_>>(), p.total)
    };
    let all = s
        .list_actions(&ActionFilter::default())
        .await
        .expect("list");
    assert_eq!(ids(all), (vec![c.id, b.id, a.id], 3));
    let f = |status, incident_id| ActionFilter {
        status,
        incident_id,
        ..ActionFilter::default()
    };
    for (filter, want) in [
        (f(Some(ActionStatus::Active), None), vec![b.id, a.id]),
        (f(Some(ActionStatus::PendingApproval), None), vec![c.id]),
        (f(None, Some(3)), vec![c.id, a.id]),
        (f(Some(ActionStatus::Active), Some(3)), vec![a.id]),
        (f(Some(ActionStatus::Reverted), None), vec![]),
        (f(None, Some(4)), vec![]),
    ] {
        let got = s.list_actions(&filter).await.expect("list");
        assert_eq!(
            got.items.iter().map(|a| a.id).collect::<Vec<_>>(),
            want,
            "{filter:?}"
        );
    }
    let page = s
        .list_actions(&ActionFilter {
            limit: Some(1),
            offset: Some(1),
            ..ActionFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(ids(page), (vec![b.id], 3));
    assert_eq!(audit_actions_of(s, a.id).await, vec!["action.create"]);

    // by who asked (a literal prefix) and since when
    let mut later = new_action("203.0.113.9", ActionStatus::Active, Some(3));
    later.requested_by = "disruption:account_takeover".into();
    later.created_at = Timestamp(T0 + 5_000);
    let d = s
        .create_action(&later, "disruption:account_takeover")
        .await
        .expect("create");
    let by = |prefix: &str, since: Option<i64>| ActionFilter {
        requested_by: Some(prefix.to_string()),
        created_since: since.map(Timestamp),
        ..ActionFilter::default()
    };
    for (filter, want) in [
        (by("disruption:", None), vec![d.id]),
        (by("disruption:account_takeover", None), vec![d.id]),
        (by("disruption:%", None), vec![]),
        (by("disruption_", None), vec![]),
        (by("token:", None), vec![c.id, b.id, a.id]),
        (by("token:", Some(T0 + 1)), vec![]),
        (by("", Some(T0 + 5_000)), vec![d.id]),
    ] {
        let got = s.list_actions(&filter).await.expect("list");
        assert_eq!(
            got.items.iter().map(|a| a.id).collect::<Vec<_>>(),
            want,
            "{filter:?}"
        );
    }
}

/// Approving is a compare-and-set on the status: of two approvals of one pending action,
/// exactly one succeeds and is audited; the other is a `Conflict`.
pub async fn actions_approve_is_compare_and_set(s: &dyn Store) {
    let c = s
        .create_action(
            &new_action("198.51.0.0/16", ActionStatus::PendingApproval, None),
            "token:alice",
        )
        .await
        .expect("create");
    let approve = |by: &str| ActionChange::Approve {
        by: by.into(),
        at: Timestamp(T0 + 1000),
        expires_at: Timestamp(T0 + 61_000),
    };
    let (x, y) = (approve("token:bob"), approve("token:carol"));
    let mut results = join_all(vec![
        s.update_action_state(c.id, ActionStatus::PendingApproval, &x, "token:bob"),
        s.update_action_state(c.id, ActionStatus::PendingApproval, &y, "token:carol"),
    ])
    .await;
    let r2 = results.pop().expect("two results");
    let r1 = results.pop().expect("two results");
    let oks: Vec<&Action> = [&r1, &r2]
        .into_iter()
        .filter_map(|r| r.as_ref().ok())
        .collect();
    assert_eq!(oks.len(), 1, "{r1:?} {r2:?}");
    let loser = if r1.is_ok() { &r2 } else { &r1 };
    assert!(matches!(loser, Err(StoreError::Conflict(_))), "{loser:?}");
    let stored = s.get_action(c.id).await.expect("get").expect("exists");
    assert_eq!(stored.status(), ActionStatus::Active);
    assert_eq!(stored.action.expires_at, Some(Timestamp(T0 + 61_000)));
    assert_eq!(&stored, oks[0]);
    assert_eq!(
        audit_actions_of(s, c.id).await,
        vec!["action.create", "action.approve"]
    );
    // Unknown ids are NotFound, a stale expectation a Conflict that changes nothing.
    assert!(matches!(
        s.update_action_state(c.id + 1000, ActionStatus::PendingApproval, &x, "token:bob")
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.update_action_state(c.id, ActionStatus::PendingApproval, &x, "token:bob")
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(audit_actions_of(s, c.id).await.len(), 2);
}

/// Reverting records who and why; expiry takes exactly the active actions whose time is up,
/// and each change is audited.
pub async fn actions_revert_and_expire_are_audited(s: &dyn Store) {
    let a = s
        .create_action(
            &new_action("203.0.113.7", ActionStatus::Active, None),
            "token:alice",
        )
        .await
        .expect("create");
    let b = s
        .create_action(
            &new_action("203.0.113.8", ActionStatus::Active, None),
            "token:alice",
        )
        .await
        .expect("create");
    let mut later = new_action("203.0.113.9", ActionStatus::Active, None);
    later.expires_at = Some(Timestamp(T0 + 120_000));
    let later = s
        .create_action(&later, "token:alice")
        .await
        .expect("create");
    let pending = s
        .create_action(
            &new_action("198.51.0.0/16", ActionStatus::PendingApproval, None),
            "token:alice",
        )
        .await
        .expect("create");

    let revert = ActionChange::Revert {
        by: "token:bob".into(),
        reason: "false positive".into(),
        at: Timestamp(T0 + 5000),
    };
    let r = s
        .update_action_state(a.id, ActionStatus::Active, &revert, "token:bob")
        .await
        .expect("revert");
    assert_eq!(
        (
            r.status(),
            r.reverted_by.as_deref(),
            r.revert_reason.as_deref(),
            r.reverted_at
        ),
        (
            ActionStatus::Reverted,
            Some("token:bob"),
            Some("false positive"),
            Some(Timestamp(T0 + 5000))
        )
    );
    assert_eq!(s.get_action(a.id).await.expect("get"), Some(r));
    let audit = s
        .list_audit(&AuditFilter {
            object_type: Some("action".into()),
            object_id: Some(a.id.to_string()),
            ..AuditFilter::default()
        })
        .await
        .expect("audit");
    assert_eq!(audit.items[0].action, "action.revert");
    assert_eq!(audit.items[0].actor, "token:bob");
    assert_eq!(audit.items[0].details["change"]["reason"], "false positive");

    // Expiry at T0 + 60 s: b (at its expiry), not the reverted a, the later one or the pending.
    let expired = s
        .expire_actions(Timestamp(T0 + 60_000), "system:expiry")
        .await
        .expect("expire");
    assert_eq!(
        expired
            .iter()
            .map(|x| (x.id, x.status()))
            .collect::<Vec<_>>(),
        vec![(b.id, ActionStatus::Expired)]
    );
    assert!(s
        .expire_actions(Timestamp(T0 + 60_000), "system:expiry")
        .await
        .expect("expire")
        .is_empty());
    for (id, want) in [
        (a.id, ActionStatus::Reverted),
        (b.id, ActionStatus::Expired),
        (later.id, ActionStatus::Active),
        (pending.id, ActionStatus::PendingApproval),
    ] {
        assert_eq!(
            s.get_action(id)
                .await
                .expect("get")
                .expect("exists")
                .status(),
            want
        );
    }
    assert_eq!(
        audit_actions_of(s, b.id).await,
        vec!["action.create", "action.expire"]
    );
    // A final action cannot change again.
    assert!(matches!(
        s.update_action_state(b.id, ActionStatus::Active, &revert, "token:bob")
            .await,
        Err(StoreError::Conflict(_))
    ));
}

/// What the enforcement path reads: the active set, the changes since a time (bouncer
/// deltas), a signature that moves with every change, hit counters added to by batches, and
/// each bouncer's last pull.
pub async fn enforcement_active_changes_hits_and_pulls(s: &dyn Store) {
    let empty = s.actions_signature().await.expect("signature");
    assert_eq!(empty, (0, 0));
    let a = s
        .create_action(
            &new_action("203.0.113.7", ActionStatus::Active, None),
            "token:alice",
        )
        .await
        .expect("create");
    let mut later = new_action("203.0.113.8", ActionStatus::Active, None);
    later.created_at = Timestamp(T0 + 1000);
    let b = s
        .create_action(&later, "token:alice")
        .await
        .expect("create");
    let mut p = new_action("198.51.0.0/16", ActionStatus::PendingApproval, None);
    p.created_at = Timestamp(T0 + 2000);
    let pending = s.create_action(&p, "token:alice").await.expect("create");
    let ids = |v: Vec<Action>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.active_actions().await.expect("active")),
        vec![a.id, b.id]
    );
    assert_eq!(
        s.actions_signature().await.expect("signature"),
        (2, T0 + 2000)
    );
    assert_eq!(
        ids(s
            .actions_changed_since(ActionKind::BlockIp, Timestamp(T0))
            .await
            .expect("changes")),
        vec![b.id, pending.id],
        "strictly after the time, oldest change first"
    );
    assert!(s
        .actions_changed_since(ActionKind::DisableApiKey, Timestamp(0))
        .await
        .expect("changes")
        .is_empty());

    // Reverting moves the action into the changes and the signature.
    let revert = ActionChange::Revert {
        by: "token:bob".into(),
        reason: "false positive".into(),
        at: Timestamp(T0 + 5000),
    };
    s.update_action_state(a.id, ActionStatus::Active, &revert, "token:bob")
        .await
        .expect("revert");
    assert_eq!(
        s.actions_signature().await.expect("signature"),
        (1, T0 + 5000)
    );
    let changed = s
        .actions_changed_since(ActionKind::BlockIp, Timestamp(T0 + 2000))
        .await
        .expect("changes");
    assert_eq!(
        changed
            .iter()
            .map(|x| (x.id, x.status()))
            .collect::<Vec<_>>(),
        vec![(a.id, ActionStatus::Reverted)]
    );
    assert_eq!(ids(s.active_actions().await.expect("active")), vec![b.id]);

    // Hit counters add up across batches; the last denial only moves forward.
    s.record_action_hits(&[
        (b.id, 3, Timestamp(T0 + 7000)),
        (9_999_999, 1, Timestamp(T0)),
    ])
    .await
    .expect("hits");
    s.record_action_hits(&[(b.id, 2, Timestamp(T0 + 6000))])
        .await
        .expect("hits");
    s.record_action_hits(&[]).await.expect("no hits");
    let got = s.get_action(b.id).await.expect("get").expect("exists");
    assert_eq!(
        (got.denied, got.last_denied),
        (5, Some(Timestamp(T0 + 7000)))
    );
    let listed = s
        .list_actions(&ActionFilter::default())
        .await
        .expect("list");
    assert!(listed.items.iter().any(|x| x.id == b.id && x.denied == 5));

    // Bouncer pulls: none, then the latest recorded.
    assert_eq!(s.enforcer_last_pull(7).await.expect("pull"), None);
    s.set_enforcer_last_pull(7, Timestamp(T0))
        .await
        .expect("set");
    s.set_enforcer_last_pull(7, Timestamp(T0 + 10_000))
        .await
        .expect("set");
    s.set_enforcer_last_pull(8, Timestamp(T0 + 1))
        .await
        .expect("set");
    assert_eq!(
        s.enforcer_last_pull(7).await.expect("pull"),
        Some(Timestamp(T0 + 10_000))
    );
}
// --- recovery tasks ---------------------------------------------------------------------------

fn task(kind: TaskKind, title: &str, entity: Option<Entity>) -> NewTask {
    NewTask {
        kind,
        title: title.into(),
        detail: format!("detail of {title}"),
        entity,
    }
}

async fn audit_of(s: &dyn Store, object_type: &str, id: i64) -> Vec<String> {
    let page = s
        .list_audit(&AuditFilter {
            object_type: Some(object_type.into()),
            object_id: Some(id.to_string()),
            ..AuditFilter::default()
        })
        .await
        .expect("audit");
    let mut names: Vec<String> = page.items.into_iter().map(|e| e.action).collect();
    names.reverse();
    names
}

/// Tasks are stored on their incident, oldest first; a seeded task (kind + entity) is stored
/// once however often it is seeded, custom tasks as often as they are added; each creation is
/// audited; an unknown incident is `NotFound` and stores nothing.
pub async fn tasks_create_dedupe_list_audited(s: &dyn Store) {
    let key = ent(EntityKind::ApiKey, "0123456789abcdef0123456789abcdef");
    let (inc, _) = incident_with_alert(
        s,
        state("inc", Severity::High, 10, vec![key.clone()]),
        draft("d", Severity::High, vec![key.clone()], 0),
    )
    .await;
    let seeded = vec![
        task(TaskKind::RotateKey, "rotate", Some(key.clone())),
        task(TaskKind::RevertActions, "revert", None),
    ];
    let at = Timestamp(T0 + 1000);
    let first = s
        .create_tasks(inc, &seeded, "token:tier1", at)
        .await
        .expect("seed");
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].task, seeded[0]);
    assert_eq!(
        (first[0].incident_id, first[0].done, first[0].created_at),
        (inc, false, at)
    );
    assert_eq!(first[0].created_by, "token:tier1");
    let again = s
        .create_tasks(inc, &seeded, "token:tier1", at)
        .await
        .expect("seed again");
    assert!(again.is_empty(), "seeding twice stores nothing: {again:?}");
    let custom = task(TaskKind::Custom, "call the customer", None);
    for _ in 0..2 {
        let made = s
            .create_tasks(inc, std::slice::from_ref(&custom), "token:tier1", at)
            .await
            .expect("custom");
        assert_eq!(made.len(), 1);
    }
    let listed = s.list_tasks(inc).await.expect("list");
    assert_eq!(
        listed
            .iter()
            .map(|t| t.task.title.as_str())
            .collect::<Vec<_>>(),
        vec!["rotate", "revert", "call the customer", "call the customer"]
    );
    assert_eq!(listed[0], first[0], "read back as stored");
    assert_eq!(audit_of(s, "task", first[0].id).await, vec!["task.create"]);
    assert!(s.list_tasks(inc + 1000).await.expect("list").is_empty());
    let err = s
        .create_tasks(inc + 1000, &seeded, "t", at)
        .await
        .expect_err("unknown incident");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

/// Ticking a task off records who and when, ticking it on again clears them, each audited;
/// setting what it already is audits nothing; another incident's task is `NotFound`.
pub async fn tasks_done_undone_audited_and_scoped_to_their_incident(s: &dyn Store) {
    let ip = ent(EntityKind::Ip, "203.0.113.7");
    let (a, _) = incident_with_alert(
        s,
        state("a", Severity::High, 10, vec![ip.clone()]),
        draft("d", Severity::High, vec![ip.clone()], 0),
    )
    .await;
    let (b, _) = incident_with_alert(
        s,
        state("b", Severity::High, 10, vec![ip.clone()]),
        draft("d", Severity::High, vec![ip.clone()], 0),
    )
    .await;
    let t = s
        .create_tasks(
            a,
            &[task(TaskKind::Custom, "x", None)],
            "token:a",
            Timestamp(T0),
        )
        .await
        .expect("create")
        .remove(0);
    let done = s
        .set_task_done(a, t.id, true, "token:bob", Timestamp(T0 + 5))
        .await
        .expect("done");
    assert!(done.done);
    assert_eq!(
        (done.done_by.as_deref(), done.done_at),
        (Some("token:bob"), Some(Timestamp(T0 + 5)))
    );
    assert_eq!(s.list_tasks(a).await.expect("list")[0], done);
    let same = s
        .set_task_done(a, t.id, true, "token:carol", Timestamp(T0 + 9))
        .await
        .expect("again");
    assert_eq!(same, done, "setting what it is changes nothing");
    let undone = s
        .set_task_done(a, t.id, false, "token:bob", Timestamp(T0 + 10))
        .await
        .expect("undone");
    assert_eq!(
        (undone.done, undone.done_by, undone.done_at),
        (false, None, None)
    );
    assert_eq!(
        audit_of(s, "task", t.id).await,
        vec!["task.create", "task.done", "task.undone"]
    );
    for (inc, id) in [(b, t.id), (a, t.id + 1000)] {
        let err = s
            .set_task_done(inc, id, true, "token:bob", Timestamp(T0))
            .await
            .expect_err("not found");
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    }
    assert!(!s.list_tasks(a).await.expect("list")[0].done);
}

/// Merging moves the tasks with the alerts, except seeded ones the target already has.
pub async fn alerts_resolve_audited_once(s: &dyn Store) {
    let ip = ent(EntityKind::Ip, "10.20.3.4");
    let (_, alert) = incident_with_alert(
        s,
        state("scan", Severity::Low, 10, vec![ip.clone()]),
        draft("d", Severity::Low, vec![ip.clone()], 0),
    )
    .await;
    for _ in 0..2 {
        let a = s
            .resolve_alert(alert, "allow-listed", "investigation", Timestamp(T0))
            .await
            .unwrap();
        assert_eq!(a.status, rampart_model::AlertStatus::Resolved);
    }
    let got = s.get_alert(alert).await.unwrap().unwrap();
    assert_eq!(got.status, rampart_model::AlertStatus::Resolved);
    let audit = s
        .list_audit(&AuditFilter {
            actor: Some("investigation".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.items.len(), 1, "the second resolve changes nothing");
    assert_eq!(audit.items[0].details["reason"], "allow-listed");
    assert!(matches!(
        s.resolve_alert(999_999, "x", "investigation", Timestamp(T0))
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn tasks_move_with_a_merge(s: &dyn Store) {
    let ip = ent(EntityKind::Ip, "203.0.113.7");
    let mallory = ent(EntityKind::User, "mallory");
    let (from, _) = incident_with_alert(
        s,
        state("from", Severity::Low, 5, vec![ip.clone()]),
        draft("d1", Severity::Low, vec![ip.clone()], 0),
    )
    .await;
    let (into, _) = incident_with_alert(
        s,
        state("into", Severity::High, 50, vec![ip.clone()]),
        draft("d2", Severity::High, vec![ip.clone()], 10),
    )
    .await;
    let reset = task(TaskKind::ResetPassword, "reset", Some(mallory.clone()));
    let at = Timestamp(T0);
    s.create_tasks(
        from,
        &[reset.clone(), task(TaskKind::Custom, "c", None)],
        "t",
        at,
    )
    .await
    .expect("from tasks");
    s.create_tasks(into, std::slice::from_ref(&reset), "t", at)
        .await
        .expect("into tasks");
    let st = state("into", Severity::High, 50, vec![ip.clone()]);
    s.merge_incidents(from, into, &st, "t")
        .await
        .expect("merge");
    let titles =
        |v: Vec<rampart_model::Task>| v.into_iter().map(|t| t.task.title).collect::<Vec<_>>();
    assert_eq!(
        titles(s.list_tasks(into).await.expect("into")),
        vec!["c", "reset"]
    );
    assert_eq!(
        titles(s.list_tasks(from).await.expect("from")),
        vec!["reset"]
    );
}

/// What an actor read (2xx, by method and path, most first) and when it was last seen, and
/// last seen not denied (403/429), by IP, principal or API key.
pub async fn actor_access_and_activity_from_events(s: &dyn Store) {
    let key = "0123456789abcdef0123456789abcdef";
    let mut evs = vec![
        event(0, "203.0.113.7", "/api/v1/users/1", 200),
        event(10, "203.0.113.7", "/api/v1/users/1", 200),
        event(20, "203.0.113.7", "/api/v1/orders", 201),
        event(30, "203.0.113.7", "/api/v1/admin", 404),
        event(40, "203.0.113.7", "/api/v1/users/1", 403),
        event(50, "198.51.100.1", "/api/v1/other", 200),
    ];
    for e in &mut evs[..4] {
        e.principal = Some(Cow::Borrowed("mallory"));
    }
    evs[4].principal = Some(Cow::Borrowed("mallory"));
    evs[5].api_key_id = Some(key.into());
    s.insert_events(&evs, None).await.expect("insert");
    let ip = ent(EntityKind::Ip, "203.0.113.7");
    let got = s
        .actor_access(&ip, Timestamp(T0), 10)
        .await
        .expect("access");
    let rows: Vec<(String, String, u64, i64)> = got
        .into_iter()
        .map(|a| (a.method, a.path, a.requests, a.last.millis() - T0))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("GET".into(), "/api/v1/users/1".into(), 2, 10),
            ("GET".into(), "/api/v1/orders".into(), 1, 20),
        ]
    );
    let limited = s
        .actor_access(&ent(EntityKind::User, "mallory"), Timestamp(T0 + 5), 1)
        .await
        .expect("access");
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].requests, 1, "since excludes the first event");
    let by_key = s
        .actor_access(&ent(EntityKind::ApiKey, key), Timestamp(T0), 10)
        .await
        .expect("by key");
    assert_eq!(by_key.len(), 1);

    let act = s.entity_activity(&ip).await.expect("activity");
    assert_eq!(act.last_seen, Some(Timestamp(T0 + 40)));
    assert_eq!(
        act.last_allowed,
        Some(Timestamp(T0 + 30)),
        "the 403 is a denial"
    );
    let none = s
        .entity_activity(&ent(EntityKind::User, "nobody"))
        .await
        .expect("nobody");
    assert_eq!((none.last_seen, none.last_allowed), (None, None));
    let err = s
        .entity_activity(&Entity::target_endpoint("GET /x"))
        .await
        .expect_err("not an actor");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}

// --- console users, sessions, saved views -----------------------------------------------------

/// Users: created with a hash, audited, a taken name is a conflict, listed by name.
pub async fn users_create_conflict_and_list(s: &dyn Store) {
    let u = s
        .create_user("bob", Role::Tier1, "$argon2id$hash-b", "cli")
        .await
        .expect("create");
    assert_eq!((u.name.as_str(), u.role), ("bob", Role::Tier1));
    s.create_user("alice", Role::Tier3, "$argon2id$hash-a", "cli")
        .await
        .expect("create");
    let dup = s.create_user("bob", Role::Admin, "x", "cli").await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let (found, hash) = s.user_by_name("bob").await.expect("read").expect("bob");
    assert_eq!((found, hash.as_str()), (u.clone(), "$argon2id$hash-b"));
    assert!(s.user_by_name("carol").await.expect("read").is_none());
    let names: Vec<String> = s
        .list_users()
        .await
        .expect("list")
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    let audit = s
        .list_audit(&AuditFilter {
            object_type: Some("user".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(audit.total, 2);
    assert!(audit
        .items
        .iter()
        .all(|a| a.action == "user.create" && a.actor == "cli"));
}

/// Sessions: found while live, not after their absolute end or idle time, gone after logout
/// (audited), and a sign-in is audited with its source.
pub async fn sessions_expire_idle_and_logout(s: &dyn Store) {
    let u = s
        .create_user("dana", Role::Tier2, "h", "cli")
        .await
        .expect("create");
    let now = Timestamp::now();
    let sess = Session {
        id_hash: "a".repeat(64),
        user_id: u.id,
        csrf: "csrf-token".into(),
        created_at: now,
        last_seen: now,
        expires_at: Timestamp(now.millis() + 3_600_000),
    };
    s.create_session(&sess, "192.0.2.1").await.expect("session");
    let (got, user) = s
        .session(&sess.id_hash, now, Timestamp(now.millis() - 1000))
        .await
        .expect("read")
        .expect("live");
    assert_eq!((got, user.name.as_str()), (sess.clone(), "dana"));
    assert!(user.last_login_at.is_some());
    // idle: last seen before the idle limit
    let later = Timestamp(now.millis() + 10_000);
    assert!(s
        .session(&sess.id_hash, later, Timestamp(now.millis() + 1))
        .await
        .expect("read")
        .is_none());
    s.touch_session(&sess.id_hash, Timestamp(now.millis() + 5000))
        .await
        .expect("touch");
    assert!(s
        .session(&sess.id_hash, later, Timestamp(now.millis() + 1))
        .await
        .expect("read")
        .is_some());
    // past its absolute end
    assert!(s
        .session(
            &sess.id_hash,
            Timestamp(now.millis() + 3_600_001),
            Timestamp(0)
        )
        .await
        .expect("read")
        .is_none());
    assert!(s
        .session(&"b".repeat(64), now, Timestamp(0))
        .await
        .expect("read")
        .is_none());
    assert!(s
        .delete_session(&sess.id_hash, "user:dana")
        .await
        .expect("logout"));
    assert!(!s
        .delete_session(&sess.id_hash, "user:dana")
        .await
        .expect("again"));
    assert!(s
        .session(&sess.id_hash, now, Timestamp(0))
        .await
        .expect("read")
        .is_none());
    let audit = s
        .list_audit(&AuditFilter {
            object_type: Some("user".into()),
            object_id: Some("dana".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    let actions: Vec<&str> = audit.items.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["user.logout", "user.login", "user.create"]);
    assert_eq!(audit.items[1].details["source"], "192.0.2.1");
}

/// Failed sign-ins are counted per account and per source within the window, old ones are
/// forgotten, and a success clears the account's.
pub async fn login_failures_count_by_account_and_source(s: &dyn Store) {
    let t = |ms: i64| Timestamp(T0 + ms);
    assert_eq!(
        s.add_login_failure("eve", "198.51.100.1", t(0), t(0))
            .await
            .unwrap(),
        (1, 1)
    );
    assert_eq!(
        s.add_login_failure("eve", "198.51.100.2", t(10), t(0))
            .await
            .unwrap(),
        (2, 1)
    );
    assert_eq!(
        s.add_login_failure("bob", "198.51.100.1", t(20), t(0))
            .await
            .unwrap(),
        (1, 2)
    );
    assert_eq!(
        s.login_failures("eve", "198.51.100.1", t(5)).await.unwrap(),
        (1, 1)
    );
    // a later window forgets the first two
    assert_eq!(
        s.add_login_failure("eve", "198.51.100.3", t(30), t(15))
            .await
            .unwrap(),
        (1, 1)
    );
    s.clear_login_failures("eve").await.unwrap();
    assert_eq!(
        s.login_failures("eve", "198.51.100.1", t(0)).await.unwrap(),
        (0, 1)
    );
}

/// Saved views are per user, replaced by name, and only their owner deletes them.
pub async fn saved_views_per_user(s: &dyn Store) {
    let a = s.save_view("ann", "mine", "assigned_to=ann").await.unwrap();
    s.save_view("ann", "high", "severity=High").await.unwrap();
    let again = s
        .save_view("ann", "mine", "assigned_to=ann&status=New")
        .await
        .unwrap();
    s.save_view("ben", "mine", "x=1").await.unwrap();
    let views = s.list_views("ann").await.unwrap();
    let got: Vec<(&str, &str)> = views
        .iter()
        .map(|v| (v.name.as_str(), v.query.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("high", "severity=High"),
            ("mine", "assigned_to=ann&status=New")
        ]
    );
    assert_eq!(again.id, a.id, "replaced in place");
    let ben = s.list_views("ben").await.unwrap();
    assert!(matches!(
        s.delete_view("ann", ben[0].id).await,
        Err(StoreError::NotFound { .. })
    ));
    s.delete_view("ann", a.id).await.unwrap();
    assert_eq!(s.list_views("ann").await.unwrap().len(), 1);
    assert_eq!(s.list_views("ben").await.unwrap().len(), 1);
}

/// Automation objects: created at version 1, replaced with +1, the same body again changes
/// and audits nothing, listed by name per kind, deleted (audited), unknown ones `NotFound`.
pub async fn automation_objects_versioned_idempotent_audited(s: &dyn Store) {
    let body = serde_json::json!({"name": "triage", "triggers": ["incident_created"]});
    let (a, changed) = s
        .put_automation("rule", "triage", &body, "alice")
        .await
        .unwrap();
    assert!(changed);
    assert_eq!((a.version, a.updated_by.as_str()), (1, "alice"));
    let (again, changed) = s
        .put_automation("rule", "triage", &body, "bob")
        .await
        .unwrap();
    assert!(!changed, "same body: no change");
    assert_eq!((again.version, again.updated_by.as_str()), (1, "alice"));
    let body2 = serde_json::json!({"name": "triage", "triggers": ["alert_created"]});
    let (b, changed) = s
        .put_automation("rule", "triage", &body2, "bob")
        .await
        .unwrap();
    assert!(changed);
    assert_eq!((b.version, b.body.clone()), (2, body2.clone()));
    assert_eq!(b.created_at, a.created_at);
    s.put_automation("rule", "a-first", &body, "alice")
        .await
        .unwrap();
    s.put_automation("playbook", "triage", &body, "alice")
        .await
        .unwrap();
    let names: Vec<String> = s
        .list_automation("rule")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(names, ["a-first", "triage"]);
    assert_eq!(
        s.get_automation("rule", "triage")
            .await
            .unwrap()
            .map(|o| o.body),
        Some(body2)
    );
    assert_eq!(s.get_automation("rule", "nope").await.unwrap(), None);
    s.delete_automation("rule", "triage", "carol")
        .await
        .unwrap();
    assert!(matches!(
        s.delete_automation("rule", "triage", "carol").await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(s.list_automation("playbook").await.unwrap().len(), 1);
    let audit = s
        .list_audit(&AuditFilter {
            object_type: Some("automation.rule".into()),
            object_id: Some("triage".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let got: Vec<(&str, &str)> = audit
        .items
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("automation.delete", "carol"),
            ("automation.update", "bob"),
            ("automation.create", "alice"),
        ]
    );
}

/// Walkthrough steps: per user, the first value noted is kept.
pub async fn walkthrough_steps_keep_their_first_value(s: &dyn Store) {
    s.note_walkthrough("ann", "incident", "7").await.unwrap();
    s.note_walkthrough("ann", "incident", "9").await.unwrap();
    s.note_walkthrough("ann", "story", "7").await.unwrap();
    s.note_walkthrough("ben", "incident", "3").await.unwrap();
    let mut got = s.walkthrough("ann").await.unwrap();
    got.sort();
    assert_eq!(
        got,
        [
            ("incident".to_string(), "7".to_string()),
            ("story".to_string(), "7".to_string())
        ]
    );
    assert_eq!(s.walkthrough("ben").await.unwrap().len(), 1);
    assert!(s.walkthrough("carl").await.unwrap().is_empty());
}

/// The queue's detector and technique filters: an incident has the facets of its alerts (a
/// sub-technique with its parent), and a merge gives the target the source's.
pub async fn queue_facets_follow_alerts_and_merges(s: &dyn Store) {
    let ip = ent(EntityKind::Ip, "198.51.100.40");
    let mut brute = draft("API_BruteForce", Severity::High, vec![ip.clone()], 0);
    brute.mitre = vec!["T1110.004".into()];
    let (a, _) =
        incident_with_alert(s, state("a", Severity::High, 10, vec![ip.clone()]), brute).await;
    let (b, _) = incident_with_alert(
        s,
        state("b", Severity::High, 10, vec![ip.clone()]),
        draft("API_BOLA", Severity::High, vec![ip.clone()], 0),
    )
    .await;
    let by = |detector: Option<&str>, techniques: &[&str]| IncidentFilter {
        detector: detector.map(str::to_string),
        techniques: techniques.iter().map(|t| t.to_string()).collect(),
        ..Default::default()
    };
    assert_eq!(
        list_ids(s, &by(None, &["T1110"])).await,
        (vec![a], 1),
        "parent technique"
    );
    assert_eq!(list_ids(s, &by(None, &["T1110.004"])).await, (vec![a], 1));
    assert_eq!(
        list_ids(s, &by(Some("API_BruteForce"), &[])).await,
        (vec![a], 1)
    );
    let (_, _, b_state) = (a, b, state("b", Severity::High, 10, vec![ip.clone()]));
    s.merge_incidents(a, b, &b_state, "token:tier1")
        .await
        .expect("merge");
    assert_eq!(
        list_ids(s, &by(Some("API_BruteForce"), &[])).await.0,
        vec![b],
        "moved with the alert"
    );
    assert_eq!(list_ids(s, &by(None, &["T1110"])).await.0, vec![b]);
    assert_eq!(
        list_ids(s, &by(Some("API_BOLA"), &["T1110"])).await.0,
        vec![b]
    );
}

/// Disabling a user or replacing its password ends its sessions at once, audited; enabling
/// it again lets it sign in (a new session) but does not bring the old ones back.
pub async fn users_disable_and_password_end_their_sessions(s: &dyn Store) {
    let u = s
        .create_user("fay", Role::Tier1, "h1", "cli")
        .await
        .unwrap();
    let now = Timestamp::now();
    let session = |n: char| Session {
        id_hash: n.to_string().repeat(64),
        user_id: u.id,
        csrf: "c".into(),
        created_at: now,
        last_seen: now,
        expires_at: Timestamp(now.millis() + 3_600_000),
    };
    let live = |n: char| {
        let h = n.to_string().repeat(64);
        async move { s.session(&h, now, Timestamp(0)).await.unwrap().is_some() }
    };
    s.create_session(&session('a'), "test").await.unwrap();
    assert!(live('a').await);
    let off = s.set_user_disabled("fay", true, "user:boss").await.unwrap();
    assert!(off.disabled_at.is_some());
    assert!(!live('a').await, "disabling ends the session");
    // again: nothing changes, nothing audited
    s.set_user_disabled("fay", true, "user:boss").await.unwrap();
    let on = s
        .set_user_disabled("fay", false, "user:boss")
        .await
        .unwrap();
    assert!(on.disabled_at.is_none());
    assert!(!live('a').await, "the old session stays ended");
    s.create_session(&session('b'), "test").await.unwrap();
    assert!(live('b').await);
    s.set_user_password("fay", "h2", "user:boss").await.unwrap();
    assert!(!live('b').await, "a new password ends the sessions");
    assert_eq!(s.user_by_name("fay").await.unwrap().unwrap().1, "h2");
    assert!(matches!(
        s.set_user_disabled("nobody", true, "x").await,
        Err(StoreError::NotFound { .. })
    ));
    let audit = s
        .list_audit(&AuditFilter {
            object_type: Some("user".into()),
            object_id: Some("fay".into()),
            actor: Some("user:boss".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = audit.items.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["user.password", "user.enable", "user.disable"]);
    assert!(!format!("{audit:?}").contains("h2"), "no hash in the audit");
}

fn delivery(webhook: &str, event: &str, n: i64, max_attempts: u32) -> rampart_model::NewDelivery {
    rampart_model::NewDelivery {
        webhook: webhook.into(),
        event: event.into(),
        payload: serde_json::json!({"event": event, "n": n}),
        max_attempts,
    }
}

/// The outbox: deliveries are claimed oldest first under a lease that hides them from other
/// claims until it expires; success and failure need the lease; a failure is due again at its
/// retry time, and the last allowed attempt makes it a dead letter.
pub async fn webhook_deliveries_claim_lease_and_backoff(s: &dyn Store) {
    use rampart_model::{DeliveryFilter, DeliveryStatus};
    let t0 = Timestamp(1_700_000_000_000);
    let at = |ms: i64| Timestamp(t0.millis() + ms);
    let ids = s
        .enqueue_deliveries(
            &[
                delivery("siem", "incident_created", 1, 6),
                delivery("siem", "incident_updated", 2, 2),
            ],
            t0,
        )
        .await
        .unwrap();
    let later = s
        .enqueue_deliveries(&[delivery("chat", "action_created", 3, 6)], at(10))
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert!(s.enqueue_deliveries(&[], t0).await.unwrap().is_empty());
    // not due yet at t0 - 1
    assert!(s
        .claim_deliveries(at(-1), at(1000), 10)
        .await
        .unwrap()
        .is_empty());
    let lease = at(30_000);
    let first = s.claim_deliveries(at(20), lease, 2).await.unwrap();
    assert_eq!(first.iter().map(|d| d.id).collect::<Vec<_>>(), ids);
    assert_eq!(first[0].payload["n"], 1);
    assert_eq!(first[0].status, DeliveryStatus::Pending);
    assert_eq!(first[0].claimed_until, Some(lease));
    assert_eq!(first[1].max_attempts, 2);
    let second = s.claim_deliveries(at(20), lease, 10).await.unwrap();
    assert_eq!(second.iter().map(|d| d.id).collect::<Vec<_>>(), later);
    assert!(
        s.claim_deliveries(at(29_999), at(60_000), 10)
            .await
            .unwrap()
            .is_empty(),
        "leased deliveries are hidden"
    );
    // success needs the lease
    assert!(!s
        .record_delivery_success(ids[0], at(1), 200, at(25))
        .await
        .unwrap());
    assert!(s
        .record_delivery_success(ids[0], lease, 204, at(25))
        .await
        .unwrap());
    assert!(
        !s.record_delivery_success(ids[0], lease, 204, at(25))
            .await
            .unwrap(),
        "once"
    );
    let done = s.get_delivery(ids[0]).await.unwrap().unwrap();
    assert_eq!(
        (
            done.status,
            done.attempts,
            done.last_status,
            done.delivered_at
        ),
        (DeliveryStatus::Delivered, 1, Some(204), Some(at(25)))
    );
    // pruning keeps what was delivered after the cut and everything not delivered
    assert_eq!(s.prune_deliveries(at(25)).await.unwrap(), 0);
    assert!(s.get_delivery(ids[0]).await.unwrap().is_some());
    // failure: due again at the retry time, then dead after max_attempts (2)
    assert_eq!(
        s.record_delivery_failure(ids[1], lease, "http 500", Some(500), at(5_000))
            .await
            .unwrap(),
        Some(DeliveryStatus::Pending)
    );
    assert_eq!(
        s.record_delivery_failure(ids[1], lease, "again", None, at(5_000))
            .await
            .unwrap(),
        None,
        "the lease was released"
    );
    let failed = s.get_delivery(ids[1]).await.unwrap().unwrap();
    assert_eq!(
        (
            failed.attempts,
            failed.claimed_until,
            failed.next_attempt_at,
            failed.last_error.as_deref()
        ),
        (1, None, at(5_000), Some("http 500"))
    );
    // the third delivery's lease is still held at 4 999; the second is not due
    assert!(s
        .claim_deliveries(at(4_999), at(9_000), 10)
        .await
        .unwrap()
        .is_empty());
    let again = s.claim_deliveries(at(5_000), at(9_000), 10).await.unwrap();
    assert_eq!(again.iter().map(|d| d.id).collect::<Vec<_>>(), [ids[1]]);
    assert_eq!(
        s.record_delivery_failure(ids[1], at(9_000), "timed out", None, at(10_000))
            .await
            .unwrap(),
        Some(DeliveryStatus::Dead)
    );
    // the expired lease of the third lets it be claimed again
    let reclaimed = s
        .claim_deliveries(at(30_000), at(40_000), 10)
        .await
        .unwrap();
    assert_eq!(reclaimed.iter().map(|d| d.id).collect::<Vec<_>>(), later);
    let dead = s
        .list_deliveries(&DeliveryFilter {
            status: Some(DeliveryStatus::Dead),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(dead.iter().map(|d| d.id).collect::<Vec<_>>(), [ids[1]]);
    assert_eq!(dead[0].last_error.as_deref(), Some("timed out"));
    let siem = s
        .list_deliveries(&DeliveryFilter {
            webhook: Some("siem".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        siem.iter().map(|d| d.id).collect::<Vec<_>>(),
        [ids[1], ids[0]],
        "newest first"
    );
    assert_eq!(s.get_delivery(999_999).await.unwrap(), None);
    // delivered before the cut: pruned; the dead letter and the pending one stay
    assert_eq!(s.prune_deliveries(at(26)).await.unwrap(), 1);
    assert_eq!(s.get_delivery(ids[0]).await.unwrap(), None);
    assert!(s.get_delivery(ids[1]).await.unwrap().is_some());
    assert!(s.get_delivery(later[0]).await.unwrap().is_some());
}

/// A dead letter can be sent again (audited); anything else cannot.
pub async fn webhook_dead_letters_retry_audited(s: &dyn Store) {
    use rampart_model::DeliveryStatus;
    let t0 = Timestamp(1_700_000_000_000);
    let ids = s
        .enqueue_deliveries(
            &[
                delivery("siem", "incident_created", 1, 1),
                delivery("siem", "incident_created", 2, 1),
            ],
            t0,
        )
        .await
        .unwrap();
    let lease = Timestamp(t0.millis() + 1000);
    let claimed = s.claim_deliveries(t0, lease, 1).await.unwrap();
    assert_eq!(claimed[0].id, ids[0]);
    assert_eq!(
        s.record_delivery_failure(ids[0], lease, "connection refused", None, lease)
            .await
            .unwrap(),
        Some(DeliveryStatus::Dead)
    );
    assert!(matches!(
        s.retry_delivery(ids[1], "user:ann", t0).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.retry_delivery(999_999, "user:ann", t0).await,
        Err(StoreError::NotFound { .. })
    ));
    let later = Timestamp(t0.millis() + 60_000);
    let retried = s.retry_delivery(ids[0], "user:ann", later).await.unwrap();
    assert_eq!(
        (retried.status, retried.attempts, retried.next_attempt_at),
        (DeliveryStatus::Pending, 0, later)
    );
    assert_eq!(
        retried.last_error.as_deref(),
        Some("connection refused"),
        "the last error stays until the next attempt"
    );
    let due = s
        .claim_deliveries(later, Timestamp(later.millis() + 1000), 10)
        .await
        .unwrap();
    assert_eq!(
        due.iter().map(|d| d.id).collect::<Vec<_>>(),
        [ids[1], ids[0]],
        "oldest due first"
    );
    let audit = s
        .list_audit(&AuditFilter {
            object_type: Some("webhook_delivery".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let got: Vec<(&str, &str, &str)> = audit
        .items
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_str(), e.object_id.as_str()))
        .collect();
    let id = ids[0].to_string();
    assert_eq!(got, [("webhook.delivery.retry", "user:ann", id.as_str())]);
}

/// Concurrent claims (several connections; several nodes on PostgreSQL) never hand one
/// delivery out twice.
pub async fn webhook_claims_never_overlap(s: &dyn Store) {
    let t0 = Timestamp(1_700_000_000_000);
    let items: Vec<_> = (0..40)
        .map(|n| delivery("siem", "incident_created", n, 6))
        .collect();
    let ids = s.enqueue_deliveries(&items, t0).await.unwrap();
    assert_eq!(ids.len(), 40);
    let lease = Timestamp(t0.millis() + 30_000);
    let claims = (0..6)
        .map(|_| async move { s.claim_deliveries(t0, lease, 8).await.unwrap() })
        .collect();
    let mut got: Vec<i64> = join_all(claims)
        .await
        .into_iter()
        .flatten()
        .map(|d| d.id)
        .collect();
    let claimed = got.len();
    got.sort();
    got.dedup();
    assert_eq!(got.len(), claimed, "a delivery was claimed twice");
    assert_eq!(claimed, 40, "6 claims of 8 cover all 40");
}
