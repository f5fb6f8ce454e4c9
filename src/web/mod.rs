//! Thin adapters: read input, call the core, render JSON or a page by audience.

pub mod accounts;
pub mod audience;
pub mod body;
pub mod catchers;
pub mod headers;
pub mod me;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod reply;
pub mod sessions;
pub mod tokens;

use rocket::request::Request;

use crate::auth::ClientInfo;
use crate::auth::audit::Origin;

/// What a sign-in records about the client: its user agent, and its IP as Rocket resolves it
/// (the socket's, unless `ip_header` names a trusted proxy header).
pub fn client_info(req: &Request<'_>) -> ClientInfo {
    ClientInfo {
        user_agent: req.headers().get_one("User-Agent").map(str::to_owned),
        origin: Origin::of(req),
    }
}

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for Origin {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> rocket::request::Outcome<Self, Self::Error> {
        rocket::request::Outcome::Success(Origin::of(req))
    }
}

/// The client info of the current request, as a request guard.
pub struct Client(pub ClientInfo);

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for Client {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> rocket::request::Outcome<Self, Self::Error> {
        rocket::request::Outcome::Success(Client(client_info(req)))
    }
}
