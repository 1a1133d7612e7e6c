//! Tokens -> [`ast::Query`](crate::ast::Query), by recursive descent. Every error names the
//! token where the grammar stopped.

use crate::ast::*;
use crate::error::HuntError;
use crate::lexer::{lex, Tok, Token};

/// Operators that compare a value with a string (case-insensitive unless `cs`, as in KQL).
pub const STRING_OPS: &[&str] = &[
    "has",
    "!has",
    "contains",
    "!contains",
    "startswith",
    "!startswith",
    "endswith",
    "!endswith",
];

/// The tabular operators, for suggestions.
const OPERATORS: &[&str] = &[
    "where",
    "project",
    "project-away",
    "extend",
    "summarize",
    "sort",
    "order",
    "top",
    "take",
    "limit",
    "join",
    "count",
    "distinct",
];

/// Parse a query.
pub fn parse(text: &str) -> Result<Query, HuntError> {
    let tokens = lex(text)?;
    let mut p = Parser {
        text,
        tokens,
        at: 0,
    };
    let mut lets = Vec::new();
    while p.is_ident("let") {
        p.bump();
        let name = p.name("a name after let")?;
        p.expect("=")?;
        let value = p.expr()?;
        p.expect(";")?;
        lets.push(Let { name, value });
    }
    let pipeline = p.pipeline()?;
    if p.is_punct(";") {
        p.bump();
    }
    if p.peek().tok != Tok::Eof {
        return Err(p.unexpected("| or the end of the query"));
    }
    Ok(Query { lets, pipeline })
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }
    fn peek2(&self) -> &Token {
        &self.tokens[(self.at + 1).min(self.tokens.len() - 1)]
    }
    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.at < self.tokens.len() - 1 {
            self.at += 1;
        }
        t
    }
    fn token_text(&self, t: &Token) -> String {
        t.tok.describe(self.text, t)
    }
    fn unexpected(&self, expected: &str) -> HuntError {
        let t = self.peek();
        HuntError::Syntax {
            pos: t.start,
            token: self.token_text(t),
            expected: expected.to_string(),
        }
    }
    fn is_ident(&self, word: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(w) if w == word)
    }
    fn is_punct(&self, p: &str) -> bool {
        matches!(&self.peek().tok, Tok::Punct(q) if *q == p)
    }
    fn expect(&mut self, p: &str) -> Result<Token, HuntError> {
        if self.is_punct(p) {
            Ok(self.bump())
        } else {
            Err(self.unexpected(p))
        }
    }
    fn keyword(&mut self, word: &str) -> Result<(), HuntError> {
        if self.is_ident(word) {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected(word))
        }
    }
    fn name(&mut self, expected: &str) -> Result<Name, HuntError> {
        match &self.peek().tok {
            Tok::Ident(w) if !w.starts_with('!') => {
                let name = Name {
                    text: w.clone(),
                    pos: self.peek().start,
                };
                self.bump();
                Ok(name)
            }
            _ => Err(self.unexpected(expected)),
        }
    }
    fn int(&mut self, expected: &str) -> Result<Lit, HuntError> {
        match self.peek().tok {
            Tok::Int(v) => {
                let pos = self.bump().start;
                Ok(Lit { value: v, pos })
            }
            _ => Err(self.unexpected(expected)),
        }
    }

    fn pipeline(&mut self) -> Result<Pipeline, HuntError> {
        let table = self.name("a table name")?;
        let mut ops = Vec::new();
        while self.is_punct("|") {
            self.bump();
            ops.push(self.operator()?);
        }
        Ok(Pipeline { table, ops })
    }

    fn operator(&mut self) -> Result<Op, HuntError> {
        let t = self.peek().clone();
        let Tok::Ident(word) = &t.tok else {
            return Err(self.unexpected("an operator (where, project, summarize, ...)"));
        };
        let word = word.clone();
        self.bump();
        Ok(match word.as_str() {
            "where" | "filter" => Op::Where(self.expr()?),
            "project" => Op::Project(self.items()?),
            "project-away" => {
                let mut names = vec![self.name("a column name")?];
                while self.is_punct(",") {
                    self.bump();
                    names.push(self.name("a column name")?);
                }
                Op::ProjectAway(names)
            }
            "extend" => Op::Extend(self.items()?),
            "summarize" => {
                let aggs = if self.is_ident("by") {
                    Vec::new()
                } else {
                    self.items()?
                };
                let by = if self.is_ident("by") {
                    self.bump();
                    self.items()?
                } else {
                    Vec::new()
                };
                if aggs.is_empty() && by.is_empty() {
                    return Err(self.unexpected("an aggregate or by"));
                }
                Op::Summarize {
                    aggs,
                    by,
                    pos: t.start,
                }
            }
            "count" => Op::Count(t.start),
            "distinct" => Op::Distinct(self.items()?),
            "sort" | "order" => {
                self.keyword("by")?;
                let mut keys = vec![self.sort_key()?];
                while self.is_punct(",") {
                    self.bump();
                    keys.push(self.sort_key()?);
                }
                Op::Sort(keys)
            }
            "top" => {
                let n = self.int("a row count")?;
                self.keyword("by")?;
                Op::Top {
                    n,
                    key: self.sort_key()?,
                }
            }
            "take" | "limit" => Op::Take(self.int("a row count")?),
            "join" => {
                if self.is_ident("kind") {
                    self.bump();
                    self.expect("=")?;
                    let kind = self.name("a join kind")?;
                    if kind.text != "inner" {
                        return Err(HuntError::Invalid {
                            pos: kind.pos,
                            token: kind.text,
                            message: "only kind=inner joins are supported".into(),
                        });
                    }
                } else {
                    return Err(self.unexpected("kind=inner (the only join kind supported)"));
                }
                self.expect("(")?;
                let right = self.pipeline()?;
                self.expect(")")?;
                self.keyword("on")?;
                let mut on = vec![self.name("a column name to join on")?];
                while self.is_punct(",") {
                    self.bump();
                    on.push(self.name("a column name to join on")?);
                }
                Op::Join {
                    right: Box::new(right),
                    on,
                    pos: t.start,
                }
            }
            _ => {
                return Err(HuntError::UnknownFunction {
                    pos: t.start,
                    token: word.clone(),
                    suggestion: crate::error::suggest(&word, OPERATORS.iter().copied()),
                })
            }
        })
    }

    fn items(&mut self) -> Result<Vec<Item>, HuntError> {
        let mut items = vec![self.item()?];
        while self.is_punct(",") {
            self.bump();
            items.push(self.item()?);
        }
        Ok(items)
    }

    fn item(&mut self) -> Result<Item, HuntError> {
        if matches!(self.peek().tok, Tok::Ident(_)) && matches!(self.peek2().tok, Tok::Punct("=")) {
            let name = self.name("a column name")?;
            self.bump();
            return Ok(Item {
                name: Some(name),
                expr: self.expr()?,
            });
        }
        Ok(Item {
            name: None,
            expr: self.expr()?,
        })
    }

    fn sort_key(&mut self) -> Result<SortKey, HuntError> {
        let expr = self.expr()?;
        let desc = if self.is_ident("asc") {
            self.bump();
            false
        } else {
            if self.is_ident("desc") {
                self.bump();
            }
            true
        };
        Ok(SortKey { expr, desc })
    }

    // --- expressions, loosest first ----------------------------------------------------------

    fn expr(&mut self) -> Result<Expr, HuntError> {
        self.or()
    }

    fn binary(&self, op: &str, t: &Token, l: Expr, r: Expr) -> Expr {
        Expr {
            kind: ExprKind::Binary(op.to_string(), Box::new(l), Box::new(r)),
            pos: t.start,
            token: self.token_text(t),
        }
    }

    fn or(&mut self) -> Result<Expr, HuntError> {
        let mut l = self.and()?;
        while self.is_ident("or") {
            let t = self.bump();
            let r = self.and()?;
            l = self.binary("or", &t, l, r);
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Expr, HuntError> {
        let mut l = self.comparison()?;
        while self.is_ident("and") {
            let t = self.bump();
            let r = self.comparison()?;
            l = self.binary("and", &t, l, r);
        }
        Ok(l)
    }

    fn comparison(&mut self) -> Result<Expr, HuntError> {
        let l = self.additive()?;
        let t = self.peek().clone();
        let op = match &t.tok {
            Tok::Punct(p @ ("==" | "!=" | "<" | "<=" | ">" | ">=" | "=~" | "!~")) => p.to_string(),
            Tok::Ident(w) if STRING_OPS.contains(&w.as_str()) => w.clone(),
            Tok::Ident(w) if w == "matches" => {
                self.bump();
                if !self.is_ident("regex") {
                    return Err(self.unexpected("regex (as in matches regex)"));
                }
                "matches regex".to_string()
            }
            Tok::Ident(w) if w == "in" || w == "!in" => {
                self.bump();
                self.expect("(")?;
                let mut list = vec![self.additive()?];
                while self.is_punct(",") {
                    self.bump();
                    list.push(self.additive()?);
                }
                self.expect(")")?;
                return Ok(Expr {
                    kind: ExprKind::In {
                        lhs: Box::new(l),
                        list,
                        negated: w == "!in",
                    },
                    pos: t.start,
                    token: w.clone(),
                });
            }
            Tok::Ident(w) if w == "between" || w == "!between" => {
                self.bump();
                self.expect("(")?;
                let lo = self.additive()?;
                self.expect("..")?;
                let hi = self.additive()?;
                self.expect(")")?;
                return Ok(Expr {
                    kind: ExprKind::Between {
                        lhs: Box::new(l),
                        lo: Box::new(lo),
                        hi: Box::new(hi),
                        negated: w == "!between",
                    },
                    pos: t.start,
                    token: w.clone(),
                });
            }
            _ => return Ok(l),
        };
        self.bump();
        let r = self.additive()?;
        Ok(self.binary(&op, &t, l, r))
    }

    fn additive(&mut self) -> Result<Expr, HuntError> {
        let mut l = self.multiplicative()?;
        while self.is_punct("+") || self.is_punct("-") {
            let t = self.bump();
            let op = if t.tok == Tok::Punct("+") { "+" } else { "-" };
            let r = self.multiplicative()?;
            l = self.binary(op, &t, l, r);
        }
        Ok(l)
    }

    fn multiplicative(&mut self) -> Result<Expr, HuntError> {
        let mut l = self.unary()?;
        while self.is_punct("*") || self.is_punct("/") || self.is_punct("%") {
            let t = self.bump();
            let Tok::Punct(op) = t.tok else {
                unreachable!()
            };
            let r = self.unary()?;
            l = self.binary(op, &t, l, r);
        }
        Ok(l)
    }

    fn unary(&mut self) -> Result<Expr, HuntError> {
        if self.is_punct("-") {
            let t = self.bump();
            let inner = self.unary()?;
            // fold negative literals
            let kind = match inner.kind {
                ExprKind::Int(v) => ExprKind::Int(-v),
                ExprKind::Real(v) => ExprKind::Real(-v),
                ExprKind::Span(v) => ExprKind::Span(-v),
                k => ExprKind::Unary(
                    "-".into(),
                    Box::new(Expr {
                        kind: k,
                        pos: inner.pos,
                        token: inner.token,
                    }),
                ),
            };
            return Ok(Expr {
                kind,
                pos: t.start,
                token: "-".into(),
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, HuntError> {
        let t = self.peek().clone();
        let token = self.token_text(&t);
        let kind = match &t.tok {
            Tok::Int(v) => ExprKind::Int(*v),
            Tok::Real(v) => ExprKind::Real(*v),
            Tok::Str(s) => ExprKind::Str(s.clone()),
            Tok::Span(v) => ExprKind::Span(*v),
            Tok::DateTime(s) => ExprKind::DateTime(s.clone()),
            Tok::Punct("(") => {
                self.bump();
                let e = self.expr()?;
                self.expect(")")?;
                return Ok(e);
            }
            Tok::Ident(w) if w == "true" || w == "false" => ExprKind::Bool(w == "true"),
            Tok::Ident(w) if !w.starts_with('!') => {
                let w = w.clone();
                self.bump();
                if self.is_punct("(") {
                    self.bump();
                    let mut args = Vec::new();
                    if !self.is_punct(")") {
                        args.push(self.expr()?);
                        while self.is_punct(",") {
                            self.bump();
                            args.push(self.expr()?);
                        }
                    }
                    self.expect(")")?;
                    return Ok(Expr {
                        kind: ExprKind::Call(w, args),
                        pos: t.start,
                        token,
                    });
                }
                return Ok(Expr {
                    kind: ExprKind::Name(w),
                    pos: t.start,
                    token,
                });
            }
            _ => return Err(self.unexpected("a value: a column, a literal or a function call")),
        };
        self.bump();
        Ok(Expr {
            kind,
            pos: t.start,
            token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_pipeline_with_lets_and_a_join() {
        let q = parse(
            "let n = 5; ApiEvents | where Status >= 400 and Path has 'login' \
             | summarize c = count() by ClientIp | where c > n \
             | join kind=inner (Alerts | project ClientIp = Detector) on ClientIp | top 3 by c",
        )
        .unwrap();
        assert_eq!(q.lets.len(), 1);
        assert_eq!(q.pipeline.table.text, "ApiEvents");
        assert_eq!(q.pipeline.ops.len(), 5);
        assert!(matches!(q.pipeline.ops[3], Op::Join { .. }));
    }

    fn err(q: &str) -> (usize, String) {
        let e = parse(q).unwrap_err();
        (e.position(), e.token().to_string())
    }

    #[test]
    fn errors_point_at_the_token() {
        assert_eq!(err("ApiEvents | wher x"), (12, "wher".into()));
        assert_eq!(err("ApiEvents | where"), (17, "".into()));
        assert_eq!(err("ApiEvents | where a == )"), (23, ")".into()));
        assert_eq!(
            err("ApiEvents | join kind=leftouter (Alerts) on X"),
            (22, "leftouter".into())
        );
        assert_eq!(err("ApiEvents | take x"), (17, "x".into()));
        assert_eq!(err("ApiEvents extra"), (10, "extra".into()));
    }
}
