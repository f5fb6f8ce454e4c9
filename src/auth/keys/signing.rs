//! The server's own signing keys (docs/api.md §6): made here, kept in PostgreSQL with the
//! private half sealed, rotated on a schedule with pre-publication, revoked at once when
//! compromised. Every instance loads the same keys, so every instance signs with the key the
//! database names current and accepts the ones it publishes. (A fifth of this file is the tests
//! of the rotation plan along one clock.)

use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Value, json};
use sqlx::PgPool;
use time::OffsetDateTime;

use crate::auth::error::AuthError;
use crate::auth::keys::access_token::{Ring, TokenKeys};
use crate::auth::keys::master::Sealer;
use crate::config::Settings;
use crate::db;
use crate::db::keys::StoredKey;

/// Which keys do what at a moment: indexes into the stored keys.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    /// The key that signs: the newest live one whose activation has come.
    pub signing: Option<usize>,
    /// The keys in the published set (and accepted): live, their publication come, and not yet
    /// expired — a key expires once a newer one has signed for longer than a token lives.
    pub published: Vec<usize>,
}

/// The plan at `now`; `token_life` is the longest a token stays valid (lifetime and leeway).
pub fn plan(keys: &[StoredKey], now: OffsetDateTime, token_life: Duration) -> Plan {
    let live: Vec<usize> = (0..keys.len())
        .filter(|&i| keys[i].revoked_at.is_none())
        .collect();
    let active = |i: usize| keys[i].activate_at <= now;
    let signing = live
        .iter()
        .copied()
        .filter(|&i| active(i))
        .max_by_key(|&i| keys[i].activate_at);
    let published = live
        .iter()
        .copied()
        .filter(|&i| keys[i].publish_at <= now)
        .filter(|&i| {
            let succeeded_at = live
                .iter()
                .copied()
                .filter(|&j| active(j) && keys[j].activate_at > keys[i].activate_at)
                .map(|j| keys[j].activate_at)
                .min();
            succeeded_at.is_none_or(|at| now < at + token_life)
        })
        .collect();
    Plan { signing, published }
}

/// Whether a new key is due at `now`: none signs, or the signing one is older than `lifetime`
/// and no successor is waiting for its activation.
pub fn rotation_due(keys: &[StoredKey], now: OffsetDateTime, lifetime: Duration) -> bool {
    let pending = keys
        .iter()
        .any(|k| k.revoked_at.is_none() && k.activate_at > now);
    match plan(keys, now, Duration::ZERO).signing {
        None => !pending,
        Some(i) => !pending && keys[i].activate_at + lifetime <= now,
    }
}

/// What a load found.
enum Loaded {
    Done,
    /// The signing key's private half does not open under this `secret_key`.
    Unreadable(String),
}

/// How a key appears in `gatehouse keys list`.
#[derive(Debug)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: String,
    pub state: &'static str,
    pub publish_at: OffsetDateTime,
    pub activate_at: OffsetDateTime,
}

pub struct SigningKeys {
    pool: PgPool,
    sealer: Sealer,
    alg: Algorithm,
    /// How long verifiers may cache the set: a new key is published twice this before it signs.
    jwks_max_age: Duration,
    lifetime: Duration,
    token_life: Duration,
    settings: Settings,
    tokens: Arc<TokenKeys>,
    jwks: RwLock<Value>,
}

/// What the signing-key service works with.
pub struct SigningKeysParts {
    pub pool: PgPool,
    pub sealer: Sealer,
    pub settings: Settings,
    pub tokens: Arc<TokenKeys>,
}

impl SigningKeys {
    pub fn new(parts: SigningKeysParts) -> Self {
        let settings = parts.settings;
        Self {
            pool: parts.pool,
            sealer: parts.sealer,
            alg: settings.tokens.jwt_algorithm,
            jwks_max_age: settings.tokens.jwks_max_age,
            lifetime: settings.tokens.jwt_key_lifetime,
            // The token lifetime, the validation leeway, and a margin for clocks.
            token_life: settings.tokens.access_token_ttl + Duration::from_secs(120),
            settings,
            tokens: parts.tokens,
            jwks: RwLock::new(json!({"keys": []})),
        }
    }

    /// Whether the server's own keys are in use (not HS256).
    pub fn in_use(&self) -> bool {
        self.alg != Algorithm::HS256
    }

    /// Makes the first key when there is none, then loads the keys.
    pub async fn start(&self) -> Result<(), AuthError> {
        if !self.in_use() {
            return Ok(());
        }
        self.rotate_if_due().await?;
        self.reload().await
    }

    /// Loads the keys and puts the plan of this moment in place.
    pub async fn reload(&self) -> Result<(), AuthError> {
        if !self.in_use() {
            return Ok(());
        }
        let Loaded::Unreadable(kid) = self.load().await? else {
            return Ok(());
        };
        // NOTE: the signing key's private half does not open: `secret_key` changed (or a debug
        // run generated another). Its public half still verifies what it signed, so it stays
        // published until then; a fresh key signs from now on.
        log::warn!("signing key {kid} does not open with this secret_key: making a new one");
        let (alg, sealer) = (self.alg, &self.sealer);
        db::keys::add_key_if(&self.pool, |keys, now| {
            let signing = plan(keys, now, Duration::ZERO).signing;
            (signing.map(|i| keys[i].kid.as_str()) == Some(kid.as_str()))
                .then(|| new_key(alg, sealer, now, now))
        })
        .await?;
        match self.load().await? {
            Loaded::Done => Ok(()),
            Loaded::Unreadable(kid) => Err(AuthError::Internal(
                format!("signing key {kid} does not open").into(),
            )),
        }
    }

    async fn load(&self) -> Result<Loaded, AuthError> {
        let keys = db::keys::list_keys(&self.pool).await?;
        let now = db::keys::now(&self.pool).await?;
        self.install(&keys, now)
    }

    fn install(&self, keys: &[StoredKey], now: OffsetDateTime) -> Result<Loaded, AuthError> {
        let plan = plan(keys, now, self.token_life);
        let signing = match plan.signing {
            Some(i) => {
                let key = &keys[i];
                let Ok(pkcs8) = self.sealer.open(key.kid.as_bytes(), &key.private_sealed) else {
                    return Ok(Loaded::Unreadable(key.kid.clone()));
                };
                Some((key.kid.clone(), algorithm(&key.alg)?, pkcs8))
            }
            None => None,
        };
        let mut verifying = Vec::new();
        let mut published = Vec::new();
        for &i in &plan.published {
            let key = &keys[i];
            verifying.push((key.kid.clone(), algorithm(&key.alg)?, decoding_key(key)?));
            published.push(key.public_jwk.clone());
        }
        // The signing key verifies too, even in the instant before its publication is visible.
        if let Some(i) = plan.signing
            && !plan.published.contains(&i)
        {
            let key = &keys[i];
            verifying.push((key.kid.clone(), algorithm(&key.alg)?, decoding_key(key)?));
        }
        self.tokens
            .install(Ring::new(signing, verifying, &self.settings));
        if let Ok(mut jwks) = self.jwks.write() {
            *jwks = json!({ "keys": published });
        }
        Ok(Loaded::Done)
    }

    /// The published set, as `GET /.well-known/jwks.json` serves it.
    pub fn jwks(&self) -> Value {
        self.jwks
            .read()
            .map(|j| j.clone())
            .unwrap_or_else(|_| json!({"keys": []}))
    }

    /// Adds the next key when one is due (several instances at once add one); `true` if added.
    pub async fn rotate_if_due(&self) -> Result<bool, AuthError> {
        let (alg, lifetime, wait) = (self.alg, self.lifetime, self.pre_publication());
        let sealer = &self.sealer;
        let added = db::keys::add_key_if(&self.pool, |keys, now| {
            if !rotation_due(keys, now, lifetime) {
                return None;
            }
            // The very first key signs at once: nothing can have cached an empty set.
            let first = keys.iter().all(|k| k.revoked_at.is_some());
            let activate_at = if first { now } else { now + wait };
            Some(new_key(alg, sealer, now, activate_at))
        })
        .await?;
        Ok(added)
    }

    /// `gatehouse keys rotate`: a new key now, published before it signs; `false` when one is
    /// waiting already.
    pub async fn rotate_now(&self) -> Result<bool, AuthError> {
        let (alg, wait) = (self.alg, self.pre_publication());
        let sealer = &self.sealer;
        let added = db::keys::add_key_if(&self.pool, |keys, now| {
            let pending = keys
                .iter()
                .any(|k| k.revoked_at.is_none() && k.activate_at > now);
            (!pending).then(|| new_key(alg, sealer, now, now + wait))
        })
        .await?;
        self.reload().await?;
        Ok(added)
    }

    /// `gatehouse keys revoke KID`: out of the set, its tokens refused on every instance at
    /// once (they reload when told); when it was signing, a fresh key signs from now on.
    pub async fn revoke(&self, kid: &str) -> Result<bool, AuthError> {
        if !db::keys::revoke_key(&self.pool, kid).await? {
            return Ok(false);
        }
        let alg = self.alg;
        let sealer = &self.sealer;
        db::keys::add_key_if(&self.pool, |keys, now| {
            plan(keys, now, Duration::ZERO)
                .signing
                .is_none()
                .then(|| new_key(alg, sealer, now, now))
        })
        .await?;
        self.reload().await?;
        Ok(true)
    }

    /// Every key with its state now.
    pub async fn list(&self) -> Result<Vec<KeyInfo>, AuthError> {
        let keys = db::keys::list_keys(&self.pool).await?;
        let now = db::keys::now(&self.pool).await?;
        let plan = plan(&keys, now, self.token_life);
        Ok(keys
            .iter()
            .enumerate()
            .map(|(i, k)| KeyInfo {
                kid: k.kid.clone(),
                alg: k.alg.clone(),
                state: if k.revoked_at.is_some() {
                    "revoked"
                } else if plan.signing == Some(i) {
                    "signing"
                } else if k.activate_at > now && plan.published.contains(&i) {
                    "published, waiting to sign"
                } else if k.activate_at > now {
                    "waiting"
                } else if plan.published.contains(&i) {
                    "retired, still published"
                } else {
                    "expired"
                },
                publish_at: k.publish_at,
                activate_at: k.activate_at,
            })
            .collect())
    }

    /// Two cache lifetimes: every verifier has fetched the new set before it meets the key.
    fn pre_publication(&self) -> Duration {
        self.jwks_max_age * 2
    }
}

fn algorithm(name: &str) -> Result<Algorithm, AuthError> {
    match name {
        "EdDSA" => Ok(Algorithm::EdDSA),
        "ES256" => Ok(Algorithm::ES256),
        other => Err(AuthError::Internal(
            format!("a stored key has the unknown algorithm {other}").into(),
        )),
    }
}

fn decoding_key(key: &StoredKey) -> Result<DecodingKey, AuthError> {
    let component = |name: &str| {
        key.public_jwk[name]
            .as_str()
            .ok_or_else(|| AuthError::Internal(format!("key {} has no {name}", key.kid).into()))
    };
    let decoded = match key.alg.as_str() {
        "ES256" => DecodingKey::from_ec_components(component("x")?, component("y")?),
        _ => DecodingKey::from_ed_components(component("x")?),
    };
    decoded.map_err(|e| AuthError::Internal(e.into()))
}

/// A new key pair: the private half sealed under its kid, the public half as a JWK whose kid is
/// its RFC 7638 thumbprint.
fn new_key(
    alg: Algorithm,
    sealer: &Sealer,
    publish_at: OffsetDateTime,
    activate_at: OffsetDateTime,
) -> StoredKey {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let (pkcs8, mut jwk, alg_name) = match alg {
        Algorithm::ES256 => {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .expect("P-256 key generation cannot fail");
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
                .expect("a key just made parses");
            // Uncompressed point: 0x04 ‖ x ‖ y.
            let point = pair.public_key().as_ref();
            let jwk = json!({
                "crv": "P-256", "kty": "EC",
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
            });
            (pkcs8.as_ref().to_vec(), jwk, "ES256")
        }
        _ => {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("Ed25519 key generation");
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("a key just made parses");
            let jwk = json!({
                "crv": "Ed25519", "kty": "OKP",
                "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
            });
            (pkcs8.as_ref().to_vec(), jwk, "EdDSA")
        }
    };
    // RFC 7638: the required members, sorted, no white space (serde_json's map is sorted).
    let thumbprint =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, jwk.to_string().as_bytes());
    let kid = URL_SAFE_NO_PAD.encode(thumbprint.as_ref());
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!(alg_name);
    jwk["use"] = json!("sig");
    StoredKey {
        private_sealed: sealer.seal(kid.as_bytes(), &pkcs8),
        kid,
        alg: alg_name.to_owned(),
        public_jwk: jwk,
        publish_at,
        activate_at,
        revoked_at: None,
    }
}

#[cfg(test)]
mod tests;
