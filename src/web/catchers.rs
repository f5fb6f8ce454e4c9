//! Every error Rocket itself produces (unmatched routes, guards that reject, oversized bodies …)
//! goes through [`ApiError`], so JSON clients always get the JSON error shape and browsers a page.

use rocket::http::{Method, Status};
use rocket::request::Request;
use rocket::{Catcher, catch, catchers};

use super::error::ApiError;

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
    ApiError::for_status(status)
}
