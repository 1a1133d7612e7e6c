//! The post-incident review: one report per incident, generated on demand as Markdown, HTML or
//! PDF.
//!
//! The server (or the CLI) gathers a [`ReportData`] from the store; this crate turns it into
//! a [`Report`] (sections of [`Block`]s, built once by [`build`]) and renders that with
//! [`markdown`], [`html`] or [`pdf`]. The [`lessons`] are suggestions derived from the
//! incident (a suppression rule for a benign or false-positive incident, a rate limit for a
//! volumetric attack, an OpenAPI entry for a shadow endpoint, a detector threshold hint); the
//! ones Rampart can apply carry the exact API request that applies them.
//!
//! Pure: no I/O, no clock (the generation time is part of [`ReportData`]). Every value that
//! came from traffic (paths, user agents, raw lines, comments, entity values) is text to the
//! renderers: HTML escapes it (maud), Markdown escapes it or fences it, PDF draws it with an
//! embedded font (characters it has no glyph for become `?`).

use rampart_contain::recovery::Containment;
use rampart_model::{Action, IncidentDetail, Task, Timestamp};

mod build;
pub mod html;
pub mod lessons;
mod markdown;
mod pdf;
pub mod soc;

pub use build::{build, Block, Report, Section};
pub use html::html;
pub use lessons::{lessons, ApplyRequest, Lesson, LessonKind};
pub use markdown::markdown;
pub use pdf::pdf;

/// Most evidence lines a report shows.
pub const MAX_EVIDENCE_LINES: usize = 100;
/// Most bytes of evidence (raw lines, summed) a report shows.
pub const MAX_EVIDENCE_BYTES: usize = 32 * 1024;
/// Longest evidence line shown, in bytes (the rest is cut, and the cut is said).
pub const MAX_LINE_BYTES: usize = 2048;

/// Everything a report is made of, gathered from the store by the caller.
#[derive(Debug, Clone)]
pub struct ReportData {
    /// The incident with its alerts (their evidence, MITRE and OWASP mapping) and comments.
    pub detail: IncidentDetail,
    /// Its containment actions, newest first.
    pub actions: Vec<Action>,
    /// The containment verdict and its attacker entities, when it was assessed.
    pub containment: Option<Containment>,
    /// Its recovery tasks, oldest first.
    pub tasks: Vec<Task>,
    /// Endpoints (`METHOD /template`) the incident touched that the loaded OpenAPI spec does
    /// not document; `None` when no spec is loaded (shadow endpoints are then not known).
    pub shadow_endpoints: Option<Vec<String>>,
    /// When the report was generated (wall clock, passed in).
    pub generated_at: Timestamp,
    /// Who asked for it (`user:alice`, a token name, `cli`).
    pub generated_by: String,
}

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A standalone HTML page (no script, inline-free).
    Html,
    /// Markdown (CommonMark).
    Markdown,
    /// PDF.
    Pdf,
}

impl Format {
    /// Every format, in the order the console offers them.
    pub const ALL: [Format; 3] = [Format::Html, Format::Markdown, Format::Pdf];

    /// Parse a format name: `html`, `md` (or `markdown`), `pdf`.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "html" => Some(Format::Html),
            "md" | "markdown" => Some(Format::Markdown),
            "pdf" => Some(Format::Pdf),
            _ => None,
        }
    }

    /// The name [`Format::parse`] reads, and the file extension.
    pub const fn as_str(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Markdown => "md",
            Format::Pdf => "pdf",
        }
    }

    /// The media type of the rendered report.
    pub const fn content_type(self) -> &'static str {
        match self {
            Format::Html => "text/html; charset=utf-8",
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Pdf => "application/pdf",
        }
    }

    /// The file name a download suggests: `incident-42-report.pdf`.
    pub fn file_name(self, incident_id: i64) -> String {
        format!("incident-{incident_id}-report.{}", self.as_str())
    }
}

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The embedded font did not parse (a build problem, never input-dependent).
    #[error("embedded font does not parse: {0}")]
    Font(String),
}

/// Render `data` as `format`.
pub fn render(data: &ReportData, format: Format) -> Result<Vec<u8>, ReportError> {
    Ok(match format {
        Format::Html => html(data).into_bytes(),
        Format::Markdown => markdown(data).into_bytes(),
        Format::Pdf => pdf(data)?,
    })
}

/// The evidence a report shows: raw lines of the alerts' evidence events, oldest first,
/// bounded by [`MAX_EVIDENCE_LINES`], [`MAX_EVIDENCE_BYTES`] and [`MAX_LINE_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The lines shown: (alert id, event time, raw line, cut at [`MAX_LINE_BYTES`]).
    pub lines: Vec<(i64, Timestamp, String)>,
    /// Evidence events the alerts hold, all of them.
    pub total: usize,
    /// Lines cut at [`MAX_LINE_BYTES`].
    pub cut_lines: usize,
}

impl Evidence {
    /// Whether some evidence is not shown.
    pub fn truncated(&self) -> bool {
        self.lines.len() < self.total || self.cut_lines > 0
    }
}

/// The bounded evidence of `data` (duplicate raw lines shown once).
pub fn evidence(data: &ReportData) -> Evidence {
    let mut all: Vec<(i64, Timestamp, &str)> = Vec::new();
    for a in &data.detail.alerts {
        for e in &a.draft.evidence {
            all.push((a.id, e.ts, e.raw.as_ref()));
        }
    }
    all.sort_by(|x, y| x.1.cmp(&y.1).then(x.0.cmp(&y.0)));
    all.dedup_by(|x, y| x.2 == y.2);
    let total = all.len();
    let (mut lines, mut bytes, mut cut_lines) = (Vec::new(), 0usize, 0usize);
    for (alert, ts, raw) in all {
        if lines.len() >= MAX_EVIDENCE_LINES {
            break;
        }
        let mut text = cut(raw, MAX_LINE_BYTES).to_string();
        if text.len() < raw.len() {
            cut_lines += 1;
            text.push_str(" [cut]");
        }
        if bytes + text.len() > MAX_EVIDENCE_BYTES {
            break;
        }
        bytes += text.len();
        lines.push((alert, ts, text));
    }
    Evidence {
        lines,
        total,
        cut_lines,
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub(crate) fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A time as the report writes it: RFC 3339 in UTC.
pub(crate) fn time(t: Timestamp) -> String {
    t.to_rfc3339()
}

#[cfg(test)]
pub(crate) mod test_data;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_data::{alert, data, event, incident_with};
    use rampart_model::{AttackStage, Classification};

    fn sample() -> ReportData {
        data(
            incident_with(Classification::TruePositive),
            vec![alert(
                "API_RateSpike",
                AttackStage::Impact,
                Some("API4:2023"),
            )],
        )
    }

    #[test]
    fn html_escapes_attacker_values_and_has_no_script() {
        let out = html(&sample());
        assert!(
            out.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{out}"
        );
        assert!(out.contains("&lt;img src=x onerror=alert(2)&gt;"));
        assert!(out.contains("seen &lt;b&gt;before&lt;/b&gt;"));
        assert!(!out.contains("<script"), "no script element");
        assert!(!out.contains("<img"), "no attacker element");
        assert!(!out.contains("<b>"));
        assert!(!out.contains("style="), "no inline style attribute");
        for id in [
            "summary",
            "classification",
            "timeline",
            "entities",
            "evidence",
            "actions",
            "tasks",
            "comments",
            "mapping",
            "lessons",
        ] {
            assert!(out.contains(&format!("id=\"report-{id}\"")), "section {id}");
        }
        assert!(
            out.contains("/api/v1/actions"),
            "the rate-limit lesson's request"
        );
    }

    #[test]
    fn markdown_keeps_attacker_values_inert() {
        let out = markdown(&sample());
        // outside the fences (verbatim code) no markup is left
        let mut outside = String::new();
        let mut fenced = false;
        for l in out.lines() {
            if l.starts_with("```") {
                fenced = !fenced;
            } else if !fenced {
                outside.push_str(l);
                outside.push('\n');
            }
        }
        assert!(!fenced, "every fence is closed");
        assert!(!outside.contains("<script"), "{outside}");
        assert!(
            outside.contains("&lt;script&gt;alert\\(1\\)&lt;/script&gt;"),
            "{outside}"
        );
        assert!(!outside.contains("<b>"));
        assert!(!out.contains("](javascript"), "no link");
        assert!(out.contains(r"\[link\]\(javascript:alert\(3\)\)"));
        // the raw line is verbatim, inside a fence
        let raw = "\"<script>alert(1)</script>\"";
        let at = out.find(raw).expect("the raw line is shown verbatim");
        let before = &out[..at];
        assert_eq!(before.matches("```").count() % 2, 1, "inside a fence");
        assert!(out.contains("## Lessons"));
    }

    #[test]
    fn pdf_is_a_pdf_with_the_font_and_pages() {
        let out = pdf(&sample()).expect("a pdf");
        assert!(out.starts_with(b"%PDF-"));
        assert!(out.ends_with(b"%%EOF\n") || out.ends_with(b"%%EOF"));
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("/FontFile2"));
        assert!(text.contains("/Identity-H"));
        assert!(
            text.contains("/Count 1") || text.contains("/Count 2"),
            "one or two pages"
        );
    }

    #[test]
    fn evidence_is_bounded_and_says_so() {
        let mut d = sample();
        let mut a = d.detail.alerts[0].clone();
        a.draft.evidence = (0..MAX_EVIDENCE_LINES as i64 + 30)
            .map(|i| {
                let mut e = event(Timestamp(i));
                e.raw = format!(
                    "line {i} {}",
                    "x".repeat(if i == 0 { MAX_LINE_BYTES } else { 10 })
                )
                .into();
                e
            })
            .collect();
        d.detail.alerts = vec![a];
        let ev = evidence(&d);
        assert_eq!(ev.total, MAX_EVIDENCE_LINES + 30);
        assert_eq!(ev.lines.len(), MAX_EVIDENCE_LINES);
        assert_eq!(ev.cut_lines, 1);
        assert!(ev.lines[0].2.ends_with(" [cut]"));
        assert!(ev.truncated());
        let md = markdown(&d);
        assert!(
            md.contains("Truncated: 100 of 130 evidence line\\(s\\) shown"),
            "{md}"
        );
    }

    #[test]
    fn evidence_bytes_are_capped() {
        let mut d = sample();
        let mut a = d.detail.alerts[0].clone();
        a.draft.evidence = (0..40)
            .map(|i| {
                let mut e = event(Timestamp(i));
                e.raw = format!("{i:04} {}", "y".repeat(MAX_LINE_BYTES - 10)).into();
                e
            })
            .collect();
        d.detail.alerts = vec![a];
        let ev = evidence(&d);
        let bytes: usize = ev.lines.iter().map(|l| l.2.len()).sum();
        assert!(bytes <= MAX_EVIDENCE_BYTES);
        assert!(ev.lines.len() < 40);
        assert!(ev.truncated());
    }

    #[test]
    fn formats_parse_and_name_their_types() {
        for f in Format::ALL {
            assert_eq!(Format::parse(f.as_str()), Some(f));
        }
        assert_eq!(Format::parse("docx"), None);
        assert_eq!(Format::Pdf.content_type(), "application/pdf");
        assert_eq!(Format::Markdown.file_name(3), "incident-3-report.md");
    }
}
