//! The catalogue pages' view models (detectors, Sigma rules) and the detectors page.

use maud::{html, Markup};

use crate::{page, Nav, Viewer};

/// One detector of the catalogue, as the detectors page shows it.
#[derive(Debug, Clone, Default)]
pub struct DetectorInfo {
    /// Detector id (`bola`, `injection`, `sigma`): what alerts carry as their detector.
    pub id: String,
    /// Which family it belongs to: `behavioural`, `content` or `sigma`.
    pub group: String,
    /// What it detects, in words.
    pub description: String,
    /// MITRE ATT&CK techniques.
    pub mitre: Vec<String>,
    /// OWASP API Top 10 category.
    pub owasp: Option<String>,
    /// Whether it runs.
    pub enabled: bool,
    /// Its thresholds, as `name = value`.
    pub thresholds: Vec<(String, String)>,
}

/// One loaded Sigma rule.
#[derive(Debug, Clone, Default)]
pub struct SigmaInfo {
    /// Rule id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Author (credited on its alerts).
    pub author: String,
    /// Level.
    pub level: String,
}

/// What detection runs: the detectors and the Sigma rules (set once at start).
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    /// Detectors.
    pub detectors: Vec<DetectorInfo>,
    /// Sigma rules.
    pub sigma: Vec<SigmaInfo>,
}

impl Catalogue {
    /// The detector ids (and `sigma` when rules are loaded), for filters.
    pub fn detector_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.detectors.iter().map(|d| d.id.clone()).collect();
        if !self.sigma.is_empty() && !ids.iter().any(|i| i == "sigma") {
            ids.push("sigma".into());
        }
        ids
    }
}

/// What the detectors page shows.
pub struct DetectorsView<'a> {
    /// The catalogue.
    pub catalogue: &'a Catalogue,
    /// Alerts per detector id over the last [`DetectorsView::days`] days.
    pub counts: &'a [(String, u64)],
    /// The window of `counts`, in days.
    pub days: u32,
}

impl DetectorsView<'_> {
    fn count(&self, id: &str) -> u64 {
        self.counts
            .iter()
            .find(|(d, _)| d == id)
            .map_or(0, |(_, n)| *n)
    }
}

/// The detectors page: every built-in detector (what it detects, MITRE ATT&CK, OWASP,
/// whether it runs, thresholds, recent alerts) and the Sigma rules loaded, with their authors.
pub fn detectors(v: &Viewer, view: &DetectorsView<'_>) -> Markup {
    let c = view.catalogue;
    let running = c.detectors.iter().filter(|d| d.enabled).count();
    // alerts of detectors not in the catalogue (pushed by other tools)
    let others: Vec<&(String, u64)> = view
        .counts
        .iter()
        .filter(|(id, _)| !c.detectors.iter().any(|d| &d.id == id))
        .collect();
    page(
        Some(v),
        Nav::Detectors,
        "Detectors",
        html! {
            header.page-head {
                h1 { "Detectors" }
                span.count id="detector-count" { (running) " of " (c.detectors.len()) " running" }
            }
            @if c.detectors.is_empty() {
                p.muted id="no-catalogue" { "This server was started without a detection catalogue." }
            }
            table.list id="detectors" {
                thead { tr {
                    th { "Detector" } th { "What it detects" } th { "MITRE ATT&CK" } th { "OWASP API" }
                    th { "Runs" } th { "Thresholds" } th.num { "Alerts, " (view.days) " days" }
                } }
                tbody {
                    @for d in &c.detectors {
                        tr data-detector=(d.id) data-enabled=(d.enabled) {
                            td { code { (d.id) } br; span.muted.small { (d.group) } }
                            td { (d.description) }
                            td { @for t in &d.mitre { span.chip { (t) } } }
                            td { (d.owasp.as_deref().unwrap_or("—")) }
                            td { @if d.enabled { span.badge.on { "enabled" } } @else { span.badge.off { "disabled" } } }
                            td.thresholds {
                                @if d.thresholds.is_empty() { span.muted { "—" } }
                                @for (k, val) in &d.thresholds { code { (k) " = " (val) } br; }
                            }
                            td.num {
                                @let n = view.count(&d.id);
                                @if n > 0 {
                                    a href={ "/incidents?detector=" (crate::fmt::enc(&d.id)) } { (n) }
                                } @else { "0" }
                            }
                        }
                    }
                }
            }
            @if !others.is_empty() {
                h2 { "Alerts from other sources" }
                table.list id="other-detectors" {
                    thead { tr { th { "Detector" } th.num { "Alerts, " (view.days) " days" } } }
                    tbody { @for (id, n) in &others { tr { td { code { (id) } } td.num { (n) } } } }
                }
            }
            h2 id="sigma" { "Sigma rules (" (c.sigma.len()) ")" }
            @if c.sigma.is_empty() {
                p.muted { "No Sigma rules are loaded (" code { "[detect] sigma" } " in rampart.toml names their directories)." }
            } @else {
                p.muted.small {
                    "Rules of the Sigma project are shared under the Detection Rule License (DRL) 1.1: "
                    "each rule's authors are credited here and on every alert it raises."
                }
                table.list id="sigma-rules" {
                    thead { tr { th { "Title" } th { "Level" } th { "Author" } th { "Id" } } }
                    tbody {
                        @for r in &c.sigma {
                            tr data-rule=(r.id) {
                                td { (r.title) }
                                td { span class={ "badge lvl-" (r.level.to_ascii_lowercase()) } { (r.level) } }
                                td.author { (r.author) }
                                td { code.small { (r.id) } }
                            }
                        }
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::Role;

    #[test]
    fn detectors_page_credits_authors_and_counts_alerts() {
        let c = Catalogue {
            detectors: vec![
                DetectorInfo {
                    id: "bola".into(),
                    group: "behavioural".into(),
                    description: "one actor reads many objects".into(),
                    mitre: vec!["T1530".into()],
                    owasp: Some("API1:2023".into()),
                    enabled: true,
                    thresholds: vec![("min_distinct_ids".into(), "50".into())],
                },
                DetectorInfo {
                    id: "scanner".into(),
                    enabled: false,
                    ..Default::default()
                },
            ],
            sigma: vec![SigmaInfo {
                id: "5513deaf".into(),
                title: "SQL <Injection>".into(),
                author: "Saw Win Naung".into(),
                level: "high".into(),
            }],
        };
        let v = Viewer {
            name: "a".into(),
            role: Role::Viewer,
            csrf: "c".into(),
        };
        let counts = [("bola".to_string(), 3), ("ext_waf".to_string(), 2)];
        let out = detectors(
            &v,
            &DetectorsView {
                catalogue: &c,
                counts: &counts,
                days: 7,
            },
        )
        .into_string();
        assert!(out.contains("1 of 2 running"), "{out}");
        assert!(out.contains("min_distinct_ids = 50"));
        assert!(out.contains("href=\"/incidents?detector=bola\">3</a>"));
        assert!(out.contains("Saw Win Naung"));
        assert!(out.contains("SQL &lt;Injection&gt;"));
        assert!(
            out.contains("ext_waf"),
            "alerts of unknown detectors are shown"
        );
        assert!(out.contains("disabled"));
        assert_eq!(c.detector_ids(), ["bola", "scanner", "sigma"]);
    }
}
