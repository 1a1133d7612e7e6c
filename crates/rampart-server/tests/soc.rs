//! `GET /api/v1/metrics/soc` over a real SQLite store: an incident acknowledged, contained and
//! resolved by people is measured at every stage; one nobody touched only for detection; an
//! incident automation contained counts in the automation share; classifications give the
//! detector's true-positive rate; bad periods are 400s. (Exact figures from known timestamps
//! are tested in `rampart_report::soc`.)

mod common;

use common::*;
use rampart_model::{Role, Severity};
use rampart_store::IncidentState;
use serde_json::{json, Value};

async fn incident(app: &TestApp, title: &str, ip: &str) -> i64 {
    let a = alert(title, Severity::High, ip, 1_700_000_000);
    app.store_incident(
        IncidentState {
            title: title.into(),
            severity: Severity::High,
            entities: a.entities.clone(),
            first_activity: a.first_seen,
            last_activity: a.last_seen,
            alert_count: 1,
            priority: 50,
            priority_reasons: vec![],
        },
        vec![a],
    )
    .await
}

fn count(v: &Value, stage: &str) -> u64 {
    v["overall"][stage]["count"]
        .as_u64()
        .unwrap_or_else(|| panic!("{stage}: {v}"))
}

#[tokio::test]
async fn the_soc_metrics_measure_each_stage_people_and_automation_reached() {
    let app = spawn_app().await;
    let worked = incident(&app, "Worked", "203.0.113.10").await;
    let _untouched = incident(&app, "Untouched", "203.0.113.11").await;
    let automated = incident(&app, "Automated", "203.0.113.12").await;
    let tier3 = app.token(Role::Tier3).await;

    let path = format!("/api/v1/incidents/{worked}");
    let r = app
        .patch(
            &path,
            &tier3,
            json!({"status": "InProgress", "assigned_to": "ana"}),
        )
        .await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let r = app
        .post(
            "/api/v1/actions",
            &tier3,
            json!({"kind": "block_ip", "target": "203.0.113.10", "reason": "attack",
                   "incident_id": worked, "duration": "1h"}),
        )
        .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let r = app
        .patch(
            &path,
            &tier3,
            json!({"status": "Resolved", "classification": "TruePositive",
                   "determination": "MaliciousUserActivity"}),
        )
        .await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    // automation changes are told apart by their actor
    app.store
        .update_incident(
            automated,
            &rampart_model::IncidentPatch {
                assigned_to: Some(Some("<script>alert(1)</script>".into())),
                ..Default::default()
            },
            "rule:auto-assign",
        )
        .await
        .expect("rule update");

    let v = app.get_json("/api/v1/metrics/soc").await;
    assert_eq!(v["incidents_total"], 3, "{v}");
    assert_eq!(v["incidents_measured"], 3, "{v}");
    assert_eq!(v["alerts"], 3, "{v}");
    assert_eq!(count(&v, "mttd"), 3);
    assert_eq!(
        count(&v, "mtta"),
        2,
        "worked and automated were acknowledged: {v}"
    );
    assert_eq!(count(&v, "mttc"), 1);
    assert_eq!(count(&v, "mttr"), 1);
    let mttr = v["overall"]["mttr"]["median_secs"].as_f64().unwrap();
    assert!(
        (0.0..60.0).contains(&mttr),
        "resolved within the test: {mttr}"
    );
    assert_eq!(v["by_owner"]["ana"]["mttr"]["count"], 1, "{v}");
    assert_eq!(
        v["by_owner"]["<script>alert(1)</script>"]["incidents"], 1,
        "{v}"
    );
    assert_eq!(v["by_severity"]["High"]["incidents"], 3, "{v}");
    let rate = &v["detector_rates"]["API_ParameterEnumeration"];
    assert_eq!(rate["true_positive"], 1, "{v}");
    assert_eq!(rate["true_positive_rate"], 1.0, "{v}");
    let share = v["automation_share"].as_f64().unwrap();
    assert!((share - 1.0 / 3.0).abs() < 1e-9, "{v}");

    // the console's dashboard shows the same, names escaped
    let console = app.console(Role::Viewer).await;
    let r = console.get("/soc").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    for id in [
        "soc-severity",
        "soc-weeks",
        "soc-owner",
        "soc-detectors",
        "soc-automation",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id} missing");
    }
    assert!(html.contains("3 of 3 incidents measured"), "{html}");
    // the default period (30 days) is marked, the others are links to their period
    assert!(html.contains("<strong>30 days</strong>"), "{html}");
    let week = html
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|h| h.starts_with("/soc?since=") && html.contains(&format!("href=\"{h}\">7 days")))
        .expect("a link to the last 7 days")
        .replace("&amp;", "&");
    let r = console.get(&week).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("<strong>7 days</strong>"));
    assert!(html.contains("API_ParameterEnumeration") && html.contains(">ana<"));
    assert!(
        !html.contains("<script>alert(1)"),
        "an owner's name is escaped"
    );
    assert!(html.contains("&lt;script&gt;alert(1)"));
    assert!(html.contains("Handled by automation: 33%"), "{html}");

    // Prometheus gauges: severities as the only label, never owners or detectors
    let metrics = app.get("/metrics", &app.admin).await.text().await.unwrap();
    assert!(
        metrics.contains("rampart_soc_incidents{severity=\"High\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rampart_soc_incidents{severity=\"Low\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rampart_soc_mttr_seconds{severity=\"High\"} "),
        "{metrics}"
    );
    assert!(
        !metrics.contains("rampart_soc_mttc_seconds{severity=\"Low\"}"),
        "{metrics}"
    );
    assert!(!metrics.contains("script") && !metrics.contains("API_ParameterEnumeration"));

    // a period with nothing in it, and bad periods
    let v = app
        .get_json("/api/v1/metrics/soc?since=2001-01-01T00:00:00Z&until=2001-02-01T00:00:00Z")
        .await;
    assert_eq!(v["incidents_measured"], 0, "{v}");
    assert_eq!(v["automation_share"], Value::Null, "{v}");
    let viewer = app.token(Role::Viewer).await;
    assert_error(
        app.get("/api/v1/metrics/soc?since=yesterday", &viewer)
            .await,
        400,
        "bad_request",
    )
    .await;
    assert_error(
        app.get(
            "/api/v1/metrics/soc?since=2002-01-01T00:00:00Z&until=2001-01-01T00:00:00Z",
            &viewer,
        )
        .await,
        400,
        "bad_request",
    )
    .await;
}
