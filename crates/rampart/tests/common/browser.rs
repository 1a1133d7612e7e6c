//! A real browser for the web console's tests: headless Chromium driven over WebDriver.
//!
//! How it works:
//! - **chromedriver** (Debian package `chromium-driver`, found on `PATH` or at
//!   `/usr/bin/chromedriver`) is started on a free loopback port: a `TcpListener` bound to
//!   `127.0.0.1:0` tells the port and is dropped just before chromedriver binds it. It runs in a
//!   process group of its own, with its stdout piped to the harness.
//! - **readiness** is signalled, not waited for: the harness reads chromedriver's stdout up to its
//!   "started successfully" line, within a 20 s deadline that panics with what it printed.
//! - **chromium** (`/usr/bin/chromium`, Debian package `chromium`) is started by chromedriver for
//!   one fantoccini session (plain HTTP, no TLS) with `--headless=new --no-sandbox --disable-gpu
//!   --disable-dev-shm-usage --window-size=1366,900` and a fresh `--user-data-dir` in a temporary
//!   directory, which is also its `XDG_CONFIG_HOME` and `XDG_CACHE_HOME` (else its crash handler
//!   writes under `~/.config`). `--no-sandbox` is needed because the tests run as root (CI does),
//!   where Chromium refuses to start sandboxed; `--disable-dev-shm-usage` because a container's
//!   `/dev/shm` is small. The viewport is 1366x757: headless keeps room for the window's chrome.
//! - **teardown** is on `Drop`, so a failing test cleans up too: the session is deleted (Chromium
//!   quits), then the whole process group (chromedriver and any Chromium process left) is killed
//!   and reaped, and so is any process whose command line names the temporary directory
//!   (Chromium's crash handler daemonizes out of the group). The test process makes itself a
//!   child subreaper, so such orphans are its children and are reaped too: after a test,
//!   `pgrep -f chromium` finds nothing, not even a zombie. chromedriver's stdio is /dev/null or
//!   a pipe to the harness, so nothing it starts ever holds `cargo test`'s pipes.
//! - **missing binaries** make the test fail (never skip) with a message that says to run
//!   `.ci/run` or `apt-get install chromium chromium-driver`.
//! - **screenshots**: [`Browser::screenshot`] writes `target/screenshots/NAME.png` (next to
//!   `CARGO_TARGET_TMPDIR`) and returns its path; with `UPDATE_SCREENSHOTS=1` it also writes
//!   `docs/screenshots/NAME.png` at the workspace root, the pictures the docs show.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

/// Where Debian's `chromium` package puts the browser.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// How long chromedriver may take to say it is ready.
const READY_DEADLINE: Duration = Duration::from_secs(20);

/// How long a helper waits for an element to appear before it fails.
const ELEMENT_WAIT: Duration = Duration::from_secs(5);

const MISSING: &str = "run .ci/run, or as root: apt-get install chromium chromium-driver";

/// One headless Chromium, driven through its own chromedriver, torn down on drop.
pub struct Browser {
    client: Option<Client>,
    session: Option<String>,
    driver: Child,
    port: u16,
    base: String,
    /// Chromium's profile (`profile/`) and its XDG config and cache homes
    tmp: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session; panics (never skips) when either
    /// binary is missing or does not come up.
    pub async fn start() -> Browser {
        let chromedriver = find_chromedriver().unwrap_or_else(|| {
            panic!("browser tests: chromedriver not found on PATH or at /usr/bin/chromedriver; {MISSING}")
        });
        if !Path::new(CHROMIUM).is_file() {
            panic!("browser tests: chromium not found at {CHROMIUM}; {MISSING}");
        }

        let tmp = tempfile::tempdir().expect("browser tests: temporary directory");
        let port = free_port();
        // Chromium's crash handler and zygotes outlive their parents: make them this process's
        // children rather than init's, so that drop can reap them (see `reap_leftovers`)
        // SAFETY: prctl(2) with an integer option; it only changes who adopts orphans
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        }
        let mut driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Chromium's crash handler and caches write under these: keep them in the temp dir
            .env("XDG_CONFIG_HOME", tmp.path().join("config"))
            .env("XDG_CACHE_HOME", tmp.path().join("cache"))
            // its own process group, so drop can kill chromedriver and every chromium it started
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "browser tests: cannot start {}: {e}",
                    chromedriver.display()
                )
            });
        let ready = wait_ready(&mut driver);
        // from here on, a panic drops this value and so cleans up
        let mut browser = Browser {
            client: None,
            session: None,
            driver,
            port,
            base: String::new(),
            tmp,
        };
        if let Err(said) = ready {
            panic!(
                "browser tests: chromedriver did not say it started within {}s (port {port}); it printed: {said:?}",
                READY_DEADLINE.as_secs()
            );
        }

        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--window-size=1366,900",
                    format!("--user-data-dir={}", browser.tmp.path().join("profile").display()),
                ],
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| {
                panic!("browser tests: no chromium session through chromedriver: {e}")
            });
        browser.session = client.session_id().await.ok().flatten();
        browser.client = Some(client);
        browser
    }

    /// Sets the URL that [`Browser::goto`] paths are relative to, e.g. `http://127.0.0.1:4321`.
    pub fn with_base(mut self, base: impl Into<String>) -> Browser {
        self.base = base.into().trim_end_matches('/').to_string();
        self
    }

    /// The fantoccini client, for what the helpers do not cover.
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("browser session")
    }

    /// Opens `path`, relative to the base URL when it starts with `/` (else a whole URL such as
    /// `about:blank`), and waits for it to load.
    pub async fn goto(&self, path: &str) {
        let url = if path.starts_with('/') {
            format!("{}{path}", self.base)
        } else {
            path.to_string()
        };
        self.client()
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("browser: goto {url}: {e}"));
    }

    /// The URL the browser is at.
    pub async fn url(&self) -> String {
        let url = self.client().current_url().await;
        url.unwrap_or_else(|e| panic!("browser: current url: {e}"))
            .to_string()
    }

    /// The first element matching `css`, waited for up to 5 s.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client()
            .wait()
            .at_most(ELEMENT_WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "browser: no element matches {css:?} within {}s: {e}",
                    ELEMENT_WAIT.as_secs()
                )
            })
    }

    /// Whether some element matches `css` now (no waiting).
    pub async fn exists(&self, css: &str) -> bool {
        match self.client().find(Locator::Css(css)).await {
            Ok(_) => true,
            Err(e) if e.is_no_such_element() => false,
            Err(e) => panic!("browser: find {css:?}: {e}"),
        }
    }

    /// The rendered text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        let el = self.find(css).await;
        el.text()
            .await
            .unwrap_or_else(|e| panic!("browser: text of {css:?}: {e}"))
    }

    /// Clicks the first element matching `css`.
    pub async fn click(&self, css: &str) {
        let el = self.find(css).await;
        el.click()
            .await
            .unwrap_or_else(|e| panic!("browser: click {css:?}: {e}"));
    }

    /// Replaces the value of the field matching `css` with `value`, typed as a person would.
    pub async fn fill(&self, css: &str, value: &str) {
        let el = self.find(css).await;
        el.clear()
            .await
            .unwrap_or_else(|e| panic!("browser: clear {css:?}: {e}"));
        el.send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("browser: type into {css:?}: {e}"));
    }

    /// Submits the form matching `css` by clicking its first submit button.
    pub async fn submit_form(&self, css: &str) {
        let form = self.client().form(Locator::Css(css)).await;
        let form = form.unwrap_or_else(|e| panic!("browser: no form matches {css:?}: {e}"));
        form.submit()
            .await
            .unwrap_or_else(|e| panic!("browser: submit form {css:?}: {e}"));
    }

    /// Runs `js` (a function body: `return ...` gives the value) in the page.
    pub async fn execute(&self, js: &str) -> Value {
        self.client()
            .execute(js, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("browser: execute script: {e}"))
    }

    /// The text of the `alert()`/`confirm()`/`prompt()` dialog open now, if any; the dialog
    /// stays open (see [`Browser::dismiss_alert`]).
    pub async fn alert_text(&self) -> Option<String> {
        match self.client().get_alert_text().await {
            Ok(text) => Some(text),
            Err(e) if e.is_no_such_alert() => None,
            Err(e) => panic!("browser: alert text: {e}"),
        }
    }

    /// Dismisses the open dialog.
    pub async fn dismiss_alert(&self) {
        self.client()
            .dismiss_alert()
            .await
            .unwrap_or_else(|e| panic!("browser: dismiss alert: {e}"));
    }

    /// Saves a PNG of the viewport to `target/screenshots/NAME.png` (and, with
    /// `UPDATE_SCREENSHOTS=1`, to `docs/screenshots/NAME.png`) and returns the first path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .client()
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("browser: screenshot {name}: {e}"));
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 8,
            "browser: screenshot {name} is not a png ({} bytes)",
            png.len()
        );
        let path = screenshots_dir().join(format!("{name}.png"));
        write_file(&path, &png);
        if std::env::var_os("UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
            let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
            write_file(&docs.join(format!("{name}.png")), &png);
        }
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Quit Chromium cleanly through chromedriver (it answers once the browser is gone), then
        // kill the process group for whatever is left. Synchronous: drop may run while a failing
        // test unwinds, where nothing async can be awaited.
        if let Some(id) = self.session.take() {
            delete_session(self.port, &id);
        }
        drop(self.client.take());
        let pgid = self.driver.id() as libc::pid_t;
        // SAFETY: kill(2) with a negative pid signals the group chromedriver leads
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.driver.wait();
        reap_leftovers(self.tmp.path());
    }
}

/// `chromedriver` on `PATH`, else Debian's `/usr/bin/chromedriver`.
fn find_chromedriver() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromedriver"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| Some(PathBuf::from("/usr/bin/chromedriver")).filter(|p| p.is_file()))
}

/// A loopback port free now: bound, read and released for chromedriver to bind.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("browser tests: bind a loopback port");
    l.local_addr().unwrap().port()
}

/// Reads chromedriver's stdout up to its "started successfully" line, then drains the rest in
/// the background; `Err` with what it printed when it exits or the deadline passes first.
fn wait_ready(driver: &mut Child) -> Result<(), Vec<String>> {
    let stdout = driver.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // once nobody listens, keep draining so chromedriver never blocks on a full pipe
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + READY_DEADLINE;
    let mut said = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let ready = line.contains("started successfully");
                said.push(line);
                if ready {
                    return Ok(());
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => return Err(said),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                said.push(format!("(exited: {:?})", driver.try_wait()));
                return Err(said);
            }
        }
    }
}

/// `DELETE /session/ID` on chromedriver over a plain blocking socket, bounded by timeouts.
fn delete_session(port: u16, id: &str) {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    let req = format!(
        "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).is_err() {
        return;
    }
    // read the whole reply (chromedriver sends it once Chromium has quit) but no further:
    // chromedriver keeps the connection open despite `Connection: close`
    let mut reply = Vec::new();
    let mut buf = [0u8; 1024];
    while !reply_complete(&reply) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
        }
    }
}

/// Whether `reply` holds an HTTP response's headers and all of its `Content-Length` body.
fn reply_complete(reply: &[u8]) -> bool {
    let Some(end) = reply.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&reply[..end]).to_ascii_lowercase();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    reply.len() >= end + 4 + len
}

/// Kills, by pid, what is left of this browser: the processes whose command line names `dir`
/// (Chromium's own all do, through `--user-data-dir`, and so does its crash handler, which
/// leaves chromedriver's process group), then reaps those that were reparented to this process
/// (the subreaper), so that none is left even as a zombie. Bounded passes, no sleeps: each
/// `waitpid` blocks on one process that was just killed.
fn reap_leftovers(dir: &Path) {
    let mut needle = dir.as_os_str().as_encoded_bytes().to_vec();
    needle.push(b'/');
    let me = std::process::id() as libc::pid_t;
    for _ in 0..20 {
        let mut left = false;
        for p in processes() {
            let names_dir = p
                .cmdline
                .windows(needle.len())
                .any(|w| w == needle.as_slice());
            let zombie = p.state == 'Z';
            if names_dir && !zombie {
                // SAFETY: kill(2) on a pid just read from /proc, whose command line names our dir
                unsafe {
                    libc::kill(p.pid, libc::SIGKILL);
                }
            }
            let chromium = matches!(p.comm.as_str(), "chromium" | "chrome_crashpad");
            if p.ppid == me && (names_dir || (zombie && chromium)) {
                // ours (reparented): killed just now or already dead, so this returns
                // SAFETY: waitpid(2) on a child of this process
                unsafe {
                    libc::waitpid(p.pid, std::ptr::null_mut(), 0);
                }
                left = true;
            } else if names_dir {
                left = true;
            }
        }
        if !left {
            return;
        }
    }
}

/// One line of `ps`: what `/proc/PID/stat` and `/proc/PID/cmdline` tell.
struct Process {
    pid: libc::pid_t,
    ppid: libc::pid_t,
    state: char,
    comm: String,
    cmdline: Vec<u8>,
}

fn processes() -> Vec<Process> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // "PID (COMM) STATE PPID ...", where COMM may hold spaces and parentheses
            let (head, tail) = stat.rsplit_once(')')?;
            let comm = head.split_once('(')?.1.to_string();
            let mut fields = tail.split_whitespace();
            let state = fields.next()?.chars().next()?;
            let ppid = fields.next()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            Some(Process {
                pid,
                ppid,
                state,
                comm,
                cmdline,
            })
        })
        .collect()
}

/// `target/screenshots`, beside the tests' `CARGO_TARGET_TMPDIR` (`target/tmp`).
fn screenshots_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("screenshots")
}

fn write_file(path: &Path, bytes: &[u8]) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| panic!("browser: create {}: {e}", dir.display()));
    }
    std::fs::write(path, bytes)
        .unwrap_or_else(|e| panic!("browser: write {}: {e}", path.display()));
}
