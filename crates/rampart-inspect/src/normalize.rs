//! The normaliser: undo the encodings an attacker stacks on a value (percent, `%u`, HTML
//! entities, JS and JSON escapes), then fold it (case, SQL comments, whitespace) so detectors
//! match one canonical form.
//!
//! Works on bytes in two buffers that are swapped between rounds; percent escapes may produce
//! invalid UTF-8, which a final pass repairs (overlong `%c0%af` becomes the ASCII it spells,
//! anything else U+FFFD). Every pass is linear in its input and there are at most
//! [`MAX_ROUNDS`] decoding rounds, so the work is O(len).

use std::mem;

/// Decoding rounds at most: `%252527` needs three to reach `'`; a deeper stack is left as is.
pub const MAX_ROUNDS: usize = 3;

/// How a value was encoded where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Path, header, cookie, XML, multipart: `+` is a plus.
    Plain,
    /// Query string and urlencoded form: `+` is a space (first round only).
    Plus,
    /// The raw content of a JSON string (escapes intact): JSON-unescaped first.
    Json,
}

/// Standalone normaliser: writes the fully decoded form of `raw` into `decoded` and its folded
/// form into `folded` (both cleared first), and returns whether either differs from `raw`.
///
/// `plus_is_space` is for query strings and urlencoded forms. The buffers keep their capacity,
/// so a caller that reuses them does not allocate in steady state.
pub fn normalize_into(
    raw: &str,
    plus_is_space: bool,
    decoded: &mut String,
    folded: &mut String,
) -> bool {
    let mode = if plus_is_space {
        Mode::Plus
    } else {
        Mode::Plain
    };
    normalize_mode(raw, mode, decoded, folded);
    decoded.as_str() != raw || folded.as_str() != raw
}

pub(crate) fn normalize_mode(raw: &str, mode: Mode, decoded: &mut String, folded: &mut String) {
    let b = raw.as_bytes();
    let special = memchr::memchr3(b'%', b'&', b'\\', b).is_some()
        || memchr::memchr(0, b).is_some()
        || (mode == Mode::Plus && memchr::memchr(b'+', b).is_some());
    decoded.clear();
    if special {
        let mut a = mem::take(decoded).into_bytes();
        let mut scratch = mem::take(folded).into_bytes();
        decode(b, mode, &mut a, &mut scratch);
        *decoded = into_string(a);
        scratch.clear();
        *folded = into_string(scratch);
    } else {
        decoded.push_str(raw);
    }
    folded.clear();
    let mut space = true;
    fold(decoded, folded, &mut space, true);
    if folded.ends_with(' ') {
        folded.pop();
    }
}

/// The buffers only ever hold UTF-8 (by construction); the fallback never runs but keeps this
/// panic-free.
fn into_string(v: Vec<u8>) -> String {
    String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Decode `raw` (which holds at least one special byte) into `a` (valid UTF-8, NUL-free);
/// `b` is scratch.
fn decode(raw: &[u8], mode: Mode, a: &mut Vec<u8>, b: &mut Vec<u8>) {
    a.clear();
    // `cur_in_a`: which buffer holds the current text (None: still `raw`).
    let mut cur_in_a: Option<bool> = None;
    if mode == Mode::Json && memchr::memchr(b'\\', raw).is_some() {
        json_unescape(raw, a);
        cur_in_a = Some(true);
    }
    for round in 0..MAX_ROUNDS {
        let plus = mode == Mode::Plus && round == 0;
        let changed = match cur_in_a {
            None => decode_pass(raw, plus, a),
            Some(true) => decode_pass(a, plus, b),
            Some(false) => decode_pass(b, plus, a),
        };
        if !changed {
            break;
        }
        cur_in_a = Some(match cur_in_a {
            None | Some(false) => true,
            Some(true) => false,
        });
    }
    // Final pass: repair UTF-8 and drop NULs, into `a`.
    match cur_in_a {
        None => repair(raw, a),
        Some(true) => {
            if needs_repair(a) {
                b.clear();
                repair(a, b);
                mem::swap(a, b);
            }
        }
        Some(false) => repair(b, a),
    }
}

fn needs_repair(s: &[u8]) -> bool {
    memchr::memchr(0, s).is_some() || std::str::from_utf8(s).is_err()
}

fn hex(c: u8) -> Option<u32> {
    (c as char).to_digit(16)
}

/// `n` hex digits at `s[i..]`.
fn hex_n(s: &[u8], i: usize, n: usize) -> Option<u32> {
    let digits = s.get(i..i + n)?;
    digits
        .iter()
        .try_fold(0u32, |acc, &c| Some(acc * 16 + hex(c)?))
}

fn push_char(out: &mut Vec<u8>, cp: u32) {
    let c = char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// A UTF-16 code unit at `s[i..]` written `\uXXXX` or `%uXXXX` (the marker `u_marker` is
/// the byte before `u`); combines a surrogate pair. Returns the code point and bytes consumed.
fn utf16_escape(s: &[u8], i: usize, marker: u8) -> Option<(u32, usize)> {
    let hi = hex_n(s, i + 2, 4)?;
    if (0xD800..0xDC00).contains(&hi) {
        if s.get(i + 6) == Some(&marker) && matches!(s.get(i + 7), Some(b'u' | b'U')) {
            if let Some(lo) = hex_n(s, i + 8, 4) {
                if (0xDC00..0xE000).contains(&lo) {
                    return Some((0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00), 12));
                }
            }
        }
        return Some((0xFFFD, 6));
    }
    if (0xDC00..0xE000).contains(&hi) {
        return Some((0xFFFD, 6));
    }
    Some((hi, 6))
}

/// Bytes that may start an escape: `%`, `+`, `&`, `\\`.
const DECODE_START: [bool; 256] = {
    let mut t = [false; 256];
    t[b'%' as usize] = true;
    t[b'+' as usize] = true;
    t[b'&' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Bytes the folder acts on: whitespace, `/` (comments), the lead byte of U+00A0.
const FOLD_SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = is_fold_space(i as u8) || i == b'/' as usize || i == 0xC2;
        i += 1;
    }
    t
};

/// One round: `%HH`, `%uXXXX`, `+` (when `plus`), HTML entities, `\uXXXX` / `\u{X}` / `\xHH`.
fn decode_pass(s: &[u8], plus: bool, out: &mut Vec<u8>) -> bool {
    out.clear();
    let mut changed = false;
    let mut i = 0;
    while i < s.len() {
        // copy the run of bytes no decoder starts with in one go
        let run = s[i..]
            .iter()
            .position(|&c| DECODE_START[c as usize])
            .map_or(s.len(), |p| i + p);
        out.extend_from_slice(&s[i..run]);
        i = run;
        let Some(&c) = s.get(i) else { break };
        match c {
            b'%' => {
                if let Some(v) = hex_n(s, i + 1, 2) {
                    out.push(v as u8);
                    i += 3;
                    changed = true;
                    continue;
                }
                if matches!(s.get(i + 1), Some(b'u' | b'U')) {
                    if let Some((cp, n)) = utf16_escape(s, i, b'%') {
                        push_char(out, cp);
                        i += n;
                        changed = true;
                        continue;
                    }
                }
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
                changed = true;
                continue;
            }
            b'&' => {
                if let Some((cp, n)) = entity(s, i) {
                    push_char(out, cp);
                    i += n;
                    changed = true;
                    continue;
                }
            }
            b'\\' => {
                if let Some((cp, n)) = js_hex_escape(s, i) {
                    push_char(out, cp);
                    i += n;
                    changed = true;
                    continue;
                }
            }
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    changed
}

/// `\uXXXX`, `\u{X..}` or `\xHH` at `s[i..]` (`s[i]` is the backslash).
fn js_hex_escape(s: &[u8], i: usize) -> Option<(u32, usize)> {
    match s.get(i + 1)? {
        b'x' | b'X' => Some((hex_n(s, i + 2, 2)?, 4)),
        b'u' | b'U' => {
            if s.get(i + 2) == Some(&b'{') {
                let close = s
                    .get(i + 3..(i + 10).min(s.len()))?
                    .iter()
                    .position(|&c| c == b'}')?;
                if close == 0 {
                    return None;
                }
                let cp = hex_n(s, i + 3, close)?;
                Some((if cp > 0x10FFFF { 0xFFFD } else { cp }, close + 4))
            } else {
                utf16_escape(s, i, b'\\')
            }
        }
        _ => None,
    }
}

/// Named entities decoded (matched ASCII-case-insensitively, `;` required except for the
/// four that browsers accept bare).
const NAMED: &[(&str, u32, bool)] = &[
    ("lt", '<' as u32, true),
    ("gt", '>' as u32, true),
    ("amp", '&' as u32, true),
    ("quot", '"' as u32, true),
    ("apos", '\'' as u32, false),
    ("nbsp", 0xA0, false),
    ("tab", '\t' as u32, false),
    ("newline", '\n' as u32, false),
    ("colon", ':' as u32, false),
    ("sol", '/' as u32, false),
    ("lpar", '(' as u32, false),
    ("rpar", ')' as u32, false),
    ("semi", ';' as u32, false),
    ("equals", '=' as u32, false),
];

/// An HTML entity at `s[i..]` (`s[i]` is `&`): code point and bytes consumed.
fn entity(s: &[u8], i: usize) -> Option<(u32, usize)> {
    let rest = s.get(i + 1..)?;
    if rest.first() == Some(&b'#') {
        let (radix, start) = match rest.get(1) {
            Some(b'x' | b'X') => (16, 2),
            _ => (10, 1),
        };
        let max_digits = if radix == 16 { 6 } else { 7 };
        let digits = rest
            .iter()
            .skip(start)
            .take(max_digits + 1)
            .take_while(|c| (**c as char).is_digit(radix))
            .count();
        if digits == 0 || digits > max_digits {
            return None;
        }
        let cp = rest[start..start + digits].iter().fold(0u32, |acc, &c| {
            acc * radix + (c as char).to_digit(radix).unwrap_or(0)
        });
        let mut n = 1 + start + digits;
        if rest.get(start + digits) == Some(&b';') {
            n += 1;
        }
        let cp = if cp > 0x10FFFF || (0xD800..0xE000).contains(&cp) {
            0xFFFD
        } else {
            cp
        };
        return Some((cp, n));
    }
    let len = rest
        .iter()
        .take(8)
        .take_while(|c| c.is_ascii_alphabetic())
        .count();
    let word = rest.get(..len)?;
    let semi = rest.get(len) == Some(&b';');
    for &(name, cp, bare_ok) in NAMED {
        if word.eq_ignore_ascii_case(name.as_bytes()) && (semi || bare_ok) {
            return Some((cp, 1 + len + usize::from(semi)));
        }
    }
    None
}

/// Full JSON string unescape of `s` (the content between the quotes) into `out`. An unknown
/// or cut escape is kept as written.
fn json_unescape(s: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let simple = match s.get(i + 1) {
            Some(b'"') => Some(b'"'),
            Some(b'\\') => Some(b'\\'),
            Some(b'/') => Some(b'/'),
            Some(b'b') => Some(8),
            Some(b'f') => Some(12),
            Some(b'n') => Some(b'\n'),
            Some(b'r') => Some(b'\r'),
            Some(b't') => Some(b'\t'),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            i += 2;
        } else if let Some((cp, n)) = js_hex_escape(s, i) {
            push_char(out, cp);
            i += n;
        } else {
            out.push(c);
            i += 1;
        }
    }
}

/// Copy `s` into `out` as valid UTF-8 without NULs: an overlong two-byte form of ASCII
/// (`C0 AF`) becomes that ASCII byte, any other invalid byte U+FFFD.
fn repair(s: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut rest = s;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                push_without_nul(out, valid.as_bytes());
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                push_without_nul(out, valid);
                let bad = e.error_len().unwrap_or(after.len()).max(1);
                match after {
                    [lead @ (0xC0 | 0xC1), cont, ..] if cont & 0xC0 == 0x80 => {
                        let ascii = ((lead & 0x1F) << 6) | (cont & 0x3F);
                        if ascii != 0 {
                            out.push(ascii);
                        }
                        rest = &after[2..];
                        continue;
                    }
                    _ => push_char(out, 0xFFFD),
                }
                rest = after.get(bad..).unwrap_or(&[]);
            }
        }
    }
}

fn push_without_nul(out: &mut Vec<u8>, mut s: &[u8]) {
    while let Some(p) = memchr::memchr(0, s) {
        out.extend_from_slice(&s[..p]);
        s = &s[p + 1..];
    }
    out.extend_from_slice(s);
}

const fn is_fold_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | 0x0B | 0x0C)
}

/// Offset of the `*/` closing a comment whose body starts `b` (a plain `memchr` loop: a
/// `memmem` searcher costs more to build than most comments are long).
fn comment_end(b: &[u8]) -> Option<usize> {
    memchr::memchr_iter(b'*', b).find(|&p| b.get(p + 1) == Some(&b'/'))
}

/// Append the lower-cased run `s` (ASCII only changed, so it stays UTF-8).
fn push_lower(out: &mut String, s: &str, space: &mut bool) {
    if !s.is_empty() {
        let start = out.len();
        out.push_str(s);
        if let Some(tail) = out.get_mut(start..) {
            tail.make_ascii_lowercase();
        }
        *space = false;
    }
}

fn push_space(out: &mut String, space: &mut bool) {
    if !*space {
        out.push(' ');
        *space = true;
    }
}

/// Fold `s` into `out`: lower-case ASCII, SQL comments to one space (when `comments`; MySQL
/// `/*!50000x*/` keeps `x`), whitespace runs (and U+00A0) to one space, none at the start
/// (`space` says whether `out` ends in one). Runs of ordinary bytes are copied whole; every
/// cut is at an ASCII byte or at the lead byte of U+00A0, so at a char boundary.
fn fold(s: &str, out: &mut String, space: &mut bool, comments: bool) {
    let b = s.as_bytes();
    let mut run = 0;
    let mut i = 0;
    // once a `/*` has no `*/` after it, no later one has: stop looking (keeps `/*/*/*...` linear)
    let mut unclosed = false;
    while i < b.len() {
        match b[i..].iter().position(|&c| FOLD_SPECIAL[c as usize]) {
            Some(p) => i += p,
            None => break,
        }
        let c = b[i];
        if is_fold_space(c) {
            push_lower(out, s.get(run..i).unwrap_or(""), space);
            push_space(out, space);
            i += 1;
            run = i;
        } else if c == 0xC2 && b.get(i + 1) == Some(&0xA0) {
            push_lower(out, s.get(run..i).unwrap_or(""), space);
            push_space(out, space);
            i += 2;
            run = i;
        } else if comments && !unclosed && c == b'/' && b.get(i + 1) == Some(&b'*') {
            let Some(end) = comment_end(&b[i + 2..]) else {
                unclosed = true;
                i += 1;
                continue;
            };
            push_lower(out, s.get(run..i).unwrap_or(""), space);
            push_space(out, space);
            let inner = &b[i + 2..i + 2 + end];
            if inner.first() == Some(&b'!') {
                let digits = inner[1..]
                    .iter()
                    .take(6)
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                let body = s.get(i + 3 + digits..i + 2 + end).unwrap_or("");
                fold(body, out, space, false);
                push_space(out, space);
            }
            i += 2 + end + 2;
            run = i;
        } else {
            i += 1;
        }
    }
    push_lower(out, s.get(run..).unwrap_or(""), space);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repair_maps_overlong_ascii() {
        let mut out = Vec::new();
        repair(b"..\xc0\xaf..\xff\x00x", &mut out);
        assert_eq!(std::str::from_utf8(&out).unwrap(), "../..\u{fffd}x");
    }
}
