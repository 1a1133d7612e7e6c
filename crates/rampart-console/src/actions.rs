//! The action center: pending approvals, active and past containment actions, and the form
//! that asks for a new one. What a person may do is decided by the server and
//! `rampart-contain`; a page only leaves out the buttons a role cannot use.

use maud::{html, Markup};
use rampart_model::action::format_duration;
use rampart_model::{Action, ActionKind, ActionStatus, Permission};

use crate::fmt;
use crate::{page, Nav, Viewer};

/// The new-action form's values given in the query string (`/actions?kind=block_ip&target=..`,
/// as the entity pages link to it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionDraft {
    /// Kind to preselect.
    pub kind: Option<ActionKind>,
    /// Target to fill in.
    pub target: String,
    /// The incident it answers.
    pub incident: Option<i64>,
}

impl ActionDraft {
    /// Read a draft from a query string; unknown keys and values that do not parse are
    /// left out (it only fills a form in).
    pub fn parse(query: &str) -> ActionDraft {
        let mut d = ActionDraft::default();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "kind" => d.kind = v.parse().ok(),
                "target" => d.target = fmt::short(v.trim(), 256),
                "incident" => d.incident = v.parse().ok(),
                _ => {}
            }
        }
        d
    }

    /// The action center's address with this draft filled in.
    pub fn href(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        if let Some(k) = self.kind {
            s.append_pair("kind", k.as_str());
        }
        if !self.target.is_empty() {
            s.append_pair("target", &self.target);
        }
        if let Some(i) = self.incident {
            s.append_pair("incident", &i.to_string());
        }
        format!("/actions?{}#new-action", s.finish())
    }
}

/// What the action center shows.
pub struct ActionsView<'a> {
    /// Waiting for approval, newest first.
    pub pending: &'a [Action],
    /// In force, newest first.
    pub active: &'a [Action],
    /// Expired, reverted or failed, newest first (bounded).
    pub past: &'a [Action],
    /// The new-action form's values.
    pub draft: &'a ActionDraft,
    /// A message after a form was sent.
    pub flash: Option<&'a str>,
}

/// The audit actor of the viewer (`user:<name>`), as actions record who asked.
pub fn actor_of(v: &Viewer) -> String {
    format!("user:{}", v.name)
}

/// Whether the viewer gets an Approve button on `a`: pending, someone else's, and the role
/// holds `approve` (the server checks again).
pub fn may_approve(v: &Viewer, a: &Action) -> bool {
    a.status() == ActionStatus::PendingApproval
        && v.can(Permission::Approve)
        && a.action.requested_by != actor_of(v)
}

/// Whether the viewer gets a Revert button on `a`: not final, and its own with `revert_own`
/// or anyone's with `revert_any` (the server checks again).
pub fn may_revert(v: &Viewer, a: &Action) -> bool {
    !a.status().is_final()
        && (v.can(Permission::RevertAny)
            || (v.can(Permission::RevertOwn) && a.action.requested_by == actor_of(v)))
}

/// An action's target with its scope and rate, in words.
pub fn target_text(a: &Action) -> String {
    let n = &a.action;
    let mut s = n.target.clone();
    if let Some(r) = n.rate {
        s.push_str(&format!(
            " ({} per {})",
            r.requests,
            format_duration(r.window_secs)
        ));
    }
    if let Some(h) = &n.scope.host {
        s.push_str(&format!(" on host {h}"));
    }
    if let Some(sv) = &n.scope.service {
        s.push_str(&format!(" on service {sv}"));
    }
    s
}

fn status_badge(s: ActionStatus) -> Markup {
    html! { span class={ "badge act-" (s.as_str()) } { (s.as_str()) } }
}

/// A table of actions; with `back`, the Approve and Revert forms the viewer may use, which
/// return to `back`.
pub fn actions_table(v: &Viewer, id: &str, actions: &[Action], back: Option<&str>) -> Markup {
    html! {
        table.list.actions id=(id) {
            thead { tr {
                th { "#" } th { "Kind" } th { "Target" } th { "Status" } th { "Requested by" }
                th { "Approved by" } th { "Created" } th { "Expires" } th.num { "Hits" } th { "Reason" }
                @if back.is_some() { th {} }
            } }
            tbody {
                @for a in actions {
                    tr data-action=(a.id) data-status=(a.status().as_str()) {
                        td { (a.id) }
                        td { code { (a.action.kind.as_str()) } }
                        td.target { code { (target_text(a)) } }
                        td { (status_badge(a.status())) }
                        td { (a.action.requested_by) }
                        td { (a.approved_by.as_deref().unwrap_or("—")) }
                        td { (fmt::time(a.action.created_at)) }
                        td {
                            @match a.action.expires_at {
                                Some(t) => (fmt::time(t)),
                                None => span.muted { (format_duration(a.action.duration_secs)) " once approved" },
                            }
                        }
                        td.num {
                            (a.denied)
                            @if let Some(t) = a.last_denied { br; span.muted.small { "last " (fmt::time(t)) } }
                        }
                        td.reason {
                            (a.action.reason)
                            @if let Some(i) = a.action.incident_id { br; a href={ "/incidents/" (i) } { "incident #" (i) } }
                            @if let Some(r) = &a.revert_reason {
                                br; span.muted.small { "reverted by " (a.reverted_by.as_deref().unwrap_or("?")) ": " (r) }
                            }
                            @if let Some(f) = &a.failure { br; span.error.small { "failed: " (f) } }
                        }
                        @if let Some(back) = back {
                            td.controls {
                                @if may_approve(v, a) {
                                    form.inline method="post" action={ "/actions/" (a.id) "/approve" } {
                                        (v.csrf_field())
                                        input type="hidden" name="back" value=(back);
                                        button.small type="submit" data-confirm="Approve this action? It comes into force at once." { "Approve" }
                                    }
                                }
                                @if may_revert(v, a) {
                                    form.revert method="post" action={ "/actions/" (a.id) "/revert" } {
                                        (v.csrf_field())
                                        input type="hidden" name="back" value=(back);
                                        input type="text" name="reason" required maxlength="2000" placeholder="why revert";
                                        button.small.danger type="submit" { "Revert" }
                                    }
                                }
                            }
                        }
                    }
                }
                @if actions.is_empty() {
                    tr { td colspan="11" .empty { "None." } }
                }
            }
        }
    }
}

/// The action center.
pub fn action_center(v: &Viewer, view: &ActionsView<'_>) -> Markup {
    let back = "/actions";
    page(
        Some(v),
        Nav::Actions,
        "Actions",
        html! {
            @if let Some(f) = view.flash { (crate::flash("ok", f)) }
            header.page-head {
                h1 { "Action center" }
                span.count { (view.pending.len()) " pending · " (view.active.len()) " active" }
            }
            h2 id="pending" { "Waiting for approval" }
            p.muted.small { "An action that needs approval comes into force when someone else with the approve permission approves it." }
            (actions_table(v, "pending-actions", view.pending, Some(back)))
            h2 id="active" { "Active" }
            (actions_table(v, "active-actions", view.active, Some(back)))
            h2 id="past" { "Past" }
            p.muted.small {
                "Expired, reverted and failed actions, newest first. A request the safety rails "
                "refuse (protected target, range too wide, duration too long, role not permitted) "
                "is answered with the reason and never becomes an action."
            }
            (actions_table(v, "past-actions", view.past, None))
            @if v.can(Permission::ContainLow) {
                (new_action_form(v, view.draft))
            }
        },
    )
}

fn new_action_form(v: &Viewer, d: &ActionDraft) -> Markup {
    html! {
        section.card id="new-action" {
            h2 { "New action" }
            p.muted.small {
                "Blocking one address, disabling a key or a principal and rate limits need "
                code { "contain_low" } "; ranges and isolating an endpoint or a service need "
                code { "contain_high" } ". Protected entities, too-wide ranges and too-long "
                "durations are refused; some kinds wait for approval."
            }
            form.stack method="post" action="/actions" id="new-action-form" {
                (v.csrf_field())
                input type="hidden" name="back" value="/actions";
                div.row {
                    label { "Kind"
                        select name="kind" required {
                            @for k in ActionKind::ALL {
                                option value=(k.as_str()) selected[d.kind == Some(*k)] { (k.as_str()) }
                            }
                        }
                    }
                    label.wide { "Target"
                        input type="text" name="target" value=(d.target) required maxlength="256"
                            placeholder="203.0.113.7, 203.0.113.0/24, a key identity, a principal, GET /path/{id}, a service, ip:ADDRESS";
                    }
                    label { "Duration"
                        input type="text" name="duration" placeholder="default (e.g. 4h, 30m, 7d)" maxlength="16";
                    }
                    label { "Incident"
                        input type="number" name="incident_id" min="1" value=[d.incident];
                    }
                }
                div.row {
                    label { "Rate limit: requests"
                        input type="number" name="rate_requests" min="1" max="1000000" placeholder="rate_limit only";
                    }
                    label { "per window"
                        input type="text" name="rate_window" placeholder="1m" maxlength="16";
                    }
                }
                label { "Reason" textarea name="reason" required maxlength="2000" {} }
                button type="submit" id="create-action" { "Create action" }
            }
        }
    }
}

/// The link that opens the action center with a containment of this entity filled in.
pub fn contain_href(kind: ActionKind, target: &str) -> String {
    ActionDraft {
        kind: Some(kind),
        target: target.to_string(),
        incident: None,
    }
    .href()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::{NewAction, Role, Timestamp};

    fn viewer(role: Role) -> Viewer {
        Viewer {
            name: "ann".into(),
            role,
            csrf: "tok".into(),
        }
    }

    fn action(id: i64, status: ActionStatus, by: &str) -> Action {
        Action {
            id,
            action: NewAction {
                kind: ActionKind::BlockIp,
                target: "203.0.113.7".into(),
                scope: Default::default(),
                rate: None,
                reason: "<b>stuffing</b>".into(),
                incident_id: Some(4),
                requested_by: by.into(),
                status,
                created_at: Timestamp(0),
                starts_at: None,
                expires_at: None,
                duration_secs: 3600,
            },
            approved_by: None,
            approved_at: None,
            reverted_by: None,
            revert_reason: None,
            reverted_at: None,
            failure: None,
            denied: 7,
            last_denied: None,
        }
    }

    #[test]
    fn buttons_follow_role_and_ownership() {
        let mine = action(1, ActionStatus::PendingApproval, "user:ann");
        let theirs = action(2, ActionStatus::PendingApproval, "user:bob");
        let active_theirs = action(3, ActionStatus::Active, "user:bob");
        let active_mine = action(4, ActionStatus::Active, "user:ann");
        let t3 = viewer(Role::Tier3);
        let t2 = viewer(Role::Tier2);
        assert!(!may_approve(&t3, &mine), "not one's own");
        assert!(may_approve(&t3, &theirs));
        assert!(!may_approve(&t2, &theirs), "tier2 lacks approve");
        assert!(may_revert(&t3, &active_theirs), "revert_any");
        assert!(!may_revert(&t2, &active_theirs), "revert_own only");
        assert!(may_revert(&t2, &active_mine));
        assert!(!may_revert(
            &t3,
            &action(5, ActionStatus::Expired, "user:ann")
        ));
    }

    #[test]
    fn drafts_parse_and_link() {
        let d = ActionDraft::parse("kind=block_ip&target=203.0.113.7&incident=4&x=1");
        assert_eq!(d.kind, Some(ActionKind::BlockIp));
        assert_eq!(d.target, "203.0.113.7");
        assert_eq!(d.incident, Some(4));
        assert_eq!(ActionDraft::parse(&d.href()[9..d.href().len() - 11]), d);
        assert_eq!(ActionDraft::parse("kind=nuke").kind, None);
        assert_eq!(
            contain_href(ActionKind::IsolateEndpoint, "GET /a b"),
            "/actions?kind=isolate_endpoint&target=GET+%2Fa+b#new-action"
        );
    }

    #[test]
    fn the_form_is_for_roles_that_may_contain() {
        let page_for = |role| {
            action_center(
                &viewer(role),
                &ActionsView {
                    pending: &[action(2, ActionStatus::PendingApproval, "user:bob")],
                    active: &[],
                    past: &[],
                    draft: &ActionDraft::default(),
                    flash: None,
                },
            )
            .into_string()
        };
        let t1 = page_for(Role::Tier1);
        assert!(!t1.contains("new-action-form"));
        assert!(!t1.contains("/approve"));
        assert!(
            t1.contains("&lt;b&gt;stuffing&lt;/b&gt;"),
            "reasons are escaped"
        );
        let t3 = page_for(Role::Tier3);
        assert!(t3.contains("new-action-form"));
        assert!(t3.contains("action=\"/actions/2/approve\""));
    }
}
