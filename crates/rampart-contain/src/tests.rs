use rampart_model::{ActionScope, RateLimit};

use super::*;

const NOW: Timestamp = Timestamp(1_700_000_000_000);
const KEY: &str = "0123456789abcdef0123456789abcdef";

fn cfg() -> ContainConfig {
    ContainConfig {
        protected: Protected {
            ips: vec![
                "10.0.0.0/8".parse().unwrap(),
                "192.0.2.1/32".parse().unwrap(),
            ],
            api_keys: vec!["ffffffffffffffffffffffffffffffff".into()],
            principals: vec!["root".into()],
            endpoints: vec!["GET /healthz".into(), "/login".into()],
            services: vec!["auth".into()],
        },
        ..ContainConfig::default()
    }
}

fn req(kind: ActionKind, target: &str) -> ActionRequest {
    ActionRequest {
        kind,
        target: target.into(),
        raw_key: None,
        scope: ActionScope::default(),
        rate: (kind == ActionKind::RateLimit).then_some(RateLimit {
            requests: 10,
            window_secs: 60,
        }),
        duration_secs: None,
        reason: "incident 3".into(),
        incident_id: Some(3),
    }
}

/// The outcome of planning, in one line: `active 14400s` / `pending 3600s` / the refusal
/// message with its class.
fn outcome(r: Result<NewAction, Refusal>) -> String {
    match r {
        Ok(a) => {
            let status = match a.status {
                ActionStatus::Active => "active",
                ActionStatus::PendingApproval => "pending",
                other => other.as_str(),
            };
            format!("{status} {}s {}", a.duration_secs, a.target)
        }
        Err(e) => format!("{:?}: {e}", e.class()),
    }
}

fn check(kind: ActionKind, target: &str, role: Role, duration: Option<u64>, want: &str) {
    let r = ActionRequest {
        duration_secs: duration,
        ..req(kind, target)
    };
    let got = outcome(plan(
        &r,
        Person {
            actor: "token:alice",
            role,
        },
        &cfg(),
        NOW,
    ));
    assert_eq!(got, want, "{kind} {target:?} as {role} for {duration:?}");
}

#[test]
fn planning() {
    use ActionKind::*;
    use Role::*;
    #[rustfmt::skip]
    let cases: &[(ActionKind, &str, Role, Option<u64>, &str)] = &[
        // Low impact: tier2 may, tier1 and viewer may not.
        (BlockIp, "203.0.113.7", Tier2, None, "active 14400s 203.0.113.7"),
        (BlockIp, "203.0.113.7/32", Tier2, Some(60), "active 60s 203.0.113.7"),
        (BlockIp, "2001:db8::1", Tier2, None, "active 14400s 2001:db8::1"),
        (BlockIp, "203.0.113.7", Tier1, None, "Forbidden: not permitted: tier1 lacks contain_low"),
        (BlockIp, "203.0.113.7", Viewer, None, "Forbidden: not permitted: viewer lacks contain_low"),
        (BlockIp, "203.0.113.7", Ingest, None, "Forbidden: not permitted: ingest lacks contain_low"),
        (DisableApiKey, KEY, Tier2, None, &format!("active 86400s {KEY}")),
        (DisablePrincipal, "mallory", Tier2, None, "active 86400s mallory"),
        (RateLimit, "ip:203.0.113.7", Tier2, None, "active 3600s ip:203.0.113.7"),
        // Ranges are high impact; up to /24 (v4) or /64 (v6) they start at once.
        (BlockIp, "203.0.113.0/24", Tier2, None, "Forbidden: not permitted: tier2 lacks contain_high"),
        (BlockIp, "203.0.113.0/24", Tier3, None, "active 14400s 203.0.113.0/24"),
        (BlockIp, "203.0.112.0/23", Tier3, None, "pending 14400s 203.0.112.0/23"),
        (BlockIp, "198.51.0.0/16", Tier3, None, "pending 14400s 198.51.0.0/16"),
        (BlockIp, "2001:db8::/64", Tier3, None, "active 14400s 2001:db8::/64"),
        (BlockIp, "2001:db8::/56", Tier3, None, "pending 14400s 2001:db8::/56"),
        // Too wide.
        (BlockIp, "198.0.0.0/15", Tier3, None, "Unprocessable: too wide: 198.0.0.0/15 is wider than /16"),
        (BlockIp, "0.0.0.0/0", Admin, None, "Unprocessable: too wide: 0.0.0.0/0 is wider than /16"),
        (BlockIp, "2001:db8::/47", Tier3, None, "Unprocessable: too wide: 2001:db8::/47 is wider than /48"),
        // Isolation always needs approval and contain_high.
        (IsolateEndpoint, "POST /api/v1/transfer", Tier3, None, "pending 3600s POST /api/v1/transfer"),
        (IsolateEndpoint, "POST /api/v1/transfer", Tier2, None, "Forbidden: not permitted: tier2 lacks contain_high"),
        (IsolateService, "billing", SocManager, None, "pending 3600s billing"),
        // Protected targets, whatever the role.
        (BlockIp, "10.1.2.3", Admin, None, "Unprocessable: protected target: 10.1.2.3 is protected (10.0.0.0/8)"),
        (BlockIp, "192.0.2.0/24", Tier3, None, "Unprocessable: protected target: 192.0.2.0/24 is protected (192.0.2.1/32)"),
        (RateLimit, "ip:192.0.2.1", Tier2, None, "Unprocessable: protected target: ip:192.0.2.1 is protected (192.0.2.1/32)"),
        (DisableApiKey, "ffffffffffffffffffffffffffffffff", Admin, None, "Unprocessable: protected target: ffffffffffffffffffffffffffffffff is protected (api key ffffffffffffffffffffffffffffffff)"),
        (DisablePrincipal, "root", Admin, None, "Unprocessable: protected target: root is protected (principal root)"),
        (RateLimit, "principal:root", Tier2, None, "Unprocessable: protected target: principal:root is protected (principal root)"),
        (IsolateEndpoint, "GET /healthz", Admin, None, "Unprocessable: protected target: GET /healthz is protected (endpoint GET /healthz)"),
        (IsolateEndpoint, "POST /login", Admin, None, "Unprocessable: protected target: POST /login is protected (endpoint /login)"),
        (IsolateEndpoint, "* /healthz", Admin, None, "Unprocessable: protected target: * /healthz is protected (endpoint GET /healthz)"),
        (IsolateEndpoint, "POST /healthz", Admin, None, "pending 3600s POST /healthz"),
        (IsolateService, "auth", Admin, None, "Unprocessable: protected target: auth is protected (service auth)"),
        // Durations: the maximum is 30 days.
        (BlockIp, "203.0.113.7", Tier2, Some(30 * 86_400), "active 2592000s 203.0.113.7"),
        (BlockIp, "203.0.113.7", Tier2, Some(30 * 86_400 + 1), "Unprocessable: too long: 2592001s is longer than the maximum 2592000s"),
        // Invalid targets.
        (BlockIp, "203.0.113.7/24", Tier2, None, "Unprocessable: invalid target for block_ip: 203.0.113.7/24 has host bits set (the range is 203.0.113.0/24)"),
        (DisableApiKey, "sk_live_x", Tier2, None, "Unprocessable: invalid target for disable_api_key: an API key identity is 32 lower-case hex digits (give a raw key as raw_key)"),
    ];
    for (kind, target, role, duration, want) in cases {
        check(*kind, target, *role, *duration, want);
    }
}

#[test]
fn active_actions_run_for_their_duration_from_now() {
    let a = plan(
        &req(ActionKind::BlockIp, "203.0.113.7"),
        Person {
            actor: "token:a",
            role: Role::Tier2,
        },
        &cfg(),
        NOW,
    )
    .unwrap();
    assert_eq!(a.starts_at, Some(NOW));
    assert_eq!(
        a.expires_at,
        Some(Timestamp(NOW.millis() + 4 * 3600 * 1000))
    );
    assert_eq!(a.requested_by, "token:a");
    assert_eq!(a.incident_id, Some(3));
}

#[test]
fn approval_rails_are_configurable() {
    let c = ContainConfig {
        approval_kinds: vec![ActionKind::DisablePrincipal],
        approval_wider_than_v4: 16,
        ..cfg()
    };
    let p = Person {
        actor: "token:a",
        role: Role::Tier3,
    };
    let status = |r: &ActionRequest| plan(r, p, &c, NOW).unwrap().status;
    assert_eq!(
        status(&req(ActionKind::DisablePrincipal, "bob")),
        ActionStatus::PendingApproval
    );
    assert_eq!(
        status(&req(ActionKind::BlockIp, "198.51.0.0/16")),
        ActionStatus::Active
    );
    assert_eq!(
        status(&req(ActionKind::IsolateService, "billing")),
        ActionStatus::Active
    );
}

fn stored(status: ActionStatus, requested_by: &str) -> Action {
    let mut a = plan(
        &req(ActionKind::BlockIp, "198.51.0.0/16"),
        Person {
            actor: requested_by,
            role: Role::Admin,
        },
        &cfg(),
        NOW,
    )
    .unwrap();
    a.status = status;
    Action {
        id: 7,
        action: a,
        approved_by: None,
        approved_at: None,
        reverted_by: None,
        revert_reason: None,
        reverted_at: None,
        failure: None,
        denied: 0,
        last_denied: None,
    }
}

fn summary(r: Result<ActionChange, Refusal>) -> String {
    match r {
        Ok(c) => format!(
            "{} by {}",
            c.audit_name(),
            match &c {
                ActionChange::Approve { by, .. } | ActionChange::Revert { by, .. } => by.as_str(),
                _ => "",
            }
        ),
        Err(e) => format!("{:?}: {e}", e.class()),
    }
}

#[test]
fn approvals() {
    use ActionStatus::*;
    #[rustfmt::skip]
    let cases: &[(ActionStatus, &str, Role, &str)] = &[
        (PendingApproval, "token:bob", Role::Tier3, "action.approve by token:bob"),
        (PendingApproval, "token:bob", Role::Admin, "action.approve by token:bob"),
        (PendingApproval, "token:alice", Role::Admin, "Forbidden: not permitted: an action must be approved by another person than token:alice"),
        (PendingApproval, "token:bob", Role::Tier2, "Forbidden: not permitted: tier2 lacks approve"),
        (Active, "token:bob", Role::Tier3, "Conflict: action 7 is active: cannot approve"),
        (Reverted, "token:bob", Role::Tier3, "Conflict: action 7 is reverted: cannot approve"),
    ];
    for (status, approver, role, want) in cases {
        let a = stored(*status, "token:alice");
        let got = summary(approve(
            &a,
            Person {
                actor: approver,
                role: *role,
            },
            NOW,
        ));
        assert_eq!(got, *want, "{status} approved by {approver} as {role}");
    }
    let a = stored(PendingApproval, "token:alice");
    let change = approve(
        &a,
        Person {
            actor: "token:bob",
            role: Role::Tier3,
        },
        Timestamp(NOW.millis() + 5000),
    )
    .unwrap();
    let approved = change.apply(&a);
    assert_eq!(
        approved.action.starts_at,
        Some(Timestamp(NOW.millis() + 5000))
    );
    assert_eq!(
        approved.action.expires_at,
        Some(Timestamp(NOW.millis() + 5000 + 4 * 3600 * 1000))
    );
    assert_eq!(approved.approved_by.as_deref(), Some("token:bob"));
}

#[test]
fn reverts() {
    use ActionStatus::*;
    #[rustfmt::skip]
    let cases: &[(ActionStatus, &str, Role, &str, &str)] = &[
        (Active, "token:alice", Role::Tier2, "false positive", "action.revert by token:alice"),
        (PendingApproval, "token:alice", Role::Tier2, "not needed", "action.revert by token:alice"),
        (Active, "token:bob", Role::Tier2, "false positive", "Forbidden: not permitted: tier2 lacks revert_any"),
        (Active, "token:bob", Role::Tier3, "false positive", "action.revert by token:bob"),
        (Active, "token:alice", Role::Tier1, "false positive", "Forbidden: not permitted: tier1 lacks revert_own"),
        (Active, "token:alice", Role::Tier2, "  ", "Unprocessable: invalid request: reason is required"),
        (Expired, "token:alice", Role::Admin, "late", "Conflict: action 7 is expired: cannot revert"),
        (Reverted, "token:alice", Role::Admin, "again", "Conflict: action 7 is reverted: cannot revert"),
        (Failed, "token:alice", Role::Admin, "again", "Conflict: action 7 is failed: cannot revert"),
    ];
    for (status, by, role, reason, want) in cases {
        let a = stored(*status, "token:alice");
        let got = summary(revert(
            &a,
            Person {
                actor: by,
                role: *role,
            },
            reason,
            NOW,
        ));
        assert_eq!(got, *want, "{status} reverted by {by} as {role}");
    }
}

#[test]
fn expiry() {
    let mut active = stored(ActionStatus::Active, "token:a");
    active.action.expires_at = Some(NOW);
    let mut later = active.clone();
    later.id = 8;
    later.action.expires_at = Some(Timestamp(NOW.millis() + 1));
    let mut pending = active.clone();
    pending.id = 9;
    pending.action.status = ActionStatus::PendingApproval;
    let mut reverted = active.clone();
    reverted.id = 10;
    reverted.action.status = ActionStatus::Reverted;
    let got: Vec<i64> = expire(&[active, later, pending, reverted], NOW)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(got, vec![7]);
}
