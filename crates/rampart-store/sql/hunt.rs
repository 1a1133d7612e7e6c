//! Hunting queries, written once for every SQL backend: a typed [`Plan`] from `rampart-hunt`
//! becomes one `WITH` statement (one CTE per operator) with bind parameters, run read-only
//! under a timeout, and its rows are rendered by [`rampart_hunt::rows::render`].
//!
//! A submodule of `store.rs`, compiled by each backend; where the dialects differ (string
//! collation, ASCII case folding, regex matching, JSON aggregation, reading the alert title,
//! how the timeout is set) the backend's `dialect.rs` has a `HUNT_*` item or `hunt_*` function.
//!
//! So that both backends answer the same rows in the same order: strings compare and sort by
//! bytes; case-insensitive operators fold ASCII only; NULLs sort first ascending and last
//! descending; every sort is made total by breaking ties on every column; division by zero
//! is NULL; averages divide a real sum by a count; percentiles are nearest-rank, computed with
//! row numbers; `make_set` arrays are sorted after reading.

use std::time::Duration;

use sqlx::Row;

use rampart_hunt::plan::{
    Agg, AggFunc, Arith, Cmp, Column, Func, Node, Plan, Rel, TExpr, TKind, TextOp, Value,
};
use rampart_hunt::rows::{render, Raw, Rows};
use rampart_hunt::schema::{Source, Type};
use rampart_store::{StoreError, StoreResult};

use crate::dialect::{
    hunt_begin, hunt_end, hunt_is_timeout, hunt_json_set, hunt_lower, hunt_regex, hunt_upper,
    DbRow, SqlStore, CLIENT_IP_BY_HOUR, HUNT_ALERT_TITLE, HUNT_COLLATE, HUNT_GROUP_KEY,
    HUNT_PRE_GROUP, HUNT_REAL,
};

/// A bind parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Int(i64),
    Real(f64),
    Text(String),
}

/// The statement for a plan: SQL text and its parameters in `$N` order.
struct Sql {
    ctes: Vec<String>,
    params: Vec<Param>,
}

fn q(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The row source of a table, aliased `src`.
fn source(s: Source) -> String {
    match s {
        Source::Events => "events AS src".into(),
        Source::Alerts => {
            format!("(SELECT alerts.*, {HUNT_ALERT_TITLE} AS title FROM alerts) AS src")
        }
        Source::Incidents => "incidents AS src".into(),
        Source::Entities => "(SELECT e.incident_id, e.kind, e.value, i.last_activity \
             FROM incident_entities e JOIN incidents i ON i.id = e.incident_id) AS src"
            .into(),
        Source::Actions => "actions AS src".into(),
        Source::Audit => "audit AS src".into(),
    }
}

/// Whether a predicate holds only for one client address: a top-level conjunct
/// `ClientIp == "literal"` on the events' stored `client_ip`.
fn pins_client_ip(p: &TExpr, t: &rampart_hunt::schema::TableDef) -> bool {
    match &p.kind {
        TKind::And(a, b) => pins_client_ip(a, t) || pins_client_ip(b, t),
        TKind::Compare(Cmp::Eq, a, b) => {
            let column = |e: &TExpr| match &e.kind {
                TKind::Column(c) => t
                    .columns
                    .iter()
                    .any(|d| d.name == c.as_str() && d.stored == "client_ip"),
                _ => false,
            };
            let text = |e: &TExpr| matches!(e.kind, TKind::Lit(Value::Str(_)));
            (column(a) && text(b)) || (text(a) && column(b))
        }
        _ => false,
    }
}

/// The columns to count rows by before a summarize's own GROUP BY, when that pays and is
/// exact: every aggregate is `count()`, and the keys are `bin()`s of one column by constants
/// (or that column itself), so they are functions of that column alone (a plain column key
/// alone already groups in its index's order).
fn pre_group_columns<'a>(keys: &'a [TExpr], aggs: &[Agg]) -> Option<Vec<&'a str>> {
    if keys.is_empty() || aggs.is_empty() || aggs.iter().any(|a| a.func != AggFunc::Count) {
        return None;
    }
    let mut cols: Vec<&str> = Vec::new();
    let mut binned = false;
    for k in keys {
        let col = match &k.kind {
            TKind::Column(c) => c,
            TKind::Func(Func::Bin, args) => match (&args[..], args.get(1).map(|a| &a.kind)) {
                ([x, _], Some(TKind::Lit(_))) => match &x.kind {
                    TKind::Column(c) => {
                        binned = true;
                        c
                    }
                    _ => return None,
                },
                _ => return None,
            },
            _ => return None,
        };
        if !cols.contains(&col.as_str()) {
            cols.push(col);
        }
    }
    // One column: grouping by it reads the index on it in order (two would sort every row).
    (binned && cols.len() == 1).then_some(cols)
}

/// `%`, `_` and `\` escaped for `LIKE ... ESCAPE '\'`, ASCII lower-cased.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// A literal for both regex flavours: ASCII punctuation escaped, ASCII lower-cased.
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_punctuation() || c == ' ' {
            if c == ' ' {
                out.push_str("[ ]");
                continue;
            }
            out.push('\\');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

impl Sql {
    fn bind(&mut self, p: Param) -> String {
        self.params.push(p);
        format!("${}", self.params.len())
    }

    fn cte(&mut self, body: String) -> String {
        let name = format!("h{}", self.ctes.len());
        self.ctes.push(format!("{name} AS ({body})"));
        name
    }

    /// The columns of a relation as a select list (without the hidden order column).
    fn list(cols: &[Column]) -> String {
        cols.iter()
            .map(|c| q(&c.name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A total ascending order over every column (dynamic ones excepted), newest first by
    /// `Timestamp` when the relation has one.
    fn default_order(cols: &[Column]) -> Vec<String> {
        let mut out = Vec::new();
        if cols
            .iter()
            .any(|c| c.name == "Timestamp" && c.ty == Type::DateTime)
        {
            out.push(format!("{} DESC NULLS LAST", q("Timestamp")));
        }
        for c in cols {
            if c.ty == Type::Dynamic || (c.name == "Timestamp" && c.ty == Type::DateTime) {
                continue;
            }
            out.push(format!(
                "{} ASC NULLS FIRST",
                Self::sort_expr(q(&c.name), c.ty)
            ));
        }
        out
    }

    fn sort_expr(sql: String, ty: Type) -> String {
        if ty == Type::String {
            format!("{sql} COLLATE {HUNT_COLLATE}")
        } else {
            sql
        }
    }

    fn order_by(n: &Node) -> String {
        if n.ordered {
            format!("ORDER BY {}", q("__rn"))
        } else {
            let keys = Self::default_order(&n.columns);
            if keys.is_empty() {
                String::new()
            } else {
                format!("ORDER BY {}", keys.join(", "))
            }
        }
    }

    /// The rows of a table within the plan's time range; `by_hour` adds the hours of that
    /// range (`client_ip_hours` in `store.rs`: SQLite's client-IP index leads with the hour).
    fn scan(&mut self, t: &rampart_hunt::schema::TableDef, plan: &Plan, by_hour: bool) -> String {
        let cols = t
            .columns
            .iter()
            .map(|c| format!("src.{} AS {}", c.stored, q(c.name)))
            .collect::<Vec<_>>()
            .join(", ");
        let (from, to) = (
            self.bind(Param::Int(plan.from)),
            self.bind(Param::Int(plan.to)),
        );
        let time = t.time_column();
        let mut body = format!(
            "SELECT {cols} FROM {} WHERE src.{time} >= {from} AND src.{time} < {to}",
            source(t.source)
        );
        if by_hour {
            body.push_str(&super::client_ip_hours(&format!("src.{time}"), &from, &to));
        }
        self.cte(body)
    }

    /// The CTE holding the rows of `n`.
    fn node(&mut self, n: &Node, plan: &Plan) -> String {
        let rn = if n.ordered {
            format!(", {}", q("__rn"))
        } else {
            String::new()
        };
        match &n.rel {
            Rel::Scan(t) => self.scan(t, plan, false),
            Rel::Filter { input, predicate } => {
                // A filter straight on the events that pins the client to one address: the
                // scan names the hours SQLite's client-IP index is keyed by first.
                let from = match &input.rel {
                    Rel::Scan(t)
                        if CLIENT_IP_BY_HOUR
                            && t.source == Source::Events
                            && pins_client_ip(predicate, t) =>
                    {
                        self.scan(t, plan, true)
                    }
                    _ => self.node(input, plan),
                };
                let p = self.expr(predicate);
                self.cte(format!("SELECT * FROM {from} WHERE {p}"))
            }
            Rel::Project { input, exprs } => {
                let from = self.node(input, plan);
                let items = exprs
                    .iter()
                    .zip(&n.columns)
                    .map(|(e, c)| format!("{} AS {}", self.expr(e), q(&c.name)))
                    .collect::<Vec<_>>()
                    .join(", ");
                self.cte(format!("SELECT {items}{rn} FROM {from}"))
            }
            Rel::Summarize { input, keys, aggs } => self.summarize(n, input, keys, aggs, plan),
            Rel::Sort { input, keys } => {
                let from = self.node(input, plan);
                let mut order: Vec<String> = keys
                    .iter()
                    .map(|k| {
                        let e = Self::sort_expr(self.expr(&k.expr), k.expr.ty);
                        if k.desc {
                            format!("{e} DESC NULLS LAST")
                        } else {
                            format!("{e} ASC NULLS FIRST")
                        }
                    })
                    .collect();
                if input.ordered {
                    order.push(q("__rn"));
                }
                order.extend(Self::default_order(&n.columns));
                let body = format!(
                    "SELECT {}, ROW_NUMBER() OVER (ORDER BY {}) AS {} FROM {from}",
                    Self::list(&n.columns),
                    order.join(", "),
                    q("__rn")
                );
                self.cte(body)
            }
            Rel::Take { input, n: count } => {
                let from = self.node(input, plan);
                let order = Self::order_by(input);
                let limit = self.bind(Param::Int(i64::try_from(*count).unwrap_or(i64::MAX)));
                self.cte(format!("SELECT * FROM {from} {order} LIMIT {limit}"))
            }
            Rel::Join { left, right, on } => {
                let l = self.node(left, plan);
                let r = self.node(right, plan);
                let mut items: Vec<String> = left
                    .columns
                    .iter()
                    .map(|c| format!("l.{}", q(&c.name)))
                    .collect();
                for (c, out) in right.columns.iter().zip(&n.columns[left.columns.len()..]) {
                    items.push(format!("r.{} AS {}", q(&c.name), q(&out.name)));
                }
                let cond = on
                    .iter()
                    .map(|k| format!("l.{} = r.{}", q(k), q(k)))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                self.cte(format!(
                    "SELECT {} FROM {l} l JOIN {r} r ON {cond}",
                    items.join(", ")
                ))
            }
        }
    }

    fn summarize(
        &mut self,
        n: &Node,
        input: &Node,
        keys: &[TExpr],
        aggs: &[Agg],
        plan: &Plan,
    ) -> String {
        let mut from = self.node(input, plan);
        // stage 0, for `count()`s by keys computed from columns (`bin(Timestamp, 1h)`):
        // count the rows of each distinct value of those columns first, grouping by the plain
        // columns (which reads an index in its order, without sorting) so that the final
        // GROUP BY sorts one row per distinct value instead of one per event (a week of 7M
        // events: 604,800 seconds instead of 7M rows). The counts are then summed.
        let pre_counted = match pre_group_columns(keys, aggs).filter(|_| HUNT_PRE_GROUP) {
            Some(cols) => {
                let cols = cols.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ");
                from = self.cte(format!(
                    "SELECT {cols}, COUNT(*) AS __c FROM {from} GROUP BY {cols}"
                ));
                true
            }
            None => false,
        };
        // stage 1: keys and aggregate arguments as plain columns
        let mut pre: Vec<String> = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            pre.push(format!("{} AS __k{i}", self.expr(k)));
        }
        for (j, a) in aggs.iter().enumerate() {
            if let Some(arg) = &a.arg {
                pre.push(format!("{} AS __a{j}", self.expr(arg)));
            }
        }
        if pre_counted {
            pre.push("__c".into());
        }
        if pre.is_empty() {
            pre.push("1 AS __one".into());
        }
        let mut stage = self.cte(format!("SELECT {} FROM {from}", pre.join(", ")));
        let key_cols: Vec<String> = (0..keys.len()).map(|i| format!("__k{i}")).collect();
        // stage 2: row numbers and counts for nearest-rank percentiles
        let partition = if key_cols.is_empty() {
            String::new()
        } else {
            format!("PARTITION BY {}", key_cols.join(", "))
        };
        let mut windows = Vec::new();
        for (j, a) in aggs.iter().enumerate() {
            if let (AggFunc::Percentile(_), Some(arg)) = (a.func, &a.arg) {
                let e = Self::sort_expr(format!("__a{j}"), arg.ty);
                windows.push(format!(
                    "ROW_NUMBER() OVER ({partition} ORDER BY {e} ASC NULLS LAST) AS __r{j}, \
                     COUNT(__a{j}) OVER ({partition}) AS __n{j}"
                ));
            }
        }
        if !windows.is_empty() {
            stage = self.cte(format!("SELECT *, {} FROM {stage}", windows.join(", ")));
        }
        // stage 3: the groups
        let mut items = Vec::new();
        for (i, c) in n.columns.iter().take(keys.len()).enumerate() {
            items.push(format!("__k{i} AS {}", q(&c.name)));
        }
        for ((j, a), c) in aggs.iter().enumerate().zip(&n.columns[keys.len()..]) {
            let arg = format!("__a{j}");
            let ty = a.arg.as_ref().map_or(Type::Long, |e| e.ty);
            let sql = match a.func {
                AggFunc::Count if pre_counted => "CAST(SUM(__c) AS BIGINT)".to_string(),
                AggFunc::Count => "COUNT(*)".to_string(),
                AggFunc::CountIf => format!("COUNT(CASE WHEN {arg} THEN 1 END)"),
                AggFunc::DCount => format!("COUNT(DISTINCT {arg})"),
                AggFunc::Sum if ty == Type::Real => format!("SUM({arg})"),
                AggFunc::Sum => format!("CAST(SUM({arg}) AS BIGINT)"),
                AggFunc::Avg => {
                    format!("CAST(SUM({arg}) AS {HUNT_REAL}) / NULLIF(COUNT({arg}), 0)")
                }
                AggFunc::Min => format!("MIN({})", Self::sort_expr(arg, ty)),
                AggFunc::Max => format!("MAX({})", Self::sort_expr(arg, ty)),
                AggFunc::Percentile(p) => {
                    let p = self.bind(Param::Int(i64::from(p)));
                    let rank = format!("(({p} * __n{j} + 9999) / 10000)");
                    format!(
                        "MAX(CASE WHEN __r{j} = (CASE WHEN {rank} < 1 THEN 1 ELSE {rank} END) \
                         THEN {arg} END)"
                    )
                }
                AggFunc::MakeSet => hunt_json_set(&arg),
            };
            items.push(format!("{sql} AS {}", q(&c.name)));
        }
        let group = if key_cols.is_empty() {
            String::new()
        } else {
            // SQLite: `+key`, so that grouping never walks an index in key order with a
            // table lookup per row (it chose `(client_ip, ts)` for `by ClientIp` and read 7M
            // rows at random: 30 s against 2.7 s for a scan and a sort)
            let keys: Vec<String> = key_cols
                .iter()
                .map(|k| format!("{HUNT_GROUP_KEY}{k}"))
                .collect();
            format!(" GROUP BY {}", keys.join(", "))
        };
        self.cte(format!("SELECT {} FROM {stage}{group}", items.join(", ")))
    }

    fn lit(&mut self, v: &Value) -> String {
        match v {
            Value::Bool(true) => "TRUE".into(),
            Value::Bool(false) => "FALSE".into(),
            Value::Long(i) => self.bind(Param::Int(*i)),
            Value::Real(f) => self.bind(Param::Real(*f)),
            Value::Str(s) => self.bind(Param::Text(s.clone())),
        }
    }

    fn expr(&mut self, e: &TExpr) -> String {
        match &e.kind {
            TKind::Column(c) => q(c),
            TKind::Lit(v) => self.lit(v),
            TKind::Not(a) => format!("(NOT {})", self.expr(a)),
            TKind::Neg(a) => format!("(- {})", self.expr(a)),
            TKind::Arith(op, a, b) => {
                let (x, y) = (self.expr(a), self.expr(b));
                match op {
                    Arith::Add => format!("({x} + {y})"),
                    Arith::Sub => format!("({x} - {y})"),
                    Arith::Mul => format!("({x} * {y})"),
                    Arith::Div => format!("({x} / NULLIF({y}, 0))"),
                    Arith::Rem => format!("({x} % NULLIF({y}, 0))"),
                }
            }
            TKind::Compare(op, a, b) => {
                let strings = a.ty == Type::String;
                let (mut x, y) = (self.expr(a), self.expr(b));
                let sym = match op {
                    Cmp::Eq => "=",
                    Cmp::Ne => "<>",
                    Cmp::Lt => "<",
                    Cmp::Le => "<=",
                    Cmp::Gt => ">",
                    Cmp::Ge => ">=",
                };
                if strings && !matches!(op, Cmp::Eq | Cmp::Ne) {
                    x = format!("{x} COLLATE {HUNT_COLLATE}");
                }
                format!("({x} {sym} {y})")
            }
            TKind::And(a, b) => format!("({} AND {})", self.expr(a), self.expr(b)),
            TKind::Or(a, b) => format!("({} OR {})", self.expr(a), self.expr(b)),
            TKind::Text {
                op,
                negated,
                lhs,
                needle,
            } => {
                let value = hunt_lower(&format!("COALESCE({}, '')", self.expr(lhs)));
                let test = match op {
                    TextOp::Contains => {
                        let p = self.bind(Param::Text(format!("%{}%", like_escape(needle))));
                        format!("{value} LIKE {p} ESCAPE '\\'")
                    }
                    TextOp::StartsWith => {
                        let p = self.bind(Param::Text(format!("{}%", like_escape(needle))));
                        format!("{value} LIKE {p} ESCAPE '\\'")
                    }
                    TextOp::EndsWith => {
                        let p = self.bind(Param::Text(format!("%{}", like_escape(needle))));
                        format!("{value} LIKE {p} ESCAPE '\\'")
                    }
                    TextOp::EqualsCi => {
                        let p = self.bind(Param::Text(needle.to_ascii_lowercase()));
                        format!("{value} = {p}")
                    }
                    TextOp::Has => {
                        // the substring test first: a value without the needle never
                        // reaches the regex (a callback per row on SQLite)
                        let like = self.bind(Param::Text(format!("%{}%", like_escape(needle))));
                        let p = self.bind(Param::Text(format!(
                            "(^|[^0-9a-z]){}($|[^0-9a-z])",
                            regex_escape(needle)
                        )));
                        format!(
                            "({value} LIKE {like} ESCAPE '\\' AND {})",
                            hunt_regex(&value, &p)
                        )
                    }
                    TextOp::Regex => {
                        let raw = format!("COALESCE({}, '')", self.expr(lhs));
                        let p = self.bind(Param::Text(needle.clone()));
                        hunt_regex(&raw, &p)
                    }
                };
                if *negated {
                    format!("(NOT ({test}))")
                } else {
                    format!("({test})")
                }
            }
            TKind::In { lhs, list, negated } => {
                let x = self.expr(lhs);
                let items = list
                    .iter()
                    .map(|i| self.expr(i))
                    .collect::<Vec<_>>()
                    .join(", ");
                let not = if *negated { "NOT " } else { "" };
                format!("({x} {not}IN ({items}))")
            }
            TKind::Between {
                lhs,
                lo,
                hi,
                negated,
            } => {
                let x = Self::sort_expr(self.expr(lhs), lhs.ty);
                let (l, h) = (self.expr(lo), self.expr(hi));
                let not = if *negated { "NOT " } else { "" };
                format!("({x} {not}BETWEEN {l} AND {h})")
            }
            TKind::Func(f, args) => {
                let a: Vec<String> = args.iter().map(|x| self.expr(x)).collect();
                match f {
                    Func::Bin => {
                        let (x, n) = (&a[0], &a[1]);
                        format!("({x} - ((({x} % {n}) + {n}) % {n}))")
                    }
                    Func::ToLower => hunt_lower(&a[0]),
                    Func::ToUpper => hunt_upper(&a[0]),
                    Func::StrLen => format!("CAST(length({}) AS BIGINT)", a[0]),
                    Func::IsNull => format!("({} IS NULL)", a[0]),
                    Func::IsNotNull => format!("({} IS NOT NULL)", a[0]),
                    Func::IsEmpty if args[0].ty == Type::String => {
                        format!("({0} IS NULL OR {0} = '')", a[0])
                    }
                    Func::IsEmpty => format!("({} IS NULL)", a[0]),
                    Func::IsNotEmpty if args[0].ty == Type::String => {
                        format!("({0} IS NOT NULL AND {0} <> '')", a[0])
                    }
                    Func::IsNotEmpty => format!("({} IS NOT NULL)", a[0]),
                    Func::Iff => format!("(CASE WHEN {} THEN {} ELSE {} END)", a[0], a[1], a[2]),
                }
            }
        }
    }
}

/// The statement for `plan` and its parameters: the plan's CTEs, then its columns (bools as
/// 0/1) in the result order, at most `limit + 1` rows (the extra one says "truncated").
pub(crate) fn statement(plan: &Plan) -> (String, Vec<Param>) {
    let mut sql = Sql {
        ctes: Vec::new(),
        params: Vec::new(),
    };
    let last = sql.node(&plan.root, plan);
    let cols = plan
        .columns()
        .iter()
        .map(|c| match c.ty {
            Type::Bool => format!(
                "CAST(CASE WHEN {0} THEN 1 WHEN NOT {0} THEN 0 END AS BIGINT) AS {0}",
                q(&c.name)
            ),
            _ => q(&c.name),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let order = Sql::order_by(&plan.root);
    let limit = sql.bind(Param::Int(i64::from(plan.limit) + 1));
    let text = format!(
        "WITH {} SELECT {cols} FROM {last} {order} LIMIT {limit}",
        sql.ctes.join(", ")
    );
    (text, sql.params)
}

fn raw(row: &DbRow, i: usize, ty: Type) -> Raw {
    let int = || {
        row.try_get::<Option<i64>, _>(i)
            .ok()
            .flatten()
            .map(Raw::Int)
    };
    let real = || {
        row.try_get::<Option<f64>, _>(i)
            .ok()
            .flatten()
            .map(Raw::Real)
    };
    let text = || {
        row.try_get::<Option<String>, _>(i)
            .ok()
            .flatten()
            .map(Raw::Text)
    };
    let v = match ty {
        Type::Long | Type::DateTime | Type::TimeSpan | Type::Bool => int().or_else(real),
        Type::Real => real().or_else(int),
        Type::String | Type::Dynamic => text(),
    };
    v.unwrap_or(Raw::Null)
}

/// Run a hunting plan read-only, under `timeout`.
pub(crate) async fn hunt(store: &SqlStore, plan: &Plan, timeout: Duration) -> StoreResult<Rows> {
    let (text, params) = statement(plan);
    let mut tx = store.reader.begin().await.map_err(super::db)?;
    hunt_begin(&mut tx, timeout).await.map_err(super::db)?;
    let mut query = sqlx::query(&text);
    for p in params {
        query = match p {
            Param::Int(v) => query.bind(v),
            Param::Real(v) => query.bind(v),
            Param::Text(v) => query.bind(v),
        };
    }
    let fetched = query.fetch_all(&mut *tx).await;
    hunt_end(&mut tx).await;
    // read-only: nothing to commit
    let _ = tx.rollback().await;
    let fetched = fetched.map_err(|e| {
        if hunt_is_timeout(&e) {
            StoreError::Timeout(format!(
                "the query ran longer than {} ms: narrow the time range or filter earlier",
                timeout.as_millis()
            ))
        } else {
            super::db(e)
        }
    })?;
    let columns = plan.columns().to_vec();
    let truncated = fetched.len() > plan.limit as usize;
    let rows = fetched
        .iter()
        .take(plan.limit as usize)
        .map(|r| {
            columns
                .iter()
                .enumerate()
                .map(|(i, c)| render(c.ty, raw(r, i, c.ty)))
                .collect()
        })
        .collect();
    Ok(Rows {
        columns,
        rows,
        truncated,
    })
}
