//! Passkeys on an account (docs/api.md §5): added and removed after the password, and a
//! sign-in of their own — complete by itself, or the second step after a password.

use uuid::Uuid;

use crate::auth::accounts::second_factor::{CHALLENGE_FAILURES, MAX_TOKEN_LEN};
use crate::auth::accounts::service::Accounts;
use crate::auth::accounts::sign_in::SignInStep;
use crate::auth::audit::Event;
use crate::auth::caller::{Caller, ClientInfo};
use crate::auth::credentials::passkeys::Begun;
use crate::auth::error::AuthError;
use crate::auth::keys::random::token_digest;
use crate::auth::mail::outbox::Notice;
use crate::auth::sessions::service::{AuthUser, Verified};
use crate::auth::throttle::{Attempt, Limited};
use crate::db;
use crate::db::passkeys::PasskeyInfo;
use crate::domain::Password;

/// The longest passkey name.
const MAX_NAME_CHARS: usize = 64;

/// A passkey just added, with the recovery codes when it is the account's first factor.
#[derive(Debug)]
pub struct AddedPasskey {
    pub passkey: PasskeyInfo,
    pub recovery_codes: Option<Vec<String>>,
}

fn challenge_id(raw: &str) -> Result<Uuid, AuthError> {
    Uuid::parse_str(raw).map_err(|_| {
        AuthError::invalid_field("challenge_id", "is unknown, used or expired: start again")
    })
}

impl Accounts {
    /// Starts adding a passkey, after the password.
    pub async fn begin_passkey_registration(
        &self,
        user: &AuthUser,
        password: String,
        caller: &Caller,
    ) -> Result<Begun, AuthError> {
        let password =
            Password::parse(password).map_err(|p| AuthError::invalid_field("password", p))?;
        self.check_password(user, password, "passkey_register", caller)
            .await?;
        self.passkeys
            .begin_registration(user.user_id, &user.username)
            .await
    }

    /// Adds the passkey of a registration response. The first factor of an account brings its
    /// recovery codes, shown once.
    pub async fn finish_passkey_registration(
        &self,
        user: &AuthUser,
        challenge: &str,
        name: &str,
        credential: serde_json::Value,
        caller: &Caller,
    ) -> Result<AddedPasskey, AuthError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(AuthError::invalid_field(
                "name",
                "must be 1 to 64 characters long",
            ));
        }
        let challenge = challenge_id(challenge)?;
        let first_factor = !self.factors.has_second_factor(user.user_id).await?;
        let new = match self
            .passkeys
            .finish_registration(user.user_id, challenge, credential)
            .await
        {
            Ok(new) => new,
            Err(e) => {
                self.log.record(
                    caller,
                    Event::new("passkey_register", "refused").user(user.user_id),
                );
                return Err(e);
            }
        };
        let mut tx = self.pool.begin().await?;
        let passkey = match db::passkeys::insert(
            &mut *tx,
            user.user_id,
            &new.credential_id,
            name,
            &new.record,
        )
        .await
        {
            Ok(passkey) => passkey,
            Err(e) if db::unique_violation(&e) == Some(db::passkeys::CREDENTIAL_UNIQUE) => {
                self.log.record(
                    caller,
                    Event::new("passkey_register", "already_registered").user(user.user_id),
                );
                return Err(AuthError::AlreadyRegistered);
            }
            Err(e) => return Err(e.into()),
        };
        self.outbox
            .notify(
                &mut tx,
                user.user_id,
                &user.username,
                Notice::FactorAdded("A passkey"),
            )
            .await?;
        // The first factor's recovery codes commit with it.
        let recovery_codes = if first_factor {
            Some(
                self.factors
                    .new_recovery_codes(&mut tx, user.user_id)
                    .await?,
            )
        } else {
            None
        };
        tx.commit().await?;
        self.log.record(
            caller,
            Event::new("passkey_register", "success").user(user.user_id),
        );
        Ok(AddedPasskey {
            passkey,
            recovery_codes,
        })
    }

    pub async fn passkeys(&self, user: &AuthUser) -> Result<Vec<PasskeyInfo>, AuthError> {
        self.passkeys.list(user.user_id).await
    }

    /// Removes one of the account's passkeys after the password; every other session ends, and
    /// the recovery codes go with the last factor.
    pub async fn remove_passkey(
        &self,
        user: &AuthUser,
        id: Uuid,
        password: String,
        caller: &Caller,
    ) -> Result<(), AuthError> {
        let password =
            Password::parse(password).map_err(|p| AuthError::invalid_field("password", p))?;
        self.check_password(user, password, "passkey_remove", caller)
            .await?;
        let mut tx = self.pool.begin().await?;
        if !db::passkeys::delete(&mut *tx, user.user_id, id).await? {
            return Err(AuthError::NotFound);
        }
        self.factors
            .forget_codes_without_factors(&mut tx, user.user_id)
            .await?;
        self.factor_removed(tx, user, "A passkey").await?;
        self.log.record(
            caller,
            Event::new("passkey_remove", "success_other_sessions_revoked").user(user.user_id),
        );
        Ok(())
    }

    /// Starts a passkey sign-in: on its own, or as the second step of the pending sign-in
    /// `mfa_token` names.
    pub async fn begin_passkey_sign_in(
        &self,
        mfa_token: Option<&str>,
        caller: &Caller,
    ) -> Result<Begun, AuthError> {
        self.throttle
            .admit(caller, Attempt::new("passkey_login", Limited::Login))
            .await?;
        let Some(token) = mfa_token else {
            return self.passkeys.begin_sign_in(None).await;
        };
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::InvalidMfaToken);
        }
        let digest = token_digest(token);
        let pending = db::mfa::find_live_challenge(&self.pool, &digest, CHALLENGE_FAILURES)
            .await?
            .ok_or(AuthError::InvalidMfaToken)?;
        self.passkeys
            .begin_sign_in(Some((pending.user_id, &digest)))
            .await
    }

    /// Finishes a passkey sign-in: a session opens (no further step), with `next` when it was a
    /// browser's second step.
    pub async fn finish_passkey_sign_in(
        &self,
        challenge: &str,
        credential: serde_json::Value,
        client: &ClientInfo,
    ) -> Result<(SignInStep, Option<String>), AuthError> {
        self.throttle
            .admit(
                &client.caller,
                Attempt::new("passkey_login", Limited::Login),
            )
            .await?;
        let challenge = challenge_id(challenge).map_err(|_| AuthError::InvalidCredentials)?;
        let proven = match self.passkeys.finish_sign_in(challenge, credential).await {
            Ok(proven) => proven,
            Err(e) => {
                if matches!(e, AuthError::InvalidCredentials) {
                    self.log
                        .record(&client.caller, Event::new("passkey_login", "refused"));
                }
                return Err(e);
            }
        };
        let (amr, next): (&[&str], _) = match &proven.mfa_token_hash {
            // The second step: the pending sign-in is spent with it.
            Some(digest) => {
                let pending = db::mfa::find_live_challenge(&self.pool, digest, CHALLENGE_FAILURES)
                    .await?
                    .filter(|p| p.user_id == proven.user_id)
                    .ok_or(AuthError::InvalidMfaToken)?;
                if !db::mfa::spend_challenge(&self.pool, digest, CHALLENGE_FAILURES).await? {
                    return Err(AuthError::InvalidMfaToken);
                }
                (&["pwd", "pop", "mfa"], pending.next_path)
            }
            // RFC 8176: proof of possession of a key, with user verification a second factor.
            None => (&["pop", "mfa"], None),
        };
        let account = db::users::find_user(&self.pool, proven.user_id)
            .await?
            .ok_or(AuthError::InvalidCredentials)?;
        self.log.record(
            &client.caller,
            Event::new("passkey_login", "success").user(proven.user_id),
        );
        let user = Verified::new(proven.user_id, account.username, amr);
        Ok((self.open_session(user, client).await?, next))
    }
}
