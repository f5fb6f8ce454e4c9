//! Abuse resistance: throttling shared through the database, no user enumeration, password
//! screening, strict token handling, hostile input, and the security log.

use std::net::SocketAddr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rocket::http::{ContentType, Header as HttpHeader, Method, Status};
use serde_json::json;

use crate::support::app::{GOOD_PASSWORD, TEST_SECRET, TestApp, TestResponse, test_keys};

async fn login_from(app: &TestApp, ip: &str, username: &str, password: &str) -> TestResponse {
    let remote: SocketAddr = format!("{ip}:40000").parse().unwrap();
    let response = app
        .client
        .post("/login")
        .remote(remote)
        .header(ContentType::JSON)
        .body(json!({"username": username, "password": password}).to_string())
        .dispatch()
        .await;
    TestResponse::from_local(response).await
}

// --- throttling --------------------------------------------------------------------------------

#[tokio::test]
async fn after_five_failures_a_username_is_throttled_even_with_the_right_password() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    for _ in 0..5 {
        app.login("alice", "wrong password, again")
            .await
            .assert_error(Status::Unauthorized, "invalid_credentials");
    }

    let response = app.login("ALICE", GOOD_PASSWORD).await;

    response.assert_error(Status::TooManyRequests, "too_many_requests");
    let wait: u64 = response.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
    let failures = app.count("login_failures").await;
    assert_eq!(
        failures, 5,
        "a throttled attempt is not checked, so not counted"
    );
}

#[tokio::test]
async fn throttled_attempts_look_the_same_for_right_and_wrong_passwords_and_unknown_users() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    for name in ["alice", "nobody"] {
        for _ in 0..5 {
            app.login(name, "wrong password, again").await;
        }
    }

    let right = app.login("alice", GOOD_PASSWORD).await;
    let wrong = app.login("alice", "wrong password, again").await;
    let unknown = app.login("nobody", GOOD_PASSWORD).await;

    for response in [&right, &wrong, &unknown] {
        assert_eq!(response.status, Status::TooManyRequests);
        assert_eq!(response.body, right.body);
        let mut headers = response.comparable_headers();
        let mut reference = right.comparable_headers();
        headers.retain(|(n, _)| n != "Retry-After");
        reference.retain(|(n, _)| n != "Retry-After");
        assert_eq!(headers, reference);
    }
}

#[tokio::test]
async fn a_successful_sign_in_clears_the_failures() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    for _ in 0..4 {
        app.login("alice", "wrong password, again").await;
    }
    assert_eq!(app.login("alice", GOOD_PASSWORD).await.status, Status::Ok);
    for _ in 0..4 {
        app.login("alice", "wrong password, again").await;
    }

    assert_eq!(app.login("alice", GOOD_PASSWORD).await.status, Status::Ok);
}

#[tokio::test]
async fn the_throttle_lifts_when_the_oldest_failure_leaves_the_window() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    for _ in 0..5 {
        app.login("alice", "wrong password, again").await;
    }
    assert_eq!(
        app.login("alice", GOOD_PASSWORD).await.status,
        Status::TooManyRequests
    );

    sqlx::query(
        "UPDATE login_failures SET failed_at = now() - interval '16 minutes'
         WHERE failed_at = (SELECT min(failed_at) FROM login_failures)",
    )
    .execute(&app.pool)
    .await
    .unwrap();

    assert_eq!(app.login("alice", GOOD_PASSWORD).await.status, Status::Ok);
}

#[tokio::test]
async fn the_username_throttle_holds_across_instances() {
    let app = TestApp::spawn().await;
    let other = app.another_instance().await;
    app.register("alice", GOOD_PASSWORD).await;
    for _ in 0..5 {
        app.login("alice", "wrong password, again").await;
    }

    let response = other.login("alice", GOOD_PASSWORD).await;

    assert_eq!(response.status, Status::TooManyRequests);
}

#[tokio::test]
async fn a_client_ip_gets_a_limited_number_of_sign_ins_a_minute_whatever_its_headers_say() {
    let app = TestApp::spawn_with(|f| f.merge(("login_ip_limit", 3))).await;
    app.register("alice", GOOD_PASSWORD).await;
    for _ in 0..3 {
        assert_eq!(
            login_from(&app, "198.51.100.7", "alice", GOOD_PASSWORD)
                .await
                .status,
            Status::Ok
        );
    }

    let spoofed = app
        .client
        .post("/login")
        .remote("198.51.100.7:40001".parse().unwrap())
        .header(ContentType::JSON)
        .header(HttpHeader::new("X-Forwarded-For", "203.0.113.99"))
        .header(HttpHeader::new("X-Real-IP", "203.0.113.98"))
        .body(json!({"username": "alice", "password": GOOD_PASSWORD}).to_string())
        .dispatch()
        .await;
    let other_ip = login_from(&app, "198.51.100.8", "alice", GOOD_PASSWORD).await;

    assert_eq!(spoofed.status(), Status::TooManyRequests);
    assert!(spoofed.headers().get_one("Retry-After").is_some());
    assert_eq!(other_ip.status, Status::Ok);
}

#[tokio::test]
async fn a_client_ip_gets_a_limited_number_of_registrations_a_minute() {
    let app = TestApp::spawn_with(|f| f.merge(("register_ip_limit", 2))).await;
    app.register("alice", GOOD_PASSWORD).await;
    app.register("alice", GOOD_PASSWORD).await;

    let response = app.register("bob", GOOD_PASSWORD).await;

    response.assert_error(Status::TooManyRequests, "too_many_requests");
    let users = app.count("users").await;
    assert_eq!(users, 1);
}

#[tokio::test]
async fn a_throttled_browser_sees_a_429_page_with_the_wait() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    for _ in 0..5 {
        app.login("alice", "wrong password, again").await;
    }
    let response = app.login_in_browser("alice", GOOD_PASSWORD).await;

    assert_eq!(response.status, Status::TooManyRequests);
    assert!(response.is_html());
    let wait = response.header("Retry-After").unwrap();
    assert!(
        response
            .body
            .contains(&format!("try again in {wait} seconds")),
        "{}",
        response.body
    );
}

#[tokio::test]
async fn a_wrong_password_when_changing_it_counts_toward_the_throttle() {
    let app = TestApp::spawn().await;
    let token = app.signed_in("alice").await;
    for _ in 0..5 {
        app.bearer(Method::Post, "/me/password", &token,
            Some(json!({"current_password": "not it at all, no", "new_password": "a brand new passphrase"})))
            .await
            .assert_error(Status::Forbidden, "invalid_credentials");
    }

    app.login("alice", GOOD_PASSWORD)
        .await
        .assert_error(Status::TooManyRequests, "too_many_requests");
}

// --- password screening ------------------------------------------------------------------------

#[tokio::test]
async fn breached_passwords_are_refused_at_registration_and_password_change() {
    let app = TestApp::spawn().await;

    let refused = app.register("alice", "qwertyuiopasdfghjkl").await;

    refused.assert_error(Status::UnprocessableEntity, "invalid_input");
    assert!(
        refused.json()["fields"]["password"]
            .to_string()
            .contains("too common")
    );
    let token = app.signed_in("bob").await;
    let change = app
        .bearer(
            Method::Post,
            "/me/password",
            &token,
            Some(json!({"current_password": GOOD_PASSWORD, "new_password": "111111111111111"})),
        )
        .await;
    change.assert_error(Status::UnprocessableEntity, "invalid_input");
}

// --- token strictness --------------------------------------------------------------------------

fn sign_raw(header: &serde_json::Value, claims: &serde_json::Value, key: &[u8]) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key),
        signing_input.as_bytes(),
    );
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(tag))
}

#[tokio::test]
async fn every_kind_of_bad_token_gets_401_and_never_a_5xx() {
    let app = TestApp::spawn().await;
    let token = app.signed_in("alice").await;
    let claims = serde_json::to_value(app.claims(&token)).unwrap();
    let secret = TEST_SECRET.as_bytes();
    let at = json!({"alg": "HS256", "typ": "at+jwt"});
    let without = |key: &str| {
        let mut c = claims.clone();
        c.as_object_mut().unwrap().remove(key);
        c
    };
    let with = |key: &str, value: serde_json::Value| {
        let mut c = claims.clone();
        c[key] = value;
        c
    };
    let mut hs384 = Header::new(Algorithm::HS384);
    hs384.typ = Some("at+jwt".into());
    let attacker_key = b"attacker-controlled-key-material-32b!";
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    let mut cases: Vec<(&str, String)> = vec![
        (
            "HS384 with the real secret",
            jsonwebtoken::encode(&hs384, &claims, &EncodingKey::from_secret(secret)).unwrap(),
        ),
        (
            "RS256 header",
            sign_raw(&json!({"alg": "RS256", "typ": "at+jwt"}), &claims, secret),
        ),
        (
            "EdDSA header",
            sign_raw(&json!({"alg": "EdDSA", "typ": "at+jwt"}), &claims, secret),
        ),
        (
            "alg None",
            sign_raw(&json!({"alg": "None", "typ": "at+jwt"}), &claims, secret),
        ),
        ("no exp", sign_raw(&at, &without("exp"), secret)),
        (
            "string exp",
            sign_raw(&at, &with("exp", json!((now + 600).to_string())), secret),
        ),
        ("no nbf", sign_raw(&at, &without("nbf"), secret)),
        (
            "string nbf",
            sign_raw(&at, &with("nbf", json!(now.to_string())), secret),
        ),
        (
            "nbf in the future",
            sign_raw(&at, &with("nbf", json!(now + 3600)), secret),
        ),
        ("no iss", sign_raw(&at, &without("iss"), secret)),
        ("no aud", sign_raw(&at, &without("aud"), secret)),
        (
            "aud array of another",
            sign_raw(&at, &with("aud", json!(["other"])), secret),
        ),
        ("no sub", sign_raw(&at, &without("sub"), secret)),
        (
            "sub not a uuid",
            sign_raw(&at, &with("sub", json!("alice")), secret),
        ),
        (
            "no typ",
            sign_raw(&json!({"alg": "HS256"}), &claims, secret),
        ),
        (
            "typ JWT",
            sign_raw(&json!({"alg": "HS256", "typ": "JWT"}), &claims, secret),
        ),
        (
            "jwk of the attacker",
            sign_raw(
                &json!({"alg": "HS256", "typ": "at+jwt", "jwk": {"kty": "oct", "k": URL_SAFE_NO_PAD.encode(attacker_key)}}),
                &claims,
                attacker_key,
            ),
        ),
        (
            "jku",
            sign_raw(
                &json!({"alg": "HS256", "typ": "at+jwt", "jku": "http://127.0.0.1:1/jwks"}),
                &claims,
                attacker_key,
            ),
        ),
        (
            "kid",
            sign_raw(
                &json!({"alg": "HS256", "typ": "at+jwt", "kid": "../../dev/null"}),
                &claims,
                attacker_key,
            ),
        ),
        ("bad base64", "@@@.###.$$$".into()),
        ("a", "a".into()),
        ("a.b", "a.b".into()),
        ("a.b.c.d", "a.b.c.d".into()),
        ("16 KiB", "e".repeat(16 * 1024)),
    ];
    cases.push(("tampered", format!("{}x", &token[..token.len() - 1])));
    for (case, bad) in cases {
        let response = app.get_with_bearer("/protected", &bad).await;

        assert_eq!(
            response.status,
            Status::Unauthorized,
            "{case}: {}",
            response.body
        );
        assert_eq!(response.error_code(), "invalid_token", "{case}");
    }
    let _ = test_keys();
}

#[tokio::test]
async fn two_authorization_headers_are_refused() {
    let app = TestApp::spawn().await;
    let token = app.signed_in("alice").await;

    let response = app
        .client
        .get("/protected")
        .header(HttpHeader::new("Authorization", format!("Bearer {token}")))
        .header(HttpHeader::new("Authorization", format!("Bearer {token}")))
        .dispatch()
        .await;

    assert_eq!(response.status(), Status::Unauthorized);
}

// --- hostile input -----------------------------------------------------------------------------

#[tokio::test]
async fn control_characters_bidi_overrides_and_sql_in_usernames_get_422_and_store_nothing() {
    let app = TestApp::spawn().await;
    for name in [
        "ali\u{0}ce",
        "ali\u{7}ce",
        "ali\u{202e}ecila",
        "alice\u{200b}",
        "a'; DROP TABLE users;--",
        "' OR '1'='1",
    ] {
        app.register(name, GOOD_PASSWORD)
            .await
            .assert_error(Status::UnprocessableEntity, "invalid_input");
    }
    let users = app.count("users").await;
    assert_eq!(users, 0);
}

#[tokio::test]
async fn passwords_may_hold_any_printable_characters_and_are_stored_safely() {
    let app = TestApp::spawn().await;
    let password = "'; DROP TABLE users; -- \u{202e} ✓ and more";

    assert_eq!(
        app.register("alice", password).await.status,
        Status::Created
    );

    assert_eq!(app.login("alice", password).await.status, Status::Ok);
    assert_eq!(
        app.login("alice", &format!("{password} other"))
            .await
            .status,
        Status::Unauthorized
    );
}

/// docs/api.md §3: a NUL or other control character in any field is a 4xx, decided
/// before any query (PostgreSQL refuses NUL in text: it used to answer 500).
#[tokio::test]
async fn control_characters_in_any_field_get_422_for_json_and_forms_alike() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    for (username, password) in [
        ("ali\u{0}ce", GOOD_PASSWORD),
        ("alice", "correct horse\u{0}battery staple"),
        ("alice\u{1b}[31m", GOOD_PASSWORD),
        ("alice", "correct horse\tbattery staple"),
    ] {
        app.login(username, password)
            .await
            .assert_error(Status::UnprocessableEntity, "invalid_input");
        app.register(username, password)
            .await
            .assert_error(Status::UnprocessableEntity, "invalid_input");
        let form = app.login_in_browser(username, password).await;
        assert_eq!(form.status, Status::UnprocessableEntity, "{username:?}");
        assert!(form.is_html());
    }
    assert_eq!(app.count("users").await, 1);
    assert_eq!(
        app.count("login_failures").await,
        0,
        "refused before any query"
    );
}

#[tokio::test]
async fn a_2_mib_body_gets_413_before_any_work() {
    let app = TestApp::spawn().await;
    let body = format!(
        r#"{{"username":"alice","password":"{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );

    let response = app
        .post_raw("/register", ContentType::JSON, body.as_bytes())
        .await;

    response.assert_error(Status::PayloadTooLarge, "payload_too_large");
    let users = app.count("users").await;
    assert_eq!(users, 0);
    let form = app
        .post_raw("/login", ContentType::Form, &vec![b'a'; 2 * 1024 * 1024])
        .await;
    assert_eq!(form.status, Status::PayloadTooLarge);
}

#[tokio::test]
async fn deeply_nested_and_wide_json_gets_a_clear_4xx() {
    let app = TestApp::spawn().await;
    let deep_array = format!("{{\"username\":{}{}}}", "[".repeat(5000), "]".repeat(5000));
    let deep_object = format!(
        "{{\"username\":{}1{}}}",
        "{\"a\":".repeat(2000),
        "}".repeat(2000)
    );
    let top_level_array = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let wide = format!(
        "{{{}\"z\":1}}",
        (0..1500)
            .map(|i| format!("\"k{i}\":1,"))
            .collect::<String>()
    );

    // Past serde_json's recursion limit: refused as unparseable, without exhausting the stack.
    for body in [&deep_array, &deep_object] {
        app.post_raw("/register", ContentType::JSON, body.as_bytes())
            .await
            .assert_error(Status::BadRequest, "malformed_body");
    }
    // Valid JSON, wrong shape.
    app.post_raw("/register", ContentType::JSON, top_level_array.as_bytes())
        .await
        .assert_error(Status::UnprocessableEntity, "invalid_input");
    app.post_raw("/register", ContentType::JSON, wide.as_bytes())
        .await
        .assert_error(Status::UnprocessableEntity, "invalid_input");
}

#[tokio::test]
async fn fifty_concurrent_registrations_of_one_name_make_one_account() {
    let app = TestApp::spawn_with(|f| {
        f.merge(("register_ip_limit", 100))
            .merge(("password_hash_per_client", 100))
    })
    .await;

    let attempts = (0..50).map(|i| {
        let name = if i % 2 == 0 { "Racer" } else { "racer" };
        app.register(name, GOOD_PASSWORD)
    });
    let responses = futures::future::join_all(attempts).await;

    let created = responses
        .iter()
        .filter(|r| r.status == Status::Created)
        .count();
    let taken = responses
        .iter()
        .filter(|r| r.status == Status::Conflict)
        .count();
    assert_eq!(
        (created, taken),
        (1, 49),
        "{:?}",
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
}

// --- surface -----------------------------------------------------------------------------------

#[tokio::test]
async fn trace_is_refused_and_nothing_outside_static_is_served() {
    let app = TestApp::spawn().await;

    let trace = app.client.req(Method::Trace, "/protected").dispatch().await;
    assert_eq!(trace.status(), Status::MethodNotAllowed);

    for path in [
        "/Cargo.toml",
        "/static/../Cargo.toml",
        "/static/%2e%2e/Cargo.toml",
        "/.env",
        "/src/main.rs",
        "/Rocket.toml",
    ] {
        let response = app.get(path, &[]).await;
        assert_eq!(response.status, Status::NotFound, "{path}");
    }
    let css = app.get("/static/app.css", &[]).await;
    assert_eq!(css.status, Status::Ok);
    assert_eq!(css.header("X-Content-Type-Options"), Some("nosniff"));
    assert!(css.header("Content-Security-Policy").is_some());
    assert_eq!(css.header("Server"), None);
}

// --- the security log --------------------------------------------------------------------------

#[tokio::test]
async fn security_events_are_logged_with_context_and_without_secrets() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    let tokens = app.login_tokens("alice").await;
    app.login("alice", "wrong password, again").await;
    // A control character would be refused before any event (docs/api.md §3); the log's
    // escaping of what does reach it is unit-tested in `auth/audit.rs`.
    app.login("nobody\u{1b}[31m", "wrong password, again").await;
    app.login("nobody", "wrong password, again").await;
    app.get_with_bearer("/protected", "garbage.token.here")
        .await;
    app.bearer(
        Method::Post,
        "/logout",
        tokens["access_token"].as_str().unwrap(),
        None,
    )
    .await;

    let events = app.security_events();
    let outcomes: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["security_event"].as_str().unwrap().into(),
                e["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    for expected in [
        ("register", "success"),
        ("login", "success"),
        ("login", "wrong_password"),
        ("login", "unknown_user"),
        ("token_rejected", "malformed"),
        ("logout", "success"),
    ] {
        assert!(
            outcomes.contains(&(expected.0.into(), expected.1.into())),
            "{expected:?} not in {outcomes:?}"
        );
    }
    for event in &events {
        assert!(
            event["time"].is_string() && event["request_id"].is_string(),
            "{event}"
        );
        assert!(event.get("ip").is_some());
    }
    let raw = std::fs::read_to_string(&app.security_log).unwrap();
    for secret in [
        GOOD_PASSWORD,
        "wrong password",
        tokens["access_token"].as_str().unwrap(),
        tokens["refresh_token"].as_str().unwrap(),
        "$2b$",
    ] {
        assert!(!raw.contains(secret), "the log holds {secret:.12}…");
    }
    assert!(!raw.contains('\u{1b}'), "control characters are escaped");
}

#[tokio::test]
async fn a_valid_request_id_is_echoed_and_a_hostile_one_replaced() {
    let app = TestApp::spawn().await;

    let kept = app.get("/healthz", &[("X-Request-Id", "abc-123")]).await;
    let replaced = app
        .get("/healthz", &[("X-Request-Id", "evil\r\nheader: yes")])
        .await;

    assert_eq!(kept.header("X-Request-Id"), Some("abc-123"));
    let id = replaced.header("X-Request-Id").unwrap();
    assert!(!id.contains("evil") && !id.is_empty(), "{id}");
    assert!(
        id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'),
        "{id}"
    );
    let another = app.get("/healthz", &[]).await;
    assert_ne!(another.header("X-Request-Id"), Some(id), "ids are unique");
}

// --- limits under concurrency ----------------------------------------------------------------

/// The status of a JSON sign-in from a given client address.
async fn status_from(app: &TestApp, ip: &str, username: &str, password: &str) -> Status {
    login_from(app, ip, username, password).await.status
}

/// docs/api.md §3: 5 failures per username, exactly, however many arrive at once and
/// from however many addresses: each check reserves its attempt before bcrypt runs.
#[tokio::test]
async fn twenty_parallel_wrong_passwords_from_twenty_addresses_get_exactly_five_checks() {
    let app = TestApp::spawn_with(|f| f.merge(("password_hash_queue", 64))).await;
    let other = app.another_instance().await;
    app.register("alice", GOOD_PASSWORD).await;

    let addresses: Vec<String> = (0..20).map(|i| format!("198.51.100.{i}")).collect();
    let attempts = addresses.iter().enumerate().map(|(i, ip)| {
        let instance = if i % 2 == 0 { &app } else { &other };
        status_from(instance, ip, "alice", "wrong password, again")
    });
    let statuses = futures::future::join_all(attempts).await;

    let checked = statuses
        .iter()
        .filter(|s| **s == Status::Unauthorized)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == Status::TooManyRequests)
        .count();
    assert_eq!((checked, throttled), (5, 15), "{statuses:?}");
    assert_eq!(app.count("login_failures").await, 5);
    assert_eq!(
        status_from(&app, "203.0.113.9", "alice", GOOD_PASSWORD).await,
        Status::TooManyRequests,
        "the right password waits too"
    );
}

/// One client flooding sign-ins holds at most its share of the hashing threads: its excess is
/// turned away at once, and another client is served meanwhile.
#[tokio::test]
async fn one_client_flooding_sign_ins_cannot_starve_another() {
    let app = TestApp::spawn_with(|f| {
        f.merge(("password_hash_per_client", 1))
            .merge(("login_ip_limit", 1000))
    })
    .await;
    for name in ["alice", "bob"] {
        app.register(name, GOOD_PASSWORD).await;
    }

    let flood = futures::future::join_all(
        (0..12).map(|_| status_from(&app, "198.51.100.66", "alice", GOOD_PASSWORD)),
    );
    let (flooded, bob) = tokio::join!(
        flood,
        status_from(&app, "203.0.113.5", "bob", GOOD_PASSWORD)
    );

    assert_eq!(bob, Status::Ok);
    assert!(flooded.contains(&Status::Ok), "{flooded:?}");
    assert!(flooded.contains(&Status::TooManyRequests), "{flooded:?}");
    assert!(
        flooded
            .iter()
            .all(|s| *s == Status::Ok || *s == Status::TooManyRequests),
        "{flooded:?}"
    );
}

/// Password change and account deletion are limited per account even with the right password:
/// a signed-in client cannot keep the hashing threads busy with them.
#[tokio::test]
async fn right_password_checks_of_a_signed_in_user_are_limited_per_account() {
    let app = TestApp::spawn_with(|f| {
        f.merge(("password_check_limit", 3))
            .merge(("password_hash_per_client", 100))
    })
    .await;
    let token = app.signed_in("alice").await;

    let attempts = (0..8).map(|_| {
        app.bearer(
            Method::Delete,
            "/me",
            &token,
            Some(json!({"password": "not the password at all"})),
        )
    });
    let statuses: Vec<Status> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.status)
        .collect();

    let checked = statuses.iter().filter(|s| **s == Status::Forbidden).count();
    assert_eq!(checked, 3, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == Status::Forbidden || *s == Status::TooManyRequests)
    );
    let right = app
        .bearer(
            Method::Delete,
            "/me",
            &token,
            Some(json!({"password": GOOD_PASSWORD})),
        )
        .await;
    assert_eq!(right.status, Status::TooManyRequests, "{}", right.body);
    assert_eq!(app.count("users").await, 1);
}

#[tokio::test]
async fn ipv6_clients_share_one_budget_per_64() {
    let app = TestApp::spawn_with(|f| f.merge(("login_ip_limit", 3))).await;
    for i in 1..=3 {
        assert_eq!(
            status_from(
                &app,
                &format!("[2001:db8:7:7::{i}]"),
                "nobody",
                "whatever password"
            )
            .await,
            Status::Unauthorized
        );
    }

    assert_eq!(
        status_from(
            &app,
            "[2001:db8:7:7:ffff::1]",
            "nobody",
            "whatever password"
        )
        .await,
        Status::TooManyRequests
    );
    assert_eq!(
        status_from(&app, "[2001:db8:7:8::1]", "nobody", "whatever password").await,
        Status::Unauthorized,
        "another /64 has its own budget"
    );
}

/// OWASP device cookies: five failures from elsewhere lock the username for untrusted clients,
/// not for the browser its owner signed in with before; that browser's own failures count
/// against it alone.
#[tokio::test]
async fn an_attacker_elsewhere_cannot_lock_the_owner_out_of_a_known_browser() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    app.login_in_browser("alice", GOOD_PASSWORD)
        .await
        .assert_redirect("/dashboard");
    let attacker = app.another_instance().await;
    for _ in 0..5 {
        attacker.login("alice", "guessing, guessing").await;
    }
    attacker
        .login("alice", GOOD_PASSWORD)
        .await
        .assert_error(Status::TooManyRequests, "too_many_requests");

    // The owner's browser still gets in.
    app.login_in_browser("alice", GOOD_PASSWORD)
        .await
        .assert_redirect("/dashboard");

    // A known browser that keeps failing is locked out itself.
    for _ in 0..5 {
        let failed = app.login_in_browser("alice", "guessing from here").await;
        assert_eq!(failed.status, Status::Unauthorized);
    }
    assert_eq!(
        app.login_in_browser("alice", GOOD_PASSWORD).await.status,
        Status::TooManyRequests
    );
}

#[tokio::test]
async fn a_device_cookie_for_another_account_or_forged_counts_for_nothing() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    app.register("mallory", GOOD_PASSWORD).await;
    // Mallory's own browser has a device cookie, for mallory.
    app.login_in_browser("mallory", GOOD_PASSWORD)
        .await
        .assert_redirect("/dashboard");
    for _ in 0..5 {
        app.login("alice", "guessing, guessing").await;
    }

    let with_mallorys_device = app.login_in_browser("alice", GOOD_PASSWORD).await;
    assert_eq!(with_mallorys_device.status, Status::TooManyRequests);

    let forged = app
        .client
        .post("/login")
        .cookie(rocket::http::Cookie::new(
            "gatehouse_device",
            "nonce.forgedtag",
        ))
        .header(ContentType::JSON)
        .body(json!({"username": "alice", "password": GOOD_PASSWORD}).to_string())
        .dispatch()
        .await;
    assert_eq!(forged.status(), Status::TooManyRequests);
}
