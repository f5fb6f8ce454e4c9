//! `GET /protected`, `GET /me`, `POST /me/password`, `DELETE /me`.

use rocket::http::{CookieJar, Status};
use rocket::serde::json::Json;
use rocket::{Route, State, delete, get, post, routes};
use serde::Serialize;

use super::accounts::UserBody;
use super::body::{BodyKind, Input};
use super::cookies::SessionCookies;
use super::error::ApiError;
use super::fields::Fields;
use super::pages::{Dashboard, DashboardNotice, MfaPanel};
use super::reply::Reply;
use crate::auth::{Accounts, AuthError, AuthUser, Origin, TokenRejection};
use crate::domain::FieldErrors;

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
fn protected(user: Result<AuthUser, TokenRejection>) -> Result<Json<Welcome>, ApiError> {
    let user = user?;
    Ok(Json(Welcome {
        message: format!("Welcome, {}!", user.username),
        username: user.username,
    }))
}

/// `GET /me`: the account and its second factors.
#[derive(Debug, Serialize)]
pub struct MeBody {
    #[serde(flatten)]
    pub user: UserBody,
    /// The verified address, or `null`.
    pub email: Option<String>,
    pub email_verified: bool,
    /// An address waiting for its link to be followed, or `null`.
    pub email_pending: Option<String>,
    pub mfa: MfaBody,
}

#[derive(Debug, Serialize)]
pub struct MfaBody {
    pub totp: bool,
    pub passkeys: i64,
    pub recovery_codes_left: i64,
}

#[get("/me")]
async fn me(
    accounts: &State<Accounts>,
    user: Result<AuthUser, TokenRejection>,
) -> Result<Json<MeBody>, ApiError> {
    let user = user?;
    let found = accounts.find(&user).await?;
    let account = found.ok_or(ApiError::InvalidToken("user gone"))?;
    let factors = accounts.factor_status(&user).await?;
    let address = accounts.address_status(&user).await?;
    Ok(Json(MeBody {
        user: account.into(),
        email_verified: address.verified.is_some(),
        email: address.verified,
        email_pending: address.pending,
        mfa: MfaBody {
            totp: factors.totp,
            passkeys: factors.passkeys,
            recovery_codes_left: factors.recovery_codes_left,
        },
    }))
}

/// Answers an account action: `204` to JSON clients; to browsers, `on_success`'s redirect, or
/// the dashboard again with the status and a sentence saying what went wrong.
pub(super) async fn answer(
    dashboard: Dashboard<'_>,
    user: &AuthUser,
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
    dashboard
        .render(
            user,
            status,
            DashboardNotice::Error(message),
            MfaPanel::None,
        )
        .await
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

/// The text fields an action needs, or every problem with them.
pub(super) fn required<const N: usize>(
    fields: &mut Fields,
    names: [&'static str; N],
) -> Result<[String; N], AuthError> {
    let mut errors = FieldErrors::default();
    let values = names.map(|name| fields.text(name, &mut errors));
    if !errors.is_empty() {
        return Err(AuthError::InvalidInput(errors));
    }
    Ok(values.map(|v| v.expect("no errors means every field is present")))
}

/// `{"current_password","new_password"}` → `204`; every other session of the user ends.
#[post("/me/password", data = "<input>")]
async fn change_password(
    accounts: &State<Accounts>,
    dashboard: Dashboard<'_>,
    user: Result<AuthUser, TokenRejection>,
    origin: Origin,
    input: Result<Input, ApiError>,
) -> Result<Reply, ApiError> {
    let user = user?;
    let mut input = input?;
    let result = match required(&mut input.fields, ["current_password", "new_password"]) {
        Ok([current, new]) => accounts.change_password(&user, current, new, &origin).await,
        Err(e) => Err(e),
    };
    let changed = || {
        Reply::flash(
            "/dashboard",
            "Your password was changed. Every other session was signed out.",
        )
    };
    answer(
        dashboard,
        &user,
        input.kind,
        result,
        changed,
        "The password was not changed",
    )
    .await
}

/// `{"password"}` → `204`; the account, its sessions and their tokens are gone at once.
#[delete("/me", data = "<input>")]
async fn delete_me(
    accounts: &State<Accounts>,
    cookies: &State<SessionCookies>,
    jar: &CookieJar<'_>,
    dashboard: Dashboard<'_>,
    user: Result<AuthUser, TokenRejection>,
    origin: Origin,
    input: Result<Input, ApiError>,
) -> Result<Reply, ApiError> {
    let user = user?;
    let mut input = input?;
    let result = match required(&mut input.fields, ["password"]) {
        Ok([password]) => accounts.delete(&user, password, &origin).await,
        Err(e) => Err(e),
    };
    let deleted = || {
        cookies.remove(jar);
        Reply::flash("/", "Your account was deleted.")
    };
    answer(
        dashboard,
        &user,
        input.kind,
        result,
        deleted,
        "The account was not deleted",
    )
    .await
}
