use super::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rocket::figment::{Figment, providers::Serialized};

fn keys_with(secret: &str) -> TokenKeys {
    let figment = Figment::new()
        .merge(Serialized::default("jwt_secret", secret))
        .merge(Serialized::default("allow_generated_secret", true));
    TokenKeys::new(&Settings::from_figment(&figment).unwrap().0)
}

fn keys() -> TokenKeys {
    keys_with("test-secret-that-is-at-least-32-bytes-long")
}

fn b64(json: &str) -> String {
    URL_SAFE_NO_PAD.encode(json)
}

fn claims(keys: &TokenKeys) -> Claims {
    let token = keys.issue(Uuid::new_v4(), Uuid::new_v4(), "alice");
    keys.verify_uncached(&token).unwrap()
}

#[test]
fn an_issued_token_verifies_with_every_claim() {
    let keys = keys();
    let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
    let c = keys.verify(&keys.issue(user, session, "alice")).unwrap();
    assert_eq!((c.sub, c.sid), (user, session));
    assert_eq!(c.exp - c.iat, 15 * 60);
    assert_eq!((c.iss.as_str(), c.aud.as_str()), ("gatehouse", "gatehouse"));
}

#[test]
fn a_token_signed_with_another_key_is_invalid() {
    let token = keys_with("another-secret-that-is-at-least-32-bytes").issue(
        Uuid::new_v4(),
        Uuid::new_v4(),
        "alice",
    );
    assert_eq!(
        keys().verify(&token),
        Err(TokenError::Invalid("bad signature"))
    );
}

#[test]
fn an_expired_token_is_reported_as_expired() {
    let keys = keys();
    let mut c = claims(&keys);
    c.exp = OffsetDateTime::now_utc().unix_timestamp() - 120;
    assert_eq!(keys.verify(&keys.sign(&c)), Err(TokenError::Expired));
}

#[test]
fn a_token_not_yet_valid_is_invalid() {
    let keys = keys();
    let mut c = claims(&keys);
    c.nbf = OffsetDateTime::now_utc().unix_timestamp() + 600;
    assert_eq!(
        keys.verify(&keys.sign(&c)),
        Err(TokenError::Invalid("not yet valid"))
    );
}

#[test]
fn wrong_issuer_or_audience_is_invalid() {
    let keys = keys();
    let mut c = claims(&keys);
    c.iss = "someone-else".into();
    assert!(keys.verify(&keys.sign(&c)).is_err());
    let mut c = claims(&keys);
    c.aud = "another-service".into();
    assert!(keys.verify(&keys.sign(&c)).is_err());
}

#[test]
fn alg_none_is_invalid() {
    let keys = keys();
    let payload = serde_json::to_string(&claims(&keys)).unwrap();
    for alg in ["none", "None", "NONE"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"at+jwt"}}"#);
        let token = format!("{}.{}.", b64(&header), b64(&payload));
        assert!(
            matches!(keys.verify(&token), Err(TokenError::Invalid(_))),
            "{alg}"
        );
    }
}

#[test]
fn a_validly_signed_token_naming_critical_extensions_is_invalid() {
    let keys = keys();
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
    let mut with_crit = serde_json::to_value(&header).unwrap();
    with_crit["crit"] = serde_json::json!(["exp"]);
    let payload = serde_json::to_string(&claims(&keys)).unwrap();
    let signing_input = format!("{}.{}", b64(&with_crit.to_string()), b64(&payload));
    let key = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA256,
        b"test-secret-that-is-at-least-32-bytes-long",
    );
    let signature = URL_SAFE_NO_PAD.encode(aws_lc_rs::hmac::sign(&key, signing_input.as_bytes()));
    let token = format!("{signing_input}.{signature}");
    assert_eq!(keys.verify(&token), Err(TokenError::Invalid("crit header")));
    // The same header without `crit` verifies: the signature is good, only `crit` is refused.
    with_crit.as_object_mut().unwrap().remove("crit");
    let signing_input = format!("{}.{}", b64(&with_crit.to_string()), b64(&payload));
    let signature = URL_SAFE_NO_PAD.encode(aws_lc_rs::hmac::sign(&key, signing_input.as_bytes()));
    assert!(keys.verify(&format!("{signing_input}.{signature}")).is_ok());
}

#[test]
fn a_tampered_payload_is_invalid() {
    let keys = keys();
    let token = keys.issue(Uuid::new_v4(), Uuid::new_v4(), "alice");
    let mut parts: Vec<&str> = token.split('.').collect();
    let mut c = claims(&keys);
    c.sub = Uuid::new_v4();
    let forged = b64(&serde_json::to_string(&c).unwrap());
    parts[1] = &forged;
    assert_eq!(
        keys.verify(&parts.join(".")),
        Err(TokenError::Invalid("bad signature"))
    );
}

#[test]
fn a_token_without_the_access_token_type_is_invalid() {
    let keys = keys();
    let c = claims(&keys);
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &c,
        &EncodingKey::from_secret(b"test-secret-that-is-at-least-32-bytes-long"),
    )
    .unwrap();
    assert_eq!(keys.verify(&token), Err(TokenError::Invalid("wrong type")));
}

#[test]
fn garbage_is_invalid_and_never_panics() {
    let keys = keys();
    let long = "a".repeat(16 * 1024);
    for token in [
        "",
        "a",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "!!!.@@@.###",
        "..",
        long.as_str(),
    ] {
        assert!(
            matches!(keys.verify(token), Err(TokenError::Invalid(_))),
            "{token:.20}"
        );
    }
}

#[test]
fn a_remembered_token_still_expires_with_the_same_leeway() {
    let keys = keys();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let mut c = claims(&keys);
    c.exp = now + 60;
    let token = keys.sign(&c);
    assert_eq!(keys.verify_at(&token, now).map(|c| c.exp), Ok(now + 60));
    assert_eq!(keys.verified.len(), 1);
    let last_good = now + 60 + LEEWAY_SECONDS as i64;
    assert!(keys.verify_at(&token, last_good).is_ok());
    assert_eq!(
        keys.verify_at(&token, last_good + 1),
        Err(TokenError::Expired)
    );
}

#[test]
fn only_tokens_that_pass_every_check_are_remembered() {
    let keys = keys();
    let foreign = keys_with("another-secret-that-is-at-least-32-bytes").issue(
        Uuid::new_v4(),
        Uuid::new_v4(),
        "alice",
    );
    assert!(keys.verify(&foreign).is_err());
    assert!(keys.verify(&foreign).is_err());
    assert_eq!(keys.verified.len(), 0);
    let token = keys.issue(Uuid::new_v4(), Uuid::new_v4(), "alice");
    assert!(keys.verify(&token).is_ok());
    assert_eq!(keys.verified.len(), 1);
}

#[test]
fn remembering_is_bounded() {
    let keys = keys();
    for _ in 0..VERIFIED_CAPACITY + 10 {
        let token = keys.issue(Uuid::new_v4(), Uuid::new_v4(), "alice");
        assert!(keys.verify(&token).is_ok());
    }
    let remembered = keys.verified.len();
    assert!(
        (1..=VERIFIED_CAPACITY).contains(&remembered),
        "{remembered}"
    );
}

proptest::proptest! {
    /// Any alteration of a remembered token gets exactly the answer jsonwebtoken gives it.
    #[test]
    fn an_altered_token_is_judged_as_without_the_memory(
        at in 0usize..1000,
        by in proptest::sample::select(b"AaZz09-_.=+/ ".to_vec()),
    ) {
        let keys = keys();
        let token = keys.issue(Uuid::new_v4(), Uuid::new_v4(), "alice");
        assert!(keys.verify(&token).is_ok());
        let mut altered = token.clone().into_bytes();
        let at = at % altered.len();
        altered[at] = by;
        let altered = String::from_utf8(altered).unwrap();
        proptest::prop_assert_eq!(
            keys.verify(&altered).map(|c| (*c).clone()),
            keys.verify_uncached(&altered)
        );
    }
}
