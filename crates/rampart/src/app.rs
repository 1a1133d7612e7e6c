//! Assembly: configuration, store, detection setup and pipeline, shared by every command.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use tokio::sync::watch;

use rampart_decode::DecodeConfig;
use rampart_pipeline::{DetectionSetup, PipelineConfig, PipelineHandle};
use rampart_signatures::intel::{FeedFormat, ThreatIntel, TOR_FEED};
use rampart_store::Store;

use crate::config::FileConfig;
use crate::DataArgs;

/// An opened Rampart: store, pipeline and the settings they were built from.
pub struct App {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The pipeline.
    pub pipeline: PipelineHandle,
    task: tokio::task::JoinHandle<()>,
    /// Decoder settings (with the installation's API-key secret).
    pub decode: DecodeConfig,
    /// The configuration file.
    pub config: FileConfig,
    intel: Option<IntelFeeds>,
    /// What detection runs, for the console's detectors page.
    pub catalogue: Arc<rampart_console::pages::Catalogue>,
    /// The OpenAPI spec of the protected API, when `[detect] openapi` names one.
    pub api_spec: Option<Arc<rampart_signatures::inventory::OpenApiSpec>>,
}

/// Open the store named by the data arguments (SQLite in the data directory by default).
pub async fn open_store(d: &DataArgs) -> Result<Arc<dyn Store>> {
    match &d.postgres {
        Some(url) => Ok(Arc::new(
            rampart_store_postgres::PgStore::connect(url)
                .await
                .context("connecting to PostgreSQL")?,
        )),
        None => {
            let path = d.data.join("rampart.db");
            Ok(Arc::new(
                rampart_store_sqlite::SqliteStore::open(&path)
                    .await
                    .with_context(|| format!("opening {}", path.display()))?,
            ))
        }
    }
}

/// Create the data directory owner-only (0700, whatever the umask) with any missing parents;
/// an existing directory that others can read is kept as it is, with a warning (it holds the
/// database and the API-key secret).
pub fn create_data_dir(data: &Path) -> Result<()> {
    let missing: Vec<&Path> = data
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
        .collect();
    std::fs::create_dir_all(data)
        .with_context(|| format!("creating data directory {}", data.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for d in missing {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("making {} owner-only", d.display()))?;
        }
        let mode = std::fs::metadata(data)
            .with_context(|| format!("reading {}", data.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                dir = %data.display(),
                mode = %format!("{:o}", mode & 0o777),
                "the data directory is open to other users; chmod 700 it"
            );
        }
    }
    #[cfg(not(unix))]
    drop(missing);
    Ok(())
}

/// The installation's secret for keyed API-key identities: created once, kept in the data
/// directory with owner-only permissions.
pub fn api_key_secret(data: &Path) -> Result<Vec<u8>> {
    let path = data.join("secret.key");
    if let Ok(hex) = std::fs::read_to_string(&path) {
        if let Ok(b) = hex::decode(hex.trim()) {
            if b.len() >= 16 {
                return Ok(b);
            }
        }
        anyhow::bail!(
            "{} is not a valid secret (hex, >= 16 bytes)",
            path.display()
        );
    }
    create_data_dir(data)?;
    let secret: [u8; 32] = rand::random();
    let text = hex::encode(secret);
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        f.write_all(text.as_bytes())?;
    }
    Ok(secret.to_vec())
}

/// Threat-intelligence feed files, parsed into one set and swapped in when they change.
struct IntelFeeds {
    paths: Vec<PathBuf>,
    handle: Arc<arc_swap::ArcSwap<ThreatIntel>>,
    stamps: Vec<Option<SystemTime>>,
}

/// Parse one feed file; the format follows the extension, the feed name the file stem (a name
/// containing `tor` is the Tor exit-node feed).
pub fn parse_feed(path: &Path) -> Result<ThreatIntel> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let format = match ext.as_str() {
        "json" => FeedFormat::Stix,
        "csv" => FeedFormat::Csv,
        _ => FeedFormat::Plain,
    };
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("feed")
        .to_string();
    let name = if stem.to_ascii_lowercase().contains("tor") {
        TOR_FEED.to_string()
    } else {
        stem
    };
    ThreatIntel::parse(&name, format, &text)
        .with_context(|| format!("parsing threat-intel feed {}", path.display()))
}

impl IntelFeeds {
    fn load(paths: Vec<PathBuf>, handle: Arc<arc_swap::ArcSwap<ThreatIntel>>) -> Result<Self> {
        let mut f = IntelFeeds {
            paths,
            handle,
            stamps: Vec::new(),
        };
        f.reload()?;
        Ok(f)
    }

    fn mtimes(&self) -> Vec<Option<SystemTime>> {
        self.paths
            .iter()
            .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .collect()
    }

    fn reload(&mut self) -> Result<()> {
        let mut set = ThreatIntel::empty();
        for p in &self.paths {
            set = set.with(parse_feed(p)?);
        }
        self.handle.store(Arc::new(set));
        self.stamps = self.mtimes();
        Ok(())
    }

    /// Re-read the feeds whenever a file changes; a bad feed keeps the previous set.
    async fn watch(mut self, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = stop.changed() => return,
            }
            if self.mtimes() != self.stamps {
                match self.reload() {
                    Ok(()) => {
                        tracing::info!(feeds = self.paths.len(), "threat intelligence reloaded")
                    }
                    Err(e) => {
                        self.stamps = self.mtimes();
                        tracing::error!(error = %format!("{e:#}"), "threat intelligence reload failed; keeping the previous set");
                    }
                }
            }
        }
    }
}

/// The detection setup a configuration file asks for: allow-lists, suppressions, learning
/// period, disabled detectors, Sigma rules and the OpenAPI spec (threat intelligence is
/// loaded by [`App::open`], which watches the feeds).
pub fn detection_setup(config: &FileConfig) -> Result<DetectionSetup> {
    detection_setup_with(config, &[], None)
}

/// [`detection_setup`] with more Sigma directories after the configured ones, and the
/// shipped rules forced on or off (`None`: as `[detect] builtin_sigma` says, default on).
pub fn detection_setup_with(
    config: &FileConfig,
    extra_sigma: &[PathBuf],
    builtin_sigma: Option<bool>,
) -> Result<DetectionSetup> {
    let mut setup = DetectionSetup::default();
    setup.detect.allow = config.detect.allow.clone();
    setup.detect.suppress = config.detect.suppress.clone();
    if let Some(days) = config.detect.learning_days {
        setup.detect.baseline.learning_ms = days * 86_400_000;
    }
    if let Some(t) = config.detect.sigma.settings() {
        let value = serde_json::to_value(&t).context("reading [detect.sigma]")?;
        setup
            .detect
            .detectors
            .insert_raw(rampart_sigma::DETECTOR_ID, value);
    }
    for (id, section) in &config.detect.detectors {
        let value =
            serde_json::to_value(section).with_context(|| format!("reading [detect.{id}]"))?;
        setup.detect.detectors.insert_raw(id.clone(), value);
    }
    // `disabled = [...]` is shorthand for `[detect.<id>] enabled = false`. A disabled
    // detector is left out of the engine (`build_engine`): it never runs.
    for id in &config.detect.disabled {
        if !rampart_pipeline::REGISTRY.iter().any(|r| r.id == id) {
            anyhow::bail!("unknown detector {id:?} in [detect] disabled");
        }
        setup.disable(id);
    }
    if !setup.is_disabled(rampart_sigma::DETECTOR_ID) {
        // The SigmaHQ web rules shipped in the binary (unless `builtin_sigma = false`), then
        // every directory in order: a directory rule with a shipped rule's id replaces it,
        // new ids extend the set, and among directories the first one loaded wins.
        let mut dirs = config.detect.sigma.dirs().map_err(|e| anyhow::anyhow!(e))?;
        dirs.extend(extra_sigma.iter().cloned());
        let shown = || {
            let d: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            format!("loading Sigma rules from {}", d.join(", "))
        };
        let loaded = if builtin_sigma.unwrap_or(config.detect.builtin_sigma.unwrap_or(true)) {
            Some(rampart_sigma::load_with_builtin(&dirs).with_context(shown)?)
        } else if !dirs.is_empty() {
            Some(rampart_sigma::load_dirs(&dirs).with_context(shown)?)
        } else {
            None
        };
        if let Some((rules, report)) = loaded {
            for (rule, why) in &report.refused {
                tracing::warn!(rule = %rule, reason = %why, "sigma rule refused");
            }
            tracing::debug!(dirs = dirs.len(), rules = rules.len(), "sigma rules loaded");
            setup.set_sigma(Arc::new(rules));
        }
    }
    if let Some(spec) = &config.detect.openapi {
        let text =
            std::fs::read_to_string(spec).with_context(|| format!("reading {}", spec.display()))?;
        let parsed = rampart_signatures::inventory::OpenApiSpec::parse(&text)
            .with_context(|| format!("parsing OpenAPI spec {}", spec.display()))?;
        setup.set_api_spec(Arc::new(parsed));
    }
    // Every section is checked now, so a typo fails at start, naming the detector.
    rampart_pipeline::try_build_engine(&setup).context("invalid detector settings in [detect]")?;
    Ok(setup)
}

impl App {
    /// Open everything for a data directory.
    pub async fn open(d: &DataArgs) -> Result<App> {
        let config = FileConfig::load(d.config.as_deref(), &d.data)?;
        create_data_dir(&d.data)?;
        let store = open_store(d).await?;
        let mut decode = DecodeConfig {
            trusted_proxies: config.decode.trusted_proxies.clone(),
            principal_header: config.decode.principal_header.clone(),
            api_key_secret: api_key_secret(&d.data)?,
            ..Default::default()
        };
        if let Some(h) = &config.decode.api_key_headers {
            decode.api_key_headers = h.clone();
        }
        decode.secrets = config.decode.secrets(&decode.api_key_headers);
        let mut setup = detection_setup(&config)?;
        let intel = if config.detect.threat_intel.is_empty() {
            None
        } else {
            Some(IntelFeeds::load(
                config.detect.threat_intel.clone(),
                setup.intel(),
            )?)
        };
        let catalogue = Arc::new(crate::catalogue::build(&setup));
        let api_spec = setup.api_spec();
        let mut pcfg = PipelineConfig {
            engine: rampart_pipeline::build_engine(&setup),
            decode: decode.clone(),
            contain: config
                .contain
                .contain_config(&config.decode.trusted_proxies, &config.detect.allow)?,
            disruption: config.disruption.disruption_config()?,
            ..Default::default()
        };
        if let Some(m) = config.correlate.window_minutes {
            pcfg.correlate.window_ms = m * 60_000;
        }
        let (pipeline, task) = rampart_pipeline::spawn(store.clone(), pcfg)
            .await
            .context("starting the pipeline")?;
        Ok(App {
            store,
            pipeline,
            task,
            decode,
            config,
            intel,
            catalogue,
            api_spec,
        })
    }

    /// Serve the API (and follow files) until ctrl-c.
    pub async fn serve(
        mut self,
        listener: tokio::net::TcpListener,
        follow: Vec<PathBuf>,
        format: Option<String>,
    ) -> Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let intel_handle = self.intel.as_ref().map(|f| f.handle.clone());
        if let Some(intel) = self.intel.take() {
            tokio::spawn(intel.watch(stop_rx.clone()));
        }
        let max_line_bytes = self.config.ingest.max_line_bytes(None)?;
        for path in follow {
            let path = rampart_ingest::follow::resolve_path(&path);
            let opts = rampart_ingest::follow::FollowOptions {
                format: format.clone(),
                decode: self.decode.clone(),
                max_line_bytes,
                ..Default::default()
            };
            let (progress, _) = watch::channel(Default::default());
            let store = self.store.clone();
            let pipeline = self.pipeline.clone();
            let stop = stop_rx.clone();
            eprintln!("rampart: following {}", path.display());
            tasks.push(tokio::spawn(async move {
                let shown = path.display().to_string();
                if let Err(e) =
                    rampart_ingest::follow::follow(path, opts, store, pipeline, progress, stop)
                        .await
                {
                    tracing::error!(file = %shown, error = %e, "following stopped");
                }
            }));
        }
        let mut cfg = self.config.server.server_config();
        cfg.webhooks = self.config.webhooks.webhook_config();
        rampart_server::webhook::http_client(&cfg.webhooks)
            .map_err(anyhow::Error::msg)
            .context("[webhooks]")?;
        cfg.retention = self.config.retention.retention_config()?;
        let contain = self.config.contain.contain_config(
            &self.config.decode.trusted_proxies,
            &self.config.detect.allow,
        )?;
        let mut state = rampart_server::AppState::new(
            self.store.clone(),
            self.pipeline.clone(),
            self.decode.clone(),
            cfg,
        );
        state.contain = Arc::new(contain);
        state.catalogue = self.catalogue.clone();
        state.api_spec = self.api_spec.clone();
        state.intel = intel_handle;
        let served = rampart_server::serve(listener, state).await;
        let _ = stop_tx.send(true);
        for t in tasks {
            let _ = t.await;
        }
        served.context("serving")?;
        self.shutdown().await
    }

    /// Flush the pipeline and wait for it to stop.
    pub async fn shutdown(self) -> Result<()> {
        self.pipeline
            .flush()
            .await
            .context("flushing the pipeline")?;
        drop(self.pipeline);
        let _ = self.task.await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sigma_dir(rules: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        for (id, needle) in rules {
            std::fs::write(
                dir.path().join(format!("{id}.yml")),
                format!(
                    "title: rule {id}\nid: 00000000-0000-0000-0000-{id:0>12}\nlogsource:\n  \
                     category: webserver\ndetection:\n  sel:\n    cs-uri-query|contains: \
                     '{needle}'\n  condition: sel\nlevel: high\n"
                ),
            )
            .expect("write rule");
        }
        dir
    }

    fn config(toml_text: &str) -> FileConfig {
        toml::from_str(toml_text).expect("config")
    }

    #[test]
    fn catalogue_lists_loaded_sigma_rules_and_disabled_detectors() {
        let rules = sigma_dir(&[("1", "aaa"), ("2", "bbb")]);
        let cfg = config(&format!(
            "[detect]\ndisabled = [\"bola\"]\nsigma = [{:?}]\n",
            rules.path()
        ));
        let c = crate::catalogue::build(&detection_setup(&cfg).expect("setup"));
        let titles: Vec<&str> = c.sigma.iter().map(|r| r.title.as_str()).collect();
        // The shipped SigmaHQ rules, then the directory's two.
        let shipped = rampart_sigma::builtin().0.len();
        assert_eq!(titles.len(), shipped + 2);
        assert!(
            titles.contains(&"rule 1") && titles.contains(&"rule 2"),
            "{titles:?}"
        );
        let find = |id: &str| c.detectors.iter().find(|d| d.id == id).expect(id);
        assert!(find("sigma").enabled);
        assert!(!find("bola").enabled);
        assert!(find("injection").enabled);
    }

    /// Regression: a disabled detector was only suppressed: it still ran and held state.
    #[test]
    fn disabled_detectors_are_not_built() {
        let rules = sigma_dir(&[("1", "aaa")]);
        let cfg = config(&format!(
            "[detect]\ndisabled = [\"bola\", \"injection\", \"sigma\"]\nsigma = [{:?}]\n",
            rules.path()
        ));
        let setup = detection_setup(&cfg).expect("setup");
        let ids = rampart_pipeline::build_engine(&setup).ids();
        for off in ["bola", "injection", "sigma"] {
            assert!(!ids.contains(&off), "{off} is in the engine: {ids:?}");
        }
        for on in ["param_enumeration", "ssrf"] {
            assert!(ids.contains(&on), "{on} is missing: {ids:?}");
        }

        let cfg = config("[detect]\ndisabled = [\"no_such_detector\"]\n");
        let Err(err) = detection_setup(&cfg) else {
            panic!("an unknown detector id is accepted");
        };
        assert!(err.to_string().contains("no_such_detector"), "{err}");
    }

    /// Every detector is tuned from its own `[detect.<id>]` section; a typo in an id or a key
    /// fails at start, naming the detector.
    #[test]
    fn detector_sections_tune_and_typos_fail() {
        let cfg = config("[detect.bola]\nmin_ids = 7\nwindow_ms = 1000\n\n[detect.injection]\nenabled = false\n\n[detect.sigma]\ncooldown_secs = 5\n");
        let setup = detection_setup(&cfg).expect("setup");
        let bola: rampart_detect::detectors::enumeration::BolaConfig = setup
            .detect
            .detectors
            .section("bola")
            .expect("bola section");
        assert_eq!((bola.min_ids, bola.window_ms), (7, 1000));
        let ids = rampart_pipeline::build_engine(&setup).ids();
        assert!(
            !ids.contains(&"injection") && ids.contains(&"bola"),
            "{ids:?}"
        );
        let sigma: rampart_sigma::SigmaConfig = setup
            .detect
            .detectors
            .section("sigma")
            .expect("sigma section");
        assert_eq!(sigma.cooldown_secs, 5);

        for (text, needle) in [
            ("[detect.bolaa]\nmin_ids = 7\n", "bolaa"),
            ("[detect.bola]\nmin_idz = 7\n", "min_idz"),
            ("[detect.bola]\nenabled = \"yes\"\n", "detect.bola"),
        ] {
            let Err(err) = detection_setup(&config(text)) else {
                panic!("{text:?} was accepted");
            };
            assert!(format!("{err:#}").contains(needle), "{text:?}: {err:#}");
        }
    }

    /// The README's rampart.toml example is a valid configuration, and its detector sections
    /// fit their detectors.
    #[test]
    fn readme_config_example_is_valid() {
        let readme = include_str!("../../../README.md");
        let start = readme
            .find("```toml\n[server]")
            .expect("the README's config example");
        let text = &readme[start + 8..];
        let text = &text[..text.find("```").expect("end of the example")];
        let cfg: FileConfig = toml::from_str(text).expect("the README example parses");
        let mut setup = DetectionSetup::default();
        for (id, section) in &cfg.detect.detectors {
            setup
                .detect
                .detectors
                .insert_raw(id.clone(), serde_json::to_value(section).unwrap());
        }
        rampart_pipeline::try_build_engine(&setup).expect("the README's detector sections fit");
        assert!(cfg.detect.detectors.contains_key("bola"));
    }

    /// The SigmaHQ rules ship in the binary: loaded without any directory, off with
    /// `builtin_sigma = false`.
    #[test]
    fn shipped_sigma_rules_load_by_default() {
        let setup = detection_setup(&config("")).expect("setup");
        let n = setup.sigma().map_or(0, |r| r.len());
        assert_eq!(n, rampart_sigma::builtin().0.len());
        assert!(n >= 100, "{n} shipped rules");
        let off = detection_setup(&config("[detect]\nbuiltin_sigma = false\n")).expect("setup");
        assert!(off.sigma().is_none());
    }

    /// Regression: with several Sigma directories configured only the last was loaded.
    #[test]
    fn every_sigma_directory_is_loaded() {
        let a = sigma_dir(&[("1", "aaa"), ("2", "bbb")]);
        let b = sigma_dir(&[("3", "ccc")]);
        let cfg = config(&format!(
            "[detect]\nbuiltin_sigma = false\nsigma = [{:?}, {:?}]\n",
            a.path(),
            b.path()
        ));
        let setup = detection_setup(&cfg).expect("setup");
        let rules = setup.sigma().expect("sigma rules");
        let mut titles: Vec<&str> = rules.rules().iter().map(|r| r.title.as_str()).collect();
        titles.sort();
        assert_eq!(titles, ["rule 1", "rule 2", "rule 3"]);
    }
}
