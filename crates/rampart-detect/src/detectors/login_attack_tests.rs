//! Data-driven cases for `login_attack`, after the same benign learning traffic as
//! `tests.rs`: failed logins counted per source and login endpoint whether or not the account
//! is visible, failure pages of a login form learned from their size, and a success after
//! many failures raised as a probable account takeover. None of them needs a tool's user
//! agent: every attack here comes from an ordinary browser.

use std::borrow::Cow;

use rampart_model::{ApiEvent, Severity};

use super::tests::{at, cfg, ev, fired, run};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// A form login (`POST /login`, no account visible) from `ip` answered `status` with a page
/// of `bytes`.
fn form(t: i64, ip: &str, status: u16, bytes: u64) -> ApiEvent<'static> {
    let mut e = ev(t, ip, "POST", "/login", status);
    e.user_agent = Cow::Borrowed(FIREFOX);
    e.response_bytes = Some(bytes);
    e
}

/// The `login_attack` alerts, one line each: severity and title.
fn login_alerts(attack: Vec<ApiEvent<'static>>) -> Vec<String> {
    run(&cfg(), attack)
        .iter()
        .filter(|a| a.detector == "login_attack")
        .map(|a| format!("{:?} {}", a.severity, a.title))
        .collect()
}

#[track_caller]
fn check(attack: Vec<ApiEvent<'static>>, expected: &[&str]) {
    assert_eq!(login_alerts(attack), expected);
}

#[test]
fn refused_form_logins_then_a_success_from_a_browser_are_guessing_then_takeover() {
    // Regression: a password brute force through a login form, 403 per wrong password and
    // one 200, from a Firefox user agent and without a visible account, was missed.
    let mut a: Vec<_> = (0..30)
        .map(|i| form(at(i * 2_000), "203.0.113.50", 403, 1_800))
        .collect();
    a.push(form(at(61_000), "203.0.113.50", 200, 12_000));
    let alerts = run(&cfg(), a.clone());
    assert_eq!(fired(&alerts), ["login_attack"]);
    check(
        a,
        &[
            "High Password guessing from 203.0.113.50",
            "Critical Probable account takeover from 203.0.113.50",
        ],
    );
    let takeover = alerts.iter().find(|a| a.severity == Severity::Critical);
    let takeover = takeover.expect("a takeover alert");
    assert_eq!(takeover.mitre, ["T1110", "T1078"]);
    assert!(takeover
        .reasons
        .iter()
        .any(|r| r.metric == "failures_before_success" && r.observed >= 30.0));
    assert!(!takeover.evidence.is_empty());
}

#[test]
fn form_failure_pages_are_learned_from_their_size_and_a_different_page_is_a_takeover() {
    // A login form answering every wrong password 200 with the form again (3,000 bytes,
    // give or take 3%), then a page of another size: the password was found.
    let mut a: Vec<_> = (0..25)
        .map(|i| {
            let mut e = form(
                at(i * 2_000),
                "198.51.100.77",
                200,
                2_910 + (i as u64 * 37) % 180,
            );
            e.request_body = Some(format!("username=admin&password=guess{i}").into());
            e
        })
        .collect();
    a.push({
        let mut e = form(at(51_000), "198.51.100.77", 200, 9_400);
        e.request_body = Some("username=admin&password=summer2024".into());
        e
    });
    check(
        a,
        &[
            "High Password guessing from 198.51.100.77",
            "Critical Probable account takeover of admin from 198.51.100.77",
        ],
    );
}

#[test]
fn redirect_after_failures_is_a_takeover_but_back_to_the_form_is_a_failure() {
    let mut a: Vec<_> = (0..12)
        .map(|i| form(at(i * 2_000), "203.0.113.51", 401, 900))
        .collect();
    let mut again = form(at(25_000), "203.0.113.51", 302, 0);
    again
        .response_headers
        .push(("location".into(), "/login?error=1".into()));
    a.push(again.clone());
    check(a.clone(), &[]);
    let mut home = form(at(26_000), "203.0.113.51", 302, 0);
    home.response_headers
        .push(("location".into(), "/dashboard".into()));
    a.push(home);
    check(a, &["Critical Probable account takeover from 203.0.113.51"]);
}

#[test]
fn a_few_failures_are_silent() {
    let mut a: Vec<_> = (0..5)
        .map(|i| form(at(i * 2_000), "10.0.0.3", 401, 900))
        .collect();
    a.push(form(at(12_000), "10.0.0.3", 200, 12_000));
    check(a, &[]);
}

#[test]
fn failures_spread_over_many_sources_are_not_this_detector() {
    // One failure per source: per-source counting sees nothing (spraying is
    // `password_spray`'s).
    let a: Vec<_> = (0..40)
        .map(|i| form(at(i * 1_000), &format!("198.51.100.{}", i + 1), 403, 1_800))
        .collect();
    check(a, &[]);
}

#[test]
fn successes_only_are_silent() {
    // A client logging in to a JSON API again and again gets same-size tokens: those are
    // not failure pages.
    let json: Vec<_> = (0..30)
        .map(|i| {
            let mut e = form(at(i * 2_000), "10.0.0.4", 200, 700);
            e.path = "/api/login".into();
            e.request_body = Some(format!(r#"{{"username":"svc{i}","password":"x"}}"#).into());
            e
        })
        .collect();
    check(json, &[]);
    // Many people logging in through one form, each once.
    let people: Vec<_> = (0..30)
        .map(|i| form(at(i * 2_000), &format!("192.0.2.{}", i + 1), 200, 3_000))
        .collect();
    check(people, &[]);
    // GET of the login page (no login attempt), same size every time.
    let views: Vec<_> = (0..30)
        .map(|i| {
            let mut e = form(at(i * 2_000), "10.0.0.5", 200, 3_000);
            e.method = "GET".into();
            e
        })
        .collect();
    check(views, &[]);
}

#[test]
fn failures_older_than_the_window_do_not_count() {
    // 15 failures, then 15 more eleven minutes later: never 20 within ten minutes.
    let ip = "203.0.113.52";
    let mut a: Vec<_> = (0..15)
        .map(|i| form(at(i * 1_000), ip, 403, 1_800))
        .collect();
    a.extend((0..15).map(|i| form(at(660_000 + i * 1_000), ip, 403, 1_800)));
    check(a, &[]);
    // 12 failures, then a success eleven minutes later: not after failures in the window.
    let mut a: Vec<_> = (0..12)
        .map(|i| form(at(i * 1_000), ip, 403, 1_800))
        .collect();
    a.push(form(at(700_000), ip, 200, 12_000));
    check(a, &[]);
}

#[test]
fn one_alert_of_each_kind_per_cooldown() {
    let ip = "203.0.113.53";
    let mut a: Vec<_> = (0..60)
        .map(|i| form(at(i * 1_000), ip, 403, 1_800))
        .collect();
    a.push(form(at(61_000), ip, 200, 12_000));
    a.push(form(at(62_000), ip, 200, 12_000));
    check(
        a,
        &[
            "High Password guessing from 203.0.113.53",
            "Critical Probable account takeover from 203.0.113.53",
        ],
    );
}
