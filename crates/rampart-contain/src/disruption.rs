//! Automatic attack disruption (Defender XDR's name): built-in policies that contain the
//! actors of high-confidence alerts as soon as they are raised, within the same rails as
//! every other action ([`crate::plan`]: protected entities, widest range, longest duration),
//! plus their own: a short default duration, at most `max_actions_per_hour` actions over all
//! policies, and a mode per policy, `off`, `recommend` (the action is created pending
//! approval: one click in the console puts it in force) or `automatic` (in force at once).
//! An action a policy takes is requested by `disruption:<policy>`; the incident is tagged
//! [`TAG`] and every such action can be undone at once.
//!
//! Pure: the caller reads the alerts and the hour's count from the store and applies the
//! proposals through [`crate::plan`] and [`recommend`].

use std::collections::BTreeMap;

use rampart_model::{ActionKind, ActionStatus, AlertDraft, EntityRole, NewAction, Severity};
use serde::{Deserialize, Serialize};

/// The tag put on an incident that a policy contained (or recommended containing).
pub const TAG: &str = "attack disruption";

/// The prefix of the `requested_by` of every action a policy takes.
pub const ACTOR_PREFIX: &str = "disruption:";

/// What a policy does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Nothing.
    Off,
    /// Propose the action pending approval.
    #[default]
    Recommend,
    /// Put the action in force at once.
    Automatic,
}

impl Mode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Recommend => "recommend",
            Mode::Automatic => "automatic",
        }
    }
}

/// One built-in policy: which alerts are high confidence, and what to do to their actors.
#[derive(Debug)]
pub struct Policy {
    /// Id (`[disruption.policies] <id> = "automatic"`; the actor is `disruption:<id>`).
    pub id: &'static str,
    /// What it reacts to, for the catalogue and the comment.
    pub summary: &'static str,
    /// Detectors whose alerts it judges.
    pub detectors: &'static [&'static str],
    /// Lowest severity of those alerts that it acts on.
    pub min_severity: Severity,
    /// Actions, each on every attacker entity of the alert of the kind it targets.
    pub actions: &'static [ActionKind],
}

/// The built-in policies.
pub const POLICIES: &[Policy] = &[
    Policy {
        id: "account_takeover",
        summary: "a login that succeeded after a burst of failures from the same source",
        detectors: &["login_attack"],
        min_severity: Severity::Critical,
        actions: &[ActionKind::BlockIp],
    },
    Policy {
        id: "leaked_credential",
        summary: "one API key or account used from many addresses at once",
        detectors: &["leaked_credential"],
        min_severity: Severity::High,
        actions: &[ActionKind::DisableApiKey, ActionKind::DisablePrincipal],
    },
    Policy {
        id: "exploitation_answered",
        summary: "a code-execution attack the API answered with 2xx",
        detectors: &["content_inspection", "injection"],
        min_severity: Severity::Critical,
        actions: &[ActionKind::BlockIp],
    },
];

/// `[disruption]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DisruptionConfig {
    /// The mode of policies `modes` does not name (default `recommend`).
    pub mode: Mode,
    /// Mode per policy id.
    pub modes: BTreeMap<String, Mode>,
    /// Most actions all policies may take within an hour (default 20); recommendations
    /// count too.
    pub max_actions_per_hour: u32,
    /// Duration of a policy's action, seconds (default 1 h).
    pub duration_secs: u64,
}

impl Default for DisruptionConfig {
    fn default() -> Self {
        DisruptionConfig {
            mode: Mode::Recommend,
            modes: BTreeMap::new(),
            max_actions_per_hour: 20,
            duration_secs: 3600,
        }
    }
}

impl DisruptionConfig {
    /// Every policy automatic (the demo's setting).
    pub fn automatic() -> Self {
        DisruptionConfig {
            mode: Mode::Automatic,
            ..Default::default()
        }
    }

    /// The mode of `policy`.
    pub fn mode_of(&self, policy: &str) -> Mode {
        self.modes.get(policy).copied().unwrap_or(self.mode)
    }

    /// Check the policy ids `modes` names.
    pub fn validate(&self) -> Result<(), String> {
        for id in self.modes.keys() {
            if !POLICIES.iter().any(|p| p.id == id) {
                let known: Vec<&str> = POLICIES.iter().map(|p| p.id).collect();
                return Err(format!(
                    "unknown disruption policy {id:?} (known: {})",
                    known.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// One action a policy wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// The policy.
    pub policy: &'static str,
    /// Its mode (never `off`).
    pub mode: Mode,
    /// The action.
    pub kind: ActionKind,
    /// The entity value it targets.
    pub target: String,
}

impl Proposal {
    /// The actor the action is requested by.
    pub fn actor(&self) -> String {
        format!("{ACTOR_PREFIX}{}", self.policy)
    }
}

/// What the policies want done about `alert`: every (policy, action, attacker entity) whose
/// policy is not off, without duplicates.
pub fn propose(cfg: &DisruptionConfig, alert: &AlertDraft) -> Vec<Proposal> {
    let mut out: Vec<Proposal> = Vec::new();
    for p in POLICIES {
        let mode = cfg.mode_of(p.id);
        if mode == Mode::Off
            || alert.severity < p.min_severity
            || !p.detectors.contains(&alert.detector.as_str())
        {
            continue;
        }
        for kind in p.actions {
            let want = kind.entity_kind();
            for e in alert
                .entities
                .iter()
                .filter(|e| e.kind == want && e.role == EntityRole::Attacker)
            {
                if !out.iter().any(|o| o.kind == *kind && o.target == e.value) {
                    out.push(Proposal {
                        policy: p.id,
                        mode,
                        kind: *kind,
                        target: e.value.clone(),
                    });
                }
            }
        }
    }
    out
}

/// How many more actions the policies may take, given how many they took in the last hour.
pub fn budget(cfg: &DisruptionConfig, taken_last_hour: u64) -> u64 {
    u64::from(cfg.max_actions_per_hour).saturating_sub(taken_last_hour)
}

/// `action` (from [`crate::plan`]) as a recommendation: pending approval, not in force.
pub fn recommend(mut action: NewAction) -> NewAction {
    action.status = ActionStatus::PendingApproval;
    action.starts_at = None;
    action.expires_at = None;
    action
}

/// Whether `requested_by` is a disruption policy.
pub fn is_disruption(requested_by: &str) -> bool {
    requested_by.starts_with(ACTOR_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(detector: &str, severity: &str, entities: serde_json::Value) -> AlertDraft {
        serde_json::from_value(serde_json::json!({
            "detector": detector,
            "title": "t",
            "description": "d",
            "severity": severity,
            "entities": entities,
            "first_seen": "2026-12-01T11:00:00Z",
            "last_seen": "2026-12-01T11:05:00Z",
        }))
        .expect("alert draft")
    }

    fn described(ps: &[Proposal]) -> Vec<String> {
        ps.iter()
            .map(|p| format!("{} {} {} {}", p.policy, p.mode.as_str(), p.kind, p.target))
            .collect()
    }

    #[test]
    fn policies_propose_on_high_confidence_alerts_only() {
        let ip = serde_json::json!([
            {"kind": "ip", "value": "203.0.113.9", "role": "attacker"},
            {"kind": "ip", "value": "198.51.100.1", "role": "target"},
            {"kind": "user", "value": "alice", "role": "attacker"},
            {"kind": "endpoint", "value": "POST /login", "role": "target"},
        ]);
        let key = serde_json::json!([
            {"kind": "api_key", "value": "k:abc", "role": "attacker"},
            {"kind": "user", "value": "bob", "role": "attacker"},
            {"kind": "ip", "value": "203.0.113.10", "role": "attacker"},
        ]);
        let auto = DisruptionConfig::automatic();
        let mut mixed = DisruptionConfig::default();
        mixed.modes.insert("leaked_credential".into(), Mode::Off);
        mixed
            .modes
            .insert("account_takeover".into(), Mode::Automatic);
        // (config, detector, severity, entities, expected proposals)
        let cases: &[(&DisruptionConfig, &str, &str, &serde_json::Value, &[&str])] = &[
            (
                &auto,
                "login_attack",
                "Critical",
                &ip,
                &["account_takeover automatic block_ip 203.0.113.9"],
            ),
            // password guessing without a success is not high confidence
            (&auto, "login_attack", "High", &ip, &[]),
            (
                &auto,
                "leaked_credential",
                "High",
                &key,
                &[
                    "leaked_credential automatic disable_api_key k:abc",
                    "leaked_credential automatic disable_principal bob",
                ],
            ),
            (
                &auto,
                "content_inspection",
                "Critical",
                &ip,
                &["exploitation_answered automatic block_ip 203.0.113.9"],
            ),
            // a probe the API refused is not an exploitation
            (&auto, "content_inspection", "Medium", &ip, &[]),
            (&auto, "scanner", "Critical", &ip, &[]),
            (&mixed, "leaked_credential", "High", &key, &[]),
            (
                &mixed,
                "login_attack",
                "Critical",
                &ip,
                &["account_takeover automatic block_ip 203.0.113.9"],
            ),
            (
                &mixed,
                "injection",
                "Critical",
                &ip,
                &["exploitation_answered recommend block_ip 203.0.113.9"],
            ),
        ];
        for (cfg, detector, severity, entities, want) in cases {
            let got = described(&propose(
                cfg,
                &alert(detector, severity, (*entities).clone()),
            ));
            assert_eq!(got, *want, "{detector} {severity}");
        }
    }

    #[test]
    fn budget_recommend_and_validation() {
        let cfg = DisruptionConfig::default();
        assert_eq!(budget(&cfg, 0), 20);
        assert_eq!(budget(&cfg, 19), 1);
        assert_eq!(budget(&cfg, 25), 0);
        let planned = crate::plan(
            &rampart_model::ActionRequest {
                kind: ActionKind::BlockIp,
                target: "203.0.113.9".into(),
                raw_key: None,
                scope: Default::default(),
                rate: None,
                duration_secs: Some(cfg.duration_secs),
                reason: "r".into(),
                incident_id: Some(1),
            },
            crate::Person {
                actor: "disruption:account_takeover",
                role: rampart_model::Role::SocManager,
            },
            &crate::ContainConfig::default(),
            rampart_model::Timestamp(1_000),
        )
        .expect("planned");
        assert_eq!(planned.status, ActionStatus::Active);
        let r = recommend(planned);
        assert_eq!(r.status, ActionStatus::PendingApproval);
        assert!(r.starts_at.is_none() && r.expires_at.is_none());
        assert_eq!(r.duration_secs, 3600);
        assert!(is_disruption(&r.requested_by));
        let mut bad = DisruptionConfig::default();
        bad.modes.insert("nope".into(), Mode::Automatic);
        assert!(bad
            .validate()
            .unwrap_err()
            .contains("unknown disruption policy"));
        assert!(DisruptionConfig::default().validate().is_ok());
    }
}
