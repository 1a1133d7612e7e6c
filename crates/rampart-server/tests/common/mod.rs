//! zero2prod-style harness: a fresh SQLite store in a temp dir, the pipeline, the server on a
//! bound ephemeral port, and a typed client.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use rampart_model::{
    AlertDraft, AlertSource, AttackStage, Entity, Incident, IncidentPatch, IncidentStatus, Reason,
    Role, Severity, SigmaRuleRef, Timestamp,
};
use rampart_server::tokens::TokenCache;
use rampart_server::{generate_token, hash_token, AppState, ServerConfig};
use rampart_store::{Change, ChangeSet, IncidentRef, IncidentState, Store};
use rampart_store_sqlite::SqliteStore;
use serde_json::Value;

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    /// The same store, concrete: for raw SQL in tests (`execute_raw`) and to close it under
    /// the server.
    pub sqlite: SqliteStore,
    pub admin: String,
    /// The server's token cache (tokens made directly in the store are reloaded into it).
    pub tokens: Arc<TokenCache>,
    /// The server's pipeline.
    pub pipeline: rampart_pipeline::PipelineHandle,
    /// Send to shut the server down (graceful: in-flight requests finish).
    pub shutdown: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    /// The server task.
    pub server:
        std::sync::Mutex<Option<tokio::task::JoinHandle<Result<(), rampart_server::ServeError>>>>,
    _dir: Option<tempfile::TempDir>,
    seq: AtomicU32,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(ServerConfig::default()).await
}

pub async fn spawn_app_with(config: ServerConfig) -> TestApp {
    spawn_app_contained(config, rampart_contain::ContainConfig::default()).await
}

/// A server with these containment rails.
pub async fn spawn_app_contained(
    config: ServerConfig,
    contain: rampart_contain::ContainConfig,
) -> TestApp {
    spawn_app_state(move |state| state.contain = Arc::new(contain), config).await
}

/// A server whose state `edit` changes before it starts (catalogue, rails, OpenAPI spec).
pub async fn spawn_app_state(edit: impl FnOnce(&mut AppState), config: ServerConfig) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = SqliteStore::open(&dir.path().join("rampart.db"))
        .await
        .expect("open sqlite");
    let app = spawn_on(sqlite, Some(dir), config, edit, Default::default()).await;
    let admin = app.token(Role::Admin).await;
    TestApp { admin, ..app }
}

/// A server whose pipeline runs with `pipeline` (attack disruption, rails) and whose state
/// `edit` changes.
#[allow(dead_code)]
pub async fn spawn_app_pipeline(
    pipeline: rampart_pipeline::PipelineConfig,
    edit: impl FnOnce(&mut AppState),
) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = SqliteStore::open(&dir.path().join("rampart.db"))
        .await
        .expect("open sqlite");
    let app = spawn_on(sqlite, Some(dir), ServerConfig::default(), edit, pipeline).await;
    let admin = app.token(Role::Admin).await;
    TestApp { admin, ..app }
}

/// A server on `sqlite` (another node, when the store is already some other server's).
async fn spawn_on(
    sqlite: SqliteStore,
    dir: Option<tempfile::TempDir>,
    config: ServerConfig,
    edit: impl FnOnce(&mut AppState),
    pipeline: rampart_pipeline::PipelineConfig,
) -> TestApp {
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    let (pipeline, _task) = rampart_pipeline::spawn(store.clone(), pipeline)
        .await
        .expect("spawn pipeline");
    let mut state = AppState::new(store.clone(), pipeline.clone(), Default::default(), config);
    edit(&mut state);
    let tokens = state.tokens.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(rampart_server::serve_with_shutdown(
        listener,
        state,
        async move {
            let _ = stop.await;
        },
    ));
    TestApp {
        addr,
        client: reqwest::Client::new(),
        store,
        sqlite,
        admin: String::new(),
        tokens,
        pipeline,
        shutdown: std::sync::Mutex::new(Some(shutdown)),
        server: std::sync::Mutex::new(Some(server)),
        _dir: dir,
        seq: AtomicU32::new(0),
    }
}

/// One incident to seed.
pub struct Seed {
    pub title: &'static str,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub owner: Option<&'static str>,
    pub tags: &'static [&'static str],
    pub priority: u32,
    pub ip: &'static str,
}

pub fn alert(title: &str, severity: Severity, ip: &str, at: i64) -> AlertDraft {
    AlertDraft {
        detector: "API_ParameterEnumeration".into(),
        title: title.into(),
        description: "one client walked many object ids".into(),
        severity,
        mitre: vec!["T1190".into()],
        owasp: Some("API1:2023".into()),
        entities: vec![
            Entity::attacker_ip(ip),
            Entity::target_endpoint("GET /api/v1/users/{id}"),
        ],
        evidence: vec![],
        first_seen: Timestamp::from_secs(at),
        last_seen: Timestamp::from_secs(at + 60),
        reasons: vec![Reason {
            metric: "distinct_ids".into(),
            observed: 200.0,
            threshold: Some(50.0),
        }],
        source: AlertSource::Rampart,
        stage: AttackStage::DataAccess,
        incident_hint: None,
    }
}

pub fn sigma_alert(ip: &str) -> AlertDraft {
    AlertDraft {
        detector: "sigma".into(),
        title: "SQL injection strings in URI".into(),
        source: AlertSource::Sigma(SigmaRuleRef {
            title: "SQL Injection Strings In URI".into(),
            id: "5513deaf-f49a-46c2-a6c8-3f111b5cb453".into(),
            level: "high".into(),
            author: "Saw Win Naung, Nasreddine Bencherchali".into(),
            tags: vec!["attack.initial-access".into(), "attack.t1190".into()],
        }),
        ..alert("sigma", Severity::High, ip, 1_700_000_000)
    }
}

impl TestApp {
    /// Wait (bounded) until the automation worker finished every trigger batch committed so
    /// far: what it would do about them is done.
    #[allow(dead_code)]
    pub async fn flush_automation(&self) {
        use std::sync::atomic::Ordering::Acquire;
        let stats = self.pipeline.stats();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while stats.automation_done.load(Acquire) < stats.automation_queued.load(Acquire) {
            assert!(
                std::time::Instant::now() < deadline,
                "the automation worker did not finish within 10 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// A second server (node) sharing this one's store, with its own memory (token cache,
    /// decision set, watch); the same admin token works on both.
    pub async fn second_node(&self, config: ServerConfig) -> TestApp {
        let node = spawn_on(
            self.sqlite.clone(),
            None,
            config,
            |_| {},
            Default::default(),
        )
        .await;
        TestApp {
            admin: self.admin.clone(),
            seq: AtomicU32::new(1000),
            ..node
        }
    }

    /// The directory of this server's database (`None` for a second node).
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        self._dir.as_ref().map(|d| d.path())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A token with this role, created directly in the store, then the server's token cache
    /// reloaded (as its periodic refresh would).
    pub async fn token(&self, role: Role) -> String {
        let secret = generate_token();
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        self.store
            .create_token(&format!("{role}-{n}"), role, &hash_token(&secret), "test")
            .await
            .expect("create token");
        self.tokens
            .reload(&*self.store)
            .await
            .expect("reload tokens");
        secret
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path, &self.admin).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.expect("json")
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Value,
    ) -> reqwest::Response {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::PATCH, path, token, body).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, path, token, body).await
    }

    /// Store one incident in `state` holding `alerts` (one change set, as correlation would);
    /// its id.
    pub async fn store_incident(&self, state: IncidentState, alerts: Vec<AlertDraft>) -> i64 {
        let mut changes = vec![Change::CreateIncident { temp: 0, state }];
        changes.extend(alerts.into_iter().map(|alert| Change::InsertAlert {
            alert,
            incident: IncidentRef::New(0),
        }));
        self.store
            .apply(&ChangeSet { changes })
            .await
            .expect("apply")
            .incident_ids[0]
    }

    /// Store one incident with one alert per seed (one change set each, so creation times
    /// are ordered), then set the human-owned fields. Returns the stored incidents in order.
    pub async fn seed_incidents(&self, seeds: &[Seed]) -> Vec<Incident> {
        let mut out = Vec::new();
        for (i, s) in seeds.iter().enumerate() {
            let at = 1_700_000_000 + i as i64 * 3600;
            let a = alert(s.title, s.severity, s.ip, at);
            let state = IncidentState {
                title: s.title.into(),
                severity: s.severity,
                entities: a.entities.clone(),
                first_activity: a.first_seen,
                last_activity: a.last_seen,
                alert_count: 1,
                priority: s.priority,
                priority_reasons: vec![],
            };
            let id = self.store_incident(state, vec![a]).await;
            let patch = IncidentPatch {
                status: (s.status != IncidentStatus::Active).then_some(s.status),
                assigned_to: s.owner.map(|o| Some(o.to_string())),
                tags: (!s.tags.is_empty()).then(|| s.tags.iter().map(|t| t.to_string()).collect()),
                ..Default::default()
            };
            let inc = if patch.is_empty() {
                self.store
                    .get_incident(id)
                    .await
                    .expect("get")
                    .expect("exists")
                    .incident
            } else {
                self.store
                    .update_incident(id, &patch, "test")
                    .await
                    .expect("update")
            };
            out.push(inc);
        }
        out
    }

    /// Ten incidents with distinct severities, statuses, owners, tags and priorities.
    pub async fn seed_ten(&self) -> Vec<Incident> {
        use IncidentStatus::*;
        use Severity::*;
        let seeds = [
            Seed {
                title: "BOLA walk on users",
                severity: High,
                status: Active,
                owner: Some("alice"),
                tags: &["pci"],
                priority: 70,
                ip: "203.0.113.1",
            },
            Seed {
                title: "Credential stuffing on login",
                severity: Critical,
                status: InProgress,
                owner: Some("bob"),
                tags: &[],
                priority: 90,
                ip: "203.0.113.2",
            },
            Seed {
                title: "SQL injection probe",
                severity: Medium,
                status: Active,
                owner: None,
                tags: &["sqli"],
                priority: 40,
                ip: "203.0.113.3",
            },
            Seed {
                title: "Scanner 404 burst",
                severity: Low,
                status: Resolved,
                owner: Some("alice"),
                tags: &[],
                priority: 10,
                ip: "203.0.113.4",
            },
            Seed {
                title: "Large export",
                severity: High,
                status: Active,
                owner: Some("carol"),
                tags: &["pci", "exfil"],
                priority: 75,
                ip: "203.0.113.5",
            },
            Seed {
                title: "Rate spike",
                severity: Informational,
                status: Active,
                owner: None,
                tags: &[],
                priority: 5,
                ip: "203.0.113.6",
            },
            Seed {
                title: "SSRF attempt",
                severity: Medium,
                status: InProgress,
                owner: Some("alice"),
                tags: &[],
                priority: 45,
                ip: "203.0.113.7",
            },
            Seed {
                title: "JWT none alg",
                severity: High,
                status: Resolved,
                owner: Some("bob"),
                tags: &["auth"],
                priority: 60,
                ip: "203.0.113.8",
            },
            Seed {
                title: "Password spray",
                severity: Low,
                status: Active,
                owner: Some("bob"),
                tags: &[],
                priority: 20,
                ip: "203.0.113.9",
            },
            Seed {
                title: "Shadow endpoint probing",
                severity: Medium,
                status: Active,
                owner: None,
                tags: &["pci"],
                priority: 30,
                ip: "203.0.113.10",
            },
        ];
        self.seed_incidents(&seeds).await
    }
}

/// Assert an error answer: status and the `{"error": {"code", "message"}}` shape.
pub async fn assert_error(r: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(r.status().as_u16(), status);
    let v: Value = r.json().await.expect("json error body");
    assert_eq!(v["error"]["code"], code, "{v}");
    v["error"]["message"].as_str().expect("message").to_string()
}

pub fn titles(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|i| {
            i["title"]
                .as_str()
                .or(i["incidentName"].as_str())
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

/// The password of every console user the tests create.
pub const PASSWORD: &str = "correct horse battery";

/// A signed-in console session: its cookie and CSRF token, on a client that does not follow
/// redirects (so a 303 to `/login` is seen as one).
pub struct Console {
    pub base: String,
    pub client: reqwest::Client,
    pub user: String,
    pub cookie: String,
    pub csrf: String,
}

/// A client that never follows redirects.
pub fn no_redirect_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The value of cookie `name` among an answer's `Set-Cookie` headers.
pub fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let first = v.split(';').next()?;
            let (k, val) = first.split_once('=')?;
            (k == name).then(|| val.to_string())
        })
}

/// The value of the hidden `csrf` field of a page.
pub fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("csrf field");
    let rest = &html[at + 19..];
    rest[..rest.find('"').unwrap()].to_string()
}

impl TestApp {
    /// A console user of this role, created in the store (with [`PASSWORD`]); returns its name.
    pub async fn user(&self, role: Role) -> String {
        static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let hash = HASH.get_or_init(|| {
            rampart_server::console::session::hash_password(PASSWORD).expect("hash")
        });
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let name = format!("{role}-u{n}");
        self.store
            .create_user(&name, role, hash, "test")
            .await
            .expect("create user");
        name
    }

    /// Sign in through `/login` as `user` with `password`: the answer to the form post.
    pub async fn login_as(
        &self,
        client: &reqwest::Client,
        user: &str,
        password: &str,
    ) -> reqwest::Response {
        let form = client
            .get(self.url("/login"))
            .send()
            .await
            .expect("login form");
        assert_eq!(form.status(), 200);
        let login_cookie = set_cookie(&form, "rampart_login").expect("login cookie");
        let csrf = csrf_of(&form.text().await.unwrap());
        client
            .post(self.url("/login"))
            .header("cookie", format!("rampart_login={login_cookie}"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", user),
                ("password", password),
                ("next", "/incidents"),
            ])
            .send()
            .await
            .expect("login")
    }

    /// A new user of this role, signed in.
    pub async fn console(&self, role: Role) -> Console {
        let user = self.user(role).await;
        let client = no_redirect_client();
        let r = self.login_as(&client, &user, PASSWORD).await;
        assert_eq!(r.status(), 303, "signed in");
        let cookie = set_cookie(&r, "rampart_session").expect("session cookie");
        let mut c = Console {
            base: self.url(""),
            client,
            user,
            cookie,
            csrf: String::new(),
        };
        // the queue, or for a role without `read` its refusal page: both carry the token
        let page = c.get("/incidents").await;
        c.csrf = csrf_of(&page.text().await.unwrap());
        c
    }
}

impl Console {
    /// GET a console page with the session.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .header("cookie", format!("rampart_session={}", self.cookie))
            .send()
            .await
            .expect("request")
    }

    /// POST a form with the session and its CSRF token.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// POST a form with the session, exactly these fields (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("cookie", format!("rampart_session={}", self.cookie))
            .form(fields)
            .send()
            .await
            .expect("request")
    }
}
