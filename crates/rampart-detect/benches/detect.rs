//! Throughput of the engine with every built-in behavioural detector: 1M synthetic benign
//! events (~2k IPs, ~50 endpoints), 5 runs, median events/s and state size.

use std::borrow::Cow;
use std::time::Instant;

use rampart_detect::config::DetectConfig;
use rampart_detect::Engine;
use rampart_model::{ApiEvent, Timestamp};

fn main() {
    let n = 1_000_000usize;
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let paths: Vec<String> = (0..50)
        .map(|i| match i % 5 {
            0 => format!("/api/v1/res{i}/"),
            1 => format!("/api/v1/res{i}/search"),
            2 => format!("/api/v1/res{i}/items/"),
            3 => format!("/api/v1/res{i}/list"),
            _ => format!("/api/v1/auth/login{i}"),
        })
        .collect();
    let events: Vec<ApiEvent<'static>> = (0..n)
        .map(|i| {
            let r = rnd();
            let ip = std::net::Ipv4Addr::from(0x0a00_0000u32 + (r % 2_000) as u32);
            let p = &paths[((r >> 16) % 50) as usize];
            let (path, query) = if p.ends_with('/') {
                (format!("{p}{}", (r >> 24) % 5_000), String::new())
            } else {
                (p.clone(), format!("q=abc&limit={}", (r >> 30) % 50))
            };
            ApiEvent {
                ts: Timestamp::from_millis(1_700_000_000_000 + i as i64 * 2),
                client_ip: Some(ip.into()),
                method: Cow::Borrowed(if r % 10 == 0 { "POST" } else { "GET" }),
                path: Cow::Owned(path),
                query: Cow::Owned(query),
                status: if rnd() % 50 == 0 { 404 } else { 200 },
                request_bytes: Some(200 + r % 500),
                response_bytes: Some(1_000 + r % 5_000),
                latency_us: Some(20_000 + r % 30_000),
                principal: Some(Cow::Owned(format!("user{}", r % 2_000))),
                authenticated: true,
                ..Default::default()
            }
        })
        .collect();
    let cfg = DetectConfig::default();
    let mut rates = Vec::new();
    let mut state = 0;
    let mut alerts = 0;
    let mut by_id = std::collections::BTreeMap::new();
    for _ in 0..5 {
        let mut engine = Engine::builtin(&cfg);
        let mut out = Vec::with_capacity(1024);
        let t = Instant::now();
        for e in &events {
            engine.observe(e, &mut out);
            if out.len() > 512 {
                alerts += out.len();
                for a in out.drain(..) {
                    *by_id.entry(a.detector).or_insert(0usize) += 1;
                }
            }
        }
        let dt = t.elapsed().as_secs_f64();
        alerts += out.len();
        for a in out.drain(..) {
            *by_id.entry(a.detector).or_insert(0usize) += 1;
        }
        rates.push(n as f64 / dt);
        state = engine.state_bytes();
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    println!(
        "detect: {} events, {} detectors, median {:.0} events/s (min {:.0}, max {:.0}), state {} bytes, {} alerts over 5 runs",
        n,
        Engine::builtin(&cfg).ids().len(),
        rates[2],
        rates[0],
        rates[4],
        state,
        alerts
    );
    println!("alerts by detector (5 runs): {by_id:?}");
}
