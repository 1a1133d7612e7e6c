//! The first-incident walkthrough: a guided path through one real incident for a new analyst
//! (triage, story, entity, contain, verify, resolve), each step marked done from what the
//! store says.

use maud::{html, Markup};
use rampart_model::{Incident, Permission};

use crate::{fmt, Nav, Viewer};

/// One step.
#[derive(Debug, Clone)]
pub struct Step {
    /// Stable id (`triage`, `story`, `entity`, `contain`, `verify`, `resolve`).
    pub id: &'static str,
    /// What to do, in a few words.
    pub title: &'static str,
    /// How, in a sentence.
    pub how: String,
    /// Where to do it.
    pub href: String,
    /// Whether it is done.
    pub done: bool,
}

/// What the walkthrough shows: its incident (none when the store has no suitable one) and
/// the steps.
#[derive(Debug, Clone, Default)]
pub struct WalkView<'a> {
    /// The incident walked through.
    pub incident: Option<&'a Incident>,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// The walkthrough page.
pub fn page_body(v: &Viewer, w: &WalkView<'_>) -> Markup {
    let Some(inc) = w.incident else {
        return html! {
            section.card.walk {
                h1 { "First incident walkthrough" }
                p { "There is no open incident with an attacker address to walk through yet. Run " code { "rampart demo" } " for sample traffic, or come back when the queue has one." }
            }
        };
    };
    let current = w.steps.iter().position(|s| !s.done);
    let done = w.steps.iter().filter(|s| s.done).count();
    html! {
        section.card.walk {
            h1 { "First incident walkthrough" }
            p {
                "Respond to a real incident from start to end, guided. This one is "
                a href={ "/incidents/" (inc.id) } { "#" (inc.id) " " (inc.title) }
                " (" (fmt::severity(inc.severity)) ", priority " (inc.priority) ")."
            }
            @if !v.can(Permission::ContainLow) {
                p.guide { "Your role (" (v.role.as_str()) ") may not contain: ask a tier2 analyst or above to do the containment step, and follow along." }
            }
            p.muted { (done) " of " (w.steps.len()) " steps done." }
            ol id="walkthrough" data-incident=(inc.id) {
                @for (i, s) in w.steps.iter().enumerate() {
                    li id={ "step-" (s.id) } class=@if s.done { "done" } @else if Some(i) == current { "current" } @else { "todo" } {
                        strong { (s.title) }
                        " — " (s.how) " "
                        a.go href=(s.href) { @if s.done { "again" } @else { "go" } }
                    }
                }
            }
            @if current.is_none() {
                div.flash.ok id="walkthrough-complete" {
                    "Done: you triaged, investigated, contained, verified and resolved your first incident. The queue has more."
                }
            }
        }
    }
}

/// The whole page.
pub fn page(v: &Viewer, w: &WalkView<'_>) -> Markup {
    crate::page(Some(v), Nav::Walkthrough, "Walkthrough", page_body(v, w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::Role;

    fn step(id: &'static str, done: bool) -> Step {
        Step {
            id,
            title: "t",
            how: "<b>h</b>".into(),
            href: "/x".into(),
            done,
        }
    }

    #[test]
    fn marks_done_current_and_complete() {
        let v = Viewer {
            name: "a".into(),
            role: Role::Tier1,
            csrf: "c".into(),
        };
        let inc: Incident = serde_json::from_value(serde_json::json!({
            "id": 4, "title": "t", "severity": "High", "status": "Active",
            "classification": "Unknown", "determination": "NotAvailable",
            "created_at": 0, "updated_at": 0, "first_activity": 0, "last_activity": 0,
            "priority": 50, "alert_count": 1
        }))
        .unwrap();
        let half = WalkView {
            incident: Some(&inc),
            steps: vec![
                step("triage", true),
                step("story", false),
                step("entity", false),
            ],
        };
        let out = page(&v, &half).into_string();
        assert!(out.contains(r#"id="step-triage" class="done""#), "{out}");
        assert!(out.contains(r#"id="step-story" class="current""#));
        assert!(out.contains(r#"id="step-entity" class="todo""#));
        assert!(!out.contains("walkthrough-complete"));
        assert!(out.contains("&lt;b&gt;h"), "escaped");
        assert!(out.contains("may not contain"), "tier1 is told");
        let all = WalkView {
            incident: Some(&inc),
            steps: vec![step("triage", true), step("story", true)],
        };
        assert!(page(&v, &all)
            .into_string()
            .contains("walkthrough-complete"));
        assert!(page(&v, &WalkView::default())
            .into_string()
            .contains("no open incident"));
    }
}
