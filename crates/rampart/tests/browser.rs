//! The web console's acceptance tests in a real headless Chromium (tests/common/browser.rs),
//! against the real binary: `rampart serve` or `rampart demo`, users created with
//! `rampart user create`, traffic pushed through `POST /api/v1/events`.
//!
//! Each test starts its own server (a fresh data directory) and its own browser. Waiting is
//! always for a condition with a deadline: after a click that navigates, for a new document
//! that has finished loading (see [`click_to`]); never for a fixed time.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::browser::Browser;
use common::{rampart, served_addr};
use serde_json::{json, Value};

/// The password of every user the tests create.
const PASSWORD: &str = "browser-tests-pw";

/// How long a page may take to show what a test waits for.
const WAIT: Duration = Duration::from_secs(15);

/// A running `rampart serve` or `rampart demo`, killed when dropped, with an admin token for
/// checking through the REST API what the pages did.
struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    base: String,
    admin: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `GET path` with the admin token: the JSON of a 200.
    async fn api(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.admin)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = r.status();
        let body = r.text().await.unwrap();
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// Pushes NDJSON events with the admin token (which holds `ingest`): the 202's report.
    async fn push(&self, ndjson: String) -> Value {
        let r = self
            .http
            .post(format!("{}/api/v1/events", self.base))
            .bearer_auth(&self.admin)
            .body(ndjson)
            .send()
            .await
            .expect("push events");
        let status = r.status();
        let body = r.text().await.unwrap();
        assert_eq!(status, 202, "POST /api/v1/events: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// The one incident whose entities hold `value`.
    async fn incident_of(&self, value: &str) -> i64 {
        let list = self.api(&format!("/api/v1/incidents?entity={value}")).await;
        assert_eq!(list["total"], 1, "one incident holds {value}: {list}");
        list["items"][0]["id"].as_i64().unwrap()
    }
}

/// Runs a `rampart` command to success (with `stdin` as its standard input): its stdout.
fn run_ok(cmd: &mut Command, stdin: Option<&str>) -> String {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rampart");
    let mut pipe = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        pipe.write_all(s.as_bytes()).unwrap();
    }
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "rampart failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// A fresh data directory with an admin token and these console users (name, role; password
/// [`PASSWORD`]), served on a free loopback port.
fn serve(users: &[(&str, &str)]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let admin = run_ok(
        rampart()
            .args([
                "token",
                "create",
                "--name",
                "browser-admin",
                "--role",
                "admin",
            ])
            .arg("--data")
            .arg(&data),
        None,
    )
    .trim()
    .to_string();
    for (name, role) in users {
        run_ok(
            rampart()
                .args(["user", "create", "--name", name, "--role", role, "--data"])
                .arg(&data),
            Some(&format!("{PASSWORD}\n")),
        );
    }
    let mut child = rampart()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = served_addr(&mut child);
    Server {
        child,
        base: format!("http://{addr}"),
        admin,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

/// `rampart demo --events N` in a temporary data directory: the server and the demo users'
/// password, read from what it prints on stdout (its log goes to a file, quoted on failure).
fn demo(events: u64) -> (Server, String) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("demo.log");
    let mut child = rampart()
        .args(["demo", "--listen", "127.0.0.1:0", "--events"])
        .arg(events.to_string())
        .arg("--data")
        .arg(dir.path().join("data"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut addr, mut password, mut token) = (None, None, None);
    while token.is_none() {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "rampart demo exited before printing its admin token; it logged: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        if let Some(a) = line.strip_prefix("Rampart is serving the demo on http://") {
            addr = Some(a.trim().to_string());
        } else if let Some(p) = line.trim().strip_prefix("password (shown once): ") {
            password = Some(p.trim().to_string());
        } else if let Some(t) = line.strip_prefix("Admin token (shown once): ") {
            token = Some(t.trim().to_string());
        }
    }
    // the rest (usage hints) is drained so the demo never blocks on a full pipe
    std::thread::spawn(move || for _ in lines {});
    let server = Server {
        child,
        base: format!("http://{}", addr.expect("the demo prints its address")),
        admin: token.unwrap(),
        http: reqwest::Client::new(),
        _dir: dir,
    };
    (
        server,
        password.expect("the demo prints the users' password"),
    )
}

/// Epoch milliseconds now.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// An attack from `ip` the injection signatures flag (SQL injection, path traversal, XSS, a
/// scanner's user agent), a few minutes ago: one incident with `ip` as its attacker.
fn attack(ip: &str) -> String {
    let t = now_ms() - 10 * 60_000;
    let ua = "sqlmap/1.7.2#stable (https://sqlmap.org)";
    [
        json!({"ts": t, "client_ip": ip, "method": "GET", "path": "/api/v1/search",
               "query": "q=1'%20union%20select%20password%20from%20users--", "status": 200,
               "request": {"headers": {"user-agent": ua}}}),
        json!({"ts": t + 1000, "client_ip": ip, "method": "GET", "path": "/api/v1/files",
               "query": "name=../../../../etc/passwd", "status": 404,
               "request": {"headers": {"user-agent": ua}}}),
        json!({"ts": t + 2000, "client_ip": ip, "method": "GET", "path": "/api/v1/profile",
               "query": "next=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "status": 200,
               "request": {"headers": {"user-agent": ua}}}),
    ]
    .iter()
    .map(|e| format!("{e}\n"))
    .collect()
}

// ---------------------------------------------------------------------------------------
// Browser steps
// ---------------------------------------------------------------------------------------

/// Polls the JavaScript expression `js` in the page until it is truthy, for up to [`WAIT`]
/// (errors while a page is being replaced count as not yet).
async fn wait_for(b: &Browser, what: &str, js: &str) {
    let script = format!("return !!({js});");
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(Value::Bool(true)) = b.client().execute(&script, Vec::new()).await {
            return;
        }
        if Instant::now() > deadline {
            let url = b.client().current_url().await.map(|u| u.to_string());
            panic!(
                "browser: waited {}s for {what} ({js}); at {url:?}",
                WAIT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Clicks `css` and waits for the page it leads to: a new document (the old one is marked
/// first) that has finished loading.
async fn click_to(b: &Browser, css: &str) {
    b.execute("window.__rampart_stale = true; return true;")
        .await;
    b.click(css).await;
    wait_for(
        b,
        &format!("the page after clicking {css}"),
        "window.__rampart_stale === undefined && document.readyState === 'complete'",
    )
    .await;
}

/// Signs in through the form and checks the page says who is signed in.
async fn sign_in(b: &Browser, user: &str, password: &str) {
    b.goto("/login").await;
    b.fill("#login-form input[name=username]", user).await;
    b.fill("#login-form input[name=password]", password).await;
    click_to(b, "#login-form button[type=submit]").await;
    let who = b.execute("return document.body.dataset.user || null").await;
    assert_eq!(
        who,
        json!(user),
        "signed in as {user}; at {}: {}",
        b.url().await,
        body_text(b).await
    );
}

/// Signs out through the navigation bar's button: back at the sign-in form.
async fn sign_out(b: &Browser) {
    click_to(b, "#logout").await;
    assert!(
        b.exists("#login-form").await,
        "signed out: {}",
        b.url().await
    );
    assert!(b.url().await.ends_with("/login"), "{}", b.url().await);
}

/// What the page shows as text.
async fn body_text(b: &Browser) -> String {
    b.execute("return document.body ? document.body.innerText : ''")
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The text of the page's flash message (after a form was sent).
async fn flash(b: &Browser) -> String {
    b.text("div.flash").await
}

/// Chooses `value` in the `select` matching `css`.
async fn select(b: &Browser, css: &str, value: &str) {
    b.find(css)
        .await
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("browser: select {value:?} in {css:?}: {e}"));
}

/// An attribute of the first element matching `css`.
async fn attr(b: &Browser, css: &str, name: &str) -> Option<String> {
    b.find(css)
        .await
        .attr(name)
        .await
        .unwrap_or_else(|e| panic!("browser: attribute {name} of {css:?}: {e}"))
}

/// The ids of the queue's rows, top to bottom.
async fn queue_ids(b: &Browser) -> Vec<i64> {
    let ids = b
        .execute(
            "return Array.from(document.querySelectorAll('#queue tbody tr[data-id]')).map(r => Number(r.dataset.id))",
        )
        .await;
    serde_json::from_value(ids).unwrap()
}

/// The `action` of every form on the page that posts, but sign-out's.
async fn post_forms(b: &Browser) -> BTreeSet<String> {
    let v = b
        .execute(
            "return Array.from(document.querySelectorAll('form[method=post]')).map(f => f.getAttribute('action')).filter(a => a !== '/logout')",
        )
        .await;
    serde_json::from_value(v).unwrap()
}

/// Sends a form the page does not offer, as the page's own script could: `POST path` with
/// the session's CSRF token and `fields`; the status and URL of the answer (redirects
/// followed).
async fn crafted_post(b: &Browser, path: &str, fields: Value) -> (u16, String) {
    let js = r#"
        const done = arguments[arguments.length - 1];
        const body = new URLSearchParams(Object.assign({csrf: document.body.dataset.csrf}, arguments[1]));
        fetch(arguments[0], {method: 'POST', body})
            .then(r => done({status: r.status, url: r.url}), e => done({status: 0, url: String(e)}));
    "#;
    let v = b
        .client()
        .execute_async(js, vec![json!(path), fields])
        .await
        .unwrap_or_else(|e| panic!("browser: crafted POST {path}: {e}"));
    (
        v["status"].as_u64().unwrap() as u16,
        v["url"].as_str().unwrap_or_default().to_string(),
    )
}

/// The view a queue URL shows: its query's non-empty values by key, with the defaults
/// (`sort=priority`, `dir=desc`, `range=all`) and the page cursor left out and the `cols`
/// list split, so that the form's URL and the canonical link compare equal.
fn queue_view(url: &str) -> BTreeMap<String, BTreeSet<String>> {
    let url = reqwest::Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    assert_eq!(url.path(), "/incidents", "{url}");
    let mut view: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (k, v) in url.query_pairs() {
        let defaults = matches!(
            (k.as_ref(), v.as_ref()),
            ("sort", "priority") | ("dir", "desc") | ("range", "all") | ("after", _)
        );
        if v.is_empty() || defaults {
            continue;
        }
        for v in v.split(',').filter(|_| k == "cols").map(str::to_string) {
            view.entry(k.to_string()).or_default().insert(v);
        }
        if k != "cols" {
            view.entry(k.to_string()).or_default().insert(v.to_string());
        }
    }
    view
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

/// The harness itself: Chromium opens a page of the server, runs script in it and takes a
/// screenshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_opens_healthz_and_takes_a_screenshot() {
    let server = serve(&[]);
    let browser = Browser::start().await.with_base(&server.base);
    browser.goto("/healthz").await;
    assert_eq!(browser.url().await, format!("{}/healthz", server.base));
    let body = browser.text("body").await;
    assert!(body.contains(r#""status":"ok""#), "healthz page: {body:?}");
    let status = browser
        .execute("return JSON.parse(document.body.innerText).status")
        .await;
    assert_eq!(status, "ok");
    assert_eq!(browser.alert_text().await, None, "no dialog is open");

    let shot = browser.screenshot("smoke").await;
    assert!(
        shot.ends_with("screenshots/smoke.png"),
        "{}",
        shot.display()
    );
    let len = std::fs::metadata(&shot).unwrap().len();
    assert!(len > 0, "{} is empty", shot.display());
}

/// Sign-in (a wrong password first), then a queue view chosen through the filter form: the
/// URL carries it, a reload and the copied link show the same rows in the same order, and
/// they are the rows the API says match.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_filter_sort_and_reload_keep_the_view() {
    let (server, password) = demo(20_000);
    let b = Browser::start().await.with_base(&server.base);

    // the queue needs a session: to the sign-in form, which comes back to it
    b.goto("/incidents").await;
    assert!(b.url().await.contains("/login?next="), "{}", b.url().await);
    b.fill("input[name=username]", "analyst").await;
    b.fill("input[name=password]", "not-the-password").await;
    click_to(&b, "#login-form button[type=submit]").await;
    let error = b.text("#login-error").await;
    assert!(error.contains("wrong user name or password"), "{error}");
    assert_eq!(
        b.execute("return document.body.dataset.user === undefined")
            .await,
        true
    );
    assert_eq!(
        b.find("input[name=username]")
            .await
            .prop("value")
            .await
            .unwrap(),
        Some("analyst".into()),
        "the user name is kept"
    );
    b.fill("input[name=password]", &password).await;
    click_to(&b, "#login-form button[type=submit]").await;
    assert_eq!(b.url().await, format!("{}/incidents", server.base));
    assert_eq!(
        b.execute("return document.body.dataset.role").await,
        "tier2"
    );

    let all = server.api("/api/v1/incidents?limit=1000").await;
    let total = all["total"].as_u64().unwrap() as usize;
    assert!(total >= 10, "the demo made a queue: {total} incidents");
    assert_eq!(
        queue_ids(&b).await.len(),
        total.min(50),
        "every incident is listed"
    );
    b.screenshot("queue").await;

    // High and Critical, oldest first, through the form
    b.click("#filters input[name=severity][value=High]").await;
    b.click("#filters input[name=severity][value=Critical]")
        .await;
    b.click("#filters details.more summary").await;
    b.click("#filters input[name=cols][value=created]").await;
    select(&b, "#filters select[name=sort]", "created").await;
    select(&b, "#filters select[name=dir]", "asc").await;
    click_to(&b, "#apply-filters").await;
    let url = b.url().await;
    let view = queue_view(&url);
    assert_eq!(
        view.get("severity"),
        Some(&BTreeSet::from(["High".into(), "Critical".into()])),
        "{url}"
    );
    assert_eq!(
        view.get("sort"),
        Some(&BTreeSet::from(["created".into()])),
        "{url}"
    );
    assert_eq!(
        view.get("dir"),
        Some(&BTreeSet::from(["asc".into()])),
        "{url}"
    );
    assert!(view["cols"].contains("created"), "{url}");

    let mut expected: Vec<(String, i64)> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["severity"] == "High" || i["severity"] == "Critical")
        .map(|i| {
            (
                i["created_at"].as_str().unwrap().to_string(),
                i["id"].as_i64().unwrap(),
            )
        })
        .collect();
    expected.sort();
    let expected: Vec<i64> = expected.into_iter().map(|(_, id)| id).collect();
    assert!(
        expected.len() >= 2 && expected.len() < total,
        "the filter keeps some rows and drops others: {expected:?} of {total}"
    );
    let rows = queue_ids(&b).await;
    assert_eq!(
        rows, expected,
        "High and Critical, oldest first (ties by id)"
    );
    let severities = b
        .execute("return Array.from(document.querySelectorAll('#queue tbody tr[data-id] .badge[class*=sev-]')).map(e => e.textContent)")
        .await;
    for s in severities.as_array().unwrap() {
        assert!(s == "High" || s == "Critical", "{severities}");
    }

    // a reload shows the same view, and the form still says what it is
    b.goto(&url).await;
    assert_eq!(b.url().await, url);
    assert_eq!(
        queue_ids(&b).await,
        rows,
        "same rows, same order after a reload"
    );
    let form = b
        .execute(
            "const f = document.getElementById('filters');
             return [f.querySelector('input[value=High]').checked, f.querySelector('input[value=Critical]').checked,
                     f.querySelector('input[value=Medium]').checked, f.elements.sort.value, f.elements.dir.value]",
        )
        .await;
    assert_eq!(form, json!([true, true, false, "created", "asc"]));

    // the copy-link button's link is this view
    let link = attr(&b, "#copy-link", "data-link").await.unwrap();
    b.click("#copy-link").await;
    wait_for(
        &b,
        "the link to be copied",
        "document.getElementById('copy-link').dataset.copied",
    )
    .await;
    let copied = attr(&b, "#copy-link", "data-copied").await.unwrap();
    assert_eq!(
        copied,
        format!("{}{link}", server.base),
        "the absolute link"
    );
    assert_eq!(queue_view(&copied), view, "the link is the current view");
    b.goto(&copied).await;
    assert_eq!(
        queue_ids(&b).await,
        rows,
        "the copied link shows the same rows"
    );

    // the column's sort link turns the order around
    click_to(&b, "a.sort[data-sort=created]").await;
    let mut reversed = rows.clone();
    reversed.reverse();
    assert_eq!(
        queue_ids(&b).await,
        reversed,
        "newest first: {}",
        b.url().await
    );
    assert_eq!(
        queue_view(&b.url().await).get("severity"),
        view.get("severity"),
        "the filter stays"
    );
}

/// A tier2 analyst works an incident from the queue to resolution: assigns it to themself,
/// tags it, comments, blocks the attacker with the one-click button; a tier3 asks for a
/// wider block (it waits for approval), another tier3 approves it; the analyst resolves it
/// with classification, determination and findings. Each effect is checked on the page and
/// through the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn respond_to_an_incident_end_to_end() {
    let server = serve(&[("tess", "tier2"), ("hank", "tier3"), ("hana", "tier3")]);
    let ip = "203.0.113.77";
    server.push(attack(ip)).await;
    let id = server.incident_of(ip).await;
    let b = Browser::start().await.with_base(&server.base);
    let page = format!("/incidents/{id}");

    sign_in(&b, "tess", PASSWORD).await;
    click_to(&b, &format!("#queue tr[data-id='{id}'] td.title a")).await;
    assert_eq!(b.url().await, format!("{}{page}", server.base));
    assert!(b.text("#owner").await.contains("unassigned"));

    // manage: owner, status, tags
    b.fill("#manage-form input[name=assigned_to]", "tess").await;
    select(&b, "#manage-form select[name=status]", "InProgress").await;
    b.fill("#manage-form input[name=tags]", "sqli, scanner")
        .await;
    click_to(&b, "#manage-save").await;
    assert_eq!(flash(&b).await, "Changes saved.");
    assert_eq!(b.text("#owner").await, "tess");
    let tags = b
        .execute(
            "return Array.from(document.querySelectorAll('#tags .chip')).map(c => c.textContent)",
        )
        .await;
    assert_eq!(tags, json!(["sqli", "scanner"]));
    assert_eq!(b.text("#incident .badge[class*=st-]").await, "InProgress");

    // comment from the manage pane, read on the comments tab
    let note = "sqlmap from one address; checking the search endpoint's logs";
    b.fill("#quick-comment textarea[name=text]", note).await;
    click_to(&b, "#quick-comment button[type=submit]").await;
    assert_eq!(flash(&b).await, "Comment added.");
    click_to(&b, "[data-tab=comments]").await;
    let comments = b.text("#comments").await;
    assert!(
        comments.contains(note) && comments.contains("tess"),
        "{comments}"
    );

    // one-click block of the attacker
    click_to(&b, "[data-tab=response]").await;
    assert_eq!(
        attr(&b, "#verdict", "data-verdict").await.as_deref(),
        Some("not_contained")
    );
    let button = format!("#recommendations button[data-action=block_ip][data-target='{ip}']");
    assert_eq!(
        attr(&b, &button, "id").await,
        Some(format!("contain-ip-{ip}"))
    );
    click_to(&b, &button).await;
    assert_eq!(flash(&b).await, "Containment action created and enforced.");
    assert_eq!(
        attr(&b, "#verdict", "data-verdict").await.as_deref(),
        Some("contained")
    );
    assert!(
        !b.exists(&button).await,
        "nothing left to recommend for {ip}"
    );
    let row = b.text("#actions tr[data-status=active]").await;
    assert!(
        row.contains("block_ip") && row.contains(ip) && row.contains("user:tess"),
        "{row}"
    );
    let actions = server
        .api(&format!("/api/v1/actions?incident_id={id}"))
        .await;
    assert_eq!(actions["total"], 1, "{actions}");
    let blocked = &actions["items"][0];
    assert_eq!(
        (
            &blocked["kind"],
            &blocked["target"],
            &blocked["status"],
            &blocked["requested_by"]
        ),
        (
            &json!("block_ip"),
            &json!(ip),
            &json!("active"),
            &json!("user:tess")
        ),
        "{blocked}"
    );
    sign_out(&b).await;

    // a tier3 asks for the attacker's /23: wider than /24, so it waits for approval. The
    // console offers no form for it (its buttons contain one attacker entity each), so the
    // request is the contain form's post with another target, sent from the page.
    sign_in(&b, "hank", PASSWORD).await;
    b.goto(&format!("{page}?tab=response")).await;
    let range = "203.0.112.0/23";
    let (status, to) = crafted_post(
        &b,
        &format!("{page}/contain"),
        json!({"kind": "block_ip", "entity": range, "duration": "1h", "reason": "the scanner's neighbours"}),
    )
    .await;
    assert_eq!(status, 200, "{to}");
    assert!(to.ends_with("?tab=response&msg=pending"), "{to}");
    b.goto(&format!("{page}?tab=response&msg=pending")).await;
    assert_eq!(
        flash(&b).await,
        "Containment action created: it waits for another person's approval."
    );
    let pending = server
        .api(&format!(
            "/api/v1/actions?incident_id={id}&status=pending_approval"
        ))
        .await;
    assert_eq!(pending["total"], 1, "{pending}");
    let wide = pending["items"][0]["id"].as_i64().unwrap();
    assert_eq!(pending["items"][0]["target"], range);
    assert_eq!(pending["items"][0]["requested_by"], "user:hank");
    let row = format!("#actions tr[data-action-id='{wide}']");
    assert_eq!(
        attr(&b, &row, "data-status").await.as_deref(),
        Some("pending_approval")
    );
    assert!(
        !b.exists(&format!("#approve-{wide}")).await,
        "nobody is offered to approve their own action"
    );
    assert!(
        b.exists(&format!("#revert-{wide}")).await,
        "but may take it back"
    );
    sign_out(&b).await;

    // another tier3 approves it
    sign_in(&b, "hana", PASSWORD).await;
    b.goto(&format!("{page}?tab=response")).await;
    click_to(&b, &format!("#approve-{wide}")).await;
    assert_eq!(flash(&b).await, "Action approved: it is enforced now.");
    assert_eq!(
        attr(&b, &row, "data-status").await.as_deref(),
        Some("active")
    );
    assert!(
        b.text(&row).await.contains("approved by user:hana"),
        "{}",
        b.text(&row).await
    );
    assert!(!b.exists(&format!("#approve-{wide}")).await);
    let approved = server.api(&format!("/api/v1/actions/{wide}")).await;
    assert_eq!(approved["status"], "active", "{approved}");
    assert_eq!(approved["approved_by"], "user:hana", "{approved}");
    sign_out(&b).await;

    // the analyst resolves it
    sign_in(&b, "tess", PASSWORD).await;
    b.goto(&page).await;
    select(
        &b,
        "#resolve-form select[name=classification]",
        "TruePositive",
    )
    .await;
    select(
        &b,
        "#resolve-form select[name=determination]",
        "MultiStagedAttack",
    )
    .await;
    let findings = "sqlmap probed search, files and profile; the address and its /23 are blocked; no data left";
    b.fill("#resolve-form textarea[name=findings]", findings)
        .await;
    click_to(&b, "#resolve").await;
    assert_eq!(flash(&b).await, "Incident resolved.");
    assert_eq!(b.text("#incident .badge[class*=st-]").await, "Resolved");
    assert_eq!(
        b.text("#classification").await,
        "TruePositive · MultiStagedAttack"
    );
    assert!(
        !b.exists("#resolve-form").await,
        "a resolved incident has no resolve form"
    );
    click_to(&b, "[data-tab=comments]").await;
    let comments = b.text("#comments").await;
    assert!(
        comments.contains(&format!("Resolution: {findings}")),
        "{comments}"
    );

    let inc = server.api(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(inc["status"], "Resolved");
    assert_eq!(inc["classification"], "TruePositive");
    assert_eq!(inc["determination"], "MultiStagedAttack");
    assert_eq!(inc["assigned_to"], "tess");
    assert_eq!(inc["tags"], json!(["sqli", "scanner"]));
    let texts: Vec<&str> = inc["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [note.to_string(), format!("Resolution: {findings}")],
        "{inc}"
    );
    let actions = server
        .api(&format!("/api/v1/actions?incident_id={id}&status=active"))
        .await;
    assert_eq!(actions["total"], 2, "{actions}");
}

/// What each SOC role is offered on an incident and the queue, and what the server refuses
/// when a form the page does not offer is sent anyway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_sees_and_can_do_its_matrix() {
    let server = serve(&[
        ("vera", "viewer"),
        ("tom", "tier1"),
        ("tess", "tier2"),
        ("hank", "tier3"),
    ]);
    let ip = "203.0.113.88";
    let range = "203.0.112.0/23";
    server.push(attack(ip)).await;
    let id = server.incident_of(ip).await;
    let page = format!("/incidents/{id}");
    let triage: BTreeSet<String> = ["manage", "resolve", "merge", "comments"]
        .iter()
        .map(|f| format!("{page}/{f}"))
        .collect();
    let mut contain = triage.clone();
    contain.insert(format!("{page}/contain"));

    struct Row {
        user: &'static str,
        role: &'static str,
        /// the forms the response tab posts
        forms: BTreeSet<String>,
        /// the one-click block of the attacker
        block_button: bool,
        /// what the contain form answers for this target
        contain: (&'static str, u16),
        /// what the bulk form answers
        bulk: u16,
    }
    let rows = [
        Row {
            user: "vera",
            role: "viewer",
            forms: BTreeSet::new(),
            block_button: false,
            contain: (ip, 403),
            bulk: 403,
        },
        Row {
            user: "tom",
            role: "tier1",
            forms: triage.clone(),
            block_button: false,
            contain: (ip, 403),
            bulk: 200,
        },
        // a range needs contain_high
        Row {
            user: "tess",
            role: "tier2",
            forms: contain.clone(),
            block_button: true,
            contain: (range, 403),
            bulk: 200,
        },
        Row {
            user: "hank",
            role: "tier3",
            forms: contain.clone(),
            block_button: true,
            contain: (range, 200),
            bulk: 200,
        },
    ];

    let b = Browser::start().await.with_base(&server.base);
    for r in &rows {
        let who = format!("{} ({})", r.user, r.role);
        sign_in(&b, r.user, PASSWORD).await;
        assert_eq!(b.execute("return document.body.dataset.role").await, r.role);
        assert_eq!(
            b.exists("#bulk-op").await,
            r.bulk == 200,
            "{who}: bulk changes on the queue"
        );
        assert_eq!(
            b.exists("#queue tbody input[name=id]").await,
            r.bulk == 200,
            "{who}: row checkboxes"
        );

        b.goto(&format!("{page}?tab=response")).await;
        assert_eq!(
            b.exists("#manage").await,
            !r.forms.is_empty(),
            "{who}: the manage pane"
        );
        assert_eq!(
            b.exists("#manage-form").await,
            !r.forms.is_empty(),
            "{who}: manage form"
        );
        assert_eq!(
            b.exists("#quick-comment").await,
            !r.forms.is_empty(),
            "{who}: comment form"
        );
        assert_eq!(
            post_forms(&b).await,
            r.forms,
            "{who}: the forms of the response tab"
        );
        let button = format!("contain-ip-{ip}");
        assert_eq!(
            b.exists(&format!("[id='{button}']")).await,
            r.block_button,
            "{who}: the block button"
        );
        if !r.block_button {
            let recs = b.text("#recommendations").await;
            assert!(
                recs.contains("needs contain_low, which your role does not have"),
                "{who} is told why: {recs}"
            );
        }
        for tab in ["story", "alerts", "graph", "tasks", "activity", "comments"] {
            b.goto(&format!("{page}?tab={tab}")).await;
            assert_eq!(
                b.exists("#manage").await,
                !r.forms.is_empty(),
                "{who}: pane on {tab}"
            );
            if r.forms.is_empty() {
                assert_eq!(
                    post_forms(&b).await,
                    BTreeSet::new(),
                    "{who}: no form on {tab}"
                );
            }
        }

        // what the page does not offer, the server refuses
        let (status, to) = crafted_post(
            &b,
            &format!("{page}/contain"),
            json!({"kind": "block_ip", "entity": r.contain.0, "duration": "1h"}),
        )
        .await;
        assert_eq!(
            status, r.contain.1,
            "{who}: contain {} answered at {to}",
            r.contain.0
        );
        if status == 200 {
            assert!(to.ends_with("msg=pending"), "{who}: {to}");
        }
        let (status, to) = crafted_post(
            &b,
            "/incidents/bulk",
            json!({"id": id.to_string(), "op": "tag", "value": format!("matrix-{}", r.role)}),
        )
        .await;
        assert_eq!(status, r.bulk, "{who}: bulk tag answered at {to}");
        if status == 403 {
            assert_eq!(b.execute("return document.body.dataset.role").await, r.role);
        }
        sign_out(&b).await;
    }

    // the refusals changed nothing: one action (tier3's, waiting), three tags
    let actions = server
        .api(&format!("/api/v1/actions?incident_id={id}"))
        .await;
    assert_eq!(actions["total"], 1, "{actions}");
    assert_eq!(actions["items"][0]["target"], range);
    assert_eq!(actions["items"][0]["status"], "pending_approval");
    assert_eq!(actions["items"][0]["requested_by"], "user:hank");
    let inc = server.api(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(
        inc["tags"],
        json!(["matrix-tier1", "matrix-tier2", "matrix-tier3"])
    );

    // the requester sees their pending action with revert, never approve; the block of the
    // address now waits for it
    sign_in(&b, "hank", PASSWORD).await;
    b.goto(&format!("{page}?tab=response")).await;
    let wide = actions["items"][0]["id"].as_i64().unwrap();
    let mut forms = triage.clone();
    forms.insert(format!("/actions/{wide}/revert"));
    assert_eq!(post_forms(&b).await, forms);
    let recs = b.text("#recommendations").await;
    assert!(
        recs.contains(&format!("action #{wide} waits for approval")),
        "{recs}"
    );
}

/// Script payloads in every field of the traffic (raw, attribute-breaking, percent-encoded,
/// HTML-entity encoded, `javascript:` URLs, SVG onload, JSON unicode escapes), and typed by
/// an analyst into a title, a tag, a comment and a task, are shown as text on every page that
/// shows them, and never run. "Never run" is checked twice: nothing set `window.__xss` and no
/// dialog opened (the CSP would block an inline script anyway), and no element the payloads
/// describe exists in the DOM (what proves the escaping, CSP or not). The pages' CSP header
/// is checked with a plain HTTP client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_payloads_never_execute() {
    let server = serve(&[("hunter", "tier3")]);
    let ip = "198.51.100.66";
    let t = now_ms() - 50 * 60_000;
    // 11 minutes apart: each event gets past the injection detector's per-family cooldown
    let at = |i: i64| t + i * 11 * 60_000;
    // written by hand where the raw line must keep JSON's \u003c escapes
    let lines = [
        json!({"ts": at(0), "client_ip": ip, "method": "GET", "host": "api.example",
               "path": "/search/<script>window.__xss=1</script>",
               "query": "q=%22%3E%3Cimg%20src%3Dx%20onerror%3D%22window.__xss%3D1%22%3E",
               "status": 200,
               "request": {"headers": {"user-agent": "<svg onload=\"window.__xss=1\">",
                                       "referer": "javascript:window.__xss=1"}}})
        .to_string(),
        format!(
            r#"{{"ts": {}, "client_ip": "{ip}", "method": "POST", "host": "\u003cimg src=x onerror=alert(1)\u003e", "path": "/comments", "status": 201, "request": {{"headers": {{"user-agent": "Mozilla/5.0 \u003cscript\u003ealert(document.domain)\u003c/script\u003e"}}, "body": "comment=&lt;script&gt;window.__xss=1&lt;/script&gt;"}}}}"#,
            at(1)
        ),
        json!({"ts": at(2), "client_ip": ip, "method": "GET", "path": "/profile",
               "query": "next=javascript:alert(1)&x=\"><img src=x onerror=\"window.__xss=1\">",
               "status": 302,
               "request": {"headers": {"referer": "\"><svg/onload=alert(1)>"}}})
        .to_string(),
        json!({"ts": at(3), "client_ip": ip, "method": "GET", "path": "/items",
               "query": "id=1'%20union%20select%20password%20from%20users--", "status": 200,
               "request": {"headers": {"user-agent": "%3Cscript%3Ewindow.__xss%3D1%3C%2Fscript%3E"}}})
        .to_string(),
    ];
    let report = server.push(lines.join("\n") + "\n").await;
    assert_eq!(report["incidents_created"], 1, "{report}");
    assert!(report["alerts"].as_u64().unwrap() >= 4, "{report}");
    let id = server.incident_of(ip).await;
    let page = format!("/incidents/{id}");

    // what the analyst types
    let title = r#"<img src=x onerror="window.__xss=1"> title"#;
    let tag = "<script>alert('tag')</script>";
    let comment = r#""><svg onload=alert(1)> javascript:window.__xss=1"#;
    let task = r#"<iframe src="javascript:window.__xss=1"></iframe> task"#;

    let b = Browser::start().await.with_base(&server.base);
    sign_in(&b, "hunter", PASSWORD).await;
    b.goto(&page).await;
    b.fill("#manage-form input[name=title]", title).await;
    b.fill("#manage-form input[name=tags]", tag).await;
    click_to(&b, "#manage-save").await;
    assert_eq!(flash(&b).await, "Changes saved.");
    b.fill("#quick-comment textarea[name=text]", comment).await;
    click_to(&b, "#quick-comment button[type=submit]").await;
    assert_eq!(flash(&b).await, "Comment added.");
    b.goto(&format!("{page}?tab=tasks")).await;
    click_to(&b, "#seed-tasks").await;
    b.fill("#task-form input[name=title]", task).await;
    click_to(&b, "#add-task").await;
    assert_eq!(flash(&b).await, "Task added.");
    let inc = server.api(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(inc["title"], title, "stored as typed");
    assert_eq!(inc["tags"], json!([tag]));

    let ua = r#"<svg onload="window.__xss=1">"#;
    let search = r#""><script>alert(1)</script>"#;
    // (path, text the page must show; a JS expression that must be true on it)
    let mut visits: Vec<(String, Vec<&str>, Option<String>)> = vec![
        ("/incidents".into(), vec![title, tag, ua], None),
        (
            format!("/incidents?q={}&tag={}", enc(search), enc(tag)),
            vec![],
            Some(format!(
                "document.querySelector('#filters input[name=q]').value === {} && document.querySelector('#filters input[name=tag]').value === {}",
                json!(search),
                json!(tag)
            )),
        ),
        (format!("{page}?tab=story"), vec![title, "/search/<script>window.__xss=1</script>"], None),
        (
            format!("{page}?tab=alerts"),
            vec![
                ua,
                "comment=&lt;script&gt;window.__xss=1&lt;/script&gt;",
                r"\u003cimg src=x onerror=alert(1)\u003e",
                "javascript:window.__xss=1",
                r#"x="><img src=x onerror="window.__xss=1">"#,
                "%3Cscript%3Ewindow.__xss%3D1%3C%2Fscript%3E",
            ],
            None,
        ),
        (format!("{page}?tab=graph"), vec![title], None),
        (format!("{page}?tab=response"), vec![title, ip], None),
        (format!("{page}?tab=tasks"), vec![task], None),
        (format!("{page}?tab=investigation"), vec![title, ip], None),
        (format!("{page}?tab=playbooks"), vec![title], None),
        (format!("{page}?tab=activity"), vec![tag], None),
        (format!("{page}?tab=comments"), vec![comment], None),
        // a bad tab is an error page that quotes it
        (format!("{page}?tab={}", enc(search)), vec![search], None),
        ("/walkthrough".into(), vec![title], None),
    ];
    // the pages that come with other branches (entity pages, inventory, action center,
    // detectors): visited, and then required to be right, as soon as the console serves them
    // (a route ending in `/` is a prefix: the entity pages' exact template may differ)
    let served = |route: &str| {
        rampart_server::console::ROUTES.iter().any(|r| {
            r.method == "get"
                && (r.path == route || (route.ends_with('/') && r.path.starts_with(route)))
        })
    };
    for (route, path, text) in [
        ("/entities/", format!("/entities/ip/{ip}"), vec![ip]),
        (
            "/entities/",
            format!("/entities/user_agent/{}", enc(ua)),
            vec![ua],
        ),
        ("/inventory", "/inventory".to_string(), vec![]),
        ("/actions", "/actions".to_string(), vec![]),
        ("/detectors", "/detectors".to_string(), vec![]),
        ("/automation", "/automation".to_string(), vec![]),
        ("/soc", "/soc".to_string(), vec![]),
        (
            "/hunt",
            format!(
                "/hunt?range=24h&q={}",
                enc(&format!(
                    "ApiEvents | where ClientIp == \"{ip}\" | project Host, Path, Query, UserAgent"
                ))
            ),
            vec![ua, "/search/<script>window.__xss=1</script>"],
        ),
        (
            "/incidents/{id}/review",
            format!("{page}/review"),
            vec![title],
        ),
    ] {
        if served(route) {
            visits.push((path, text, None));
        }
    }

    let cookie = b
        .client()
        .get_named_cookie("rampart_session")
        .await
        .expect("the session cookie")
        .value()
        .to_string();
    for (path, texts, check) in &visits {
        b.goto(path).await;
        assert_eq!(b.alert_text().await, None, "{path}: a dialog opened");
        assert_eq!(
            b.execute("return window.__xss === undefined").await,
            true,
            "{path}: a payload ran"
        );
        let dom = b
            .execute(
                "return {
                    inline_scripts: Array.from(document.scripts).filter(s => !s.src).length,
                    scripts: Array.from(document.scripts).map(s => s.getAttribute('src')),
                    handlers: document.querySelectorAll('[onerror],[onload],[onclick],[onmouseover],[onfocus]').length,
                    injected: document.querySelectorAll('img,iframe,object,embed,main svg:not([role=img])').length,
                    js_urls: Array.from(document.querySelectorAll('[href],[src],[action],[formaction]'))
                        .map(e => e.getAttribute('href') || e.getAttribute('src') || e.getAttribute('action') || e.getAttribute('formaction'))
                        .filter(u => /^\\s*javascript:/i.test(u)).length,
                 }",
            )
            .await;
        assert_eq!(
            dom,
            json!({"inline_scripts": 0, "scripts": ["/static/console.js"], "handlers": 0, "injected": 0, "js_urls": 0}),
            "{path}: markup from a payload"
        );
        let shown = body_text(&b).await;
        for t in texts {
            assert!(shown.contains(t), "{path} shows {t:?} as text: {shown}");
        }
        if let Some(js) = check {
            assert_eq!(
                b.execute(&format!("return {js}")).await,
                true,
                "{path}: {js}"
            );
        }

        let r = server
            .http
            .get(format!("{}{path}", server.base))
            .header("cookie", format!("rampart_session={cookie}"))
            .send()
            .await
            .unwrap();
        let expected = if path.contains("tab=%22") { 400 } else { 200 };
        assert_eq!(r.status(), expected, "{path}");
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        for must in ["script-src 'self'", "frame-ancestors 'none'"] {
            assert!(csp.contains(must), "{path}: csp {csp:?} lacks {must}");
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{path}: {csp}"
        );
    }

    // the graph: the user agent's node opens a flyout that shows it whole, as text
    b.goto(&format!("{page}?tab=graph")).await;
    let node = b
        .execute(&format!(
            "const n = Array.from(document.querySelectorAll('g.node')).find(g => g.querySelector('title').textContent === {});
             return n ? n.dataset.node : null",
            json!(format!("user agent {ua}"))
        ))
        .await;
    let Some(node) = node.as_str().map(str::to_string) else {
        panic!("no graph node for the user agent: {}", body_text(&b).await);
    };
    b.click(&format!("g.node[data-node='{node}']")).await;
    wait_for(
        &b,
        "the flyout",
        "!document.getElementById('flyout').hidden",
    )
    .await;
    let fly = b.text(&format!(".flyout-body[data-node='{node}']")).await;
    assert!(fly.contains(ua), "{fly}");
    assert_eq!(b.alert_text().await, None);
    assert_eq!(b.execute("return window.__xss === undefined").await, true);
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    let mut u = reqwest::Url::parse("http://x/").unwrap();
    u.query_pairs_mut().append_pair("v", s);
    // a path segment: a space is %20 there (a literal `+` is already %2B)
    u.query().unwrap()["v=".len()..].replace('+', "%20")
}

/// The first-incident walkthrough on the demo's data, as a tier2 analyst: each step's link,
/// the step done in the page it leads to, and the walkthrough marks it done; at the end it
/// says so. The story, graph and walkthrough screenshots are taken on the way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walkthrough_completes_on_the_demo() {
    let (server, password) = demo(20_000);
    let b = Browser::start().await.with_base(&server.base);
    sign_in(&b, "analyst", &password).await;
    b.goto("/walkthrough").await;
    let id: i64 = attr(&b, "#walkthrough", "data-incident")
        .await
        .expect("the walkthrough has an incident")
        .parse()
        .unwrap();
    let steps = ["triage", "story", "entity", "contain", "verify", "resolve"];
    for s in steps {
        let class = attr(&b, &format!("#step-{s}"), "class")
            .await
            .unwrap_or_default();
        assert!(
            !class.contains("done"),
            "{s} is not done before anything: {class}"
        );
    }
    assert!(!b.exists("#walkthrough-complete").await);
    let page = format!("{}/incidents/{id}", server.base);
    let mut attacker = String::new();

    for s in steps {
        b.goto("/walkthrough").await;
        if s == "entity" {
            // two steps done, one current, the rest to do (retaken once all are done)
            b.screenshot("walkthrough").await;
        }
        let step = format!("#step-{s}");
        let link = format!("{step} a.go");
        let href = attr(&b, &link, "href").await.unwrap();
        click_to(&b, &link).await;
        let url = b.url().await;
        assert!(
            url.starts_with(&format!("{}{href}", server.base)),
            "{s}: {url} for {href}"
        );
        match s {
            "triage" => {
                assert!(url.starts_with(&page), "{url}");
                b.fill("#manage-form input[name=assigned_to]", "analyst")
                    .await;
                select(&b, "#manage-form select[name=status]", "InProgress").await;
                click_to(&b, "#manage-save").await;
                assert_eq!(flash(&b).await, "Changes saved.");
            }
            "story" => {
                let stages = b
                    .execute(
                        "return document.querySelectorAll('#tab-story section.chapter').length",
                    )
                    .await;
                assert!(stages.as_u64().unwrap() >= 2, "a story in stages: {stages}");
                b.screenshot("incident-story").await;
            }
            "entity" => {
                let prefix = format!("{}/entities/ip/", server.base);
                attacker = url
                    .strip_prefix(&prefix)
                    .unwrap_or_else(|| panic!("the attacker's page: {url}"))
                    .to_string();
                // a console page (signed in, not an error) about the attacker
                let page = b
                    .execute(
                        "return {user: document.body.dataset.user || null, error: !!document.querySelector('.error-page')}",
                    )
                    .await;
                let text = body_text(&b).await;
                assert_eq!(
                    page,
                    json!({"user": "analyst", "error": false}),
                    "the attacker's entity page {url} is not a console page (the walkthrough's entity step needs the entity pages, /entities/{{kind}}/{{value}}): {text}"
                );
                let ip = attacker.replace("%3A", ":");
                assert!(text.contains(&ip), "{url} is about {ip}: {text}");
            }
            "contain" => {
                assert_eq!(url, format!("{page}?tab=response"));
                let ip = attacker.replace("%3A", ":");
                click_to(
                    &b,
                    &format!("#recommendations button[data-action=block_ip][data-target='{ip}']"),
                )
                .await;
                assert_eq!(flash(&b).await, "Containment action created and enforced.");
            }
            "verify" => {
                let ip = attacker.replace("%3A", ":");
                let row = b.text("#actions tr[data-status=active]").await;
                assert!(row.contains("block_ip") && row.contains(&ip), "{row}");
                // the graph, with a node's flyout open, for the docs
                click_to(&b, "[data-tab=graph]").await;
                let nodes = b
                    .execute("return document.querySelectorAll('g.node').length")
                    .await;
                // the attacker and what it attacked at least (the walkthrough takes an
                // incident attack disruption left alone, which the demo's are not all)
                assert!(
                    nodes.as_u64().unwrap() >= 2,
                    "a graph of several entities: {nodes}"
                );
                b.click("g.node").await;
                wait_for(
                    &b,
                    "the flyout",
                    "!document.getElementById('flyout').hidden",
                )
                .await;
                b.screenshot("incident-graph").await;
            }
            "resolve" => {
                select(
                    &b,
                    "#resolve-form select[name=classification]",
                    "TruePositive",
                )
                .await;
                select(
                    &b,
                    "#resolve-form select[name=determination]",
                    "MultiStagedAttack",
                )
                .await;
                b.fill(
                    "#resolve-form textarea[name=findings]",
                    "recon then credential stuffing from two addresses; the first is blocked",
                )
                .await;
                click_to(&b, "#resolve").await;
                assert_eq!(flash(&b).await, "Incident resolved.");
            }
            _ => unreachable!(),
        }
        b.goto("/walkthrough").await;
        let class = attr(&b, &step, "class").await.unwrap_or_default();
        assert_eq!(
            class,
            "done",
            "{s} is done after doing it; the page says: {}",
            b.text(&step).await
        );
    }
    assert!(b.exists("#walkthrough-complete").await);
    b.screenshot("walkthrough").await;
    let inc = server.api(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(inc["status"], "Resolved");
    assert_eq!(inc["assigned_to"], "analyst");
}
#[tokio::test]
async fn a_manager_suppresses_look_alikes_and_investigates_in_the_browser() {
    let server = serve(&[("mona", "soc_manager")]);
    let ip = "203.0.113.88";
    server.push(attack(ip)).await;
    let id = server.incident_of(ip).await;
    let b = Browser::start().await.with_base(&server.base);
    sign_in(&b, "mona", PASSWORD).await;
    b.goto(&format!("/incidents/{id}")).await;
    // the investigation tab: a verdict on the attacker, from its stored events
    click_to(&b, "[data-tab=investigation]").await;
    let verdict = attr(&b, "#investigation-verdict", "data-verdict").await;
    assert!(
        matches!(verdict.as_deref(), Some("malicious" | "suspicious")),
        "{verdict:?}"
    );
    assert!(b.text("#evidence").await.contains(ip));
    // a suppression rule from the incident, saved in the editor
    click_to(&b, "[data-tab=story]").await;
    click_to(&b, "#suppress").await;
    let doc = b
        .execute("return document.querySelector('#document').value")
        .await;
    let doc = doc.as_str().unwrap().to_string();
    assert!(
        doc.contains(&format!("suppress-incident-{id}")) && doc.contains(ip),
        "{doc}"
    );
    click_to(&b, "#save").await;
    assert_eq!(flash(&b).await, "Created.");
    b.goto("/automation").await;
    assert!(b
        .text("#rule-list")
        .await
        .contains(&format!("suppress-incident-{id}")));
    let rules = server.api("/api/v1/automation/rules").await;
    assert_eq!(rules["items"][0]["updated_by"], "user:mona");

    // the SOC dashboard counts this incident, from the nav
    b.goto("/incidents").await;
    click_to(&b, "nav.top a[href='/soc']").await;
    assert!(b.text("#soc-period").await.contains("incidents measured"));
    assert!(b.text("#soc-severity").await.contains("All"));
    let soc = server.api("/api/v1/metrics/soc").await;
    assert!(soc["incidents_measured"].as_u64().unwrap() >= 1, "{soc}");

    // hunt from the attacker's entity page, chart the activity, save it as a detection
    b.goto(&format!("/entities/ip/{ip}")).await;
    click_to(&b, "#hunt-link").await;
    assert!(b.text("#hunt-results").await.contains("rows"));
    assert!(b.text("#hunt-table").await.contains(ip));
    b.fill(
        "#hunt-query",
        &format!(
            "ApiEvents | where ClientIp == \"{ip}\" | summarize n = count() by bin(Timestamp, 1s)"
        ),
    )
    .await;
    click_to(&b, "#hunt-run").await;
    assert!(
        b.exists("#hunt-chart").await,
        "a chart of the binned counts: {}",
        body_text(&b).await
    );
    b.fill("#hunt-save input[name=name]", "attacker-per-second")
        .await;
    b.click("#hunt-save input[name=detect]").await;
    b.fill("#hunt-save input[name=title]", "{n} requests a second")
        .await;
    click_to(&b, "#hunt-save-button").await;
    assert_eq!(flash(&b).await, "Saved.");
    assert!(b.text("#hunt-saved").await.contains("attacker-per-second"));
    let saved = server.api("/api/v1/hunt/queries/attacker-per-second").await;
    assert_eq!(saved["updated_by"], "user:mona", "{saved}");
    assert_eq!(
        saved["detection"]["title"], "{n} requests a second",
        "{saved}"
    );
}
