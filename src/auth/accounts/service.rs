//! The accounts service: registration, password change and deletion, here; the rest of what it
//! does in the files beside this one, each an `impl Accounts` of one concern: the sign-in state
//! machine (`sign_in.rs`), second factors (`second_factor.rs`), passkeys (`passkeys.rs`) and the
//! account's address (`email.rs`). Every decision is made once, for both audiences and the
//! command line, and every one is logged.

use std::sync::Arc;

use sqlx::PgPool;

use crate::auth::accounts::addresses::Addresses;
use crate::auth::audit::{Event, SecurityLog};
use crate::auth::caller::{Caller, ClientInfo};
use crate::auth::credentials::breached::BreachedPasswords;
use crate::auth::credentials::devices::DeviceKeys;
use crate::auth::credentials::passkeys::Passkeys;
use crate::auth::credentials::password::PasswordHasher;
use crate::auth::credentials::second_factors::SecondFactors;
use crate::auth::error::AuthError;
use crate::auth::mail::outbox::{Notice, Outbox};
use crate::auth::sessions::revocations::Revocations;
use crate::auth::sessions::service::{AuthUser, Sessions};
use crate::auth::throttle::{Admission, Attempt, Limited, Throttle};
use crate::db;
use crate::db::users::{StoredCredentials, User};
use crate::domain::{
    EmailAddress, FieldErrors, NewAccount, Password, PasswordPolicy, RawCredentials, Username,
};

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
        let admission = self
            .throttle
            .admit(&client.caller, Attempt::new("register", Limited::Register))
            .await?;
        let registered = self.create_admitted(raw, email, admission).await?;
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
        let admission = self.throttle.operator(caller, "register");
        self.create_admitted(raw, email, admission).await
    }

    async fn create_admitted(
        &self,
        raw: RawCredentials,
        email: Option<String>,
        mut admission: Admission<'_>,
    ) -> Result<Registered, AuthError> {
        let caller = &admission.caller().clone();
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
        admission.hash_share()?;
        let hash = self.hasher.hash(account.password).await?;
        admission.hashed();
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
        let (stored, mut admission) = self
            .check_password_admitted(user, password, action, caller)
            .await?;
        admission.succeeded().await?;
        Ok(stored)
    }

    /// [`Accounts::check_password`], leaving the admission open for a further check (a code).
    pub(super) async fn check_password_admitted(
        &self,
        user: &AuthUser,
        password: Password,
        action: &'static str,
        caller: &Caller,
    ) -> Result<(StoredCredentials, Admission<'_>), AuthError> {
        let attempt = Attempt::new(action, Limited::PasswordCheck).of_account(user.user_id);
        let mut admission = self.throttle.admit(caller, attempt).await?;
        admission.hash_share()?;
        admission
            .reserve(&Username::canonical_form(&user.username))
            .await?;
        let Some(stored) = db::users::find_credentials_by_id(&self.pool, user.user_id).await?
        else {
            return Err(AuthError::WrongPassword);
        };
        let hash = Some(stored.password_hash.clone());
        if self.verify_admitted(&mut admission, password, hash).await? {
            admission.hashed();
            Ok((stored, admission))
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
