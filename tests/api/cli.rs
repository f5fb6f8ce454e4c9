//! The `gatehouse` command line against a real database: the built binary, as an operator runs it.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use rocket::http::Status;

use crate::support::app::{GOOD_PASSWORD, TEST_SECRET, TestApp, fresh_database};

fn gatehouse(database_url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DATABASE_URL", database_url)
        .env("ROCKET_JWT_SECRET", TEST_SECRET)
        .env("ROCKET_BCRYPT_COST", "10")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gatehouse");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn users_are_created_listed_unlocked_revoked_and_deleted_from_the_command_line() {
    let app = TestApp::spawn().await;
    let url = &app.database_url;

    let created = gatehouse(
        url,
        &["user", "create", "carol"],
        Some(&format!("{GOOD_PASSWORD}\n")),
    );
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(stdout(&created).contains("created carol"));
    let weak = gatehouse(url, &["user", "create", "dave"], Some("short\n"));
    assert!(!weak.status.success());
    assert!(
        stderr(&weak).contains("at least 15 characters"),
        "{}",
        stderr(&weak)
    );

    let token = app.login_tokens("carol").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = gatehouse(url, &["user", "list"], None);
    assert!(stdout(&listed).contains("carol"), "{}", stdout(&listed));

    for _ in 0..5 {
        app.login("carol", "wrong password, again").await;
    }
    assert_eq!(
        app.login("carol", GOOD_PASSWORD).await.status,
        Status::TooManyRequests
    );
    assert!(
        gatehouse(url, &["user", "unlock", "carol"], None)
            .status
            .success()
    );
    assert_eq!(app.login("carol", GOOD_PASSWORD).await.status, Status::Ok);

    let revoked = gatehouse(url, &["user", "revoke-sessions", "Carol"], None);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    // Another process revoked them: this instance learns of it by notification.
    app.until_refused(&token).await;

    assert!(
        gatehouse(url, &["user", "delete", "carol"], None)
            .status
            .success()
    );
    assert_eq!(
        app.login("carol", GOOD_PASSWORD).await.status,
        Status::Unauthorized
    );
    let missing = gatehouse(url, &["user", "delete", "carol"], None);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("no user named"));
}

#[tokio::test]
async fn check_config_says_exactly_what_is_wrong() {
    let url = fresh_database().await;

    let good = gatehouse(&url, &["check-config"], None);
    let short = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("check-config")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DATABASE_URL", &url)
        .env("ROCKET_JWT_SECRET", "too-short")
        .output()
        .unwrap();
    let unreachable = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("check-config")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DATABASE_URL", "postgres://nobody:nothing@127.0.0.1:1/none")
        .env("ROCKET_JWT_SECRET", TEST_SECRET)
        .output()
        .unwrap();

    assert!(good.status.success(), "{}", stderr(&good));
    assert!(
        !stdout(&good).contains(TEST_SECRET),
        "the secret is never printed"
    );
    assert!(!short.status.success());
    assert!(
        stderr(&short).contains("jwt_secret is 9 bytes long"),
        "{}",
        stderr(&short)
    );
    assert!(!unreachable.status.success());
    assert!(
        stderr(&unreachable).contains("database: cannot connect"),
        "{}",
        stderr(&unreachable)
    );
}

#[tokio::test]
async fn the_seed_import_keeps_passwords_reports_bad_names_and_imports_nothing_twice() {
    let app = TestApp::spawn().await;
    let seed_url = fresh_database().await;
    // The Flask seed's table, as its SQL created it.
    let seed = sqlx::PgPool::connect(&seed_url).await.unwrap();
    sqlx::query(
        "CREATE TABLE users (id SERIAL PRIMARY KEY, username VARCHAR(80) UNIQUE NOT NULL,
                             password_hash VARCHAR(200) NOT NULL)",
    )
    .execute(&seed)
    .await
    .unwrap();
    for (name, hash) in [
        (
            "seeduser",
            "$2b$12$t6Xa.EbwEmo10T/ZAmucR.nN52v1Mp5yb6WkJMnDtRrTpoZJH2Lem",
        ),
        (
            "unicode",
            "$2b$12$3zOb.ofpQ.jnbVVfUeMSa.xbUTXiRIcaOXxpG.YvBt8wJ0BlsVtIa",
        ),
        (
            "has space",
            "$2b$12$t6Xa.EbwEmo10T/ZAmucR.nN52v1Mp5yb6WkJMnDtRrTpoZJH2Lem",
        ),
        (
            "x",
            "$2b$12$t6Xa.EbwEmo10T/ZAmucR.nN52v1Mp5yb6WkJMnDtRrTpoZJH2Lem",
        ),
        ("plaintext", "hunter2"),
    ] {
        sqlx::query("INSERT INTO users (username, password_hash) VALUES ($1, $2)")
            .bind(name)
            .bind(hash)
            .execute(&seed)
            .await
            .unwrap();
    }

    let first = gatehouse(
        &app.database_url,
        &["import-seed", "--from", &seed_url],
        None,
    );
    let second = gatehouse(
        &app.database_url,
        &["import-seed", "--from", &seed_url],
        None,
    );

    assert!(first.status.success(), "{}", stderr(&first));
    let report = stdout(&first);
    assert!(
        report.contains("imported 2, already present 0, rejected 3"),
        "{report}"
    );
    assert!(report.contains(r#"rejected "has space""#), "{report}");
    assert!(report.contains(r#"rejected "plaintext""#), "{report}");
    assert!(!report.contains("$2b$"), "hashes are never printed");
    assert!(
        stdout(&second).contains("imported 0, already present 2"),
        "{}",
        stdout(&second)
    );
    assert_eq!(
        app.login("seeduser", "seed-password-1").await.status,
        Status::Ok
    );
    assert_eq!(
        app.login("unicode", "pässwörd-ünïcode").await.status,
        Status::Ok
    );
}
