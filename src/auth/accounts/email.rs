//! The account's address: set or changed after the password (CONTRACT.md section 7).

use super::Accounts;
use crate::auth::audit::Event;
use crate::auth::client::Origin;
use crate::auth::error::AuthError;
use crate::auth::mail::Notice;
use crate::auth::sessions::AuthUser;
use crate::db::email::AddressStatus;
use crate::domain::{EmailAddress, FieldErrors, Password};

impl Accounts {
    /// Asks for a new address: a verification link goes to it (or, when another account has
    /// verified it, a mail saying so: the answer here is the same), and the verified address
    /// the account has now is told at once, not when the new one is confirmed.
    pub async fn change_email(
        &self,
        user: &AuthUser,
        email: String,
        password: String,
        origin: &Origin,
    ) -> Result<(), AuthError> {
        let mut errors = FieldErrors::default();
        let address = EmailAddress::parse(&email)
            .map_err(|p| errors.add("email", p))
            .ok();
        let password = Password::parse(password)
            .map_err(|p| errors.add("password", p))
            .ok();
        let (Some(address), Some(password)) = (address, password) else {
            return Err(AuthError::InvalidInput(errors));
        };
        self.check_password(user, password, "email_change", origin)
            .await?;
        let mut tx = self.pool.begin().await?;
        self.outbox
            .notify(
                &mut tx,
                user.user_id,
                &user.username,
                Notice::EmailChangeRequested,
            )
            .await?;
        self.addresses
            .claim(&mut tx, user.user_id, &user.username, &address)
            .await?;
        tx.commit().await?;
        self.log.record(
            origin,
            Event::new("email_change", "requested").user(user.user_id),
        );
        Ok(())
    }

    /// The verified address and the pending one.
    pub async fn address_status(&self, user: &AuthUser) -> Result<AddressStatus, AuthError> {
        self.addresses.status(user.user_id).await
    }
}
