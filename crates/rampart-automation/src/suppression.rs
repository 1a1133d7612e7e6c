//! "Create a suppression rule from this incident" (Sentinel's suppression from an incident):
//! a rule pre-filled from an incident's detectors and actor entities that resolves matching
//! new incidents as expected activity until it expires. The console shows it in the rule
//! editor for the analyst to narrow or widen before saving; nothing is stored here.

use rampart_model::{
    Classification, Determination, EntityKind, EntityRole, Incident, IncidentStatus, Timestamp,
};

use crate::{Action, Condition, Operator, Property, Rule, Trigger};

/// How long a suppression made from an incident runs by default, in days.
pub const DEFAULT_DAYS: i64 = 7;

/// Most values per entity kind a pre-filled rule lists.
pub const MAX_VALUES: usize = 20;

/// Order of a pre-filled suppression (early: later rules need not see what it resolves).
pub const ORDER: u16 = 10;

/// The rule that suppresses incidents like `incident`: raised by one of `detectors` and
/// naming one of its actor entities (the attackers when it names any, else every IP, user
/// and API key), resolved until `expires_at` with `comment` (the default says where the rule
/// came from) as the incident was classified when that was benign (false positive or
/// expected activity), else as expected activity from a security test. The console's
/// "create a suppression rule from this incident" and the post-incident review's lesson
/// both make it here.
pub fn from_incident(
    incident: &Incident,
    detectors: &[&str],
    expires_at: Timestamp,
    comment: Option<String>,
) -> Rule {
    let attackers = incident
        .entities
        .iter()
        .any(|e| e.role == EntityRole::Attacker && e.kind.is_actor());
    let mut by_kind: Vec<Condition> = Vec::new();
    for kind in [EntityKind::Ip, EntityKind::User, EntityKind::ApiKey] {
        let mut values: Vec<String> = Vec::new();
        for e in &incident.entities {
            if e.kind == kind
                && (!attackers || e.role == EntityRole::Attacker)
                && !values.contains(&e.value)
                && values.len() < MAX_VALUES
            {
                values.push(e.value.clone());
            }
        }
        if !values.is_empty() {
            by_kind.push(compare(Property::Entity(Some(kind)), values));
        }
    }
    let mut all = Vec::new();
    let mut dets: Vec<String> = Vec::new();
    for d in detectors {
        if !dets.iter().any(|x| x == d) {
            dets.push((*d).to_string());
        }
    }
    if !dets.is_empty() {
        all.push(compare(Property::Detector, dets));
    }
    match by_kind.len() {
        0 => {}
        1 => all.extend(by_kind),
        _ => all.push(Condition::Any(by_kind)),
    }
    let (classification, determination) = match incident.classification {
        c @ (Classification::FalsePositive | Classification::InformationalExpectedActivity) => (
            c,
            match incident.determination {
                Determination::NotAvailable => Determination::Other,
                d => d,
            },
        ),
        _ => (
            Classification::InformationalExpectedActivity,
            Determination::SecurityTesting,
        ),
    };
    Rule {
        name: format!("suppress-incident-{}", incident.id),
        order: ORDER,
        enabled: true,
        expires_at: Some(expires_at),
        triggers: vec![Trigger::IncidentCreated],
        conditions: match all.len() {
            0 => None,
            1 => all.pop(),
            _ => Some(Condition::All(all)),
        },
        actions: vec![Action::SetStatus {
            status: IncidentStatus::Resolved,
            classification: Some(classification),
            determination: Some(determination),
            comment: Some(comment.unwrap_or_else(|| {
                format!("suppressed by a rule made from incident #{}", incident.id)
            })),
        }],
    }
}

fn compare(property: Property, values: Vec<String>) -> Condition {
    Condition::Compare {
        property,
        operator: Operator::Equals,
        values,
        networks: Vec::new(),
    }
}

/// A rule as the YAML the editor shows (what [`crate::parse_rule`] reads back), after a
/// comment saying where it came from.
pub fn to_yaml(rule: &Rule, header: &str) -> String {
    let mut out = String::new();
    for line in header.lines() {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&serde_yaml::to_string(rule).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::{Entity, Severity};

    fn incident(entities: Vec<Entity>) -> Incident {
        Incident {
            id: 42,
            title: "Credential stuffing".into(),
            severity: Severity::High,
            status: IncidentStatus::Active,
            assigned_to: None,
            classification: Classification::Unknown,
            determination: Determination::NotAvailable,
            tags: Vec::new(),
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            first_activity: Timestamp(0),
            last_activity: Timestamp(0),
            priority: 50,
            priority_reasons: Vec::new(),
            entities,
            alert_count: 1,
            redirect_to: None,
        }
    }

    fn check(entities: Vec<Entity>, detectors: &[&str], expected: &str) {
        let rule = from_incident(
            &incident(entities),
            detectors,
            Timestamp(1_800_000_000_000),
            None,
        );
        let text = to_yaml(&rule, "from incident #42");
        let back = crate::parse_rule(&text).expect("the template parses");
        assert_eq!(back, rule, "round trip");
        assert_eq!(text.trim(), expected.trim(), "{text}");
    }

    #[test]
    fn attackers_and_detectors() {
        check(
            vec![
                Entity::new(EntityKind::Ip, "203.0.113.9", EntityRole::Attacker),
                Entity::new(EntityKind::Ip, "198.51.100.1", EntityRole::Related),
                Entity::new(EntityKind::User, "mallory", EntityRole::Attacker),
                Entity::new(
                    EntityKind::Endpoint,
                    "api.example POST /login",
                    EntityRole::Target,
                ),
            ],
            &[
                "credential_stuffing",
                "credential_stuffing",
                "account_takeover",
            ],
            r#"
# from incident #42
name: suppress-incident-42
order: 10
enabled: true
expires_at: 2027-01-15T08:00:00.000Z
triggers:
- incident_created
conditions:
  all:
  - property: detector
    operator: equals
    values:
    - credential_stuffing
    - account_takeover
  - any:
    - property: entity.ip
      operator: equals
      value: 203.0.113.9
    - property: entity.user
      operator: equals
      value: mallory
actions:
- set_status:
    status: Resolved
    classification: InformationalExpectedActivity
    determination: SecurityTesting
    comment: 'suppressed by a rule made from incident #42'
"#,
        );
    }

    #[test]
    fn hostile_values_stay_values() {
        let rule = from_incident(
            &incident(vec![Entity::new(
                EntityKind::User,
                "x\n- set_status: {status: Resolved}\n# ",
                EntityRole::Attacker,
            )]),
            &["a: b"],
            Timestamp(0),
            Some("x'\"\n- y".into()),
        );
        let text = to_yaml(&rule, "line one\nline two");
        let back = crate::parse_rule(&text).expect("parses");
        assert_eq!(back, rule);
        assert_eq!(back.actions.len(), 1);
    }

    #[test]
    fn without_actors_only_detectors() {
        let rule = from_incident(&incident(vec![]), &["spike"], Timestamp(0), None);
        assert!(matches!(
            rule.conditions,
            Some(Condition::Compare {
                property: Property::Detector,
                ..
            })
        ));
    }
}

#[cfg(test)]
mod classification {
    use super::*;

    #[test]
    fn a_benign_classification_is_kept() {
        let mut i = tests_incident();
        i.classification = Classification::FalsePositive;
        let rule = from_incident(&i, &["d"], Timestamp(0), None);
        assert!(matches!(
            &rule.actions[0],
            Action::SetStatus {
                classification: Some(Classification::FalsePositive),
                determination: Some(Determination::Other),
                ..
            }
        ));
    }

    fn tests_incident() -> Incident {
        Incident {
            id: 1,
            title: "t".into(),
            severity: rampart_model::Severity::Low,
            status: IncidentStatus::Active,
            assigned_to: None,
            classification: Classification::Unknown,
            determination: Determination::NotAvailable,
            tags: Vec::new(),
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            first_activity: Timestamp(0),
            last_activity: Timestamp(0),
            priority: 0,
            priority_reasons: Vec::new(),
            entities: Vec::new(),
            alert_count: 0,
            redirect_to: None,
        }
    }
}
