//! `POST /token/refresh`.

use rocket::http::Status;
use rocket::{Route, State, post, routes};

use super::accounts::TokenBody;
use super::body::{BodyKind, Input};
use super::error::ApiError;
use super::reply::Reply;
use crate::auth::{Origin, Sessions};
use crate::domain::FieldErrors;

pub fn routes() -> Vec<Route> {
    routes![refresh]
}

/// Rotates a refresh token: `{"refresh_token"}` → a new token pair of the same session.
/// Browsers never call this: their cookies are renewed transparently by the guard.
#[post("/token/refresh", data = "<input>")]
async fn refresh(
    sessions: &State<Sessions>,
    origin: Origin,
    input: Result<Input, ApiError>,
) -> Result<Reply, ApiError> {
    let mut input = input?;
    if input.kind != BodyKind::Json {
        return Err(ApiError::UnsupportedMediaType);
    }
    let mut errors = FieldErrors::default();
    let token = input
        .fields
        .text("refresh_token", &mut errors)
        .ok_or(ApiError::InvalidInput(errors))?;
    let sign_in = sessions.refresh(&token, &origin).await?;
    Reply::json(Status::Ok, &TokenBody::from(sign_in))
}
