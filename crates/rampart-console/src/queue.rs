//! The incident queue: its view as a query string ([`QueueQuery`]), and its page.
//!
//! Everything the analyst chose (filters, sort, columns, search, time range) is in the URL, so
//! a bookmark, a copied link or a reload shows the same view; saved views store the same query
//! string per user. Pages are keyset-paginated (`after=<cursor>`).

use maud::{html, Markup};
use rampart_model::{
    Classification, Incident, IncidentFilter, IncidentSort, IncidentStatus, Page, Permission,
    SavedView, Severity, Timestamp,
};

use crate::fmt::{self, enc};
use crate::{page, Nav, Viewer};

/// MITRE ATT&CK tactics the queue filters on, with the techniques (and their sub-techniques)
/// Rampart's detectors and rules map to each.
pub const TACTICS: &[(&str, &str, &[&str])] = &[
    (
        "reconnaissance",
        "Reconnaissance",
        &["T1595", "T1592", "T1046"],
    ),
    ("initial-access", "Initial Access", &["T1190", "T1078"]),
    ("persistence", "Persistence", &["T1505", "T1098"]),
    ("credential-access", "Credential Access", &["T1110"]),
    ("discovery", "Discovery", &["T1087", "T1083"]),
    ("collection", "Collection", &["T1530", "T1213"]),
    ("command-and-control", "Command and Control", &["T1090"]),
    ("impact", "Impact", &["T1499"]),
];

/// Time range presets.
pub const RANGES: &[(&str, &str, i64)] = &[
    ("24h", "Last 24 hours", 24 * 3600 * 1000),
    ("7d", "Last 7 days", 7 * 24 * 3600 * 1000),
    ("30d", "Last 30 days", 30 * 24 * 3600 * 1000),
    ("90d", "Last 90 days", 90 * 24 * 3600 * 1000),
    ("all", "Any time", 0),
    ("custom", "Custom", 0),
];

/// Optional columns (`cols=`); title, severity, status and priority are always shown.
pub const COLUMNS: &[(&str, &str)] = &[
    ("owner", "Owner"),
    ("tags", "Tags"),
    ("entities", "Entities"),
    ("alerts", "Alerts"),
    ("classification", "Classification"),
    ("updated", "Last update"),
    ("created", "Created"),
];

const DEFAULT_COLUMNS: &[&str] = &["owner", "tags", "entities", "alerts", "updated"];

/// The queue's view, parsed from and written back to its query string.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueueQuery {
    /// Any of these statuses (none: every status).
    pub status: Vec<IncidentStatus>,
    /// Any of these severities.
    pub severity: Vec<Severity>,
    /// Assigned to exactly this user.
    pub assigned: Option<String>,
    /// Carries this tag.
    pub tag: Option<String>,
    /// Any of these classifications.
    pub classification: Vec<Classification>,
    /// Has an alert of this detector.
    pub detector: Option<String>,
    /// Has an entity with this value.
    pub entity: Option<String>,
    /// Has an alert of this MITRE tactic (an id of [`TACTICS`]).
    pub tactic: Option<String>,
    /// A preset of [`RANGES`] (default `all`) over the last update.
    pub range: String,
    /// Custom range start (`YYYY-MM-DD`, inclusive).
    pub from: Option<String>,
    /// Custom range end (`YYYY-MM-DD`, inclusive).
    pub to: Option<String>,
    /// Sort: `priority`, `severity`, `updated`, `created`.
    pub sort: IncidentSort,
    /// Oldest / lowest first.
    pub ascending: bool,
    /// Free-text search over titles, tags and entity values.
    pub q: Option<String>,
    /// Optional columns shown (ids of [`COLUMNS`]); `None` for the defaults.
    pub cols: Option<Vec<String>>,
    /// Keyset cursor of the page.
    pub after: Option<String>,
}

/// A value of the query string the queue refuses, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadQuery(pub String);

impl QueueQuery {
    /// Parse a query string (unknown keys are ignored, a bad value is an error naming it).
    pub fn parse(query: &str) -> Result<QueueQuery, BadQuery> {
        let mut q = QueueQuery {
            range: "all".into(),
            ..Default::default()
        };
        let bad = |k: &str, v: &str| BadQuery(format!("bad value {v:?} for {k}"));
        let some = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_string());
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let v = v.as_ref();
            match k.as_ref() {
                "status" if !v.is_empty() => q.status.push(v.parse().map_err(|_| bad(&k, v))?),
                "severity" if !v.is_empty() => q.severity.push(v.parse().map_err(|_| bad(&k, v))?),
                "classification" if !v.is_empty() => {
                    q.classification.push(v.parse().map_err(|_| bad(&k, v))?)
                }
                "assigned" => q.assigned = some(v),
                "tag" => q.tag = some(v),
                "detector" => q.detector = some(v),
                "entity" => q.entity = some(v),
                "tactic" if !v.is_empty() => {
                    if !TACTICS.iter().any(|t| t.0 == v) {
                        return Err(bad(&k, v));
                    }
                    q.tactic = Some(v.to_string());
                }
                "range" if !v.is_empty() => {
                    if !RANGES.iter().any(|r| r.0 == v) {
                        return Err(bad(&k, v));
                    }
                    q.range = v.to_string();
                }
                "from" | "to" => {
                    let day = some(v);
                    if day.as_deref().is_some_and(|d| parse_day(d).is_none()) {
                        return Err(bad(&k, v));
                    }
                    if k == "from" {
                        q.from = day;
                    } else {
                        q.to = day;
                    }
                }
                "sort" if !v.is_empty() => {
                    q.sort = match v {
                        "priority" => IncidentSort::Priority,
                        "severity" => IncidentSort::Severity,
                        "updated" => IncidentSort::Updated,
                        "created" => IncidentSort::Created,
                        _ => return Err(bad(&k, v)),
                    }
                }
                "dir" => q.ascending = v == "asc",
                "q" => q.q = some(v),
                "cols" => q.cols.get_or_insert_with(Vec::new).extend(
                    v.split(',')
                        .filter(|c| COLUMNS.iter().any(|x| x.0 == *c))
                        .map(str::to_string),
                ),
                "after" => q.after = some(v),
                _ => {}
            }
        }
        Ok(q)
    }

    /// The query string of this view (without the page cursor unless `with_cursor`).
    pub fn to_query(&self, with_cursor: bool) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for v in &self.status {
            s.append_pair("status", v.as_str());
        }
        for v in &self.severity {
            s.append_pair("severity", v.as_str());
        }
        for v in &self.classification {
            s.append_pair("classification", v.as_str());
        }
        let opt = [
            ("assigned", &self.assigned),
            ("tag", &self.tag),
            ("detector", &self.detector),
            ("entity", &self.entity),
            ("tactic", &self.tactic),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
        ];
        for (k, v) in opt {
            if let Some(v) = v {
                s.append_pair(k, v);
            }
        }
        if self.range != "all" {
            s.append_pair("range", &self.range);
        }
        if self.sort != IncidentSort::Priority {
            s.append_pair("sort", sort_name(self.sort));
        }
        if self.ascending {
            s.append_pair("dir", "asc");
        }
        if let Some(c) = &self.cols {
            s.append_pair("cols", &c.join(","));
        }
        if with_cursor {
            if let Some(a) = &self.after {
                s.append_pair("after", a);
            }
        }
        s.finish()
    }

    /// Whether anything beyond status, severity and search is chosen (the rest of the filter
    /// form starts open then).
    pub fn advanced(&self) -> bool {
        self.assigned.is_some()
            || self.tag.is_some()
            || self.entity.is_some()
            || !self.classification.is_empty()
            || self.detector.is_some()
            || self.tactic.is_some()
            || self.range != "all"
            || self.cols.is_some()
    }

    /// Whether an optional column is shown.
    pub fn shows(&self, col: &str) -> bool {
        match &self.cols {
            Some(c) => c.iter().any(|x| x == col),
            None => DEFAULT_COLUMNS.contains(&col),
        }
    }

    /// The store filter of this view at `now`, `limit` rows a page.
    pub fn to_filter(&self, now: Timestamp, limit: u32) -> IncidentFilter {
        let mut f = IncidentFilter {
            status: self.status.clone(),
            severity: self.severity.clone(),
            assigned_to: self.assigned.clone(),
            tag: self.tag.clone(),
            classification: self.classification.clone(),
            entity: self.entity.clone(),
            text: self.q.clone(),
            detector: self.detector.clone(),
            sort: self.sort,
            ascending: self.ascending,
            limit: Some(limit),
            after: self.after.clone(),
            ..Default::default()
        };
        if let Some(t) = &self.tactic {
            if let Some((_, _, techniques)) = TACTICS.iter().find(|x| x.0 == t) {
                f.techniques = techniques.iter().map(|t| t.to_string()).collect();
            }
        }
        match self.range.as_str() {
            "custom" => {
                f.updated_after = self.from.as_deref().and_then(parse_day);
                f.updated_before = self
                    .to
                    .as_deref()
                    .and_then(parse_day)
                    .map(|t| Timestamp(t.millis() + 24 * 3600 * 1000));
            }
            r => {
                if let Some((_, _, ms)) = RANGES.iter().find(|x| x.0 == r).filter(|x| x.2 > 0) {
                    f.updated_after = Some(Timestamp(now.millis() - ms));
                }
            }
        }
        f
    }
}

fn sort_name(s: IncidentSort) -> &'static str {
    match s {
        IncidentSort::Priority => "priority",
        IncidentSort::Severity => "severity",
        IncidentSort::Updated => "updated",
        IncidentSort::Created => "created",
    }
}

fn parse_day(d: &str) -> Option<Timestamp> {
    let day = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?;
    Some(Timestamp(
        day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis(),
    ))
}

/// What the queue page shows.
pub struct QueueView<'a> {
    /// The view.
    pub query: &'a QueueQuery,
    /// This page of incidents and the total.
    pub page: &'a Page<Incident>,
    /// The cursor of the next page, when there is one.
    pub next: Option<String>,
    /// The viewer's saved views.
    pub views: &'a [SavedView],
    /// Detector ids to offer in the detector filter.
    pub detectors: &'a [String],
    /// User names to offer for assignment.
    pub users: &'a [String],
    /// A message after a bulk change.
    pub flash: Option<&'a str>,
}

/// The queue page.
pub fn queue(v: &Viewer, view: &QueueView<'_>) -> Markup {
    let q = view.query;
    let query = q.to_query(false);
    let link = if query.is_empty() {
        "/incidents".to_string()
    } else {
        format!("/incidents?{query}")
    };
    let triage = v.can(Permission::Triage);
    page(
        Some(v),
        Nav::Incidents,
        "Incidents",
        html! {
            @if let Some(f) = view.flash { (crate::flash("ok", f)) }
            header.page-head {
                h1 { "Incidents" }
                span.count id="total" data-total=(view.page.total) { (view.page.total) " matching" }
                span.spacer {}
                button.secondary type="button" id="copy-link" data-link=(link) { "Copy link" }
                span id="live" class="live" data-since=(view.page.items.iter().map(|i| i.id).max().unwrap_or(0)) hidden { }
            }
            (filters(v, view))
            @if !view.views.is_empty() {
                div.saved-views {
                    "Saved views: "
                    @for sv in view.views {
                        a.chip href={ "/incidents?" (sv.query) } data-view=(sv.name) { (sv.name) }
                        form.inline method="post" action={ "/incidents/views/" (sv.id) "/delete" } {
                            (v.csrf_field())
                            button.link.small type="submit" title="Delete this saved view" { "×" }
                        }
                    }
                }
            }
            form method="post" action="/incidents/bulk" id="bulk-form" {
                (v.csrf_field())
                input type="hidden" name="back" value=(link);
                @if triage {
                    div.bulk id="bulk" {
                        span { "Selected: " }
                        select name="op" id="bulk-op" {
                            option value="assign" { "Assign to" }
                            option value="status" { "Set status" }
                            option value="tag" { "Add tag" }
                            option value="classify" { "Classify" }
                        }
                        input type="text" name="value" id="bulk-value" placeholder="user / status / tag / classification" list="bulk-values";
                        datalist id="bulk-values" {
                            @for u in view.users { option value=(u) {} }
                            @for s in [IncidentStatus::Active, IncidentStatus::InProgress] { option value=(s.as_str()) {} }
                            @for c in Classification::ALL { option value=(c.as_str()) {} }
                        }
                        button type="submit" id="bulk-apply" { "Apply" }
                    }
                }
                table.queue id="queue" {
                    thead { tr {
                        @if triage { th.sel { input type="checkbox" id="select-all" title="Select all on this page"; } }
                        th { (sort_link(q, IncidentSort::Priority, "Priority")) }
                        th { "Incident" }
                        th { (sort_link(q, IncidentSort::Severity, "Severity")) }
                        th { "Status" }
                        @for (id, label) in COLUMNS {
                            @if q.shows(id) {
                                th {
                                    @match *id {
                                        "updated" => (sort_link(q, IncidentSort::Updated, label)),
                                        "created" => (sort_link(q, IncidentSort::Created, label)),
                                        _ => (label),
                                    }
                                }
                            }
                        }
                    } }
                    tbody {
                        @for inc in &view.page.items {
                            tr data-id=(inc.id) {
                                @if triage { td.sel { input type="checkbox" name="id" value=(inc.id); } }
                                td { (fmt::priority(inc)) }
                                td.title {
                                    a href={ "/incidents/" (inc.id) } { (inc.title) }
                                    span.muted.small { " #" (inc.id) }
                                }
                                td { (fmt::severity(inc.severity)) }
                                td { (fmt::status(inc.status)) }
                                @if q.shows("owner") { td { (inc.assigned_to.as_deref().unwrap_or("—")) } }
                                @if q.shows("tags") { td { @for t in &inc.tags { span.chip { (t) } } } }
                                @if q.shows("entities") { td.entities { @for e in inc.entities.iter().take(3) { (fmt::entity_link(e)) " " } @if inc.entities.len() > 3 { span.muted { "+" (inc.entities.len() - 3) } } } }
                                @if q.shows("alerts") { td.num { (inc.alert_count) } }
                                @if q.shows("classification") { td { (inc.classification.as_str()) } }
                                @if q.shows("updated") { td { (fmt::time(inc.updated_at)) } }
                                @if q.shows("created") { td { (fmt::time(inc.created_at)) } }
                            }
                        }
                        @if view.page.items.is_empty() {
                            tr { td colspan="12" .empty { "No incident matches this view." } }
                        }
                    }
                }
            }
            nav.pager {
                @if q.after.is_some() { a href=(link) id="first-page" { "First page" } }
                @if let Some(n) = &view.next {
                    a href={ (link) @if query.is_empty() { "?" } @else { "&" } "after=" (enc(n)) } id="next-page" { "Next page" }
                }
            }
        },
    )
}

fn sort_link(q: &QueueQuery, sort: IncidentSort, label: &str) -> Markup {
    let mut next = q.clone();
    next.after = None;
    let active = q.sort == sort;
    if active {
        next.ascending = !q.ascending;
    } else {
        next.sort = sort;
        next.ascending = false;
    }
    let arrow = match (active, q.ascending) {
        (false, _) => "",
        (true, false) => " ▼",
        (true, true) => " ▲",
    };
    html! {
        a.sort href={ "/incidents?" (next.to_query(false)) } data-sort=(sort_name(sort)) { (label) (arrow) }
    }
}

fn filters(v: &Viewer, view: &QueueView<'_>) -> Markup {
    let q = view.query;
    let checked_status = |s: IncidentStatus| q.status.contains(&s);
    html! {
        form.filters method="get" action="/incidents" id="filters" {
            fieldset {
                legend { "Status" }
                @for s in IncidentStatus::ALL {
                    label.check { input type="checkbox" name="status" value=(s.as_str()) checked[checked_status(*s)]; (s.as_str()) }
                }
            }
            fieldset {
                legend { "Severity" }
                @for s in Severity::ALL.iter().rev() {
                    label.check { input type="checkbox" name="severity" value=(s.as_str()) checked[q.severity.contains(s)]; (s.as_str()) }
                }
            }
            div.row {
                label { "Search" input type="search" name="q" value=(q.q.as_deref().unwrap_or("")) placeholder="title, tag, entity"; }
                label { "Sort"
                    select name="sort" {
                        @for s in [IncidentSort::Priority, IncidentSort::Severity, IncidentSort::Updated, IncidentSort::Created] {
                            option value=(sort_name(s)) selected[q.sort == s] { (sort_name(s)) }
                        }
                    }
                }
                label { "Order"
                    select name="dir" {
                        option value="desc" selected[!q.ascending] { "highest / newest first" }
                        option value="asc" selected[q.ascending] { "lowest / oldest first" }
                    }
                }
                button type="submit" id="apply-filters" { "Apply" }
                a href="/incidents" { "Reset" }
            }
            details.more open[q.advanced()] {
            summary { "More filters, sort and columns" }
            div.row {
                label { "Assigned to" input type="text" name="assigned" value=(q.assigned.as_deref().unwrap_or("")) list="users"; }
                datalist id="users" { @for u in view.users { option value=(u) {} } }
                label { "Tag" input type="text" name="tag" value=(q.tag.as_deref().unwrap_or("")); }
                label { "Entity" input type="text" name="entity" value=(q.entity.as_deref().unwrap_or("")) placeholder="IP, user, key"; }
            }
            div.row {
                label { "Classification"
                    select name="classification" {
                        option value="" { "Any" }
                        @for c in Classification::ALL {
                            option value=(c.as_str()) selected[q.classification.contains(c)] { (c.as_str()) }
                        }
                    }
                }
                label { "Detector"
                    select name="detector" {
                        option value="" { "Any" }
                        @for d in view.detectors {
                            option value=(d) selected[q.detector.as_deref() == Some(d.as_str())] { (d) }
                        }
                    }
                }
                label { "MITRE tactic"
                    select name="tactic" {
                        option value="" { "Any" }
                        @for (id, label, _) in TACTICS {
                            option value=(id) selected[q.tactic.as_deref() == Some(*id)] { (label) }
                        }
                    }
                }
                label { "Updated"
                    select name="range" id="range" {
                        @for (id, label, _) in RANGES {
                            option value=(id) selected[q.range == *id] { (label) }
                        }
                    }
                }
                label { "From" input type="date" name="from" value=(q.from.as_deref().unwrap_or("")); }
                label { "To" input type="date" name="to" value=(q.to.as_deref().unwrap_or("")); }
            }
            div.row {
                fieldset.cols {
                    legend { "Columns" }
                    @for (id, label) in COLUMNS {
                        label.check { input type="checkbox" name="cols" value=(id) checked[q.shows(id)]; (label) }
                    }
                }
            }
            div.row.actions {
                button type="submit" { "Apply" }
            }
            }
        }
        form.inline.save-view method="post" action="/incidents/views" {
            (v.csrf_field())
            input type="hidden" name="query" value=(q.to_query(false));
            input type="text" name="name" placeholder="name this view" required maxlength="64";
            button.secondary type="submit" id="save-view" { "Save view" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_roundtrips() {
        let s = "status=Active&status=InProgress&severity=High&assigned=bob&tactic=initial-access&range=7d&sort=updated&dir=asc&q=sql&cols=owner,tags";
        let q = QueueQuery::parse(s).unwrap();
        assert_eq!(
            q.status,
            [IncidentStatus::Active, IncidentStatus::InProgress]
        );
        assert_eq!(q.sort, IncidentSort::Updated);
        assert!(q.ascending);
        assert_eq!(QueueQuery::parse(&q.to_query(true)).unwrap(), q);
        let f = q.to_filter(Timestamp(1_000_000_000_000), 50);
        assert_eq!(f.techniques, ["T1190", "T1078"]);
        assert_eq!(
            f.updated_after,
            Some(Timestamp(1_000_000_000_000 - 7 * 86_400_000))
        );
        assert!(q.shows("tags") && !q.shows("alerts"));
    }

    #[test]
    fn bad_values_are_named() {
        for (s, word) in [
            ("status=Nope", "status"),
            ("sort=evil", "sort"),
            ("tactic=x", "tactic"),
            ("range=1y", "range"),
            ("from=2024-13-40", "from"),
        ] {
            let e = QueueQuery::parse(s).unwrap_err();
            assert!(e.0.contains(word), "{s}: {e:?}");
        }
    }

    #[test]
    fn custom_range_covers_whole_days() {
        let q = QueueQuery::parse("range=custom&from=2024-01-01&to=2024-01-02").unwrap();
        let f = q.to_filter(Timestamp(0), 50);
        assert_eq!(f.updated_after, Some(Timestamp(1_704_067_200_000)));
        assert_eq!(
            f.updated_before,
            Some(Timestamp(1_704_067_200_000 + 2 * 86_400_000))
        );
    }
}
