//! OCSF Detection Finding (class 2004) records into Rampart alerts.

use rampart_model::{
    AlertDraft, AlertSource, AttackStage, Entity, Severity, TimeRangeError, Timestamp,
};
use serde_json::Value;

/// OCSF class of a Detection Finding.
pub const DETECTION_FINDING_CLASS: u64 = 2004;

/// Why an OCSF record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OcsfError {
    /// Not a Detection Finding.
    #[error("class_uid {0} is not a detection finding (2004)")]
    WrongClass(u64),
    /// A required field is missing or of the wrong type.
    #[error("missing or invalid {0}")]
    Missing(&'static str),
    /// A time (`time`, `start_time`, `end_time`) outside the accepted range.
    #[error(transparent)]
    OutOfRange(#[from] TimeRangeError),
}

/// An OCSF timestamp field (milliseconds since the epoch, or RFC 3339 text), checked against
/// the accepted range: `None` when absent, an error when present but unusable.
fn time_field(v: &Value, name: &'static str) -> Result<Option<Timestamp>, OcsfError> {
    let t = match v.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Timestamp::from_millis),
        Some(Value::String(s)) => Timestamp::parse_rfc3339(s),
        Some(_) => None,
    }
    .ok_or(OcsfError::Missing(name))?;
    Ok(Some(t.check_sane(name)?))
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// OCSF `severity_id` to a severity (1 informational ... 5 critical, 6 fatal).
pub fn severity_from_id(id: u64) -> Severity {
    match id {
        0 | 1 => Severity::Informational,
        2 => Severity::Low,
        3 => Severity::Medium,
        4 => Severity::High,
        _ => Severity::Critical,
    }
}

/// Map one Detection Finding to an alert draft.
pub fn finding_to_alert(v: &Value) -> Result<AlertDraft, OcsfError> {
    let class = v
        .get("class_uid")
        .and_then(Value::as_u64)
        .ok_or(OcsfError::Missing("class_uid"))?;
    if class != DETECTION_FINDING_CLASS {
        return Err(OcsfError::WrongClass(class));
    }
    let title = str_at(v, &["finding_info", "title"])
        .filter(|t| !t.trim().is_empty())
        .ok_or(OcsfError::Missing("finding_info.title"))?;
    let description = str_at(v, &["finding_info", "desc"])
        .or_else(|| v.get("message").and_then(Value::as_str))
        .unwrap_or_default();
    let severity = severity_from_id(v.get("severity_id").and_then(Value::as_u64).unwrap_or(0));
    let time = time_field(v, "time")?.ok_or(OcsfError::Missing("time"))?;
    let first_seen = time_field(v, "start_time")?.unwrap_or(time);
    let last_seen = time_field(v, "end_time")?.unwrap_or(time).max(first_seen);
    let product = str_at(v, &["metadata", "product", "name"]).unwrap_or("ocsf");
    let mut entities = Vec::new();
    if let Some(ip) = str_at(v, &["src_endpoint", "ip"]) {
        let ip: std::net::IpAddr = ip
            .parse()
            .map_err(|_| OcsfError::Missing("src_endpoint.ip"))?;
        entities.push(Entity::attacker_ip(ip));
    }
    let path = str_at(v, &["http_request", "url", "path"]).or_else(|| {
        v.get("resources").and_then(Value::as_array).and_then(|rs| {
            rs.iter()
                .find_map(|r| str_at(r, &["name"]).or(str_at(r, &["uid"])))
        })
    });
    if let Some(path) = path {
        let method = str_at(v, &["http_request", "http_method"]).unwrap_or("");
        let value = if method.is_empty() {
            path.to_string()
        } else {
            format!("{} {path}", method.to_ascii_uppercase())
        };
        entities.push(Entity::target_endpoint(value));
    }
    let mut mitre: Vec<String> = Vec::new();
    for a in v
        .get("attacks")
        .or_else(|| v.get("finding_info").and_then(|f| f.get("attacks")))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(uid) = str_at(a, &["technique", "uid"]) {
            if !mitre.iter().any(|m| m == uid) {
                mitre.push(uid.to_string());
            }
        }
    }
    Ok(AlertDraft {
        detector: format!("external:{product}"),
        title: title.to_string(),
        description: description.to_string(),
        severity,
        mitre,
        owasp: None,
        entities,
        evidence: Vec::new(),
        first_seen,
        last_seen,
        reasons: Vec::new(),
        source: AlertSource::External {
            product: product.to_string(),
        },
        stage: AttackStage::default(),
        incident_hint: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(input: Value, expected: &str) {
        let got = match finding_to_alert(&input) {
            Ok(a) => format!(
                "{} | {} | {} | {} | {:?} | {:?} | {}",
                a.detector,
                a.title,
                a.severity,
                a.first_seen,
                a.mitre,
                a.entities
                    .iter()
                    .map(|e| format!("{}={}", e.kind, e.value))
                    .collect::<Vec<_>>(),
                a.description
            ),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn full_finding() {
        check(
            json!({"class_uid": 2004, "severity_id": 4, "time": 1700000000000i64,
                "finding_info": {"title": "SQLi", "desc": "union select"},
                "src_endpoint": {"ip": "203.0.113.9"},
                "attacks": [{"technique": {"uid": "T1190"}}, {"technique": {"uid": "T1190"}}],
                "http_request": {"http_method": "get", "url": {"path": "/api/users"}},
                "metadata": {"product": {"name": "Coraza"}}}),
            "external:Coraza | SQLi | High | 2023-11-14T22:13:20.000Z | [\"T1190\"] | [\"ip=203.0.113.9\", \"endpoint=GET /api/users\"] | union select",
        );
    }

    #[test]
    fn minimal_and_resources() {
        check(
            json!({"class_uid": 2004, "time": "2024-01-01T00:00:00Z",
                "finding_info": {"title": "x"}, "resources": [{"name": "/login"}]}),
            "external:ocsf | x | Informational | 2024-01-01T00:00:00.000Z | [] | [\"endpoint=/login\"] | ",
        );
        check(
            json!({"class_uid": 2004, "severity_id": 6, "time": 1700000000000i64, "finding_info": {"title": "t"}}),
            "external:ocsf | t | Critical | 2023-11-14T22:13:20.000Z | [] | [] | ",
        );
        check(
            json!({"class_uid": 2004, "time": 1700000000000i64, "start_time": "2023-11-14T22:00:00Z",
                "finding_info": {"title": "t"}}),
            "external:ocsf | t | Informational | 2023-11-14T22:00:00.000Z | [] | [] | ",
        );
    }

    #[test]
    fn refusals() {
        check(
            json!({"class_uid": 4002}),
            "error: class_uid 4002 is not a detection finding (2004)",
        );
        check(
            json!({"class_uid": 2004, "time": 1700000000000i64}),
            "error: missing or invalid finding_info.title",
        );
        let range = "is outside the accepted range 1990-01-01T00:00:00Z..2200-01-01T00:00:00Z";
        for (field, value, shown) in [
            ("time", json!(0), "1970-01-01T00:00:00.000Z"),
            ("time", json!(253402300800000i64), "253402300800000 ms"),
            ("time", json!(i64::MAX), &format!("{} ms", i64::MAX)),
            (
                "time",
                json!("2200-01-01T00:00:00Z"),
                "2200-01-01T00:00:00.000Z",
            ),
            ("start_time", json!(-5), "1969-12-31T23:59:59.995Z"),
            ("end_time", json!(253402300800000i64), "253402300800000 ms"),
        ] {
            let mut v = json!({"class_uid": 2004, "time": 1700000000000i64, "finding_info": {"title": "t"}});
            v[field] = value;
            check(v, &format!("error: {field} {shown} {range}"));
        }
        check(
            json!({"class_uid": 2004, "time": u64::MAX, "finding_info": {"title": "t"}}),
            "error: missing or invalid time",
        );
        check(
            json!({"class_uid": 2004, "time": 1700000000000i64, "end_time": "soon", "finding_info": {"title": "t"}}),
            "error: missing or invalid end_time",
        );
        check(
            json!({"class_uid": 2004, "finding_info": {"title": "t"}}),
            "error: missing or invalid time",
        );
        check(
            json!({"class_uid": 2004, "time": 1700000000000i64, "finding_info": {"title": "t"}, "src_endpoint": {"ip": "nope"}}),
            "error: missing or invalid src_endpoint.ip",
        );
    }
}
