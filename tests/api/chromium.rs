//! End to end in Debian's Chromium, headless, driven through chromedriver (W3C WebDriver).
//!
//! `scripts/test` installs `chromium` and `chromium-driver` when they are missing. Where neither can
//! be found this test fails, saying so: it never passes without a browser.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use crate::helpers::{GOOD_PASSWORD, fresh_database};
use crate::server::launch_server;

const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,900",
];

fn find_binary(env: &str, candidates: &[&str]) -> PathBuf {
    if let Ok(path) = std::env::var(env) {
        return PathBuf::from(path);
    }
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "no browser for the end-to-end test: none of {candidates:?} exists. Install Debian's \
                 chromium and chromium-driver (scripts/test does so as root), or set {env}."
            )
        })
}

/// A chromedriver process, killed on drop.
struct Driver {
    process: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Driver {
    async fn start() -> Self {
        let binary = find_binary("CHROMEDRIVER", &["/usr/bin/chromedriver"]);
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let process = Command::new(&binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let driver = Self {
            process,
            url: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http
                .get(format!("{}/status", driver.url))
                .send()
                .await
                .is_ok()
            {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not answer on port {port}");
    }
}

/// A browser session: the handful of WebDriver commands the test needs.
struct Browser {
    http: reqwest::Client,
    session: String,
    _profile: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Browser {
    async fn open(driver: &Driver) -> Self {
        let chromium = find_binary(
            "CHROMIUM",
            &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
        );
        let profile =
            std::env::temp_dir().join(format!("gatehouse-chromium-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&profile).unwrap();
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let http = reqwest::Client::new();
        let response: Value = http
            .post(format!("{}/session", driver.url))
            .json(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": chromium, "args": args}
            }}}))
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .unwrap();
        let session = response["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("Chromium did not start: {response}"))
            .to_owned();
        Self {
            http,
            session: format!("{}/session/{session}", driver.url),
            _profile: TempDir(profile),
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response: Value = self
            .http
            .request(method, format!("{}{path}", self.session))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if response["value"].get("error").is_some() {
            panic!("WebDriver {path} failed: {response}");
        }
        response["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    async fn url(&self) -> String {
        self.command(reqwest::Method::GET, "/url", json!({}))
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn find(&self, css: &str) -> String {
        let element = self
            .command(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        element
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap()
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            json!({"text": text}),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            json!({}),
        )
        .await;
    }

    async fn text(&self) -> String {
        self.script("return document.body.innerText")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn script(&self, script: &str) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .await
    }

    /// A cookie as the browser stores it, HttpOnly included (WebDriver sees what scripts cannot).
    async fn cookie(&self, name: &str) -> Option<String> {
        let cookies = self
            .command(reqwest::Method::GET, "/cookie", json!({}))
            .await;
        cookies
            .as_array()?
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["value"].as_str().unwrap().to_owned())
    }

    async fn screenshot(&self, path: &std::path::Path) {
        let png = self
            .command(reqwest::Method::GET, "/screenshot", json!({}))
            .await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    async fn close(self) {
        let _ = self.http.delete(&self.session).send().await;
    }

    /// Waits for a navigation started by a click to land on a path.
    async fn wait_for_path(&self, base: &str, path: &str) {
        for _ in 0..50 {
            if self.url().await.starts_with(&format!("{base}{path}")) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("expected {path}, the browser is at {}", self.url().await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_registers_signs_out_and_signs_back_in_in_chromium() {
    let base = launch_server(&fresh_database().await).await;
    let driver = Driver::start().await;
    let browser = Browser::open(&driver).await;

    // Register: lands on the dashboard, signed in.
    browser.go(&format!("{base}/register")).await;
    browser.type_into("#username", "chromium-user").await;
    browser.type_into("#password", GOOD_PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_path(&base, "/dashboard").await;
    assert!(browser.text().await.contains("Welcome, chromium-user"));

    // The token lives in an HttpOnly cookie that page scripts cannot read.
    let token = browser
        .cookie("gatehouse_at")
        .await
        .expect("the access cookie is set");
    let visible = browser.script("return document.cookie").await;
    assert!(
        !visible.as_str().unwrap().contains(&token),
        "document.cookie shows the token"
    );
    assert!(!visible.as_str().unwrap().contains("gatehouse_at"));
    let screenshot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser/dashboard.png");
    browser.screenshot(&screenshot).await;

    // Sign out: back to the sign-in page, and the dashboard is closed.
    browser.click("main form[action='/logout'] button").await;
    browser.wait_for_path(&base, "/login").await;
    assert!(browser.text().await.contains("You have been signed out."));
    browser.go(&format!("{base}/dashboard")).await;
    browser.wait_for_path(&base, "/login?next=/dashboard").await;

    // Sign in again: `next` brings the person back to the dashboard.
    browser.type_into("#username", "Chromium-User").await;
    browser.type_into("#password", GOOD_PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_path(&base, "/dashboard").await;
    assert!(browser.text().await.contains("Welcome, chromium-user"));

    browser.close().await;
}
