//! Scoring alerts against ground truth on small hand-made cases, and the label file format.

use rampart_model::{AlertDraft, Entity, EntityKind, EntityRole, Severity, Timestamp};
use rampart_sim::{evaluate, read_labels, write_labels, Label};

fn label(index: u64, scenario: Option<&'static str>, ip: Option<&str>) -> Label {
    Label {
        index,
        scenario,
        attacker: ip.and_then(|s| s.parse().ok()),
    }
}

fn alert(detector: &str, entities: Vec<Entity>) -> AlertDraft {
    AlertDraft {
        detector: detector.to_string(),
        title: String::new(),
        description: String::new(),
        severity: Severity::Medium,
        mitre: vec![],
        owasp: None,
        entities,
        evidence: vec![],
        first_seen: Timestamp(0),
        last_seen: Timestamp(0),
        reasons: vec![],
        source: Default::default(),
        stage: Default::default(),
        incident_hint: None,
    }
}

fn labels() -> Vec<Label> {
    let mut v: Vec<Label> = (0..1_000).map(|i| label(i, None, None)).collect();
    v.extend((1_000..1_010).map(|i| label(i, Some("bola"), Some("203.0.113.10"))));
    v.extend((1_010..1_015).map(|i| label(i, Some("bola"), Some("203.0.113.11"))));
    v.extend((1_015..1_020).map(|i| label(i, Some("scanner"), Some("2001:db8:bad::1"))));
    v.extend((1_020..1_030).map(|i| {
        let ip = format!("198.51.100.{}", i - 1_019);
        label(
            i,
            Some("distributed_param_enumeration"),
            Some(Box::leak(ip.into_boxed_str())),
        )
    }));
    v
}

/// `(id, instances, detected_instances, matching_detector_fired, alerts)` per scenario, then
/// `(false_positive_alerts, fp_per_100k)`.
fn check(alerts: &[AlertDraft], expected: &[(&str, u64, u64, bool, u64)], fp: (u64, f64)) {
    let r = evaluate(&labels(), alerts);
    let got: Vec<_> = r
        .per_scenario
        .iter()
        .map(|s| {
            (
                s.id,
                s.instances,
                s.detected_instances,
                s.matching_detector_fired,
                s.alerts,
            )
        })
        .collect();
    assert_eq!(got, expected);
    assert_eq!(r.benign_events, 1_000);
    assert_eq!((r.false_positive_alerts, r.fp_per_100k), fp);
}

#[test]
fn nothing_fired_means_zero_recall_and_no_false_positives() {
    check(
        &[],
        &[
            ("bola", 2, 0, false, 0),
            ("distributed_param_enumeration", 1, 0, false, 0),
            ("scanner", 1, 0, false, 0),
        ],
        (0, 0.0),
    );
    let r = evaluate(&labels(), &[]);
    assert!(r
        .per_scenario
        .iter()
        .all(|s| s.recall == 0.0 && !s.detected));
}

#[test]
fn alert_naming_attacker_detects_one_instance_with_matching_detector() {
    check(
        &[alert("bola", vec![Entity::attacker_ip("203.0.113.10")])],
        &[
            ("bola", 2, 1, true, 1),
            ("distributed_param_enumeration", 1, 0, false, 0),
            ("scanner", 1, 0, false, 0),
        ],
        (0, 0.0),
    );
}

#[test]
fn other_detector_counts_as_detection_but_not_as_matching() {
    check(
        &[alert(
            "suspicious_user_agent",
            vec![Entity::attacker_ip("2001:db8:bad::1")],
        )],
        &[
            ("bola", 2, 0, false, 0),
            ("distributed_param_enumeration", 1, 0, false, 0),
            ("scanner", 1, 1, false, 1),
        ],
        (0, 0.0),
    );
}

#[test]
fn distributed_scenario_detected_by_target_endpoint() {
    check(
        &[alert(
            "API_DistributedParamEnumeration",
            vec![Entity::target_endpoint("GET /api/v2/users/{id}")],
        )],
        &[
            ("bola", 2, 0, false, 0),
            ("distributed_param_enumeration", 1, 1, true, 1),
            ("scanner", 1, 0, false, 0),
        ],
        (0, 0.0),
    );
}

#[test]
fn alerts_naming_no_attacker_are_false_positives() {
    let benign = Entity::new(EntityKind::Ip, "81.2.3.4", EntityRole::Attacker);
    check(
        &[
            alert("traffic_spike_ip", vec![benign.clone()]),
            alert(
                "latency_spike",
                vec![Entity::target_endpoint("GET /api/v2/orders")],
            ),
            alert("bola", vec![Entity::attacker_ip("203.0.113.10"), benign]),
        ],
        &[
            ("bola", 2, 1, true, 1),
            ("distributed_param_enumeration", 1, 0, false, 0),
            ("scanner", 1, 0, false, 0),
        ],
        (2, 200.0),
    );
}

#[test]
fn label_file_round_trips_and_skips_benign() {
    let ls = labels();
    let mut buf = Vec::new();
    write_labels(&ls, &mut buf).expect("writing to a Vec");
    let text = String::from_utf8(buf.clone()).expect("utf-8");
    assert_eq!(text.lines().count(), 30, "attack events only");
    assert_eq!(
        text.lines().next(),
        Some(r#"{"index":1000,"scenario":"bola","attacker":"203.0.113.10"}"#)
    );
    let back = read_labels(&buf[..]).expect("valid labels");
    assert_eq!(back, ls[1_000..].to_vec());
}

#[test]
fn bad_label_lines_are_reported_with_line_numbers() {
    let input = "{\"index\":1,\"scenario\":\"bola\"}\n{\"index\":2,\"scenario\":\"nope\"}\n";
    let err = read_labels(input.as_bytes()).map_err(|e| e.to_string());
    assert_eq!(
        err,
        Err("invalid label line 2: unknown scenario \"nope\"".to_string())
    );
}
