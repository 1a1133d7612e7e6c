//! The command-line interface that scripts rely on, run as a user would run it.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

fn rampart() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rampart"));
    c.env_remove("RAMPART_DATA")
        .env_remove("RAMPART_LISTEN")
        .env_remove("RAMPART_CONFIG")
        .env_remove("RAMPART_POSTGRES_URL");
    c
}

fn run(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().expect("run rampart");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "rampart failed: {stderr}");
    (stdout, stderr)
}

fn write_log(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    for i in 0..30 {
        writeln!(
            f,
            "203.0.113.9 - - [04/Jan/2026:08:00:{:02} +0000] \"GET /api/v1/users/{} HTTP/1.1\" 200 120 \"-\" \"sqlmap/1.7\"",
            i, 100 + i
        )
        .unwrap();
    }
    writeln!(f, "garbage line").unwrap();
    writeln!(
        f,
        "198.51.100.4 - - [04/Jan/2026:08:01:00 +0000] \"GET /search?q=%27%20union%20select%20password%20from%20users-- HTTP/1.1\" 200 90 \"-\" \"curl/8\""
    )
    .unwrap();
}

#[test]
fn replay_json_summary_then_incidents_and_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    write_log(&log);
    let data = dir.path().join("data");
    let (out, _) = run(rampart()
        .args(["replay", "--json", "--data"])
        .arg(&data)
        .arg(&log));
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(v["events"], 31);
    assert_eq!(v["malformed"], 1);
    assert_eq!(v["malformed_lines"][0]["line"], 31);
    assert!(v["alerts"].as_u64().unwrap() >= 2, "{v}");
    assert!(v["incidents"].as_u64().unwrap() >= 1, "{v}");

    // RAMPART_DATA sets the same as --data.
    let (out, _) = run(rampart()
        .args(["incidents", "list", "--json"])
        .env("RAMPART_DATA", &data));
    let page: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let items = page["items"].as_array().unwrap();
    assert!(!items.is_empty());
    let text = out.to_lowercase();
    assert!(
        text.contains("203.0.113.9") && text.contains("198.51.100.4"),
        "{out}"
    );

    let id = items[0]["id"].as_i64().unwrap();
    let (out, _) = run(rampart()
        .args([
            "incidents",
            "update",
            "--json",
            "--status",
            "InProgress",
            "--assign",
            "alice",
            "--data",
        ])
        .arg(&data)
        .arg(id.to_string()));
    let inc: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(inc["status"], "InProgress");
    assert_eq!(inc["assigned_to"], "alice");

    let (out, _) = run(rampart().args(["inventory", "--json", "--data"]).arg(&data));
    let eps: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(
        eps.as_array()
            .unwrap()
            .iter()
            .any(|e| e["path_template"] == "/api/v1/users/{id}"),
        "{out}"
    );
}

#[test]
fn token_create_prints_only_the_token_and_serve_requires_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (out, _) = run(rampart()
        .args([
            "token", "create", "--name", "ci", "--role", "viewer", "--data",
        ])
        .arg(&data));
    let token = out.trim_end_matches('\n');
    assert!(
        token.starts_with("rmp_") && !token.contains(char::is_whitespace),
        "stdout must be the token alone: {out:?}"
    );

    let mut child = rampart()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // The server announces its address on stderr once the listener is bound.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("server exited early").unwrap();
        if let Some(rest) = line.split("serving on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = reqwest::Client::new();
        let h = c
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(h.status(), 200);
        let r = c
            .get(format!("http://{addr}/api/v1/incidents"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(body["error"]["message"].is_string(), "{body}");
        let r = c
            .get(format!("http://{addr}/api/v1/incidents"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = c
            .patch(format!("http://{addr}/api/v1/incidents/1"))
            .bearer_auth(token)
            .json(&serde_json::json!({"status": "Resolved"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "a viewer cannot change anything");
    });
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Regression: `token create` stored names the API refuses (empty, with `/`); it now uses the
/// API's check and stores nothing.
#[test]
fn token_create_refuses_names_the_api_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for name in ["", "a/b", "with space", &"x".repeat(65)] {
        let out = rampart()
            .args([
                "token", "create", "--role", "viewer", "--name", name, "--data",
            ])
            .arg(&data)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{name:?} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("token name must be 1-64 of"),
            "{name:?}: {err}"
        );
    }
    let (out, _) = run(rampart()
        .args(["token", "list", "--json", "--data"])
        .arg(&data));
    assert_eq!(out.trim(), "[]");
}

#[test]
fn bad_arguments_fail_with_a_clear_message() {
    let out = rampart()
        .args(["replay", "--format", "nope", "--data"])
        .arg(tempfile::tempdir().unwrap().path())
        .arg("/nonexistent.log")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown format"), "{err}");

    let out = rampart()
        .args(["token", "create", "--name", "x", "--role", "root"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid role"));
}

#[test]
fn config_file_allow_list_and_disabled_detectors_silence_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    write_log(&log);
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("rampart.toml"),
        "[detect]\ndisabled = [\"injection\", \"sigma\"]\n[detect.allow]\nips = [\"203.0.113.0/24\"]\n",
    )
    .unwrap();
    let (out, _) = run(rampart()
        .args(["replay", "--json", "--data"])
        .arg(&data)
        .arg(&log));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["events"], 31);
    let (out, _) = run(rampart()
        .args(["incidents", "list", "--json", "--data"])
        .arg(&data));
    assert!(
        !out.contains("203.0.113.9"),
        "allow-listed IP raised an incident: {out}"
    );
    assert!(!out.contains("injection"), "disabled detector fired: {out}");

    std::fs::write(
        data.join("rampart.toml"),
        "[detect]\ndisabled = [\"nope\"]\n",
    )
    .unwrap();
    let o = rampart()
        .args(["replay", "--data"])
        .arg(&data)
        .arg(&log)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown detector \"nope\""));
}
