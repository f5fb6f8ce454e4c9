//! The second-factor step of a sign-in, and the account's management of its factors (each needs
//! the password, and the code too where a factor is on).

use std::time::Duration;

use uuid::Uuid;

use crate::auth::accounts::service::Accounts;
use crate::auth::accounts::sign_in::SignInStep;
use crate::auth::audit::Event;
use crate::auth::caller::{Caller, ClientInfo};
use crate::auth::credentials::second_factors::{Enrolment, FactorStatus, Method, challenge_token};
use crate::auth::error::AuthError;
use crate::auth::keys::random::token_digest;
use crate::auth::mail::outbox::Notice;
use crate::auth::sessions::service::{AuthUser, Verified};
use crate::auth::throttle::{Attempt, Limited};
use crate::db;
use crate::domain::Password;

/// A pending sign-in lives this long (docs/api.md §4).
pub const CHALLENGE_TTL: Duration = Duration::from_secs(300);
/// Wrong codes a pending sign-in survives.
pub(super) const CHALLENGE_FAILURES: i32 = 5;
/// Ours are 43 characters.
pub(super) const MAX_TOKEN_LEN: usize = 128;

/// What a code check needs to say which account's failures it counts.
fn code_throttle_key(user_id: Uuid) -> String {
    format!("second_factor:{user_id}")
}

impl Accounts {
    /// The password was right on an account with a second factor: the sign-in waits.
    pub(super) async fn await_second_factor(
        &self,
        user: Verified,
        client: &ClientInfo,
        next: Option<&str>,
    ) -> Result<SignInStep, AuthError> {
        let token = challenge_token();
        db::mfa::insert_challenge(
            &self.pool,
            &token_digest(&token),
            user.user_id(),
            next,
            CHALLENGE_TTL,
        )
        .await?;
        self.log.record(
            &client.caller,
            Event::new("login", "second_factor_due").user(user.user_id()),
        );
        let status = self.factors.status(user.user_id()).await?;
        let mut methods = Vec::new();
        if status.totp {
            methods.push("totp");
        }
        if status.recovery_codes_left > 0 {
            methods.push("recovery_code");
        }
        if status.passkeys > 0 {
            methods.push("passkey");
        }
        Ok(SignInStep::SecondFactorDue {
            mfa_token: token,
            methods,
            expires_in: CHALLENGE_TTL.as_secs(),
        })
    }

    /// Completes a pending sign-in with a code; returns the step and the `next` kept with it.
    /// Wrong codes count per account like wrong passwords (five in the window, then `429` and
    /// every pending sign-in of the account dies); a pending sign-in dies after five itself.
    pub async fn complete_second_factor(
        &self,
        mfa_token: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<(SignInStep, Option<String>), AuthError> {
        // A code check is a sign-in attempt: it counts against the client's sign-in budget too.
        let mut admission = self
            .throttle
            .admit(&client.caller, Attempt::new("login_mfa", Limited::Login))
            .await?;
        if mfa_token.is_empty() || mfa_token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::InvalidMfaToken);
        }
        let digest = token_digest(mfa_token);
        let Some(challenge) =
            db::mfa::find_live_challenge(&self.pool, &digest, CHALLENGE_FAILURES).await?
        else {
            self.log
                .record(&client.caller, Event::new("login_mfa", "invalid_token"));
            return Err(AuthError::InvalidMfaToken);
        };
        let user_id = challenge.user_id;
        if let Err(e) = admission.reserve(&code_throttle_key(user_id)).await {
            db::mfa::kill_challenges(&self.pool, user_id).await?;
            return Err(e);
        }
        let Some(method) = self.factors.check_code(user_id, code).await? else {
            db::mfa::record_challenge_failure(&self.pool, &digest).await?;
            self.log.record(
                &client.caller,
                Event::new("login_mfa", "wrong_code").user(user_id),
            );
            return Err(AuthError::InvalidCredentials);
        };
        admission.succeeded().await?;
        if !db::mfa::spend_challenge(&self.pool, &digest, CHALLENGE_FAILURES).await? {
            return Err(AuthError::InvalidMfaToken);
        }
        let account = db::users::find_user(&self.pool, user_id)
            .await?
            .ok_or(AuthError::InvalidMfaToken)?;
        if method == Method::RecoveryCode {
            self.log.record(
                &client.caller,
                Event::new("login_mfa", "recovery_code_used").user(user_id),
            );
        }
        let user = Verified::new(user_id, account.username, method.amr());
        let step = self.open_session(user, client).await?;
        Ok((step, challenge.next_path))
    }

    /// The account's factors, for `GET /me` and the dashboard.
    pub async fn factor_status(&self, user: &AuthUser) -> Result<FactorStatus, AuthError> {
        self.factors.status(user.user_id).await
    }

    /// Starts turning the authenticator app on, after the password.
    pub async fn begin_totp(
        &self,
        user: &AuthUser,
        password: String,
        caller: &Caller,
    ) -> Result<Enrolment, AuthError> {
        let password =
            Password::parse(password).map_err(|p| AuthError::invalid_field("password", p))?;
        self.check_password(user, password, "mfa_enrol", caller)
            .await?;
        let enrolment = self
            .factors
            .begin_totp(user.user_id, &user.username)
            .await?;
        self.log.record(
            caller,
            Event::new("mfa_totp", "enrolled").user(user.user_id),
        );
        Ok(enrolment)
    }

    /// Turns the app on with its first code; returns the recovery codes, shown once.
    pub async fn confirm_totp(
        &self,
        user: &AuthUser,
        code: &str,
        caller: &Caller,
    ) -> Result<Vec<String>, AuthError> {
        let mut admission = self
            .throttle
            .admit(caller, Attempt::new("mfa_confirm", Limited::PasswordCheck))
            .await?;
        admission.reserve(&code_throttle_key(user.user_id)).await?;
        // The app, its codes and the notice commit together.
        let mut tx = self.pool.begin().await?;
        let confirmed = self.factors.confirm_totp(&mut tx, user.user_id, code).await;
        match confirmed {
            Ok(codes) => {
                self.outbox
                    .notify(
                        &mut tx,
                        user.user_id,
                        &user.username,
                        Notice::FactorAdded("An authenticator app"),
                    )
                    .await?;
                tx.commit().await?;
                admission.succeeded().await?;
                self.log.record(
                    caller,
                    Event::new("mfa_totp", "confirmed").user(user.user_id),
                );
                Ok(codes)
            }
            Err(e) => {
                self.log.record(
                    caller,
                    Event::new("mfa_totp", "wrong_code").user(user.user_id),
                );
                Err(e)
            }
        }
    }

    /// Checks the password and, when a factor is on, a current code (TOTP or recovery code).
    async fn check_password_and_code(
        &self,
        user: &AuthUser,
        password: String,
        code: Option<String>,
        action: &'static str,
        caller: &Caller,
    ) -> Result<(), AuthError> {
        let password =
            Password::parse(password).map_err(|p| AuthError::invalid_field("password", p))?;
        let (_, mut admission) = self
            .check_password_admitted(user, password, action, caller)
            .await?;
        // The password was right: its failures are forgotten whatever the code turns out to be.
        admission.succeeded().await?;
        // With passkeys only, the password is the check (docs/api.md §4).
        if !self.factors.has_totp(user.user_id).await? {
            return Ok(());
        }
        let code = code.ok_or_else(|| AuthError::invalid_field("code", "is required"))?;
        admission.reserve(&code_throttle_key(user.user_id)).await?;
        if self
            .factors
            .check_code(user.user_id, &code)
            .await?
            .is_none()
        {
            self.log
                .record(caller, Event::new(action, "wrong_code").user(user.user_id));
            return Err(AuthError::WrongPassword);
        }
        admission.succeeded().await
    }

    /// A fresh set of recovery codes; the old set dies.
    pub async fn new_recovery_codes(
        &self,
        user: &AuthUser,
        password: String,
        code: Option<String>,
        caller: &Caller,
    ) -> Result<Vec<String>, AuthError> {
        self.check_password_and_code(user, password, code, "mfa_recovery_codes", caller)
            .await?;
        if !self.factors.has_second_factor(user.user_id).await? {
            return Err(AuthError::invalid_field(
                "code",
                "no second factor is on: recovery codes come with one",
            ));
        }
        let mut tx = self.pool.begin().await?;
        let codes = self
            .factors
            .new_recovery_codes(&mut tx, user.user_id)
            .await?;
        tx.commit().await?;
        self.log.record(
            caller,
            Event::new("mfa_recovery_codes", "replaced").user(user.user_id),
        );
        Ok(codes)
    }

    /// Turns the app off (and with the last factor, the recovery codes); every other session
    /// of the account ends.
    pub async fn disable_totp(
        &self,
        user: &AuthUser,
        password: String,
        code: Option<String>,
        caller: &Caller,
    ) -> Result<(), AuthError> {
        self.check_password_and_code(user, password, code, "mfa_disable", caller)
            .await?;
        let mut tx = self.pool.begin().await?;
        self.factors.remove_totp(&mut tx, user.user_id).await?;
        self.factor_removed(tx, user, "An authenticator app")
            .await?;
        self.log.record(
            caller,
            Event::new("mfa_totp", "disabled_other_sessions_revoked").user(user.user_id),
        );
        Ok(())
    }

    /// What every removal of a sign-in factor does after the removal itself, in its transaction:
    /// every other session ends (docs/api.md §4) and the verified address is told; the
    /// revocations are propagated once it commits.
    pub(super) async fn factor_removed(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
        user: &AuthUser,
        factor: &'static str,
    ) -> Result<(), AuthError> {
        let revoked =
            db::sessions::revoke_other_sessions(&mut *tx, user.user_id, user.session_id).await?;
        self.outbox
            .notify(
                &mut tx,
                user.user_id,
                &user.username,
                Notice::FactorRemoved(factor),
            )
            .await?;
        tx.commit().await?;
        self.revocations.propagate(revoked).await;
        Ok(())
    }

    /// The operator's `user reset-mfa`: every factor and recovery code goes, every session ends.
    pub async fn reset_second_factors(&self, user_id: Uuid) -> Result<u64, AuthError> {
        let mut tx = self.pool.begin().await?;
        let had_app = self.factors.remove_all(&mut tx, user_id).await?;
        let revoked = db::sessions::revoke_user_sessions(&mut *tx, user_id).await?;
        if had_app && let Some(user) = db::users::find_user(&mut *tx, user_id).await? {
            self.outbox
                .notify(
                    &mut tx,
                    user_id,
                    &user.username,
                    Notice::FactorRemoved("An authenticator app"),
                )
                .await?;
        }
        tx.commit().await?;
        let count = revoked.len() as u64;
        self.revocations.propagate(revoked).await;
        self.log.record(
            &Caller::command_line(),
            Event::new("mfa_reset", "success_sessions_revoked").user(user_id),
        );
        Ok(count)
    }
}
