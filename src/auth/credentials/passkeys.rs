//! Passkeys (docs/api.md §5, WebAuthn Level 3) through `webauthn-rs`: the relying party
//! is `public_origin`'s host, user verification is required, credentials are discoverable. Each
//! ceremony's state is kept in PostgreSQL, single-use for five minutes, so any instance finishes
//! what another started. Only our policy is here; the protocol is the crate's.

use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Webauthn, WebauthnBuilder,
};

use crate::auth::error::AuthError;
use crate::db;
use crate::db::passkeys::PasskeyInfo;

/// How long a ceremony may take (and its challenge lives).
pub const CEREMONY_TTL: Duration = Duration::from_secs(300);

const REGISTER: &str = "register";
const SIGN_IN: &str = "sign_in";
const SECOND_FACTOR: &str = "second_factor";

/// A ceremony begun: its id and the options for `navigator.credentials`, as their JSON form.
#[derive(Debug)]
pub struct Begun {
    pub challenge_id: Uuid,
    pub public_key: Value,
}

/// A passkey that passed registration, ready to be stored with the account.
#[derive(Debug)]
pub struct NewPasskey {
    pub credential_id: Vec<u8>,
    pub record: Value,
}

/// Who a finished sign-in ceremony proved.
#[derive(Debug)]
pub struct Proven {
    pub user_id: Uuid,
    /// For a second step: the pending sign-in it completes.
    pub mfa_token_hash: Option<Vec<u8>>,
}

/// Why `public_origin` cannot be a relying party.
#[derive(Debug, thiserror::Error)]
#[error("public_origin cannot be a WebAuthn relying party: {0}")]
pub struct RelyingPartyError(String);

pub struct Passkeys {
    pool: PgPool,
    /// `None` when `public_origin` cannot be a relying party (an IP address: WebAuthn L3 5.1.4
    /// wants a domain); passkeys are then off, and everything else works.
    webauthn: Option<Webauthn>,
}

fn relying_party(public_origin: &str) -> Result<Webauthn, RelyingPartyError> {
    let origin = Url::parse(public_origin).map_err(|e| RelyingPartyError(e.to_string()))?;
    let rp_id = origin
        .host_str()
        .ok_or_else(|| RelyingPartyError("it has no host".into()))?
        .to_owned();
    WebauthnBuilder::new(&rp_id, &origin)
        .and_then(|b| b.rp_name("Gatehouse").timeout(CEREMONY_TTL).build())
        .map_err(|e| RelyingPartyError(e.to_string()))
}

fn internal(e: impl std::fmt::Display) -> AuthError {
    AuthError::Internal(e.to_string().into())
}

fn dead_challenge() -> AuthError {
    AuthError::invalid_field("challenge_id", "is unknown, used or expired: start again")
}

impl Passkeys {
    /// The relying party of `public_origin`; without one (a warning says why), passkeys are off.
    pub fn new(pool: PgPool, public_origin: &str) -> Self {
        let webauthn = match relying_party(public_origin) {
            Ok(webauthn) => Some(webauthn),
            Err(e) => {
                log::warn!("{e}: passkeys are off");
                None
            }
        };
        Self { pool, webauthn }
    }

    fn webauthn(&self) -> Result<&Webauthn, AuthError> {
        self.webauthn.as_ref().ok_or_else(|| {
            AuthError::invalid_field(
                "passkey",
                "passkeys are off on this server: its public_origin is not a domain",
            )
        })
    }

    pub async fn list(&self, user_id: Uuid) -> Result<Vec<PasskeyInfo>, AuthError> {
        Ok(db::passkeys::list(&self.pool, user_id).await?)
    }

    async fn store(
        &self,
        purpose: &str,
        user_id: Option<Uuid>,
        mfa_token_hash: Option<&[u8]>,
        state: &impl serde::Serialize,
        options: &impl serde::Serialize,
    ) -> Result<Begun, AuthError> {
        let challenge_id = Uuid::new_v4();
        let state = serde_json::to_value(state).map_err(internal)?;
        db::passkeys::insert_ceremony(
            &self.pool,
            challenge_id,
            purpose,
            user_id,
            mfa_token_hash,
            &state,
            CEREMONY_TTL,
        )
        .await?;
        let mut options = serde_json::to_value(options).map_err(internal)?;
        let public_key = options
            .get_mut("publicKey")
            .map(Value::take)
            .ok_or_else(|| internal("no publicKey in the options"))?;
        Ok(Begun {
            challenge_id,
            public_key,
        })
    }

    /// Starts adding a passkey to an account; its other passkeys are excluded, so one
    /// authenticator is not registered twice.
    pub async fn begin_registration(
        &self,
        user_id: Uuid,
        username: &str,
    ) -> Result<Begun, AuthError> {
        let existing = db::passkeys::of_user(&self.pool, user_id).await?;
        let exclude = existing
            .iter()
            .filter_map(|p| serde_json::from_value::<Passkey>(p.passkey.clone()).ok())
            .map(|p| p.cred_id().clone())
            .collect::<Vec<_>>();
        let (options, state) = self
            .webauthn()?
            .start_passkey_registration(user_id, username, username, Some(exclude))
            .map_err(internal)?;
        let mut begun = self
            .store(REGISTER, Some(user_id), None, &state, &options)
            .await?;
        // Discoverable credentials, so a sign-in needs no username (WebAuthn L3 5.4.6). The
        // crate asks for none by default; nothing in its verification depends on it.
        if let Some(selection) = begun.public_key.get_mut("authenticatorSelection") {
            selection["residentKey"] = "required".into();
            selection["requireResidentKey"] = true.into();
        }
        Ok(begun)
    }

    /// Checks a registration response against its ceremony (spent by this, right or wrong).
    pub async fn finish_registration(
        &self,
        user_id: Uuid,
        challenge_id: Uuid,
        credential: Value,
    ) -> Result<NewPasskey, AuthError> {
        let ceremony = db::passkeys::spend_ceremony(&self.pool, challenge_id, REGISTER)
            .await?
            .filter(|c| c.user_id == Some(user_id))
            .ok_or_else(dead_challenge)?;
        let state: PasskeyRegistration =
            serde_json::from_value(ceremony.state).map_err(internal)?;
        let response: RegisterPublicKeyCredential =
            serde_json::from_value(credential).map_err(|_| {
                AuthError::invalid_field("credential", "is not a registration response")
            })?;
        let passkey = self
            .webauthn()?
            .finish_passkey_registration(&response, &state)
            .map_err(|e| {
                log::info!("passkey registration refused: {e}");
                AuthError::invalid_field("credential", "does not verify")
            })?;
        Ok(NewPasskey {
            credential_id: passkey.cred_id().to_vec(),
            record: serde_json::to_value(&passkey).map_err(internal)?,
        })
    }

    /// Starts a sign-in: with no account (any discoverable passkey of this site), or as the
    /// second step of a pending sign-in, among that account's passkeys.
    pub async fn begin_sign_in(
        &self,
        second_step: Option<(Uuid, &[u8])>,
    ) -> Result<Begun, AuthError> {
        let Some((user_id, mfa_token_hash)) = second_step else {
            let (mut options, state) = self
                .webauthn()?
                .start_discoverable_authentication()
                .map_err(internal)?;
            // A button starts this, not an autofill prompt.
            options.mediation = None;
            return self.store(SIGN_IN, None, None, &state, &options).await;
        };
        let passkeys: Vec<Passkey> = db::passkeys::of_user(&self.pool, user_id)
            .await?
            .into_iter()
            .filter_map(|p| serde_json::from_value(p.passkey).ok())
            .collect();
        if passkeys.is_empty() {
            return Err(AuthError::invalid_field(
                "mfa_token",
                "this account has no passkey",
            ));
        }
        let (options, state) = self
            .webauthn()?
            .start_passkey_authentication(&passkeys)
            .map_err(internal)?;
        self.store(
            SECOND_FACTOR,
            Some(user_id),
            Some(mfa_token_hash),
            &state,
            &options,
        )
        .await
    }

    /// Checks a sign-in response against its ceremony (spent by this, right or wrong) and keeps
    /// the passkey's new counter and backup state. A bad signature, another origin, a wrong
    /// challenge, an unknown credential or a missing user verification are all
    /// `InvalidCredentials`, told apart only in the log.
    pub async fn finish_sign_in(
        &self,
        challenge_id: Uuid,
        credential: Value,
    ) -> Result<Proven, AuthError> {
        let refused = |why: &dyn std::fmt::Display| {
            log::info!("passkey sign-in refused: {why}");
            AuthError::InvalidCredentials
        };
        let response: PublicKeyCredential = serde_json::from_value(credential).map_err(|_| {
            AuthError::invalid_field("credential", "is not an authentication response")
        })?;
        let ceremony = match db::passkeys::spend_ceremony(&self.pool, challenge_id, SIGN_IN).await?
        {
            Some(c) => Some(c),
            None => db::passkeys::spend_ceremony(&self.pool, challenge_id, SECOND_FACTOR).await?,
        }
        .ok_or_else(|| refused(&"unknown, used or expired challenge"))?;
        let stored = db::passkeys::find_by_credential(&self.pool, response.get_credential_id())
            .await?
            .ok_or_else(|| refused(&"unknown credential"))?;
        let mut passkey: Passkey =
            serde_json::from_value(stored.passkey.clone()).map_err(internal)?;
        let result = match ceremony.user_id {
            // A second step: only the pending account's passkeys count.
            Some(user_id) => {
                if stored.user_id != user_id {
                    return Err(refused(&"another account's credential"));
                }
                let state: PasskeyAuthentication =
                    serde_json::from_value(ceremony.state).map_err(internal)?;
                self.webauthn()?
                    .finish_passkey_authentication(&response, &state)
                    .map_err(|e| refused(&e))?
            }
            None => {
                let (handle, _) = self
                    .webauthn()?
                    .identify_discoverable_authentication(&response)
                    .map_err(|e| refused(&e))?;
                if handle != stored.user_id {
                    return Err(refused(&"the user handle is not the credential's account"));
                }
                let state: DiscoverableAuthentication =
                    serde_json::from_value(ceremony.state).map_err(internal)?;
                self.webauthn()?
                    .finish_discoverable_authentication_v2(&response, state, &passkey)
                    .map_err(|e| refused(&e))?
            }
        };
        // WebAuthn L3 7.2 steps 21-22: keep the new signature counter and backup state.
        passkey.update_credential(&result);
        let record = serde_json::to_value(&passkey).map_err(internal)?;
        db::passkeys::record_use(&self.pool, stored.id, &record).await?;
        Ok(Proven {
            user_id: stored.user_id,
            mfa_token_hash: ceremony.mfa_token_hash,
        })
    }
}
