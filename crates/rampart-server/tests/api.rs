//! End-to-end tests of the REST API over a real SQLite store.

mod common;

use common::{assert_error, sigma_alert, spawn_app, spawn_app_with, titles};
use rampart_model::{IncidentStatus, Role};
use rampart_server::{ServerConfig, ROUTES};
use rampart_store::{AuditFilter, EventQuery};
use serde_json::{json, Value};

#[tokio::test]
async fn healthz_needs_no_token() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "ok", "backend": "sqlite"})
    );
}

#[tokio::test]
async fn missing_unknown_and_revoked_tokens_get_401() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/api/v1/incidents"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_error(r, 401, "unauthorized").await;
    assert_error(
        app.get("/api/v1/incidents", "rmp_nope").await,
        401,
        "unauthorized",
    )
    .await;

    let created = app
        .post(
            "/api/v1/tokens",
            &app.admin,
            json!({"name": "ci", "role": "viewer"}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let secret = created.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.get("/api/v1/incidents", &secret).await.status(), 200);
    let del = app
        .client
        .delete(app.url("/api/v1/tokens/ci"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 200);
    assert_error(
        app.get("/api/v1/incidents", &secret).await,
        401,
        "unauthorized",
    )
    .await;
    let audit = app
        .store
        .list_audit(&AuditFilter {
            object_type: Some("token".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        audit
            .items
            .iter()
            .any(|a| a.actor.starts_with("token:Admin") || a.actor.starts_with("token:admin")),
        "{audit:?}"
    );
}

#[tokio::test]
async fn roles_are_enforced() {
    let app = spawn_app().await;
    let seeded = app.seed_ten().await;
    let viewer = app.token(Role::Viewer).await;
    let ingest = app.token(Role::Ingest).await;
    let analyst = app.token(Role::Tier2).await;
    let path = format!("/api/v1/incidents/{}", seeded[0].id);
    assert_error(
        app.patch(&path, &viewer, json!({"status": "Resolved"}))
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        app.get("/api/v1/incidents", &ingest).await,
        403,
        "forbidden",
    )
    .await;
    assert_error(app.get("/metrics", &ingest).await, 403, "forbidden").await;
    assert_error(app.get("/api/v1/tokens", &analyst).await, 403, "forbidden").await;
    assert_error(
        app.post("/api/v1/alerts", &viewer, json!([])).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(app.get(&path, &viewer).await.status(), 200);
    assert_eq!(
        app.patch(&path, &analyst, json!({"status": "InProgress"}))
            .await
            .status(),
        200
    );
}

fn check_list(expected: &[&str], got: &Value) {
    let mut got = titles(&got["items"]);
    got.sort();
    let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn incident_filters_sorting_and_pagination() {
    let app = spawn_app().await;
    app.seed_ten().await;
    let v = app
        .get_json("/api/v1/incidents?status=Active&assigned_to=bob")
        .await;
    check_list(&["Password spray"], &v);
    let v = app
        .get_json("/api/v1/incidents?severity=High,Critical&status=Active,InProgress")
        .await;
    check_list(
        &[
            "BOLA walk on users",
            "Credential stuffing on login",
            "Large export",
        ],
        &v,
    );
    let v = app.get_json("/api/v1/incidents?tag=pci").await;
    check_list(
        &[
            "BOLA walk on users",
            "Large export",
            "Shadow endpoint probing",
        ],
        &v,
    );
    let v = app.get_json("/api/v1/incidents?q=spray").await;
    check_list(&["Password spray"], &v);
    let v = app.get_json("/api/v1/incidents?entity=203.0.113.7").await;
    check_list(&["SSRF attempt"], &v);

    let v = app
        .get_json("/api/v1/incidents?sort=priority&limit=3")
        .await;
    assert_eq!(
        titles(&v["items"]),
        [
            "Credential stuffing on login",
            "Large export",
            "BOLA walk on users"
        ]
    );
    assert_eq!(
        (
            v["total"].as_u64(),
            v["limit"].as_u64(),
            v["offset"].as_u64()
        ),
        (Some(10), Some(3), Some(0))
    );
    let v = app
        .get_json("/api/v1/incidents?sort=priority&order=asc&limit=2&offset=1")
        .await;
    assert_eq!(titles(&v["items"]), ["Scanner 404 burst", "Password spray"]);
    let v = app
        .get_json("/api/v1/incidents?sort=created&order=asc&limit=1")
        .await;
    assert_eq!(titles(&v["items"]), ["BOLA walk on users"]);

    for (q, param) in [
        ("status=Sleeping", "status"),
        ("limit=5000", "limit"),
        ("created_after=yesterday", "created_after"),
        ("sort=colour", "sort"),
        ("bogus=1", "bogus"),
    ] {
        let msg = assert_error(
            app.get(&format!("/api/v1/incidents?{q}"), &app.admin).await,
            400,
            "bad_request",
        )
        .await;
        assert!(msg.contains(param), "{q}: {msg}");
    }
}

#[tokio::test]
async fn patch_changes_fields_and_is_audited() {
    let app = spawn_app().await;
    let seeded = app.seed_ten().await;
    let analyst = app.token(Role::Tier2).await;
    let id = seeded[2].id;
    let path = format!("/api/v1/incidents/{id}");
    let r = app
        .patch(&path, &analyst, json!({"status": "InProgress", "assigned_to": "dave", "classification": "TruePositive", "tags": ["sqli", "triaged"]}))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["status"].as_str(), v["assigned_to"].as_str()),
        (Some("InProgress"), Some("dave"))
    );
    assert_eq!(v["tags"], json!(["sqli", "triaged"]));

    let audit = app
        .get_json(&format!(
            "/api/v1/audit?object_type=incident&object_id={id}"
        ))
        .await;
    let items = audit["items"].as_array().unwrap();
    let ours: Vec<&Value> = items
        .iter()
        .filter(|a| a["actor"].as_str().is_some_and(|s| s.starts_with("token:")))
        .collect();
    assert!(!ours.is_empty(), "{audit}");
    let text = serde_json::to_string(&ours).unwrap();
    assert!(
        text.contains("dave") && text.contains("InProgress") && text.contains("Active"),
        "{text}"
    );

    assert_error(
        app.patch(&path, &analyst, json!({"colour": "red"})).await,
        422,
        "unprocessable",
    )
    .await;
    assert_error(
        app.patch(&path, &analyst, json!({"status": "Sleeping"}))
            .await,
        422,
        "unprocessable",
    )
    .await;
    assert_error(
        app.patch(&path, &analyst, json!({"status": "Redirected"}))
            .await,
        422,
        "unprocessable",
    )
    .await;
    assert_error(
        app.patch(&path, &analyst, json!({})).await,
        422,
        "unprocessable",
    )
    .await;
    let bad = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&analyst)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(bad, 400, "bad_request").await;
    assert_error(
        app.patch(
            "/api/v1/incidents/999999",
            &analyst,
            json!({"status": "Resolved"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.get("/api/v1/incidents/abc", &analyst).await,
        400,
        "bad_request",
    )
    .await;
}

#[tokio::test]
async fn comments_are_added_and_validated() {
    let app = spawn_app().await;
    let seeded = app.seed_ten().await;
    let path = format!("/api/v1/incidents/{}/comments", seeded[0].id);
    let r = app
        .post(&path, &app.admin, json!({"text": "blocked at the WAF"}))
        .await;
    assert_eq!(r.status(), 201);
    let d = app
        .get_json(&format!("/api/v1/incidents/{}", seeded[0].id))
        .await;
    assert_eq!(d["comments"][0]["text"], "blocked at the WAF");
    assert!(d["comments"][0]["author"]
        .as_str()
        .unwrap()
        .starts_with("token:"));
    assert_eq!(d["alerts"].as_array().map(Vec::len), Some(1));
    assert_error(
        app.post(&path, &app.admin, json!({"text": "  "})).await,
        422,
        "unprocessable",
    )
    .await;
    assert_error(
        app.post(&path, &app.admin, json!({"text": "x".repeat(10_001)}))
            .await,
        422,
        "unprocessable",
    )
    .await;
    assert_error(
        app.post(
            "/api/v1/incidents/999999/comments",
            &app.admin,
            json!({"text": "hi"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn merge_moves_alerts_and_refuses_resolved() {
    let app = spawn_app().await;
    let s = app.seed_ten().await;
    // s[2] is unassigned, s[4] is carol's.
    let (from, into) = (&s[2], &s[4]);
    let r = app
        .post(
            &format!("/api/v1/incidents/{}/merge", from.id),
            &app.admin,
            json!({"into": into.id}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let merged: Value = r.json().await.unwrap();
    assert_eq!(merged["alert_count"], 2);
    let src = app
        .get_json(&format!("/api/v1/incidents/{}", from.id))
        .await;
    assert_eq!(src["status"], "Redirected");
    assert_eq!(src["redirect_to"], into.id);
    let tgt = app
        .get_json(&format!("/api/v1/incidents/{}", into.id))
        .await;
    assert_eq!(tgt["alerts"].as_array().map(Vec::len), Some(2));

    // s[3] is resolved.
    assert_eq!(s[3].status, IncidentStatus::Resolved);
    let r = app
        .post(
            &format!("/api/v1/incidents/{}/merge", s[3].id),
            &app.admin,
            json!({"into": into.id}),
        )
        .await;
    let msg = assert_error(r, 409, "conflict").await;
    assert!(msg.contains("resolved"), "{msg}");
    let r = app
        .post(
            &format!("/api/v1/incidents/{}/merge", s[0].id),
            &app.admin,
            json!({"into": into.id}),
        )
        .await;
    let msg = assert_error(r, 409, "conflict").await;
    assert!(msg.contains("different owners"), "{msg}");
    let r = app
        .post(
            &format!("/api/v1/incidents/{}/merge", s[5].id),
            &app.admin,
            json!({"into": s[5].id}),
        )
        .await;
    assert_error(r, 409, "conflict").await;
    let r = app
        .post(
            &format!("/api/v1/incidents/{}/merge", s[5].id),
            &app.admin,
            json!({"into": 999999}),
        )
        .await;
    assert_error(r, 404, "not_found").await;
    let r = app
        .post(
            &format!("/api/v1/incidents/{}/merge", s[5].id),
            &app.admin,
            json!({"to": 1}),
        )
        .await;
    assert_error(r, 422, "unprocessable").await;
}

#[tokio::test]
async fn defender_view_filters_and_pages() {
    let app = spawn_app().await;
    let s = app.seed_ten().await;
    let check = |filter: &'static str, mut expected: Vec<&'static str>| {
        let app = &app;
        async move {
            let v = app
                .get_json(&format!(
                    "/api/incidents?$filter={}",
                    filter.replace(' ', "%20").replace('\'', "%27")
                ))
                .await;
            assert!(v["@odata.context"].is_string());
            let mut got = titles(&v["value"]);
            got.sort();
            expected.sort();
            assert_eq!(got, expected, "{filter}");
        }
    };
    check(
        "status eq 'Active'",
        vec![
            "BOLA walk on users",
            "SQL injection probe",
            "Large export",
            "Rate spike",
            "Password spray",
            "Shadow endpoint probing",
        ],
    )
    .await;
    check(
        "severity eq 'High'",
        vec![
            "BOLA walk on users",
            "Credential stuffing on login",
            "Large export",
            "JWT none alg",
        ],
    )
    .await;
    check(
        "assignedTo eq 'alice' and status ne 'Resolved'",
        vec!["BOLA walk on users", "SSRF attempt"],
    )
    .await;
    check(
        "status eq 'Resolved' or (severity eq 'Informational')",
        vec!["Scanner 404 burst", "JWT none alg", "Rate spike"],
    )
    .await;

    // createdTime: everything created at or after the 8th seed.
    let t = s[7].created_at;
    let expected: Vec<String> = s
        .iter()
        .filter(|i| i.created_at >= t)
        .map(|i| i.title.clone())
        .collect();
    let v = app
        .get_json(&format!(
            "/api/incidents?$filter=createdTime%20ge%20{}",
            t.to_rfc3339()
        ))
        .await;
    let mut got = titles(&v["value"]);
    got.sort();
    let mut expected = expected;
    expected.sort();
    assert_eq!(got, expected);

    let all = app.get_json("/api/incidents").await;
    assert_eq!(all["value"].as_array().map(Vec::len), Some(10));
    let page = app.get_json("/api/incidents?$top=3&$skip=2").await;
    assert_eq!(
        page["value"].as_array().unwrap()[..],
        all["value"].as_array().unwrap()[2..5]
    );
    let one = &all["value"][0];
    for k in [
        "incidentId",
        "incidentName",
        "assignedTo",
        "classification",
        "determination",
        "status",
        "severity",
        "tags",
        "comments",
        "alerts",
        "createdTime",
        "lastUpdateTime",
        "redirectIncidentId",
    ] {
        assert!(one.get(k).is_some(), "missing {k} in {one}");
    }
    let crit = all["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["incidentName"] == "Credential stuffing on login")
        .unwrap();
    assert_eq!(crit["severity"], "High");
    assert_eq!(crit["alerts"][0]["mitreTechniques"], json!(["T1190"]));

    for bad in [
        "status%20eq",
        "colour%20eq%20%27x%27",
        "status%20eq%20%27Active",
    ] {
        let msg = assert_error(
            app.get(&format!("/api/incidents?$filter={bad}"), &app.admin)
                .await,
            400,
            "bad_request",
        )
        .await;
        assert!(msg.contains("$filter"), "{msg}");
    }
    assert_error(
        app.get("/api/incidents?$top=500", &app.admin).await,
        400,
        "bad_request",
    )
    .await;
}

#[tokio::test]
async fn defender_patch_maps_fields_and_adds_comment() {
    let app = spawn_app().await;
    let s = app.seed_ten().await;
    let path = format!("/api/incidents/{}", s[5].id);
    let r = app
        .patch(&path, &app.admin, json!({"status": "Resolved", "assignedTo": "soc@example.com", "classification": "FalsePositive", "determination": "NotMalicious", "comment": "load test"}))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "Resolved");
    assert_eq!(v["assignedTo"], "soc@example.com");
    assert_eq!(v["classification"], "FalsePositive");
    assert_eq!(v["comments"][0]["comment"], "load test");
    assert!(v["comments"][0]["createdBy"]
        .as_str()
        .unwrap()
        .starts_with("token:"));
    assert_error(
        app.patch(&path, &app.admin, json!({"incidentName": "x"}))
            .await,
        422,
        "unprocessable",
    )
    .await;
    assert_error(
        app.get("/api/incidents/424242", &app.admin).await,
        404,
        "not_found",
    )
    .await;
}

const EV: &str = r#"{"ts":"2026-01-01T00:00:00Z","client_ip":"203.0.113.9","method":"GET","path":"/api/v1/users/42","status":200}"#;

#[tokio::test]
async fn ndjson_push_stores_events_and_reports_bad_lines() {
    let app = spawn_app().await;
    let ingest = app.token(Role::Ingest).await;
    let body = format!("{EV}\n{EV}\n\n{EV}\n");
    let r = app
        .client
        .post(app.url("/api/v1/events"))
        .bearer_auth(&ingest)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["accepted"].as_u64(), v["events"].as_u64()),
        (Some(3), Some(3))
    );
    let stored = app.store.list_events(&EventQuery::default()).await.unwrap();
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0].event.path, "/api/v1/users/42");

    let body = format!("{EV}\n{{\"ts\":\"2026-01-01T00:00:00Z\",\"path\":\"/x\"}}\n{EV}\n");
    let r = app
        .client
        .post(app.url("/api/v1/events"))
        .bearer_auth(&ingest)
        .body(body)
        .send()
        .await
        .unwrap();
    let msg = assert_error(r, 400, "bad_request").await;
    assert!(msg.starts_with("line 2:"), "{msg}");
    assert_eq!(
        app.store
            .list_events(&EventQuery::default())
            .await
            .unwrap()
            .len(),
        3,
        "nothing from the bad request"
    );
}

#[tokio::test]
async fn oversized_body_is_413_json() {
    let app = spawn_app_with(ServerConfig {
        max_body_bytes: 1024,
        ..Default::default()
    })
    .await;
    let body = format!("{EV}\n").repeat(20);
    let r = app
        .client
        .post(app.url("/api/v1/events"))
        .bearer_auth(&app.admin)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_error(r, 413, "payload_too_large").await;
}

#[tokio::test]
async fn alerts_push_accepts_rampart_and_ocsf() {
    let app = spawn_app().await;
    let ingest = app.token(Role::Ingest).await;
    let ocsf = json!({"class_uid": 2004, "severity_id": 4, "time": 1767225600000i64,
        "finding_info": {"title": "SQLi blocked", "desc": "union select in id"},
        "src_endpoint": {"ip": "198.51.100.7"}, "attacks": [{"technique": {"uid": "T1190"}}],
        "http_request": {"url": {"path": "/api/v1/users"}}, "metadata": {"product": {"name": "Coraza"}}});
    let rampart = serde_json::to_value(sigma_alert("198.51.100.8")).unwrap();
    let r = app
        .post("/api/v1/alerts", &ingest, json!([ocsf, rampart]))
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<Value>().await.unwrap()["accepted"], 2);
    let stored = app.store.list_alerts(&Default::default()).await.unwrap();
    assert_eq!(stored.total, 2);
    assert!(stored.items.iter().any(|a| matches!(&a.draft.source, rampart_model::AlertSource::External { product } if product == "Coraza")));
    let r = app
        .post("/api/v1/alerts", &ingest, json!({"class_uid": 4002}))
        .await;
    let msg = assert_error(r, 422, "unprocessable").await;
    assert!(msg.contains("alert 0") && msg.contains("2004"), "{msg}");
    assert_error(
        app.post("/api/v1/alerts", &ingest, json!({"title": "x"}))
            .await,
        422,
        "unprocessable",
    )
    .await;
    let bad = app
        .client
        .post(app.url("/api/v1/alerts"))
        .bearer_auth(&ingest)
        .body("[{")
        .send()
        .await
        .unwrap();
    assert_error(bad, 400, "bad_request").await;
}

#[tokio::test]
async fn sigma_alerts_show_their_rule() {
    let app = spawn_app().await;
    let s = app.seed_ten().await;
    let applied = app
        .store
        .apply(&rampart_store::ChangeSet {
            changes: vec![rampart_store::Change::InsertAlert {
                alert: sigma_alert("203.0.113.1"),
                incident: rampart_store::IncidentRef::Existing(s[0].id),
            }],
        })
        .await
        .unwrap();
    let a = app
        .get_json(&format!("/api/v1/alerts/{}", applied.alert_ids[0]))
        .await;
    assert_eq!(a["source"]["type"], "sigma");
    assert_eq!(a["source"]["title"], "SQL Injection Strings In URI");
    assert_eq!(
        a["source"]["author"],
        "Saw Win Naung, Nasreddine Bencherchali"
    );
    assert_eq!(a["source"]["level"], "high");
    assert_eq!(
        a["source"]["tags"],
        json!(["attack.initial-access", "attack.t1190"])
    );
    let list = app.get_json("/api/v1/alerts?detector=sigma").await;
    assert_eq!(list["total"], 1);
    let list = app
        .get_json(&format!("/api/v1/alerts?incident_id={}", s[0].id))
        .await;
    assert_eq!(list["total"], 2);
    assert_error(
        app.get("/api/v1/alerts/999999", &app.admin).await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.get("/api/v1/alerts?severity=Huge", &app.admin).await,
        400,
        "bad_request",
    )
    .await;
}

#[tokio::test]
async fn openapi_lists_every_route_and_every_route_is_served() {
    let app = spawn_app().await;
    let doc = app.get_json("/api/v1/openapi.json").await;
    assert_eq!(doc["openapi"], "3.1.0");
    for r in ROUTES {
        let methods: &[&str] = if r.method == "any" {
            &["get", "post", "put", "patch", "delete"]
        } else {
            std::slice::from_ref(&r.method)
        };
        assert!(
            methods.iter().all(|m| doc["paths"][r.path][*m].is_object()),
            "{} {} missing from openapi",
            r.method,
            r.path
        );
        let path = r
            .path
            .replace("{id}", "999999")
            .replace("{name}", "nobody")
            .replace("{*path}", "x");
        let method = reqwest::Method::from_bytes(methods[0].to_uppercase().as_bytes()).unwrap();
        let resp = app
            .client
            .request(method, app.url(&path))
            .bearer_auth(&app.admin)
            .send()
            .await
            .unwrap();
        assert_ne!(resp.status(), 405, "{} {}", r.method, r.path);
        let body = resp.text().await.unwrap();
        assert!(
            !body.contains("no such route"),
            "{} {} not routed",
            r.method,
            r.path
        );
    }
    assert_eq!(
        doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum::<usize>(),
        ROUTES
            .iter()
            .map(|r| if r.method == "any" { 5 } else { 1 })
            .sum::<usize>()
    );
    let r = app.get("/api/v2/nothing", &app.admin).await;
    assert_error(r, 404, "not_found").await;
}

#[tokio::test]
async fn metrics_count_routes_with_bounded_labels() {
    let app = spawn_app().await;
    let viewer = app.token(Role::Viewer).await;
    app.get("/api/v1/incidents/999999", &viewer).await;
    app.get("/api/v1/users/203.0.113.9/secret", &viewer).await;
    let r = app.get("/metrics", &viewer).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains(r#"rampart_http_requests_total{method="get",route="/api/v1/incidents/{id}",status_class="4xx"} 1"#), "{text}");
    assert!(!text.contains("203.0.113.9") && !text.contains(&viewer));
    assert!(text.contains("rampart_ingest_events_total 0"));
    // Pipeline series: counters and the detection-state gauge (bounded state is a metric).
    assert!(text.contains("rampart_pipeline_events_total 0"), "{text}");
    assert!(
        text.contains("# TYPE rampart_detection_state_bytes gauge"),
        "{text}"
    );
    assert_error(
        app.client.get(app.url("/metrics")).send().await.unwrap(),
        401,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn inventory_lists_endpoints_with_auth_and_activity() {
    let app = spawn_app().await;
    let ep = |path: &str, last: i64, calls: u64, authed: u64| rampart_model::EndpointInfo {
        host: String::new(),
        method: "GET".into(),
        path_template: path.into(),
        first_seen: rampart_model::Timestamp::from_secs(0),
        last_seen: rampart_model::Timestamp::from_secs(last),
        calls,
        status_classes: [0, 0, calls, 0, 0, 0],
        authenticated_calls: authed,
        params: Default::default(),
        sensitive_data: vec![],
    };
    let day = 86_400;
    app.store
        .upsert_endpoints(&[
            ep("/a", 100 * day, 10, 10),
            ep("/b", 50 * day, 4, 0),
            ep("/c", 95 * day, 4, 2),
        ])
        .await
        .unwrap();
    let v = app.get_json("/api/v1/inventory/endpoints").await;
    let got: Vec<String> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e["key"].as_str().unwrap(),
                e["auth"].as_str().unwrap(),
                e["inactive"]
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "GET /a authenticated false",
            "GET /b unauthenticated true",
            "GET /c mixed false"
        ]
    );
}

/// A 409 for a duplicate token name names the token and carries no SQL or driver text, also
/// when several requests race for the same name.
#[tokio::test]
async fn duplicate_token_name_conflict_has_no_driver_text() {
    let app = spawn_app().await;
    let create = || {
        app.post(
            "/api/v1/tokens",
            &app.admin,
            json!({"name": "dup", "role": "viewer"}),
        )
    };
    // In flight together, so they can race past the store's name check.
    let (a, b, c, d) = tokio::join!(create(), create(), create(), create());
    let answers = [a, b, c, d];
    let created = answers.iter().filter(|r| r.status() == 201).count();
    assert_eq!(created, 1, "exactly one request creates the token");
    for r in answers.into_iter().filter(|r| r.status() != 201) {
        let message = assert_error(r, 409, "conflict").await;
        assert!(message.contains("dup"), "{message}");
        for leak in [
            "UNIQUE",
            "constraint",
            "duplicate key",
            "tokens.",
            "sqlite",
            "SQL",
        ] {
            assert!(!message.contains(leak), "{message:?} leaks {leak:?}");
        }
    }
}
