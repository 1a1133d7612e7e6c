//! The catalogue pages' view models (detectors, Sigma rules) and the smaller pages.

/// One detector of the catalogue, as the detectors page shows it.
#[derive(Debug, Clone, Default)]
pub struct DetectorInfo {
    /// Detector id (`API_BOLA`).
    pub id: String,
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
        if !self.sigma.is_empty() {
            ids.push("sigma".into());
        }
        ids
    }
}
