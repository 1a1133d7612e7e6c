//! The API inventory page: every learned endpoint, filtered and sorted by its query string
//! ([`InventoryQuery`]), so a view can be bookmarked.

use maud::{html, Markup};
use rampart_model::inventory::INACTIVE_AFTER_DAYS;
use rampart_model::{AuthMix, EndpointInfo, EntityKind};

use crate::fmt::{self, entity_href};
use crate::queue::BadQuery;
use crate::{page, Nav, Viewer};

/// Most endpoints one page lists (the rest are counted).
pub const MAX_ROWS: usize = 500;

/// How the inventory is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InventorySort {
    /// By number of calls (default: most first).
    #[default]
    Calls,
    /// By last call (default: newest first).
    LastSeen,
    /// By path template, then method and host (default: A to Z).
    Path,
}

impl InventorySort {
    const ALL: [(InventorySort, &'static str, &'static str); 3] = [
        (InventorySort::Calls, "calls", "Calls"),
        (InventorySort::LastSeen, "last_seen", "Last seen"),
        (InventorySort::Path, "path", "Path"),
    ];

    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|s| s.0 == self)
            .map_or("calls", |s| s.1)
    }

    /// Whether the sort runs ascending unless `dir` says otherwise.
    fn ascending_by_default(self) -> bool {
        self == InventorySort::Path
    }
}

/// The inventory's view, parsed from and written back to its query string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InventoryQuery {
    /// Case-insensitive text in the host, method, path template, parameter names or
    /// sensitive-data kinds.
    pub q: Option<String>,
    /// Exactly this host.
    pub host: Option<String>,
    /// Only this auth status.
    pub auth: Option<AuthMix>,
    /// Only endpoints that returned sensitive data.
    pub sensitive: bool,
    /// Only shadow endpoints (not in the OpenAPI spec).
    pub shadow: bool,
    /// Only inactive endpoints.
    pub inactive: bool,
    /// Sort.
    pub sort: InventorySort,
    /// Ascending.
    pub ascending: bool,
}

fn auth_name(a: AuthMix) -> &'static str {
    match a {
        AuthMix::Authenticated => "authenticated",
        AuthMix::Unauthenticated => "unauthenticated",
        AuthMix::Mixed => "mixed",
    }
}

const AUTHS: [AuthMix; 3] = [
    AuthMix::Authenticated,
    AuthMix::Mixed,
    AuthMix::Unauthenticated,
];

impl InventoryQuery {
    /// Parse a query string (unknown keys are ignored; a bad value is an error naming it).
    pub fn parse(query: &str) -> Result<InventoryQuery, BadQuery> {
        let mut q = InventoryQuery::default();
        let mut dir = None;
        let bad = |k: &str, v: &str| BadQuery(format!("bad value {v:?} for {k}"));
        let some = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_string());
        let flag = |k: &str, v: &str| match v {
            "1" | "on" | "true" => Ok(true),
            "" | "0" | "off" | "false" => Ok(false),
            _ => Err(bad(k, v)),
        };
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let v = v.as_ref();
            match k.as_ref() {
                "q" => q.q = some(v),
                "host" => q.host = some(v),
                "auth" if !v.is_empty() => {
                    q.auth = Some(
                        AUTHS
                            .into_iter()
                            .find(|a| auth_name(*a) == v)
                            .ok_or_else(|| bad(&k, v))?,
                    )
                }
                "sensitive" => q.sensitive = flag(&k, v)?,
                "shadow" => q.shadow = flag(&k, v)?,
                "inactive" => q.inactive = flag(&k, v)?,
                "sort" if !v.is_empty() => {
                    q.sort = InventorySort::ALL
                        .iter()
                        .find(|s| s.1 == v)
                        .map(|s| s.0)
                        .ok_or_else(|| bad(&k, v))?
                }
                "dir" => match v {
                    "asc" => dir = Some(true),
                    "desc" => dir = Some(false),
                    "" => {}
                    _ => return Err(bad(&k, v)),
                },
                _ => {}
            }
        }
        q.ascending = dir.unwrap_or(q.sort.ascending_by_default());
        Ok(q)
    }

    /// The query string of this view.
    pub fn to_query(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        if let Some(v) = &self.q {
            s.append_pair("q", v);
        }
        if let Some(v) = &self.host {
            s.append_pair("host", v);
        }
        if let Some(a) = self.auth {
            s.append_pair("auth", auth_name(a));
        }
        for (k, on) in [
            ("sensitive", self.sensitive),
            ("shadow", self.shadow),
            ("inactive", self.inactive),
        ] {
            if on {
                s.append_pair(k, "1");
            }
        }
        if self.sort != InventorySort::Calls {
            s.append_pair("sort", self.sort.name());
        }
        if self.ascending != self.sort.ascending_by_default() {
            s.append_pair("dir", if self.ascending { "asc" } else { "desc" });
        }
        s.finish()
    }

    fn matches(&self, r: &EndpointRow) -> bool {
        let e = &r.info;
        if self.host.as_deref().is_some_and(|h| h != e.host) {
            return false;
        }
        if self.auth.is_some_and(|a| a != e.auth()) {
            return false;
        }
        if self.sensitive && e.sensitive_data.is_empty() {
            return false;
        }
        if self.shadow && r.shadow != Some(true) {
            return false;
        }
        if self.inactive && !r.inactive {
            return false;
        }
        if let Some(q) = &self.q {
            let q = q.to_lowercase();
            let hit = |s: &str| s.to_lowercase().contains(&q);
            if !(hit(&e.host)
                || hit(&e.method)
                || hit(&e.path_template)
                || e.params.keys().any(|p| hit(p))
                || e.sensitive_data.iter().any(|s| hit(s)))
            {
                return false;
            }
        }
        true
    }

    /// The rows this view shows, in its order (ties by path template, method and host).
    pub fn select<'a>(&self, rows: &'a [EndpointRow]) -> Vec<&'a EndpointRow> {
        let mut out: Vec<&EndpointRow> = rows.iter().filter(|r| self.matches(r)).collect();
        fn path_key(r: &EndpointRow) -> (&str, &str, &str) {
            let e = &r.info;
            (e.path_template.as_str(), e.method.as_str(), e.host.as_str())
        }
        out.sort_by(|a, b| {
            let primary = match self.sort {
                InventorySort::Calls => a.info.calls.cmp(&b.info.calls),
                InventorySort::LastSeen => a.info.last_seen.cmp(&b.info.last_seen),
                InventorySort::Path => path_key(a).cmp(&path_key(b)),
            };
            let primary = if self.ascending {
                primary
            } else {
                primary.reverse()
            };
            primary.then_with(|| path_key(a).cmp(&path_key(b)))
        });
        out
    }
}

/// One endpoint with what the server knows beyond the record.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointRow {
    /// The learned record.
    pub info: EndpointInfo,
    /// Not in the OpenAPI spec; `None` when no spec is loaded.
    pub shadow: Option<bool>,
    /// No call for [`INACTIVE_AFTER_DAYS`] days before the newest call seen.
    pub inactive: bool,
}

/// What the inventory page shows.
pub struct InventoryView<'a> {
    /// The view.
    pub query: &'a InventoryQuery,
    /// Every endpoint.
    pub rows: &'a [EndpointRow],
    /// Whether an OpenAPI spec is loaded (shadow endpoints are known).
    pub spec_loaded: bool,
}

fn auth_badge(a: AuthMix) -> Markup {
    html! { span class={ "badge auth-" (auth_name(a)) } { (auth_name(a)) } }
}

/// The inventory page.
pub fn inventory(v: &Viewer, view: &InventoryView<'_>) -> Markup {
    let q = view.query;
    let shown = q.select(view.rows);
    let mut hosts: Vec<&str> = view.rows.iter().map(|r| r.info.host.as_str()).collect();
    hosts.sort_unstable();
    hosts.dedup();
    let sort_link = |s: InventorySort, label: &str| {
        let mut next = q.clone();
        if q.sort == s {
            next.ascending = !q.ascending;
        } else {
            next.sort = s;
            next.ascending = s.ascending_by_default();
        }
        let arrow = match (q.sort == s, q.ascending) {
            (false, _) => "",
            (true, false) => " ▼",
            (true, true) => " ▲",
        };
        html! { a.sort href={ "/inventory?" (next.to_query()) } data-sort=(s.name()) { (label) (arrow) } }
    };
    page(
        Some(v),
        Nav::Inventory,
        "Inventory",
        html! {
            header.page-head {
                h1 { "API inventory" }
                span.count id="total" data-total=(shown.len()) { (shown.len()) " of " (view.rows.len()) " endpoints" }
            }
            form.filters method="get" action="/inventory" id="inventory-filters" {
                div.row {
                    label { "Search" input type="search" name="q" value=(q.q.as_deref().unwrap_or("")) placeholder="path, parameter, data kind"; }
                    label { "Host"
                        select name="host" {
                            option value="" { "Any" }
                            @for h in &hosts {
                                option value=(h) selected[q.host.as_deref() == Some(*h)] { @if h.is_empty() { "(none logged)" } @else { (h) } }
                            }
                        }
                    }
                    label { "Auth"
                        select name="auth" {
                            option value="" { "Any" }
                            @for a in AUTHS { option value=(auth_name(a)) selected[q.auth == Some(a)] { (auth_name(a)) } }
                        }
                    }
                    label.check { input type="checkbox" name="sensitive" value="1" checked[q.sensitive]; "Sensitive data only" }
                    label.check { input type="checkbox" name="inactive" value="1" checked[q.inactive]; "Inactive only" }
                    label.check {
                        input type="checkbox" name="shadow" value="1" checked[q.shadow] disabled[!view.spec_loaded];
                        "Shadow only"
                    }
                    label { "Sort"
                        select name="sort" {
                            @for (s, name, label) in InventorySort::ALL { option value=(name) selected[q.sort == s] { (label) } }
                        }
                    }
                    button type="submit" id="apply-filters" { "Apply" }
                    a href="/inventory" { "Reset" }
                }
            }
            p.muted.small {
                "Inactive: no call for " (INACTIVE_AFTER_DAYS) " days before the newest call the inventory has seen (event time). "
                @if view.spec_loaded {
                    "Shadow: called, but not in the OpenAPI spec ([detect] openapi)."
                } @else {
                    span id="no-spec" { "No OpenAPI spec is loaded ([detect] openapi in rampart.toml), so shadow endpoints are not known." }
                }
            }
            table.list.inventory id="inventory" {
                thead { tr {
                    th { "Host" } th { "Method" } th { (sort_link(InventorySort::Path, "Path template")) } th { "Auth" }
                    th { "Parameters" } th { "Sensitive data" } th.num { (sort_link(InventorySort::Calls, "Calls")) }
                    th { "First seen" } th { (sort_link(InventorySort::LastSeen, "Last seen")) } th { "State" }
                } }
                tbody {
                    @for r in shown.iter().take(MAX_ROWS) { (row(r)) }
                    @if shown.is_empty() { tr { td colspan="10" .empty { "No endpoint matches this view." } } }
                }
            }
            @if shown.len() > MAX_ROWS {
                p.muted id="truncated" { "Showing the first " (MAX_ROWS) " of " (shown.len()) "; narrow the filters to see the rest." }
            }
        },
    )
}

fn row(r: &EndpointRow) -> Markup {
    let e = &r.info;
    html! {
        tr data-key=(e.key()) {
            td { @if e.host.is_empty() { span.muted { "—" } } @else { (e.host) } }
            td { code { (e.method) } }
            td { a href=(entity_href(EntityKind::Endpoint, &e.key())) { code { (e.path_template) } } }
            td { (auth_badge(e.auth())) }
            td.params {
                @for (name, p) in &e.params {
                    span.chip title={ (p.location) ": " (p.types.keys().map(|t| format!("{t:?}").to_lowercase()).collect::<Vec<_>>().join(", ")) } { (name) }
                }
            }
            td { @for s in &e.sensitive_data { span.chip.sensitive { (s) } } }
            td.num { (e.calls) }
            td { (fmt::time(e.first_seen)) }
            td { (fmt::time(e.last_seen)) }
            td {
                @if r.shadow == Some(true) { span.badge.shadow { "shadow" } " " }
                @if r.inactive { span.badge.inactive { "inactive" } }
            }
        }
    }
}

/// The inventory records of one endpoint (its entity page).
pub fn endpoint_table(endpoints: &[EndpointInfo]) -> Markup {
    html! {
        table.list id="endpoint-records" {
            thead { tr {
                th { "Host" } th { "Auth" } th { "Parameters" } th { "Sensitive data" } th.num { "Calls" }
                th { "Answers" } th { "First seen" } th { "Last seen" }
            } }
            tbody {
                @for e in endpoints {
                    tr {
                        td { @if e.host.is_empty() { span.muted { "—" } } @else { (e.host) } }
                        td { (auth_badge(e.auth())) " " span.muted.small { (e.authenticated_calls) " with credentials" } }
                        td.params { @for (name, p) in &e.params { span.chip { (name) " " span.muted { (p.location) } } } }
                        td { @for s in &e.sensitive_data { span.chip.sensitive { (s) } } }
                        td.num { (e.calls) }
                        td.small {
                            @for (i, n) in e.status_classes.iter().enumerate() {
                                @if *n > 0 { span.chip { @if i == 0 { "none" } @else { (i) "xx" } ": " (n) } }
                            }
                        }
                        td { (fmt::time(e.first_seen)) }
                        td { (fmt::time(e.last_seen)) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::{ParamInfo, Timestamp};

    fn ep(host: &str, method: &str, path: &str, calls: u64, last: i64, auth: u64) -> EndpointRow {
        let mut params = std::collections::BTreeMap::new();
        params.insert("user_id".to_string(), ParamInfo::default());
        EndpointRow {
            info: EndpointInfo {
                host: host.into(),
                method: method.into(),
                path_template: path.into(),
                first_seen: Timestamp(0),
                last_seen: Timestamp(last),
                calls,
                status_classes: [0; 6],
                authenticated_calls: auth,
                params: if path.contains("users") {
                    params
                } else {
                    Default::default()
                },
                sensitive_data: if path.contains("export") {
                    vec!["card_number".into()]
                } else {
                    vec![]
                },
            },
            shadow: Some(path.contains("internal")),
            inactive: last < 100,
        }
    }

    fn rows() -> Vec<EndpointRow> {
        vec![
            ep("a.example", "GET", "/users/{id}", 50, 500, 50),
            ep("a.example", "POST", "/export", 5, 900, 2),
            ep("b.example", "GET", "/internal/debug", 1, 10, 0),
            ep("b.example", "GET", "/health", 500, 800, 0),
        ]
    }

    /// The paths (method path) a query string selects, in order.
    fn check(query: &str, expected: &[&str]) {
        let q = InventoryQuery::parse(query).expect(query);
        let rows = rows();
        let got: Vec<String> = q
            .select(&rows)
            .iter()
            .map(|r| format!("{} {}", r.info.method, r.info.path_template))
            .collect();
        assert_eq!(got, expected, "{query}");
        assert_eq!(
            InventoryQuery::parse(&q.to_query()).expect("round trip"),
            q,
            "{query}"
        );
    }

    #[test]
    fn filters_and_sorts() {
        check(
            "",
            &[
                "GET /health",
                "GET /users/{id}",
                "POST /export",
                "GET /internal/debug",
            ],
        );
        check(
            "dir=asc",
            &[
                "GET /internal/debug",
                "POST /export",
                "GET /users/{id}",
                "GET /health",
            ],
        );
        check(
            "sort=path",
            &[
                "POST /export",
                "GET /health",
                "GET /internal/debug",
                "GET /users/{id}",
            ],
        );
        check(
            "sort=last_seen",
            &[
                "POST /export",
                "GET /health",
                "GET /users/{id}",
                "GET /internal/debug",
            ],
        );
        check("host=b.example", &["GET /health", "GET /internal/debug"]);
        check("auth=authenticated", &["GET /users/{id}"]);
        check("auth=mixed", &["POST /export"]);
        check("sensitive=1", &["POST /export"]);
        check("shadow=1", &["GET /internal/debug"]);
        check("inactive=1", &["GET /internal/debug"]);
        check("q=USER_ID", &["GET /users/{id}"]);
        check("q=card", &["POST /export"]);
        check("q=post", &["POST /export"]);
        check("q=nothing-here", &[]);
    }

    #[test]
    fn bad_values_are_named() {
        for (s, word) in [
            ("auth=sometimes", "auth"),
            ("sort=colour", "sort"),
            ("dir=up", "dir"),
            ("shadow=maybe", "shadow"),
        ] {
            let e = InventoryQuery::parse(s).unwrap_err();
            assert!(e.0.contains(word), "{s}: {e:?}");
        }
    }

    #[test]
    fn page_links_each_endpoint_to_its_entity_page() {
        let rows = rows();
        let v = Viewer {
            name: "v".into(),
            role: rampart_model::Role::Viewer,
            csrf: "c".into(),
        };
        let out = inventory(
            &v,
            &InventoryView {
                query: &InventoryQuery::default(),
                rows: &rows,
                spec_loaded: false,
            },
        )
        .into_string();
        assert!(
            out.contains("href=\"/entities/endpoint/GET%20%2Fusers%2F%7Bid%7D\""),
            "{out}"
        );
        assert!(out.contains("id=\"no-spec\""));
        assert!(out.contains("4 of 4 endpoints"));
    }
}
