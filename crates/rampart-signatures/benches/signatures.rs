//! Throughput of all built-in content detectors over 1M mostly-benign events.
//! Run: `cargo bench -p rampart-signatures --bench signatures`.

use std::borrow::Cow;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use rampart_detect::registry::{Resources, Settings};
use rampart_detect::EventCtx;
use rampart_model::{ApiEvent, Timestamp};
use rampart_signatures::{builtin, DETECTORS};

const N: usize = 1_000_000;

fn events(n: usize) -> Vec<ApiEvent<'static>> {
    let paths = [
        "/api/v2/users/12345",
        "/api/v2/orders/987654/items",
        "/api/v2/products",
        "/api/v2/search",
        "/health",
        "/api/v2/users/12345/profile",
        "/static/app.js",
        "/api/v1/carts/abc123",
    ];
    let uas = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        "okhttp/4.12.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
        "axios/1.6.2",
    ];
    let queries = [
        "",
        "page=2&limit=50",
        "q=red%20shoes&sort=price",
        "include=items,customer",
    ];
    let attacks = [
        ("/foo", "a=%20union%20select%20password%20from%20users"),
        ("/.env", ""),
        (
            "/api/v2/fetch",
            "url=http://169.254.169.254/latest/meta-data/",
        ),
        ("/cgi-bin/.%2e/.%2e/etc/passwd", ""),
    ];
    (0..n)
        .map(|i| {
            let attack = i % 1000 == 999;
            let (path, query) = if attack {
                attacks[(i / 1000) % attacks.len()]
            } else {
                (paths[i % paths.len()], queries[(i / 7) % queries.len()])
            };
            ApiEvent {
                ts: Timestamp::from_millis(1_700_000_000_000 + (i as i64) * 2),
                client_ip: Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + (i as u32 % 5000)))),
                method: Cow::Borrowed(if i % 5 == 0 { "POST" } else { "GET" }),
                host: Cow::Borrowed("api.example.com"),
                path: Cow::Borrowed(path),
                query: Cow::Borrowed(query),
                protocol: Cow::Borrowed("HTTP/1.1"),
                status: if i % 50 == 0 { 404 } else { 200 },
                user_agent: Cow::Borrowed(uas[i % uas.len()]),
                referer: Cow::Borrowed(if i % 3 == 0 { "https://app.example.com/dashboard" } else { "" }),
                request_body: (i % 5 == 0).then_some(Cow::Borrowed(
                    r#"{"name":"Alice O'Brien","email":"alice@example.com","items":[{"sku":"A-1","qty":2}],"note":"leave at door"}"#,
                )),
                ..Default::default()
            }
        })
        .collect()
}

/// Events per run: `RAMPART_BENCH_EVENTS` (default 1M; smaller under callgrind).
fn n_events() -> usize {
    std::env::var("RAMPART_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(N)
}

/// Runs: `RAMPART_BENCH_RUNS` (default 5).
fn n_runs() -> usize {
    std::env::var("RAMPART_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1)
}

fn main() {
    let evs = events(n_events());
    let n = evs.len();
    // `EventCtx::new` alone, for reference (the engine builds it once per event for every
    // detector, so it is not part of the signatures' own cost).
    let t = Instant::now();
    for ev in &evs {
        black_box(EventCtx::new(black_box(ev)));
    }
    let ctx_ns = t.elapsed().as_nanos() as f64 / n as f64;

    let mut rates = Vec::new();
    let mut alerts_total = 0;
    for run in 0..n_runs() {
        let mut dets = builtin();
        let mut out = Vec::new();
        let t = Instant::now();
        for ev in &evs {
            let cx = EventCtx::new(ev);
            for d in dets.iter_mut() {
                d.observe(&cx, &mut out);
            }
        }
        let dt = t.elapsed();
        alerts_total = out.len();
        black_box(&out);
        let rate = n as f64 / dt.as_secs_f64();
        println!(
            "run {run}: {:.0} events/s ({:.0} ns/event), {} alerts",
            rate,
            1e9 / rate,
            out.len()
        );
        rates.push(rate);
    }
    // Per-detector cost, one run each, over precomputed contexts.
    let ctxs: Vec<EventCtx<'_>> = evs.iter().map(EventCtx::new).collect();
    let mut sum = 0.0;
    for reg in DETECTORS {
        let mut d = (reg.build)(&Settings::default(), &Resources::default()).expect("defaults");
        let mut out = Vec::new();
        let t = Instant::now();
        for cx in &ctxs {
            d.observe(cx, &mut out);
        }
        let dt = t.elapsed();
        black_box(&out);
        let ns = dt.as_nanos() as f64 / n as f64;
        sum += ns;
        println!("  {:<24} {:>7.1} ns/event", d.id(), ns);
    }
    println!("  {:<24} {:>7.1} ns/event", "(sum of detectors)", sum);
    println!("  {:<24} {:>7.1} ns/event", "(EventCtx::new)", ctx_ns);
    rates.sort_by(|a, b| a.total_cmp(b));
    let median = rates[rates.len() / 2];
    println!(
        "median: {:.0} events/s ({:.0} ns/event) over {n} events, {alerts_total} alerts per run \
         (EventCtx built per event inside the timed loop)",
        median,
        1e9 / median
    );
}
