//! Data-driven cases for the parameter-profile detectors (`unseen_param`,
//! `anomalous_param_type`, `anomalous_param_value`): learn benign calls on three endpoints (a
//! query search, a JSON write, a form write), then check which detector fires on each request.

use rampart_model::{AlertDraft, ApiEvent, Severity};

use super::tests::{authed, body, ev, fired};
use crate::baseline::ParamLoc;
use crate::config::DetectConfig;
use crate::state::hash_bytes;
use crate::{Detector, Engine, EventCtx};

const STEP_MS: i64 = 10_000;
const WORDS: &[&str] = &["shoes", "laptop", "usb-c+cable", "desk+lamp", "tent"];
const NAMES: &[&str] = &["Alice Smith", "Bob Jones", "Chen Li", "Dana Ray"];
const CITIES: &[&str] = &["Paris", "Lyon", "Nice", "Lille"];
const SUBJECTS: &[&str] = &["hello", "great+service", "slow+delivery", "thanks"];

fn who(i: i64) -> (String, String) {
    (format!("10.0.0.{}", i % 10 + 1), format!("user{}", i % 10))
}

fn search(t: i64, i: i64, query: &str) -> ApiEvent<'static> {
    let (ip, u) = who(i);
    authed(ev(t, &ip, "GET", &format!("/api/search?{query}"), 200), &u)
}

fn user_json(t: i64, i: i64, json: &str) -> ApiEvent<'static> {
    let (ip, u) = who(i);
    let mut e = body(authed(ev(t, &ip, "POST", "/api/users", 201), &u), json);
    e.request_headers = vec![("content-type".into(), "application/json".into())];
    e
}

fn feedback(t: i64, i: i64, form: &str) -> ApiEvent<'static> {
    let (ip, u) = who(i);
    // No content type: the body is sniffed as a form.
    body(authed(ev(t, &ip, "POST", "/api/feedback", 201), &u), form)
}

fn benign_query(i: i64) -> String {
    format!(
        "q={}&page={}&sku=SKU-{}",
        WORDS[i as usize % WORDS.len()],
        i % 9 + 1,
        100 + i % 900
    )
}

fn benign_json(i: i64) -> String {
    format!(
        r#"{{"name":"{}","email":"u{}@example.com","address":{{"city":"{}","zip":"{}"}},"tags":["a","b"]}}"#,
        NAMES[i as usize % NAMES.len()],
        i % 50,
        CITIES[i as usize % CITIES.len()],
        75_001 + i % 20
    )
}

fn benign_form(i: i64) -> String {
    format!(
        "subject={}&rating={}",
        SUBJECTS[i as usize % SUBJECTS.len()],
        i % 5 + 1
    )
}

/// `n` benign calls to each of the three endpoints, one every 10 s, the `j`-th call to an
/// endpoint with variation `j`.
fn learning(n: i64) -> Vec<ApiEvent<'static>> {
    (0..3 * n)
        .map(|i| {
            let (t, j) = (i * STEP_MS, i / 3);
            match i % 3 {
                0 => search(t, j, &benign_query(j)),
                1 => user_json(t, j, &benign_json(j)),
                _ => feedback(t, j, &benign_form(j)),
            }
        })
        .collect()
}

/// Run `learn` then `attack` through the built-in detectors plus `extra`; the alerts raised
/// by `attack`.
fn run_with(
    c: &DetectConfig,
    learn: &[ApiEvent<'static>],
    attack: &[ApiEvent<'static>],
    extra: Option<Box<dyn Detector>>,
) -> (Engine, Vec<AlertDraft>) {
    let mut engine = Engine::builtin(c);
    if let Some(d) = extra {
        engine.push(d);
    }
    let mut out = Vec::new();
    for e in learn {
        engine.observe(e, &mut out);
    }
    let before = out.len();
    for e in attack {
        engine.observe(e, &mut out);
    }
    out.drain(..before);
    (engine, out)
}

fn after(learn: &[ApiEvent<'static>], k: i64) -> i64 {
    learn.last().map_or(0, |e| e.ts.millis()) + 60_000 + k * 1_000
}

/// Every case: after 1,000 benign calls per endpoint (the default `param_min_samples`), the
/// endpoint's baseline itself still learning (10,000 calls or 30 days).
#[test]
fn parameter_profile_cases() {
    let learn = learning(1_000);
    let t = after(&learn, 0);
    let long_city = "Nice".repeat(30);
    let cases: Vec<(&str, ApiEvent<'static>, &[&str])> = vec![
        // Benign variation: known names, values within the learned lengths and classes.
        (
            "benign query",
            search(t, 3, "q=headphones&page=4&sku=SKU-777"),
            &[],
        ),
        (
            "benign query, 40 letters (under 2x the longest learned + 32)",
            search(t, 3, &format!("q={}&page=1", "shoes".repeat(8))),
            &[],
        ),
        (
            "benign json",
            user_json(
                t,
                3,
                r#"{"name":"Eve Park","email":"eve@example.org","address":{"city":"Rouen","zip":"76000"},"tags":["b"]}"#,
            ),
            &[],
        ),
        (
            "benign json with a null and keys reordered",
            user_json(
                t,
                3,
                r#"{"address":{"zip":"75002","city":null},"name":"Bob Jones","email":"b@x.io"}"#,
            ),
            &[],
        ),
        (
            "benign form",
            feedback(t, 3, "rating=5&subject=great+service"),
            &[],
        ),
        // Unseen names, in every location.
        (
            "new query parameter",
            search(t, 3, "q=tent&page=2&debug=true"),
            &["unseen_param"],
        ),
        (
            "new nested JSON key",
            user_json(
                t,
                3,
                r#"{"name":"Chen Li","address":{"city":"Nice","zip":"75003","role":"admin"}}"#,
            ),
            &["unseen_param"],
        ),
        (
            "new top-level JSON key (mass_assignment is not watching yet)",
            user_json(t, 3, r#"{"name":"Chen Li","is_admin":true}"#),
            &["unseen_param"],
        ),
        (
            "new form field",
            feedback(t, 3, "subject=hello&rating=3&is_admin=1"),
            &["unseen_param"],
        ),
        // Values far too long, or with characters never learned.
        (
            "query value too long",
            search(t, 3, &format!("q={}", "x".repeat(200))),
            &["anomalous_param_value"],
        ),
        (
            "JSON value too long",
            user_json(
                t,
                3,
                &format!(r#"{{"name":"Chen Li","address":{{"city":"{long_city}"}}}}"#),
            ),
            &["anomalous_param_value"],
        ),
        (
            "quote in a string parameter",
            search(t, 3, "q=tent&sku=SKU-200%27"),
            &["anomalous_param_value"],
        ),
        (
            "script tag in a JSON string",
            user_json(
                t,
                3,
                r#"{"name":"Chen Li","address":{"city":"<script>alert(1)</script>"}}"#,
            ),
            &["anomalous_param_value"],
        ),
        (
            "command in a form field",
            feedback(t, 3, "subject=hello%3Bcat+%2Fetc%2Fpasswd&rating=2"),
            &["anomalous_param_value"],
        ),
        // Types never learned: `anomalous_param_type`'s alone, even with new characters.
        (
            "quote in a numeric parameter",
            search(t, 3, "q=tent&page=2%27"),
            &["anomalous_param_type"],
        ),
        (
            "word in a numeric parameter",
            search(t, 3, "q=tent&page=abc"),
            &["anomalous_param_type"],
        ),
        (
            "letters in a numeric JSON string",
            user_json(t, 3, r#"{"name":"Chen Li","address":{"zip":"7500A"}}"#),
            &["anomalous_param_type"],
        ),
        (
            "word in a numeric form field",
            feedback(t, 3, "subject=hello&rating=four"),
            &["anomalous_param_type"],
        ),
    ];
    let c = DetectConfig::default();
    let (engine, silent) = run_with(&c, &learn, &[], None);
    assert_eq!(fired(&silent), Vec::<String>::new());
    let b = engine.baselines().expect("baselines");
    let cx = EventCtx::new(&learn[0]);
    let base = b.get(cx.endpoint).expect("search endpoint");
    assert!(
        base.params_learned && !base.learned,
        "parameters learned on their own clock"
    );
    let mut failures = Vec::new();
    for (name, attack, want) in cases {
        let (_, got) = run_with(&c, &learn, std::slice::from_ref(&attack), None);
        if fired(&got) != want {
            failures.push(format!("{name}: fired {:?}, want {want:?}", fired(&got)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn alerts_name_the_location_parameter_and_value() {
    let learn = learning(1_000);
    let t = after(&learn, 0);
    let c = DetectConfig::default();
    let one = |e: ApiEvent<'static>| {
        let (_, a) = run_with(&c, &learn, &[e], None);
        assert_eq!(a.len(), 1, "{:?}", fired(&a));
        a.into_iter().next().expect("one alert")
    };

    let a = one(user_json(t, 3, r#"{"name":"Chen Li","is_admin":true}"#));
    assert_eq!(a.title, "Unknown JSON key 'is_admin' on POST /api/users");
    assert_eq!(a.severity, Severity::Medium, "a sensitive property name");
    assert_eq!(a.owasp.as_deref(), Some("API3:2023"));
    let a = one(search(t, 3, "q=tent&debug=true"));
    assert_eq!(
        a.title,
        "Unknown query parameter 'debug' on GET /api/search"
    );
    assert_eq!(a.severity, Severity::Low);
    assert!(a.description.contains("1000 calls"), "{}", a.description);

    let a = one(search(t, 3, "q=tent&sku=SKU-200%27"));
    assert_eq!(a.detector, "anomalous_param_value");
    assert_eq!(
        a.title,
        "Unusual characters in query parameter 'sku' on GET /api/search"
    );
    assert_eq!(a.severity, Severity::Medium);
    assert!(
        a.description.contains(r#"{"sku":"SKU-200%27"}"#) && a.description.contains("quotes"),
        "{}",
        a.description
    );
    assert_eq!(a.reasons[0].metric, "new_char_classes[query:sku]");
    assert_eq!(
        (a.mitre.as_slice(), a.owasp.as_deref()),
        (&["T1190".to_string()][..], Some("API8:2023"))
    );

    let a = one(search(t, 3, &format!("q={}", "x".repeat(500))));
    assert_eq!(
        a.title,
        "Overlong value for query parameter 'q' on GET /api/search"
    );
    assert_eq!(a.severity, Severity::Low);
    let quoted = format!(r#"{{"q":"{}..."}}"#, "x".repeat(200));
    assert!(a.description.contains(&quoted), "cut to 200 characters");
    assert_eq!(a.reasons[0].metric, "value_bytes[query:q]");
    assert_eq!(
        (a.reasons[0].observed, a.reasons[0].threshold),
        (500.0, Some(43.0))
    );

    let a = one(feedback(t, 3, "subject=hello&rating=four"));
    assert_eq!(
        a.title,
        "Unexpected string value for form field 'rating' on POST /api/feedback"
    );
}

#[test]
fn one_alert_per_ip_endpoint_and_parameter_in_the_cooldown() {
    let learn = learning(1_000);
    let q = |k: i64, query: &str| search(after(&learn, k), 3, query);
    let attack = vec![
        q(0, "q=tent&sku=SKU-1%27"),
        q(1, "q=tent&sku=SKU-2%27"),
        q(2, "q=tent%3C&sku=SKU-3"),
        q(3, "q=tent%3E&sku=SKU-4%22"),
    ];
    let (_, a) = run_with(&DetectConfig::default(), &learn, &attack, None);
    let names: Vec<_> = a.iter().map(|a| a.reasons[0].metric.as_str()).collect();
    assert_eq!(
        names,
        ["new_char_classes[query:sku]", "new_char_classes[query:q]"]
    );
}

/// Parameter profiles are usable after `param_min_samples` calls (not before), or at the end
/// of the learning period with fewer calls (not before).
#[test]
fn profiles_are_learned_after_param_min_samples_or_the_learning_period() {
    let c = DetectConfig::default();
    let calls = |n: i64, step: i64| -> Vec<ApiEvent<'static>> {
        (0..n)
            .map(|j| search(j * step, j, &benign_query(j)))
            .collect()
    };
    let probe = |learn: &[ApiEvent<'static>], c: &DetectConfig| {
        let attack = search(after(learn, 0), 3, "q=tent&debug=1");
        fired(&run_with(c, learn, &[attack], None).1)
    };
    // The probe is call 1,000: the profile learned from 999 calls is not usable yet.
    assert_eq!(probe(&calls(999, STEP_MS), &c), Vec::<String>::new());
    // The probe is call 1,001.
    assert_eq!(probe(&calls(1_000, STEP_MS), &c), ["unseen_param"]);
    // A smaller threshold.
    let mut small = c.clone();
    small.baseline.param_min_samples = 200;
    assert_eq!(probe(&calls(200, STEP_MS), &small), ["unseen_param"]);
    assert_eq!(probe(&calls(199, STEP_MS), &small), Vec::<String>::new());
    // 150 calls over two days with a one-day learning period: learned at its end.
    let mut period = c.clone();
    period.baseline.learning_ms = 86_400_000;
    let slow = calls(150, 20 * 60_000);
    assert_eq!(probe(&slow, &period), ["unseen_param"]);
    // The same 150 calls within 12 hours: still learning.
    assert_eq!(probe(&calls(150, 288_000), &period), Vec::<String>::new());
}

/// Flags every event whose query holds `flagme`.
struct FlagMarker;

impl Detector for FlagMarker {
    fn id(&self) -> &'static str {
        "flag_marker"
    }
    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        if cx.ev.query.contains("flagme") {
            out.push(
                crate::common::alert(
                    "flag_marker",
                    "flagged",
                    Severity::High,
                    rampart_model::AttackStage::Exploitation,
                    cx.ev.ts,
                )
                .build(),
            );
        }
    }
}

/// An attacker probing during learning does not teach the profile when another detector
/// flags the probes.
#[test]
fn flagged_requests_do_not_teach_parameter_profiles() {
    let mut learn: Vec<_> = (0..1_050)
        .map(|j| {
            let mut q = benign_query(j);
            if j % 21 == 0 {
                q.push_str("&debug=1&flagme=1");
            }
            search(j * STEP_MS, j, &q)
        })
        .collect();
    let t = after(&learn, 0);
    learn.truncate(1_050);
    let attack = [search(t, 3, "q=tent&debug=1")];
    let c = DetectConfig::default();
    let (engine, a) = run_with(&c, &learn, &attack, Some(Box::new(FlagMarker)));
    assert_eq!(fired(&a), ["unseen_param"], "debug was never learned");
    let cx = EventCtx::new(&learn[0]);
    let b = engine
        .baselines()
        .and_then(|b| b.get(cx.endpoint))
        .expect("learned");
    assert_eq!(b.param_samples, 1_000, "the 50 flagged calls did not count");
    assert!(b.param_at(ParamLoc::Query, hash_bytes(b"debug")).is_none());
    assert!(b.param_at(ParamLoc::Query, hash_bytes(b"flagme")).is_none());
    // Without the flagging detector the same probes are learned.
    let (_, a) = run_with(&c, &learn, &attack, None);
    assert_eq!(fired(&a), Vec::<String>::new());
}

/// Once the endpoint's baseline is learned, `mass_assignment` owns the top-level properties
/// of write bodies (and what lies under an unknown one); `unseen_param` keeps nested keys
/// under known properties.
#[test]
fn unseen_param_leaves_top_level_write_properties_to_mass_assignment() {
    let mut c = DetectConfig::default();
    c.baseline.min_samples = 1_000;
    let learn = learning(1_000);
    let t = after(&learn, 0);
    for (body, want) in [
        (
            r#"{"name":"Chen Li","is_admin":true}"#,
            &["mass_assignment"][..],
        ),
        (
            r#"{"name":"Chen Li","profile":{"role":"admin"}}"#,
            &["mass_assignment"],
        ),
        (
            r#"{"name":"Chen Li","address":{"city":"Nice","role":"admin"}}"#,
            &["unseen_param"],
        ),
    ] {
        let (_, a) = run_with(&c, &learn, &[user_json(t, 3, body)], None);
        assert_eq!(fired(&a), want, "{body}");
    }
    let (_, a) = run_with(&c, &learn, &[feedback(t, 3, "subject=hi&is_admin=1")], None);
    assert_eq!(fired(&a), ["mass_assignment"]);
}

/// Secrets are neither judged nor quoted; locations can be turned off.
#[test]
fn secret_names_and_disabled_locations_stay_quiet() {
    let learn: Vec<_> = (0..1_000)
        .map(|j| feedback(j * STEP_MS, j, &format!("user=u{}&password=abc{j}", j % 10)))
        .collect();
    let t = after(&learn, 0);
    let c = DetectConfig::default();
    let attack = [feedback(t, 3, "user=u1&password=%27%3B--x")];
    assert_eq!(
        fired(&run_with(&c, &learn, &attack, None).1),
        Vec::<String>::new()
    );
    let attack = [feedback(t, 3, "user=u1%27%3B--&password=abc")];
    assert_eq!(
        fired(&run_with(&c, &learn, &attack, None).1),
        ["anomalous_param_value"]
    );
    let mut off = c.clone();
    off.detectors.update(
        "anomalous_param_value",
        |v: &mut super::params::ParamValueConfig| v.locations = vec![ParamLoc::Query],
    );
    assert_eq!(
        fired(&run_with(&off, &learn, &attack, None).1),
        Vec::<String>::new()
    );
}

/// An endpoint that never had parameters still learns that it has none.
#[test]
fn a_parameter_on_an_endpoint_that_never_had_one_is_unseen() {
    let item = |t: i64, j: i64, target: &str| {
        let (ip, u) = who(j);
        authed(ev(t, &ip, "GET", target, 200), &u)
    };
    let learn: Vec<_> = (0..1_000)
        .map(|j| item(j * STEP_MS, j, &format!("/api/items/{}", j % 20 + 1)))
        .collect();
    let t = after(&learn, 0);
    let c = DetectConfig::default();
    let (_, a) = run_with(&c, &learn, &[item(t, 3, "/api/items/4?admin=1")], None);
    assert_eq!(fired(&a), ["unseen_param"]);
    let (_, a) = run_with(&c, &learn, &[item(t, 3, "/api/items/4")], None);
    assert_eq!(fired(&a), Vec::<String>::new());
}
