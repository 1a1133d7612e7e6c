//! Entity pages (`/entities/{kind}/{value}`): everything Rampart holds about one IP, user,
//! API key, endpoint, service or user agent, and the ways to contain it the viewer may use.
//!
//! The value comes from the URL and from the traffic: it is shown as text only (maud escapes
//! it) and written back into links percent-encoded ([`crate::fmt::entity_href`]).

use maud::{html, Markup};
use rampart_model::{
    Action, ActionKind, ActorAccess, Alert, AlertSource, ApiEvent, EndpointInfo, EntityActivity,
    EntityKind, Incident, Page, Permission, Target, Timestamp,
};

use crate::actions::{actions_table, contain_href};
use crate::fmt::{self, enc, entity_href};
use crate::{page, Nav, Viewer};

/// What an entity page shows. Every list is bounded by the caller (newest first).
pub struct EntityView<'a> {
    /// The kind.
    pub kind: EntityKind,
    /// The value (decoded from the URL).
    pub value: &'a str,
    /// When an actor (IP, user, API key) was last seen in the stored events.
    pub activity: Option<EntityActivity>,
    /// Incidents with an entity of this value, most recently updated first.
    pub incidents: &'a Page<Incident>,
    /// Alerts with an entity of this value, newest first.
    pub alerts: &'a Page<Alert>,
    /// Its most recent stored events, newest first (an IP's).
    pub events: &'a [ApiEvent<'static>],
    /// What the actor got 2xx answers from, most requests first.
    pub access: &'a [ActorAccess],
    /// Containment actions acting on it, newest first.
    pub actions: &'a [Action],
    /// The inventory records of an endpoint (one per host).
    pub endpoints: &'a [EndpointInfo],
}

/// First and last activity over everything the page shows: alert spans, incident spans,
/// inventory records, events, and the actor's last event in the store.
pub fn seen(view: &EntityView<'_>) -> (Option<Timestamp>, Option<Timestamp>) {
    let firsts = view
        .alerts
        .items
        .iter()
        .map(|a| a.draft.first_seen)
        .chain(view.incidents.items.iter().map(|i| i.first_activity))
        .chain(view.endpoints.iter().map(|e| e.first_seen))
        .chain(view.events.iter().map(|e| e.ts));
    let lasts = view
        .alerts
        .items
        .iter()
        .map(|a| a.draft.last_seen)
        .chain(view.incidents.items.iter().map(|i| i.last_activity))
        .chain(view.endpoints.iter().map(|e| e.last_seen))
        .chain(view.events.iter().map(|e| e.ts))
        .chain(view.activity.and_then(|a| a.last_seen));
    (firsts.min(), lasts.max())
}

/// The containments the action center offers for an entity: (label, kind, target), only
/// those whose target parses (an endpoint with a space in its path cannot be isolated).
pub fn containments(kind: EntityKind, value: &str) -> Vec<(&'static str, ActionKind, String)> {
    let mut offers = match kind {
        EntityKind::Ip => vec![
            ("Block this address", ActionKind::BlockIp, value.to_string()),
            (
                "Rate-limit it",
                ActionKind::RateLimit,
                format!("ip:{value}"),
            ),
        ],
        EntityKind::User => vec![
            (
                "Disable this principal",
                ActionKind::DisablePrincipal,
                value.to_string(),
            ),
            (
                "Rate-limit it",
                ActionKind::RateLimit,
                format!("principal:{value}"),
            ),
        ],
        EntityKind::ApiKey => vec![
            (
                "Disable this key",
                ActionKind::DisableApiKey,
                value.to_string(),
            ),
            (
                "Rate-limit it",
                ActionKind::RateLimit,
                format!("api_key:{value}"),
            ),
        ],
        EntityKind::Endpoint => rampart_model::entity::endpoint_parts(value)
            .map(|(_, m, p)| {
                vec![(
                    "Isolate this endpoint",
                    ActionKind::IsolateEndpoint,
                    format!("{m} {p}"),
                )]
            })
            .unwrap_or_default(),
        EntityKind::Service => vec![(
            "Isolate this service",
            ActionKind::IsolateService,
            value.to_string(),
        )],
        EntityKind::UserAgent => vec![],
    };
    offers.retain(|(_, k, t)| Target::parse(*k, t).is_ok());
    offers
}

/// The permission a kind of action needs at least (`rampart-contain` decides the rest: a
/// range needs `contain_high`).
fn needs(kind: ActionKind) -> Permission {
    match kind {
        ActionKind::IsolateEndpoint | ActionKind::IsolateService => Permission::ContainHigh,
        _ => Permission::ContainLow,
    }
}

/// The entity page.
pub fn entity(v: &Viewer, view: &EntityView<'_>) -> Markup {
    let (first, last) = seen(view);
    let here = entity_href(view.kind, view.value);
    let offers: Vec<_> = containments(view.kind, view.value)
        .into_iter()
        .filter(|(_, k, _)| v.can(needs(*k)))
        .collect();
    let title = format!(
        "{} {}",
        fmt::kind_label(view.kind),
        fmt::short(view.value, 60)
    );
    page(
        Some(v),
        Nav::None,
        &title,
        html! {
            header.page-head.entity-head id="entity" data-kind=(view.kind.as_str()) data-value=(view.value) {
                h1 { span.kind { (fmt::kind_label(view.kind)) } " " code.value { (view.value) } }
            }
            nav.entity-links {
                a href={ "/incidents?entity=" (enc(view.value)) } id="queue-link" { "Its incidents in the queue" }
                @if v.can(rampart_model::Permission::Hunt) {
                    a href=(crate::hunt::entity_link(view.kind, view.value)) id="hunt-link" { "Hunt from here" }
                }
                @for (label, kind, target) in &offers {
                    a.contain href=(contain_href(*kind, target)) data-action-kind=(kind.as_str()) { (label) }
                }
            }
            section.card {
                dl.kv id="seen" {
                    dt { "First seen" } dd { @match first { Some(t) => (fmt::time(t)), None => span.muted { "never" } } }
                    dt { "Last seen" } dd { @match last { Some(t) => (fmt::time(t)), None => span.muted { "never" } } }
                    @if let Some(a) = view.activity {
                        dt { "Last allowed" }
                        dd {
                            @match a.last_allowed { Some(t) => (fmt::time(t)), None => span.muted { "never" } }
                            span.muted.small { " (last event answered neither 403 nor 429)" }
                        }
                    }
                    dt { "Incidents" } dd { (view.incidents.total) }
                    dt { "Alerts" } dd { (view.alerts.total) }
                }
                p.muted.small { "First and last seen span the alerts, incidents, inventory records and events on this page." }
            }
            @if view.kind == EntityKind::Endpoint {
                h2 { "Inventory" }
                @if view.endpoints.is_empty() {
                    p.muted id="no-inventory" { "The inventory has not learned this endpoint." }
                } @else {
                    (crate::inventory::endpoint_table(view.endpoints))
                }
            }
            h2 { "Incidents" }
            (incidents_table(view.incidents))
            h2 { "Alerts" }
            (alerts_table(view.alerts))
            h2 { "Containment actions" }
            (actions_table(v, "entity-actions", view.actions, Some(&here)))
            @if view.kind.is_actor() {
                h2 { "What it reached" }
                @if view.access.is_empty() {
                    p.muted { "No successful (2xx) request in the stored events." }
                } @else {
                    table.list id="access" {
                        thead { tr { th { "Method" } th { "Path" } th.num { "2xx answers" } th { "Last" } } }
                        tbody {
                            @for a in view.access {
                                tr { td { code { (a.method) } } td { code { (a.path) } } td.num { (a.requests) } td { (fmt::time(a.last)) } }
                            }
                        }
                    }
                }
            }
            @if view.kind == EntityKind::Ip {
                h2 { "Recent events" }
                (events_table(view.events))
            }
        },
    )
}

fn incidents_table(p: &Page<Incident>) -> Markup {
    html! {
        table.list id="entity-incidents" {
            thead { tr { th { "Priority" } th { "Incident" } th { "Severity" } th { "Status" } th { "Last update" } } }
            tbody {
                @for inc in &p.items {
                    tr data-id=(inc.id) {
                        td { (fmt::priority(inc)) }
                        td { a href={ "/incidents/" (inc.id) } { (inc.title) } span.muted.small { " #" (inc.id) } }
                        td { (fmt::severity(inc.severity)) }
                        td { (fmt::status(inc.status)) }
                        td { (fmt::time(inc.updated_at)) }
                    }
                }
                @if p.items.is_empty() { tr { td colspan="5" .empty { "None." } } }
            }
        }
        @if p.total > p.items.len() as u64 {
            p.muted.small { "The " (p.items.len()) " most recently updated of " (p.total) "." }
        }
    }
}

fn alerts_table(p: &Page<Alert>) -> Markup {
    html! {
        table.list id="entity-alerts" {
            thead { tr { th { "Alert" } th { "Detector" } th { "Severity" } th { "Incident" } th { "Activity" } } }
            tbody {
                @for a in &p.items {
                    tr data-id=(a.id) {
                        td {
                            (a.draft.title)
                            @if let AlertSource::Sigma(r) = &a.draft.source {
                                br; span.muted.small { "Sigma rule by " (r.author) }
                            }
                        }
                        td { code { (a.draft.detector) } }
                        td { (fmt::severity(a.draft.severity)) }
                        td { @match a.incident_id { Some(i) => a href={ "/incidents/" (i) } { "#" (i) }, None => span.muted { "—" } } }
                        td { (fmt::time(a.draft.first_seen)) " – " (fmt::time(a.draft.last_seen)) }
                    }
                }
                @if p.items.is_empty() { tr { td colspan="5" .empty { "None." } } }
            }
        }
        @if p.total > p.items.len() as u64 {
            p.muted.small { "The " (p.items.len()) " newest of " (p.total) "." }
        }
    }
}

fn events_table(events: &[ApiEvent<'static>]) -> Markup {
    html! {
        @if events.is_empty() {
            p.muted id="no-events" { "No stored event from this address." }
        } @else {
            table.list id="events" {
                thead { tr { th { "Time" } th { "Request" } th.num { "Status" } th { "User agent" } } }
                tbody {
                    @for e in events {
                        tr {
                            td { (fmt::time(e.ts)) }
                            td.request {
                                code {
                                    (e.method) " "
                                    @if !e.host.is_empty() { (e.host) }
                                    (e.path)
                                    @if !e.query.is_empty() { "?" (e.query) }
                                }
                            }
                            td.num { (e.status) }
                            td { @if !e.user_agent.is_empty() { a href=(entity_href(EntityKind::UserAgent, &e.user_agent)) { (fmt::short(&e.user_agent, 60)) } } }
                        }
                    }
                }
            }
            details.raw {
                summary { "Raw lines (" (events.len()) ", secrets redacted)" }
                pre id="raw-events" { @for e in events { (e.raw) "\n" } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::Role;

    fn empty<T>() -> Page<T> {
        Page {
            items: vec![],
            total: 0,
        }
    }

    fn ev(ts: i64, raw: &str) -> ApiEvent<'static> {
        ApiEvent {
            ts: Timestamp(ts),
            method: "GET".into(),
            path: "/x".into(),
            raw: raw.to_string().into(),
            user_agent: "<script>ua</script>".into(),
            ..Default::default()
        }
    }

    #[test]
    fn seen_spans_every_source() {
        let (inc, al) = (empty(), empty());
        let events = [ev(5_000, "a"), ev(2_000, "b")];
        let mut view = EntityView {
            kind: EntityKind::Ip,
            value: "203.0.113.9",
            activity: Some(EntityActivity {
                last_seen: Some(Timestamp(9_000)),
                last_allowed: None,
            }),
            incidents: &inc,
            alerts: &al,
            events: &events,
            access: &[],
            actions: &[],
            endpoints: &[],
        };
        assert_eq!(
            seen(&view),
            (Some(Timestamp(2_000)), Some(Timestamp(9_000)))
        );
        view.events = &[];
        view.activity = None;
        assert_eq!(seen(&view), (None, None));
    }

    #[test]
    fn offers_follow_kind_and_role() {
        assert_eq!(
            containments(EntityKind::Endpoint, "api.example.com GET /a/{id}")[0].2,
            "GET /a/{id}"
        );
        assert!(containments(EntityKind::UserAgent, "curl").is_empty());
        assert!(
            containments(EntityKind::Endpoint, "GET /a b").is_empty(),
            "not a target"
        );
        assert_eq!(containments(EntityKind::ApiKey, "not-an-identity").len(), 0);
        let (inc, al) = (empty(), empty());
        let events = [ev(1, "<img src=x>")];
        let view = EntityView {
            kind: EntityKind::Ip,
            value: "203.0.113.9",
            activity: None,
            incidents: &inc,
            alerts: &al,
            events: &events,
            access: &[],
            actions: &[],
            endpoints: &[],
        };
        let page_for = |role| {
            entity(
                &Viewer {
                    name: "n".into(),
                    role,
                    csrf: "c".into(),
                },
                &view,
            )
            .into_string()
        };
        let t1 = page_for(Role::Tier1);
        assert!(!t1.contains("class=\"contain\""), "tier1 cannot contain");
        assert!(t1.contains("&lt;img src=x&gt;"), "raw lines are text");
        assert!(!t1.contains("<script>ua"), "user agents are text");
        let t2 = page_for(Role::Tier2);
        assert!(
            t2.contains("/actions?kind=block_ip&amp;target=203.0.113.9#new-action"),
            "{t2}"
        );
    }
}
