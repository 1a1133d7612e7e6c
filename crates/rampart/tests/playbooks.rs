//! Playbook runs survive a crash of the real binary: `rampart automation apply` stores a
//! playbook whose first step is a webhook to a real local receiver, then an approval gate,
//! then another webhook; a run waits at the gate, the server is killed with SIGKILL
//! (`kill -9`), restarted on the same data directory, the run is approved, and it finishes
//! with the first webhook received exactly once. An invalid playbook document is refused
//! naming the field and line.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{rampart, served_addr};
use serde_json::{json, Value};

/// Kills the child when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the receiver got: (path, X-Rampart-Delivery) per request.
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A receiver answering 200 to every POST, recording (path, X-Rampart-Delivery).
fn receiver() -> (String, Received) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let got: Received = Arc::default();
    let seen = got.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(c) = conn else { continue };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(c.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                    let (mut len, mut delivery) = (0usize, String::new());
                    loop {
                        let mut h = String::new();
                        r.read_line(&mut h).unwrap();
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        let (k, v) = h.split_once(':').unwrap_or((h, ""));
                        match k.to_ascii_lowercase().as_str() {
                            "content-length" => len = v.trim().parse().unwrap_or(0),
                            "x-rampart-delivery" => delivery = v.trim().to_string(),
                            _ => {}
                        }
                    }
                    let mut body = vec![0; len];
                    r.read_exact(&mut body).unwrap();
                    seen.lock().unwrap().push((path, delivery));
                    let mut w = &c;
                    if w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (base, got)
}

fn start(data: &std::path::Path) -> (Guard, String) {
    let mut child = rampart()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let addr = served_addr(&mut child);
    (Guard(child), format!("http://{addr}"))
}

fn cli(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    rampart()
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .expect("run rampart")
}

async fn get_run(c: &reqwest::Client, base: &str, token: &str, id: i64) -> Value {
    c.get(format!("{base}/api/v1/playbook-runs/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Poll the run until `done` holds (bounded: 20 s).
async fn wait_run(
    c: &reqwest::Client,
    base: &str,
    token: &str,
    id: i64,
    done: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..200 {
        let v = get_run(c, base, token, id).await;
        if done(&v) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "run {id} did not get there: {:#}",
        get_run(c, base, token, id).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_while_waiting_resumes_after_restart_without_repeating_a_step() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = cli(
        &data,
        &["token", "create", "--name", "admin", "--role", "admin"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let (base_hook, got) = receiver();

    // An invalid document is refused, naming the field and line; nothing is stored.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "playbooks:\n  - name: p\n    subject: entity\n    steps:\n      - id: a\n        webhook:\n          url: \"{{ steps.later.url }}\"\n      - id: later\n        comment: x\n",
    )
    .unwrap();
    let out = rampart()
        .args(["automation", "apply", "--data"])
        .arg(&data)
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("playbooks[0].steps[0].webhook.url (line 7): `steps.later` is not a step before this one"),
        "{err}"
    );

    let doc = dir.path().join("playbooks.yaml");
    std::fs::write(
        &doc,
        format!(
            "playbooks:\n  - name: gated-notify\n    subject: entity\n    steps:\n      - id: first\n        webhook: {{url: \"{base_hook}/first\", body: {{value: \"{{{{ entity.value }}}}\"}}}}\n      - id: gate\n        approval: {{prompt: \"go on?\"}}\n      - id: second\n        webhook: {{url: \"{base_hook}/second\"}}\n"
        ),
    )
    .unwrap();
    let out = rampart()
        .args(["automation", "apply", "--builtin", "--data"])
        .arg(&data)
        .arg(&doc)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "rules: 0 created, 0 updated, 0 unchanged, 0 deleted\nplaybooks: 4 created, 0 updated, 0 unchanged, 0 deleted"
    );
    let out = cli(&data, &["automation", "list"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    for name in [
        "bola-scraping",
        "credential-stuffing",
        "gated-notify",
        "leaked-api-key",
    ] {
        assert!(listed.contains(name), "{listed}");
    }

    let c = reqwest::Client::new();
    let (mut server, base) = start(&data);
    let r = c
        .post(format!("{base}/api/v1/playbook-runs"))
        .bearer_auth(&token)
        .json(
            &json!({"playbook": "gated-notify", "entity": {"kind": "ip", "value": "203.0.113.50"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let v = wait_run(&c, &base, &token, id, |v| v["status"] == "waiting").await;
    assert_eq!(v["waiting_for"]["step"], "1");
    assert_eq!(
        got.lock().unwrap().clone(),
        [("/first".to_string(), format!("{id}-0"))]
    );

    // kill -9, then the same data directory again.
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    drop(server);
    let (_server, base) = start(&data);
    let v = get_run(&c, &base, &token, id).await;
    assert_eq!(v["status"], "waiting", "{v:#}");
    let r = c
        .post(format!("{base}/api/v1/playbook-runs/{id}/approve"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v = wait_run(&c, &base, &token, id, |v| {
        matches!(v["status"].as_str(), Some("succeeded" | "failed"))
    })
    .await;
    assert_eq!(v["status"], "succeeded", "{v:#}");
    assert_eq!(
        got.lock().unwrap().clone(),
        [
            ("/first".to_string(), format!("{id}-0")),
            ("/second".to_string(), format!("{id}-2"))
        ],
        "the first webhook was received exactly once"
    );
    let attempts: Vec<(String, i64)> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["key"].as_str().unwrap().to_string(),
                s["attempt"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [
            ("0".to_string(), 1),
            ("1".to_string(), 1),
            ("2".to_string(), 1)
        ]
    );
}
