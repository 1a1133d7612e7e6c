//! XML and SOAP bodies: a small tokenizer, not a parser. Text nodes, CDATA sections and
//! attribute values are reported as [`Location::Xml`] named by their element or attribute;
//! a prologue with `<!DOCTYPE` or `<!ENTITY` is reported whole, named `doctype`, so an XXE
//! detector sees the entity declarations. Entities are never expanded.

use memchr::memmem;

use crate::normalize::Mode;
use crate::{Location, Sink};

fn starts_with_ci(b: &[u8], p: &[u8]) -> bool {
    b.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p))
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).copied().is_some_and(is_ws) {
        i += 1;
    }
    i
}

/// End (exclusive) of the `<!...>` declaration opening at `b[i]`: the `>` outside quotes and
/// outside an internal subset `[...]`.
fn decl_end(b: &[u8], i: usize) -> Option<usize> {
    let mut bracket = 0usize;
    let mut quote = None;
    let mut j = i + 2;
    while let Some(&c) = b.get(j) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(c),
            (None, b'[') => bracket += 1,
            (None, b']') => bracket = bracket.saturating_sub(1),
            (None, b'>') if bracket == 0 => return Some(j + 1),
            _ => {}
        }
        j += 1;
    }
    None
}

/// Element names tracked (`stack`, as byte ranges of `s`) up to the sink's max depth; deeper
/// content is named by the deepest tracked element and marks the walk truncated.
struct Walk<'s, 'k, 'x> {
    s: &'s str,
    sink: &'k mut Sink<'x>,
    stack: &'k mut Vec<(usize, usize)>,
    depth: usize,
}

impl Walk<'_, '_, '_> {
    fn text(&mut self, a: usize, b: usize) {
        let t = self.s.get(a..b).unwrap_or("").trim();
        if !t.is_empty() {
            let name = match self.stack.last() {
                Some(&(x, y)) => self.s.get(x..y).unwrap_or(""),
                None => "",
            };
            self.sink.emit(Location::Xml, name, t, Mode::Plain);
        }
    }

    fn open(&mut self, a: usize, b: usize) {
        self.depth += 1;
        if self.stack.len() < self.sink.max_depth() {
            self.stack.push((a, b));
        } else {
            self.sink.stats.truncated = true;
        }
    }

    fn close(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        if self.stack.len() > self.depth {
            self.stack.pop();
        }
    }

    /// The start tag at `b[i]` (`<` then a name); returns the index after it, or `None` when
    /// it is never closed.
    fn start_tag(&mut self, i: usize) -> Option<usize> {
        let s = self.s;
        let b = s.as_bytes();
        let name_start = i + 1;
        let mut j = name_start;
        while b
            .get(j)
            .is_some_and(|&c| !is_ws(c) && c != b'/' && c != b'>')
        {
            j += 1;
        }
        let name_end = j;
        loop {
            j = skip_ws(b, j);
            match b.get(j)? {
                b'>' => {
                    self.open(name_start, name_end);
                    return Some(j + 1);
                }
                b'/' if b.get(j + 1) == Some(&b'>') => return Some(j + 2),
                b'/' | b'=' | b'"' | b'\'' => j += 1,
                _ => {
                    let attr_start = j;
                    while b
                        .get(j)
                        .is_some_and(|&c| !is_ws(c) && !matches!(c, b'=' | b'>' | b'/'))
                    {
                        j += 1;
                    }
                    let attr = s.get(attr_start..j).unwrap_or("");
                    j = skip_ws(b, j);
                    if b.get(j) != Some(&b'=') {
                        continue;
                    }
                    j = skip_ws(b, j + 1);
                    let (v_start, v_end, next) = match b.get(j)? {
                        &q @ (b'"' | b'\'') => {
                            let end = j + 1 + memchr::memchr(q, b.get(j + 1..)?)?;
                            (j + 1, end, end + 1)
                        }
                        _ => {
                            let mut e = j;
                            while b.get(e).is_some_and(|&c| !is_ws(c) && c != b'>') {
                                e += 1;
                            }
                            (j, e, e)
                        }
                    };
                    let value = s.get(v_start..v_end).unwrap_or("");
                    self.sink.emit(Location::Xml, attr, value, Mode::Plain);
                    if self.sink.stopped {
                        return Some(b.len());
                    }
                    j = next;
                }
            }
        }
    }
}

/// Walk the XML document `s`; returns false when a construct was left open (the rest of
/// the document is then reported as raw body).
pub(crate) fn walk(sink: &mut Sink<'_>, stack: &mut Vec<(usize, usize)>, s: &str) -> bool {
    stack.clear();
    let b = s.as_bytes();
    let mut w = Walk {
        s,
        sink,
        stack,
        depth: 0,
    };
    let mut root_seen = false;
    let mut text_start = 0;
    let mut i = 0;
    while i < b.len() && !w.sink.stopped {
        // markup often follows markup: look at the next byte before calling memchr
        let lt = if b[i] == b'<' {
            i
        } else {
            match memchr::memchr(b'<', &b[i..]) {
                Some(p) => i + p,
                None => break,
            }
        };
        let rest = &b[lt..];
        let opens_tag = rest.get(1).is_some_and(|&c| {
            c.is_ascii_alphabetic() || matches!(c, b'_' | b':' | b'!' | b'?' | b'/') || c >= 0x80
        });
        if !opens_tag {
            // A `<` that opens nothing: part of the text.
            i = lt + 1;
            continue;
        }
        w.text(text_start, lt);
        let after = if rest.starts_with(b"<!--") {
            memmem::find(&rest[4..], b"-->").map(|e| lt + 4 + e + 3)
        } else if starts_with_ci(rest, b"<![CDATA[") {
            memmem::find(&rest[9..], b"]]>").map(|e| {
                w.text(lt + 9, lt + 9 + e);
                lt + 9 + e + 3
            })
        } else if rest.starts_with(b"<!") {
            decl_end(b, lt).inspect(|&end| {
                let decl = &b[lt..end];
                if starts_with_ci(decl, b"<!DOCTYPE") || starts_with_ci(decl, b"<!ENTITY") {
                    let raw = if root_seen {
                        s.get(lt..end).unwrap_or("")
                    } else {
                        s.get(..end).unwrap_or("").trim_start()
                    };
                    w.sink.emit(Location::Xml, "doctype", raw, Mode::Plain);
                }
            })
        } else if rest.starts_with(b"<?") {
            memmem::find(&rest[2..], b"?>").map(|e| lt + 2 + e + 2)
        } else if rest.starts_with(b"</") {
            memchr::memchr(b'>', rest).map(|e| {
                w.close();
                lt + e + 1
            })
        } else {
            root_seen = true;
            w.start_tag(lt)
        };
        match after {
            Some(a) => {
                i = a;
                text_start = a;
            }
            None => {
                let rest = s.get(lt..).unwrap_or("");
                w.sink.emit_chunked(Location::RawBody, "", rest);
                return false;
            }
        }
    }
    if !w.sink.stopped {
        w.text(text_start, b.len());
    }
    true
}
