//! `multipart/*` bodies, split by hand: each part's `name`, `filename` and content; a part
//! declared JSON, XML or multipart (up to the max depth) is walked as such.

use memchr::memmem;

use crate::normalize::Mode;
use crate::{classify, walk_body, Kind, Location, Scratch, Sink};

/// The value of parameter `key` (ASCII case-insensitive) in a header value such as
/// `form-data; name="a"; filename="b.txt"`; quotes removed (a backslash escape inside quotes
/// is skipped over, not undone).
pub(crate) fn param<'h>(header: &'h str, key: &str) -> Option<&'h str> {
    let b = header.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while matches!(b.get(i), Some(b' ' | b'\t' | b';')) {
            i += 1;
        }
        let name_start = i;
        while !matches!(b.get(i), None | Some(b'=' | b';')) {
            i += 1;
        }
        let name = header.get(name_start..i).unwrap_or("").trim();
        if b.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while matches!(b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        let (value, next) = if b.get(i) == Some(&b'"') {
            let start = i + 1;
            let mut j = start;
            while let Some(&c) = b.get(j) {
                match c {
                    b'\\' => j += 2,
                    b'"' => break,
                    _ => j += 1,
                }
            }
            let end = j.min(b.len());
            (header.get(start..end).unwrap_or(""), end + 1)
        } else {
            let start = i;
            while !matches!(b.get(i), None | Some(b';')) {
                i += 1;
            }
            (header.get(start..i).unwrap_or("").trim_end(), i)
        };
        if name.eq_ignore_ascii_case(key) {
            return Some(value);
        }
        i = next;
    }
    None
}

/// Start of the delimiter line `--boundary` at or after `from` (at the start of the body or
/// of a line).
fn find_delim(b: &[u8], from: usize, boundary: &[u8]) -> Option<usize> {
    let mut j = from;
    while let Some(p) = memmem::find(b.get(j..)?, boundary) {
        let at = j + p;
        if at >= 2 && &b[at - 2..at] == b"--" && (at == 2 || b[at - 3] == b'\n') {
            return Some(at - 2);
        }
        j = at + 1;
    }
    None
}

/// End of the part headers starting at `h`, and start of the content (after the blank line).
fn headers_end(b: &[u8], h: usize) -> Option<(usize, usize)> {
    match b.get(h..)? {
        [b'\r', b'\n', ..] => return Some((h, h + 2)),
        [b'\n', ..] => return Some((h, h + 1)),
        _ => {}
    }
    for p in memchr::memchr_iter(b'\n', b.get(h..)?) {
        let nl = h + p;
        match b.get(nl + 1..) {
            Some([b'\n', ..]) => return Some((nl, nl + 2)),
            Some([b'\r', b'\n', ..]) => return Some((nl, nl + 3)),
            _ => {}
        }
    }
    None
}

/// Walk the parts of `body`; returns false when it ends without a closing delimiter or a
/// part's headers never end.
pub(crate) fn walk(
    sink: &mut Sink<'_>,
    scratch: &mut Scratch,
    body: &str,
    boundary: &str,
    depth: usize,
) -> bool {
    let b = body.as_bytes();
    let bnd = boundary.as_bytes();
    let Some(mut d) = find_delim(b, 0, bnd) else {
        sink.emit_chunked(Location::RawBody, "", body);
        return false;
    };
    loop {
        if sink.stopped {
            return true;
        }
        let after = d + 2 + bnd.len();
        if b.get(after..after + 2) == Some(b"--") {
            return true;
        }
        let Some(nl) = b.get(after..).and_then(|r| memchr::memchr(b'\n', r)) else {
            return false;
        };
        let Some((hend, cstart)) = headers_end(b, after + nl + 1) else {
            return false;
        };
        let headers = body.get(after + nl + 1..hend).unwrap_or("");
        let next = find_delim(b, cstart, bnd);
        let cend = match next {
            Some(n) => {
                let mut e = n;
                if e > cstart && b[e - 1] == b'\n' {
                    e -= 1;
                    if e > cstart && b[e - 1] == b'\r' {
                        e -= 1;
                    }
                }
                e
            }
            None => b.len(),
        };
        let content = body.get(cstart..cend).unwrap_or("");
        part(sink, scratch, headers, content, depth);
        match next {
            Some(n) => d = n,
            None => return false,
        }
    }
}

fn part(sink: &mut Sink<'_>, scratch: &mut Scratch, headers: &str, content: &str, depth: usize) {
    let (mut name, mut filename, mut ct) = ("", None, "");
    for line in headers.lines() {
        let Some((h, v)) = line.split_once(':') else {
            continue;
        };
        let h = h.trim();
        if h.eq_ignore_ascii_case("content-disposition") {
            name = param(v, "name").unwrap_or("");
            filename = param(v, "filename");
        } else if h.eq_ignore_ascii_case("content-type") {
            ct = v.trim();
        }
    }
    sink.emit(Location::MultipartName, name, name, Mode::Plain);
    if let Some(f) = filename {
        sink.emit(Location::MultipartFilename, name, f, Mode::Plain);
    }
    match classify(ct, content, false) {
        kind @ (Kind::Json | Kind::Xml) => {
            walk_body(sink, scratch, content, kind, name, depth + 1);
        }
        kind @ Kind::Multipart(_) if depth + 1 < sink.max_depth() => {
            walk_body(sink, scratch, content, kind, name, depth + 1);
        }
        _ => sink.emit_chunked(Location::MultipartValue, name, content),
    }
}
