//! `POST /me/email` and the verification link (`GET`/`POST /email/verify`), for JSON clients
//! and the pages alike (docs/api.md §7).

use rocket::http::{CookieJar, Status};
use rocket::{Route, State, get, post, routes};

use crate::auth::accounts::addresses::Addresses;
use crate::auth::{AuthError, Caller, TokenRejection};
use crate::web::bodies::{EmailChange, LinkToken, MailQueuedBody};
use crate::web::dashboard::SignedIn;
use crate::web::http::audience::BrowserRequest;
use crate::web::http::body::{Body, BodyKind};
use crate::web::http::csrf::CsrfTokens;
use crate::web::http::error::ApiError;
use crate::web::http::reply::Reply;

pub fn routes() -> Vec<Route> {
    routes![change_email, verify_page, verify]
}

/// `{"email","password"}` → `202`: a link goes to the new address; the current one stays until
/// it is followed.
#[post("/me/email", data = "<body>")]
async fn change_email(
    me: Result<SignedIn<'_>, TokenRejection>,
    body: Result<Body<EmailChange>, ApiError>,
) -> Result<Reply, ApiError> {
    let (me, body) = (me?, body?);
    let EmailChange { email, password } = body.fields;
    let result = me
        .accounts
        .change_email(&me.user, email, password, &me.caller)
        .await;
    if body.kind == BodyKind::Json {
        result?;
        return Reply::json(
            Status::Accepted,
            &MailQueuedBody {
                message: "A confirmation link was mailed to the new address; it counts once \
                          the link is followed.",
            },
        );
    }
    let sent = || {
        Reply::flash(
            "/dashboard",
            "A confirmation link was mailed to the new address. Your address changes once you follow it.",
        )
    };
    me.answer(body.kind, result, sent, "The address was not changed")
        .await
}

#[derive(askama::Template)]
#[template(path = "email_verify.html")]
struct VerifyPage {
    csrf_token: String,
    token: String,
    error: Option<String>,
}

/// The mailed link's page: a button, because a `GET` changes nothing (mail scanners fetch links).
#[get("/email/verify?<token>")]
fn verify_page(
    _browser: BrowserRequest,
    token: Option<&str>,
    csrf: &State<CsrfTokens>,
    jar: &CookieJar<'_>,
) -> Result<Reply, ApiError> {
    let (status, error) = match token {
        Some(t) if !t.is_empty() => (Status::Ok, None),
        _ => (
            Status::UnprocessableEntity,
            Some("This link is incomplete: open the whole link from the mail.".to_owned()),
        ),
    };
    Reply::page(
        status,
        &VerifyPage {
            csrf_token: csrf.form_token(jar),
            token: token.unwrap_or_default().to_owned(),
            error,
        },
    )
}

/// `{"token"}` → `204`; the page's form → `303 /` with a message.
#[post("/email/verify", data = "<body>")]
async fn verify(
    addresses: &State<Addresses>,
    csrf: &State<CsrfTokens>,
    jar: &CookieJar<'_>,
    caller: Caller,
    body: Result<Body<LinkToken>, ApiError>,
) -> Result<Reply, ApiError> {
    let body = body?;
    let result = addresses.verify(&body.fields.token, &caller).await;
    match (body.kind, result) {
        (BodyKind::Json, result) => result.map(|()| Reply::NoContent).map_err(Into::into),
        (BodyKind::Form, Ok(())) => Ok(Reply::flash("/", "Your email address is confirmed.")),
        (BodyKind::Form, Err(AuthError::InvalidInput(fields))) => {
            let problem = fields
                .get("token")
                .and_then(|p| p.first())
                .map_or("this link is not valid", String::as_str);
            Reply::page(
                Status::UnprocessableEntity,
                &VerifyPage {
                    csrf_token: csrf.form_token(jar),
                    token: String::new(),
                    error: Some(format!("The address was not confirmed: {problem}.")),
                },
            )
        }
        (BodyKind::Form, Err(other)) => Err(other.into()),
    }
}
