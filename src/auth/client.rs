//! Who is asking, as plain values: the web layer reads them off the request, the core records them
//! on sessions and in the security log.

use std::net::IpAddr;

/// Where a request came from, for the security log.
#[derive(Debug, Clone)]
pub struct Origin {
    pub ip: Option<IpAddr>,
    pub request_id: String,
}

impl Origin {
    /// The origin of an operator's command: no address, a fixed id.
    pub fn command_line() -> Self {
        Self {
            ip: None,
            request_id: "cli".to_owned(),
        }
    }
}

/// The client of a sign-in or registration: recorded on the session it opens.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub user_agent: Option<String>,
    pub origin: Origin,
    /// The browser's device cookie, when it has one (see `devices.rs`).
    pub device: Option<String>,
}

impl ClientInfo {
    pub fn ip(&self) -> Option<IpAddr> {
        self.origin.ip
    }

    /// What a client is recognised by on its next sign-in: its user agent and its network (the
    /// throttles' client key), digested, so the table of known clients holds neither.
    pub fn digest(&self) -> Vec<u8> {
        let seen = format!(
            "{}\n{}",
            self.user_agent.as_deref().unwrap_or(""),
            super::throttle::client_key(self.ip())
        );
        super::token_digest(&seen)
    }
}
