//! The report as CommonMark. Text is escaped (the punctuation that makes emphasis, code,
//! links, images, headings and table cells is backslash-escaped, `<`, `>` and `&` become
//! entities, line breaks become spaces), so no attacker value makes a link, an image, raw HTML or a heading;
//! verbatim lines go in a fence longer than any backtick run they hold.

use crate::build::{build, Block};
use crate::ReportData;

/// The report of `data` as Markdown.
pub fn markdown(data: &ReportData) -> String {
    let r = build(data);
    let mut out = String::new();
    out.push_str(&format!("# {}\n\n", text(&r.title)));
    for s in &r.sections {
        out.push_str(&format!("## {}\n\n", text(s.title)));
        for b in &s.blocks {
            block(&mut out, b);
        }
    }
    out
}

fn block(out: &mut String, b: &Block) {
    match b {
        Block::Heading(h) => out.push_str(&format!("### {}\n\n", text(h))),
        Block::Para(p) => out.push_str(&format!("{}\n\n", text(p))),
        Block::Note(n) => out.push_str(&format!("_{}_\n\n", text(n))),
        Block::Fields(f) => {
            for (k, v) in f {
                out.push_str(&format!("- **{}**: {}\n", text(k), text(v)));
            }
            out.push('\n');
        }
        Block::List(items) => {
            for i in items {
                out.push_str(&format!("- {}\n", text(i)));
            }
            out.push('\n');
        }
        Block::Table(head, rows) => {
            let row = |cells: &[String]| {
                let cells: Vec<String> = cells.iter().map(|c| cell(c)).collect();
                format!("| {} |\n", cells.join(" | "))
            };
            out.push_str(&row(head));
            out.push_str(&format!("|{}\n", " --- |".repeat(head.len())));
            for r in rows {
                out.push_str(&row(r));
            }
            out.push('\n');
        }
        Block::Code(lines) => {
            let fence = fence(lines);
            out.push_str(&format!("{fence}text\n"));
            for l in lines {
                out.push_str(&verbatim(l));
                out.push('\n');
            }
            out.push_str(&format!("{fence}\n\n"));
        }
    }
}

/// A fence of backticks longer than any run of backticks in `lines` (at least three).
fn fence(lines: &[String]) -> String {
    let mut longest = 0;
    for l in lines {
        let mut run = 0;
        for c in l.chars() {
            run = if c == '`' { run + 1 } else { 0 };
            longest = longest.max(run);
        }
    }
    "`".repeat((longest + 1).max(3))
}

/// A verbatim line: control characters (a line break would end the fence's line early)
/// shown as `\xNN` / `\u{..}`.
fn verbatim(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Inline text, escaped.
pub(crate) fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' | '\n' | '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{fffd}'),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '{' | '}' | '#' | '!' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A table cell: escaped text (`|` is punctuation, so escaped too).
fn cell(s: &str) -> String {
    text(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_markup() {
        assert_eq!(
            text("<script>alert(1)</script> [x](javascript:y) # *b*\nnext"),
            r"&lt;script&gt;alert\(1\)&lt;/script&gt; \[x\]\(javascript:y\) \# \*b\* next"
        );
    }

    #[test]
    fn fence_outgrows_backticks_in_the_lines() {
        assert_eq!(fence(&["a ``` b".into()]), "````");
        assert_eq!(fence(&["plain".into()]), "```");
    }

    #[test]
    fn verbatim_shows_control_characters() {
        assert_eq!(verbatim("a\nb\x1b"), "a\\x0ab\\x1b");
    }
}
