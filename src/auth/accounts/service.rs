//! Accounts: registration, sign-in, password change and deletion. Every decision is made here
//! once, for both audiences and the command line, and every one is logged.
//!
//! A sign-in is a short state machine: the password is checked ([`PasswordChecked`]), then a
//! session is opened ([`SignInStep::SessionOpened`]). A second factor, when an account has one, is
//! one more state between the two (`accounts/second_factor.rs`), not a branch in every caller.

use std::sync::Arc;

use sqlx::PgPool;

use crate::auth::accounts::addresses::Addresses;
use crate::auth::audit::{Event, SecurityLog};
use crate::auth::caller::{Caller, ClientInfo};
use crate::auth::credentials::breached::BreachedPasswords;
use crate::auth::credentials::devices::{DeviceKeys, KnownDevice};
use crate::auth::credentials::passkeys::Passkeys;
use crate::auth::credentials::password::HashError;
use crate::auth::credentials::password::PasswordHasher;
use crate::auth::credentials::second_factors::SecondFactors;
use crate::auth::error::AuthError;
use crate::auth::mail::outbox::{Notice, Outbox};
use crate::auth::sessions::revocations::Revocations;
use crate::auth::sessions::service::{AuthUser, Sessions, SignIn, Verified};
use crate::auth::throttle::{Limited, Throttle};
use crate::db;
use crate::db::users::{StoredCredentials, User};
use crate::domain::{
    Credentials, EmailAddress, FieldErrors, NewAccount, Password, PasswordPolicy, RawCredentials,
    Username,
};

/// Where a sign-in stands after the caller's last step.
#[derive(Debug)]
pub enum SignInStep {
    /// The password was right and a second factor is due: the sign-in waits under `mfa_token`
    /// (single-use, `expires_in` seconds) for `POST /login/mfa`.
    SecondFactorDue {
        mfa_token: String,
        methods: Vec<&'static str>,
        expires_in: u64,
    },
    /// Signed in: a session and its tokens, and a device token for a browser to keep.
    SessionOpened { sign_in: SignIn, device: String },
}

/// The first state of a sign-in: the password matched, nothing is open yet.
#[derive(Debug)]
pub(super) struct PasswordChecked(Verified);

/// A new account, which may be signed in at once (the browser's registration does).
#[derive(Debug)]
pub struct Registered {
    pub user: User,
}

pub struct Accounts {
    pub(super) pool: PgPool,
    pub(super) hasher: Arc<PasswordHasher>,
    pub(super) throttle: Arc<Throttle>,
    pub(super) sessions: Sessions,
    pub(super) revocations: Arc<Revocations>,
    pub(super) log: Arc<SecurityLog>,
    pub(super) policy: PasswordPolicy,
    pub(super) common_passwords: Arc<BreachedPasswords>,
    pub(super) devices: DeviceKeys,
    pub(super) factors: Arc<SecondFactors>,
    pub(super) outbox: Arc<Outbox>,
    pub(super) addresses: Arc<Addresses>,
    pub(super) passkeys: Arc<Passkeys>,
}

/// What the accounts service works with, shared with the other services.
pub struct AccountsParts {
    pub pool: PgPool,
    pub hasher: Arc<PasswordHasher>,
    pub throttle: Arc<Throttle>,
    pub sessions: Sessions,
    pub revocations: Arc<Revocations>,
    pub log: Arc<SecurityLog>,
    pub policy: PasswordPolicy,
    pub devices: DeviceKeys,
    pub factors: Arc<SecondFactors>,
    pub common_passwords: Arc<BreachedPasswords>,
    pub outbox: Arc<Outbox>,
    pub addresses: Arc<Addresses>,
    pub passkeys: Arc<Passkeys>,
}

impl Accounts {
    pub fn new(parts: AccountsParts) -> Self {
        Self {
            pool: parts.pool,
            hasher: parts.hasher,
            throttle: parts.throttle,
            sessions: parts.sessions,
            revocations: parts.revocations,
            log: parts.log,
            policy: parts.policy,
            common_passwords: parts.common_passwords,
            devices: parts.devices,
            factors: parts.factors,
            outbox: parts.outbox,
            addresses: parts.addresses,
            passkeys: parts.passkeys,
        }
    }

    fn is_common(&self, password: &str) -> bool {
        self.common_passwords.contains(password)
    }

    /// Registration from a client: throttled per address, then [`Accounts::create`]; the
    /// client counts as known to the account from then on.
    pub async fn register(
        &self,
        raw: RawCredentials,
        email: Option<String>,
        client: &ClientInfo,
    ) -> Result<Registered, AuthError> {
        self.throttle
            .take_client_slot(&client.caller, Limited::Register)
            .await?;
        let registered = self.create(raw, email, &client.caller).await?;
        let mut conn = self.pool.acquire().await?;
        db::email::remember_client(&mut conn, registered.user.id, &client.digest()).await?;
        Ok(registered)
    }

    /// Creates an account under the registration rules; the operator's `user create` comes here
    /// too. The database's unique index is the final word on duplicates, so two concurrent
    /// registrations of one name give one account and one `UsernameTaken`.
    pub async fn create(
        &self,
        raw: RawCredentials,
        email: Option<String>,
        caller: &Caller,
    ) -> Result<Registered, AuthError> {
        let parsed = NewAccount::parse(raw, &self.policy, |p| self.is_common(p));
        let email = email.as_deref().map(EmailAddress::parse).transpose();
        let (account, email) = match (parsed, email) {
            (Ok(account), Ok(email)) => (account, email),
            (parsed, email) => {
                let mut errors = parsed.err().unwrap_or_default();
                if let Err(problem) = email {
                    errors.add("email", problem);
                }
                return Err(AuthError::InvalidInput(errors));
            }
        };
        let name = account.username.canonical();
        let taken = || {
            self.log.record(
                caller,
                Event::new("register", "username_taken").username(&name),
            );
            AuthError::UsernameTaken
        };
        // A cheap look first, so a taken name costs no bcrypt work.
        if db::users::find_credentials(&self.pool, &account.username)
            .await?
            .is_some()
        {
            return Err(taken());
        }
        let hash = {
            let _share = self.throttle.hashing_share(caller, "register")?;
            self.hasher.hash(account.password).await?
        };
        // The account and its address's verification mail commit together.
        let mut tx = self.pool.begin().await?;
        let user = match db::users::insert_user(&mut *tx, &account.username, &hash).await {
            Ok(user) => user,
            Err(e) if db::unique_violation(&e) == Some(db::users::USERNAME_UNIQUE) => {
                return Err(taken());
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(address) = &email {
            self.addresses
                .claim(&mut tx, user.id, &user.username, address)
                .await?;
        }
        tx.commit().await?;
        self.log.record(
            caller,
            Event::new("register", "success")
                .user(user.id)
                .username(&name),
        );
        Ok(Registered { user })
    }

    /// Signs in the account just registered: choosing the password proved it.
    pub async fn sign_in_registered(
        &self,
        registered: Registered,
        client: &ClientInfo,
    ) -> Result<SignInStep, AuthError> {
        let user = registered.user;
        let checked = PasswordChecked(Verified::new(user.id, user.username, &["pwd"]));
        self.advance(checked, client, None).await
    }

    /// Signs in with a username and password; `next` is where a browser goes once signed in,
    /// kept while a second factor is due.
    pub async fn sign_in(
        &self,
        raw: RawCredentials,
        client: &ClientInfo,
        next: Option<&str>,
    ) -> Result<SignInStep, AuthError> {
        let checked = self.check_sign_in_password(raw, client).await?;
        self.advance(checked, client, next).await
    }

    /// Checks a username and password. Unknown users and wrong passwords take the same bcrypt
    /// work and give the same error (OWASP ASVS 6.3.8, Authentication Cheat Sheet); throttles run
    /// first, so a throttled attempt costs no bcrypt work and says nothing about the password.
    pub(super) async fn check_sign_in_password(
        &self,
        raw: RawCredentials,
        client: &ClientInfo,
    ) -> Result<PasswordChecked, AuthError> {
        self.throttle
            .take_client_slot(&client.caller, Limited::Login)
            .await?;
        let name = Username::canonical_form(&raw.username);
        let credentials = Credentials::parse(raw)?;
        let _share = self.throttle.hashing_share(&client.caller, "login")?;
        // A browser that signed in to this account before counts its failures on its own, so
        // failures from elsewhere cannot lock its owner out (OWASP device cookies).
        let throttle_key = client
            .device
            .as_deref()
            .and_then(|token| self.devices.verify(token, &name))
            .map_or_else(|| name.clone(), |device: KnownDevice| device.throttle_key());
        self.throttle
            .reserve_attempt(&client.caller, "login", &throttle_key)
            .await?;
        let stored = match &credentials.username {
            Some(username) => db::users::find_credentials(&self.pool, username).await?,
            None => None,
        };
        let (user, hash) = match stored {
            Some(s) => (Some((s.id, s.username)), Some(s.password_hash)),
            None => (None, None),
        };
        let password = credentials.password;
        let matched = self
            .verify_reserved(&throttle_key, password.clone(), hash.clone())
            .await?;
        match user {
            Some((id, username)) if matched => {
                self.throttle.clear(&throttle_key).await?;
                if let Some(hash) = hash.filter(|h| self.hasher.needs_rehash(h)) {
                    self.upgrade_hash(id, hash, password);
                }
                Ok(PasswordChecked(Verified::new(id, username, &["pwd"])))
            }
            user => {
                // The reserved attempt stays: it is the recorded failure.
                let outcome = if user.is_some() {
                    "wrong_password"
                } else {
                    "unknown_user"
                };
                self.log
                    .record(&client.caller, Event::new("login", outcome).username(&name));
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    /// Checks a password whose attempt is reserved; when the hashing queue turns it away, the
    /// reservation is taken back, so an overloaded server locks nobody out.
    async fn verify_reserved(
        &self,
        name: &str,
        password: Password,
        hash: Option<String>,
    ) -> Result<bool, AuthError> {
        match self.hasher.verify(password, hash).await {
            Ok(matched) => Ok(matched),
            Err(e) => {
                if matches!(e, HashError::Busy) {
                    self.throttle.release_attempt(name).await?;
                }
                Err(e.into())
            }
        }
    }

    /// Makes the hash again at the configured cost, off the sign-in's path: the sign-in does not
    /// wait for a second bcrypt, and a busy queue only means it is tried at the next sign-in.
    fn upgrade_hash(&self, user_id: uuid::Uuid, old_hash: String, password: Password) {
        let (hasher, pool) = (Arc::clone(&self.hasher), self.pool.clone());
        tokio::spawn(async move {
            let upgraded = match hasher.hash(password).await {
                Ok(new_hash) => {
                    db::users::upgrade_password_hash(&pool, user_id, &old_hash, &new_hash).await
                }
                Err(e) => {
                    log::info!("password hash upgrade deferred: {e}");
                    return;
                }
            };
            if let Err(e) = upgraded {
                log::warn!("password hash upgrade failed: {e}");
            }
        });
    }

    /// The step after the password: a second factor when the account has one, else the session.
    pub(super) async fn advance(
        &self,
        checked: PasswordChecked,
        client: &ClientInfo,
        next: Option<&str>,
    ) -> Result<SignInStep, AuthError> {
        let PasswordChecked(user) = checked;
        if self.factors.has_second_factor(user.user_id()).await? {
            return self.await_second_factor(user, client, next).await;
        }
        self.open_session(user, client).await
    }

    /// The last state: the user is proven, a session opens.
    pub(super) async fn open_session(
        &self,
        user: Verified,
        client: &ClientInfo,
    ) -> Result<SignInStep, AuthError> {
        let sign_in = self.sessions.open(user, client).await?;
        self.announce_new_client(&sign_in, client).await?;
        self.log.record(
            &client.caller,
            Event::new("login", "success")
                .user(sign_in.user_id)
                .username(&sign_in.username.to_ascii_lowercase())
                .session(sign_in.session_id),
        );
        let device = self
            .devices
            .issue(&Username::canonical_form(&sign_in.username));
        Ok(SignInStep::SessionOpened { sign_in, device })
    }

    /// Checks the password of a signed-in user, limited per client and per account (right or
    /// wrong: a flood of correct passwords would keep the hashing threads busy too). A wrong one
    /// counts as a failed sign-in for the username throttle, reserved before the check.
    pub(super) async fn check_password(
        &self,
        user: &AuthUser,
        password: Password,
        action: &'static str,
        caller: &Caller,
    ) -> Result<StoredCredentials, AuthError> {
        self.throttle
            .take_client_slot(caller, Limited::PasswordCheck)
            .await?;
        self.throttle
            .take_account_slot(caller, user.user_id, action)
            .await?;
        let name = Username::canonical_form(&user.username);
        let _share = self.throttle.hashing_share(caller, action)?;
        self.throttle.reserve_attempt(caller, action, &name).await?;
        let Some(stored) = db::users::find_credentials_by_id(&self.pool, user.user_id).await?
        else {
            return Err(AuthError::WrongPassword);
        };
        if self
            .verify_reserved(&name, password, Some(stored.password_hash.clone()))
            .await?
        {
            self.throttle.clear(&name).await?;
            Ok(stored)
        } else {
            self.log.record(
                caller,
                Event::new(action, "wrong_password").user(user.user_id),
            );
            Err(AuthError::WrongPassword)
        }
    }

    /// Changes a password after checking the current one; every other session of the user is
    /// revoked, the current one continues (OWASP ASVS 7.4.3).
    pub async fn change_password(
        &self,
        user: &AuthUser,
        current: String,
        new: String,
        caller: &Caller,
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
        self.check_password(user, current, "password_change", caller)
            .await?;
        let hash = self.hasher.hash(new).await?;
        let mut tx = self.pool.begin().await?;
        let revoked =
            db::users::change_password(&mut tx, user.user_id, &hash, user.session_id).await?;
        self.outbox
            .notify(
                &mut tx,
                user.user_id,
                &user.username,
                Notice::PasswordChanged,
            )
            .await?;
        tx.commit().await?;
        self.revocations.propagate(revoked).await;
        self.log.record(
            caller,
            Event::new("password_change", "success_other_sessions_revoked").user(user.user_id),
        );
        Ok(())
    }

    /// Deletes the account after checking its password; its sessions end with it.
    pub async fn delete(
        &self,
        user: &AuthUser,
        password: String,
        caller: &Caller,
    ) -> Result<(), AuthError> {
        let password =
            Password::parse(password).map_err(|p| AuthError::invalid_field("password", p))?;
        self.check_password(user, password, "account_deletion", caller)
            .await?;
        let revoked = db::users::delete_user(&self.pool, user.user_id).await?;
        self.revocations.propagate(revoked).await;
        self.log.record(
            caller,
            Event::new("account_deletion", "success").user(user.user_id),
        );
        Ok(())
    }

    /// The account of a signed-in user; `None` when it is gone.
    pub async fn find(&self, user: &AuthUser) -> Result<Option<User>, AuthError> {
        Ok(db::users::find_user(&self.pool, user.user_id).await?)
    }
}
