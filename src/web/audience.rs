//! Who a request is from: a JSON client or a browser (CONTRACT.md section 1).

use rocket::http::MediaType;
use rocket::request::Request;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Gets JSON, errors included.
    Json,
    /// Gets HTML pages and redirects, errors included.
    Browser,
}

impl Audience {
    /// JSON when the body is JSON; a browser when it posts a form; otherwise whoever prefers
    /// `text/html` is a browser and everyone else a JSON client.
    pub fn of(req: &Request<'_>) -> Self {
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
