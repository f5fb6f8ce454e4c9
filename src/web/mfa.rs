//! The second step of a sign-in (`GET`/`POST /login/mfa`) and the account's second factors
//! (`/me/mfa/…`), for JSON clients and the dashboard's forms alike (docs/api.md §4).

use rocket::http::{CookieJar, Status};
use rocket::{Route, State, delete, get, post, routes};

use crate::auth::{Accounts, AuthError, ClientInfo, SignInStep, TokenRejection};
use crate::domain::{FieldErrors, LocalPath};
use crate::web::bodies::{
    CodeConfirmation, EnrolmentBody, PasswordAndCode, PasswordConfirmation, RecoveryCodesBody,
    TokenBody,
};
use crate::web::dashboard::{DashboardNotice, EnrolmentView, MfaPanel, SignedIn};
use crate::web::http::audience::BrowserRequest;
use crate::web::http::body::{Body, BodyKind, Input};
use crate::web::http::browser::Browser;
use crate::web::http::cookies::SessionCookies;
use crate::web::http::csrf::CsrfTokens;
use crate::web::http::error::ApiError;
use crate::web::http::reply::Reply;

pub fn routes() -> Vec<Route> {
    routes![
        login_mfa_page,
        login_mfa,
        begin_totp,
        confirm_totp,
        recovery_codes,
        disable_totp
    ]
}

#[derive(askama::Template)]
#[template(path = "login_mfa.html")]
struct LoginMfaPage {
    csrf_token: String,
    error: Option<&'static str>,
}

#[get("/login/mfa")]
fn login_mfa_page(
    _browser: BrowserRequest,
    csrf: &State<CsrfTokens>,
    cookies: &State<SessionCookies>,
    jar: &CookieJar<'_>,
) -> Result<Reply, ApiError> {
    if jar.get(cookies.pending_name()).is_none() {
        return Ok(Reply::see_other("/login"));
    }
    Reply::page(
        Status::Ok,
        &LoginMfaPage {
            csrf_token: csrf.form_token(jar),
            error: None,
        },
    )
}

/// `{"mfa_token","code"}` → the token body; a browser's form carries only `code`, its pending
/// sign-in is in a cookie.
#[post("/login/mfa", data = "<input>")]
async fn login_mfa(
    accounts: &State<Accounts>,
    browser: Browser<'_>,
    client: ClientInfo,
    input: Result<Input, ApiError>,
) -> Result<Reply, ApiError> {
    let Browser { cookies, jar, .. } = browser;
    let mut input = input?;
    let mut errors = FieldErrors::default();
    let code = input.fields.text("code", &mut errors);
    let mfa_token = match input.kind {
        BodyKind::Json => input.fields.text("mfa_token", &mut errors),
        BodyKind::Form => jar
            .get(cookies.pending_name())
            .map(|c| c.value().to_owned()),
    };
    let (Some(code), Some(mfa_token)) = (code, mfa_token) else {
        if input.kind == BodyKind::Form && errors.is_empty() {
            return Ok(Reply::see_other("/login"));
        }
        return Err(ApiError::InvalidInput(errors));
    };
    let result = accounts
        .complete_second_factor(&mfa_token, &code, &client)
        .await;
    if input.kind == BodyKind::Json {
        let (step, _) = result?;
        let SignInStep::SessionOpened { sign_in, .. } = step else {
            return Err(ApiError::Internal(
                "a second factor after the second".into(),
            ));
        };
        return Reply::json(Status::Ok, &TokenBody::from(sign_in));
    }
    match result {
        Ok((step @ SignInStep::SessionOpened { .. }, next)) => {
            cookies.forget_pending(jar);
            let target = next.as_deref().and_then(LocalPath::parse);
            let target = target.as_ref().map_or("/dashboard", LocalPath::as_str);
            Ok(browser.signed_in(step, target))
        }
        Ok(_) => Err(ApiError::Internal(
            "a second factor after the second".into(),
        )),
        Err(AuthError::InvalidCredentials) => Reply::page(
            Status::Unauthorized,
            &LoginMfaPage {
                csrf_token: browser.form_token(),
                error: Some("That code is not right. Try the current one."),
            },
        ),
        Err(AuthError::InvalidMfaToken) => {
            cookies.forget_pending(jar);
            Ok(Reply::flash(
                "/login",
                "That sign-in has expired. Sign in again.",
            ))
        }
        Err(other) => Err(other.into()),
    }
}

/// `{"password"}` → `200 {"secret","otpauth_uri"}`; the dashboard shows the key and its QR code.
#[post("/me/mfa/totp", data = "<body>")]
async fn begin_totp(
    me: Result<SignedIn<'_>, TokenRejection>,
    body: Result<Body<PasswordConfirmation>, ApiError>,
) -> Result<Reply, ApiError> {
    let (me, body) = (me?, body?);
    let result = me
        .accounts
        .begin_totp(&me.user, body.fields.password, &me.caller)
        .await;
    match (body.kind, result) {
        (BodyKind::Json, result) => {
            let enrolment = result?;
            Reply::json(
                Status::Ok,
                &EnrolmentBody {
                    secret: enrolment.secret,
                    otpauth_uri: enrolment.otpauth_uri,
                },
            )
        }
        (BodyKind::Form, Ok(enrolment)) => {
            let view = EnrolmentView::new(enrolment.secret, &enrolment.otpauth_uri)?;
            me.dashboard
                .render(
                    &me.user,
                    Status::Ok,
                    DashboardNotice::None,
                    MfaPanel::Enrolling(view),
                )
                .await
        }
        (BodyKind::Form, Err(e)) => {
            let what = "The app was not set up";
            me.answer(BodyKind::Form, Err(e), || Reply::NoContent, what)
                .await
        }
    }
}

/// `{"code"}` → `200 {"recovery_codes"}`: the app is on.
#[post("/me/mfa/totp/confirm", data = "<body>")]
async fn confirm_totp(
    me: Result<SignedIn<'_>, TokenRejection>,
    body: Result<Body<CodeConfirmation>, ApiError>,
) -> Result<Reply, ApiError> {
    let (me, body) = (me?, body?);
    let code = &body.fields.code;
    let codes = me.accounts.confirm_totp(&me.user, code, &me.caller).await;
    codes_reply(
        &me,
        body.kind,
        codes,
        "The app was not turned on",
        "The authenticator app is on.",
    )
    .await
}

/// `{"password","code"}` → `200 {"recovery_codes"}`; the old set dies.
#[post("/me/mfa/recovery-codes", data = "<body>")]
async fn recovery_codes(
    me: Result<SignedIn<'_>, TokenRejection>,
    body: Result<Body<PasswordAndCode>, ApiError>,
) -> Result<Reply, ApiError> {
    let (me, body) = (me?, body?);
    let PasswordAndCode { password, code } = body.fields;
    let result = me
        .accounts
        .new_recovery_codes(&me.user, password, code, &me.caller)
        .await;
    codes_reply(
        &me,
        body.kind,
        result,
        "No new codes were made",
        "New recovery codes: the old ones no longer work.",
    )
    .await
}

/// Recovery codes: the JSON body, or the dashboard showing them once.
async fn codes_reply(
    me: &SignedIn<'_>,
    kind: BodyKind,
    result: Result<Vec<String>, AuthError>,
    what: &str,
    done: &str,
) -> Result<Reply, ApiError> {
    match (kind, result) {
        (BodyKind::Json, result) => Reply::json(
            Status::Ok,
            &RecoveryCodesBody {
                recovery_codes: result?,
            },
        ),
        (BodyKind::Form, Ok(codes)) => {
            me.dashboard
                .render(
                    &me.user,
                    Status::Ok,
                    DashboardNotice::Success(done.to_owned()),
                    MfaPanel::RecoveryCodes(codes),
                )
                .await
        }
        (BodyKind::Form, Err(e)) => me.answer(kind, Err(e), || Reply::NoContent, what).await,
    }
}

/// `{"password","code"}` → `204`; every other session ends.
#[delete("/me/mfa/totp", data = "<body>")]
async fn disable_totp(
    me: Result<SignedIn<'_>, TokenRejection>,
    body: Result<Body<PasswordAndCode>, ApiError>,
) -> Result<Reply, ApiError> {
    let (me, body) = (me?, body?);
    let PasswordAndCode { password, code } = body.fields;
    let result = me
        .accounts
        .disable_totp(&me.user, password, code, &me.caller)
        .await;
    let done = || {
        Reply::flash(
            "/dashboard",
            "The authenticator app is off. Every other session was signed out.",
        )
    };
    me.answer(body.kind, result, done, "The app was not turned off")
        .await
}
