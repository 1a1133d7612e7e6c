//! Incident priority: a 0-100 score with the reasons that make it up.

use rampart_model::{AttackStage, PriorityReason, Severity};

/// Reason text of the Sigma signal (also used to recognise it on seeded incidents).
pub const SIGMA_REASON: &str = "matched a Sigma rule";
/// Reason text of the critical signal (also used to recognise it on seeded incidents).
pub const CRITICAL_REASON: &str = "critical alert";

/// Highest score.
pub const MAX_PRIORITY: u32 = 100;

/// What the priority score is computed from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PriorityInputs {
    /// Incident severity.
    pub severity: Option<Severity>,
    /// Distinct attack stages seen.
    pub stages: Vec<AttackStage>,
    /// Number of alerts.
    pub alert_count: u32,
    /// Distinct targets (endpoints, services).
    pub targets: usize,
    /// Distinct actor IPs.
    pub source_ips: usize,
    /// Some alert came from a Sigma rule.
    pub sigma: bool,
    /// Some alert was Critical.
    pub critical: bool,
    /// Sensitive data was seen in responses (a detector reported it).
    pub sensitive_data: bool,
}

/// The score (0-100) and its reasons; the reasons' points always sum to the score.
pub fn priority(inp: &PriorityInputs) -> (u32, Vec<PriorityReason>) {
    let mut reasons = Vec::new();
    let mut add = |points: u32, reason: String| {
        if points > 0 {
            reasons.push(PriorityReason { points, reason });
        }
    };
    if let Some(sev) = inp.severity {
        add(sev.weight(), format!("severity {sev}"));
    }
    let n_stages = inp.stages.len() as u32;
    if n_stages >= 2 {
        add(
            ((n_stages - 1) * 10).min(25),
            format!("{n_stages} attack stages by one actor"),
        );
    }
    if inp.alert_count >= 2 {
        add(
            ((inp.alert_count - 1) * 2).min(10),
            format!("{} correlated alerts", inp.alert_count),
        );
    }
    if inp.stages.contains(&AttackStage::DataAccess) || inp.sensitive_data {
        add(15, "data access or sensitive data exposed".to_string());
    }
    if inp.stages.contains(&AttackStage::Impact) {
        add(5, "impact on availability".to_string());
    }
    if inp.targets >= 5 {
        add(10, format!("{} targets", inp.targets));
    } else if inp.targets >= 2 {
        add(5, format!("{} targets", inp.targets));
    }
    if inp.source_ips >= 10 {
        add(
            5,
            format!("distributed across {} source IPs", inp.source_ips),
        );
    }
    if inp.sigma {
        add(5, SIGMA_REASON.to_string());
    }
    if inp.critical {
        add(10, CRITICAL_REASON.to_string());
    }
    // Cap at 100, trimming the last reasons so the points still sum to the score.
    let mut left = MAX_PRIORITY;
    reasons.retain_mut(|r| {
        r.points = r.points.min(left);
        left -= r.points;
        r.points > 0
    });
    (MAX_PRIORITY - left, reasons)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(inp: PriorityInputs, expected: &str) {
        let (score, reasons) = priority(&inp);
        let sum: u32 = reasons.iter().map(|r| r.points).sum();
        assert_eq!(sum, score, "reasons sum to the score for {inp:?}");
        assert!(score <= MAX_PRIORITY);
        let text: Vec<String> = reasons
            .iter()
            .map(|r| format!("{}:{}", r.points, r.reason))
            .collect();
        assert_eq!(format!("{score} = {}", text.join(", ")), expected);
    }

    #[test]
    fn scores() {
        use AttackStage::*;
        check(PriorityInputs::default(), "0 = ");
        check(
            PriorityInputs {
                severity: Some(Severity::Medium),
                alert_count: 1,
                ..Default::default()
            },
            "20 = 20:severity Medium",
        );
        check(
            PriorityInputs {
                severity: Some(Severity::High),
                stages: vec![Recon, Exploitation, DataAccess],
                alert_count: 3,
                targets: 2,
                ..Default::default()
            },
            "74 = 30:severity High, 20:3 attack stages by one actor, 4:3 correlated alerts, 15:data access or sensitive data exposed, 5:2 targets",
        );
        check(
            PriorityInputs {
                severity: Some(Severity::Critical),
                stages: vec![Recon, CredentialAccess, Exploitation, DataAccess, Impact],
                alert_count: 40,
                targets: 9,
                source_ips: 50,
                sigma: true,
                critical: true,
                sensitive_data: true,
            },
            "100 = 40:severity Critical, 25:5 attack stages by one actor, 10:40 correlated alerts, 15:data access or sensitive data exposed, 5:impact on availability, 5:9 targets",
        );
        check(
            PriorityInputs {
                severity: Some(Severity::Low),
                sigma: true,
                alert_count: 1,
                ..Default::default()
            },
            "15 = 10:severity Low, 5:matched a Sigma rule",
        );
    }
}
