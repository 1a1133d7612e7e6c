//! Automation: the rules, playbooks and webhook subscriptions (`/automation`), one editor for
//! each object (`/automation/{rules|playbooks|webhooks}/{name}`: its YAML, checked by the
//! server with the same parser as the API and `rampart automation apply`), a webhook's
//! deliveries and dead letters with a retry button, and the incident page's playbooks tab
//! (runs with their step log, approve and cancel, run a playbook).
//!
//! Everyone who reads incidents sees them; writing needs `manage_automation`, running a
//! playbook `contain_low`, passing an approval gate `approve` (the server refuses the rest
//! whatever a page shows).

use maud::{html, Markup};
use rampart_model::{
    AutomationObject, Delivery, DeliveryStatus, Permission, PlaybookRun, RunStatus, RunStep,
    StepStatus, Timestamp,
};
use serde_json::Value;

use crate::fmt;
use crate::{page, Nav, Viewer};

/// The three kinds of automation object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Automation rules.
    Rule,
    /// Playbooks.
    Playbook,
    /// Webhook subscriptions.
    Webhook,
}

impl Kind {
    /// Every kind, in the order the overview shows them.
    pub const ALL: [Kind; 3] = [Kind::Rule, Kind::Playbook, Kind::Webhook];

    /// The path segment (`/automation/rules/..`).
    pub const fn segment(self) -> &'static str {
        match self {
            Kind::Rule => "rules",
            Kind::Playbook => "playbooks",
            Kind::Webhook => "webhooks",
        }
    }

    /// The store's kind (`rampart_model::AUTOMATION_*`).
    pub const fn store_kind(self) -> &'static str {
        match self {
            Kind::Rule => rampart_model::AUTOMATION_RULE,
            Kind::Playbook => rampart_model::AUTOMATION_PLAYBOOK,
            Kind::Webhook => rampart_model::AUTOMATION_WEBHOOK,
        }
    }

    /// What one is called.
    pub const fn noun(self) -> &'static str {
        match self {
            Kind::Rule => "automation rule",
            Kind::Playbook => "playbook",
            Kind::Webhook => "webhook",
        }
    }

    /// The kind of a path segment.
    pub fn parse(segment: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.segment() == segment)
    }

    /// The document a new one starts from.
    pub const fn template(self) -> &'static str {
        match self {
            Kind::Rule => RULE_TEMPLATE,
            Kind::Playbook => PLAYBOOK_TEMPLATE,
            Kind::Webhook => WEBHOOK_TEMPLATE,
        }
    }
}

const RULE_TEMPLATE: &str = "\
# An automation rule (README: Automation rules). Saved, it runs on the next trigger.
name: my-rule
order: 100
enabled: true
triggers: [incident_created]
conditions: {property: severity, operator: equals, values: [High, Critical]}
actions:
  - add_tags: [triage-first]
";

const PLAYBOOK_TEMPLATE: &str = "\
# A playbook (README: Playbooks): steps run in order on its subject, persisted one by one.
name: my-playbook
description: what it is for
subject: incident
steps:
  - id: tag
    tag: [playbook-ran]
  - id: review
    approval: {prompt: block the attackers?}
  - id: block-attackers
    foreach:
      entities: ip
      role: attacker
      steps:
        - id: block
          contain: {kind: block_ip, target: \"{{ item }}\", duration: 1h}
";

const WEBHOOK_TEMPLATE: &str = "\
# A webhook subscription (README: Webhooks): incident and action events POSTed as JSON.
name: my-webhook
url: http://127.0.0.1:9000/rampart
events: [incident_created, incident_resolved]
format: api
timeout_secs: 5
max_attempts: 6
";

/// A string field of a stored body, or "".
fn text<'a>(body: &'a Value, key: &str) -> &'a str {
    body.get(key).and_then(Value::as_str).unwrap_or("")
}

/// What the overview shows.
pub struct OverviewView<'a> {
    /// Rules, in run order.
    pub rules: &'a [AutomationObject],
    /// Playbooks, by name.
    pub playbooks: &'a [AutomationObject],
    /// Webhook subscriptions, by name, each with its number of dead letters.
    pub webhooks: &'a [(AutomationObject, usize)],
    /// Now (whether a rule has expired).
    pub now: Timestamp,
    /// A message after a form was sent.
    pub flash: Option<&'a str>,
}

/// The link to an object's editor.
pub fn href(kind: Kind, name: &str) -> String {
    format!("/automation/{}/{}", kind.segment(), fmt::enc(name))
}

fn new_link(v: &Viewer, kind: Kind) -> Markup {
    html! {
        @if v.can(Permission::ManageAutomation) {
            a.button.small href={ "/automation/" (kind.segment()) "/new" } id={ "new-" (kind.segment()) } { "New " (kind.noun()) }
        }
    }
}

fn list_of(value: &Value) -> String {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                Value::Object(o) => o.keys().next().cloned().unwrap_or_default(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    }
}

/// `/automation`: every rule, playbook and webhook.
pub fn overview(v: &Viewer, view: &OverviewView<'_>) -> Markup {
    page(
        Some(v),
        Nav::Automation,
        "Automation",
        html! {
            @if let Some(f) = view.flash { (crate::flash("ok", f)) }
            header.page-head { h1 { "Automation" } }
            section.card id="rules" {
                h2 { "Automation rules " (new_link(v, Kind::Rule)) }
                p.muted.small { "Run in order on incident created, incident updated and alert created; each sees the changes of the ones before it. Changes are audited as rule:<name>." }
                @if view.rules.is_empty() {
                    p.muted { "No automation rule yet." }
                } @else {
                    table.list id="rule-list" {
                        thead { tr { th { "Order" } th { "Name" } th { "State" } th { "Triggers" } th { "Actions" } th { "Expires" } th { "Updated" } } }
                        tbody {
                            @for o in view.rules {
                                @let expires = o.body.get("expires_at").and_then(Value::as_str).and_then(Timestamp::parse_rfc3339);
                                @let enabled = o.body.get("enabled").and_then(Value::as_bool).unwrap_or(true);
                                @let expired = expires.is_some_and(|e| e <= view.now);
                                tr data-rule=(o.name) {
                                    td.num { (o.body.get("order").and_then(Value::as_u64).unwrap_or(100)) }
                                    td { a href=(href(Kind::Rule, &o.name)) { (o.name) } }
                                    td {
                                        @if expired { span.badge.off { "expired" } }
                                        @else if enabled { span.badge.on { "enabled" } }
                                        @else { span.badge.off { "disabled" } }
                                    }
                                    td.small { (list_of(o.body.get("triggers").unwrap_or(&Value::Null))) }
                                    td.small { (list_of(o.body.get("actions").unwrap_or(&Value::Null))) }
                                    td { @match expires { Some(t) => (fmt::time(t)), None => span.muted { "never" } } }
                                    td.small { (fmt::time(o.updated_at)) br; span.muted { (o.updated_by) } }
                                }
                            }
                        }
                    }
                }
            }
            section.card id="playbooks" {
                h2 { "Playbooks " (new_link(v, Kind::Playbook)) }
                @if view.playbooks.is_empty() {
                    p.muted { "No playbook yet. " code { "rampart automation apply --builtin" } " installs the shipped ones." }
                } @else {
                    table.list id="playbook-list" {
                        thead { tr { th { "Name" } th { "Runs on" } th { "Steps" } th { "Version" } th { "Description" } th { "Updated" } } }
                        tbody {
                            @for o in view.playbooks {
                                tr data-playbook=(o.name) {
                                    td { a href=(href(Kind::Playbook, &o.name)) { (o.name) } }
                                    td { (text(&o.body, "subject")) }
                                    td.num { (o.body.get("steps").and_then(Value::as_array).map_or(0, Vec::len)) }
                                    td.num { "v" (o.version) }
                                    td.small { (fmt::short(text(&o.body, "description"), 160)) }
                                    td.small { (fmt::time(o.updated_at)) br; span.muted { (o.updated_by) } }
                                }
                            }
                        }
                    }
                }
            }
            section.card id="webhooks" {
                h2 { "Webhooks " (new_link(v, Kind::Webhook)) }
                @if view.webhooks.is_empty() {
                    p.muted { "No webhook subscription yet." }
                } @else {
                    table.list id="webhook-list" {
                        thead { tr { th { "Name" } th { "URL" } th { "Events" } th { "Format" } th { "State" } th { "Dead letters" } } }
                        tbody {
                            @for (o, dead) in view.webhooks {
                                tr data-webhook=(o.name) {
                                    td { a href=(href(Kind::Webhook, &o.name)) { (o.name) } }
                                    td { code.wrap { (fmt::short(text(&o.body, "url"), 120)) } }
                                    td.small { (list_of(o.body.get("events").unwrap_or(&Value::Null))) }
                                    td { (text(&o.body, "format")) }
                                    td { @if o.body.get("enabled").and_then(Value::as_bool).unwrap_or(true) { span.badge.on { "enabled" } } @else { span.badge.off { "disabled" } } }
                                    td.num {
                                        @if *dead > 0 {
                                            a href={ (href(Kind::Webhook, &o.name)) "?status=dead#deliveries" } data-dead=(dead) { strong { (dead) } }
                                        } @else { "0" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// What an editor page shows.
pub struct EditorView<'a> {
    /// Which kind of object.
    pub kind: Kind,
    /// The stored object (`None`: a new one).
    pub object: Option<&'a AutomationObject>,
    /// The document in the editor: the stored one as YAML, a template, or what was sent back
    /// with `error`.
    pub text: &'a str,
    /// Why the server refused what was sent (field path and line).
    pub error: Option<&'a str>,
    /// A message after a form was sent.
    pub flash: Option<&'a str>,
    /// A webhook's deliveries, newest first (empty for the other kinds).
    pub deliveries: &'a [Delivery],
    /// The deliveries' status filter.
    pub status: Option<DeliveryStatus>,
}

/// `/automation/{kind}/{name}` and `/automation/{kind}/new`: the document, editable with
/// `manage_automation`; for a webhook its deliveries and dead letters.
pub fn editor(v: &Viewer, view: &EditorView<'_>) -> Markup {
    let kind = view.kind;
    let title = match view.object {
        Some(o) => format!("{} {}", kind.noun(), o.name),
        None => format!("New {}", kind.noun()),
    };
    let can = v.can(Permission::ManageAutomation);
    let action = match view.object {
        Some(o) => href(kind, &o.name),
        None => format!("/automation/{}", kind.segment()),
    };
    page(
        Some(v),
        Nav::Automation,
        &title,
        html! {
            @if let Some(f) = view.flash { (crate::flash("ok", f)) }
            header.page-head {
                h1 { (title) }
                a href="/automation" { "All automation" }
            }
            section.card id="editor" {
                @if let Some(o) = view.object {
                    p.small.muted id="object-meta" {
                        "Version " (o.version) " · updated " (fmt::time(o.updated_at)) " by " (o.updated_by)
                        " · created " (fmt::time(o.created_at))
                    }
                }
                @if let Some(e) = view.error {
                    div.flash.error role="alert" id="editor-error" { (e) }
                }
                @if can {
                    form.stack method="post" action=(action) id="editor-form" {
                        (v.csrf_field())
                        label { "Document (YAML; JSON works too)"
                            textarea.code name="text" id="document" rows="24" spellcheck="false" required maxlength="262144" { (view.text) }
                        }
                        button type="submit" id="save" { @if view.object.is_some() { "Save" } @else { "Create" } }
                    }
                    @if let Some(o) = view.object {
                        form.inline method="post" action={ (href(kind, &o.name)) "/delete" } {
                            (v.csrf_field())
                            button.danger type="submit" id="delete" data-confirm={ "Delete the " (kind.noun()) " " (o.name) "?" } { "Delete" }
                        }
                    }
                } @else {
                    pre.code id="document" { (view.text) }
                    p.muted.small { "Editing needs manage_automation, which your role does not have." }
                }
            }
            @if kind == Kind::Webhook && view.object.is_some() {
                (deliveries(v, view))
            }
        },
    )
}

fn deliveries(v: &Viewer, view: &EditorView<'_>) -> Markup {
    let Some(o) = view.object else {
        return html! {};
    };
    let base = href(Kind::Webhook, &o.name);
    let filters = [
        (None, "all"),
        (Some(DeliveryStatus::Dead), "dead letters"),
        (Some(DeliveryStatus::Pending), "pending"),
        (Some(DeliveryStatus::Delivered), "delivered"),
    ];
    html! {
        section.card id="deliveries" {
            h2 { "Deliveries" }
            nav.filters {
                @for (s, label) in filters {
                    @let link = match s { Some(s) => format!("{base}?status={}#deliveries", s.as_str()), None => format!("{base}#deliveries") };
                    a href=(link) class=[(s == view.status).then_some("active")] { (label) }
                    " "
                }
            }
            @if view.deliveries.is_empty() {
                p.muted id="no-deliveries" { "None." }
            } @else {
                table.list id="delivery-list" {
                    thead { tr { th { "#" } th { "Event" } th { "Status" } th { "Attempts" } th { "Last answer" } th { "Last error" } th { "Created" } th { "Next / delivered" } th {} } }
                    tbody {
                        @for d in view.deliveries {
                            tr data-delivery=(d.id) data-status=(d.status.as_str()) {
                                td { (d.id) }
                                td { (d.event) }
                                td { span class={ "badge delivery-" (d.status.as_str()) } { (d.status.as_str()) } }
                                td.num { (d.attempts) " / " (d.max_attempts) }
                                td { @match d.last_status { Some(s) => (s), None => span.muted { "—" } } }
                                td.small { @match &d.last_error { Some(e) => (fmt::short(e, 200)), None => span.muted { "—" } } }
                                td { (fmt::time(d.created_at)) }
                                td { @match (d.status, d.delivered_at) {
                                    (DeliveryStatus::Delivered, Some(t)) => (fmt::time(t)),
                                    (DeliveryStatus::Pending, _) => (fmt::time(d.next_attempt_at)),
                                    _ => span.muted { "—" },
                                } }
                                td.controls {
                                    @if d.status == DeliveryStatus::Dead && v.can(Permission::ManageAutomation) {
                                        form.inline method="post" action={ "/webhook-deliveries/" (d.id) "/retry" } {
                                            (v.csrf_field())
                                            button.secondary.small type="submit" id={ "retry-" (d.id) } data-action="retry" { "Retry" }
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
}

/// One run on the incident's playbooks tab.
#[derive(Debug)]
pub struct RunView {
    /// The run.
    pub run: PlaybookRun,
    /// Its step log, in the order the steps started.
    pub steps: Vec<RunStep>,
    /// The approval gate it waits at (step key, prompt).
    pub waiting: Option<(String, String)>,
}

/// What the incident's playbooks tab shows.
#[derive(Debug)]
pub struct PlaybooksTab<'a> {
    /// Runs on the incident, newest first.
    pub runs: &'a [RunView],
    /// Playbooks that run on an incident (names), to start one.
    pub playbooks: &'a [String],
}

fn run_status(s: RunStatus) -> Markup {
    html! { span class={ "badge run-" (s.as_str()) } { (s.as_str()) } }
}

fn step_status(s: StepStatus) -> Markup {
    html! { span class={ "badge step-" (s.as_str()) } { (s.as_str()) } }
}

/// A JSON value shown short (inputs and outputs of steps).
fn json_short(v: &Value) -> String {
    if v.is_null() {
        return String::new();
    }
    fmt::short(&v.to_string(), 300)
}

/// The incident page's playbooks tab.
pub fn playbooks_tab(v: &Viewer, incident: i64, t: &PlaybooksTab<'_>) -> Markup {
    html! {
        h2 { "Playbook runs" }
        @if v.can(Permission::ContainLow) {
            @if t.playbooks.is_empty() {
                p.muted { "No playbook runs on incidents. " a href="/automation#playbooks" { "Playbooks" } }
            } @else {
                form.row method="post" action={ "/incidents/" (incident) "/playbooks" } id="run-playbook" {
                    (v.csrf_field())
                    label { "Playbook"
                        select name="playbook" required {
                            @for p in t.playbooks { option value=(p) { (p) } }
                        }
                    }
                    button type="submit" id="run-playbook-button" { "Run on this incident" }
                }
            }
        }
        @if t.runs.is_empty() {
            p.muted id="no-runs" { "No playbook has run on this incident." }
        }
        @for r in t.runs {
            @let run = &r.run;
            article.card.run id={ "run-" (run.id) } data-run=(run.id) data-status=(run.status.as_str()) {
                header.page-head {
                    h3 { "Run #" (run.id) " · " a href=(href(Kind::Playbook, &run.playbook)) { (run.playbook) } " v" (run.version) }
                    (run_status(run.status))
                    span.small.muted { "by " (run.requested_by) " · " (fmt::time(run.created_at)) }
                }
                @if let Some(e) = &run.error { p.error { (e) } }
                @if let Some(w) = run.wake_at { @if run.status == RunStatus::Waiting { p.muted.small { "waits until " (fmt::time(w)) } } }
                @if let Some((_, prompt)) = &r.waiting {
                    div.banner id={ "gate-" (run.id) } {
                        p { strong { "Waiting for approval: " } (prompt) }
                        @if v.can(Permission::Approve) {
                            form.inline method="post" action={ "/playbook-runs/" (run.id) "/approve" } {
                                (v.csrf_field())
                                button type="submit" id={ "approve-run-" (run.id) } data-action="approve-run" { "Approve" }
                            }
                        } @else {
                            span.muted.small { " Approving needs approve, which your role does not have." }
                        }
                    }
                }
                @if !run.status.is_final() && v.can(Permission::ContainLow) {
                    form.inline method="post" action={ "/playbook-runs/" (run.id) "/cancel" } {
                        (v.csrf_field())
                        button.secondary.small type="submit" id={ "cancel-run-" (run.id) } data-confirm={ "Cancel run #" (run.id) "?" } { "Cancel run" }
                    }
                }
                @if r.steps.is_empty() {
                    p.muted.small { "No step has started yet." }
                } @else {
                    table.list.steps {
                        thead { tr { th { "Step" } th { "Status" } th { "Attempt" } th { "Started" } th { "Took" } th { "Input" } th { "Output / error" } } }
                        tbody {
                            @for s in &r.steps {
                                tr data-step=(s.step_id) data-status=(s.status.as_str()) {
                                    td { code { (s.step_id) } span.muted.small { " " (s.step_key) } }
                                    td { (step_status(s.status)) }
                                    td.num { (s.attempt) }
                                    td { (fmt::time(s.started_at)) }
                                    td { @match s.finished_at { Some(f) => (fmt::duration_ms(f.millis() - s.started_at.millis())), None => span.muted { "—" } } }
                                    td.small { code.wrap { (json_short(&s.input)) } }
                                    td.small {
                                        @if let Some(e) = &s.error { span.error { (fmt::short(e, 300)) } }
                                        @else { code.wrap { (json_short(&s.output)) } }
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

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::{Role, RunSubject};

    fn viewer(role: Role) -> Viewer {
        Viewer {
            name: "ann".into(),
            role,
            csrf: "tok".into(),
        }
    }

    fn object(kind: Kind, name: &str, body: Value) -> AutomationObject {
        AutomationObject {
            kind: kind.store_kind().into(),
            name: name.into(),
            body,
            version: 2,
            created_at: Timestamp(1_000),
            updated_at: Timestamp(2_000),
            updated_by: "user:ann".into(),
        }
    }

    #[test]
    fn kinds_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.segment()), Some(k));
        }
        assert_eq!(Kind::parse("tokens"), None);
    }

    #[test]
    fn overview_escapes_and_follows_the_role() {
        let rules = [object(
            Kind::Rule,
            "<b>r</b>",
            serde_json::json!({"order": 5, "enabled": true, "expires_at": "1970-01-01T00:00:01Z",
                "triggers": ["incident_created"], "actions": [{"assign": "x"}]}),
        )];
        let hooks = [(
            object(
                Kind::Webhook,
                "chat",
                serde_json::json!({"url": "http://h/<x>", "events": ["incident_created"]}),
            ),
            3,
        )];
        let view = OverviewView {
            rules: &rules,
            playbooks: &[],
            webhooks: &hooks,
            now: Timestamp(5_000),
            flash: None,
        };
        let out = overview(&viewer(Role::Tier1), &view).into_string();
        assert!(out.contains("&lt;b&gt;r&lt;/b&gt;"), "{out}");
        assert!(!out.contains("<b>r"));
        assert!(out.contains("expired"), "the rule expired at 1 s");
        assert!(out.contains("data-dead=\"3\""));
        assert!(!out.contains("id=\"new-rules\""), "tier1 cannot write");
        let out = overview(&viewer(Role::SocManager), &view).into_string();
        assert!(out.contains("id=\"new-rules\""));
    }

    #[test]
    fn editor_is_read_only_without_manage_automation() {
        let o = object(Kind::Webhook, "chat", serde_json::json!({}));
        let dead = Delivery {
            id: 9,
            webhook: "chat".into(),
            event: "incident_created".into(),
            payload: Value::Null,
            status: DeliveryStatus::Dead,
            attempts: 6,
            max_attempts: 6,
            next_attempt_at: Timestamp(0),
            claimed_until: None,
            last_error: Some("connection refused <x>".into()),
            last_status: None,
            created_at: Timestamp(0),
            delivered_at: None,
        };
        let view = EditorView {
            kind: Kind::Webhook,
            object: Some(&o),
            text: "name: chat\n# </textarea><script>",
            error: Some("url (line 2): <bad>"),
            flash: None,
            deliveries: std::slice::from_ref(&dead),
            status: Some(DeliveryStatus::Dead),
        };
        let out = editor(&viewer(Role::Tier3), &view).into_string();
        assert!(!out.contains("id=\"editor-form\""));
        assert!(!out.contains("id=\"retry-9\""));
        assert!(out.contains("&lt;/textarea&gt;&lt;script&gt;"), "{out}");
        assert!(out.contains("url (line 2): &lt;bad&gt;"));
        let out = editor(&viewer(Role::SocManager), &view).into_string();
        assert!(out.contains("id=\"editor-form\""));
        assert!(out.contains("id=\"retry-9\""));
        assert!(!out.contains("<script>"));
    }

    #[test]
    fn playbooks_tab_offers_approval_to_approvers_only() {
        let run = PlaybookRun {
            id: 3,
            playbook: "credential-stuffing".into(),
            version: 1,
            body: Value::Null,
            subject: RunSubject::Incident(7),
            incident_id: Some(7),
            status: RunStatus::Waiting,
            wake_at: None,
            requested_by: "rule:x".into(),
            lease_owner: None,
            lease_until: None,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            error: None,
        };
        let step = RunStep {
            run_id: 3,
            step_key: "block".into(),
            step_id: "block".into(),
            status: StepStatus::Failed,
            input: serde_json::json!({"target": "<i>"}),
            output: Value::Null,
            error: Some("refused <b>".into()),
            attempt: 1,
            started_at: Timestamp(0),
            finished_at: Some(Timestamp(40)),
        };
        let runs = [RunView {
            run,
            steps: vec![step],
            waiting: Some(("review".into(), "go <on>?".into())),
        }];
        let tab = PlaybooksTab {
            runs: &runs,
            playbooks: &["credential-stuffing".into()],
        };
        let out = playbooks_tab(&viewer(Role::Tier2), 7, &tab).into_string();
        assert!(out.contains("id=\"run-playbook\""));
        assert!(
            !out.contains("id=\"approve-run-3\""),
            "tier2 cannot approve"
        );
        assert!(out.contains("go &lt;on&gt;?"));
        assert!(out.contains("refused &lt;b&gt;"));
        let out = playbooks_tab(&viewer(Role::Tier3), 7, &tab).into_string();
        assert!(out.contains("id=\"approve-run-3\""));
        let out = playbooks_tab(&viewer(Role::Tier1), 7, &tab).into_string();
        assert!(!out.contains("id=\"run-playbook\""));
        assert!(!out.contains("id=\"cancel-run-3\""));
    }
}
