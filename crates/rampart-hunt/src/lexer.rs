//! Query text -> tokens, each with its byte position.

use crate::error::HuntError;

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A name: table, column, operator keyword, function (`where`, `ClientIp`, `count`).
    /// A `!` glued to a name (`!contains`, `!in`) is part of it.
    Ident(String),
    /// An integer literal.
    Int(i64),
    /// A real literal (`1.5`).
    Real(f64),
    /// A string literal, unescaped (`"a\"b"`, `'x'`).
    Str(String),
    /// A timespan literal in milliseconds (`1h`, `30m`, `7d`, `250ms`).
    Span(i64),
    /// The raw text inside `datetime(...)`.
    DateTime(String),
    /// Punctuation and operators (`|`, `,`, `(`, `)`, `==`, `!=`, `<=`, `=~`, `..`, ...).
    Punct(&'static str),
    /// The end of the query.
    Eof,
}

/// A token and where it starts and ends (byte offsets).
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// What it is.
    pub tok: Tok,
    /// Byte position of its first byte.
    pub start: usize,
    /// Byte position after its last byte.
    pub end: usize,
}

/// Operators, longest first so `==` wins over `=`.
const PUNCT: &[&str] = &[
    "==", "!=", "<=", ">=", "=~", "!~", "..", "|", ",", "(", ")", "=", "<", ">", "+", "-", "*",
    "/", "%", ";", "[", "]",
];

/// Timespan suffixes and their length in milliseconds, longest first.
const UNITS: &[(&str, i64)] = &[
    ("ms", 1),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
];

/// The tokens of `text`, ending with [`Tok::Eof`]. `//` starts a comment to the end of line.
pub fn lex(text: &str) -> Result<Vec<Token>, HuntError> {
    let bytes = text.as_bytes();
    let mut out: Vec<Token> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if text[i..].starts_with("//") {
            i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
            continue;
        }
        let start = i;
        if c.is_ascii_alphabetic() || c == b'_' || (c == b'!' && next_is_alpha(bytes, i + 1)) {
            i += 1;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric()
                    || bytes[i] == b'_'
                    || (bytes[i] == b'-' && &text[start..i] == "project"))
            {
                i += 1;
            }
            let word = &text[start..i];
            if word == "datetime" && bytes.get(i) == Some(&b'(') {
                let close = text[i..].find(')').ok_or_else(|| HuntError::Syntax {
                    pos: i,
                    token: "(".into(),
                    expected: "a closing ) after the datetime".into(),
                })?;
                let inner = text[i + 1..i + close].trim().trim_matches(['"', '\'']);
                out.push(Token {
                    tok: Tok::DateTime(inner.to_string()),
                    start,
                    end: i + close + 1,
                });
                i += close + 1;
                continue;
            }
            out.push(Token {
                tok: Tok::Ident(word.to_string()),
                start,
                end: i,
            });
            continue;
        }
        if c.is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let mut real = false;
            if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                real = true;
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
            }
            let num = &text[start..i];
            let bad = |what: &str, end: usize| HuntError::Syntax {
                pos: start,
                token: text[start..end].to_string(),
                expected: what.to_string(),
            };
            // a unit glued to the number makes a timespan
            let rest = &text[i..];
            if let Some((unit, ms)) = UNITS.iter().find(|(u, _)| {
                rest.starts_with(u)
                    && !rest[u.len()..]
                        .bytes()
                        .next()
                        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
            }) {
                i += unit.len();
                let v: f64 = num.parse().map_err(|_| bad("a number", i))?;
                let total = v * *ms as f64;
                if !(0.0..9.2e18).contains(&total) {
                    return Err(bad("a timespan that fits in 64 bits", i));
                }
                out.push(Token {
                    tok: Tok::Span(total.round() as i64),
                    start,
                    end: i,
                });
                continue;
            }
            if next_is_alpha(bytes, i) {
                while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                return Err(bad("a number or a timespan (d, h, m, s, ms)", i));
            }
            let tok = if real {
                Tok::Real(num.parse().map_err(|_| bad("a number", i))?)
            } else {
                Tok::Int(
                    num.parse()
                        .map_err(|_| bad("an integer that fits in 64 bits", i))?,
                )
            };
            out.push(Token { tok, start, end: i });
            continue;
        }
        if c == b'"' || c == b'\'' {
            let (s, end) = string(text, i)?;
            out.push(Token {
                tok: Tok::Str(s),
                start,
                end,
            });
            i = end;
            continue;
        }
        if let Some(p) = PUNCT.iter().find(|p| text[i..].starts_with(**p)) {
            i += p.len();
            out.push(Token {
                tok: Tok::Punct(p),
                start,
                end: i,
            });
            continue;
        }
        let ch = text[i..].chars().next().unwrap_or('?');
        return Err(HuntError::Syntax {
            pos: i,
            token: ch.to_string(),
            expected: "a name, a literal or an operator".into(),
        });
    }
    out.push(Token {
        tok: Tok::Eof,
        start: bytes.len(),
        end: bytes.len(),
    });
    Ok(out)
}

fn next_is_alpha(bytes: &[u8], i: usize) -> bool {
    bytes
        .get(i)
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
}

/// A quoted string at `start`: its unescaped text and the position after the closing quote.
fn string(text: &str, start: usize) -> Result<(String, usize), HuntError> {
    let quote = text.as_bytes()[start] as char;
    let mut out = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((off, ch)) = chars.next() {
        match ch {
            c if c == quote => return Ok((out, start + 1 + off + 1)),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, c)) => out.push(c),
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(HuntError::Syntax {
        pos: start,
        token: quote.to_string(),
        expected: format!("a closing {quote}"),
    })
}

impl Tok {
    /// The token as written, for error messages.
    pub fn describe(&self, text: &str, t: &Token) -> String {
        match self {
            Tok::Eof => String::new(),
            _ => text.get(t.start..t.end).unwrap_or("").to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn lexes_literals_operators_and_positions() {
        assert_eq!(
            toks("x !contains 'a\\'b' and y >= 1.5 | where t > ago(1h) // c"),
            vec![
                Tok::Ident("x".into()),
                Tok::Ident("!contains".into()),
                Tok::Str("a'b".into()),
                Tok::Ident("and".into()),
                Tok::Ident("y".into()),
                Tok::Punct(">="),
                Tok::Real(1.5),
                Tok::Punct("|"),
                Tok::Ident("where".into()),
                Tok::Ident("t".into()),
                Tok::Punct(">"),
                Tok::Ident("ago".into()),
                Tok::Punct("("),
                Tok::Span(3_600_000),
                Tok::Punct(")"),
                Tok::Eof,
            ]
        );
        let t = lex("a  == datetime(2023-11-14T22:13:20Z)").unwrap();
        assert_eq!((t[1].start, t[1].end), (3, 5));
        assert_eq!(t[2].tok, Tok::DateTime("2023-11-14T22:13:20Z".into()));
        assert_eq!(
            toks("250ms 7d 1.5s")[..3],
            [Tok::Span(250), Tok::Span(604_800_000), Tok::Span(1500)]
        );
    }

    #[test]
    fn errors_name_the_position() {
        let e = lex("a == \"open").unwrap_err();
        assert_eq!(e.position(), 5);
        let e = lex("a == 12abc").unwrap_err();
        assert_eq!((e.position(), e.token()), (5, "12abc"));
        let e = lex("a # b").unwrap_err();
        assert_eq!(e.position(), 2);
    }
}
