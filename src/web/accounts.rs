//! `POST /register`, `POST /login` and `POST /logout`, for JSON clients and browser forms alike:
//! the same core calls, read and rendered per audience.

use rocket::http::{CookieJar, Status};
use rocket::response::{Flash, Redirect};
use rocket::{Route, State, post, routes};

use crate::auth::{
    Accounts, AuthError, AuthUser, Caller, ClientInfo, Sessions, SignInStep, TokenRejection,
};
use crate::domain::{FieldErrors, LocalPath, PasswordPolicy, RawCredentials};
use crate::web::bodies::{MfaRequiredBody, TokenBody, UserBody};
use crate::web::http::body::{BodyKind, Input};
use crate::web::http::browser::Browser;
use crate::web::http::cookies::SessionCookies;
use crate::web::http::error::ApiError;
use crate::web::http::reply::Reply;
use crate::web::pages::{LoginPage, RegisterPage, split_errors};

pub fn routes() -> Vec<Route> {
    routes![register, login, logout_form, logout]
}

/// The username as typed, shown again on a failed form (the password never is).
fn typed_username(input: &Input) -> String {
    input.fields.peek("username").unwrap_or_default().to_owned()
}

#[post("/register", data = "<input>")]
async fn register(
    accounts: &State<Accounts>,
    browser: Browser<'_>,
    policy: &State<PasswordPolicy>,
    client: ClientInfo,
    input: Result<Input, ApiError>,
) -> Result<Reply, ApiError> {
    let mut input = input?;
    let username = typed_username(&input);
    let typed_email = input.fields.peek("email").unwrap_or_default().to_owned();
    let mut email_errors = FieldErrors::default();
    let email = input.fields.optional_text("email", &mut email_errors);
    let result = match RawCredentials::try_from(&mut input.fields) {
        Ok(raw) if email_errors.is_empty() => accounts.register(raw, email, &client).await,
        Ok(_) => Err(AuthError::InvalidInput(email_errors)),
        Err(mut fields) => {
            for (field, problems) in email_errors.iter() {
                problems
                    .iter()
                    .for_each(|p| fields.add_owned(field.to_owned(), p));
            }
            Err(AuthError::InvalidInput(fields))
        }
    };
    if input.kind == BodyKind::Json {
        return Reply::json(Status::Created, &UserBody::from(result?.user));
    }
    let (status, fields) = match result {
        Ok(registered) => {
            let step = accounts.sign_in_registered(registered, &client).await?;
            return Ok(browser.signed_in(step, "/dashboard"));
        }
        Err(AuthError::InvalidInput(fields)) => (Status::UnprocessableEntity, fields),
        Err(AuthError::UsernameTaken) => {
            let mut fields = FieldErrors::default();
            fields.add("username", "is already taken");
            (Status::Conflict, fields)
        }
        Err(other) => return Err(other.into()),
    };
    let (username_errors, password_errors) = split_errors(&fields);
    Reply::page(
        status,
        &RegisterPage {
            csrf_token: browser.form_token(),
            username,
            username_errors,
            password_errors,
            email: typed_email,
            email_errors: fields
                .get("email")
                .map(<[String]>::to_vec)
                .unwrap_or_default(),
            error: Some("The account could not be created: see below."),
            min_password_length: policy.min_length,
        },
    )
}

#[post("/login", data = "<input>")]
async fn login(
    accounts: &State<Accounts>,
    browser: Browser<'_>,
    client: ClientInfo,
    input: Result<Input, ApiError>,
) -> Result<Reply, ApiError> {
    let mut input = input?;
    let username = typed_username(&input);
    let next = input.fields.peek("next").and_then(LocalPath::parse);
    let result = match RawCredentials::try_from(&mut input.fields) {
        Ok(raw) => {
            accounts
                .sign_in(raw, &client, next.as_ref().map(LocalPath::as_str))
                .await
        }
        Err(fields) => Err(AuthError::InvalidInput(fields)),
    };
    if input.kind == BodyKind::Json {
        return match result? {
            SignInStep::SessionOpened { sign_in, .. } => {
                Reply::json(Status::Ok, &TokenBody::from(sign_in))
            }
            SignInStep::SecondFactorDue {
                mfa_token,
                methods,
                expires_in,
            } => Reply::json(
                Status::Forbidden,
                &MfaRequiredBody::new(mfa_token, methods, expires_in),
            ),
        };
    }
    let (status, fields, error) = match result {
        Ok(step) => {
            let target = next.as_ref().map_or("/dashboard", LocalPath::as_str);
            return Ok(browser.signed_in(step, target));
        }
        Err(AuthError::InvalidInput(fields)) => (
            Status::UnprocessableEntity,
            fields,
            "Enter your username and password.",
        ),
        Err(AuthError::InvalidCredentials) => (
            Status::Unauthorized,
            FieldErrors::default(),
            "The username or password is incorrect.",
        ),
        Err(other) => return Err(other.into()),
    };
    let (username_errors, password_errors) = split_errors(&fields);
    Reply::page(
        status,
        &LoginPage {
            csrf_token: browser.form_token(),
            next: next.map(|p| p.as_str().to_owned()),
            username,
            username_errors,
            password_errors,
            error: Some(error),
            notice: None,
        },
    )
}

/// The sign-out form: revokes the session (when the browser still has one), clears the cookies
/// and goes to the sign-in page. The form's CSRF token is checked by [`Input`].
#[post("/logout", format = "form", data = "<input>")]
async fn logout_form(
    sessions: &State<Sessions>,
    cookies: &State<SessionCookies>,
    jar: &CookieJar<'_>,
    user: Result<AuthUser, TokenRejection>,
    caller: Caller,
    input: Result<Input, ApiError>,
) -> Result<Flash<Redirect>, ApiError> {
    input?;
    match user {
        Ok(user) => sessions.sign_out(&user, &caller).await?,
        // The session could not be checked, so it could not be ended either: saying "signed
        // out" would be a lie while it stays live.
        Err(TokenRejection::Unavailable) => return Err(ApiError::Unavailable),
        Err(_) => {}
    }
    cookies.remove(jar);
    Ok(Flash::success(
        Redirect::to("/login"),
        "You have been signed out.",
    ))
}

/// Sign-out for JSON clients: revokes the session of the presented token.
#[post("/logout", rank = 2)]
async fn logout(
    sessions: &State<Sessions>,
    user: Result<AuthUser, TokenRejection>,
    caller: Caller,
) -> Result<Reply, ApiError> {
    sessions.sign_out(&user?, &caller).await?;
    Ok(Reply::NoContent)
}
