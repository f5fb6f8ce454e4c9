//! Server-rendered pages (askama templates in `templates/`): landing, forms, dashboard, errors.

use std::io::Cursor;

use askama::Template;
use rocket::http::{ContentType, CookieJar, Status};
use rocket::request::{FlashMessage, Request};
use rocket::response::{self, Response};
use rocket::{Route, State, get, routes};
use time::OffsetDateTime;
use time::macros::format_description;

use super::audience::Audience;
use super::reply::Reply;
use crate::auth::csrf::{self, CsrfKey};
use crate::auth::{Accounts, AuthUser, TokenRejection};
use crate::db::{self, Db};
use crate::domain::{FieldErrors, LocalPath};
use crate::error::ApiError;

pub fn routes() -> Vec<Route> {
    routes![index, login_page, register_page, dashboard]
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    username: Option<String>,
}

#[derive(Template, Default)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub csrf_token: String,
    pub next: Option<String>,
    pub username: String,
    pub username_errors: Vec<String>,
    pub password_errors: Vec<String>,
    pub error: Option<&'static str>,
    pub notice: Option<String>,
}

#[derive(Template, Default)]
#[template(path = "register.html")]
pub struct RegisterPage {
    pub csrf_token: String,
    pub username: String,
    pub username_errors: Vec<String>,
    pub password_errors: Vec<String>,
    pub error: Option<&'static str>,
    pub min_password_length: usize,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    csrf_token: String,
    username: String,
    created_at: String,
    created_at_display: String,
    expires_at: String,
    expires_at_display: String,
}

/// An error in the site's layout.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    status: u16,
    reason: &'a str,
    message: &'a str,
    retry_after: Option<u64>,
}

/// Field problems split for the form templates.
pub fn split_errors(errors: &FieldErrors) -> (Vec<String>, Vec<String>) {
    let get = |field: &str| {
        errors
            .get(field)
            .map(<[String]>::to_vec)
            .unwrap_or_default()
    };
    (get("username"), get("password"))
}

/// Pages are for browsers; JSON clients get the JSON 404 (CONTRACT.md section 1).
fn browser_only(req: &Request<'_>) -> Result<(), ApiError> {
    match Audience::of(req) {
        Audience::Browser => Ok(()),
        Audience::Json => Err(ApiError::NotFound),
    }
}

/// The audience of a request, as a request guard.
pub struct BrowserRequest;

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for BrowserRequest {
    type Error = ApiError;

    async fn from_request(req: &'r Request<'_>) -> rocket::request::Outcome<Self, ApiError> {
        match browser_only(req) {
            Ok(()) => rocket::request::Outcome::Success(BrowserRequest),
            Err(e) => {
                let status = e.status();
                crate::error::stash(req, e);
                rocket::request::Outcome::Error((status, ApiError::NotFound))
            }
        }
    }
}

#[get("/")]
fn index(
    _browser: BrowserRequest,
    user: Result<AuthUser, TokenRejection>,
) -> Result<Reply, ApiError> {
    Reply::page(
        Status::Ok,
        &IndexPage {
            username: user.ok().map(|u| u.username),
        },
    )
}

#[get("/login?<next>")]
fn login_page(
    _browser: BrowserRequest,
    next: Option<&str>,
    flash: Option<FlashMessage<'_>>,
    accounts: &State<Accounts>,
    csrf_key: &State<CsrfKey>,
    jar: &CookieJar<'_>,
) -> Result<Reply, ApiError> {
    Reply::page(
        Status::Ok,
        &LoginPage {
            csrf_token: csrf::form_token(csrf_key, accounts.settings(), jar),
            next: next
                .and_then(LocalPath::parse)
                .map(|p| p.as_str().to_owned()),
            notice: flash.map(|f| f.message().to_owned()),
            ..LoginPage::default()
        },
    )
}

#[get("/register")]
fn register_page(
    _browser: BrowserRequest,
    accounts: &State<Accounts>,
    csrf_key: &State<CsrfKey>,
    jar: &CookieJar<'_>,
) -> Result<Reply, ApiError> {
    Reply::page(
        Status::Ok,
        &RegisterPage {
            csrf_token: csrf::form_token(csrf_key, accounts.settings(), jar),
            min_password_length: accounts.policy().min_length,
            ..RegisterPage::default()
        },
    )
}

#[get("/dashboard")]
async fn dashboard(
    _browser: BrowserRequest,
    user: Result<AuthUser, TokenRejection>,
    db: &Db,
    accounts: &State<Accounts>,
    csrf_key: &State<CsrfKey>,
    jar: &CookieJar<'_>,
) -> Result<Reply, ApiError> {
    let user = match user {
        Ok(user) => user,
        Err(TokenRejection::Unavailable) => return Err(ApiError::Unavailable),
        Err(_) => return Ok(Reply::see_other("/login?next=/dashboard")),
    };
    let account = db::users::find_user(db, user.user_id)
        .await?
        .ok_or(ApiError::InvalidToken("user gone"))?;
    let expires_at = OffsetDateTime::from_unix_timestamp(user.expires_at)
        .map_err(|e| ApiError::Internal(e.into()))?;
    Reply::page(
        Status::Ok,
        &DashboardPage {
            csrf_token: csrf::form_token(csrf_key, accounts.settings(), jar),
            username: account.username,
            created_at: rfc3339(account.created_at),
            created_at_display: display(account.created_at),
            expires_at: rfc3339(expires_at),
            expires_at_display: display(expires_at),
        },
    )
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn display(t: OffsetDateTime) -> String {
    t.format(format_description!(
        "[day padding:none] [month repr:long] [year], [hour]:[minute] UTC"
    ))
    .unwrap_or_default()
}

/// Renders an [`ApiError`] as a page; the status and headers are set by the caller.
pub fn error_page(error: &ApiError, _req: &Request<'_>) -> response::Result<'static> {
    let status = error.status();
    let reason = status.reason().unwrap_or("Error");
    let page = ErrorPage {
        title: reason,
        status: status.code,
        reason,
        message: error.message(),
        retry_after: match error {
            ApiError::TooManyRequests { retry_after } => Some(*retry_after),
            _ => None,
        },
    };
    let body = page.render().map_err(|e| {
        log::error!("template rendering failed: {e}");
        Status::InternalServerError
    })?;
    Ok(Response::build()
        .header(ContentType::HTML)
        .sized_body(body.len(), Cursor::new(body))
        .finalize())
}
