//! The first-incident walkthrough: one real incident, six steps, each done when the store
//! says so (an assignment, an action, a resolution) or when the user has seen the page the
//! step is about (noted per user in the store, so any node knows).

use axum::extract::State;
use axum::response::Response;
use rampart_console::walkthrough::{Step, WalkView};
use rampart_contain::recovery::Coverage;
use rampart_model::{
    ActionFilter, EntityKind, EntityRole, IncidentFilter, IncidentSort, IncidentStatus,
};

use super::{ok_page, viewer, PageError};
use crate::auth::{Caller, Via};
use crate::AppState;

/// Note that the signed-in user saw `step` (a console page); errors are logged, never shown.
pub async fn note(state: &AppState, caller: &Caller, step: &str) {
    if !matches!(caller.via, Via::Session(_)) {
        return;
    }
    if let Err(e) = state.store.note_walkthrough(&caller.name, step, "1").await {
        tracing::warn!(error = %e, step, "noting a walkthrough step");
    }
}

/// The walkthrough's incident for this user: the one noted, else the highest-priority open
/// incident with an attacker IP nobody else owns, preferably one attack disruption has not
/// contained (noted from then on).
async fn incident_of(
    state: &AppState,
    user: &str,
    notes: &[(String, String)],
) -> Result<Option<i64>, PageError> {
    if let Some(id) = notes
        .iter()
        .find(|(k, _)| k == "incident")
        .and_then(|(_, v)| v.parse().ok())
    {
        return Ok(Some(id));
    }
    let open = state
        .store
        .list_incidents(&IncidentFilter {
            status: vec![IncidentStatus::Active],
            sort: IncidentSort::Priority,
            limit: Some(200),
            ..Default::default()
        })
        .await?;
    let suitable = |i: &&rampart_model::Incident| {
        i.assigned_to.as_deref().is_none_or(|a| a == user)
            && i.entities
                .iter()
                .any(|e| e.kind == EntityKind::Ip && e.role == EntityRole::Attacker)
    };
    // one that attack disruption has not contained already, so every step is the user's
    let disrupted = |i: &&rampart_model::Incident| {
        i.tags
            .iter()
            .any(|t| t.eq_ignore_ascii_case(rampart_contain::disruption::TAG))
    };
    let pick = open
        .items
        .iter()
        .filter(suitable)
        .find(|i| !disrupted(i))
        .or_else(|| open.items.iter().find(suitable));
    let Some(inc) = pick else { return Ok(None) };
    state
        .store
        .note_walkthrough(user, "incident", &inc.id.to_string())
        .await?;
    Ok(Some(inc.id))
}

/// The viewer's walkthrough: its incident and steps, `None` when there is no suitable
/// incident.
pub async fn steps(
    state: &AppState,
    caller: &Caller,
) -> Result<Option<(rampart_model::IncidentDetail, Vec<Step>)>, PageError> {
    let notes = state.store.walkthrough(&caller.name).await?;
    let Some(id) = incident_of(state, &caller.name, &notes).await? else {
        return Ok(None);
    };
    let Some(d) = state.store.get_incident(id).await? else {
        return Ok(None);
    };
    let steps = steps_of(state, caller, &d, &notes).await?;
    Ok(Some((d, steps)))
}

/// The next step to do on incident `id` when it is the viewer's walkthrough incident (a
/// session user who has started the walkthrough), with its number.
pub async fn next_step(
    state: &AppState,
    caller: &Caller,
    d: &rampart_model::IncidentDetail,
) -> Option<(usize, Step)> {
    if !matches!(caller.via, Via::Session(_)) {
        return None;
    }
    let notes = state.store.walkthrough(&caller.name).await.ok()?;
    let mine = notes
        .iter()
        .find(|(k, _)| k == "incident")
        .and_then(|(_, v)| v.parse::<i64>().ok())?;
    if mine != d.incident.id {
        return None;
    }
    let steps = steps_of(state, caller, d, &notes).await.ok()?;
    steps
        .into_iter()
        .enumerate()
        .find(|(_, s)| !s.done)
        .map(|(i, s)| (i + 1, s))
}

/// `GET /walkthrough`.
pub async fn page(State(state): State<AppState>, caller: Caller) -> Result<Response, PageError> {
    let v = viewer(&caller);
    let Some((d, steps)) = steps(&state, &caller).await? else {
        return Ok(ok_page(rampart_console::walkthrough::page(
            &v,
            &WalkView::default(),
        )));
    };
    Ok(ok_page(rampart_console::walkthrough::page(
        &v,
        &WalkView {
            incident: Some(&d.incident),
            steps,
        },
    )))
}

async fn steps_of(
    state: &AppState,
    caller: &Caller,
    d: &rampart_model::IncidentDetail,
    notes: &[(String, String)],
) -> Result<Vec<Step>, PageError> {
    let id = d.incident.id;
    let inc = &d.incident;
    let ip = inc
        .entities
        .iter()
        .find(|e| e.kind == EntityKind::Ip && e.role == EntityRole::Attacker)
        .map(|e| e.value.clone())
        .unwrap_or_default();
    let noted = |k: String| notes.iter().any(|(n, _)| *n == k);
    let actions = state
        .store
        .list_actions(&ActionFilter {
            incident_id: Some(id),
            limit: Some(200),
            ..Default::default()
        })
        .await?;
    let attacker = rampart_model::Entity::new(EntityKind::Ip, ip.clone(), EntityRole::Attacker);
    let contained = actions
        .items
        .iter()
        .any(|a| rampart_contain::recovery::coverage_of(a, &attacker) != Coverage::None);
    let triaged = inc.assigned_to.as_deref() == Some(caller.name.as_str())
        && matches!(
            inc.status,
            IncidentStatus::InProgress | IncidentStatus::Resolved
        );
    let entity_href = rampart_console::fmt::entity_href(EntityKind::Ip, &ip);
    let steps = vec![
        Step {
            id: "triage",
            title: "Triage it in the queue",
            how: format!(
                "Incident #{id} is at the top of the queue. Open it, assign it to yourself ({}) and set its status to In progress in the manage pane.",
                caller.name
            ),
            href: format!("/incidents/{id}?tab=story"),
            done: triaged,
        },
        Step {
            id: "story",
            title: "Read the attack story",
            how: "The Attack story tab puts its alerts in order, from reconnaissance to impact, with what each one means.".into(),
            href: format!("/incidents/{id}?tab=story"),
            done: noted(format!("story:{id}")),
        },
        Step {
            id: "entity",
            title: "Inspect the attacker",
            how: format!("Open the page of the attacker's address {ip}: every incident, alert and request of it."),
            href: entity_href,
            done: noted(format!("entity:ip:{ip}")),
        },
        Step {
            id: "contain",
            title: "Contain: block the attacker's address",
            how: "On the Evidence and response tab, use the recommended block. Your role decides whether it applies at once or waits for an approval.".into(),
            href: format!("/incidents/{id}?tab=response"),
            done: contained,
        },
        Step {
            id: "verify",
            title: "Verify the containment",
            how: "Back on Evidence and response: the action, its denials at the gateway and the containment verdict.".into(),
            href: format!("/incidents/{id}?tab=response"),
            done: contained && noted(format!("verify:{id}")),
        },
        Step {
            id: "resolve",
            title: "Resolve with findings",
            how: "Resolve it with a classification, a determination and a note of what you found.".into(),
            href: format!("/incidents/{id}?tab=story#resolve"),
            done: inc.status == IncidentStatus::Resolved,
        },
    ];
    Ok(steps)
}
