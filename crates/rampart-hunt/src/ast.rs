//! The syntax tree, as parsed: names are unresolved and every node keeps its byte position.

/// A whole query: `let` statements, then one pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// `let name = scalar;` in order.
    pub lets: Vec<Let>,
    /// The tabular expression.
    pub pipeline: Pipeline,
}

/// `let name = expr;`
#[derive(Debug, Clone, PartialEq)]
pub struct Let {
    /// The name.
    pub name: Name,
    /// Its value (a constant: no column).
    pub value: Expr,
}

/// A name and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Name {
    /// The text.
    pub text: String,
    /// Byte position.
    pub pos: usize,
}

/// `Table | op | op ...`
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// The source table.
    pub table: Name,
    /// The operators, in order.
    pub ops: Vec<Op>,
}

/// One tabular operator.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `where predicate`
    Where(Expr),
    /// `project a, b = expr, ...`
    Project(Vec<Item>),
    /// `project-away a, b`
    ProjectAway(Vec<Name>),
    /// `extend a = expr, ...`
    Extend(Vec<Item>),
    /// `summarize aggs by keys`
    Summarize {
        /// Aggregates (`n = count()`).
        aggs: Vec<Item>,
        /// Group keys (`by ClientIp, bin(Timestamp, 1h)`).
        by: Vec<Item>,
        /// Position of the `summarize` keyword.
        pos: usize,
    },
    /// `count`: one row, column `Count`.
    Count(usize),
    /// `distinct a, b`
    Distinct(Vec<Item>),
    /// `sort by k [asc|desc], ...` (`order by` too); descending by default, as in KQL.
    Sort(Vec<SortKey>),
    /// `top n by k [asc|desc]`
    Top {
        /// How many rows.
        n: Lit,
        /// The key.
        key: SortKey,
    },
    /// `take n` / `limit n`
    Take(Lit),
    /// `join kind=inner (pipeline) on Key, ...`
    Join {
        /// The right side.
        right: Box<Pipeline>,
        /// Columns both sides have, equal on matched rows.
        on: Vec<Name>,
        /// Position of the `join` keyword.
        pos: usize,
    },
}

/// A literal with its position (`take 10`).
#[derive(Debug, Clone, PartialEq)]
pub struct Lit {
    /// The value.
    pub value: i64,
    /// Byte position.
    pub pos: usize,
}

/// `name = expr` or a bare `expr` in project, extend, summarize.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The name given, if any.
    pub name: Option<Name>,
    /// The expression.
    pub expr: Expr,
}

/// `expr [asc|desc]`
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    /// What to sort on.
    pub expr: Expr,
    /// Descending (the default).
    pub desc: bool,
}

/// A scalar expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Byte position of its operator or first token.
    pub pos: usize,
    /// The operator or first token as written (for errors).
    pub token: String,
}

/// The kinds of expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A column or a `let` name.
    Name(String),
    /// An integer.
    Int(i64),
    /// A real.
    Real(f64),
    /// A string.
    Str(String),
    /// A timespan, milliseconds.
    Span(i64),
    /// `datetime(...)`, the raw text.
    DateTime(String),
    /// `true` / `false`.
    Bool(bool),
    /// A unary operator: `-`, `not` (as `not(x)`).
    Unary(String, Box<Expr>),
    /// A binary operator, written as in the query (`==`, `and`, `has`, `!contains`,
    /// `matches regex`, `+`).
    Binary(String, Box<Expr>, Box<Expr>),
    /// `x in (a, b)` / `x !in (...)`
    In {
        /// The value.
        lhs: Box<Expr>,
        /// The list.
        list: Vec<Expr>,
        /// `!in`.
        negated: bool,
    },
    /// `x between (lo .. hi)` / `!between`
    Between {
        /// The value.
        lhs: Box<Expr>,
        /// Lower bound, inclusive.
        lo: Box<Expr>,
        /// Upper bound, inclusive.
        hi: Box<Expr>,
        /// `!between`.
        negated: bool,
    },
    /// `f(args)`
    Call(String, Vec<Expr>),
}
