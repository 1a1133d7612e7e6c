//! Hunting: a subset of KQL (the query language of Microsoft Defender and Sentinel) over
//! Rampart's tables (`ApiEvents`, `Alerts`, `Incidents`, `Entities`, `Actions`, `AuditLog`;
//! see [`schema::TABLES`]).
//!
//! `text -> `[`lexer`]` -> `[`parser`]` (`ast`) -> `[`plan`]` (typed, bounded)`; the store turns
//! a [`plan::Plan`] into SQL for its dialect (`rampart-store/sql/hunt.rs`) and answers
//! [`rows::Rows`], rendered by [`rows::render`]. This crate knows no SQL, does no I/O and never
//! reads the clock: `now` comes in [`plan::Options`].
//!
//! Operators: `where`, `project`, `project-away`, `extend`, `summarize ... by ...`, `count`,
//! `distinct`, `sort by` / `order by` (descending by default), `top n by`, `take` / `limit`,
//! `join kind=inner (...) on Key`, and `let name = constant;` before the pipeline.
//! Predicates: `==`, `!=`, `<`, `<=`, `>`, `>=`, `=~`, `!~`, `has`, `contains`,
//! `startswith`, `endswith` (and their `!` forms), `matches regex`, `in`, `!in`, `between`,
//! `and`, `or`, `not()`. Scalars: `ago()`, `now()`, `datetime()`, `bin()`/`floor()`,
//! `tolower()`, `toupper()`, `strlen()`, `isnull()`, `isnotnull()`, `isempty()`,
//! `isnotempty()`, `iff()`. Aggregates: `count()`, `countif()`, `dcount()`, `sum()`, `avg()`,
//! `min()`, `max()`, `percentile(x, p)`, `make_set()`.
//!
//! Where it differs from KQL, on purpose: `has` is whole-term matching over ASCII letters and
//! digits (KQL's term index has more rules); `dcount` is exact; `percentile` is nearest-rank;
//! case-insensitive operators fold ASCII letters only; `join` needs `kind=inner`; results
//! without a `sort` are newest first by `Timestamp` when they have one, then by every column,
//! so every backend answers the same rows in the same order.

pub mod ast;
pub mod error;
pub mod lexer;
pub mod parser;
pub mod plan;
pub mod rows;
pub mod saved;
pub mod schema;
