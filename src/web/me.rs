//! `GET /protected`, `GET /me`, `POST /me/password`, `DELETE /me`.

use rocket::http::{CookieJar, Status};
use rocket::serde::json::Json;
use rocket::{Route, State, delete, get, post, routes};
use serde::Serialize;

use super::accounts::UserBody;
use super::body::{BodyKind, Input};
use super::pages::{DashboardNotice, dashboard_reply};
use super::reply::Reply;
use crate::auth::audit::Origin;
use crate::auth::csrf::CsrfKey;
use crate::auth::{Accounts, AuthError, AuthUser, cookies};
use crate::db::{self, Db};
use crate::domain::FieldErrors;
use crate::error::ApiError;

pub fn routes() -> Vec<Route> {
    routes![protected, me, change_password, delete_me]
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

/// What an account action needs to answer a browser: the dashboard is shown again on failure.
struct Dashboard<'a, 'r> {
    db: &'a Db,
    accounts: &'a Accounts,
    csrf_key: &'a CsrfKey,
    jar: &'a CookieJar<'r>,
    user: &'a AuthUser,
}

impl Dashboard<'_, '_> {
    /// Answers an account action: `204` to JSON clients; to browsers, `on_success`'s redirect, or
    /// the dashboard again with the status and a sentence saying what went wrong.
    async fn answer(
        &self,
        kind: BodyKind,
        result: Result<(), AuthError>,
        on_success: impl FnOnce() -> Reply,
        what: &str,
    ) -> Result<Reply, ApiError> {
        let error = match (kind, result) {
            (BodyKind::Json, result) => {
                return result.map(|()| Reply::NoContent).map_err(Into::into);
            }
            (BodyKind::Form, Ok(())) => return Ok(on_success()),
            (BodyKind::Form, Err(error)) => error,
        };
        let (status, message) = match error {
            AuthError::WrongPassword => (
                Status::Forbidden,
                format!("{what}: the password is incorrect."),
            ),
            AuthError::InvalidInput(fields) => (
                Status::UnprocessableEntity,
                format!("{what}: {}", describe(&fields)),
            ),
            other => return Err(other.into()),
        };
        let notice = DashboardNotice::Error(message);
        dashboard_reply(
            self.db,
            self.accounts,
            self.csrf_key,
            self.jar,
            self.user,
            status,
            notice,
        )
        .await
    }
}

/// Field problems as one sentence for a page.
fn describe(fields: &FieldErrors) -> String {
    fields
        .iter()
        .map(|(field, problems)| format!("{} {}", field.replace('_', " "), problems.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
        + "."
}

/// `{"current_password","new_password"}` → `204`; every other session of the user ends.
#[post("/me/password", data = "<input>")]
async fn change_password(
    db: &Db,
    accounts: &State<Accounts>,
    csrf_key: &State<CsrfKey>,
    jar: &CookieJar<'_>,
    user: AuthUser,
    origin: Origin,
    mut input: Input,
) -> Result<Reply, ApiError> {
    let mut errors = FieldErrors::default();
    let current = input.fields.text("current_password", &mut errors);
    let new = input.fields.text("new_password", &mut errors);
    let result = match (current, new) {
        (Some(current), Some(new)) => {
            accounts
                .change_password(db, &user, current, new, &origin)
                .await
        }
        _ => Err(AuthError::InvalidInput(errors)),
    };
    let dashboard = Dashboard {
        db,
        accounts,
        csrf_key,
        jar,
        user: &user,
    };
    let changed = || {
        Reply::flash(
            "/dashboard",
            "Your password was changed. Every other session was signed out.",
        )
    };
    dashboard
        .answer(input.kind, result, changed, "The password was not changed")
        .await
}

/// `{"password"}` → `204`; the account, its sessions and their tokens are gone at once.
#[delete("/me", data = "<input>")]
async fn delete_me(
    db: &Db,
    accounts: &State<Accounts>,
    csrf_key: &State<CsrfKey>,
    jar: &CookieJar<'_>,
    user: AuthUser,
    origin: Origin,
    mut input: Input,
) -> Result<Reply, ApiError> {
    let mut errors = FieldErrors::default();
    let result = match input.fields.text("password", &mut errors) {
        Some(password) => accounts.delete_account(db, &user, password, &origin).await,
        None => Err(AuthError::InvalidInput(errors)),
    };
    let dashboard = Dashboard {
        db,
        accounts,
        csrf_key,
        jar,
        user: &user,
    };
    let deleted = || {
        cookies::remove_session_cookies(accounts.settings(), jar);
        Reply::flash("/", "Your account was deleted.")
    };
    dashboard
        .answer(input.kind, result, deleted, "The account was not deleted")
        .await
}
