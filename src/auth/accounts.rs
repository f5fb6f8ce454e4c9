//! Registration and sign-in: the one implementation both audiences call.

use std::net::IpAddr;

use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use super::password::HashError;
use super::{AuthUser, PasswordHasher, TokenKeys, random_token, token_digest};
use crate::config::Settings;
use crate::db::sessions::{Rotation, SessionInfo};
use crate::db::users::{StoredCredentials, User};
use crate::db::{self};
use crate::domain::{
    Credentials, FieldErrors, NewAccount, Password, PasswordPolicy, RawCredentials, Username,
};

/// Refresh tokens carry 256 random bits (CONTRACT.md section 3).
const REFRESH_TOKEN_BYTES: usize = 32;
/// User agents are stored for the session list, cut to a sane length.
const MAX_USER_AGENT_CHARS: usize = 512;

/// What the security core can answer besides success. The web layer maps each to a status.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid input")]
    InvalidInput(FieldErrors),
    /// Unknown user or wrong password: deliberately one variant.
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("username taken")]
    UsernameTaken,
    /// A wrong password from a signed-in user (password change, account deletion).
    #[error("wrong password")]
    WrongPassword,
    /// An unknown, expired, spent or revoked refresh token.
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    /// The password hashing queue is full.
    #[error("busy")]
    Busy,
    /// The database cannot be reached.
    #[error("database unavailable")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<sqlx::Error> for AuthError {
    fn from(e: sqlx::Error) -> Self {
        if db::is_unavailable(&e) {
            Self::Unavailable
        } else {
            Self::Internal(e.into())
        }
    }
}

impl From<HashError> for AuthError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => Self::Busy,
            other => Self::Internal(other.into()),
        }
    }
}

impl From<FieldErrors> for AuthError {
    fn from(e: FieldErrors) -> Self {
        Self::InvalidInput(e)
    }
}

/// Where a sign-in comes from, recorded on its session.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub user_agent: Option<String>,
    pub ip: Option<IpAddr>,
}

/// A successful sign-in: a new session and its tokens.
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

/// The accounts service: settings, keys and the password hasher, built once at ignition.
pub struct Accounts {
    settings: Settings,
    keys: TokenKeys,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
}

impl Accounts {
    pub async fn start(settings: Settings) -> Result<Self, HashError> {
        let hasher = PasswordHasher::start(
            settings.password_hash_threads,
            settings.password_hash_queue,
            settings.bcrypt_cost,
        )
        .await?;
        Ok(Self {
            keys: TokenKeys::new(&settings),
            policy: PasswordPolicy {
                min_length: settings.password_min_length,
            },
            settings,
            hasher,
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn keys(&self) -> &TokenKeys {
        &self.keys
    }

    pub fn policy(&self) -> &PasswordPolicy {
        &self.policy
    }

    /// Creates an account. The database's unique index is the final word on duplicates, so two
    /// concurrent registrations of one name give one account and one `UsernameTaken`.
    pub async fn register(&self, pool: &PgPool, raw: RawCredentials) -> Result<User, AuthError> {
        let account = NewAccount::parse(raw, &self.policy, |_| false)?;
        // A cheap look first, so a taken name costs no bcrypt work.
        if db::users::find_credentials(pool, &account.username)
            .await?
            .is_some()
        {
            return Err(AuthError::UsernameTaken);
        }
        let hash = self.hasher.hash(account.password).await?;
        db::users::insert_user(pool, &account.username, &hash)
            .await
            .map_err(|e| match db::unique_violation(&e) {
                Some(db::users::USERNAME_UNIQUE) => AuthError::UsernameTaken,
                _ => e.into(),
            })
    }

    /// Checks a username and password and opens a session. Unknown users and wrong passwords take
    /// the same bcrypt work and give the same error (OWASP ASVS 6.3.8, Authentication Cheat Sheet).
    pub async fn sign_in(
        &self,
        pool: &PgPool,
        raw: RawCredentials,
        client: ClientInfo,
    ) -> Result<SignIn, AuthError> {
        let credentials = Credentials::parse(raw)?;
        let stored = match &credentials.username {
            Some(name) => db::users::find_credentials(pool, name).await?,
            None => None,
        };
        let (user, hash) = match stored {
            Some(s) => (Some((s.id, s.username)), Some(s.password_hash)),
            None => (None, None),
        };
        let matched = self.hasher.verify(credentials.password, hash).await?;
        match user {
            Some((id, username)) if matched => self.open_session(pool, id, username, client).await,
            _ => Err(AuthError::InvalidCredentials),
        }
    }

    /// Opens a session for a user who has just proved who they are.
    pub async fn open_session(
        &self,
        pool: &PgPool,
        user_id: Uuid,
        username: String,
        client: ClientInfo,
    ) -> Result<SignIn, AuthError> {
        let refresh_token = random_token(REFRESH_TOKEN_BYTES);
        let user_agent = client
            .user_agent
            .as_deref()
            .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect::<String>());
        let session_id = db::sessions::insert_session(
            pool,
            db::sessions::NewSession {
                user_id,
                refresh_hash: &token_digest(&refresh_token),
                ttl: self.settings.refresh_token_ttl,
                user_agent: user_agent.as_deref(),
                ip: client.ip,
            },
        )
        .await?;
        Ok(self.tokens_for(user_id, username, session_id, refresh_token))
    }

    fn tokens_for(
        &self,
        user_id: Uuid,
        username: String,
        session_id: Uuid,
        refresh_token: String,
    ) -> SignIn {
        SignIn {
            user_id,
            username,
            session_id,
            access_token: self.keys.issue(user_id, session_id),
            refresh_token,
            expires_in: self.keys.ttl().as_secs(),
            expires_at: OffsetDateTime::now_utc().unix_timestamp()
                + self.keys.ttl().as_secs() as i64,
        }
    }

    /// Exchanges a refresh token for a new pair of the same session (rotation). A spent token
    /// presented again after the grace window revokes the session: one of its holders is a thief.
    pub async fn refresh(&self, pool: &PgPool, refresh_token: &str) -> Result<SignIn, AuthError> {
        // Ours are 43 characters; anything far off is not worth a query.
        if refresh_token.is_empty() || refresh_token.len() > 256 {
            return Err(AuthError::InvalidRefreshToken);
        }
        let next = random_token(REFRESH_TOKEN_BYTES);
        let rotation = db::sessions::rotate_refresh_token(
            pool,
            &token_digest(refresh_token),
            &token_digest(&next),
            self.settings.refresh_grace_period,
            self.settings.refresh_token_ttl,
        )
        .await?;
        match rotation {
            Rotation::Rotated {
                session_id,
                user_id,
                username,
            } => Ok(self.tokens_for(user_id, username, session_id, next)),
            Rotation::Refused => Err(AuthError::InvalidRefreshToken),
            Rotation::ReuseDetected { session_id } => {
                log::warn!(
                    "security: refresh token reused after the grace window; session {session_id} revoked"
                );
                Err(AuthError::InvalidRefreshToken)
            }
        }
    }

    /// Checks the password of a signed-in user.
    async fn check_password(
        &self,
        pool: &PgPool,
        user_id: Uuid,
        password: Password,
    ) -> Result<StoredCredentials, AuthError> {
        let stored = db::users::find_credentials_by_id(pool, user_id)
            .await?
            .ok_or(AuthError::WrongPassword)?;
        if self
            .hasher
            .verify(password, Some(stored.password_hash.clone()))
            .await?
        {
            Ok(stored)
        } else {
            Err(AuthError::WrongPassword)
        }
    }

    /// Changes a password after checking the current one; every other session of the user is
    /// revoked, the current one continues (OWASP ASVS 7.4.3).
    pub async fn change_password(
        &self,
        pool: &PgPool,
        user: &AuthUser,
        current: String,
        new: String,
    ) -> Result<(), AuthError> {
        let mut errors = FieldErrors::default();
        let current = Password::parse(current)
            .map_err(|p| errors.add("current_password", p))
            .ok();
        let username = Username::parse(&user.username).ok();
        let new = Password::parse_new(new, username.as_ref(), &self.policy, |_| false)
            .map_err(|problems| problems.iter().for_each(|p| errors.add("new_password", p)))
            .ok();
        let (Some(current), Some(new)) = (current, new) else {
            return Err(AuthError::InvalidInput(errors));
        };
        self.check_password(pool, user.user_id, current).await?;
        let hash = self.hasher.hash(new).await?;
        db::users::change_password(pool, user.user_id, &hash, user.session_id).await?;
        Ok(())
    }

    /// Deletes the account after checking its password; its sessions end with it.
    pub async fn delete_account(
        &self,
        pool: &PgPool,
        user: &AuthUser,
        password: String,
    ) -> Result<(), AuthError> {
        let password = Password::parse(password).map_err(|p| {
            let mut errors = FieldErrors::default();
            errors.add("password", p);
            AuthError::InvalidInput(errors)
        })?;
        self.check_password(pool, user.user_id, password).await?;
        db::users::delete_user(pool, user.user_id).await?;
        Ok(())
    }

    /// The user's live sessions.
    pub async fn sessions(
        &self,
        pool: &PgPool,
        user_id: Uuid,
    ) -> Result<Vec<SessionInfo>, AuthError> {
        Ok(db::sessions::list_sessions(pool, user_id).await?)
    }

    /// Revokes one of the user's own sessions; `false` when there is no such live session of
    /// theirs (another user's session is indistinguishable from a missing one).
    pub async fn revoke_session(
        &self,
        pool: &PgPool,
        user_id: Uuid,
        session_id: Uuid,
    ) -> Result<bool, AuthError> {
        Ok(db::sessions::revoke_session(pool, session_id, user_id).await?)
    }

    /// Revokes every session of the user but the current one.
    pub async fn revoke_other_sessions(
        &self,
        pool: &PgPool,
        user: &AuthUser,
    ) -> Result<u64, AuthError> {
        Ok(db::sessions::revoke_other_sessions(pool, user.user_id, user.session_id).await?)
    }

    /// Ends a session: its access tokens are refused from the next request on.
    pub async fn sign_out(
        &self,
        pool: &PgPool,
        user_id: Uuid,
        session_id: Uuid,
    ) -> Result<(), AuthError> {
        db::sessions::revoke_session(pool, session_id, user_id).await?;
        Ok(())
    }
}
