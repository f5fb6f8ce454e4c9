//! `POST /token/refresh`.

use rocket::http::Status;
use rocket::{Route, State, post, routes};

use super::accounts::TokenBody;
use super::body::{BodyKind, Input};
use super::reply::Reply;
use crate::auth::Accounts;
use crate::auth::audit::Origin;
use crate::db::Db;
use crate::domain::FieldErrors;
use crate::error::ApiError;

pub fn routes() -> Vec<Route> {
    routes![refresh]
}

/// Rotates a refresh token: `{"refresh_token"}` → a new token pair of the same session.
/// Browsers never call this: their cookies are renewed transparently by the guard.
#[post("/token/refresh", data = "<input>")]
async fn refresh(
    db: &Db,
    accounts: &State<Accounts>,
    origin: Origin,
    mut input: Input,
) -> Result<Reply, ApiError> {
    if input.kind != BodyKind::Json {
        return Err(ApiError::UnsupportedMediaType);
    }
    let mut errors = FieldErrors::default();
    let token = input
        .fields
        .text("refresh_token", &mut errors)
        .ok_or(ApiError::InvalidInput(errors))?;
    let sign_in = accounts.refresh(db, &token, &origin).await?;
    Ok(Reply::json(Status::Ok, &TokenBody::from(sign_in)))
}
