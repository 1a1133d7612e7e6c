//! A query's result, and how stored values render in it.

use rampart_model::Timestamp;
use serde::Serialize;
use serde_json::Value as Json;

use crate::plan::Column;
use crate::schema::Type;

/// What a query answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rows {
    /// The columns, in order.
    pub columns: Vec<Column>,
    /// The rows (at most the plan's limit), each one value per column.
    pub rows: Vec<Vec<Json>>,
    /// Whether there were more rows than the limit.
    pub truncated: bool,
}

/// A value as the store read it, before rendering.
#[derive(Debug, Clone, PartialEq)]
pub enum Raw {
    /// SQL NULL.
    Null,
    /// An integer (longs, bools, datetimes and timespans).
    Int(i64),
    /// A float.
    Real(f64),
    /// Text (strings; a JSON array for dynamic values).
    Text(String),
}

/// Render a stored value of type `ty`: datetimes as RFC 3339 with milliseconds, timespans as
/// `[-][d.]hh:mm:ss[.fff]`, bools as `true`/`false`, dynamic arrays parsed, nulls dropped and
/// sorted (numbers by value before strings by bytes), so both backends render alike.
pub fn render(ty: Type, raw: Raw) -> Json {
    match (ty, raw) {
        (_, Raw::Null) => Json::Null,
        (Type::DateTime, Raw::Int(ms)) => Json::String(Timestamp(ms).to_rfc3339()),
        (Type::TimeSpan, Raw::Int(ms)) => Json::String(timespan(ms)),
        (Type::Bool, Raw::Int(v)) => Json::Bool(v != 0),
        (Type::Real, Raw::Int(v)) => Json::from(v as f64),
        (Type::Long, Raw::Real(v)) => Json::from(v as i64),
        (_, Raw::Int(v)) => Json::from(v),
        (_, Raw::Real(v)) => serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number),
        (Type::Dynamic, Raw::Text(s)) => {
            let mut items: Vec<Json> = match serde_json::from_str(&s) {
                Ok(Json::Array(a)) => a.into_iter().filter(|v| !v.is_null()).collect(),
                _ => Vec::new(),
            };
            items.sort_by(compare_json);
            items.dedup();
            Json::Array(items)
        }
        (_, Raw::Text(s)) => Json::String(s),
    }
}

fn compare_json(a: &Json, b: &Json) -> std::cmp::Ordering {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.total_cmp(&y)
        }
        (Json::Number(_), _) => std::cmp::Ordering::Less,
        (_, Json::Number(_)) => std::cmp::Ordering::Greater,
        (Json::String(x), Json::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// A duration in KQL's form: `[-][d.]hh:mm:ss[.fff]`.
pub fn timespan(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    let (days, rest) = (ms / 86_400_000, ms % 86_400_000);
    let (h, m, s, f) = (
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000,
    );
    let mut out = String::from(sign);
    if days > 0 {
        out.push_str(&format!("{days}."));
    }
    out.push_str(&format!("{h:02}:{m:02}:{s:02}"));
    if f > 0 {
        out.push_str(&format!(".{f:03}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_like_kql() {
        assert_eq!(
            render(Type::DateTime, Raw::Int(1_700_000_000_000)),
            json!("2023-11-14T22:13:20.000Z")
        );
        assert_eq!(
            render(Type::TimeSpan, Raw::Int(90_061_001)),
            json!("1.01:01:01.001")
        );
        assert_eq!(
            render(Type::TimeSpan, Raw::Int(-3_600_000)),
            json!("-01:00:00")
        );
        assert_eq!(render(Type::Bool, Raw::Int(0)), json!(false));
        assert_eq!(
            render(Type::Dynamic, Raw::Text("[\"b\",null,\"a\",3,1]".into())),
            json!([1, 3, "a", "b"])
        );
        assert_eq!(render(Type::Long, Raw::Null), json!(null));
    }
}
