//! The playbook grammar and the pure engine: documents refused with the field and line,
//! templates, and runs driven step by step from their persisted state (a completed step is
//! never handed out again; a resumed run continues where it stopped).

use std::collections::BTreeMap;

use rampart_automation::playbook::{self, Context, Exec, Next, Playbook, StepState, BUILTIN};
use rampart_model::{Entity, EntityKind, EntityRole, Timestamp};
use serde_json::{json, Value};

const NOW: Timestamp = Timestamp(1_700_000_000_000);

fn pb(yaml: &str) -> Playbook {
    rampart_automation::parse_playbook(yaml).unwrap_or_else(|e| panic!("{e}"))
}

fn refused(yaml: &str) -> String {
    rampart_automation::parse_playbook(yaml)
        .map(|p| format!("accepted: {}", p.name))
        .unwrap_or_else(|e| e.to_string())
}

fn cx() -> Context {
    Context {
        run_id: 7,
        incident: Some(
            json!({"id": 42, "title": "Credential stuffing", "severity": "high", "status": "New"}),
        ),
        alert: None,
        entity: None,
        entities: vec![
            Entity::new(EntityKind::Ip, "203.0.113.9", EntityRole::Attacker),
            Entity::new(EntityKind::Ip, "198.51.100.7", EntityRole::Attacker),
            Entity::new(EntityKind::Ip, "192.0.2.1", EntityRole::Target),
            Entity::new(EntityKind::User, "alice", EntityRole::Target),
        ],
    }
}

/// Drive a run to its end (or first wait / approval / failure), answering each executed step
/// with `answer`; returns the trace as `key action` lines.
fn drive(
    p: &Playbook,
    state: &mut BTreeMap<String, StepState>,
    answer: impl Fn(&Exec) -> Value,
) -> Vec<String> {
    let mut trace = Vec::new();
    for _ in 0..100 {
        match playbook::next(p, &cx(), state, NOW) {
            Next::Execute { key, exec, .. } => {
                let v = serde_json::to_value(&exec).unwrap();
                trace.push(format!("{key} {}", compact(&v)));
                state.insert(key, StepState::Completed(answer(&exec)));
            }
            Next::Record { key, output, .. } => {
                trace.push(format!("{key} = {}", compact(&output)));
                state.insert(key, StepState::Completed(output));
            }
            Next::WaitUntil { key, until, .. } => {
                trace.push(format!("{key} wait until {}", until.millis()));
                return trace;
            }
            Next::AwaitApproval { key, prompt, .. } => {
                trace.push(format!("{key} approval: {prompt}"));
                return trace;
            }
            Next::Done => {
                trace.push("done".into());
                return trace;
            }
            Next::Failed { key, error } => {
                trace.push(format!("{key} failed: {error}"));
                return trace;
            }
        }
    }
    panic!("run did not end: {trace:?}");
}

fn compact(v: &Value) -> String {
    v.to_string()
}

#[test]
fn runs_go_step_by_step_through_loops_branches_and_outputs() {
    let p = pb(r#"
name: t
subject: incident
params: {url: "http://127.0.0.1:9/hook", empty: ""}
steps:
  - id: block
    foreach:
      entities: ip
      role: attacker
      steps:
        - id: b
          contain: {kind: block_ip, target: "{{ item }}", duration: 1h}
  - id: q
    query_events: {ip: "{{ steps.block.items.0 }}", since: 1h, limit: 10}
  - id: many
    if:
      condition: "{{ steps.q.count }} > 2"
      then:
        - id: t1
          add_task: {title: "review {{ steps.q.addresses }}"}
      else:
        - id: e1
          comment: "few"
  - id: quiet
    if:
      condition: "{{ params.empty }}"
      then:
        - id: never
          comment: "never"
  - id: hook
    webhook:
      url: "{{ params.url }}"
      body: {incident: "{{ incident.id }}", blocked: "{{ steps.block.items }}", n: "{{ steps.q.count }} events"}
"#);
    let mut state = BTreeMap::new();
    let trace = drive(&p, &mut state, |e| match e {
        Exec::QueryEvents { .. } => json!({"count": 3, "addresses": ["203.0.113.9", "10.0.0.1"]}),
        _ => json!({}),
    });
    let want = [
        r#"0 = {"count":2,"items":["203.0.113.9","198.51.100.7"],"left_out":0}"#,
        r#"0[0].0 {"action":"contain","duration_secs":3600,"kind":"block_ip","target":"203.0.113.9"}"#,
        r#"0[1].0 {"action":"contain","duration_secs":3600,"kind":"block_ip","target":"198.51.100.7"}"#,
        r#"1 {"action":"query_events","by":"ip","limit":10,"since":"2023-11-14T21:13:20.000Z","value":"203.0.113.9"}"#,
        r#"2 = {"branch":"then"}"#,
        r#"2.then.0 {"action":"add_task","description":"","title":"review 203.0.113.9, 10.0.0.1"}"#,
        r#"3 = {"branch":"else"}"#,
        r#"4 {"action":"webhook","backoff_ms":500,"body":{"blocked":["203.0.113.9","198.51.100.7"],"incident":42,"n":"3 events"},"retries":3,"timeout_secs":10,"url":"http://127.0.0.1:9/hook"}"#,
        "done",
    ];
    assert_eq!(trace, want);
    // The same state again: nothing left, nothing repeated.
    assert_eq!(playbook::next(&p, &cx(), &state, NOW), Next::Done);
}

#[test]
fn a_resumed_run_never_repeats_a_completed_step() {
    let p = pb(r#"
name: t
subject: incident
steps:
  - id: first
    comment: "one"
  - id: gate
    approval: {prompt: "block {{ incident.title }}?"}
  - id: pause
    wait: {duration: 30s}
  - id: last
    comment: "two"
"#);
    let mut state = BTreeMap::new();
    let trace = drive(&p, &mut state, |_| json!({"ok": true}));
    assert_eq!(
        trace,
        [
            r#"0 {"action":"comment","text":"one"}"#,
            "1 approval: block Credential stuffing?"
        ]
    );
    // The gate is recorded started; asking again (a restart) still waits, not first.
    state.insert(
        "1".into(),
        StepState::Started(json!({"prompt": "block Credential stuffing?"})),
    );
    assert!(matches!(
        playbook::next(&p, &cx(), &state, NOW),
        Next::AwaitApproval { first: false, .. }
    ));
    // Approved: the wait starts now, ends 30 s later.
    state.insert(
        "1".into(),
        StepState::Completed(json!({"approved_by": "bob"})),
    );
    assert_eq!(
        playbook::next(&p, &cx(), &state, NOW),
        Next::WaitUntil {
            key: "2".into(),
            id: "pause".into(),
            until: Timestamp(NOW.millis() + 30_000),
            first: true
        }
    );
    state.insert(
        "2".into(),
        StepState::Started(json!({"until": NOW.millis() + 30_000})),
    );
    assert!(matches!(
        playbook::next(&p, &cx(), &state, Timestamp(NOW.millis() + 29_999)),
        Next::WaitUntil { first: false, .. }
    ));
    assert!(matches!(
        playbook::next(&p, &cx(), &state, Timestamp(NOW.millis() + 30_000)),
        Next::Record { ref key, .. } if key == "2"
    ));
    state.insert("2".into(), StepState::Completed(json!({})));
    // A step left started (a crash during its side effect) is handed out again; the
    // completed first step is not.
    state.insert("3".into(), StepState::Started(json!({})));
    let trace = drive(&p, &mut state, |_| json!({}));
    assert_eq!(trace, [r#"3 {"action":"comment","text":"two"}"#, "done"]);
}

#[test]
fn templates_that_fail_at_run_time_fail_the_step() {
    let p = pb(r#"
name: t
subject: incident
steps:
  - id: r
    revert: {action: "{{ incident.title }}"}
"#);
    let mut state = BTreeMap::new();
    assert_eq!(
        drive(&p, &mut state, |_| json!({})),
        ["0 failed: revert.action: `Credential stuffing` is not an action id"]
    );
}

#[test]
fn invalid_playbooks_are_refused_naming_the_field_and_line() {
    let cases: &[(&str, &str)] = &[
        (
            "name: t\nsubject: incident\nsteps:\n  - id: a\n    comment: \"{{ steps.b.x }}\"\n  - id: b\n    comment: x\n",
            "steps[0].comment (line 5): `steps.b` is not a step before this one",
        ),
        (
            "name: t\nsubject: incident\nsteps:\n  - id: a\n    comment: \"{{ entity.value }}\"\n",
            "steps[0].comment (line 5): unknown reference `entity.value` on a playbook of subject incident (run.id, incident.id|title|severity|status, alert.id|title|detector, entity.kind|value, item, params.<name>, steps.<id>.<field>)",
        ),
        (
            "name: t\nsubject: incident\nsteps:\n  - id: a\n    comment: x\n    tag: y\n",
            "steps[0] (line 4): step `a`: a step is exactly one of contain, revert, assign, tag, comment, add_task, lookup_inventory, lookup_intel, query_events, webhook, wait, approval, if, foreach",
        ),
        (
            "name: t\nsubject: incident\nsteps:\n  - id: a\n    webhook:\n      url: http://x\n      timout_secs: 3\n",
            "steps[0].webhook.timout_secs (line 7): unknown field `timout_secs`, expected one of `url`, `secret_env`, `body`, `timeout_secs`, `retries`, `backoff_ms`",
        ),
        (
            "name: t\nsubject: incident\nsteps:\n  - id: a\n    webhook: {url: \"ftp://x\"}\n",
            "steps[0].webhook.url (line 5): `ftp://x` is not an http:// or https:// URL",
        ),
        (
            "name: t\nsubject: incident\nsteps:\n  - id: a\n    foreach:\n      entities: ip\n      steps:\n        - id: b\n          comment: \"{{ item }}\"\n  - id: c\n    comment: \"{{ item }}\"\n",
            "steps[1].comment (line 11): `{{ item }}` is only known inside a foreach",
        ),
        (
            "name: t\nsubject: incident\nsteps:\n  - id: a\n    wait: {duration: soon}\n",
            "steps[0].wait.duration (line 5): invalid request: invalid duration \"soon\": expected e.g. 30s, 15m, 4h, 7d or 1h30m",
        ),
        (
            "name: t\nsubject: planet\nsteps: []\n",
            "subject (line 2): unknown variant `planet`, expected one of `incident`, `alert`, `entity`",
        ),
        (
            "name: t\nsubject: incident\nsteps:\n  - id: a\n    comment: x\n  - id: a\n    comment: y\n",
            "steps[1].id (line 6): two steps are named `a`",
        ),
        (
            "name: t\nsubject: incident\nsteps:\n  - id: a\n    if:\n      condition: \"{{ params.nope }}\"\n      then:\n        - id: b\n          comment: x\n",
            "steps[0].if.condition (line 6): unknown parameter `params.nope`",
        ),
    ];
    let mut got = Vec::new();
    for (doc, _) in cases {
        got.push(refused(doc));
    }
    let want: Vec<String> = cases.iter().map(|(_, w)| w.to_string()).collect();
    assert_eq!(got, want);
}

#[test]
fn documents_carry_playbooks_next_to_rules() {
    let doc = rampart_automation::parse_document(
        "rules: []\nplaybooks:\n  - name: p\n    subject: alert\n    steps:\n      - id: c\n        comment: \"{{ alert.title }}\"\n",
    )
    .unwrap();
    assert_eq!(doc.playbooks.len(), 1);
    let e = rampart_automation::parse_document(
        "playbooks:\n  - name: p\n    subject: alert\n    steps:\n      - id: c\n        comment: x\n  - name: p\n    subject: alert\n    steps:\n      - id: c\n        comment: x\n",
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "playbooks: two playbooks are named `p`");
    let e = rampart_automation::parse_document(
        "playbooks:\n  - name: p\n    subject: alert\n    steps:\n      - id: c\n        comment: \"{{ incident.nope }}\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("playbooks[0].steps[0].comment (line 6): unknown reference `incident.nope`"),
        "{e}"
    );
}

#[test]
fn stored_form_reads_back_the_same() {
    for (name, text) in BUILTIN {
        let p = pb(text);
        assert_eq!(&p.name, name);
        let json = serde_json::to_value(&p).unwrap();
        let back: Playbook = serde_json::from_value(json).unwrap();
        assert_eq!(back, p, "{name}");
    }
}

#[test]
fn shipped_playbooks_run_end_to_end() {
    let answer = |e: &Exec| match e {
        Exec::QueryEvents { .. } => json!({
            "count": 2, "addresses": ["203.0.113.9", "198.51.100.1"],
            "objects_read": ["/api/orders/1", "/api/orders/2"], "objects_read_count": 2
        }),
        _ => json!({}),
    };
    let mut got = BTreeMap::new();
    for (name, text) in BUILTIN {
        let p = pb(text);
        let mut state = BTreeMap::new();
        let trace = drive(&p, &mut state, answer);
        got.insert(*name, trace);
    }
    let cs = &got["credential-stuffing"];
    assert_eq!(
        cs.iter()
            .filter(|l| l.contains(r#""action":"contain""#))
            .count(),
        2,
        "both attacker addresses blocked, not the target: {cs:?}"
    );
    assert!(
        cs.iter()
            .any(|l| l.contains("Force a password reset for alice")),
        "{cs:?}"
    );
    assert!(
        cs.iter().any(|l| l == r#"3 = {"branch":"else"}"#),
        "notify skipped without a url: {cs:?}"
    );
    assert_eq!(cs.last().unwrap(), "done");
    // No api_key entity: the key loop is empty, the leak task still opens.
    let lk = &got["leaked-api-key"];
    assert!(
        lk.iter()
            .any(|l| l.contains("Find where the API key leaked")),
        "{lk:?}"
    );
    let bola = &got["bola-scraping"];
    assert!(
        bola.iter()
            .any(|l| l.contains("Review the 2 objects 203.0.113.9 read")),
        "{bola:?}"
    );
    assert!(
        bola.iter()
            .any(|l| l.contains("/api/orders/1, /api/orders/2")),
        "{bola:?}"
    );
    assert_eq!(bola.last().unwrap(), "done");
}

#[test]
fn backoff_doubles_and_is_capped() {
    let got: Vec<u64> = (1..=5)
        .map(|a| playbook::backoff_delay_ms(100, a))
        .collect();
    assert_eq!(got, [100, 200, 400, 800, 1600]);
    assert_eq!(playbook::backoff_delay_ms(50_000, 3), 60_000);
}
