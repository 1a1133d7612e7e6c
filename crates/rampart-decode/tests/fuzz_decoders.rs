//! A bounded, seeded fuzz run of every decoder in [`DECODERS`], small enough for CI.
//!
//! Seeds are real lines: every string literal in the decoders' own unit tests (read from
//! `src/formats/*.rs`) that its decoder accepts, plus the CrowdSec Hub HTTP fixture logs
//! (`../shared/corpora/crowdsec-hub-http`) when they are beside the checkout (the run says
//! so when they are not, and goes on with the built-in seeds). Each seed is mutated with a
//! structure-aware mutator (byte flips, truncations, deletions, duplications, splices of two
//! seeds, insertions of quotes, escapes, huge numbers, deep nesting, NUL and invalid UTF-8
//! bytes, very long fields, many parameters and headers); pure random input is fed as well.
//! Decoders take `&str`, so bytes become text with `String::from_utf8_lossy`.
//!
//! For every input and decoder (the decoder called directly, sniff or not, and through
//! `AutoDecoder`; what decodes is enriched again with every proxy trusted):
//! - no panic (the input is printed, escaped, when one happens),
//! - the decoded event's text is bounded by the input's size (no blow-up),
//! - no single decode takes more than [`MAX_DECODE`] (a sanity bound, generous for a loaded
//!   debug build; the maximum seen is printed).
//!
//! `RAMPART_FUZZ_ITERS` (mutated inputs per decoder, default 1500) and `RAMPART_FUZZ_SEED`
//! (default fixed, so a failure reproduces) tune the run; the figures are printed at the end
//! (`cargo test -p rampart-decode --test fuzz_decoders -- --nocapture`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rampart_decode::enrich::{enrich, EnrichInput};
use rampart_decode::{AutoDecoder, DecodeConfig, Decoder, DECODERS};
use rampart_model::ApiEvent;

/// No single decode may take longer than this (a sanity bound, not a benchmark).
const MAX_DECODE: Duration = Duration::from_secs(2);

/// The decoders' sources, whose unit tests hold real lines of every format.
const SOURCES: &[&str] = &[
    include_str!("../src/formats/clf.rs"),
    include_str!("../src/formats/diag.rs"),
    include_str!("../src/formats/json.rs"),
    include_str!("../src/formats/mapped.rs"),
    include_str!("../src/formats/text.rs"),
];

/// splitmix64: small, seeded, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// String literals (`r#"..."#`, `r"..."` and `"..."` with the common escapes) in Rust source.
fn string_literals(src: &str) -> Vec<String> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'r' && (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#')) {
            let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
            let open = i + 1 + hashes;
            if b.get(open) == Some(&b'"') {
                let close: String = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                if let Some(end) = src[open + 1..].find(&close) {
                    out.push(src[open + 1..open + 1 + end].to_string());
                    i = open + 1 + end + close.len();
                    continue;
                }
            }
        } else if b[i] == b'"' && (i == 0 || b[i - 1] != b'\'') {
            let mut s = String::new();
            let mut j = i + 1;
            let mut ok = false;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        ok = true;
                        break;
                    }
                    b'\\' if j + 1 < b.len() => {
                        match b[j + 1] {
                            b't' => s.push('\t'),
                            b'n' => s.push('\n'),
                            b'r' => s.push('\r'),
                            b'0' => s.push('\0'),
                            c => s.push(c as char),
                        }
                        j += 2;
                        continue;
                    }
                    _ => {
                        let ch = src[j..].chars().next().expect("char");
                        s.push(ch);
                        j += ch.len_utf8();
                        continue;
                    }
                }
            }
            if ok {
                out.push(s);
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    out
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/crowdsec-hub-http")
}

/// Lines of the CrowdSec Hub fixture logs, or `None` (said loudly) when the corpus is missing.
fn corpus_lines() -> Option<Vec<String>> {
    let dir = corpus_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "fuzz_decoders: CrowdSec corpus MISSING at {}; fuzzing the built-in seeds only",
            dir.display()
        );
        return None;
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    paths.sort();
    let mut lines = Vec::new();
    for d in paths {
        let Ok(files) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut logs: Vec<PathBuf> = files
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        logs.sort();
        for log in logs {
            let bytes = std::fs::read(&log).expect("read corpus log");
            let text = String::from_utf8_lossy(&bytes);
            lines.extend(
                text.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(str::to_owned),
            );
        }
    }
    Some(lines)
}

/// Things worth inserting into a log line.
fn token(rng: &mut Rng) -> Vec<u8> {
    const SMALL: &[&[u8]] = &[
        b"\"",
        b"\\",
        b"\\\"",
        b"\\u0000",
        b"\\ud800",
        b"\\udc00\\ud800",
        b"\\u",
        b"\\x",
        b"\\uZZZZ",
        b"{",
        b"}",
        b"[",
        b"]",
        b":",
        b",",
        b"=",
        b"&",
        b"?",
        b"#",
        b"%",
        b"%00",
        b"%zz",
        b"%2",
        b" ",
        b"\t",
        b"-",
        b"\0",
        b"\xff",
        b"\xc3",
        b"\xed\xa0\x80",
        b"\xf0\x9f\x98",
        b"99999999999999999999999999999999",
        b"-9223372036854775809",
        b"18446744073709551616",
        b"1e999",
        b"-1e-999",
        b"NaN",
        b"null",
        b"true",
        b"0x7fffffff",
        b"[31/Dec/9999:23:59:59 +9999]",
        b"+0000",
        b"9999-99-99T99:99:99Z",
        b"HTTP/1.1",
        b"Bearer ",
        b"authorization",
        b"x-forwarded-for",
        b"\"headers\":{",
        b"\"request\":",
        b"[client ",
        b"client: ",
        b"<Data Name=\"",
        b"</Data>",
    ];
    match rng.below(10) {
        0 => {
            // Deep nesting.
            let depth = 1 + rng.below(5000);
            let open: &[u8] = match rng.below(3) {
                0 => b"[",
                1 => b"{\"a\":",
                _ => b"{\"request\":{\"headers\":",
            };
            open.repeat(depth)
        }
        1 => {
            // A very long field.
            let n = 1 + rng.below(100_000);
            vec![b"Aa0%/\\\"".to_vec()[rng.below(7)]; n]
        }
        2 => {
            // Many parameters or headers.
            let n = 1 + rng.below(5000);
            let piece: &[u8] = match rng.below(3) {
                0 => b"&a=1",
                1 => b"\"x-h\":\"v\",",
                _ => b"{\"name\":\"h\",\"value\":\"v\"},",
            };
            piece.repeat(n)
        }
        _ => SMALL[rng.below(SMALL.len())].to_vec(),
    }
}

/// One to four mutations of a seed (or of a splice of two seeds).
fn mutate(rng: &mut Rng, seed: &str, other: &str) -> Vec<u8> {
    let mut b = seed.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = b.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                b[i] = rng.next() as u8;
            }
            1 => b.truncate(rng.below(len + 1)),
            2 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(16)).min(len);
                b.drain(start..end);
            }
            3 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(64)).min(len);
                let piece = b[start..end].to_vec();
                let at = rng.below(b.len() + 1);
                b.splice(at..at, piece);
            }
            4 => {
                let o = other.as_bytes();
                let cut = rng.below(len + 1);
                let from = rng.below(o.len() + 1);
                b.truncate(cut);
                b.extend_from_slice(&o[from..]);
            }
            5 => {
                // Replace a run of digits with a huge number.
                if let Some(i) = (0..len)
                    .map(|k| (k + rng.below(len)) % len)
                    .find(|&k| b[k].is_ascii_digit())
                {
                    let end = (i..len).find(|&k| !b[k].is_ascii_digit()).unwrap_or(len);
                    // The largest numbers a field parser accepts (18-20 digits) overflow what is
                    // computed from them; longer ones are refused.
                    const HUGE: &[&[u8]] = &[
                        b"999999999999999999",
                        b"18446744073709551615",
                        b"9223372036854775807",
                        b"340282366920938463463374607431768211456",
                    ];
                    let huge = HUGE[rng.below(HUGE.len())];
                    b.splice(i..end, huge.iter().copied());
                }
            }
            _ => {
                let at = rng.below(len + 1);
                let t = token(rng);
                b.splice(at..at, t);
            }
        }
    }
    b
}

fn random_input(rng: &mut Rng) -> Vec<u8> {
    let n = rng.below(600);
    match rng.below(3) {
        0 => (0..n).map(|_| rng.next() as u8).collect(),
        1 => (0..n).map(|_| 0x20 + rng.below(0x5f) as u8).collect(),
        _ => {
            // Random structural characters.
            const ALPHABET: &[u8] = b"{}[]\":,\\ -0123456789.eE+tfnul[]/?&=%\t";
            (0..n)
                .map(|_| ALPHABET[rng.below(ALPHABET.len())])
                .collect()
        }
    }
}

/// Bytes of text an event holds (what a store would keep).
fn event_text_bytes(ev: &ApiEvent<'_>) -> usize {
    let opt = |o: &Option<std::borrow::Cow<'_, str>>| o.as_ref().map_or(0, |s| s.len());
    ev.method.len()
        + ev.scheme.len()
        + ev.host.len()
        + ev.path.len()
        + ev.query.len()
        + ev.protocol.len()
        + ev.user_agent.len()
        + ev.referer.len()
        + opt(&ev.principal)
        + ev.api_key_id.as_ref().map_or(0, String::len)
        + opt(&ev.service)
        + ev.request_headers
            .iter()
            .chain(&ev.response_headers)
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>()
        + opt(&ev.request_body)
        + opt(&ev.response_body)
        + opt(&ev.message)
        + ev.raw.len()
}

/// Largest event text allowed for an input of `len` bytes.
fn text_bound(len: usize) -> usize {
    8 * len + 16 * 1024
}

#[derive(Default)]
struct Figures {
    inputs: u64,
    decodes: u64,
    decoded_ok: u64,
    max: Duration,
    max_input_len: usize,
    max_decoder: &'static str,
}

fn shown(input: &str) -> String {
    let mut s: String = input
        .chars()
        .take(300)
        .collect::<String>()
        .escape_debug()
        .to_string();
    if input.len() > 300 {
        s.push_str(&format!("... ({} bytes)", input.len()));
    }
    s
}

fn check_event(name: &str, input: &str, ev: &mut ApiEvent<'_>, trusting: &DecodeConfig) {
    let size = event_text_bytes(ev);
    assert!(
        size <= text_bound(input.len()),
        "{name}: a {} byte input decoded into {size} bytes of event text: {}",
        input.len(),
        shown(input)
    );
    // Enrich again with every proxy trusted and a principal header: forwarded-header parsing,
    // JWT and Basic principal extraction run on whatever the mutation left.
    enrich(
        ev,
        EnrichInput {
            remote_user: Some("fuzz"),
        },
        trusting,
    );
    let size = event_text_bytes(ev);
    assert!(
        size <= text_bound(input.len()),
        "{name}: enrich grew a {} byte input's event to {size} bytes: {}",
        input.len(),
        shown(input)
    );
}

fn run_one(
    d: Option<&'static dyn Decoder>,
    auto: &mut AutoDecoder,
    input: &str,
    cfg: &DecodeConfig,
    trusting: &DecodeConfig,
    fig: &mut Figures,
) {
    let name = d.map_or("auto", |d| d.name());
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let ok = match d {
            Some(d) => {
                let _ = d.sniff(input);
                d.decode(input, cfg)
                    .map(|mut ev| check_event(name, input, &mut ev, trusting))
            }
            None => auto
                .decode(input, cfg)
                .map(|mut ev| check_event(name, input, &mut ev, trusting)),
        };
        ok.is_ok()
    }));
    let took = started.elapsed();
    match outcome {
        Ok(ok) => fig.decoded_ok += u64::from(ok),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{name} panicked ({msg}) on input: {}", shown(input));
        }
    }
    fig.decodes += 1;
    if took > fig.max {
        fig.max = took;
        fig.max_input_len = input.len();
        fig.max_decoder = name;
    }
    assert!(
        took <= MAX_DECODE,
        "{name} took {took:?} on a {} byte input: {}",
        input.len(),
        shown(input)
    );
}

#[test]
fn every_decoder_survives_mutated_and_random_input() {
    let iters: usize = std::env::var("RAMPART_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let seed: u64 = std::env::var("RAMPART_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_0008);
    let cfg = DecodeConfig::default();
    let trusting = DecodeConfig {
        trusted_proxies: vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()],
        principal_header: Some("x-user-id".into()),
        ..Default::default()
    };

    // Seeds: each decoder's accepted lines among the test literals and the corpus.
    let mut candidates: Vec<String> = SOURCES.iter().flat_map(|s| string_literals(s)).collect();
    let corpus = corpus_lines();
    let corpus_len = corpus.as_ref().map_or(0, Vec::len);
    candidates.extend(corpus.into_iter().flatten());
    candidates.sort();
    candidates.dedup();
    let seeds: Vec<Vec<&str>> = DECODERS
        .iter()
        .map(|d| {
            candidates
                .iter()
                .map(String::as_str)
                .filter(|l| {
                    catch_unwind(AssertUnwindSafe(|| d.decode(l, &cfg).is_ok())).unwrap_or_else(
                        |_| panic!("{} panicked on a seed line: {}", d.name(), shown(l)),
                    )
                })
                .collect()
        })
        .collect();
    for (d, s) in DECODERS.iter().zip(&seeds) {
        assert!(!s.is_empty(), "no seed line decodes with {}", d.name());
    }
    let all: Vec<&str> = seeds.iter().flatten().copied().collect();
    // `RAMPART_FUZZ_DUMP_SEEDS=fuzz/corpus` writes each decoder's seeds where `cargo fuzz`
    // looks for its target's corpus.
    if let Ok(dir) = std::env::var("RAMPART_FUZZ_DUMP_SEEDS") {
        for (d, s) in DECODERS.iter().zip(&seeds) {
            let out = PathBuf::from(&dir).join(d.name());
            std::fs::create_dir_all(&out).expect("create seed dir");
            for (i, line) in s.iter().enumerate() {
                std::fs::write(out.join(format!("seed-{i:04}")), line).expect("write seed");
            }
        }
        eprintln!("fuzz_decoders: seeds written under {dir}");
    }

    let started = Instant::now();
    let mut rng = Rng(seed);
    let mut total = Figures::default();
    eprintln!(
        "fuzz_decoders: seed {seed:#x}, {iters} inputs per decoder, {} seed lines ({corpus_len} corpus lines read)",
        all.len()
    );
    for (d, own) in DECODERS.iter().zip(&seeds) {
        let mut fig = Figures::default();
        let mut auto = AutoDecoder::new();
        let t = Instant::now();
        for _ in 0..iters {
            let bytes = if rng.chance(8) {
                random_input(&mut rng)
            } else {
                let base = if rng.chance(75) {
                    own[rng.below(own.len())]
                } else {
                    all[rng.below(all.len())]
                };
                let other = all[rng.below(all.len())];
                mutate(&mut rng, base, other)
            };
            let input = String::from_utf8_lossy(&bytes);
            fig.inputs += 1;
            run_one(Some(*d), &mut auto, &input, &cfg, &trusting, &mut fig);
            run_one(None, &mut auto, &input, &cfg, &trusting, &mut fig);
        }
        eprintln!(
            "  {:<16} {:>6} inputs {:>6} decodes {:>6} decoded  max {:>9.3?} ({} B, {})  {:.1?}",
            d.name(),
            fig.inputs,
            fig.decodes,
            fig.decoded_ok,
            fig.max,
            fig.max_input_len,
            fig.max_decoder,
            t.elapsed()
        );
        total.inputs += fig.inputs;
        total.decodes += fig.decodes;
        total.decoded_ok += fig.decoded_ok;
        if fig.max > total.max {
            total.max = fig.max;
            total.max_input_len = fig.max_input_len;
            total.max_decoder = fig.max_decoder;
        }
    }

    // Pure random input through every decoder.
    let mut fig = Figures::default();
    let mut auto = AutoDecoder::new();
    for _ in 0..iters {
        let bytes = random_input(&mut rng);
        let input = String::from_utf8_lossy(&bytes);
        fig.inputs += 1;
        for d in DECODERS {
            run_one(Some(*d), &mut auto, &input, &cfg, &trusting, &mut fig);
        }
        run_one(None, &mut auto, &input, &cfg, &trusting, &mut fig);
    }
    eprintln!(
        "  {:<16} {:>6} inputs {:>6} decodes {:>6} decoded  max {:>9.3?}",
        "random (all)", fig.inputs, fig.decodes, fig.decoded_ok, fig.max
    );
    total.inputs += fig.inputs;
    total.decodes += fig.decodes;
    total.decoded_ok += fig.decoded_ok;
    total.max = total.max.max(fig.max);
    eprintln!(
        "fuzz_decoders: {} inputs, {} decodes ({} decoded) in {:.1?}; slowest decode {:?} ({} B input, {}); no panic",
        total.inputs,
        total.decodes,
        total.decoded_ok,
        started.elapsed(),
        total.max,
        total.max_input_len,
        total.max_decoder
    );
}

/// The seed extraction itself: it must find the test lines of every format (a regression
/// here would silently shrink the fuzz run to random input).
#[test]
fn string_literals_are_extracted() {
    let src = r####"check("a", r#"x "q" y"#, "b\tc\"d"); let c = '"'; r"raw""####;
    assert_eq!(string_literals(src), ["a", "x \"q\" y", "b\tc\"d", "raw"]);
}

/// Inputs the fuzz run found (or that share the bug it found) that made a decoder panic:
/// slicing at a fixed byte offset (inside a multi-byte character, or past a `]` at offset
/// 0) in decoders that `decode` without `sniff` (a named `--format`) or after a sniff that
/// only looked at ASCII bytes. Each must now be refused or decoded, never panic.
#[test]
fn inputs_that_made_decoders_panic() {
    let cfg = DecodeConfig::default();
    let mut panicked = Vec::new();
    let mut check = |name: &'static str, input: &'static str| {
        let d = rampart_decode::decoder_by_name(name).expect("decoder");
        if catch_unwind(AssertUnwindSafe(|| d.decode(input, &cfg).is_ok())).is_err() {
            panicked.push((name, input));
        }
        if catch_unwind(AssertUnwindSafe(|| {
            AutoDecoder::new().decode(input, &cfg).is_ok()
        }))
        .is_err()
        {
            panicked.push(("auto", input));
        }
    };
    check("npm_proxy", "] \"");
    check("npm_proxy", "é] \"GET /\"");
    check("npm_catch", "] \"");
    check("envoy", "] \"GET / HTTP/1.1\"");
    check("apache_error", "] [client 1.2.3.4] x");
    check("nginx_error", "short");
    check("nginx_error", "2022/04/02 15:45:2é [info] 8#8: x");
    // Sniffs as IIS W3C (ASCII at bytes 4, 10, 13, 19; 15 fields) with byte 19 inside 'é'.
    check(
        "iis_w3c",
        "2024-05-01 10:00:\u{fffd}0 10.0.0.5 GET /owa/auth.owa a=1 443 bob 203.0.113.7 ua - 401 1 0 15",
    );
    // A syslog prefix whose byte 16 is inside a multi-byte character.
    check(
        "combined",
        "Jul  8 11:07:07\u{e9}host nginx: 1.2.3.4 - - [08/Jul/2021:11:07:07 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"-\"",
    );
    // Found by cargo-fuzz (haproxy): an 18-digit millisecond timer times 1000 overflowed
    // (a panic in debug builds, a wrapped latency in release); the same in every decoder
    // that converts milliseconds.
    check(
        "haproxy",
        "1.2.3.4:5 [14/Jan/2015:12:48:57.127] in~ b/n 1/0/0/3/999999999999999999 200 7 - - ---- 0/0/0/0/0 0/0 \"GET / HTTP/1.1\"",
    );
    check(
        "combined",
        "172.17.0.1 - - [08/Dec/2021:09:16:05 +0000] \"GET / HTTP/1.1\" 200 405 \"-\" \"-\" 502 \"t@docker\" \"http://172.17.0.3:80\" 999999999999999999ms",
    );
    check(
        "iis_w3c",
        "2024-05-01 10:00:00 10.0.0.5 GET /owa/auth.owa a=1 443 bob 203.0.113.7 ua - 401 1 0 999999999999999999",
    );
    check(
        "envoy",
        "[2016-04-15T20:17:00.310Z] \"POST /api HTTP/2\" 204 - 154 0 999999999999999999 100 \"10.0.35.28\" \"ua\" \"id\" \"loc\" \"tcp://10.0.2.1:80\"",
    );
    assert!(panicked.is_empty(), "panicked: {panicked:#?}");
}

/// `fuzz/` (cargo-fuzz, outside the workspace) has one target per registered decoder.
#[test]
fn every_decoder_has_a_cargo_fuzz_target() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/fuzz_targets");
    let mut targets: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".rs")
                .map(str::to_owned)
        })
        .collect();
    targets.sort();
    let mut names: Vec<String> = DECODERS.iter().map(|d| d.name().to_owned()).collect();
    names.sort();
    assert_eq!(targets, names, "fuzz/fuzz_targets/*.rs against DECODERS");
}
