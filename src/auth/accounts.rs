//! Accounts and sessions: the one implementation both audiences call. Every security decision of
//! registration, sign-in, refresh and sign-out is made here, and every one is logged.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use super::audit::{Event, Origin, SecurityLog};
use super::blocklist::CommonPasswords;
use super::password::HashError;
use super::revocations::Revocations;
use super::{AuthUser, PasswordHasher, TokenKeys, random_token, token_digest};
use crate::config::{Settings, ThrottleSettings};
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
    /// Too many attempts; retry after this many seconds.
    #[error("throttled")]
    Throttled { retry_after: u64 },
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

fn throttled(wait: Duration) -> AuthError {
    // Rounded up: a client that waits exactly this long is let through.
    AuthError::Throttled {
        retry_after: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
    }
}

/// Who is asking, as far as the core cares: recorded on sessions and in the security log.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub user_agent: Option<String>,
    pub origin: Origin,
}

impl ClientInfo {
    pub fn ip(&self) -> Option<IpAddr> {
        self.origin.ip
    }

    fn ip_bucket(&self, action: &str) -> String {
        match self.origin.ip {
            Some(ip) => format!("{action}:{ip}"),
            None => format!("{action}:unknown"),
        }
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

/// The accounts service: settings, keys, the password hasher, the password list and the security
/// log, built once at ignition.
pub struct Accounts {
    settings: Settings,
    keys: TokenKeys,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    common_passwords: CommonPasswords,
    log: SecurityLog,
    revocations: Arc<Revocations>,
}

/// Why the core could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start the password hasher: {0}")]
    Hasher(#[from] HashError),
    #[error("cannot open the security log: {0}")]
    Log(#[from] std::io::Error),
}

impl Accounts {
    pub async fn start(settings: Settings) -> Result<Self, StartError> {
        let log = SecurityLog::open(settings.security_log.as_deref())?;
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
            common_passwords: CommonPasswords::load(),
            revocations: Arc::new(Revocations::new(settings.access_token_ttl)),
            settings,
            hasher,
            log,
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

    fn throttle(&self) -> &ThrottleSettings {
        &self.settings.throttle
    }

    /// The in-process set of revoked sessions.
    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    /// A handle on the set for the task that keeps it current.
    pub fn revocations_handle(&self) -> Arc<Revocations> {
        Arc::clone(&self.revocations)
    }

    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    pub fn security_log(&self) -> &SecurityLog {
        &self.log
    }

    /// Records a security event.
    pub fn audit(&self, origin: &Origin, event: Event<'_>) {
        self.log.record(origin, event);
    }

    fn is_common(&self, password: &str) -> bool {
        self.common_passwords.contains(password)
    }

    /// Counts an attempt against a per-IP limit; refuses once the limit is reached.
    async fn take_ip_slot(
        &self,
        pool: &PgPool,
        client: &ClientInfo,
        action: &'static str,
        limit: u32,
    ) -> Result<(), AuthError> {
        let bucket = client.ip_bucket(action);
        match db::throttle::take_rate_slot(pool, &bucket, limit, ThrottleSettings::IP_WINDOW)
            .await?
        {
            None => Ok(()),
            Some(wait) => {
                self.audit(&client.origin, Event::new(action, "ip_throttled"));
                Err(throttled(wait))
            }
        }
    }

    /// Refuses, before any password work, a username with too many recent failures.
    async fn check_username_throttle(
        &self,
        pool: &PgPool,
        origin: &Origin,
        action: &'static str,
        name: &str,
    ) -> Result<(), AuthError> {
        let limits = self.throttle();
        match db::throttle::username_blocked_for(
            pool,
            name,
            limits.login_failure_limit,
            limits.login_failure_window,
        )
        .await?
        {
            None => Ok(()),
            Some(wait) => {
                self.audit(origin, Event::new(action, "throttled").username(name));
                Err(throttled(wait))
            }
        }
    }

    /// Creates an account. The database's unique index is the final word on duplicates, so two
    /// concurrent registrations of one name give one account and one `UsernameTaken`.
    pub async fn register(
        &self,
        pool: &PgPool,
        raw: RawCredentials,
        client: &ClientInfo,
    ) -> Result<User, AuthError> {
        self.take_ip_slot(pool, client, "register", self.throttle().register_ip_limit)
            .await?;
        let account = NewAccount::parse(raw, &self.policy, |p| self.is_common(p))?;
        let name = account.username.canonical();
        // A cheap look first, so a taken name costs no bcrypt work.
        if db::users::find_credentials(pool, &account.username)
            .await?
            .is_some()
        {
            self.audit(
                &client.origin,
                Event::new("register", "username_taken").username(&name),
            );
            return Err(AuthError::UsernameTaken);
        }
        let hash = self.hasher.hash(account.password).await?;
        let user = db::users::insert_user(pool, &account.username, &hash)
            .await
            .map_err(|e| match db::unique_violation(&e) {
                Some(db::users::USERNAME_UNIQUE) => AuthError::UsernameTaken,
                _ => e.into(),
            });
        match &user {
            Ok(user) => self.audit(
                &client.origin,
                Event::new("register", "success")
                    .user(user.id)
                    .username(&name),
            ),
            Err(AuthError::UsernameTaken) => self.audit(
                &client.origin,
                Event::new("register", "username_taken").username(&name),
            ),
            Err(_) => {}
        }
        user
    }

    /// Checks a username and password and opens a session. Unknown users and wrong passwords take
    /// the same bcrypt work and give the same error (OWASP ASVS 6.3.8, Authentication Cheat Sheet);
    /// throttles run first, so a throttled attempt costs no bcrypt work and says nothing about the
    /// password.
    pub async fn sign_in(
        &self,
        pool: &PgPool,
        raw: RawCredentials,
        client: &ClientInfo,
    ) -> Result<SignIn, AuthError> {
        self.take_ip_slot(pool, client, "login", self.throttle().login_ip_limit)
            .await?;
        let credentials = Credentials::parse(raw.clone())?;
        // A name that breaks the rules cannot exist, but is still throttled by what was typed.
        let name = match &credentials.username {
            Some(name) => name.canonical(),
            None => raw.username.to_lowercase().chars().take(64).collect(),
        };
        self.check_username_throttle(pool, &client.origin, "login", &name)
            .await?;
        let stored = match &credentials.username {
            Some(username) => db::users::find_credentials(pool, username).await?,
            None => None,
        };
        let (user, hash) = match stored {
            Some(s) => (Some((s.id, s.username)), Some(s.password_hash)),
            None => (None, None),
        };
        let matched = self.hasher.verify(credentials.password, hash).await?;
        match user {
            Some((id, username)) if matched => {
                db::throttle::clear_failures(pool, &name).await?;
                let sign_in = self.open_session(pool, id, username, client).await?;
                self.audit(
                    &client.origin,
                    Event::new("login", "success")
                        .user(id)
                        .username(&name)
                        .session(sign_in.session_id),
                );
                Ok(sign_in)
            }
            user => {
                db::throttle::record_failure(pool, &name).await?;
                let outcome = if user.is_some() {
                    "wrong_password"
                } else {
                    "unknown_user"
                };
                self.audit(&client.origin, Event::new("login", outcome).username(&name));
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    /// Opens a session for a user who has just proved who they are.
    pub async fn open_session(
        &self,
        pool: &PgPool,
        user_id: Uuid,
        username: String,
        client: &ClientInfo,
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
                ip: client.ip(),
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
        let ttl = self.keys.ttl().as_secs();
        SignIn {
            access_token: self.keys.issue(user_id, session_id, &username),
            user_id,
            username,
            session_id,
            refresh_token,
            expires_in: ttl,
            expires_at: OffsetDateTime::now_utc().unix_timestamp() + ttl as i64,
        }
    }

    /// Exchanges a refresh token for a new pair of the same session (rotation). A spent token
    /// presented again after the grace window revokes the session: one of its holders is a thief.
    pub async fn refresh(
        &self,
        pool: &PgPool,
        refresh_token: &str,
        origin: &Origin,
    ) -> Result<SignIn, AuthError> {
        // Ours are 43 characters; anything far off is not worth a query.
        if refresh_token.is_empty() || refresh_token.len() > 256 {
            self.audit(origin, Event::new("refresh", "invalid_token"));
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
            } => {
                self.audit(
                    origin,
                    Event::new("refresh", "success")
                        .user(user_id)
                        .session(session_id),
                );
                Ok(self.tokens_for(user_id, username, session_id, next))
            }
            Rotation::Refused => {
                self.audit(origin, Event::new("refresh", "invalid_token"));
                Err(AuthError::InvalidRefreshToken)
            }
            Rotation::ReuseDetected { session_id } => {
                self.revocations.add([session_id]);
                self.audit(
                    origin,
                    Event::new("refresh", "reuse_detected_session_revoked").session(session_id),
                );
                Err(AuthError::InvalidRefreshToken)
            }
        }
    }

    /// Checks the password of a signed-in user. A wrong one counts as a failed sign-in for the
    /// username throttle, which is checked first.
    async fn check_password(
        &self,
        pool: &PgPool,
        user: &AuthUser,
        password: Password,
        action: &'static str,
        origin: &Origin,
    ) -> Result<StoredCredentials, AuthError> {
        let name = user.username.to_ascii_lowercase();
        self.check_username_throttle(pool, origin, action, &name)
            .await?;
        let stored = db::users::find_credentials_by_id(pool, user.user_id)
            .await?
            .ok_or(AuthError::WrongPassword)?;
        if self
            .hasher
            .verify(password, Some(stored.password_hash.clone()))
            .await?
        {
            Ok(stored)
        } else {
            db::throttle::record_failure(pool, &name).await?;
            self.audit(
                origin,
                Event::new(action, "wrong_password").user(user.user_id),
            );
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
        origin: &Origin,
    ) -> Result<(), AuthError> {
        let mut errors = FieldErrors::default();
        let current = Password::parse(current)
            .map_err(|p| errors.add("current_password", p))
            .ok();
        let username = Username::parse(&user.username).ok();
        let new = Password::parse_new(new, username.as_ref(), &self.policy, |p| self.is_common(p))
            .map_err(|problems| problems.iter().for_each(|p| errors.add("new_password", p)))
            .ok();
        let (Some(current), Some(new)) = (current, new) else {
            return Err(AuthError::InvalidInput(errors));
        };
        self.check_password(pool, user, current, "password_change", origin)
            .await?;
        let hash = self.hasher.hash(new).await?;
        let revoked =
            db::users::change_password(pool, user.user_id, &hash, user.session_id).await?;
        self.revocations.add(revoked);
        self.audit(
            origin,
            Event::new("password_change", "success_other_sessions_revoked").user(user.user_id),
        );
        Ok(())
    }

    /// Deletes the account after checking its password; its sessions end with it.
    pub async fn delete_account(
        &self,
        pool: &PgPool,
        user: &AuthUser,
        password: String,
        origin: &Origin,
    ) -> Result<(), AuthError> {
        let password = Password::parse(password).map_err(|p| {
            let mut errors = FieldErrors::default();
            errors.add("password", p);
            AuthError::InvalidInput(errors)
        })?;
        self.check_password(pool, user, password, "account_deletion", origin)
            .await?;
        let revoked = db::users::delete_user(pool, user.user_id).await?;
        self.revocations.add(revoked);
        self.audit(
            origin,
            Event::new("account_deletion", "success").user(user.user_id),
        );
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
        user: &AuthUser,
        session_id: Uuid,
        origin: &Origin,
    ) -> Result<bool, AuthError> {
        let revoked = db::sessions::revoke_session(pool, session_id, user.user_id).await?;
        if revoked {
            self.revocations.add([session_id]);
            let kind = if session_id == user.session_id {
                "logout"
            } else {
                "session_revoked"
            };
            self.audit(
                origin,
                Event::new(kind, "success")
                    .user(user.user_id)
                    .session(session_id),
            );
        }
        Ok(revoked)
    }

    /// Revokes every session of the user but the current one.
    pub async fn revoke_other_sessions(
        &self,
        pool: &PgPool,
        user: &AuthUser,
        origin: &Origin,
    ) -> Result<u64, AuthError> {
        let revoked =
            db::sessions::revoke_other_sessions(pool, user.user_id, user.session_id).await?;
        let count = revoked.len() as u64;
        self.revocations.add(revoked);
        self.audit(
            origin,
            Event::new("other_sessions_revoked", "success").user(user.user_id),
        );
        Ok(count)
    }

    /// Ends the current session: its tokens are refused from the next request on.
    pub async fn sign_out(
        &self,
        pool: &PgPool,
        user: &AuthUser,
        origin: &Origin,
    ) -> Result<(), AuthError> {
        self.revoke_session(pool, user, user.session_id, origin)
            .await?;
        Ok(())
    }
}
