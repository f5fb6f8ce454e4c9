//! A forgotten password: `POST /password/forgot` and the reset link's pages and form
//! (docs/api.md §7). The link's token leaves the address bar at once: `GET
//! /password/reset?token=…` moves it into a short-lived `HttpOnly` cookie and redirects, so no
//! page is ever shown (or its address kept in history, or sent as a referrer) with the token in it.

use rocket::http::{Cookie, CookieJar, Status};
use rocket::request::FlashMessage;
use rocket::{Route, State, get, post, routes};

use crate::auth::accounts::addresses::MAX_LINK_TOKEN_LEN;
use crate::auth::accounts::password_reset::PasswordReset;
use crate::auth::mail::outbox::RESET_TTL;
use crate::auth::{AuthError, Caller};
use crate::domain::{FieldErrors, PasswordPolicy};
use crate::web::bodies::{ForgottenPassword, MailQueuedBody};
use crate::web::http::audience::BrowserRequest;
use crate::web::http::body::{Body, BodyKind, Input};
use crate::web::http::browser::Browser;
use crate::web::http::cookies::SessionCookies;
use crate::web::http::csrf::CsrfTokens;
use crate::web::http::error::ApiError;
use crate::web::http::reply::Reply;

pub fn routes() -> Vec<Route> {
    routes![forgot_page, forgot, reset_link, reset]
}

/// The same for every request, whether or not a mail goes out.
const QUEUED: MailQueuedBody = MailQueuedBody {
    message: "If the account exists and has a confirmed email address, a link to reset its \
              password has been mailed to it.",
};

fn reset_cookie_name(cookies: &SessionCookies) -> &'static str {
    if cookies.secure() {
        "__Host-gatehouse_reset"
    } else {
        "gatehouse_reset"
    }
}

fn reset_cookie(cookies: &SessionCookies, value: String) -> Cookie<'static> {
    cookies.build(reset_cookie_name(cookies), value, RESET_TTL)
}

#[derive(askama::Template, Default)]
#[template(path = "password_forgot.html")]
struct ForgotPage {
    csrf_token: String,
    notice: Option<String>,
    error: Option<String>,
}

#[get("/password/forgot")]
fn forgot_page(
    _browser: BrowserRequest,
    csrf: &State<CsrfTokens>,
    jar: &CookieJar<'_>,
    flash: Option<FlashMessage<'_>>,
) -> Result<Reply, ApiError> {
    Reply::page(
        Status::Ok,
        &ForgotPage {
            csrf_token: csrf.form_token(jar),
            notice: flash.map(|f| f.message().to_owned()),
            error: None,
        },
    )
}

/// `{"login"}` → always `202` with the same body, in the same time.
#[post("/password/forgot", data = "<body>")]
async fn forgot(
    recovery: &State<PasswordReset>,
    csrf: &State<CsrfTokens>,
    jar: &CookieJar<'_>,
    caller: Caller,
    body: Result<Body<ForgottenPassword>, ApiError>,
) -> Result<Reply, ApiError> {
    let body = body?;
    let result = recovery.forgot(body.fields.login, &caller).await;
    match (body.kind, result) {
        (BodyKind::Json, result) => {
            result?;
            Reply::json(Status::Accepted, &QUEUED)
        }
        (BodyKind::Form, Ok(())) => Ok(Reply::flash("/password/forgot", QUEUED.message)),
        (BodyKind::Form, Err(AuthError::InvalidInput(_))) => Reply::page(
            Status::UnprocessableEntity,
            &ForgotPage {
                csrf_token: csrf.form_token(jar),
                notice: None,
                error: Some("Enter your username or email address.".into()),
            },
        ),
        (BodyKind::Form, Err(other)) => Err(other.into()),
    }
}

#[derive(askama::Template, Default)]
#[template(path = "password_reset.html")]
struct ResetPage {
    csrf_token: String,
    /// `None` when the link is dead.
    username: Option<String>,
    password_errors: Vec<String>,
    error: Option<&'static str>,
    min_password_length: usize,
}

/// The mailed link (`?token=…`): the token moves into a cookie and the browser comes back
/// without it. Without a token: the form, when the cookie holds a live link.
#[get("/password/reset?<token>")]
async fn reset_link(
    _browser: BrowserRequest,
    token: Option<&str>,
    recovery: &State<PasswordReset>,
    cookies: &State<SessionCookies>,
    csrf: &State<CsrfTokens>,
    policy: &State<PasswordPolicy>,
    jar: &CookieJar<'_>,
) -> Result<Reply, ApiError> {
    if let Some(token) = token {
        // Ours are base64url; anything else (a `;` could smuggle cookie attributes) is not
        // kept, and the page says the link is dead.
        let well_formed = !token.is_empty()
            && token.len() <= MAX_LINK_TOKEN_LEN
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if well_formed {
            jar.add(reset_cookie(cookies, token.to_owned()));
        } else {
            jar.remove(reset_cookie(cookies, String::new()));
        }
        return Ok(Reply::see_other("/password/reset"));
    }
    let held = jar
        .get(reset_cookie_name(cookies))
        .map(|c| c.value().to_owned());
    let username = match held {
        Some(token) => match recovery.check_link(&token).await {
            Ok(link) => Some(link.username),
            Err(AuthError::InvalidInput(_)) => None,
            Err(other) => return Err(other.into()),
        },
        None => None,
    };
    if username.is_none() {
        jar.remove(reset_cookie(cookies, String::new()));
    }
    Reply::page(
        if username.is_some() {
            Status::Ok
        } else {
            Status::UnprocessableEntity
        },
        &ResetPage {
            csrf_token: csrf.form_token(jar),
            username,
            min_password_length: policy.min_length,
            ..ResetPage::default()
        },
    )
}

/// `{"token","new_password"}` → `204`; the form (its token in the cookie) → `303 /login`.
#[post("/password/reset", data = "<input>")]
async fn reset(
    recovery: &State<PasswordReset>,
    browser: Browser<'_>,
    policy: &State<PasswordPolicy>,
    caller: Caller,
    input: Result<Input, ApiError>,
) -> Result<Reply, ApiError> {
    let Browser { cookies, csrf, jar } = browser;
    let mut input = input?;
    let mut errors = FieldErrors::default();
    let token = match input.kind {
        BodyKind::Json => input.fields.text("token", &mut errors),
        BodyKind::Form => jar
            .get(reset_cookie_name(cookies))
            .map(|c| c.value().to_owned()),
    };
    let new_password = input.fields.text("new_password", &mut errors);
    let result = match (token, new_password) {
        (Some(token), Some(new_password)) if errors.is_empty() => recovery
            .reset(&token, new_password, &caller)
            .await
            .map(|()| token),
        _ => Err(AuthError::InvalidInput(errors)),
    };
    if input.kind == BodyKind::Json {
        return result.map(|_| Reply::NoContent).map_err(Into::into);
    }
    let fields = match result {
        Ok(_) => {
            jar.remove(reset_cookie(cookies, String::new()));
            return Ok(Reply::flash(
                "/login",
                "Your password has been changed. Sign in with the new one.",
            ));
        }
        Err(AuthError::InvalidInput(fields)) => fields,
        Err(other) => return Err(other.into()),
    };
    // A dead link (or none) gets the page that says so; a refused password, the form again.
    let held = jar
        .get(reset_cookie_name(cookies))
        .map(|c| c.value().to_owned());
    let username = match (fields.get("token"), held) {
        (None, Some(token)) => recovery.check_link(&token).await.ok().map(|l| l.username),
        _ => None,
    };
    if username.is_none() {
        jar.remove(reset_cookie(cookies, String::new()));
    }
    Reply::page(
        Status::UnprocessableEntity,
        &ResetPage {
            csrf_token: csrf.form_token(jar),
            username,
            password_errors: fields
                .get("new_password")
                .map(<[String]>::to_vec)
                .unwrap_or_default(),
            error: Some("The password was not changed: see below."),
            min_password_length: policy.min_length,
        },
    )
}
