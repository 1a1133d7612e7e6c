//! The incident page (`/incidents/{id}`): a header, a manage pane and one tab at a time
//! (`?tab=story|alerts|graph|response|investigation|tasks|playbooks|activity|comments`, rendered on the server; the
//! tab links are plain links, so the page works without script).
//!
//! The page offers only what the viewer's role may do (the server refuses the rest anyway):
//! the manage and resolve forms with `triage`, commenting with `comment`, merging with
//! `merge`, containment buttons with the permission their target needs
//! ([`rampart_contain::needed_permission`]), approvals with `approve` for someone else's
//! action, reverting one's own with `revert_own` and anyone's with `revert_any`.

use maud::{html, Markup};
use rampart_contain::recovery::{Containment, Coverage, Verdict};
use rampart_contain::Durations;
use rampart_model::action::format_duration;
use rampart_model::{
    Action, ActionKind, ActionStatus, Alert, AlertSource, AuditEntry, Classification,
    Determination, EntityKind, IncidentDetail, IncidentStatus, Permission, Severity, Target, Task,
    Timestamp, MAX_EVIDENCE,
};

use crate::{fmt, graph, page, story, Nav, Viewer};

/// Alerts shown on the alerts tab (oldest first; the API lists them all).
pub const MAX_ALERTS: usize = 50;
/// Longest raw line or body sample shown, in characters (the rest is cut).
pub const MAX_LINE_CHARS: usize = 2000;

/// One tab of the incident page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// The attack story (default).
    Story,
    /// Every alert with its reasons and evidence.
    Alerts,
    /// The entity graph.
    Graph,
    /// Actions, containment and recommended actions.
    Response,
    /// The automated investigation: evidence with verdicts, alerts proven benign.
    Investigation,
    /// The recovery checklist.
    Tasks,
    /// Playbook runs with their step logs, approvals, and starting one.
    Playbooks,
    /// The audit log of the incident.
    Activity,
    /// Comments.
    Comments,
}

impl Tab {
    /// Every tab, in the order the page shows them.
    pub const ALL: [Tab; 9] = [
        Tab::Story,
        Tab::Alerts,
        Tab::Graph,
        Tab::Response,
        Tab::Investigation,
        Tab::Tasks,
        Tab::Playbooks,
        Tab::Activity,
        Tab::Comments,
    ];

    /// The `tab=` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Tab::Story => "story",
            Tab::Alerts => "alerts",
            Tab::Graph => "graph",
            Tab::Response => "response",
            Tab::Investigation => "investigation",
            Tab::Tasks => "tasks",
            Tab::Playbooks => "playbooks",
            Tab::Activity => "activity",
            Tab::Comments => "comments",
        }
    }

    /// The tab's label.
    pub const fn label(self) -> &'static str {
        match self {
            Tab::Story => "Attack story",
            Tab::Alerts => "Alerts",
            Tab::Graph => "Graph",
            Tab::Response => "Evidence and response",
            Tab::Investigation => "Investigation",
            Tab::Tasks => "Tasks",
            Tab::Playbooks => "Playbooks",
            Tab::Activity => "Activity",
            Tab::Comments => "Comments",
        }
    }

    /// The tab of a `tab=` value (empty: the story).
    pub fn parse(s: &str) -> Option<Tab> {
        if s.is_empty() {
            return Some(Tab::Story);
        }
        Tab::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// What a form post left to say, by the code the server puts in `msg=` when it redirects
/// back (a code, never free text from the URL).
pub const MESSAGES: &[(&str, &str)] = &[
    ("saved", "Changes saved."),
    ("unchanged", "Nothing changed."),
    ("commented", "Comment added."),
    ("resolved", "Incident resolved."),
    ("merged", "Incident merged into this one."),
    ("contained", "Containment action created and enforced."),
    (
        "pending",
        "Containment action created: it waits for another person's approval.",
    ),
    ("approved", "Action approved: it is enforced now."),
    ("reverted", "Action reverted: access is restored."),
    (
        "disruption-undone",
        "Attack disruption undone: its actions are reverted.",
    ),
    ("task-added", "Task added."),
    ("task-done", "Task ticked off."),
    ("task-undone", "Task reopened."),
    ("seeded", "Checklist seeded from what was attacked."),
    (
        "run-started",
        "Playbook run queued: it starts within a second.",
    ),
    ("run-approved", "Approved: the run goes on."),
    ("run-cancelled", "Playbook run cancelled."),
    ("benign-resolved", "Alerts proven benign resolved."),
    ("investigation-run", "Investigation run again."),
];

/// The words of a `msg=` code.
pub fn message(code: &str) -> Option<&'static str> {
    MESSAGES.iter().find(|(c, _)| *c == code).map(|(_, m)| *m)
}

/// What the response tab shows.
#[derive(Debug)]
pub struct ResponseView<'a> {
    /// The incident's actions, newest first.
    pub actions: &'a [Action],
    /// The containment verdict and its attacker entities.
    pub containment: &'a Containment,
    /// The default duration of each kind (what a recommended action asks for).
    pub durations: &'a Durations,
}

/// The content of the selected tab (which tab it is follows from it).
#[derive(Debug)]
pub enum TabBody<'a> {
    /// The attack story, from the incident's alerts.
    Story,
    /// The alerts.
    Alerts,
    /// The entity graph, from the incident's alerts.
    Graph,
    /// Actions and containment.
    Response(ResponseView<'a>),
    /// The automated investigation.
    /// The automated investigation, and when it ran and what it resolved (`None`: a preview,
    /// it has not run yet).
    Investigation(
        &'a rampart_contain::investigation::Investigation,
        Option<(rampart_model::Timestamp, u64)>,
    ),
    /// The recovery checklist, oldest first.
    Tasks(&'a [Task]),
    /// Playbook runs.
    Playbooks(crate::automation::PlaybooksTab<'a>),
    /// Audit entries, newest first.
    Activity(&'a [AuditEntry]),
    /// The comments.
    Comments,
}

impl TabBody<'_> {
    /// The tab this is.
    pub fn tab(&self) -> Tab {
        match self {
            TabBody::Story => Tab::Story,
            TabBody::Alerts => Tab::Alerts,
            TabBody::Graph => Tab::Graph,
            TabBody::Response(_) => Tab::Response,
            TabBody::Investigation(..) => Tab::Investigation,
            TabBody::Tasks(_) => Tab::Tasks,
            TabBody::Playbooks(_) => Tab::Playbooks,
            TabBody::Activity(_) => Tab::Activity,
            TabBody::Comments => Tab::Comments,
        }
    }
}

/// What the incident page shows.
#[derive(Debug)]
pub struct IncidentPage<'a> {
    /// The incident with its alerts and comments.
    pub detail: &'a IncidentDetail,
    /// The selected tab's content.
    pub body: TabBody<'a>,
    /// User names to offer for assignment.
    pub users: &'a [String],
    /// A message after a form post.
    pub flash: Option<&'a str>,
    /// When this is the viewer's walkthrough incident: the step to do next (its number and
    /// itself), `None` when all are done or it is not.
    pub guide: Option<(usize, &'a crate::walkthrough::Step)>,
}

/// A containment action the page offers for an attacker entity not contained yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recommendation {
    /// What to do.
    pub kind: ActionKind,
    /// The entity's kind.
    pub entity: EntityKind,
    /// The target (the entity's value).
    pub target: String,
    /// The permission it needs.
    pub needed: Permission,
    /// How long (the kind's default, Go-style).
    pub duration: String,
    /// An action of this kind on it already waiting for approval.
    pub pending: Option<i64>,
}

/// The action that contains an entity of this kind fully, if there is one.
pub fn containing_kind(k: EntityKind) -> Option<ActionKind> {
    match k {
        EntityKind::Ip => Some(ActionKind::BlockIp),
        EntityKind::User => Some(ActionKind::DisablePrincipal),
        EntityKind::ApiKey => Some(ActionKind::DisableApiKey),
        EntityKind::Endpoint | EntityKind::Service | EntityKind::UserAgent => None,
    }
}

/// One recommendation per attacker entity that no active action covers fully (entities whose
/// value is not a valid target of the kind are left out).
pub fn recommendations(c: &Containment, durations: &Durations) -> Vec<Recommendation> {
    c.entities
        .iter()
        .filter(|e| !e.contained)
        .filter_map(|e| {
            let kind = containing_kind(e.kind)?;
            let target = Target::parse(kind, &e.value).ok()?;
            Some(Recommendation {
                kind,
                entity: e.kind,
                target: e.value.clone(),
                needed: rampart_contain::needed_permission(&target),
                duration: format_duration(durations.of(kind)),
                pending: e
                    .actions
                    .iter()
                    .find(|a| a.kind == kind && a.status == ActionStatus::PendingApproval)
                    .map(|a| a.id),
            })
        })
        .collect()
}

/// The `id` of a recommendation's button: `contain-ip-203.0.113.9` (characters an id or a
/// selector would trip on become `_`).
pub fn contain_button_id(r: &Recommendation) -> String {
    let value: String = r
        .target
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("contain-{}-{value}", r.entity.as_str())
}

fn actor_of(v: &Viewer) -> String {
    format!("user:{}", v.name)
}

fn opt_time(t: Option<Timestamp>) -> Markup {
    html! {
        @match t {
            Some(t) => (fmt::time(t)),
            None => span.muted { "—" },
        }
    }
}

/// The incident page.
pub fn incident(v: &Viewer, p: &IncidentPage<'_>) -> Markup {
    let inc = &p.detail.incident;
    let tab = p.body.tab();
    let title = format!("#{} {}", inc.id, fmt::short(&inc.title, 80));
    page(
        Some(v),
        Nav::Incidents,
        &title,
        html! {
            @if let Some(f) = p.flash { (crate::flash("ok", f)) }
            @if let Some(to) = inc.redirect_to {
                div.banner.redirected id="redirected" role="status" {
                    "This incident was merged into "
                    a href={ "/incidents/" (to) } id="redirect-to" { "incident #" (to) }
                    ". Work it there."
                }
            }
            @if let Some((n, step)) = p.guide {
                div.guide id="guide" role="status" {
                    strong { "Walkthrough, step " (n) ": " (step.title) ". " }
                    (step.how) " "
                    a href="/walkthrough" { "Back to the walkthrough" }
                }
            }
            (header(p))
            div.incident-grid {
                div.incident-main {
                    nav.tabs id="tabs" {
                        @for t in Tab::ALL {
                            a href={ "/incidents/" (inc.id) "?tab=" (t.as_str()) } data-tab=(t.as_str())
                              class=[(t == tab).then_some("active")] aria-current=[(t == tab).then_some("page")] {
                                (t.label())
                                @match t {
                                    Tab::Alerts => span.muted.small { " " (p.detail.alerts.len()) },
                                    Tab::Comments => span.muted.small { " " (p.detail.comments.len()) },
                                    _ => "",
                                }
                            }
                        }
                    }
                    section.tab id={ "tab-" (tab.as_str()) } {
                        @match &p.body {
                            TabBody::Story => (story::render(&story::build(&p.detail.alerts))),
                            TabBody::Alerts => (alerts(&p.detail.alerts)),
                            TabBody::Graph => (graph::render(&graph::build(&p.detail.alerts, graph::MAX_NODES))),
                            TabBody::Response(r) => (response(v, p.detail, r)),
                            TabBody::Investigation(i, kept) => (investigation(v, inc.id, i, *kept)),
                            TabBody::Tasks(t) => (tasks(v, p.detail, t)),
                            TabBody::Playbooks(t) => (crate::automation::playbooks_tab(v, inc.id, t)),
                            TabBody::Activity(a) => (activity(a)),
                            TabBody::Comments => (comments(v, p.detail)),
                        }
                    }
                }
                (manage(v, p))
            }
        },
    )
}

fn header(p: &IncidentPage<'_>) -> Markup {
    let inc = &p.detail.incident;
    html! {
        header.incident-head id="incident" data-id=(inc.id) {
            div.page-head {
                h1 id="incident-title" { (inc.title) }
                span.muted { "#" (inc.id) }
                (fmt::severity(inc.severity))
                (fmt::status(inc.status))
                span.small.muted { "Priority " }
                (fmt::priority(inc))
            }
            dl.kv.head-facts {
                dt { "Owner" } dd id="owner" {
                    @match &inc.assigned_to { Some(o) => (o), None => span.muted { "unassigned" } }
                }
                dt { "Tags" } dd id="tags" {
                    @for t in &inc.tags { span.chip { (t) } }
                    @if inc.tags.is_empty() { span.muted { "none" } }
                }
                dt { "Classification" } dd id="classification" { (inc.classification.as_str()) " · " (inc.determination.as_str()) }
                dt { "Created" } dd { (fmt::time(inc.created_at)) }
                dt { "Updated" } dd { (fmt::time(inc.updated_at)) }
                dt { "Activity" } dd { (fmt::time(inc.first_activity)) " – " (fmt::time(inc.last_activity)) }
                dt { "Alerts" } dd id="alert-count" { (inc.alert_count) }
                dt { "Report" } dd id="report-links" {
                    "Post-incident review: "
                    a id="report-html" href={ "/incidents/" (inc.id) "/report?format=html" } { "HTML" } " · "
                    a id="report-md" href={ "/incidents/" (inc.id) "/report?format=md" } { "Markdown" } " · "
                    a id="report-pdf" href={ "/incidents/" (inc.id) "/report?format=pdf" } { "PDF" } " · "
                    a id="report-review" href={ "/incidents/" (inc.id) "/review" } { "Review and apply lessons" }
                }
            }
            @if !inc.priority_reasons.is_empty() {
                details.priority-reasons {
                    summary { "Why priority " (inc.priority) }
                    ul { @for r in &inc.priority_reasons { li { "+" (r.points) " " (r.reason) } } }
                }
            }
        }
    }
}

fn back_field(tab: Tab) -> Markup {
    html! { input type="hidden" name="tab" value=(tab.as_str()); }
}

fn manage(v: &Viewer, p: &IncidentPage<'_>) -> Markup {
    let inc = &p.detail.incident;
    let tab = p.body.tab();
    let triage = v.can(Permission::Triage);
    let any = triage || v.can(Permission::Comment) || v.can(Permission::Merge);
    let statuses: Vec<IncidentStatus> = [IncidentStatus::Active, IncidentStatus::InProgress]
        .into_iter()
        .chain((!inc.status.is_open()).then_some(inc.status))
        .collect();
    let action = |what: &str| format!("/incidents/{}/{what}", inc.id);
    html! {
        @if any {
            aside.manage.card id="manage" {
                @if triage {
                    h2 { "Manage" }
                    form.stack method="post" action=(action("manage")) id="manage-form" {
                        (v.csrf_field())
                        (back_field(tab))
                        label { "Title" input type="text" name="title" value=(inc.title) maxlength="500" required; }
                        label { "Owner" input type="text" name="assigned_to" value=(inc.assigned_to.as_deref().unwrap_or("")) list="users" placeholder="unassigned"; }
                        datalist id="users" { @for u in p.users { option value=(u) {} } }
                        label { "Status"
                            select name="status" {
                                @for s in &statuses { option value=(s.as_str()) selected[*s == inc.status] { (s.as_str()) } }
                            }
                        }
                        label { "Severity"
                            select name="severity" {
                                @for s in Severity::ALL.iter().rev() { option value=(s.as_str()) selected[*s == inc.severity] { (s.as_str()) } }
                            }
                        }
                        label { "Tags (comma-separated)" input type="text" name="tags" value=(inc.tags.join(", ")); }
                        label { "Classification"
                            select name="classification" {
                                @for c in Classification::ALL { option value=(c.as_str()) selected[*c == inc.classification] { (c.as_str()) } }
                            }
                        }
                        label { "Determination"
                            select name="determination" {
                                @for d in Determination::ALL { option value=(d.as_str()) selected[*d == inc.determination] { (d.as_str()) } }
                            }
                        }
                        button type="submit" id="manage-save" { "Save changes" }
                    }
                    @if inc.status.is_open() {
                        h2 { "Resolve" }
                        form.stack method="post" action=(action("resolve")) id="resolve-form" {
                            (v.csrf_field())
                            (back_field(tab))
                            label { "Classification"
                                select name="classification" required {
                                    option value="" { "choose…" }
                                    @for c in Classification::ALL.iter().filter(|c| **c != Classification::Unknown) { option value=(c.as_str()) { (c.as_str()) } }
                                }
                            }
                            label { "Determination"
                                select name="determination" required {
                                    option value="" { "choose…" }
                                    @for d in Determination::ALL.iter().filter(|d| **d != Determination::NotAvailable) { option value=(d.as_str()) { (d.as_str()) } }
                                }
                            }
                            label { "Findings (kept as a comment)" textarea name="findings" required placeholder="what happened, what was done, what is left" {} }
                            button type="submit" id="resolve" { "Resolve incident" }
                        }
                    }
                }
                @if v.can(Permission::Merge) && inc.status != IncidentStatus::Redirected {
                    h2 { "Merge" }
                    form.stack method="post" action=(action("merge")) id="merge-form" {
                        (v.csrf_field())
                        label { "Into incident #" input type="number" name="into" min="1" required; }
                        button.secondary type="submit" id="merge" data-confirm={ "Merge incident #" (inc.id) " into the other one? This cannot be undone." } { "Merge" }
                    }
                }
                @if v.can(Permission::ManageAutomation) {
                    p.small { a href={ "/automation/rules/new?from_incident=" (inc.id) } id="suppress" { "Create a suppression rule from this incident" } }
                }
                @if v.can(Permission::Comment) && tab != Tab::Comments {
                    h2 { "Comment" }
                    (comment_form(v, inc.id, tab, "quick-comment"))
                }
            }
        }
    }
}

fn comment_form(v: &Viewer, id: i64, tab: Tab, form_id: &str) -> Markup {
    html! {
        form.stack method="post" action={ "/incidents/" (id) "/comments" } id=(form_id) {
            (v.csrf_field())
            (back_field(tab))
            textarea name="text" required maxlength="10000" placeholder="add a comment" {}
            button type="submit" { "Add comment" }
        }
    }
}

fn alerts(list: &[Alert]) -> Markup {
    let mut sorted: Vec<&Alert> = list.iter().collect();
    sorted.sort_by_key(|a| (a.draft.first_seen, a.id));
    html! {
        @if sorted.is_empty() { p.muted { "No alerts." } }
        @if sorted.len() > MAX_ALERTS {
            p.muted { "Showing the first " (MAX_ALERTS) " of " (sorted.len()) " alerts; the API lists them all (" code { "/api/v1/alerts?incident_id=…" } ")." }
        }
        @for a in sorted.iter().take(MAX_ALERTS) { (alert(a)) }
    }
}

fn alert(a: &Alert) -> Markup {
    let d = &a.draft;
    html! {
        article.alert-card id={ "alert-" (a.id) } data-alert=(a.id) {
            h3 { (fmt::severity(d.severity)) " " (d.title) span.muted.small { " #" (a.id) } }
            p.muted.small {
                (d.detector) " · " (story::stage_words(d.stage).0) " · "
                (fmt::time(d.first_seen)) " – " (fmt::time(d.last_seen))
            }
            @if !d.description.is_empty() { p.description { (d.description) } }
            @if !d.mitre.is_empty() || d.owasp.is_some() {
                p {
                    @for t in &d.mitre { span.chip.mitre title="MITRE ATT&CK technique" { (t) } }
                    @if let Some(o) = &d.owasp { span.chip.owasp title="OWASP API Security Top 10" { (o) } }
                }
            }
            h4 { "Why it fired" }
            @if d.reasons.is_empty() {
                p.muted { "The detector gave no figures." }
            } @else {
                table.list.reasons {
                    thead { tr { th { "Measure" } th { "Observed" } th { "Threshold" } } }
                    tbody {
                        @for r in &d.reasons {
                            tr {
                                td { (r.metric) }
                                td.num { (r.observed) }
                                td.num { @match r.threshold { Some(t) => (t), None => span.muted { "—" } } }
                            }
                        }
                    }
                }
            }
            @match &d.source {
                AlertSource::Sigma(rule) => {
                    dl.kv.sigma {
                        dt { "Sigma rule" } dd { (rule.title) }
                        dt { "Rule id" } dd { code { (rule.id) } }
                        dt { "Author" } dd.author { (rule.author) }
                        dt { "Level" } dd { (rule.level) }
                        @if !rule.tags.is_empty() { dt { "Tags" } dd { @for t in &rule.tags { span.chip { (t) } } } }
                    }
                }
                AlertSource::External { product } => p.muted { "Pushed by " (product) "." },
                AlertSource::Rampart => p.muted.small { "Raised by Rampart's detector " (d.detector) "." },
            }
            h4 { "Entities" }
            p.entities {
                @for e in &d.entities {
                    (fmt::entity_link(e)) span.muted.small { " (" (fmt::role_label(e.role)) ")" } " "
                }
            }
            @if !d.evidence.is_empty() {
                h4 { "Evidence (" (d.evidence.len().min(MAX_EVIDENCE)) " events)" }
                @for ev in d.evidence.iter().take(MAX_EVIDENCE) {
                    div.evidence {
                        p.small {
                            (fmt::time(ev.ts)) " "
                            code {
                                (fmt::short(&ev.method, 16)) " " (fmt::short(&ev.path, 300))
                                @if !ev.query.is_empty() { "?" (fmt::short(&ev.query, 300)) }
                            }
                            " → " (ev.status)
                            @if let Some(ip) = ev.client_ip { " from " (ip) }
                            @if let Some(pr) = &ev.principal { " as " (fmt::short(pr, 100)) }
                            @if !ev.user_agent.is_empty() { br; span.muted { "User agent: " (fmt::short(&ev.user_agent, 300)) } }
                        }
                        @if let Some(b) = &ev.request_body {
                            p.small.muted { "Request body:" }
                            pre.body { (fmt::short(b, MAX_LINE_CHARS)) }
                        }
                        @if !ev.raw.is_empty() {
                            pre.raw { (fmt::short(&ev.raw, MAX_LINE_CHARS)) }
                        }
                    }
                }
            }
        }
    }
}

fn verdict(v: Verdict) -> (&'static str, &'static str) {
    match v {
        Verdict::NotContained => ("not_contained", "Not contained"),
        Verdict::Contained => ("contained", "Contained"),
        Verdict::Neutralized => ("neutralized", "Neutralized"),
    }
}

fn coverage(c: Coverage) -> &'static str {
    match c {
        Coverage::None => "none",
        Coverage::Partial => "partial",
        Coverage::Full => "full",
    }
}

fn kind_words(k: ActionKind) -> &'static str {
    match k {
        ActionKind::BlockIp => "Block the attacker IP",
        ActionKind::DisableApiKey => "Disable the API key",
        ActionKind::DisablePrincipal => "Disable the user",
        ActionKind::IsolateEndpoint => "Isolate the endpoint",
        ActionKind::IsolateService => "Isolate the service",
        ActionKind::RateLimit => "Rate-limit",
    }
}

fn response(v: &Viewer, d: &IncidentDetail, r: &ResponseView<'_>) -> Markup {
    let id = d.incident.id;
    let me = actor_of(v);
    let back = format!("/incidents/{id}?tab=response");
    let (vid, vlabel) = verdict(r.containment.verdict);
    let recs = recommendations(r.containment, r.durations);
    html! {
        h2 { "Containment" }
        p { span class={ "badge verdict verdict-" (vid) } id="verdict" data-verdict=(vid) { (vlabel) }
            span.muted.small { " quiet period " (r.containment.quiet_period) } }
        ul.reasons { @for why in &r.containment.reasons { li { (why) } } }
        @if !r.containment.entities.is_empty() {
            table.list id="containment" {
                thead { tr { th { "Attacker" } th { "Contained" } th { "Coverage" } th { "Since" } th { "Denied" } th { "Last denied" } th { "Last seen" } th { "Last active" } } }
                tbody {
                    @for e in &r.containment.entities {
                        tr data-contained=(e.contained) {
                            td { (fmt::entity_link(&rampart_model::Entity::new(e.kind, e.value.clone(), rampart_model::EntityRole::Attacker))) }
                            td { @if e.contained { "yes" } @else { strong { "no" } } }
                            td { (coverage(e.coverage)) }
                            td { (opt_time(e.contained_since)) }
                            td.num { (e.denied_since_containment) }
                            td { (opt_time(e.last_denied)) }
                            td { (opt_time(e.last_seen)) }
                            td { (opt_time(e.last_active)) }
                        }
                    }
                }
            }
        }
        h2 { "Recommended actions" }
        @if recs.is_empty() {
            p.muted id="no-recommendations" { "Nothing to recommend: every attacker entity is contained, or the incident names none." }
        } @else {
            ul.recommendations id="recommendations" {
                @for rec in &recs {
                    li {
                        @if let Some(pending) = rec.pending {
                            (kind_words(rec.kind)) " " code { (rec.target) } ": action #" (pending) " waits for approval."
                        } @else if v.can(rec.needed) {
                            form.inline method="post" action={ "/incidents/" (id) "/contain" } {
                                (v.csrf_field())
                                input type="hidden" name="kind" value=(rec.kind.as_str());
                                input type="hidden" name="entity" value=(rec.target);
                                input type="hidden" name="duration" value=(rec.duration);
                                input type="hidden" name="reason" value={ "attacker of incident #" (id) };
                                button.danger type="submit" id=(contain_button_id(rec)) data-action=(rec.kind.as_str()) data-target=(rec.target) {
                                    (kind_words(rec.kind)) " " (fmt::short(&rec.target, 60)) " (" (rec.duration) ")"
                                }
                            }
                        } @else {
                            (kind_words(rec.kind)) " " code { (rec.target) }
                            span.muted { ": needs " (rec.needed.as_str()) ", which your role does not have." }
                        }
                    }
                }
            }
        }
        h2 { "Actions on this incident" }
        @let disrupted = r.actions.iter().filter(|a| a.action.requested_by.starts_with("disruption:") && !a.status().is_final()).count();
        @if disrupted > 0 {
            div.banner.disruption id="disruption" {
                p {
                    "Attack disruption took " (disrupted) " action" @if disrupted != 1 { "s" } " on this incident automatically."
                    @if v.can(Permission::RevertAny) { " Undo them all if they were wrong:" }
                }
                @if v.can(Permission::RevertAny) {
                    form.inline method="post" action={ "/incidents/" (id) "/disruption/undo" } {
                        (v.csrf_field())
                        button.secondary type="submit" id="undo-disruption" data-action="undo-disruption" { "Undo attack disruption" }
                    }
                }
            }
        }
        @if r.actions.is_empty() {
            p.muted { "No containment action yet." }
        } @else {
            table.list id="actions" {
                thead { tr { th { "#" } th { "Action" } th { "Target" } th { "Status" } th { "Requested by" } th { "Created" } th { "Expires" } th { "Denied" } th { "Last denied" } th {} } }
                tbody {
                    @for a in r.actions {
                        @let mine = a.action.requested_by == me;
                        tr data-action-id=(a.id) data-status=(a.status().as_str()) {
                            td { (a.id) }
                            td { (a.action.kind.as_str()) }
                            td { code.wrap { (fmt::short(&a.action.target, 120)) } }
                            td { span class={ "badge act-" (a.status().as_str()) } { (a.status().as_str()) } }
                            td { (a.action.requested_by) @if let Some(by) = &a.approved_by { br; span.muted.small { "approved by " (by) } } }
                            td { (fmt::time(a.action.created_at)) }
                            td { (opt_time(a.action.expires_at)) }
                            td.num { (a.denied) }
                            td { (opt_time(a.last_denied)) }
                            td.controls {
                                @if a.status() == ActionStatus::PendingApproval && v.can(Permission::Approve) && !mine {
                                    form.inline method="post" action={ "/actions/" (a.id) "/approve" } {
                                        (v.csrf_field())
                                        input type="hidden" name="back" value=(back);
                                        button type="submit" id={ "approve-" (a.id) } data-action="approve" { "Approve" }
                                    }
                                }
                                @if !a.status().is_final() && (v.can(Permission::RevertAny) || (mine && v.can(Permission::RevertOwn))) {
                                    form.inline method="post" action={ "/actions/" (a.id) "/revert" } {
                                        (v.csrf_field())
                                        input type="hidden" name="back" value=(back);
                                        input type="text" name="reason" required maxlength="2000" placeholder="why revert";
                                        button.secondary type="submit" id={ "revert-" (a.id) } data-action="revert" { "Revert" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn investigation(
    v: &Viewer,
    id: i64,
    inv: &rampart_contain::investigation::Investigation,
    kept: Option<(rampart_model::Timestamp, u64)>,
) -> Markup {
    let verdict = inv.verdict.as_str();
    html! {
        h2 { "Automated investigation" }
        p id="investigation-run" {
            @match kept {
                Some((at, resolved)) => {
                    "Ran by itself " (fmt::time(at))
                    @if resolved > 0 { "; resolved " (resolved) " alert(s) it proved benign" }
                    "."
                }
                None => { span.muted { "Not run yet: this is a preview (it runs on each new incident)." } }
            }
            @if v.can(Permission::Triage) {
                " "
                form.inline method="post" action={ "/incidents/" (id) "/investigation/run" } {
                    (v.csrf_field())
                    button.link type="submit" id="rerun-investigation" { "Run again" }
                }
            }
        }
        p {
            "Verdict: " span class={ "badge verdict verdict-" (verdict) } id="investigation-verdict" data-verdict=(verdict) { (verdict) }
            span.muted.small { " from the stored events, related incidents, earlier actions, the inventory and the allow-list" }
        }
        table.list id="evidence" {
            thead { tr { th { "Evidence" } th { "Kind" } th { "Verdict" } th { "Why" } } }
            tbody {
                @for e in &inv.evidence {
                    tr data-verdict=(e.verdict.as_str()) data-kind=(e.kind) {
                        td { code.wrap { (fmt::short(&e.subject, 160)) } }
                        td { (e.kind) }
                        td { span class={ "badge verdict verdict-" (e.verdict.as_str()) } { (e.verdict.as_str()) } }
                        td.small { ul.reasons { @for r in &e.reasons { li { (r) } } } }
                    }
                }
            }
        }
        h2 { "Alerts proven benign" }
        @if inv.benign.is_empty() {
            p.muted id="no-benign" { "None: no open alert of this incident is proven benign." }
        } @else {
            ul id="benign" {
                @for b in &inv.benign { li data-alert=(b.alert_id) { "Alert #" (b.alert_id) ": " (b.reason) } }
            }
            @if v.can(Permission::Triage) {
                form.inline method="post" action={ "/incidents/" (id) "/investigation/resolve" } {
                    (v.csrf_field())
                    button type="submit" id="resolve-benign" { "Resolve them" }
                }
            }
        }
    }
}

fn tasks(v: &Viewer, d: &IncidentDetail, list: &[Task]) -> Markup {
    let id = d.incident.id;
    let triage = v.can(Permission::Triage);
    let done = list.iter().filter(|t| t.done).count();
    html! {
        h2 { "Recovery checklist" span.muted.small { " " (done) " of " (list.len()) " done" } }
        @if list.is_empty() { p.muted { "No tasks yet." } }
        ul.tasks id="tasks" {
            @for t in list {
                li class=[t.done.then_some("done")] data-task=(t.id) data-done=(t.done) {
                    @if triage {
                        form.inline method="post" action={ "/incidents/" (id) "/tasks/" (t.id) } {
                            (v.csrf_field())
                            input type="hidden" name="done" value=(!t.done);
                            button.link type="submit" id={ "task-" (t.id) } title=(if t.done { "Reopen" } else { "Tick off" }) {
                                @if t.done { "☑" } @else { "☐" }
                            }
                        }
                    } @else {
                        span { @if t.done { "☑" } @else { "☐" } }
                    }
                    " " span.task-title { (t.task.title) }
                    span.muted.small { " " (t.task.kind.as_str()) }
                    @if let Some(by) = &t.done_by { span.muted.small { " · done by " (by) } }
                    @if !t.task.detail.is_empty() { div.task-detail { (fmt::short(&t.task.detail, 4000)) } }
                }
            }
        }
        @if triage {
            form.inline method="post" action={ "/incidents/" (id) "/tasks/seed" } {
                (v.csrf_field())
                button.secondary type="submit" id="seed-tasks" { "Seed from what was attacked" }
            }
            h3 { "Add a task" }
            form.stack method="post" action={ "/incidents/" (id) "/tasks" } id="task-form" {
                (v.csrf_field())
                label { "Title" input type="text" name="title" required maxlength="500"; }
                label { "Detail" textarea name="detail" maxlength="10000" {} }
                button type="submit" id="add-task" { "Add task" }
            }
        }
    }
}

fn activity(entries: &[AuditEntry]) -> Markup {
    html! {
        @if entries.is_empty() { p.muted { "No activity recorded." } }
        @else {
            table.list id="activity" {
                thead { tr { th { "When" } th { "Who" } th { "What" } th { "Object" } th { "Details" } } }
                tbody {
                    @for e in entries {
                        tr data-audit=(e.id) {
                            td { (fmt::time(e.at)) }
                            td { (e.actor) }
                            td { (e.action) }
                            td { (e.object_type) " " (e.object_id) }
                            td { code.wrap { (fmt::short(&e.details.to_string(), 300)) } }
                        }
                    }
                }
            }
        }
    }
}

fn comments(v: &Viewer, d: &IncidentDetail) -> Markup {
    html! {
        @if d.comments.is_empty() { p.muted { "No comments yet." } }
        ol.comments id="comments" {
            @for c in &d.comments {
                li data-comment=(c.id) {
                    p.muted.small { (c.author) " · " (fmt::time(c.created_at)) }
                    div.comment-text { (c.text) }
                }
            }
        }
        @if v.can(Permission::Comment) {
            (comment_form(v, d.incident.id, Tab::Comments, "comment-form"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_contain::recovery::{ActionRef, EntityContainment};
    use rampart_model::{Incident, Role};

    fn viewer(role: Role) -> Viewer {
        Viewer {
            name: "ann".into(),
            role,
            csrf: "t".into(),
        }
    }

    fn detail() -> IncidentDetail {
        IncidentDetail {
            incident: Incident {
                id: 7,
                title: "<b>walk</b>".into(),
                severity: Severity::High,
                status: IncidentStatus::Active,
                assigned_to: None,
                classification: Classification::Unknown,
                determination: Determination::NotAvailable,
                tags: vec!["pci".into()],
                created_at: Timestamp(0),
                updated_at: Timestamp(0),
                first_activity: Timestamp(0),
                last_activity: Timestamp(0),
                priority: 50,
                priority_reasons: vec![],
                entities: vec![],
                alert_count: 0,
                redirect_to: None,
            },
            alerts: vec![],
            comments: vec![],
        }
    }

    fn entity(kind: EntityKind, value: &str, contained: bool) -> EntityContainment {
        EntityContainment {
            kind,
            value: value.into(),
            contained,
            coverage: Coverage::None,
            contained_since: None,
            actions: vec![],
            denied_since_containment: 0,
            last_denied: None,
            last_seen: None,
            last_active: None,
        }
    }

    #[test]
    fn tabs_parse_and_default_to_the_story() {
        assert_eq!(Tab::parse(""), Some(Tab::Story));
        for t in Tab::ALL {
            assert_eq!(Tab::parse(t.as_str()), Some(t));
        }
        assert_eq!(Tab::parse("evil"), None);
        assert_eq!(message("saved"), Some("Changes saved."));
        assert_eq!(message("<script>"), None);
    }

    #[test]
    fn recommendations_per_uncontained_attacker() {
        let mut pending = entity(EntityKind::User, "mallory", false);
        pending.actions.push(ActionRef {
            id: 3,
            kind: ActionKind::DisablePrincipal,
            target: "mallory".into(),
            status: ActionStatus::PendingApproval,
            active: false,
            coverage: Coverage::Full,
            denied: 0,
        });
        let c = Containment {
            verdict: Verdict::NotContained,
            reasons: vec![],
            quiet_period: "1h".into(),
            entities: vec![
                entity(EntityKind::Ip, "203.0.113.9", false),
                entity(EntityKind::Ip, "198.51.100.1", true),
                pending,
                entity(EntityKind::ApiKey, "not-a-key-id", false),
            ],
        };
        let got: Vec<String> = recommendations(&c, &Durations::default())
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} {} {:?} {}",
                    r.kind,
                    r.target,
                    r.needed,
                    r.duration,
                    r.pending,
                    contain_button_id(r)
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                "block_ip 203.0.113.9 contain_low 4h None contain-ip-203.0.113.9",
                "disable_principal mallory contain_low 1d Some(3) contain-user-mallory",
            ]
        );
    }

    fn render(role: Role, body: TabBody<'_>) -> String {
        let d = detail();
        incident(
            &viewer(role),
            &IncidentPage {
                detail: &d,
                body,
                users: &["bob".into()],
                flash: None,
                guide: None,
            },
        )
        .into_string()
    }

    #[test]
    fn forms_follow_the_role() {
        let viewer_page = render(Role::Viewer, TabBody::Story);
        assert!(!viewer_page.contains("id=\"manage\""), "viewer: no pane");
        assert!(viewer_page.contains("&lt;b&gt;walk&lt;/b&gt;"));
        let tier1 = render(Role::Tier1, TabBody::Comments);
        for form in [
            "/incidents/7/manage",
            "/incidents/7/resolve",
            "/incidents/7/merge",
            "/incidents/7/comments",
        ] {
            assert!(
                tier1.contains(&format!("action=\"{form}\"")),
                "tier1 has {form}"
            );
        }
        assert_eq!(tier1.matches("action=\"/incidents/7/comments\"").count(), 1);
        for t in Tab::ALL {
            assert!(tier1.contains(&format!("data-tab=\"{}\"", t.as_str())));
        }
        assert!(!tier1.contains("style="));
        assert!(!tier1.contains("<script>"));
    }
}
