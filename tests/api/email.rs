//! Email (docs/api.md §7) against a real SMTP server (`mail_sink.rs`): verified addresses,
//! no enumeration, forgotten passwords, notices, and an outbox that loses nothing.

use rocket::http::{ContentType, Header, Method, Status};
use serde_json::{Value, json};

use crate::support::app::{GOOD_PASSWORD, TestApp, TestResponse};
use crate::support::mail_sink::{MailSink, free_port};

const NEW_PASSWORD: &str = "a brand new passphrase for this account";

/// An app that mails to `sink`, retrying failed deliveries after a second.
async fn mailing_app(sink: &MailSink) -> TestApp {
    let url = sink.url();
    TestApp::spawn_with(|f| {
        f.merge(("smtp_url", url))
            .merge(("mail_retry_initial", 1))
            .merge(("public_origin", "https://auth.example.test"))
    })
    .await
}

/// Gives `username` the verified address `email` directly (the flow itself is tested below).
async fn verified(app: &TestApp, username: &str, email: &str) {
    sqlx::query(
        "UPDATE users SET email = $1, email_verified_at = now() WHERE lower(username) = $2",
    )
    .bind(email)
    .bind(username.to_lowercase())
    .execute(&app.pool)
    .await
    .unwrap();
}

async fn me(app: &TestApp, token: &str) -> Value {
    let me = app.get_with_bearer("/me", token).await;
    assert_eq!(me.status, Status::Ok, "{}", me.body);
    me.json()
}

async fn change_email(app: &TestApp, token: &str, email: &str, password: &str) -> TestResponse {
    app.bearer(
        Method::Post,
        "/me/email",
        token,
        Some(json!({"email": email, "password": password})),
    )
    .await
}

async fn forgot(app: &TestApp, login: &str) -> TestResponse {
    app.post_json("/password/forgot", &json!({ "login": login }))
        .await
}

async fn reset(app: &TestApp, token: &str, password: &str) -> TestResponse {
    app.post_json(
        "/password/reset",
        &json!({"token": token, "new_password": password}),
    )
    .await
}

async fn login_as(app: &TestApp, username: &str, password: &str, agent: &str) -> TestResponse {
    let response = app
        .client
        .post("/login")
        .header(ContentType::JSON)
        .header(Header::new("User-Agent", agent.to_owned()))
        .body(json!({"username": username, "password": password}).to_string())
        .dispatch()
        .await;
    TestResponse::from_local(response).await
}

async fn from_loopback(app: &TestApp, path: &str) -> TestResponse {
    let response = app
        .client
        .get(path.to_owned())
        .remote("127.0.0.1:50000".parse().unwrap())
        .header(Header::new("Accept", "text/html"))
        .dispatch()
        .await;
    TestResponse::from_local(response).await
}

#[rocket::async_test]
async fn an_address_given_at_registration_counts_once_its_link_is_followed() {
    let sink = MailSink::start();
    let app = mailing_app(&sink).await;
    let registered = app
        .post_json(
            "/register",
            &json!({"username": "alice", "password": GOOD_PASSWORD, "email": "Alice@Example.test"}),
        )
        .await;
    assert_eq!(registered.status, Status::Created, "{}", registered.body);
    let token = app.login_tokens("alice").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = me(&app, &token).await;
    assert_eq!(before["email"], Value::Null);
    assert_eq!(before["email_verified"], false);
    assert_eq!(before["email_pending"], "Alice@Example.test");

    let mail = sink.nth("alice@example.test", 1).await;
    assert_eq!(mail.subject, "Confirm your email address");
    assert!(mail.body.contains("Hello alice,"));
    assert!(!mail.body.contains(GOOD_PASSWORD));
    let link = mail.link("/email/verify?token=").unwrap();
    assert!(link.starts_with("https://auth.example.test/email/verify?token="));
    let link_token = mail.token("/email/verify");
    assert!(link_token.len() >= 43, "256 bits: {link_token}");

    // Following the link shows a button and changes nothing: mail scanners fetch links.
    let page = app.page(&format!("/email/verify?token={link_token}")).await;
    assert_eq!(page.status, Status::Ok);
    assert!(page.body.contains(r#"action="/email/verify""#));
    assert_eq!(me(&app, &token).await["email"], Value::Null);

    let confirmed = app
        .post_json("/email/verify", &json!({ "token": link_token }))
        .await;
    assert_eq!(confirmed.status, Status::NoContent, "{}", confirmed.body);
    let after = me(&app, &token).await;
    assert_eq!(after["email"], "Alice@Example.test");
    assert_eq!(after["email_verified"], true);
    assert_eq!(after["email_pending"], Value::Null);

    let again = app
        .post_json("/email/verify", &json!({ "token": link_token }))
        .await;
    again.assert_error(Status::UnprocessableEntity, "invalid_input");
    assert!(again.json()["fields"]["token"].is_array());
    assert!(
        app.security_events()
            .iter()
            .any(|e| e["security_event"] == "email_verify" && e["outcome"] == "success")
    );
}

#[rocket::async_test]
async fn a_browser_confirms_an_address_with_the_button_of_the_linked_page() {
    let sink = MailSink::start();
    let app = mailing_app(&sink).await;
    let token = app.signed_in("bob").await;
    let asked = change_email(&app, &token, "bob@example.test", GOOD_PASSWORD).await;
    assert_eq!(asked.status, Status::Accepted, "{}", asked.body);
    let link_token = sink.nth("bob@example.test", 1).await.token("/email/verify");
    let page = app.page(&format!("/email/verify?token={link_token}")).await;
    let csrf = page.csrf_token();
    let confirmed = app
        .form(
            "/email/verify",
            &[("csrf_token", &csrf), ("token", &link_token)],
        )
        .await;
    confirmed.assert_redirect("/");
    assert_eq!(me(&app, &token).await["email"], "bob@example.test");
    // Without the form's CSRF token, nothing is confirmed.
    let dead = app.form("/email/verify", &[("token", "whatever")]).await;
    assert_eq!(dead.status, Status::Forbidden);
}

#[rocket::async_test]
async fn claiming_an_address_another_account_verified_answers_like_success() {
    let sink = MailSink::start();
    let app = mailing_app(&sink).await;
    let alice = app.signed_in("alice").await;
    verified(&app, "alice", "shared@example.test").await;
    let bob = app.signed_in("bob").await;
    let carol = app.signed_in("carol").await;

    let taken = change_email(&app, &bob, "SHARED@example.test", GOOD_PASSWORD).await;
    let fresh = change_email(&app, &carol, "carol@example.test", GOOD_PASSWORD).await;
    assert_eq!(taken.status, Status::Accepted);
    assert_eq!((taken.status, &taken.body), (fresh.status, &fresh.body));
    assert_eq!(taken.comparable_headers(), fresh.comparable_headers());
    // Each account shows its claim as pending, whoever holds the address.
    assert_eq!(me(&app, &bob).await["email_pending"], "SHARED@example.test");
    assert_eq!(
        me(&app, &carol).await["email_pending"],
        "carol@example.test"
    );

    // The address's owner is told; nothing links it to bob.
    let told = sink.nth("shared@example.test", 1).await;
    assert_eq!(told.subject, "This address already belongs to an account");
    assert!(!told.body.contains("token="), "{}", told.body);
    assert!(!told.body.contains("bob"), "{}", told.body);
    assert_eq!(me(&app, &alice).await["email"], "shared@example.test");
    assert_eq!(me(&app, &bob).await["email"], Value::Null);

    // Registration with a taken address succeeds the same way.
    let registered = app
        .post_json(
            "/register",
            &json!({"username": "dave", "password": GOOD_PASSWORD, "email": "shared@example.test"}),
        )
        .await;
    assert_eq!(registered.status, Status::Created, "{}", registered.body);
    sink.wait_for("shared@example.test", 2).await;
}

#[rocket::async_test]
async fn bad_addresses_and_wrong_passwords_change_nothing() {
    let sink = MailSink::start();
    let app = mailing_app(&sink).await;
    let registered = app
        .post_json(
            "/register",
            &json!({"username": "erin", "password": GOOD_PASSWORD, "email": "not-an-address"}),
        )
        .await;
    registered.assert_error(Status::UnprocessableEntity, "invalid_input");
    assert!(registered.json()["fields"]["email"].is_array());
    assert_eq!(app.count("users").await, 0, "nothing is created");

    let token = app.signed_in("erin").await;
    let wrong = change_email(&app, &token, "erin@example.test", "not the password at all").await;
    wrong.assert_error(Status::Forbidden, "invalid_credentials");
    let bad = change_email(&app, &token, "erin@@example.test", GOOD_PASSWORD).await;
    bad.assert_error(Status::UnprocessableEntity, "invalid_input");
    assert_eq!(app.count("email_tokens").await, 0);
    assert_eq!(app.count("mail_outbox").await, 0);
}

#[rocket::async_test]
async fn forgot_password_answers_the_same_whether_or_not_a_link_is_mailed() {
    let sink = MailSink::start();
    let app = mailing_app(&sink).await;
    app.signed_in("frank").await;
    verified(&app, "frank", "frank@example.test").await;
    app.signed_in("nomail").await;

    let answers = [
        forgot(&app, "frank").await,
        forgot(&app, "FRANK@example.test").await,
        forgot(&app, "nomail").await,
        forgot(&app, "nobody-at-all").await,
        forgot(&app, "nobody@example.test").await,
    ];
    for answer in &answers {
        assert_eq!(answer.status, Status::Accepted, "{}", answer.body);
        assert_eq!(answer.body, answers[0].body);
        assert_eq!(answer.comparable_headers(), answers[0].comparable_headers());
    }
    // By name and by address: two links, to the verified address only.
    let mails = sink.wait_for("frank@example.test", 2).await;
    assert!(mails.iter().all(|m| m.subject == "Reset your password"));
    assert_ne!(
        mails[0].token("/password/reset"),
        mails[1].token("/password/reset")
    );
    let unknown = || {
        app.security_events()
            .iter()
            .filter(|e| e["security_event"] == "password_forgot" && e["outcome"] != "link_mailed")
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while unknown() < 3 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(sink.all().len(), 2, "{:#?}", sink.all());
    forgot(&app, "")
        .await
        .assert_error(Status::UnprocessableEntity, "invalid_input");
}

#[rocket::async_test]
async fn a_reset_link_sets_a_new_password_once_and_ends_every_session() {
    let sink = MailSink::start();
    let app = mailing_app(&sink).await;
    let old_session = app.signed_in("grace").await;
    verified(&app, "grace", "grace@example.test").await;
    assert_eq!(forgot(&app, "grace").await.status, Status::Accepted);
    let token = sink
        .nth("grace@example.test", 1)
        .await
        .token("/password/reset");

    // The rules apply, and a refused password leaves the link usable.
    let short = reset(&app, &token, "short").await;
    short.assert_error(Status::UnprocessableEntity, "invalid_input");
    assert!(short.json()["fields"]["new_password"].is_array());

    assert_eq!(
        reset(&app, &token, NEW_PASSWORD).await.status,
        Status::NoContent
    );
    app.until_refused(&old_session).await;
    assert_eq!(
        app.login("grace", GOOD_PASSWORD).await.status,
        Status::Unauthorized
    );
    assert_eq!(app.login("grace", NEW_PASSWORD).await.status, Status::Ok);
    let again = reset(&app, &token, "yet another long passphrase here").await;
    again.assert_error(Status::UnprocessableEntity, "invalid_input");
    assert!(again.json()["fields"]["token"].is_array());
    reset(&app, "made-up-token", NEW_PASSWORD)
        .await
        .assert_error(Status::UnprocessableEntity, "invalid_input");

    let notice = sink.nth("grace@example.test", 2).await;
    assert_eq!(notice.subject, "Your password was reset");
    assert!(!notice.body.contains(NEW_PASSWORD));
}

#[rocket::async_test]
async fn parallel_uses_of_one_reset_link_set_one_password() {
    let sink = MailSink::start();
    let url = sink.url();
    let app = TestApp::spawn_with(|f| {
        f.merge(("smtp_url", url))
            .merge(("password_hash_per_client", 16))
    })
    .await;
    app.signed_in("heidi").await;
    verified(&app, "heidi", "heidi@example.test").await;
    forgot(&app, "heidi").await;
    let token = sink
        .nth("heidi@example.test", 1)
        .await
        .token("/password/reset");
    let second = app
        .another_instance_with(|f| f.merge(("password_hash_per_client", 16)))
        .await;
    let attempts = (0..6).map(|i| {
        let (app, token) = (if i % 2 == 0 { &app } else { &second }, token.clone());
        async move { reset(app, &token, &format!("{NEW_PASSWORD} number {i}")).await }
    });
    let answers = futures::future::join_all(attempts).await;
    let won: Vec<_> = answers
        .iter()
        .filter(|a| a.status == Status::NoContent)
        .collect();
    assert_eq!(
        won.len(),
        1,
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    assert!(
        answers
            .iter()
            .all(|a| a.status == Status::NoContent || a.status == Status::UnprocessableEntity)
    );
}

#[rocket::async_test]
async fn a_reset_keeps_the_second_factor_and_kills_pending_sign_ins() {
    let sink = MailSink::start();
    let app = mailing_app(&sink).await;
    let _ = crate::mfa::enrolled(&app, "ivan").await;
    verified(&app, "ivan", "ivan@example.test").await;
    let pending = app.login("ivan", GOOD_PASSWORD).await;
    assert_eq!(pending.status, Status::Forbidden);
    let mfa_token = pending.json()["mfa_token"].as_str().unwrap().to_owned();

    forgot(&app, "ivan").await;
    let token = sink
        .nth("ivan@example.test", 1)
        .await
        .token("/password/reset");
    assert_eq!(
        reset(&app, &token, NEW_PASSWORD).await.status,
        Status::NoContent
    );

    let after = app.login("ivan", NEW_PASSWORD).await;
    after.assert_error(Status::Forbidden, "mfa_required");
    let old = app
        .post_json(
            "/login/mfa",
            &json!({"mfa_token": mfa_token, "code": "000000"}),
        )
        .await;
    old.assert_error(Status::Unauthorized, "invalid_token");
}

#[rocket::async_test]
async fn a_browser_reset_moves_the_token_out_of_the_address_bar() {
    let sink = MailSink::start();
    let app = mailing_app(&sink).await;
    app.signed_in("judy").await;
    verified(&app, "judy", "judy@example.test").await;
    let page = app.page("/password/forgot").await;
    let asked = app
        .form(
            "/password/forgot",
            &[("csrf_token", &page.csrf_token()), ("login", "judy")],
        )
        .await;
    asked.assert_redirect("/password/forgot");
    let token = sink
        .nth("judy@example.test", 1)
        .await
        .token("/password/reset");

    let landed = app.page(&format!("/password/reset?token={token}")).await;
    landed.assert_redirect("/password/reset");
    let cookie = landed
        .set_cookie("gatehouse_reset")
        .expect("the token cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains(&token));
    let form = app.page("/password/reset").await;
    assert_eq!(form.status, Status::Ok, "{}", form.body);
    assert!(
        !form.body.contains(&token),
        "the page never shows the token"
    );
    assert!(form.body.contains("judy"));

    let done = app
        .form(
            "/password/reset",
            &[
                ("csrf_token", &form.csrf_token()),
                ("new_password", NEW_PASSWORD),
            ],
        )
        .await;
    done.assert_redirect("/login");
    assert!(done.set_cookie("gatehouse_reset").is_some(), "removed");
    assert_eq!(app.login("judy", NEW_PASSWORD).await.status, Status::Ok);
    // A token that is not one of ours never reaches a cookie.
    let crafted = app
        .page("/password/reset?token=abc%3B%20Domain%3Devil.example")
        .await;
    crafted.assert_redirect("/password/reset");
    assert!(
        !crafted
            .headers_named("Set-Cookie")
            .iter()
            .any(|c| c.contains("evil")),
        "{:?}",
        crafted.headers
    );
    // The link is spent: the page now says so.
    let dead = app.page(&format!("/password/reset?token={token}")).await;
    dead.assert_redirect("/password/reset");
    let dead = app.page("/password/reset").await;
    assert_eq!(dead.status, Status::UnprocessableEntity);
    assert!(dead.body.contains("/password/forgot"));
}

#[rocket::async_test]
async fn an_account_gets_at_most_three_reset_mails_an_hour() {
    let sink = MailSink::start();
    let app = mailing_app(&sink).await;
    app.signed_in("mallory").await;
    verified(&app, "mallory", "mallory@example.test").await;
    for _ in 0..5 {
        assert_eq!(forgot(&app, "mallory").await.status, Status::Accepted);
    }
    sink.wait_for("mallory@example.test", 3).await;
    let throttled = || {
        app.security_events()
            .iter()
            .filter(|e| {
                e["security_event"] == "password_forgot" && e["outcome"] == "account_throttled"
            })
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while throttled() < 2 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(app.count("email_tokens").await, 3);
}

#[rocket::async_test]
async fn changes_to_an_account_are_told_to_its_verified_address() {
    let sink = MailSink::start();
    let app = mailing_app(&sink).await;
    let token = app.signed_in("ken").await;
    verified(&app, "ken", "ken@example.test").await;

    // A sign-in from the same client is not news; one from a new client is.
    assert_eq!(app.login("ken", GOOD_PASSWORD).await.status, Status::Ok);
    let other = login_as(
        &app,
        "ken",
        GOOD_PASSWORD,
        "Mozilla/5.0 (X11; Linux) Firefox/140.0",
    )
    .await;
    assert_eq!(other.status, Status::Ok);
    let first = sink.nth("ken@example.test", 1).await;
    assert_eq!(first.subject, "A sign-in from a new device");
    assert!(first.body.contains("Firefox/140.0"), "{}", first.body);
    login_as(
        &app,
        "ken",
        GOOD_PASSWORD,
        "Mozilla/5.0 (X11; Linux) Firefox/140.0",
    )
    .await;

    let changed = app
        .bearer(
            Method::Post,
            "/me/password",
            &token,
            Some(json!({"current_password": GOOD_PASSWORD, "new_password": NEW_PASSWORD})),
        )
        .await;
    assert_eq!(changed.status, Status::NoContent, "{}", changed.body);
    // The mails go out in order: nothing came between the two, so the repeated client was quiet.
    let second = sink.nth("ken@example.test", 2).await;
    assert_eq!(second.subject, "Your password was changed");

    let asked = change_email(&app, &token, "ken.new@example.test", NEW_PASSWORD).await;
    assert_eq!(asked.status, Status::Accepted);
    let third = sink.nth("ken@example.test", 3).await;
    assert_eq!(third.subject, "Your email address is being changed");
    sink.nth("ken.new@example.test", 1).await;

    let (_, _, _) = crate::mfa::enrolled(&app, "lena").await;
    assert!(sink.to("lena@example.test").is_empty());
    let subjects: Vec<String> = sink.all().iter().map(|m| m.subject.clone()).collect();
    assert!(
        !subjects.iter().any(|s| s.contains("sign-in method")),
        "no address, no notice"
    );
}

#[rocket::async_test]
async fn a_second_factor_added_or_removed_is_told() {
    let sink = MailSink::start();
    let app = mailing_app(&sink).await;
    app.signed_in("mia").await;
    verified(&app, "mia", "mia@example.test").await;
    // `enrolled` signs in again (the same client: no notice) and turns the app on.
    let login = app.login_tokens("mia").await;
    let token = login["access_token"].as_str().unwrap();
    let begun = app
        .bearer(
            Method::Post,
            "/me/mfa/totp",
            token,
            Some(json!({"password": GOOD_PASSWORD})),
        )
        .await;
    let authenticator = crate::mfa::App::new(begun.json()["secret"].as_str().unwrap());
    let confirmed = app
        .bearer(
            Method::Post,
            "/me/mfa/totp/confirm",
            token,
            Some(json!({"code": authenticator.code(0)})),
        )
        .await;
    assert_eq!(confirmed.status, Status::Ok, "{}", confirmed.body);
    let added = sink.nth("mia@example.test", 1).await;
    assert_eq!(added.subject, "A sign-in method was added");
    let removed = app
        .bearer(
            Method::Delete,
            "/me/mfa/totp",
            token,
            Some(json!({"password": GOOD_PASSWORD, "code": authenticator.code(1)})),
        )
        .await;
    assert_eq!(removed.status, Status::NoContent, "{}", removed.body);
    let told = sink.nth("mia@example.test", 2).await;
    assert_eq!(told.subject, "A sign-in method was removed");
}

#[rocket::async_test]
async fn the_outbox_keeps_mail_through_an_smtp_outage_and_delivers_it_once() {
    // Nothing listens on the port yet: the mail server is down.
    let port = free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    let app =
        TestApp::spawn_with(|f| f.merge(("smtp_url", url)).merge(("mail_retry_initial", 1))).await;
    app.signed_in("nina").await;
    verified(&app, "nina", "nina@example.test").await;
    forgot(&app, "nina").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let failed: Option<i32> = sqlx::query_scalar(
            "SELECT attempts FROM mail_outbox WHERE last_error IS NOT NULL AND sent_at IS NULL",
        )
        .fetch_optional(&app.pool)
        .await
        .unwrap();
        if failed.is_some_and(|n| n >= 1) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failed attempt recorded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The server comes back on the same port: the retry delivers, once.
    let sink = MailSink::start_on(port);
    let mail = sink.nth("nina@example.test", 1).await;
    assert_eq!(mail.subject, "Reset your password");
    let token = mail.token("/password/reset");
    assert_eq!(
        reset(&app, &token, NEW_PASSWORD).await.status,
        Status::NoContent
    );
    sink.wait_for("nina@example.test", 2).await;
    // The sink has a mail before the worker's transaction marks it sent: wait for that.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let unsent: i64 =
            sqlx::query_scalar("SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        if unsent == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{unsent} unsent");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(sink.to("nina@example.test").len(), 2);
    let bodies: i64 =
        sqlx::query_scalar("SELECT count(*) FROM mail_outbox WHERE body_sealed IS NOT NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(bodies, 0, "a sent mail's body, with its link, is dropped");
}

#[rocket::async_test]
async fn two_instances_drain_one_outbox_without_sending_anything_twice() {
    let sink = MailSink::start();
    let url = sink.url();
    let relaxed = |f: rocket::figment::Figment| {
        f.merge(("smtp_url", url.clone()))
            .merge(("register_ip_limit", 1000))
            .merge(("password_hash_per_client", 64))
    };
    let first = TestApp::spawn_with(relaxed).await;
    let second = first.another_instance_with(relaxed).await;
    const N: usize = 24;
    let registrations = (0..N).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        async move {
            app.post_json(
                "/register",
                &json!({
                    "username": format!("user{i}"),
                    "password": GOOD_PASSWORD,
                    "email": format!("user{i}@example.test"),
                }),
            )
            .await
        }
    });
    let answers = futures::future::join_all(registrations).await;
    assert!(answers.iter().all(|a| a.status == Status::Created));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let unsent: i64 =
            sqlx::query_scalar("SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL")
                .fetch_one(&first.pool)
                .await
                .unwrap();
        if unsent == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{unsent} unsent");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let received = sink.all();
    assert_eq!(received.len(), N, "{received:#?}");
    let mut ids: Vec<&str> = received.iter().map(|m| m.message_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), N, "every mail once");
    for i in 0..N {
        assert_eq!(sink.to(&format!("user{i}@example.test")).len(), 1);
    }
}

#[rocket::async_test]
async fn without_smtp_mail_waits_in_the_outbox_and_the_dev_mailbox_shows_it() {
    let app = TestApp::spawn().await;
    let registered = app
        .post_json(
            "/register",
            &json!({"username": "oscar", "password": GOOD_PASSWORD, "email": "oscar@example.test"}),
        )
        .await;
    assert_eq!(registered.status, Status::Created);
    let mailbox = from_loopback(&app, "/dev/mailbox").await;
    assert_eq!(mailbox.status, Status::Ok, "{}", mailbox.body);
    assert!(mailbox.body.contains("oscar@example.test"));
    assert!(
        mailbox
            .body
            .contains(r#"<a href="http://localhost:8000/email/verify?token="#)
    );
    assert!(mailbox.body.contains("waiting"));
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT body_sealed FROM mail_outbox")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&sealed).contains("token="),
        "the stored body is sealed"
    );

    let off = TestApp::spawn_with(|f| f.merge(("dev_mailbox", false))).await;
    assert_eq!(
        from_loopback(&off, "/dev/mailbox").await.status,
        Status::NotFound
    );
    // Only loopback clients see it.
    let remote = app
        .client
        .get("/dev/mailbox")
        .remote("198.51.100.9:40000".parse().unwrap())
        .header(Header::new("Accept", "text/html"))
        .dispatch()
        .await;
    assert_eq!(remote.status(), Status::NotFound);
}

#[rocket::async_test]
async fn recovery_requests_are_limited_per_client() {
    let app = TestApp::spawn_with(|f| f.merge(("recovery_ip_limit", 2))).await;
    assert_eq!(forgot(&app, "anyone").await.status, Status::Accepted);
    assert_eq!(forgot(&app, "someone").await.status, Status::Accepted);
    let third = forgot(&app, "whoever").await;
    third.assert_error(Status::TooManyRequests, "too_many_requests");
    assert!(third.header("Retry-After").is_some());
    // Resets and confirmations share the budget: a flood of guessed tokens is cut off too.
    reset(&app, "guess", NEW_PASSWORD)
        .await
        .assert_error(Status::TooManyRequests, "too_many_requests");
}

#[rocket::async_test]
async fn the_registration_form_takes_an_optional_address() {
    let sink = MailSink::start();
    let app = mailing_app(&sink).await;
    let csrf = app.page("/register").await.csrf_token();
    let bad = app
        .form(
            "/register",
            &[
                ("csrf_token", &csrf),
                ("username", "pat"),
                ("password", GOOD_PASSWORD),
                ("email", "pat at example"),
            ],
        )
        .await;
    assert_eq!(bad.status, Status::UnprocessableEntity);
    assert!(bad.body.contains("is not an email address"), "{}", bad.body);
    assert!(
        bad.body.contains(r#"value="pat at example""#),
        "shown again"
    );
    let csrf = app.page("/register").await.csrf_token();
    let registered = app
        .form(
            "/register",
            &[
                ("csrf_token", &csrf),
                ("username", "pat"),
                ("password", GOOD_PASSWORD),
                ("email", "pat@example.test"),
            ],
        )
        .await;
    registered.assert_redirect("/dashboard");
    let dashboard = app.page("/dashboard").await;
    assert!(
        dashboard.body.contains("pat@example.test"),
        "shown as pending"
    );
    sink.nth("pat@example.test", 1).await;
    // Without an address the form works as before, and no mail goes out.
    let other = app.another_instance().await;
    assert_eq!(
        other
            .register_in_browser("quinn", GOOD_PASSWORD)
            .await
            .status,
        Status::SeeOther
    );
}
