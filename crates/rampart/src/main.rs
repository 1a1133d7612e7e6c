//! `rampart`: the one binary. Ingests API traffic, detects attacks, correlates incidents and
//! serves them over an authenticated REST API.

mod app;
mod automation;
mod bench;
mod bench_console;
mod catalogue;
pub mod config;
mod demo;
mod eval;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use rampart_model::{
    Classification, Determination, IncidentFilter, IncidentPatch, IncidentSort, IncidentStatus,
    Role, Severity, Timestamp,
};

/// Detect attacks on HTTP APIs and run the incident response around them.
#[derive(Parser)]
#[command(name = "rampart", version, about, propagate_version = true)]
struct Cli {
    /// Log filter (tracing env-filter syntax).
    #[arg(
        long,
        global = true,
        env = "RAMPART_LOG",
        default_value = "warn,rampart=info"
    )]
    log: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server: REST API, HTTP push ingestion, optional followed log files.
    Serve(ServeArgs),
    /// Replay log files (plain or gzip, `-` for stdin) through the full pipeline into the store.
    Replay(ReplayArgs),
    /// List, show and update incidents.
    Incidents {
        #[command(subcommand)]
        cmd: IncidentsCmd,
    },
    /// List, show, create, approve and revert containment actions (as the CLI operator,
    /// `cli:<user>`, with the admin role; the `[contain]` rails apply).
    Actions {
        #[command(subcommand)]
        cmd: ActionsCmd,
    },
    /// Show the learned API inventory.
    Inventory(InventoryArgs),
    /// Run a hunting query (a KQL subset over ApiEvents, Alerts, Incidents, Entities,
    /// Actions, AuditLog), read-only and bounded.
    Hunt(HuntArgs),
    /// Print every detector's `[detect.<id>]` section with its default settings (copy one
    /// into rampart.toml to tune it; `enabled = false` turns it off).
    Detectors,
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        cmd: TokenCmd,
    },
    /// Manage console users (sign-in with a password; only its argon2id hash is stored).
    User {
        #[command(subcommand)]
        cmd: UserCmd,
    },
    /// Manage gateway enforcer keys (nginx `auth_request`, Envoy `ext_authz`).
    Enforcer {
        #[command(subcommand)]
        cmd: EnforcerCmd,
    },
    /// Apply and list automation rules (`rules:` documents in YAML).
    Automation {
        #[command(subcommand)]
        cmd: automation::AutomationCmd,
    },
    /// Manage CrowdSec bouncer keys (`X-Api-Key` on `/v1/decisions*`).
    Bouncer {
        #[command(subcommand)]
        cmd: BouncerCmd,
    },
    /// Start the server on the embedded default with realistic sample traffic already ingested.
    Demo(DemoArgs),
    /// Write realistic simulated API traffic (benign users plus attacks) in any log format.
    Simulate(SimulateArgs),
    /// Measure decode, detect and replay throughput; print figures (and update BENCHMARKS.md).
    Bench(bench::BenchArgs),
    /// Measure how fast the console's pages render over a big seeded store (p50/p99).
    BenchConsole(bench_console::ConsoleBenchArgs),
    /// Measure recall and false positives on a labelled request corpus (`requests.ndjson` and
    /// `labels.tsv`; see `crates/rampart/src/eval.rs`).
    Eval(eval::EvalArgs),
}

/// Where Rampart keeps its state.
#[derive(Args, Clone)]
pub struct DataArgs {
    /// Data directory (embedded SQLite database, secrets).
    #[arg(long, env = "RAMPART_DATA", default_value = "rampart-data")]
    pub data: PathBuf,
    /// Use PostgreSQL instead of the embedded SQLite database.
    #[arg(long, env = "RAMPART_POSTGRES_URL")]
    pub postgres: Option<String>,
    /// Configuration file (TOML); defaults to `<data>/rampart.toml` when it exists.
    #[arg(long, env = "RAMPART_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Args)]
struct HuntArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Print one JSON object (columns, rows, truncated) instead of a table.
    #[arg(long)]
    json: bool,
    /// At most this many rows (default 1000, at most 10000).
    #[arg(long)]
    limit: Option<u32>,
    /// How far back the time range reaches (Go-style duration; default 24h, at most 366 days).
    #[arg(long, default_value = "24h")]
    since: String,
    /// The query, e.g. `ApiEvents | where Status == 401 | summarize count() by ClientIp`.
    query: String,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Address to listen on.
    #[arg(long, env = "RAMPART_LISTEN")]
    listen: Option<SocketAddr>,
    /// Log files to follow (like `tail -F`), checkpointed across restarts.
    #[arg(long)]
    follow: Vec<PathBuf>,
    /// Force the format of followed files (default: auto-detect).
    #[arg(long)]
    format: Option<String>,
}

#[derive(Args)]
struct ReplayArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Force a decoder (default: auto-detect per line). See `rampart replay --list-formats`.
    #[arg(long)]
    format: Option<String>,
    /// Print one JSON summary object on stdout.
    #[arg(long)]
    json: bool,
    /// List the decoders and exit.
    #[arg(long)]
    list_formats: bool,
    /// List the ids of the detectors the configuration runs, and exit.
    #[arg(long)]
    list_detectors: bool,
    /// Longest line accepted, in bytes (default: `[ingest] max_line_bytes`, else 1 MiB); a
    /// longer line is reported as malformed and skipped.
    #[arg(long)]
    max_line_bytes: Option<usize>,
    /// Replay files from their beginning even when an earlier replay stored them (events are
    /// stored again).
    #[arg(long)]
    restart: bool,
    /// Files to replay; `-` reads stdin.
    files: Vec<PathBuf>,
}

#[derive(Subcommand)]
enum IncidentsCmd {
    /// List incidents (highest priority first).
    List {
        #[command(flatten)]
        data: DataArgs,
        /// Only these statuses (comma-separated: Active,InProgress,Resolved,Redirected).
        #[arg(long, value_delimiter = ',')]
        status: Vec<IncidentStatus>,
        /// Only these severities.
        #[arg(long, value_delimiter = ',')]
        severity: Vec<Severity>,
        /// Only incidents involving this entity value (IP, user, endpoint...).
        #[arg(long)]
        entity: Option<String>,
        /// Free text over title, tags and entities.
        #[arg(long)]
        q: Option<String>,
        /// Sort: priority, severity, created, updated.
        #[arg(long, default_value = "priority")]
        sort: String,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Show one incident with its alerts and comments.
    Show {
        #[command(flatten)]
        data: DataArgs,
        /// Incident id.
        id: i64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Write the post-incident review of an incident (HTML, Markdown or PDF) to a file.
    Report {
        #[command(flatten)]
        data: DataArgs,
        /// Incident id.
        id: i64,
        /// html, md or pdf.
        #[arg(long, default_value = "pdf")]
        format: String,
        /// Where to write it (`-` for stdout).
        #[arg(long)]
        out: PathBuf,
    },
    /// Change an incident (audited as `cli:<user>`).
    Update {
        #[command(flatten)]
        data: DataArgs,
        /// Incident id.
        id: i64,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        status: Option<IncidentStatus>,
        #[arg(long)]
        severity: Option<Severity>,
        /// Assign to someone; an empty string unassigns.
        #[arg(long)]
        assign: Option<String>,
        #[arg(long)]
        classification: Option<Classification>,
        #[arg(long)]
        determination: Option<Determination>,
        /// Replace the tags (comma-separated).
        #[arg(long, value_delimiter = ',')]
        tags: Option<Vec<String>>,
        /// Add a comment.
        #[arg(long)]
        comment: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct InventoryArgs {
    #[command(flatten)]
    data: DataArgs,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum ActionsCmd {
    /// List actions, newest first.
    List {
        #[command(flatten)]
        data: DataArgs,
        /// Only this status (pending_approval, active, expired, reverted, failed).
        #[arg(long)]
        status: Option<rampart_model::ActionStatus>,
        /// Only actions of this incident.
        #[arg(long)]
        incident_id: Option<i64>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Show one action.
    Show {
        #[command(flatten)]
        data: DataArgs,
        /// Action id.
        id: i64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Create an action (the same fields as `POST /api/v1/actions`).
    Create {
        #[command(flatten)]
        data: DataArgs,
        /// block_ip, disable_api_key, disable_principal, isolate_endpoint, isolate_service,
        /// rate_limit.
        #[arg(long)]
        kind: rampart_model::ActionKind,
        /// The target (see the README); empty with --raw-key.
        #[arg(long, default_value = "")]
        target: String,
        /// A raw API key to disable (hashed at once, never stored).
        #[arg(long)]
        raw_key: Option<String>,
        /// Go-style duration (30s, 15m, 4h, 7d); the kind's default without it.
        #[arg(long)]
        duration: Option<String>,
        /// Why.
        #[arg(long)]
        reason: String,
        /// The incident it answers.
        #[arg(long)]
        incident_id: Option<i64>,
        /// Only on this host.
        #[arg(long)]
        host: Option<String>,
        /// Only on this service.
        #[arg(long)]
        service: Option<String>,
        /// rate_limit: requests per --window.
        #[arg(long)]
        requests: Option<u32>,
        /// rate_limit: the window (Go-style duration).
        #[arg(long)]
        window: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Approve a pending action (someone else's).
    Approve {
        #[command(flatten)]
        data: DataArgs,
        /// Action id.
        id: i64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Revert an action.
    Revert {
        #[command(flatten)]
        data: DataArgs,
        /// Action id.
        id: i64,
        /// Why.
        #[arg(long)]
        reason: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create a token; prints it alone on stdout, once. Only its hash is stored.
    Create {
        #[command(flatten)]
        data: DataArgs,
        /// Unique name.
        #[arg(long)]
        name: String,
        /// viewer, tier1, tier2, tier3, soc_manager, admin, ingest or enforcer (README: "Roles
        /// and permissions"); analyst, the old name of tier2, is taken as tier2.
        #[arg(long)]
        role: RoleArg,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        data: DataArgs,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by name.
    Revoke {
        #[command(flatten)]
        data: DataArgs,
        /// Token name.
        name: String,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a console user. The password is read from stdin (one line) when stdin is not a
    /// terminal, else prompted for twice without echo; at least 8 characters.
    Create {
        #[command(flatten)]
        data: DataArgs,
        /// Unique sign-in name (1-64 of A-Z a-z 0-9 . _ - @).
        #[arg(long)]
        name: String,
        /// viewer, tier1, tier2, tier3, soc_manager or admin (README: "Roles and permissions").
        #[arg(long)]
        role: RoleArg,
    },
    /// List console users (never their password hashes).
    List {
        #[command(flatten)]
        data: DataArgs,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum EnforcerCmd {
    /// Create a key for a gateway (`X-Rampart-Enforcer-Key`); prints it alone on stdout,
    /// once. Only its hash is stored; revoke it with `rampart token revoke NAME`.
    Create {
        #[command(flatten)]
        data: DataArgs,
        /// Unique name (shared with API tokens).
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum BouncerCmd {
    /// Add a CrowdSec bouncer; prints its API key alone on stdout, once (only its hash is
    /// stored). Revoke it with `rampart token revoke NAME`.
    Add {
        #[command(flatten)]
        data: DataArgs,
        /// Unique name (shared with API tokens).
        name: String,
    },
}

#[derive(Args)]
struct DemoArgs {
    /// Data directory for the demo (default: a fresh temporary directory).
    #[arg(long, env = "RAMPART_DATA")]
    data: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "RAMPART_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Simulated events to ingest before serving.
    #[arg(long, default_value_t = 60_000)]
    events: u64,
    /// Ingest, print the summary and exit instead of serving.
    #[arg(long)]
    no_serve: bool,
}

#[derive(Args)]
struct SimulateArgs {
    /// Output file (default stdout).
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Log format to write (combined, common, nginx_json, rampart, ...).
    #[arg(long, default_value = "combined")]
    format: String,
    /// Number of events.
    #[arg(long, default_value_t = 100_000)]
    events: u64,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Simulated days of traffic.
    #[arg(long, default_value_t = 7)]
    days: u32,
    /// Attack strength multiplier.
    #[arg(long, default_value_t = 1.0)]
    strength: f64,
    /// Write the ground-truth labels (NDJSON) here.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Instead of writing traffic, run detection on it and print recall per scenario and false
    /// positives per 100k benign events.
    #[arg(long)]
    evaluate: bool,
    /// Sigma rules directory to include in `--evaluate`.
    #[arg(long)]
    sigma: Vec<PathBuf>,
    /// JSON output for `--evaluate`.
    #[arg(long)]
    json: bool,
}

/// mimalloc instead of glibc malloc: the API's list routes and the pipeline allocate per row
/// and per event from several threads, where glibc's arenas showed up as a quarter of the
/// server's profile (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    // Behave like a Unix tool when the reader of our output goes away (`rampart ... | head`).
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(run(cli.cmd))
}

async fn run(cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::Serve(a) => serve(a).await,
        Cmd::Replay(a) => replay(a).await,
        Cmd::Incidents { cmd } => incidents(cmd).await,
        Cmd::Automation { cmd } => automation::run(cmd, &cli_actor()).await,
        Cmd::Actions { cmd } => actions(cmd).await,
        Cmd::Inventory(a) => inventory(a).await,
        Cmd::Hunt(a) => hunt(a).await,
        Cmd::Token { cmd } => token(cmd).await,
        Cmd::User { cmd } => user(cmd).await,
        Cmd::Enforcer {
            cmd: EnforcerCmd::Create { data, name },
        } => enforcer_key(data, name).await,
        Cmd::Bouncer {
            cmd: BouncerCmd::Add { data, name },
        } => enforcer_key(data, name).await,
        Cmd::Demo(a) => demo::run(a.data, a.listen, a.events, a.no_serve).await,
        Cmd::Simulate(a) => demo::simulate(a).await,
        Cmd::Bench(a) => bench::run(a).await,
        Cmd::BenchConsole(a) => bench_console::run(a).await,
        Cmd::Eval(a) => eval::run(a),
        Cmd::Detectors => detectors(),
    }
}

async fn serve(a: ServeArgs) -> Result<()> {
    let app = app::App::open(&a.data).await?;
    let listen = a
        .listen
        .or(app.config.server.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    eprintln!(
        "rampart: serving on http://{addr} (backend {}, data {})",
        app.store.backend(),
        a.data.data.display()
    );
    app.serve(listener, a.follow, a.format).await
}

async fn replay(a: ReplayArgs) -> Result<()> {
    if a.list_formats {
        for d in rampart_decode::DECODERS {
            println!("{}", d.name());
        }
        return Ok(());
    }
    if a.list_detectors {
        // The detectors this configuration runs (`rampart detectors` lists them all).
        let config = config::FileConfig::load(a.data.config.as_deref(), &a.data.data)?;
        let engine = rampart_pipeline::build_engine(&app::detection_setup(&config)?);
        for id in engine.ids() {
            println!("{id}");
        }
        return Ok(());
    }
    if a.files.is_empty() {
        bail!("no files to replay (give paths, or - for stdin)");
    }
    let app = app::App::open(&a.data).await?;
    let opts = rampart_ingest::replay::ReplayOptions {
        format: a.format.clone(),
        decode: app.decode.clone(),
        max_line_bytes: app.config.ingest.max_line_bytes(a.max_line_bytes)?,
        checkpoints: Some(app.store.clone()),
        restart: a.restart,
        ..Default::default()
    };
    let total: u64 = a
        .files
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = if std::io::stderr().is_terminal() && !a.json {
        let pb = indicatif::ProgressBar::new(total);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let progress = opts.progress.clone();
        let pb2 = pb.clone();
        tokio::spawn(async move {
            loop {
                pb2.set_position(progress.load(Ordering::Relaxed));
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        });
        Some(pb)
    } else {
        None
    };
    let started = std::time::Instant::now();
    let report = rampart_ingest::replay::replay_files(&a.files, &opts, &app.pipeline).await?;
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    let stats = app.store.stats().await?;
    let secs = started.elapsed().as_secs_f64();
    if a.json {
        let v = serde_json::json!({
            "files": report.files,
            "lines": report.lines,
            "events": report.events,
            "malformed": report.malformed,
            "malformed_lines": report.malformed_lines,
            "alerts": report.pipeline.alerts,
            "incidents": report.pipeline.incidents_created,
            "incidents_merged": report.pipeline.incidents_merged,
            "resumed": report.resumed,
            "already_replayed": report.already_replayed,
            "skipped_bytes": report.skipped_bytes,
            "failed": report.failed,
            "per_file": report.per_file,
            "store": stats,
            "seconds": secs,
        });
        println!("{v}");
    } else {
        println!(
            "replayed {} files: {} lines, {} events, {} malformed, {} alerts, {} new incidents ({:.1}s, {:.0} events/s)",
            report.files,
            report.lines,
            report.events,
            report.malformed,
            report.pipeline.alerts,
            report.pipeline.incidents_created,
            secs,
            report.events as f64 / secs.max(1e-9)
        );
        for m in &report.malformed_lines {
            eprintln!("malformed: {}:{}: {}", m.file, m.line, m.reason);
        }
        if report.malformed > report.malformed_lines.len() as u64 {
            eprintln!(
                "... and {} more malformed lines",
                report.malformed - report.malformed_lines.len() as u64
            );
        }
        if report.already_replayed > 0 || report.resumed > 0 {
            println!(
                "{} files already replayed, {} resumed ({} bytes skipped; --restart replays them from the start)",
                report.already_replayed, report.resumed, report.skipped_bytes
            );
        }
        for f in &report.per_file {
            if let Some(e) = &f.error {
                eprintln!("error: {}: {e}", f.file);
            }
        }
    }
    app.shutdown().await?;
    if report.failed > 0 {
        bail!(
            "{} of {} files could not be read to their end (their readable lines were stored)",
            report.failed,
            report.files
        );
    }
    Ok(())
}

/// `rampart detectors`: each registry line's defaults as a TOML section.
fn detectors() -> Result<()> {
    for reg in rampart_pipeline::REGISTRY {
        let mut table = toml::Table::new();
        table.insert("enabled".into(), toml::Value::Boolean(true));
        // TOML has no null: a setting that is off by default (`min_level`) is left out.
        let mut json = (reg.defaults)();
        if let Some(obj) = json.as_object_mut() {
            obj.retain(|_, v| !v.is_null());
        }
        let defaults: toml::Table =
            serde_json::from_value(json).with_context(|| format!("the defaults of {}", reg.id))?;
        table.extend(defaults);
        let mut doc = toml::Table::new();
        let mut detect = toml::Table::new();
        detect.insert(reg.id.to_string(), toml::Value::Table(table));
        doc.insert("detect".into(), toml::Value::Table(detect));
        println!("{}", toml::to_string(&doc).context("writing TOML")?);
    }
    Ok(())
}

/// `rampart incidents report`: gather the report as the server does (containment assessed
/// with the configured quiet period, shadow endpoints from `[detect] openapi`) and write it.
async fn report(
    data: &DataArgs,
    id: i64,
    format: rampart_report::Format,
    out: &std::path::Path,
) -> Result<()> {
    let config = config::FileConfig::load(data.config.as_deref(), &data.data)?;
    let contain = config
        .contain
        .contain_config(&config.decode.trusted_proxies, &config.detect.allow)?;
    let spec = match &config.detect.openapi {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Some(
                rampart_signatures::inventory::OpenApiSpec::parse(&text)
                    .with_context(|| format!("parsing OpenAPI spec {}", p.display()))?,
            )
        }
        None => None,
    };
    let store = app::open_store(data).await?;
    let Some(d) = store.get_incident(id).await? else {
        bail!("incident {id} not found");
    };
    let mut actions = store
        .list_actions(&rampart_model::ActionFilter {
            incident_id: Some(id),
            limit: Some(1000),
            ..Default::default()
        })
        .await?
        .items;
    let active = store
        .list_actions(&rampart_model::ActionFilter {
            status: Some(rampart_model::ActionStatus::Active),
            limit: Some(1000),
            ..Default::default()
        })
        .await?;
    for a in active.items {
        if !actions.iter().any(|x| x.id == a.id) {
            actions.push(a);
        }
    }
    let mut activity = Vec::new();
    for e in rampart_contain::recovery::attacker_entities(&d.incident) {
        activity.push((e.clone(), store.entity_activity(e).await?));
    }
    let now = Timestamp::now();
    let containment = rampart_contain::recovery::assess(
        &d.incident,
        &d.alerts,
        &actions,
        |e| {
            activity
                .iter()
                .find(|(x, _)| x.kind == e.kind && x.value == e.value)
                .map(|(_, a)| *a)
                .unwrap_or_default()
        },
        now,
        contain.quiet_period_secs,
    );
    let data = rampart_server::report::gather(
        &*store,
        id,
        Some(containment),
        spec.as_ref(),
        now,
        &cli_actor(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("reading incident {id}: {e}"))?;
    let bytes = rampart_report::render(&data, format)?;
    if out.as_os_str() == "-" {
        use std::io::Write as _;
        std::io::stdout()
            .write_all(&bytes)
            .context("writing the report to stdout")?;
    } else {
        std::fs::write(out, &bytes).with_context(|| format!("writing {}", out.display()))?;
        eprintln!(
            "wrote the {} report of incident {id} to {} ({} bytes)",
            format.as_str(),
            out.display(),
            bytes.len()
        );
    }
    Ok(())
}

fn cli_actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    )
}

async fn incidents(cmd: IncidentsCmd) -> Result<()> {
    match cmd {
        IncidentsCmd::List {
            data,
            status,
            severity,
            entity,
            q,
            sort,
            limit,
            json,
        } => {
            let store = app::open_store(&data).await?;
            let sort = match sort.as_str() {
                "priority" => IncidentSort::Priority,
                "severity" => IncidentSort::Severity,
                "created" => IncidentSort::Created,
                "updated" => IncidentSort::Updated,
                other => bail!("unknown sort {other:?} (priority, severity, created, updated)"),
            };
            let filter = IncidentFilter {
                status,
                severity,
                entity,
                text: q,
                sort,
                limit: Some(limit),
                ..Default::default()
            };
            let page = store.list_incidents(&filter).await?;
            if json {
                println!("{}", serde_json::to_string(&page)?);
            } else {
                println!(
                    "{:>5}  {:>3}  {:<13}  {:<10}  {:<16}  TITLE",
                    "ID", "PRI", "SEVERITY", "STATUS", "ASSIGNED"
                );
                for i in &page.items {
                    println!(
                        "{:>5}  {:>3}  {:<13}  {:<10}  {:<16}  {}",
                        i.id,
                        i.priority,
                        i.severity.as_str(),
                        i.status.as_str(),
                        i.assigned_to.as_deref().unwrap_or("-"),
                        i.title
                    );
                }
                println!("({} of {} incidents)", page.items.len(), page.total);
            }
        }
        IncidentsCmd::Report {
            data,
            id,
            format,
            out,
        } => {
            let format = rampart_report::Format::parse(&format)
                .with_context(|| format!("unknown format {format:?} (html, md, pdf)"))?;
            report(&data, id, format, &out).await?;
        }
        IncidentsCmd::Show { data, id, json } => {
            let store = app::open_store(&data).await?;
            let Some(d) = store.get_incident(id).await? else {
                bail!("incident {id} not found");
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                let i = &d.incident;
                println!("incident {}: {}", i.id, i.title);
                println!(
                    "  severity {}  status {}  priority {}  assigned {}  classification {}  determination {}",
                    i.severity, i.status, i.priority,
                    i.assigned_to.as_deref().unwrap_or("-"),
                    i.classification, i.determination
                );
                println!(
                    "  activity {} .. {}  tags [{}]",
                    i.first_activity,
                    i.last_activity,
                    i.tags.join(", ")
                );
                if let Some(r) = i.redirect_to {
                    println!("  merged into incident {r}");
                }
                for r in &i.priority_reasons {
                    println!("  priority +{}: {}", r.points, r.reason);
                }
                println!("  entities:");
                for e in &i.entities {
                    println!("    {:<10} {}", e.kind.as_str(), e.value);
                }
                println!("  alerts:");
                for a in &d.alerts {
                    let by = match &a.draft.source {
                        rampart_model::AlertSource::Sigma(r) => {
                            format!(" [sigma {} by {}]", r.id, r.author)
                        }
                        _ => String::new(),
                    };
                    println!(
                        "    #{} {} {} ({}){}",
                        a.id, a.draft.severity, a.draft.title, a.draft.detector, by
                    );
                }
                for c in &d.comments {
                    println!("  comment by {} at {}: {}", c.author, c.created_at, c.text);
                }
            }
        }
        IncidentsCmd::Update {
            data,
            id,
            title,
            status,
            severity,
            assign,
            classification,
            determination,
            tags,
            comment,
            json,
        } => {
            let store = app::open_store(&data).await?;
            let actor = cli_actor();
            let patch = IncidentPatch {
                title,
                status,
                severity,
                assigned_to: assign.map(|a| if a.is_empty() { None } else { Some(a) }),
                classification,
                determination,
                tags,
            };
            let mut inc = None;
            if !patch.is_empty() {
                inc = Some(store.update_incident(id, &patch, &actor).await?);
            }
            if let Some(text) = comment {
                store.add_comment(id, &actor, &text).await?;
            }
            let inc = match inc {
                Some(i) => i,
                None => {
                    store
                        .get_incident(id)
                        .await?
                        .with_context(|| format!("incident {id} not found"))?
                        .incident
                }
            };
            if json {
                println!("{}", serde_json::to_string(&inc)?);
            } else {
                println!(
                    "updated incident {}: {} ({})",
                    inc.id, inc.title, inc.status
                );
            }
        }
    }
    Ok(())
}

async fn hunt(a: HuntArgs) -> Result<()> {
    let store = app::open_store(&a.data).await?;
    let secs = rampart_model::action::parse_duration(&a.since)
        .map_err(|e| anyhow::anyhow!("--since {:?}: {e}", a.since))?;
    let now = Timestamp::now().millis();
    let opts = rampart_hunt::plan::Options {
        from: Some(
            now.saturating_sub(i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000)),
        ),
        limit: a.limit,
        ..rampart_hunt::plan::Options::at(now)
    };
    let plan = match rampart_hunt::plan::plan(&a.query, &opts) {
        Ok(p) => p,
        Err(e) => {
            let pos = e.position().min(a.query.len());
            let col = a.query[..pos].chars().count();
            anyhow::bail!("{e}\n  {}\n  {}^", a.query, " ".repeat(col));
        }
    };
    let rows = store
        .hunt(&plan, std::time::Duration::from_secs(30))
        .await
        .context("running the query")?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({"columns": rows.columns, "rows": rows.rows, "truncated": rows.truncated})
        );
        return Ok(());
    }
    let cell = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    let header: Vec<&str> = rows.columns.iter().map(|c| c.name.as_str()).collect();
    println!("{}", header.join("\t"));
    for r in &rows.rows {
        println!("{}", r.iter().map(cell).collect::<Vec<_>>().join("\t"));
    }
    if rows.truncated {
        eprintln!("(truncated at {} rows: --limit raises it)", rows.rows.len());
    }
    Ok(())
}

async fn inventory(a: InventoryArgs) -> Result<()> {
    let store = app::open_store(&a.data).await?;
    let eps = store.list_endpoints().await?;
    let newest = eps
        .iter()
        .map(|e| e.last_seen)
        .max()
        .unwrap_or(Timestamp::default());
    if a.json {
        let rows: Vec<_> = eps
            .iter()
            .map(|e| {
                let mut v = serde_json::to_value(e).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert(
                        "auth".into(),
                        serde_json::to_value(e.auth()).unwrap_or_default(),
                    );
                    o.insert("inactive".into(), e.is_inactive(newest).into());
                }
                v
            })
            .collect();
        println!("{}", serde_json::to_string(&rows)?);
    } else {
        println!(
            "{:<7} {:<48} {:>9} {:<16} {:<8} PARAMS / SENSITIVE",
            "METHOD", "ENDPOINT", "CALLS", "AUTH", "ACTIVE"
        );
        for e in &eps {
            let params: Vec<&str> = e.params.keys().map(String::as_str).collect();
            println!(
                "{:<7} {:<48} {:>9} {:<16} {:<8} {} {}",
                e.method,
                format!("{}{}", e.host, e.path_template),
                e.calls,
                format!("{:?}", e.auth()).to_lowercase(),
                if e.is_inactive(newest) { "no" } else { "yes" },
                params.join(","),
                if e.sensitive_data.is_empty() {
                    String::new()
                } else {
                    format!("[{}]", e.sensitive_data.join(","))
                }
            );
        }
        println!("({} endpoints)", eps.len());
    }
    Ok(())
}

/// A `--role` value: the role, and the name it was given by (to say so when it was an alias).
#[derive(Clone, Debug)]
struct RoleArg {
    role: Role,
    given: String,
}

impl std::str::FromStr for RoleArg {
    type Err = rampart_model::ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(RoleArg {
            role: s.parse()?,
            given: s.to_string(),
        })
    }
}

fn print_action(a: &rampart_model::Action, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(a)?);
    } else {
        let n = &a.action;
        println!(
            "{:>5}  {:<16}  {:<17}  {:<30}  {}  until {}  by {}  {}",
            a.id,
            n.status.as_str(),
            n.kind.as_str(),
            n.target,
            rampart_model::action::format_duration(n.duration_secs),
            n.expires_at.map_or("-".to_string(), |t| t.to_string()),
            n.requested_by,
            n.reason
        );
    }
    Ok(())
}

async fn actions(cmd: ActionsCmd) -> Result<()> {
    use rampart_contain::Person;
    use rampart_model::action::parse_duration;
    let actor = cli_actor();
    let me = Person {
        actor: &actor,
        role: Role::Admin,
    };
    let now = rampart_model::Timestamp::now();
    let load = |store: &std::sync::Arc<dyn rampart_store::Store>, id: i64| {
        let store = store.clone();
        async move {
            store
                .get_action(id)
                .await?
                .with_context(|| format!("action {id} not found"))
        }
    };
    match cmd {
        ActionsCmd::List {
            data,
            status,
            incident_id,
            json,
        } => {
            let store = app::open_store(&data).await?;
            let filter = rampart_model::ActionFilter {
                status,
                incident_id,
                limit: Some(1000),
                ..Default::default()
            };
            let page = store.list_actions(&filter).await?;
            if json {
                println!("{}", serde_json::to_string(&page)?);
            } else {
                for a in &page.items {
                    print_action(a, false)?;
                }
                println!("({} of {} actions)", page.items.len(), page.total);
            }
        }
        ActionsCmd::Show { data, id, json } => {
            let store = app::open_store(&data).await?;
            let a = load(&store, id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&a)?);
            } else {
                print_action(&a, false)?;
            }
        }
        ActionsCmd::Create {
            data,
            kind,
            target,
            raw_key,
            duration,
            reason,
            incident_id,
            host,
            service,
            requests,
            window,
            json,
        } => {
            let config = config::FileConfig::load(data.config.as_deref(), &data.data)?;
            let rails = config
                .contain
                .contain_config(&config.decode.trusted_proxies, &config.detect.allow)?;
            let rate = match (requests, window) {
                (None, None) => None,
                (Some(requests), Some(w)) => Some(rampart_model::RateLimit {
                    requests,
                    window_secs: parse_duration(&w)?,
                }),
                _ => bail!("--requests and --window go together"),
            };
            let req = rampart_model::ActionRequest {
                kind,
                target,
                raw_key,
                scope: rampart_model::ActionScope { host, service },
                rate,
                duration_secs: duration.as_deref().map(parse_duration).transpose()?,
                reason,
                incident_id,
            };
            let req = if req.raw_key.is_some() {
                app::create_data_dir(&data.data)?;
                let secret = app::api_key_secret(&data.data)?;
                req.resolve_raw_key(|raw| rampart_decode::api_key_id(&secret, raw))?
            } else {
                req
            };
            let new = rampart_contain::plan(&req, me, &rails, now)?;
            let store = app::open_store(&data).await?;
            if let Some(i) = new.incident_id {
                if store.get_incident(i).await?.is_none() {
                    bail!("incident {i} not found");
                }
            }
            let a = store.create_action(&new, &actor).await?;
            print_action(&a, json)?;
        }
        ActionsCmd::Approve { data, id, json } => {
            let store = app::open_store(&data).await?;
            let a = load(&store, id).await?;
            let change = rampart_contain::approve(&a, me, now)?;
            let done = store
                .update_action_state(id, a.status(), &change, &actor)
                .await?;
            print_action(&done, json)?;
        }
        ActionsCmd::Revert {
            data,
            id,
            reason,
            json,
        } => {
            let store = app::open_store(&data).await?;
            let a = load(&store, id).await?;
            let change = rampart_contain::revert(&a, me, &reason, now)?;
            let done = store
                .update_action_state(id, a.status(), &change, &actor)
                .await?;
            print_action(&done, json)?;
        }
    }
    Ok(())
}

/// A new key with the `enforcer` role (the enforcement endpoints only), printed once.
async fn enforcer_key(data: DataArgs, name: String) -> Result<()> {
    rampart_model::validate_token_name(&name).with_context(|| format!("creating key {name:?}"))?;
    let store = app::open_store(&data).await?;
    let key = rampart_server::generate_token();
    store
        .create_token(
            &name,
            rampart_model::Role::Enforcer,
            &rampart_server::hash_token(&key),
            &cli_actor(),
        )
        .await
        .with_context(|| format!("creating key {name:?}"))?;
    println!("{key}");
    Ok(())
}

/// The password of `rampart user create`: a line of stdin, or prompted for twice on a terminal.
fn read_password() -> Result<String> {
    use std::io::IsTerminal;
    let pw = if std::io::stdin().is_terminal() {
        let a = rpassword::prompt_password("password: ").context("reading the password")?;
        let b = rpassword::prompt_password("again: ").context("reading the password")?;
        if a != b {
            anyhow::bail!("the passwords differ");
        }
        a
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    rampart_model::validate_password(&pw)?;
    Ok(pw)
}

async fn user(cmd: UserCmd) -> Result<()> {
    match cmd {
        UserCmd::Create { data, name, role } => {
            rampart_model::validate_user_name(&name)
                .with_context(|| format!("creating user {name:?}"))?;
            let RoleArg { role, given } = role;
            if role.is_machine() {
                anyhow::bail!(
                    "creating user {name:?}: {role} is a machine role; use `rampart token create`"
                );
            }
            if !given.eq_ignore_ascii_case(role.as_str()) {
                eprintln!("note: role {given} is {role}");
            }
            let password = read_password()?;
            let hash = rampart_server::console::session::hash_password(&password)
                .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
            let store = app::open_store(&data).await?;
            let user = store
                .create_user(&name, role, &hash, &cli_actor())
                .await
                .with_context(|| format!("creating user {name:?}"))?;
            eprintln!("created user {} ({})", user.name, user.role);
        }
        UserCmd::List { data, json } => {
            let store = app::open_store(&data).await?;
            let users = store.list_users().await?;
            if json {
                println!("{}", serde_json::to_string(&users)?);
            } else {
                for u in users {
                    println!("{:<24} {:<11} created {}", u.name, u.role, u.created_at);
                }
            }
        }
    }
    Ok(())
}

async fn token(cmd: TokenCmd) -> Result<()> {
    match cmd {
        TokenCmd::Create { data, name, role } => {
            rampart_model::validate_token_name(&name)
                .with_context(|| format!("creating token {name:?}"))?;
            let RoleArg { role, given } = role;
            if !given.eq_ignore_ascii_case(role.as_str()) {
                eprintln!("note: role {given} is {role}");
            }
            let store = app::open_store(&data).await?;
            let token = rampart_server::generate_token();
            store
                .create_token(
                    &name,
                    role,
                    &rampart_server::hash_token(&token),
                    &cli_actor(),
                )
                .await
                .with_context(|| format!("creating token {name:?}"))?;
            println!("{token}");
        }
        TokenCmd::List { data, json } => {
            let store = app::open_store(&data).await?;
            let tokens = store.list_tokens().await?;
            if json {
                println!("{}", serde_json::to_string(&tokens)?);
            } else {
                for t in tokens {
                    println!(
                        "{:<20} {:<11} created {} {}",
                        t.name,
                        t.role,
                        t.created_at,
                        t.revoked_at
                            .map(|r| format!("revoked {r}"))
                            .unwrap_or_default()
                    );
                }
            }
        }
        TokenCmd::Revoke { data, name } => {
            let store = app::open_store(&data).await?;
            store.revoke_token(&name, &cli_actor()).await?;
            println!("revoked {name}");
        }
    }
    Ok(())
}
