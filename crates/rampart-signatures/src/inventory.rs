//! `improper_inventory`: calls to deprecated API versions (`/v1/` when `/v2/` of the same
//! resource is seen, or configured deprecated prefixes) and, when an OpenAPI spec is loaded,
//! calls to endpoints missing from it (shadow APIs). Once per endpoint.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rampart_detect::registry::Resources;
use rampart_detect::state::PassThrough;
use rampart_detect::{Detector, EventCtx};
use rampart_model::{AlertDraft, AttackStage, Severity};

use crate::common::{build_alert, clip, fold_hash, ip_text, reason, AlertSpec};
use crate::SignatureError;

/// One path segment of a spec path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Lit(String),
    Param,
}

/// The paths and methods of an OpenAPI (or Swagger) document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenApiSpec {
    /// By segment count: (method upper-case, segments).
    by_len: HashMap<usize, Vec<(String, Vec<Seg>)>>,
    /// Base path prefix (Swagger 2 `basePath`, OpenAPI 3 first server URL path).
    base: String,
}

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

impl OpenApiSpec {
    /// Parse a JSON or YAML OpenAPI 3 / Swagger 2 document.
    pub fn parse(text: &str) -> Result<OpenApiSpec, SignatureError> {
        let v: serde_json::Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(_) => {
                serde_yaml::from_str(text).map_err(|e| SignatureError::Spec(e.to_string()))?
            }
        };
        let paths = v
            .get("paths")
            .and_then(|p| p.as_object())
            .ok_or_else(|| SignatureError::Spec("no paths object".to_string()))?;
        let mut base = v
            .get("basePath")
            .and_then(|b| b.as_str())
            .unwrap_or("")
            .to_string();
        if let Some(url) = v.pointer("/servers/0/url").and_then(|u| u.as_str()) {
            let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
            let path = if url.contains("://") {
                after_scheme.find('/').map_or("", |i| &after_scheme[i..])
            } else {
                after_scheme
            };
            base = path.to_string();
        }
        let base = base.trim_end_matches('/').to_string();
        let mut spec = OpenApiSpec {
            by_len: HashMap::new(),
            base,
        };
        for (path, item) in paths {
            let segs: Vec<Seg> = path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| {
                    if s.starts_with('{') && s.ends_with('}') {
                        Seg::Param
                    } else {
                        Seg::Lit(s.to_string())
                    }
                })
                .collect();
            let Some(ops) = item.as_object() else {
                continue;
            };
            for m in ops.keys().filter(|k| METHODS.contains(&k.as_str())) {
                spec.by_len
                    .entry(segs.len())
                    .or_default()
                    .push((m.to_ascii_uppercase(), segs.clone()));
            }
        }
        Ok(spec)
    }

    /// Whether the spec documents `method path`.
    pub fn documents(&self, method: &str, path: &str) -> bool {
        let path = path.strip_prefix(self.base.as_str()).unwrap_or(path);
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let Some(cands) = self.by_len.get(&parts.len()) else {
            return false;
        };
        cands.iter().any(|(m, segs)| {
            m.eq_ignore_ascii_case(method)
                && segs.iter().zip(&parts).all(|(s, p)| match s {
                    Seg::Param => true,
                    Seg::Lit(l) => l == p,
                })
        })
    }

    /// Number of documented operations.
    pub fn operations(&self) -> usize {
        self.by_len.values().map(Vec::len).sum()
    }
}

/// Configuration of `improper_inventory`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InventoryConfig {
    /// Path prefixes known to be deprecated (`/api/v1/`).
    pub deprecated_prefixes: Vec<String>,
    /// Flag `/vN/` calls when a higher version of the same resource has been seen.
    pub detect_superseded_versions: bool,
    /// Most resources and endpoints remembered.
    pub max_entries: usize,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        InventoryConfig {
            deprecated_prefixes: Vec::new(),
            detect_superseded_versions: true,
            max_entries: 100_000,
        }
    }
}

/// Split a template at its first `/vN/` segment: (N, hash of the rest).
fn version_split(template: &str) -> Option<(u32, u32)> {
    let b = template.as_bytes();
    let mut i = 0;
    // Segments are short: a plain loop finds each `/` for less than `memchr`'s setup.
    while let Some(p) = b[i..].iter().position(|&c| c == b'/') {
        let s = i + p + 1;
        if s + 1 < b.len() && (b[s] == b'v' || b[s] == b'V') {
            let mut e = s + 1;
            while e < b.len() && b[e].is_ascii_digit() {
                e += 1;
            }
            if e > s + 1 && (e == b.len() || b[e] == b'/') {
                // All digits: what `str::parse::<u32>` gives, `None` on overflow.
                let n = b[s + 1..e].iter().try_fold(0u32, |n, &d| {
                    n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
                })?;
                let mut h = fold_hash(&b[..s]);
                h ^= fold_hash(&b[e..]).rotate_left(7);
                return Some((n, h));
            }
        }
        i = s;
        if i >= b.len() {
            break;
        }
    }
    None
}

/// The `improper_inventory` detector.
pub struct ImproperInventory {
    cfg: InventoryConfig,
    /// The API's OpenAPI spec, when loaded: undocumented endpoints are shadow APIs.
    spec: Option<Arc<OpenApiSpec>>,
    /// Resource (template without version) → highest version seen.
    latest: HashMap<u32, u32, PassThrough>,
    /// Endpoints already reported (endpoint hash, reason).
    reported: HashSet<(u64, u8)>,
}

impl ImproperInventory {
    /// A detector with this configuration.
    pub fn new(cfg: InventoryConfig, spec: Option<Arc<OpenApiSpec>>) -> Self {
        ImproperInventory {
            cfg,
            spec,
            latest: HashMap::default(),
            reported: HashSet::new(),
        }
    }

    fn report_once(&mut self, endpoint: u64, why: u8) -> bool {
        if self.reported.len() >= self.cfg.max_entries {
            self.reported.clear();
        }
        self.reported.insert((endpoint, why))
    }
}

impl Detector for ImproperInventory {
    fn id(&self) -> &'static str {
        "improper_inventory"
    }

    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        let ev = cx.ev;
        // Only calls the API actually served tell us about its surface.
        if !(200..400).contains(&ev.status) {
            return;
        }
        let mut finding: Option<(u8, String, f64)> = None;
        if let Some(p) = self
            .cfg
            .deprecated_prefixes
            .iter()
            .find(|p| ev.path.starts_with(p.as_str()))
        {
            finding = Some((0, format!("calls the deprecated API prefix {p}"), 1.0));
        }
        if finding.is_none() && self.cfg.detect_superseded_versions {
            if let Some((v, res)) = version_split(&cx.template) {
                if self.latest.len() >= self.cfg.max_entries && !self.latest.contains_key(&res) {
                    self.latest.clear();
                }
                let max = self.latest.entry(res).or_insert(v);
                if v > *max {
                    *max = v;
                } else if v < *max {
                    finding = Some((
                        1,
                        format!(
                            "calls version v{v} although v{max} of the same resource is in use"
                        ),
                        f64::from(v),
                    ));
                }
            }
        }
        if finding.is_none() {
            if let Some(spec) = &self.spec {
                if !spec.documents(&ev.method, &ev.path) {
                    finding = Some((
                        2,
                        "calls an endpoint that the OpenAPI spec does not document (shadow API)"
                            .to_string(),
                        0.0,
                    ));
                }
            }
        }
        let Some((why, what, observed)) = finding else {
            return;
        };
        if !self.report_once(cx.endpoint, why) {
            return;
        }
        out.push(build_alert(
            cx,
            AlertSpec {
                detector: "improper_inventory",
                title: match why {
                    2 => "Undocumented (shadow) API endpoint in use".to_string(),
                    _ => "Deprecated API version in use".to_string(),
                },
                description: format!(
                    "{ip} {what}: {m} {t} answered {st}. Retire the old or undocumented endpoint, or document \
                     and protect it like the current one.",
                    ip = ip_text(ev),
                    m = clip(&ev.method, 16),
                    t = cx.template,
                    st = ev.status,
                ),
                severity: Severity::Low,
                mitre: &["T1190"],
                owasp: Some("API9:2023"),
                stage: AttackStage::Recon,
                with_user_agent: false,
                reasons: vec![reason(
                    match why {
                        0 => "deprecated_prefix",
                        1 => "superseded_version",
                        _ => "undocumented_endpoint",
                    },
                    observed,
                    None,
                )],
            },
        ));
    }

    fn state_bytes(&self) -> usize {
        self.latest.capacity() * 12 + self.reported.capacity() * 16
    }
}

/// Registry constructor.
pub fn build(c: InventoryConfig, res: &Resources) -> Box<dyn Detector> {
    Box::new(ImproperInventory::new(c, res.get::<OpenApiSpec>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The version number is read as `str::parse::<u32>` reads it, overflow included.
    #[test]
    fn version_split_reads_versions() {
        let v = |t: &str| version_split(t).map(|(n, _)| n);
        assert_eq!(v("/api/v2/products/{id}"), Some(2));
        assert_eq!(v("/api/V10/x"), Some(10));
        assert_eq!(v("/v007"), Some(7));
        assert_eq!(v("/api/v4294967295/x"), Some(u32::MAX));
        assert_eq!(v("/api/v4294967296/x"), None);
        assert_eq!(v("/api/v/x"), None);
        assert_eq!(v("/api/v2x/y"), None);
        assert_eq!(v("/api/vx/v3"), Some(3));
        assert_eq!(v(""), None);
        assert_eq!(
            version_split("/api/v1/users").map(|(_, h)| h),
            version_split("/api/v2/users").map(|(_, h)| h)
        );
    }
}
