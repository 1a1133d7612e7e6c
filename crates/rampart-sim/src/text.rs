//! Allocation-free text helpers for the encoders: dates, numbers and escaping.

use std::fmt::Write;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Broken-down UTC time.
pub(crate) struct Civil {
    pub y: i64,
    pub m: u32,
    pub d: u32,
    pub hh: u32,
    pub mm: u32,
    pub ss: u32,
    pub ms: u32,
}

/// Civil date from days since the epoch (Howard Hinnant's algorithm).
pub(crate) fn civil(ms_epoch: i64) -> Civil {
    let days = ms_epoch.div_euclid(86_400_000);
    let rem = ms_epoch.rem_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    let secs = (rem / 1000) as u32;
    Civil {
        y,
        m,
        d,
        hh: secs / 3600,
        mm: secs / 60 % 60,
        ss: secs % 60,
        ms: (rem % 1000) as u32,
    }
}

#[inline]
pub(crate) fn push2(out: &mut String, v: u32) {
    out.push((b'0' + (v / 10 % 10) as u8) as char);
    out.push((b'0' + (v % 10) as u8) as char);
}

#[inline]
pub(crate) fn push3(out: &mut String, v: u32) {
    out.push((b'0' + (v / 100 % 10) as u8) as char);
    push2(out, v % 100);
}

/// Decimal integer.
#[inline]
pub(crate) fn push_u64(out: &mut String, v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(b as char);
    }
}

/// Fixed-point decimal with 3 fractional digits from thousandths (`12345` -> `12.345`).
#[inline]
pub(crate) fn push_milli(out: &mut String, thousandths: u64) {
    push_u64(out, thousandths / 1000);
    out.push('.');
    push3(out, (thousandths % 1000) as u32);
}

/// `YYYY-MM-DDTHH:MM:SS`, then `frac` fractional digits (0, 3, 6 or 9), then `suffix`.
pub(crate) fn push_iso(out: &mut String, ms_epoch: i64, frac: u8, suffix: &str) {
    let c = civil(ms_epoch);
    let _ = write!(out, "{:04}", c.y);
    out.push('-');
    push2(out, c.m);
    out.push('-');
    push2(out, c.d);
    out.push('T');
    push2(out, c.hh);
    out.push(':');
    push2(out, c.mm);
    out.push(':');
    push2(out, c.ss);
    if frac > 0 {
        out.push('.');
        push3(out, c.ms);
        for _ in 3..frac {
            out.push('0');
        }
    }
    out.push_str(suffix);
}

/// nginx `$time_local` in UTC: `01/Jan/2026:00:00:00 +0000`.
pub(crate) fn push_clf_time(out: &mut String, ms_epoch: i64) {
    let c = civil(ms_epoch);
    push2(out, c.d);
    out.push('/');
    out.push_str(MONTHS[(c.m as usize).saturating_sub(1) % 12]);
    out.push('/');
    let _ = write!(out, "{:04}", c.y);
    out.push(':');
    push2(out, c.hh);
    out.push(':');
    push2(out, c.mm);
    out.push(':');
    push2(out, c.ss);
    out.push_str(" +0000");
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// JSON string contents (no surrounding quotes), escaped as `serde_json` and nginx
/// `escape=json` do.
pub(crate) fn push_json_esc(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// A JSON string with quotes.
#[inline]
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    push_json_esc(out, s);
    out.push('"');
}

/// nginx's default log escaping: `"`, `\`, control bytes and bytes >= 0x7f as `\xHH`;
/// `-` for an empty value.
pub(crate) fn push_nginx_esc(out: &mut String, s: &str) {
    if s.is_empty() {
        out.push('-');
        return;
    }
    for &b in s.as_bytes() {
        if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
            out.push_str("\\x");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        } else {
            // Every byte left unescaped is ASCII.
            out.push(b as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_iso(ms: i64, expected: &str) {
        let mut s = String::new();
        push_iso(&mut s, ms, 3, "Z");
        assert_eq!(s, expected);
        assert_eq!(
            s,
            rampart_model::Timestamp(ms).to_rfc3339(),
            "matches chrono"
        );
    }

    #[test]
    fn iso_dates() {
        check_iso(0, "1970-01-01T00:00:00.000Z");
        check_iso(1_767_225_600_123, "2026-01-01T00:00:00.123Z");
        check_iso(951_782_400_000, "2000-02-29T00:00:00.000Z");
        check_iso(1_735_689_599_999, "2024-12-31T23:59:59.999Z");
    }

    #[test]
    fn clf_time() {
        let mut s = String::new();
        push_clf_time(&mut s, 1_767_225_600_123);
        assert_eq!(s, "01/Jan/2026:00:00:00 +0000");
    }

    #[test]
    fn escapes() {
        let mut s = String::new();
        push_nginx_esc(&mut s, "a\"b\\c\té");
        assert_eq!(s, "a\\x22b\\x5Cc\\x09\\xC3\\xA9");
        s.clear();
        push_json_esc(&mut s, "a\"b\\c\n\u{1}é");
        assert_eq!(s, "a\\\"b\\\\c\\n\\u0001é");
        s.clear();
        push_milli(&mut s, 12_005);
        assert_eq!(s, "12.005");
    }
}
