//! Every error Rocket itself produces (unmatched routes, failed guards, oversized bodies …) goes
//! through [`ApiError`], so JSON clients always get the JSON error shape and browsers a page.

use rocket::http::Status;
use rocket::request::Request;
use rocket::{Catcher, catch, catchers};

use crate::error::{self, ApiError};

pub fn catchers() -> Vec<Catcher> {
    catchers![default]
}

#[catch(default)]
fn default(status: Status, req: &Request<'_>) -> ApiError {
    match error::take_stashed(req) {
        Some(stashed) if stashed.status() == status => stashed,
        _ => ApiError::for_status(status),
    }
}
