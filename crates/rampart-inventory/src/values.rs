//! Value types of parameters: `42` is an integer, `a@b.io` an e-mail, and so on.
//!
//! Values are classified as they appear in the request (query values still percent-encoded),
//! by a byte scan.

use rampart_model::ValueType;

use crate::template::{is_date_prefix, is_email_like, is_uuid};

/// The value type of one parameter value.
pub fn classify_value(v: &str) -> ValueType {
    let b = v.as_bytes();
    if b.is_empty() {
        return ValueType::String;
    }
    if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") {
        return ValueType::Boolean;
    }
    match number_kind(b) {
        Some(true) => return ValueType::Integer,
        Some(false) => return ValueType::Number,
        None => {}
    }
    if is_uuid(b) {
        return ValueType::Uuid;
    }
    if is_date_prefix(b) || is_compact_date(b) {
        return ValueType::Date;
    }
    if is_url(b) {
        return ValueType::Url;
    }
    if is_email_like(b) {
        return ValueType::Email;
    }
    if is_token(b) {
        return ValueType::Token;
    }
    ValueType::String
}

/// `Some(true)` for an integer, `Some(false)` for a decimal number (with optional exponent),
/// `None` otherwise.
fn number_kind(b: &[u8]) -> Option<bool> {
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i = 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    if i == b.len() {
        return (int_digits > 0).then_some(true);
    }
    let mut frac_digits = 0;
    if b[i] == b'.' {
        i += 1;
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - s;
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == s {
            return None;
        }
    }
    (i == b.len()).then_some(false)
}

/// `2024-01-15` is handled by `is_date_prefix`; this takes `2024/01/15` and `15/01/2024`.
fn is_compact_date(b: &[u8]) -> bool {
    if b.len() != 10 {
        return false;
    }
    let all = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let sep = |i: usize| matches!(b[i], b'/' | b'.');
    (all(0..4) && sep(4) && all(5..7) && sep(7) && all(8..10))
        || (all(0..2) && sep(2) && all(3..5) && sep(5) && all(6..10))
}

fn is_url(b: &[u8]) -> bool {
    let lower_starts = |p: &[u8]| b.len() > p.len() && b[..p.len()].eq_ignore_ascii_case(p);
    lower_starts(b"http://")
        || lower_starts(b"https://")
        || lower_starts(b"http%3a%2f%2f")
        || lower_starts(b"https%3a%2f%2f")
        || lower_starts(b"ftp://")
        || lower_starts(b"file://")
        || lower_starts(b"gopher://")
}

/// Hex of 16+ characters, JWTs, and 16+ base64/base64url characters mixing letters and
/// digits.
fn is_token(b: &[u8]) -> bool {
    if b.len() < 16 {
        return false;
    }
    if b.iter().all(u8::is_ascii_hexdigit) {
        return true;
    }
    let mut digits = false;
    let mut alpha = false;
    for &c in b {
        if c.is_ascii_digit() {
            digits = true;
        } else if c.is_ascii_alphabetic() {
            alpha = true;
        } else if !matches!(c, b'-' | b'_' | b'=' | b'+' | b'/' | b'.' | b'%') {
            return false;
        }
    }
    digits && alpha
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: &str, expected: ValueType) {
        assert_eq!(classify_value(v), expected, "type of {v:?}");
    }

    #[test]
    fn value_types() {
        use ValueType::*;
        let cases: &[(&str, ValueType)] = &[
            ("", String),
            ("42", Integer),
            ("-7", Integer),
            ("+7", Integer),
            ("0", Integer),
            ("3.14", Number),
            ("-0.5", Number),
            ("1e6", Number),
            ("2.5E-3", Number),
            (".5", Number),
            ("1.", Number),
            ("-", String),
            (".", String),
            ("1e", String),
            ("true", Boolean),
            ("FALSE", Boolean),
            ("yes", String),
            ("3f2504e0-4f89-11d3-9a0c-0305e82c3301", Uuid),
            ("alice@example.com", Email),
            ("alice%40example.com", Email),
            ("alice@localhost", String),
            ("2024-01-15", Date),
            ("2024-01-15T10:00:00Z", Date),
            ("2024/01/15", Date),
            ("15.01.2024", Date),
            ("https://evil.example/x", Url),
            ("http%3A%2F%2F169.254.169.254%2F", Url),
            ("d41d8cd98f00b204e9800998ecf8427e", Token),
            ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig123", Token),
            ("dGhpcyBpcyBhIHRva2VuMTIz", Token),
            ("hello world", String),
            ("john", String),
            ("abcdefghijklmnopqrstuvwxyz", String),
            ("' OR 1=1--", String),
        ];
        for (v, t) in cases {
            check(v, *t);
        }
    }
}
