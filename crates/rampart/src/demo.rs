//! `rampart demo` and `rampart simulate`.

use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};

use rampart_decode::DecodeConfig;
use rampart_model::{AlertDraft, Role};
use rampart_pipeline::DetectionSetup;
use rampart_signatures::intel::{FeedFormat, ThreatIntel, TOR_FEED};
use rampart_sim::{OutputFormat, ScenarioConfig, SimConfig, Simulator};

use crate::app::App;
use crate::{DataArgs, SimulateArgs};

fn sim_config(events: u64, seed: u64, days: u32, strength: f64, bodies: bool) -> SimConfig {
    let mut scenarios = ScenarioConfig::all_default();
    for s in &mut scenarios {
        s.strength = strength;
    }
    SimConfig {
        seed,
        events,
        duration_ms: i64::from(days.max(1)) * 86_400_000,
        scenarios,
        bodies,
        ..Default::default()
    }
}

/// Write the demo's threat-intel feeds and configuration into a data directory (never
/// overwriting a configuration that is already there).
fn prepare_demo_dir(data: &Path) -> Result<()> {
    crate::app::create_data_dir(data)?;
    let tor = data.join("tor-exits.txt");
    let ti = data.join("threat-intel.txt");
    std::fs::write(
        &tor,
        format!(
            "# demo Tor exit list (documentation addresses)\n{}\n",
            rampart_sim::TOR_EXITS.join("\n")
        ),
    )?;
    std::fs::write(
        &ti,
        format!(
            "# demo threat-intel feed (documentation addresses)\n{}\n",
            rampart_sim::THREAT_INTEL_IPS.join("\n")
        ),
    )?;
    let cfg = data.join("rampart.toml");
    if !cfg.exists() {
        let mut text = String::from("# written by `rampart demo`\n[detect]\n");
        text.push_str(&format!(
            "threat_intel = [{:?}, {:?}]\n",
            tor.display().to_string(),
            ti.display().to_string()
        ));
        // the demo shows attack disruption at work: its policies contain at once
        text.push_str("\n[disruption]\nmode = \"automatic\"\nmax_actions_per_hour = 100\n");
        // the sample traffic is dated January 2026: keep it past the default 30 days
        text.push_str("\n[retention.events]\nmax_age = \"forever\"\n");
        std::fs::write(&cfg, text).with_context(|| format!("writing {}", cfg.display()))?;
    }
    Ok(())
}

/// `rampart demo`.
pub async fn run(
    data: Option<PathBuf>,
    listen: SocketAddr,
    events: u64,
    no_serve: bool,
) -> Result<()> {
    let data = match data {
        Some(d) => d,
        None => {
            let mut b = tempfile::Builder::new();
            b.prefix("rampart-demo-");
            // owner-only from the start, like every data directory Rampart creates
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                b.permissions(std::fs::Permissions::from_mode(0o700));
            }
            b.tempdir()
                .context("creating a temporary data directory")?
                .keep()
        }
    };
    prepare_demo_dir(&data)?;
    eprintln!("rampart demo: data directory {}", data.display());

    // A week of API traffic with every attack scenario, as Rampart NDJSON records with bodies.
    let traffic = data.join("demo-traffic.ndjson");
    let labels = data.join("demo-traffic.labels");
    {
        let mut out = BufWriter::new(std::fs::File::create(&traffic)?);
        let mut lab = BufWriter::new(std::fs::File::create(&labels)?);
        let mut line = String::new();
        for (ev, label) in Simulator::new(sim_config(events, 7, 7, 1.0, true)) {
            line.clear();
            rampart_sim::encode(&ev, OutputFormat::Rampart, &mut line);
            line.push('\n');
            out.write_all(line.as_bytes())?;
            line.clear();
            if rampart_sim::label_line(&label, &mut line) {
                line.push('\n');
                lab.write_all(line.as_bytes())?;
            }
        }
        out.flush()?;
        lab.flush()?;
    }
    eprintln!(
        "rampart demo: simulated {events} events into {}",
        traffic.display()
    );

    let args = DataArgs {
        data: data.clone(),
        postgres: None,
        config: None,
    };
    let app = App::open(&args).await?;
    let opts = rampart_ingest::replay::ReplayOptions {
        decode: app.decode.clone(),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let report =
        rampart_ingest::replay::replay_files(std::slice::from_ref(&traffic), &opts, &app.pipeline)
            .await?;
    let stats = app.store.stats().await?;
    eprintln!(
        "rampart demo: ingested {} events in {:.1}s: {} alerts, {} incidents, {} endpoints learned",
        report.events,
        started.elapsed().as_secs_f64(),
        stats.alerts,
        stats.incidents,
        stats.endpoints
    );

    let name = format!("demo-admin-{}", std::process::id());
    let token = rampart_server::generate_token();
    app.store
        .create_token(
            &name,
            Role::Admin,
            &rampart_server::hash_token(&token),
            "cli:demo",
        )
        .await?;
    // Console users, one per SOC role, sharing one random password shown once.
    let password = hex::encode(rand::random::<[u8; 8]>());
    let hash = rampart_server::console::session::hash_password(&password)
        .map_err(|e| anyhow::anyhow!("hashing the demo password: {e}"))?;
    for (user, role) in DEMO_USERS {
        app.store
            .create_user(user, *role, &hash, "cli:demo")
            .await
            .with_context(|| format!("creating demo user {user}"))?;
    }
    if no_serve {
        println!("{token}");
        return app.shutdown().await;
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen} (choose another with --listen)"))?;
    let addr = listener.local_addr()?;
    println!();
    println!("Rampart is serving the demo on http://{addr}");
    println!();
    println!(
        "Console: http://{addr}/  (new here? open http://{addr}/walkthrough after signing in)"
    );
    let users: Vec<String> = DEMO_USERS
        .iter()
        .map(|(u, r)| format!("{u} ({r})"))
        .collect();
    println!("  users: {}", users.join(", "));
    println!("  password (shown once): {password}");
    println!();
    println!("Admin token (shown once): {token}");
    println!();
    println!("Try:");
    println!("  curl -s -H 'Authorization: Bearer {token}' 'http://{addr}/api/v1/incidents?sort=priority&limit=10'");
    println!("  curl -s -H 'Authorization: Bearer {token}' 'http://{addr}/api/v1/incidents/1'");
    println!("  curl -s -H 'Authorization: Bearer {token}' \"http://{addr}/api/incidents?\\$filter=status eq 'Active'&\\$top=5\"");
    println!(
        "  curl -s -H 'Authorization: Bearer {token}' 'http://{addr}/api/v1/inventory/endpoints'"
    );
    println!("  rampart incidents list --data {}", data.display());
    println!();
    println!("Press ctrl-c to stop.");
    app.serve(listener, Vec::new(), None).await
}

/// The demo's console users, one per SOC role (they share one password, printed at start).
pub const DEMO_USERS: &[(&str, Role)] = &[
    ("responder", Role::Tier1),
    ("analyst", Role::Tier2),
    ("hunter", Role::Tier3),
    ("lead", Role::SocManager),
    ("admin", Role::Admin),
];

/// The detection setup used by `simulate --evaluate`: built-ins, the simulator's threat-intel
/// lists, and Sigma rules when asked.
fn evaluation_setup(sigma: &[PathBuf]) -> Result<DetectionSetup> {
    let mut setup = DetectionSetup::default();
    let tor = ThreatIntel::parse(
        TOR_FEED,
        FeedFormat::Plain,
        &rampart_sim::TOR_EXITS.join("\n"),
    )?;
    let ti = ThreatIntel::parse(
        "demo-feed",
        FeedFormat::Plain,
        &rampart_sim::THREAT_INTEL_IPS.join("\n"),
    )?;
    setup.intel().store(Arc::new(tor.with(ti)));
    let (rules, _) = rampart_sigma::load_with_builtin(sigma).context("loading Sigma rules")?;
    setup.set_sigma(Arc::new(rules));
    Ok(setup)
}

/// `rampart simulate`.
pub async fn simulate(a: SimulateArgs) -> Result<()> {
    let format = OutputFormat::from_name(&a.format)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("unknown --format {:?}", a.format))?;
    let cfg = sim_config(
        a.events,
        a.seed,
        a.days,
        a.strength,
        format == OutputFormat::Rampart || a.evaluate,
    );
    if a.evaluate {
        return evaluate(cfg, &a).await;
    }
    let out: Box<dyn Write> = match &a.out {
        Some(p) => {
            Box::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let mut labels = match &a.labels {
        Some(p) => Some(BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => None,
    };
    let mut line = String::new();
    for (ev, label) in Simulator::new(cfg) {
        line.clear();
        rampart_sim::encode(&ev, format, &mut line);
        line.push('\n');
        out.write_all(line.as_bytes())?;
        if let Some(l) = labels.as_mut() {
            line.clear();
            if rampart_sim::label_line(&label, &mut line) {
                line.push('\n');
                l.write_all(line.as_bytes())?;
            }
        }
    }
    out.flush()?;
    if let Some(mut l) = labels {
        l.flush()?;
    }
    Ok(())
}

/// Run detection over simulated traffic (encoded as Rampart records and decoded back, so
/// enrichment runs as in production) and score it against the ground truth.
async fn evaluate(cfg: SimConfig, a: &SimulateArgs) -> Result<()> {
    let setup = evaluation_setup(&a.sigma)?;
    let mut engine = rampart_pipeline::build_engine(&setup);
    let decoder = rampart_decode::decoder_by_name("rampart").context("rampart decoder")?;
    let dcfg = DecodeConfig::default();
    let mut summary = rampart_sim::LabelSummary::default();
    let mut alerts: Vec<AlertDraft> = Vec::new();
    let mut line = String::new();
    let mut last = rampart_model::Timestamp::default();
    let started = std::time::Instant::now();
    let mut n = 0u64;
    for (ev, label) in Simulator::new(cfg) {
        line.clear();
        rampart_sim::encode(&ev, OutputFormat::Rampart, &mut line);
        let decoded = decoder
            .decode(&line, &dcfg)
            .map_err(|e| anyhow::anyhow!("simulated record did not decode: {e}"))?;
        last = decoded.ts;
        engine.observe(&decoded, &mut alerts);
        summary.add(&label);
        n += 1;
    }
    engine.tick(last.add_millis(3_600_000), &mut alerts);
    let secs = started.elapsed().as_secs_f64();
    let report = rampart_sim::evaluate_summary(&summary, &alerts);
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!(
        "{:<32} {:>9} {:>8} {:>7} {:>8}  DETECTORS",
        "SCENARIO", "INSTANCES", "DETECTED", "RECALL", "OWN-DET"
    );
    for s in &report.per_scenario {
        println!(
            "{:<32} {:>9} {:>8} {:>6.0}% {:>8}  {}",
            s.id,
            s.instances,
            s.detected_instances,
            s.recall * 100.0,
            if s.matching_detector_fired {
                "yes"
            } else {
                "no"
            },
            s.detectors.join(",")
        );
    }
    let total: u64 = report.per_scenario.iter().map(|s| s.instances).sum();
    let hit: u64 = report
        .per_scenario
        .iter()
        .map(|s| s.detected_instances)
        .sum();
    println!(
        "overall recall {:.1}% ({hit}/{total} attack instances); false positives: {} alerts on {} benign events = {:.2} per 100k; {} events in {:.1}s ({:.0} events/s incl. encode+decode)",
        100.0 * hit as f64 / total.max(1) as f64,
        report.false_positive_alerts,
        report.benign_events,
        report.fp_per_100k,
        n,
        secs,
        n as f64 / secs.max(1e-9)
    );
    if !report.false_positives_by_detector.is_empty() {
        let by: Vec<String> = report
            .false_positives_by_detector
            .iter()
            .map(|(d, n)| format!("{d} {n}"))
            .collect();
        println!("false positives by detector: {}", by.join(", "));
    }
    Ok(())
}
