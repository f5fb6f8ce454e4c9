//! The services of the core, built once from the settings and a pool. The server manages each
//! as its own Rocket state; the command line uses the ones it needs. Nothing here is a service:
//! `Core` only assembles and hands over.

use std::sync::Arc;

use sqlx::PgPool;

use crate::auth::accounts::addresses::Addresses;
use crate::auth::accounts::admin::AccountAdmin;
use crate::auth::accounts::password_reset::{PasswordReset, PasswordResetParts};
use crate::auth::accounts::service::{Accounts, AccountsParts};
use crate::auth::audit::SecurityLog;
use crate::auth::credentials::breached::BreachedPasswords;
use crate::auth::credentials::devices::DeviceKeys;
use crate::auth::credentials::passkeys::Passkeys;
use crate::auth::credentials::password::{HashError, PasswordHasher};
use crate::auth::credentials::second_factors::{SecondFactors, SecondFactorsParts};
use crate::auth::error::AuthError;
use crate::auth::housekeeping::{Housekeeping, Schedule};
use crate::auth::keys::access_token::TokenKeys;
use crate::auth::keys::csrf::CsrfKey;
use crate::auth::keys::master::{MasterKey, Purpose};
use crate::auth::keys::signing::{SigningKeys, SigningKeysParts};
use crate::auth::mail::delivery::{Delivery, DeliveryError};
use crate::auth::mail::mailbox::Mailbox;
use crate::auth::mail::outbox::Outbox;
use crate::auth::sessions::authenticator::{Authenticator, AuthenticatorParts};
use crate::auth::sessions::owners::SessionOwners;
use crate::auth::sessions::revocations::Revocations;
use crate::auth::sessions::service::{RefreshPolicy, Sessions, SessionsParts};
use crate::auth::throttle::Throttle;
use crate::config::{Settings, ThrottleSettings};
use crate::domain::PasswordPolicy;

pub struct Core {
    pub accounts: Accounts,
    /// The command line's account operations.
    pub admin: AccountAdmin,
    pub sessions: Sessions,
    pub authenticator: Authenticator,
    pub csrf_key: CsrfKey,
    pub password_policy: PasswordPolicy,
    /// For the metrics: hashes in flight.
    pub hasher: Arc<PasswordHasher>,
    /// For the metrics: events by kind and outcome.
    pub log: Arc<SecurityLog>,
    /// For the metrics: the instances a revocation waits for.
    pub revocations: Arc<Revocations>,
    /// The server's own signing keys: the JWKS, rotation, the command line.
    pub signing: Arc<SigningKeys>,
    /// Addresses and their verification.
    pub addresses: Arc<Addresses>,
    /// Forgotten passwords.
    pub password_reset: PasswordReset,
    /// The outbox as the development mailbox shows it.
    pub mailbox: Mailbox,
    /// The revocation listener, the mail worker and the purges.
    pub housekeeping: Housekeeping,
}

/// Why the core could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start the password hasher: {0}")]
    Hasher(#[from] HashError),
    #[error("cannot open the security log: {0}")]
    Log(#[from] std::io::Error),
    #[error("cannot load the signing keys: {0}")]
    Keys(#[from] AuthError),
    #[error("cannot set up mail delivery: {0}")]
    Mail(#[from] DeliveryError),
}

impl Core {
    pub async fn start(settings: &Settings, pool: PgPool) -> Result<Self, StartError> {
        let log = Arc::new(SecurityLog::open(settings.site.security_log.as_deref())?);
        let hasher = Arc::new(
            PasswordHasher::start(
                settings.passwords.threads(),
                settings.passwords.password_hash_queue,
                settings.passwords.bcrypt_cost,
            )
            .await?,
        );
        let master = MasterKey::new(&settings.master_secret);
        let keys = Arc::new(
            if settings.tokens.jwt_algorithm == jsonwebtoken::Algorithm::HS256 {
                TokenKeys::new(settings)
            } else {
                TokenKeys::with_ring(settings)
            },
        );
        let signing = Arc::new(SigningKeys::new(SigningKeysParts {
            pool: pool.clone(),
            sealer: master.sealer(Purpose::SigningKeys),
            settings: settings.clone(),
            tokens: Arc::clone(&keys),
        }));
        signing.start().await?;
        let revocations = Arc::new(Revocations::new(settings.tokens.access_token_ttl));
        let owners = Arc::new(SessionOwners::default());
        let sessions = Sessions::new(SessionsParts {
            pool: pool.clone(),
            keys: Arc::clone(&keys),
            revocations: Arc::clone(&revocations),
            owners: Arc::clone(&owners),
            log: Arc::clone(&log),
            refresh: RefreshPolicy {
                ttl: settings.tokens.refresh_token_ttl,
                grace: settings.tokens.refresh_grace_period,
            },
            successor_key: master.hmac_key(Purpose::RefreshSuccessor),
        });
        let throttle = Arc::new(Throttle::new(
            pool.clone(),
            settings.throttle.clone(),
            Arc::clone(&log),
        ));
        let admin = AccountAdmin::new(
            pool.clone(),
            Arc::clone(&revocations),
            Arc::clone(&throttle),
            Arc::clone(&log),
        );
        let password_policy = PasswordPolicy {
            min_length: settings.passwords.password_min_length,
        };
        let common_passwords = Arc::new(BreachedPasswords::load());
        let outbox = Arc::new(Outbox::new(
            master.sealer(Purpose::Outbox),
            settings.site.public_origin.clone(),
        ));
        let addresses = Arc::new(Addresses::new(
            pool.clone(),
            Arc::clone(&outbox),
            Arc::clone(&throttle),
            Arc::clone(&log),
        ));
        let recovery = PasswordReset::new(PasswordResetParts {
            pool: pool.clone(),
            outbox: Arc::clone(&outbox),
            throttle: Arc::clone(&throttle),
            log: Arc::clone(&log),
            hasher: Arc::clone(&hasher),
            revocations: Arc::clone(&revocations),
            policy: password_policy.clone(),
            common_passwords: Arc::clone(&common_passwords),
        });
        let delivery = Delivery::new(settings, pool.clone(), Arc::clone(&outbox))?.map(Arc::new);
        let accounts = Accounts::new(AccountsParts {
            pool: pool.clone(),
            hasher: Arc::clone(&hasher),
            throttle,
            common_passwords,
            outbox: Arc::clone(&outbox),
            addresses: Arc::clone(&addresses),
            passkeys: Arc::new(Passkeys::new(pool.clone(), &settings.site.public_origin)),
            sessions: sessions.clone(),
            revocations: Arc::clone(&revocations),
            log: Arc::clone(&log),
            policy: password_policy.clone(),
            devices: DeviceKeys::derive(&master),
            factors: Arc::new(SecondFactors::new(SecondFactorsParts {
                pool: pool.clone(),
                sealing: master.sealer(Purpose::TotpSecrets),
                recovery: master.hmac_key(Purpose::RecoveryCodes),
                issuer: settings.site.totp_issuer.clone(),
            })),
        });
        let authenticator = Authenticator::new(AuthenticatorParts {
            pool: pool.clone(),
            keys,
            revocations: Arc::clone(&revocations),
            owners,
            sessions: sessions.clone(),
            log: Arc::clone(&log),
        });
        Ok(Self {
            accounts,
            admin,
            sessions,
            authenticator,
            csrf_key: CsrfKey::derive(&master),
            password_policy,
            hasher,
            log,
            revocations: Arc::clone(&revocations),
            signing: Arc::clone(&signing),
            addresses,
            password_reset: recovery,
            mailbox: Mailbox::new(pool.clone(), outbox),
            housekeeping: Housekeeping {
                signing,
                delivery,
                pool,
                schedule: Schedule {
                    purge_every: settings.tokens.session_purge_interval,
                    counters_kept: settings
                        .throttle
                        .login_failure_window
                        .max(ThrottleSettings::IP_WINDOW)
                        .max(crate::auth::throttle::RESET_MAIL_WINDOW),
                },
                revocations,
            },
        })
    }
}
