//! Operating gatehouse: the OpenAPI document against the mounted routes, /docs, metrics access.

use std::collections::BTreeSet;

use rocket::http::{Header, Status};

use crate::support::app::{GOOD_PASSWORD, TestApp};

/// Pages for browsers, static files and the docs page: not JSON endpoints.
const NOT_JSON: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/login"),
    ("GET", "/register"),
    ("GET", "/dashboard"),
    ("GET", "/docs"),
    ("GET", "/login/mfa"),
    ("GET", "/email/verify"),
    ("GET", "/password/forgot"),
    ("GET", "/password/reset"),
    ("GET", "/dev/mailbox"),
    ("GET", "/favicon.ico"),
];

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_mounted_json_routes() {
    let app = TestApp::spawn().await;
    let document = app.get("/openapi.json", &[]).await.json();
    assert_eq!(document["openapi"], "3.1.0");

    let documented: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let mounted: BTreeSet<(String, String)> = app
        .client
        .rocket()
        .routes()
        .filter(|r| !r.uri.path().starts_with("/static"))
        .map(|r| {
            // `/sessions/<id>` in Rocket is `/sessions/{id}` in OpenAPI.
            let path = r.uri.path().replace('<', "{").replace('>', "}");
            (r.method.as_str().to_owned(), path)
        })
        .filter(|(m, p)| !NOT_JSON.contains(&(m.as_str(), p.as_str())))
        .collect();

    assert_eq!(documented, mounted, "document and routes drifted apart");
}

#[tokio::test]
async fn every_documented_operation_lists_its_error_responses_in_the_error_shape() {
    let app = TestApp::spawn().await;
    let document = app.get("/openapi.json", &[]).await.json();
    for (path, ops) in document["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        response
                            .pointer("/content/application~1json/schema/$ref")
                            .and_then(|v| v.as_str()),
                        Some("#/components/schemas/Error"),
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn the_docs_page_lists_each_endpoint_with_a_curl_example() {
    let app = TestApp::spawn().await;

    let page = app.page("/docs").await;

    assert_eq!(page.status, Status::Ok);
    assert!(page.body.contains("/token/refresh"));
    assert!(
        page.body
            .contains("curl -s -X POST http://127.0.0.1:8000/login")
    );
    assert!(page.body.contains("Authorization: Bearer $TOKEN"));
}

#[tokio::test]
async fn metrics_are_not_served_unless_enabled() {
    let app = TestApp::spawn().await;

    let response = app.get("/metrics", &[]).await;

    response.assert_error(Status::NotFound, "not_found");
}

#[tokio::test]
async fn metrics_are_served_to_loopback_only_and_count_requests_and_sign_ins() {
    let app = TestApp::spawn_with(|f| f.merge(("metrics_enabled", true))).await;
    app.register("alice", GOOD_PASSWORD).await;
    app.login("alice", GOOD_PASSWORD).await;
    app.login("alice", "wrong password, again").await;

    let local = app
        .client
        .get("/metrics")
        .remote("127.0.0.1:50000".parse().unwrap())
        .dispatch()
        .await;
    let remote = app
        .client
        .get("/metrics")
        .remote("198.51.100.7:50000".parse().unwrap())
        .dispatch()
        .await;

    assert_eq!(remote.status(), Status::NotFound);
    assert_eq!(local.status(), Status::Ok);
    let text = local.into_string().await.unwrap();
    for needle in [
        r#"gatehouse_http_requests_total{route="/login",method="POST",status="200"} 1"#,
        r#"gatehouse_http_requests_total{route="/login",method="POST",status="401"} 1"#,
        r#"gatehouse_http_request_duration_seconds_bucket{le="+Inf",route="/login"} 2"#,
        r#"gatehouse_security_events_total{event="login",outcome="success"} 1"#,
        r#"gatehouse_security_events_total{event="login",outcome="invalid_credentials"} 1"#,
        "gatehouse_active_sessions 1",
        "gatehouse_password_hash_in_flight 0",
        "gatehouse_password_hash_batched_total 0",
        r#"gatehouse_db_pool_connections{state="idle"}"#,
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
    // Which names exist is nobody's business, the metrics reader's included.
    assert!(
        !text.contains("unknown_user") && !text.contains("wrong_password"),
        "{text}"
    );
}

#[tokio::test]
async fn with_a_metrics_token_only_its_bearer_reads_the_metrics() {
    let token = "metrics-token-0123456789";
    let app = TestApp::spawn_with(|f| {
        f.merge(("metrics_enabled", true))
            .merge(("metrics_token", token))
    })
    .await;
    let get = |auth: Option<String>| {
        let mut request = app
            .client
            .get("/metrics")
            .remote("127.0.0.1:50000".parse().unwrap());
        if let Some(auth) = auth {
            request = request.header(Header::new("Authorization", auth));
        }
        async move { request.dispatch().await.status() }
    };

    assert_eq!(get(None).await, Status::NotFound);
    assert_eq!(
        get(Some("Bearer wrong-token-0123456789".into())).await,
        Status::NotFound
    );
    assert_eq!(get(Some(format!("Bearer {token}"))).await, Status::Ok);
}

/// A client that builds requests from the schema alone must not be refused as invalid: the
/// document states the rules the server enforces, with the configured password length.
#[tokio::test]
async fn the_openapi_document_states_the_input_rules_the_server_enforces() {
    let app = TestApp::spawn_with(|f| f.merge(("password_min_length", 20))).await;
    let document = app.get("/openapi.json", &[]).await.json();
    let schemas = &document["components"]["schemas"];
    let registration = &schemas["Registration"];
    assert_eq!(
        registration["required"],
        serde_json::json!(["username", "password"])
    );
    let username = &registration["properties"]["username"];
    assert_eq!(username["minLength"], 3);
    assert_eq!(username["maxLength"], 32);
    let pattern = username["pattern"].as_str().unwrap();
    let password = &registration["properties"]["password"];
    assert_eq!(password["minLength"], 20);
    assert_eq!(password["maxLength"], 72);
    assert_eq!(
        schemas["PasswordChange"]["properties"]["new_password"]["minLength"],
        20
    );

    // The edges the schema states are the server's edges.
    assert_eq!(pattern, "^[A-Za-z0-9][A-Za-z0-9._-]{2,31}$");
    let exactly_min = "quiet lantern river";
    assert_eq!(exactly_min.chars().count(), 19);
    let too_short = app.register("edge-case", exactly_min).await;
    too_short.assert_error(Status::UnprocessableEntity, "invalid_input");
    let long_enough = format!("{exactly_min}s");
    assert_eq!(
        app.register("edge-case", &long_enough).await.status,
        Status::Created
    );
    let at_max_bytes = "x".repeat(72);
    assert_eq!(
        app.register("max-bytes", &at_max_bytes).await.status,
        Status::Created
    );
}
