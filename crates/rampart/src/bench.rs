//! `rampart bench`: headline throughput figures, measured on this machine, optionally written
//! into BENCHMARKS.md.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use rampart_decode::{DecodeConfig, Decoder};
use rampart_model::AlertDraft;
use rampart_pipeline::DetectionSetup;
use rampart_sim::{OutputFormat, SimConfig, Simulator};

/// Options of `rampart bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Lines per generated input.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Runs per measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Sigma rules directory for the "all Sigma rules" figure (default: ../shared/corpora/sigma-web if present).
    #[arg(long)]
    pub sigma: Option<PathBuf>,
    /// Events replayed into a fresh SQLite store for the replay figure (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    pub replay_events: u64,
    /// Events of the adversarial memory run (every event a new client IP and a new path; 0
    /// skips it).
    #[arg(long, default_value_t = 10_000_000)]
    pub adversarial_events: u64,
    /// Run only these parts (comma-separated: adversarial, hostile, decode, detect, records,
    /// sigma, replay);
    /// all by default. Handy under a profiler.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Detectors to leave out of the detection figures (comma-separated ids), to see what
    /// one costs.
    #[arg(long, value_delimiter = ',')]
    pub disable: Vec<String>,
    /// Write the figures into this Markdown file (between generated markers).
    #[arg(long)]
    pub write: Option<PathBuf>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn generate(events: u64, format: OutputFormat, bodies: bool) -> Vec<String> {
    let cfg = SimConfig {
        events,
        bodies,
        ..Default::default()
    };
    let mut out = Vec::with_capacity(events as usize);
    for (ev, _) in Simulator::new(cfg) {
        let mut line = String::new();
        rampart_sim::encode(&ev, format, &mut line);
        out.push(line);
    }
    out
}

/// The records with every request body grown to 1-4 KB (the size the target names):
/// a JSON body gains an `items` array of order lines, a form body more fields, until a target
/// size spread evenly over 1,024..4,096 bytes by record index.
fn with_large_bodies(records: Vec<String>) -> Vec<String> {
    records
        .into_iter()
        .enumerate()
        .map(|(i, line)| {
            let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&line) else {
                return line;
            };
            let Some(body) = v
                .get_mut("request")
                .and_then(|r| r.get_mut("body"))
                .filter(|b| b.is_string())
            else {
                return line;
            };
            let target = 1024 + (i.wrapping_mul(2_654_435_761) % 3072);
            let old = body.as_str().unwrap_or("").to_string();
            let grown = if let Ok(serde_json::Value::Object(mut o)) = serde_json::from_str(&old) {
                let mut items = Vec::new();
                let mut n = 0;
                let mut len = old.len() + 10;
                while len < target {
                    let item = serde_json::json!({
                        "sku": format!("SKU-{:05}", (i + n) % 100_000),
                        "name": "Blue ceramic mug, 350 ml, dishwasher safe",
                        "qty": 1 + n % 4,
                        "price": 12.5 + n as f64,
                        "tags": ["kitchen", "gift"],
                        "note": "Leave at the door if nobody answers",
                    });
                    len += item.to_string().len() + 1;
                    items.push(item);
                    n += 1;
                }
                o.insert("items".into(), serde_json::Value::Array(items));
                serde_json::to_string(&o).unwrap_or(old)
            } else {
                let mut b = old;
                let mut n = 0;
                while b.len() < target {
                    b.push_str(&format!(
                        "&line{n}=Blue+ceramic+mug%2C+350+ml&qty{n}={}&note{n}=Leave+at+the+door",
                        1 + n % 4
                    ));
                    n += 1;
                }
                b
            };
            *body = serde_json::Value::String(grown);
            v.to_string()
        })
        .collect()
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn decode_rate(lines: &[String], decoder: &dyn Decoder, runs: usize) -> (f64, u64) {
    let cfg = DecodeConfig::default();
    let mut rates = Vec::new();
    let mut ok = 0;
    for _ in 0..runs {
        let t = Instant::now();
        ok = 0u64;
        for l in lines {
            if let Ok(ev) = decoder.decode(l, &cfg) {
                ok += u64::from(ev.status > 0);
            }
        }
        rates.push(lines.len() as f64 / t.elapsed().as_secs_f64());
    }
    (median(rates), ok)
}

fn detect_rate(lines: &[String], setup: &DetectionSetup, runs: usize) -> (f64, usize, usize) {
    detect_rate_with(lines, setup, runs, "combined")
}

fn detect_rate_with(
    lines: &[String],
    setup: &DetectionSetup,
    runs: usize,
    format: &str,
) -> (f64, usize, usize) {
    let cfg = DecodeConfig::default();
    let decoder = rampart_decode::decoder_by_name(format).expect("known decoder");
    let mut rates = Vec::new();
    let mut n_alerts = 0;
    let mut state = 0;
    for _ in 0..runs {
        let mut engine = rampart_pipeline::build_engine(setup);
        let mut alerts: Vec<AlertDraft> = Vec::new();
        let t = Instant::now();
        for l in lines {
            if let Ok(ev) = decoder.decode(l, &cfg) {
                engine.observe(&ev, &mut alerts);
            }
        }
        rates.push(lines.len() as f64 / t.elapsed().as_secs_f64());
        n_alerts = alerts.len();
        state = engine.state_bytes();
    }
    (median(rates), n_alerts, state)
}

/// Hostile request records (the `rampart` NDJSON format): huge and deeply nested bodies,
/// floods of parameters and cookies, repeated and invalid escapes, a base64 bomb.
fn hostile_records() -> Vec<(&'static str, String)> {
    let rec = |path: String, query: String, headers: serde_json::Value, body: String| {
        serde_json::json!({
            "ts": 1_793_100_000_000i64, "client_ip": "203.0.113.66", "method": "POST",
            "path": path, "query": query, "status": 200, "host": "api.example.test",
            "request": {"headers": headers, "body": body},
        })
        .to_string()
    };
    let form = serde_json::json!({"content-type": "application/x-www-form-urlencoded"});
    let json = serde_json::json!({"content-type": "application/json"});
    let xml = serde_json::json!({"content-type": "text/xml"});
    let cookies: String = (0..10_000).map(|i| format!("c{i}=v{i}; ")).collect();
    vec![
        (
            "body of 1 MB (64 KiB kept)",
            rec(
                "/a".into(),
                String::new(),
                form.clone(),
                "a=".to_string() + &"x".repeat(1 << 20),
            ),
        ),
        (
            "JSON nested 100,000 deep",
            rec(
                "/a".into(),
                String::new(),
                json.clone(),
                "[".repeat(100_000),
            ),
        ),
        (
            "JSON with 20,000 keys",
            rec(
                "/a".into(),
                String::new(),
                json,
                format!(
                    "{{{}\"z\":1}}",
                    (0..20_000)
                        .map(|i| format!("\"k{i}\":\"%27v{i}\","))
                        .collect::<String>()
                ),
            ),
        ),
        (
            "XML nested 50,000 deep",
            rec("/a".into(), String::new(), xml, "<a>".repeat(50_000)),
        ),
        (
            "50,000 query parameters",
            rec(
                "/a".into(),
                (0..50_000).map(|i| format!("p{i}=%27{i}&")).collect(),
                serde_json::json!({}),
                String::new(),
            ),
        ),
        (
            "%25 repeated 100,000 times",
            rec(
                "/a".into(),
                format!("q={}", "%25".repeat(100_000)),
                serde_json::json!({}),
                String::new(),
            ),
        ),
        (
            "invalid escapes %ff%fe%u12",
            rec(
                "/a".into(),
                format!("q={}", "%ff%fe%u12%".repeat(20_000)),
                serde_json::json!({}),
                String::new(),
            ),
        ),
        (
            "10,000 cookies",
            rec(
                "/a".into(),
                String::new(),
                serde_json::json!({"cookie": cookies}),
                String::new(),
            ),
        ),
        (
            "base64 bomb (64 KiB of base64)",
            rec(
                "/a".into(),
                String::new(),
                form,
                "v=".to_string() + &"QUFB".repeat(16_384),
            ),
        ),
    ]
}

/// Decode + detect each hostile record alone (median of `runs`), with the peak RSS.
fn hostile(runs: usize) -> Vec<(&'static str, usize, f64)> {
    let cfg = DecodeConfig::default();
    let decoder = rampart_decode::decoder_by_name("rampart").expect("rampart decoder");
    let mut engine = rampart_pipeline::build_engine(&DetectionSetup::default());
    let mut out = Vec::new();
    let mut alerts: Vec<AlertDraft> = Vec::new();
    for (name, line) in hostile_records() {
        let mut times = Vec::new();
        for _ in 0..runs.max(3) {
            let t = Instant::now();
            if let Ok(ev) = decoder.decode(&line, &cfg) {
                engine.observe(&ev, &mut alerts);
            }
            times.push(t.elapsed().as_secs_f64() * 1e6);
            alerts.clear();
        }
        out.push((name, line.len(), median(times)));
    }
    out
}

/// Feed the engine events that never repeat a client IP or a path (random words, so path
/// templates cannot collapse them) and report throughput, detection state and peak RSS.
fn adversarial(events: u64) -> (f64, usize, f64) {
    use rampart_model::{ApiEvent, Timestamp};
    use std::borrow::Cow;
    use std::fmt::Write as _;
    let mut engine = rampart_pipeline::build_engine(&DetectionSetup::default());
    let mut alerts: Vec<AlertDraft> = Vec::new();
    let mut path = String::with_capacity(64);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let letters = b"abcdefghijklmnopqrstuvwxyz";
    let start = Timestamp::from_secs(1_767_571_200);
    let t = Instant::now();
    for i in 0..events {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        path.clear();
        path.push_str("/api/");
        for k in 0..3 {
            path.push(letters[((x >> (k * 5)) % 26) as usize] as char);
        }
        path.push('/');
        for k in 0..8 {
            path.push(letters[((x >> (20 + k * 5)) % 26) as usize] as char);
        }
        let _ = write!(path, "/{}", letters[(i % 26) as usize] as char);
        let ip = std::net::IpAddr::V4(std::net::Ipv4Addr::from(
            (i as u32).wrapping_add(0x0100_0000),
        ));
        let ev = ApiEvent {
            ts: start.add_millis((i / 50) as i64),
            client_ip: Some(ip),
            method: Cow::Borrowed(if i % 7 == 0 { "POST" } else { "GET" }),
            path: Cow::Borrowed(&path),
            status: if i % 5 == 0 { 404 } else { 200 },
            response_bytes: Some(100 + (x % 5000)),
            user_agent: Cow::Borrowed("Mozilla/5.0"),
            ..Default::default()
        };
        engine.observe(&ev, &mut alerts);
        if alerts.len() > 100_000 {
            alerts.clear();
        }
    }
    let rate = events as f64 / t.elapsed().as_secs_f64();
    (rate, engine.state_bytes(), peak_rss_mb())
}

/// Run the benchmarks.
pub async fn run(a: BenchArgs) -> Result<()> {
    let runs = a.runs.max(1);
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut report = |name: &str, value: String| {
        println!("{name:<60} {value}");
        rows.push((name.to_string(), value));
    };
    let want = |part: &str| a.only.is_empty() || a.only.iter().any(|o| o == part);
    if let Some(bad) = a.only.iter().find(|o| {
        ![
            "adversarial",
            "hostile",
            "decode",
            "detect",
            "records",
            "sigma",
            "replay",
        ]
        .contains(&o.as_str())
    }) {
        anyhow::bail!(
            "unknown bench part {bad:?} (expected adversarial, hostile, decode, detect, records, sigma or replay)"
        );
    }
    if want("hostile") {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        for (name, bytes, us) in hostile(runs) {
            report(
                &format!(
                    "hostile record: {name} ({:.1} MB line), decode + detect",
                    bytes as f64 / 1e6
                ),
                format!("{us:>10.0} µs per record"),
            );
        }
        report(
            "peak RSS (VmHWM) during the hostile records",
            format!("{:.0} MB", peak_rss_mb()),
        );
    }
    if a.adversarial_events > 0 && want("adversarial") {
        let (rate, state, rss) = adversarial(a.adversarial_events);
        report(
            &format!(
                "adversarial stream: {} events, each a new IP and path (built-ins, 1 core)",
                a.adversarial_events
            ),
            format!(
                "{rate:>10.0} events/s, detection state {:.1} MB, peak RSS {rss:.0} MB (measured first, before any other run)",
                state as f64 / 1e6
            ),
        );
    }

    eprintln!("generating {} events per format ...", a.events);
    for (format, name) in if want("decode") {
        &[
            (OutputFormat::Combined, "combined"),
            (OutputFormat::NginxJson, "nginx_json"),
            (OutputFormat::Rampart, "rampart"),
        ][..]
    } else {
        &[][..]
    } {
        let format = *format;
        let lines = generate(a.events, format, format == OutputFormat::Rampart);
        let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
        let d = rampart_decode::decoder_by_name(name).context("decoder")?;
        let (rate, ok) = decode_rate(&lines, d, runs);
        report(
            &format!("decode {name} (1 core, {} lines)", lines.len()),
            format!(
                "{:>10.0} lines/s  {:>6.1} MB/s  ({ok} decoded)",
                rate,
                rate * bytes as f64 / lines.len() as f64 / 1e6
            ),
        );
    }
    let lines = generate(a.events, OutputFormat::Combined, false);
    let mut base = DetectionSetup::default();
    for id in &a.disable {
        if !rampart_pipeline::REGISTRY.iter().any(|r| r.id == id) {
            anyhow::bail!("unknown detector {id:?} in --disable");
        }
        base.disable(id);
    }
    // Reset the peak-RSS mark (Linux >= 4.0) so the figure below is the detection runs'
    // peak, not the decode runs' inputs.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    if want("detect") {
        let (rate, alerts, state) = detect_rate(&lines, &base, runs);
        report(
            "decode + detect, combined, built-in detectors (1 core)",
            format!(
                "{rate:>10.0} events/s  ({alerts} alerts, detection state {:.1} MB)",
                state as f64 / 1e6
            ),
        );
    }
    if want("records") {
        // Full request records (headers and bodies) through the same engine.
        let records =
            with_large_bodies(generate(a.events.min(300_000), OutputFormat::Rampart, true));
        let bodies: Vec<usize> = records
            .iter()
            .filter_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                let b = v.get("request")?.get("body")?.as_str()?;
                Some(b.len())
            })
            .collect();
        let mean_body = bodies.iter().sum::<usize>() as f64 / bodies.len().max(1) as f64;
        let (rate, alerts, state) = detect_rate_with(&records, &base, runs, "rampart");
        report(
            &format!(
                "decode + detect, rampart records with headers and 1-4 KB bodies ({} of {} with a body, mean {:.0} B), built-in detectors (1 core)",
                bodies.len(),
                records.len(),
                mean_body
            ),
            format!(
                "{rate:>10.0} events/s  ({alerts} alerts, detection state {:.1} MB)",
                state as f64 / 1e6
            ),
        );
    }
    let sigma_dir = a.sigma.clone().or_else(|| {
        let p = PathBuf::from("../shared/corpora/sigma-web");
        p.is_dir().then_some(p)
    });
    if let Some(dir) = sigma_dir.filter(|_| want("sigma")) {
        let (rules, _) = rampart_sigma::load_dir(&dir)
            .with_context(|| format!("loading Sigma rules from {}", dir.display()))?;
        let n = rules.len();
        let mut setup = DetectionSetup::default();
        setup.set_sigma(Arc::new(rules));
        let (rate, alerts, state) = detect_rate(&lines, &setup, runs.min(3));
        report(
            &format!("decode + detect, combined, built-ins + {n} Sigma rules (1 core)"),
            format!(
                "{rate:>10.0} events/s  ({alerts} alerts, detection state {:.1} MB)",
                state as f64 / 1e6
            ),
        );
    }
    let input_mb = lines.iter().map(|l| l.capacity()).sum::<usize>() as f64 / 1e6;
    report(
        "peak RSS (VmHWM) during the detection runs",
        format!(
            "{:>10.0} MB (of which {input_mb:.0} MB are the input lines held in memory)",
            peak_rss_mb()
        ),
    );
    drop(lines);

    if a.replay_events > 0 && want("replay") {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("replay.log");
        {
            use std::io::Write;
            let mut w = std::io::BufWriter::new(std::fs::File::create(&file)?);
            for l in generate(a.replay_events, OutputFormat::Combined, false) {
                w.write_all(l.as_bytes())?;
                w.write_all(b"\n")?;
            }
        }
        let args = crate::DataArgs {
            data: dir.path().join("data"),
            postgres: None,
            config: None,
        };
        let app = crate::app::App::open(&args).await?;
        let t = Instant::now();
        let r = rampart_ingest::replay::replay_files(
            std::slice::from_ref(&file),
            &rampart_ingest::replay::ReplayOptions::default(),
            &app.pipeline,
        )
        .await?;
        let secs = t.elapsed().as_secs_f64();
        app.shutdown().await?;
        report(
            &format!(
                "replay combined into SQLite, full pipeline ({} events)",
                r.events
            ),
            format!(
                "{:>10.0} events/s  ({:.1} s, {} alerts, {} incidents)",
                r.events as f64 / secs,
                secs,
                r.pipeline.alerts,
                r.pipeline.incidents_created
            ),
        );
    }

    if let Some(path) = a.write {
        let mut table = String::from(
            "<!-- generated by `rampart bench --write`; do not edit between the markers -->\n",
        );
        table.push_str(&format!(
            "Measured {} on this machine ({} cores), release build, median of {} runs.\n\n| measurement | result |\n|---|---|\n",
            rampart_model::Timestamp::now(),
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            runs
        ));
        for (k, v) in &rows {
            table.push_str(&format!("| {k} | {} |\n", v.trim()));
        }
        table.push_str("<!-- end generated -->\n");
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        let new = match (
            old.find("<!-- generated by"),
            old.find("<!-- end generated -->"),
        ) {
            (Some(s), Some(e)) => {
                let e = e + "<!-- end generated -->\n".len();
                format!("{}{}{}", &old[..s], table, &old[e.min(old.len())..])
            }
            _ => format!("{old}\n{table}"),
        };
        std::fs::write(&path, new).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("figures written to {}", path.display());
    }
    Ok(())
}
