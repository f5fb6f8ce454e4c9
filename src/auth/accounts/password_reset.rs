//! A forgotten password (docs/api.md §7, OWASP Forgot Password Cheat Sheet): a single-use,
//! 30-minute link mailed to the account's verified address, and the reset it allows.
//!
//! A request is answered before anything about the account is looked up: the answer, and its
//! time, are the same whether the account exists, has a verified address, or has had its three
//! links this hour. The lookup and the mail happen after, off the request.

use std::sync::Arc;

use sqlx::PgPool;

use crate::auth::accounts::addresses::{DEAD_LINK, MAX_LINK_TOKEN_LEN};
use crate::auth::audit::{Event, SecurityLog};
use crate::auth::caller::Caller;
use crate::auth::credentials::breached::BreachedPasswords;
use crate::auth::credentials::password::PasswordHasher;
use crate::auth::error::AuthError;
use crate::auth::keys::random::{random_token, token_digest};
use crate::auth::mail::outbox::{Mail, Notice, Outbox, RESET_TTL};
use crate::auth::sessions::revocations::Revocations;
use crate::auth::throttle::{Attempt, Limited, Throttle};
use crate::db;
use crate::db::email::Purpose;
use crate::domain::{EmailAddress, Password, PasswordPolicy, Username};

/// The longest `login` looked up: a username or an address.
const MAX_LOGIN_LEN: usize = EmailAddress::MAX_LEN;

/// A reset link that is live: whose account it resets.
#[derive(Debug)]
pub struct ResetLink {
    pub username: String,
}

#[derive(Clone)]
pub struct PasswordReset {
    pool: PgPool,
    outbox: Arc<Outbox>,
    throttle: Arc<Throttle>,
    log: Arc<SecurityLog>,
    hasher: Arc<PasswordHasher>,
    revocations: Arc<Revocations>,
    policy: PasswordPolicy,
    common_passwords: Arc<BreachedPasswords>,
}

pub struct PasswordResetParts {
    pub pool: PgPool,
    pub outbox: Arc<Outbox>,
    pub throttle: Arc<Throttle>,
    pub log: Arc<SecurityLog>,
    pub hasher: Arc<PasswordHasher>,
    pub revocations: Arc<Revocations>,
    pub policy: PasswordPolicy,
    pub common_passwords: Arc<BreachedPasswords>,
}

impl PasswordReset {
    pub fn new(parts: PasswordResetParts) -> Self {
        Self {
            pool: parts.pool,
            outbox: parts.outbox,
            throttle: parts.throttle,
            log: parts.log,
            hasher: parts.hasher,
            revocations: parts.revocations,
            policy: parts.policy,
            common_passwords: parts.common_passwords,
        }
    }

    /// Asks for a reset link for a username or address. Only the client's throttle and the
    /// input's shape can make this fail; the rest runs after the answer.
    pub async fn forgot(&self, login: String, caller: &Caller) -> Result<(), AuthError> {
        self.throttle
            .admit(caller, Attempt::new("password_forgot", Limited::Recovery))
            .await?;
        if login.is_empty() {
            return Err(AuthError::invalid_field("login", "is required"));
        }
        if login.chars().count() > MAX_LOGIN_LEN {
            return Err(AuthError::invalid_field(
                "login",
                "must be at most 254 characters long",
            ));
        }
        let (this, caller) = (self.clone(), caller.clone());
        tokio::spawn(async move {
            if let Err(e) = this.mail_reset_link(&login, &caller).await {
                log::warn!("password_forgot: the link could not be queued: {e}");
            }
        });
        Ok(())
    }

    async fn mail_reset_link(&self, login: &str, caller: &Caller) -> Result<(), AuthError> {
        let Some(account) = db::email::find_by_login(&self.pool, login).await? else {
            self.log
                .record(caller, Event::new("password_forgot", "unknown_account"));
            return Ok(());
        };
        let Some(address) = account.email else {
            self.log.record(
                caller,
                Event::new("password_forgot", "no_verified_address").user(account.id),
            );
            return Ok(());
        };
        if !self
            .throttle
            .take_reset_mail_slot(caller, account.id)
            .await?
        {
            return Ok(());
        }
        let token = random_token(32);
        let mut tx = self.pool.begin().await?;
        db::email::insert_token(
            &mut tx,
            &token_digest(&token),
            account.id,
            Purpose::Reset,
            None,
            RESET_TTL,
        )
        .await?;
        self.outbox
            .queue(
                &mut tx,
                &address,
                &account.username,
                &Mail::ResetPassword { token: &token },
            )
            .await?;
        tx.commit().await?;
        self.log.record(
            caller,
            Event::new("password_forgot", "link_mailed").user(account.id),
        );
        Ok(())
    }

    /// The account a live reset link resets, without spending it (the form's page).
    pub async fn check_link(&self, token: &str) -> Result<ResetLink, AuthError> {
        let dead = || AuthError::invalid_field("token", DEAD_LINK);
        if token.is_empty() || token.len() > MAX_LINK_TOKEN_LEN {
            return Err(dead());
        }
        let live = db::email::find_live_token(&self.pool, &token_digest(token), Purpose::Reset)
            .await?
            .ok_or_else(dead)?;
        Ok(ResetLink {
            username: live.username,
        })
    }

    /// Sets a new password with a reset link. The link is spent in the transaction that sets
    /// the password, so of two concurrent uses one wins; every session of the account ends,
    /// pending sign-ins die, and its failure count is cleared. Second factors stay: the next
    /// sign-in still asks for one.
    pub async fn reset(
        &self,
        token: &str,
        new_password: String,
        caller: &Caller,
    ) -> Result<(), AuthError> {
        let mut admission = self
            .throttle
            .admit(caller, Attempt::new("password_reset", Limited::Recovery))
            .await?;
        let link = self.check_link(token).await.inspect_err(|_| {
            self.log
                .record(caller, Event::new("password_reset", "invalid_token"));
        })?;
        let username = Username::parse(&link.username).ok();
        let password = Password::parse_new(new_password, username.as_ref(), &self.policy, |p| {
            self.common_passwords.contains(p)
        })
        .map_err(|problems| {
            let mut errors = crate::domain::FieldErrors::default();
            problems.iter().for_each(|p| errors.add("new_password", p));
            AuthError::InvalidInput(errors)
        })?;
        admission.hash_share()?;
        let hash = self.hasher.hash(password).await?;
        admission.hashed();
        let mut tx = self.pool.begin().await?;
        let Some(spent) =
            db::email::spend_token(&mut tx, &token_digest(token), Purpose::Reset).await?
        else {
            return Err(AuthError::invalid_field("token", DEAD_LINK));
        };
        db::users::set_password_hash(&mut *tx, spent.user_id, &hash).await?;
        let revoked = db::sessions::revoke_user_sessions(&mut *tx, spent.user_id).await?;
        db::mfa::kill_challenges(&mut *tx, spent.user_id).await?;
        self.outbox
            .notify(
                &mut tx,
                spent.user_id,
                &spent.username,
                Notice::PasswordReset,
            )
            .await?;
        tx.commit().await?;
        self.revocations.propagate(revoked).await;
        self.throttle
            .clear(&Username::canonical_form(&spent.username))
            .await?;
        self.log.record(
            caller,
            Event::new("password_reset", "success_sessions_revoked").user(spent.user_id),
        );
        Ok(())
    }
}
