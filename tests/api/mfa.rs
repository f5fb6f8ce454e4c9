//! Second factors (docs/api.md §4): enrolment, the two-step sign-in for both audiences,
//! replays, recovery codes, throttling. Codes are computed here with `totp-rs`, independently
//! of the server's secret handling.

use rocket::http::{Method, Status};
use serde_json::{Value, json};

use crate::support::app::{GOOD_PASSWORD, TestApp, TestResponse};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An authenticator app holding `secret` (base32), remembering the last code it showed.
pub struct App(totp_rs::Totp, std::cell::RefCell<String>);

impl App {
    pub fn new(secret: &str) -> Self {
        let bytes = totp_rs::Secret::try_from_base32(secret).expect("a base32 secret");
        Self(
            totp_rs::Builder::new()
                .with_secret(bytes)
                .with_account_name("test")
                .build()
                .unwrap(),
            Default::default(),
        )
    }

    /// The code of the step `offset` steps from now.
    pub fn code(&self, offset: i64) -> String {
        let at = now() as i64 + offset * 30;
        let code = self.0.generate(at as u64).to_string();
        self.1.replace(code.clone());
        code
    }

    /// The code this app showed last (a replay, whatever the clock says now).
    pub fn last_code(&self) -> String {
        self.1.borrow().clone()
    }
}

/// Signs `username` in and turns the app on; returns the token, the app and the recovery codes.
pub async fn enrolled(app: &TestApp, username: &str) -> (String, App, Vec<String>) {
    let token = app.signed_in(username).await;
    let begun = app
        .bearer(
            Method::Post,
            "/me/mfa/totp",
            &token,
            Some(json!({"password": GOOD_PASSWORD})),
        )
        .await;
    assert_eq!(begun.status, Status::Ok, "{}", begun.body);
    let authenticator = App::new(begun.json()["secret"].as_str().unwrap());
    let confirmed = app
        .bearer(
            Method::Post,
            "/me/mfa/totp/confirm",
            &token,
            Some(json!({"code": authenticator.code(0)})),
        )
        .await;
    assert_eq!(confirmed.status, Status::Ok, "{}", confirmed.body);
    let codes = confirmed.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (token, authenticator, codes)
}

async fn second_step(app: &TestApp, mfa_token: &str, code: &str) -> TestResponse {
    app.post_json("/login/mfa", &json!({"mfa_token": mfa_token, "code": code}))
        .await
}

fn mfa_token(response: &TestResponse) -> String {
    response.json()["mfa_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn with_an_app_on_a_right_password_asks_for_a_code_and_the_code_opens_the_session() {
    let app = TestApp::spawn().await;
    let token = app.signed_in("alice").await;
    let begun = app
        .bearer(
            Method::Post,
            "/me/mfa/totp",
            &token,
            Some(json!({"password": GOOD_PASSWORD})),
        )
        .await;
    let body = begun.json();
    let secret = body["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32, "160 bits of base32");
    let uri = body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Gatehouse:alice?"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")) && uri.contains("issuer=Gatehouse"));
    // Nothing is active until a code comes back.
    assert_eq!(app.login("alice", GOOD_PASSWORD).await.status, Status::Ok);
    let authenticator = App::new(secret);
    let wrong = app
        .bearer(
            Method::Post,
            "/me/mfa/totp/confirm",
            &token,
            Some(json!({"code": "000000"})),
        )
        .await;
    wrong.assert_error(Status::UnprocessableEntity, "invalid_input");
    assert!(wrong.json()["fields"]["code"].is_array());
    let confirmed = app
        .bearer(
            Method::Post,
            "/me/mfa/totp/confirm",
            &token,
            Some(json!({"code": authenticator.code(0)})),
        )
        .await;
    assert_eq!(confirmed.status, Status::Ok, "{}", confirmed.body);
    assert_eq!(
        confirmed.json()["recovery_codes"].as_array().unwrap().len(),
        10
    );
    let me = app.get_with_bearer("/me", &token).await.json();
    assert_eq!(
        me["mfa"],
        json!({"totp": true, "passkeys": 0, "recovery_codes_left": 10})
    );

    let first = app.login("alice", GOOD_PASSWORD).await;

    first.assert_error(Status::Forbidden, "mfa_required");
    let body = first.json();
    assert_eq!(body["methods"], json!(["totp", "recovery_code"]));
    assert_eq!(body["expires_in"], 300);
    let pending = mfa_token(&first);
    assert!(pending.len() >= 43, "256 bits");
    let signed_in = second_step(&app, &pending, &authenticator.code(1)).await;
    assert_eq!(signed_in.status, Status::Ok, "{}", signed_in.body);
    let access = signed_in.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.claims(&access).amr, ["pwd", "otp", "mfa"]);
    assert_eq!(
        app.get_with_bearer("/protected", &access).await.status,
        Status::Ok
    );
    // Single use.
    second_step(&app, &pending, &authenticator.code(1))
        .await
        .assert_error(Status::Unauthorized, "invalid_token");
}

#[tokio::test]
async fn a_code_works_once_even_inside_its_window() {
    let app = TestApp::spawn().await;
    let (_, authenticator, _) = enrolled(&app, "alice").await;
    // The code that confirmed the app is spent.
    let pending = mfa_token(&app.login("alice", GOOD_PASSWORD).await);

    second_step(&app, &pending, &authenticator.last_code())
        .await
        .assert_error(Status::Unauthorized, "invalid_credentials");
    second_step(&app, &pending, &authenticator.code(-1))
        .await
        .assert_error(Status::Unauthorized, "invalid_credentials");
    assert_eq!(
        second_step(&app, &pending, &authenticator.code(1))
            .await
            .status,
        Status::Ok
    );
}

#[tokio::test]
async fn of_parallel_sign_ins_with_one_code_exactly_one_gets_in() {
    let app = TestApp::spawn().await;
    let (_, authenticator, _) = enrolled(&app, "alice").await;
    let mut pending = Vec::new();
    for _ in 0..5 {
        pending.push(mfa_token(&app.login("alice", GOOD_PASSWORD).await));
    }
    let code = authenticator.code(1);

    let answers =
        futures::future::join_all(pending.iter().map(|token| second_step(&app, token, &code)))
            .await;

    let statuses: Vec<Status> = answers.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == Status::Ok).count(),
        1,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_recovery_code_works_once_in_any_letter_case_with_or_without_dashes() {
    let app = TestApp::spawn().await;
    let (token, _, codes) = enrolled(&app, "alice").await;
    let typed = codes[3].to_lowercase().replace('-', " ");

    let pending = mfa_token(&app.login("alice", GOOD_PASSWORD).await);
    let signed_in = second_step(&app, &pending, &typed).await;

    assert_eq!(signed_in.status, Status::Ok, "{}", signed_in.body);
    let access = signed_in.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.claims(&access).amr, ["pwd", "mfa"]);
    let again = mfa_token(&app.login("alice", GOOD_PASSWORD).await);
    second_step(&app, &again, &codes[3])
        .await
        .assert_error(Status::Unauthorized, "invalid_credentials");
    let me = app.get_with_bearer("/me", &token).await.json();
    assert_eq!(me["mfa"]["recovery_codes_left"], 9);
}

#[tokio::test]
async fn five_wrong_codes_throttle_the_account_and_kill_its_pending_sign_ins() {
    let app = TestApp::spawn().await;
    let (_, authenticator, _) = enrolled(&app, "alice").await;
    let pending = mfa_token(&app.login("alice", GOOD_PASSWORD).await);
    for _ in 0..5 {
        second_step(&app, &pending, "000000")
            .await
            .assert_error(Status::Unauthorized, "invalid_credentials");
    }

    // That pending sign-in is dead; a new one is throttled, the right code included.
    second_step(&app, &pending, &authenticator.code(1))
        .await
        .assert_error(Status::Unauthorized, "invalid_token");
    let another = mfa_token(&app.login("alice", GOOD_PASSWORD).await);
    second_step(&app, &another, &authenticator.code(1))
        .await
        .assert_error(Status::TooManyRequests, "too_many_requests");
    second_step(&app, &another, &authenticator.code(1))
        .await
        .assert_error(Status::Unauthorized, "invalid_token");
}

#[tokio::test]
async fn a_wrong_password_answers_the_same_whether_or_not_the_account_has_a_second_factor() {
    let app = TestApp::spawn().await;
    enrolled(&app, "alice").await;
    app.register("bob", GOOD_PASSWORD).await;

    let alice = app.login("alice", "not the password at all").await;
    let bob = app.login("bob", "not the password at all").await;

    alice.assert_error(Status::Unauthorized, "invalid_credentials");
    assert_eq!(alice.body, bob.body);
    assert_eq!(alice.comparable_headers(), bob.comparable_headers());
}

#[tokio::test]
async fn turning_the_app_off_needs_the_password_and_a_code_and_ends_the_other_sessions() {
    let app = TestApp::spawn().await;
    let (token, authenticator, codes) = enrolled(&app, "alice").await;
    let pending = mfa_token(&app.login("alice", GOOD_PASSWORD).await);
    let elsewhere = second_step(&app, &pending, &authenticator.code(1))
        .await
        .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let without_code = app
        .bearer(
            Method::Delete,
            "/me/mfa/totp",
            &token,
            Some(json!({"password": GOOD_PASSWORD})),
        )
        .await;
    without_code.assert_error(Status::UnprocessableEntity, "invalid_input");
    let off = app
        .bearer(
            Method::Delete,
            "/me/mfa/totp",
            &token,
            Some(json!({"password": GOOD_PASSWORD, "code": codes[0]})),
        )
        .await;

    assert_eq!(off.status, Status::NoContent, "{}", off.body);
    app.get_with_bearer("/protected", &elsewhere)
        .await
        .assert_error(Status::Unauthorized, "invalid_token");
    assert_eq!(
        app.get_with_bearer("/protected", &token).await.status,
        Status::Ok
    );
    assert_eq!(app.login("alice", GOOD_PASSWORD).await.status, Status::Ok);
    let me = app.get_with_bearer("/me", &token).await.json();
    assert_eq!(
        me["mfa"],
        json!({"totp": false, "passkeys": 0, "recovery_codes_left": 0})
    );
}

#[tokio::test]
async fn new_recovery_codes_replace_the_old_set() {
    let app = TestApp::spawn().await;
    let (token, _, old) = enrolled(&app, "alice").await;

    let fresh = app
        .bearer(
            Method::Post,
            "/me/mfa/recovery-codes",
            &token,
            Some(json!({"password": GOOD_PASSWORD, "code": old[0]})),
        )
        .await;

    assert_eq!(fresh.status, Status::Ok, "{}", fresh.body);
    let fresh: Vec<String> =
        serde_json::from_value(fresh.json()["recovery_codes"].clone()).unwrap();
    let pending = mfa_token(&app.login("alice", GOOD_PASSWORD).await);
    second_step(&app, &pending, &old[1])
        .await
        .assert_error(Status::Unauthorized, "invalid_credentials");
    assert_eq!(
        second_step(&app, &pending, &fresh[1]).await.status,
        Status::Ok
    );
}

#[tokio::test]
async fn the_secret_is_sealed_at_rest_and_recovery_codes_are_stored_hashed() {
    let app = TestApp::spawn().await;
    let token = app.signed_in("alice").await;
    let begun = app
        .bearer(
            Method::Post,
            "/me/mfa/totp",
            &token,
            Some(json!({"password": GOOD_PASSWORD})),
        )
        .await
        .json();
    let secret = totp_rs::Secret::try_from_base32(begun["secret"].as_str().unwrap())
        .unwrap()
        .as_ref()
        .to_vec();
    let authenticator = App::new(begun["secret"].as_str().unwrap());
    let codes: Value = app
        .bearer(
            Method::Post,
            "/me/mfa/totp/confirm",
            &token,
            Some(json!({"code": authenticator.code(0)})),
        )
        .await
        .json();

    let sealed: Vec<u8> = sqlx::query_scalar("SELECT secret_sealed FROM totp_factors")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!sealed.windows(secret.len()).any(|w| w == secret.as_slice()));
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT code_hash FROM recovery_codes")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 10);
    for code in codes["recovery_codes"].as_array().unwrap() {
        let plain = code.as_str().unwrap().replace('-', "");
        assert!(
            stored
                .iter()
                .all(|h| !h.windows(plain.len()).any(|w| w == plain.as_bytes()))
        );
    }
}

#[tokio::test]
async fn a_browser_signs_in_in_two_steps_and_keeps_its_next() {
    let app = TestApp::spawn().await;
    let (_, authenticator, _) = enrolled(&app, "alice").await;

    let first = app
        .login_in_browser_to("alice", GOOD_PASSWORD, Some("/dashboard?tab=security"))
        .await;

    first.assert_redirect("/login/mfa");
    let pending = first.set_cookie("gatehouse_mfa").expect("a pending cookie");
    assert!(
        pending.contains("HttpOnly") && pending.contains("Max-Age=300"),
        "{pending}"
    );
    assert!(
        first.set_cookie("gatehouse_at").is_none(),
        "not signed in yet"
    );
    let page = app.page("/login/mfa").await;
    assert_eq!(page.status, Status::Ok);
    assert!(page.body.contains(r#"autocomplete="one-time-code""#));
    assert!(page.body.contains(r#"inputmode="numeric""#));
    let csrf = page.csrf_token();
    let wrong = app
        .form("/login/mfa", &[("csrf_token", &csrf), ("code", "000000")])
        .await;
    assert_eq!(wrong.status, Status::Unauthorized);
    assert!(wrong.is_html());
    let right = app
        .form(
            "/login/mfa",
            &[("csrf_token", &csrf), ("code", &authenticator.code(1))],
        )
        .await;
    right.assert_redirect("/dashboard?tab=security");
    assert!(right.set_cookie("gatehouse_at").is_some());
    assert!(
        app.page("/dashboard")
            .await
            .body
            .contains("is <strong>on</strong>")
    );
}

#[tokio::test]
async fn the_dashboard_turns_the_app_on_with_a_qr_code_drawn_by_the_server() {
    let app = TestApp::spawn().await;
    app.register_in_browser("alice", GOOD_PASSWORD).await;
    let csrf = app.page("/dashboard").await.csrf_token();

    let begun = app
        .form(
            "/me/mfa/totp",
            &[("csrf_token", &csrf), ("password", GOOD_PASSWORD)],
        )
        .await;

    assert_eq!(begun.status, Status::Ok, "{}", begun.body);
    assert!(begun.body.contains("<svg"), "a QR code");
    // No script draws it: the page's only script is the passkey one, from our origin.
    assert_eq!(
        begun.body.matches("<script").count(),
        begun
            .body
            .matches(r#"<script src="/static/passkeys.js" defer></script>"#)
            .count()
    );
    let start = begun.body.find("Key: <code>").unwrap() + "Key: <code>".len();
    let secret = &begun.body[start..start + 32];
    let confirmed = app
        .form(
            "/me/mfa/totp/confirm",
            &[("csrf_token", &csrf), ("code", &App::new(secret).code(0))],
        )
        .await;
    assert_eq!(confirmed.status, Status::Ok, "{}", confirmed.body);
    assert_eq!(confirmed.body.matches("<li><code>").count(), 10);
}

#[tokio::test]
async fn the_operator_resets_the_factors_of_someone_who_lost_them() {
    let app = TestApp::spawn().await;
    let (token, _, _) = enrolled(&app, "alice").await;
    let settings = gatehouse::config::Settings::from_figment(&crate::support::app::test_figment(
        &app.database_url,
    ))
    .unwrap()
    .0;

    let revoked = gatehouse::cli::commands::reset_mfa(&app.pool, &settings, "alice")
        .await
        .unwrap();

    assert_eq!(revoked, 1);
    assert_eq!(app.login("alice", GOOD_PASSWORD).await.status, Status::Ok);
    assert_eq!(app.count("recovery_codes").await, 0);
    app.until_refused(&token).await;
}
