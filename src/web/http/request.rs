//! What the core needs to know about a request, read off it here: the request id, the client's
//! address and user agent.

use std::convert::Infallible;

use rocket::request::{FromRequest, Outcome, Request};
use uuid::Uuid;

use crate::auth::{Caller, ClientInfo};
use crate::web::http::cookies::SessionCookies;

/// The id of a request: a valid `X-Request-Id` from the client or the proxy, else a new one.
/// Made on first use and kept for the request; the headers fairing echoes it in the response.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    /// Accepts an incoming id only if it is short and made of safe characters, so it cannot
    /// inject anything into logs or headers.
    pub fn from_header(value: Option<&str>) -> Self {
        match value {
            Some(v)
                if !v.is_empty()
                    && v.len() <= 64
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) =>
            {
                Self(v.to_owned())
            }
            _ => Self::generate(),
        }
    }

    /// A process-unique id: a random prefix drawn once per process and a counter, so ids from
    /// several instances do not collide and a request costs no system call for randomness.
    fn generate() -> Self {
        static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let prefix = PREFIX.get_or_init(|| Uuid::new_v4().simple().to_string()[..12].to_owned());
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self(format!("{prefix}-{n:x}"))
    }

    pub fn of<'r>(req: &'r Request<'_>) -> &'r str {
        let id: &RequestId =
            req.local_cache(|| RequestId::from_header(req.headers().get_one("X-Request-Id")));
        &id.0
    }
}

/// The client IP (as Rocket resolves it: the socket's unless `ip_header` names a trusted proxy
/// header) and the request id.
pub fn caller(req: &Request<'_>) -> Caller {
    Caller {
        ip: req.client_ip(),
        request_id: RequestId::of(req).to_owned(),
    }
}

/// What a sign-in records about the client: its origin and user agent, and its device cookie.
pub fn client_info(req: &Request<'_>) -> ClientInfo {
    let device = req
        .rocket()
        .state::<SessionCookies>()
        .and_then(|cookies| req.cookies().get(cookies.device_name()))
        .map(|cookie| cookie.value().to_owned());
    ClientInfo {
        user_agent: req.headers().get_one("User-Agent").map(str::to_owned),
        caller: caller(req),
        device,
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Caller {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Infallible> {
        Outcome::Success(caller(req))
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientInfo {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Infallible> {
        Outcome::Success(client_info(req))
    }
}
