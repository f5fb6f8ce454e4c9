//! What an operator does to accounts from the command line, through the same storage, rules and
//! revocation path as the HTTP API: a session ended here is refused on every instance before the
//! command returns, exactly as when its owner signs out.

use std::sync::Arc;

use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::audit::{Event, SecurityLog};
use crate::auth::caller::Caller;
use crate::auth::error::AuthError;
use crate::auth::sessions::revocations::Revocations;
use crate::auth::throttle::Throttle;
use crate::db;
use crate::db::users::UserSummary;
use crate::domain::Username;

pub struct AccountAdmin {
    pool: PgPool,
    revocations: Arc<Revocations>,
    throttle: Arc<Throttle>,
    log: Arc<SecurityLog>,
}

impl AccountAdmin {
    pub fn new(
        pool: PgPool,
        revocations: Arc<Revocations>,
        throttle: Arc<Throttle>,
        log: Arc<SecurityLog>,
    ) -> Self {
        Self {
            pool,
            revocations,
            throttle,
            log,
        }
    }

    /// The id of the account named `name` (in any letter case); `NotFound` when there is none.
    pub async fn find(&self, name: &str) -> Result<Uuid, AuthError> {
        let username = Username::parse(name).map_err(|_| AuthError::NotFound)?;
        db::users::find_credentials(&self.pool, &username)
            .await?
            .map(|user| user.id)
            .ok_or(AuthError::NotFound)
    }

    /// Every account with its live sessions, oldest first.
    pub async fn list(&self) -> Result<Vec<UserSummary>, AuthError> {
        Ok(db::users::list_users(&self.pool).await?)
    }

    /// Deletes an account; its sessions end on every instance.
    pub async fn delete(&self, name: &str) -> Result<(), AuthError> {
        let user_id = self.find(name).await?;
        let revoked = db::users::delete_user(&self.pool, user_id).await?;
        self.revocations.propagate(revoked).await;
        self.log.record(
            &Caller::command_line(),
            Event::new("account_deletion", "operator").user(user_id),
        );
        Ok(())
    }

    /// Ends every session of an account on every instance; returns how many were live.
    pub async fn revoke_sessions(&self, name: &str) -> Result<u64, AuthError> {
        let user_id = self.find(name).await?;
        let revoked = db::sessions::revoke_user_sessions(&self.pool, user_id).await?;
        let count = revoked.len() as u64;
        self.revocations.propagate(revoked).await;
        self.log.record(
            &Caller::command_line(),
            Event::new("sessions_revoked", "operator").user(user_id),
        );
        Ok(count)
    }

    /// Forgets a username's failed sign-ins, lifting its throttle.
    pub async fn unlock(&self, name: &str) -> Result<(), AuthError> {
        self.throttle.clear(&Username::canonical_form(name)).await
    }

    /// Adds an account with a bcrypt hash made elsewhere (the original Flask example's); `false`
    /// when the name is taken already, in any letter case.
    pub async fn import(&self, username: &Username, bcrypt_hash: &str) -> Result<bool, AuthError> {
        Ok(db::users::insert_user_if_absent(&self.pool, username, bcrypt_hash).await?)
    }
}
