//! `POST /register` and `POST /login`.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State, post, routes};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::Client;
use super::body::Input;
use crate::auth::{Accounts, SignIn};
use crate::db::{Db, users::User};
use crate::domain::RawCredentials;
use crate::error::ApiError;

pub fn routes() -> Vec<Route> {
    routes![register, login]
}

/// `{"id","username","created_at"}`.
#[derive(Debug, Serialize)]
pub struct UserBody {
    pub id: Uuid,
    pub username: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<User> for UserBody {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            username: user.username,
            created_at: user.created_at,
        }
    }
}

/// The token response; `token` repeats `access_token` under the seed's name.
#[derive(Debug, Serialize)]
pub struct TokenBody {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub refresh_token: String,
    pub token: String,
}

impl From<SignIn> for TokenBody {
    fn from(sign_in: SignIn) -> Self {
        Self {
            token: sign_in.access_token.clone(),
            access_token: sign_in.access_token,
            token_type: "Bearer",
            expires_in: sign_in.expires_in,
            refresh_token: sign_in.refresh_token,
        }
    }
}

#[post("/register", data = "<input>")]
async fn register(
    db: &Db,
    accounts: &State<Accounts>,
    mut input: Input,
) -> Result<(Status, Json<UserBody>), ApiError> {
    let raw = RawCredentials::try_from(&mut input.fields).map_err(ApiError::InvalidInput)?;
    let user = accounts.register(db, raw).await?;
    Ok((Status::Created, Json(user.into())))
}

#[post("/login", data = "<input>")]
async fn login(
    db: &Db,
    accounts: &State<Accounts>,
    client: Client,
    mut input: Input,
) -> Result<Json<TokenBody>, ApiError> {
    let raw = RawCredentials::try_from(&mut input.fields).map_err(ApiError::InvalidInput)?;
    let sign_in = accounts.sign_in(db, raw, client.0).await?;
    Ok(Json(sign_in.into()))
}
