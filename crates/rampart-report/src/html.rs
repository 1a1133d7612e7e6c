//! The report as a standalone HTML page, and the console's report view.
//!
//! Written with maud, which escapes every interpolated value: a path, a user agent or a
//! comment holding markup is text. The standalone page has no script and one stylesheet in a
//! `<style>` element, allowed by a `Content-Security-Policy` meta element by its hash
//! (`default-src 'none'`: nothing else loads or runs, forms go nowhere). The console view
//! draws the same sections inside the console's layout (its own stylesheet, no inline
//! style) with an apply form for each lesson Rampart can apply.

use base64::Engine as _;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use rampart_console::{Nav, Viewer};
use rampart_model::Permission;
use sha2::{Digest, Sha256};

use crate::build::{build, Block, Report};
use crate::lessons::{Lesson, LessonKind};
use crate::{Format, ReportData};

/// The standalone page's stylesheet.
const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2330}\
h1{font-size:1.5rem}h2{border-bottom:1px solid #ccd;padding-bottom:.2rem;margin-top:2rem}\
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccd;padding:.25rem .4rem;text-align:left;vertical-align:top;word-break:break-word}\
pre{background:#f3f4f7;padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}\
.note{color:#5b6270;font-style:italic}dl{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem}dt{font-weight:600}dd{margin:0}";

/// The standalone page's Content-Security-Policy: nothing loads, nothing runs, the one
/// `<style>` element applies (by its hash).
pub fn csp() -> String {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'none'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// The report of `data` as a standalone HTML page.
pub fn html(data: &ReportData) -> String {
    let r = build(data);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(csp());
                meta name="referrer" content="no-referrer";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (r.title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { (r.title) }
                (sections(&r))
            }
        }
    }
    .into_string()
}

/// The sections of a report (for the standalone page and the console view).
pub fn sections(r: &Report) -> Markup {
    html! {
        @for s in &r.sections {
            section.report-section id={ "report-" (s.id) } {
                h2 { (s.title) }
                @for b in &s.blocks { (block(b)) }
            }
        }
    }
}

fn block(b: &Block) -> Markup {
    html! {
        @match b {
            Block::Heading(h) => h3 { (h) },
            Block::Para(p) => p { (p) },
            Block::Note(n) => p.note { (n) },
            Block::Fields(f) => dl {
                @for (k, v) in f { dt { (k) } dd { (v) } }
            },
            Block::List(items) => ul {
                @for i in items { li { (i) } }
            },
            Block::Table(head, rows) => table {
                thead { tr { @for h in head { th { (h) } } } }
                tbody {
                    @for r in rows { tr { @for c in r { td { (c) } } } }
                }
            },
            Block::Code(lines) => pre { code {
                @for (i, l) in lines.iter().enumerate() {
                    @if i > 0 { "\n" }
                    (l)
                }
            } },
        }
    }
}

/// What the console's report view shows.
#[derive(Debug)]
pub struct ConsoleView<'a> {
    /// The report's data.
    pub data: &'a ReportData,
    /// A message after an apply form was sent.
    pub flash: Option<&'a str>,
}

/// The permission applying a lesson needs (`None`: Rampart cannot apply it).
pub fn apply_permission(l: &Lesson) -> Option<Permission> {
    l.apply.as_ref()?;
    match l.kind {
        LessonKind::Suppression => Some(Permission::ManageAutomation),
        LessonKind::RateLimit => Some(Permission::ContainLow),
        LessonKind::OpenApiEntry | LessonKind::DetectorThreshold => None,
    }
}

/// The console route (under `/incidents/{id}/review/`) that applies a lesson: `apply-rule`
/// for automation rules, `apply-action` for containment actions.
pub fn apply_path(l: &Lesson) -> &'static str {
    match l.kind {
        LessonKind::Suppression => "apply-rule",
        _ => "apply-action",
    }
}

/// The console's report view: download links, the sections, and an apply form for each
/// lesson Rampart can apply that the viewer's role may apply.
pub fn console_page(v: &Viewer, view: &ConsoleView<'_>) -> Markup {
    let r = build(view.data);
    let id = view.data.detail.incident.id;
    rampart_console::page(
        Some(v),
        Nav::Incidents,
        &format!("Report #{id}"),
        html! {
            @if let Some(f) = view.flash { (rampart_console::flash("ok", f)) }
            section.card id="report" data-id=(id) {
                p { a href={ "/incidents/" (id) } { "Back to incident #" (id) } }
                h1 { (r.title) }
                p.downloads id="report-downloads" {
                    "Download: "
                    @for f in Format::ALL {
                        a.button id={ "report-" (f.as_str()) } href={ "/incidents/" (id) "/report?format=" (f.as_str()) } { (f.as_str()) }
                        " "
                    }
                }
                @if r.lessons.iter().any(|l| l.apply.is_some()) {
                    section id="report-apply" {
                        h2 { "Apply a lesson" }
                        ul {
                            @for l in &r.lessons {
                                @if let Some(p) = apply_permission(l) {
                                    li {
                                        (l.title) " "
                                        @if v.can(p) {
                                            form.inline method="post" action={ "/incidents/" (id) "/review/" (apply_path(l)) } {
                                                (v.csrf_field())
                                                input type="hidden" name="lesson" value=(l.key);
                                                button type="submit" data-confirm={ "Apply: " (l.title) "?" } { "Apply" }
                                            }
                                        } @else {
                                            span.muted { "(needs " (p.as_str()) ")" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                (sections(&r))
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_hashes_the_style() {
        let c = csp();
        assert!(
            c.starts_with("default-src 'none'; style-src 'sha256-"),
            "{c}"
        );
        assert!(!c.contains("-inline") && !c.contains("-eval"), "{c}");
    }
}
