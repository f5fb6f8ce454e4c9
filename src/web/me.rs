//! `GET /protected`, `GET /me`, `POST /me/password`, `DELETE /me`.

use rocket::http::CookieJar;
use rocket::serde::json::Json;
use rocket::{Route, State, delete, get, post, routes};

use crate::auth::{Accounts, AuthUser, Caller, TokenRejection};
use crate::web::bodies::{MeBody, MfaBody, Welcome};
use crate::web::dashboard::Dashboard;
use crate::web::dashboard::answer;
use crate::web::http::body::Input;
use crate::web::http::cookies::SessionCookies;
use crate::web::http::error::ApiError;
use crate::web::http::reply::Reply;

pub fn routes() -> Vec<Route> {
    routes![protected, me, change_password, delete_me]
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

/// `{"current_password","new_password"}` → `204`; every other session of the user ends.
#[post("/me/password", data = "<input>")]
async fn change_password(
    accounts: &State<Accounts>,
    dashboard: Dashboard<'_>,
    user: Result<AuthUser, TokenRejection>,
    caller: Caller,
    input: Result<Input, ApiError>,
) -> Result<Reply, ApiError> {
    let user = user?;
    let mut input = input?;
    let result = match input.fields.required(["current_password", "new_password"]) {
        Ok([current, new]) => accounts.change_password(&user, current, new, &caller).await,
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
    caller: Caller,
    input: Result<Input, ApiError>,
) -> Result<Reply, ApiError> {
    let user = user?;
    let mut input = input?;
    let result = match input.fields.required(["password"]) {
        Ok([password]) => accounts.delete(&user, password, &caller).await,
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
