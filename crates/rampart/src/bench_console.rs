//! `rampart bench-console`: how fast the console's pages render over a big store.
//!
//! Seeds a SQLite store (through the store's own `apply`, as the correlator writes) with
//! `--incidents` incidents and `--alerts` alerts spread over them, then sends each measured
//! page `--requests` times through the server's router in process (the whole handler: session
//! check, store reads, rendering; no TCP), and prints the median, p99 and size of each, side by
//! side in one run.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use rampart_model::{
    AlertDraft, AlertSource, AttackStage, Entity, EntityKind, EntityRole, PriorityReason, Reason,
    Role, Session, Severity, Timestamp,
};
use rampart_store::{Change, ChangeSet, IncidentRef, IncidentState, Store};
use tower::ServiceExt;

/// Options of `rampart bench-console`.
#[derive(Args)]
pub struct ConsoleBenchArgs {
    /// Data directory to seed (and reuse when it already holds the incidents); a temporary one
    /// by default.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Incidents to store.
    #[arg(long, default_value_t = 100_000)]
    pub incidents: u64,
    /// Alerts to store, spread evenly over the incidents.
    #[arg(long, default_value_t = 1_000_000)]
    pub alerts: u64,
    /// Requests per measured page.
    #[arg(long, default_value_t = 200)]
    pub requests: usize,
}

const DETECTORS: &[(&str, &str, AttackStage, &str)] = &[
    (
        "API_EndpointSpray",
        "T1595.003",
        AttackStage::Recon,
        "API9:2023",
    ),
    (
        "API_ParameterEnumeration",
        "T1190",
        AttackStage::Recon,
        "API1:2023",
    ),
    ("API_BOLA", "T1530", AttackStage::DataAccess, "API1:2023"),
    (
        "API_CredentialStuffing",
        "T1110.004",
        AttackStage::CredentialAccess,
        "API2:2023",
    ),
    (
        "API_Injection",
        "T1190",
        AttackStage::Exploitation,
        "API8:2023",
    ),
    (
        "API_LargeResponse",
        "T1530",
        AttackStage::DataAccess,
        "API3:2023",
    ),
    ("API_ErrorBurst", "T1499", AttackStage::Impact, "API4:2023"),
    ("sigma", "T1190", AttackStage::Exploitation, "API8:2023"),
];

fn severity(n: u64) -> Severity {
    [
        Severity::Low,
        Severity::Medium,
        Severity::Medium,
        Severity::High,
        Severity::High,
        Severity::Critical,
    ][(n % 6) as usize]
}

fn alert(i: u64, j: u64, at: i64) -> AlertDraft {
    let (detector, technique, stage, owasp) =
        DETECTORS[((i + j) % DETECTORS.len() as u64) as usize];
    let ip = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    let endpoint = format!("GET /api/v1/resource{}/{{id}}", j % 40);
    let mut entities = vec![
        Entity::attacker_ip(&ip),
        Entity::new(EntityKind::Endpoint, endpoint, EntityRole::Target),
    ];
    if i.is_multiple_of(3) {
        entities.push(Entity::new(
            EntityKind::User,
            format!("user{}", i % 5000),
            EntityRole::Attacker,
        ));
    }
    AlertDraft {
        detector: detector.into(),
        title: format!("{detector} from {ip}"),
        description: "one client walked many object ids of another user's resources".into(),
        severity: severity(i + j),
        mitre: vec![technique.into()],
        owasp: Some(owasp.into()),
        entities,
        evidence: vec![],
        first_seen: Timestamp(at + j as i64 * 60_000),
        last_seen: Timestamp(at + j as i64 * 60_000 + 30_000),
        reasons: vec![Reason {
            metric: "distinct_ids".into(),
            observed: 200.0 + j as f64,
            threshold: Some(50.0),
        }],
        source: AlertSource::Rampart,
        stage,
        incident_hint: None,
    }
}

async fn seed(store: &Arc<dyn Store>, incidents: u64, alerts: u64) -> Result<()> {
    let per = (alerts / incidents.max(1)).max(1);
    let start = Instant::now();
    let t0 = Timestamp::now().millis() - 30 * 86_400_000;
    let batch = 200u64;
    let mut i = 0;
    while i < incidents {
        let mut changes = Vec::new();
        for k in 0..batch.min(incidents - i) {
            let n = i + k;
            let at = t0 + n as i64 * 20_000;
            let drafts: Vec<AlertDraft> = (0..per).map(|j| alert(n, j, at)).collect();
            let mut entities: Vec<Entity> = Vec::new();
            for d in &drafts {
                for e in &d.entities {
                    if !entities.contains(e) {
                        entities.push(e.clone());
                    }
                }
            }
            let state = IncidentState {
                title: format!("Multi-stage attack from {}", entities[0].value),
                severity: drafts
                    .iter()
                    .map(|d| d.severity)
                    .max()
                    .unwrap_or(Severity::Low),
                entities,
                first_activity: drafts[0].first_seen,
                last_activity: drafts[drafts.len() - 1].last_seen,
                alert_count: per as u32,
                priority: ((n * 37) % 101) as u32,
                priority_reasons: vec![PriorityReason {
                    points: 30,
                    reason: "high severity".into(),
                }],
            };
            changes.push(Change::CreateIncident {
                temp: k as u32,
                state,
            });
            changes.extend(drafts.into_iter().map(|alert| Change::InsertAlert {
                alert,
                incident: IncidentRef::New(k as u32),
            }));
        }
        store
            .apply(&ChangeSet { changes })
            .await
            .context("seeding incidents")?;
        i += batch;
        if i.is_multiple_of(10_000) {
            eprintln!(
                "seeded {i} incidents ({:.0} alerts/s)",
                (i * per) as f64 / start.elapsed().as_secs_f64()
            );
        }
    }
    eprintln!(
        "seeded {incidents} incidents and {} alerts in {:.1}s",
        incidents * per,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Run the benchmark.
pub async fn run(a: ConsoleBenchArgs) -> Result<()> {
    let tmp;
    let dir = match &a.data {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir().context("temporary data directory")?;
            tmp.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let args = crate::DataArgs {
        data: dir.clone(),
        postgres: None,
        config: None,
    };
    let store = crate::app::open_store(&args).await?;
    let have = store.stats().await?;
    if have.incidents < a.incidents {
        seed(
            &store,
            a.incidents - have.incidents,
            a.alerts.saturating_sub(have.alerts),
        )
        .await?;
    }
    // as the server does at open and every hour
    store.optimize().await?;
    let stats = store.stats().await?;
    eprintln!(
        "store: {} incidents, {} alerts ({})",
        stats.incidents,
        stats.alerts,
        dir.display()
    );
    // a signed-in user, as the browser would be
    let name = format!("bench-{}", std::process::id());
    let hash = rampart_server::console::session::hash_password("bench password")
        .map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
    let user = store
        .create_user(&name, Role::Tier2, &hash, "cli:bench")
        .await?;
    let secret = rampart_server::generate_token();
    let now = Timestamp::now();
    store
        .create_session(
            &Session {
                id_hash: rampart_server::hash_token(&secret),
                user_id: user.id,
                csrf: rampart_server::generate_token(),
                created_at: now,
                last_seen: now,
                expires_at: Timestamp(now.millis() + 3_600_000),
            },
            "bench",
        )
        .await?;
    let (pipeline, _task) = rampart_pipeline::spawn(store.clone(), Default::default())
        .await
        .context("starting the pipeline")?;
    let state = rampart_server::AppState::new(
        store.clone(),
        pipeline,
        Default::default(),
        Default::default(),
    );
    let router = rampart_server::router(state);
    let top = store
        .list_incidents(&rampart_model::IncidentFilter {
            limit: Some(1),
            ..Default::default()
        })
        .await?;
    let id = top.items.first().map_or(1, |i| i.id);
    let deep = store
        .list_incidents(&rampart_model::IncidentFilter {
            limit: Some(1),
            offset: Some(5000),
            ..Default::default()
        })
        .await?;
    let cursor = deep
        .items
        .first()
        .map(|i| i.cursor(Default::default()))
        .unwrap_or_default();
    let pages: Vec<(&str, String)> = vec![
        ("queue, default view (priority)", "/incidents".into()),
        (
            "queue, page 101 (keyset cursor)",
            format!("/incidents?after={cursor}"),
        ),
        (
            "queue, status + severity, by last update",
            "/incidents?status=Active&severity=High&severity=Critical&sort=updated".into(),
        ),
        ("queue, by detector", "/incidents?detector=API_BOLA".into()),
        (
            "queue, by MITRE tactic",
            "/incidents?tactic=credential-access".into(),
        ),
        ("queue, by entity", "/incidents?entity=10.0.1.7".into()),
        ("queue, free-text search", "/incidents?q=10.0.1.7".into()),
        (
            "incident page, attack story",
            format!("/incidents/{id}?tab=story"),
        ),
        (
            "incident page, alerts",
            format!("/incidents/{id}?tab=alerts"),
        ),
        ("incident page, graph", format!("/incidents/{id}?tab=graph")),
        (
            "incident page, evidence and response",
            format!("/incidents/{id}?tab=response"),
        ),
        (
            "SOC dashboard (last 30 days, newest 1,000 incidents)",
            "/soc".into(),
        ),
    ];
    println!(
        "| page ({} incidents, {} alerts, SQLite) | p50 ms | p99 ms | KiB |",
        stats.incidents, stats.alerts
    );
    println!("|---|---:|---:|---:|");
    for (what, path) in &pages {
        let mut times = Vec::with_capacity(a.requests);
        let mut size = 0;
        for _ in 0..a.requests {
            let req = axum::http::Request::get(path.as_str())
                .header("cookie", format!("rampart_session={secret}"))
                .body(axum::body::Body::empty())?;
            let t = Instant::now();
            let resp = router.clone().oneshot(req).await?;
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            anyhow::ensure!(status == 200, "{path}: {status}");
            size = body.len();
        }
        times.sort_by(|x, y| x.total_cmp(y));
        println!(
            "| {what} | {:.1} | {:.1} | {} |",
            pct(&times, 0.5),
            pct(&times, 0.99),
            size / 1024
        );
    }
    Ok(())
}
