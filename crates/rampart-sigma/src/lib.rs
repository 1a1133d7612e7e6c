//! Sigma rules as a Rampart detector.
//!
//! Loads SigmaHQ `webserver` / `proxy` rules (and Sigma correlation rules) with the `rsigma`
//! engine crates, and evaluates them on [`ApiEvent`]s through a borrowed view
//! ([`view::EventView`]) that answers Sigma's W3C field names (`cs-uri-query`, `c-useragent`,
//! `sc-status`, ...) straight from the event, without building a JSON map per event.
//!
//! **Pure: no I/O and no wall clock**, except [`load_dir`], [`load_dirs`] and
//! [`load_with_builtin`], which read rule files. The SigmaHQ web rules are also built in
//! ([`builtin`], from `rules/` at build time). Time is
//! event time: cooldowns and correlation windows follow the traffic's timestamps.
//!
//! The rules' licence (DRL 1.1) requires the author to be shown wherever an alert is shown:
//! every alert carries the author in [`SigmaRuleRef::author`] and in its description.

pub mod prefilter;
pub mod view;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use prefilter::{Prefilter, PrefilterStats, Scratch};
use rampart_detect::common::{alert, Cooldown};
use rampart_detect::registry::Resources;
use rampart_detect::{register, Detector, EventCtx};
use rampart_model::{
    AlertDraft, AlertSource, AttackStage, Entity, Severity, SigmaRuleRef, Timestamp,
};
use rsigma_eval::{CorrelationConfig, CorrelationEngine, Engine, EvaluationResult};
use rsigma_parser::{Level, SigmaCollection};

pub use view::EventView;

/// Errors from loading Sigma rules.
#[derive(Debug, thiserror::Error)]
pub enum SigmaError {
    /// The rule directory does not exist or is not a directory.
    #[error("sigma rule directory not found: {0}")]
    NotADirectory(PathBuf),
    /// A file or directory could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// What was being read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Whether a loaded rule is a detection rule or a correlation rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// A stateless detection rule (`detection:`).
    Detection,
    /// A Sigma correlation rule (`correlation:`: `event_count`, `value_count`, `temporal`...).
    Correlation,
}

/// Metadata of one loaded rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleInfo {
    /// The file (or source name) it came from.
    pub path: String,
    /// Detection or correlation.
    pub kind: RuleKind,
    /// Rule id (UUID), empty when the rule has none.
    pub id: String,
    /// Rule title.
    pub title: String,
    /// Rule level (`informational`, `low`, `medium`, `high`, `critical`), empty when unset.
    pub level: String,
    /// Author(s) as written in the rule, empty when unset.
    pub author: String,
    /// Rule description, empty when unset.
    pub description: String,
    /// Rule tags.
    pub tags: Vec<String>,
}

impl RuleInfo {
    fn rule_ref(&self) -> SigmaRuleRef {
        SigmaRuleRef {
            title: self.title.clone(),
            id: self.id.clone(),
            level: self.level.clone(),
            author: self.author.clone(),
            tags: self.tags.clone(),
        }
    }
}

/// What happened when loading rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    /// Rules loaded, in load order.
    pub loaded: Vec<RuleInfo>,
    /// Documents or rules refused: (path or rule id, reason).
    pub refused: Vec<(String, String)>,
    /// Embedded rules left out because a rule directory has a rule with the same id
    /// ([`load_with_builtin`]): (rule id, path of the embedded rule).
    pub overridden: Vec<(String, String)>,
}

/// Parsed and compiled rules, shared (read-only) by every [`SigmaDetector`].
pub struct RuleSet {
    engine: Engine,
    /// Literal prefilter over `engine.rules()` (after filters were applied).
    prefilter: Prefilter,
    infos: Vec<RuleInfo>,
    by_id: HashMap<String, usize>,
    by_title: HashMap<String, usize>,
    /// Rules and correlations for building a per-detector correlation engine.
    correlation_source: Option<SigmaCollection>,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.infos.len())
            .field("correlations", &self.correlation_source.is_some())
            .finish()
    }
}

/// Log source categories a web rule may name.
const WEB_CATEGORIES: &[&str] = &["webserver", "proxy"];

fn level_str(l: Option<&Level>) -> String {
    l.map(|l| l.as_str().to_string()).unwrap_or_default()
}

fn level_rank(level: &str) -> u8 {
    match level.to_ascii_lowercase().as_str() {
        "low" => 1,
        "medium" => 2,
        "high" => 3,
        "critical" => 4,
        _ => 0,
    }
}

impl RuleSet {
    /// Parse and compile rules from `(path, yaml text)` pairs. Pure: no I/O.
    ///
    /// A document that does not parse, a rule that does not compile, a rule whose logsource
    /// category is not `webserver` or `proxy`, and a correlation the engine refuses (e.g. one
    /// naming an unknown rule) are refused with their reason, and so is a rule whose id an
    /// earlier source already loaded (the first wins); everything else is loaded.
    pub fn from_sources(sources: &[(String, String)]) -> (RuleSet, LoadReport) {
        Self::layered(&[], sources)
    }

    /// Like [`RuleSet::from_sources`] on `base` then `overlay`, except that a `base` rule
    /// whose id a rule of `overlay` also has is left out (listed in
    /// [`LoadReport::overridden`]): `overlay` replaces it, wherever it sits in `overlay`, even
    /// when that replacement is then refused (it is reported so). Among `overlay`'s own
    /// sources, and among `base`'s, the first rule with an id wins as in `from_sources`.
    pub fn layered(
        base: &[(String, String)],
        overlay: &[(String, String)],
    ) -> (RuleSet, LoadReport) {
        let mut report = LoadReport::default();
        let parsed: Vec<(&String, bool, Result<SigmaCollection, String>)> = base
            .iter()
            .map(|s| (s, true))
            .chain(overlay.iter().map(|s| (s, false)))
            .map(|((path, text), is_base)| {
                let coll = rsigma_parser::parse_sigma_yaml(text).map_err(|e| e.to_string());
                (path, is_base, coll)
            })
            .collect();
        let replaced: std::collections::HashSet<&str> = parsed
            .iter()
            .filter(|(_, is_base, _)| !is_base)
            .filter_map(|(_, _, c)| c.as_ref().ok())
            .flat_map(|c| c.rules.iter().filter_map(|r| r.id.as_deref()))
            .collect();
        let replaced: std::collections::HashSet<String> =
            replaced.into_iter().map(str::to_owned).collect();
        let mut compiled = Vec::new();
        let mut all = SigmaCollection::new();
        let mut correlation_paths = Vec::new();
        let mut filter_paths = Vec::new();
        let mut seen_ids: HashMap<String, String> = HashMap::new();
        for (path, is_base, coll) in parsed {
            let coll = match coll {
                Ok(c) => c,
                Err(e) => {
                    report
                        .refused
                        .push((path.clone(), format!("parse error: {e}")));
                    continue;
                }
            };
            for err in &coll.errors {
                report
                    .refused
                    .push((path.clone(), format!("parse error: {err}")));
            }
            for rule in coll.rules {
                let name = rule.id.clone().unwrap_or_else(|| path.clone());
                if let Some(id) = rule
                    .id
                    .as_ref()
                    .filter(|id| is_base && replaced.contains(*id))
                {
                    report.overridden.push((id.clone(), path.clone()));
                    continue;
                }
                if let Some(first) = rule.id.as_ref().and_then(|id| seen_ids.get(id)) {
                    report.refused.push((
                        name,
                        format!("duplicate rule id: already loaded from {first}"),
                    ));
                    continue;
                }
                let category = rule.logsource.category.as_deref().unwrap_or("");
                if !WEB_CATEGORIES.contains(&category) {
                    report.refused.push((
                        name,
                        format!("logsource category {category:?} is not webserver or proxy"),
                    ));
                    continue;
                }
                match rsigma_eval::compile_rule(&rule) {
                    Ok(c) => {
                        compiled.push(c);
                        if let Some(id) = &rule.id {
                            seen_ids.insert(id.clone(), path.clone());
                        }
                        report.loaded.push(RuleInfo {
                            path: path.clone(),
                            kind: RuleKind::Detection,
                            id: rule.id.clone().unwrap_or_default(),
                            title: rule.title.clone(),
                            level: level_str(rule.level.as_ref()),
                            author: rule.author.clone().unwrap_or_default(),
                            description: rule.description.clone().unwrap_or_default(),
                            tags: rule.tags.clone(),
                        });
                        all.rules.push(rule);
                    }
                    Err(e) => report.refused.push((name, format!("compile error: {e}"))),
                }
            }
            for corr in coll.correlations {
                correlation_paths.push(path.clone());
                all.correlations.push(corr);
            }
            for filter in coll.filters {
                filter_paths.push(path.clone());
                all.filters.push(filter);
            }
        }

        let mut engine = Engine::new();
        engine.extend_compiled_rules(compiled);
        for (filter, path) in all.filters.iter().zip(&filter_paths) {
            if let Err(e) = engine.apply_filter(filter) {
                report
                    .refused
                    .push((path.clone(), format!("filter refused: {e}")));
            }
        }

        // Validate each correlation against the loaded rules in a scratch engine.
        let mut accepted = Vec::new();
        if !all.correlations.is_empty() {
            let mut scratch = CorrelationEngine::new(CorrelationConfig::default());
            let base = SigmaCollection {
                rules: all.rules.clone(),
                ..SigmaCollection::new()
            };
            let base_ok = scratch.add_collection(&base);
            let mut known: Vec<&str> = Vec::new();
            for r in &all.rules {
                known.extend(r.id.as_deref());
                known.extend(r.name.as_deref());
                known.push(&r.title);
            }
            for c in &all.correlations {
                known.extend(c.id.as_deref());
                known.extend(c.name.as_deref());
            }
            for (corr, path) in all.correlations.iter().zip(&correlation_paths) {
                let name = corr.id.clone().unwrap_or_else(|| path.clone());
                let unknown = corr.rules.iter().find(|r| !known.contains(&r.as_str()));
                let res = match (&base_ok, unknown) {
                    (_, Some(u)) => Err(format!("references unknown rule {u:?}")),
                    (Ok(()), None) => scratch.add_correlation(corr).map_err(|e| e.to_string()),
                    (Err(e), None) => Err(e.to_string()),
                };
                match res {
                    Ok(()) => {
                        report.loaded.push(RuleInfo {
                            path: path.clone(),
                            kind: RuleKind::Correlation,
                            id: corr.id.clone().unwrap_or_default(),
                            title: corr.title.clone(),
                            level: level_str(corr.level.as_ref()),
                            author: corr.author.clone().unwrap_or_default(),
                            description: corr.description.clone().unwrap_or_default(),
                            tags: corr.tags.clone(),
                        });
                        accepted.push(corr.clone());
                    }
                    Err(e) => report
                        .refused
                        .push((name, format!("correlation refused: {e}"))),
                }
            }
        }
        let correlation_source = (!accepted.is_empty()).then(|| SigmaCollection {
            rules: all.rules,
            correlations: accepted,
            filters: all.filters,
            ..SigmaCollection::new()
        });

        let prefilter = Prefilter::build(engine.rules());
        let infos = report.loaded.clone();
        let mut by_id = HashMap::new();
        let mut by_title = HashMap::new();
        for (i, info) in infos.iter().enumerate() {
            if !info.id.is_empty() {
                by_id.entry(info.id.clone()).or_insert(i);
            }
            by_title.entry(info.title.clone()).or_insert(i);
        }
        (
            RuleSet {
                engine,
                prefilter,
                infos,
                by_id,
                by_title,
                correlation_source,
            },
            report,
        )
    }

    /// Number of loaded rules (detection and correlation).
    pub fn len(&self) -> usize {
        self.infos.len()
    }

    /// Whether no rule is loaded.
    pub fn is_empty(&self) -> bool {
        self.infos.is_empty()
    }

    /// Metadata of the loaded rules.
    pub fn rules(&self) -> &[RuleInfo] {
        &self.infos
    }

    /// Figures about the literal prefilter (rules, always-evaluated rules, needles).
    pub fn prefilter_stats(&self) -> PrefilterStats {
        self.prefilter.stats()
    }

    /// Titles of the rules the prefilter cannot gate (evaluated on every event).
    pub fn always_evaluated(&self) -> Vec<&str> {
        let rules = self.engine.rules();
        self.prefilter
            .always()
            .map(|i| rules[i].title.as_str())
            .collect()
    }

    /// Detection matches on `view`: rules the literal prefilter cannot rule out are evaluated
    /// by rsigma, in rule order. Same results as [`RuleSet::evaluate_every_rule`].
    pub fn evaluate(&self, view: &EventView<'_>, scratch: &mut Scratch) -> Vec<EvaluationResult> {
        self.prefilter.candidates(view, scratch);
        let rules = self.engine.rules();
        scratch
            .candidates
            .iter()
            .filter_map(|&i| rsigma_eval::evaluate_rule(&rules[i as usize], view))
            .collect()
    }

    /// Detection matches on `view`, evaluating every rule with rsigma, in rule order: the
    /// reference [`RuleSet::evaluate`] is checked against.
    pub fn evaluate_every_rule(&self, view: &EventView<'_>) -> Vec<EvaluationResult> {
        self.engine
            .rules()
            .iter()
            .filter_map(|r| rsigma_eval::evaluate_rule(r, view))
            .collect()
    }

    fn info_of(&self, r: &EvaluationResult) -> Option<usize> {
        r.header
            .rule_id
            .as_ref()
            .and_then(|id| self.by_id.get(id))
            .or_else(|| self.by_title.get(&r.header.rule_title))
            .copied()
    }
}

/// Read every `*.yml` / `*.yaml` file under `dir` (recursively, in sorted order) and load it
/// with [`RuleSet::from_sources`]. The only I/O in this crate, with [`load_dirs`].
pub fn load_dir(dir: &Path) -> Result<(RuleSet, LoadReport), SigmaError> {
    load_dirs(std::slice::from_ref(&dir.to_path_buf()))
}

/// Read the rules of every directory (each as [`load_dir`] does, directories in the given
/// order) and load them as one set. A rule whose id was already loaded, from an earlier file
/// or directory, is refused, so the first wins.
pub fn load_dirs(dirs: &[PathBuf]) -> Result<(RuleSet, LoadReport), SigmaError> {
    let mut sources = Vec::new();
    for dir in dirs {
        read_sources(dir, &mut sources)?;
    }
    Ok(RuleSet::from_sources(&sources))
}

/// The SigmaHQ web rules built into the crate (`rules/`, DRL 1.1: see its README), as
/// `(path, yaml text)` in sorted path order; paths read `builtin:rules/web/...`.
pub fn builtin_sources() -> Vec<(String, String)> {
    builtin_table::BUILTIN_RULES
        .iter()
        .map(|(path, text)| (format!("{BUILTIN_PREFIX}{path}"), (*text).to_owned()))
        .collect()
}

/// How the paths of embedded rules start ([`RuleInfo::path`]).
pub const BUILTIN_PREFIX: &str = "builtin:";

mod builtin_table {
    include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));
}

/// Load the embedded SigmaHQ web rules ([`builtin_sources`]). Pure: no I/O.
pub fn builtin() -> (RuleSet, LoadReport) {
    RuleSet::from_sources(&builtin_sources())
}

/// The embedded rules, then the rules of every directory (each as [`load_dir`] reads it, in the
/// given order). A directory rule whose id is an embedded rule's id replaces that embedded
/// rule (listed in [`LoadReport::overridden`]); other directory rules extend the set. Among the
/// directories a rule id already loaded from an earlier file or directory is refused, as in
/// [`load_dirs`].
pub fn load_with_builtin(dirs: &[PathBuf]) -> Result<(RuleSet, LoadReport), SigmaError> {
    let mut sources = Vec::new();
    for dir in dirs {
        read_sources(dir, &mut sources)?;
    }
    Ok(RuleSet::layered(&builtin_sources(), &sources))
}

/// Append `(path, text)` of every rule file under `dir`, in sorted path order.
fn read_sources(dir: &Path, sources: &mut Vec<(String, String)>) -> Result<(), SigmaError> {
    if !dir.is_dir() {
        return Err(SigmaError::NotADirectory(dir.to_path_buf()));
    }
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| SigmaError::Io {
            path: d.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| SigmaError::Io {
                path: d.clone(),
                source,
            })?;
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yml") | Some("yaml")
            ) {
                files.push(p);
            }
        }
    }
    files.sort();
    for p in files {
        let text = std::fs::read_to_string(&p).map_err(|source| SigmaError::Io {
            path: p.clone(),
            source,
        })?;
        sources.push((p.display().to_string(), text));
    }
    Ok(())
}

/// Configuration of the Sigma detector (`[detect.sigma]`; the rules themselves are a
/// resource: an `Arc<RuleSet>`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SigmaConfig {
    /// Lowest rule level that raises alerts (`low`, `medium`, `high`, `critical`); `None`
    /// raises alerts for every level, informational included.
    pub min_level: Option<String>,
    /// One alert per (rule, client IP) per this many seconds of event time.
    pub cooldown_secs: i64,
    /// Also match URI fields in their percent-decoded form (a rule fires if the raw or the
    /// decoded value matches). SigmaHQ web rules are written against raw logs, so raw is
    /// always matched; decoding catches encoded variants of the same payloads.
    pub match_decoded: bool,
    /// Most (rule, IP) cooldown entries kept (bounded memory under IP floods).
    pub max_entries: usize,
    /// Rules (by id) whose match alone is a word in the URI, not a payload's grammar
    /// (SigmaHQ's generic keyword rules: `select%20*%20` matches prose): their match raises an
    /// alert only when a content detector earlier in the registry flagged the same request.
    pub corroborate: Vec<String>,
    /// Rules (by id) that never raise alerts here: SigmaHQ proxy rules written for outbound
    /// traffic whose match on inbound API traffic describes the API's own host or an ordinary
    /// crawler (see [`OUTBOUND_RULES`]). Set to `[]` to run them.
    pub skip: Vec<String>,
}

/// SigmaHQ proxy rules meant for a forward proxy's outbound log (see [`SigmaConfig::skip`]):
/// on inbound traffic the download rule matches every archive the API serves from a host
/// without a listed TLD (`localhost`, internal names), and the framework rule lists
/// Googlebot's and `Mozilla/5.0`'s user agents, which its own comment says are not for web
/// server logs.
pub const OUTBOUND_RULES: &[&str] = &[
    "b5de2919-b74a-4805-91a7-5049accbaefe", // Download From Suspicious TLD - Whitelist
    "fdd1bfb5-f60b-4a35-910e-f36ed3d0b32f", // Exploit Framework User Agent
];

/// SigmaHQ's generic webserver keyword rules (see [`SigmaConfig::corroborate`]).
pub const KEYWORD_RULES: &[&str] = &[
    "583aa0a2-30b1-4d62-8bf3-ab73689efe6c", // Java Payload Strings
    "412d55bc-7737-4d25-9542-5b396867ce55", // JNDIExploit Pattern
    "953d460b-f810-420a-97a2-cfca4c98e602", // Source Code Enumeration Detection by Keyword
    "5513deaf-f49a-46c2-a6c8-3f111b5cb453", // SQL Injection Strings In URI
    "ada3bc4f-f0fd-42b9-ba91-e105e8af7342", // Server Side Template Injection Strings
    "65354b83-a2ea-4ea6-8414-3ab38be0d409", // Cross Site Scripting Strings
    "7ff9db12-1b94-4a79-ba68-a2402c5d6729", // Windows Webshell Strings
];

/// Detectors whose alert on a request corroborates a keyword rule's match.
const CORROBORATING: &[&str] = &["content_inspection", "injection", "ssrf", "protocol_abuse"];

impl Default for SigmaConfig {
    fn default() -> Self {
        SigmaConfig {
            min_level: None,
            cooldown_secs: 600,
            match_decoded: true,
            max_entries: 100_000,
            corroborate: KEYWORD_RULES.iter().map(|s| s.to_string()).collect(),
            skip: OUTBOUND_RULES.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Detector id.
pub const DETECTOR_ID: &str = "sigma";

/// The registry line of the Sigma detector: the rules are the resource `Arc<RuleSet>` (none:
/// an empty rule set, so the detector sees nothing to match).
pub const REGISTRATION: rampart_detect::registry::Registration = register!("sigma", build);

/// Registry constructor.
pub fn build(cfg: SigmaConfig, res: &Resources) -> Box<dyn Detector> {
    let rules = res
        .get::<RuleSet>()
        .unwrap_or_else(|| Arc::new(RuleSet::from_sources(&[]).0));
    Box::new(SigmaDetector::new(rules, cfg))
}

/// Work counters of one [`SigmaDetector`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SigmaStats {
    /// Events observed.
    pub events: u64,
    /// Events on which rsigma evaluated at least one rule.
    pub events_evaluated: u64,
    /// Rule evaluations by rsigma (rules let through by the prefilter, summed over events).
    pub rule_evaluations: u64,
    /// Keyword-rule matches dropped because no content detector flagged the request.
    pub uncorroborated: u64,
}

/// Evaluates a [`RuleSet`] on every event; implements [`Detector`].
pub struct SigmaDetector {
    rules: Arc<RuleSet>,
    cfg: SigmaConfig,
    min_rank: u8,
    correlation: Option<CorrelationEngine>,
    /// One alert per (rule index, client IP hash) per cooldown.
    cooldown: Cooldown,
    scratch: Scratch,
    stats: SigmaStats,
}

impl SigmaDetector {
    /// A detector over `rules`. Builds a correlation engine (state per detector) when the rule
    /// set holds correlation rules.
    pub fn new(rules: Arc<RuleSet>, cfg: SigmaConfig) -> Self {
        let correlation = rules.correlation_source.as_ref().and_then(|coll| {
            let mut ce = CorrelationEngine::new(CorrelationConfig {
                emit_detections: false,
                ..CorrelationConfig::default()
            });
            // Already validated in `from_sources`; a failure here leaves correlations off.
            ce.add_collection(coll).ok().map(|()| ce)
        });
        let min_rank = cfg.min_level.as_deref().map(level_rank).unwrap_or(0);
        let cooldown = Cooldown::secs(cfg.cooldown_secs, cfg.max_entries);
        SigmaDetector {
            rules,
            cfg,
            min_rank,
            correlation,
            cooldown,
            scratch: Scratch::new(),
            stats: SigmaStats::default(),
        }
    }

    /// Work done so far: events seen, events and rules evaluated by rsigma.
    pub fn stats(&self) -> SigmaStats {
        self.stats
    }

    fn admit(&mut self, rule: usize, ip: u64, now: i64) -> bool {
        self.cooldown
            .ready_for(ip, u32::try_from(rule).unwrap_or(u32::MAX), now)
    }

    fn alert(&self, info: &RuleInfo, r: &EvaluationResult, cx: &EventCtx<'_>) -> AlertDraft {
        let ev = cx.ev;
        let author = if info.author.is_empty() {
            "unknown author"
        } else {
            info.author.as_str()
        };
        let mut description = info.description.trim().to_string();
        if !description.is_empty() {
            description.push_str("\n\n");
        }
        description.push_str(&format!("Sigma rule by {author} (DRL 1.1)"));
        let mitre: Vec<String> = info
            .tags
            .iter()
            .filter_map(|t| {
                let t = t.strip_prefix("attack.")?;
                let rest = t.strip_prefix('t').or_else(|| t.strip_prefix('T'))?;
                let ok = rest.len() >= 4
                    && rest
                        .split('.')
                        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
                ok.then(|| format!("T{rest}"))
            })
            .collect();
        let recon = info.tags.iter().any(|t| {
            t.eq_ignore_ascii_case("attack.reconnaissance")
                || t.eq_ignore_ascii_case("attack.discovery")
        });
        let stage = if recon {
            AttackStage::Recon
        } else {
            AttackStage::Exploitation
        };
        let mut b = alert(
            DETECTOR_ID,
            info.title.clone(),
            Severity::from_sigma_level(&info.level),
            stage,
            ev.ts,
        )
        .description(description)
        .mitre_ids(mitre)
        .source(AlertSource::Sigma(info.rule_ref()))
        .attacker_ip(ev.client_ip);
        if let Some(c) = r.as_correlation() {
            for (field, value) in &c.group_key {
                if matches!(field.as_str(), "c-ip" | "src_ip")
                    && ev.client_ip.map(|ip| ip.to_string()) != Some(value.clone())
                {
                    b = b.entity(Entity::attacker_ip(value));
                }
            }
            b = b.reason(
                &format!("{:?}", c.correlation_type).to_ascii_lowercase(),
                c.aggregated_value,
                None,
            );
        }
        b.target(cx).evidence(ev).build()
    }
}

impl Detector for SigmaDetector {
    fn id(&self) -> &'static str {
        DETECTOR_ID
    }

    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        if self.rules.is_empty() {
            return;
        }
        let view = EventView::new(cx.ev, self.cfg.match_decoded);
        let mut results = self.rules.evaluate(&view, &mut self.scratch);
        let evaluated = self.scratch.candidates.len() as u64;
        self.stats.events += 1;
        self.stats.events_evaluated += u64::from(evaluated > 0);
        self.stats.rule_evaluations += evaluated;
        if let Some(ce) = &mut self.correlation {
            if results.is_empty() {
                return;
            }
            results = ce.process_with_detections(&view, results, cx.ev.ts.secs());
        }
        if results.is_empty() {
            return;
        }
        let rules = Arc::clone(&self.rules);
        for r in &results {
            let Some(idx) = rules.info_of(r) else {
                continue;
            };
            let info = &rules.infos[idx];
            if level_rank(&info.level) < self.min_rank {
                continue;
            }
            if self.cfg.skip.contains(&info.id) {
                continue;
            }
            if self.cfg.corroborate.contains(&info.id)
                && !out[cx.first_alert.min(out.len())..]
                    .iter()
                    .any(|a| CORROBORATING.contains(&a.detector.as_str()))
            {
                self.stats.uncorroborated += 1;
                continue;
            }
            if !self.admit(idx, cx.ip, cx.ev.ts.millis()) {
                continue;
            }
            out.push(self.alert(info, r, cx));
        }
    }

    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.cooldown.tick(now.millis());
        if let Some(ce) = &mut self.correlation {
            ce.evict_expired(now.secs());
        }
    }

    fn state_bytes(&self) -> usize {
        self.cooldown.approx_bytes()
            + self
                .correlation
                .as_ref()
                .map(|c| c.state_count() * 128 + c.event_buffer_bytes())
                .unwrap_or(0)
    }
}
