//! Server-rendered pages (askama templates in `templates/`): landing, forms, dashboard, errors.

use askama::Template;
use rocket::http::{ContentType, CookieJar, Status};
use rocket::request::FlashMessage;
use rocket::{Route, State, get, routes};

use crate::auth::{AuthUser, TokenRejection};
use crate::domain::{FieldErrors, LocalPath, PasswordPolicy};
use crate::web::http::audience::BrowserRequest;
use crate::web::http::csrf::CsrfTokens;
use crate::web::http::error::ApiError;
use crate::web::http::reply::Reply;

pub fn routes() -> Vec<Route> {
    routes![index, login_page, register_page, favicon]
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    username: Option<String>,
    notice: Option<String>,
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
    pub email: String,
    pub email_errors: Vec<String>,
    pub error: Option<&'static str>,
    pub min_password_length: usize,
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

#[get("/")]
fn index(
    _browser: BrowserRequest,
    user: Result<AuthUser, TokenRejection>,
    flash: Option<FlashMessage<'_>>,
) -> Result<Reply, ApiError> {
    Reply::page(
        Status::Ok,
        &IndexPage {
            username: user.ok().map(|u| u.username),
            notice: flash.map(|f| f.message().to_owned()),
        },
    )
}

#[get("/login?<next>")]
fn login_page(
    _browser: BrowserRequest,
    next: Option<&str>,
    flash: Option<FlashMessage<'_>>,
    csrf: &State<CsrfTokens>,
    jar: &CookieJar<'_>,
) -> Result<Reply, ApiError> {
    Reply::page(
        Status::Ok,
        &LoginPage {
            csrf_token: csrf.form_token(jar),
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
    csrf: &State<CsrfTokens>,
    policy: &State<PasswordPolicy>,
    jar: &CookieJar<'_>,
) -> Result<Reply, ApiError> {
    Reply::page(
        Status::Ok,
        &RegisterPage {
            csrf_token: csrf.form_token(jar),
            min_password_length: policy.min_length,
            ..RegisterPage::default()
        },
    )
}

/// The site's icon, for browsers that ask for `/favicon.ico` (pages name it in `<head>`).
#[get("/favicon.ico")]
fn favicon() -> (ContentType, &'static str) {
    (
        ContentType::SVG,
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/static/favicon.svg")),
    )
}
