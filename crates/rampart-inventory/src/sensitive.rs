//! Sensitive data in bodies: card numbers (Luhn), SSNs, e-mail addresses, phone numbers,
//! JWTs, private keys, AWS access keys, password/secret fields and IBANs.
//!
//! One pass of byte scans plus one Aho-Corasick prefilter for the keyword-anchored kinds.
//! Work is bounded: at most [`MAX_SCAN_BYTES`] of a body are looked at, and every candidate is
//! verified in a bounded window.

use std::fmt;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// Bytes of a body scanned at most (the rest is ignored).
pub const MAX_SCAN_BYTES: usize = rampart_model::BODY_SAMPLE_LIMIT;

/// One kind of sensitive data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SensitiveKind {
    /// Payment card number (13-19 digits, known issuer prefix, passes Luhn).
    CardNumber,
    /// US social security number (`ddd-dd-dddd`).
    Ssn,
    /// E-mail address.
    Email,
    /// International phone number (`+` and 8-15 digits).
    Phone,
    /// JSON Web Token.
    Jwt,
    /// PEM private key.
    PrivateKey,
    /// AWS access key id (`AKIA...`/`ASIA...`).
    AwsAccessKey,
    /// A JSON `password`/`secret`/`token`-like field with a non-empty value.
    Secret,
    /// IBAN (passes the mod-97 check).
    Iban,
}

impl SensitiveKind {
    /// Every kind, in index order.
    pub const ALL: [SensitiveKind; 9] = [
        SensitiveKind::CardNumber,
        SensitiveKind::Ssn,
        SensitiveKind::Email,
        SensitiveKind::Phone,
        SensitiveKind::Jwt,
        SensitiveKind::PrivateKey,
        SensitiveKind::AwsAccessKey,
        SensitiveKind::Secret,
        SensitiveKind::Iban,
    ];
    /// The stable name (`card_number`, `ssn`, ...), as stored in `EndpointInfo::sensitive_data`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SensitiveKind::CardNumber => "card_number",
            SensitiveKind::Ssn => "ssn",
            SensitiveKind::Email => "email",
            SensitiveKind::Phone => "phone",
            SensitiveKind::Jwt => "jwt",
            SensitiveKind::PrivateKey => "private_key",
            SensitiveKind::AwsAccessKey => "aws_access_key",
            SensitiveKind::Secret => "secret",
            SensitiveKind::Iban => "iban",
        }
    }
    /// Whether it is personal data (counts toward bulk personal data exposure).
    pub const fn is_personal(self) -> bool {
        matches!(
            self,
            SensitiveKind::CardNumber
                | SensitiveKind::Ssn
                | SensitiveKind::Email
                | SensitiveKind::Phone
                | SensitiveKind::Iban
        )
    }
    /// Whether it is a credential (key, token, password).
    pub const fn is_credential(self) -> bool {
        matches!(
            self,
            SensitiveKind::Jwt
                | SensitiveKind::PrivateKey
                | SensitiveKind::AwsAccessKey
                | SensitiveKind::Secret
        )
    }
}

impl fmt::Display for SensitiveKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counts of each kind found in one text (saturating at `u32::MAX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SensitiveKinds {
    counts: [u32; 9],
}

impl SensitiveKinds {
    /// How many of this kind.
    pub fn count(&self, kind: SensitiveKind) -> u32 {
        self.counts[kind as usize]
    }
    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|c| *c == 0)
    }
    /// The kinds found with their counts, in [`SensitiveKind::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (SensitiveKind, u32)> + '_ {
        SensitiveKind::ALL
            .into_iter()
            .map(|k| (k, self.count(k)))
            .filter(|(_, c)| *c > 0)
    }
    /// Total count of personal-data findings (cards, SSNs, e-mails, phones, IBANs).
    pub fn personal_total(&self) -> u32 {
        self.iter()
            .filter(|(k, _)| k.is_personal())
            .fold(0u32, |a, (_, c)| a.saturating_add(c))
    }
    fn add(&mut self, kind: SensitiveKind) {
        let c = &mut self.counts[kind as usize];
        *c = c.saturating_add(1);
    }
}

impl fmt::Display for SensitiveKinds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (k, c) in self.iter() {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{k}={c}")?;
        }
        Ok(())
    }
}

/// Keyword patterns for the anchored kinds; index = [`Anchor`] order.
const ANCHORS: &[&str] = &[
    "eyJ",
    "-----BEGIN ",
    "AKIA",
    "ASIA",
    "\"password\"",
    "\"passwd\"",
    "\"secret\"",
    "\"client_secret\"",
    "\"api_key\"",
    "\"apikey\"",
    "\"access_token\"",
    "\"refresh_token\"",
    "\"private_key\"",
];

fn anchors() -> &'static AhoCorasick {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    AC.get_or_init(|| {
        // The patterns are fixed and valid: building cannot fail.
        AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostFirst)
            .build(ANCHORS)
            .unwrap_or_else(|_| unreachable!("fixed patterns build"))
    })
}

/// Scan a text for sensitive data.
pub fn scan(text: &str) -> SensitiveKinds {
    let mut b = text.as_bytes();
    if b.len() > MAX_SCAN_BYTES {
        b = &b[..MAX_SCAN_BYTES];
    }
    let mut out = SensitiveKinds::default();
    scan_anchored(b, &mut out);
    scan_emails(b, &mut out);
    scan_numbers(b, &mut out);
    scan_ibans(b, &mut out);
    out
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn is_b64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

fn scan_anchored(b: &[u8], out: &mut SensitiveKinds) {
    for m in anchors().find_iter(b) {
        let (s, e) = (m.start(), m.end());
        match m.pattern().as_usize() {
            0 => {
                if s > 0 && is_b64url(b[s - 1]) {
                    continue;
                }
                if jwt_len(&b[s..]).is_some() {
                    out.add(SensitiveKind::Jwt);
                }
            }
            1 => {
                let window = &b[e..b.len().min(e + 48)];
                if let Some(close) = window.windows(5).position(|w| w == b"-----") {
                    if window[..close].ends_with(b"PRIVATE KEY") {
                        out.add(SensitiveKind::PrivateKey);
                    }
                }
            }
            2 | 3 => {
                let key = &b[e..];
                let ok = (s == 0 || !b[s - 1].is_ascii_alphanumeric())
                    && key.len() >= 16
                    && key[..16]
                        .iter()
                        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
                    && key.get(16).is_none_or(|c| !c.is_ascii_alphanumeric());
                if ok {
                    out.add(SensitiveKind::AwsAccessKey);
                }
            }
            _ => {
                if has_string_value(&b[e..]) {
                    out.add(SensitiveKind::Secret);
                }
            }
        }
    }
}

/// Length of a JWT (`header.payload.signature`, base64url) at the start of `b`.
fn jwt_len(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    for part in 0..3 {
        let s = i;
        while i < b.len() && i < 8192 && is_b64url(b[i]) {
            i += 1;
        }
        let len = i - s;
        let min = if part == 2 { 0 } else { 10 };
        if len < min {
            return None;
        }
        if part < 2 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
    }
    Some(i)
}

/// After a JSON key: `\s*:\s*"` and at least one character before the closing quote.
fn has_string_value(b: &[u8]) -> bool {
    let mut i = 0;
    let ws = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
    while i < b.len() && i < 16 && ws(b[i]) {
        i += 1;
    }
    if b.get(i) != Some(&b':') {
        return false;
    }
    i += 1;
    while i < b.len() && i < 32 && ws(b[i]) {
        i += 1;
    }
    if b.get(i) != Some(&b'"') {
        return false;
    }
    matches!(b.get(i + 1), Some(c) if *c != b'"')
        && !b[i + 1..].starts_with(b"***")
        && !b[i + 1..].starts_with(b"<redacted>")
}

fn scan_emails(b: &[u8], out: &mut SensitiveKinds) {
    for at in memchr::memchr_iter(b'@', b) {
        let local_ok =
            |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-');
        let mut s = at;
        while s > 0 && at - s < 64 && local_ok(b[s - 1]) {
            s -= 1;
        }
        if s == at || b[s] == b'.' {
            continue;
        }
        let mut e = at + 1;
        let mut last_dot = None;
        while e < b.len()
            && e - at < 255
            && (b[e].is_ascii_alphanumeric() || matches!(b[e], b'.' | b'-'))
        {
            if b[e] == b'.' {
                last_dot = Some(e);
            }
            e += 1;
        }
        // Trailing dot ends a sentence, not the domain.
        if e > at + 1 && b[e - 1] == b'.' {
            e -= 1;
            last_dot = b[at + 1..e]
                .iter()
                .rposition(|c| *c == b'.')
                .map(|p| at + 1 + p);
        }
        let Some(dot) = last_dot else { continue };
        let tld = &b[dot + 1..e];
        if dot > at + 1 && tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic) {
            out.add(SensitiveKind::Email);
        }
    }
}

/// Digit runs: cards (13-19 digits, separators ` ` or `-` between groups), SSNs, phones.
fn scan_numbers(b: &[u8], out: &mut SensitiveKinds) {
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !c.is_ascii_digit() || (i > 0 && (is_word(b[i - 1]) || b[i - 1] == b'.')) {
            i += 1;
            continue;
        }
        let plus = i > 0 && b[i - 1] == b'+';
        // Collect up to 19 digits, allowing single separators between digits.
        let mut digits = [0u8; 20];
        let mut n = 0;
        let mut j = i;
        let mut seps = 0;
        let mut sep_kind = 0u8;
        let mut mixed = false;
        let mut groups = [0usize; 8];
        let mut g = 0;
        let mut run = 0;
        while j < b.len() {
            let d = b[j];
            if d.is_ascii_digit() {
                if n == 20 {
                    break;
                }
                digits[n] = d - b'0';
                n += 1;
                run += 1;
                j += 1;
            } else if matches!(d, b' ' | b'-')
                && j + 1 < b.len()
                && b[j + 1].is_ascii_digit()
                && run > 0
            {
                if sep_kind != 0 && sep_kind != d {
                    mixed = true;
                }
                sep_kind = d;
                if g < groups.len() {
                    groups[g] = run;
                }
                g += 1;
                run = 0;
                seps += 1;
                j += 1;
            } else {
                break;
            }
        }
        if g < groups.len() {
            groups[g] = run;
        }
        g += 1;
        // The run must end at a boundary (not inside a word or a longer number).
        let bounded = j >= b.len()
            || !(is_word(b[j]) || (b[j] == b'.' && b.get(j + 1).is_some_and(u8::is_ascii_digit)));
        if bounded && !mixed {
            let d = &digits[..n];
            if plus && (8..=15).contains(&n) {
                out.add(SensitiveKind::Phone);
            } else if n == 9 && seps == 2 && sep_kind == b'-' && groups[..3] == [3, 2, 4] {
                if ssn_valid(d) {
                    out.add(SensitiveKind::Ssn);
                }
            } else if (13..=19).contains(&n) && (seps == 0 || (3..=6).contains(&g)) && card_valid(d)
            {
                out.add(SensitiveKind::CardNumber);
            }
        }
        i = j.max(i + 1);
    }
}

fn ssn_valid(d: &[u8]) -> bool {
    let area = d[0] as u32 * 100 + d[1] as u32 * 10 + d[2] as u32;
    let group = d[3] * 10 + d[4];
    let serial = d[5..9].iter().fold(0u32, |a, x| a * 10 + *x as u32);
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// Known issuer prefix and Luhn.
fn card_valid(d: &[u8]) -> bool {
    let p2 = d[0] * 10 + d[1];
    let p4 = d[..4].iter().fold(0u32, |a, x| a * 10 + *x as u32);
    let issuer = match d[0] {
        4 => true,                                                       // Visa
        5 => (51..=55).contains(&p2),                                    // Mastercard
        2 => (2221..=2720).contains(&p4),                                // Mastercard 2-series
        3 => matches!(p2, 34 | 37 | 35 | 36 | 38 | 30),                  // Amex, JCB, Diners
        6 => p4 == 6011 || p2 == 65 || (644..=649).contains(&(p4 / 10)), // Discover
        _ => false,
    };
    issuer && luhn(d)
}

/// Luhn checksum over digit values.
pub fn luhn(d: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &x) in d.iter().rev().enumerate() {
        let mut v = x as u32;
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// IBANs: two upper-case letters, two check digits, 11-30 upper-case alphanumerics (groups of
/// four may be separated by single spaces); mod-97 must be 1.
fn scan_ibans(b: &[u8], out: &mut SensitiveKinds) {
    let mut i = 0;
    while i + 15 <= b.len() {
        if !(b[i].is_ascii_uppercase()
            && b[i + 1].is_ascii_uppercase()
            && b[i + 2].is_ascii_digit()
            && b[i + 3].is_ascii_digit())
            || (i > 0 && b[i - 1].is_ascii_alphanumeric())
        {
            i += 1;
            continue;
        }
        let mut chars = [0u8; 34];
        let mut n = 0;
        let mut j = i;
        while j < b.len() && n < 34 {
            let c = b[j];
            if c.is_ascii_digit() || c.is_ascii_uppercase() {
                chars[n] = c;
                n += 1;
                j += 1;
            } else if c == b' '
                && n % 4 == 0
                && b.get(j + 1).is_some_and(|c| c.is_ascii_alphanumeric())
            {
                j += 1;
            } else {
                break;
            }
        }
        let bounded = j >= b.len() || !b[j].is_ascii_alphanumeric();
        if bounded && (15..=34).contains(&n) && iban_mod97(&chars[..n]) {
            out.add(SensitiveKind::Iban);
            i = j;
        } else {
            i += 1;
        }
    }
}

fn iban_mod97(s: &[u8]) -> bool {
    let mut rem = 0u32;
    for &c in s[4..].iter().chain(&s[..4]) {
        if c.is_ascii_digit() {
            rem = (rem * 10 + (c - b'0') as u32) % 97;
        } else {
            let v = (c - b'A') as u32 + 10;
            rem = (rem * 100 + v) % 97;
        }
    }
    rem == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: &str) {
        assert_eq!(scan(text).to_string(), expected, "scan of {text:?}");
    }

    #[test]
    fn finds_sensitive_data() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("hello world", ""),
            (r#"{"card":"4111111111111111"}"#, "card_number=1"),
            (r#"{"card":"4111 1111 1111 1111"}"#, "card_number=1"),
            (r#"{"card":"4111-1111-1111-1111"}"#, "card_number=1"),
            (r#"{"amex":"378282246310005","mc":"5555555555554444"}"#, "card_number=2"),
            // A 16-digit order id failing Luhn is not a card.
            (r#"{"order_id":4111111111111112}"#, ""),
            // Passes Luhn but no issuer prefix (a timestamp-like id).
            (r#"{"id":1000000000000009}"#, ""),
            // Part of a longer number or word.
            ("x4111111111111111", ""),
            ("41111111111111110000", ""),
            ("ssn: 123-45-6789", "ssn=1"),
            ("ssn: 000-45-6789", ""),
            ("phone 123-456-7890", ""),
            ("date 2024-01-15", ""),
            ("mail alice@example.com and bob@corp.example.org.", "email=2"),
            ("not an email: a@b, @handle, x@localhost", ""),
            ("call +1 415 555 0100 or +44 20 7946 0958", "phone=2"),
            (
                "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                "jwt=1",
            ),
            ("eyJhbGciOi alone", ""),
            ("-----BEGIN RSA PRIVATE KEY-----\nMIIE...", "private_key=1"),
            ("-----BEGIN PRIVATE KEY-----", "private_key=1"),
            ("-----BEGIN CERTIFICATE-----", ""),
            ("key=AKIAIOSFODNN7EXAMPLE;", "aws_access_key=1"),
            ("AKIAshort", ""),
            (r#"{"password": "hunter2"}"#, "secret=1"),
            (r#"{"client_secret":"abc"}"#, "secret=1"),
            (r#"{"password": ""}"#, ""),
            (r#"{"password": null}"#, ""),
            (r#"{"password":"***"}"#, ""),
            ("IBAN DE89370400440532013000", "iban=1"),
            ("IBAN GB82 WEST 1234 5698 7654 32", "iban=1"),
            ("IBAN DE89370400440532013001", ""),
            (
                r#"[{"email":"a@x.io","card":"4012888888881881","ssn":"078-05-1120"}]"#,
                "card_number=1 ssn=1 email=1",
            ),
        ];
        for (text, expected) in cases {
            check(text, expected);
        }
    }

    #[test]
    fn counts_bulk_personal_data() {
        let body: String = (0..500)
            .map(|i| format!(r#"{{"id":{i},"email":"user{i}@example.com"}},"#))
            .collect();
        let got = scan(&body);
        assert_eq!(got.count(SensitiveKind::Email), 500);
        assert_eq!(got.personal_total(), 500);
        assert_eq!(got.count(SensitiveKind::CardNumber), 0);
    }

    #[test]
    fn scan_is_bounded() {
        let mut body = "a".repeat(MAX_SCAN_BYTES);
        body.push_str(" alice@example.com");
        assert!(scan(&body).is_empty(), "text past the limit is not scanned");
    }
}
