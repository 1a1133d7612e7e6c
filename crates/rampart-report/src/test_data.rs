//! Incidents, alerts and actions for the unit tests.

use std::borrow::Cow;

use rampart_model::{
    Action, ActionKind, ActionScope, ActionStatus, Alert, AlertDraft, AlertSource, AlertStatus,
    ApiEvent, AttackStage, Classification, Comment, Determination, Entity, EntityKind, EntityRole,
    Incident, IncidentDetail, IncidentStatus, NewAction, NewTask, Severity, Task, TaskKind,
    Timestamp,
};

use crate::ReportData;

/// 2026-01-01T00:00:00Z.
pub const NOW: Timestamp = Timestamp(1_767_225_600_000);

/// An incident of `classification` with an attacker address, a user agent and a target.
pub fn incident_with(classification: Classification) -> Incident {
    Incident {
        id: 7,
        title: "Spike from 203.0.113.9".into(),
        severity: Severity::High,
        status: IncidentStatus::Active,
        assigned_to: Some("alice".into()),
        classification,
        determination: Determination::NotAvailable,
        tags: vec!["demo".into()],
        created_at: Timestamp(NOW.millis() - 3_600_000),
        updated_at: Timestamp(NOW.millis() - 60_000),
        first_activity: Timestamp(NOW.millis() - 7_200_000),
        last_activity: Timestamp(NOW.millis() - 3_700_000),
        priority: 60,
        priority_reasons: Vec::new(),
        entities: vec![
            Entity::attacker_ip("203.0.113.9"),
            Entity::new(
                EntityKind::UserAgent,
                "<script>alert(1)</script>",
                EntityRole::Related,
            ),
            Entity::target_endpoint("GET /api/users/{id}"),
        ],
        alert_count: 1,
        redirect_to: None,
    }
}

/// An evidence event whose path and user agent carry markup.
pub fn event(ts: Timestamp) -> ApiEvent<'static> {
    ApiEvent {
        ts,
        client_ip: "203.0.113.9".parse().ok(),
        method: Cow::Borrowed("GET"),
        path: Cow::Borrowed("/api/users/<img src=x onerror=alert(2)>"),
        status: 200,
        user_agent: Cow::Borrowed("<script>alert(1)</script>"),
        raw: Cow::Borrowed(
            "203.0.113.9 - - \"GET /api/users/<img src=x onerror=alert(2)> HTTP/1.1\" 200 12 \"-\" \"<script>alert(1)</script>\"",
        ),
        ..ApiEvent::default()
    }
}

/// An alert of `detector` at `stage` on the incident's entities, with one evidence event.
pub fn alert(detector: &str, stage: AttackStage, owasp: Option<&str>) -> Alert {
    let at = Timestamp(NOW.millis() - 7_000_000);
    Alert {
        id: 11,
        incident_id: Some(7),
        status: AlertStatus::New,
        created_at: at,
        draft: AlertDraft {
            detector: detector.into(),
            title: format!("{detector} fired"),
            description: "what happened".into(),
            severity: Severity::High,
            mitre: vec!["T1499".into()],
            owasp: owasp.map(String::from),
            entities: vec![
                Entity::attacker_ip("203.0.113.9"),
                Entity::target_endpoint("GET /api/users/{id}"),
            ],
            evidence: vec![event(at)],
            first_seen: at,
            last_seen: at,
            reasons: Vec::new(),
            source: AlertSource::Rampart,
            stage,
            incident_hint: None,
        },
    }
}

/// The report data of `incident` with `alerts`, a comment carrying markup and a task.
pub fn data(incident: Incident, alerts: Vec<Alert>) -> ReportData {
    let id = incident.id;
    ReportData {
        detail: IncidentDetail {
            incident,
            alerts,
            comments: vec![Comment {
                id: 1,
                incident_id: id,
                author: "bob".into(),
                text: "seen <b>before</b> [link](javascript:alert(3))".into(),
                created_at: NOW,
            }],
        },
        actions: Vec::new(),
        containment: None,
        tasks: vec![Task {
            id: 1,
            incident_id: id,
            task: NewTask {
                kind: TaskKind::Custom,
                title: "check the logs".into(),
                detail: String::new(),
                entity: None,
            },
            done: false,
            done_by: None,
            done_at: None,
            created_at: NOW,
            created_by: "alice".into(),
        }],
        shadow_endpoints: Some(Vec::new()),
        generated_at: NOW,
        generated_by: "test".into(),
    }
}

/// An active block of `ip`.
pub fn block(ip: &str) -> Action {
    Action {
        id: 3,
        action: NewAction {
            kind: ActionKind::BlockIp,
            target: ip.into(),
            scope: ActionScope::default(),
            rate: None,
            reason: "stop it".into(),
            incident_id: Some(7),
            requested_by: "alice".into(),
            status: ActionStatus::Active,
            created_at: NOW,
            starts_at: Some(NOW),
            expires_at: Some(Timestamp(NOW.millis() + 3_600_000)),
            duration_secs: 3600,
        },
        approved_by: None,
        approved_at: None,
        reverted_by: None,
        revert_reason: None,
        reverted_at: None,
        failure: None,
        denied: 42,
        last_denied: Some(NOW),
    }
}
