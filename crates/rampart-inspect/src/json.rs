//! JSON bodies: validated by `serde_json` (after a depth pre-scan, so its recursion limit is
//! never what stops a document), then walked by hand over the text so every key and string
//! value is reported as it was written (escapes intact in `raw`, undone in `decoded`) without
//! allocating.

use std::fmt::Write as _;

use crate::normalize::Mode;
use crate::{floor_boundary, Location, Scratch, Sink, MAX_NAME_BYTES};

/// One open container of the walk.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame {
    obj: bool,
    index: u32,
    /// Length of the key path naming this container.
    path_len: usize,
}

/// Whether `s` is valid JSON nested at most `max_depth` deep.
pub(crate) fn check(s: &str, max_depth: usize) -> bool {
    depth_ok(s.as_bytes(), max_depth) && serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok()
}

/// Bracket nesting of `b` (outside strings) stays within `max`.
fn depth_ok(b: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => match string_end(b, i) {
                Some(end) => i = end,
                None => return false,
            },
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    true
}

/// Index of the closing quote of the string opening at `b[open]`.
fn string_end(b: &[u8], open: usize) -> Option<usize> {
    let mut j = open + 1;
    loop {
        let p = memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
        if b[j + p] == b'"' {
            return Some(j + p);
        }
        j += p + 2;
    }
}

fn ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// Append `seg` to `path`, keeping it within [`MAX_NAME_BYTES`].
fn push_bounded(path: &mut String, seg: &str) {
    let room = MAX_NAME_BYTES.saturating_sub(path.len());
    path.push_str(&seg[..floor_boundary(seg, room)]);
}

fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() && path.len() < MAX_NAME_BYTES {
        path.push('.');
    }
    push_bounded(path, key);
}

fn push_index(path: &mut String, index: u32) {
    if path.len() + 12 <= MAX_NAME_BYTES {
        let _ = write!(path, "[{index}]");
    }
}

/// Walk a document that [`check`] accepted, reporting keys and string values; values are
/// named `prefix.key.path`. Returns whether it is a GraphQL request (a `query` string in the
/// top object, or in an object of a top-level batch array).
pub(crate) fn walk(sink: &mut Sink<'_>, scratch: &mut Scratch, s: &str, prefix: &str) -> bool {
    let Scratch { path, frames, .. } = scratch;
    path.clear();
    push_bounded(path, prefix);
    frames.clear();
    let b = s.as_bytes();
    let mut graphql = false;
    let mut query_next = false;
    let top_level = prefix.is_empty();
    let mut i = ws(b, 0);
    'value: loop {
        if sink.stopped {
            break;
        }
        let is_query = std::mem::take(&mut query_next);
        match b.get(i) {
            Some(b'{') => {
                frames.push(Frame {
                    obj: true,
                    index: 0,
                    path_len: path.len(),
                });
                i = ws(b, i + 1);
                if b.get(i) == Some(&b'}') {
                    frames.pop();
                    i += 1;
                } else {
                    match key(sink, s, i, path, frames, top_level) {
                        Some((next, q)) => (i, query_next) = (next, q),
                        None => break,
                    }
                    continue 'value;
                }
            }
            Some(b'[') => {
                frames.push(Frame {
                    obj: false,
                    index: 0,
                    path_len: path.len(),
                });
                i = ws(b, i + 1);
                if b.get(i) == Some(&b']') {
                    frames.pop();
                    i += 1;
                } else {
                    push_index(path, 0);
                    continue 'value;
                }
            }
            Some(b'"') => {
                let Some(end) = string_end(b, i) else { break };
                let raw = s.get(i + 1..end).unwrap_or("");
                sink.emit(Location::JsonValue, path, raw, Mode::Json);
                if is_query {
                    graphql = true;
                    sink.emit(Location::GraphQl, "query", raw, Mode::Json);
                }
                i = end + 1;
            }
            Some(_) => {
                while !matches!(
                    b.get(i),
                    None | Some(b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r')
                ) {
                    i += 1;
                }
            }
            None => break,
        }
        // After a value: step to the next member, closing containers on the way.
        loop {
            i = ws(b, i);
            let Some(top) = frames.last_mut() else {
                break 'value;
            };
            match b.get(i) {
                Some(b',') => {
                    i = ws(b, i + 1);
                    path.truncate(top.path_len);
                    if top.obj {
                        match key(sink, s, i, path, frames, top_level) {
                            Some((next, q)) => (i, query_next) = (next, q),
                            None => break 'value,
                        }
                    } else {
                        top.index = top.index.saturating_add(1);
                        let index = top.index;
                        push_index(path, index);
                    }
                    continue 'value;
                }
                Some(b'}' | b']') => {
                    path.truncate(top.path_len);
                    frames.pop();
                    i += 1;
                }
                _ => break 'value,
            }
        }
    }
    graphql
}

/// Read the key at `b[i]`, report it, extend the path; returns the index of its value and
/// whether it is a GraphQL `query` key.
fn key(
    sink: &mut Sink<'_>,
    s: &str,
    i: usize,
    path: &mut String,
    frames: &[Frame],
    top_level: bool,
) -> Option<(usize, bool)> {
    let b = s.as_bytes();
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let end = string_end(b, i)?;
    let key = s.get(i + 1..end)?;
    sink.emit(Location::JsonKey, path, key, Mode::Json);
    let top_object = match frames {
        [f] => f.obj,
        [batch, f] => !batch.obj && f.obj,
        _ => false,
    };
    let query = top_level && top_object && key == "query";
    push_key(path, key);
    let colon = ws(b, end + 1);
    if b.get(colon) != Some(&b':') {
        return None;
    }
    Some((ws(b, colon + 1), query))
}
