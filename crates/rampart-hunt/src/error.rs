//! The one error type of the language: every variant names the byte position (0-based, in the
//! query text) and the offending token.

/// Why a query was refused. Messages are lowercase and name the position and the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HuntError {
    /// The text does not follow the grammar.
    #[error("syntax error at {pos}: expected {expected}, found {}", shown(.token))]
    Syntax {
        /// Byte position of the token.
        pos: usize,
        /// The token found (empty at the end of the query).
        token: String,
        /// What the grammar allowed there.
        expected: String,
    },
    /// A table the language does not know.
    #[error("unknown table {token} at {pos}{}", hint(.suggestion))]
    UnknownTable {
        /// Byte position of the name.
        pos: usize,
        /// The name.
        token: String,
        /// The closest known table.
        suggestion: Option<String>,
    },
    /// A column the relation at that point does not have.
    #[error("unknown column {token} at {pos}{}", hint(.suggestion))]
    UnknownColumn {
        /// Byte position of the name.
        pos: usize,
        /// The name.
        token: String,
        /// The closest column of the relation.
        suggestion: Option<String>,
    },
    /// A function or aggregate the language does not know (or not in that place).
    #[error("unknown function {token} at {pos}{}", hint(.suggestion))]
    UnknownFunction {
        /// Byte position of the name.
        pos: usize,
        /// The name.
        token: String,
        /// The closest known function.
        suggestion: Option<String>,
    },
    /// Operands or arguments of the wrong type.
    #[error("type error at {pos} ({}): {message}", shown(.token))]
    Type {
        /// Byte position of the operator or argument.
        pos: usize,
        /// The token.
        token: String,
        /// What was wrong.
        message: String,
    },
    /// Well-formed but not accepted (a duplicate column name, an invalid regex, an
    /// unsupported join kind, a bound exceeded).
    #[error("invalid query at {pos} ({}): {message}", shown(.token))]
    Invalid {
        /// Byte position of the token.
        pos: usize,
        /// The token.
        token: String,
        /// What was wrong.
        message: String,
    },
}

fn shown(token: &str) -> String {
    if token.is_empty() {
        "end of query".to_string()
    } else {
        format!("{token:?}")
    }
}

fn hint(s: &Option<String>) -> String {
    s.as_ref()
        .map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default()
}

impl HuntError {
    /// Byte position of the offending token in the query text.
    pub fn position(&self) -> usize {
        match self {
            HuntError::Syntax { pos, .. }
            | HuntError::UnknownTable { pos, .. }
            | HuntError::UnknownColumn { pos, .. }
            | HuntError::UnknownFunction { pos, .. }
            | HuntError::Type { pos, .. }
            | HuntError::Invalid { pos, .. } => *pos,
        }
    }

    /// The offending token (empty at the end of the query).
    pub fn token(&self) -> &str {
        match self {
            HuntError::Syntax { token, .. }
            | HuntError::UnknownTable { token, .. }
            | HuntError::UnknownColumn { token, .. }
            | HuntError::UnknownFunction { token, .. }
            | HuntError::Type { token, .. }
            | HuntError::Invalid { token, .. } => token,
        }
    }
}

/// The candidate closest to `name` (case-insensitive equality first, then edit distance at
/// most a third of the name's length, at least 2).
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = if c.eq_ignore_ascii_case(name) {
            0
        } else {
            distance(&lower, &c.to_ascii_lowercase())
        };
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let limit = (name.chars().count() / 3).max(2);
    best.filter(|(d, _)| *d <= limit)
        .map(|(_, c)| c.to_string())
}

/// Levenshtein distance over chars.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_prefer_case_then_distance() {
        let cols = ["ClientIp", "Client", "Status", "Path"];
        assert_eq!(suggest("clientip", cols).as_deref(), Some("ClientIp"));
        assert_eq!(suggest("Stauts", cols).as_deref(), Some("Status"));
        assert_eq!(suggest("Zebra", cols), None);
    }
}
