//! The account's address: set or changed after the password, and the sign-in from a new client
//! it is told of (docs/api.md §7).

use crate::auth::accounts::service::Accounts;
use crate::auth::audit::Event;
use crate::auth::caller::{Caller, ClientInfo};
use crate::auth::error::AuthError;
use crate::auth::mail::outbox::Notice;
use crate::auth::sessions::service::{AuthUser, SignIn};
use crate::db;
use crate::db::email::AddressStatus;
use crate::domain::{EmailAddress, FieldErrors, Password, Username};

impl Accounts {
    /// Asks for a new address: a verification link goes to it (or, when another account has
    /// verified it, a mail saying so: the answer here is the same), and the verified address
    /// the account has now is told at once, not when the new one is confirmed.
    pub async fn change_email(
        &self,
        user: &AuthUser,
        email: String,
        password: String,
        caller: &Caller,
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
        self.check_password(user, password, "email_change", caller)
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
            caller,
            Event::new("email_change", "requested").user(user.user_id),
        );
        Ok(())
    }

    /// Tells the account's verified address of a sign-in from a client it has not seen: a
    /// browser without this account's device cookie, from a user agent and network not seen
    /// before (OWASP ASVS 6.3.7: users are notified of suspicious authentication).
    pub(super) async fn announce_new_client(
        &self,
        sign_in: &SignIn,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let name = Username::canonical_form(&sign_in.username);
        let known_browser = client
            .device
            .as_deref()
            .and_then(|token| self.devices.verify(token, &name))
            .is_some();
        if known_browser {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        if db::email::remember_client(&mut tx, sign_in.user_id, &client.digest()).await? {
            let notice = Notice::NewClient {
                user_agent: client.user_agent.clone(),
            };
            self.outbox
                .notify(&mut tx, sign_in.user_id, &sign_in.username, notice)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The verified address and the pending one.
    pub async fn address_status(&self, user: &AuthUser) -> Result<AddressStatus, AuthError> {
        self.addresses.status(user.user_id).await
    }
}
