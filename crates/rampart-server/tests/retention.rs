//! Retention over a real SQLite store, as `rampart serve` runs it: a pass deletes the events
//! older than the policy in chunks, audits what it deleted per table as `system:retention`,
//! counts it in `/metrics`, keeps what the policy keeps, and a second pass finds nothing.

mod common;

use std::borrow::Cow;
use std::time::Duration;

use common::*;
use rampart_model::{ApiEvent, Role, Timestamp};
use rampart_server::metrics::Metrics;
use rampart_server::retention::{self, Keep, RetentionConfig, ACTOR};
use rampart_store::{AuditFilter, RetentionTable};

const DAY: i64 = 86_400;

fn event(secs: i64) -> ApiEvent<'static> {
    ApiEvent {
        ts: Timestamp::from_secs(secs),
        client_ip: Some("192.0.2.7".parse().expect("ip")),
        method: Cow::Borrowed("GET"),
        host: Cow::Borrowed("api.example.com"),
        path: Cow::Borrowed("/api/orders"),
        status: 200,
        source_format: Cow::Borrowed("combined"),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_retention_pass_deletes_old_events_audits_and_counts_them() {
    let app = spawn_app().await;
    let now = Timestamp::from_secs(1_780_000_000);
    // 7,000 events 40 days old (more than one chunk), 3 from yesterday
    let old: Vec<_> = (0..7_000)
        .map(|i| event(now.secs() - 40 * DAY + i))
        .collect();
    let recent: Vec<_> = (0..3).map(|i| event(now.secs() - DAY + i)).collect();
    app.store.insert_events(&old, None).await.expect("insert");
    app.store
        .insert_events(&recent, None)
        .await
        .expect("insert");

    let config = RetentionConfig {
        interval: Duration::from_secs(600),
        ..RetentionConfig::default()
    };
    let metrics = Metrics::default();
    let deleted = retention::pass(&*app.store, &config, now, Some(&metrics))
        .await
        .expect("pass");
    assert_eq!(
        deleted,
        vec![
            (RetentionTable::Events, 7_000),
            (RetentionTable::Incidents, 0),
            (RetentionTable::PlaybookRuns, 0)
        ]
    );
    assert_eq!(app.store.stats().await.expect("stats").events, 3);
    assert!(
        metrics
            .render()
            .contains("rampart_retention_deleted_total{table=\"events\"} 7000"),
        "{}",
        metrics.render()
    );

    let audit = app
        .store
        .list_audit(&AuditFilter {
            actor: Some(ACTOR.into()),
            object_type: Some("table".into()),
            ..AuditFilter::default()
        })
        .await
        .expect("audit")
        .items;
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].action, "retention.pruned");
    assert_eq!(audit[0].object_id, "events");
    assert_eq!(audit[0].details["deleted"], 7_000);

    // the audit trail is readable over the API by an admin like any other entry
    let admin = app.token(Role::Admin).await;
    let r = app
        .get("/api/v1/audit?actor=system:retention", &admin)
        .await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.expect("json");
    assert!(body.to_string().contains("system:retention"), "{body}");

    // nothing left to delete: no new audit entry
    let again = retention::pass(&*app.store, &config, now, None)
        .await
        .expect("pass");
    assert!(again.iter().all(|(_, n)| *n == 0), "{again:?}");
    let audit = app
        .store
        .list_audit(&AuditFilter {
            actor: Some(ACTOR.into()),
            object_type: Some("table".into()),
            ..AuditFilter::default()
        })
        .await
        .expect("audit")
        .items;
    assert_eq!(audit.len(), 1);
}

#[tokio::test]
async fn a_row_cap_keeps_the_newest_events_and_forever_keeps_everything() {
    let app = spawn_app().await;
    let now = Timestamp::from_secs(1_780_000_000);
    let evs: Vec<_> = (0..100)
        .map(|i| event(now.secs() - 400 * DAY + i))
        .collect();
    app.store.insert_events(&evs, None).await.expect("insert");

    let forever = RetentionConfig {
        events: Keep {
            max_age: None,
            max_rows: None,
        },
        ..RetentionConfig::default()
    };
    retention::pass(&*app.store, &forever, now, None)
        .await
        .expect("pass");
    assert_eq!(app.store.stats().await.expect("stats").events, 100);

    let capped = RetentionConfig {
        events: Keep {
            max_age: None,
            max_rows: Some(40),
        },
        ..RetentionConfig::default()
    };
    let deleted = retention::pass(&*app.store, &capped, now, None)
        .await
        .expect("pass");
    assert_eq!(deleted[0], (RetentionTable::Events, 60));
    assert_eq!(app.store.stats().await.expect("stats").events, 40);
}
