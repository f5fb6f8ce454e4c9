//! The security log: one JSON line per security event (OWASP ASVS 16.2/16.3; OWASP Logging Cheat
//! Sheet). Never a password, token, cookie or hash; usernames are JSON-escaped, so control
//! characters cannot forge lines.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::net::IpAddr;
use std::sync::Mutex;

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::caller::Caller;

/// Usernames in the log are cut to this many characters: a rejected one may be anything.
const MAX_NAME_CHARS: usize = 64;

/// One security event.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// e.g. `login`, `register`, `logout`, `token_rejected`.
    pub kind: &'static str,
    /// e.g. `success`, `wrong_password`, `unknown_user`, `throttled`.
    pub outcome: &'static str,
    pub user_id: Option<Uuid>,
    /// The canonical username, when there is no user id (or next to it).
    pub username: Option<&'a str>,
    pub session_id: Option<Uuid>,
}

impl<'a> Event<'a> {
    pub fn new(kind: &'static str, outcome: &'static str) -> Self {
        Self {
            kind,
            outcome,
            user_id: None,
            username: None,
            session_id: None,
        }
    }

    pub fn user(mut self, user_id: Uuid) -> Self {
        self.user_id = Some(user_id);
        self
    }

    pub fn username(mut self, username: &'a str) -> Self {
        self.username = Some(username);
        self
    }

    pub fn session(mut self, session_id: Uuid) -> Self {
        self.session_id = Some(session_id);
        self
    }
}

#[derive(Serialize)]
struct Line<'a> {
    #[serde(with = "time::serde::rfc3339")]
    time: OffsetDateTime,
    security_event: &'static str,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<Uuid>,
    ip: Option<IpAddr>,
    request_id: &'a str,
}

pub struct SecurityLog {
    /// A file, or `None` for the tracing subscriber (the process's log).
    sink: Option<Mutex<Box<dyn Write + Send>>>,
    /// Events by kind and outcome since start, for the metrics.
    counts: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

impl SecurityLog {
    /// Appends JSON lines to `path`, or logs through `tracing` (target `gatehouse::security`)
    /// when there is none.
    pub fn open(path: Option<&str>) -> std::io::Result<Self> {
        let sink = match path {
            Some(path) => {
                let file = OpenOptions::new().create(true).append(true).open(path)?;
                Some(Mutex::new(Box::new(file) as Box<dyn Write + Send>))
            }
            None => None,
        };
        Ok(Self {
            sink,
            counts: Mutex::new(BTreeMap::new()),
        })
    }

    /// How many events of each kind and outcome were recorded since start.
    pub fn counts(&self) -> Vec<((&'static str, &'static str), u64)> {
        self.counts
            .lock()
            .map(|c| c.iter().map(|(k, v)| (*k, *v)).collect())
            .unwrap_or_default()
    }

    pub fn record(&self, caller: &Caller, event: Event<'_>) {
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry((event.kind, event.outcome)).or_default() += 1;
        }
        let line = Line {
            time: OffsetDateTime::now_utc(),
            security_event: event.kind,
            outcome: event.outcome,
            user_id: event.user_id,
            username: event
                .username
                .map(|n| n.chars().take(MAX_NAME_CHARS).collect()),
            session_id: event.session_id,
            ip: caller.ip,
            request_id: &caller.request_id,
        };
        let Some(sink) = &self.sink else {
            tracing::info!(
                target: "gatehouse::security",
                security_event = line.security_event,
                outcome = line.outcome,
                user_id = line.user_id.map(tracing::field::display),
                username = line.username.as_deref().map(tracing::field::debug),
                session_id = line.session_id.map(tracing::field::display),
                ip = line.ip.map(tracing::field::display),
                request_id = line.request_id,
                "security event"
            );
            return;
        };
        let Ok(mut json) = serde_json::to_vec(&line) else {
            return;
        };
        json.push(b'\n');
        if let Ok(mut sink) = sink.lock() {
            // One write per line, so concurrent events never interleave within a line.
            let _ = sink.write_all(&json).and_then(|()| sink.flush());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Shared(std::sync::Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_line_escapes_control_characters_and_carries_the_context() {
        let buffer = std::sync::Arc::new(Mutex::new(Vec::new()));
        let log = SecurityLog {
            sink: Some(Mutex::new(Box::new(Shared(buffer.clone())))),
            counts: Mutex::new(BTreeMap::new()),
        };
        let caller = Caller {
            ip: Some("192.0.2.1".parse().unwrap()),
            request_id: "req-1".into(),
        };

        log.record(
            &caller,
            Event::new("login", "unknown_user").username("evil\n{\"forged\":true}\u{1b}[31m"),
        );

        let written = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        assert_eq!(written.lines().count(), 1, "{written}");
        let line: serde_json::Value = serde_json::from_str(written.trim()).unwrap();
        assert_eq!(line["security_event"], "login");
        assert_eq!(line["outcome"], "unknown_user");
        assert_eq!(line["ip"], "192.0.2.1");
        assert_eq!(line["request_id"], "req-1");
        assert!(line["username"].as_str().unwrap().contains('\n'));
        assert!(written.contains("\\n") && written.contains("\\u001b"));
        assert_eq!(log.counts(), [(("login", "unknown_user"), 1)]);
    }
}
