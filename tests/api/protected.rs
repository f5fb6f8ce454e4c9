use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rocket::http::Status;
use time::OffsetDateTime;

use crate::support::app::{TEST_SECRET, TestApp, test_keys};

fn forge(header: &Header, claims: &impl serde::Serialize, secret: &[u8]) -> String {
    jsonwebtoken::encode(header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn at_header(alg: Algorithm) -> Header {
    let mut header = Header::new(alg);
    header.typ = Some("at+jwt".into());
    header
}

#[tokio::test]
async fn a_valid_bearer_token_gets_the_welcome() {
    let app = TestApp::spawn().await;
    let token = app.signed_in("alice").await;

    let response = app.get_with_bearer("/protected", &token).await;

    assert_eq!(response.status, Status::Ok, "{}", response.body);
    assert_eq!(response.json()["message"], "Welcome, alice!");
    assert_eq!(response.json()["username"], "alice");
    assert_eq!(response.header("Cache-Control"), Some("no-store"));
}

#[tokio::test]
async fn no_token_gets_401_missing_token_with_a_bearer_challenge() {
    let app = TestApp::spawn().await;

    let response = app.get("/protected", &[]).await;

    response.assert_error(Status::Unauthorized, "missing_token");
    let challenge = response.header("WWW-Authenticate").unwrap();
    assert!(challenge.starts_with("Bearer"));
    assert!(
        !challenge.contains("error="),
        "RFC 6750 3.1: no error code without a token"
    );
}

#[tokio::test]
async fn an_expired_token_gets_token_expired() {
    let app = TestApp::spawn().await;
    let token = app.signed_in("alice").await;
    let mut claims = app.claims(&token);
    claims.exp = OffsetDateTime::now_utc().unix_timestamp() - 120;

    let response = app
        .get_with_bearer("/protected", &test_keys().sign(&claims))
        .await;

    response.assert_error(Status::Unauthorized, "token_expired");
    assert!(
        response
            .header("WWW-Authenticate")
            .unwrap()
            .contains(r#"error="invalid_token""#)
    );
}

#[tokio::test]
async fn forged_and_broken_tokens_get_invalid_token() {
    let app = TestApp::spawn().await;
    let token = app.signed_in("alice").await;
    let claims = app.claims(&token);

    let other_key = forge(
        &at_header(Algorithm::HS256),
        &claims,
        b"another-secret-of-at-least-32-bytes!!",
    );
    let hs512 = forge(
        &at_header(Algorithm::HS512),
        &claims,
        TEST_SECRET.as_bytes(),
    );
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let alg_none = format!(
        "{}.{payload}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#)
    );
    let mut wrong_aud = claims.clone();
    wrong_aud.aud = "another-service".into();
    let mut wrong_iss = claims.clone();
    wrong_iss.iss = "https://evil.example".into();
    let mut tampered_claims = claims.clone();
    tampered_claims.sub = uuid::Uuid::new_v4();
    let parts: Vec<&str> = token.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&tampered_claims).unwrap()),
        parts[2]
    );

    let cases = [
        ("another key", other_key),
        ("HS512 with the real secret", hs512),
        ("alg none", alg_none),
        ("wrong aud", test_keys().sign(&wrong_aud)),
        ("wrong iss", test_keys().sign(&wrong_iss)),
        ("tampered payload", tampered),
        ("garbage", "a.b.c".into()),
    ];
    for (case, forged) in cases {
        let response = app.get_with_bearer("/protected", &forged).await;

        assert_eq!(response.status, Status::Unauthorized, "{case}");
        assert_eq!(response.error_code(), "invalid_token", "{case}");
        assert!(
            response
                .header("WWW-Authenticate")
                .unwrap()
                .contains("invalid_token"),
            "{case}"
        );
    }
}

#[tokio::test]
async fn a_basic_credential_is_not_a_token() {
    let app = TestApp::spawn().await;

    let response = app
        .get(
            "/protected",
            &[("Authorization", "Basic YWxpY2U6cGFzc3dvcmQ=")],
        )
        .await;

    response.assert_error(Status::Unauthorized, "invalid_token");
}

#[tokio::test]
async fn a_token_in_the_query_string_is_ignored() {
    let app = TestApp::spawn().await;
    let token = app.signed_in("alice").await;

    let response = app
        .get(&format!("/protected?access_token={token}"), &[])
        .await;

    response.assert_error(Status::Unauthorized, "missing_token");
}

#[tokio::test]
async fn the_token_of_a_deleted_user_gets_invalid_token() {
    let app = TestApp::spawn().await;
    let token = app.signed_in("alice").await;
    // Deleted behind the server's back (an operator's SQL): the trigger records the revocation and
    // notifies every instance.
    sqlx::query("DELETE FROM users")
        .execute(&app.pool)
        .await
        .unwrap();

    app.until_refused(&token).await;
    let response = app.get_with_bearer("/protected", &token).await;

    response.assert_error(Status::Unauthorized, "invalid_token");
}

#[tokio::test]
async fn me_describes_the_signed_in_user() {
    let app = TestApp::spawn().await;
    let token = app.signed_in("Alice").await;

    let response = app.get_with_bearer("/me", &token).await;

    assert_eq!(response.status, Status::Ok, "{}", response.body);
    let body = response.json();
    assert_eq!(body["username"], "Alice");
    assert_eq!(body["id"], app.claims(&token).sub.to_string());
    assert!(body["created_at"].is_string());
    assert!(body.get("password_hash").is_none());
}

/// docs/api.md §3: a token is accepted only when its `sub` owns its `sid` — on the fast
/// path too, where the session is known to the instance and nothing asks the database.
#[tokio::test]
async fn a_validly_signed_token_whose_sub_does_not_own_its_sid_is_refused() {
    let app = TestApp::spawn().await;
    let other = app.another_instance().await;
    let alice = app.signed_in("alice").await;
    let bob = app.signed_in("bob").await;
    // Both sessions are in use on both instances, so each instance knows their owners.
    for instance in [&app, &other] {
        for token in [&alice, &bob] {
            assert_eq!(
                instance.get_with_bearer("/protected", token).await.status,
                Status::Ok
            );
        }
    }
    let mut crossed = app.claims(&alice);
    crossed.sid = app.claims(&bob).sid;
    let forged = test_keys().sign(&crossed);

    for instance in [&app, &other] {
        instance
            .get_with_bearer("/protected", &forged)
            .await
            .assert_error(Status::Unauthorized, "invalid_token");
    }
    // And on an instance that has never seen either session (the database answers).
    let fresh = app.another_instance().await;
    fresh
        .get_with_bearer("/protected", &forged)
        .await
        .assert_error(Status::Unauthorized, "invalid_token");
}
