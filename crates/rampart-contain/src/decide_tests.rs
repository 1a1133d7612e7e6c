use rampart_model::{RateLimit, Timestamp};

use super::*;

const NOW: i64 = 1_700_000_000_000;
const KEY: &str = "0123456789abcdef0123456789abcdef";

fn action(id: i64, kind: ActionKind, target: &str, scope: (&str, &str)) -> Action {
    let mut a = crate::test_support::action(
        id,
        kind,
        target,
        ActionStatus::Active,
        Timestamp(NOW - 1000),
        3600,
        false,
    );
    a.action.expires_at = Some(Timestamp(NOW + 3_600_000));
    a.action.incident_id = None;
    a.action.reason = "test".into();
    a.action.requested_by = "token:alice".into();
    a.action.scope = ActionScope {
        host: (!scope.0.is_empty()).then(|| scope.0.to_string()),
        service: (!scope.1.is_empty()).then(|| scope.1.to_string()),
    };
    a.action.rate = (kind == ActionKind::RateLimit).then_some(RateLimit {
        requests: 2,
        window_secs: 60,
    });
    a
}

fn fixture() -> Decisions {
    use ActionKind::*;
    let mut expired = action(9, BlockIp, "198.51.100.9", ("", ""));
    expired.action.expires_at = Some(Timestamp(NOW - 1));
    let mut pending = action(10, BlockIp, "198.51.100.10", ("", ""));
    pending.action.status = ActionStatus::PendingApproval;
    let actions = vec![
        action(1, BlockIp, "203.0.113.7", ("", "")),
        action(2, BlockIp, "198.51.100.0/24", ("", "")),
        action(3, BlockIp, "2001:db8::/32", ("", "")),
        action(4, DisableApiKey, KEY, ("", "")),
        action(5, DisablePrincipal, "mallory", ("", "")),
        action(
            6,
            IsolateEndpoint,
            "DELETE /users/{id}",
            ("api.example.com", ""),
        ),
        action(7, IsolateService, "billing", ("", "")),
        action(8, RateLimit, "ip:192.0.2.50", ("", "")),
        expired,
        pending,
        action(11, BlockIp, "192.0.2.77", ("", "payments")),
    ];
    Decisions::build(&actions, None)
}

fn req<'a>(ip: &str, method: &'a str, path: &'a str) -> Request<'a> {
    Request {
        ip: ip.parse().ok(),
        method,
        path,
        ..Request::default()
    }
}

#[test]
fn verdicts() {
    let d = fixture();
    assert_eq!(
        d.len(),
        10,
        "the expired one is held (it lapses by time), the pending one not"
    );
    let key = key_bytes(KEY);
    #[rustfmt::skip]
    let cases: Vec<(Request<'_>, Verdict, &str)> = vec![
        (req("203.0.113.7", "GET", "/"), Verdict::Deny(1), "blocked address"),
        (req("203.0.113.8", "GET", "/"), Verdict::Allow, "neighbour of a blocked address"),
        (req("198.51.100.200", "GET", "/"), Verdict::Deny(2), "inside a blocked /24"),
        (req("198.51.101.1", "GET", "/"), Verdict::Allow, "outside the /24"),
        (req("2001:db8:1::5", "GET", "/"), Verdict::Deny(3), "inside a blocked IPv6 /32"),
        (req("2001:db9::5", "GET", "/"), Verdict::Allow, "outside it"),
        (Request { key, ..req("192.0.2.1", "GET", "/") }, Verdict::Deny(4), "disabled key"),
        (Request { key: key_bytes("ffffffffffffffffffffffffffffffff"), ..req("192.0.2.1", "GET", "/") }, Verdict::Allow, "another key"),
        (Request { principal: Some("mallory"), ..req("192.0.2.1", "GET", "/") }, Verdict::Deny(5), "disabled principal"),
        (Request { principal: Some("alice"), ..req("192.0.2.1", "GET", "/") }, Verdict::Allow, "another principal"),
        (Request { host: Some("api.example.com"), ..req("192.0.2.1", "DELETE", "/users/42") }, Verdict::Deny(6), "isolated endpoint on its host"),
        (Request { host: Some("API.example.com:8443"), ..req("192.0.2.1", "delete", "/users/42/") }, Verdict::Deny(6), "host with a port, lower-case method, trailing slash"),
        (Request { host: Some("api.example.com"), ..req("192.0.2.1", "DELETE", "/users/42?x=1") }, Verdict::Deny(6), "query ignored"),
        (Request { host: Some("other.example.com"), ..req("192.0.2.1", "DELETE", "/users/42") }, Verdict::Allow, "isolated endpoint on another host"),
        (Request { host: Some("api.example.com"), ..req("192.0.2.1", "GET", "/users/42") }, Verdict::Allow, "another method"),
        (Request { host: Some("api.example.com"), ..req("192.0.2.1", "DELETE", "/%75sers/42") }, Verdict::Deny(6), "percent-encoded segment"),
        (Request { host: Some("api.example.com"), ..req("192.0.2.1", "DELETE", "//users/./42") }, Verdict::Deny(6), "empty and dot segments"),
        (Request { host: Some("api.example.com"), ..req("192.0.2.1", "DELETE", "/public/../users/42") }, Verdict::Deny(6), "dot-dot segment"),
        (Request { host: Some("api.example.com"), ..req("192.0.2.1", "DELETE", "/users/42/keys") }, Verdict::Allow, "a longer path"),
        (Request { host: Some("api.example.com"), ..req("192.0.2.1", "DELETE", "/users") }, Verdict::Allow, "a shorter path"),
        (Request { service: Some("billing"), ..req("192.0.2.1", "GET", "/") }, Verdict::Deny(7), "isolated service"),
        (req("198.51.100.9", "GET", "/"), Verdict::Deny(2), "expired block lapses; the /24 still covers it"),
        (req("192.0.2.77", "GET", "/"), Verdict::Allow, "a block scoped to another service"),
        (Request { service: Some("payments"), ..req("192.0.2.77", "GET", "/") }, Verdict::Deny(11), "a block scoped to its service"),
        (req("", "GET", "/"), Verdict::Allow, "no address"),
    ];
    for (r, want, why) in &cases {
        assert_eq!(d.decide(r, NOW), *want, "{why}: {r:?}");
    }
}

#[test]
fn expired_and_pending_actions_do_not_deny() {
    let d = fixture();
    let r = req("198.51.100.10", "GET", "/");
    // pending 10 is not held; the /24 (action 2) is what denies it
    assert_eq!(d.decide(&r, NOW), Verdict::Deny(2));
    let only = Decisions::build(
        &[action(1, ActionKind::BlockIp, "203.0.113.7", ("", ""))],
        None,
    );
    let r = req("203.0.113.7", "GET", "/");
    assert_eq!(
        only.decide(&r, NOW + 3_600_000),
        Verdict::Allow,
        "at its expiry it lapses"
    );
    assert_eq!(only.decide(&r, NOW + 3_599_999), Verdict::Deny(1));
}

#[test]
fn rate_limit_counts_per_window() {
    let d = fixture();
    let r = req("192.0.2.50", "GET", "/");
    let got: Vec<Verdict> = (0..4).map(|_| d.decide(&r, NOW)).collect();
    assert_eq!(
        got,
        [
            Verdict::Allow,
            Verdict::Allow,
            Verdict::RateLimited(8),
            Verdict::RateLimited(8)
        ]
    );
    assert_eq!(d.decide(&r, NOW + 60_000), Verdict::Allow, "a new window");
    assert_eq!(
        d.decide(&req("192.0.2.51", "GET", "/"), NOW),
        Verdict::Allow
    );
}

#[test]
fn hits_are_counted_and_survive_a_rebuild() {
    let a = vec![action(1, ActionKind::BlockIp, "203.0.113.7", ("", ""))];
    let d = Decisions::build(&a, None);
    let r = req("203.0.113.7", "GET", "/");
    for i in 0..3 {
        d.decide(&r, NOW + i);
    }
    d.decide(&req("203.0.113.8", "GET", "/"), NOW + 10);
    let again = Decisions::build(&a, Some(&d));
    again.decide(&r, NOW + 5);
    let hits: Vec<_> = again.hits().map(|(id, h)| (id, h.take())).collect();
    assert_eq!(hits, [(1, Some((4, NOW + 5)))]);
    assert_eq!(
        again.hits().next().map(|(_, h)| h.take()),
        Some(None),
        "taken"
    );
}

#[test]
fn key_bytes_parses_only_identities() {
    assert_eq!(key_bytes(KEY).map(|b| b[0]), Some(0x01));
    assert_eq!(key_bytes("0123"), None);
    assert_eq!(key_bytes("g123456789abcdef0123456789abcdef"), None);
}

#[test]
fn many_blocks_stay_exact() {
    let actions: Vec<Action> = (0..10_000)
        .map(|i| {
            let ip = format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256);
            action(i + 1, ActionKind::BlockIp, &ip, ("", ""))
        })
        .collect();
    let d = Decisions::build(&actions, None);
    assert_eq!(d.len(), 10_000);
    assert_eq!(d.ip_blocks().count(), 10_000);
    assert_eq!(
        d.decide(&req("10.0.39.15", "GET", "/"), NOW),
        Verdict::Deny(9999 + 1)
    );
    assert_eq!(
        d.decide(&req("10.0.39.16", "GET", "/"), NOW),
        Verdict::Allow
    );
}

#[test]
fn paths_are_normalized_only_when_needed() {
    use std::borrow::Cow;
    assert!(matches!(
        normalize_path("/users/42?x=1"),
        Cow::Borrowed("/users/42")
    ));
    for (raw, want) in [
        ("/%75sers/42", "/users/42"),
        ("//a///b/", "/a/b"),
        ("/a/./b/../c", "/a/c"),
        ("/../../etc", "/etc"),
        ("/%2e%2e/x", "/x"),
        ("/.", "/"),
    ] {
        assert_eq!(normalize_path(raw), want, "{raw}");
    }
}
