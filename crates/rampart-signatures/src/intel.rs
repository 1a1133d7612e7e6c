//! Threat intelligence: IP and CIDR feeds parsed from text the caller read (plain lists, CSV,
//! STIX 2.1 bundles), held as sorted, merged ranges per feed (binary search, no allocation
//! per lookup), and the `tor_exit` and `threat_intel_ip` detectors over them.
//!
//! The set is swappable without a restart: detectors hold an `Arc<ArcSwap<ThreatIntel>>`
//! and the caller `store()`s a new set into the same handle (lock-free per event).

use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use ipnet::IpNet;
use rampart_detect::registry::Resources;
use rampart_detect::{Detector, EventCtx};
use rampart_model::{AlertDraft, AttackStage, Severity, Timestamp};

use crate::common::{build_alert, ip_text, reason, AlertSpec, Cooldown};
use crate::SignatureError;

/// Name of the Tor exit-node feed.
pub const TOR_FEED: &str = "tor";

/// Format of a feed's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedFormat {
    /// One IP or CIDR per line; `#` starts a comment.
    Plain,
    /// CSV with a header; the column named `ip`, `indicator`, `address` (or `ip_address`,
    /// `value`) holds the IP or CIDR.
    Csv,
    /// A STIX 2.1 bundle: `indicator` objects with `[ipv4-addr:value = '...']` patterns.
    Stix,
}

impl FeedFormat {
    const fn name(self) -> &'static str {
        match self {
            FeedFormat::Plain => "plain",
            FeedFormat::Csv => "csv",
            FeedFormat::Stix => "stix",
        }
    }
}

/// One feed: merged, sorted ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Feed {
    /// Feed name (`tor`, `abuse-ch`, ...).
    pub name: String,
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

fn merge<T: Ord + Copy>(mut r: Vec<(T, T)>, succ: impl Fn(T) -> Option<T>) -> Vec<(T, T)> {
    r.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(r.len());
    for (s, e) in r {
        if let Some(last) = out.last_mut() {
            if succ(last.1).is_none_or(|n| s <= n) {
                if e > last.1 {
                    last.1 = e;
                }
                continue;
            }
        }
        out.push((s, e));
    }
    out
}

fn find<T: Ord + Copy>(r: &[(T, T)], x: T) -> bool {
    let i = r.partition_point(|(s, _)| *s <= x);
    i > 0 && r[i - 1].1 >= x
}

impl Feed {
    fn from_nets(name: &str, nets: Vec<IpNet>) -> Feed {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for n in nets {
            match n {
                IpNet::V4(n) => v4.push((u32::from(n.network()), u32::from(n.broadcast()))),
                IpNet::V6(n) => v6.push((u128::from(n.network()), u128::from(n.broadcast()))),
            }
        }
        Feed {
            name: name.to_string(),
            v4: merge(v4, |x: u32| x.checked_add(1)),
            v6: merge(v6, |x: u128| x.checked_add(1)),
        }
    }
    /// Whether the feed lists this address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => find(&self.v4, u32::from(a)),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => find(&self.v4, u32::from(v4)),
                None => find(&self.v6, u128::from(a)),
            },
        }
    }
    /// Number of merged ranges held.
    pub fn ranges(&self) -> usize {
        self.v4.len() + self.v6.len()
    }
}

/// A set of feeds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreatIntel {
    feeds: Vec<Feed>,
}

fn parse_net(s: &str) -> Option<IpNet> {
    let s = s.trim().trim_matches(|c| c == '"' || c == '\'');
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<IpNet>() {
        return Some(n.trunc());
    }
    s.parse::<IpAddr>().ok().map(IpNet::from)
}

impl ThreatIntel {
    /// An empty set.
    pub fn empty() -> Self {
        ThreatIntel::default()
    }

    /// Parse one feed named `name` from `text`.
    pub fn parse(
        name: &str,
        format: FeedFormat,
        text: &str,
    ) -> Result<ThreatIntel, SignatureError> {
        let err = |reason: String| SignatureError::Feed {
            feed: name.to_string(),
            format: format.name(),
            reason,
        };
        let nets = match format {
            FeedFormat::Plain => {
                let mut nets = Vec::new();
                for (i, line) in text.lines().enumerate() {
                    let line = line.split('#').next().unwrap_or("").trim();
                    if line.is_empty() {
                        continue;
                    }
                    // Some lists carry extra columns after the address.
                    let first = line.split([' ', '\t', ',', ';']).next().unwrap_or("");
                    nets.push(parse_net(first).ok_or_else(|| {
                        err(format!(
                            "line {}: not an ip or cidr: {:?}",
                            i + 1,
                            crate::common::clip(first, 60)
                        ))
                    })?);
                }
                nets
            }
            FeedFormat::Csv => {
                let mut lines = text
                    .lines()
                    .filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
                let header = lines
                    .next()
                    .ok_or_else(|| err("no header line".to_string()))?;
                let col = header
                    .split(',')
                    .position(|h| {
                        let h = h.trim().trim_matches('"').to_ascii_lowercase();
                        matches!(
                            h.as_str(),
                            "ip" | "indicator" | "address" | "ip_address" | "ipaddress" | "value"
                        )
                    })
                    .ok_or_else(|| err("no ip, indicator or address column".to_string()))?;
                let mut nets = Vec::new();
                for line in lines {
                    if let Some(n) = line.split(',').nth(col).and_then(parse_net) {
                        nets.push(n);
                    }
                }
                nets
            }
            FeedFormat::Stix => {
                let v: serde_json::Value =
                    serde_json::from_str(text).map_err(|e| err(format!("not json: {e}")))?;
                let objects = v
                    .get("objects")
                    .and_then(|o| o.as_array())
                    .ok_or_else(|| err("no objects array".to_string()))?;
                let mut nets = Vec::new();
                for o in objects {
                    if o.get("type").and_then(|t| t.as_str()) != Some("indicator") {
                        continue;
                    }
                    let Some(p) = o.get("pattern").and_then(|p| p.as_str()) else {
                        continue;
                    };
                    nets.extend(stix_addresses(p));
                }
                nets
            }
        };
        Ok(ThreatIntel {
            feeds: vec![Feed::from_nets(name, nets)],
        })
    }

    /// This set with the feeds of `other` added (a feed of the same name is replaced).
    pub fn with(mut self, other: ThreatIntel) -> ThreatIntel {
        for f in other.feeds {
            self.feeds.retain(|g| g.name != f.name);
            self.feeds.push(f);
        }
        self
    }

    /// The feeds.
    pub fn feeds(&self) -> &[Feed] {
        &self.feeds
    }

    /// Whether no feed lists anything.
    pub fn is_empty(&self) -> bool {
        self.feeds.iter().all(|f| f.ranges() == 0)
    }

    /// The first feed other than `except` listing `ip`.
    pub fn lookup(&self, ip: IpAddr, except: Option<&str>) -> Option<&str> {
        self.feeds
            .iter()
            .filter(|f| Some(f.name.as_str()) != except)
            .find(|f| f.contains(ip))
            .map(|f| f.name.as_str())
    }

    /// Whether the feed named `name` lists `ip`.
    pub fn in_feed(&self, name: &str, ip: IpAddr) -> bool {
        self.feeds.iter().any(|f| f.name == name && f.contains(ip))
    }
}

/// Addresses in a STIX pattern: every `ipv4-addr:value = '...'` / `ipv6-addr:value = '...'`.
fn stix_addresses(pattern: &str) -> Vec<IpNet> {
    let mut out = Vec::new();
    for key in ["ipv4-addr:value", "ipv6-addr:value"] {
        let mut rest = pattern;
        while let Some(i) = rest.find(key) {
            rest = &rest[i + key.len()..];
            let Some(q) = rest.find('\'') else { break };
            let after = &rest[q + 1..];
            let Some(end) = after.find('\'') else { break };
            if let Some(n) = parse_net(&after[..end]) {
                out.push(n);
            }
            rest = &after[end..];
        }
    }
    out
}

/// Configuration shared by `tor_exit` and `threat_intel_ip`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntelConfig {
    /// Cooldown per IP, seconds.
    pub cooldown_secs: i64,
    /// Most cooldown entries.
    pub max_entries: usize,
}

impl Default for IntelConfig {
    fn default() -> Self {
        IntelConfig {
            cooldown_secs: 3600,
            max_entries: 100_000,
        }
    }
}

/// Which list a detector consults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Tor,
    Other,
}

/// The `tor_exit` / `threat_intel_ip` detector.
pub struct IntelMatch {
    intel: Arc<ArcSwap<ThreatIntel>>,
    which: Which,
    cooldown: Cooldown,
}

impl IntelMatch {
    /// `tor_exit`: callers from the feed named [`TOR_FEED`].
    pub fn tor(cfg: IntelConfig, intel: Arc<ArcSwap<ThreatIntel>>) -> Self {
        IntelMatch {
            cooldown: Cooldown::secs(cfg.cooldown_secs, cfg.max_entries),
            intel,
            which: Which::Tor,
        }
    }
    /// `threat_intel_ip`: callers listed by any other feed.
    pub fn threat(cfg: IntelConfig, intel: Arc<ArcSwap<ThreatIntel>>) -> Self {
        IntelMatch {
            cooldown: Cooldown::secs(cfg.cooldown_secs, cfg.max_entries),
            intel,
            which: Which::Other,
        }
    }
}

impl Detector for IntelMatch {
    fn id(&self) -> &'static str {
        match self.which {
            Which::Tor => "tor_exit",
            Which::Other => "threat_intel_ip",
        }
    }

    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        let Some(ip) = cx.ev.client_ip else { return };
        let intel = self.intel.load();
        let feed = match self.which {
            Which::Tor => intel.in_feed(TOR_FEED, ip).then_some(TOR_FEED),
            Which::Other => intel.lookup(ip, Some(TOR_FEED)),
        };
        let Some(feed) = feed else { return };
        let ev = cx.ev;
        if !self.cooldown.ready_for(cx.ip, 0, ev.ts.millis()) {
            return;
        }
        let (title, description, severity, mitre): (String, String, Severity, &'static [&'static str]) =
            match self.which {
                Which::Tor => (
                    "Request from a Tor exit node".to_string(),
                    format!(
                        "{ip} is a Tor exit node: the real caller is anonymised. It called {m} {t} (status {st}). \
                         Decide whether anonymous access is acceptable for this API; look at what else it did.",
                        ip = ip_text(ev), m = ev.method, t = cx.template, st = ev.status
                    ),
                    Severity::Low,
                    &["T1090.003"],
                ),
                Which::Other => (
                    format!("Request from an IP listed by threat feed {feed}"),
                    format!(
                        "{ip} is listed by the threat-intelligence feed {feed}. It called {m} {t} (status {st}). \
                         Review its other requests and block it if they look hostile.",
                        ip = ip_text(ev), m = ev.method, t = cx.template, st = ev.status
                    ),
                    Severity::Medium,
                    &["T1595"],
                ),
            };
        out.push(build_alert(
            cx,
            AlertSpec {
                detector: self.id(),
                title,
                description,
                severity,
                mitre,
                owasp: None,
                stage: AttackStage::Recon,
                with_user_agent: false,
                reasons: vec![reason("feed_match", 1.0, None)],
            },
        ));
    }

    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.cooldown.tick(now.millis());
    }

    fn state_bytes(&self) -> usize {
        self.cooldown.approx_bytes()
    }
}

/// The swappable feed set the intel detectors read: the one in `res` (its owner `store()`s
/// new sets into it), else an empty one.
pub type SharedIntel = ArcSwap<ThreatIntel>;

fn shared_intel(res: &Resources) -> Arc<SharedIntel> {
    res.get::<SharedIntel>()
        .unwrap_or_else(|| Arc::new(ArcSwap::from_pointee(ThreatIntel::empty())))
}

/// Registry constructor for `tor_exit`.
pub fn build_tor_exit(c: IntelConfig, res: &Resources) -> Box<dyn Detector> {
    Box::new(IntelMatch::tor(c, shared_intel(res)))
}

/// Registry constructor for `threat_intel_ip`.
pub fn build_threat_intel(c: IntelConfig, res: &Resources) -> Box<dyn Detector> {
    Box::new(IntelMatch::threat(c, shared_intel(res)))
}
