//! Who is asking, as plain values: the web layer reads them off the request, the core records them
//! on sessions and in the security log.

use std::net::IpAddr;

/// Where a request came from, for the security log.
#[derive(Debug, Clone)]
pub struct Caller {
    pub ip: Option<IpAddr>,
    pub request_id: String,
}

impl Caller {
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
    pub caller: Caller,
    /// The browser's device cookie, when it has one (see `devices.rs`).
    pub device: Option<String>,
}

impl ClientInfo {
    pub fn ip(&self) -> Option<IpAddr> {
        self.caller.ip
    }

    /// What a client is recognised by on its next sign-in: its user agent and its network (the
    /// throttles' client key), digested, so the table of known clients holds neither.
    pub fn digest(&self) -> Vec<u8> {
        let seen = format!(
            "{}\n{}",
            self.user_agent.as_deref().unwrap_or(""),
            client_key(self.ip())
        );
        crate::auth::keys::random::token_digest(&seen)
    }
}

/// The unit a client is counted by: its IPv4 address, or its IPv6 /64. One subscriber or host is
/// routinely given a whole /64 (RFC 6177), so counting full IPv6 addresses would hand every
/// client 2^64 budgets. IPv4-mapped IPv6 addresses count as the IPv4 address they carry.
pub fn client_key(ip: Option<IpAddr>) -> String {
    match ip.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str) -> String {
        client_key(Some(ip.parse().unwrap()))
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:ffff:1:2:3"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
        assert_eq!(client_key(None), "unknown");
    }
}
