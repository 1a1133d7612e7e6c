//! The list cache never serves a stale answer for a change this node knows of (a pipeline
//! commit, a patch, a comment, a merge), and a change it cannot know of (made directly in the
//! shared database, as another node or `rampart incidents update` would) shows within the
//! configured TTL.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rampart_model::{IncidentPatch, IncidentStatus, Severity};
use rampart_server::ServerConfig;
use serde_json::{json, Value};

async fn total(app: &TestApp, path: &str) -> u64 {
    app.get_json(path).await["total"].as_u64().expect("total")
}

#[tokio::test]
async fn lists_follow_every_change_this_node_makes_at_once() {
    let app = spawn_app_with(ServerConfig {
        list_cache_ttl: Duration::from_secs(3600),
        ..Default::default()
    })
    .await;
    let incidents = app.seed_ten().await;
    assert_eq!(total(&app, "/api/v1/incidents").await, 10);
    assert_eq!(total(&app, "/api/v1/incidents").await, 10, "served again");

    // A pipeline commit (a pushed alert from a new address makes a new incident).
    let r = app
        .post(
            "/api/v1/alerts",
            &app.admin,
            serde_json::to_value(alert("fresh", Severity::High, "192.0.2.77", 1_800_000_000))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(total(&app, "/api/v1/incidents").await, 11);
    assert_eq!(
        total(&app, "/api/v1/alerts").await,
        11,
        "the alert list too"
    );

    // A patch through the API.
    let id = incidents[0].id;
    let q = "/api/v1/incidents?status=Resolved";
    let before = total(&app, q).await;
    let r = app
        .patch(
            &format!("/api/v1/incidents/{id}"),
            &app.admin,
            json!({"status": "Resolved", "classification": "TruePositive", "determination": "ConfirmedActivity"}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    assert_eq!(total(&app, q).await, before + 1);

    // A comment changes the incident's update time, so the sort by update.
    let other = incidents[5].id;
    let r = app
        .post(
            &format!("/api/v1/incidents/{other}/comments"),
            &app.admin,
            json!({"text": "looking"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = app.get_json("/api/v1/incidents?sort=updated&limit=1").await;
    assert_eq!(v["items"][0]["id"], other, "{v}");
}

#[tokio::test]
async fn a_change_made_elsewhere_shows_within_the_ttl() {
    let ttl = Duration::from_millis(200);
    let app = spawn_app_with(ServerConfig {
        list_cache_ttl: ttl,
        ..Default::default()
    })
    .await;
    let incidents = app.seed_ten().await;
    let q = "/api/v1/incidents?status=InProgress";
    let before = total(&app, q).await;
    // Straight into the store: this server's cache cannot know.
    app.store
        .update_incident(
            incidents[3].id,
            &IncidentPatch {
                status: Some(IncidentStatus::InProgress),
                ..Default::default()
            },
            "another-node",
        )
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        if total(&app, q).await == before + 1 {
            break;
        }
        assert!(
            start.elapsed() < ttl * 10,
            "the change made elsewhere never showed"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_zero_ttl_caches_nothing() {
    let app = spawn_app_with(ServerConfig {
        list_cache_ttl: Duration::ZERO,
        ..Default::default()
    })
    .await;
    let incidents = app.seed_ten().await;
    let q = "/api/v1/incidents?status=InProgress";
    let before = total(&app, q).await;
    app.store
        .update_incident(
            incidents[4].id,
            &IncidentPatch {
                status: Some(IncidentStatus::InProgress),
                ..Default::default()
            },
            "another-node",
        )
        .await
        .unwrap();
    assert_eq!(total(&app, q).await, before + 1);
}
