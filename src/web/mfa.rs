//! The second step of a sign-in (`GET`/`POST /login/mfa`) and the account's second factors
//! (`/me/mfa/…`), for JSON clients and the dashboard's forms alike (docs/api.md §4).

use rocket::http::{CookieJar, Status};
use rocket::{Route, State, delete, get, post, routes};

use crate::auth::{Accounts, AuthError, AuthUser, Caller, ClientInfo, SignInStep, TokenRejection};
use crate::domain::{FieldErrors, LocalPath};
use crate::web::bodies::{EnrolmentBody, RecoveryCodesBody, TokenBody};
use crate::web::dashboard::answer;
use crate::web::dashboard::{Dashboard, DashboardNotice, EnrolmentView, MfaPanel};
use crate::web::http::audience::BrowserRequest;
use crate::web::http::body::{BodyKind, Input};
use crate::web::http::cookies::SessionCookies;
use crate::web::http::csrf::CsrfTokens;
use crate::web::http::error::ApiError;
use crate::web::http::fields::Fields;
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
    cookies: &State<SessionCookies>,
    csrf: &State<CsrfTokens>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    input: Result<Input, ApiError>,
) -> Result<Reply, ApiError> {
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
        Ok((SignInStep::SessionOpened { sign_in, device }, next)) => {
            cookies.forget_pending(jar);
            cookies.set(jar, &sign_in);
            cookies.set_device(jar, device);
            let target = next.as_deref().and_then(LocalPath::parse);
            Ok(Reply::see_other(
                target.as_ref().map_or("/dashboard", LocalPath::as_str),
            ))
        }
        Ok(_) => Err(ApiError::Internal(
            "a second factor after the second".into(),
        )),
        Err(AuthError::InvalidCredentials) => Reply::page(
            Status::Unauthorized,
            &LoginMfaPage {
                csrf_token: csrf.form_token(jar),
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

/// The optional `code` of the management forms (absent when no factor is on).
fn optional_code(fields: &mut Fields) -> Option<String> {
    let mut ignored = FieldErrors::default();
    fields.text("code", &mut ignored).filter(|c| !c.is_empty())
}

/// `{"password"}` → `200 {"secret","otpauth_uri"}`; the dashboard shows the key and its QR code.
#[post("/me/mfa/totp", data = "<input>")]
async fn begin_totp(
    accounts: &State<Accounts>,
    dashboard: Dashboard<'_>,
    user: Result<AuthUser, TokenRejection>,
    caller: Caller,
    input: Result<Input, ApiError>,
) -> Result<Reply, ApiError> {
    let user = user?;
    let mut input = input?;
    let result = match input.fields.required(["password"]) {
        Ok([password]) => accounts.begin_totp(&user, password, &caller).await,
        Err(e) => Err(e),
    };
    match (input.kind, result) {
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
            dashboard
                .render(
                    &user,
                    Status::Ok,
                    DashboardNotice::None,
                    MfaPanel::Enrolling(view),
                )
                .await
        }
        (BodyKind::Form, Err(e)) => {
            answer(
                dashboard,
                &user,
                BodyKind::Form,
                Err(e),
                || Reply::NoContent,
                "The app was not set up",
            )
            .await
        }
    }
}

/// `{"code"}` → `200 {"recovery_codes"}`: the app is on.
#[post("/me/mfa/totp/confirm", data = "<input>")]
async fn confirm_totp(
    accounts: &State<Accounts>,
    dashboard: Dashboard<'_>,
    user: Result<AuthUser, TokenRejection>,
    caller: Caller,
    input: Result<Input, ApiError>,
) -> Result<Reply, ApiError> {
    let user = user?;
    let mut input = input?;
    let result = match input.fields.required(["code"]) {
        Ok([code]) => accounts.confirm_totp(&user, &code, &caller).await,
        Err(e) => Err(e),
    };
    codes_reply(
        dashboard,
        &user,
        input.kind,
        result,
        "The app was not turned on",
        "The authenticator app is on.",
    )
    .await
}

/// `{"password","code"}` → `200 {"recovery_codes"}`; the old set dies.
#[post("/me/mfa/recovery-codes", data = "<input>")]
async fn recovery_codes(
    accounts: &State<Accounts>,
    dashboard: Dashboard<'_>,
    user: Result<AuthUser, TokenRejection>,
    caller: Caller,
    input: Result<Input, ApiError>,
) -> Result<Reply, ApiError> {
    let user = user?;
    let mut input = input?;
    let code = optional_code(&mut input.fields);
    let result = match input.fields.required(["password"]) {
        Ok([password]) => {
            accounts
                .new_recovery_codes(&user, password, code, &caller)
                .await
        }
        Err(e) => Err(e),
    };
    codes_reply(
        dashboard,
        &user,
        input.kind,
        result,
        "No new codes were made",
        "New recovery codes: the old ones no longer work.",
    )
    .await
}

/// Recovery codes: the JSON body, or the dashboard showing them once.
async fn codes_reply(
    dashboard: Dashboard<'_>,
    user: &AuthUser,
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
            dashboard
                .render(
                    user,
                    Status::Ok,
                    DashboardNotice::Success(done.to_owned()),
                    MfaPanel::RecoveryCodes(codes),
                )
                .await
        }
        (BodyKind::Form, Err(e)) => {
            answer(dashboard, user, kind, Err(e), || Reply::NoContent, what).await
        }
    }
}

/// `{"password","code"}` → `204`; every other session ends.
#[delete("/me/mfa/totp", data = "<input>")]
async fn disable_totp(
    accounts: &State<Accounts>,
    dashboard: Dashboard<'_>,
    user: Result<AuthUser, TokenRejection>,
    caller: Caller,
    input: Result<Input, ApiError>,
) -> Result<Reply, ApiError> {
    let user = user?;
    let mut input = input?;
    let code = optional_code(&mut input.fields);
    let result = match input.fields.required(["password"]) {
        Ok([password]) => accounts.disable_totp(&user, password, code, &caller).await,
        Err(e) => Err(e),
    };
    let done = || {
        Reply::flash(
            "/dashboard",
            "The authenticator app is off. Every other session was signed out.",
        )
    };
    answer(
        dashboard,
        &user,
        input.kind,
        result,
        done,
        "The app was not turned off",
    )
    .await
}
