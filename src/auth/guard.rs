//! The request guard: who is signed in.

use rocket::http::{Method, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket_db_pools::Database;
use uuid::Uuid;

use super::audit::{Event, Origin};
use super::csrf::{self, CsrfKey};
use super::revocations::Verdict;
use super::{Accounts, AuthError, TokenError, cookies};
use crate::db::{self, Db};

/// A signed-in user, proved by a valid access token whose session is live.
///
/// The token comes from `Authorization: Bearer` when that header is present (an invalid header is
/// not rescued by a cookie), else from the access cookie; never from the query string
/// (RFC 6750 2.3 is not supported: URLs end up in logs and `Referer` headers).
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub username: String,
    /// When the access token expires (Unix seconds).
    pub expires_at: i64,
}

/// Why a request is not authenticated; the web layer maps these to CONTRACT.md's 401 codes (and
/// `Unavailable` to 503: a token that cannot be checked against revocation is not accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    #[error("no token was presented")]
    Missing,
    #[error("the token has expired")]
    Expired,
    #[error("the token is invalid: {0}")]
    Invalid(&'static str),
    #[error("the database is unavailable")]
    Unavailable,
    /// A cookie-authenticated unsafe request without CSRF proof: `403 csrf_failed`.
    #[error("CSRF check failed: {0}")]
    Csrf(&'static str),
}

impl From<TokenError> for TokenRejection {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Expired => Self::Expired,
            TokenError::Invalid(why) => Self::Invalid(why),
        }
    }
}

/// The credential a request presents, before it is checked.
#[derive(Debug, PartialEq, Eq)]
pub enum Presented<'r> {
    Bearer(&'r str),
    Cookie(String),
}

/// Reads the token from the `Authorization` header, else from the access cookie.
pub fn presented_token<'r>(
    req: &'r Request<'_>,
    cookie_name: &str,
) -> Result<Presented<'r>, TokenRejection> {
    let mut headers = req.headers().get("Authorization");
    if let Some(value) = headers.next() {
        if headers.next().is_some() {
            return Err(TokenRejection::Invalid("several Authorization headers"));
        }
        // RFC 6750 2.1: `Bearer 1*SP b64token`; the scheme is case-insensitive (RFC 9110 11.1).
        let (scheme, token) = value
            .split_once(' ')
            .ok_or(TokenRejection::Invalid("not a Bearer credential"))?;
        if !scheme.eq_ignore_ascii_case("Bearer") {
            return Err(TokenRejection::Invalid("not a Bearer credential"));
        }
        let token = token.trim_matches(' ');
        if token.is_empty() {
            return Err(TokenRejection::Invalid("empty Bearer credential"));
        }
        return Ok(Presented::Bearer(token));
    }
    match req.cookies().get(cookie_name) {
        Some(cookie) if !cookie.value().is_empty() => {
            Ok(Presented::Cookie(cookie.value().to_owned()))
        }
        _ => Err(TokenRejection::Missing),
    }
}

/// A cookie authenticates whatever the browser sends, so an unsafe request authenticated by it
/// must prove it comes from our pages: forms carry the token in a field (checked with the body,
/// by the form decoder), scripts in the `X-CSRF-Token` header (checked here).
fn check_cookie_csrf(req: &Request<'_>, accounts: &Accounts) -> Result<(), TokenRejection> {
    if matches!(req.method(), Method::Get | Method::Head | Method::Options) {
        return Ok(());
    }
    if req.content_type().is_some_and(|ct| ct.is_form()) {
        return csrf::check_origin(req).map_err(TokenRejection::Csrf);
    }
    let key = req
        .rocket()
        .state::<CsrfKey>()
        .ok_or(TokenRejection::Csrf("CSRF key not configured"))?;
    csrf::verify(
        key,
        accounts.settings(),
        req,
        req.headers().get_one(csrf::HEADER),
    )
    .map_err(TokenRejection::Csrf)
}

fn lookup_failed(e: sqlx::Error) -> TokenRejection {
    if !db::is_unavailable(&e) {
        log::error!("session lookup failed: {e}");
    }
    TokenRejection::Unavailable
}

/// The paths that reach the database are boxed: Rocket moves this future on every request, and
/// unboxed they made it ten times larger than the common path needs.
async fn authenticate(req: &Request<'_>) -> Result<AuthUser, TokenRejection> {
    let accounts = req
        .rocket()
        .state::<Accounts>()
        .expect("Accounts is managed at ignition");
    let settings = accounts.settings();
    let pool = Db::fetch(req.rocket()).expect("Db is managed at ignition");
    let refresh_cookie = req
        .cookies()
        .get(cookies::refresh_cookie_name(settings))
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty());

    let presented = presented_token(req, cookies::access_cookie_name(settings));
    if matches!(presented, Ok(Presented::Cookie(_)))
        || (presented == Err(TokenRejection::Missing) && refresh_cookie.is_some())
    {
        check_cookie_csrf(req, accounts)?;
    }
    let (token, from_cookie) = match &presented {
        Ok(Presented::Bearer(t)) => (*t, false),
        Ok(Presented::Cookie(t)) => (t.as_str(), true),
        Err(TokenRejection::Missing) => {
            return Box::pin(renew(
                req,
                pool,
                accounts,
                refresh_cookie,
                TokenRejection::Missing,
            ))
            .await;
        }
        Err(other) => return Err(*other),
    };
    let claims = match accounts.keys().verify(token) {
        Ok(claims) => claims,
        Err(TokenError::Expired) if from_cookie => {
            return Box::pin(renew(
                req,
                pool,
                accounts,
                refresh_cookie,
                TokenRejection::Expired,
            ))
            .await;
        }
        Err(e) => return Err(e.into()),
    };
    // The in-process revocation set answers without a database round trip while it is known to be
    // current; otherwise (starting, or its listener reconnecting) the database does.
    let username = match (
        accounts.revocations().check(claims.sid),
        &claims.preferred_username,
    ) {
        (Verdict::Revoked, _) => return Err(TokenRejection::Invalid("session revoked")),
        (Verdict::NotRevoked, Some(username)) => username.clone(),
        _ => Box::pin(db::sessions::find_live_session_user(
            pool, claims.sid, claims.sub,
        ))
        .await
        .map_err(lookup_failed)?
        .ok_or(TokenRejection::Invalid("session revoked or user gone"))?,
    };
    Ok(AuthUser {
        user_id: claims.sub,
        session_id: claims.sid,
        username,
        expires_at: claims.exp,
    })
}

/// A browser whose access cookie is gone or expired is served normally when its refresh cookie is
/// good: both cookies are rotated in this response. Without a usable refresh cookie the original
/// rejection stands, and a dead refresh cookie is cleared.
async fn renew(
    req: &Request<'_>,
    pool: &sqlx::PgPool,
    accounts: &Accounts,
    refresh_cookie: Option<String>,
    otherwise: TokenRejection,
) -> Result<AuthUser, TokenRejection> {
    let Some(refresh_token) = refresh_cookie else {
        return Err(otherwise);
    };
    match accounts
        .refresh(pool, &refresh_token, &Origin::of(req))
        .await
    {
        Ok(sign_in) => {
            cookies::set_session_cookies(accounts.settings(), req.cookies(), &sign_in);
            Ok(sign_in.user())
        }
        Err(AuthError::Unavailable) => Err(TokenRejection::Unavailable),
        Err(_) => {
            cookies::remove_session_cookies(accounts.settings(), req.cookies());
            Err(otherwise)
        }
    }
}

/// Token and CSRF refusals go to the security log; a request without any credential is routine.
fn log_rejection(req: &Request<'_>, rejection: TokenRejection) {
    let outcome = match rejection {
        TokenRejection::Missing | TokenRejection::Unavailable => return,
        TokenRejection::Expired => "expired",
        TokenRejection::Invalid(why) => why,
        TokenRejection::Csrf(why) => why,
    };
    let kind = match rejection {
        TokenRejection::Csrf(_) => "csrf_refused",
        _ => "token_rejected",
    };
    if let Some(accounts) = req.rocket().state::<Accounts>() {
        accounts.audit(&Origin::of(req), Event::new(kind, outcome));
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AuthUser {
    type Error = TokenRejection;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        // Cached: several guards in one request check the token once.
        let result = req
            .local_cache_async(async { authenticate(req).await })
            .await;
        match result {
            Ok(user) => Outcome::Success(user.clone()),
            Err(rejection) => {
                log_rejection(req, *rejection);
                let error = crate::error::ApiError::from(*rejection);
                let status: Status = error.status();
                crate::error::stash(req, error);
                Outcome::Error((status, *rejection))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rocket::local::blocking::Client;

    /// Rocket moves the guard's future several times per request (into `local_cache_async`'s
    /// slot, into its box): every byte of it is copied on the hot path. The paths that reach the
    /// database are boxed, so the common case stays small.
    #[test]
    fn the_authentication_future_stays_small() {
        let client = Client::untracked(rocket::build()).expect("a bare rocket");
        let request = client.get("/protected");
        let future = super::authenticate(request.inner());
        let size = std::mem::size_of_val(&future);
        println!("authenticate future: {size} bytes");
        assert!(size <= 1024, "authenticate's future is {size} bytes");
    }
}
