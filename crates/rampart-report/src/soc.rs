//! SOC metrics: how fast the team detects, acknowledges, contains and resolves, computed from
//! per-incident facts the caller gathers from the store (pure: no I/O, no clock).
//!
//! - **MTTD**: first malicious activity (event time) -> first alert.
//! - **MTTA**: incident created -> first owner assigned or status InProgress.
//! - **MTTC**: incident created -> first containment action applied.
//! - **MTTR**: incident created -> resolved.
//!
//! Each is given as count, median and mean in seconds, overall and by severity, detector, owner
//! and ISO week (of the incident's creation). An incident whose stage has not happened yet (not
//! acknowledged, never contained) is not counted in that stage; a stage recorded before the
//! incident was created (clock skew of an imported record) counts as zero, never negative.
//! True/false-positive rates per detector come from the classifications of resolved incidents.

use std::collections::BTreeMap;

use chrono::Datelike;
use rampart_model::{Classification, Severity, Timestamp};
use serde::{Deserialize, Serialize};

/// What one incident contributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentFacts {
    /// Incident id.
    pub id: i64,
    /// Severity.
    pub severity: Severity,
    /// Current owner.
    pub owner: Option<String>,
    /// Detectors of its alerts.
    pub detectors: Vec<String>,
    /// Classification (Unknown until resolved).
    pub classification: Classification,
    /// First malicious activity (event time of the earliest alert evidence).
    pub first_activity: Timestamp,
    /// When its first alert was raised.
    pub first_alert: Timestamp,
    /// When the incident was created.
    pub created: Timestamp,
    /// First owner assignment or InProgress.
    pub acknowledged: Option<Timestamp>,
    /// First containment action applied.
    pub contained: Option<Timestamp>,
    /// When it was resolved.
    pub resolved: Option<Timestamp>,
    /// Automation (a rule, playbook, attack disruption or the automated investigation)
    /// acknowledged, contained or resolved it.
    pub automated: bool,
}

/// Count, median and mean of one duration, in seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// Incidents measured.
    pub count: u64,
    /// Median in seconds (the lower middle of an even count).
    pub median_secs: Option<f64>,
    /// Mean in seconds.
    pub mean_secs: Option<f64>,
}

impl Stat {
    fn of(mut ms: Vec<i64>) -> Stat {
        if ms.is_empty() {
            return Stat::default();
        }
        ms.sort_unstable();
        let n = ms.len();
        let sum: i128 = ms.iter().map(|&v| i128::from(v)).sum();
        Stat {
            count: n as u64,
            median_secs: Some(ms[(n - 1) / 2] as f64 / 1000.0),
            mean_secs: Some(sum as f64 / n as f64 / 1000.0),
        }
    }
}

/// The four times of one group of incidents.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Times {
    /// Incidents in the group.
    pub incidents: u64,
    /// Mean time to detect.
    pub mttd: Stat,
    /// Mean time to acknowledge.
    pub mtta: Stat,
    /// Mean time to contain.
    pub mttc: Stat,
    /// Mean time to resolve.
    pub mttr: Stat,
}

/// True/false positives of one detector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectorRate {
    /// Incidents it contributed to.
    pub incidents: u64,
    /// Classified true positive.
    pub true_positive: u64,
    /// Classified benign positive (expected activity).
    pub benign_positive: u64,
    /// Classified false positive.
    pub false_positive: u64,
    /// True positives over classified incidents (None until one is classified).
    pub true_positive_rate: Option<f64>,
}

/// All SOC metrics of a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SocMetrics {
    /// Every incident of the period.
    pub overall: Times,
    /// By severity (wire name).
    pub by_severity: BTreeMap<String, Times>,
    /// By detector (an incident counts once for each of its detectors).
    pub by_detector: BTreeMap<String, Times>,
    /// By current owner (`unassigned` when none).
    pub by_owner: BTreeMap<String, Times>,
    /// By ISO week of creation (`2026-W49`).
    pub by_week: BTreeMap<String, Times>,
    /// Classifications per detector.
    pub detector_rates: BTreeMap<String, DetectorRate>,
    /// Share of incidents automation acted on (0..=1; None without incidents).
    pub automation_share: Option<f64>,
}

/// Owner key of incidents nobody owns.
pub const UNASSIGNED: &str = "unassigned";

/// ISO week of a time: `2026-W49`.
pub fn iso_week(t: Timestamp) -> String {
    let w = t.to_datetime().iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

fn span(from: Timestamp, to: Timestamp) -> i64 {
    to.millis().saturating_sub(from.millis()).max(0)
}

#[derive(Default)]
struct Acc {
    incidents: u64,
    d: Vec<i64>,
    a: Vec<i64>,
    c: Vec<i64>,
    r: Vec<i64>,
}

impl Acc {
    fn add(&mut self, f: &IncidentFacts) {
        self.incidents += 1;
        self.d.push(span(f.first_activity, f.first_alert));
        if let Some(t) = f.acknowledged {
            self.a.push(span(f.created, t));
        }
        if let Some(t) = f.contained {
            self.c.push(span(f.created, t));
        }
        if let Some(t) = f.resolved {
            self.r.push(span(f.created, t));
        }
    }

    fn finish(self) -> Times {
        Times {
            incidents: self.incidents,
            mttd: Stat::of(self.d),
            mtta: Stat::of(self.a),
            mttc: Stat::of(self.c),
            mttr: Stat::of(self.r),
        }
    }
}

fn finish(m: BTreeMap<String, Acc>) -> BTreeMap<String, Times> {
    m.into_iter().map(|(k, v)| (k, v.finish())).collect()
}

/// Compute the metrics of `incidents`.
pub fn compute(incidents: &[IncidentFacts]) -> SocMetrics {
    let mut overall = Acc::default();
    let mut sev: BTreeMap<String, Acc> = BTreeMap::new();
    let mut det: BTreeMap<String, Acc> = BTreeMap::new();
    let mut own: BTreeMap<String, Acc> = BTreeMap::new();
    let mut week: BTreeMap<String, Acc> = BTreeMap::new();
    let mut rates: BTreeMap<String, DetectorRate> = BTreeMap::new();
    let mut automated = 0u64;
    for f in incidents {
        overall.add(f);
        sev.entry(f.severity.as_str().to_string())
            .or_default()
            .add(f);
        own.entry(f.owner.clone().unwrap_or_else(|| UNASSIGNED.to_string()))
            .or_default()
            .add(f);
        week.entry(iso_week(f.created)).or_default().add(f);
        let mut seen: Vec<&str> = f.detectors.iter().map(String::as_str).collect();
        seen.sort_unstable();
        seen.dedup();
        for d in seen {
            det.entry(d.to_string()).or_default().add(f);
            let r = rates.entry(d.to_string()).or_default();
            r.incidents += 1;
            match f.classification {
                Classification::TruePositive => r.true_positive += 1,
                Classification::InformationalExpectedActivity => r.benign_positive += 1,
                Classification::FalsePositive => r.false_positive += 1,
                Classification::Unknown => {}
            }
        }
        automated += u64::from(f.automated);
    }
    for r in rates.values_mut() {
        let classified = r.true_positive + r.benign_positive + r.false_positive;
        r.true_positive_rate = (classified > 0).then(|| r.true_positive as f64 / classified as f64);
    }
    SocMetrics {
        overall: overall.finish(),
        by_severity: finish(sev),
        by_detector: finish(det),
        by_owner: finish(own),
        by_week: finish(week),
        detector_rates: rates,
        automation_share: (!incidents.is_empty())
            .then(|| automated as f64 / incidents.len() as f64),
    }
}

/// The periods the dashboard offers (label, days), ending at the shown period's end.
pub const PERIODS: [(&str, i64); 4] = [
    ("7 days", 7),
    ("30 days", 30),
    ("90 days", 90),
    ("1 year", 365),
];

/// The console's SOC dashboard: the four times by severity, incidents per week as an SVG bar
/// chart (server-rendered), the detectors' classifications and the automation share. Every
/// name shown (owners, detectors) is escaped by maud.
/// Links offer the [`PERIODS`] ending at `until`.
pub fn dashboard(
    v: &rampart_console::Viewer,
    m: &SocMetrics,
    since: Timestamp,
    until: Timestamp,
    measured: u64,
    total: u64,
) -> maud::Markup {
    use maud::html;
    let fmt = |s: &Stat| match s.median_secs {
        None => "–".to_string(),
        Some(x) if x < 120.0 => format!("{x:.0} s"),
        Some(x) if x < 7200.0 => format!("{:.0} min", x / 60.0),
        Some(x) => format!("{:.1} h", x / 3600.0),
    };
    let row = |name: &str, t: &Times| {
        html! { tr {
            td { (name) } td.num { (t.incidents) }
            td.num { (fmt(&t.mttd)) } td.num { (fmt(&t.mtta)) }
            td.num { (fmt(&t.mttc)) } td.num { (fmt(&t.mttr)) }
        } }
    };
    let head = html! { thead { tr {
        th { "" } th.num { "Incidents" } th.num { "MTTD" } th.num { "MTTA" } th.num { "MTTC" } th.num { "MTTR" }
    } } };
    let max = m
        .by_week
        .values()
        .map(|t| t.incidents)
        .max()
        .unwrap_or(0)
        .max(1);
    let bar_w = 48u64;
    let width = (m.by_week.len() as u64 * bar_w).max(bar_w);
    rampart_console::page(
        Some(v),
        rampart_console::Nav::Metrics,
        "SOC metrics",
        html! {
            header.page-head {
                h1 { "SOC metrics" }
                span.count id="soc-period" {
                    (since.to_rfc3339()) " – " (until.to_rfc3339()) " · " (measured) " of " (total) " incidents measured"
                }
            }
            nav.period id="soc-periods" {
                "Period: "
                @for (label, days) in PERIODS {
                    @let from = Timestamp(until.millis() - days * 86_400_000);
                    @if until.millis() - since.millis() == days * 86_400_000 {
                        strong { (label) }
                    } @else {
                        a href=(format!("/soc?since={}&until={}", from.to_rfc3339(), until.to_rfc3339())) { (label) }
                    }
                    " "
                }
            }
            p.muted { "Medians. MTTD: first malicious activity to first alert; MTTA: created to first owner or InProgress; MTTC: created to first containment applied; MTTR: created to resolved." }
            h2 { "By severity" }
            table.list id="soc-severity" {
                (head)
                tbody {
                    (row("All", &m.overall))
                    @for (name, t) in m.by_severity.iter().rev() { (row(name, t)) }
                }
            }
            h2 { "Incidents per week" }
            svg id="soc-weeks" xmlns="http://www.w3.org/2000/svg" width=(width) height="140" role="img" {
                title { "incidents per ISO week" }
                @for (i, (week, t)) in m.by_week.iter().enumerate() {
                    @let h = t.incidents * 100 / max;
                    rect x=(i as u64 * bar_w + 6) y=(110 - h) width=(bar_w - 12) height=(h) fill="#3b6ea5" {
                        title { (week) ": " (t.incidents) }
                    }
                    text x=(i as u64 * bar_w + 4) y="128" font-size="10" { (week.get(5..).unwrap_or(week)) }
                    text x=(i as u64 * bar_w + 10) y=(105 - h) font-size="10" { (t.incidents) }
                }
            }
            h2 { "By owner" }
            table.list id="soc-owner" { (head) tbody { @for (name, t) in &m.by_owner { (row(name, t)) } } }
            h2 { "Detectors" }
            table.list id="soc-detectors" {
                thead { tr { th { "Detector" } th.num { "Incidents" } th.num { "True positive" } th.num { "Benign" } th.num { "False positive" } th.num { "TP rate" } } }
                tbody { @for (name, r) in &m.detector_rates { tr {
                    td { (name) } td.num { (r.incidents) } td.num { (r.true_positive) }
                    td.num { (r.benign_positive) } td.num { (r.false_positive) }
                    td.num { @match r.true_positive_rate { Some(x) => { (format!("{:.0}%", x * 100.0)) }, None => { "–" } } }
                } } }
            }
            p id="soc-automation" {
                "Handled by automation: "
                @match m.automation_share { Some(x) => { (format!("{:.0}%", x * 100.0)) }, None => { "–" } }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    // 2026-12-01T00:00:00Z, a Tuesday of ISO week 49
    const T0: i64 = 1_796_083_200_000;

    fn facts(id: i64, severity: Severity, detector: &str) -> IncidentFacts {
        IncidentFacts {
            id,
            severity,
            owner: None,
            detectors: vec![detector.to_string()],
            classification: Classification::Unknown,
            first_activity: Timestamp(T0),
            first_alert: Timestamp(T0 + MIN),
            created: Timestamp(T0 + MIN),
            acknowledged: None,
            contained: None,
            resolved: None,
            automated: false,
        }
    }

    #[test]
    fn known_timestamps_give_exact_times() {
        let mut a = facts(1, Severity::High, "brute_force");
        a.owner = Some("ana".into());
        a.acknowledged = Some(Timestamp(T0 + 6 * MIN)); // 5 min after creation
        a.contained = Some(Timestamp(T0 + 11 * MIN)); // 10 min
        a.resolved = Some(Timestamp(T0 + 61 * MIN)); // 60 min
        a.classification = Classification::TruePositive;
        a.automated = true;
        let mut b = facts(2, Severity::High, "brute_force");
        b.first_alert = Timestamp(T0 + 3 * MIN); // detected after 3 min
        b.created = Timestamp(T0 + 3 * MIN);
        b.acknowledged = Some(Timestamp(T0 + 18 * MIN)); // 15 min
        b.resolved = Some(Timestamp(T0 + 123 * MIN)); // 120 min
        b.classification = Classification::FalsePositive;
        let mut c = facts(3, Severity::Low, "scanner");
        c.detectors.push("brute_force".into());
        c.detectors.push("scanner".into()); // counted once
        let m = compute(&[a, b, c]);

        assert_eq!(m.overall.incidents, 3);
        assert_eq!(m.overall.mttd.count, 3);
        assert_eq!(m.overall.mttd.median_secs, Some(60.0));
        assert_eq!(m.overall.mttd.mean_secs, Some(100.0)); // (60 + 180 + 60) / 3
        assert_eq!(m.overall.mtta.count, 2);
        assert_eq!(m.overall.mtta.median_secs, Some(300.0));
        assert_eq!(m.overall.mtta.mean_secs, Some(600.0));
        assert_eq!(m.overall.mttc.count, 1);
        assert_eq!(m.overall.mttc.mean_secs, Some(600.0));
        assert_eq!(m.overall.mttr.median_secs, Some(3600.0));
        assert_eq!(m.overall.mttr.mean_secs, Some(5400.0));

        assert_eq!(m.by_severity["High"].incidents, 2);
        assert_eq!(m.by_severity["Low"].mtta.count, 0);
        assert_eq!(m.by_owner["ana"].mttr.mean_secs, Some(3600.0));
        assert_eq!(m.by_owner[UNASSIGNED].incidents, 2);
        assert_eq!(m.by_detector["brute_force"].incidents, 3);
        assert_eq!(m.by_detector["scanner"].incidents, 1);
        assert_eq!(m.by_week.keys().collect::<Vec<_>>(), vec!["2026-W49"]);

        let bf = &m.detector_rates["brute_force"];
        assert_eq!((bf.true_positive, bf.false_positive), (1, 1));
        assert_eq!(bf.true_positive_rate, Some(0.5));
        assert_eq!(m.detector_rates["scanner"].true_positive_rate, None);
        assert_eq!(m.automation_share, Some(1.0 / 3.0));
    }

    #[test]
    fn a_stage_before_creation_counts_as_zero_and_nothing_is_empty_safe() {
        let mut a = facts(1, Severity::Medium, "x");
        a.acknowledged = Some(Timestamp(T0)); // before creation (skewed import)
        let m = compute(&[a]);
        assert_eq!(m.overall.mtta.median_secs, Some(0.0));
        let empty = compute(&[]);
        assert_eq!(empty.overall.incidents, 0);
        assert_eq!(empty.overall.mttr.median_secs, None);
        assert_eq!(empty.automation_share, None);
    }

    #[test]
    fn iso_weeks_cross_years_by_the_iso_calendar() {
        // 2027-01-01 is a Friday: ISO week 53 of 2026
        assert_eq!(iso_week(Timestamp(1_798_761_600_000)), "2026-W53");
        assert_eq!(iso_week(Timestamp(T0)), "2026-W49");
    }
}
