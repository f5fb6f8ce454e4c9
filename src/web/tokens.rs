//! `POST /token/refresh`.

use rocket::http::Status;
use rocket::{Route, State, post, routes};

use crate::auth::{Caller, Sessions};
use crate::domain::FieldErrors;
use crate::web::bodies::TokenBody;
use crate::web::http::body::{BodyKind, Input};
use crate::web::http::error::ApiError;
use crate::web::http::reply::Reply;

pub fn routes() -> Vec<Route> {
    routes![refresh]
}

/// Rotates a refresh token: `{"refresh_token"}` → a new token pair of the same session.
/// Browsers never call this: their cookies are renewed transparently by the guard.
#[post("/token/refresh", data = "<input>")]
async fn refresh(
    sessions: &State<Sessions>,
    caller: Caller,
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
    let sign_in = sessions.refresh(&token, &caller).await?;
    Reply::json(Status::Ok, &TokenBody::from(sign_in))
}
