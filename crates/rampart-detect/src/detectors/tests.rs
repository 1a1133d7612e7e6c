//! Data-driven cases: each detector fires on its attack and stays silent on a benign
//! look-alike, after the same benign learning traffic.

use std::borrow::Cow;

use rampart_model::{AlertDraft, ApiEvent, Timestamp};

use crate::config::DetectConfig;
use crate::Engine;

/// End of the learning traffic (40 minutes).
pub(super) const T0: i64 = 40 * 60_000;

pub(super) fn ev(t: i64, ip: &str, method: &str, target: &str, status: u16) -> ApiEvent<'static> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    ApiEvent {
        ts: Timestamp::from_millis(t),
        client_ip: ip.parse().ok(),
        method: Cow::Owned(method.to_string()),
        path: Cow::Owned(path.to_string()),
        query: Cow::Owned(query.to_string()),
        status,
        request_bytes: Some(300),
        response_bytes: Some(2_000),
        latency_us: Some(50_000),
        ..Default::default()
    }
}

pub(super) fn authed(mut e: ApiEvent<'static>, who: &str) -> ApiEvent<'static> {
    e.principal = Some(Cow::Owned(who.to_string()));
    e.authenticated = true;
    e
}

pub(super) fn body(mut e: ApiEvent<'static>, b: &str) -> ApiEvent<'static> {
    e.request_body = Some(Cow::Owned(b.to_string()));
    e
}

/// Benign traffic: 10 users on items, orders and order creation, one call every 1.2 s.
fn learning() -> Vec<ApiEvent<'static>> {
    (0..2_000i64)
        .map(|i| {
            let t = i * 1_200;
            let ip = format!("10.0.0.{}", i % 10);
            let who = format!("user{}", i % 10);
            let e = match i % 3 {
                0 => ev(
                    t,
                    &ip,
                    "GET",
                    &format!("/api/items/{}?limit=20", i % 20 + 1),
                    200,
                ),
                1 => ev(t, &ip, "GET", &format!("/api/orders?page={}", i % 5), 200),
                _ => body(
                    ev(t, &ip, "POST", "/api/orders", 201),
                    r#"{"item":1,"qty":2}"#,
                ),
            };
            authed(e, &who)
        })
        .collect()
}

pub(super) fn cfg() -> DetectConfig {
    let mut c = DetectConfig::default();
    c.baseline.min_samples = 300;
    c.detectors.update(
        "unseen_param",
        |u: &mut super::params::UnseenParamConfig| u.min_samples = 200,
    );
    c.detectors.update(
        "mass_assignment",
        |m: &mut super::params::MassAssignmentConfig| m.min_writes = 50,
    );
    c.detectors.update(
        "function_level_authz",
        |f: &mut super::access::FunctionAuthzConfig| f.min_calls = 50,
    );
    c
}

pub(super) fn run(c: &DetectConfig, attack: Vec<ApiEvent<'static>>) -> Vec<AlertDraft> {
    let mut engine = Engine::builtin(c);
    let mut out = Vec::new();
    for e in learning().iter().chain(attack.iter()) {
        engine.observe(e, &mut out);
    }
    out
}

pub(super) fn fired(alerts: &[AlertDraft]) -> Vec<String> {
    let mut ids: Vec<String> = alerts.iter().map(|a| a.detector.clone()).collect();
    ids.sort();
    ids.dedup();
    ids
}

#[track_caller]
fn check(attack: Vec<ApiEvent<'static>>, expected: &[&str]) {
    let got = fired(&run(&cfg(), attack));
    assert_eq!(got, expected, "fired detectors");
}

pub(super) fn at(i: i64) -> i64 {
    T0 + 1_000 + i
}

#[test]
fn learning_traffic_alone_is_silent() {
    check(vec![], &[]);
}

#[test]
fn benign_continuation_is_silent() {
    let more: Vec<_> = learning()
        .into_iter()
        .take(300)
        .map(|mut e| {
            e.ts = Timestamp::from_millis(e.ts.millis() + T0 + 60_000);
            e
        })
        .collect();
    check(more, &[]);
}

#[test]
fn traffic_spike_endpoint_fires_on_population_flood() {
    let flood = (0..400)
        .map(|i| {
            authed(
                ev(
                    at(i * 100),
                    &format!("10.1.{}.{}", i / 200, i % 200),
                    "GET",
                    "/api/orders?page=1",
                    200,
                ),
                &format!("u{i}"),
            )
        })
        .collect();
    check(flood, &["traffic_spike_endpoint"]);
}

#[test]
fn traffic_spike_silent_below_floor() {
    let calm = (0..100)
        .map(|i| {
            authed(
                ev(
                    at(i * 500),
                    &format!("10.1.0.{}", i % 100),
                    "GET",
                    "/api/orders?page=1",
                    200,
                ),
                &format!("u{i}"),
            )
        })
        .collect();
    check(calm, &[]);
}

#[test]
fn traffic_spike_ip_fires_on_one_client_flood() {
    let flood = (0..700)
        .map(|i| {
            authed(
                ev(at(i * 50), "10.0.0.1", "GET", "/api/orders?page=1", 200),
                "user1",
            )
        })
        .collect();
    check(flood, &["traffic_spike_endpoint", "traffic_spike_ip"]);
}

#[test]
fn large_response_fires_and_normal_size_is_silent() {
    let mut big = authed(
        ev(at(0), "10.0.0.1", "GET", "/api/orders?page=1", 200),
        "user1",
    );
    big.response_bytes = Some(50_000_000);
    check(vec![big], &["large_response"]);
    let mut ok = authed(
        ev(at(0), "10.0.0.1", "GET", "/api/orders?page=1", 200),
        "user1",
    );
    ok.response_bytes = Some(2_500);
    check(vec![ok], &[]);
}

#[test]
fn large_request_fires() {
    let mut big = body(
        authed(ev(at(0), "10.0.0.1", "POST", "/api/orders", 201), "user1"),
        r#"{"item":1,"qty":2}"#,
    );
    big.request_bytes = Some(20_000_000);
    check(vec![big], &["large_request"]);
}

#[test]
fn latency_spike_fires_on_many_slow_calls_not_one() {
    let slow = |n: i64| -> Vec<ApiEvent<'static>> {
        (0..n)
            .map(|i| {
                let mut e = authed(
                    ev(at(i * 100), "10.0.0.1", "GET", "/api/orders?page=1", 200),
                    "user1",
                );
                e.latency_us = Some(5_000_000);
                e
            })
            .collect()
    };
    check(slow(25), &["latency_spike"]);
    check(slow(3), &[]);
}

#[test]
fn error_burst_fires_on_5xx_burst_not_a_few() {
    let errs = |n: i64| -> Vec<ApiEvent<'static>> {
        (0..n)
            .map(|i| {
                authed(
                    ev(at(i * 100), "10.0.0.1", "GET", "/api/orders?page=1", 503),
                    "user1",
                )
            })
            .collect()
    };
    check(errs(30), &["error_burst"]);
    check(errs(5), &[]);
}

#[test]
fn resource_consumption_fires_on_huge_page() {
    check(
        vec![authed(
            ev(at(0), "10.0.0.1", "GET", "/api/items/3?limit=100000", 200),
            "user1",
        )],
        &["resource_consumption"],
    );
    check(
        vec![authed(
            ev(at(0), "10.0.0.1", "GET", "/api/items/3?limit=50", 200),
            "user1",
        )],
        &[],
    );
}

#[test]
fn endpoint_spray_fires_on_many_missing_paths() {
    let spray = |n: i64| -> Vec<ApiEvent<'static>> {
        (0..n)
            .map(|i| {
                ev(
                    at(i * 100),
                    "203.0.113.9",
                    "GET",
                    &format!("/probe{i}/x"),
                    404,
                )
            })
            .collect()
    };
    check(spray(60), &["endpoint_spray"]);
    check(spray(10), &[]);
}

#[test]
fn param_enumeration_fires_on_id_walk() {
    let walk = |n: i64| -> Vec<ApiEvent<'static>> {
        (0..n)
            .map(|i| {
                ev(
                    at(i * 100),
                    "203.0.113.9",
                    "GET",
                    &format!("/api/items/{}", 1000 + i),
                    404,
                )
            })
            .collect()
    };
    check(walk(150), &["param_enumeration"]);
    check(walk(30), &[]);
}

#[test]
fn bola_fires_on_successful_walk_by_one_principal() {
    let walk = |n: i64| -> Vec<ApiEvent<'static>> {
        (0..n)
            .map(|i| {
                authed(
                    ev(
                        at(i * 200),
                        "10.0.0.1",
                        "GET",
                        &format!("/api/items/{}", 500 + i),
                        200,
                    ),
                    "user1",
                )
            })
            .collect()
    };
    check(walk(70), &["bola"]);
    // the same user rereading its own few objects
    let reread = (0..70)
        .map(|i| {
            authed(
                ev(
                    at(i * 200),
                    "10.0.0.1",
                    "GET",
                    &format!("/api/items/{}", 1 + i % 5),
                    200,
                ),
                "user1",
            )
        })
        .collect();
    check(reread, &[]);
}

#[test]
fn distributed_param_enumeration_fires_on_spread_walk() {
    let walk = |ips: i64| -> Vec<ApiEvent<'static>> {
        (0..ips * 5)
            .map(|i| {
                let ip = format!("198.51.{}.{}", (i % ips) / 200, (i % ips) % 200);
                authed(
                    ev(
                        at(i * 500),
                        &ip,
                        "GET",
                        &format!("/api/items/{}", 10_000 + i),
                        404,
                    ),
                    &format!("bot{}", i % ips),
                )
            })
            .collect()
    };
    check(walk(100), &["distributed_param_enumeration"]);
    check(walk(10), &[]);
}

#[test]
fn anomalous_param_type_fires_on_string_in_integer_param() {
    check(
        vec![authed(
            ev(
                at(0),
                "10.0.0.1",
                "GET",
                "/api/items/3?limit=1%27%20OR%201=1",
                200,
            ),
            "user1",
        )],
        &["anomalous_param_type"],
    );
    check(
        vec![authed(
            ev(at(0), "10.0.0.1", "GET", "/api/items/3?limit=7", 200),
            "user1",
        )],
        &[],
    );
}

#[test]
fn unseen_param_fires_on_new_name() {
    check(
        vec![authed(
            ev(
                at(0),
                "10.0.0.1",
                "GET",
                "/api/orders?page=1&debug=true",
                200,
            ),
            "user1",
        )],
        &["unseen_param"],
    );
}

#[test]
fn unauth_access_fires_on_2xx_without_credentials() {
    check(
        vec![ev(at(0), "203.0.113.9", "GET", "/api/orders?page=1", 200)],
        &["unauth_access"],
    );
    check(
        vec![ev(at(0), "203.0.113.9", "GET", "/api/orders?page=1", 401)],
        &[],
    );
}

#[test]
fn mass_assignment_fires_on_role_property() {
    let w = |b: &str| {
        vec![body(
            authed(ev(at(0), "10.0.0.1", "POST", "/api/orders", 201), "user1"),
            b,
        )]
    };
    check(
        w(r#"{"item":1,"qty":2,"role":"admin"}"#),
        &["mass_assignment"],
    );
    check(w(r#"{"qty":3,"item":9}"#), &[]);
}

#[test]
fn function_level_authz_fires_on_admin_call_outside_profile() {
    check(
        vec![authed(
            ev(at(0), "10.0.0.1", "DELETE", "/api/admin/users/7", 204),
            "user1",
        )],
        &["function_level_authz"],
    );
    let a = run(
        &cfg(),
        vec![authed(
            ev(at(0), "10.0.0.1", "GET", "/api/admin/users", 403),
            "user1",
        )],
    );
    assert_eq!(a.len(), 1);
    assert_eq!(
        a[0].severity,
        rampart_model::Severity::Low,
        "refused calls are low"
    );
}

#[test]
fn function_level_authz_fires_on_a_refused_user_before_its_profile_is_learned() {
    // 30 ordinary calls (under the learning minimum of 50), then admin calls the API refuses
    // (so the caller holds no admin role), then one it answers: broken function-level authz.
    let newcomer = |t: i64, m: &str, path: &str, status: u16| {
        authed(ev(at(t), "10.0.0.77", m, path, status), "newcomer")
    };
    let mut calls: Vec<_> = (0..30)
        .map(|i| newcomer(i * 500, "GET", "/api/orders?page=1", 200))
        .collect();
    calls.push(newcomer(16_000, "GET", "/api/admin/users", 403));
    calls.push(newcomer(17_000, "GET", "/api/admin/metrics", 403));
    let a = run(&cfg(), calls.clone());
    assert_eq!(fired(&a), Vec::<String>::new(), "two refusals stay quiet");
    calls.push(newcomer(18_000, "GET", "/api/admin/settings", 403));
    let a = run(&cfg(), calls.clone());
    assert_eq!(fired(&a), ["function_level_authz"]);
    assert_eq!(a[0].severity, rampart_model::Severity::Low);
    calls.push(newcomer(20_000, "DELETE", "/api/admin/users/7", 204));
    let a = run(&cfg(), calls);
    assert_eq!(a.len(), 2);
    assert_eq!(a[1].severity, rampart_model::Severity::Critical);
    // Benign look-alike: an operator whose admin calls are answered is learning its admin
    // profile, so further admin endpoints are not flagged.
    let op = |t: i64, m: &str, path: &str| authed(ev(at(t), "10.0.0.78", m, path, 200), "operator");
    let mut ops: Vec<_> = (0..30)
        .map(|i| op(i * 500, "GET", "/api/orders?page=1"))
        .collect();
    ops.push(op(16_000, "GET", "/api/admin/metrics"));
    ops.push(op(17_000, "GET", "/api/admin/users"));
    ops.push(op(20_000, "DELETE", "/api/admin/users/7"));
    check(ops, &[]);
}

pub(super) fn login(t: i64, ip: &str, account: &str, status: u16) -> ApiEvent<'static> {
    body(
        ev(t, ip, "POST", "/api/login", status),
        &format!(r#"{{"username":"{account}","password":"x"}}"#),
    )
}

#[test]
fn credential_stuffing_fires_on_many_accounts_from_one_ip() {
    let stuff: Vec<_> = (0..25)
        .map(|i| login(at(i * 100), "203.0.113.9", &format!("victim{i}"), 401))
        .collect();
    // 25 failures from one source on one login endpoint are also password guessing.
    check(stuff, &["credential_stuffing", "login_attack"]);
    let typo = (0..3)
        .map(|i| login(at(i * 100), "10.0.0.1", "user1", 401))
        .collect();
    check(typo, &[]);
}

#[test]
fn credential_stuffing_success_raises_severity() {
    let mut stuff: Vec<_> = (0..5)
        .map(|i| login(at(i * 100), "203.0.113.9", &format!("victim{i}"), 401))
        .collect();
    stuff.push(login(at(600), "203.0.113.9", "victim5", 200));
    stuff.extend((6..30).map(|i| {
        login(
            at(i * 100 + 1000),
            "203.0.113.9",
            &format!("victim{i}"),
            401,
        )
    }));
    let a = run(&cfg(), stuff);
    // 29 failures from one source: `login_attack` sees password guessing too (the success
    // came after only 5, too few for a takeover).
    assert_eq!(fired(&a), ["credential_stuffing", "login_attack"]);
    let stuffing = a.iter().find(|a| a.detector == "credential_stuffing");
    assert_eq!(
        stuffing.map(|a| a.severity),
        Some(rampart_model::Severity::High)
    );
}

#[test]
fn password_spray_fires_on_few_attempts_per_account_from_many_ips() {
    let spray = (0..40)
        .map(|i| {
            login(
                at(i * 1_000),
                &format!("198.51.100.{}", i % 10),
                &format!("acct{i}"),
                401,
            )
        })
        .collect();
    check(spray, &["password_spray"]);
}

#[test]
fn brute_force_fires_and_success_after_is_critical() {
    let mut bf: Vec<_> = (0..25)
        .map(|i| {
            login(
                at(i * 1_000),
                &format!("198.51.100.{}", i % 3),
                "alice",
                401,
            )
        })
        .collect();
    check(bf.clone(), &["brute_force"]);
    bf.push(login(at(30_000), "198.51.100.1", "alice", 200));
    let a = run(&cfg(), bf);
    assert!(a
        .iter()
        .any(|a| a.severity == rampart_model::Severity::Critical));
}

#[test]
fn leaked_credential_fires_on_key_from_many_ips() {
    let leak = |n: i64| -> Vec<ApiEvent<'static>> {
        (0..n)
            .map(|i| {
                let mut e = ev(
                    at(i * 1_000),
                    &format!("192.0.2.{i}"),
                    "GET",
                    "/api/orders?page=1",
                    200,
                );
                e.api_key_id = Some("k-1234".into());
                e.authenticated = true;
                e
            })
            .collect()
    };
    check(leak(15), &["leaked_credential"]);
    check(leak(3), &[]);
}

#[test]
fn allow_list_skips_events_and_suppression_drops_alerts() {
    let stuff: Vec<_> = (0..25)
        .map(|i| login(at(i * 100), "203.0.113.9", &format!("victim{i}"), 401))
        .collect();
    let mut c = cfg();
    c.allow.ips.push("203.0.113.0/24".parse().unwrap());
    assert_eq!(fired(&run(&c, stuff.clone())), Vec::<String>::new());
    // The same 25 failures are password guessing for `login_attack`, which stays on.
    let mut c = cfg();
    c.suppress.push(crate::common::Suppression {
        detector: Some("credential_stuffing".into()),
        ..Default::default()
    });
    assert_eq!(fired(&run(&c, stuff.clone())), ["login_attack"]);
    let mut c = cfg();
    c.detectors.set_enabled("credential_stuffing", false);
    assert_eq!(fired(&run(&c, stuff)), ["login_attack"]);
}

#[test]
fn every_alert_is_complete() {
    let stuff: Vec<_> = (0..25)
        .map(|i| login(at(i * 100), "203.0.113.9", &format!("victim{i}"), 401))
        .collect();
    for a in run(&cfg(), stuff) {
        assert!(!a.description.is_empty() && !a.mitre.is_empty() && a.owasp.is_some());
        assert!(!a.entities.is_empty() && !a.reasons.is_empty() && !a.evidence.is_empty());
        assert!(a.evidence.len() <= rampart_model::MAX_EVIDENCE);
    }
}

#[test]
fn registry_ids_match_config_ids() {
    let mut ids = Engine::builtin(&DetectConfig::default()).ids();
    ids.sort();
    let mut want: Vec<&str> = crate::DETECTORS.iter().map(|r| r.id).collect();
    want.sort();
    assert_eq!(ids, want);
}

/// Every `max_keys` of the configuration (whatever the detector), plus the baseline's
/// `max_endpoints`, set to `cap`; returns the config and the sum of those caps.
fn capped(cap: usize) -> (DetectConfig, usize) {
    let mut c = DetectConfig::default();
    let mut total = 0;
    for r in crate::DETECTORS {
        let mut v = (r.defaults)();
        if let Some(x) = v.as_object_mut().and_then(|o| o.get_mut("max_keys")) {
            *x = cap.into();
            total += cap;
        }
        c.detectors.insert_raw(r.id, v);
    }
    c.baseline.max_endpoints = cap;
    total += cap;
    (c, total)
}

/// Bytes one tracked key may cost at most: its slot in a table kept at most 7/8 full but up
/// to about 2.3x the cap in positions (a power of two), with a slot of at most ~300 bytes,
/// plus the value's heap (HyperLogLog registers up to 1 KiB + 256 B, a few ids).
const BYTES_PER_KEY: usize = 2 * 1024;

/// Keys held by the fixed, not configurable, tables: 14 cooldowns and the latency and error
/// counters (10,000 keys each).
const FIXED_KEYS: usize = 16 * 10_000;

#[test]
fn adversarial_stream_stays_bounded() {
    // Every event from a new IP, to a new path with a new id, by a new principal, with
    // mixed statuses and some login paths, against small caps: each table is overrun
    // 25 to 50 times (the rarest kind, failed logins, is 1 event in 16), and state must
    // stop growing once the caps are reached.
    const CAP: usize = 2_000;
    const EVENTS: i64 = 100_000;
    let (c, configured_keys) = capped(CAP);
    assert!(configured_keys >= 11 * CAP, "caps found: {configured_keys}");
    let mut engine = Engine::builtin(&c);
    let mut out = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut e = ev(0, "1.2.3.4", "GET", "/", 404);
    let (mut at_fill, mut max_bytes) = (0, 0);
    for i in 0..EVENTS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        e.ts = Timestamp::from_millis(i);
        e.client_ip = Some(std::net::IpAddr::V4(std::net::Ipv4Addr::from(
            (x >> 32) as u32,
        )));
        e.path = Cow::Owned(if x.is_multiple_of(4) {
            format!("/api/auth/login{:x}", x & 0xffff_ffff)
        } else {
            format!("/r{:x}/{}", x & 0xffff_ffff, x % 100_000)
        });
        e.status = [200, 401, 404, 500][(x >> 8) as usize % 4];
        e.principal = Some(Cow::Owned(format!("p{}", x % 1_000_000)));
        e.authenticated = x.is_multiple_of(3);
        engine.observe(&e, &mut out);
        if i == EVENTS / 2 {
            // Every cap has been reached: even failed logins brought 3,000 distinct keys.
            at_fill = engine.state_bytes();
        }
        if i % 1_000 == 0 {
            max_bytes = max_bytes.max(engine.state_bytes());
        }
        out.clear();
    }
    max_bytes = max_bytes.max(engine.state_bytes());
    eprintln!("adversarial state bytes: {at_fill} when full, {max_bytes} at most");
    let bound = (configured_keys + FIXED_KEYS) * BYTES_PER_KEY;
    assert!(
        max_bytes <= bound,
        "state grew to {max_bytes} bytes, bound {bound}"
    );
    // Twice the traffic after the caps filled may not grow state by more than what
    // values hold on the heap (an evidence ring or a baseline's parameter list).
    assert!(
        max_bytes <= at_fill + at_fill / 8,
        "state grew from {at_fill} to {max_bytes} bytes after the caps filled"
    );
    let b = engine.baselines().map_or(0, |b| b.len());
    assert!(b <= CAP, "baselines hold {b} endpoints");
}
