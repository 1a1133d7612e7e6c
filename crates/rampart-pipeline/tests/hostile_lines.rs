//! Hostile log lines through decode and detection (the engine `rampart_pipeline::build_engine`
//! assembles, with the SigmaHQ web rules when `../shared/corpora/sigma-web` is there): deeply
//! nested JSON, huge numbers, invalid escapes, NUL bytes, 1 MB fields, many headers and
//! parameters. Pure (no store): for every record, no panic, a bounded time, and the engine's
//! live heap (measured by a counting allocator, not by the detectors' own estimate) stays
//! bounded however many distinct hostile records it has seen.
//!
//! One test function only: the allocator's count is process-wide.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_decode::{AutoDecoder, DecodeConfig};
use rampart_pipeline::{build_engine, DetectionSetup};

/// Counts live heap bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// No record may take longer than this through decode + detect (a sanity bound for a loaded
/// debug build; the slowest is printed).
const MAX_RECORD: Duration = Duration::from_secs(10);

/// Most the engine's live heap may grow over all hostile records. Today about 13 MiB: scratch
/// buffers (templates, lowercased and decoded fields for Sigma) keep the capacity the largest
/// field gave them.
const MAX_GROWTH: usize = 32 << 20;

/// Most the live heap may grow within a case after its first record: distinct hostile records
/// (each with its own 1 MB path, user agent, ...) must not accumulate; keys are hashed or
/// capped, so storing one whole field per record would break this at once.
const MAX_CASE_GROWTH: usize = 2 << 20;

/// Distinct records per case, and per case of 1 MB records (slow in a debug build: the
/// Sigma rules scan every field).
const PER_CASE: usize = 20;
const PER_BIG_CASE: usize = 4;

const MB: usize = 1 << 20;

fn combined(i: usize, path: &str, ua: &str) -> String {
    format!(
        "203.0.113.{} - - [04/Jan/2026:08:{:02}:{:02} +0000] \"GET {path} HTTP/1.1\" 200 12 \"-\" \"{ua}\"",
        i % 250,
        (i / 60) % 60,
        i % 60
    )
}

fn rampart_json(i: usize, extra: &str) -> String {
    format!(
        "{{\"ts\":{},\"client_ip\":\"198.51.100.{}\",\"method\":\"POST\",\"host\":\"api.example.com\",\"path\":\"/api/v1/items/{i}\",\"status\":200{extra}}}",
        1_767_225_600_000u64 + i as u64 * 1000,
        i % 250
    )
}

/// Makes the line of record `i` of a case.
type LineOf = Box<dyn Fn(usize) -> String>;

/// (case, line of record `i`).
fn cases() -> Vec<(&'static str, LineOf)> {
    vec![
        (
            "json nested 10k levels",
            Box::new(|i| {
                rampart_json(
                    i,
                    &format!(",\"x\":{}1{}", "[".repeat(10_000), "]".repeat(10_000)),
                )
            }),
        ),
        (
            "json nested 10k objects in headers",
            Box::new(|i| {
                rampart_json(
                    i,
                    &format!(
                        ",\"request\":{{\"headers\":{}\"v\"{}}}",
                        "{\"a\":".repeat(10_000),
                        "}".repeat(10_000)
                    ),
                )
            }),
        ),
        (
            "json huge numbers",
            Box::new(|i| {
                format!(
                    "{{\"ts\":1e999,\"client_ip\":\"198.51.100.{}\",\"method\":\"GET\",\"path\":\"/n\",\"status\":{}99999999999999999999,\"request_bytes\":-1e400,\"latency_ms\":1e308}}",
                    i % 250,
                    "9".repeat(i % 50)
                )
            }),
        ),
        (
            "json huge but valid numbers",
            Box::new(|i| {
                rampart_json(i, ",\"request_bytes\":18446744073709551615,\"response_bytes\":1e19,\"latency_ms\":1.7976931348623157e308")
            }),
        ),
        (
            "json invalid escapes",
            Box::new(|i| {
                let bad = ["\\x41", "\\ud800", "\\u12", "\\", "\\udc00\\ud800", "\\q"][i % 6];
                rampart_json(i, &format!(",\"principal\":\"a{bad}b\""))
            }),
        ),
        (
            "NUL bytes",
            Box::new(|i| combined(i, &format!("/a\0b/{i}?q=\0"), "ua\0\0")),
        ),
        (
            "json NUL escapes",
            Box::new(|i| {
                rampart_json(i, ",\"request\":{\"headers\":{\"user-agent\":\"a\\u0000b\",\"x\\u0000\":\"\\u0000\"}}")
            }),
        ),
        (
            "1 MB path",
            Box::new(|i| combined(i, &format!("/{i}/{}", "a".repeat(MB)), "curl/8")),
        ),
        (
            "1 MB query",
            Box::new(|i| {
                combined(
                    i,
                    &format!("/search?q={i}{}", "%27%20or%201=1".repeat(MB / 14)),
                    "curl/8",
                )
            }),
        ),
        (
            "1 MB user agent",
            Box::new(|i| combined(i, "/ua", &format!("{i}{}", "Mozilla/5.0 ".repeat(MB / 12)))),
        ),
        (
            "1 MB json service and body",
            Box::new(|i| {
                rampart_json(
                    i,
                    &format!(
                        ",\"service\":\"s{i}{}\",\"request\":{{\"body\":\"{}\"}}",
                        "x".repeat(MB),
                        "password=hunter2&".repeat(MB / 17)
                    ),
                )
            }),
        ),
        (
            "many headers",
            Box::new(|i| {
                let headers: Vec<String> = (0..20_000)
                    .map(|h| format!("\"x-h-{i}-{h}\":\"v{h}\""))
                    .collect();
                rampart_json(
                    i,
                    &format!(",\"request\":{{\"headers\":{{{}}}}}", headers.join(",")),
                )
            }),
        ),
        (
            "many query parameters",
            Box::new(|i| combined(i, &format!("/p{i}?{}", "a=1&".repeat(100_000)), "curl/8")),
        ),
        (
            "1 MB of brackets",
            Box::new(|i| format!("[{i}{}", "[".repeat(MB))),
        ),
    ]
}

#[test]
fn hostile_lines_are_bounded_in_time_and_state() {
    let sigma_dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora/sigma-web");
    let sigma = if sigma_dir.is_dir() {
        let (rules, _) = rampart_sigma::load_dir(&sigma_dir).expect("load sigma rules");
        Some(Arc::new(rules))
    } else {
        eprintln!(
            "hostile_lines: Sigma corpus MISSING at {}; running the built-in detectors only",
            sigma_dir.display()
        );
        None
    };
    let mut setup = DetectionSetup::default();
    if let Some(rules) = sigma {
        setup.set_sigma(rules);
    }
    let mut engine = build_engine(&setup);
    let cfg = DecodeConfig::default();
    let mut decoder = AutoDecoder::new();
    let mut out = Vec::new();
    let base = LIVE.load(Ordering::Relaxed);
    let mut peak_growth = 0usize;
    let started = Instant::now();
    for (case, line) in cases() {
        let (mut slowest, mut decoded, mut alerts) = (Duration::ZERO, 0, 0);
        let records = if line(0).len() >= MB {
            PER_BIG_CASE
        } else {
            PER_CASE
        };
        let mut after_first = 0;
        for i in 0..records {
            let text = line(i);
            let t = Instant::now();
            if let Ok(ev) = decoder.decode(&text, &cfg) {
                decoded += 1;
                engine.observe(&ev, &mut out);
            }
            let took = t.elapsed();
            slowest = slowest.max(took);
            assert!(
                took <= MAX_RECORD,
                "{case}: record {i} ({} bytes) took {took:?}",
                text.len()
            );
            alerts += out.len();
            out.clear();
            drop(text);
            let growth = LIVE.load(Ordering::Relaxed).saturating_sub(base);
            peak_growth = peak_growth.max(growth);
            assert!(
                growth <= MAX_GROWTH,
                "{case}: after record {i} the engine holds {} MiB more than at start",
                growth >> 20
            );
            if i == 0 {
                after_first = growth;
            }
            assert!(
                growth.saturating_sub(after_first) <= MAX_CASE_GROWTH,
                "{case}: {i} more distinct records grew the engine by {} KiB",
                growth.saturating_sub(after_first) >> 10
            );
        }
        eprintln!(
            "  {case:<36} decoded {decoded:>2}/{records}  alerts {alerts:>4}  slowest {slowest:>10.3?}  engine +{:.1} MiB (estimate {:.1} MiB)",
            LIVE.load(Ordering::Relaxed).saturating_sub(base) as f64 / MB as f64,
            engine.state_bytes() as f64 / MB as f64
        );
    }
    eprintln!(
        "hostile_lines: {} cases in {:.1?}; peak engine growth {:.1} MiB",
        cases().len(),
        started.elapsed(),
        peak_growth as f64 / MB as f64
    );
}
