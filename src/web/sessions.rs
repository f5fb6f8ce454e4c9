//! `GET /sessions`, `DELETE /sessions/<id>`, `POST /sessions/revoke-others`.

use rocket::http::{CookieJar, Status};
use rocket::response::{Flash, Redirect};
use rocket::{Route, State, delete, get, post, routes};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::body::Input;
use super::reply::Reply;
use crate::auth::audit::Origin;
use crate::auth::{Accounts, AuthUser, cookies};
use crate::db::Db;
use crate::db::sessions::SessionInfo;
use crate::error::ApiError;

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
async fn list(db: &Db, accounts: &State<Accounts>, user: AuthUser) -> Result<Reply, ApiError> {
    let sessions: Vec<SessionBody> = accounts
        .sessions(db, user.user_id)
        .await?
        .into_iter()
        .map(|s| SessionBody::new(s, user.session_id))
        .collect();
    Ok(Reply::json(Status::Ok, &sessions))
}

/// Revokes one of the user's sessions; another user's session is `404`, exactly like a missing
/// one, so ids cannot be probed.
async fn revoke_own(
    db: &Db,
    accounts: &Accounts,
    user: &AuthUser,
    id: &str,
    origin: &Origin,
) -> Result<(), ApiError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound)?;
    if accounts.revoke_session(db, user, id, origin).await? {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// The dashboard's button (`_method=delete` in a form post).
#[delete("/sessions/<id>", format = "form", data = "<_input>")]
async fn revoke_form(
    db: &Db,
    accounts: &State<Accounts>,
    jar: &CookieJar<'_>,
    user: AuthUser,
    origin: Origin,
    id: &str,
    _input: Input,
) -> Result<Flash<Redirect>, ApiError> {
    revoke_own(db, accounts, &user, id, &origin).await?;
    if id == user.session_id.to_string() {
        cookies::remove_session_cookies(accounts.settings(), jar);
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
    db: &Db,
    accounts: &State<Accounts>,
    user: AuthUser,
    origin: Origin,
    id: &str,
) -> Result<Reply, ApiError> {
    revoke_own(db, accounts, &user, id, &origin).await?;
    Ok(Reply::NoContent)
}

#[post("/sessions/revoke-others", format = "form", data = "<_input>")]
async fn revoke_others_form(
    db: &Db,
    accounts: &State<Accounts>,
    user: AuthUser,
    origin: Origin,
    _input: Input,
) -> Result<Flash<Redirect>, ApiError> {
    let count = accounts.revoke_other_sessions(db, &user, &origin).await?;
    let message = match count {
        1 => "1 other session was signed out.".to_owned(),
        n => format!("{n} other sessions were signed out."),
    };
    Ok(Flash::success(Redirect::to("/dashboard"), message))
}

/// "Sign out everywhere else".
#[post("/sessions/revoke-others", rank = 2)]
async fn revoke_others(
    db: &Db,
    accounts: &State<Accounts>,
    user: AuthUser,
    origin: Origin,
) -> Result<Reply, ApiError> {
    accounts.revoke_other_sessions(db, &user, &origin).await?;
    Ok(Reply::NoContent)
}
