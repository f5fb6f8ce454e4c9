//! `GET /sessions`, `DELETE /sessions/<id>`, `POST /sessions/revoke-others`.

use rocket::http::{CookieJar, Status};
use rocket::response::{Flash, Redirect};
use rocket::{Route, State, delete, get, post, routes};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::body::Input;
use super::cookies::SessionCookies;
use super::error::ApiError;
use super::reply::Reply;
use crate::auth::{AuthUser, Origin, Sessions, TokenRejection};
use crate::db::sessions::SessionInfo;

pub fn routes() -> Vec<Route> {
    routes![list, revoke_form, revoke, revoke_others_form, revoke_others]
}

#[derive(Debug, Serialize)]
pub struct SessionBody {
    pub id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_used_at: OffsetDateTime,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub current: bool,
}

impl SessionBody {
    pub fn new(session: SessionInfo, current: Uuid) -> Self {
        Self {
            current: session.id == current,
            id: session.id,
            created_at: session.created_at,
            last_used_at: session.last_used_at,
            user_agent: session.user_agent,
            ip: session.ip,
        }
    }
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
    origin: &Origin,
) -> Result<(), ApiError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound)?;
    if sessions.revoke(user, id, origin).await? {
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
    origin: Origin,
    id: &str,
    input: Result<Input, ApiError>,
) -> Result<Flash<Redirect>, ApiError> {
    let user = user?;
    input?;
    revoke_own(sessions, &user, id, &origin).await?;
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
    origin: Origin,
    id: &str,
) -> Result<Reply, ApiError> {
    revoke_own(sessions, &user?, id, &origin).await?;
    Ok(Reply::NoContent)
}

#[post("/sessions/revoke-others", format = "form", data = "<input>")]
async fn revoke_others_form(
    sessions: &State<Sessions>,
    user: Result<AuthUser, TokenRejection>,
    origin: Origin,
    input: Result<Input, ApiError>,
) -> Result<Flash<Redirect>, ApiError> {
    let user = user?;
    input?;
    let count = sessions.revoke_others(&user, &origin).await?;
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
    origin: Origin,
) -> Result<Reply, ApiError> {
    sessions.revoke_others(&user?, &origin).await?;
    Ok(Reply::NoContent)
}
