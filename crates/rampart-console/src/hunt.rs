//! The hunting page (`/hunt`): a query editor with a time range, the results table (at most
//! [`MAX_ROWS`] rows, every value escaped by maud), a bar chart when the query summarizes by
//! `bin()` (server-rendered SVG, attributes only: no inline style), an error with a caret under
//! the offending token, the team's saved queries and custom detections, and the form that
//! saves the query (optionally as a detection).

use maud::{html, Markup};
use rampart_model::Permission;
use serde_json::Value as Json;

use crate::{flash, page, Nav, Viewer};

/// Most rows the page shows (the query's row limit on this page).
pub const MAX_ROWS: u32 = 500;

/// The time ranges the page offers (value, label); `custom` uses `from`/`to`.
pub const RANGES: [(&str, &str); 6] = [
    ("1h", "Last hour"),
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
    ("custom", "Custom (from / to)"),
];

/// The schedules a detection may take on this page.
pub const SCHEDULES: [&str; 7] = ["5m", "15m", "30m", "1h", "6h", "12h", "1d"];

/// The results of a query.
#[derive(Debug, Clone, Default)]
pub struct Results {
    /// Column names and types (`string`, `long`, `datetime`, ...).
    pub columns: Vec<(String, String)>,
    /// Rows, one value per column.
    pub rows: Vec<Vec<Json>>,
    /// Whether there were more rows than shown.
    pub truncated: bool,
    /// How long it took.
    pub elapsed_ms: u64,
}

/// A query that failed: the message and where.
#[derive(Debug, Clone, Default)]
pub struct QueryError {
    /// What is wrong.
    pub message: String,
    /// Byte position in the query, when known.
    pub position: Option<usize>,
}

/// One saved query as the list shows it.
#[derive(Debug, Clone, Default)]
pub struct SavedRow {
    /// Its name.
    pub name: String,
    /// What it looks for.
    pub description: String,
    /// The query text.
    pub query: String,
    /// Who changed it last, and when (RFC 3339).
    pub updated: String,
    /// For a detection: `schedule · window · severity`, and whether it is enabled.
    pub detection: Option<(String, bool)>,
    /// For a detection: its last run, in words.
    pub last_run: Option<String>,
}

/// The detection fields of the save form (pre-filled from a saved query being edited).
#[derive(Debug, Clone)]
pub struct DetectionForm {
    /// Whether the form saves a detection.
    pub enabled: bool,
    /// Schedule.
    pub schedule: String,
    /// Window.
    pub window: String,
    /// Severity.
    pub severity: String,
    /// MITRE techniques, comma separated.
    pub mitre: String,
    /// Title template.
    pub title: String,
    /// Entity mapping, `Column=kind` comma separated.
    pub entities: String,
}

impl Default for DetectionForm {
    fn default() -> Self {
        DetectionForm {
            enabled: false,
            schedule: "1h".into(),
            window: "1h".into(),
            severity: "Medium".into(),
            mitre: String::new(),
            title: String::new(),
            entities: String::new(),
        }
    }
}

/// What the hunting page shows.
#[derive(Debug, Clone, Default)]
pub struct HuntView {
    /// The query in the editor.
    pub query: String,
    /// The selected range (one of [`RANGES`]).
    pub range: String,
    /// The custom range's bounds, as typed.
    pub from: String,
    /// See `from`.
    pub to: String,
    /// The outcome of running the query, when it ran.
    pub outcome: Option<Result<Results, QueryError>>,
    /// The saved queries.
    pub saved: Vec<SavedRow>,
    /// The saved query being edited (its name and description), when one was opened.
    pub name: String,
    /// See `name`.
    pub description: String,
    /// The save form's detection fields.
    pub detection: DetectionForm,
    /// A message after a form was sent (kind, text).
    pub flash: Option<(String, String)>,
}

/// The query with a caret under byte `pos`: the line holding it and a marker line.
pub fn caret(query: &str, pos: usize) -> (String, String) {
    let mut pos = pos.min(query.len());
    while !query.is_char_boundary(pos) {
        pos -= 1;
    }
    let start = query[..pos].rfind('\n').map_or(0, |i| i + 1);
    let end = query[pos..].find('\n').map_or(query.len(), |i| pos + i);
    let line = query[start..end].to_string();
    let col = query[start..pos].chars().count();
    (line, format!("{}^", " ".repeat(col)))
}

fn cell(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The chart of a `summarize ... by bin(...)` result: the first datetime column against the
/// first numeric one, in time order; `None` when the result has no such pair or one row.
fn chart(query: &str, r: &Results) -> Option<Markup> {
    if !(query.contains("summarize") && query.contains("bin(")) {
        return None;
    }
    let t = r.columns.iter().position(|(_, ty)| ty == "datetime")?;
    let y = r
        .columns
        .iter()
        .position(|(_, ty)| ty == "long" || ty == "real")?;
    let mut points: Vec<(String, f64)> = r
        .rows
        .iter()
        .filter_map(|row| Some((row.get(t)?.as_str()?.to_string(), row.get(y)?.as_f64()?)))
        .collect();
    if points.len() < 2 {
        return None;
    }
    points.sort_by(|a, b| a.0.cmp(&b.0));
    let max = points.iter().map(|p| p.1).fold(0.0_f64, f64::max).max(1.0);
    let n = points.len();
    let width = 720.0_f64;
    let bar = (width / n as f64).max(1.0);
    let label_every = (n / 6).max(1);
    let series = &r.columns[y].0;
    Some(html! {
        svg id="hunt-chart" class="hunt-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 740 170" width="740" height="170" role="img" {
            title { (series) " by " (r.columns[t].0) }
            @for (i, (ts, v)) in points.iter().enumerate() {
                @let h = (v / max * 130.0).max(if *v > 0.0 { 1.0 } else { 0.0 });
                rect x=(format!("{:.1}", 10.0 + i as f64 * bar)) y=(format!("{:.1}", 140.0 - h))
                     width=(format!("{:.1}", (bar - 1.0).max(0.5))) height=(format!("{h:.1}")) fill="#3b6ea5" {
                    title { (ts) ": " (v) }
                }
                @if i % label_every == 0 {
                    text x=(format!("{:.1}", 10.0 + i as f64 * bar)) y="158" font-size="10" { (ts.get(5..16).unwrap_or(ts)) }
                }
            }
            text x="10" y="12" font-size="10" { "max " (max) }
        }
    })
}

/// The hunting page.
pub fn hunt_page(v: &Viewer, view: &HuntView) -> Markup {
    let range = if view.range.is_empty() {
        "24h"
    } else {
        view.range.as_str()
    };
    let body = html! {
        header.page-head {
            h1 { "Hunting" }
            span.count { "KQL subset over ApiEvents, Alerts, Incidents, Entities, Actions, AuditLog" }
        }
        @if let Some((kind, text)) = &view.flash { (flash(kind, text)) }
        section.card {
            form id="hunt-form" method="get" action="/hunt" {
                label { "Query"
                    textarea.code name="q" id="hunt-query" rows="6" spellcheck="false" maxlength="10000" required { (view.query) }
                }
                div.row {
                    label { "Time range"
                        select name="range" id="hunt-range" {
                            @for (val, label) in RANGES {
                                option value=(val) selected[val == range] { (label) }
                            }
                        }
                    }
                    label { "From (RFC 3339)" input type="text" name="from" value=(view.from) placeholder="2026-12-01T00:00:00Z"; }
                    label { "To" input type="text" name="to" value=(view.to) placeholder="now"; }
                    button type="submit" id="hunt-run" { "Run" }
                }
            }
            p.muted { "At most " (MAX_ROWS) " rows are shown; a query runs for at most 10 s. Example: "
                code { "ApiEvents | where Status == 401 | summarize n = count() by bin(Timestamp, 1h)" } }
        }
        @match &view.outcome {
            None => {}
            Some(Err(e)) => {
                section.card id="hunt-error" {
                    p.error { (e.message) }
                    @if let Some(pos) = e.position {
                        @let (line, mark) = caret(&view.query, pos);
                        pre.code.caret { (line) "\n" (mark) }
                    }
                }
            }
            Some(Ok(r)) => {
                section.card id="hunt-results" {
                    p.count {
                        (r.rows.len()) " rows"
                        @if r.truncated { " (more matched: narrow the query or the range)" }
                        " · " (r.elapsed_ms) " ms"
                    }
                    @if let Some(c) = chart(&view.query, r) { (c) }
                    @if r.rows.is_empty() {
                        p.muted { "No rows in this time range." }
                    } @else {
                        div.scroll {
                            table.list id="hunt-table" {
                                thead { tr { @for (name, ty) in &r.columns { th title=(ty) { (name) } } } }
                                tbody { @for row in &r.rows { tr { @for val in row { td { (cell(val)) } } } } }
                            }
                        }
                    }
                }
            }
        }
        @if v.can(Permission::Hunt) {
            section.card id="hunt-save" {
                h2 { "Save this query" }
                form method="post" action="/hunt/queries" class="stack" {
                    (v.csrf_field())
                    input type="hidden" name="query" value=(view.query);
                    div.row {
                        label { "Name" input type="text" name="name" value=(view.name) required maxlength="64" pattern="[A-Za-z0-9_.\\-]+"; }
                        label { "Description" input type="text" name="description" value=(view.description) maxlength="2000"; }
                    }
                    fieldset {
                        legend { "Custom detection" }
                        label.inline { input type="checkbox" name="detect" value="on" checked[view.detection.enabled]; " Run on a schedule and raise an alert per row" }
                        div.row {
                            label { "Every" select name="schedule" { @for s in SCHEDULES { option value=(s) selected[s == view.detection.schedule] { (s) } } } }
                            label { "Over the last" input type="text" name="window" value=(view.detection.window) size="6"; }
                            label { "Severity" select name="severity" {
                                @for s in ["Informational", "Low", "Medium", "High", "Critical"] { option value=(s) selected[s == view.detection.severity] { (s) } }
                            } }
                            label { "MITRE techniques" input type="text" name="mitre" value=(view.detection.mitre) placeholder="T1110, T1190"; }
                        }
                        label { "Alert title ({Column} is the row's value)" input type="text" name="title" value=(view.detection.title) maxlength="200" placeholder="{n} failed logins from {ClientIp}"; }
                        label { "Entities (Column=kind: ip, user, api_key, endpoint, service, user_agent)" input type="text" name="entities" value=(view.detection.entities) placeholder="ClientIp=ip, Principal=user"; }
                    }
                    button type="submit" id="hunt-save-button" { "Save" }
                }
            }
        }
        section.card id="hunt-saved" {
            h2 { "Saved queries" }
            @if view.saved.is_empty() {
                p.muted { "None yet." }
            } @else {
                table.list {
                    thead { tr { th { "Name" } th { "Query" } th { "Detection" } th { "Last run" } th { "Changed" } th {} } }
                    tbody {
                        @for s in &view.saved {
                            tr {
                                td { a href=(format!("/hunt?saved={}", crate::fmt::enc(&s.name))) { (s.name) }
                                     @if !s.description.is_empty() { br; span.muted { (s.description) } } }
                                td { code { (s.query.chars().take(160).collect::<String>()) } }
                                td { @match &s.detection {
                                    Some((what, true)) => { span.badge.st-active { "on" } " " (what) }
                                    Some((what, false)) => { span.badge { "off" } " " (what) }
                                    None => { span.muted { "–" } }
                                } }
                                td { (s.last_run.as_deref().unwrap_or("–")) }
                                td.muted { (s.updated) }
                                td { @if v.can(Permission::Hunt) {
                                    form.inline method="post" action=(format!("/hunt/queries/{}/delete", crate::fmt::enc(&s.name))) data-confirm="Delete this saved query?" {
                                        (v.csrf_field())
                                        button.link type="submit" { "Delete" }
                                    }
                                } }
                            }
                        }
                    }
                }
            }
        }
    };
    page(Some(v), Nav::Hunt, "Hunting", body)
}

/// A KQL string literal holding `s`.
pub fn literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The query "hunt from here" opens for an entity: its stored events, or for an endpoint
/// or a kind without an events column, the incidents naming it.
pub fn entity_query(kind: rampart_model::EntityKind, value: &str) -> String {
    use rampart_model::EntityKind as K;
    let column = match kind {
        K::Ip => "ClientIp",
        K::User => "Principal",
        K::ApiKey => "ApiKeyId",
        K::Service => "Service",
        K::UserAgent => "UserAgent",
        K::Endpoint => {
            return format!(
                "Entities | where Kind == \"endpoint\" and Value == {}",
                literal(value)
            )
        }
    };
    format!(
        "ApiEvents | where {column} == {} | sort by Timestamp desc | take 200",
        literal(value)
    )
}

/// The `/hunt` link of "hunt from here" for an entity (last 7 days).
pub fn entity_link(kind: rampart_model::EntityKind, value: &str) -> String {
    format!(
        "/hunt?range=7d&q={}",
        crate::fmt::enc(&entity_query(kind, value))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::viewer;
    use rampart_model::{EntityKind, Role};
    use serde_json::json;

    #[test]
    fn carets_point_at_the_byte_on_its_line() {
        assert_eq!(
            caret("ApiEvents | whre x", 12),
            ("ApiEvents | whre x".into(), "            ^".into())
        );
        assert_eq!(
            caret("ApiEvents\n| whre x", 12),
            ("| whre x".into(), "  ^".into())
        );
        assert_eq!(
            caret("é | x", 3),
            ("é | x".into(), "  ^".into()),
            "columns count characters"
        );
        assert_eq!(caret("ab", 99), ("ab".into(), "  ^".into()));
    }

    #[test]
    fn results_are_escaped_and_charted_when_binned() {
        let view = HuntView {
            query: "ApiEvents | summarize n = count() by bin(Timestamp, 1h)".into(),
            outcome: Some(Ok(Results {
                columns: vec![
                    ("Timestamp".into(), "datetime".into()),
                    ("n".into(), "long".into()),
                ],
                rows: vec![
                    vec![json!("2026-12-01T01:00:00.000Z"), json!(5)],
                    vec![
                        json!("2026-12-01T00:00:00.000Z"),
                        json!("<script>x</script>"),
                    ],
                    vec![json!("2026-12-01T02:00:00.000Z"), json!(9)],
                ],
                truncated: true,
                elapsed_ms: 3,
            })),
            ..Default::default()
        };
        let out = hunt_page(&viewer(Role::Tier3), &view).into_string();
        assert!(out.contains("&lt;script&gt;x&lt;/script&gt;"), "{out}");
        assert!(!out.contains("<script>x"));
        assert!(out.contains("id=\"hunt-chart\""), "binned: charted");
        assert_eq!(
            out.matches("<rect").count(),
            2,
            "the two numeric rows are bars"
        );
        assert!(out.contains("more matched"));
        assert!(out.contains("id=\"hunt-save\""), "tier3 can save");
        assert!(!out.contains("style="));

        let plain = HuntView {
            query: "ApiEvents | take 2".into(),
            outcome: view.outcome.clone(),
            ..Default::default()
        };
        let out = hunt_page(&viewer(Role::Viewer), &plain).into_string();
        assert!(!out.contains("hunt-chart"), "not binned: no chart");
        assert!(!out.contains("id=\"hunt-save\""), "a viewer cannot save");
    }

    #[test]
    fn errors_show_the_query_line_with_a_caret() {
        let view = HuntView {
            query: "ApiEvents\n| whre <b>".into(),
            outcome: Some(Err(QueryError {
                message: "syntax error at 12: expected an operator, found \"whre\"".into(),
                position: Some(12),
            })),
            ..Default::default()
        };
        let out = hunt_page(&viewer(Role::Tier3), &view).into_string();
        assert!(out.contains("| whre &lt;b&gt;\n  ^"), "{out}");
    }

    #[test]
    fn hunt_from_here_quotes_the_value() {
        assert_eq!(
            entity_query(EntityKind::Ip, "203.0.113.9"),
            "ApiEvents | where ClientIp == \"203.0.113.9\" | sort by Timestamp desc | take 200"
        );
        assert_eq!(
            entity_query(EntityKind::UserAgent, "a\"b\\c"),
            "ApiEvents | where UserAgent == \"a\\\"b\\\\c\" | sort by Timestamp desc | take 200"
        );
        assert!(entity_query(EntityKind::Endpoint, "GET /x").starts_with("Entities | where"));
        assert!(entity_link(EntityKind::Ip, "1.2.3.4").starts_with("/hunt?range=7d&q=ApiEvents%20"));
    }
}
