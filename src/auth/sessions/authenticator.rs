//! Who is signed in: the checks behind the request guard, on plain values. The web layer reads
//! the token, the refresh cookie and the CSRF evidence off the request (`web/guard.rs`) and
//! applies what this decides to the response's cookies.

use std::net::IpAddr;
use std::sync::Arc;

use sqlx::PgPool;

use crate::auth::audit::{Event, SecurityLog};
use crate::auth::caller::Caller;
use crate::auth::error::AuthError;
use crate::auth::keys::access_token::{TokenError, TokenKeys};
use crate::auth::sessions::owners::{Ownership, SessionOwners};
use crate::auth::sessions::revocations::{Revocations, Verdict};
use crate::auth::sessions::service::{AuthUser, Sessions, SignIn};
use crate::db;

/// Why a request is not authenticated; the web layer maps these to the 401 codes of docs/api.md §2 (and
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

/// Where the access token came from.
#[derive(Debug, PartialEq, Eq)]
pub enum Credential<'r> {
    Bearer(&'r str),
    Cookie(String),
}

/// What a request presents, as read by the web layer.
#[derive(Debug)]
pub struct Presented<'r> {
    /// The access token, or why the request carries none that can be used.
    pub token: Result<Credential<'r>, TokenRejection>,
    /// The refresh cookie's value, when the browser has one.
    pub refresh_cookie: Option<String>,
    pub ip: Option<IpAddr>,
    pub request_id: &'r str,
}

impl Presented<'_> {
    fn caller(&self) -> Caller {
        Caller {
            ip: self.ip,
            request_id: self.request_id.to_owned(),
        }
    }
}

/// A successful check.
#[derive(Debug)]
pub enum Authenticated {
    /// The access token is good.
    ByToken(AuthUser),
    /// The access cookie was missing or expired and the refresh cookie renewed the session: the
    /// response must carry the new pair.
    Renewed(Box<SignIn>),
}

/// A failed check.
#[derive(Debug, Clone, Copy)]
pub struct Refusal {
    pub rejection: TokenRejection,
    /// The refresh cookie is dead: the response should clear the session cookies.
    pub clear_cookies: bool,
}

impl From<TokenRejection> for Refusal {
    fn from(rejection: TokenRejection) -> Self {
        Self {
            rejection,
            clear_cookies: false,
        }
    }
}

/// How long the guard waits for the database to check a session it cannot check in memory.
const LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

pub struct Authenticator {
    pool: PgPool,
    keys: Arc<TokenKeys>,
    revocations: Arc<Revocations>,
    owners: Arc<SessionOwners>,
    sessions: Sessions,
    log: Arc<SecurityLog>,
}

/// What the authenticator works with, shared with the other services.
pub struct AuthenticatorParts {
    pub pool: PgPool,
    pub keys: Arc<TokenKeys>,
    pub revocations: Arc<Revocations>,
    pub owners: Arc<SessionOwners>,
    pub sessions: Sessions,
    pub log: Arc<SecurityLog>,
}

impl Authenticator {
    pub fn new(parts: AuthenticatorParts) -> Self {
        Self {
            pool: parts.pool,
            keys: parts.keys,
            revocations: parts.revocations,
            owners: parts.owners,
            sessions: parts.sessions,
            log: parts.log,
        }
    }

    /// Checks what a request presents. A cookie authenticates whatever the browser sends, so
    /// when the cookies are what authenticates, `csrf` must prove the request comes from our
    /// pages (it is called only then). Token and CSRF refusals are logged; a request without any
    /// credential is routine.
    pub async fn authenticate(
        &self,
        presented: Presented<'_>,
        csrf: impl FnOnce() -> Result<(), &'static str>,
    ) -> Result<Authenticated, Refusal> {
        let result = self.check(&presented, csrf).await;
        if let Err(refusal) = &result {
            self.log_refusal(&presented, refusal.rejection);
        }
        result
    }

    /// The paths that reach the database are boxed: Rocket moves this future on every request,
    /// and unboxed they made it many times larger than the common path needs.
    async fn check(
        &self,
        presented: &Presented<'_>,
        csrf: impl FnOnce() -> Result<(), &'static str>,
    ) -> Result<Authenticated, Refusal> {
        let by_cookie = matches!(presented.token, Ok(Credential::Cookie(_)))
            || (presented.token == Err(TokenRejection::Missing)
                && presented.refresh_cookie.is_some());
        if by_cookie {
            csrf().map_err(TokenRejection::Csrf)?;
        }
        let (token, from_cookie) = match &presented.token {
            Ok(Credential::Bearer(t)) => (*t, false),
            Ok(Credential::Cookie(t)) => (t.as_str(), true),
            Err(TokenRejection::Missing) => {
                return Box::pin(self.renew(presented, TokenRejection::Missing)).await;
            }
            Err(other) => return Err((*other).into()),
        };
        let claims = match self.keys.verify(token) {
            Ok(claims) => claims,
            Err(TokenError::Expired) if from_cookie => {
                return Box::pin(self.renew(presented, TokenRejection::Expired)).await;
            }
            Err(e) => return Err(TokenRejection::from(e).into()),
        };
        // The in-process revocation set answers without a database round trip while it is known
        // to be current; otherwise (starting, or its listener reconnecting) the database does.
        // A token is good only for its own user's session: the owner is remembered, since it
        // never changes, and asked of the database once per session otherwise.
        let username = match (
            self.revocations.check(claims.sid),
            self.owners.check(claims.sid, claims.sub),
            &claims.preferred_username,
        ) {
            (Verdict::Revoked, _, _) => {
                return Err(TokenRejection::Invalid("session revoked").into());
            }
            (_, Ownership::Foreign, _) => {
                return Err(TokenRejection::Invalid("session of another user").into());
            }
            (Verdict::NotRevoked, Ownership::Owns, Some(username)) => username.clone(),
            _ => {
                // Bounded: a database that stopped answering (a silent partition) must give a
                // 503, not a request that hangs.
                let lookup = tokio::time::timeout(
                    LOOKUP_TIMEOUT,
                    db::sessions::find_live_session_user(&self.pool, claims.sid, claims.sub),
                );
                let username = Box::pin(lookup)
                    .await
                    .map_err(|_| TokenRejection::Unavailable)?
                    .map_err(lookup_failed)?
                    .ok_or(TokenRejection::Invalid(
                        "session revoked, of another user, or user gone",
                    ))?;
                self.owners.remember(claims.sid, claims.sub);
                username
            }
        };
        Ok(Authenticated::ByToken(AuthUser {
            user_id: claims.sub,
            session_id: claims.sid,
            username,
            expires_at: claims.exp,
        }))
    }

    /// A browser whose access cookie is gone or expired is served normally when its refresh
    /// cookie is good. Without a usable refresh cookie the original rejection stands, and a dead
    /// refresh cookie is to be cleared.
    async fn renew(
        &self,
        presented: &Presented<'_>,
        otherwise: TokenRejection,
    ) -> Result<Authenticated, Refusal> {
        let Some(refresh_token) = &presented.refresh_cookie else {
            return Err(otherwise.into());
        };
        match self
            .sessions
            .refresh(refresh_token, &presented.caller())
            .await
        {
            Ok(sign_in) => Ok(Authenticated::Renewed(Box::new(sign_in))),
            Err(AuthError::Unavailable) => Err(TokenRejection::Unavailable.into()),
            Err(_) => Err(Refusal {
                rejection: otherwise,
                clear_cookies: true,
            }),
        }
    }

    fn log_refusal(&self, presented: &Presented<'_>, rejection: TokenRejection) {
        let (kind, outcome) = match rejection {
            TokenRejection::Missing | TokenRejection::Unavailable => return,
            TokenRejection::Expired => ("token_rejected", "expired"),
            TokenRejection::Invalid(why) => ("token_rejected", why),
            TokenRejection::Csrf(why) => ("csrf_refused", why),
        };
        self.log
            .record(&presented.caller(), Event::new(kind, outcome));
    }
}

fn lookup_failed(e: sqlx::Error) -> TokenRejection {
    if !db::is_unavailable(&e) {
        log::error!("session lookup failed: {e}");
    }
    TokenRejection::Unavailable
}
