//! Email addresses (docs/api.md §7): an address counts once the link mailed to it is
//! followed. Claiming an address another account has verified answers exactly like any claim;
//! the mail to that address says it already belongs to an account instead of linking it, so
//! nobody learns through us which addresses have accounts.

use std::sync::Arc;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::auth::audit::{Event, SecurityLog};
use crate::auth::caller::Caller;
use crate::auth::error::AuthError;
use crate::auth::keys::random::{random_token, token_digest};
use crate::auth::mail::outbox::{Mail, Outbox, VERIFY_TTL};
use crate::auth::throttle::{Attempt, Limited, Throttle};
use crate::db;
use crate::db::email::{AddressStatus, Purpose};
use crate::domain::EmailAddress;

/// Ours are 43 characters; anything much longer is not one.
pub const MAX_LINK_TOKEN_LEN: usize = 128;

/// The problem shown for a link token that is unknown, used or expired.
pub const DEAD_LINK: &str = "this link is invalid, used or expired: ask for a new one";

#[derive(Clone)]
pub struct Addresses {
    pool: PgPool,
    outbox: Arc<Outbox>,
    throttle: Arc<Throttle>,
    log: Arc<SecurityLog>,
}

impl Addresses {
    pub fn new(
        pool: PgPool,
        outbox: Arc<Outbox>,
        throttle: Arc<Throttle>,
        log: Arc<SecurityLog>,
    ) -> Self {
        Self {
            pool,
            outbox,
            throttle,
            log,
        }
    }

    /// Asks for `address` to become the account's, in the caller's transaction: mails it a
    /// verification link, or, when another account has verified it, the notice that it is taken.
    /// The caller answers the same either way.
    pub async fn claim(
        &self,
        conn: &mut PgConnection,
        user_id: Uuid,
        username: &str,
        address: &EmailAddress,
    ) -> Result<(), sqlx::Error> {
        // A token is stored either way, so the account shows the address as pending either
        // way (`GET /me`): only the mailbox's owner learns that it is taken.
        let token = random_token(32);
        db::email::insert_token(
            conn,
            &token_digest(&token),
            user_id,
            Purpose::Verify,
            Some(address),
            VERIFY_TTL,
        )
        .await?;
        let mail = if db::email::verified_by_another(conn, address, user_id).await? {
            Mail::AddressTaken
        } else {
            Mail::VerifyAddress { token: &token }
        };
        let greeting = if matches!(mail, Mail::AddressTaken) {
            ""
        } else {
            username
        };
        self.outbox
            .queue(conn, address.as_str(), greeting, &mail)
            .await
    }

    /// Follows a verification link: the address becomes the account's. The token is spent, with
    /// every other pending verification of the account.
    pub async fn verify(&self, token: &str, caller: &Caller) -> Result<(), AuthError> {
        self.throttle
            .admit(caller, Attempt::new("email_verify", Limited::Recovery))
            .await?;
        let dead = || AuthError::invalid_field("token", DEAD_LINK);
        if token.is_empty() || token.len() > MAX_LINK_TOKEN_LEN {
            return Err(dead());
        }
        let mut tx = self.pool.begin().await?;
        let Some(spent) =
            db::email::spend_token(&mut tx, &token_digest(token), Purpose::Verify).await?
        else {
            self.log
                .record(caller, Event::new("email_verify", "invalid_token"));
            return Err(dead());
        };
        let address = spent.email.unwrap_or_default();
        match db::email::set_verified_address(&mut tx, spent.user_id, &address).await {
            Ok(()) => {}
            // Another account verified it since the link was mailed: the mailbox's owner holds
            // this link, so telling them is no enumeration.
            Err(e) if db::unique_violation(&e) == Some(db::email::EMAIL_UNIQUE) => {
                self.log.record(
                    caller,
                    Event::new("email_verify", "taken").user(spent.user_id),
                );
                return Err(AuthError::invalid_field(
                    "token",
                    "this address now belongs to another account",
                ));
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        self.log.record(
            caller,
            Event::new("email_verify", "success").user(spent.user_id),
        );
        Ok(())
    }

    /// The verified address and the pending one, for `GET /me` and the dashboard.
    pub async fn status(&self, user_id: Uuid) -> Result<AddressStatus, AuthError> {
        Ok(db::email::address_status(&self.pool, user_id).await?)
    }
}
