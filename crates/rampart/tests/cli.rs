//! The command-line interface that scripts rely on, run as a user would run it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

mod common;

use common::{rampart, served_addr};

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
    let addr = served_addr(&mut child);
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
fn token_create_takes_the_soc_roles_and_analyst_as_tier2() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // (name, --role, stored role, what stderr says)
    let cases = [
        ("v", "viewer", "viewer", ""),
        ("t1", "tier1", "tier1", ""),
        ("t2", "tier2", "tier2", ""),
        ("old", "analyst", "tier2", "note: role analyst is tier2\n"),
        ("t3", "tier3", "tier3", ""),
        ("m", "soc_manager", "soc_manager", ""),
        ("a", "admin", "admin", ""),
        ("i", "ingest", "ingest", ""),
        ("e", "enforcer", "enforcer", ""),
    ];
    for (name, role, _, note) in cases {
        let (out, err) = run(rampart()
            .args(["token", "create", "--name", name, "--role", role, "--data"])
            .arg(&data));
        assert!(out.starts_with("rmp_"), "{role}: {out:?}");
        assert!(err.ends_with(note), "{role}: {err:?}");
        if note.is_empty() {
            assert!(!err.contains("note:"), "{role}: {err:?}");
        }
    }
    let (out, _) = run(rampart()
        .args(["token", "list", "--json", "--data"])
        .arg(&data));
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut got: Vec<(String, String)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().into(),
                t["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    got.sort();
    let mut expected: Vec<(String, String)> = cases
        .iter()
        .map(|(n, _, r, _)| (n.to_string(), r.to_string()))
        .collect();
    expected.sort();
    assert_eq!(got, expected);
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
        "[detect]\ndisabled = [\"injection\", \"sigma\"]\n[detect.content_inspection]\nenabled = false\n[detect.allow]\nips = [\"203.0.113.0/24\"]\n",
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

#[test]
fn replaying_the_same_file_twice_adds_nothing_the_second_time() {
    // Regression: rerunning a replay stored every event twice.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    write_log(&log);
    let data = dir.path().join("data");
    let replay = || {
        let (out, _) = run(rampart()
            .args(["replay", "--json", "--data"])
            .arg(&data)
            .arg(&log));
        serde_json::from_str::<serde_json::Value>(out.trim()).expect("one JSON object")
    };
    let first = replay();
    assert_eq!(first["events"], 31);
    assert_eq!(first["store"]["events"], 31);
    let second = replay();
    assert_eq!(second["events"], 0, "{second}");
    assert_eq!(second["store"]["events"], 31, "{second}");
}

/// A follower's combined-log line `i` (user agent `client/<i>`).
fn follow_line(i: u32) -> String {
    format!(
        "198.51.100.{} - - [04/Jan/2026:08:{:02}:{:02} +0000] \"GET /api/v1/orders/{} HTTP/1.1\" 200 512 \"-\" \"client/{}\"\n",
        i % 250 + 1,
        (i / 60) % 60,
        i % 60,
        1000 + i,
        i
    )
}

fn append_lines(path: &Path, range: std::ops::Range<u32>) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for i in range {
        f.write_all(follow_line(i).as_bytes()).unwrap();
    }
}

/// `rampart serve --follow app.log` run from `cwd`, once it is serving.
fn serve_following(cwd: &Path, data: &Path) -> std::process::Child {
    let mut child = rampart()
        .current_dir(cwd)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--follow",
            "app.log",
            "--data",
        ])
        .arg(data)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    served_addr(&mut child);
    child
}

/// Wait (bounded) until the store holds `n` events; returns how many it holds.
fn wait_for_events(data: &Path, n: u64) -> u64 {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use rampart_store::Store;
        let store = rampart_store_sqlite::SqliteStore::open(&data.join("rampart.db"))
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let got = store.stats().await.unwrap().events;
            if got >= n || std::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
}

fn stored_user_agents(data: &Path) -> Vec<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use rampart_store::Store;
        let store = rampart_store_sqlite::SqliteStore::open(&data.join("rampart.db"))
            .await
            .unwrap();
        let evs = store
            .list_events(&rampart_store::EventQuery {
                limit: Some(100_000),
                ..Default::default()
            })
            .await
            .unwrap();
        let mut uas: Vec<String> = evs
            .into_iter()
            .map(|e| e.event.user_agent.into_owned())
            .collect();
        uas.sort();
        uas
    })
}

#[test]
fn follow_with_a_relative_path_keeps_lines_written_before_a_rotation_while_stopped() {
    // Regression: with a relative path the rotated file was looked for in "" and never found,
    // so the lines appended to it while rampart was down were lost without a warning.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("app.log");
    append_lines(&log, 0..100);
    let mut child = serve_following(dir.path(), &data);
    assert_eq!(wait_for_events(&data, 100), 100);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    append_lines(&log, 100..1100);
    std::fs::rename(&log, dir.path().join("app.log.1")).unwrap();
    append_lines(&log, 1100..1110);
    let mut child = serve_following(dir.path(), &data);
    let got = wait_for_events(&data, 1110);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(got, 1110, "lines lost across the rotation");
    let mut want: Vec<String> = (0..1110).map(|i| format!("client/{i}")).collect();
    want.sort();
    assert_eq!(stored_user_agents(&data), want, "lines lost or repeated");
}

#[test]
fn line_limit_comes_from_the_flag_then_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    append_lines(&log, 0..3);
    let long = follow_line(3).len(); // every line is about this long
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("rampart.toml"),
        format!("[ingest]\nmax_line_bytes = {}\n", long / 2),
    )
    .unwrap();
    let (out, _) = run(rampart()
        .args(["replay", "--json", "--data"])
        .arg(&data)
        .arg(&log));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (v["events"].as_u64(), v["malformed"].as_u64()),
        (Some(0), Some(3)),
        "{v}"
    );
    let reason = v["malformed_lines"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!("line longer than {} bytes", long / 2)),
        "{v}"
    );
    let (out, _) = run(rampart()
        .args([
            "replay",
            "--json",
            "--restart",
            "--max-line-bytes",
            "4096",
            "--data",
        ])
        .arg(&data)
        .arg(&log));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (v["events"].as_u64(), v["malformed"].as_u64()),
        (Some(3), Some(0)),
        "{v}"
    );
}

#[test]
fn a_truncated_gzip_is_reported_and_the_next_file_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("a.log.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for i in 0..2000 {
        enc.write_all(follow_line(i).as_bytes()).unwrap();
    }
    let bytes = enc.finish().unwrap();
    std::fs::write(&gz, &bytes[..bytes.len() / 2]).unwrap();
    let log = dir.path().join("b.log");
    append_lines(&log, 0..10);
    let out = rampart()
        .args(["replay", "--json", "--data"])
        .arg(dir.path().join("data"))
        .arg(&gz)
        .arg(&log)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a file not read to its end fails the command"
    );
    let v: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("a summary");
    assert_eq!(
        (v["files"].as_u64(), v["failed"].as_u64()),
        (Some(2), Some(1)),
        "{v}"
    );
    assert!(v["per_file"][0]["error"].is_string(), "{v}");
    assert!(v["per_file"][1]["error"].is_null(), "{v}");
    assert_eq!(v["per_file"][1]["events"], 10, "{v}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not be read to their end"));
}

/// Regression: `rampart replay` created the data directory 0755 and the database 0644
/// (readable by every local user: events hold client addresses, paths and principals).
#[cfg(unix)]
#[test]
fn replay_creates_a_private_data_directory() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    write_log(&log);
    let data = dir.path().join("data");
    run(rampart()
        .args(["replay", "--json", "--data"])
        .arg(&data)
        .arg(&log));
    assert_eq!(mode(&data), 0o700, "data directory");
    let mut checked = 0;
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
        checked += 1;
    }
    // rampart.db (+ -wal, -shm while open or left behind) and secret.key at least.
    assert!(checked >= 2, "{checked} files in the data directory");
}

/// `rampart actions create|list|show|revert` goes through the same rails as the API: a block
/// is created active, a protected (allow-listed) address is refused, a raw key is stored only
/// as its identity, and a revert ends the action.
#[test]
fn actions_cli_creates_lists_and_reverts_through_the_rails() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("rampart.toml"),
        "[detect.allow]\nips = [\"10.1.2.0/24\"]\n",
    )
    .unwrap();
    let json = |args: &[&str]| -> serde_json::Value {
        let (out, _) = run(rampart().args(args).arg("--data").arg(&data).arg("--json"));
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    let a = json(&[
        "actions",
        "create",
        "--kind",
        "block_ip",
        "--target",
        "203.0.113.7",
        "--reason",
        "brute force",
    ]);
    assert_eq!(a["status"], "active", "{a}");
    assert_eq!(a["target"], "203.0.113.7", "{a}");
    let id = a["id"].as_i64().expect("id").to_string();

    let refused = rampart()
        .args([
            "actions", "create", "--kind", "block_ip", "--target", "10.1.2.3", "--reason", "x",
        ])
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!refused.status.success(), "a protected address is refused");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("protected"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let k = json(&[
        "actions",
        "create",
        "--kind",
        "disable_api_key",
        "--raw-key",
        "sk-live-cli-secret-1",
        "--reason",
        "leaked",
    ]);
    assert_eq!(k["status"], "active", "{k}");

    let list = json(&["actions", "list"]);
    let text = list.to_string();
    assert!(
        !text.contains("sk-live-cli-secret-1"),
        "raw key stored: {text}"
    );
    assert_eq!(
        json(&["actions", "show", &id])["id"].as_i64(),
        Some(id.parse().unwrap())
    );
    let r = json(&["actions", "revert", &id, "--reason", "false positive"]);
    assert_eq!(r["status"], "reverted", "{r}");
    let active = json(&["actions", "list", "--status", "active"]);
    assert!(!active.to_string().contains("203.0.113.7"), "{active}");
}

/// The README's first command: `rampart demo` makes its own owner-only data directory,
/// ingests simulated traffic through the whole pipeline and reports what it found.
#[test]
fn demo_ingests_into_a_private_temporary_directory() {
    let out = rampart()
        .args(["demo", "--no-serve", "--events", "20000"])
        .env_remove("RAMPART_DATA")
        .output()
        .expect("run rampart demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("open to other users"), "{stderr}");
    let dir = stderr
        .lines()
        .find_map(|l| l.strip_prefix("rampart demo: data directory "))
        .expect("the data directory is named")
        .trim()
        .to_string();
    let ingested = stderr
        .lines()
        .find(|l| l.contains("rampart demo: ingested 20000 events"))
        .unwrap_or_else(|| panic!("no summary in {stderr}"));
    assert!(!ingested.contains(" 0 alerts"), "{ingested}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{dir}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `rampart user create` with the password on stdin; what it refuses stores nothing.
#[test]
fn user_create_reads_the_password_from_stdin_and_stores_only_its_hash() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let create = |name: &str, role: &str, password: &str| {
        let mut child = rampart()
            .args(["user", "create", "--name", name, "--role", role, "--data"])
            .arg(&data)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, err) = create("alice", "tier2", "a long enough secret");
    assert!(ok, "{err}");
    assert!(err.contains("created user alice (tier2)"), "{err}");
    for (name, role, pw, why) in [
        ("alice", "tier1", "another long secret", "already exists"),
        ("bob", "tier1", "short", "at least 8 characters"),
        ("bob", "ingest", "a long enough secret", "machine role"),
        (
            "<bob>",
            "tier1",
            "a long enough secret",
            "user name must be",
        ),
    ] {
        let (ok, err) = create(name, role, pw);
        assert!(!ok, "{name} {role} accepted");
        assert!(err.contains(why), "{name}: {err}");
    }
    let (out, _) = run(rampart()
        .args(["user", "list", "--json", "--data"])
        .arg(&data));
    let users: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 1, "{users}");
    assert_eq!(users[0]["role"], "tier2");
    assert!(!out.contains("argon2"), "no hash in the listing");
    // the database and its write-ahead log
    let mut db = std::fs::read(data.join("rampart.db")).unwrap();
    db.extend(std::fs::read(data.join("rampart.db-wal")).unwrap_or_default());
    let db = String::from_utf8_lossy(&db);
    assert!(
        !db.contains("a long enough secret"),
        "the password is not stored"
    );
    assert!(db.contains("$argon2id$"), "its argon2id hash is");
}

/// `rampart detectors` prints a section per registered detector that a config file accepts
/// back as it is: the printed defaults are a valid rampart.toml.
#[test]
fn detectors_prints_every_section_and_they_parse_back() {
    let (out, _) = run(Command::new(env!("CARGO_BIN_EXE_rampart")).arg("detectors"));
    for id in [
        "bola",
        "content_inspection",
        "injection",
        "sigma",
        "login_attack",
    ] {
        assert!(
            out.contains(&format!("[detect.{id}]")),
            "{id} missing:\n{out}"
        );
    }
    assert!(out.contains("cooldown_secs"), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("rampart.toml");
    std::fs::write(&cfg, &out).unwrap();
    let (list, _) = run(Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["replay", "--list-detectors", "--data"])
        .arg(dir.path())
        .arg("--config")
        .arg(&cfg));
    assert!(list.contains("content_inspection"), "{list}");
}

/// `rampart automation apply` stores rules (idempotently), `replay` runs them on the incidents
/// it creates: in order, later rules seeing earlier changes, a chained `incident_updated`
/// rule reacting to another rule's change, an expired rule silent, closing with its comment
/// made by `rule:<name>`. Bad documents and actions this version does not run are refused.
#[test]
fn automation_rules_apply_idempotently_and_run_on_replayed_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let doc = dir.path().join("rules.yaml");
    std::fs::write(
        &doc,
        r#"
rules:
  - name: sqli-triage
    order: 10
    triggers: [incident_created]
    conditions: {property: entity.ip, operator: in_cidr, value: 198.51.100.0/24}
    actions: [{assign: alice}, {add_tags: [sqli-triage]}]
  - name: chained
    order: 20
    triggers: [incident_updated]
    conditions: {all: [{updated_by: "rule:sqli-triage"}, {changed: owner, to: alice}]}
    actions: [{add_tags: chained}, {add_task: {title: Review the search endpoint}}]
  - name: expired
    order: 5
    expires_at: "2020-01-01T00:00:00Z"
    triggers: [incident_created]
    actions: [{assign: nobody}]
  - name: close-scanner
    order: 30
    triggers: [incident_created]
    conditions: {property: entity.ip, operator: equals, value: 203.0.113.9}
    actions:
      - set_status: {status: Resolved, classification: TruePositive, determination: Automated, comment: known scanner}
  - name: block-attackers
    order: 40
    triggers: [incident_created]
    actions: [{contain: {kind: block_ip, duration_secs: 600}}]
"#,
    )
    .unwrap();
    // The rails apply to rules: a protected address is never blocked.
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("rampart.toml"),
        "[contain.protected]\nips = [\"198.51.100.4/32\"]\n",
    )
    .unwrap();
    let (out, _) = run(rampart()
        .args(["automation", "apply", "--data"])
        .arg(&data)
        .arg(&doc));
    assert_eq!(
        out.trim(),
        "rules: 5 created, 0 updated, 0 unchanged, 0 deleted"
    );
    let (out, _) = run(rampart()
        .args(["automation", "apply", "--data"])
        .arg(&data)
        .arg(&doc));
    assert_eq!(
        out.trim(),
        "rules: 0 created, 0 updated, 5 unchanged, 0 deleted"
    );
    let (out, _) = run(rampart().args(["automation", "list", "--data"]).arg(&data));
    let names: Vec<&str> = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(
        names,
        [
            "expired",
            "sqli-triage",
            "chained",
            "close-scanner",
            "block-attackers"
        ],
        "{out}"
    );
    assert!(out.contains("expired  expired"), "{out}");

    let log = dir.path().join("access.log");
    write_log(&log);
    run(rampart().args(["replay", "--data"]).arg(&data).arg(&log));
    let (out, _) = run(rampart()
        .args(["incidents", "list", "--json", "--data"])
        .arg(&data));
    let page: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let items = page["items"].as_array().unwrap();
    let with_ip = |ip: &str| {
        items
            .iter()
            .find(|i| i["entities"].to_string().contains(ip))
            .unwrap_or_else(|| panic!("no incident with {ip}: {out}"))
    };
    let sqli = with_ip("198.51.100.4");
    assert_eq!(sqli["assigned_to"], "alice", "{sqli}");
    assert_eq!(
        sqli["tags"],
        serde_json::json!(["sqli-triage", "chained"]),
        "{sqli}"
    );
    assert_eq!(sqli["status"], "Active");
    let scanner = with_ip("203.0.113.9");
    assert_eq!(scanner["status"], "Resolved", "{scanner}");
    assert_eq!(scanner["classification"], "TruePositive");
    assert!(
        scanner.get("assigned_to").is_none_or(|a| a.is_null()),
        "{scanner}"
    );
    let id = scanner["id"].as_i64().unwrap().to_string();
    let (out, _) = run(rampart()
        .args(["incidents", "show", "--json", "--data"])
        .arg(&data)
        .arg(&id));
    let detail: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        detail["comments"][0]["author"], "rule:close-scanner",
        "{detail}"
    );
    assert_eq!(detail["comments"][0]["text"], "known scanner");

    // `contain` went through the rails: the scanner blocked (by the rule, on its incident),
    // the protected address not.
    let (out, _) = run(rampart()
        .args(["actions", "list", "--json", "--data"])
        .arg(&data));
    let actions: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let blocks: Vec<(String, String, String)> = actions["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["target"].as_str().unwrap_or("").to_string(),
                a["requested_by"].as_str().unwrap_or("").to_string(),
                a["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        blocks,
        [(
            "203.0.113.9".to_string(),
            "rule:block-attackers".to_string(),
            "active".to_string()
        )],
        "{out}"
    );

    // Refused: the error names the field path and the line; unsupported actions by name.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "rules:\n  - name: r\n    triggers: [incident_created]\n    conditions: {property: colour, operator: equals, value: x}\n    actions: [{assign: a}]\n",
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
        err.contains("rules[0].conditions.property (line 4)")
            && err.contains("unknown property `colour`"),
        "{err}"
    );
    std::fs::write(
        &bad,
        "rules:\n  - name: r\n    triggers: [incident_created]\n    actions: [{run_playbook: x}]\n",
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
        err.contains("rules[0] (r): run_playbook: no playbook named `x`"),
        "{err}"
    );
}

/// `rampart automation apply` stores a document's webhooks next to its rules (idempotently;
/// `--prune` deletes the rest), `list` shows them, and a `notify` naming a webhook that
/// neither the document nor the store holds is refused.
#[test]
fn automation_apply_stores_webhooks_and_checks_notify_targets() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let doc = dir.path().join("auto.yaml");
    std::fs::write(
        &doc,
        r#"
webhooks:
  - name: soc-siem
    url: http://127.0.0.1:9/hook
    events: [incident_created, action_created]
    format: ocsf
    secret_env: RAMPART_SIEM_SECRET
rules:
  - name: page
    triggers: [incident_created]
    actions: [{notify: soc-siem}]
"#,
    )
    .unwrap();
    let apply = |file: &std::path::Path, prune: bool| {
        let mut cmd = rampart();
        cmd.args(["automation", "apply", "--data"])
            .arg(&data)
            .arg(file);
        if prune {
            cmd.arg("--prune");
        }
        cmd.output().unwrap()
    };
    let out = apply(&doc, false);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "rules: 1 created, 0 updated, 0 unchanged, 0 deleted\nwebhooks: 1 created, 0 updated, 0 unchanged, 0 deleted"
    );
    let out = apply(&doc, false);
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("webhooks: 0 created, 0 updated, 1 unchanged"));
    let (out, _) = run(rampart().args(["automation", "list", "--data"]).arg(&data));
    assert!(
        out.contains("soc-siem") && out.contains("ocsf") && out.contains("(1 webhooks)"),
        "{out}"
    );
    let (out, _) = run(rampart()
        .args(["automation", "list", "--json", "--data"])
        .arg(&data));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        v["webhooks"][0]["webhook"]["secret_env"],
        "RAMPART_SIEM_SECRET"
    );
    assert_eq!(v["rules"][0]["name"], "page");

    // a notify to nowhere is refused
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "rules:\n  - name: r\n    triggers: [incident_created]\n    actions: [{notify: nowhere}]\n",
    )
    .unwrap();
    let out = apply(&bad, false);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("notify names the webhook \"nowhere\""),
        "{err}"
    );
    // an invalid webhook names its field and line
    std::fs::write(
        &bad,
        "webhooks:\n  - name: w\n    url: http://h/\n    events: [incident_created]\n    timeout_secs: 0\n",
    )
    .unwrap();
    let out = apply(&bad, false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("webhooks[0] (line 2)")
            && err.contains("timeout_secs"),
        "{err}"
    );
    // prune: a document without the webhook (and without its rule) deletes both
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "rules: []\n").unwrap();
    let out = apply(&empty, true);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "rules: 0 created, 0 updated, 0 unchanged, 1 deleted\nwebhooks: 0 created, 0 updated, 0 unchanged, 1 deleted"
    );
}

/// `rampart incidents report` writes each format of a replayed incident's review; the PDF
/// renders with pdftoppm (poppler-utils: fails, never skips, without it).
#[test]
fn incidents_report_writes_each_format() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    write_log(&log);
    let data = dir.path().join("data");
    run(rampart().args(["replay", "--data"]).arg(&data).arg(&log));
    let (out, _) = run(rampart()
        .args(["incidents", "list", "--json", "--data"])
        .arg(&data));
    let page: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let id = page["items"][0]["id"].as_i64().unwrap().to_string();
    for format in ["html", "md", "pdf"] {
        let file = dir.path().join(format!("report.{format}"));
        run(rampart()
            .args(["incidents", "report", "--format", format, "--out"])
            .arg(&file)
            .arg("--data")
            .arg(&data)
            .arg(&id));
        let bytes = std::fs::read(&file).unwrap();
        match format {
            "html" => {
                let t = String::from_utf8(bytes).unwrap();
                assert!(t.starts_with("<!DOCTYPE html>"), "{t}");
                assert!(t.contains("Post-incident review"));
                assert!(!t.contains("<script"));
            }
            "md" => {
                let t = String::from_utf8(bytes).unwrap();
                assert!(t.starts_with("# Post-incident review"), "{t}");
                assert!(t.contains("## Evidence"));
            }
            _ => {
                assert!(bytes.starts_with(b"%PDF-"));
                let png = dir.path().join("page");
                let status = Command::new("pdftoppm")
                    .args(["-png", "-r", "40", "-f", "1", "-l", "1", "-singlefile"])
                    .arg(&file)
                    .arg(&png)
                    .status()
                    .unwrap_or_else(|e| {
                        panic!("pdftoppm could not run ({e}): install poppler-utils")
                    });
                assert!(status.success());
                let png = std::fs::read(dir.path().join("page.png")).unwrap();
                assert!(
                    png.starts_with(b"\x89PNG") && png.len() > 2000,
                    "{}",
                    png.len()
                );
            }
        }
    }
    let out = rampart()
        .args([
            "incidents",
            "report",
            "--format",
            "docx",
            "--out",
            "-",
            "--data",
        ])
        .arg(&data)
        .arg(&id)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown format \"docx\""));
}

#[test]
fn hunt_prints_a_table_json_and_points_at_a_bad_token() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("events.ndjson");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut f = std::fs::File::create(&log).unwrap();
    for i in 0..4 {
        let ip = if i < 3 { "203.0.113.9" } else { "198.51.100.4" };
        writeln!(
            f,
            r#"{{"ts": {}, "client_ip": "{ip}", "method": "POST", "host": "api.example", "path": "/login", "status": 401}}"#,
            now - 60_000 - i
        )
        .unwrap();
    }
    drop(f);
    let data = dir.path().join("data");
    run(rampart().args(["replay", "--data"]).arg(&data).arg(&log));
    let query = "ApiEvents | summarize n = count() by ClientIp | sort by n desc";
    let (out, _) = run(rampart().args(["hunt", "--data"]).arg(&data).arg(query));
    assert_eq!(
        out, "ClientIp\tn\n203.0.113.9\t3\n198.51.100.4\t1\n",
        "{out}"
    );
    let (out, _) = run(rampart()
        .args(["hunt", "--json", "--limit", "1", "--data"])
        .arg(&data)
        .arg("ApiEvents | project ClientIp"));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["truncated"], true);
    assert_eq!(v["rows"].as_array().unwrap().len(), 1);
    let out = rampart()
        .args(["hunt", "--data"])
        .arg(&data)
        .arg("ApiEvents | where Sttus == 401")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Sttus") && err.contains("                  ^"),
        "{err}"
    );
}
