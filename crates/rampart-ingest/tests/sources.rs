//! Sources end to end on a real SQLite store: replay finds events and endpoints; following a
//! file survives rotation, truncation and restarts without losing or repeating lines.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rampart_ingest::follow::{follow, FollowOptions, FollowStats};
use rampart_ingest::replay::{replay_files, ReplayOptions};
use rampart_pipeline::{PipelineConfig, PipelineHandle};
use rampart_store::{EventQuery, Store};
use rampart_store_sqlite::SqliteStore;
use tokio::sync::watch;

async fn store(dir: &Path) -> Arc<dyn Store> {
    Arc::new(
        SqliteStore::open(&dir.join("rampart.db"))
            .await
            .expect("open store"),
    )
}

async fn pipeline(store: &Arc<dyn Store>) -> PipelineHandle {
    let (h, _task) = rampart_pipeline::spawn(store.clone(), PipelineConfig::default())
        .await
        .expect("spawn pipeline");
    h
}

fn line(i: u32) -> String {
    format!(
        "198.51.100.{} - - [04/Jan/2026:08:{:02}:{:02} +0000] \"GET /api/v1/orders/{} HTTP/1.1\" 200 512 \"-\" \"client/{}\"\n",
        i % 250 + 1,
        (i / 60) % 60,
        i % 60,
        1000 + i,
        i
    )
}

async fn all_uas(store: &Arc<dyn Store>) -> Vec<String> {
    let evs = store
        .list_events(&EventQuery {
            limit: Some(10_000),
            ..Default::default()
        })
        .await
        .expect("list events");
    evs.into_iter()
        .map(|e| e.event.user_agent.into_owned())
        .collect()
}

#[tokio::test]
async fn replay_stores_events_and_inventory_and_reports_malformed_lines() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let mut f = std::fs::File::create(&log).unwrap();
    for i in 0..50 {
        f.write_all(line(i).as_bytes()).unwrap();
    }
    f.write_all(b"this is not a log line at all\n").unwrap();
    f.write_all(b"198.51.100.7 - - [04/Jan/2026:09:00:00 +0000] \"POST /api/v1/login HTTP/1.1\" 401 20 \"-\" \"x\"\n").unwrap();
    drop(f);

    let store = store(dir.path()).await;
    let p = pipeline(&store).await;
    let report = replay_files(std::slice::from_ref(&log), &ReplayOptions::default(), &p)
        .await
        .unwrap();
    assert_eq!(report.files, 1);
    assert_eq!(report.lines, 52);
    assert_eq!(report.events, 51);
    assert_eq!(report.malformed, 1);
    assert_eq!(
        report.malformed_lines[0].line, 51,
        "{:?}",
        report.malformed_lines
    );
    assert!(report.malformed_lines[0].file.ends_with("access.log"));

    let stats = store.stats().await.unwrap();
    assert_eq!(stats.events, 51);
    let eps = store.list_endpoints().await.unwrap();
    let keys: Vec<String> = eps.iter().map(|e| e.key()).collect();
    assert!(
        keys.contains(&"GET /api/v1/orders/{id}".to_string()),
        "{keys:?}"
    );
    assert!(keys.contains(&"POST /api/v1/login".to_string()), "{keys:?}");
    let orders = eps
        .iter()
        .find(|e| e.path_template == "/api/v1/orders/{id}")
        .unwrap();
    assert_eq!(orders.calls, 50);
}

#[tokio::test]
async fn replay_reads_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log.gz");
    let f = std::fs::File::create(&log).unwrap();
    let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
    for i in 0..20 {
        gz.write_all(line(i).as_bytes()).unwrap();
    }
    gz.finish().unwrap();
    let store = store(dir.path()).await;
    let p = pipeline(&store).await;
    let report = replay_files(&[log], &ReplayOptions::default(), &p)
        .await
        .unwrap();
    assert_eq!(report.events, 20);
    assert_eq!(report.malformed, 0);
}

#[tokio::test]
async fn replay_refuses_unknown_format_and_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let p = pipeline(&store).await;
    let opts = ReplayOptions {
        format: Some("nope".into()),
        ..Default::default()
    };
    let err = replay_files(&[dir.path().join("x")], &opts, &p)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unknown format"), "{err}");
    let err = replay_files(
        &[dir.path().join("missing.log")],
        &ReplayOptions::default(),
        &p,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("missing.log"), "{err}");
}

struct Follower {
    stats: watch::Receiver<FollowStats>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<FollowStats>,
}

fn start(path: &Path, store: &Arc<dyn Store>, p: &PipelineHandle) -> Follower {
    let (tx, rx) = watch::channel(FollowStats::default());
    let (stop, stop_rx) = watch::channel(false);
    let opts = FollowOptions {
        poll: Duration::from_millis(20),
        ..Default::default()
    };
    let task = tokio::spawn(follow(
        path.to_path_buf(),
        opts,
        store.clone(),
        p.clone(),
        tx,
        stop_rx,
    ));
    Follower {
        stats: rx,
        stop,
        task: tokio::spawn(async move { task.await.unwrap().unwrap() }),
    }
}

impl Follower {
    /// Wait (bounded) until the follower has committed `n` events since it started.
    async fn until_events(&mut self, n: u64) {
        let reached = tokio::time::timeout(
            Duration::from_secs(20),
            self.stats.wait_for(|s| s.events >= n),
        )
        .await
        .is_ok();
        assert!(
            reached,
            "follower did not reach {n} events: {:?}",
            *self.stats.borrow()
        );
    }
    async fn stop(self) -> FollowStats {
        self.stop.send(true).unwrap();
        self.task.await.unwrap()
    }
}

fn append(path: &Path, range: std::ops::Range<u32>) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for i in range {
        f.write_all(line(i).as_bytes()).unwrap();
    }
}

fn expected(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("client/{i}")).collect()
}

#[tokio::test]
async fn follow_survives_rotation_truncation_and_restart_without_loss_or_duplication() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let store = store(dir.path()).await;
    let p = pipeline(&store).await;

    append(&log, 0..10);
    let mut f = start(&log, &store, &p);
    f.until_events(10).await;

    // A partial line is not taken until it is complete.
    let mut h = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let l10 = line(10);
    h.write_all(&l10.as_bytes()[..20]).unwrap();
    h.flush().unwrap();
    append(&log, 0..0);
    h.write_all(&l10.as_bytes()[20..]).unwrap();
    drop(h);
    append(&log, 11..20);
    f.until_events(20).await;

    // Rotation: rename away, more lines land in the old file, then a new file appears.
    let rotated = dir.path().join("access.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    append(&rotated, 20..25);
    append(&log, 25..40);
    f.until_events(40).await;
    let s = f.stop().await;
    assert!(s.rotations >= 1, "{s:?}");

    // Restart while lines arrive: resumes at the checkpoint.
    append(&log, 40..50);
    let mut f = start(&log, &store, &p);
    f.until_events(10).await;

    // Rotation while stopped: the old file is finished from its checkpoint first.
    let s = f.stop().await;
    assert_eq!(s.events, 10);
    append(&log, 50..55);
    std::fs::rename(&log, dir.path().join("access.log.2")).unwrap();
    append(&log, 55..60);
    let mut f = start(&log, &store, &p);
    f.until_events(10).await;

    // Truncation (copytruncate): start again from the top of the file.
    std::fs::write(&log, "").unwrap();
    append(&log, 60..63);
    f.until_events(13).await;
    let s = f.stop().await;
    assert!(s.truncations >= 1, "{s:?}");

    let mut got = all_uas(&store).await;
    got.sort();
    let mut want = expected(0..63);
    want.sort();
    assert_eq!(got, want, "lines lost or repeated");
}

/// Write `lines` to `path`, gzipped.
fn write_gz(path: &Path, lines: std::ops::Range<u32>) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for i in lines {
        gz.write_all(line(i).as_bytes()).unwrap();
    }
    let bytes = gz.finish().unwrap();
    std::fs::write(path, &bytes).unwrap();
    bytes
}

#[tokio::test]
async fn replay_reports_a_50mb_line_as_malformed_between_two_good_lines() {
    // Regression: the over-long line was buffered whole and stored as one 50 MB event.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("long.log");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&log).unwrap());
    f.write_all(line(1).as_bytes()).unwrap();
    f.write_all(b"198.51.100.9 - - [04/Jan/2026:08:00:01 +0000] \"GET /")
        .unwrap();
    let chunk = vec![b'a'; 1 << 20];
    for _ in 0..50 {
        f.write_all(&chunk).unwrap();
    }
    f.write_all(b" HTTP/1.1\" 200 1 \"-\" \"long\"\n").unwrap();
    f.write_all(line(2).as_bytes()).unwrap();
    drop(f);
    let store = store(dir.path()).await;
    let p = pipeline(&store).await;
    let report = replay_files(std::slice::from_ref(&log), &ReplayOptions::default(), &p)
        .await
        .unwrap();
    assert_eq!((report.events, report.malformed), (2, 1), "{report:?}");
    assert_eq!(report.malformed_lines[0].line, 2);
    assert!(
        report.malformed_lines[0]
            .reason
            .contains("line longer than"),
        "{:?}",
        report.malformed_lines
    );
    let mut got = all_uas(&store).await;
    got.sort();
    assert_eq!(got, expected(1..3));
}

#[tokio::test]
async fn replay_reports_a_truncated_gzip_as_a_malformed_tail_and_carries_on() {
    // Regression: a truncated .gz stopped the whole replay with an error and no summary.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("a.log.gz");
    let bytes = write_gz(&bad, 0..2000);
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let good = dir.path().join("b.log");
    append(&good, 5000..5010);
    let store = store(dir.path()).await;
    let p = pipeline(&store).await;
    let report = replay_files(&[bad.clone(), good], &ReplayOptions::default(), &p)
        .await
        .expect("replay carries on past a truncated gzip");
    assert_eq!(report.files, 2, "{report:?}");
    assert_eq!(report.malformed, 1, "{report:?}");
    let tail = &report.malformed_lines[0];
    assert!(tail.file.ends_with("a.log.gz"), "{tail:?}");
    let got = all_uas(&store).await;
    let second = expected(5000..5010);
    let before_tail = got.iter().filter(|u| !second.contains(u)).count() as u64;
    assert!(
        before_tail > 0,
        "the readable part of the truncated file is stored"
    );
    assert_eq!(tail.line, before_tail + 1, "{tail:?}");
    assert_eq!(got.len() as u64, before_tail + 10);
    assert_eq!(report.events, before_tail + 10);
}
