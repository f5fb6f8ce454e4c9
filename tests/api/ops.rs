use rocket::http::Status;

use crate::support::app::TestApp;

#[tokio::test]
async fn healthz_answers_ok() {
    let app = TestApp::spawn().await;

    let response = app.get("/healthz", &[]).await;

    assert_eq!(response.status, Status::Ok);
    assert_eq!(response.json()["status"], "ok");
}

#[tokio::test]
async fn readyz_answers_200_once_migrations_are_applied() {
    let app = TestApp::spawn().await;

    let response = app.get("/readyz", &[]).await;

    assert_eq!(response.status, Status::Ok, "{}", response.body);
}

#[tokio::test]
async fn readyz_answers_503_when_a_migration_is_missing() {
    let app = TestApp::spawn().await;
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
    )
    .execute(&app.pool)
    .await
    .unwrap();

    let response = app.get("/readyz", &[]).await;

    response.assert_error(Status::ServiceUnavailable, "unavailable");
    assert!(response.header("Retry-After").is_some());
}
