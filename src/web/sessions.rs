//! `GET /sessions`, `DELETE /sessions/<id>`, `POST /sessions/revoke-others`.

use rocket::http::{CookieJar, Status};
use rocket::response::{Flash, Redirect};
use rocket::{Route, State, delete, get, post, routes};
use uuid::Uuid;

use crate::auth::{AuthUser, Caller, Sessions, TokenRejection};
use crate::web::bodies::SessionBody;
use crate::web::http::body::Input;
use crate::web::http::cookies::SessionCookies;
use crate::web::http::error::ApiError;
use crate::web::http::reply::Reply;

pub fn routes() -> Vec<Route> {
    routes![list, revoke_form, revoke, revoke_others_form, revoke_others]
}

#[get("/sessions")]
async fn list(
    sessions: &State<Sessions>,
    user: Result<AuthUser, TokenRejection>,
) -> Result<Reply, ApiError> {
    let user = user?;
    let listed: Vec<SessionBody> = sessions
        .list(user.user_id)
        .await?
        .into_iter()
        .map(|s| SessionBody::new(s, user.session_id))
        .collect();
    Reply::json(Status::Ok, &listed)
}

/// Revokes one of the user's sessions; another user's session is `404`, exactly like a missing
/// one, so ids cannot be probed.
async fn revoke_own(
    sessions: &Sessions,
    user: &AuthUser,
    id: &str,
    caller: &Caller,
) -> Result<(), ApiError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound)?;
    if sessions.revoke(user, id, caller).await? {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// The dashboard's button (`_method=delete` in a form post).
#[delete("/sessions/<id>", format = "form", data = "<input>")]
async fn revoke_form(
    sessions: &State<Sessions>,
    cookies: &State<SessionCookies>,
    jar: &CookieJar<'_>,
    user: Result<AuthUser, TokenRejection>,
    caller: Caller,
    id: &str,
    input: Result<Input, ApiError>,
) -> Result<Flash<Redirect>, ApiError> {
    let user = user?;
    input?;
    revoke_own(sessions, &user, id, &caller).await?;
    if id == user.session_id.to_string() {
        cookies.remove(jar);
        return Ok(Flash::success(
            Redirect::to("/login"),
            "You have been signed out.",
        ));
    }
    Ok(Flash::success(
        Redirect::to("/dashboard"),
        "That session was signed out.",
    ))
}

#[delete("/sessions/<id>", rank = 2)]
async fn revoke(
    sessions: &State<Sessions>,
    user: Result<AuthUser, TokenRejection>,
    caller: Caller,
    id: &str,
) -> Result<Reply, ApiError> {
    revoke_own(sessions, &user?, id, &caller).await?;
    Ok(Reply::NoContent)
}

#[post("/sessions/revoke-others", format = "form", data = "<input>")]
async fn revoke_others_form(
    sessions: &State<Sessions>,
    user: Result<AuthUser, TokenRejection>,
    caller: Caller,
    input: Result<Input, ApiError>,
) -> Result<Flash<Redirect>, ApiError> {
    let user = user?;
    input?;
    let count = sessions.revoke_others(&user, &caller).await?;
    let message = match count {
        1 => "1 other session was signed out.".to_owned(),
        n => format!("{n} other sessions were signed out."),
    };
    Ok(Flash::success(Redirect::to("/dashboard"), message))
}

/// "Sign out everywhere else".
#[post("/sessions/revoke-others", rank = 2)]
async fn revoke_others(
    sessions: &State<Sessions>,
    user: Result<AuthUser, TokenRejection>,
    caller: Caller,
) -> Result<Reply, ApiError> {
    sessions.revoke_others(&user?, &caller).await?;
    Ok(Reply::NoContent)
}
