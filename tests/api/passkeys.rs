//! Passkeys (docs/api.md §5) over JSON with a software authenticator (`authenticator.rs`):
//! registration, a sign-in on its own and as the second step, every forgery a relying party must
//! refuse, ceremonies finished on another instance, removal.

use rocket::http::{Method, Status};
use serde_json::{Value, json};

use crate::support::app::{GOOD_PASSWORD, TestApp, TestResponse};
use crate::support::authenticator::{Authenticator, Forgery};

/// `public_origin` of the test server (Rocket.toml's default): the relying party is `localhost`.
const ORIGIN: &str = "http://localhost:8000";

async fn register_start(app: &TestApp, token: &str, password: &str) -> TestResponse {
    app.bearer(
        Method::Post,
        "/me/passkeys/register/start",
        token,
        Some(json!({ "password": password })),
    )
    .await
}

async fn register_finish(
    app: &TestApp,
    token: &str,
    challenge_id: &Value,
    credential: Value,
) -> TestResponse {
    app.bearer(
        Method::Post,
        "/me/passkeys/register/finish",
        token,
        Some(json!({"challenge_id": challenge_id, "name": "Laptop", "credential": credential})),
    )
    .await
}

/// Adds `authenticator`'s passkey to the account of `token`; returns the `201` body.
async fn add_passkey(app: &TestApp, token: &str, authenticator: &mut Authenticator) -> Value {
    let begun = register_start(app, token, GOOD_PASSWORD).await;
    assert_eq!(begun.status, Status::Ok, "{}", begun.body);
    let begun = begun.json();
    let options = &begun["publicKey"];
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    let credential = authenticator.register(options, &Forgery::default());
    let added = register_finish(app, token, &begun["challenge_id"], credential).await;
    assert_eq!(added.status, Status::Created, "{}", added.body);
    added.json()
}

async fn sign_in_start(app: &TestApp, body: Value) -> Value {
    let begun = app.post_json("/login/passkey/start", &body).await;
    assert_eq!(begun.status, Status::Ok, "{}", begun.body);
    begun.json()
}

async fn sign_in_finish(app: &TestApp, challenge_id: &Value, credential: Value) -> TestResponse {
    app.post_json(
        "/login/passkey/finish",
        &json!({"challenge_id": challenge_id, "credential": credential}),
    )
    .await
}

/// A passkey sign-in with no username, the authenticator forging what `forgery` says.
async fn passkey_sign_in(
    app: &TestApp,
    authenticator: &mut Authenticator,
    forgery: &Forgery,
) -> TestResponse {
    let begun = sign_in_start(app, json!({})).await;
    let credential = authenticator.sign_in(&begun["publicKey"], forgery);
    sign_in_finish(app, &begun["challenge_id"], credential).await
}

async fn me(app: &TestApp, token: &str) -> Value {
    app.get_with_bearer("/me", token).await.json()
}

#[rocket::async_test]
async fn a_passkey_signs_in_on_its_own_and_as_the_second_step() {
    let app = TestApp::spawn().await;
    let token = app.signed_in("alice").await;
    let mut authenticator = Authenticator::new(ORIGIN);
    let added = add_passkey(&app, &token, &mut authenticator).await;
    assert_eq!(added["name"], "Laptop");
    assert!(added["last_used_at"].is_null());
    let codes = added["recovery_codes"]
        .as_array()
        .expect("the first factor's codes");
    assert_eq!(codes.len(), 10);
    assert_eq!(me(&app, &token).await["mfa"]["passkeys"], 1);
    let listed = app.get_with_bearer("/me/passkeys", &token).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], added["id"]);

    // On its own: no username, no second step.
    let signed_in = passkey_sign_in(&app, &mut authenticator, &Forgery::default()).await;
    assert_eq!(signed_in.status, Status::Ok, "{}", signed_in.body);
    let access = signed_in.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.claims(&access).amr, ["pop", "mfa"]);
    assert_eq!(
        app.get_with_bearer("/protected", &access).await.status,
        Status::Ok
    );
    let listed = app.get_with_bearer("/me/passkeys", &token).await.json();
    assert!(listed[0]["last_used_at"].is_string(), "{listed}");

    // The password alone no longer opens a session; the passkey completes it.
    let pending = app.login("alice", GOOD_PASSWORD).await;
    pending.assert_error(Status::Forbidden, "mfa_required");
    let pending = pending.json();
    assert_eq!(pending["methods"], json!(["recovery_code", "passkey"]));
    let mfa_token = pending["mfa_token"].as_str().unwrap();
    let begun = sign_in_start(&app, json!({ "mfa_token": mfa_token })).await;
    let allowed = begun["publicKey"]["allowCredentials"].as_array().unwrap();
    assert_eq!(allowed.len(), 1, "the pending account's passkeys only");
    let credential = authenticator.sign_in(&begun["publicKey"], &Forgery::default());
    let second = sign_in_finish(&app, &begun["challenge_id"], credential).await;
    assert_eq!(second.status, Status::Ok, "{}", second.body);
    let access = second.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.claims(&access).amr, ["pwd", "pop", "mfa"]);
    // The pending sign-in is spent with it.
    let spent = app
        .post_json("/login/passkey/start", &json!({ "mfa_token": mfa_token }))
        .await;
    spent.assert_error(Status::Unauthorized, "invalid_token");
    assert!(
        app.security_events()
            .iter()
            .any(|e| e["security_event"] == "passkey_login" && e["outcome"] == "success")
    );
}

#[rocket::async_test]
async fn every_forged_sign_in_is_refused_alike() {
    let app = TestApp::spawn_with(|f| f.merge(("login_ip_limit", 1000))).await;
    let token = app.signed_in("bob").await;
    let mut authenticator = Authenticator::new(ORIGIN);
    add_passkey(&app, &token, &mut authenticator).await;

    let forgeries = [
        (
            "another origin",
            Forgery {
                origin: Some("https://evil.example".into()),
                ..Forgery::default()
            },
        ),
        (
            "a wrong challenge",
            Forgery {
                challenge: Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into()),
                ..Forgery::default()
            },
        ),
        (
            "a bad signature",
            Forgery {
                bad_signature: true,
                ..Forgery::default()
            },
        ),
        (
            "no user verification",
            Forgery {
                unverified: true,
                ..Forgery::default()
            },
        ),
    ];
    for (what, forgery) in &forgeries {
        let refused = passkey_sign_in(&app, &mut authenticator, forgery).await;
        assert_eq!(
            refused.status,
            Status::Unauthorized,
            "{what}: {}",
            refused.body
        );
        assert_eq!(refused.error_code(), "invalid_credentials", "{what}");
    }

    // An unknown credential, however well signed.
    let mut stranger = Authenticator::new(ORIGIN);
    let refused = passkey_sign_in(&app, &mut stranger, &Forgery::default()).await;
    refused.assert_error(Status::Unauthorized, "invalid_credentials");

    // A challenge works once: the same answer again is refused.
    let begun = sign_in_start(&app, json!({})).await;
    let credential = authenticator.sign_in(&begun["publicKey"], &Forgery::default());
    let first = sign_in_finish(&app, &begun["challenge_id"], credential.clone()).await;
    assert_eq!(first.status, Status::Ok, "{}", first.body);
    let replay = sign_in_finish(&app, &begun["challenge_id"], credential).await;
    replay.assert_error(Status::Unauthorized, "invalid_credentials");

    // The signature counter is kept: an earlier counter value means a cloned authenticator.
    let cloned = passkey_sign_in(
        &app,
        &mut authenticator,
        &Forgery {
            replay_counter: true,
            ..Forgery::default()
        },
    )
    .await;
    cloned.assert_error(Status::Unauthorized, "invalid_credentials");
    // And a good sign-in still works after all that.
    let good = passkey_sign_in(&app, &mut authenticator, &Forgery::default()).await;
    assert_eq!(good.status, Status::Ok, "{}", good.body);
    // Malformed input is a 422, not a 401.
    app.post_json(
        "/login/passkey/finish",
        &json!({"challenge_id": "x", "credential": "not an object"}),
    )
    .await
    .assert_error(Status::UnprocessableEntity, "invalid_input");
}

#[rocket::async_test]
async fn registration_refuses_dead_challenges_bad_responses_and_duplicates() {
    let app = TestApp::spawn().await;
    let alice = app.signed_in("alice").await;
    let bob = app.signed_in("bob").await;

    register_start(&app, &alice, "not alice's password at all")
        .await
        .assert_error(Status::Forbidden, "invalid_credentials");

    // A response that does not verify: another origin, no user verification.
    for forgery in [
        Forgery {
            origin: Some("https://evil.example".into()),
            ..Forgery::default()
        },
        Forgery {
            unverified: true,
            ..Forgery::default()
        },
    ] {
        let begun = register_start(&app, &alice, GOOD_PASSWORD).await.json();
        let credential = Authenticator::new(ORIGIN).register(&begun["publicKey"], &forgery);
        let refused = register_finish(&app, &alice, &begun["challenge_id"], credential).await;
        refused.assert_error(Status::UnprocessableEntity, "invalid_input");
        assert!(refused.json()["fields"]["credential"].is_array());
    }

    // Alice's challenge is not Bob's; and it works once.
    let begun = register_start(&app, &alice, GOOD_PASSWORD).await.json();
    let mut authenticator = Authenticator::new(ORIGIN);
    let credential = authenticator.register(&begun["publicKey"], &Forgery::default());
    let foreign = register_finish(&app, &bob, &begun["challenge_id"], credential.clone()).await;
    foreign.assert_error(Status::UnprocessableEntity, "invalid_input");
    assert!(foreign.json()["fields"]["challenge_id"].is_array());
    // Bob's attempt spent it.
    let spent = register_finish(&app, &alice, &begun["challenge_id"], credential).await;
    spent.assert_error(Status::UnprocessableEntity, "invalid_input");

    // A credential registered already, to this account or another: 409.
    add_passkey(&app, &alice, &mut authenticator).await;
    let begun = register_start(&app, &bob, GOOD_PASSWORD).await.json();
    let mut copy = authenticator.clone_credential(ORIGIN);
    let credential = copy.register(&begun["publicKey"], &Forgery::default());
    let taken = register_finish(&app, &bob, &begun["challenge_id"], credential).await;
    taken.assert_error(Status::Conflict, "already_registered");
    assert_eq!(me(&app, &bob).await["mfa"]["passkeys"], 0);

    // A second passkey brings no new recovery codes.
    let second = add_passkey(&app, &alice, &mut Authenticator::new(ORIGIN)).await;
    assert!(second.get("recovery_codes").is_none(), "{second}");
    assert_eq!(me(&app, &alice).await["mfa"]["passkeys"], 2);
}

#[rocket::async_test]
async fn another_instance_finishes_what_one_started() {
    let first = TestApp::spawn().await;
    let second = first.another_instance().await;
    let token = first.signed_in("carol").await;
    let mut authenticator = Authenticator::new(ORIGIN);

    let begun = register_start(&first, &token, GOOD_PASSWORD).await.json();
    let credential = authenticator.register(&begun["publicKey"], &Forgery::default());
    let added = register_finish(&second, &token, &begun["challenge_id"], credential).await;
    assert_eq!(added.status, Status::Created, "{}", added.body);

    let begun = sign_in_start(&second, json!({})).await;
    let credential = authenticator.sign_in(&begun["publicKey"], &Forgery::default());
    let signed_in = sign_in_finish(&first, &begun["challenge_id"], credential).await;
    assert_eq!(signed_in.status, Status::Ok, "{}", signed_in.body);

    // Two instances finishing one ceremony at once: one session, one refusal.
    let begun = sign_in_start(&first, json!({})).await;
    let credential = authenticator.sign_in(&begun["publicKey"], &Forgery::default());
    let (a, b) = futures::join!(
        sign_in_finish(&first, &begun["challenge_id"], credential.clone()),
        sign_in_finish(&second, &begun["challenge_id"], credential)
    );
    let mut statuses = [a.status.code, b.status.code];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401]);
}

#[rocket::async_test]
async fn removing_the_last_passkey_takes_the_recovery_codes_and_other_sessions() {
    let app = TestApp::spawn().await;
    let token = app.signed_in("dave").await;
    let other_token = app.signed_in("erin").await;
    let mut authenticator = Authenticator::new(ORIGIN);
    let added = add_passkey(&app, &token, &mut authenticator).await;
    let id = added["id"].as_str().unwrap();
    let elsewhere = passkey_sign_in(&app, &mut authenticator, &Forgery::default())
        .await
        .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let path = format!("/me/passkeys/{id}");
    let password = Some(json!({ "password": GOOD_PASSWORD }));
    let foreign = app
        .bearer(Method::Delete, &path, &other_token, password.clone())
        .await;
    foreign.assert_error(Status::NotFound, "not_found");
    let wrong = app
        .bearer(
            Method::Delete,
            &path,
            &token,
            Some(json!({"password": "not the password at all"})),
        )
        .await;
    wrong.assert_error(Status::Forbidden, "invalid_credentials");

    let removed = app
        .bearer(Method::Delete, &path, &token, password.clone())
        .await;
    assert_eq!(removed.status, Status::NoContent, "{}", removed.body);
    let after = me(&app, &token).await;
    assert_eq!(after["mfa"]["passkeys"], 0);
    assert_eq!(after["mfa"]["recovery_codes_left"], 0);
    app.until_refused(&elsewhere).await;
    // The password alone signs in again, and the removed passkey no longer does.
    assert_eq!(app.login("dave", GOOD_PASSWORD).await.status, Status::Ok);
    passkey_sign_in(&app, &mut authenticator, &Forgery::default())
        .await
        .assert_error(Status::Unauthorized, "invalid_credentials");
    app.bearer(Method::Delete, &path, &token, password)
        .await
        .assert_error(Status::NotFound, "not_found");
}

#[rocket::async_test]
async fn with_an_app_and_a_passkey_turning_the_app_off_keeps_the_codes() {
    let app = TestApp::spawn().await;
    let (token, authenticator_app, _) = crate::mfa::enrolled(&app, "frank").await;
    let mut authenticator = Authenticator::new(ORIGIN);
    let added = add_passkey(&app, &token, &mut authenticator).await;
    assert!(
        added.get("recovery_codes").is_none(),
        "the app brought them"
    );
    let pending = app.login("frank", GOOD_PASSWORD).await.json();
    assert_eq!(
        pending["methods"],
        json!(["totp", "recovery_code", "passkey"])
    );
    let off = app
        .bearer(
            Method::Delete,
            "/me/mfa/totp",
            &token,
            Some(json!({"password": GOOD_PASSWORD, "code": authenticator_app.code(1)})),
        )
        .await;
    assert_eq!(off.status, Status::NoContent, "{}", off.body);
    let status = me(&app, &token).await["mfa"].clone();
    assert_eq!(status["totp"], false);
    assert_eq!(status["passkeys"], 1);
    assert_eq!(status["recovery_codes_left"], 10);
    // With a passkey only, new codes need the password and no code.
    let codes = app
        .bearer(
            Method::Post,
            "/me/mfa/recovery-codes",
            &token,
            Some(json!({ "password": GOOD_PASSWORD })),
        )
        .await;
    assert_eq!(codes.status, Status::Ok, "{}", codes.body);
}

#[rocket::async_test]
async fn a_server_reached_at_an_ip_address_runs_with_passkeys_off() {
    // WebAuthn needs a domain for its relying party; an IP address turns passkeys off only.
    let app = TestApp::spawn_with(|f| f.merge(("public_origin", "http://127.0.0.1:8000"))).await;
    let token = app.signed_in("gina").await;
    let refused = register_start(&app, &token, GOOD_PASSWORD).await;
    refused.assert_error(Status::UnprocessableEntity, "invalid_input");
    assert!(refused.json()["fields"]["passkey"].is_array());
    app.post_json("/login/passkey/start", &json!({}))
        .await
        .assert_error(Status::UnprocessableEntity, "invalid_input");
    assert_eq!(
        app.get_with_bearer("/protected", &token).await.status,
        Status::Ok
    );
}

#[rocket::async_test]
async fn cookie_mode_needs_the_pages_csrf_token() {
    let app = TestApp::spawn().await;
    let token = app.signed_in("hank").await;
    let mut authenticator = Authenticator::new(ORIGIN);
    add_passkey(&app, &token, &mut authenticator).await;
    let begun = sign_in_start(&app, json!({"mode": "cookie"})).await;
    let credential = authenticator.sign_in(&begun["publicKey"], &Forgery::default());
    let body =
        json!({"mode": "cookie", "challenge_id": begun["challenge_id"], "credential": credential});
    let refused = app.post_json("/login/passkey/finish", &body).await;
    refused.assert_error(Status::Forbidden, "csrf_failed");
    assert!(refused.set_cookie("gatehouse_at").is_none());

    // With the page's token the session arrives as cookies, and the answer says where to go.
    let csrf = app.page("/login").await.csrf_token();
    let begun = sign_in_start(&app, json!({"mode": "cookie"})).await;
    let credential = authenticator.sign_in(&begun["publicKey"], &Forgery::default());
    let response = app
        .client
        .post("/login/passkey/finish")
        .header(rocket::http::ContentType::JSON)
        .header(rocket::http::Header::new("X-CSRF-Token", csrf))
        .body(
            json!({"mode": "cookie", "challenge_id": begun["challenge_id"], "credential": credential, "next": "/sessions-page"})
                .to_string(),
        )
        .dispatch()
        .await;
    let response = TestResponse::from_local(response).await;
    assert_eq!(response.status, Status::Ok, "{}", response.body);
    assert_eq!(response.json()["redirect"], "/sessions-page");
    assert!(response.set_cookie("gatehouse_at").is_some());
    assert!(
        !response.body.contains("access_token"),
        "no token in the body"
    );

    // The second step's page without a pending sign-in: nothing to complete.
    app.post_json(
        "/login/passkey/start",
        &json!({"mode": "cookie", "second_step": "yes"}),
    )
    .await
    .assert_error(Status::Unauthorized, "invalid_token");
}
