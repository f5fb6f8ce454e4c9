//! Sign-in latency for an unknown user next to a wrong password (and a right one), through the
//! whole application on a real PostgreSQL. The first two must match: a difference would tell an
//! attacker which usernames exist. Run by `scripts/bench`, which provides DATABASE_URL.
//!
//! Prints one `name value unit` line per figure, for other scripts to read.

use std::time::{Duration, Instant};

use rocket::http::{ContentType, Status};
use rocket::local::asynchronous::Client;
use uuid::Uuid;

const ROUNDS: usize = 41;
const PASSWORD: &str = "correct horse battery staple";

async fn database() -> String {
    let admin_url = std::env::var("DATABASE_URL").expect("DATABASE_URL (scripts/bench sets it)");
    let admin = sqlx::PgPool::connect(&admin_url).await.expect("connect");
    let name = format!("bench_{}", Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .expect("create the bench database");
    format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0)
}

async fn login(client: &Client, username: &str, password: &str) -> (Status, Duration) {
    let body = serde_json::json!({"username": username, "password": password}).to_string();
    let started = Instant::now();
    let response = client
        .post("/login")
        .header(ContentType::JSON)
        .body(body)
        .dispatch()
        .await;
    (response.status(), started.elapsed())
}

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

#[rocket::main]
async fn main() {
    let url = database().await;
    let figment = rocket::Config::figment()
        .merge(("databases.main.url", &url))
        .merge(("jwt_secret", "benchmark-secret-0123456789abcdefghijkl"))
        .merge(("secret_key", "benchmark-master-secret-0123456789abcdef"))
        .merge(("log_level", "off"))
        .merge(("security_log", "/dev/null"))
        // Measure the sign-in path, not the throttles.
        .merge(("login_ip_limit", 1_000_000))
        .merge(("login_failure_limit", 1_000_000));
    let client = Client::untracked(gatehouse::build(figment))
        .await
        .expect("rocket");
    let register = client
        .post("/register")
        .header(ContentType::JSON)
        .body(serde_json::json!({"username": "alice", "password": PASSWORD}).to_string())
        .dispatch()
        .await;
    assert_eq!(register.status(), Status::Created);

    let (mut unknown, mut wrong, mut right) = (Vec::new(), Vec::new(), Vec::new());
    // Interleaved, so drift in machine load hits all three alike.
    for round in 0..ROUNDS {
        let (status, t) = login(&client, &format!("nobody{round}"), PASSWORD).await;
        assert_eq!(status, Status::Unauthorized);
        unknown.push(t);
        let (status, t) = login(&client, "alice", "a wrong password here").await;
        assert_eq!(status, Status::Unauthorized);
        wrong.push(t);
        let (status, t) = login(&client, "alice", PASSWORD).await;
        assert_eq!(status, Status::Ok);
        right.push(t);
    }
    let (unknown, wrong, right) = (median(unknown), median(wrong), median(right));
    println!("login_median_unknown_user {unknown:.1} ms");
    println!("login_median_wrong_password {wrong:.1} ms");
    println!("login_median_right_password {right:.1} ms");
    println!(
        "login_unknown_vs_wrong_difference {:.1} %",
        (unknown - wrong).abs() / wrong * 100.0
    );
}
