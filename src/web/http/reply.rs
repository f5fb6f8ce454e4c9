//! One response type for handlers that answer both audiences.

use askama::Template;
use rocket::http::{Header, Status};
use rocket::request::Request;
use rocket::response::content::{RawHtml, RawJson};
use rocket::response::{self, Flash, Redirect, Responder};
use serde::Serialize;

use crate::web::http::error::ApiError;

pub enum Reply {
    /// A serialised JSON body with a status.
    Json(Status, String),
    /// A rendered page with a status.
    Page(Status, String),
    /// `303 See Other`.
    Redirect(Box<Redirect>),
    /// `303 See Other` with a one-time message for the next page.
    Flash(Box<Flash<Redirect>>),
    /// `204 No Content`.
    NoContent,
}

impl Reply {
    pub fn json(status: Status, body: &impl Serialize) -> Result<Self, ApiError> {
        serde_json::to_string(body)
            .map(|value| Self::Json(status, value))
            .map_err(|e| ApiError::Internal(e.into()))
    }

    pub fn page(status: Status, page: &impl Template) -> Result<Self, ApiError> {
        page.render()
            .map(|html| Self::Page(status, html))
            .map_err(|e| ApiError::Internal(e.into()))
    }

    /// A `303` to a local path with a one-time message for the page there.
    pub fn flash(path: &str, message: impl Into<String>) -> Self {
        Self::Flash(Box::new(Flash::success(
            Redirect::to(path.to_owned()),
            message.into(),
        )))
    }

    /// A `303` to a local path.
    pub fn see_other(path: &str) -> Self {
        Self::Redirect(Box::new(Redirect::to(path.to_owned())))
    }
}

impl<'r> Responder<'r, 'static> for Reply {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        match self {
            Self::Json(status, body) => (status, RawJson(body)).respond_to(req),
            Self::Page(status, html) => {
                let mut response = (status, RawHtml(html)).respond_to(req)?;
                // Every 401 carries a Bearer challenge (RFC 6750 3), pages included.
                if status == Status::Unauthorized {
                    response.set_header(Header::new(
                        "WWW-Authenticate",
                        r#"Bearer realm="gatehouse""#,
                    ));
                }
                Ok(response)
            }
            Self::Redirect(redirect) => redirect.respond_to(req),
            Self::Flash(flash) => flash.respond_to(req),
            Self::NoContent => Status::NoContent.respond_to(req),
        }
    }
}
