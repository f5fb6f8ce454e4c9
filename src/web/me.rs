//! `GET /protected`, `GET /me`, `POST /me/password`, `DELETE /me`.

use rocket::http::CookieJar;
use rocket::serde::json::Json;
use rocket::{Route, State, delete, get, post, routes};

use crate::auth::{Accounts, AuthUser, TokenRejection};
use crate::web::bodies::{MeBody, MfaBody, PasswordChange, PasswordConfirmation, Welcome};
use crate::web::dashboard::SignedIn;
use crate::web::http::body::Body;
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
#[post("/me/password", data = "<body>")]
async fn change_password(
    me: Result<SignedIn<'_>, TokenRejection>,
    body: Result<Body<PasswordChange>, ApiError>,
) -> Result<Reply, ApiError> {
    let (me, body) = (me?, body?);
    let PasswordChange {
        current_password,
        new_password,
    } = body.fields;
    let result = me
        .accounts
        .change_password(&me.user, current_password, new_password, &me.caller)
        .await;
    let changed = || {
        Reply::flash(
            "/dashboard",
            "Your password was changed. Every other session was signed out.",
        )
    };
    me.answer(body.kind, result, changed, "The password was not changed")
        .await
}

/// `{"password"}` → `204`; the account, its sessions and their tokens are gone at once.
#[delete("/me", data = "<body>")]
async fn delete_me(
    me: Result<SignedIn<'_>, TokenRejection>,
    cookies: &State<SessionCookies>,
    jar: &CookieJar<'_>,
    body: Result<Body<PasswordConfirmation>, ApiError>,
) -> Result<Reply, ApiError> {
    let (me, body) = (me?, body?);
    let result = me
        .accounts
        .delete(&me.user, body.fields.password, &me.caller)
        .await;
    let deleted = || {
        cookies.remove(jar);
        Reply::flash("/", "Your account was deleted.")
    };
    me.answer(body.kind, result, deleted, "The account was not deleted")
        .await
}
