//! The browser flows through Rocket's tracked client, which keeps cookies like a browser.

use rocket::http::Status;

use crate::support::app::{GOOD_PASSWORD, TestApp};

#[tokio::test]
async fn registering_through_the_form_signs_in_and_lands_on_the_dashboard() {
    let app = TestApp::spawn().await;

    let response = app.register_in_browser("alice", GOOD_PASSWORD).await;

    response.assert_redirect("/dashboard");
    let dashboard = app.page("/dashboard").await;
    assert_eq!(dashboard.status, Status::Ok);
    assert!(dashboard.is_html());
    assert!(dashboard.body.contains("Welcome, alice"));
    assert!(dashboard.body.contains(r#"action="/logout""#));
}

#[tokio::test]
async fn the_forms_carry_labels_autocomplete_and_the_server_length_rules() {
    let app = TestApp::spawn().await;

    let register = app.page("/register").await;
    let login = app.page("/login").await;

    for needle in [
        r#"<label for="username">"#,
        r#"autocomplete="username""#,
        r#"autocomplete="new-password""#,
        r#"minlength="3" maxlength="32""#,
        r#"minlength="15""#,
    ] {
        assert!(register.body.contains(needle), "register lacks {needle}");
    }
    assert!(login.body.contains(r#"autocomplete="current-password""#));
}

#[tokio::test]
async fn the_access_cookie_is_httponly_lax_host_only_and_never_in_the_page() {
    let app = TestApp::spawn().await;

    let response = app.register_in_browser("alice", GOOD_PASSWORD).await;

    let cookie = response.set_cookie("gatehouse_at").expect("access cookie");
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    assert!(cookie.contains("Path=/"));
    assert!(!cookie.to_lowercase().contains("domain="));
    let token = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    let dashboard = app.page("/dashboard").await;
    assert!(!dashboard.body.contains(token));
}

#[tokio::test]
async fn with_secure_cookies_the_cookie_is_host_prefixed_and_secure() {
    let app = TestApp::spawn_with(|f| f.merge(("cookie_secure", true))).await;

    let response = app.register_in_browser("alice", GOOD_PASSWORD).await;

    let cookie = response
        .set_cookie("__Host-gatehouse_at")
        .expect("__Host- cookie");
    assert!(cookie.contains("Secure"));
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("Path=/"));
}

#[tokio::test]
async fn signing_in_through_the_form_honours_a_local_next() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;

    let page = app.page("/login?next=/dashboard").await;
    assert!(page.body.contains(r#"name="next" value="/dashboard""#));
    let response = app
        .login_in_browser_to("alice", GOOD_PASSWORD, Some("/dashboard"))
        .await;

    response.assert_redirect("/dashboard");
}

#[tokio::test]
async fn a_next_that_leaves_the_site_is_ignored() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    for next in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let response = app
            .login_in_browser_to("alice", GOOD_PASSWORD, Some(next))
            .await;

        response.assert_redirect("/dashboard");
    }
}

#[tokio::test]
async fn a_wrong_password_re_renders_the_form_with_401_keeping_the_username_not_the_password() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    let response = app.login_in_browser("alice", "wrong password here!").await;

    assert_eq!(response.status, Status::Unauthorized);
    assert!(response.is_html());
    assert!(
        response
            .body
            .contains("The username or password is incorrect.")
    );
    assert!(response.body.contains(r#"value="alice""#));
    assert!(!response.body.contains("wrong password here!"));
    assert!(response.header("WWW-Authenticate").is_some());
}

#[tokio::test]
async fn registration_failures_re_render_with_422_and_409_and_messages_by_the_fields() {
    let app = TestApp::spawn().await;
    app.register("taken", GOOD_PASSWORD).await;

    let invalid = app.register_in_browser("al", "short").await;
    let taken = app.register_in_browser("Taken", GOOD_PASSWORD).await;

    assert_eq!(invalid.status, Status::UnprocessableEntity);
    assert!(invalid.body.contains(r#"id="username-errors""#));
    assert!(invalid.body.contains("must be 3 to 32 characters long"));
    assert!(invalid.body.contains("must be at least 15 characters long"));
    assert!(invalid.body.contains(r#"aria-invalid="true""#));
    assert!(!invalid.body.contains(r#"value="short""#));
    assert_eq!(taken.status, Status::Conflict);
    assert!(taken.body.contains("is already taken"));
    assert!(taken.body.contains(r#"value="Taken""#));
}

#[tokio::test]
async fn a_rejected_username_is_shown_escaped() {
    let app = TestApp::spawn().await;

    let response = app
        .register_in_browser("<script>alert(1)</script>", GOOD_PASSWORD)
        .await;

    assert_eq!(response.status, Status::UnprocessableEntity);
    assert!(!response.body.contains("<script>alert(1)</script>"));
    assert!(response.body.contains("&#60;script&#62;") || response.body.contains("&lt;script&gt;"));
}

#[tokio::test]
async fn a_signed_out_browser_is_sent_to_login_but_a_json_client_gets_401() {
    let app = TestApp::spawn().await;

    let page = app.page("/dashboard").await;
    let api = app.get("/protected", &[]).await;
    let api_from_browser = app.page("/protected").await;

    page.assert_redirect("/login?next=/dashboard");
    api.assert_error(Status::Unauthorized, "missing_token");
    // `/protected` is a JSON endpoint: a browser gets the JSON 401 too (docs/api.md §1).
    api_from_browser.assert_error(Status::Unauthorized, "missing_token");
}

#[tokio::test]
async fn the_cookie_authenticates_json_endpoints_too() {
    let app = TestApp::spawn().await;
    app.register_in_browser("alice", GOOD_PASSWORD).await;

    let response = app.get("/protected", &[]).await;

    assert_eq!(response.status, Status::Ok);
    assert_eq!(response.json()["username"], "alice");
}

#[tokio::test]
async fn an_invalid_bearer_header_is_not_rescued_by_a_valid_cookie() {
    let app = TestApp::spawn().await;
    app.register_in_browser("alice", GOOD_PASSWORD).await;

    let response = app.get_with_bearer("/protected", "not-a-token").await;

    response.assert_error(Status::Unauthorized, "invalid_token");
}

#[tokio::test]
async fn form_posts_without_a_valid_csrf_token_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let other_browser = TestApp::spawn().await;
    let foreign = other_browser.page("/register").await.csrf_token();
    app.page("/register").await;

    let missing = app
        .form(
            "/register",
            &[("username", "alice"), ("password", GOOD_PASSWORD)],
        )
        .await;
    let forged = app
        .form(
            "/register",
            &[
                ("csrf_token", &foreign),
                ("username", "alice"),
                ("password", GOOD_PASSWORD),
            ],
        )
        .await;

    for response in [missing, forged] {
        assert_eq!(response.status, Status::Forbidden);
        assert!(response.is_html());
    }
    let users = app.count("users").await;
    assert_eq!(users, 0);
}

#[tokio::test]
async fn form_posts_from_another_origin_are_refused_even_with_a_valid_token() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    let cases: [&[(&str, &str)]; 5] = [
        &[
            ("Origin", "https://evil.example"),
            ("Host", "localhost:8000"),
        ],
        &[("Origin", "null"), ("Host", "localhost:8000")],
        &[("Sec-Fetch-Site", "cross-site")],
        // The Origin is pinned to public_origin (http://localhost:8000): a Host chosen to match
        // a foreign Origin does not make it ours, nor does another scheme of our host.
        &[("Origin", "https://evil.example"), ("Host", "evil.example")],
        &[
            ("Origin", "https://localhost:8000"),
            ("Host", "localhost:8000"),
        ],
    ];
    for headers in cases {
        let token = app.page("/login").await.csrf_token();

        let response = app
            .form_with(
                "/login",
                &[
                    ("csrf_token", &token),
                    ("username", "alice"),
                    ("password", GOOD_PASSWORD),
                ],
                headers,
            )
            .await;

        assert_eq!(response.status, Status::Forbidden, "{headers:?}");
        assert!(response.set_cookie("gatehouse_at").is_none());
    }
    let same_origin = app.page("/login").await.csrf_token();
    let response = app
        .form_with(
            "/login",
            &[
                ("csrf_token", &same_origin),
                ("username", "alice"),
                ("password", GOOD_PASSWORD),
            ],
            &[
                ("Origin", "http://localhost:8000"),
                ("Host", "localhost:8000"),
                ("Sec-Fetch-Site", "same-origin"),
            ],
        )
        .await;
    response.assert_redirect("/dashboard");
}

#[tokio::test]
async fn signing_out_revokes_the_session_and_clears_the_cookie_with_its_attributes() {
    let app = TestApp::spawn_with(|f| f.merge(("cookie_secure", true))).await;
    let registered = app.register_in_browser("alice", GOOD_PASSWORD).await;
    let cookie = registered.set_cookie("__Host-gatehouse_at").unwrap();
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    let csrf = app.page("/dashboard").await.csrf_token();

    let response = app.form("/logout", &[("csrf_token", &csrf)]).await;

    response.assert_redirect("/login");
    let removal = response
        .set_cookie("__Host-gatehouse_at")
        .expect("a removal");
    assert!(removal.contains("Max-Age=0"), "{removal}");
    assert!(
        removal.contains("Secure") && removal.contains("HttpOnly") && removal.contains("Path=/")
    );
    app.get_with_bearer("/protected", &token)
        .await
        .assert_error(Status::Unauthorized, "invalid_token");
    app.page("/dashboard")
        .await
        .assert_redirect("/login?next=/dashboard");
    assert!(
        app.page("/login")
            .await
            .body
            .contains("You have been signed out.")
    );
}

#[tokio::test]
async fn a_cookie_authenticated_script_needs_the_csrf_header_to_sign_out() {
    let app = TestApp::spawn().await;
    app.register_in_browser("alice", GOOD_PASSWORD).await;
    let csrf = app.page("/dashboard").await.csrf_token();

    let without = app.client.post("/logout").dispatch().await;
    assert_eq!(without.status(), Status::Forbidden);
    assert_eq!(
        app.get("/protected", &[]).await.status,
        Status::Ok,
        "still signed in"
    );

    let with = app
        .client
        .post("/logout")
        .header(rocket::http::Header::new("X-CSRF-Token", csrf))
        .dispatch()
        .await;
    assert_eq!(with.status(), Status::NoContent);
    assert_eq!(
        app.get("/protected", &[]).await.status,
        Status::Unauthorized
    );
}

#[tokio::test]
async fn a_bearer_client_signs_out_without_csrf() {
    let app = TestApp::spawn().await;
    let token = app.signed_in("alice").await;

    let response = app
        .client
        .post("/logout")
        .header(rocket::http::Header::new(
            "Authorization",
            format!("Bearer {token}"),
        ))
        .dispatch()
        .await;

    assert_eq!(response.status(), Status::NoContent);
    app.get_with_bearer("/protected", &token)
        .await
        .assert_error(Status::Unauthorized, "invalid_token");
}

#[tokio::test]
async fn pages_redirects_and_error_pages_carry_the_security_headers() {
    let app = TestApp::spawn().await;
    let responses = [
        app.page("/").await,
        app.page("/login").await,
        app.page("/dashboard").await,
        app.page("/no-such-page").await,
    ];
    for response in responses {
        let csp = response.header("Content-Security-Policy").unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"));
        assert_eq!(response.header("Cache-Control"), Some("no-store"));
        assert_eq!(response.header("Referrer-Policy"), Some("same-origin"));
        assert_eq!(response.header("X-Content-Type-Options"), Some("nosniff"));
    }
}

#[tokio::test]
async fn the_landing_page_offers_sign_in_or_the_dashboard() {
    let app = TestApp::spawn().await;

    let signed_out = app.page("/").await;
    app.register_in_browser("alice", GOOD_PASSWORD).await;
    let signed_in = app.page("/").await;

    assert!(signed_out.body.contains(r#"href="/login""#));
    assert!(!signed_out.body.contains(r#"href="/dashboard""#));
    assert!(signed_in.body.contains(r#"href="/dashboard""#));
}

#[tokio::test]
async fn json_clients_get_json_404_for_pages() {
    let app = TestApp::spawn().await;

    let response = app.get("/login", &[]).await;

    response.assert_error(Status::NotFound, "not_found");
}

#[tokio::test]
async fn the_flash_cookie_is_httponly_and_hsts_is_sent_when_configured() {
    let app = TestApp::spawn_with(|f| f.merge(("hsts_max_age", 31_536_000))).await;
    app.register_in_browser("alice", GOOD_PASSWORD).await;
    let csrf = app.page("/dashboard").await.csrf_token();

    let signed_out = app.form("/logout", &[("csrf_token", &csrf)]).await;

    signed_out.assert_redirect("/login");
    let flash = signed_out.set_cookie("_flash").expect("a flash message");
    assert!(flash.contains("HttpOnly"), "{flash}");
    assert_eq!(
        signed_out.header("Strict-Transport-Security"),
        Some("max-age=31536000")
    );
    let plain = TestApp::spawn().await;
    assert_eq!(
        plain
            .get("/healthz", &[])
            .await
            .header("Strict-Transport-Security"),
        None,
        "the debug profile sends none"
    );
}
