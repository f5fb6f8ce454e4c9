//! Passkeys (docs/api.md §5): `/me/passkeys/…` to add, list and remove them, and
//! `/login/passkey/…` to sign in with one. Bodies are the WebAuthn Level 3 JSON forms. The site's
//! one script (`static/passkeys.js`) drives the same endpoints from the pages, with
//! `"mode":"cookie"` to receive the session as cookies.

use rocket::http::{CookieJar, Status};
use rocket::{Route, State, delete, get, post, routes};
use uuid::Uuid;

use crate::auth::{Accounts, AuthError, AuthUser, Caller, ClientInfo, SignInStep, TokenRejection};
use crate::domain::{FieldErrors, LocalPath};
use crate::web::bodies::{
    BegunBody, PasskeyBody, PasskeyRegistration, PasswordConfirmation, RedirectBody, TokenBody,
};
use crate::web::dashboard::SignedIn;
use crate::web::http::body::{Body, Input};
use crate::web::http::cookies::SessionCookies;
use crate::web::http::csrf::{CsrfTokens, ScriptCsrf};
use crate::web::http::error::ApiError;
use crate::web::http::reply::Reply;

pub fn routes() -> Vec<Route> {
    routes![
        register_start,
        register_finish,
        list,
        remove_form,
        remove,
        sign_in_start,
        sign_in_finish
    ]
}

/// `{"password"}` → `200 {"challenge_id","publicKey"}`: options for `navigator.credentials.create`.
#[post("/me/passkeys/register/start", data = "<body>")]
async fn register_start(
    accounts: &State<Accounts>,
    user: Result<AuthUser, TokenRejection>,
    caller: Caller,
    body: Result<Body<PasswordConfirmation>, ApiError>,
) -> Result<Reply, ApiError> {
    let (user, body) = (user?, body?);
    let begun = accounts
        .begin_passkey_registration(&user, body.fields.password, &caller)
        .await?;
    Reply::json(Status::Ok, &BegunBody::from(begun))
}

/// `{"challenge_id","name","credential"}` → `201` the passkey (with the recovery codes when it is
/// the account's first factor).
#[post("/me/passkeys/register/finish", data = "<body>")]
async fn register_finish(
    accounts: &State<Accounts>,
    user: Result<AuthUser, TokenRejection>,
    caller: Caller,
    body: Result<Body<PasskeyRegistration>, ApiError>,
) -> Result<Reply, ApiError> {
    let (user, body) = (user?, body?);
    let PasskeyRegistration {
        challenge_id,
        name,
        credential,
    } = body.fields;
    let added = accounts
        .finish_passkey_registration(&user, &challenge_id, &name, credential, &caller)
        .await?;
    let mut body = PasskeyBody::from(added.passkey);
    body.recovery_codes = added.recovery_codes;
    Reply::json(Status::Created, &body)
}

#[get("/me/passkeys")]
async fn list(
    accounts: &State<Accounts>,
    user: Result<AuthUser, TokenRejection>,
) -> Result<Reply, ApiError> {
    let passkeys = accounts.passkeys(&user?).await?;
    let body: Vec<PasskeyBody> = passkeys.into_iter().map(PasskeyBody::from).collect();
    Reply::json(Status::Ok, &body)
}

/// Another account's passkey is `404`, exactly like a missing one.
fn passkey_id(id: &str) -> Result<Uuid, AuthError> {
    Uuid::parse_str(id).map_err(|_| AuthError::NotFound)
}

/// The dashboard's button (`_method=delete` in a form post, with the password).
#[delete("/me/passkeys/<id>", format = "form", data = "<body>")]
async fn remove_form(
    me: Result<SignedIn<'_>, TokenRejection>,
    id: &str,
    body: Result<Body<PasswordConfirmation>, ApiError>,
) -> Result<Reply, ApiError> {
    let (me, body) = (me?, body?);
    let result = match passkey_id(id) {
        Ok(id) => {
            me.accounts
                .remove_passkey(&me.user, id, body.fields.password, &me.caller)
                .await
        }
        Err(e) => Err(e),
    };
    if matches!(result, Err(AuthError::NotFound)) {
        return Err(ApiError::NotFound);
    }
    let removed = || {
        Reply::flash(
            "/dashboard",
            "The passkey was removed. Every other session was signed out.",
        )
    };
    me.answer(body.kind, result, removed, "The passkey was not removed")
        .await
}

/// `{"password"}` → `204`.
#[delete("/me/passkeys/<id>", rank = 2, data = "<body>")]
async fn remove(
    accounts: &State<Accounts>,
    user: Result<AuthUser, TokenRejection>,
    caller: Caller,
    id: &str,
    body: Result<Body<PasswordConfirmation>, ApiError>,
) -> Result<Reply, ApiError> {
    let (user, body) = (user?, body?);
    accounts
        .remove_passkey(&user, passkey_id(id)?, body.fields.password, &caller)
        .await?;
    Ok(Reply::NoContent)
}

/// Whether a sign-in request wants cookies (the pages' script) rather than tokens.
fn cookie_mode(input: &Input) -> bool {
    input.fields.peek("mode") == Some("cookie")
}

/// `{}` (or `{"mfa_token"}` for the second step) → `200 {"challenge_id","publicKey"}`. The pages'
/// script sends `{"mode":"cookie"}`, and on the second step's page `"second_step":"yes"`: the
/// browser's pending sign-in is then its HttpOnly cookie.
#[post("/login/passkey/start", data = "<input>")]
async fn sign_in_start(
    accounts: &State<Accounts>,
    cookies: &State<SessionCookies>,
    jar: &CookieJar<'_>,
    caller: Caller,
    input: Result<Input, ApiError>,
) -> Result<Reply, ApiError> {
    let mut input = input?;
    let mut errors = FieldErrors::default();
    let mfa_token = if cookie_mode(&input) {
        match input.fields.peek("second_step") {
            Some("yes") => Some(
                jar.get(cookies.pending_name())
                    .map(|c| c.value().to_owned())
                    .ok_or(ApiError::InvalidToken("mfa token"))?,
            ),
            _ => None,
        }
    } else {
        input.fields.optional_text("mfa_token", &mut errors)
    };
    if !errors.is_empty() {
        return Err(ApiError::InvalidInput(errors));
    }
    let begun = accounts
        .begin_passkey_sign_in(mfa_token.as_deref(), &caller)
        .await?;
    Reply::json(Status::Ok, &BegunBody::from(begun))
}

/// `{"challenge_id","credential"}` → `200` the token body; with `"mode":"cookie"` (and the page's
/// CSRF token in `X-CSRF-Token`) the session cookies and `{"redirect"}`.
#[post("/login/passkey/finish", data = "<input>")]
async fn sign_in_finish(
    accounts: &State<Accounts>,
    cookies: &State<SessionCookies>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    tokens: &State<CsrfTokens>,
    csrf: ScriptCsrf,
    input: Result<Input, ApiError>,
) -> Result<Reply, ApiError> {
    let mut input = input?;
    let cookie_mode = cookie_mode(&input);
    if cookie_mode && let Err(why) = csrf.0 {
        tokens.log_refusal(&client.caller, why);
        return Err(ApiError::CsrfFailed(why));
    }
    let mut errors = FieldErrors::default();
    let challenge = input.fields.text("challenge_id", &mut errors);
    let credential = input.fields.object("credential", &mut errors);
    let next = input.fields.peek("next").and_then(LocalPath::parse);
    let (Some(challenge), Some(credential)) = (challenge, credential) else {
        return Err(ApiError::InvalidInput(errors));
    };
    let (step, pending_next) = accounts
        .finish_passkey_sign_in(&challenge, credential, &client)
        .await?;
    let SignInStep::SessionOpened { sign_in, device } = step else {
        return Err(ApiError::Internal("a step after a passkey".into()));
    };
    if !cookie_mode {
        return Reply::json(Status::Ok, &TokenBody::from(sign_in));
    }
    cookies.forget_pending(jar);
    cookies.set(jar, &sign_in);
    cookies.set_device(jar, device);
    let target = pending_next
        .as_deref()
        .and_then(LocalPath::parse)
        .or(next)
        .map_or_else(|| "/dashboard".to_owned(), |p| p.as_str().to_owned());
    Reply::json(Status::Ok, &RedirectBody { redirect: target })
}
