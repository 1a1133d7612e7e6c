//! The automated investigation over a real SQLite store: an incident whose alerts come from
//! an allow-listed scanner and from a real attacker gets a verdict per actor (clean for the
//! scanner, with the allow-list entry; malicious for an attacker contained before), the
//! scanner's alert is proven benign and resolved from the console with its reason audited as
//! `investigation`, the other is left open; the API answers the same investigation.

mod common;

use common::*;
use rampart_model::{AlertStatus, Role, Severity};
use rampart_store::AuditFilter;
use rampart_store::IncidentState;
use serde_json::json;

#[tokio::test]
async fn an_allow_listed_scanner_is_proven_benign_and_a_recontained_attacker_malicious() {
    let contain = rampart_contain::ContainConfig {
        protected: rampart_contain::Protected {
            ips: vec!["10.20.0.0/16".parse().unwrap()],
            ..Default::default()
        },
        ..Default::default()
    };
    // the worker is off: this test runs the investigation by hand
    let config = rampart_server::ServerConfig {
        investigation_tick: None,
        ..Default::default()
    };
    let app = spawn_app_contained(config, contain).await;
    // the attacker was blocked before, on another incident
    let earlier = app
        .store_incident(
            IncidentState {
                title: "Earlier probe".into(),
                severity: Severity::Medium,
                entities: alert("x", Severity::Medium, "203.0.113.66", 1_600_000_000).entities,
                first_activity: rampart_model::Timestamp(0),
                last_activity: rampart_model::Timestamp(0),
                alert_count: 1,
                priority: 10,
                priority_reasons: vec![],
            },
            vec![alert("x", Severity::Medium, "203.0.113.66", 1_600_000_000)],
        )
        .await;
    let tier3 = app.token(Role::Tier3).await;
    let r = app
        .post(
            "/api/v1/actions",
            &tier3,
            json!({"kind": "block_ip", "target": "203.0.113.66", "reason": "probe",
                   "incident_id": earlier, "duration": "1h"}),
        )
        .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);

    let scanner = alert("scanner", Severity::Low, "10.20.3.4", 1_700_000_000);
    let attack = alert("attack", Severity::High, "203.0.113.66", 1_700_000_100);
    let mut entities = scanner.entities.clone();
    entities.extend(attack.entities.clone());
    let id = app
        .store_incident(
            IncidentState {
                title: "Scan and attack".into(),
                severity: Severity::High,
                entities,
                first_activity: scanner.first_seen,
                last_activity: attack.last_seen,
                alert_count: 2,
                priority: 60,
                priority_reasons: vec![],
            },
            vec![scanner, attack],
        )
        .await;

    let v = app
        .get_json(&format!("/api/v1/incidents/{id}/investigation"))
        .await;
    assert_eq!(v["verdict"], "malicious", "{v}");
    let evidence = v["evidence"].as_array().unwrap();
    let of = |subject: &str| {
        evidence
            .iter()
            .find(|e| e["subject"] == subject)
            .unwrap_or_else(|| panic!("{subject} in {v}"))
    };
    assert_eq!(of("ip 10.20.3.4")["verdict"], "clean");
    assert!(of("ip 10.20.3.4")["reasons"][0]
        .as_str()
        .unwrap()
        .contains("10.20.0.0/16"));
    assert_eq!(of("ip 203.0.113.66")["verdict"], "malicious");
    assert!(of("ip 203.0.113.66")["reasons"]
        .to_string()
        .contains("contained before"));
    let benign = v["benign_alerts"].as_array().unwrap();
    assert_eq!(benign.len(), 1, "{v}");
    let benign_id = benign[0]["alert_id"].as_i64().unwrap();

    // the tab shows it; tier1 may resolve (triage), a viewer may not
    let viewer = app.console(Role::Viewer).await;
    let page = viewer
        .get(&format!("/incidents/{id}?tab=investigation"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-verdict=\"malicious\"") && !page.contains("id=\"resolve-benign\""));
    let tier1 = app.console(Role::Tier1).await;
    let page = tier1
        .get(&format!("/incidents/{id}?tab=investigation"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"resolve-benign\""), "{page}");
    let r = tier1
        .post(&format!("/incidents/{id}/investigation/resolve"), &[])
        .await;
    assert_eq!(r.status(), 303);
    let a = app.store.get_alert(benign_id).await.unwrap().unwrap();
    assert_eq!(a.status, AlertStatus::Resolved);
    let d = app.store.get_incident(id).await.unwrap().unwrap();
    let open: Vec<_> = d
        .alerts
        .iter()
        .filter(|a| a.status != AlertStatus::Resolved)
        .collect();
    assert_eq!(open.len(), 1, "the attack stays open");
    let audit = app
        .store
        .list_audit(&AuditFilter {
            actor: Some("investigation".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.items.len(), 1);
    assert_eq!(audit.items[0].action, "alert.resolve");
    assert!(audit.items[0].details["reason"]
        .as_str()
        .unwrap()
        .contains("allow-listed"));
    // nothing left to resolve: the same again changes nothing
    let v = app
        .get_json(&format!("/api/v1/incidents/{id}/investigation"))
        .await;
    assert!(v["benign_alerts"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn an_alert_from_an_allow_listed_scanner_is_resolved_as_it_is_stored() {
    let protected = rampart_contain::Protected {
        ips: vec!["10.20.0.0/16".parse().unwrap()],
        ..Default::default()
    };
    let contain = rampart_contain::ContainConfig {
        protected: protected.clone(),
        ..Default::default()
    };
    let pipeline = rampart_pipeline::PipelineConfig {
        contain: contain.clone(),
        ..Default::default()
    };
    let app = spawn_app_pipeline(pipeline, move |s| {
        s.contain = std::sync::Arc::new(contain);
        // only the pipeline's own check at creation resolves here
        s.config = std::sync::Arc::new(rampart_server::ServerConfig {
            investigation_tick: None,
            ..Default::default()
        });
    })
    .await;
    let ingest = app.token(Role::Ingest).await;
    for ip in ["10.20.9.9", "203.0.113.70"] {
        let alert = serde_json::to_value(sigma_alert(ip)).unwrap();
        let r = app.post("/api/v1/alerts", &ingest, json!([alert])).await;
        assert_eq!(r.status(), 202);
    }
    app.flush_automation().await;
    let alerts = app
        .store
        .list_alerts(&Default::default())
        .await
        .unwrap()
        .items;
    assert_eq!(alerts.len(), 2);
    for a in &alerts {
        let scanner = a.draft.entities.iter().any(|e| e.value == "10.20.9.9");
        assert_eq!(
            a.status == AlertStatus::Resolved,
            scanner,
            "only the scanner's alert is resolved: {a:?}"
        );
    }
    let audit = app
        .store
        .list_audit(&AuditFilter {
            actor: Some("investigation".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.items.len(), 1);
    assert!(audit.items[0].details["reason"]
        .as_str()
        .unwrap()
        .contains("10.20.0.0/16"));
}

/// An incident of a traffic spike during an announced deployment and an attacker listed by
/// threat intelligence: the investigation runs by itself once (claimed in the store), resolves
/// the spike with the deployment as its reason, calls the listed attacker malicious, and is
/// kept: the API answers the kept one, a re-run replaces it.
#[tokio::test]
async fn new_incidents_are_investigated_once_with_intel_and_deployment_windows() {
    use rampart_model::{Entity, EntityKind, EntityRole, Timestamp};
    use rampart_signatures::intel::{FeedFormat, ThreatIntel};

    let intel = ThreatIntel::parse("abuse-feed", FeedFormat::Plain, "203.0.113.77\n").unwrap();
    let mut captured = None;
    let config = rampart_server::ServerConfig {
        investigation_tick: None,
        ..Default::default()
    };
    let app = spawn_app_state(
        |s| {
            s.intel = Some(std::sync::Arc::new(arc_swap::ArcSwap::from_pointee(intel)));
            captured = Some(s.clone());
        },
        config,
    )
    .await;
    let state = captured.unwrap();
    let ingest = app.token(Role::Ingest).await;
    let tier1 = app.token(Role::Tier1).await;

    // a CD pipeline announces the deployment (Ingest); bad windows are 422s
    let at = 1_700_000_000_000i64;
    let window = json!({"name": "api-v2.14.0", "start": Timestamp(at - 600_000),
                        "end": Timestamp(at + 600_000), "hosts": ["api.example.com"],
                        "note": "<b>rollout</b>"});
    let r = app
        .post("/api/v1/deployments", &ingest, window.clone())
        .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let r = app
        .post("/api/v1/deployments", &ingest, window.clone())
        .await;
    assert_eq!(r.status(), 200, "the same window again changes nothing");
    let mut bad = window.clone();
    bad["end"] = json!(Timestamp(at - 700_000));
    let r = app.post("/api/v1/deployments", &ingest, bad).await;
    let msg = assert_error(r, 422, "unprocessable").await;
    assert!(msg.contains("end"), "{msg}");
    let r = app
        .post("/api/v1/deployments", &tier1, window.clone())
        .await;
    assert_eq!(r.status(), 403);
    let v = app.get_json("/api/v1/deployments").await;
    assert_eq!(v["items"][0]["name"], "api-v2.14.0", "{v}");

    let mut spike = alert(
        "Traffic spike on api.example.com GET /api/orders",
        Severity::Medium,
        "198.51.100.9",
        1_700_000_000,
    );
    spike.detector = "traffic_spike_endpoint".into();
    spike.entities = vec![Entity::new(
        EntityKind::Endpoint,
        "api.example.com GET /api/orders",
        EntityRole::Target,
    )];
    let attack = alert("Injection", Severity::High, "203.0.113.77", 1_700_000_030);
    let mut entities = spike.entities.clone();
    entities.extend(attack.entities.clone());
    let id = app
        .store_incident(
            IncidentState {
                title: "Spike and injection".into(),
                severity: Severity::High,
                entities,
                first_activity: spike.first_seen,
                last_activity: attack.last_seen,
                alert_count: 2,
                priority: 60,
                priority_reasons: vec![],
            },
            vec![spike, attack],
        )
        .await;

    // before it runs: a preview, nothing resolved
    let v = app
        .get_json(&format!("/api/v1/incidents/{id}/investigation"))
        .await;
    assert_eq!(v["stored"], false, "{v}");

    let now = Timestamp::now();
    let ran = rampart_server::investigation::run_pending(&state, "node-a", now)
        .await
        .unwrap();
    assert_eq!(ran, vec![id]);
    let again = rampart_server::investigation::run_pending(&state, "node-b", now)
        .await
        .unwrap();
    assert!(again.is_empty(), "investigated once");

    let v = app
        .get_json(&format!("/api/v1/incidents/{id}/investigation"))
        .await;
    assert_eq!(v["stored"], true, "{v}");
    assert_eq!(v["verdict"], "malicious", "{v}");
    assert_eq!(v["resolved"], 1, "{v}");
    assert!(
        v["evidence"]
            .to_string()
            .contains("listed by threat intelligence: abuse-feed"),
        "{v}"
    );
    let d = app.store.get_incident(id).await.unwrap().unwrap();
    for a in &d.alerts {
        let is_spike = a.draft.detector == "traffic_spike_endpoint";
        assert_eq!(a.status == AlertStatus::Resolved, is_spike, "{a:?}");
    }
    let audit = app
        .store
        .list_audit(&AuditFilter {
            actor: Some("investigation".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.items.len(), 1);
    assert!(audit.items[0].details["reason"]
        .as_str()
        .unwrap()
        .contains("inside deployment window api-v2.14.0"));

    // the tab shows when it ran; a re-run (triage) replaces it
    let c = app.console(Role::Tier1).await;
    let page = c
        .get(&format!("/incidents/{id}?tab=investigation"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Ran by itself"), "{page}");
    assert!(page.contains("resolved 1 alert(s)"), "{page}");
    let r = c
        .post(&format!("/incidents/{id}/investigation/run"), &[])
        .await;
    assert_eq!(r.status(), 303);
    let kept = app.store.get_investigation(id).await.unwrap().unwrap();
    assert_eq!(kept.owner, "manual");
    assert_eq!(kept.result["resolved"], 0, "nothing left to resolve");

    // the window goes (manage_automation); tier 1 cannot delete it
    let r = app
        .send(
            reqwest::Method::DELETE,
            "/api/v1/deployments/api-v2.14.0",
            &tier1,
            json!(null),
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = app
        .send(
            reqwest::Method::DELETE,
            "/api/v1/deployments/api-v2.14.0",
            &app.admin,
            json!(null),
        )
        .await;
    assert_eq!(r.status(), 204);
}
