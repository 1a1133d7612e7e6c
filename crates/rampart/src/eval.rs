//! `rampart eval`: recall and false positives of detection on a labelled request corpus.
//!
//! A corpus is a directory with `requests.ndjson` (Rampart's NDJSON request records, one per
//! line) and `labels.tsv` (a header row; columns `ip`, `label`, then any others, kept per row
//! for breakdowns). The label `negative` marks a benign request. Every kept request goes, in
//! file order, through one detection engine built from the configuration (in process: no
//! store, no server, no correlator), then one tick a day after the last event flushes what
//! the detectors hold. A request is *alerted* when an alert names its client IP, as an entity
//! or as the client of one of its evidence events. Deterministic: same corpus, same options,
//! same report.
//!
//! Negatives are split three ways, because a corpus such as CRS's regression tests marks a
//! request *negative* when one rule must not match it, even when it carries an attack another
//! rule catches: a negative that is the same request (method, target, headers, body) as a
//! labelled attack of the corpus is *same as an attack*, computed here; one that a reviewed
//! list (`--reviewed FILE`, rows naming label columns and a reason) names is *reviewed as an
//! attack*; the rest are the *benign* negatives, whose alerts are the false positives.
//! The raw figure over every negative is printed as well.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;

use rampart_decode::DecodeConfig;
use rampart_model::{AlertDraft, EntityKind};
use rampart_pipeline::DetectionSetup;

use crate::config::FileConfig;

/// The label of benign requests.
pub const NEGATIVE: &str = "negative";

/// Columns that get a breakdown of recall by their values when a corpus has them.
const BREAKDOWN_COLUMNS: &[&str] = &["paranoia_level", "placeholder", "encoder"];

/// How long after the last event the final tick runs (flushes windows and baselines).
const FLUSH_AFTER_MS: i64 = 86_400_000;

/// How much of a request's target and body a listed miss shows.
const CLIP: usize = 120;

/// `rampart eval` arguments.
#[derive(Args)]
pub struct EvalArgs {
    /// Corpus directory: `requests.ndjson` and `labels.tsv`.
    corpus: PathBuf,
    /// Configuration file (TOML): its `[detect]` and `[decode]` settings apply.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Sigma rule directory, added to `[detect] sigma` (repeatable); its rules override the
    /// embedded rules with the same id.
    #[arg(long)]
    sigma: Vec<PathBuf>,
    /// Leave the embedded SigmaHQ web rules out (only `--sigma` and `[detect] sigma` rules).
    #[arg(long)]
    no_builtin_sigma: bool,
    /// Replace every request's user agent (and its `user-agent` header) with this one.
    #[arg(long)]
    user_agent: Option<String>,
    /// Only attacks whose `paranoia_level` column is at most this (negatives are kept).
    #[arg(long)]
    paranoia_max: Option<u32>,
    /// Only attacks with this label (repeatable; negatives are kept).
    #[arg(long)]
    label: Vec<String>,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
    /// List up to this many missed attacks per label, and every alerted negative.
    #[arg(long, default_value_t = 0)]
    misses: usize,
    /// Reviewed negatives that carry an attack (TSV: a header of label columns then
    /// `reason`; each row names one negative by those columns and says what attack it holds).
    #[arg(long)]
    reviewed: Option<PathBuf>,
}

/// What to evaluate, beyond the detection setup.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    /// Replace every request's user agent with this one.
    pub user_agent: Option<String>,
    /// Keep attacks whose `paranoia_level` is at most this.
    pub paranoia_max: Option<u32>,
    /// Keep only attacks with these labels (empty: all).
    pub labels: Vec<String>,
    /// Missed attacks listed per label.
    pub misses: usize,
    /// Negatives reviewed as carrying an attack: (column values to match, reason).
    pub reviewed: Vec<Reviewed>,
}

/// One row of a reviewed-negatives file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reviewed {
    /// Label columns and the values a negative must have.
    pub columns: Vec<(String, String)>,
    /// The attack it carries.
    pub reason: String,
}

/// Read a reviewed-negatives file: a header of label column names ending with `reason`.
pub fn read_reviewed(path: &Path) -> Result<Vec<Reviewed>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
    let header: Vec<&str> = lines
        .next()
        .with_context(|| format!("{} is empty", path.display()))?
        .split('\t')
        .map(str::trim)
        .collect();
    if header.len() < 2 || header.last() != Some(&"reason") {
        bail!(
            "{}: the header must name label columns and end with reason",
            path.display()
        );
    }
    let keys = &header[..header.len() - 1];
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split('\t').map(str::trim).collect();
        if cells.len() != header.len() || cells.last().is_some_and(|r| r.is_empty()) {
            bail!(
                "{}: row {} needs {} cells and a reason",
                path.display(),
                n + 1,
                header.len()
            );
        }
        rows.push(Reviewed {
            columns: keys
                .iter()
                .zip(&cells)
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            reason: cells[header.len() - 1].to_string(),
        });
    }
    Ok(rows)
}

/// Requests and how many of them were alerted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Requests.
    pub total: u64,
    /// Requests an alert names.
    pub alerted: u64,
}

impl Tally {
    fn add(&mut self, alerted: bool) {
        self.total += 1;
        self.alerted += u64::from(alerted);
    }

    /// Alerted share, in percent.
    pub fn percent(&self) -> f64 {
        100.0 * self.alerted as f64 / self.total.max(1) as f64
    }
}

/// Requests one detector alerted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DetectorTally {
    /// Attack requests.
    pub attack: u64,
    /// Negative requests.
    pub negative: u64,
}

/// One listed request: a missed attack or an alerted negative.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listed {
    /// Client IP.
    pub ip: String,
    /// Its label.
    pub label: String,
    /// The other columns of its row.
    pub columns: BTreeMap<String, String>,
    /// Detectors that alerted on it (empty for a miss).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub detectors: Vec<String>,
    /// Method.
    pub method: String,
    /// `path?query`, clipped.
    pub target: String,
    /// The start of the body.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// For a negative: `same_as_attack`, `reviewed: <reason>` or `benign`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub negative_class: String,
}

/// The figures of one evaluation.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EvalReport {
    /// Sigma rules in the engine.
    pub sigma_rules: usize,
    /// Requests evaluated.
    pub requests: u64,
    /// Requests left out by the filters.
    pub filtered_out: u64,
    /// Per attack label.
    pub labels: BTreeMap<String, Tally>,
    /// Every attack.
    pub attacks: Tally,
    /// Every negative.
    pub negatives: Tally,
    /// Negatives that are the same request as a labelled attack of the corpus.
    pub negatives_same_as_attack: Tally,
    /// Negatives the reviewed list names as carrying an attack (and not the same request as
    /// a labelled one).
    pub negatives_reviewed: Tally,
    /// The other negatives (alerted = false positives).
    pub negatives_benign: Tally,
    /// Rows of the reviewed list that matched no negative (stale entries).
    pub reviewed_unmatched: usize,
    /// Recall by the values of `paranoia_level`, `placeholder`, `encoder` (attacks only).
    pub breakdowns: BTreeMap<String, BTreeMap<String, Tally>>,
    /// Per detector id.
    pub detectors: BTreeMap<String, DetectorTally>,
    /// Missed attacks, up to `misses` per label.
    pub misses: Vec<Listed>,
    /// Every alerted negative.
    pub false_positives: Vec<Listed>,
}

/// One row of `labels.tsv`.
struct Row {
    label: String,
    columns: BTreeMap<String, String>,
}

struct Labels {
    columns: Vec<String>,
    rows: BTreeMap<IpAddr, Row>,
}

fn read_labels(path: &Path) -> Result<Labels> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .with_context(|| format!("{} is empty", path.display()))?
        .split('\t')
        .map(|c| c.trim().to_string())
        .collect();
    if header.len() < 2 || header[0] != "ip" || header[1] != "label" {
        bail!(
            "{}: the header must start with the columns ip and label",
            path.display()
        );
    }
    let mut rows = BTreeMap::new();
    for (n, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split('\t').collect();
        let at = || format!("{}:{}", path.display(), n + 2);
        let ip: IpAddr = cells[0]
            .trim()
            .parse()
            .with_context(|| format!("{}: invalid ip {:?}", at(), cells[0]))?;
        let label = cells
            .get(1)
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .with_context(|| format!("{}: no label", at()))?;
        let columns = header[2..]
            .iter()
            .zip(cells.iter().skip(2))
            .map(|(h, v)| (h.clone(), v.trim().to_string()))
            .collect();
        if rows.insert(ip, Row { label, columns }).is_some() {
            bail!("{}: ip {ip} has a row already", at());
        }
    }
    Ok(Labels {
        columns: header,
        rows,
    })
}

/// Every IP an alert names: its IP entities and the clients of its evidence events (an alert
/// on an attack from many sources lists them all).
fn alert_ips(a: &AlertDraft) -> impl Iterator<Item = IpAddr> + '_ {
    a.entities
        .iter()
        .filter(|e| e.kind == EntityKind::Ip)
        .filter_map(|e| e.value.parse().ok())
        .chain(a.evidence.iter().filter_map(|ev| ev.client_ip))
}

/// Put `ua` in a request record's `request.headers` as its only `user-agent` (any case).
fn replace_user_agent(line: &str, ua: &str) -> Result<String> {
    let mut rec: serde_json::Value = serde_json::from_str(line).context("invalid json")?;
    let obj = rec.as_object_mut().context("not a json object")?;
    for k in ["user_agent", "http_user_agent"] {
        if obj.contains_key(k) {
            obj.insert(k.to_string(), ua.into());
        }
    }
    let request = obj
        .entry("request")
        .or_insert_with(|| serde_json::json!({}))
        .as_object_mut()
        .context("request is not an object")?;
    let headers = request
        .entry("headers")
        .or_insert_with(|| serde_json::json!({}))
        .as_object_mut()
        .context("request.headers is not an object")?;
    headers.retain(|k, _| !k.eq_ignore_ascii_case("user-agent"));
    headers.insert("user-agent".to_string(), ua.into());
    Ok(rec.to_string())
}

fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// What one kept request was, for the listings.
struct Seen {
    /// Hash of method, target, headers and body (see [`request_key`]).
    key: u64,
    ip: IpAddr,
    method: String,
    target: String,
    body: String,
}

/// A request's identity for "the same request as an attack": method, path, query, every
/// request header (sorted, names lower-case) and the body; not the client or the time.
fn request_key(ev: &rampart_model::ApiEvent<'_>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    ev.method.hash(&mut h);
    ev.path.hash(&mut h);
    ev.query.hash(&mut h);
    let mut headers: Vec<(String, &str)> = ev
        .request_headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_ref()))
        .collect();
    headers.sort();
    headers.hash(&mut h);
    ev.request_body.as_deref().hash(&mut h);
    h.finish()
}

/// Run the corpus in `corpus` through an engine built from `setup` (lines decoded with
/// `decode`) and tally the alerts. (The binary has no library target: tests run
/// `rampart eval --json` and read this report.)
pub fn evaluate(
    corpus: &Path,
    opts: &EvalOptions,
    setup: DetectionSetup,
    decode: &DecodeConfig,
) -> Result<EvalReport> {
    let labels_path = corpus.join("labels.tsv");
    let requests_path = corpus.join("requests.ndjson");
    let labels = read_labels(&labels_path)?;
    if opts.paranoia_max.is_some() && !labels.columns.iter().any(|c| c == "paranoia_level") {
        bail!(
            "--paranoia-max needs a paranoia_level column in {}",
            labels_path.display()
        );
    }
    let keep = |row: &Row| -> Result<bool> {
        if row.label == NEGATIVE {
            return Ok(true);
        }
        if !opts.labels.is_empty() && !opts.labels.contains(&row.label) {
            return Ok(false);
        }
        if let Some(max) = opts.paranoia_max {
            let pl = row.columns.get("paranoia_level").map_or("", String::as_str);
            let pl: u32 = pl
                .parse()
                .with_context(|| format!("invalid paranoia_level {pl:?}"))?;
            return Ok(pl <= max);
        }
        Ok(true)
    };

    let text = std::fs::read_to_string(&requests_path)
        .with_context(|| format!("reading {}", requests_path.display()))?;
    let decoder = rampart_decode::decoder_by_name("rampart").context("no rampart decoder")?;
    let mut report = EvalReport {
        sigma_rules: setup
            .sigma()
            .as_ref()
            .filter(|_| !setup.is_disabled(rampart_sigma::DETECTOR_ID))
            .map_or(0, |r| r.len()),
        ..Default::default()
    };
    let mut engine = rampart_pipeline::build_engine(&setup);
    let mut alerts = Vec::new();
    let mut seen = Vec::new();
    let mut last = None;
    // Every labelled attack's request, kept or filtered out.
    let mut attack_keys = std::collections::HashSet::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{}:{}", requests_path.display(), n + 1);
        let replaced;
        let line = match &opts.user_agent {
            Some(ua) => {
                replaced = replace_user_agent(line, ua).with_context(at)?;
                replaced.as_str()
            }
            None => line,
        };
        let ev = decoder
            .decode(line, decode)
            .with_context(|| format!("decoding {}", at()))?;
        let ip = ev
            .client_ip
            .with_context(|| format!("{}: no client ip", at()))?;
        let row = labels
            .rows
            .get(&ip)
            .with_context(|| format!("{}: client ip {ip} has no row in labels.tsv", at()))?;
        let key = request_key(&ev);
        if row.label != NEGATIVE {
            attack_keys.insert(key);
        }
        if !keep(row).with_context(|| format!("row of {ip} in {}", labels_path.display()))? {
            report.filtered_out += 1;
            continue;
        }
        last = Some(last.map_or(ev.ts, |l: rampart_model::Timestamp| l.max(ev.ts)));
        engine.observe(&ev, &mut alerts);
        let target = if ev.query.is_empty() {
            ev.path.to_string()
        } else {
            format!("{}?{}", ev.path, ev.query)
        };
        seen.push(Seen {
            key,
            ip,
            method: ev.method.to_string(),
            target: clip(&target, CLIP),
            body: clip(ev.request_body.as_deref().unwrap_or(""), CLIP),
        });
    }
    if let Some(last) = last {
        engine.tick(last.add_millis(FLUSH_AFTER_MS), &mut alerts);
    }

    let mut alerted: BTreeMap<IpAddr, BTreeSet<&str>> = BTreeMap::new();
    for a in &alerts {
        for ip in alert_ips(a) {
            alerted.entry(ip).or_default().insert(a.detector.as_str());
        }
    }
    let mut listed_per_label: BTreeMap<&str, usize> = BTreeMap::new();
    let mut reviewed_used = vec![false; opts.reviewed.len()];
    for s in &seen {
        let row = &labels.rows[&s.ip];
        let detectors = alerted.get(&s.ip);
        let hit = detectors.is_some();
        let negative = row.label == NEGATIVE;
        report.requests += 1;
        for d in detectors.into_iter().flatten() {
            let t = report.detectors.entry((*d).to_string()).or_default();
            if negative {
                t.negative += 1;
            } else {
                t.attack += 1;
            }
        }
        let listed = || Listed {
            ip: s.ip.to_string(),
            label: row.label.clone(),
            columns: row.columns.clone(),
            detectors: detectors
                .into_iter()
                .flatten()
                .map(|d| (*d).to_string())
                .collect(),
            method: s.method.clone(),
            target: s.target.clone(),
            body: s.body.clone(),
            negative_class: String::new(),
        };
        if negative {
            report.negatives.add(hit);
            let reviewed = opts.reviewed.iter().position(|r| {
                r.columns
                    .iter()
                    .all(|(k, v)| row.columns.get(k).is_some_and(|c| c == v))
            });
            if let Some(i) = reviewed {
                reviewed_used[i] = true;
            }
            let class = if attack_keys.contains(&s.key) {
                report.negatives_same_as_attack.add(hit);
                "same_as_attack".to_string()
            } else if let Some(i) = reviewed {
                report.negatives_reviewed.add(hit);
                format!("reviewed: {}", opts.reviewed[i].reason)
            } else {
                report.negatives_benign.add(hit);
                "benign".to_string()
            };
            if hit {
                let mut l = listed();
                l.negative_class = class;
                report.false_positives.push(l);
            }
            continue;
        }
        report.attacks.add(hit);
        report.labels.entry(row.label.clone()).or_default().add(hit);
        for col in BREAKDOWN_COLUMNS {
            if let Some(v) = row.columns.get(*col) {
                report
                    .breakdowns
                    .entry((*col).to_string())
                    .or_default()
                    .entry(v.clone())
                    .or_default()
                    .add(hit);
            }
        }
        let shown = listed_per_label.entry(row.label.as_str()).or_default();
        if !hit && *shown < opts.misses {
            *shown += 1;
            report.misses.push(listed());
        }
    }
    report.reviewed_unmatched = reviewed_used.iter().filter(|u| !**u).count();
    Ok(report)
}

/// The detection setup for `rampart eval`: the configuration's, with the Sigma rules it
/// names plus `extra` directories, over the embedded SigmaHQ rules unless `builtin` is false.
fn setup(config: &FileConfig, extra: &[PathBuf], builtin: bool) -> Result<DetectionSetup> {
    crate::app::detection_setup_with(config, extra, (!builtin).then_some(false))
}

/// `rampart eval`.
pub fn run(a: EvalArgs) -> Result<()> {
    let config = match &a.config {
        Some(p) => FileConfig::load(Some(p), Path::new("."))?,
        None => FileConfig::default(),
    };
    let setup = setup(&config, &a.sigma, !a.no_builtin_sigma)?;
    let mut decode = DecodeConfig {
        trusted_proxies: config.decode.trusted_proxies.clone(),
        principal_header: config.decode.principal_header.clone(),
        ..Default::default()
    };
    if let Some(h) = &config.decode.api_key_headers {
        decode.api_key_headers = h.clone();
    }
    decode.secrets = config.decode.secrets(&decode.api_key_headers);
    let opts = EvalOptions {
        user_agent: a.user_agent.clone(),
        paranoia_max: a.paranoia_max,
        labels: a.label.clone(),
        misses: a.misses,
        reviewed: match &a.reviewed {
            Some(p) => read_reviewed(p)?,
            None => Vec::new(),
        },
    };
    let report = evaluate(&a.corpus, &opts, setup, &decode)
        .with_context(|| format!("evaluating {}", a.corpus.display()))?;
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", render(&report, a.misses > 0));
    }
    Ok(())
}

/// The text report.
fn render(r: &EvalReport, listings: bool) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} requests ({} filtered out), {} sigma rules",
        r.requests, r.filtered_out, r.sigma_rules
    );
    let _ = writeln!(
        o,
        "\n{:<28} {:>8} {:>8} {:>8}",
        "label", "requests", "alerted", "recall"
    );
    for (label, t) in &r.labels {
        let _ = writeln!(
            o,
            "{label:<28} {:>8} {:>8} {:>7.1}%",
            t.total,
            t.alerted,
            t.percent()
        );
    }
    let _ = writeln!(
        o,
        "{:<28} {:>8} {:>8} {:>7.1}%",
        "all attacks",
        r.attacks.total,
        r.attacks.alerted,
        r.attacks.percent()
    );
    let _ = writeln!(
        o,
        "\nnegatives {}, alerted {}, false positives {:.1}%",
        r.negatives.total,
        r.negatives.alerted,
        r.negatives.percent()
    );
    let _ = writeln!(
        o,
        "  same request as a labelled attack {}, alerted {}\n  reviewed as carrying an attack {}, alerted {}\n  benign {}, alerted {}, false positives {:.1}%",
        r.negatives_same_as_attack.total,
        r.negatives_same_as_attack.alerted,
        r.negatives_reviewed.total,
        r.negatives_reviewed.alerted,
        r.negatives_benign.total,
        r.negatives_benign.alerted,
        r.negatives_benign.percent()
    );
    if r.reviewed_unmatched > 0 {
        let _ = writeln!(
            o,
            "  {} reviewed rows matched no negative",
            r.reviewed_unmatched
        );
    }
    for (col, values) in &r.breakdowns {
        let _ = writeln!(
            o,
            "\nrecall by {col}\n{:<28} {:>8} {:>8} {:>8}",
            col, "requests", "alerted", "recall"
        );
        for (v, t) in values {
            let _ = writeln!(
                o,
                "{v:<28} {:>8} {:>8} {:>7.1}%",
                t.total,
                t.alerted,
                t.percent()
            );
        }
    }
    let _ = writeln!(o, "\n{:<28} {:>8} {:>8}", "detector", "attacks", "negative");
    for (d, t) in &r.detectors {
        let _ = writeln!(o, "{d:<28} {:>8} {:>8}", t.attack, t.negative);
    }
    if listings {
        let cols = |l: &Listed| {
            l.columns
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let _ = writeln!(o, "\nmissed attacks ({} listed)", r.misses.len());
        for m in &r.misses {
            let _ = writeln!(
                o,
                "{} {} {} | {} {} | {}",
                m.ip,
                m.label,
                cols(m),
                m.method,
                m.target,
                m.body
            );
        }
        let _ = writeln!(o, "\nalerted negatives ({})", r.false_positives.len());
        for f in &r.false_positives {
            let _ = writeln!(
                o,
                "{} [{}] ({}) {} | {} {} | {}",
                f.ip,
                f.detectors.join(","),
                f.negative_class,
                cols(f),
                f.method,
                f.target,
                f.body
            );
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_is_replaced_in_every_spelling() {
        let line = r#"{"ts":1,"client_ip":"203.0.113.1","method":"GET","path":"/","status":200,"request":{"headers":{"User-Agent":"sqlmap/1.7","accept":"*/*"}}}"#;
        let out = replace_user_agent(line, "Mozilla/5.0").expect("replace");
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(
            v["request"]["headers"],
            serde_json::json!({"accept": "*/*", "user-agent": "Mozilla/5.0"})
        );
        let bare = r#"{"ts":1,"client_ip":"203.0.113.1","method":"GET","path":"/","status":200}"#;
        let out = replace_user_agent(bare, "Mozilla/5.0").expect("replace");
        assert!(out.contains(r#""user-agent":"Mozilla/5.0""#), "{out}");
    }

    #[test]
    fn clip_counts_characters() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("ééééé", 2), "éé...");
    }
}
