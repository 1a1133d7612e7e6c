//! Decode throughput: 1,000,000 generated lines per format (`combined`, `nginx_json`,
//! `rampart`), 5 runs each on one thread, median lines/s and MB/s.
//!
//! Run: `cargo bench -p rampart-decode --bench decode`.

use std::hint::black_box;
use std::time::Instant;

use rampart_decode::{decoder_by_name, DecodeConfig};

const LINES: usize = 1_000_000;
const RUNS: usize = 5;

/// Small deterministic PRNG (xorshift) so the bench needs no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

const PATHS: &[&str] = &[
    "/api/v1/users/42",
    "/api/v1/orders?limit=20&offset=40",
    "/api/v1/products/9981/reviews",
    "/login",
    "/static/app.3f9a.js",
    "/api/v2/search?q=red%20shoes&page=2",
    "/health",
];
const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "PUT", "DELETE"];
const UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "curl/8.4.0",
    "python-requests/2.31.0",
    "okhttp/4.12.0",
];
const STATUSES: &[&str] = &[
    "200", "200", "200", "201", "204", "301", "401", "403", "404", "500",
];

fn ip(r: &mut Rng) -> String {
    let v = r.next();
    format!(
        "{}.{}.{}.{}",
        1 + v % 223,
        (v >> 8) % 256,
        (v >> 16) % 256,
        1 + (v >> 24) % 254
    )
}

fn gen(format: &str) -> Vec<String> {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::with_capacity(LINES);
    for i in 0..LINES {
        let (m, p, ua, st, ip) = (
            r.pick(METHODS),
            r.pick(PATHS),
            r.pick(UAS),
            r.pick(STATUSES),
            ip(&mut r),
        );
        let sec = i % 60;
        let size = r.next() % 50_000;
        let line = match format {
            "combined" => format!(
                "{ip} - - [04/Jan/2026:08:41:{sec:02} +0000] \"{m} {p} HTTP/1.1\" {st} {size} \"https://app.example.com/\" \"{ua}\""
            ),
            "nginx_json" => format!(
                "{{\"time\":\"2026-01-04T08:41:{sec:02}+00:00\",\"remote_addr\":\"{ip}\",\"x_forwarded_for\":\"\",\"remote_user\":\"\",\"request_method\":\"{m}\",\"scheme\":\"https\",\"host\":\"api.example.com\",\"request_uri\":\"{p}\",\"server_protocol\":\"HTTP/1.1\",\"status\":{st},\"request_length\":312,\"body_bytes_sent\":{size},\"request_time\":0.012,\"upstream_addr\":\"10.0.0.5:8080\",\"http_user_agent\":\"{ua}\",\"http_referer\":\"\",\"http_authorization\":\"\",\"http_x_api_key\":\"\"}}"
            ),
            _ => format!(
                "{{\"ts\":\"2026-01-04T08:41:{sec:02}.123Z\",\"client_ip\":\"{ip}\",\"peer_ip\":\"10.0.0.1\",\"method\":\"{m}\",\"scheme\":\"https\",\"host\":\"api.example.com\",\"path\":\"/api/v1/users/{i}\",\"query\":\"expand=true\",\"protocol\":\"HTTP/1.1\",\"status\":{st},\"request_bytes\":312,\"response_bytes\":{size},\"latency_ms\":12.5,\"service\":\"users\",\"request\":{{\"headers\":{{\"user-agent\":\"{ua}\",\"accept\":\"application/json\"}}}},\"response\":{{\"headers\":{{\"content-type\":\"application/json\"}},\"body\":\"{{\\\"id\\\":{i},\\\"name\\\":\\\"user\\\"}}\"}}}}"
            ),
        };
        out.push(line);
    }
    out
}

fn main() {
    let cfg = DecodeConfig::default();
    for format in ["combined", "nginx_json", "rampart"] {
        let Some(d) = decoder_by_name(format) else {
            eprintln!("no decoder named {format}");
            std::process::exit(1);
        };
        let lines = gen(format);
        let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
        let mut rates = Vec::new();
        for _ in 0..RUNS {
            let start = Instant::now();
            let mut ok = 0usize;
            for l in &lines {
                if let Ok(ev) = d.decode(l, &cfg) {
                    ok += usize::from(ev.status > 0);
                    black_box(&ev);
                }
            }
            let el = start.elapsed().as_secs_f64();
            assert_eq!(ok, LINES, "{format}: every generated line must decode");
            rates.push(LINES as f64 / el);
        }
        rates.sort_by(f64::total_cmp);
        let med = rates[RUNS / 2];
        let mbs = med * (bytes as f64 / LINES as f64) / 1e6;
        println!(
            "{format:<11} {:>10.0} lines/s  {:>7.1} MB/s  (median of {RUNS}, {LINES} lines, {:.0} B/line)",
            med,
            mbs,
            bytes as f64 / LINES as f64
        );
    }
}
