use rocket::http::Status;

use crate::support::app::{GOOD_PASSWORD, TestApp};

#[tokio::test]
async fn login_returns_the_token_response_with_the_seeds_token_field() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;

    let response = app.login("alice", GOOD_PASSWORD).await;

    assert_eq!(response.status, Status::Ok, "{}", response.body);
    assert_eq!(response.header("Cache-Control"), Some("no-store"));
    let body = response.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["token"], body["access_token"]);
    assert!(
        body["refresh_token"].as_str().unwrap().len() >= 43,
        "256 bits, base64url"
    );
    let claims = app.claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims.exp - claims.iat, 900);
}

#[tokio::test]
async fn login_accepts_the_username_in_any_letter_case() {
    let app = TestApp::spawn().await;
    app.register("Alice", GOOD_PASSWORD).await;

    let response = app.login("aLICE", GOOD_PASSWORD).await;

    assert_eq!(response.status, Status::Ok);
}

#[tokio::test]
async fn login_with_an_unknown_user_is_indistinguishable_from_a_wrong_password() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;

    let wrong_password = app.login("alice", "not the right password").await;
    let unknown_user = app.login("mallory", GOOD_PASSWORD).await;
    let impossible_name = app.login("no such user!", GOOD_PASSWORD).await;

    for response in [&wrong_password, &unknown_user, &impossible_name] {
        response.assert_error(Status::Unauthorized, "invalid_credentials");
        assert_eq!(response.body, wrong_password.body);
        assert_eq!(
            response.comparable_headers(),
            wrong_password.comparable_headers()
        );
    }
    assert!(
        wrong_password
            .header("WWW-Authenticate")
            .is_some_and(|v| v.starts_with("Bearer"))
    );
}

#[tokio::test]
async fn a_password_is_verified_exactly_as_typed() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;

    for variant in [
        " correct horse battery staple",
        "Correct horse battery staple",
    ] {
        assert_eq!(
            app.login("alice", variant).await.status,
            Status::Unauthorized
        );
    }
}

#[tokio::test]
async fn a_73_byte_password_at_login_gets_422_not_a_truncated_match() {
    let app = TestApp::spawn().await;
    let password = "q".repeat(72);
    app.register("alice", &password).await;

    let response = app.login("alice", &format!("{password}x")).await;

    response.assert_error(Status::UnprocessableEntity, "invalid_input");
}

#[tokio::test]
async fn accounts_made_by_the_flask_seed_sign_in_with_their_passwords() {
    let app = TestApp::spawn().await;
    // python bcrypt 5.0: hashpw(b"seed-password-1", gensalt(12)), as the seed stored it.
    sqlx::query("INSERT INTO users (username, password_hash) VALUES ($1, $2)")
        .bind("seeduser")
        .bind("$2b$12$t6Xa.EbwEmo10T/ZAmucR.nN52v1Mp5yb6WkJMnDtRrTpoZJH2Lem")
        .execute(&app.pool)
        .await
        .unwrap();

    let response = app.login("seeduser", "seed-password-1").await;

    assert_eq!(response.status, Status::Ok, "{}", response.body);
}

#[tokio::test]
async fn each_login_opens_a_session_that_its_token_names() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;

    let first = app.login("alice", GOOD_PASSWORD).await.json();
    let second = app.login("alice", GOOD_PASSWORD).await.json();

    let sid1 = app.claims(first["access_token"].as_str().unwrap()).sid;
    let sid2 = app.claims(second["access_token"].as_str().unwrap()).sid;
    assert_ne!(sid1, sid2);
    let stored: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM sessions ORDER BY created_at")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, [sid1, sid2]);
}

#[tokio::test]
async fn refresh_tokens_are_stored_only_as_hashes() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;

    let body = app.login("alice", GOOD_PASSWORD).await.json();

    let refresh = body["refresh_token"].as_str().unwrap();
    let stored: Vec<u8> = sqlx::query_scalar("SELECT hash FROM refresh_tokens")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, gatehouse::auth::keys::random::token_digest(refresh));
    assert!(!String::from_utf8_lossy(&stored).contains(refresh));
}

/// docs/api.md §3: a hash of another cost is made again at the configured cost on the
/// next successful sign-in (and only then: a wrong password changes nothing).
#[tokio::test]
async fn raising_the_cost_re_hashes_each_password_at_its_next_sign_in() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    let hash = || async {
        sqlx::query_scalar::<_, String>("SELECT password_hash FROM users")
            .fetch_one(&app.pool)
            .await
            .unwrap()
    };
    let before = hash().await;
    assert!(before.starts_with("$2b$10$"), "{before}");
    let raised = app
        .another_instance_with(|f| f.merge(("bcrypt_cost", 11)))
        .await;

    raised.login("alice", "not the password at all").await;
    assert_eq!(hash().await, before, "a failed sign-in re-hashes nothing");
    assert_eq!(
        raised.login("alice", GOOD_PASSWORD).await.status,
        Status::Ok
    );

    let started = std::time::Instant::now();
    while !hash().await.starts_with("$2b$11$") {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "not re-hashed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        raised.login("alice", GOOD_PASSWORD).await.status,
        Status::Ok
    );
    assert_eq!(app.login("alice", GOOD_PASSWORD).await.status, Status::Ok);
}
