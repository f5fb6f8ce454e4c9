//! `GET /.well-known/jwks.json`: the server's published public keys (RFC 7517, RFC 8037), for
//! services that verify gatehouse tokens without any secret. Cacheable for `jwks_max_age`; a
//! new key is published two of those before it signs.

use std::sync::Arc;

use rocket::http::{ContentType, Header};
use rocket::request::Request;
use rocket::response::{self, Responder};
use rocket::serde::json::Json;
use rocket::{Route, State, get, routes};
use serde_json::Value;

use crate::auth::keys::signing::SigningKeys;

pub fn routes() -> Vec<Route> {
    routes![jwks]
}

pub const PATH: &str = "/.well-known/jwks.json";

/// The published set and how long it may be cached; managed as state.
pub struct PublishedKeys {
    pub keys: Arc<SigningKeys>,
    pub max_age: u64,
}

/// The set, `Cache-Control: public, max-age=…` (the headers fairing leaves it be).
pub struct KeySet(Value, u64);

impl<'r> Responder<'r, 'static> for KeySet {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let mut response = Json(self.0).respond_to(req)?;
        response.set_header(ContentType::new("application", "jwk-set+json"));
        response.set_header(Header::new(
            "Cache-Control",
            format!("public, max-age={}", self.1),
        ));
        Ok(response)
    }
}

#[get("/.well-known/jwks.json")]
fn jwks(published: &State<PublishedKeys>) -> KeySet {
    KeySet(published.keys.jwks(), published.max_age)
}
