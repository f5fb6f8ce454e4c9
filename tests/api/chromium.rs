//! End to end in Debian's Chromium, headless, driven through chromedriver (W3C WebDriver) with the
//! `fantoccini` client.
//!
//! `scripts/test` installs `chromium` and `chromium-driver` when they are missing. Where neither can
//! be found this test fails, saying so: it never passes without a browser.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::Locator;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use crate::support::app::{GOOD_PASSWORD, fresh_database};
use crate::support::server::{launch_server, launch_server_at};

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

/// How long a step may take before its test fails. Generous, because a CI machine runs other
/// tests and the hashing threads beside the browser; a step that works returns as soon as its
/// condition holds.
const PATIENCE: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);

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
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if http
                .get(format!("{}/status", driver.url))
                .send()
                .await
                .is_ok()
            {
                return driver;
            }
            tokio::time::sleep(POLL).await;
        }
        panic!("chromedriver did not answer on port {port}");
    }
}

/// A browser session through `fantoccini`, with the few steps the tests need.
pub struct Browser {
    client: fantoccini::Client,
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
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"binary": chromium, "args": args}),
        );
        let client = fantoccini::ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .unwrap_or_else(|e| panic!("Chromium did not start: {e}"));
        Self {
            client,
            _profile: TempDir(profile),
        }
    }

    async fn go(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("the current URL")
            .to_string()
    }

    async fn type_into(&self, css: &str, text: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .send_keys(text)
            .await
            .expect("type");
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .expect("click");
    }

    async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .expect("a body")
            .text()
            .await
            .expect("its text")
    }

    /// The text of every element matching `css`.
    async fn texts(&self, css: &str) -> Vec<String> {
        let mut texts = Vec::new();
        for element in self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("elements")
        {
            texts.push(element.text().await.expect("its text"));
        }
        texts
    }

    async fn script(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .expect("script runs")
    }

    /// A cookie as the browser stores it, HttpOnly included (WebDriver sees what scripts cannot).
    async fn cookie(&self, name: &str) -> Option<String> {
        self.client
            .get_all_cookies()
            .await
            .expect("the cookies")
            .into_iter()
            .find(|c| c.name() == name)
            .map(|c| c.value().to_owned())
    }

    async fn screenshot(&self, path: &std::path::Path) {
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }

    /// Gives the browser a WebDriver virtual authenticator (WebAuthn L3 section 11): CTAP2,
    /// built in, holding discoverable credentials, verifying its user. Returns its id.
    async fn add_virtual_authenticator(&self) -> String {
        let answer = self
            .client
            .issue_cmd(WebAuthnCommand {
                path: "webauthn/authenticator".into(),
                body: Some(json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true
                })),
            })
            .await
            .expect("a virtual authenticator");
        answer.as_str().expect("its id").to_owned()
    }

    /// The credentials the virtual authenticator holds.
    async fn virtual_credentials(&self, authenticator: &str) -> Vec<Value> {
        let answer = self
            .client
            .issue_cmd(WebAuthnCommand {
                path: format!("webauthn/authenticator/{authenticator}/credentials"),
                body: None,
            })
            .await
            .expect("the credentials");
        answer.as_array().expect("a list").clone()
    }

    /// Waits until `css` matches a displayed element.
    async fn wait_for_visible(&self, css: &str) {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && element.is_displayed().await.unwrap_or(false)
            {
                return;
            }
            tokio::time::sleep(POLL).await;
        }
        panic!("{css} never showed; the page says: {}", self.text().await);
    }

    async fn clear(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .clear()
            .await
            .expect("clear");
    }

    async fn close(self) {
        let _ = self.client.close().await;
    }

    /// Waits for a navigation started by a click to land on a path. Only for a path other than
    /// the current one: a page that reloads at its own path is already there before it reloads,
    /// so wait for what the new page shows instead (`wait_for_text`).
    async fn wait_for_path(&self, base: &str, path: &str) {
        let wanted = format!("{base}{path}");
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if self.url().await.starts_with(&wanted) {
                return;
            }
            tokio::time::sleep(POLL).await;
        }
        panic!("expected {path}, the browser is at {}", self.url().await);
    }

    /// Waits until the page's text contains `needle`, and returns that text.
    async fn wait_for_text(&self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Ok(body) = self.client.find(Locator::Css("body")).await
                && let Ok(text) = body.text().await
                && text.contains(needle)
            {
                return text;
            }
            tokio::time::sleep(POLL).await;
        }
        panic!(
            "{needle:?} never showed; the page says: {}",
            self.text().await
        );
    }
}

/// A WebDriver extension command of the virtual authenticator, under the session.
#[derive(Debug)]
struct WebAuthnCommand {
    path: String,
    body: Option<Value>,
}

impl fantoccini::wd::WebDriverCompatibleCommand for WebAuthnCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/{}", self.path))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        match &self.body {
            Some(body) => (http::Method::POST, Some(body.to_string())),
            None => (http::Method::GET, None),
        }
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

/// docs/api.md §4 in a real browser: turn the app on from the dashboard (codes computed
/// here from the key the page shows), sign out, sign in with password and code, then with a
/// recovery code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_turns_on_an_authenticator_app_and_signs_in_with_codes_in_chromium() {
    let base = launch_server(&fresh_database().await).await;
    let driver = Driver::start().await;
    let browser = Browser::open(&driver).await;

    browser.go(&format!("{base}/register")).await;
    browser.type_into("#username", "two-step").await;
    browser.type_into("#password", GOOD_PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_path(&base, "/dashboard").await;

    browser.type_into("#enrol_password", GOOD_PASSWORD).await;
    browser.click("form[action='/me/mfa/totp'] button").await;
    browser.wait_for_visible("figure.qr figcaption code").await;
    let key = browser.texts("figure.qr figcaption code").await.remove(0);
    assert_eq!(browser.texts("figure.qr svg").await.len(), 1, "a QR code");
    let screenshot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser/mfa.png");
    browser.screenshot(&screenshot).await;
    let app = crate::mfa::App::new(&key);
    browser.type_into("#confirm_code", &app.code(0)).await;
    browser
        .click("form[action='/me/mfa/totp/confirm'] button")
        .await;
    browser.wait_for_visible(".recovery-codes code").await;
    let recovery = browser.texts(".recovery-codes code").await;
    assert_eq!(recovery.len(), 10);

    browser.click("main form[action='/logout'] button").await;
    browser.wait_for_path(&base, "/login").await;
    browser.type_into("#username", "two-step").await;
    browser.type_into("#password", GOOD_PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_path(&base, "/login/mfa").await;
    browser.type_into("#code", &app.code(1)).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_path(&base, "/dashboard").await;
    assert!(browser.text().await.contains("Welcome, two-step"));

    browser.click("main form[action='/logout'] button").await;
    browser.wait_for_path(&base, "/login").await;
    browser.type_into("#username", "two-step").await;
    browser.type_into("#password", GOOD_PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_path(&base, "/login/mfa").await;
    browser
        .type_into("#code", &recovery[0].to_lowercase())
        .await;
    browser.click("button[type=submit]").await;
    browser.wait_for_path(&base, "/dashboard").await;
    assert!(browser.text().await.contains("9 recovery codes left"));

    browser.close().await;
}

/// docs/api.md §5 in a real browser with Chromium's virtual authenticator: add a passkey
/// from the dashboard (the first factor: its recovery codes show), sign out, sign in with it and
/// no username, remove it. The site is reached at `localhost`, its relying party.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_adds_a_passkey_signs_in_with_it_and_removes_it_in_chromium() {
    let base = launch_server_at(&fresh_database().await, "localhost").await;
    let driver = Driver::start().await;
    let browser = Browser::open(&driver).await;
    let authenticator = browser.add_virtual_authenticator().await;

    browser.go(&format!("{base}/register")).await;
    browser.type_into("#username", "passkey-user").await;
    browser.type_into("#password", GOOD_PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_path(&base, "/dashboard").await;

    // The script shows the form; the ceremony runs against the virtual authenticator.
    browser
        .wait_for_visible("form[data-passkey-register]")
        .await;
    browser.clear("#passkey_name").await;
    browser.type_into("#passkey_name", "Virtual key").await;
    browser.type_into("#passkey_password", GOOD_PASSWORD).await;
    browser.click("form[data-passkey-register] button").await;
    browser.wait_for_visible("[data-passkey-codes]").await;
    assert_eq!(
        browser.texts("[data-passkey-codes] code").await.len(),
        10,
        "the first factor's recovery codes"
    );
    let held = browser.virtual_credentials(&authenticator).await;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["isResidentCredential"], true, "discoverable");
    let screenshot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser/passkey.png");
    browser.screenshot(&screenshot).await;
    // "Done" reloads the dashboard at its own path: wait for what only the new page lists.
    browser.click("[data-passkey-codes] a").await;
    browser.wait_for_text("Virtual key").await;

    // Signed out, the passkey alone signs in: no username, no second step.
    browser.click("main form[action='/logout'] button").await;
    browser.wait_for_path(&base, "/login").await;
    browser
        .wait_for_visible("[data-passkey-sign-in] button")
        .await;
    browser.click("[data-passkey-sign-in] button").await;
    browser.wait_for_path(&base, "/dashboard").await;
    assert!(browser.text().await.contains("Welcome, passkey-user"));

    // Removed with the password, it is gone from the page and from sign-in.
    let remove = "form[action^='/me/passkeys/']";
    browser
        .type_into(&format!("{remove} input[name=password]"), GOOD_PASSWORD)
        .await;
    browser.click(&format!("{remove} button")).await;
    let page = browser.wait_for_text("The passkey was removed").await;
    assert!(page.contains("No passkeys yet"), "{page}");
    browser.close().await;
}
