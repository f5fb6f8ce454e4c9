//! The sign-in state machine of [`Accounts`]: the password is checked ([`PasswordChecked`]),
//! then a session is opened ([`SignInStep::SessionOpened`]). A second factor, when an account
//! has one, is one more state between the two (`second_factor.rs`), not a branch in every caller.

use std::sync::Arc;

use crate::auth::accounts::service::Accounts;
use crate::auth::accounts::service::Registered;
use crate::auth::audit::Event;
use crate::auth::caller::ClientInfo;
use crate::auth::credentials::devices::KnownDevice;
use crate::auth::credentials::password::HashError;
use crate::auth::error::AuthError;
use crate::auth::sessions::service::{SignIn, Verified};
use crate::auth::throttle::{Admission, Attempt, Limited};
use crate::db;
use crate::domain::{Credentials, Password, RawCredentials, Username};

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

impl Accounts {
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
        let mut admission = self
            .throttle
            .admit(&client.caller, Attempt::new("login", Limited::Login))
            .await?;
        let name = Username::canonical_form(&raw.username);
        let credentials = Credentials::parse(raw)?;
        admission.hash_share()?;
        // A browser that signed in to this account before counts its failures on its own, so
        // failures from elsewhere cannot lock its owner out (OWASP device cookies).
        let throttle_key = client
            .device
            .as_deref()
            .and_then(|token| self.devices.verify(token, &name))
            .map_or_else(|| name.clone(), |device: KnownDevice| device.throttle_key());
        admission.reserve(&throttle_key).await?;
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
            .verify_admitted(&mut admission, password.clone(), hash.clone())
            .await?;
        match user {
            Some((id, username)) if matched => {
                admission.succeeded().await?;
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
    pub(super) async fn verify_admitted(
        &self,
        admission: &mut Admission<'_>,
        password: Password,
        hash: Option<String>,
    ) -> Result<bool, AuthError> {
        match self.hasher.verify(password, hash).await {
            Ok(matched) => Ok(matched),
            Err(e) => {
                if matches!(e, HashError::Busy) {
                    admission.not_checked().await?;
                }
                Err(e.into())
            }
        }
    }

    /// Makes the hash again at the configured cost, off the sign-in's path: the sign-in does not
    /// wait for a second bcrypt, and a busy queue only means it is tried at the next sign-in.
    pub(super) fn upgrade_hash(&self, user_id: uuid::Uuid, old_hash: String, password: Password) {
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
}
