//! A real SMTP server for the mail tests (`mailin-embedded`, on a loopback port of its own):
//! the server under test talks SMTP to it over a socket, and the tests read what it received.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailin_embedded::response::OK;
use mailin_embedded::{Handler, Response, Server, SslConfig};

/// One received mail, parsed.
#[derive(Debug, Clone)]
pub struct Received {
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    pub message_id: String,
}

impl Received {
    /// The first line of the body starting with `prefix` (the mailed link).
    pub fn link(&self, prefix: &str) -> Option<String> {
        self.body
            .lines()
            .find(|l| l.contains(prefix))
            .map(|l| l.trim().to_owned())
    }

    /// The `token` of the mailed link to `path`.
    pub fn token(&self, path: &str) -> String {
        let link = self
            .link(&format!("{path}?token="))
            .unwrap_or_else(|| panic!("no {path} link in: {}", self.body));
        link.rsplit_once("token=").unwrap().1.to_owned()
    }
}

#[derive(Clone)]
struct Collect {
    received: Arc<Mutex<Vec<Received>>>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Collect {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let parsed = mail_parser::MessageParser::default()
            .parse(&self.data)
            .expect("a parsable mail");
        self.received.lock().unwrap().push(Received {
            to: self.to.clone(),
            subject: parsed.subject().unwrap_or_default().to_owned(),
            body: parsed.body_text(0).unwrap_or_default().into_owned(),
            message_id: parsed.message_id().unwrap_or_default().to_owned(),
        });
        OK
    }
}

pub struct MailSink {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

/// A loopback port nothing listens on (yet).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl MailSink {
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// Listens on `port`; serves until the test process ends.
    pub fn start_on(port: u16) -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("the port is free");
        let mut server = Server::new(Collect {
            received: Arc::clone(&received),
            to: Vec::new(),
            data: Vec::new(),
        });
        server
            .with_name("sink.test")
            .with_ssl(SslConfig::None)
            .expect("no TLS")
            .with_num_threads(4)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Self { port, received }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Mails to `address` so far.
    pub fn to(&self, address: &str) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address)))
            .collect()
    }

    /// Waits (at most 20 s) until `address` has received `n` mails; returns them.
    pub async fn wait_for(&self, address: &str, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mails = self.to(address);
            if mails.len() >= n {
                return mails;
            }
            assert!(
                Instant::now() < deadline,
                "{address} got {} mails, not {n}: {mails:#?}",
                mails.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The `n`-th mail (1-based) to `address`, waited for.
    pub async fn nth(&self, address: &str, n: usize) -> Received {
        self.wait_for(address, n).await[n - 1].clone()
    }
}
