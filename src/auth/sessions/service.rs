//! Sessions: one row per sign-in, opened for a proven user, renewed by rotating refresh tokens,
//! ended by sign-out or revocation. Every revocation reaches this instance's revocation set before
//! the request that made it is answered.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::audit::{Event, SecurityLog};
use crate::auth::caller::{Caller, ClientInfo};
use crate::auth::error::AuthError;
use crate::auth::keys::access_token::TokenKeys;
use crate::auth::keys::random::{random_token, token_digest};
use crate::auth::sessions::owners::SessionOwners;
use crate::auth::sessions::revocations::Revocations;
use crate::db;
use crate::db::sessions::{Rotation, SessionInfo};

/// Refresh tokens carry 256 random bits (docs/api.md §3).
const REFRESH_TOKEN_BYTES: usize = 32;
/// User agents are stored for the session list, cut to a sane length.
const MAX_USER_AGENT_CHARS: usize = 512;
/// Ours are 43 characters; anything far off is not worth a query.
const MAX_REFRESH_TOKEN_LEN: usize = 256;

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

/// A user who has just proved who they are. Only the core's checks make one (see
/// `accounts.rs`), and only a `Verified` opens a session.
#[derive(Debug)]
pub struct Verified {
    user_id: Uuid,
    username: String,
    /// How they proved it (RFC 8176 method values), carried by the session's tokens.
    amr: Vec<String>,
}

impl Verified {
    pub(crate) fn new(user_id: Uuid, username: String, amr: &[&str]) -> Self {
        Self {
            user_id,
            username,
            amr: amr.iter().map(|m| (*m).to_owned()).collect(),
        }
    }

    pub fn user_id(&self) -> Uuid {
        self.user_id
    }
}

/// A successful sign-in: a session and its tokens.
#[derive(Debug)]
pub struct SignIn {
    pub user_id: Uuid,
    pub username: String,
    pub session_id: Uuid,
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// When the access token expires (Unix seconds).
    pub expires_at: i64,
}

impl SignIn {
    /// The signed-in user this sign-in proves.
    pub fn user(&self) -> AuthUser {
        AuthUser {
            user_id: self.user_id,
            session_id: self.session_id,
            username: self.username.clone(),
            expires_at: self.expires_at,
        }
    }
}

/// How long refresh tokens live and how long a spent one is still honoured.
#[derive(Debug, Clone, Copy)]
pub struct RefreshPolicy {
    pub ttl: Duration,
    /// Parallel tabs refreshing with one token both get a pair within this window.
    pub grace: Duration,
}

/// Cheap to clone: every part is shared.
#[derive(Clone)]
pub struct Sessions {
    pool: PgPool,
    keys: Arc<TokenKeys>,
    revocations: Arc<Revocations>,
    owners: Arc<SessionOwners>,
    log: Arc<SecurityLog>,
    refresh: RefreshPolicy,
    successors: Arc<aws_lc_rs::hmac::Key>,
}

/// What the sessions service works with, shared with the other services.
pub struct SessionsParts {
    pub pool: PgPool,
    pub keys: Arc<TokenKeys>,
    pub revocations: Arc<Revocations>,
    pub owners: Arc<SessionOwners>,
    pub log: Arc<SecurityLog>,
    pub refresh: RefreshPolicy,
    /// Derives each refresh token's successor.
    pub successor_key: aws_lc_rs::hmac::Key,
}

impl Sessions {
    /// Live (unrevoked, unexpired) sessions, for the metrics.
    pub async fn count_live(&self) -> Result<i64, AuthError> {
        Ok(db::sessions::count_live(&self.pool).await?)
    }

    pub fn new(parts: SessionsParts) -> Self {
        Self {
            pool: parts.pool,
            keys: parts.keys,
            revocations: parts.revocations,
            owners: parts.owners,
            log: parts.log,
            refresh: parts.refresh,
            successors: Arc::new(parts.successor_key),
        }
    }

    /// Opens a session for a proven user.
    pub async fn open(&self, user: Verified, client: &ClientInfo) -> Result<SignIn, AuthError> {
        let refresh_token = random_token(REFRESH_TOKEN_BYTES);
        let user_agent = client
            .user_agent
            .as_deref()
            .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect::<String>());
        let session_id = db::sessions::insert_session(
            &self.pool,
            db::sessions::NewSession {
                user_id: user.user_id,
                refresh_hash: &token_digest(&refresh_token),
                ttl: self.refresh.ttl,
                user_agent: user_agent.as_deref(),
                ip: client.ip(),
                amr: &user.amr,
            },
        )
        .await?;
        self.tokens_for(
            user.user_id,
            user.username,
            session_id,
            refresh_token,
            &user.amr,
        )
    }

    fn tokens_for(
        &self,
        user_id: Uuid,
        username: String,
        session_id: Uuid,
        refresh_token: String,
        amr: &[String],
    ) -> Result<SignIn, AuthError> {
        self.owners.remember(session_id, user_id);
        let ttl = self.keys.ttl().as_secs();
        let access_token = self
            .keys
            .issue_with(user_id, session_id, &username, amr)
            .map_err(|e| {
                log::error!("cannot issue an access token: {e}");
                AuthError::Unavailable
            })?;
        Ok(SignIn {
            access_token,
            user_id,
            username,
            session_id,
            refresh_token,
            expires_in: ttl,
            expires_at: OffsetDateTime::now_utc().unix_timestamp() + ttl as i64,
        })
    }

    /// Exchanges a refresh token for a new pair of the same session (rotation). A spent token
    /// presented again inside the grace window (parallel tabs) gets the same successor again;
    /// after the window it revokes the session: one of its holders is a thief.
    pub async fn refresh(&self, refresh_token: &str, caller: &Caller) -> Result<SignIn, AuthError> {
        if refresh_token.is_empty() || refresh_token.len() > MAX_REFRESH_TOKEN_LEN {
            self.log
                .record(caller, Event::new("refresh", "invalid_token"));
            return Err(AuthError::InvalidRefreshToken);
        }
        let next = self.successor_of(refresh_token);
        let rotation = db::sessions::rotate_refresh_token(
            &self.pool,
            &token_digest(refresh_token),
            &token_digest(&next),
            self.refresh.grace,
            self.refresh.ttl,
        )
        .await?;
        match rotation {
            Rotation::Rotated {
                session_id,
                user_id,
                username,
                amr,
            } => {
                self.log.record(
                    caller,
                    Event::new("refresh", "success")
                        .user(user_id)
                        .session(session_id),
                );
                self.tokens_for(user_id, username, session_id, next, &amr)
            }
            Rotation::Refused => {
                self.log
                    .record(caller, Event::new("refresh", "invalid_token"));
                Err(AuthError::InvalidRefreshToken)
            }
            Rotation::ReuseDetected { session_id } => {
                self.revocations.propagate(vec![session_id]).await;
                self.log.record(
                    caller,
                    Event::new("refresh", "reuse_detected_session_revoked").session(session_id),
                );
                Err(AuthError::InvalidRefreshToken)
            }
        }
    }

    /// The refresh token that follows `token`: `HMAC(successor key, token)`, so every
    /// presentation of one token inside the grace window gets the same successor, and the chain
    /// never forks into one that reuse detection cannot see. Only the server can compute it.
    fn successor_of(&self, token: &str) -> String {
        use base64::Engine;
        let tag = aws_lc_rs::hmac::sign(&self.successors, token.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag)
    }

    /// The user's live sessions.
    pub async fn list(&self, user_id: Uuid) -> Result<Vec<SessionInfo>, AuthError> {
        Ok(db::sessions::list_sessions(&self.pool, user_id).await?)
    }

    /// Revokes one of the user's own sessions; `false` when there is no such live session of
    /// theirs (another user's session is indistinguishable from a missing one).
    pub async fn revoke(
        &self,
        user: &AuthUser,
        session_id: Uuid,
        caller: &Caller,
    ) -> Result<bool, AuthError> {
        let revoked = db::sessions::revoke_session(&self.pool, session_id, user.user_id).await?;
        if revoked {
            self.revocations.propagate(vec![session_id]).await;
            let kind = if session_id == user.session_id {
                "logout"
            } else {
                "session_revoked"
            };
            self.log.record(
                caller,
                Event::new(kind, "success")
                    .user(user.user_id)
                    .session(session_id),
            );
        }
        Ok(revoked)
    }

    /// Revokes every session of the user but the current one; returns how many.
    pub async fn revoke_others(&self, user: &AuthUser, caller: &Caller) -> Result<u64, AuthError> {
        let revoked =
            db::sessions::revoke_other_sessions(&self.pool, user.user_id, user.session_id).await?;
        let count = revoked.len() as u64;
        self.revocations.propagate(revoked).await;
        self.log.record(
            caller,
            Event::new("other_sessions_revoked", "success").user(user.user_id),
        );
        Ok(count)
    }

    /// Ends the current session: its tokens are refused from the next request on.
    pub async fn sign_out(&self, user: &AuthUser, caller: &Caller) -> Result<(), AuthError> {
        self.revoke(user, user.session_id, caller).await?;
        Ok(())
    }
}
