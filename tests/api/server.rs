//! The real server over TCP on port 0.

use rocket::fairing::AdHoc;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::helpers::{GOOD_PASSWORD, fresh_database, test_figment};

/// Launches the real server on a free port and returns its base URL.
pub async fn launch_server(database_url: &str) -> String {
    let (port_tx, port_rx) = oneshot::channel();
    let port_tx = std::sync::Mutex::new(Some(port_tx));
    let figment = test_figment(database_url).merge(("port", 0)).merge((
        "security_log",
        crate::helpers::security_log_path(database_url),
    ));
    let rocket =
        gatehouse::build(figment).attach(AdHoc::on_liftoff("report port", move |rocket| {
            let port = rocket.config().port;
            Box::pin(async move {
                if let Some(tx) = port_tx.lock().unwrap().take() {
                    let _ = tx.send(port);
                }
            })
        }));
    tokio::spawn(async move {
        let _ = rocket.launch().await;
    });
    let port = port_rx.await.expect("the server lifts off");
    format!("http://127.0.0.1:{port}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_login_protected_over_tcp() {
    let base = launch_server(&fresh_database().await).await;
    let http = reqwest::Client::new();
    let credentials = json!({"username": "tcp-user", "password": GOOD_PASSWORD});

    let registered = http
        .post(format!("{base}/register"))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);

    let login: Value = http
        .post(format!("{base}/login"))
        .json(&credentials)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap();

    let protected = http
        .get(format!("{base}/protected"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(protected.status(), 200);
    assert!(protected.headers().get("server").is_none());
    let body: Value = protected.json().await.unwrap();
    assert_eq!(body["message"], "Welcome, tcp-user!");
}
