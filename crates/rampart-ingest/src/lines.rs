//! Reading lines with a bound on their length: the rest of an over-long line is read and
//! discarded in the reader's own chunks, never buffered whole (a gzip of zeros or a 50 MB line
//! costs no more memory than a short line).

use std::io::{self, BufRead};

/// Longest line accepted by default, in bytes (without its newline): 1 MiB.
///
/// Rampart's own NDJSON record is the largest legitimate line: two body samples of at most
/// [`rampart_model::BODY_SAMPLE_LIMIT`] (64 KiB) each, which JSON escaping can grow to six
/// bytes per byte (`\u001f`), so at most 2 × 6 × 64 KiB = 768 KiB, plus headers and the other
/// fields in the remaining 256 KiB (gateways cap request headers well below that). Access-log
/// formats are far shorter. A longer line is reported as malformed and skipped.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// One line read by [`LineReader::next_line`].
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A line within the limit, without its `\n` (a `\r` before it is kept).
    Text(&'a [u8]),
    /// A line longer than the limit: its bytes were skipped, only its length is known.
    TooLong {
        /// Length of the line in bytes, without its `\n`.
        len: u64,
    },
}

/// What [`LineReader::skip`] skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Skipped {
    /// Bytes skipped (less than asked when the input ended first).
    pub bytes: u64,
    /// Newlines among them.
    pub newlines: u64,
}

/// Splits a buffered reader into lines of at most `max` bytes, keeping at most `max` bytes of
/// any line in memory (plus the inner reader's own buffer).
pub struct LineReader<R> {
    inner: R,
    max: usize,
    buf: Vec<u8>,
    offset: u64,
    max_buffered: usize,
}

impl<R: BufRead> LineReader<R> {
    /// Lines of at most `max` bytes from `inner`.
    pub fn new(inner: R, max: usize) -> Self {
        LineReader {
            inner,
            max,
            buf: Vec::new(),
            offset: 0,
            max_buffered: 0,
        }
    }

    /// Bytes consumed from the start of the input: after a line is returned, the offset of the
    /// line that follows it.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Largest line buffer held so far (its capacity), in bytes; never above the limit.
    pub fn max_buffered(&self) -> usize {
        self.max_buffered
    }

    /// The next line, or `None` at the end of the input. The last line may lack its `\n`.
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.buf.clear();
        let mut len = 0u64;
        let mut too_long = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                if len == 0 {
                    return Ok(None);
                }
                break;
            }
            let (take, found) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            if !too_long {
                if len + take as u64 > self.max as u64 {
                    too_long = true;
                    self.buf.clear();
                } else {
                    let need = self.buf.len() + take;
                    if need > self.buf.capacity() {
                        // Grow like a Vec would, but never past the limit.
                        let cap = (self.buf.capacity() * 2).max(256).clamp(need, self.max);
                        self.buf.reserve_exact(cap - self.buf.len());
                    }
                    self.buf.extend_from_slice(&chunk[..take]);
                    self.max_buffered = self.max_buffered.max(self.buf.capacity());
                }
            }
            len += take as u64;
            let used = take + usize::from(found);
            self.inner.consume(used);
            self.offset += used as u64;
            if found {
                break;
            }
        }
        Ok(Some(if too_long {
            Line::TooLong { len }
        } else {
            Line::Text(&self.buf)
        }))
    }

    /// Skip `n` bytes (an earlier run already read them), counting the newlines among them.
    pub fn skip(&mut self, n: u64) -> io::Result<Skipped> {
        let mut s = Skipped::default();
        while s.bytes < n {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            let take = chunk
                .len()
                .min((n - s.bytes).min(usize::MAX as u64) as usize);
            s.newlines += memchr::memchr_iter(b'\n', &chunk[..take]).count() as u64;
            self.inner.consume(take);
            s.bytes += take as u64;
            self.offset += take as u64;
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Read};

    /// Lines (`Ok(text)` or `Err(len)` when too long) and final offset of `input`.
    fn check(input: &[u8], max: usize, want: &[Result<&str, u64>]) {
        // Tiny inner buffers exercise lines that span many chunks.
        for cap in [1, 3, 7, 4096] {
            let mut r = LineReader::new(BufReader::with_capacity(cap, input), max);
            let mut got = Vec::new();
            while let Some(l) = r.next_line().unwrap() {
                got.push(match l {
                    Line::Text(t) => Ok(String::from_utf8(t.to_vec()).unwrap()),
                    Line::TooLong { len } => Err(len),
                });
            }
            let want: Vec<Result<String, u64>> =
                want.iter().map(|w| w.map(str::to_string)).collect();
            assert_eq!(got, want, "input {input:?}, max {max}, buffer {cap}");
            assert_eq!(r.offset(), input.len() as u64);
            assert!(r.max_buffered() <= max, "{} > {max}", r.max_buffered());
        }
    }

    #[test]
    fn lines_within_and_over_the_limit() {
        check(b"", 4, &[]);
        check(b"\n", 4, &[Ok("")]);
        check(b"ab\ncd", 4, &[Ok("ab"), Ok("cd")]);
        check(b"abcd\nabcde\nx\n", 4, &[Ok("abcd"), Err(5), Ok("x")]);
        check(b"abcdefghij", 4, &[Err(10)]);
        check(b"a\r\nb\r\n", 4, &[Ok("a\r"), Ok("b\r")]);
        check(b"\n\nabcdefg\n\n", 3, &[Ok(""), Ok(""), Err(7), Ok("")]);
    }

    /// Random inputs, limits and buffer sizes agree with splitting the whole input at `\n`.
    #[test]
    fn random_inputs_agree_with_a_plain_split() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let len = (next() % 300) as usize;
            let input: Vec<u8> = (0..len)
                .map(|_| match next() % 8 {
                    0 => b'\n',
                    1 => b'\r',
                    _ => b'a' + (next() % 26) as u8,
                })
                .collect();
            let max = (next() % 40) as usize;
            let cap = 1 + (next() % 50) as usize;
            let mut want: Vec<Result<Vec<u8>, u64>> = input
                .split(|b| *b == b'\n')
                .map(|l| {
                    if l.len() > max {
                        Err(l.len() as u64)
                    } else {
                        Ok(l.to_vec())
                    }
                })
                .collect();
            if input.last().is_none_or(|b| *b == b'\n') {
                want.pop(); // no line after a final newline (or in an empty input)
            }
            let mut r = LineReader::new(BufReader::with_capacity(cap, &input[..]), max);
            let mut got = Vec::new();
            while let Some(l) = r.next_line().unwrap() {
                got.push(match l {
                    Line::Text(t) => Ok(t.to_vec()),
                    Line::TooLong { len } => Err(len),
                });
            }
            assert_eq!(got, want, "input {input:?} max {max} buffer {cap}");
            assert_eq!(r.offset(), input.len() as u64);
            assert!(r.max_buffered() <= max, "{}", r.max_buffered());
        }
    }

    /// Endless zeros, without a newline: the reader never holds more than the limit.
    #[test]
    fn endless_zeros_are_one_over_long_line_held_in_bounded_memory() {
        let zeros = std::io::repeat(0).take(64 << 20);
        let tail: &[u8] = b"\nafter\n";
        let mut r = LineReader::new(BufReader::with_capacity(64 << 10, zeros.chain(tail)), 1024);
        assert_eq!(
            r.next_line().unwrap(),
            Some(Line::TooLong { len: 64 << 20 })
        );
        assert!(r.max_buffered() <= 1024, "{}", r.max_buffered());
        assert_eq!(r.next_line().unwrap(), Some(Line::Text(b"after")));
        assert_eq!(r.next_line().unwrap(), None);
    }

    #[test]
    fn skip_counts_newlines_and_stops_at_the_end() {
        let input: &[u8] = b"a\nbb\nccc\n";
        let mut r = LineReader::new(BufReader::with_capacity(2, input), 8);
        assert_eq!(
            r.skip(5).unwrap(),
            Skipped {
                bytes: 5,
                newlines: 2
            }
        );
        assert_eq!(r.next_line().unwrap(), Some(Line::Text(b"ccc")));
        let mut r = LineReader::new(input, 8);
        assert_eq!(
            r.skip(100).unwrap(),
            Skipped {
                bytes: 9,
                newlines: 3
            }
        );
        assert_eq!(r.next_line().unwrap(), None);
    }
}
