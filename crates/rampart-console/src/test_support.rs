//! Fixtures shared by the unit tests of the pages.

use rampart_model::{
    Alert, AlertDraft, AlertSource, AlertStatus, AttackStage, Entity, Severity, Timestamp,
};

/// Alert `id` of `stage`, first seen at `at` (millis), naming `entities`.
pub(crate) fn alert(id: i64, stage: AttackStage, at: i64, entities: Vec<Entity>) -> Alert {
    Alert {
        id,
        incident_id: Some(1),
        status: AlertStatus::New,
        created_at: Timestamp(0),
        draft: AlertDraft {
            detector: "API_Test".into(),
            title: format!("a{id}"),
            description: String::new(),
            severity: Severity::High,
            mitre: vec!["T1190".into()],
            owasp: None,
            entities,
            evidence: vec![],
            first_seen: Timestamp(at),
            last_seen: Timestamp(at + 500),
            reasons: vec![],
            source: AlertSource::Rampart,
            stage,
            incident_hint: None,
        },
    }
}

/// A viewer of `role`.
pub(crate) fn viewer(role: rampart_model::Role) -> crate::Viewer {
    crate::Viewer {
        name: "ana".into(),
        role,
        csrf: "csrf-token".into(),
    }
}
