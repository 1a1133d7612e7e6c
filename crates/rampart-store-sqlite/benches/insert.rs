//! Insert throughput: 200k events in batches of 1000 into a fresh SQLite file, median of 3
//! runs. `cargo bench -p rampart-store-sqlite --bench insert`.

use std::borrow::Cow;
use std::time::Instant;

use rampart_model::{ApiEvent, Timestamp};
use rampart_store::Store;
use rampart_store_sqlite::SqliteStore;

const EVENTS: usize = 200_000;
const BATCH: usize = 1000;
const RUNS: usize = 3;

fn events() -> Vec<ApiEvent<'static>> {
    (0..EVENTS)
        .map(|i| {
            let ip = format!("198.51.{}.{}", (i / 250) % 250, i % 250);
            let path = format!("/api/v1/users/{}", i % 5000);
            ApiEvent {
                ts: Timestamp(1_700_000_000_000 + i as i64),
                client_ip: ip.parse().ok(),
                method: Cow::Borrowed("GET"),
                scheme: Cow::Borrowed("https"),
                host: Cow::Borrowed("api.example.com"),
                query: Cow::Borrowed("page=2&sort=asc"),
                protocol: Cow::Borrowed("HTTP/1.1"),
                status: if i % 10 == 0 { 404 } else { 200 },
                response_bytes: Some(1234),
                latency_us: Some(2500),
                user_agent: Cow::Borrowed("Mozilla/5.0 (X11; Linux x86_64) bench"),
                principal: (i % 3 == 0).then_some(Cow::Borrowed("alice")),
                authenticated: i % 3 == 0,
                source_format: Cow::Borrowed("combined"),
                raw: Cow::Owned(format!(
                    "{ip} - - [14/Nov/2023:22:13:20 +0000] \"GET {path}?page=2&sort=asc HTTP/1.1\" 200 1234 \"-\" \"Mozilla/5.0 (X11; Linux x86_64) bench\""
                )),
                path: Cow::Owned(path),
                ..Default::default()
            }
        })
        .collect()
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let evs = events();
    let mut rates = Vec::with_capacity(RUNS);
    for run in 0..RUNS {
        let dir = tempfile::tempdir().expect("temp dir");
        let rate = rt.block_on(async {
            let store = SqliteStore::open(&dir.path().join("bench.db"))
                .await
                .expect("open");
            let start = Instant::now();
            for batch in evs.chunks(BATCH) {
                store.insert_events(batch, None).await.expect("insert");
            }
            let secs = start.elapsed().as_secs_f64();
            let stored = store.stats().await.expect("stats").events;
            assert_eq!(stored, EVENTS as u64);
            store.close().await;
            EVENTS as f64 / secs
        });
        println!("run {run}: {rate:.0} events/s");
        rates.push(rate);
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    println!(
        "sqlite insert_events: median {:.0} events/s ({EVENTS} events, batches of {BATCH}, synchronous=NORMAL)",
        rates[RUNS / 2]
    );
}
