//! Behaviour of the simulator: determinism, order, scenario counts, rhythm, labels.

use std::collections::BTreeMap;
use std::net::IpAddr;

use rampart_model::Timestamp;
use rampart_sim::{encode, OutputFormat, Scenario, ScenarioConfig, SimConfig, Simulator};

fn small(events: u64, scenarios: Vec<ScenarioConfig>) -> SimConfig {
    SimConfig {
        seed: 42,
        events,
        users: 300,
        scenarios,
        ..SimConfig::default()
    }
}

fn one(kind: Scenario, strength: f64) -> ScenarioConfig {
    ScenarioConfig {
        kind,
        strength,
        at_fraction: 0.7,
    }
}

fn lines(cfg: SimConfig, fmt: OutputFormat) -> Vec<String> {
    Simulator::new(cfg)
        .map(|(ev, _)| {
            let mut s = String::new();
            encode(&ev, fmt, &mut s);
            s
        })
        .collect()
}

fn is_documentation(ip: IpAddr) -> bool {
    let s = ip.to_string();
    s.starts_with("203.0.113.") || s.starts_with("198.51.100.") || s.starts_with("2001:db8:")
}

#[test]
fn same_seed_same_lines_other_seed_other_lines() {
    let a = lines(
        small(3_000, ScenarioConfig::all_default()),
        OutputFormat::Combined,
    );
    let b = lines(
        small(3_000, ScenarioConfig::all_default()),
        OutputFormat::Combined,
    );
    assert_eq!(a, b);
    let mut cfg = small(3_000, ScenarioConfig::all_default());
    cfg.seed = 43;
    let c = lines(cfg, OutputFormat::Combined);
    assert_ne!(a, c);
}

#[test]
fn events_are_in_time_order_and_inside_the_timeline() {
    let cfg = small(50_000, ScenarioConfig::all_default());
    let (start, end) = (cfg.start, cfg.start.add_millis(cfg.duration_ms));
    let mut last = Timestamp(i64::MIN);
    let mut n = 0u64;
    for (ev, label) in Simulator::new(cfg) {
        assert!(ev.ts >= last, "out of order at {}", label.index);
        assert!(ev.ts >= start, "before start at {}", label.index);
        assert!(
            ev.ts <= end.add_millis(86_400_000),
            "far past end at {}",
            label.index
        );
        assert_eq!(label.index, n);
        last = ev.ts;
        n += 1;
    }
    assert_eq!(n, 50_000, "total is exact when attacks fit");
}

#[test]
fn each_scenario_emits_its_events_and_strength_scales_them() {
    for &kind in Scenario::ALL {
        let count = |strength: f64| {
            Simulator::new(small(1_000, vec![one(kind, strength)]))
                .filter(|(_, l)| l.scenario == Some(kind.id()))
                .count() as u64
        };
        let base = count(1.0);
        assert_eq!(base, kind.base_events(), "{}", kind.id());
        let double = count(2.0);
        assert_eq!(
            double,
            2 * kind.base_events(),
            "{} at strength 2",
            kind.id()
        );
        assert!(count(0.01) >= 1, "{} emits at least one event", kind.id());
    }
}

#[test]
fn attacks_start_after_warm_up() {
    let cfg = small(20_000, ScenarioConfig::all_default());
    let warm_up_end = cfg.start.add_millis(cfg.duration_ms * 6 / 10);
    for (ev, l) in Simulator::new(cfg) {
        if l.scenario.is_some() {
            assert!(ev.ts >= warm_up_end, "{:?} at {}", l.scenario, ev.ts);
        }
    }
}

#[test]
fn daily_rhythm_is_visible() {
    let mut hours = [0u64; 24];
    for (ev, _) in Simulator::new(small(100_000, vec![])) {
        hours[(ev.ts.millis().rem_euclid(86_400_000) / 3_600_000) as usize] += 1;
    }
    let max = *hours.iter().max().unwrap_or(&0);
    let min = *hours.iter().min().unwrap_or(&0);
    assert!(max > 2 * min.max(1), "hourly histogram too flat: {hours:?}");
}

#[test]
fn weekends_are_quieter() {
    let cfg = small(70_000, vec![]);
    let start_day = cfg.start.millis() / 86_400_000;
    let mut days = [0u64; 7];
    for (ev, _) in Simulator::new(cfg) {
        let d = (ev.ts.millis() / 86_400_000 - start_day) as usize;
        days[d.min(6)] += 1;
    }
    // The default start is a Monday: days 5 and 6 are the weekend.
    assert!(days[5] < days[2] && days[6] < days[2], "{days:?}");
}

#[test]
fn labels_name_documentation_attackers_and_benign_never_uses_them() {
    let mut per: BTreeMap<&str, u64> = BTreeMap::new();
    for (ev, l) in Simulator::new(small(30_000, ScenarioConfig::all_default())) {
        let ip = ev
            .client_ip
            .expect("every simulated event has a client address");
        match l.scenario {
            Some(s) => {
                assert_eq!(l.attacker, Some(ip), "label names the event's address");
                assert!(is_documentation(ip), "{s} from {ip}");
                *per.entry(s).or_default() += 1;
            }
            None => {
                assert_eq!(l.attacker, None);
                assert!(!is_documentation(ip), "benign from {ip}");
            }
        }
    }
    assert_eq!(per.len(), Scenario::ALL.len(), "every scenario labelled");
}

#[test]
fn tor_and_threat_intel_scenarios_use_the_exported_lists() {
    let cfg = small(
        2_000,
        vec![
            one(Scenario::TorExit, 1.0),
            one(Scenario::ThreatIntelIp, 1.0),
        ],
    );
    for (_, l) in Simulator::new(cfg) {
        let (Some(s), Some(ip)) = (l.scenario, l.attacker) else {
            continue;
        };
        let list = if s == "tor_exit" {
            rampart_sim::TOR_EXITS
        } else {
            rampart_sim::THREAT_INTEL_IPS
        };
        assert!(list.contains(&ip.to_string().as_str()), "{s} {ip}");
    }
}

#[test]
fn benign_traffic_is_mostly_successful_and_authenticated() {
    let (mut ok, mut c4, mut c5, mut authed, mut n) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut logins = (0u64, 0u64);
    for (ev, _) in Simulator::new(small(50_000, vec![])) {
        n += 1;
        match ev.status / 100 {
            2 => ok += 1,
            4 => c4 += 1,
            5 => c5 += 1,
            _ => {}
        }
        authed += u64::from(ev.authenticated);
        if ev.path == "/api/v1/auth/login" {
            logins.0 += 1;
            logins.1 += u64::from(ev.status == 200);
        }
    }
    assert!(ok * 100 > n * 93, "2xx {ok}/{n}");
    assert!(c4 > 0 && c5 > 0, "some 4xx ({c4}) and 5xx ({c5})");
    assert!(c5 * 100 < n, "5xx rare: {c5}");
    assert!(authed * 2 > n, "most calls carry credentials: {authed}/{n}");
    assert!(
        logins.1 * 100 > logins.0 * 90,
        "logins mostly succeed: {logins:?}"
    );
}

#[test]
fn bodies_only_when_asked() {
    let with = small(2_000, vec![one(Scenario::MassAssignment, 1.0)]);
    let without = SimConfig {
        bodies: false,
        ..with.clone()
    };
    let with = SimConfig {
        bodies: true,
        ..with
    };
    let has_body = |cfg: SimConfig| {
        Simulator::new(cfg)
            .filter(|(_, l)| l.scenario.is_some())
            .filter(|(ev, _)| {
                ev.request_body
                    .as_deref()
                    .is_some_and(|b| b.contains("is_admin") || b.contains("\"price\""))
            })
            .count()
    };
    assert_eq!(
        has_body(with),
        Scenario::MassAssignment.base_events() as usize
    );
    assert_eq!(has_body(without), 0);
}

#[test]
fn bearer_tokens_are_jwt_shaped_with_sub() {
    use base64::Engine as _;
    let mut seen = 0;
    for (ev, _) in Simulator::new(small(2_000, vec![])) {
        let Some(auth) = ev.request_header("authorization") else {
            continue;
        };
        let Some(tok) = auth.strip_prefix("Bearer ") else {
            continue;
        };
        let parts: Vec<&str> = tok.split('.').collect();
        assert_eq!(parts.len(), 3, "{tok}");
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .expect("payload is base64url");
        let v: serde_json::Value = serde_json::from_slice(&payload).expect("payload is JSON");
        assert_eq!(
            v["sub"].as_str(),
            ev.principal.as_deref(),
            "sub is the principal"
        );
        seen += 1;
    }
    assert!(seen > 100, "{seen}");
}
