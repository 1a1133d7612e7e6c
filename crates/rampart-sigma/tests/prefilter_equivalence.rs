//! The literal prefilter never changes what matches: on attack events synthesized from every
//! web rule's own values (plain, case-flipped, percent-encoded, padded), on the CrowdSec hub
//! fixture logs decoded with `rampart-decode`, on benign API traffic and on non-ASCII
//! look-alikes, [`RuleSet::evaluate`] gives exactly the results of evaluating every rule with
//! rsigma ([`RuleSet::evaluate_every_rule`]), with and without percent-decoded matching; also on
//! Unicode case-folding cases and on payloads slid across the cut of long scanned texts.

use std::path::{Path, PathBuf};

use rampart_model::{ApiEvent, Timestamp};
use rampart_sigma::prefilter::Scratch;
use rampart_sigma::{load_dir, EventView, RuleSet};
use rsigma_parser::value::{SpecialChar, StringPart};
use rsigma_parser::{Detection, DetectionItem, Modifier, SigmaValue};

fn corpus_dir() -> PathBuf {
    match std::env::var_os("RAMPART_SIGMA_WEB_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/sigma-web"),
    }
}

fn crowdsec_dir() -> PathBuf {
    match std::env::var_os("RAMPART_CROWDSEC_HTTP_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpora/crowdsec-hub-http"),
    }
}

fn yaml_files(dir: &Path, ext: &[&str], out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, ext, out);
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| ext.contains(&e))
        {
            out.push(p);
        }
    }
}

/// An event under construction: pieces of each field, in order.
#[derive(Default, Clone)]
struct Draft {
    method: Option<String>,
    uri: Vec<String>,
    path: Vec<String>,
    query: Vec<String>,
    extension: Option<String>,
    ua: Vec<String>,
    referer: Vec<String>,
    host: Vec<String>,
    cookie: Vec<String>,
    user: Vec<String>,
    content_type: Vec<String>,
    status: Option<u16>,
}

/// A Sigma value as text that its (wildcard) pattern accepts.
fn text_of(v: &SigmaValue) -> String {
    match v {
        SigmaValue::String(s) => s
            .parts
            .iter()
            .map(|p| match p {
                StringPart::Plain(t) => t.as_str(),
                StringPart::Special(SpecialChar::WildcardMulti) => "zz",
                StringPart::Special(SpecialChar::WildcardSingle) => "q",
            })
            .collect(),
        SigmaValue::Integer(i) => i.to_string(),
        SigmaValue::Float(f) => f.to_string(),
        SigmaValue::Bool(b) => b.to_string(),
        SigmaValue::Null => String::new(),
    }
}

fn add_item(d: &mut Draft, item: &DetectionItem, k: usize) {
    if item.values.is_empty() {
        return;
    }
    let all = item.field.modifiers.contains(&Modifier::All);
    let text = if all {
        item.values
            .iter()
            .map(text_of)
            .collect::<Vec<_>>()
            .join("/")
    } else {
        text_of(&item.values[k % item.values.len()])
    };
    let Some(name) = item.field.name.as_deref() else {
        d.query.push(text);
        return;
    };
    match name {
        "cs-method" => d.method = Some(text),
        "cs-uri-query" | "cs-uri" | "c-uri" => d.uri.push(text),
        "cs-uri-stem" | "c-uri-stem" => d.path.push(text),
        "c-uri-query" => d.query.push(text),
        "c-uri-extension" => d.extension = Some(text),
        "c-useragent" | "cs-user-agent" => d.ua.push(text),
        "cs-referrer" | "cs-referer" => d.referer.push(text),
        "cs-host" | "r-dns" => d.host.push(text),
        "cs-cookie" => d.cookie.push(text),
        "cs-username" => d.user.push(text),
        "cs-content-type" => d.content_type.push(text),
        "sc-status" => d.status = text.parse().ok(),
        _ => {}
    }
}

fn add_detection(d: &mut Draft, det: &Detection, k: usize) {
    match det {
        Detection::AllOf(items) => items.iter().for_each(|i| add_item(d, i, k)),
        Detection::AnyOf(subs) if !subs.is_empty() => {
            add_detection(d, &subs[k % subs.len()], k / subs.len());
        }
        Detection::Keywords(values) if !values.is_empty() => {
            d.query.push(text_of(&values[k % values.len()]));
        }
        _ => {}
    }
}

/// Turn a draft into an owned event (as a combined-log decoder would give it).
fn build(d: &Draft, style: Style) -> ApiEvent<'static> {
    let tweak = |s: &str| -> String {
        match style {
            Style::Plain => s.to_string(),
            Style::Flipped => s
                .chars()
                .map(|c| {
                    if c.is_ascii_lowercase() {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect(),
            Style::Encoded => s
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b == b'/' {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect(),
            Style::Padded => format!("/x{s}y"),
        }
    };
    let join = |v: &[String]| v.iter().map(|s| tweak(s)).collect::<Vec<_>>().join("");
    let mut target = join(&d.uri);
    if target.is_empty() || !d.path.is_empty() {
        target = format!("{}{}", join(&d.path), target);
    }
    if let Some(x) = &d.extension {
        target = format!("{target}/file.{}", tweak(x));
    }
    if !d.query.is_empty() {
        target = format!("{target}?{}", join(&d.query));
    }
    if !target.starts_with('/') {
        target.insert(0, '/');
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.clone(), String::new()),
    };
    let method = d.method.clone().unwrap_or_else(|| "GET".into());
    let status = d.status.unwrap_or(200);
    let ua = if d.ua.is_empty() {
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0".to_string()
    } else {
        join(&d.ua)
    };
    let referer = join(&d.referer);
    let host = if d.host.is_empty() {
        "api.example.com".to_string()
    } else {
        join(&d.host)
    };
    let mut headers = Vec::new();
    if !d.cookie.is_empty() {
        headers.push(("cookie".into(), join(&d.cookie).into()));
    }
    if !d.content_type.is_empty() {
        headers.push(("content-type".into(), join(&d.content_type).into()));
    }
    let raw = format!(
        "203.0.113.7 - - [10/Oct/2024:13:55:36 +0000] \"{method} {target} HTTP/1.1\" {status} 512 \"{referer}\" \"{ua}\""
    );
    ApiEvent {
        ts: Timestamp::from_secs(1_728_568_536),
        client_ip: "203.0.113.7".parse().ok(),
        method: method.into(),
        host: host.into(),
        path: path.into(),
        query: query.into(),
        protocol: "HTTP/1.1".into(),
        status,
        user_agent: ua.into(),
        referer: referer.into(),
        principal: (!d.user.is_empty()).then(|| join(&d.user).into()),
        request_headers: headers,
        raw: raw.into(),
        source_format: "combined".into(),
        ..Default::default()
    }
}

#[derive(Clone, Copy)]
enum Style {
    Plain,
    Flipped,
    Encoded,
    Padded,
}

/// Events built from every rule's detections: each named detection alone, and all the
/// non-filter detections of a rule together, cycling through the values of each item.
fn synthesized() -> Vec<ApiEvent<'static>> {
    let mut files = Vec::new();
    yaml_files(&corpus_dir(), &["yml", "yaml"], &mut files);
    let mut drafts = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("rule file");
        let Ok(coll) = rsigma_parser::parse_sigma_yaml(&text) else {
            continue;
        };
        for rule in coll.rules {
            let named = &rule.detection.named;
            let mut names: Vec<&String> = named.keys().collect();
            names.sort();
            let widest = named.values().map(width).max().unwrap_or(1).min(60);
            for k in 0..widest {
                let mut whole = Draft::default();
                for name in &names {
                    let mut one = Draft::default();
                    add_detection(&mut one, &named[*name], k);
                    drafts.push(one);
                    if !name.starts_with("filter") && !name.starts_with("falsepositive") {
                        add_detection(&mut whole, &named[*name], k);
                    }
                }
                drafts.push(whole);
            }
        }
    }
    let mut events = Vec::new();
    for d in &drafts {
        for style in [Style::Plain, Style::Flipped, Style::Encoded, Style::Padded] {
            events.push(build(d, style));
        }
    }
    events
}

/// How many values the widest item or list of a detection has.
fn width(d: &Detection) -> usize {
    match d {
        Detection::AllOf(items) => items.iter().map(|i| i.values.len()).max().unwrap_or(1),
        Detection::AnyOf(subs) => subs.iter().map(width).sum(),
        Detection::Keywords(v) => v.len(),
        _ => 1,
    }
    .max(1)
}

fn crowdsec_events(lines: &[String]) -> Vec<ApiEvent<'_>> {
    let cfg = rampart_decode::DecodeConfig::default();
    let mut dec = rampart_decode::AutoDecoder::new();
    lines
        .iter()
        .filter_map(|l| dec.decode(l, &cfg).ok())
        .collect()
}

fn crowdsec_lines() -> Vec<String> {
    let mut files = Vec::new();
    yaml_files(&crowdsec_dir(), &["log"], &mut files);
    assert!(!files.is_empty(), "no CrowdSec fixture logs");
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .expect("fixture log")
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn lookalikes() -> Vec<ApiEvent<'static>> {
    let mk = |path: &str, query: &str, ua: &str| ApiEvent {
        ts: Timestamp::from_secs(1_728_568_536),
        method: "GET".into(),
        path: path.to_string().into(),
        query: query.to_string().into(),
        protocol: "HTTP/1.1".into(),
        status: 200,
        user_agent: ua.to_string().into(),
        ..Default::default()
    };
    vec![
        // Benign API calls.
        mk("/api/v1/users/42", "fields=name,email", "okhttp/4.12.0"),
        mk(
            "/images/banner-3.png",
            "",
            "Mozilla/5.0 (iPhone) Mobile/15E148",
        ),
        mk("/", "", ""),
        // Kelvin sign, long s, dotted capital I, final sigma: Unicode case folding.
        mk(
            "/\u{212A}\u{212A}\u{212A}/.git/config",
            "",
            "\u{17F}qlmap/1.7",
        ),
        mk("/WP-ADM\u{130}N/x.php", "q=\u{3A3}\u{3A3}", "Nikto"),
        mk(
            "/%E2%84%AA/etc/pa\u{17F}\u{17F}wd",
            "a=%C5%BF",
            "MOZILLA/4.0",
        ),
        mk("/caf\u{E9}/../../etc/passwd", "x=\u{E9}", "\u{17F}\u{212A}"),
    ]
}

fn results(rs: &RuleSet, ev: &ApiEvent<'_>, decode: bool, s: &mut Scratch) -> [Vec<String>; 2] {
    let view = EventView::new(ev, decode);
    let show = |r: Vec<rsigma_eval::EvaluationResult>| -> Vec<String> {
        let mut v: Vec<String> = r
            .iter()
            .map(|r| serde_json::to_string(r).expect("result serializes"))
            .collect();
        v.sort();
        v
    };
    [
        show(rs.evaluate(&view, s)),
        show(rs.evaluate_every_rule(&view)),
    ]
}

#[test]
fn prefiltered_matches_equal_full_evaluation() {
    let (rs, report) = load_dir(&corpus_dir()).expect("rule corpus loads");
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    let lines = crowdsec_lines();
    let crowdsec = crowdsec_events(&lines);
    let synth = synthesized();
    let extra = lookalikes();
    let mut scratch = Scratch::new();
    let mut matched_rules = std::collections::BTreeSet::new();
    let (mut events, mut matching_events) = (0usize, 0usize);
    // Twice over: the second round finds every user agent, referer and host in the scratch's
    // memo of hits, and must match the same.
    for (set, evs) in [
        ("synthesized", &synth),
        ("crowdsec", &crowdsec),
        ("lookalike", &extra),
        ("synthesized again", &synth),
        ("crowdsec again", &crowdsec),
    ] {
        for ev in evs.iter() {
            for decode in [true, false] {
                let [pre, full] = results(&rs, ev, decode, &mut scratch);
                assert_eq!(
                    pre, full,
                    "{set} event (decode={decode}) path={:?} query={:?} ua={:?} raw={:?}",
                    ev.path, ev.query, ev.user_agent, ev.raw
                );
                events += 1;
                matching_events += usize::from(!full.is_empty());
                for r in &full {
                    let v: serde_json::Value = serde_json::from_str(r).expect("json");
                    matched_rules.insert(v["rule_title"].as_str().unwrap_or_default().to_string());
                }
            }
        }
    }
    let stats = rs.prefilter_stats();
    println!(
        "{events} evaluations ({} synthesized, {} crowdsec from {} lines, {} look-alikes, each with and without decoding), {matching_events} with matches, {} of {} rules matched at least once; prefilter: {} needles, {} always-evaluated rules",
        synth.len(),
        crowdsec.len(),
        lines.len(),
        extra.len(),
        matched_rules.len(),
        stats.rules,
        stats.needles,
        stats.always_evaluate,
    );
    // The synthesized events must actually exercise the rules, or equality proves little.
    assert!(
        matched_rules.len() >= 100,
        "only {} rules matched: {matched_rules:?}",
        matched_rules.len()
    );
    assert!(
        crowdsec.len() >= 100,
        "only {} CrowdSec lines decoded",
        crowdsec.len()
    );
}

fn web_rule(title: &str, detection: &str) -> (String, String) {
    (
        format!("{title}.yml"),
        format!(
            "title: {title}\nid: 00000000-0000-0000-0000-{:012}\nlogsource:\n  category: webserver\ndetection:\n{detection}\nlevel: high\n",
            // An id per title (titles of one length used to share one, and a rule set
            // refuses a duplicate id).
            title
                .bytes()
                .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
                % 1_000_000_000_000
        ),
    )
}

/// One scratch used with two rule sets of the same shape (one rule, one needle each): what it
/// remembers of a user agent's hits under the first never hides a needle of the second.
#[test]
fn remembered_hits_belong_to_their_rule_set() {
    let rule = |title: &str, ua: &str| {
        let (rs, report) = RuleSet::from_sources(&[web_rule(
            title,
            &format!("  selection:\n    c-useragent|contains: '{ua}'\n  condition: selection"),
        )]);
        assert!(report.refused.is_empty(), "{:?}", report.refused);
        rs
    };
    let (evil, good) = (rule("Evil Bot", "evilbot"), rule("Good Bot", "goodbot"));
    let ev = ApiEvent {
        ts: Timestamp::from_secs(1_728_568_536),
        method: "GET".into(),
        path: "/".into(),
        status: 200,
        user_agent: "hello goodbot/1.0".into(),
        ..Default::default()
    };
    let mut scratch = Scratch::new();
    for _ in 0..2 {
        let [pre, full] = results(&evil, &ev, true, &mut scratch);
        assert!(pre.is_empty() && full.is_empty());
        let [pre, full] = results(&good, &ev, true, &mut scratch);
        assert_eq!(pre, full);
        assert_eq!(
            pre.len(),
            1,
            "the second rule set's needle is found: {pre:?}"
        );
    }
}

/// Unicode case folding: values and haystacks whose lowercase or regex case fold leaves ASCII
/// (Kelvin sign, long s) or stays outside it (sharp s, sigma). Each rule must fire, and
/// prefiltered evaluation must agree with full evaluation.
#[test]
fn unicode_case_folding_is_prefiltered_soundly() {
    let sources = vec![
        web_rule(
            "Sharp S",
            "  selection:\n    c-useragent|contains: 'straße'\n  condition: selection",
        ),
        web_rule(
            "Kelvin Wildcard",
            "  selection:\n    c-useragent: 'kit*'\n  condition: selection",
        ),
        web_rule(
            "Long S Regex",
            "  selection:\n    cs-uri-query|re: '(?i)/passwd'\n  condition: selection",
        ),
        web_rule(
            "Sigma Keyword",
            "  keywords:\n    - 'σας'\n  condition: keywords",
        ),
        web_rule(
            "Sigma Extension",
            "  selection:\n    c-uri-extension: 'σ'\n  condition: selection",
        ),
    ];
    let (rs, report) = RuleSet::from_sources(&sources);
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    let ev = |path: &str, ua: &str, raw: &str| ApiEvent {
        ts: Timestamp::from_secs(1_728_568_536),
        method: "GET".into(),
        path: path.to_string().into(),
        protocol: "HTTP/1.1".into(),
        status: 200,
        user_agent: ua.to_string().into(),
        raw: raw.to_string().into(),
        ..Default::default()
    };
    let events = [
        ev("/", "STRA\u{1E9E}E/2.0", ""),
        ev("/", "\u{212A}IT/1.0", ""),
        ev("/etc/pa\u{17F}\u{17F}wd", "curl", ""),
        ev("/etc/PA\u{17F}SWD", "curl", ""),
        ev("/", "curl", "GET / ΣΑΣ"),
        ev("/file.Σ", "curl", ""),
        ev("/file.x", "curl", "AΣ"),
    ];
    let mut scratch = Scratch::new();
    let mut fired = std::collections::BTreeSet::new();
    for e in &events {
        for decode in [true, false] {
            let [pre, full] = results(&rs, e, decode, &mut scratch);
            assert_eq!(
                pre, full,
                "path={:?} ua={:?} raw={:?}",
                e.path, e.user_agent, e.raw
            );
            for r in &full {
                let v: serde_json::Value = serde_json::from_str(r).expect("json");
                fired.insert(v["rule_title"].as_str().unwrap_or_default().to_string());
            }
        }
    }
    assert_eq!(
        fired.into_iter().collect::<Vec<_>>(),
        [
            "Kelvin Wildcard",
            "Long S Regex",
            "Sharp S",
            "Sigma Extension",
            "Sigma Keyword"
        ]
    );
}

/// Long texts are scanned in two overlapping halves: a needle straddling the cut must still be
/// found. Slides a keyword payload and a URI payload across every offset of long lines.
#[test]
fn needles_straddling_scan_chunk_boundaries_are_found() {
    let (rs, _) = load_dir(&corpus_dir()).expect("rule corpus loads");
    let mut scratch = Scratch::new();
    for k in 0..600 {
        let pad = "a".repeat(k);
        let tail = "b".repeat(600 - k);
        let path = format!("/{pad}/.git/config/{tail}");
        let query = "id=1 UNION SELECT password FROM users".to_string();
        let raw = format!(
            "203.0.113.7 - - [10/Oct/2024:13:55:36 +0000] \"GET {path}?{query} HTTP/1.1\" 200 512 \"-\" \"curl/8.0\""
        );
        let ev = ApiEvent {
            ts: Timestamp::from_secs(1_728_568_536),
            method: "GET".into(),
            path: path.into(),
            query: query.into(),
            protocol: "HTTP/1.1".into(),
            status: 200,
            user_agent: "curl/8.0".into(),
            raw: raw.into(),
            ..Default::default()
        };
        let [pre, full] = results(&rs, &ev, true, &mut scratch);
        assert_eq!(pre, full, "offset {k}");
        for want in ["SQL Injection Strings In URI", "Source Code Enumeration"] {
            assert!(
                full.iter().any(|r| r.contains(want)),
                "offset {k}: {want} did not fire: {full:?}"
            );
        }
    }
}
