use rocket::http::Status;
use serde_json::json;

use crate::support::app::{GOOD_PASSWORD, TestApp};

#[tokio::test]
async fn registering_returns_201_with_the_new_account() {
    let app = TestApp::spawn().await;

    let response = app.register("Alice", GOOD_PASSWORD).await;

    assert_eq!(response.status, Status::Created, "{}", response.body);
    let body = response.json();
    assert_eq!(body["username"], "Alice");
    assert!(uuid::Uuid::parse_str(body["id"].as_str().unwrap()).is_ok());
    let created = body["created_at"].as_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "{created}"
    );
    assert!(created.ends_with('Z'), "UTC: {created}");
}

#[tokio::test]
async fn the_password_is_stored_only_as_a_bcrypt_hash_of_exactly_what_was_typed() {
    let app = TestApp::spawn().await;
    let password = "  leading and trailing spaces kept  ";

    app.register("alice", password).await;

    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(hash.starts_with("$2b$10$"), "{hash}");
    assert!(!hash.contains("spaces"));
    assert!(bcrypt::verify(password, &hash).unwrap());
    assert!(!bcrypt::verify(password.trim(), &hash).unwrap());
}

#[tokio::test]
async fn a_username_taken_in_another_letter_case_gets_409() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;

    let response = app.register("ALICE", "another long password 123").await;

    response.assert_error(Status::Conflict, "username_taken");
    let count = app.count("users").await;
    assert_eq!(count, 1);
}

#[tokio::test]
async fn usernames_breaking_the_rules_get_422_naming_the_field() {
    let app = TestApp::spawn().await;
    for name in [
        "ab",
        &"a".repeat(33),
        "al ice",
        "_alice",
        "<script>alert(1)</script>",
        "ålice",
        "a\u{0}b",
    ] {
        let response = app.register(name, GOOD_PASSWORD).await;

        response.assert_error(Status::UnprocessableEntity, "invalid_input");
        let problems = &response.json()["fields"]["username"];
        assert!(
            problems.as_array().is_some_and(|p| !p.is_empty()),
            "{name:?}: {}",
            response.body
        );
    }
}

#[tokio::test]
async fn a_72_byte_password_is_accepted_and_a_73_byte_one_refused_never_truncated() {
    let app = TestApp::spawn().await;
    let seventy_two = format!("{}{}", "p".repeat(71), "2");
    let seventy_one = "p".repeat(71);

    assert_eq!(
        app.register("alice", &seventy_one).await.status,
        Status::Created
    );
    assert_eq!(
        app.register("bob72", &seventy_two).await.status,
        Status::Created
    );
    let response = app.register("carol", &"p".repeat(73)).await;

    response.assert_error(Status::UnprocessableEntity, "invalid_input");
    let problems = response.json()["fields"]["password"].to_string();
    assert!(problems.contains("72 bytes"), "{problems}");
    // Every byte counts: the 72-byte password is not accepted without its last byte.
    assert_eq!(
        app.login("bob72", &"p".repeat(71)).await.status,
        Status::Unauthorized
    );
    assert_eq!(app.login("bob72", &seventy_two).await.status, Status::Ok);
}

#[tokio::test]
async fn a_password_shorter_than_the_minimum_or_containing_the_username_gets_422() {
    let app = TestApp::spawn().await;

    let short = app.register("alice", "fourteen chars").await;
    let with_name = app.register("alice", "my name is ALICE, hi there").await;

    short.assert_error(Status::UnprocessableEntity, "invalid_input");
    assert!(
        short.json()["fields"]["password"]
            .to_string()
            .contains("at least 15")
    );
    with_name.assert_error(Status::UnprocessableEntity, "invalid_input");
    assert!(
        with_name.json()["fields"]["password"]
            .to_string()
            .contains("username")
    );
}

#[tokio::test]
async fn the_minimum_password_length_is_configurable() {
    let app = TestApp::spawn_with(|f| f.merge(("password_min_length", 8))).await;

    let response = app.register("alice", "eight ch").await;

    assert_eq!(response.status, Status::Created, "{}", response.body);
}

#[tokio::test]
async fn missing_and_wrongly_typed_fields_get_422_per_field() {
    let app = TestApp::spawn().await;

    let response = app
        .post_json("/register", &json!({"username": 42, "extra": "ignored"}))
        .await;

    response.assert_error(Status::UnprocessableEntity, "invalid_input");
    let fields = &response.json()["fields"];
    assert_eq!(fields["username"], json!(["must be a string"]));
    assert_eq!(fields["password"], json!(["is required"]));
    assert!(fields.get("extra").is_none());
}
