//! End to end through real gateways: a small backend behind a real nginx whose `auth_request`
//! asks Rampart (the shipped `deploy/nginx/rampart.conf`, as a user copies it), and Debian's
//! `crowdsec-custom-bouncer` pulling Rampart's decisions stream.
//!
//! Needs `nginx` and `crowdsec-custom-bouncer` on the PATH (`.ci/run` installs them). Under CI
//! a missing one fails the test; elsewhere the test says so and returns.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;

use common::{rampart, served_addr};

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// The program's path, or `None` (a failure under CI) when it is not installed.
fn need(program: &str) -> Option<PathBuf> {
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/usr/bin"])
    {
        let p = Path::new(dir).join(program);
        if p.is_file() {
            return Some(p);
        }
    }
    let msg = format!(
        "{program} is not installed (apt-get install nginx crowdsec-custom-bouncer; .ci/run does)"
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    eprintln!("skipping: {msg}");
    None
}

/// Kills the child when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn key(data: &Path, args: &[&str]) -> String {
    let out = rampart()
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .expect("run rampart");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A backend answering every request `200 backend`.
fn backend() -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = c.read(&mut chunk) else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nbackend";
                        if c.write_all(r).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (port, h)
}

fn start_rampart(data: &Path) -> (Guard, String) {
    start_rampart_with(data, &[])
}

fn start_rampart_with(data: &Path, extra: &[&str]) -> (Guard, String) {
    let mut child = rampart()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let addr = served_addr(&mut child);
    (Guard(child), addr)
}

fn start_nginx(
    nginx: &Path,
    dir: &Path,
    rampart: &str,
    backend: u16,
    enforcer_key: &str,
) -> (Guard, u16) {
    start_nginx_logging(nginx, dir, rampart, backend, enforcer_key, None)
}

/// The README's JSON access log format for nginx (the one `nginx_json` decodes).
fn readme_log_format() -> String {
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap();
    readme
        .lines()
        .find(|l| l.starts_with("log_format rampart_json "))
        .expect("the README shows a log_format rampart_json line")
        .to_string()
}

/// nginx as `start_nginx`, writing the README's JSON access log to `access_log` when given.
fn start_nginx_logging(
    nginx: &Path,
    dir: &Path,
    rampart: &str,
    backend: u16,
    enforcer_key: &str,
    access_log: Option<&Path>,
) -> (Guard, u16) {
    let snippet = std::fs::read_to_string(repo_file("deploy/nginx/rampart.conf")).unwrap();
    let port = free_port();
    let conf = snippet
        .replace("server 127.0.0.1:8080;", &format!("server {rampart};"))
        .replace(
            "server 127.0.0.1:3000;",
            &format!("server 127.0.0.1:{backend};"),
        )
        .replace("listen 80;", &format!("listen 127.0.0.1:{port};"))
        .replace("\"CHANGE-ME\"", &format!("\"{enforcer_key}\""));
    assert!(
        !conf.contains("CHANGE-ME") && !conf.contains("listen 80;"),
        "{conf}"
    );
    assert!(conf.contains(&format!("server {rampart};")), "{conf}");
    let d = dir.display();
    let log = match access_log {
        Some(p) => format!(
            "{}\n  access_log {} rampart_json;",
            readme_log_format(),
            p.display()
        ),
        None => "access_log off;".to_string(),
    };
    let main = format!(
        "worker_processes 1;\nerror_log {d}/error.log warn;\npid {d}/nginx.pid;\n\
         events {{ worker_connections 512; }}\n\
         http {{\n  {log}\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         # the test's callers name their address in X-Forwarded-For, as behind a load balancer\n\
         set_real_ip_from 127.0.0.1;\n  real_ip_header X-Forwarded-For;\n{conf}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), main).unwrap();
    let user = if is_root() { "user root;\n" } else { "" };
    let conf_path = dir.join("nginx.conf");
    let text = std::fs::read_to_string(&conf_path).unwrap();
    std::fs::write(&conf_path, format!("{user}{text}")).unwrap();
    let test = Command::new(nginx)
        .args(["-t", "-p"])
        .arg(dir)
        .arg("-c")
        .arg(&conf_path)
        .output()
        .unwrap();
    assert!(
        test.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&test.stderr)
    );
    let child = Command::new(nginx)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf_path)
        // one process, so killing it leaves no worker behind
        .args(["-g", "daemon off; master_process off;"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // nginx cannot signal readiness: wait (bounded) until its port accepts
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not listen on {port}");
        std::thread::sleep(Duration::from_millis(10));
    }
    (Guard(child), port)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

struct Api {
    c: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .c
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }
    async fn get(&self, path: &str) -> Value {
        self.c
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// One request through nginx from `ip`, with `api_key` when given: (status, X-Rampart-Action).
async fn through(
    c: &reqwest::Client,
    port: u16,
    ip: &str,
    api_key: Option<&str>,
) -> (u16, Option<String>) {
    let mut r = c
        .get(format!("http://127.0.0.1:{port}/api/orders/1"))
        .header("X-Forwarded-For", ip);
    if let Some(k) = api_key {
        r = r.header("X-Api-Key", k);
    }
    let r = r.send().await.unwrap();
    let action = r
        .headers()
        .get("x-rampart-action")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (r.status().as_u16(), action)
}

fn bouncer_log_has(path: &Path, want: &str) -> bool {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with(want))
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn nginx_and_a_crowdsec_bouncer_enforce_actions_and_their_revert_and_expiry() {
    let (Some(nginx), Some(bouncer)) = (need("nginx"), need("crowdsec-custom-bouncer")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let admin = key(
        &data,
        &["token", "create", "--name", "admin", "--role", "admin"],
    );
    let enforcer = key(&data, &["enforcer", "create", "--name", "nginx1"]);
    let bouncer_key = key(&data, &["bouncer", "add", "fw1"]);
    assert!(enforcer.starts_with("rmp_") && bouncer_key.starts_with("rmp_"));
    let (mut server, addr) = start_rampart(&data);
    let (backend_port, _backend) = backend();
    let ngx_dir = dir.path().join("nginx");
    std::fs::create_dir_all(&ngx_dir).unwrap();
    let (_nginx, port) = start_nginx(&nginx, &ngx_dir, &addr, backend_port, &enforcer);

    // The bouncer: its "firewall" is a script appending what it is told to a file.
    let calls = dir.path().join("bouncer-calls.txt");
    let script = dir.path().join("bouncer.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$@\" >> {}\n", calls.display()),
    )
    .unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .unwrap();
    let bconf = dir.path().join("bouncer.yaml");
    std::fs::write(
        &bconf,
        format!(
            "bin_path: {}\nfeed_via_stdin: false\ntotal_retries: 0\nscenarios_containing: []\n\
             scenarios_not_containing: []\norigins: []\npiddir: {}\nupdate_frequency: 100ms\n\
             cache_retention_duration: 10s\ndaemonize: false\nlog_mode: stdout\nlog_level: info\n\
             api_url: http://{addr}/\napi_key: {bouncer_key}\nprometheus:\n  enabled: false\n",
            script.display(),
            dir.path().display()
        ),
    )
    .unwrap();
    let _bouncer = Guard(
        Command::new(&bouncer)
            .arg("-c")
            .arg(&bconf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = reqwest::Client::new();
        let api = Api { c: c.clone(), base: format!("http://{addr}"), token: admin.clone() };

        // Traffic flows before any action.
        assert_eq!(through(&c, port, "203.0.113.7", None).await, (200, None));
        assert_eq!(through(&c, port, "198.51.100.1", Some("key-of-eve")).await, (200, None));

        // An action blocks an IP; another disables an API key given raw (hashed on arrival).
        let block = api
            .post("/api/v1/actions", json!({"kind": "block_ip", "target": "203.0.113.7", "duration": "1h", "reason": "credential stuffing"}))
            .await;
        assert_eq!(block["status"], "active", "{block}");
        let b_id = block["id"].as_i64().unwrap();
        // The first request after the action's 201 is already denied: enforcement is not
        // eventually, it is before the API answers.
        assert_eq!(through(&c, port, "203.0.113.7", None).await, (403, Some(b_id.to_string())));
        assert_eq!(through(&c, port, "203.0.113.8", None).await, (200, None), "a neighbour passes");

        let disable = api
            .post("/api/v1/actions", json!({"kind": "disable_api_key", "raw_key": "key-of-eve", "reason": "leaked key"}))
            .await;
        let k_id = disable["id"].as_i64().unwrap();
        assert!(!disable.to_string().contains("key-of-eve"), "the raw key is never answered: {disable}");
        assert_eq!(through(&c, port, "198.51.100.1", Some("key-of-eve")).await, (403, Some(k_id.to_string())));
        assert_eq!(through(&c, port, "198.51.100.1", Some("key-of-bob")).await, (200, None));
        assert_eq!(through(&c, port, "198.51.100.1", None).await, (200, None));

        // The bouncer receives the block (the key is not a CrowdSec decision).
        let cl = calls.clone();
        tokio::task::spawn_blocking(move || wait_until("the bouncer's add", 15, || bouncer_log_has(&cl, "add 203.0.113.7 ")))
            .await
            .unwrap();

        // Revert restores access at once; the bouncer gets the deletion.
        let reverted = api.post(&format!("/api/v1/actions/{b_id}/revert"), json!({"reason": "false positive"})).await;
        assert_eq!(reverted["status"], "reverted");
        assert_eq!(through(&c, port, "203.0.113.7", None).await, (200, None));
        let cl = calls.clone();
        tokio::task::spawn_blocking(move || wait_until("the bouncer's del", 15, || bouncer_log_has(&cl, "del 203.0.113.7 ")))
            .await
            .unwrap();
        api.post(&format!("/api/v1/actions/{k_id}/revert"), json!({"reason": "key rotated"})).await;
        assert_eq!(through(&c, port, "198.51.100.1", Some("key-of-eve")).await, (200, None));

        // Expiry: a block of one second denies, then lapses by itself and is expired.
        let short = api
            .post("/api/v1/actions", json!({"kind": "block_ip", "target": "192.0.2.99", "duration": "1s", "reason": "short"}))
            .await;
        let s_id = short["id"].as_i64().unwrap();
        assert_eq!(through(&c, port, "192.0.2.99", None).await.0, 403);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let a = api.get(&format!("/api/v1/actions/{s_id}")).await;
            if a["status"] == "expired" {
                break;
            }
            assert!(Instant::now() < deadline, "never expired: {a}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(through(&c, port, "192.0.2.99", None).await, (200, None));

        // Hit counters reach the store.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let a = api.get(&format!("/api/v1/actions/{b_id}")).await;
            if a["denied"] == 1 && a["last_denied"].is_string() {
                break;
            }
            assert!(Instant::now() < deadline, "hits never written: {a}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        // The enforcement endpoint refuses gateways without or with a wrong key.
        let r = c.get(format!("http://{addr}/enforce/nginx")).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let r = c.get(format!("http://{addr}/enforce/nginx")).header("X-Rampart-Enforcer-Key", "rmp_wrong").send().await.unwrap();
        assert_eq!(r.status(), 401);
        let body: Value = r.json().await.unwrap();
        assert!(body["error"]["message"].is_string(), "{body}");
        // ... and an API token of another role cannot use it, nor an enforcer key the API.
        let r = c.get(format!("http://{addr}/api/v1/incidents")).bearer_auth(&enforcer).send().await.unwrap();
        assert_eq!(r.status(), 403);
    });

    // Rampart unreachable: the shipped snippet fails open (documented there).
    drop(server.0.kill());
    let _ = server.0.wait();
    rt.block_on(async {
        let c = reqwest::Client::new();
        assert_eq!(through(&c, port, "203.0.113.7", None).await.0, 200);
    });
}

/// The README's nginx snippet is the shipped file, verbatim, so what users copy is what the
/// end-to-end test runs.
#[test]
fn readme_nginx_snippet_is_the_tested_file() {
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap();
    let snippet = std::fs::read_to_string(repo_file("deploy/nginx/rampart.conf")).unwrap();
    assert!(
        readme.contains(&format!("```nginx\n{snippet}```")),
        "README.md must contain deploy/nginx/rampart.conf verbatim in a ```nginx block"
    );
}

/// Issue 12's acceptance: nginx writes its JSON access log, `rampart serve --follow` reads
/// it, an attack runs through nginx, and an automation rule contains the attacker at nginx.
/// Three attackers, one after the other (each on its own endpoint, so each is its own first
/// source); the time from each one's first request to nginx's first 403 for it is printed
/// (BENCHMARKS.md quotes it; no timing is asserted here).
#[test]
fn an_automation_rule_contains_an_attacker_at_nginx_from_the_followed_access_log() {
    let Some(nginx) = need("nginx") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let enforcer = key(&data, &["enforcer", "create", "--name", "nginx1"]);
    let admin = key(
        &data,
        &["token", "create", "--name", "admin", "--role", "admin"],
    );
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "rules:\n  - name: block-injection\n    triggers: [alert_created]\n    conditions:\n      \
         property: detector\n      operator: equals\n      value: content_inspection\n    \
         actions:\n      - contain: {kind: block_ip, duration_secs: 3600}\n",
    )
    .unwrap();
    let out = rampart()
        .args(["automation", "apply", "--data"])
        .arg(&data)
        .arg(&rules)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ngx_dir = dir.path().join("nginx");
    std::fs::create_dir_all(&ngx_dir).unwrap();
    let access = ngx_dir.join("access.json");
    std::fs::write(&access, "").unwrap();
    let access_arg = access.display().to_string();
    let (_server, addr) =
        start_rampart_with(&data, &["--follow", &access_arg, "--format", "nginx_json"]);
    let (backend_port, _backend) = backend();
    let (_nginx, port) = start_nginx_logging(
        &nginx,
        &ngx_dir,
        &addr,
        backend_port,
        &enforcer,
        Some(&access),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let latencies = rt.block_on(async {
        let c = reqwest::Client::new();
        let mut latencies = Vec::new();
        for (ip, resource) in [
            ("203.0.113.61", "orders"),
            ("203.0.113.62", "invoices"),
            ("203.0.113.63", "customers"),
        ] {
            // an ordinary client first: nginx lets it through
            let (status, _) = through(&c, port, "198.51.100.20", None).await;
            assert_eq!(status, 200);
            let started = Instant::now();
            let deadline = started + Duration::from_secs(15);
            let mut sent = 0u32;
            let latency = loop {
                let r = c
                    .get(format!(
                        "http://127.0.0.1:{port}/api/{resource}?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--"
                    ))
                    .header("X-Forwarded-For", ip)
                    .header("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
                    .send()
                    .await
                    .unwrap();
                sent += 1;
                if r.status() == 403 {
                    assert!(r.headers().get("x-rampart-action").is_some());
                    break started.elapsed();
                }
                assert_eq!(r.status(), 200, "before the block the backend answers");
                assert!(Instant::now() < deadline, "{ip} was never blocked at nginx ({sent} requests)");
                tokio::time::sleep(Duration::from_millis(10)).await;
            };
            eprintln!(
                "attack to nginx 403: {ip} after {} ms ({sent} requests)",
                latency.as_millis()
            );
            latencies.push(latency);
            // the ordinary client still passes
            assert_eq!(through(&c, port, "198.51.100.20", None).await.0, 200);
        }
        // the actions name the rule that took them, one per attacker
        let api = Api { c: c.clone(), base: format!("http://{addr}"), token: admin };
        let page = api.get("/api/v1/actions?status=active").await;
        let mut got: Vec<(String, String)> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["target"].as_str().unwrap().to_string(), a["requested_by"].as_str().unwrap().to_string()))
            .collect();
        got.sort();
        let want: Vec<(String, String)> = ["203.0.113.61", "203.0.113.62", "203.0.113.63"]
            .iter()
            .map(|ip| (ip.to_string(), "rule:block-injection".to_string()))
            .collect();
        assert_eq!(got, want);
        latencies
    });
    let mut ms: Vec<u128> = latencies.iter().map(Duration::as_millis).collect();
    ms.sort();
    eprintln!("attack to nginx 403: median {} ms of {ms:?}", ms[1]);
}
