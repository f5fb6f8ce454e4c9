use std::sync::OnceLock;

use gatehouse::auth::{Claims, TokenKeys};
use gatehouse::config::Settings;
use rocket::figment::Figment;
use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use serde_json::{Value, json};
use uuid::Uuid;

pub const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// What browsers leave unencoded in `application/x-www-form-urlencoded` (WHATWG URL).
const FORM_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_');

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, FORM_VALUE).to_string()
}

pub const TEST_SECRET: &str = "integration-test-secret-0123456789abcdef";
/// The master secret every test instance shares, as instances of one deployment do.
pub const TEST_MASTER_SECRET: &str = "integration-test-master-secret-0123456789";
/// A password that meets every rule.
pub const GOOD_PASSWORD: &str = "correct horse battery staple";

/// The server URL tests create their databases on.
fn admin_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        std::env::var("DATABASE_URL").expect(
            "DATABASE_URL must point at a PostgreSQL role that may create databases: \
             run the tests with scripts/test",
        )
    })
}

/// Creates an empty database for one test and returns its URL.
pub async fn fresh_database() -> String {
    let admin = sqlx::PgPool::connect(admin_url())
        .await
        .expect("connect to DATABASE_URL");
    let name = format!("test_{}", Uuid::new_v4().simple());
    // The name is ours (a UUID), not input.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .expect("create the test database");
    admin.close().await;
    let base = admin_url().rsplit_once('/').expect("URL has a database").0;
    format!("{base}/{name}")
}

/// A security log file per test database, under the system's temporary directory.
pub fn security_log_path(database_url: &str) -> std::path::PathBuf {
    let name = database_url.rsplit('/').next().unwrap();
    std::env::temp_dir().join(format!("gatehouse-{name}-security.jsonl"))
}

/// The figment a test app runs with: Rocket's (Rocket.toml, debug profile) plus test settings.
pub fn test_figment(database_url: &str) -> Figment {
    rocket::Config::figment()
        .merge(("databases.main.url", database_url))
        .merge(("databases.main.max_connections", 8))
        .merge(("databases.main.min_connections", 0))
        // The seed's scheme, so tests can forge tokens with the shared secret; the server's own
        // keys (EdDSA, ES256) are tested in `keys.rs`.
        .merge(("jwt_algorithm", "HS256"))
        .merge(("jwt_secret", TEST_SECRET))
        .merge(("secret_key", TEST_MASTER_SECRET))
        // The lowest cost allowed: tests hash often. Cost 12 (the default) is covered by unit
        // tests of seed-made hashes.
        .merge(("bcrypt_cost", 10))
        .merge(("log_level", "critical"))
}

pub struct TestApp {
    pub client: Client,
    pub database_url: String,
    pub security_log: std::path::PathBuf,
    /// The test database, for arranging and inspecting rows; opened once per app.
    pub pool: sqlx::PgPool,
}

/// An owned response: status, headers and body.
#[derive(Debug)]
pub struct TestResponse {
    pub status: Status,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl TestResponse {
    pub async fn from_local(response: LocalResponse<'_>) -> Self {
        let status = response.status();
        let headers = response
            .headers()
            .iter()
            .map(|h| (h.name().to_string(), h.value().to_string()))
            .collect();
        let body = response.into_string().await.unwrap_or_default();
        Self {
            status,
            headers,
            body,
        }
    }

    /// The headers without those that differ on every response (`Date`, `X-Request-Id`).
    pub fn comparable_headers(&self) -> Vec<(String, String)> {
        let mut headers = self.headers.clone();
        headers.retain(|(name, _)| {
            !name.eq_ignore_ascii_case("date") && !name.eq_ignore_ascii_case("x-request-id")
        });
        headers
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The `Set-Cookie` header for a cookie name.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.headers_named("Set-Cookie")
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    /// The CSRF token of the first form on the page.
    pub fn csrf_token(&self) -> String {
        let marker = r#"name="csrf_token" value=""#;
        let start = self.body.find(marker).expect("a form with a CSRF token") + marker.len();
        let end = self.body[start..].find('"').unwrap();
        self.body[start..start + end].to_owned()
    }

    #[track_caller]
    pub fn assert_redirect(&self, location: &str) {
        assert_eq!(self.status, Status::SeeOther, "{}", self.body);
        assert_eq!(self.header("Location"), Some(location));
    }

    pub fn is_html(&self) -> bool {
        self.header("Content-Type")
            .is_some_and(|ct| ct.starts_with("text/html"))
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    /// Asserts the contract's error shape and returns the code.
    pub fn error_code(&self) -> String {
        let body = self.json();
        assert!(body["message"].is_string(), "error without message: {body}");
        body["error"].as_str().expect("error code").to_owned()
    }

    #[track_caller]
    pub fn assert_error(&self, status: Status, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(
            self.header("Content-Type"),
            Some("application/json"),
            "{}",
            self.body
        );
        assert_eq!(self.error_code(), code, "body: {}", self.body);
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|f| f).await
    }

    /// Spawns an app whose figment `configure` may change.
    pub async fn spawn_with(configure: impl FnOnce(Figment) -> Figment) -> Self {
        let database_url = fresh_database().await;
        let security_log = security_log_path(&database_url);
        let figment = test_figment(&database_url).merge(("security_log", &security_log));
        let rocket = gatehouse::build(configure(figment));
        let client = Client::tracked(rocket).await.expect("a valid rocket");
        let pool = sqlx::PgPool::connect_lazy(&database_url).expect("a valid database URL");
        Self {
            client,
            database_url,
            security_log,
            pool,
        }
    }

    /// The security log's lines so far.
    pub fn security_events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.security_log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }

    /// A second instance on the same database, like another server process sharing the state;
    /// its client keeps its own cookies, like another browser.
    pub async fn another_instance(&self) -> TestApp {
        self.another_instance_with(|f| f).await
    }

    /// Another instance on the same database, with its own settings.
    pub async fn another_instance_with(
        &self,
        configure: impl FnOnce(Figment) -> Figment,
    ) -> TestApp {
        let figment =
            configure(test_figment(&self.database_url).merge(("security_log", &self.security_log)));
        let client = Client::tracked(gatehouse::build(figment))
            .await
            .expect("a valid rocket");
        TestApp {
            client,
            database_url: self.database_url.clone(),
            security_log: self.security_log.clone(),
            pool: self.pool.clone(),
        }
    }

    /// Signs in with JSON and returns the token response.
    pub async fn login_tokens(&self, username: &str) -> Value {
        let response = self.login(username, GOOD_PASSWORD).await;
        assert_eq!(response.status, Status::Ok, "{}", response.body);
        response.json()
    }

    pub async fn refresh(&self, refresh_token: &str) -> TestResponse {
        self.post_json("/token/refresh", &json!({ "refresh_token": refresh_token }))
            .await
    }

    /// A request with a Bearer token and an optional JSON body.
    pub async fn bearer(
        &self,
        method: rocket::http::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> TestResponse {
        let mut request = self
            .client
            .req(method, path.to_owned())
            .header(Header::new("Authorization", format!("Bearer {token}")));
        if let Some(body) = body {
            request = request.header(ContentType::JSON).body(body.to_string());
        }
        TestResponse::from_local(request.dispatch().await).await
    }

    /// Waits until `token` is refused by this instance (another instance learns of a revocation
    /// by PostgreSQL notification); returns how long that took. Fails after two seconds.
    pub async fn until_refused(&self, token: &str) -> std::time::Duration {
        let started = std::time::Instant::now();
        loop {
            let status = self.get_with_bearer("/protected", token).await.status;
            if status == Status::Unauthorized {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(2),
                "the revocation did not reach this instance within 2 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }

    /// The number of rows in a table of the test database.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&self.pool)
            .await
            .expect("count rows")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> TestResponse {
        let response = self
            .client
            .post(path.to_owned())
            .header(ContentType::JSON)
            .body(body.to_string())
            .dispatch()
            .await;
        TestResponse::from_local(response).await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: ContentType,
        body: &[u8],
    ) -> TestResponse {
        let response = self
            .client
            .post(path.to_owned())
            .header(content_type)
            .body(body)
            .dispatch()
            .await;
        TestResponse::from_local(response).await
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> TestResponse {
        let mut request = self.client.get(path.to_owned());
        for (name, value) in headers {
            request = request.header(Header::new(name.to_string(), value.to_string()));
        }
        TestResponse::from_local(request.dispatch().await).await
    }

    /// A browser navigation: `Accept: text/html`, cookies kept by the tracked client.
    pub async fn page(&self, path: &str) -> TestResponse {
        self.get(path, &[("Accept", BROWSER_ACCEPT)]).await
    }

    /// A browser form post with extra headers.
    pub async fn form_with(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut request = self
            .client
            .post(path.to_owned())
            .header(ContentType::Form)
            .header(Header::new("Accept", BROWSER_ACCEPT))
            .body(body);
        for (name, value) in headers {
            request = request.header(Header::new(name.to_string(), value.to_string()));
        }
        TestResponse::from_local(request.dispatch().await).await
    }

    /// A browser form post.
    pub async fn form(&self, path: &str, fields: &[(&str, &str)]) -> TestResponse {
        self.form_with(path, fields, &[]).await
    }

    /// Registers through the form (fetching it first for its CSRF token).
    pub async fn register_in_browser(&self, username: &str, password: &str) -> TestResponse {
        let token = self.page("/register").await.csrf_token();
        self.form(
            "/register",
            &[
                ("csrf_token", &token),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }

    /// Signs in through the form (fetching it first for its CSRF token), with `next` when given.
    pub async fn login_in_browser(&self, username: &str, password: &str) -> TestResponse {
        self.login_in_browser_to(username, password, None).await
    }

    pub async fn login_in_browser_to(
        &self,
        username: &str,
        password: &str,
        next: Option<&str>,
    ) -> TestResponse {
        let token = self.page("/login").await.csrf_token();
        let mut fields = vec![
            ("csrf_token", token.as_str()),
            ("username", username),
            ("password", password),
        ];
        if let Some(next) = next {
            fields.push(("next", next));
        }
        self.form("/login", &fields).await
    }

    pub async fn get_with_bearer(&self, path: &str, token: &str) -> TestResponse {
        self.get(path, &[("Authorization", &format!("Bearer {token}"))])
            .await
    }

    pub async fn register(&self, username: &str, password: &str) -> TestResponse {
        self.post_json(
            "/register",
            &json!({"username": username, "password": password}),
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> TestResponse {
        self.post_json(
            "/login",
            &json!({"username": username, "password": password}),
        )
        .await
    }

    /// Registers `username` with [`GOOD_PASSWORD`] and signs in; returns the access token.
    pub async fn signed_in(&self, username: &str) -> String {
        let registered = self.register(username, GOOD_PASSWORD).await;
        assert_eq!(registered.status, Status::Created, "{}", registered.body);
        let login = self.login(username, GOOD_PASSWORD).await;
        assert_eq!(login.status, Status::Ok, "{}", login.body);
        login.json()["access_token"].as_str().unwrap().to_owned()
    }

    /// The claims of one of our tokens (verified with the test secret).
    pub fn claims(&self, token: &str) -> Claims {
        test_keys()
            .verify_uncached(token)
            .expect("a token we issued")
    }
}

/// Token keys built exactly like the server's, with the test secret.
pub fn test_keys() -> TokenKeys {
    let figment = Figment::new()
        .merge(("jwt_secret", TEST_SECRET))
        .merge(("secret_key", TEST_MASTER_SECRET));
    TokenKeys::new(&Settings::from_figment(&figment).unwrap().0)
}
