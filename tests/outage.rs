//! The database going away and coming back: requests that need it get `503 unavailable` with
//! `Retry-After` (JSON or page), nothing panics, no token is accepted that cannot be checked, and
//! service resumes by itself. Stops and restarts the private test cluster, so it is a binary of its
//! own and `scripts/test` runs it only on that cluster.

#[path = "api/support/app.rs"]
#[allow(dead_code)]
mod helpers;

use std::process::Command;
use std::time::{Duration, Instant};

use rocket::http::{Header, Status};

use helpers::{BROWSER_ACCEPT, TestApp};

fn pg_ctl(action: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/lib/pg-ctl.sh");
    let status = Command::new("bash")
        .arg(script)
        .arg(action)
        .status()
        .expect("run pg-ctl.sh");
    assert!(status.success(), "pg-ctl.sh {action} failed");
}

/// Starts the cluster again however the test ends, so later tests find it running.
struct Restart;

impl Drop for Restart {
    fn drop(&mut self) {
        pg_ctl("start");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_going_away_gets_503s_and_service_resumes_by_itself() {
    assert!(
        std::env::var("GATEHOUSE_PRIVATE_PG").is_ok(),
        "this test stops the database: run it through scripts/test on the private cluster"
    );
    let app = TestApp::spawn_with(|f| f.merge(("databases.main.connect_timeout", 1))).await;
    let token = app.signed_in("alice").await;
    assert_eq!(
        app.get_with_bearer("/protected", &token).await.status,
        Status::Ok
    );
    app.login_in_browser("alice", helpers::GOOD_PASSWORD)
        .await
        .assert_redirect("/dashboard");
    let csrf = app.page("/dashboard").await.csrf_token();

    let restart = Restart;
    pg_ctl("stop");

    // The in-process revocation set stops being trusted once its listening connection drops,
    // which its task notices within milliseconds; from then on tokens need the database.
    let deadline = Instant::now() + Duration::from_secs(2);
    let protected = loop {
        let response = app.get_with_bearer("/protected", &token).await;
        if response.status != Status::Ok || Instant::now() > deadline {
            break response;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    protected.assert_error(Status::ServiceUnavailable, "unavailable");
    assert!(protected.header("Retry-After").is_some());
    app.login("alice", helpers::GOOD_PASSWORD)
        .await
        .assert_error(Status::ServiceUnavailable, "unavailable");
    app.register("bob", helpers::GOOD_PASSWORD)
        .await
        .assert_error(Status::ServiceUnavailable, "unavailable");
    app.get("/readyz", &[])
        .await
        .assert_error(Status::ServiceUnavailable, "unavailable");
    assert_eq!(app.get("/healthz", &[]).await.status, Status::Ok);
    let page = app
        .client
        .get("/dashboard")
        .header(Header::new("Accept", BROWSER_ACCEPT))
        .header(Header::new("Authorization", format!("Bearer {token}")))
        .dispatch()
        .await;
    assert_eq!(page.status(), Status::ServiceUnavailable);
    assert!(page.headers().get_one("Retry-After").is_some());
    assert!(
        page.into_string()
            .await
            .unwrap()
            .contains("temporarily unavailable")
    );

    // Signing out cannot be done without the database: the browser is told so, not "signed out"
    // while its session stays live, and it keeps its cookies.
    let logout = app.form("/logout", &[("csrf_token", &csrf)]).await;
    assert_eq!(logout.status, Status::ServiceUnavailable, "{}", logout.body);
    assert!(logout.set_cookie("gatehouse_at").is_none());

    drop(restart);

    let deadline = Instant::now() + Duration::from_secs(30);
    while app.get("/readyz", &[]).await.status != Status::Ok {
        assert!(
            Instant::now() < deadline,
            "service did not resume within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        app.get_with_bearer("/protected", &token).await.status,
        Status::Ok
    );
    assert_eq!(
        app.login("alice", helpers::GOOD_PASSWORD).await.status,
        Status::Ok
    );
}
