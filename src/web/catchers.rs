//! Every error Rocket itself produces (unmatched routes, failed guards, oversized bodies …) goes
//! through [`ApiError`], so JSON clients always get the JSON error shape and browsers a page.

use rocket::http::{Method, Status};
use rocket::request::Request;
use rocket::{Catcher, catch, catchers};

use crate::error::{self, ApiError};

pub fn catchers() -> Vec<Catcher> {
    catchers![default]
}

#[catch(default)]
fn default(status: Status, req: &Request<'_>) -> ApiError {
    // `TRACE` echoes a request back, cookies and all (cross-site tracing): no route serves it,
    // and it is answered 405 rather than 404.
    if req.method() == Method::Trace {
        return ApiError::MethodNotAllowed;
    }
    match error::take_stashed(req) {
        Some(stashed) if stashed.status() == status => stashed,
        _ => ApiError::for_status(status),
    }
}
