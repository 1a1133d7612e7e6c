//! A small OData `$filter` parser and evaluator for the Defender-XDR-compatible incident view.
//!
//! Grammar (keywords and field names case-insensitive):
//! ```text
//! expr    := and_expr ("or" and_expr)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | "(" expr ")" | field op literal
//! op      := eq | ne | ge | gt | le | lt
//! literal := 'string' ('' escapes a quote) | null | bare ISO 8601 date-time | bare word
//! ```
//! Fields: `status`, `assignedTo`, `createdTime`, `lastUpdateTime`, `severity`.

use rampart_model::{Incident, IncidentFilter, IncidentStatus, Severity, Timestamp};

/// Errors parsing a `$filter`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The expression ended where more was expected.
    #[error("unexpected end of filter")]
    UnexpectedEnd,
    /// A token that does not fit at this place.
    #[error("unexpected {found:?} at offset {at}")]
    Unexpected {
        /// The token text.
        found: String,
        /// Byte offset in the filter.
        at: usize,
    },
    /// A field Rampart does not filter on.
    #[error("unknown field {0:?}")]
    UnknownField(String),
    /// A literal that is not a valid value for its field.
    #[error("invalid value {value:?} for {field}")]
    InvalidValue {
        /// The field.
        field: &'static str,
        /// The literal.
        value: String,
    },
    /// An operator the field does not support.
    #[error("operator {op} not supported for {field}")]
    UnsupportedOperator {
        /// The field.
        field: &'static str,
        /// The operator.
        op: &'static str,
    },
    /// A string literal without its closing quote.
    #[error("unterminated string literal")]
    UnterminatedString,
    /// Nested too deep.
    #[error("filter nested too deeply")]
    TooDeep,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `ge`
    Ge,
    /// `gt`
    Gt,
    /// `le`
    Le,
    /// `lt`
    Lt,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "ge" => Op::Ge,
            "gt" => Op::Gt,
            "le" => Op::Le,
            "lt" => Op::Lt,
            _ => return None,
        })
    }
    const fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Ge => "ge",
            Op::Gt => "gt",
            Op::Le => "le",
            Op::Lt => "lt",
        }
    }
    fn test<T: Ord>(self, a: &T, b: &T) -> bool {
        match self {
            Op::Eq => a == b,
            Op::Ne => a != b,
            Op::Ge => a >= b,
            Op::Gt => a > b,
            Op::Le => a <= b,
            Op::Lt => a < b,
        }
    }
}

/// One comparison of a field with a typed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmp {
    /// `status op value` (eq/ne only).
    Status(Op, IncidentStatus),
    /// `severity op value` in Defender's scale (Critical counts as High).
    Severity(Op, Severity),
    /// `assignedTo op value` (eq/ne only; `None` is `null`).
    AssignedTo(Op, Option<String>),
    /// `createdTime op value`.
    Created(Op, Timestamp),
    /// `lastUpdateTime op value`.
    Updated(Op, Timestamp),
}

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A comparison.
    Cmp(Cmp),
    /// Both.
    And(Box<Expr>, Box<Expr>),
    /// Either.
    Or(Box<Expr>, Box<Expr>),
    /// Negation.
    Not(Box<Expr>),
}

/// Defender's severity scale: Critical shows as High.
pub fn defender_severity(s: Severity) -> Severity {
    if s == Severity::Critical {
        Severity::High
    } else {
        s
    }
}

impl Expr {
    /// Whether an incident matches.
    pub fn matches(&self, i: &Incident) -> bool {
        match self {
            Expr::And(a, b) => a.matches(i) && b.matches(i),
            Expr::Or(a, b) => a.matches(i) || b.matches(i),
            Expr::Not(a) => !a.matches(i),
            Expr::Cmp(c) => match c {
                Cmp::Status(op, v) => op.test(&i.status, v),
                Cmp::Severity(op, v) => op.test(&defender_severity(i.severity), v),
                Cmp::AssignedTo(op, v) => op.test(&i.assigned_to.as_deref(), &v.as_deref()),
                Cmp::Created(op, t) => op.test(&i.created_at, t),
                Cmp::Updated(op, t) => op.test(&i.updated_at, t),
            },
        }
    }

    /// Narrow a store filter with the comparisons every match must satisfy (the top-level
    /// `and` chain). The caller still evaluates the whole expression on what comes back.
    pub fn push_down(&self, f: &mut IncidentFilter) {
        match self {
            Expr::And(a, b) => {
                a.push_down(f);
                b.push_down(f);
            }
            Expr::Cmp(c) => match c {
                Cmp::Status(Op::Eq, s) if f.status.is_empty() => f.status = vec![*s],
                Cmp::Severity(Op::Eq, s) if f.severity.is_empty() => {
                    f.severity = if *s == Severity::High {
                        vec![Severity::High, Severity::Critical]
                    } else {
                        vec![*s]
                    }
                }
                Cmp::AssignedTo(Op::Eq, Some(who)) if f.assigned_to.is_none() => {
                    f.assigned_to = Some(who.clone())
                }
                Cmp::Created(op, t) => narrow(op, *t, &mut f.created_after, &mut f.created_before),
                Cmp::Updated(op, t) => narrow(op, *t, &mut f.updated_after, &mut f.updated_before),
                _ => {}
            },
            _ => {}
        }
    }
}

/// Tighten an `[after, before)` window with one time comparison.
fn narrow(op: &Op, t: Timestamp, after: &mut Option<Timestamp>, before: &mut Option<Timestamp>) {
    let (lo, hi) = match op {
        Op::Ge => (Some(t), None),
        Op::Gt => (Some(t.add_millis(1)), None),
        Op::Le => (None, Some(t.add_millis(1))),
        Op::Lt => (None, Some(t)),
        Op::Eq => (Some(t), Some(t.add_millis(1))),
        Op::Ne => (None, None),
    };
    if let Some(lo) = lo {
        *after = Some(after.map_or(lo, |a| a.max(lo)));
    }
    if let Some(hi) = hi {
        *before = Some(before.map_or(hi, |b| b.min(hi)));
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Word(&'a str),
    Str(String),
    Open,
    Close,
}

fn tokenize(s: &str) -> Result<Vec<(usize, Tok<'_>)>, FilterError> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                out.push((i, Tok::Open));
                i += 1;
            }
            b')' => {
                out.push((i, Tok::Close));
                i += 1;
            }
            b'\'' => {
                let start = i;
                let mut v = String::new();
                i += 1;
                let mut seg = i;
                loop {
                    if i >= b.len() {
                        return Err(FilterError::UnterminatedString);
                    }
                    if b[i] == b'\'' {
                        v.push_str(&s[seg..i]);
                        if b.get(i + 1) == Some(&b'\'') {
                            v.push('\'');
                            i += 2;
                            seg = i;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    i += 1;
                }
                out.push((start, Tok::Str(v)));
            }
            _ => {
                let start = i;
                while i < b.len()
                    && !matches!(b[i], b' ' | b'\t' | b'\n' | b'\r' | b'(' | b')' | b'\'')
                {
                    i += 1;
                }
                out.push((start, Tok::Word(&s[start..i])));
            }
        }
    }
    Ok(out)
}

const MAX_DEPTH: usize = 32;

struct Parser<'a> {
    toks: Vec<(usize, Tok<'a>)>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.pos), Some((_, Tok::Word(x))) if x.eq_ignore_ascii_case(w))
    }
    fn next(&mut self) -> Result<(usize, Tok<'a>), FilterError> {
        let t = self
            .toks
            .get(self.pos)
            .cloned()
            .ok_or(FilterError::UnexpectedEnd)?;
        self.pos += 1;
        Ok(t)
    }
    fn or(&mut self, depth: usize) -> Result<Expr, FilterError> {
        let mut e = self.and(depth)?;
        while self.peek_word("or") {
            self.pos += 1;
            e = Expr::Or(Box::new(e), Box::new(self.and(depth)?));
        }
        Ok(e)
    }
    fn and(&mut self, depth: usize) -> Result<Expr, FilterError> {
        let mut e = self.unary(depth)?;
        while self.peek_word("and") {
            self.pos += 1;
            e = Expr::And(Box::new(e), Box::new(self.unary(depth)?));
        }
        Ok(e)
    }
    fn unary(&mut self, depth: usize) -> Result<Expr, FilterError> {
        if depth > MAX_DEPTH {
            return Err(FilterError::TooDeep);
        }
        if self.peek_word("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary(depth + 1)?)));
        }
        match self.next()? {
            (_, Tok::Open) => {
                let e = self.or(depth + 1)?;
                match self.next()? {
                    (_, Tok::Close) => Ok(e),
                    (at, t) => Err(unexpected(at, &t)),
                }
            }
            (_, Tok::Word(field)) => {
                let (at, op) = self.next()?;
                let op = match op {
                    Tok::Word(w) => Op::parse(w).ok_or_else(|| unexpected(at, &op))?,
                    t => return Err(unexpected(at, &t)),
                };
                let lit = match self.next()? {
                    (_, Tok::Str(s)) => Lit::Str(s),
                    (_, Tok::Word(w)) if w.eq_ignore_ascii_case("null") => Lit::Null,
                    (_, Tok::Word(w)) => Lit::Bare(w.to_string()),
                    (at, t) => return Err(unexpected(at, &t)),
                };
                Ok(Expr::Cmp(comparison(field, op, lit)?))
            }
            (at, t) => Err(unexpected(at, &t)),
        }
    }
}

enum Lit {
    Str(String),
    Bare(String),
    Null,
}

impl Lit {
    fn text(&self) -> &str {
        match self {
            Lit::Str(s) | Lit::Bare(s) => s,
            Lit::Null => "null",
        }
    }
}

fn unexpected(at: usize, t: &Tok<'_>) -> FilterError {
    let found = match t {
        Tok::Word(w) => (*w).to_string(),
        Tok::Str(s) => format!("'{s}'"),
        Tok::Open => "(".into(),
        Tok::Close => ")".into(),
    };
    FilterError::Unexpected { found, at }
}

fn eq_only(field: &'static str, op: Op) -> Result<(), FilterError> {
    match op {
        Op::Eq | Op::Ne => Ok(()),
        _ => Err(FilterError::UnsupportedOperator {
            field,
            op: op.as_str(),
        }),
    }
}

fn comparison(field: &str, op: Op, lit: Lit) -> Result<Cmp, FilterError> {
    let invalid = |field: &'static str, lit: &Lit| FilterError::InvalidValue {
        field,
        value: lit.text().to_string(),
    };
    let time = |field: &'static str, lit: &Lit| match lit {
        Lit::Null => Err(invalid(field, lit)),
        _ => Timestamp::parse_rfc3339(lit.text()).ok_or_else(|| invalid(field, lit)),
    };
    match field.to_ascii_lowercase().as_str() {
        "status" => {
            eq_only("status", op)?;
            let s = match &lit {
                Lit::Null => return Err(invalid("status", &lit)),
                l => l.text().parse().map_err(|_| invalid("status", &lit))?,
            };
            Ok(Cmp::Status(op, s))
        }
        "severity" => {
            let s: Severity = match &lit {
                Lit::Null => return Err(invalid("severity", &lit)),
                l => l.text().parse().map_err(|_| invalid("severity", &lit))?,
            };
            Ok(Cmp::Severity(op, defender_severity(s)))
        }
        "assignedto" => {
            eq_only("assignedTo", op)?;
            Ok(Cmp::AssignedTo(
                op,
                match lit {
                    Lit::Null => None,
                    Lit::Str(s) | Lit::Bare(s) => Some(s),
                },
            ))
        }
        "createdtime" => Ok(Cmp::Created(op, time("createdTime", &lit)?)),
        "lastupdatetime" => Ok(Cmp::Updated(op, time("lastUpdateTime", &lit)?)),
        _ => Err(FilterError::UnknownField(field.to_string())),
    }
}

/// Parse a `$filter` expression.
pub fn parse_filter(s: &str) -> Result<Expr, FilterError> {
    let toks = tokenize(s)?;
    let mut p = Parser { toks, pos: 0 };
    let e = p.or(0)?;
    match p.toks.get(p.pos) {
        None => Ok(e),
        Some((at, t)) => Err(unexpected(*at, t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let got = match parse_filter(input) {
            Ok(e) => show(&e),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expected, "filter {input:?}");
    }

    fn show(e: &Expr) -> String {
        match e {
            Expr::And(a, b) => format!("({} AND {})", show(a), show(b)),
            Expr::Or(a, b) => format!("({} OR {})", show(a), show(b)),
            Expr::Not(a) => format!("NOT {}", show(a)),
            Expr::Cmp(c) => match c {
                Cmp::Status(op, v) => format!("status {} {v}", op.as_str()),
                Cmp::Severity(op, v) => format!("severity {} {v}", op.as_str()),
                Cmp::AssignedTo(op, v) => format!("assignedTo {} {v:?}", op.as_str()),
                Cmp::Created(op, t) => format!("created {} {t}", op.as_str()),
                Cmp::Updated(op, t) => format!("updated {} {t}", op.as_str()),
            },
        }
    }

    #[test]
    fn comparisons() {
        check("status eq 'Active'", "status eq Active");
        check("Status EQ 'inprogress'", "status eq InProgress");
        check("severity ne 'Low'", "severity ne Low");
        check("severity eq 'Critical'", "severity eq High");
        check("severity ge 'Medium'", "severity ge Medium");
        check("assignedTo eq 'a@x.com'", "assignedTo eq Some(\"a@x.com\")");
        check("assignedTo eq null", "assignedTo eq None");
        check(
            "assignedTo eq 'O''Brien'",
            "assignedTo eq Some(\"O'Brien\")",
        );
        check(
            "createdTime ge 2021-08-13T08:43:35.5533333Z",
            "created ge 2021-08-13T08:43:35.553Z",
        );
        check(
            "lastUpdateTime lt '2024-01-01T00:00:00Z'",
            "updated lt 2024-01-01T00:00:00.000Z",
        );
    }

    #[test]
    fn boolean_structure() {
        check(
            "status eq 'Active' and severity eq 'High'",
            "(status eq Active AND severity eq High)",
        );
        check(
            "status eq 'Active' or status eq 'InProgress' and severity eq 'Low'",
            "(status eq Active OR (status eq InProgress AND severity eq Low))",
        );
        check(
            "(status eq 'Active' or status eq 'InProgress') and severity eq 'Low'",
            "((status eq Active OR status eq InProgress) AND severity eq Low)",
        );
        check("not (status eq 'Resolved')", "NOT status eq Resolved");
    }

    #[test]
    fn errors() {
        check("", "error: unexpected end of filter");
        check("status eq", "error: unexpected end of filter");
        check("status eq 'Active", "error: unterminated string literal");
        check("colour eq 'red'", "error: unknown field \"colour\"");
        check(
            "status eq 'Sleeping'",
            "error: invalid value \"Sleeping\" for status",
        );
        check(
            "status gt 'Active'",
            "error: operator gt not supported for status",
        );
        check(
            "createdTime ge yesterday",
            "error: invalid value \"yesterday\" for createdTime",
        );
        check(
            "status like 'Active'",
            "error: unexpected \"like\" at offset 7",
        );
        check(
            "status eq 'Active' severity",
            "error: unexpected \"severity\" at offset 19",
        );
        check("(status eq 'Active'", "error: unexpected end of filter");
        check(&"(".repeat(100), "error: filter nested too deeply");
    }

    #[test]
    fn push_down_takes_only_the_and_chain() {
        let mut f = IncidentFilter::default();
        parse_filter(
            "status eq 'Active' and severity eq 'High' and createdTime gt 2024-01-01T00:00:00Z",
        )
        .unwrap()
        .push_down(&mut f);
        assert_eq!(f.status, vec![IncidentStatus::Active]);
        assert_eq!(f.severity, vec![Severity::High, Severity::Critical]);
        assert_eq!(
            f.created_after,
            Some(Timestamp::parse_rfc3339("2024-01-01T00:00:00.001Z").unwrap())
        );
        let mut f = IncidentFilter::default();
        parse_filter("status eq 'Active' or severity eq 'High'")
            .unwrap()
            .push_down(&mut f);
        assert_eq!(f, IncidentFilter::default());
    }
}
