use rocket::http::{ContentType, Method, Status};

use crate::support::app::{TestApp, TestResponse};

#[tokio::test]
async fn syntactically_broken_json_gets_400_malformed_body() {
    let app = TestApp::spawn().await;
    for body in ["{", "{\"username\": }", "", "not json", "{\"a\":1}x"] {
        let response = app
            .post_raw("/register", ContentType::JSON, body.as_bytes())
            .await;

        response.assert_error(Status::BadRequest, "malformed_body");
    }
}

#[tokio::test]
async fn json_that_is_not_an_object_or_repeats_a_key_gets_422() {
    let app = TestApp::spawn().await;
    let bodies = [
        "[]",
        "\"alice\"",
        "null",
        r#"{"username":"alice","username":"mallory","password":"correct horse battery staple"}"#,
    ];
    for body in bodies {
        let response = app
            .post_raw("/register", ContentType::JSON, body.as_bytes())
            .await;

        response.assert_error(Status::UnprocessableEntity, "invalid_input");
    }
    let users = app.count("users").await;
    assert_eq!(users, 0);
}

#[tokio::test]
async fn another_content_type_gets_415() {
    let app = TestApp::spawn().await;
    for content_type in [ContentType::Plain, ContentType::XML, ContentType::Binary] {
        let response = app
            .post_raw(
                "/login",
                content_type,
                br#"{"username":"a","password":"b"}"#,
            )
            .await;

        response.assert_error(Status::UnsupportedMediaType, "unsupported_media_type");
    }
}

#[tokio::test]
async fn a_body_over_16_kib_gets_413() {
    let app = TestApp::spawn().await;
    let body = format!(
        r#"{{"username":"alice","password":"{}"}}"#,
        "x".repeat(17 * 1024)
    );

    let response = app
        .post_raw("/register", ContentType::JSON, body.as_bytes())
        .await;

    response.assert_error(Status::PayloadTooLarge, "payload_too_large");
}

#[tokio::test]
async fn an_unknown_path_gets_a_json_404() {
    let app = TestApp::spawn().await;

    let response = app.get("/no/such/thing", &[]).await;

    response.assert_error(Status::NotFound, "not_found");
}

#[tokio::test]
async fn error_bodies_carry_no_internals() {
    let app = TestApp::spawn().await;
    let responses = [
        app.post_raw("/register", ContentType::JSON, b"{\"username\": ")
            .await,
        app.post_raw("/register", ContentType::JSON, b"[1,2]").await,
        app.post_raw(
            "/login",
            ContentType::JSON,
            br#"{"username":"x'; DROP TABLE users;--","password":"p"}"#,
        )
        .await,
        app.get_with_bearer("/protected", "eyJhbGciOiJub25lIn0.e30.")
            .await,
    ];
    for response in responses {
        let body = response.body.to_lowercase();
        for leak in [
            "sqlx", "serde", "postgres", "select", "line", "column", "panicked", "src/", "rocket",
        ] {
            assert!(!body.contains(leak), "{leak:?} in {body}");
        }
    }
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_no_server_banner() {
    let app = TestApp::spawn().await;
    let responses = [
        app.get("/healthz", &[]).await,
        app.get("/nope", &[]).await,
        app.get("/protected", &[]).await,
        app.post_raw("/login", ContentType::Plain, b"x").await,
    ];
    for response in responses {
        assert_eq!(response.header("X-Content-Type-Options"), Some("nosniff"));
        assert_eq!(response.header("Referrer-Policy"), Some("same-origin"));
        let csp = response.header("Content-Security-Policy").unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"));
        assert_eq!(response.header("Server"), None);
    }
}

#[tokio::test]
async fn no_server_banner_even_when_rocket_is_configured_to_send_one() {
    let app = TestApp::spawn_with(|f| f.merge(("ident", "Rocket"))).await;
    for response in [app.get("/healthz", &[]).await, app.get("/nope", &[]).await] {
        assert_eq!(response.header("Server"), None);
    }
}

#[tokio::test]
async fn pages_get_the_page_policy_and_json_the_api_policy() {
    let app = TestApp::spawn().await;
    let page = app.page("/login").await;
    assert_eq!(
        page.header("Content-Security-Policy"),
        Some(gatehouse::web::http::headers::CONTENT_SECURITY_POLICY)
    );
    let json = app.get("/protected", &[]).await;
    assert_eq!(
        json.header("Content-Security-Policy"),
        Some("default-src 'none'; frame-ancestors 'none'")
    );
    for response in [page, json] {
        assert_eq!(response.header("X-Frame-Options"), Some("DENY"));
        assert_eq!(response.header("X-Content-Type-Options"), Some("nosniff"));
        assert_eq!(
            response.header("Permissions-Policy"),
            Some("interest-cohort=()")
        );
    }
}

/// docs/api.md §3: a method a path does not serve gets `405` with `Allow`; an unknown
/// path `404`; a served method whose resource is missing stays `404`.
#[tokio::test]
async fn a_method_the_path_does_not_serve_gets_405_with_allow() {
    let app = TestApp::spawn().await;
    for (method, path, allow) in [
        (Method::Put, "/login", "GET, HEAD, POST"),
        (Method::Delete, "/protected", "GET, HEAD"),
        (
            Method::Post,
            "/sessions/00000000-0000-0000-0000-000000000000",
            "DELETE",
        ),
        (Method::Patch, "/me", "DELETE, GET, HEAD"),
        (Method::Post, "/healthz", "GET, HEAD"),
    ] {
        let response = TestResponse::from_local(
            app.client
                .req(method, path)
                .header(ContentType::JSON)
                .body("{}")
                .dispatch()
                .await,
        )
        .await;
        response.assert_error(Status::MethodNotAllowed, "method_not_allowed");
        assert_eq!(response.header("Allow"), Some(allow), "{method} {path}");
    }
    app.get("/no-such-path", &[])
        .await
        .assert_error(Status::NotFound, "not_found");
    app.get("/static/no-such-file.css", &[])
        .await
        .assert_error(Status::NotFound, "not_found");
}
