//! Ground-truth labels (write, read) and scoring detector alerts against them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};
use std::net::IpAddr;

use rampart_model::{AlertDraft, EntityKind};
use serde::{Deserialize, Serialize};

use crate::{Label, Scenario, SimError};

/// Append a label as one NDJSON line (no newline):
/// `{"index":n,"scenario":"bola","attacker":"203.0.113.9"}`. Benign labels write nothing.
pub fn label_line(label: &Label, out: &mut String) -> bool {
    use std::fmt::Write as _;
    let Some(s) = label.scenario else {
        return false;
    };
    let _ = write!(out, "{{\"index\":{},\"scenario\":\"{s}\"", label.index);
    if let Some(ip) = label.attacker {
        let _ = write!(out, ",\"attacker\":\"{ip}\"");
    }
    out.push('}');
    true
}

/// Write the labels of attack events, one NDJSON line each (see [`label_line`]).
pub fn write_labels<'l>(
    labels: impl IntoIterator<Item = &'l Label>,
    w: &mut impl Write,
) -> std::io::Result<()> {
    let mut line = String::new();
    for l in labels {
        line.clear();
        if label_line(l, &mut line) {
            line.push('\n');
            w.write_all(line.as_bytes())?;
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct LabelRepr {
    index: u64,
    scenario: String,
    #[serde(default)]
    attacker: Option<IpAddr>,
}

/// Read a label file written by [`write_labels`] (attack events only).
pub fn read_labels(r: impl BufRead) -> Result<Vec<Label>, SimError> {
    let mut out = Vec::new();
    for (i, line) in r.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| SimError::InvalidLabel {
            line: i + 1,
            reason,
        };
        let repr: LabelRepr = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        let kind = Scenario::from_id(&repr.scenario)
            .ok_or_else(|| bad(format!("unknown scenario {:?}", repr.scenario)))?;
        out.push(Label {
            index: repr.index,
            scenario: Some(kind.id()),
            attacker: repr.attacker,
        });
    }
    Ok(out)
}

/// What the labels say happened, accumulated event by event (bounded by the number of
/// attack instances, not events).
#[derive(Debug, Clone, Default)]
pub struct LabelSummary {
    /// Benign events seen.
    pub benign_events: u64,
    /// Attack events per scenario.
    attack_events: BTreeMap<&'static str, u64>,
    /// Attacker addresses per scenario.
    attackers: BTreeMap<&'static str, BTreeSet<IpAddr>>,
}

impl LabelSummary {
    /// Count one label.
    pub fn add(&mut self, label: &Label) {
        match label.scenario {
            None => self.benign_events += 1,
            Some(s) => {
                *self.attack_events.entry(s).or_insert(0) += 1;
                if let Some(ip) = label.attacker {
                    self.attackers.entry(s).or_default().insert(ip);
                }
            }
        }
    }
    /// Summarize a slice of labels.
    pub fn from_labels(labels: &[Label]) -> Self {
        let mut s = LabelSummary::default();
        for l in labels {
            s.add(l);
        }
        s
    }
}

/// How one scenario fared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioScore {
    /// Scenario id.
    pub id: &'static str,
    /// Attack instances (one per attacker address; one per scenario when distributed).
    pub instances: u64,
    /// Instances named by at least one alert.
    pub detected_instances: u64,
    /// Attack events emitted.
    pub attack_events: u64,
    /// Whether any instance was detected.
    pub detected: bool,
    /// Whether an alert from the matching detector (id equal to the scenario id) named it.
    pub matching_detector_fired: bool,
    /// Alerts naming its attackers (or, when distributed, its target endpoint).
    pub alerts: u64,
    /// Detector ids of those alerts.
    pub detectors: Vec<String>,
    /// `detected_instances / instances`.
    pub recall: f64,
}

/// The score of a detection run against ground truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    /// One entry per scenario present in the labels, in id order.
    pub per_scenario: Vec<ScenarioScore>,
    /// Benign events.
    pub benign_events: u64,
    /// Alerts naming no attacker address (and no distributed target).
    pub false_positive_alerts: u64,
    /// False-positive alerts per 100k benign events.
    pub fp_per_100k: f64,
    /// False-positive alerts by detector id (what to tune first).
    pub false_positives_by_detector: BTreeMap<String, u64>,
}

fn alert_ips(a: &AlertDraft) -> impl Iterator<Item = IpAddr> + '_ {
    a.entities
        .iter()
        .filter(|e| e.kind == EntityKind::Ip)
        .filter_map(|e| e.value.parse().ok())
}

fn names_endpoint(a: &AlertDraft, target: &str) -> bool {
    a.entities
        .iter()
        .any(|e| e.kind == EntityKind::Endpoint && e.value.contains(target))
}

fn norm(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Score `alerts` against the labelled stream. See [`evaluate_summary`].
pub fn evaluate(labels: &[Label], alerts: &[AlertDraft]) -> EvalReport {
    evaluate_summary(&LabelSummary::from_labels(labels), alerts)
}

/// Score `alerts` against a label summary: an instance is detected when an alert names its
/// attacker address (any detector), or for a distributed scenario one of its addresses or its
/// target endpoint; an alert naming no attacker is a false positive.
pub fn evaluate_summary(summary: &LabelSummary, alerts: &[AlertDraft]) -> EvalReport {
    let all_attackers: BTreeSet<IpAddr> = summary.attackers.values().flatten().copied().collect();
    let mut per_scenario = Vec::new();
    for (&id, &events) in &summary.attack_events {
        let kind = Scenario::from_id(id);
        let ips = summary.attackers.get(id).cloned().unwrap_or_default();
        let target = kind.and_then(Scenario::target);
        let distributed = kind.is_some_and(Scenario::is_distributed);
        let mut detected_ips = BTreeSet::new();
        let mut by_target = false;
        let mut n_alerts = 0;
        let mut matching = false;
        let mut detectors = BTreeSet::new();
        for a in alerts {
            let hit_ips: Vec<IpAddr> = alert_ips(a).filter(|ip| ips.contains(ip)).collect();
            let hit_target = distributed && target.is_some_and(|t| names_endpoint(a, t));
            if hit_ips.is_empty() && !hit_target {
                continue;
            }
            n_alerts += 1;
            by_target |= hit_target;
            detected_ips.extend(hit_ips);
            detectors.insert(a.detector.clone());
            if norm(&a.detector).contains(&norm(id)) {
                matching = true;
            }
        }
        let (instances, detected_instances) = if distributed {
            (1, u64::from(by_target || !detected_ips.is_empty()))
        } else {
            (ips.len().max(1) as u64, detected_ips.len() as u64)
        };
        per_scenario.push(ScenarioScore {
            id,
            instances,
            detected_instances,
            attack_events: events,
            detected: detected_instances > 0,
            matching_detector_fired: matching,
            alerts: n_alerts,
            detectors: detectors.into_iter().collect(),
            recall: detected_instances as f64 / instances as f64,
        });
    }
    let targets: Vec<&str> = summary
        .attack_events
        .keys()
        .filter_map(|id| Scenario::from_id(id))
        .filter(|k| k.is_distributed())
        .filter_map(Scenario::target)
        .collect();
    let mut false_positives_by_detector: BTreeMap<String, u64> = BTreeMap::new();
    for a in alerts.iter().filter(|a| {
        !alert_ips(a).any(|ip| all_attackers.contains(&ip))
            && !targets.iter().any(|t| names_endpoint(a, t))
    }) {
        *false_positives_by_detector
            .entry(a.detector.clone())
            .or_default() += 1;
    }
    let false_positive_alerts = false_positives_by_detector.values().sum();
    let fp_per_100k = if summary.benign_events == 0 {
        0.0
    } else {
        false_positive_alerts as f64 * 100_000.0 / summary.benign_events as f64
    };
    EvalReport {
        per_scenario,
        benign_events: summary.benign_events,
        false_positive_alerts,
        fp_per_100k,
        false_positives_by_detector,
    }
}
