//! `POST /register`, `POST /login` and `POST /logout`, for JSON clients and browser forms alike:
//! the same core calls, read and rendered per audience.

use rocket::http::{CookieJar, Status};
use rocket::response::{Flash, Redirect};
use rocket::{Route, State, post, routes};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::Client;
use super::body::{BodyKind, Input};
use super::pages::{LoginPage, RegisterPage, split_errors};
use super::reply::Reply;
use crate::auth::audit::Origin;
use crate::auth::csrf::{self, CsrfKey};
use crate::auth::{Accounts, AuthError, AuthUser, SignIn, TokenRejection, cookies};
use crate::db::{Db, users::User};
use crate::domain::{FieldErrors, LocalPath, RawCredentials};
use crate::error::ApiError;

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

#[post("/register", data = "<input>")]
async fn register(
    db: &Db,
    accounts: &State<Accounts>,
    csrf_key: &State<CsrfKey>,
    jar: &CookieJar<'_>,
    client: Client,
    mut input: Input,
) -> Result<Reply, ApiError> {
    let username = typed_username(&input);
    let result = match RawCredentials::try_from(&mut input.fields) {
        Ok(raw) => accounts.register(db, raw, &client.0).await,
        Err(fields) => Err(AuthError::InvalidInput(fields)),
    };
    if input.kind == BodyKind::Json {
        return Ok(Reply::json(Status::Created, &UserBody::from(result?)));
    }
    let (status, fields) = match result {
        Ok(user) => {
            let sign_in = accounts
                .open_session(db, user.id, user.username, &client.0)
                .await?;
            cookies::set_session_cookies(accounts.settings(), jar, &sign_in);
            return Ok(Reply::see_other("/dashboard"));
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
            csrf_token: csrf::form_token(csrf_key, accounts.settings(), jar),
            username,
            username_errors,
            password_errors,
            error: Some("The account could not be created: see below."),
            min_password_length: accounts.policy().min_length,
        },
    )
}

#[post("/login", data = "<input>")]
async fn login(
    db: &Db,
    accounts: &State<Accounts>,
    csrf_key: &State<CsrfKey>,
    jar: &CookieJar<'_>,
    client: Client,
    mut input: Input,
) -> Result<Reply, ApiError> {
    let username = typed_username(&input);
    let next = input.fields.peek("next").and_then(LocalPath::parse);
    let result = match RawCredentials::try_from(&mut input.fields) {
        Ok(raw) => accounts.sign_in(db, raw, &client.0).await,
        Err(fields) => Err(AuthError::InvalidInput(fields)),
    };
    if input.kind == BodyKind::Json {
        return Ok(Reply::json(Status::Ok, &TokenBody::from(result?)));
    }
    let (status, fields, error) = match result {
        Ok(sign_in) => {
            cookies::set_session_cookies(accounts.settings(), jar, &sign_in);
            let target = next.as_ref().map_or("/dashboard", LocalPath::as_str);
            return Ok(Reply::see_other(target));
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
            csrf_token: csrf::form_token(csrf_key, accounts.settings(), jar),
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
#[post("/logout", format = "form", data = "<_input>")]
async fn logout_form(
    db: &Db,
    accounts: &State<Accounts>,
    jar: &CookieJar<'_>,
    user: Result<AuthUser, TokenRejection>,
    origin: Origin,
    _input: Input,
) -> Result<Flash<Redirect>, ApiError> {
    if let Ok(user) = user {
        accounts.sign_out(db, &user, &origin).await?;
    }
    cookies::remove_session_cookies(accounts.settings(), jar);
    Ok(Flash::success(
        Redirect::to("/login"),
        "You have been signed out.",
    ))
}

/// Sign-out for JSON clients: revokes the session of the presented token.
#[post("/logout", rank = 2)]
async fn logout(
    db: &Db,
    accounts: &State<Accounts>,
    user: AuthUser,
    origin: Origin,
) -> Result<Reply, ApiError> {
    accounts.sign_out(db, &user, &origin).await?;
    Ok(Reply::NoContent)
}
