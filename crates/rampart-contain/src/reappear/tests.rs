use std::borrow::Cow;

use super::*;

const KEY: &str = "0123456789abcdef0123456789abcdef";
const T0: Timestamp = Timestamp(1_700_000_000_000);

fn action(id: i64, kind: ActionKind, target: &str, status: ActionStatus) -> Action {
    crate::test_support::action(id, kind, target, status, T0, 3600, false)
}

fn event(ip: &str, principal: Option<&str>, key: Option<&str>, ua: &str) -> ApiEvent<'static> {
    ApiEvent {
        ts: T0,
        client_ip: Some(ip.parse().unwrap()),
        method: Cow::Borrowed("GET"),
        path: Cow::Borrowed("/api/v1/me"),
        status: 200,
        user_agent: Cow::Owned(ua.into()),
        principal: principal.map(|p| Cow::Owned(p.into())),
        api_key_id: key.map(str::to_string),
        ..ApiEvent::default()
    }
}

fn watch() -> Watch {
    let entities = vec![
        Entity::attacker_ip("203.0.113.7"),
        Entity::new(EntityKind::User, "mallory", EntityRole::Attacker),
    ];
    let fps = vec![Fingerprint {
        user_agent: "evil/1.0".into(),
        principal: Some("eve".into()),
        api_key: Some(KEY.into()),
    }];
    let actions = [
        action(
            1,
            ActionKind::DisablePrincipal,
            "mallory",
            ActionStatus::Active,
        ),
        action(
            2,
            ActionKind::BlockIp,
            "198.51.100.0/24",
            ActionStatus::Active,
        ),
        action(
            3,
            ActionKind::DisablePrincipal,
            "trent",
            ActionStatus::Reverted,
        ),
        action(4, ActionKind::BlockIp, "192.0.2.1", ActionStatus::Active),
    ];
    let inputs: Vec<WatchInput<'_>> = actions
        .iter()
        .map(|a| WatchInput {
            action: a,
            incident_entities: &entities,
            fingerprints: if a.id == 4 { &fps } else { &[] },
        })
        .collect();
    Watch::build(&inputs)
}

/// An event (address, principal, key, user agent) and the hit it makes (kind, value, action).
type HitCase = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    Option<(HitKind, &'static str, i64)>,
);

#[test]
fn hits() {
    let w = watch();
    assert_eq!(w.len(), 3, "{w:?}");
    #[rustfmt::skip]
    let cases: &[HitCase] = &[
        // A disabled principal from a new address.
        ("192.0.2.50", Some("mallory"), None, "curl", Some((HitKind::Principal, "mallory", 1))),
        // From the incident's own address or a range it blocked: not new.
        ("203.0.113.7", Some("mallory"), None, "curl", None),
        ("198.51.100.9", Some("mallory"), None, "curl", None),
        // A reverted action is not watched; another principal is not watched.
        ("192.0.2.50", Some("trent"), None, "curl", None),
        ("192.0.2.50", Some("alice"), None, "curl", None),
        // The blocked address's fingerprint from another address, by principal or key.
        ("192.0.2.99", Some("eve"), None, "evil/1.0", Some((HitKind::Fingerprint, "eve", 4))),
        ("192.0.2.99", None, Some(KEY), "evil/1.0", Some((HitKind::Fingerprint, KEY, 4))),
        // Same principal, another user agent; same agent, no principal or key.
        ("192.0.2.99", Some("eve"), None, "curl", None),
        ("192.0.2.99", None, None, "evil/1.0", None),
        // The blocked address itself is not "another" address.
        ("192.0.2.1", Some("eve"), None, "evil/1.0", None),
    ];
    for (ip, p, k, ua, want) in cases {
        let ev = event(ip, *p, *k, ua);
        let got = w.check(&ev).map(|h| (h.kind, h.value, h.watched.action_id));
        assert_eq!(got, *want, "{ip} {p:?} {k:?} {ua}");
    }
    assert!(Watch::default().is_empty());
    assert!(Watch::default()
        .check(&event("192.0.2.50", Some("mallory"), None, "x"))
        .is_none());
}

#[test]
fn alerts_carry_the_entity_and_respect_the_cooldown() {
    let w = watch();
    let mut r = Reappearances::new(60_000, 100);
    let mut out = Vec::new();
    let ev = event("192.0.2.50", Some("mallory"), None, "curl");
    r.observe(&w, &ev, &mut out);
    r.observe(&w, &ev, &mut out);
    assert_eq!(
        out.len(),
        1,
        "one alert per action and address per cooldown"
    );
    let a = &out[0];
    assert_eq!(a.detector, DETECTOR_ID);
    assert_eq!(a.severity, Severity::High);
    assert_eq!(a.mitre, vec!["T1078".to_string()]);
    assert!(a.entities.contains(&Entity::new(
        EntityKind::User,
        "mallory",
        EntityRole::Attacker
    )));
    assert!(a.entities.contains(&Entity::attacker_ip("192.0.2.50")));
    assert!(
        a.title.contains("mallory") && a.description.contains("incident 7"),
        "{a:?}"
    );
    assert_eq!(a.evidence.len(), 1);
    let later = ApiEvent {
        ts: T0.add_millis(61_000),
        ..ev.clone()
    };
    r.observe(&w, &later, &mut out);
    let other = event("192.0.2.51", Some("mallory"), None, "curl");
    r.observe(&w, &other, &mut out);
    assert_eq!(out.len(), 3);
}

#[test]
fn state_is_bounded() {
    let w = watch();
    let mut r = Reappearances::new(60_000, 4);
    let mut out = Vec::new();
    for i in 0..20 {
        r.observe(
            &w,
            &event(&format!("192.0.2.{}", 100 + i), Some("mallory"), None, "c"),
            &mut out,
        );
        assert!(r.last.len() <= 4);
    }
    assert_eq!(out.len(), 20);
}
