//! Server-rendered pages (askama templates in `templates/`).

use std::io::Cursor;

use askama::Template;
use rocket::http::{ContentType, Status};
use rocket::request::Request;
use rocket::response::{self, Response};

use crate::error::ApiError;

/// An error in the site's layout.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub title: &'a str,
    pub status: u16,
    pub reason: &'a str,
    pub message: &'a str,
    pub retry_after: Option<u64>,
}

/// Renders an [`ApiError`] as a page; the status and headers are set by the caller.
pub fn error_page(error: &ApiError, _req: &Request<'_>) -> response::Result<'static> {
    let status = error.status();
    let retry_after = match error {
        ApiError::TooManyRequests { retry_after } => Some(*retry_after),
        _ => None,
    };
    let page = ErrorPage {
        title: status.reason().unwrap_or("Error"),
        status: status.code,
        reason: status.reason().unwrap_or("Error"),
        message: error.message(),
        retry_after,
    };
    html(&page)
}

/// Renders a template into an HTML response.
pub fn html(page: &impl Template) -> response::Result<'static> {
    let body = page.render().map_err(|e| {
        log::error!("template rendering failed: {e}");
        Status::InternalServerError
    })?;
    Ok(Response::build()
        .header(ContentType::HTML)
        .sized_body(body.len(), Cursor::new(body))
        .finalize())
}
