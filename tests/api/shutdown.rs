//! The real binary: structured JSON logs, and a graceful stop on SIGTERM that lets an in-flight
//! request finish.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::app::{GOOD_PASSWORD, TEST_SECRET, fresh_database};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish_and_logs_are_json_lines() {
    let url = fresh_database().await;
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DATABASE_URL", &url)
        .env("ROCKET_PORT", port.to_string())
        .env("ROCKET_JWT_SECRET", TEST_SECRET)
        .env("ROCKET_LOG_FORMAT", "json")
        // A slow hash (about a second), so a sign-in is surely in flight when SIGTERM comes.
        .env("ROCKET_BCRYPT_COST", "14")
        .env("ROCKET_LOGIN_IP_LIMIT", "1000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let lines = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let credentials = json!({"username": "alice", "password": GOOD_PASSWORD});
    let registered = http
        .post(format!("{base}/register"))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);

    let in_flight = tokio::spawn({
        let http = http.clone();
        let url = format!("{base}/login");
        async move {
            http.post(url)
                .json(&credentials)
                .send()
                .await
                .map(|r| r.status())
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());

    let status = in_flight
        .await
        .unwrap()
        .expect("the in-flight sign-in is answered");
    assert_eq!(status, 200);
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");

    let lines = lines.join().unwrap();
    let requests: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["message"] == "request")
        .collect();
    assert!(!requests.is_empty(), "no request lines in {lines:#?}");
    for line in &lines {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "not a JSON line: {line}"
        );
        assert!(
            !line.contains(GOOD_PASSWORD) && !line.contains(TEST_SECRET),
            "secret in the log: {line}"
        );
    }
    let login = requests
        .iter()
        .find(|r| r["path"] == "/login")
        .expect("the sign-in is logged");
    assert_eq!(login["status"], 200);
    assert_eq!(login["method"], "POST");
    assert!(login["request_id"].is_string() && login["latency_ms"].is_number());
}
