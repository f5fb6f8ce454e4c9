//! `POST /register`, `POST /login` and `POST /logout`, for JSON clients and browser forms alike:
//! the same core calls, read and rendered per audience.

use rocket::http::{CookieJar, Status};
use rocket::response::{Flash, Redirect};
use rocket::{Route, State, post, routes};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::body::{BodyKind, Input};
use super::cookies::SessionCookies;
use super::csrf::CsrfTokens;
use super::error::ApiError;
use super::mfa::{MfaRequiredBody, remember_pending};
use super::pages::{LoginPage, RegisterPage, split_errors};
use super::reply::Reply;
use crate::auth::{
    Accounts, AuthError, AuthUser, ClientInfo, Origin, Sessions, SignIn, SignInStep, TokenRejection,
};
use crate::db::users::User;
use crate::domain::{FieldErrors, LocalPath, PasswordPolicy, RawCredentials};

pub fn routes() -> Vec<Route> {
    routes![register, login, logout_form, logout]
}

/// `{"id","username","created_at"}`.
#[derive(Debug, Serialize)]
pub struct UserBody {
    pub id: Uuid,
    pub username: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<User> for UserBody {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            username: user.username,
            created_at: user.created_at,
        }
    }
}

/// The token response; `token` repeats `access_token` under the seed's name.
#[derive(Debug, Serialize)]
pub struct TokenBody {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub refresh_token: String,
    pub token: String,
}

impl From<SignIn> for TokenBody {
    fn from(sign_in: SignIn) -> Self {
        Self {
            token: sign_in.access_token.clone(),
            access_token: sign_in.access_token,
            token_type: "Bearer",
            expires_in: sign_in.expires_in,
            refresh_token: sign_in.refresh_token,
        }
    }
}

/// The username as typed, shown again on a failed form (the password never is).
fn typed_username(input: &Input) -> String {
    input.fields.peek("username").unwrap_or_default().to_owned()
}

/// What the form handlers need to answer a browser.
struct Browser<'a, 'r> {
    cookies: &'a SessionCookies,
    csrf: &'a CsrfTokens,
    jar: &'a CookieJar<'r>,
}

#[post("/register", data = "<input>")]
async fn register(
    accounts: &State<Accounts>,
    cookies: &State<SessionCookies>,
    csrf: &State<CsrfTokens>,
    policy: &State<PasswordPolicy>,
    jar: &CookieJar<'_>,
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
    let browser = Browser { cookies, csrf, jar };
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
            csrf_token: browser.csrf.form_token(jar),
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

impl Browser<'_, '_> {
    /// Where a browser goes once a sign-in has reached a step: signed in, to `target` with the
    /// session's cookies.
    fn signed_in(&self, step: SignInStep, target: &str) -> Reply {
        match step {
            SignInStep::SessionOpened { sign_in, device } => {
                self.cookies.set(self.jar, &sign_in);
                self.cookies.set_device(self.jar, device);
                Reply::see_other(target)
            }
            // `next` waits with the pending sign-in, on the server.
            SignInStep::SecondFactorDue { mfa_token, .. } => {
                remember_pending(self.cookies, self.jar, mfa_token);
                Reply::see_other("/login/mfa")
            }
        }
    }
}

#[post("/login", data = "<input>")]
async fn login(
    accounts: &State<Accounts>,
    cookies: &State<SessionCookies>,
    csrf: &State<CsrfTokens>,
    jar: &CookieJar<'_>,
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
    let browser = Browser { cookies, csrf, jar };
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
            csrf_token: browser.csrf.form_token(jar),
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
    origin: Origin,
    input: Result<Input, ApiError>,
) -> Result<Flash<Redirect>, ApiError> {
    input?;
    match user {
        Ok(user) => sessions.sign_out(&user, &origin).await?,
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
    origin: Origin,
) -> Result<Reply, ApiError> {
    sessions.sign_out(&user?, &origin).await?;
    Ok(Reply::NoContent)
}
