//! The browser harness (tests/common/browser.rs) against a real `rampart serve`: the ground the
//! web console's acceptance tests stand on.

use std::process::{Child, Stdio};

mod common;

use common::browser::Browser;
use common::{rampart, served_addr};

/// Kills the server when dropped, so a failing test leaves none behind.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_opens_healthz_and_takes_a_screenshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = rampart()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let addr = served_addr(&mut child);
    let _server = Server(child);

    let browser = Browser::start().await.with_base(format!("http://{addr}"));
    browser.goto("/healthz").await;
    assert_eq!(browser.url().await, format!("http://{addr}/healthz"));
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
