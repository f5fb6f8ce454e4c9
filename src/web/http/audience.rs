//! Who a request is from: a JSON client or a browser (docs/api.md §1).

use rocket::Route;
use rocket::http::Status;
use rocket::http::{MediaType, Method};
use rocket::request::{FromRequest, Outcome, Request};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Gets JSON, errors included.
    Json,
    /// Gets HTML pages and redirects, errors included.
    Browser,
}

impl Audience {
    /// JSON on the JSON-only endpoints, whoever asks (docs/api.md §1: a browser asking
    /// for `/protected` gets the JSON 401 too); otherwise JSON when the body is JSON, a browser
    /// when it posts a form, and for bodiless requests whoever prefers `text/html` is a browser.
    pub fn of(req: &Request<'_>) -> Self {
        if req.route().is_some_and(is_json_only) {
            return Self::Json;
        }
        if let Some(ct) = req.content_type() {
            if ct.is_json() {
                return Self::Json;
            }
            if ct.is_form() || ct.is_form_data() {
                return Self::Browser;
            }
        }
        match req.accept() {
            Some(accept) if accept.preferred().media_type() == &MediaType::HTML => Self::Browser,
            _ => Self::Json,
        }
    }
}

/// Endpoints that exist only as JSON: they never answer with a page.
fn is_json_only(route: &Route) -> bool {
    match route.method {
        Method::Get => matches!(
            route.uri.as_str(),
            "/protected"
                | "/me"
                | "/sessions"
                | "/healthz"
                | "/readyz"
                | "/openapi.json"
                | "/metrics"
                | "/.well-known/jwks.json"
        ),
        Method::Post => route.uri.as_str() == "/token/refresh",
        _ => false,
    }
}

/// A request from a browser: pages are for browsers, JSON clients get the JSON 404
/// (docs/api.md §1).
pub struct BrowserRequest;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for BrowserRequest {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        match Audience::of(req) {
            Audience::Browser => Outcome::Success(BrowserRequest),
            Audience::Json => Outcome::Error((Status::NotFound, ())),
        }
    }
}
