//! Property tests: random JSON and form bodies, of every shape, against every endpoint that takes
//! a body, never get a 5xx (and never a body that is not the error shape).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rocket::http::{ContentType, Header, Method, Status};
use serde_json::Value;

use crate::support::app::{TestApp, TestResponse};

const ENDPOINTS: &[(Method, &str)] = &[
    (Method::Post, "/register"),
    (Method::Post, "/login"),
    (Method::Post, "/token/refresh"),
    (Method::Post, "/logout"),
    (Method::Post, "/me/password"),
    (Method::Delete, "/me"),
    (
        Method::Delete,
        "/sessions/00000000-0000-0000-0000-000000000000",
    ),
    (Method::Post, "/sessions/revoke-others"),
    (Method::Post, "/login/mfa"),
    (Method::Post, "/me/mfa/totp"),
    (Method::Post, "/me/mfa/totp/confirm"),
    (Method::Post, "/me/mfa/recovery-codes"),
    (Method::Delete, "/me/mfa/totp"),
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,80}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((".{0,12}", inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// Bodies that look like ours: the right field names with random values, plus noise.
fn credentials_like() -> impl Strategy<Value = Value> {
    let field = prop_oneof![
        Just("username"),
        Just("password"),
        Just("refresh_token"),
        Just("current_password"),
        Just("new_password"),
        Just("csrf_token"),
        Just("_method"),
        Just("code"),
        Just("mfa_token"),
    ];
    prop::collection::vec((field, json_value()), 0..5).prop_map(|pairs| {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    })
}

fn form_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        prop::collection::vec(("[a-z_%+=&]{0,12}", ".{0,40}"), 0..6).prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
                .into_bytes()
        }),
    ]
}

fn check(response: &TestResponse, what: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        response.status.code < 500,
        "{what}: {} {}",
        response.status,
        response.body
    );
    if response.status.code >= 400 && !response.is_html() {
        let body: Value = serde_json::from_str(&response.body)
            .map_err(|_| TestCaseError::fail(format!("{what}: not JSON: {}", response.body)))?;
        prop_assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{what}: {body}"
        );
    }
    Ok(())
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    ct: ContentType,
    body: Vec<u8>,
    bearer: Option<&str>,
) -> TestResponse {
    let mut request = app
        .client
        .req(method, path.to_owned())
        .header(ct)
        .body(body);
    if let Some(token) = bearer {
        request = request.header(Header::new("Authorization", format!("Bearer {token}")));
    }
    TestResponse::from_local(request.dispatch().await).await
}

fn run<S: Strategy>(strategy: S, cases: u32, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{e}");
    }
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_json_bodies_never_get_a_5xx() {
    let app = TestApp::spawn_with(|f| {
        f.merge(("login_ip_limit", 100_000))
            .merge(("register_ip_limit", 100_000))
    })
    .await;
    let token = app.signed_in("fuzzer").await;
    let strategy = (
        0..ENDPOINTS.len(),
        prop_oneof![json_value(), credentials_like()],
        any::<bool>(),
    );

    run(strategy, 300, |(endpoint, body, with_token)| {
        let (method, path) = ENDPOINTS[endpoint];
        let bearer = with_token.then_some(token.as_str());
        let response = block_on(send(
            &app,
            method,
            path,
            ContentType::JSON,
            body.to_string().into_bytes(),
            bearer,
        ));
        check(&response, &format!("{method} {path} {body}"))
    });
    // The fuzzer's account survived (random passwords never match it) and still signs in.
    assert_eq!(
        app.login("fuzzer", crate::support::app::GOOD_PASSWORD)
            .await
            .status,
        Status::Ok
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_form_and_raw_bodies_never_get_a_5xx() {
    let app = TestApp::spawn_with(|f| {
        f.merge(("login_ip_limit", 100_000))
            .merge(("register_ip_limit", 100_000))
    })
    .await;
    let content_types = [
        ContentType::Form,
        ContentType::JSON,
        ContentType::Plain,
        ContentType::Binary,
    ];
    let strategy = (0..ENDPOINTS.len(), 0..content_types.len(), form_body());

    run(strategy, 300, |(endpoint, ct, body)| {
        let (method, path) = ENDPOINTS[endpoint];
        let response = block_on(send(
            &app,
            method,
            path,
            content_types[ct].clone(),
            body.clone(),
            None,
        ));
        check(
            &response,
            &format!("{method} {path} {:?}", String::from_utf8_lossy(&body)),
        )
    });
}
