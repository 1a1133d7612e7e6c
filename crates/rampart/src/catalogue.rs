//! The console's detection catalogue, built once at start from the detection setup: each
//! built-in detector (what it detects, MITRE ATT&CK techniques, OWASP API Top 10 category,
//! whether it runs, its thresholds) and the Sigma rules loaded.
//!
//! Detectors set their MITRE techniques and OWASP category on each alert they raise; the
//! table below says the same once per detector, for people. `every_detector_is_described`
//! fails when a detector is added to a registry without a row here.

use rampart_console::pages::{Catalogue, DetectorInfo, SigmaInfo};
use rampart_pipeline::DetectionSetup;

/// Group of the behavioural detectors (`rampart-detect`).
const BEHAVIOURAL: &str = "behavioural";
/// Group of the content detectors (`rampart-signatures`).
const CONTENT: &str = "content";

/// One row of [`ABOUT`]: id, group, what it detects, MITRE ATT&CK techniques, OWASP API
/// Security Top 10 (2023) category.
pub type About = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    Option<&'static str>,
);

/// One row per built-in detector, in registry order.
#[rustfmt::skip]
pub const ABOUT: &[About] = &[
    ("traffic_spike_endpoint", BEHAVIOURAL, "Requests per minute on one endpoint far above its learned baseline", &["T1499"], Some("API4:2023")),
    ("traffic_spike_ip", BEHAVIOURAL, "One client calling an endpoint far faster than its own learned rate there", &["T1499"], Some("API4:2023")),
    ("large_response", BEHAVIOURAL, "A response body far larger than the endpoint's learned sizes (bulk data leaving)", &["T1530", "T1213"], Some("API3:2023")),
    ("large_request", BEHAVIOURAL, "A request body far larger than the endpoint's learned sizes (oversized payloads)", &["T1499", "T1190"], Some("API4:2023")),
    ("latency_spike", BEHAVIOURAL, "Many requests on one endpoint far slower than its learned latency", &["T1499"], Some("API4:2023")),
    ("error_burst", BEHAVIOURAL, "A burst of 5xx answers on one endpoint above its learned error rate", &["T1190", "T1499"], Some("API8:2023")),
    ("resource_consumption", BEHAVIOURAL, "One client pulling unusually many bytes or pages from the API", &["T1499", "T1530"], Some("API4:2023")),
    ("endpoint_spray", BEHAVIOURAL, "One IP probing many distinct endpoints that do not exist or refuse it", &["T1595.003", "T1595"], Some("API9:2023")),
    ("param_enumeration", BEHAVIOURAL, "One IP walking many distinct values of an id on one endpoint", &["T1595", "T1087"], Some("API1:2023")),
    ("distributed_param_enumeration", BEHAVIOURAL, "Many IPs together walking many ids of one endpoint, each sending few requests", &["T1595", "T1087"], Some("API1:2023")),
    ("bola", BEHAVIOURAL, "One principal successfully reading many distinct objects: broken object-level authorization", &["T1530", "T1213"], Some("API1:2023")),
    ("credential_stuffing", BEHAVIOURAL, "One source failing logins for many distinct accounts", &["T1110.004"], Some("API2:2023")),
    ("password_spray", BEHAVIOURAL, "Failed logins for many accounts from many sources, few per account", &["T1110.003"], Some("API2:2023")),
    ("brute_force", BEHAVIOURAL, "Many failed logins for one account; a success after them is critical", &["T1110.001"], Some("API2:2023")),
    ("login_attack", BEHAVIOURAL, "Many failed logins from one source on one login endpoint, account visible or not (refusals, failure-sized form pages); a success after them is a probable takeover", &["T1110", "T1110.001", "T1078"], Some("API2:2023")),
    ("leaked_credential", BEHAVIOURAL, "One API key or principal used from many IPs at once", &["T1078"], Some("API2:2023")),
    ("unauth_access", BEHAVIOURAL, "A 2xx answer without credentials on an endpoint whose calls are authenticated", &["T1190", "T1078"], Some("API2:2023")),
    ("function_level_authz", BEHAVIOURAL, "A principal calling administrative endpoints outside its learned profile", &["T1078", "T1190"], Some("API5:2023")),
    ("anomalous_param_type", BEHAVIOURAL, "A parameter value (query, form field or JSON key) of a type never or rarely learned for it", &["T1190"], Some("API8:2023")),
    ("anomalous_param_value", BEHAVIOURAL, "A parameter value (query, form field or JSON key) far longer than learned, or with characters never learned for it (quotes, <>, shell or path characters)", &["T1190"], Some("API8:2023")),
    ("unseen_param", BEHAVIOURAL, "A query parameter, form field or JSON key never learned on the endpoint", &["T1595"], Some("API9:2023")),
    ("mass_assignment", BEHAVIOURAL, "A write body with properties never seen in the endpoint's learned writes", &["T1190", "T1098"], Some("API3:2023")),
    ("injection", CONTENT, "Injection signatures (SQLi, XSS, traversal, command, Log4Shell, SSTI, ...) in the decoded request", &["T1190"], Some("API8:2023")),
    ("content_inspection", CONTENT, "Every value of the request (path, query, cookies, headers, form/JSON/XML/GraphQL bodies), normalised, checked per attack family: SQLi and XSS (libinjection), command, traversal, RFI, Log4Shell, SSTI, XXE, NoSQL, LDAP, CRLF and log forging, SSI, mail, serialized objects, prototype pollution, GraphQL abuse, PHP, Java, Node.js, session fixation, out-of-band probes", &["T1190", "T1059"], Some("API8:2023")),
    ("ssrf", CONTENT, "URLs in the query or body pointing at internal, loopback or cloud-metadata addresses", &["T1190"], Some("API7:2023")),
    ("scanner", CONTENT, "One IP getting 4xx answers on many distinct paths (content discovery)", &["T1595.002", "T1595.003"], Some("API9:2023")),
    ("sensitive_file_probe", CONTENT, "Requests for secrets, dotfiles and backups (.env, .git, dumps)", &["T1595.003", "T1083"], Some("API8:2023")),
    ("admin_probe", CONTENT, "Probes for admin interfaces, webshells and known-CVE request paths", &["T1595.003", "T1190", "T1505.003"], Some("API9:2023")),
    ("suspicious_user_agent", CONTENT, "Scanner and exploit-tool user agents, and exploit payloads in the user agent or referer", &["T1595.002", "T1190"], None),
    ("protocol_abuse", CONTENT, "Open-proxy attempts, invalid HTTP versions, binary junk request lines", &["T1090", "T1595.002", "T1046"], Some("API8:2023")),
    ("tor_exit", CONTENT, "Requests from Tor exit nodes (the Tor feed)", &["T1090.003"], None),
    ("threat_intel_ip", CONTENT, "Requests from addresses in the threat-intelligence feeds", &["T1595"], None),
    ("sensitive_data_exposure", CONTENT, "Card numbers, national ids, secrets and keys, bulk personal data in responses", &["T1530"], Some("API3:2023")),
    ("security_misconfig", CONTENT, "TRACE answered, stack traces and verbose errors, debug endpoints answering", &["T1592"], Some("API8:2023")),
    ("improper_inventory", CONTENT, "Calls to deprecated API versions and to endpoints missing from the OpenAPI spec", &["T1190"], Some("API9:2023")),
    ("auth_failures", CONTENT, "Bursts of authentication failures and WAF blocks reported by the server", &["T1110", "T1190"], Some("API2:2023")),
];

/// Fields of a detector's configuration that bound memory rather than decide detection.
const NOT_THRESHOLDS: &[&str] = &["enabled", "max_keys", "max_entries", "max_ips"];

/// A detector's thresholds: the scalar fields of its `[detect.<id>]` section as it runs
/// (its defaults with the configured values over them; nested ones as `a.b`), without
/// `enabled` and memory bounds.
fn thresholds(setup: &DetectionSetup, id: &str) -> Vec<(String, String)> {
    fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let name = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    if !NOT_THRESHOLDS.contains(&k.as_str()) {
                        flatten(&name, v, out);
                    }
                }
            }
            serde_json::Value::Array(a) if a.len() > 8 || a.is_empty() => {}
            serde_json::Value::String(s) => out.push((prefix.to_string(), s.clone())),
            other => out.push((prefix.to_string(), other.to_string())),
        }
    }
    let mut out = Vec::new();
    let Some(reg) = rampart_pipeline::REGISTRY.iter().find(|r| r.id == id) else {
        return out;
    };
    let mut section = (reg.defaults)();
    if let (Some(obj), Some(serde_json::Value::Object(set))) =
        (section.as_object_mut(), setup.detect.detectors.raw(id))
    {
        for (k, v) in set {
            obj.insert(k.clone(), v.clone());
        }
    }
    flatten("", &section, &mut out);
    out
}

/// The catalogue of a detection setup: every built-in detector (enabled when the engine the
/// setup builds runs it), Sigma and its rules.
pub fn build(setup: &DetectionSetup) -> Catalogue {
    let running = rampart_pipeline::build_engine(setup).ids();
    let mut detectors: Vec<DetectorInfo> = ABOUT
        .iter()
        .map(|(id, group, what, mitre, owasp)| DetectorInfo {
            id: id.to_string(),
            group: group.to_string(),
            description: what.to_string(),
            mitre: mitre.iter().map(|t| t.to_string()).collect(),
            owasp: owasp.map(str::to_string),
            enabled: running.contains(id),
            thresholds: thresholds(setup, id),
        })
        .collect();
    let loaded = setup.sigma();
    let rules = loaded.as_deref().map_or(&[][..], |r| r.rules());
    detectors.push(DetectorInfo {
        id: rampart_sigma::DETECTOR_ID.to_string(),
        group: "sigma".into(),
        description: format!(
            "{} Sigma rules over the webserver/proxy fields of each request",
            rules.len()
        ),
        mitre: Vec::new(),
        owasp: None,
        enabled: running.contains(&rampart_sigma::DETECTOR_ID),
        thresholds: thresholds(setup, rampart_sigma::DETECTOR_ID),
    });
    let sigma = rules
        .iter()
        .map(|r| SigmaInfo {
            id: r.id.clone(),
            title: r.title.clone(),
            author: r.author.clone(),
            level: r.level.clone(),
        })
        .collect();
    Catalogue { detectors, sigma }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_detector_is_described() {
        let mut engine_ids = rampart_pipeline::build_engine(&DetectionSetup::default()).ids();
        assert_eq!(engine_ids.pop(), Some(rampart_sigma::DETECTOR_ID));
        let described: Vec<&str> = ABOUT.iter().map(|row| row.0).collect();
        assert_eq!(
            described, engine_ids,
            "one row per built-in detector, in order"
        );
    }

    #[test]
    fn disabled_detectors_and_thresholds_show() {
        let mut setup = DetectionSetup::default();
        setup.disable("bola");
        setup.disable("scanner");
        let c = build(&setup);
        let find = |id: &str| c.detectors.iter().find(|d| d.id == id).expect(id);
        assert!(!find("bola").enabled);
        assert!(!find("scanner").enabled);
        assert!(find("injection").enabled);
        let bola = find("bola");
        assert!(
            bola.thresholds
                .iter()
                .any(|(k, _)| k == "min_objects" || k == "window_ms"),
            "{:?}",
            bola.thresholds
        );
        assert!(bola
            .thresholds
            .iter()
            .all(|(k, _)| k != "enabled" && k != "max_keys"));
        assert_eq!(bola.owasp.as_deref(), Some("API1:2023"));
        assert!(c.sigma.is_empty(), "no rules loaded");
        let injection = find("injection");
        assert!(
            injection
                .thresholds
                .iter()
                .any(|(k, _)| k == "cooldown_secs"),
            "{:?}",
            injection.thresholds
        );
    }
}
