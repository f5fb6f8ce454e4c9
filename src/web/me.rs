//! `GET /protected` and `GET /me`.

use rocket::serde::json::Json;
use rocket::{Route, get, routes};
use serde::Serialize;

use super::accounts::UserBody;
use crate::auth::AuthUser;
use crate::db::{self, Db};
use crate::error::ApiError;

pub fn routes() -> Vec<Route> {
    routes![protected, me]
}

#[derive(Debug, Serialize)]
pub struct Welcome {
    pub message: String,
    pub username: String,
}

/// The seed's protected endpoint: a welcome for the holder of a valid token.
#[get("/protected")]
fn protected(user: AuthUser) -> Json<Welcome> {
    Json(Welcome {
        message: format!("Welcome, {}!", user.username),
        username: user.username,
    })
}

#[get("/me")]
async fn me(db: &Db, user: AuthUser) -> Result<Json<UserBody>, ApiError> {
    let found = db::users::find_user(db, user.user_id).await?;
    let user = found.ok_or(ApiError::InvalidToken("user gone"))?;
    Ok(Json(user.into()))
}
