//! The server's own signing keys (docs/api.md §6): EdDSA and ES256 tokens verified from
//! the published set alone, with an independent use of `jsonwebtoken`; every forgery refused;
//! rotation with pre-publication; revocation on every instance at once.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rocket::http::Status;
use serde_json::{Value, json};

use crate::support::app::{GOOD_PASSWORD, TestApp};

async fn with_keys(alg: &str) -> TestApp {
    let alg = alg.to_owned();
    TestApp::spawn_with(move |f| f.merge(("jwt_algorithm", alg))).await
}

async fn jwks(app: &TestApp) -> (JwkSet, crate::support::app::TestResponse) {
    let response = app.get("/.well-known/jwks.json", &[]).await;
    assert_eq!(response.status, Status::Ok, "{}", response.body);
    (serde_json::from_str(&response.body).unwrap(), response)
}

/// Verifies a token as another service would: from the published set alone.
fn verify_elsewhere(token: &str, set: &JwkSet) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = set.find(&kid).ok_or("unknown kid")?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&["gatehouse"]);
    validation.set_issuer(&["gatehouse"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

async fn access_token(app: &TestApp, name: &str) -> String {
    app.register(name, GOOD_PASSWORD).await;
    app.login_tokens(name).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn eddsa_and_es256_tokens_verify_from_the_published_set_alone() {
    for (alg, kty) in [("EdDSA", "OKP"), ("ES256", "EC")] {
        let app = with_keys(alg).await;
        let token = access_token(&app, "alice").await;
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(format!("{:?}", header.alg), alg);
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));

        let (set, response) = jwks(&app).await;

        assert_eq!(set.keys.len(), 1);
        let published: Value = response.json();
        assert_eq!(published["keys"][0]["kty"], kty);
        assert_eq!(published["keys"][0]["use"], "sig");
        assert_eq!(published["keys"][0]["alg"], alg);
        assert!(published["keys"][0].get("d").is_none(), "no private part");
        assert_eq!(
            response.header("Cache-Control"),
            Some("public, max-age=300")
        );
        assert!(
            response.headers_named("Set-Cookie").is_empty(),
            "no cookies"
        );
        assert_eq!(header.kid.as_deref(), set.keys[0].common.key_id.as_deref());
        let claims = verify_elsewhere(&token, &set).unwrap();
        assert_eq!(claims["preferred_username"], "alice");
        assert_eq!(
            app.get_with_bearer("/protected", &token).await.status,
            Status::Ok
        );
    }
}

#[tokio::test]
async fn with_hs256_nothing_is_published() {
    let app = TestApp::spawn().await;
    let (set, _) = jwks(&app).await;
    assert!(set.keys.is_empty());
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn algorithm_confusion_unknown_or_missing_kid_embedded_keys_and_none_are_refused() {
    let app = with_keys("EdDSA").await;
    let token = access_token(&app, "alice").await;
    let claims = claims_of(&token);
    let (set, response) = jwks(&app).await;
    let kid = set.keys[0].common.key_id.clone().unwrap();
    let x = response.json()["keys"][0]["x"].as_str().unwrap().to_owned();
    let attacker = {
        let pkcs8 = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .unwrap();
        EncodingKey::from_ed_der(pkcs8.as_ref())
    };
    let header = |alg: Algorithm, kid: Option<&str>| {
        let mut h = Header::new(alg);
        h.typ = Some("at+jwt".into());
        h.kid = kid.map(str::to_owned);
        h
    };
    let mut forgeries = vec![
        // HS256 "signed" with the public key, under our kid.
        jsonwebtoken::encode(
            &header(Algorithm::HS256, Some(&kid)),
            &claims,
            &EncodingKey::from_secret(&URL_SAFE_NO_PAD.decode(&x).unwrap()),
        )
        .unwrap(),
        jsonwebtoken::encode(
            &header(Algorithm::HS256, Some(&kid)),
            &claims,
            &EncodingKey::from_secret(x.as_bytes()),
        )
        .unwrap(),
        // Another key, under our kid, an unknown kid, no kid.
        jsonwebtoken::encode(&header(Algorithm::EdDSA, Some(&kid)), &claims, &attacker).unwrap(),
        jsonwebtoken::encode(
            &header(Algorithm::EdDSA, Some("not-ours")),
            &claims,
            &attacker,
        )
        .unwrap(),
        jsonwebtoken::encode(&header(Algorithm::EdDSA, None), &claims, &attacker).unwrap(),
    ];
    // The attacker's key embedded in the header (`jwk`), signed with it, under our kid.
    let mut parts: Vec<String> = forgeries[2].split('.').map(str::to_owned).collect();
    let mut embedded: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[0]).unwrap()).unwrap();
    embedded["jwk"] = json!({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"});
    embedded["jku"] = json!("https://evil.example/jwks.json");
    parts[0] = URL_SAFE_NO_PAD.encode(embedded.to_string());
    forgeries.push(parts.join("."));
    // `alg: none`.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "at+jwt", "kid": kid}).to_string()),
        token.split('.').nth(1).unwrap()
    );
    forgeries.push(none);

    for forged in &forgeries {
        app.get_with_bearer("/protected", forged)
            .await
            .assert_error(Status::Unauthorized, "invalid_token");
    }
    assert_eq!(
        app.get_with_bearer("/protected", &token).await.status,
        Status::Ok
    );
}

/// Runs `sql` on the keys, then tells every instance to reload them (as a rotation does).
async fn shift_keys(app: &TestApp, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("SELECT pg_notify('gatehouse_revocations', 'keys')")
        .execute(&app.pool)
        .await
        .unwrap();
}

/// Waits until sign-ins on `app` are signed by `kid`.
async fn until_signing(app: &TestApp, name: &str, kid: &str) -> String {
    let started = Instant::now();
    loop {
        let token = app.login_tokens(name).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        if jsonwebtoken::decode_header(&token).unwrap().kid.as_deref() == Some(kid) {
            return token;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "never signed by {kid}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Rotation end to end, the clock moved by moving the keys' times back: published first,
/// signing two cache lifetimes later on both instances, the old key published until its last
/// token expired, then gone and its tokens refused.
#[tokio::test]
async fn a_rotation_publishes_first_switches_on_both_instances_and_retires_the_old_key() {
    let app = with_keys("EdDSA").await;
    let other = app
        .another_instance_with(|f| f.merge(("jwt_algorithm", "EdDSA")))
        .await;
    let old_token = access_token(&app, "alice").await;
    let old_kid = jsonwebtoken::decode_header(&old_token)
        .unwrap()
        .kid
        .unwrap();
    let settings = gatehouse::config::Settings::from_figment(
        &crate::support::app::test_figment(&app.database_url).merge(("jwt_algorithm", "EdDSA")),
    )
    .unwrap()
    .0;

    let report = gatehouse::cli::commands::keys(
        &app.pool,
        &settings,
        gatehouse::cli::commands::KeysCommand::Rotate,
    )
    .await
    .unwrap();
    assert!(report.contains("signs in 600 s"), "{report}");

    // Published at once on both instances, not signing yet.
    let new_kid: String = sqlx::query_scalar("SELECT kid FROM signing_keys WHERE kid <> $1")
        .bind(&old_kid)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    for instance in [&app, &other] {
        let started = Instant::now();
        while jwks(instance).await.0.find(&new_kid).is_none() {
            assert!(started.elapsed() < Duration::from_secs(5));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let token = instance.login_tokens("alice").await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            jsonwebtoken::decode_header(&token).unwrap().kid,
            Some(old_kid.clone())
        );
    }

    // Ten minutes on: the new key signs everywhere; the old one is retired, still published.
    shift_keys(
        &app,
        "UPDATE signing_keys SET publish_at = publish_at - interval '11 minutes',
                                 activate_at = activate_at - interval '11 minutes'",
    )
    .await;
    until_signing(&app, "alice", &new_kid).await;
    until_signing(&other, "alice", &new_kid).await;
    let (set, _) = jwks(&other).await;
    assert!(set.find(&old_kid).is_some());
    assert_eq!(
        app.get_with_bearer("/protected", &old_token).await.status,
        Status::Ok
    );
    assert!(verify_elsewhere(&old_token, &set).is_ok());

    // Past the old key's last token: out of the set.
    shift_keys(
        &app,
        "UPDATE signing_keys SET publish_at = publish_at - interval '1 hour',
                                 activate_at = activate_at - interval '1 hour'",
    )
    .await;
    let started = Instant::now();
    while jwks(&other).await.0.find(&old_kid).is_some() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the old key stayed published"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let listed = gatehouse::cli::commands::keys(
        &app.pool,
        &settings,
        gatehouse::cli::commands::KeysCommand::List,
    )
    .await
    .unwrap();
    assert!(
        listed.contains(&format!("{new_kid}  EdDSA  signing")),
        "{listed}"
    );
    assert!(listed.contains("expired"), "{listed}");
}

#[tokio::test]
async fn a_revoked_key_leaves_the_set_and_its_tokens_are_refused_on_every_instance() {
    let app = with_keys("ES256").await;
    let other = app
        .another_instance_with(|f| f.merge(("jwt_algorithm", "ES256")))
        .await;
    let token = access_token(&app, "alice").await;
    let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    assert_eq!(
        other.get_with_bearer("/protected", &token).await.status,
        Status::Ok
    );
    let settings = gatehouse::config::Settings::from_figment(
        &crate::support::app::test_figment(&app.database_url).merge(("jwt_algorithm", "ES256")),
    )
    .unwrap()
    .0;

    gatehouse::cli::commands::keys(
        &app.pool,
        &settings,
        gatehouse::cli::commands::KeysCommand::Revoke(kid.clone()),
    )
    .await
    .unwrap();

    for instance in [&app, &other] {
        instance.until_refused(&token).await;
        assert!(jwks(instance).await.0.find(&kid).is_none());
    }
    // A fresh key signs at once.
    let fresh = app.login_tokens("alice").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(jsonwebtoken::decode_header(&fresh).unwrap().kid, Some(kid));
    assert_eq!(
        other.get_with_bearer("/protected", &fresh).await.status,
        Status::Ok
    );
}

/// A `secret_key` that cannot open the stored keys (changed, or generated by a debug run): the
/// server still starts, a fresh key signs, and what the old key signed still verifies.
#[tokio::test]
async fn a_changed_secret_key_makes_a_fresh_signing_key_and_keeps_the_old_tokens_valid() {
    let app = with_keys("EdDSA").await;
    let token = access_token(&app, "alice").await;
    let old_kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();

    let changed = app
        .another_instance_with(|f| {
            f.merge(("jwt_algorithm", "EdDSA"))
                .merge(("secret_key", "an-entirely-different-master-secret-0123"))
        })
        .await;

    assert_eq!(
        changed.get_with_bearer("/protected", &token).await.status,
        Status::Ok
    );
    let fresh = changed.login_tokens("alice").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(
        jsonwebtoken::decode_header(&fresh).unwrap().kid,
        Some(old_kid)
    );
}
