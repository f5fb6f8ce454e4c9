//! Revocation across instances: done when the revoking response is sent, and never trusted from
//! memory by an instance whose link to the database has silently died (docs/api.md §3).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rocket::http::{Method, Status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::app::TestApp;

/// Waits until `app` has heard `peers` other instances (their heartbeats), as its metrics say.
async fn until_peers(app: &TestApp, peers: usize) {
    let wanted = format!("gatehouse_revocation_peers {peers}");
    let started = Instant::now();
    loop {
        let metrics = app
            .client
            .get("/metrics")
            .remote("127.0.0.1:50000".parse().unwrap())
            .dispatch()
            .await
            .into_string()
            .await
            .unwrap_or_default();
        if metrics.contains(&wanted) {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{metrics}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn twenty_logouts_on_one_instance_are_refused_at_once_on_the_other() {
    let app = TestApp::spawn_with(|f| f.merge(("metrics_enabled", true))).await;
    let other = app
        .another_instance_with(|f| f.merge(("metrics_enabled", true)))
        .await;
    until_peers(&app, 1).await;
    until_peers(&other, 1).await;
    app.register("alice", crate::support::app::GOOD_PASSWORD)
        .await;

    for round in 0..20 {
        let token = app.login_tokens("alice").await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            other.get_with_bearer("/protected", &token).await.status,
            Status::Ok,
            "round {round}: accepted before"
        );

        let logout = app.bearer(Method::Post, "/logout", &token, None).await;
        assert_eq!(logout.status, Status::NoContent);

        // No waiting: the logout's answer means every instance refuses the token.
        other
            .get_with_bearer("/protected", &token)
            .await
            .assert_error(Status::Unauthorized, "invalid_token");
    }
}

/// A TCP proxy to PostgreSQL that can freeze: every byte stops, no connection closes, as when a
/// route drops silently.
struct FreezingProxy {
    address: String,
    frozen: Arc<AtomicBool>,
}

impl FreezingProxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let frozen = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&frozen);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pipe(client_read, server_write, Arc::clone(&flag)));
                tokio::spawn(pipe(server_read, client_write, Arc::clone(&flag)));
            }
        });
        Self { address, frozen }
    }

    fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }
}

/// Copies bytes until frozen; then holds both ends open forever, passing nothing.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let Ok(n) = from.read(&mut buffer).await else {
            return;
        };
        if n == 0 {
            return;
        }
        if frozen.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn an_instance_cut_off_silently_stops_trusting_what_it_remembers() {
    let app = TestApp::spawn_with(|f| f.merge(("metrics_enabled", true))).await;
    let (prefix, rest) = app.database_url.split_once('@').unwrap();
    let (host_port, database) = rest.split_once('/').unwrap();
    let proxy = FreezingProxy::start(host_port.to_owned()).await;
    let proxied = format!("{prefix}@{}/{database}", proxy.address);
    let other = app
        .another_instance_with(|f| {
            f.merge(("databases.main.url", &proxied))
                .merge(("metrics_enabled", true))
        })
        .await;
    until_peers(&app, 1).await;
    let token = app.signed_in("alice").await;
    assert_eq!(
        other.get_with_bearer("/protected", &token).await.status,
        Status::Ok
    );

    proxy.freeze();
    let logout = app.bearer(Method::Post, "/logout", &token, None).await;
    assert_eq!(logout.status, Status::NoContent);

    // The cut-off instance cannot have heard of the logout, and must not accept the token from
    // memory: it no longer trusts its set, and the database does not answer it.
    let response = other.get_with_bearer("/protected", &token).await;
    assert!(
        response.status == Status::ServiceUnavailable || response.status == Status::Unauthorized,
        "{response:?}"
    );
    assert_ne!(response.status, Status::Ok);
}
