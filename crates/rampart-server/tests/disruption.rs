//! Automatic attack disruption over a real SQLite store: a password brute force through a
//! login form that ends in a success (detected by the pipeline from pushed events, from a
//! browser's user agent) is contained at once by the `account_takeover` policy when it is
//! automatic, only recommended (pending approval) by default, never on a protected address,
//! never from an alert pushed from outside, and undone in one call.

mod common;

use std::time::{Duration, Instant};

use common::{assert_error, spawn_app_pipeline, TestApp};
use rampart_contain::disruption::{DisruptionConfig, Mode};
use rampart_model::{ActionFilter, Role};
use rampart_pipeline::PipelineConfig;
use serde_json::{json, Value};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// 30 refused form logins from `ip`, two seconds apart, then one that succeeds.
fn takeover(ip: &str) -> String {
    let line = |i: i64, status: u16, bytes: u64| {
        json!({
            "ts": 1_767_225_600_000i64 + i * 2_000,
            "client_ip": ip,
            "method": "POST",
            "path": "/login",
            "status": status,
            "response_bytes": bytes,
            "request": {"headers": {"user-agent": FIREFOX}},
        })
        .to_string()
    };
    let mut out: Vec<String> = (0..30).map(|i| line(i, 403, 1_800)).collect();
    out.push(line(31, 200, 12_000));
    out.join("\n")
}

async fn push(app: &TestApp, body: String) {
    let ingest = app.token(Role::Ingest).await;
    let r = app
        .client
        .post(app.url("/api/v1/events"))
        .bearer_auth(&ingest)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
}

/// The actions disruption took, once there are `n` of them (bounded wait: the automation
/// worker runs after the batch commits).
async fn disruption_actions(app: &TestApp, n: usize) -> Vec<rampart_model::Action> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = app
            .store
            .list_actions(&ActionFilter {
                requested_by: Some("disruption:".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        if page.items.len() >= n {
            return page.items;
        }
        assert!(
            Instant::now() < deadline,
            "{} disruption actions, wanted {n}",
            page.items.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn pipeline(disruption: DisruptionConfig, protect: &[&str]) -> PipelineConfig {
    let mut contain = rampart_contain::ContainConfig::default();
    contain.protected.ips = protect.iter().map(|p| p.parse().unwrap()).collect();
    PipelineConfig {
        contain,
        disruption,
        ..Default::default()
    }
}

#[tokio::test]
async fn automatic_policy_contains_a_takeover_at_once_and_undo_reverts_it() {
    let app = spawn_app_pipeline(pipeline(DisruptionConfig::automatic(), &[]), |_| {}).await;
    push(&app, takeover("203.0.113.50")).await;
    let actions = disruption_actions(&app, 1).await;
    assert_eq!(actions.len(), 1);
    let a = &actions[0];
    assert_eq!(
        (
            a.action.kind.as_str(),
            a.action.target.as_str(),
            a.status().as_str()
        ),
        ("block_ip", "203.0.113.50", "active")
    );
    assert_eq!(a.action.requested_by, "disruption:account_takeover");
    assert_eq!(a.action.duration_secs, 3600, "a short default duration");
    let incident = a.action.incident_id.expect("the action names its incident");

    // enforced: the decision endpoint denies the address (the node synced at the signal)
    let enforcer = app.token(Role::Enforcer).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = app
            .client
            .get(app.url("/enforce/nginx"))
            .header("X-Rampart-Enforcer-Key", &enforcer)
            .header("X-Real-IP", "203.0.113.50")
            .header("X-Original-URI", "/login")
            .header("X-Original-Method", "POST")
            .send()
            .await
            .unwrap();
        if r.status() == 403 {
            break;
        }
        assert!(Instant::now() < deadline, "never denied: {}", r.status());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // the incident is tagged and says what was done; the audit names the policy
    let deadline = Instant::now() + Duration::from_secs(10);
    let detail = loop {
        let d = app.store.get_incident(incident).await.unwrap().unwrap();
        if d.incident.tags.iter().any(|t| t == "attack disruption") && !d.comments.is_empty() {
            break d;
        }
        assert!(
            Instant::now() < deadline,
            "never tagged: {:?}",
            d.incident.tags
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(detail.comments[0].author, "disruption:account_takeover");
    assert!(detail.comments[0].text.contains("block_ip 203.0.113.50"));

    // one click undoes it (the caller needs revert_any: tier2 does not have it)
    let tier2 = app.token(Role::Tier2).await;
    let path = format!("/api/v1/incidents/{incident}/disruption/undo");
    assert_error(app.post(&path, &tier2, json!({})).await, 403, "forbidden").await;
    let manager = app.token(Role::SocManager).await;
    // the console shows the button to those who may press it, and it works
    let console = app.console(Role::SocManager).await;
    let page = console
        .get(&format!("/incidents/{incident}?tab=response"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"undo-disruption\""),
        "the undo button is shown"
    );
    let viewer = app.console(Role::Tier2).await;
    let page = viewer
        .get(&format!("/incidents/{incident}?tab=response"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("id=\"undo-disruption\""), "not to tier2");
    let r = console
        .post(&format!("/incidents/{incident}/disruption/undo"), &[])
        .await;
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(to.ends_with("msg=disruption-undone"), "{to}");
    let reverted = app.store.get_action(a.id).await.unwrap().unwrap();
    assert_eq!(reverted.status().as_str(), "reverted");
    let again: Value = app
        .post(&path, &manager, json!({"reason": "pen test"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["reverted"], json!([]), "nothing left to undo");
    assert_error(
        app.post(
            "/api/v1/incidents/999999/disruption/undo",
            &manager,
            json!({}),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // another takeover is contained as well
    push(&app, takeover("203.0.113.51")).await;
    let actions = disruption_actions(&app, 2).await;
    assert_eq!(actions[0].action.target, "203.0.113.51");
}

#[tokio::test]
async fn by_default_a_policy_only_recommends_and_never_touches_protected_or_pushed() {
    let app = spawn_app_pipeline(
        pipeline(DisruptionConfig::default(), &["203.0.113.77/32"]),
        |_| {},
    )
    .await;
    // a protected address: the rails refuse, nothing is created
    push(&app, takeover("203.0.113.77")).await;
    app.flush_automation().await;
    // a pushed alert claiming the detector: disruption leaves it alone
    let ingest = app.token(Role::Ingest).await;
    let mut forged = common::alert(
        "Probable account takeover",
        rampart_model::Severity::Critical,
        "198.51.100.66",
        1_767_225_600,
    );
    forged.detector = "login_attack".into();
    let r = app
        .post(
            "/api/v1/alerts",
            &ingest,
            json!([serde_json::to_value(forged).unwrap()]),
        )
        .await;
    assert_eq!(r.status(), 202);
    // an ordinary takeover: recommended, pending approval, not in force
    push(&app, takeover("203.0.113.52")).await;
    let actions = disruption_actions(&app, 1).await;
    let targets: Vec<&str> = actions.iter().map(|a| a.action.target.as_str()).collect();
    assert_eq!(targets, ["203.0.113.52"]);
    assert_eq!(actions[0].status().as_str(), "pending_approval");
    assert!(actions[0].action.expires_at.is_none());
    // a person approves it with one click: in force
    let manager = app.token(Role::SocManager).await;
    let r = app
        .post(
            &format!("/api/v1/actions/{}/approve", actions[0].id),
            &manager,
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    app.flush_automation().await;
    let all = app
        .store
        .list_actions(&ActionFilter::default())
        .await
        .unwrap();
    assert_eq!(
        all.total, 1,
        "no action on the protected or the pushed address"
    );
}

#[tokio::test]
async fn the_hourly_budget_caps_what_policies_take() {
    let cfg = DisruptionConfig {
        mode: Mode::Automatic,
        max_actions_per_hour: 1,
        ..Default::default()
    };
    let app = spawn_app_pipeline(pipeline(cfg, &[]), |_| {}).await;
    push(&app, takeover("203.0.113.53")).await;
    disruption_actions(&app, 1).await;
    push(&app, takeover("203.0.113.54")).await;
    app.flush_automation().await;
    let actions = disruption_actions(&app, 1).await;
    assert_eq!(actions.len(), 1, "the budget of one per hour holds");
}
