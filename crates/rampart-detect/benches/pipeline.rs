//! Decode + detect on one thread: 1M generated nginx `combined` lines held in memory,
//! decoded by [`AutoDecoder`] and fed to an [`Engine`] with every built-in behavioural
//! detector. 5 runs of each of decode-only, detect-only (events decoded beforehand) and
//! decode + detect; prints median events/s, state size and peak RSS (`VmHWM`).
//!
//! Traffic: ~2k client IPs, 50 endpoints (two fifths with an id in the path, the rest with a
//! query string), some logged-in users, 2% 404s, 1% 401s on login.
//!
//! Two traffic shapes (`PIPELINE_TRAFFIC`):
//! - `returning` (default): like a real API, clients come back to the few endpoints their
//!   client app uses: each IP calls 8 endpoints of its own (chosen from its address), and 1%
//!   of calls go to any endpoint. About 20k (IP x endpoint) pairs, under the default caps.
//! - `uniform`: every IP calls every endpoint with equal odds: ~200k pairs, above the default
//!   caps of the per-pair detectors (50k-100k), so their tables evict on nearly every event.
//!   The worst case for state churn; the figure the first round of speed work reported.
//!
//! Run: `cargo bench -p rampart-detect --bench pipeline`. For profiling under callgrind,
//! `PIPELINE_LINES` and `PIPELINE_RUNS` shrink the work (defaults 1,000,000 and 5).

use std::hint::black_box;
use std::time::Instant;

use rampart_decode::{AutoDecoder, DecodeConfig};
use rampart_detect::config::DetectConfig;
use rampart_detect::Engine;
use rampart_model::ApiEvent;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "curl/8.4.0",
    "python-requests/2.31.0",
    "okhttp/4.12.0",
];

fn gen(lines: usize, uniform: bool) -> Vec<String> {
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
    (0..lines)
        .map(|i| {
            let r = rnd();
            let r2 = rnd();
            let ip = std::net::Ipv4Addr::from(0x0a00_0000u32 + (r % 2_000) as u32);
            let pick = if uniform || r2 % 100 == 99 {
                (r >> 16) % 50
            } else {
                // One of this IP's own 8 endpoints.
                let ip_no = r % 2_000;
                (ip_no * 7 + ((r >> 16) % 8) * 13) % 50
            };
            let p = &paths[pick as usize];
            let target = if p.ends_with('/') {
                format!("{p}{}", (r >> 24) % 5_000)
            } else {
                format!("{p}?q=abc&limit={}", (r >> 30) % 50)
            };
            let method = if r % 10 == 0 { "POST" } else { "GET" };
            let status = if p.contains("login") && r2 % 100 == 0 {
                401
            } else if r2 % 50 == 1 {
                404
            } else {
                200
            };
            let user = if r2 % 3 == 0 {
                format!("user{}", r % 2_000)
            } else {
                "-".to_owned()
            };
            // 2 ms apart, starting 2026-01-04 08:00:00.
            let t = 8 * 3_600 + (i as u64 * 2) / 1_000;
            let (day, h, m, s) = (4 + t / 86_400, (t / 3_600) % 24, (t / 60) % 60, t % 60);
            let ua = UAS[(r2 >> 8) as usize % UAS.len()];
            format!(
                "{ip} - {user} [{day:02}/{}/2026:{h:02}:{m:02}:{s:02} +0000] \"{method} {target} HTTP/1.1\" {status} {} \"https://app.example.com/\" \"{ua}\"",
                MONTHS[0],
                1_000 + r % 5_000
            )
        })
        .collect()
}

fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() {
    let (n, runs) = (
        env_or("PIPELINE_LINES", 1_000_000),
        env_or("PIPELINE_RUNS", 5),
    );
    let traffic = std::env::var("PIPELINE_TRAFFIC").unwrap_or_else(|_| "returning".to_owned());
    let uniform = match traffic.as_str() {
        "returning" => false,
        "uniform" => true,
        other => panic!("PIPELINE_TRAFFIC must be returning or uniform, not {other:?}"),
    };
    let lines = gen(n, uniform);
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let input_kb = vm_hwm_kb();
    let dcfg = DecodeConfig::default();
    let cfg = DetectConfig::default();
    let detectors = Engine::builtin(&cfg).ids().len();

    // Decode + detect: the figure for BENCHMARKS.md.
    let mut rates = Vec::new();
    let (mut state, mut alerts) = (0usize, 0usize);
    for _ in 0..runs {
        let mut dec = AutoDecoder::new();
        let mut engine = Engine::builtin(&cfg);
        let mut out = Vec::with_capacity(1024);
        let t = Instant::now();
        let mut ok = 0usize;
        for l in &lines {
            if let Ok(ev) = dec.decode(l, &dcfg) {
                ok += 1;
                engine.observe(&ev, &mut out);
                if out.len() > 512 {
                    alerts += out.len();
                    out.clear();
                }
            }
        }
        let dt = t.elapsed().as_secs_f64();
        assert_eq!(ok, n, "every generated line must decode");
        alerts += out.len();
        rates.push(n as f64 / dt);
        state = engine.state_bytes();
    }
    let hwm_pipeline = vm_hwm_kb();
    let (med, lo, hi) = median(rates);
    println!(
        "decode+detect: {n} combined lines ({:.0} B/line, {traffic} traffic), {detectors} detectors, median {med:.0} events/s (min {lo:.0}, max {hi:.0}), state {state} bytes, {alerts} alerts over {runs} runs",
        bytes as f64 / n as f64
    );
    println!(
        "peak RSS (VmHWM) {} MB, of which input lines {} MB",
        hwm_pipeline / 1024,
        input_kb / 1024
    );

    // Decode only.
    let mut rates = Vec::new();
    for _ in 0..runs {
        let mut dec = AutoDecoder::new();
        let t = Instant::now();
        for l in &lines {
            if let Ok(ev) = dec.decode(l, &dcfg) {
                black_box(&ev);
            }
        }
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    let (med, lo, hi) = median(rates);
    println!("decode only:   median {med:.0} lines/s (min {lo:.0}, max {hi:.0})");

    // Detect only, over events decoded beforehand.
    let mut dec = AutoDecoder::new();
    let events: Vec<ApiEvent<'_>> = lines
        .iter()
        .filter_map(|l| dec.decode(l, &dcfg).ok())
        .collect();
    let mut rates = Vec::new();
    for _ in 0..runs {
        let mut engine = Engine::builtin(&cfg);
        let mut out = Vec::with_capacity(1024);
        let t = Instant::now();
        for ev in &events {
            engine.observe(ev, &mut out);
            if out.len() > 512 {
                out.clear();
            }
        }
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    let (med, lo, hi) = median(rates);
    println!("detect only:   median {med:.0} events/s (min {lo:.0}, max {hi:.0})");
}
