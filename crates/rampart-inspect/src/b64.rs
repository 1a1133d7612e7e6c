//! Base64 sniffing: offer the decoded form of a value that is base64 (or base64url) of text or
//! of a serialized object.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, CONFIG);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, CONFIG);

/// Shortest value tried, in characters (`DQpRVUlUDQo` is CR LF `QUIT` CR LF).
pub const MIN_CHARS: usize = 11;
/// Fewest decoded bytes offered.
pub const MIN_BYTES: usize = 8;
/// Below this many characters the decoded text must be wholly printable (a short word that
/// happens to be valid base64 rarely decodes to text).
const SHORT_CHARS: usize = 16;

/// Leading bytes of serialized objects worth offering even though they are binary: Java
/// serialization, .NET BinaryFormatter; Python pickle (protocol 2 to 5) is checked apart.
const MAGICS: &[&[u8]] = &[b"\xac\xed\x00\x05", b"\x00\x01\x00\x00\x00\xff\xff\xff\xff"];

/// Whether `bytes` starts with a known serialization magic.
pub fn has_magic(bytes: &[u8]) -> bool {
    MAGICS.iter().any(|m| bytes.starts_with(m)) || matches!(bytes, [0x80, 2..=5, ..])
}

/// Decode `s` into `bytes` (cleared) when it looks like base64 of text (90% printable ASCII
/// or whitespace) or of a serialized object, and write the lossy text into `text`.
pub fn sniff(s: &str, bytes: &mut Vec<u8>, text: &mut String) -> bool {
    bytes.clear();
    text.clear();
    let b = s.as_bytes();
    if b.len() < MIN_CHARS {
        return false;
    }
    let body_len = b.len() - b.iter().rev().take(2).take_while(|&&c| c == b'=').count();
    let body = &b[..body_len];
    let (mut std_only, mut url_only) = (false, false);
    for &c in body {
        match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => {}
            b'+' | b'/' => std_only = true,
            b'-' | b'_' => url_only = true,
            _ => return false,
        }
    }
    if (std_only && url_only) || body_len % 4 == 1 {
        return false;
    }
    let engine = if url_only { &URL_SAFE } else { &STANDARD };
    if engine.decode_vec(body, bytes).is_err() || bytes.len() < MIN_BYTES {
        bytes.clear();
        return false;
    }
    let printable = bytes
        .iter()
        .filter(|&&c| (0x20..0x7f).contains(&c) || matches!(c, b'\t' | b'\n' | b'\r'))
        .count();
    let enough = if b.len() < SHORT_CHARS {
        printable == bytes.len()
    } else {
        printable * 10 >= bytes.len() * 9
    };
    if !enough && !has_magic(bytes) {
        bytes.clear();
        return false;
    }
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            text.push(char::REPLACEMENT_CHARACTER);
        }
    }
    true
}
