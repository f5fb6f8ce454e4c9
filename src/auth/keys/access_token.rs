//! Access tokens: JWTs of type `at+jwt` (RFC 9068), issued and verified with keys and a
//! `Validation` built once at start-up: HS256 with the shared secret, or a ring of the server's
//! own keys (EdDSA/ES256) that `signing.rs` keeps current. (A third of this file is its tests:
//! the remembered-token path is checked against jsonwebtoken's own answers, edge by edge.)

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::config::Settings;

/// The `typ` header of our access tokens (RFC 9068 2.1). Checking it keeps other JWTs signed with
/// the same key (e.g. by a future feature) from being accepted as access tokens (RFC 8725 3.11).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Tokens longer than this are refused before any decoding: ours are about 400 bytes.
pub const MAX_TOKEN_LEN: usize = 4096;

/// Clock skew tolerated on `exp` and `nbf` (RFC 7519 4.1.4 allows "a small leeway").
const LEEWAY_SECONDS: u64 = 30;

/// How many verified tokens are remembered: a bound on the memory the cache takes.
const VERIFIED_CAPACITY: usize = 10_000;

/// The claims of an access token. All are required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: Uuid,
    /// The session's id: revoking the session ends the token.
    pub sid: Uuid,
    pub jti: Uuid,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    /// The username (immutable), so a request can be served without looking the user up
    /// (OpenID Connect's claim name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// How the user proved who they are (RFC 8176: `pwd`, `otp`, `mfa` …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

/// Why a token was refused. Only the split between "expired" and everything else is told to the
/// client (docs/api.md §2: `token_expired` / `invalid_token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is invalid: {0}")]
    Invalid(&'static str),
}

/// The signing and verifying keys and the rules, built once.
pub struct TokenKeys {
    keys: Keys,
    issuer: String,
    audience: String,
    ttl: Duration,
    verified: VerifiedTokens,
}

/// HS256 with the shared `jwt_secret` (the seed's scheme), or the server's own key pairs.
enum Keys {
    Shared(Box<Shared>),
    /// Replaced whole when the keys change (rotation, revocation).
    Ring(RwLock<Arc<Ring>>),
}

/// The HS256 key and its rules.
struct Shared {
    encoding: EncodingKey,
    decoding: DecodingKey,
    header: Header,
    validation: Validation,
}

/// The server's keys as one instance uses them: the one that signs, and the ones it accepts.
#[derive(Default)]
pub struct Ring {
    signing: Option<SigningKey>,
    verifying: HashMap<String, VerifyingKey>,
}

struct SigningKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
}

struct VerifyingKey {
    alg: Algorithm,
    decoding: DecodingKey,
    validation: Validation,
}

impl Ring {
    /// A ring signing with `signing` (kid, alg, PKCS#8 DER) and accepting `verifying`
    /// (kid, alg, the JWK's public components).
    pub fn new(
        signing: Option<(String, Algorithm, Vec<u8>)>,
        verifying: Vec<(String, Algorithm, DecodingKey)>,
        settings: &Settings,
    ) -> Self {
        Self {
            signing: signing.map(|(kid, alg, pkcs8)| SigningKey {
                kid,
                alg,
                encoding: match alg {
                    Algorithm::ES256 => EncodingKey::from_ec_der(&pkcs8),
                    _ => EncodingKey::from_ed_der(&pkcs8),
                },
            }),
            verifying: verifying
                .into_iter()
                .map(|(kid, alg, decoding)| {
                    let validation = validation(
                        alg,
                        &settings.tokens.jwt_issuer,
                        &settings.tokens.jwt_audience,
                    );
                    (
                        kid,
                        VerifyingKey {
                            alg,
                            decoding,
                            validation,
                        },
                    )
                })
                .collect(),
        }
    }
}

/// NOTE: one algorithm per key (RFC 8725 2.1, 3.1): a token whose header names any other, `none`
/// included, is refused before its signature is looked at. Header fields such as `jwk`, `jku`
/// or `x5u` never select a key; `kid` chooses among our own keys only.
fn validation(alg: Algorithm, issuer: &str, audience: &str) -> Validation {
    let mut validation = Validation::new(alg);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = true;
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation
}

/// No key can sign right now (all revoked, none made yet): a sign-in answers 503.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("no signing key is current")]
pub struct NoSigningKey;

impl TokenKeys {
    /// HS256 with `jwt_secret`.
    pub fn new(settings: &Settings) -> Self {
        let secret = settings.jwt_secret.expose().as_bytes();
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        Self::with(
            settings,
            Keys::Shared(Box::new(Shared {
                encoding: EncodingKey::from_secret(secret),
                decoding: DecodingKey::from_secret(secret),
                header,
                validation: validation(
                    Algorithm::HS256,
                    &settings.tokens.jwt_issuer,
                    &settings.tokens.jwt_audience,
                ),
            })),
        )
    }

    /// The server's own keys (EdDSA or ES256); empty until [`TokenKeys::install`].
    pub fn with_ring(settings: &Settings) -> Self {
        Self::with(settings, Keys::Ring(RwLock::new(Arc::new(Ring::default()))))
    }

    fn with(settings: &Settings, keys: Keys) -> Self {
        Self {
            keys,
            issuer: settings.tokens.jwt_issuer.clone(),
            audience: settings.tokens.jwt_audience.clone(),
            ttl: settings.tokens.access_token_ttl,
            verified: VerifiedTokens::default(),
        }
    }

    /// Puts a new set of keys in place. Tokens remembered as verified are forgotten when a key
    /// they may have been signed with is gone (revoked or expired), so they are checked afresh.
    pub fn install(&self, ring: Ring) {
        let Keys::Ring(current) = &self.keys else {
            return;
        };
        let Ok(mut current) = current.write() else {
            return;
        };
        let lost = current
            .verifying
            .keys()
            .any(|kid| !ring.verifying.contains_key(kid));
        *current = Arc::new(ring);
        if lost {
            self.verified.clear();
        }
    }

    /// How long an access token lives.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues an access token for a session signed in with a password alone, valid from now for
    /// [`TokenKeys::ttl`]. For tests and benches on HS256, where signing cannot fail.
    pub fn issue(&self, user_id: Uuid, session_id: Uuid, username: &str) -> String {
        self.issue_with(user_id, session_id, username, &["pwd".to_owned()])
            .expect("a shared secret always signs")
    }

    /// Issues an access token for a session, saying how its user proved who they are.
    pub fn issue_with(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        username: &str,
        amr: &[String],
    ) -> Result<String, NoSigningKey> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims {
            sub: user_id,
            sid: session_id,
            jti: Uuid::new_v4(),
            iat: now,
            nbf: now,
            exp: now + self.ttl.as_secs() as i64,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            preferred_username: Some(username.to_owned()),
            amr: amr.to_vec(),
        };
        self.try_sign(&claims)
    }

    /// Signs arbitrary claims with our header; tests and benches use it to build edge cases.
    pub fn sign(&self, claims: &Claims) -> String {
        self.try_sign(claims).expect("a signing key is current")
    }

    fn try_sign(&self, claims: &Claims) -> Result<String, NoSigningKey> {
        match &self.keys {
            Keys::Shared(shared) => {
                Ok(
                    jsonwebtoken::encode(&shared.header, claims, &shared.encoding)
                        .expect("HS256 signing with a valid key cannot fail"),
                )
            }
            Keys::Ring(ring) => {
                let ring = ring.read().map_err(|_| NoSigningKey)?.clone();
                let key = ring.signing.as_ref().ok_or(NoSigningKey)?;
                let mut header = Header::new(key.alg);
                header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
                header.kid = Some(key.kid.clone());
                jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|e| {
                    log::error!("signing with key {} failed: {e}", key.kid);
                    NoSigningKey
                })
            }
        }
    }

    /// Verifies a token: its signature, algorithm, type and claims, as [`TokenKeys::verify_uncached`]
    /// does, once per distinct token. A client presents the same token on every request for up to
    /// [`TokenKeys::ttl`], so the verified claims are remembered by the token's exact text, and a
    /// repeat costs a lookup and an expiry check instead of an HMAC and two JSON parses (the same
    /// design as Envoy's `jwt_cache_config`). Only tokens that passed every check are remembered,
    /// so a forged or altered token (different text) is never a hit; expiry is checked again on
    /// every use, with the same leeway.
    pub fn verify(&self, token: &str) -> Result<Arc<Claims>, TokenError> {
        self.verify_at(token, jsonwebtoken::get_current_timestamp() as i64)
    }

    fn verify_at(&self, token: &str, now: i64) -> Result<Arc<Claims>, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Invalid("too long"));
        }
        let claims = match self.verified.get(token) {
            Some(claims) => claims,
            None => {
                let claims = Arc::new(self.verify_uncached(token)?);
                self.verified.insert(token, Arc::clone(&claims), now);
                claims
            }
        };
        // jsonwebtoken's own rule: expired when `exp < now - leeway`.
        if claims.exp < now - LEEWAY_SECONDS as i64 {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// Verifies a token with jsonwebtoken, every check every time.
    pub fn verify_uncached(&self, token: &str) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Invalid("too long"));
        }
        if names_critical_extensions(token) {
            return Err(TokenError::Invalid("crit header"));
        }
        let data = match &self.keys {
            Keys::Shared(shared) => {
                jsonwebtoken::decode::<Claims>(token, &shared.decoding, &shared.validation)
            }
            Keys::Ring(ring) => {
                let ring = ring
                    .read()
                    .map_err(|_| TokenError::Invalid("keys unavailable"))?
                    .clone();
                let header = jsonwebtoken::decode_header(token)
                    .map_err(|_| TokenError::Invalid("malformed"))?;
                // The kid chooses among our own keys only, and the key fixes the algorithm: a
                // header naming another (HS256 "signed" with the public key, `none`) is refused.
                let kid = header.kid.as_deref().ok_or(TokenError::Invalid("no kid"))?;
                let key = ring
                    .verifying
                    .get(kid)
                    .ok_or(TokenError::Invalid("unknown kid"))?;
                if header.alg != key.alg {
                    return Err(TokenError::Invalid("wrong algorithm"));
                }
                jsonwebtoken::decode::<Claims>(token, &key.decoding, &key.validation)
            }
        }
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::InvalidSignature => TokenError::Invalid("bad signature"),
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                TokenError::Invalid("wrong algorithm")
            }
            ErrorKind::ImmatureSignature => TokenError::Invalid("not yet valid"),
            ErrorKind::InvalidIssuer => TokenError::Invalid("wrong issuer"),
            ErrorKind::InvalidAudience => TokenError::Invalid("wrong audience"),
            ErrorKind::MissingRequiredClaim(_) => TokenError::Invalid("missing claim"),
            _ => TokenError::Invalid("malformed"),
        })?;
        let typ_ok = data.header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(TokenError::Invalid("wrong type"));
        }
        Ok(data.claims)
    }
}

/// Whether the token's header carries `crit`. We understand no JWS extension, so a token that
/// names one must be refused (RFC 7515 4.1.11); jsonwebtoken's `Header` drops the field, so the
/// header is read here. A header that does not decode is left to jsonwebtoken to refuse.
fn names_critical_extensions(token: &str) -> bool {
    use base64::Engine;
    let Some(header) = token.split('.').next() else {
        return false;
    };
    let Ok(json) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header) else {
        return false;
    };
    serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&json)
        .is_ok_and(|fields| fields.contains_key("crit"))
}

/// Tokens that passed verification, by their exact text; bounded by [`VERIFIED_CAPACITY`].
#[derive(Default)]
struct VerifiedTokens(RwLock<HashMap<Box<str>, Arc<Claims>>>);

impl VerifiedTokens {
    fn clear(&self) {
        if let Ok(mut map) = self.0.write() {
            map.clear();
        }
    }

    fn get(&self, token: &str) -> Option<Arc<Claims>> {
        self.0.read().ok()?.get(token).cloned()
    }

    /// When full, expired tokens are dropped first, and everything if that frees nothing: the
    /// next requests verify again, which is only slower.
    fn insert(&self, token: &str, claims: Arc<Claims>, now: i64) {
        let Ok(mut map) = self.0.write() else {
            return;
        };
        if map.len() >= VERIFIED_CAPACITY {
            map.retain(|_, c| c.exp >= now - LEEWAY_SECONDS as i64);
            if map.len() >= VERIFIED_CAPACITY {
                map.clear();
            }
        }
        map.insert(token.into(), claims);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.read().map_or(0, |m| m.len())
    }
}

#[cfg(test)]
mod tests;
