//! Conversions between domain values and column values shared by the SQL backends (no SQL
//! here: every backend binds and reads these the same way).

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::StoreError;
use rampart_model::{ApiEvent, AttackStage, EventKind, Severity};

/// Event fields kept in the `extra` JSON column (rarely filtered on).
#[derive(Serialize)]
pub struct ExtraRef<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub scheme: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub protocol: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub referer: &'a str,
    #[serde(skip_serializing_if = "is_false")]
    pub authenticated: bool,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub request_headers: &'a [(Cow<'a, str>, Cow<'a, str>)],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub response_headers: &'a [(Cow<'a, str>, Cow<'a, str>)],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'a str>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl<'a> ExtraRef<'a> {
    /// The extra fields of an event.
    pub fn of(ev: &'a ApiEvent<'_>) -> ExtraRef<'a> {
        ExtraRef {
            peer_ip: ev.peer_ip,
            scheme: &ev.scheme,
            protocol: &ev.protocol,
            referer: &ev.referer,
            authenticated: ev.authenticated,
            request_headers: &ev.request_headers,
            response_headers: &ev.response_headers,
            request_body: ev.request_body.as_deref(),
            response_body: ev.response_body.as_deref(),
            message: ev.message.as_deref(),
        }
    }
}

/// The `extra` JSON column, read back.
#[derive(Deserialize, Default)]
pub struct ExtraOwned {
    #[serde(default)]
    pub peer_ip: Option<IpAddr>,
    #[serde(default)]
    pub scheme: String,
    #[serde(default)]
    pub protocol: String,
    #[serde(default)]
    pub referer: String,
    #[serde(default)]
    pub authenticated: bool,
    #[serde(default)]
    pub request_headers: Vec<(String, String)>,
    #[serde(default)]
    pub response_headers: Vec<(String, String)>,
    #[serde(default)]
    pub request_body: Option<String>,
    #[serde(default)]
    pub response_body: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// Wire name of an event kind.
pub const fn kind_str(k: EventKind) -> &'static str {
    match k {
        EventKind::Access => "access",
        EventKind::AuthFailure => "auth_failure",
        EventKind::Waf => "waf",
        EventKind::Error => "error",
    }
}

/// Parse a stored event kind.
pub fn parse_kind(s: &str) -> Result<EventKind, StoreError> {
    Ok(match s {
        "access" => EventKind::Access,
        "auth_failure" => EventKind::AuthFailure,
        "waf" => EventKind::Waf,
        "error" => EventKind::Error,
        other => return Err(StoreError::Corrupt(format!("event kind {other:?}"))),
    })
}

/// Wire name of an attack stage.
pub const fn stage_str(s: AttackStage) -> &'static str {
    match s {
        AttackStage::Recon => "recon",
        AttackStage::CredentialAccess => "credential_access",
        AttackStage::Exploitation => "exploitation",
        AttackStage::DataAccess => "data_access",
        AttackStage::Impact => "impact",
    }
}

/// Parse a stored attack stage.
pub fn parse_stage(s: &str) -> Result<AttackStage, StoreError> {
    Ok(match s {
        "recon" => AttackStage::Recon,
        "credential_access" => AttackStage::CredentialAccess,
        "exploitation" => AttackStage::Exploitation,
        "data_access" => AttackStage::DataAccess,
        "impact" => AttackStage::Impact,
        other => return Err(StoreError::Corrupt(format!("attack stage {other:?}"))),
    })
}

/// Sort rank of a severity (0 = informational ... 4 = critical).
pub fn severity_rank(s: Severity) -> i64 {
    Severity::ALL.iter().position(|x| *x == s).unwrap_or(0) as i64
}

/// Parse a closed-vocabulary value stored by its wire name.
pub fn parse_wire<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("{what} {s:?}")))
}

/// Serialize to a JSON column.
pub fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Invalid(format!("not serializable: {e}")))
}

/// Deserialize a JSON column.
pub fn from_json<T: for<'de> Deserialize<'de>>(what: &str, s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// A `u64` counter as a column value (saturating).
pub fn u64_col(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A column value as a `u64` counter (negative values become 0).
pub fn col_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Page size: `default` when unset, at most `max`.
pub fn page_limit(v: Option<u32>, default: u32, max: u32) -> i64 {
    i64::from(v.unwrap_or(default).min(max))
}

/// `LIKE` pattern matching `needle` anywhere, lower-cased, with `\` as escape character.
/// A `GLOB` pattern matching any text containing `needle` (ASCII-lowercased), its glob
/// metacharacters (`*`, `?`, `[`) matched literally.
pub fn glob_contains_pattern(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('*');
    for c in needle.chars() {
        match c {
            '*' => p.push_str("[*]"),
            '?' => p.push_str("[?]"),
            '[' => p.push_str("[[]"),
            c => p.push(c.to_ascii_lowercase()),
        }
    }
    p.push('*');
    p
}

/// What the queue's free-text search looks in for an incident: its title, tags and entity
/// values, one per line, ASCII-lowercased (as SQL `lower` does).
pub fn search_text(title: &str, tags: &[String], entities: &[rampart_model::Entity]) -> String {
    let mut out = title.to_ascii_lowercase();
    for t in tags {
        out.push('\n');
        out.push_str(&t.to_ascii_lowercase());
    }
    for e in entities {
        out.push('\n');
        out.push_str(&e.value.to_ascii_lowercase());
    }
    out
}

pub fn contains_pattern(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c.to_ascii_lowercase());
    }
    p.push('%');
    p
}

/// An owned column value as an event field.
pub fn own(s: String) -> Cow<'static, str> {
    Cow::Owned(s)
}

/// Decode fetched rows one by one, skipping those that fail: a row that does not decode
/// (written by an older version, or damaged) must not take a whole list down. Each skipped
/// row is logged with what it is and its id (`id_of`), and counted on `skipped`.
pub fn decode_rows<R, T>(
    what: &'static str,
    rows: &[R],
    skipped: &AtomicU64,
    id_of: impl Fn(&R) -> String,
    decode: impl Fn(&R) -> Result<T, StoreError>,
) -> Vec<T> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        match decode(r) {
            Ok(v) => out.push(v),
            Err(e) => {
                skipped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(row = what, id = %id_of(r), error = %e, "skipping a stored row that does not decode");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_pattern_escapes_glob_metacharacters() {
        assert_eq!(glob_contains_pattern("A*b?[c"), "*a[*]b[?][[]c*");
        assert_eq!(glob_contains_pattern("50%_x"), "*50%_x*");
    }

    #[test]
    fn contains_pattern_escapes_like_wildcards() {
        fn check(input: &str, expected: &str) {
            assert_eq!(contains_pattern(input), expected, "{input:?}");
        }
        check("abc", "%abc%");
        check("ABC", "%abc%");
        check("50%", "%50\\%%");
        check("a_b", "%a\\_b%");
        check("a\\b", "%a\\\\b%");
        check("", "%%");
        check("Ünï", "%Ünï%"); // only ASCII is folded, like SQLite's lower()
    }

    #[test]
    fn vocabularies_round_trip() {
        for k in [
            EventKind::Access,
            EventKind::AuthFailure,
            EventKind::Waf,
            EventKind::Error,
        ] {
            assert_eq!(parse_kind(kind_str(k)).expect("kind"), k);
        }
        for s in [
            AttackStage::Recon,
            AttackStage::CredentialAccess,
            AttackStage::Exploitation,
            AttackStage::DataAccess,
            AttackStage::Impact,
        ] {
            assert_eq!(parse_stage(stage_str(s)).expect("stage"), s);
        }
        assert!(matches!(parse_kind("bogus"), Err(StoreError::Corrupt(_))));
        let ranks: Vec<i64> = Severity::ALL.iter().map(|s| severity_rank(*s)).collect();
        assert_eq!(ranks, vec![0, 1, 2, 3, 4]);
        assert_eq!(page_limit(None, 50, 1000), 50);
        assert_eq!(page_limit(Some(5000), 50, 1000), 1000);
        assert_eq!(u64_col(u64::MAX), i64::MAX);
        assert_eq!(col_u64(-5), 0);
    }
}
