//! The `rampart` NDJSON samples satisfy the JSON Schema's required fields, and records that
//! miss a required field are rejected by the decoder the same way.

use rampart_decode::{decoder_by_name, DecodeConfig};
use serde_json::Value;

const SCHEMA: &str = include_str!("../schema/rampart-event.schema.json");

const SAMPLES: &[&str] = &[
    r#"{"ts":"2026-01-01T00:00:00.123Z","client_ip":"203.0.113.9","peer_ip":"10.0.0.1","method":"GET","scheme":"https","host":"api.example.com","path":"/api/v1/users/42","query":"expand=true","protocol":"HTTP/1.1","status":200,"request_bytes":312,"response_bytes":5120,"latency_ms":12.5,"service":"users","principal":"alice","request":{"headers":{"user-agent":"curl/8","authorization":"Bearer abc"},"body":"..."},"response":{"headers":{"content-type":"application/json"},"body":"..."}}"#,
    r#"{"ts":1767225600000,"peer_ip":"198.51.100.1","method":"POST","path":"/login","status":401}"#,
    r#"{"ts":"2026-01-01T00:00:00Z","client_ip":"2001:db8::1","method":"DELETE","path":"/api/v1/items/7","status":204}"#,
];

/// Which of the schema's required fields (plus its client_ip/peer_ip alternative) are missing.
fn missing_required(schema: &Value, rec: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for f in schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if rec.get(f).is_none() {
            out.push(f.to_owned());
        }
    }
    let alts: Vec<&str> = schema["anyOf"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["required"][0].as_str())
        .collect();
    if !alts.iter().any(|a| rec.get(*a).is_some()) {
        out.push(alts.join("|"));
    }
    out
}

fn check(line: &str, expected_missing: &[&str], decodes: bool) {
    let schema: Value = serde_json::from_str(SCHEMA).expect("schema is valid json");
    let rec: Value = serde_json::from_str(line).expect("sample is valid json");
    assert_eq!(missing_required(&schema, &rec), expected_missing, "{line}");
    let d = decoder_by_name("rampart").expect("rampart decoder registered");
    let got = d.decode(line, &DecodeConfig::default());
    assert_eq!(got.is_ok(), decodes, "{line}: {got:?}");
}

#[test]
fn schema_is_draft_2020_12() {
    let schema: Value = serde_json::from_str(SCHEMA).expect("schema is valid json");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(
        schema["required"],
        serde_json::json!(["ts", "method", "path", "status"])
    );
}

#[test]
fn samples_have_required_fields_and_decode() {
    for s in SAMPLES {
        check(s, &[], true);
    }
}

#[test]
fn records_missing_required_fields_fail_both() {
    check(
        r#"{"ts":"2026-01-01T00:00:00Z","client_ip":"1.2.3.4","path":"/","status":200}"#,
        &["method"],
        false,
    );
    check(
        r#"{"ts":"2026-01-01T00:00:00Z","method":"GET","path":"/","status":200}"#,
        &["client_ip|peer_ip"],
        false,
    );
    check(
        r#"{"client_ip":"1.2.3.4","method":"GET","path":"/","status":200}"#,
        &["ts"],
        false,
    );
    check(
        r#"{"ts":"2026-01-01T00:00:00Z","client_ip":"1.2.3.4","method":"GET","path":"/"}"#,
        &["status"],
        false,
    );
}

#[test]
fn body_is_truncated_to_limit() {
    let line = r#"{"ts":1,"client_ip":"1.2.3.4","method":"POST","path":"/","status":200,"request":{"body":"abcdefghij"}}"#;
    let cfg = DecodeConfig {
        body_sample_limit: 4,
        ..DecodeConfig::default()
    };
    let ev = decoder_by_name("rampart")
        .expect("registered")
        .decode(line, &cfg)
        .expect("decodes");
    assert_eq!(ev.request_body.as_deref(), Some("abcd"));
}
