//! The real server over TCP on port 0.

use rocket::fairing::AdHoc;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::support::app::{GOOD_PASSWORD, fresh_database, test_figment};

/// Launches the real server on a free port and returns its base URL.
pub async fn launch_server(database_url: &str) -> String {
    launch_server_at(database_url, "127.0.0.1").await
}

/// [`launch_server`] reached as `http://<host>:<port>`, which is also its `public_origin` (the
/// `Origin` its pages send, and the WebAuthn relying party): `localhost` for passkeys.
pub async fn launch_server_at(database_url: &str, host: &str) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let base = format!("http://{host}:{port}");
    let figment = test_figment(database_url)
        .merge(("port", port))
        .merge(("public_origin", &base))
        .merge((
            "security_log",
            crate::support::app::security_log_path(database_url),
        ));
    let (ready_tx, ready_rx) = oneshot::channel();
    let ready_tx = std::sync::Mutex::new(Some(ready_tx));
    let rocket = gatehouse::build(figment).attach(AdHoc::on_liftoff("report ready", move |_| {
        Box::pin(async move {
            if let Some(tx) = ready_tx.lock().unwrap().take() {
                let _ = tx.send(());
            }
        })
    }));
    tokio::spawn(async move {
        let _ = rocket.launch().await;
    });
    ready_rx.await.expect("the server lifts off");
    base
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_2_mib_body_gets_413_before_any_work() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let database_url = fresh_database().await;
    let base = launch_server(&database_url).await;
    let address = base.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();

    // 2 MiB in 64 KiB chunks, without a Content-Length. The server may answer and close before
    // all of it is sent, so the writer runs on its own and its errors are expected.
    let writing = tokio::spawn(async move {
        let head = format!(
            "POST /register HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        );
        writer.write_all(head.as_bytes()).await?;
        let mut first = br#"{"username":"alice","password":""#.to_vec();
        first.resize(64 * 1024, b'x');
        for i in 0..32 {
            let chunk = if i == 0 {
                first.clone()
            } else {
                vec![b'x'; 64 * 1024]
            };
            writer
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            writer.write_all(&chunk).await?;
            writer.write_all(b"\r\n").await?;
        }
        writer.write_all(b"0\r\n\r\n").await?;
        Ok::<_, std::io::Error>(())
    });
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&response).contains("payload_too_large") {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
        }
    }
    let _ = writing.await;

    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(
        response.contains(r#""error":"payload_too_large""#),
        "{response}"
    );
    let pool = sqlx::PgPool::connect(&database_url).await.unwrap();
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, 0);
}
