//! Acceptance test against the CrowdSec Hub HTTP fixtures (an outside test suite):
//! every log line decodes with `AutoDecoder`, and where CrowdSec's `parser.assert` records
//! what its parsers extracted, Rampart extracts the same client, method, path, status and
//! user agent.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rampart_decode::{AutoDecoder, DecodeConfig};
use rampart_model::ApiEvent;

fn corpus_dir() -> PathBuf {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/crowdsec-hub-http");
    assert!(
        p.join("INDEX.psv").is_file(),
        "CrowdSec corpus missing: expected {} (with INDEX.psv)",
        p.display()
    );
    p
}

/// Lines that are not HTTP traffic and name no client: they are allowed not to decode.
/// Each entry: (fixture, line prefix, why).
const NOT_HTTP: &[(&str, &str, &str)] = &[
    (
        "traefik_json",
        "DEBUG: CrowdsecBouncerTraefikPlugin:",
        "a bouncer plugin's debug line: no client, no request",
    ),
    (
        "caddy-logs",
        r#"{"level":"debug","ts":1742400753.0547564,"logger":"http.handlers.reverse_proxy","msg":"selected upstream""#,
        "Caddy's reverse-proxy debug line (upstream selection): no client, no request",
    ),
];

fn yaml_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let v = l.strip_prefix(key)?.strip_prefix(':')?.trim();
        Some(v.trim_matches('"').to_owned())
    })
}

/// Unescape a Go-quoted string body.
fn unquote(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'r' => out.push(b'\r'),
                b'x' if i + 3 < b.len() => {
                    if let Ok(v) = u8::from_str_radix(&s[i + 2..i + 4], 16) {
                        out.push(v);
                        i += 4;
                        continue;
                    }
                    out.push(b'x');
                }
                b'u' if i + 5 < b.len() => {
                    if let Some(c) = u32::from_str_radix(&s[i + 2..i + 6], 16)
                        .ok()
                        .and_then(char::from_u32)
                    {
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        i += 6;
                        continue;
                    }
                    out.push(b'u');
                }
                c => out.push(c),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One parser result: its fields (`Meta.x` / `Parsed.x`) and success.
#[derive(Default, Debug)]
struct CsResult {
    success: bool,
    fields: BTreeMap<String, String>,
}

/// `results["s01-parse"]["parser"][i].Evt.Meta["k"] == "v"` lines of stage s01-parse.
fn parse_assert(text: &str) -> BTreeMap<(String, usize), CsResult> {
    let mut out: BTreeMap<(String, usize), CsResult> = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("results[\"s01-parse\"][\"") else {
            continue;
        };
        let Some((parser, rest)) = rest.split_once("\"][") else {
            continue;
        };
        let Some((idx, rest)) = rest.split_once("].") else {
            continue;
        };
        let Ok(idx) = idx.parse::<usize>() else {
            continue;
        };
        let Some((lhs, rhs)) = rest.split_once(" == ") else {
            continue;
        };
        let entry = out.entry((parser.to_owned(), idx)).or_default();
        if lhs == "Success" {
            entry.success = rhs.trim() == "true";
            continue;
        }
        let key = if let Some(k) = lhs.strip_prefix("Evt.Meta[\"") {
            format!("Meta.{}", k.trim_end_matches("\"]"))
        } else if let Some(k) = lhs.strip_prefix("Evt.Parsed[\"") {
            format!("Parsed.{}", k.trim_end_matches("\"]"))
        } else {
            continue;
        };
        let rhs = rhs.trim();
        let val = rhs
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .map_or_else(|| rhs.to_owned(), unquote);
        entry.fields.insert(key, val);
    }
    out
}

/// Rampart's path and query as CrowdSec writes http_path: `path?query`.
fn target_of(ev: &ApiEvent<'_>) -> String {
    let mut s = String::new();
    s.push_str(&ev.path);
    if !ev.query.is_empty() {
        s.push('?');
        s.push_str(&ev.query);
    }
    s
}

/// Bring CrowdSec's http_path to Rampart's `path?query` shape where they differ only by
/// representation. Each rule returns CrowdSec's value rewritten; anything else is kept.
fn normalize_path(cs: &str, ev: &ApiEvent<'_>) -> String {
    // 1. CrowdSec's nginx parser keeps an absolute-form target whole (`http://host/x`);
    //    Rampart splits scheme and host out of it.
    if !ev.scheme.is_empty() && !ev.host.is_empty() {
        if let Some(rest) = cs.strip_prefix(&format!("{}://{}", ev.scheme, ev.host)) {
            return if rest.is_empty() {
                "/".to_owned()
            } else {
                rest.to_owned()
            };
        }
        // 1b. For error-log `request: "POST https://host/x"` (no protocol) CrowdSec's grok
        //     drops the `https:` and keeps `//host/x`.
        if let Some(rest) = cs.strip_prefix(&format!("//{}", ev.host)) {
            return rest.to_owned();
        }
    }
    // 2. CrowdSec's IIS parser takes http_path from cs-uri-stem only (no query), while
    //    Rampart's path?query includes cs-uri-query.
    if ev.source_format == "iis_xml" && !ev.query.is_empty() && cs == ev.path {
        return format!("{cs}?{}", ev.query);
    }
    cs.to_owned()
}

#[test]
fn crowdsec_hub_http_corpus() {
    let dir = corpus_dir();
    let cfg = DecodeConfig::default();
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("config.yaml").is_file())
        .collect();
    fixtures.sort();

    let mut failures = Vec::new();
    let mut disagreements = Vec::new();
    let mut unmatched: Vec<String> = Vec::new();
    let (mut lines_total, mut compared, mut fields_compared) = (0usize, 0usize, 0usize);
    for fx in &fixtures {
        let name = fx
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let config = std::fs::read_to_string(fx.join("config.yaml")).unwrap_or_default();
        let Some(log_file) = yaml_value(&config, "log_file") else {
            continue;
        };
        let Ok(log) = std::fs::read_to_string(fx.join(&log_file)) else {
            failures.push(format!("{name}: cannot read {log_file}"));
            continue;
        };
        let mut auto = AutoDecoder::new();
        let mut decoded: Vec<(String, Option<ApiEvent<'_>>)> = Vec::new();
        for (i, line) in log.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            lines_total += 1;
            match auto.decode(line, &cfg) {
                Ok(ev) => decoded.push((line.to_owned(), Some(ev))),
                Err(e) => {
                    let exempt = NOT_HTTP
                        .iter()
                        .any(|(f, p, _)| *f == name && line.starts_with(p));
                    if !exempt {
                        failures.push(format!(
                            "{name}:{}: {e}: {}",
                            i + 1,
                            line.chars().take(120).collect::<String>()
                        ));
                    }
                    decoded.push((line.to_owned(), None));
                }
            }
        }

        let Ok(assert) = std::fs::read_to_string(fx.join("parser.assert")) else {
            continue;
        };
        for ((parser, idx), res) in parse_assert(&assert) {
            if !res.success {
                continue;
            }
            // Find the line this result is about: CrowdSec records the (syslog-stripped)
            // message; fall back to the idx-th line.
            // Find the line this result is about: CrowdSec records the (syslog-stripped)
            // message, or for error-log parsers only the message part. Identical messages
            // from different lines are told apart by the source IP, path and user agent.
            let ev = match res.fields.get("Parsed.message") {
                Some(msg) => {
                    let score = |l: &str| {
                        ["Meta.source_ip", "Meta.http_path", "Meta.http_user_agent"]
                            .iter()
                            .filter(|k| res.fields.get(**k).is_some_and(|v| l.contains(v.as_str())))
                            .count()
                    };
                    let mut best: Option<(usize, &(String, Option<ApiEvent<'_>>))> = None;
                    for cand in decoded
                        .iter()
                        .filter(|(l, _)| l == msg || l.contains(msg.as_str()))
                    {
                        let sc = score(&cand.0);
                        if best.is_none_or(|(b, _)| sc > b) {
                            best = Some((sc, cand));
                        }
                    }
                    best.and_then(|(_, (_, e))| e.as_ref())
                }
                None => decoded.get(idx).and_then(|(_, e)| e.as_ref()),
            };
            let Some(ev) = ev else {
                unmatched.push(format!(
                    "{name} {parser}[{idx}] {:?}",
                    res.fields
                        .get("Parsed.message")
                        .map(|m| m.chars().take(80).collect::<String>())
                ));
                continue;
            };
            compared += 1;
            let mut cmp = |field: &str, cs: Option<String>, ours: String| {
                if let Some(cs) = cs {
                    fields_compared += 1;
                    if cs != ours {
                        disagreements.push(format!("{name:<32} {parser:<40} [{idx:>3}] {field:<10} crowdsec={cs:?} rampart={ours:?}"));
                    }
                }
            };
            cmp(
                "source_ip",
                res.fields.get("Meta.source_ip").cloned(),
                ev.client_ip.map(|i| i.to_string()).unwrap_or_default(),
            );
            cmp(
                "verb",
                res.fields
                    .get("Parsed.verb")
                    .or(res.fields.get("Meta.http_verb"))
                    .cloned(),
                ev.method.to_string(),
            );
            // Normalization: CrowdSec's http_path keeps the query string (it is the raw
            // request target); Rampart splits it into path and query, so compare path?query.
            // Absolute-form targets (`http://host/x`) keep their scheme://host prefix too.
            cmp(
                "http_path",
                res.fields
                    .get("Meta.http_path")
                    .map(|cs| normalize_path(cs, ev)),
                target_of(ev),
            );
            // Normalization: CrowdSec keeps `-` for an absent status / user agent; Rampart
            // uses 0 / the empty string (the model's convention for "absent").
            cmp(
                "status",
                res.fields.get("Meta.http_status").map(|s| {
                    if s == "-" {
                        "0".to_owned()
                    } else {
                        s.clone()
                    }
                }),
                ev.status.to_string(),
            );
            cmp(
                "user_agent",
                res.fields.get("Meta.http_user_agent").map(|s| {
                    if s == "-" {
                        String::new()
                    } else {
                        s.clone()
                    }
                }),
                ev.user_agent.to_string(),
            );
        }
    }
    println!(
        "{} fixtures, {lines_total} lines, {compared} CrowdSec results compared on {fields_compared} fields",
        fixtures.len()
    );
    assert!(
        fixtures.len() >= 90,
        "expected ~100 fixtures, found {}",
        fixtures.len()
    );
    assert!(
        failures.is_empty(),
        "{} lines did not decode:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements with CrowdSec:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    assert!(
        unmatched.is_empty(),
        "{} CrowdSec results not matched to a decoded line:\n{}",
        unmatched.len(),
        unmatched.join("\n")
    );
    assert!(
        compared >= 290,
        "too few CrowdSec results matched to lines: {compared}"
    );
}
