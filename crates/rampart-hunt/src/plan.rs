//! The typed plan: a parsed query with every name resolved against the tables of
//! [`crate::schema`], every expression typed, and the bounds (time range, row limit) fixed.
//! The store turns a [`Plan`] into SQL for its dialect; nothing here knows SQL.

use std::collections::HashMap;

use rampart_model::Timestamp;

use crate::ast::{self, Expr, ExprKind, Item, Op, Pipeline};
use crate::error::{suggest, HuntError};
use crate::schema::{self, TableDef, Type};

/// The time range when none is given: the last 24 hours.
pub const DEFAULT_RANGE_MS: i64 = 24 * 3_600_000;
/// The longest time range a query may cover: 366 days.
pub const MAX_RANGE_MS: i64 = 366 * 24 * 3_600_000;
/// Rows returned when no limit is given.
pub const DEFAULT_LIMIT: u32 = 1_000;
/// The most rows a query may return.
pub const MAX_LIMIT: u32 = 10_000;

/// The bounds a query runs under. `now` is the caller's clock (milliseconds): the plan never
/// reads one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// What `now()` and `ago()` count from, and the default end of the range.
    pub now: i64,
    /// Start of the time range, inclusive (default `to` - 24 h).
    pub from: Option<i64>,
    /// End of the time range, exclusive (default `now`).
    pub to: Option<i64>,
    /// At most this many rows (default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`]).
    pub limit: Option<u32>,
}

impl Options {
    /// Defaults relative to `now`.
    pub fn at(now: i64) -> Options {
        Options {
            now,
            from: None,
            to: None,
            limit: None,
        }
    }
}

/// A typed, bounded query.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The relation whose rows are the result.
    pub root: Node,
    /// Every table scan reads only rows whose `Timestamp` is at or after this (ms)...
    pub from: i64,
    /// ... and before this (ms).
    pub to: i64,
    /// At most this many rows are returned; the result says when there were more.
    pub limit: u32,
}

impl Plan {
    /// The result's columns.
    pub fn columns(&self) -> &[Column] {
        &self.root.columns
    }
}

/// A result column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: Type,
}

/// One relation of the plan: an operator, its output columns, and whether its rows carry a
/// sort order (set by `sort`/`top`, kept by `where`, `project`, `extend`, `take`).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The operator.
    pub rel: Rel,
    /// Output columns, in order.
    pub columns: Vec<Column>,
    /// Whether the rows are in a defined order (the store keeps it as a row number).
    pub ordered: bool,
}

/// The relational operators.
#[derive(Debug, Clone, PartialEq)]
pub enum Rel {
    /// Every column of a table, rows in the plan's time range.
    Scan(&'static TableDef),
    /// Rows where the predicate is true.
    Filter {
        /// Input.
        input: Box<Node>,
        /// A bool expression.
        predicate: TExpr,
    },
    /// One expression per output column.
    Project {
        /// Input.
        input: Box<Node>,
        /// In the order of the node's columns.
        exprs: Vec<TExpr>,
    },
    /// Group by `keys` (the first output columns), then `aggs` (the rest).
    Summarize {
        /// Input.
        input: Box<Node>,
        /// Group keys.
        keys: Vec<TExpr>,
        /// Aggregates.
        aggs: Vec<Agg>,
    },
    /// Order rows (ties broken by every column, ascending, so the order is total).
    Sort {
        /// Input.
        input: Box<Node>,
        /// Keys, most significant first.
        keys: Vec<SortKey>,
    },
    /// The first `n` rows (in the input's order, or the default result order).
    Take {
        /// Input.
        input: Box<Node>,
        /// How many.
        n: u64,
    },
    /// Inner join on equal key columns: left columns, then right columns (a name the left
    /// has gets a `1` suffix, as in KQL).
    Join {
        /// Left input.
        left: Box<Node>,
        /// Right input.
        right: Box<Node>,
        /// Key columns (both sides have them).
        on: Vec<String>,
    },
}

/// A sort key.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    /// What to sort by.
    pub expr: TExpr,
    /// Descending (nulls last) or ascending (nulls first).
    pub desc: bool,
}

/// An aggregate of `summarize`.
#[derive(Debug, Clone, PartialEq)]
pub struct Agg {
    /// Which.
    pub func: AggFunc,
    /// Its argument (none for `count()`).
    pub arg: Option<TExpr>,
}

/// Aggregate functions. Nulls are ignored by every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    /// `count()`: rows.
    Count,
    /// `countif(p)`: rows where `p` is true.
    CountIf,
    /// `dcount(x)`: distinct values (exact, where KQL's is an estimate).
    DCount,
    /// `sum(x)`.
    Sum,
    /// `avg(x)`: real.
    Avg,
    /// `min(x)`.
    Min,
    /// `max(x)`.
    Max,
    /// `percentile(x, p)`: nearest rank, the smallest value with at least `p`% of the values
    /// at or below it; `p` in hundredths of a percent (`5000` = 50).
    Percentile(u32),
    /// `make_set(x)`: distinct values as an array, sorted.
    MakeSet,
}

/// A typed expression.
#[derive(Debug, Clone, PartialEq)]
pub struct TExpr {
    /// Its type.
    pub ty: Type,
    /// What it is.
    pub kind: TKind,
}

/// A constant.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Boolean.
    Bool(bool),
    /// Integer (also datetimes and timespans, in milliseconds).
    Long(i64),
    /// Float.
    Real(f64),
    /// Text.
    Str(String),
}

/// Arithmetic operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (integer division on longs; null when dividing by zero)
    Div,
    /// `%`
    Rem,
}

/// Comparison operators (strings compare by bytes, case-sensitively).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// String predicates against a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextOp {
    /// `has`: the needle is a whole term of the value: ASCII case-insensitive, bounded by
    /// the start, the end or a character that is not an ASCII letter or digit.
    Has,
    /// `contains`: ASCII case-insensitive substring.
    Contains,
    /// `startswith`: ASCII case-insensitive prefix.
    StartsWith,
    /// `endswith`: ASCII case-insensitive suffix.
    EndsWith,
    /// `=~`: ASCII case-insensitive equality.
    EqualsCi,
    /// `matches regex`: the common subset of Rust's regex and PostgreSQL's syntax.
    Regex,
}

/// Scalar functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `bin(x, size)` / `floor(x, size)`: `x` rounded down to a multiple of `size` (a
    /// constant).
    Bin,
    /// `tolower(s)` (ASCII).
    ToLower,
    /// `toupper(s)` (ASCII).
    ToUpper,
    /// `strlen(s)` in characters.
    StrLen,
    /// `isnull(x)`.
    IsNull,
    /// `isnotnull(x)`.
    IsNotNull,
    /// `isempty(x)`: null or `""`.
    IsEmpty,
    /// `isnotempty(x)`.
    IsNotEmpty,
    /// `iff(c, a, b)`.
    Iff,
}

/// The kinds of typed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum TKind {
    /// A column of the input relation.
    Column(String),
    /// A constant (`ago()`, `now()`, `let` values and `datetime()` are constants here).
    Lit(Value),
    /// `not(b)`.
    Not(Box<TExpr>),
    /// `-x`.
    Neg(Box<TExpr>),
    /// `a op b` on numbers, datetimes and timespans.
    Arith(Arith, Box<TExpr>, Box<TExpr>),
    /// `a op b`.
    Compare(Cmp, Box<TExpr>, Box<TExpr>),
    /// `a and b`.
    And(Box<TExpr>, Box<TExpr>),
    /// `a or b`.
    Or(Box<TExpr>, Box<TExpr>),
    /// A string predicate.
    Text {
        /// Which.
        op: TextOp,
        /// The `!` form.
        negated: bool,
        /// The value.
        lhs: Box<TExpr>,
        /// The constant.
        needle: String,
    },
    /// `x in (...)`.
    In {
        /// The value.
        lhs: Box<TExpr>,
        /// The candidates.
        list: Vec<TExpr>,
        /// `!in`.
        negated: bool,
    },
    /// `x between (lo .. hi)`, inclusive.
    Between {
        /// The value.
        lhs: Box<TExpr>,
        /// Lower bound.
        lo: Box<TExpr>,
        /// Upper bound.
        hi: Box<TExpr>,
        /// `!between`.
        negated: bool,
    },
    /// A function call.
    Func(Func, Vec<TExpr>),
}

impl TExpr {
    fn lit(ty: Type, v: Value) -> TExpr {
        TExpr {
            ty,
            kind: TKind::Lit(v),
        }
    }
    fn has_column(&self) -> bool {
        match &self.kind {
            TKind::Column(_) => true,
            TKind::Lit(_) => false,
            TKind::Not(a) | TKind::Neg(a) => a.has_column(),
            TKind::Arith(_, a, b)
            | TKind::Compare(_, a, b)
            | TKind::And(a, b)
            | TKind::Or(a, b) => a.has_column() || b.has_column(),
            TKind::Text { lhs, .. } => lhs.has_column(),
            TKind::In { lhs, list, .. } => lhs.has_column() || list.iter().any(TExpr::has_column),
            TKind::Between { lhs, lo, hi, .. } => {
                lhs.has_column() || lo.has_column() || hi.has_column()
            }
            TKind::Func(_, args) => args.iter().any(TExpr::has_column),
        }
    }
}

/// Scalar functions, for suggestions.
const FUNCTIONS: &[&str] = &[
    "ago",
    "now",
    "bin",
    "floor",
    "tolower",
    "toupper",
    "strlen",
    "isnull",
    "isnotnull",
    "isempty",
    "isnotempty",
    "not",
    "iff",
    "iif",
];
/// Aggregates, for suggestions.
const AGGREGATES: &[&str] = &[
    "count",
    "countif",
    "dcount",
    "sum",
    "avg",
    "min",
    "max",
    "percentile",
    "make_set",
];

/// Parse, resolve, type-check and bound a query.
pub fn plan(text: &str, opts: &Options) -> Result<Plan, HuntError> {
    let to = opts.to.unwrap_or(opts.now);
    let from = opts.from.unwrap_or(to.saturating_sub(DEFAULT_RANGE_MS));
    let bound = |message: String| HuntError::Invalid {
        pos: 0,
        token: String::new(),
        message,
    };
    if from >= to {
        return Err(bound(
            "the time range is empty: from must be before to".into(),
        ));
    }
    if to - from > MAX_RANGE_MS {
        return Err(bound(format!(
            "the time range is longer than {} days",
            MAX_RANGE_MS / 86_400_000
        )));
    }
    let limit = opts.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(bound(format!("the row limit must be 1 to {MAX_LIMIT}")));
    }
    let query = crate::parser::parse(text)?;
    let mut b = Builder {
        now: opts.now,
        lets: HashMap::new(),
    };
    for l in &query.lets {
        let v = b.expr(&[], &l.value)?;
        if v.has_column() {
            return Err(HuntError::Invalid {
                pos: l.value.pos,
                token: l.value.token.clone(),
                message: "a let value must be a constant".into(),
            });
        }
        b.lets.insert(l.name.text.clone(), v);
    }
    let root = b.pipeline(&query.pipeline)?;
    Ok(Plan {
        root,
        from,
        to,
        limit,
    })
}

struct Builder {
    now: i64,
    lets: HashMap<String, TExpr>,
}

fn type_err(e: &Expr, message: impl Into<String>) -> HuntError {
    HuntError::Type {
        pos: e.pos,
        token: e.token.clone(),
        message: message.into(),
    }
}

fn invalid(pos: usize, token: &str, message: impl Into<String>) -> HuntError {
    HuntError::Invalid {
        pos,
        token: token.to_string(),
        message: message.into(),
    }
}

fn comparable(a: Type, b: Type) -> bool {
    (a.is_numeric() && b.is_numeric()) || (a == b && a != Type::Dynamic)
}

fn check_name(n: &ast::Name) -> Result<(), HuntError> {
    if n.text.starts_with("__") || n.text.starts_with('!') {
        return Err(invalid(
            n.pos,
            &n.text,
            "names starting with __ are reserved",
        ));
    }
    Ok(())
}

impl Builder {
    fn pipeline(&self, p: &Pipeline) -> Result<Node, HuntError> {
        let table = schema::table(&p.table.text).ok_or_else(|| HuntError::UnknownTable {
            pos: p.table.pos,
            token: p.table.text.clone(),
            suggestion: suggest(&p.table.text, schema::TABLES.iter().map(|t| t.name)),
        })?;
        let mut node = Node {
            rel: Rel::Scan(table),
            columns: table
                .columns
                .iter()
                .map(|c| Column {
                    name: c.name.to_string(),
                    ty: c.ty,
                })
                .collect(),
            ordered: false,
        };
        for op in &p.ops {
            node = self.op(node, op)?;
        }
        Ok(node)
    }

    fn op(&self, input: Node, op: &Op) -> Result<Node, HuntError> {
        let cols = input.columns.clone();
        let ordered = input.ordered;
        Ok(match op {
            Op::Where(e) => {
                let predicate = self.expr(&cols, e)?;
                if predicate.ty != Type::Bool {
                    return Err(type_err(
                        e,
                        format!("where needs a bool, not a {}", predicate.ty.as_str()),
                    ));
                }
                Node {
                    rel: Rel::Filter {
                        input: Box::new(input),
                        predicate,
                    },
                    columns: cols,
                    ordered,
                }
            }
            Op::Project(items) => {
                let mut columns: Vec<Column> = Vec::new();
                let mut exprs = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let e = self.expr(&cols, &item.expr)?;
                    let name = item_name(item, i)?;
                    push_unique(&mut columns, &name, e.ty, item)?;
                    exprs.push(e);
                }
                Node {
                    rel: Rel::Project {
                        input: Box::new(input),
                        exprs,
                    },
                    columns,
                    ordered,
                }
            }
            Op::ProjectAway(names) => {
                for n in names {
                    self.column(&cols, &n.text, n.pos)?;
                }
                let columns: Vec<Column> = cols
                    .iter()
                    .filter(|c| names.iter().all(|n| n.text != c.name))
                    .cloned()
                    .collect();
                let exprs = columns.iter().map(col_ref).collect();
                Node {
                    rel: Rel::Project {
                        input: Box::new(input),
                        exprs,
                    },
                    columns,
                    ordered,
                }
            }
            Op::Extend(items) => {
                let mut columns = cols.clone();
                let mut exprs: Vec<TExpr> = cols.iter().map(col_ref).collect();
                let mut added: Vec<String> = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    // each item sees the input's columns (not the ones this extend adds)
                    let e = self.expr(&cols, &item.expr)?;
                    let name = item_name(item, i)?;
                    if added.contains(&name) {
                        return Err(dup(item, &name));
                    }
                    added.push(name.clone());
                    match columns.iter().position(|c| c.name == name) {
                        Some(at) => {
                            columns[at].ty = e.ty;
                            exprs[at] = e;
                        }
                        None => {
                            columns.push(Column { name, ty: e.ty });
                            exprs.push(e);
                        }
                    }
                }
                Node {
                    rel: Rel::Project {
                        input: Box::new(input),
                        exprs,
                    },
                    columns,
                    ordered,
                }
            }
            Op::Summarize { aggs, by, .. } => self.summarize(input, aggs, by)?,
            Op::Count(pos) => {
                let count = Item {
                    name: Some(ast::Name {
                        text: "Count".into(),
                        pos: *pos,
                    }),
                    expr: Expr {
                        kind: ExprKind::Call("count".into(), vec![]),
                        pos: *pos,
                        token: "count".into(),
                    },
                };
                self.summarize(input, std::slice::from_ref(&count), &[])?
            }
            Op::Distinct(items) => self.summarize(input, &[], items)?,
            Op::Sort(keys) => {
                let keys = keys
                    .iter()
                    .map(|k| self.sort_key(&cols, k))
                    .collect::<Result<_, _>>()?;
                Node {
                    rel: Rel::Sort {
                        input: Box::new(input),
                        keys,
                    },
                    columns: cols,
                    ordered: true,
                }
            }
            Op::Top { n, key } => {
                let n = count(n)?;
                let key = self.sort_key(&cols, key)?;
                let sorted = Node {
                    rel: Rel::Sort {
                        input: Box::new(input),
                        keys: vec![key],
                    },
                    columns: cols.clone(),
                    ordered: true,
                };
                Node {
                    rel: Rel::Take {
                        input: Box::new(sorted),
                        n,
                    },
                    columns: cols,
                    ordered: true,
                }
            }
            Op::Take(n) => Node {
                rel: Rel::Take {
                    input: Box::new(input),
                    n: count(n)?,
                },
                columns: cols,
                ordered,
            },
            Op::Join { right, on, .. } => {
                let right = self.pipeline(right)?;
                for k in on {
                    let l = self.column(&cols, &k.text, k.pos)?;
                    let r = self.column(&right.columns, &k.text, k.pos)?;
                    if !comparable(l.ty, r.ty) {
                        return Err(HuntError::Type {
                            pos: k.pos,
                            token: k.text.clone(),
                            message: format!(
                                "join key is a {} on the left and a {} on the right",
                                l.ty.as_str(),
                                r.ty.as_str()
                            ),
                        });
                    }
                }
                let mut columns = cols.clone();
                for c in &right.columns {
                    columns.push(Column {
                        name: join_name(&columns, &c.name),
                        ty: c.ty,
                    });
                }
                Node {
                    rel: Rel::Join {
                        left: Box::new(input),
                        right: Box::new(right),
                        on: on.iter().map(|n| n.text.clone()).collect(),
                    },
                    columns,
                    ordered: false,
                }
            }
        })
    }

    fn summarize(&self, input: Node, aggs: &[Item], by: &[Item]) -> Result<Node, HuntError> {
        let cols = input.columns.clone();
        let mut columns: Vec<Column> = Vec::new();
        let mut keys = Vec::new();
        for (i, item) in by.iter().enumerate() {
            let e = self.expr(&cols, &item.expr)?;
            if e.ty == Type::Dynamic {
                return Err(type_err(&item.expr, "cannot group by a dynamic value"));
            }
            let name = item_name(item, i)?;
            push_unique(&mut columns, &name, e.ty, item)?;
            keys.push(e);
        }
        let mut out = Vec::new();
        for item in aggs {
            let (agg, ty, default) = self.agg(&cols, &item.expr)?;
            let name = match &item.name {
                Some(n) => {
                    check_name(n)?;
                    n.text.clone()
                }
                None => default,
            };
            push_unique(&mut columns, &name, ty, item)?;
            out.push(agg);
        }
        Ok(Node {
            rel: Rel::Summarize {
                input: Box::new(input),
                keys,
                aggs: out,
            },
            columns,
            ordered: false,
        })
    }

    fn agg(&self, cols: &[Column], e: &Expr) -> Result<(Agg, Type, String), HuntError> {
        let ExprKind::Call(name, args) = &e.kind else {
            return Err(type_err(e, "summarize needs an aggregate such as count()"));
        };
        let arity = |n: usize| -> Result<(), HuntError> {
            if args.len() == n {
                Ok(())
            } else {
                Err(type_err(e, format!("{name}() takes {n} argument(s)")))
            }
        };
        let arg_name = |i: usize| match args.get(i).map(|a| &a.kind) {
            Some(ExprKind::Name(n)) => format!("{name}_{n}"),
            _ => format!("{name}_"),
        };
        let func = match name.as_str() {
            "count" => {
                arity(0)?;
                return Ok((
                    Agg {
                        func: AggFunc::Count,
                        arg: None,
                    },
                    Type::Long,
                    "count_".into(),
                ));
            }
            "countif" => AggFunc::CountIf,
            "dcount" => AggFunc::DCount,
            "sum" => AggFunc::Sum,
            "avg" => AggFunc::Avg,
            "min" => AggFunc::Min,
            "max" => AggFunc::Max,
            "make_set" => AggFunc::MakeSet,
            "percentile" => {
                arity(2)?;
                let p = match args[1].kind {
                    ExprKind::Int(v) => v as f64,
                    ExprKind::Real(v) => v,
                    _ => return Err(type_err(&args[1], "the percentile must be a number")),
                };
                if !(0.0..=100.0).contains(&p) {
                    return Err(type_err(&args[1], "the percentile must be 0 to 100"));
                }
                AggFunc::Percentile((p * 100.0).round() as u32)
            }
            other => {
                let known = FUNCTIONS.contains(&other);
                return Err(HuntError::UnknownFunction {
                    pos: e.pos,
                    token: name.clone(),
                    suggestion: if known {
                        None
                    } else {
                        suggest(other, AGGREGATES.iter().copied())
                    },
                });
            }
        };
        if !matches!(func, AggFunc::Percentile(_)) {
            arity(1)?;
        }
        let arg = self.expr(cols, &args[0])?;
        let ty = match func {
            AggFunc::CountIf if arg.ty == Type::Bool => Type::Long,
            AggFunc::CountIf => return Err(type_err(&args[0], "countif needs a bool")),
            AggFunc::DCount if arg.ty != Type::Dynamic => Type::Long,
            AggFunc::Sum if arg.ty.is_numeric() || arg.ty == Type::TimeSpan => arg.ty,
            AggFunc::Avg if arg.ty.is_numeric() => Type::Real,
            AggFunc::Min | AggFunc::Max | AggFunc::Percentile(_)
                if arg.ty != Type::Dynamic && arg.ty != Type::Bool =>
            {
                if matches!(func, AggFunc::Percentile(_)) && arg.ty == Type::String {
                    return Err(type_err(
                        &args[0],
                        "percentile needs a number, datetime or timespan",
                    ));
                }
                arg.ty
            }
            AggFunc::MakeSet if arg.ty != Type::Dynamic && arg.ty != Type::Bool => Type::Dynamic,
            _ => {
                return Err(type_err(
                    &args[0],
                    format!("{name}() does not take a {}", arg.ty.as_str()),
                ))
            }
        };
        let default = match func {
            AggFunc::Percentile(p) => format!("{}_{}", arg_name(0), p / 100),
            AggFunc::CountIf => "countif_".into(),
            _ => arg_name(0),
        };
        Ok((
            Agg {
                func,
                arg: Some(arg),
            },
            ty,
            default,
        ))
    }

    fn sort_key(&self, cols: &[Column], k: &ast::SortKey) -> Result<SortKey, HuntError> {
        let expr = self.expr(cols, &k.expr)?;
        Ok(SortKey { expr, desc: k.desc })
    }

    fn column<'c>(
        &self,
        cols: &'c [Column],
        name: &str,
        pos: usize,
    ) -> Result<&'c Column, HuntError> {
        cols.iter()
            .find(|c| c.name == name)
            .ok_or_else(|| HuntError::UnknownColumn {
                pos,
                token: name.to_string(),
                suggestion: suggest(name, cols.iter().map(|c| c.name.as_str())),
            })
    }

    fn constant_string(&self, cols: &[Column], e: &Expr) -> Result<String, HuntError> {
        let v = self.expr(cols, e)?;
        match v.kind {
            TKind::Lit(Value::Str(s)) => Ok(s),
            _ => Err(type_err(e, "needs a constant string")),
        }
    }

    fn expr(&self, cols: &[Column], e: &Expr) -> Result<TExpr, HuntError> {
        Ok(match &e.kind {
            ExprKind::Name(n) => {
                if let Some(c) = cols.iter().find(|c| &c.name == n) {
                    TExpr {
                        ty: c.ty,
                        kind: TKind::Column(n.clone()),
                    }
                } else if let Some(v) = self.lets.get(n) {
                    v.clone()
                } else {
                    return Err(HuntError::UnknownColumn {
                        pos: e.pos,
                        token: n.clone(),
                        suggestion: suggest(
                            n,
                            cols.iter()
                                .map(|c| c.name.as_str())
                                .chain(self.lets.keys().map(String::as_str)),
                        ),
                    });
                }
            }
            ExprKind::Int(v) => TExpr::lit(Type::Long, Value::Long(*v)),
            ExprKind::Real(v) => TExpr::lit(Type::Real, Value::Real(*v)),
            ExprKind::Str(s) => TExpr::lit(Type::String, Value::Str(s.clone())),
            ExprKind::Span(v) => TExpr::lit(Type::TimeSpan, Value::Long(*v)),
            ExprKind::Bool(b) => TExpr::lit(Type::Bool, Value::Bool(*b)),
            ExprKind::DateTime(s) => {
                let ms = parse_datetime(s).ok_or_else(|| {
                    invalid(
                        e.pos,
                        &e.token,
                        "not a datetime (use RFC 3339, e.g. 2024-01-31T12:00:00Z)",
                    )
                })?;
                TExpr::lit(Type::DateTime, Value::Long(ms))
            }
            ExprKind::Unary(_, inner) => {
                let a = self.expr(cols, inner)?;
                if !(a.ty.is_numeric() || a.ty == Type::TimeSpan) {
                    return Err(type_err(e, format!("cannot negate a {}", a.ty.as_str())));
                }
                TExpr {
                    ty: a.ty,
                    kind: TKind::Neg(Box::new(a)),
                }
            }
            ExprKind::Binary(op, l, r) => self.binary(cols, e, op, l, r)?,
            ExprKind::In { lhs, list, negated } => {
                let a = self.expr(cols, lhs)?;
                let mut items = Vec::new();
                for item in list {
                    let v = self.expr(cols, item)?;
                    if !comparable(a.ty, v.ty) {
                        return Err(type_err(
                            item,
                            format!(
                                "a {} cannot be in a list of {}",
                                a.ty.as_str(),
                                v.ty.as_str()
                            ),
                        ));
                    }
                    items.push(v);
                }
                TExpr {
                    ty: Type::Bool,
                    kind: TKind::In {
                        lhs: Box::new(a),
                        list: items,
                        negated: *negated,
                    },
                }
            }
            ExprKind::Between {
                lhs,
                lo,
                hi,
                negated,
            } => {
                let a = self.expr(cols, lhs)?;
                let lo_t = self.expr(cols, lo)?;
                let hi_t = self.expr(cols, hi)?;
                for (b, src) in [(&lo_t, lo), (&hi_t, hi)] {
                    if !comparable(a.ty, b.ty) || a.ty == Type::Bool {
                        return Err(type_err(
                            src,
                            format!(
                                "cannot compare a {} with a {}",
                                a.ty.as_str(),
                                b.ty.as_str()
                            ),
                        ));
                    }
                }
                TExpr {
                    ty: Type::Bool,
                    kind: TKind::Between {
                        lhs: Box::new(a),
                        lo: Box::new(lo_t),
                        hi: Box::new(hi_t),
                        negated: *negated,
                    },
                }
            }
            ExprKind::Call(name, args) => self.call(cols, e, name, args)?,
        })
    }

    fn binary(
        &self,
        cols: &[Column],
        e: &Expr,
        op: &str,
        l: &Expr,
        r: &Expr,
    ) -> Result<TExpr, HuntError> {
        let text_op = match op {
            "has" | "!has" => Some(TextOp::Has),
            "contains" | "!contains" => Some(TextOp::Contains),
            "startswith" | "!startswith" => Some(TextOp::StartsWith),
            "endswith" | "!endswith" => Some(TextOp::EndsWith),
            "=~" | "!~" => Some(TextOp::EqualsCi),
            "matches regex" => Some(TextOp::Regex),
            _ => None,
        };
        let a = self.expr(cols, l)?;
        if let Some(top) = text_op {
            if a.ty != Type::String {
                return Err(type_err(
                    e,
                    format!("{op} needs a string, not a {}", a.ty.as_str()),
                ));
            }
            let needle = self.constant_string(cols, r)?;
            if top == TextOp::Regex {
                if let Err(err) = regex::Regex::new(&needle) {
                    let first = err
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim()
                        .to_lowercase();
                    return Err(invalid(r.pos, &r.token, format!("invalid regex: {first}")));
                }
            }
            return Ok(TExpr {
                ty: Type::Bool,
                kind: TKind::Text {
                    op: top,
                    negated: op.starts_with('!'),
                    lhs: Box::new(a),
                    needle,
                },
            });
        }
        let b = self.expr(cols, r)?;
        let (ta, tb) = (a.ty, b.ty);
        let mismatch = || {
            type_err(
                e,
                format!(
                    "cannot apply {op} to a {} and a {}",
                    ta.as_str(),
                    tb.as_str()
                ),
            )
        };
        let bx = |x: TExpr| Box::new(x);
        Ok(match op {
            "and" | "or" => {
                if ta != Type::Bool || tb != Type::Bool {
                    return Err(mismatch());
                }
                let kind = if op == "and" {
                    TKind::And(bx(a), bx(b))
                } else {
                    TKind::Or(bx(a), bx(b))
                };
                TExpr {
                    ty: Type::Bool,
                    kind,
                }
            }
            "==" | "!=" | "<" | "<=" | ">" | ">=" => {
                let cmp = match op {
                    "==" => Cmp::Eq,
                    "!=" => Cmp::Ne,
                    "<" => Cmp::Lt,
                    "<=" => Cmp::Le,
                    ">" => Cmp::Gt,
                    _ => Cmp::Ge,
                };
                let ordered_ok = ta != Type::Bool || matches!(cmp, Cmp::Eq | Cmp::Ne);
                if !comparable(ta, tb) || !ordered_ok {
                    return Err(mismatch());
                }
                TExpr {
                    ty: Type::Bool,
                    kind: TKind::Compare(cmp, bx(a), bx(b)),
                }
            }
            "+" | "-" | "*" | "/" | "%" => {
                use Type::*;
                let ar = match op {
                    "+" => Arith::Add,
                    "-" => Arith::Sub,
                    "*" => Arith::Mul,
                    "/" => Arith::Div,
                    _ => Arith::Rem,
                };
                let ty = match (ar, ta, tb) {
                    (Arith::Rem, Long, Long) => Long,
                    (Arith::Rem, _, _) => return Err(mismatch()),
                    (_, Long, Long) => Long,
                    (_, x, y) if x.is_numeric() && y.is_numeric() => Real,
                    (Arith::Add, DateTime, TimeSpan) | (Arith::Add, TimeSpan, DateTime) => DateTime,
                    (Arith::Sub, DateTime, TimeSpan) => DateTime,
                    (Arith::Sub, DateTime, DateTime) => TimeSpan,
                    (Arith::Add | Arith::Sub, TimeSpan, TimeSpan) => TimeSpan,
                    (Arith::Mul, TimeSpan, Long) | (Arith::Mul, Long, TimeSpan) => TimeSpan,
                    (Arith::Div, TimeSpan, Long) => TimeSpan,
                    _ => return Err(mismatch()),
                };
                TExpr {
                    ty,
                    kind: TKind::Arith(ar, bx(a), bx(b)),
                }
            }
            _ => return Err(mismatch()),
        })
    }

    fn call(
        &self,
        cols: &[Column],
        e: &Expr,
        name: &str,
        args: &[Expr],
    ) -> Result<TExpr, HuntError> {
        let arity = |n: usize| -> Result<(), HuntError> {
            if args.len() == n {
                Ok(())
            } else {
                Err(type_err(e, format!("{name}() takes {n} argument(s)")))
            }
        };
        let typed = |i: usize| self.expr(cols, &args[i]);
        let func = |f: Func, ty: Type, args: Vec<TExpr>| TExpr {
            ty,
            kind: TKind::Func(f, args),
        };
        Ok(match name {
            "ago" | "now" => {
                let offset = match (name, args.len()) {
                    ("now", 0) => 0,
                    (_, 1) => {
                        let a = typed(0)?;
                        match (a.ty, a.kind) {
                            (Type::TimeSpan, TKind::Lit(Value::Long(v))) => v,
                            _ => {
                                return Err(type_err(
                                    &args[0],
                                    format!("{name}() needs a constant timespan such as 1h"),
                                ))
                            }
                        }
                    }
                    _ => return Err(type_err(e, format!("{name}() takes a timespan"))),
                };
                let ms = if name == "ago" {
                    self.now.saturating_sub(offset)
                } else {
                    self.now.saturating_add(offset)
                };
                TExpr::lit(Type::DateTime, Value::Long(ms))
            }
            "bin" | "floor" => {
                arity(2)?;
                let x = typed(0)?;
                let size = typed(1)?;
                let ok_ty = match x.ty {
                    Type::Long => Type::Long,
                    Type::DateTime | Type::TimeSpan => Type::TimeSpan,
                    t => return Err(type_err(&args[0], format!("cannot bin a {}", t.as_str()))),
                };
                match size.kind {
                    TKind::Lit(Value::Long(v)) if size.ty == ok_ty && v > 0 => {}
                    _ => {
                        return Err(type_err(
                            &args[1],
                            format!(
                                "the bin size must be a positive constant {}",
                                ok_ty.as_str()
                            ),
                        ))
                    }
                }
                let ty = x.ty;
                func(Func::Bin, ty, vec![x, size])
            }
            "tolower" | "toupper" | "strlen" => {
                arity(1)?;
                let x = typed(0)?;
                if x.ty != Type::String {
                    return Err(type_err(&args[0], format!("{name}() needs a string")));
                }
                match name {
                    "tolower" => func(Func::ToLower, Type::String, vec![x]),
                    "toupper" => func(Func::ToUpper, Type::String, vec![x]),
                    _ => func(Func::StrLen, Type::Long, vec![x]),
                }
            }
            "isnull" | "isnotnull" | "isempty" | "isnotempty" => {
                arity(1)?;
                let x = typed(0)?;
                let f = match name {
                    "isnull" => Func::IsNull,
                    "isnotnull" => Func::IsNotNull,
                    "isempty" => Func::IsEmpty,
                    _ => Func::IsNotEmpty,
                };
                func(f, Type::Bool, vec![x])
            }
            "not" => {
                arity(1)?;
                let x = typed(0)?;
                if x.ty != Type::Bool {
                    return Err(type_err(&args[0], "not() needs a bool"));
                }
                TExpr {
                    ty: Type::Bool,
                    kind: TKind::Not(Box::new(x)),
                }
            }
            "iff" | "iif" => {
                arity(3)?;
                let c = typed(0)?;
                if c.ty != Type::Bool {
                    return Err(type_err(&args[0], "iff() needs a bool condition"));
                }
                let a = typed(1)?;
                let b = typed(2)?;
                let ty = if a.ty == b.ty {
                    a.ty
                } else if a.ty.is_numeric() && b.ty.is_numeric() {
                    Type::Real
                } else {
                    return Err(type_err(
                        &args[2],
                        format!(
                            "iff() branches are a {} and a {}",
                            a.ty.as_str(),
                            b.ty.as_str()
                        ),
                    ));
                };
                func(Func::Iff, ty, vec![c, a, b])
            }
            other if AGGREGATES.contains(&other) => {
                return Err(invalid(
                    e.pos,
                    &e.token,
                    format!("{other}() is an aggregate: use it in summarize"),
                ))
            }
            other => {
                return Err(HuntError::UnknownFunction {
                    pos: e.pos,
                    token: other.to_string(),
                    suggestion: suggest(other, FUNCTIONS.iter().copied()),
                })
            }
        })
    }
}

fn col_ref(c: &Column) -> TExpr {
    TExpr {
        ty: c.ty,
        kind: TKind::Column(c.name.clone()),
    }
}

fn count(n: &ast::Lit) -> Result<u64, HuntError> {
    u64::try_from(n.value).map_err(|_| {
        invalid(
            n.pos,
            &n.value.to_string(),
            "a row count cannot be negative",
        )
    })
}

fn dup(item: &Item, name: &str) -> HuntError {
    let (pos, token) = match &item.name {
        Some(n) => (n.pos, n.text.clone()),
        None => (item.expr.pos, item.expr.token.clone()),
    };
    invalid(pos, &token, format!("column {name} is defined twice"))
}

fn push_unique(
    columns: &mut Vec<Column>,
    name: &str,
    ty: Type,
    item: &Item,
) -> Result<(), HuntError> {
    if columns.iter().any(|c| c.name == name) {
        return Err(dup(item, name));
    }
    columns.push(Column {
        name: name.to_string(),
        ty,
    });
    Ok(())
}

/// The name of a `project` / `extend` / `by` item: the one given, the column's, the binned
/// column's (`bin(Timestamp, 1h)` is `Timestamp`), else `Column<n>` (1-based).
fn item_name(item: &Item, index: usize) -> Result<String, HuntError> {
    if let Some(n) = &item.name {
        check_name(n)?;
        return Ok(n.text.clone());
    }
    Ok(match &item.expr.kind {
        ExprKind::Name(n) => n.clone(),
        ExprKind::Call(f, args) if f == "bin" || f == "floor" => {
            match args.first().map(|a| &a.kind) {
                Some(ExprKind::Name(n)) => n.clone(),
                _ => format!("Column{}", index + 1),
            }
        }
        _ => format!("Column{}", index + 1),
    })
}

/// The output name of a right-side column: its own, or with the first free numeric suffix.
fn join_name(columns: &[Column], name: &str) -> String {
    if columns.iter().all(|c| c.name != name) {
        return name.to_string();
    }
    (1..)
        .map(|i| format!("{name}{i}"))
        .find(|n| columns.iter().all(|c| &c.name != n))
        .unwrap_or_default()
}

/// `2024-01-31T12:00:00Z`, with an offset, without one (UTC), or a bare date (midnight UTC).
fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(t) = Timestamp::parse_rfc3339(s) {
        return Some(t.0);
    }
    let with_t = s.replacen(' ', "T", 1);
    if s.len() == 10 {
        return Timestamp::parse_rfc3339(&format!("{s}T00:00:00Z")).map(|t| t.0);
    }
    Timestamp::parse_rfc3339(&format!("{with_t}Z")).map(|t| t.0)
}
