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
    start_with(
        path,
        store,
        p,
        FollowOptions {
            poll: Duration::from_millis(20),
            ..Default::default()
        },
    )
}

fn start_with(
    path: &Path,
    store: &Arc<dyn Store>,
    p: &PipelineHandle,
    opts: FollowOptions,
) -> Follower {
    let (tx, rx) = watch::channel(FollowStats::default());
    let (stop, stop_rx) = watch::channel(false);
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

/// Replay options that keep per-file checkpoints in `store`.
fn resumable(store: &Arc<dyn Store>) -> ReplayOptions {
    ReplayOptions {
        checkpoints: Some(store.clone()),
        batch_size: 7,
        ..Default::default()
    }
}

#[tokio::test]
async fn replay_of_a_gzip_of_zeros_holds_no_more_than_the_line_limit() {
    // Regression: a 1 MB gzip of zeros took 1.07 GB of memory (the one "line" was buffered).
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("zeros.gz");
    {
        // Stream-written: the test itself never holds the zeros.
        let f = std::io::BufWriter::new(std::fs::File::create(&bomb).unwrap());
        let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..256 {
            gz.write_all(&zeros).unwrap();
        }
        gz.write_all(b"\n").unwrap();
        gz.write_all(line(7).as_bytes()).unwrap();
        gz.finish().unwrap();
    }
    assert!(std::fs::metadata(&bomb).unwrap().len() < 1 << 20);
    let store = store(dir.path()).await;
    let p = pipeline(&store).await;
    let opts = ReplayOptions {
        max_line_bytes: 64 << 10,
        ..Default::default()
    };
    let report = replay_files(&[bomb], &opts, &p).await.unwrap();
    assert_eq!((report.events, report.malformed), (1, 1), "{report:?}");
    assert_eq!(
        report.malformed_lines[0].reason,
        format!(
            "line longer than {} bytes ({} bytes)",
            64 << 10,
            256u64 << 20
        )
    );
    assert!(
        report.max_line_buffer <= 64 << 10,
        "held {} bytes of one line",
        report.max_line_buffer
    );
}

#[tokio::test]
async fn replaying_twice_stores_every_event_once_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("a.log");
    append(&plain, 0..40);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&plain)
        .unwrap()
        .write_all(b"trailing garbage\n\n")
        .unwrap();
    let gz = dir.path().join("b.log.gz");
    write_gz(&gz, 100..130);
    let files = [plain.clone(), gz.clone(), plain.clone()]; // named twice: read once
    let store = store(dir.path()).await;
    let p = pipeline(&store).await;
    let first = replay_files(&files, &resumable(&store), &p).await.unwrap();
    assert_eq!((first.events, first.malformed), (70, 1), "{first:?}");
    assert_eq!((first.already_replayed, first.resumed), (0, 0));

    let again = replay_files(&files, &resumable(&store), &p).await.unwrap();
    assert_eq!(
        (again.events, again.malformed, again.lines),
        (0, 0, 0),
        "{again:?}"
    );
    assert_eq!(again.already_replayed, 2, "{again:?}");
    assert_eq!(
        again.skipped_bytes,
        std::fs::metadata(&plain).unwrap().len()
            + (100..130).map(|i| line(i).len() as u64).sum::<u64>()
    );
    assert_eq!(store.stats().await.unwrap().events, 70);

    // A file that grew is resumed; line numbers stay those of the file.
    append(&plain, 40..45);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&plain)
        .unwrap()
        .write_all(b"more garbage\n")
        .unwrap();
    let grown = replay_files(&files, &resumable(&store), &p).await.unwrap();
    assert_eq!(
        (grown.events, grown.resumed, grown.already_replayed),
        (5, 1, 1),
        "{grown:?}"
    );
    assert_eq!(grown.malformed_lines[0].line, 48, "{grown:?}");

    // --restart reads everything again.
    let restart = ReplayOptions {
        restart: true,
        ..resumable(&store)
    };
    let r = replay_files(&files, &restart, &p).await.unwrap();
    assert_eq!((r.events, r.skipped_bytes), (75, 0), "{r:?}");
    assert_eq!(store.stats().await.unwrap().events, 150);

    // A different file at the same path starts over.
    std::fs::remove_file(&plain).unwrap();
    append(&plain, 200..203);
    let r = replay_files(std::slice::from_ref(&plain), &resumable(&store), &p)
        .await
        .unwrap();
    assert_eq!((r.events, r.skipped_bytes), (3, 0), "{r:?}");
}

#[tokio::test]
async fn an_interrupted_replay_rerun_stores_every_event_exactly_once() {
    // A replay killed after some batches has committed a prefix of the file with its
    // checkpoint: simulate it by replaying the file while it holds only that prefix.
    for gzip in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join(if gzip { "a.log.gz" } else { "a.log" });
        let store = store(dir.path()).await;
        let p = pipeline(&store).await;
        if gzip {
            write_gz(&log, 0..23);
        } else {
            append(&log, 0..23);
        }
        let r = replay_files(std::slice::from_ref(&log), &resumable(&store), &p)
            .await
            .unwrap();
        assert_eq!(r.events, 23);
        if gzip {
            write_gz(&log, 0..100); // rewritten, same inode: the decompressed prefix is the same
        } else {
            append(&log, 23..100);
        }
        let r = replay_files(std::slice::from_ref(&log), &resumable(&store), &p)
            .await
            .unwrap();
        assert_eq!((r.events, r.resumed), (77, 1), "gzip {gzip}: {r:?}");
        let mut got = all_uas(&store).await;
        got.sort();
        let mut want = expected(0..100);
        want.sort();
        assert_eq!(got, want, "gzip {gzip}: lost or repeated");
    }
}

#[tokio::test]
async fn a_truncated_gzip_is_resumed_to_its_readable_end_and_reported_again() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("a.log.gz");
    let bytes = write_gz(&bad, 0..2000);
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let store = store(dir.path()).await;
    let p = pipeline(&store).await;
    let first = replay_files(std::slice::from_ref(&bad), &resumable(&store), &p)
        .await
        .unwrap();
    assert_eq!(first.failed, 1, "{first:?}");
    assert!(first.per_file[0].error.is_some(), "{first:?}");
    let again = replay_files(std::slice::from_ref(&bad), &resumable(&store), &p)
        .await
        .unwrap();
    assert_eq!(
        (again.events, again.malformed, again.failed),
        (0, 1, 1),
        "{again:?}"
    );
    assert_eq!(again.malformed_lines[0].line, first.malformed_lines[0].line);
    assert_eq!(store.stats().await.unwrap().events, first.events);
}

#[tokio::test]
async fn replay_reports_an_unreadable_file_and_carries_on_with_the_next() {
    let dir = tempfile::tempdir().unwrap();
    // A directory opens but cannot be read: an I/O error on that file only.
    let unreadable = dir.path().join("dir.log");
    std::fs::create_dir(&unreadable).unwrap();
    let good = dir.path().join("b.log");
    append(&good, 0..5);
    let store = store(dir.path()).await;
    let p = pipeline(&store).await;
    let r = replay_files(&[unreadable, good], &resumable(&store), &p)
        .await
        .unwrap();
    assert_eq!((r.files, r.failed, r.events), (2, 1, 5), "{r:?}");
    assert!(r.per_file[0].error.is_some(), "{r:?}");
    assert_eq!(r.per_file[1].error, None);
}

#[tokio::test]
async fn follow_reports_an_over_long_line_once_and_skips_it_across_chunks_and_restarts() {
    // Regression: a line longer than a chunk was cut at the chunk and its pieces decoded as
    // lines.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let store = store(dir.path()).await;
    let p = pipeline(&store).await;
    let opts = FollowOptions {
        poll: Duration::from_millis(20),
        chunk_bytes: 4096,
        max_line_bytes: 1000,
        ..Default::default()
    };
    append(&log, 0..3);
    let mut f = start_with(&log, &store, &p, opts.clone());
    f.until_events(3).await;
    // An over-long line, still being written: its head spans several chunks.
    let mut h = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let junk = format!(
        "198.51.100.1 - - [04/Jan/2026:08:00:00 +0000] \"GET /{} HTTP/1.1\" 200 1 \"-\" \"long\"",
        "a".repeat(20_000)
    );
    h.write_all(&junk.as_bytes()[..10_000]).unwrap();
    h.flush().unwrap();
    let reached = tokio::time::timeout(
        Duration::from_secs(20),
        f.stats.wait_for(|s| s.malformed >= 1),
    )
    .await
    .is_ok();
    assert!(reached, "{:?}", *f.stats.borrow());
    // Restart mid-line: the checkpoint is at the line's start, never in its middle.
    let s = f.stop().await;
    assert_eq!((s.events, s.malformed), (3, 1), "{s:?}");
    h.write_all(&junk.as_bytes()[10_000..]).unwrap();
    h.write_all(b"\n").unwrap();
    drop(h);
    append(&log, 3..6);
    let mut f = start_with(&log, &store, &p, opts);
    f.until_events(3).await;
    let s = f.stop().await;
    assert_eq!((s.events, s.malformed), (3, 1), "{s:?}");
    let mut got = all_uas(&store).await;
    got.sort();
    assert_eq!(got, expected(0..6), "pieces of the long line were stored");
}

#[tokio::test]
async fn follow_warns_when_a_checkpointed_file_cannot_be_found() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let store = store(dir.path()).await;
    let p = pipeline(&store).await;
    append(&log, 0..5);
    let mut f = start(&log, &store, &p);
    f.until_events(5).await;
    let s = f.stop().await;
    assert_eq!(s.lost_checkpoints, 0);
    // Rotated out of its directory (or deleted) while stopped: its tail cannot be read.
    append(&log, 5..8);
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::rename(&log, elsewhere.path().join("access.log.1")).unwrap();
    append(&log, 8..10);
    let mut f = start(&log, &store, &p);
    f.until_events(2).await;
    let s = f.stop().await;
    assert_eq!((s.lost_checkpoints, s.events), (1, 2), "{s:?}");
}

#[test]
fn followed_paths_are_resolved_to_absolute_ones() {
    use rampart_ingest::follow::resolve_path;
    let cwd = std::env::current_dir().unwrap().canonicalize().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let tmp_real = tmp.path().canonicalize().unwrap();
    let cases: Vec<(std::path::PathBuf, std::path::PathBuf)> = vec![
        ("app.log".into(), cwd.join("app.log")),
        ("./app.log".into(), cwd.join("app.log")),
        ("src/app.log".into(), cwd.join("src/app.log")),
        (tmp.path().join("app.log"), tmp_real.join("app.log")),
        (
            tmp.path().join("missing-dir/app.log"),
            tmp.path().join("missing-dir/app.log"),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(resolve_path(&input), want, "{}", input.display());
    }
}

#[tokio::test]
async fn replay_reports_lines_with_out_of_range_times_as_malformed() {
    // A log line dated before 1990 (or after 2200) is no event the store can keep: it is a
    // malformed line with its file and line number, not a silent drop.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("old.log");
    let old = line(2).replace("/2026:", "/1985:");
    assert_ne!(old, line(2));
    std::fs::write(&log, format!("{}{old}{}", line(1), line(3))).unwrap();
    let store = store(dir.path()).await;
    let p = pipeline(&store).await;
    let report = replay_files(std::slice::from_ref(&log), &ReplayOptions::default(), &p)
        .await
        .unwrap();
    assert_eq!((report.events, report.malformed), (2, 1), "{report:?}");
    assert_eq!(report.malformed_lines[0].line, 2);
    assert!(
        report.malformed_lines[0].reason.contains("accepted range"),
        "{:?}",
        report.malformed_lines
    );
}
