//! The settings by group. Each group deserialises from the same flat keys operators write
//! (`#[serde(flatten)]` in the settings); its `Default` is the one place its
//! defaults are written.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use crate::config::secret::Secret;

/// Durations are written in seconds.
fn seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    u64::deserialize(deserializer).map(Duration::from_secs)
}

/// One of the algorithms gatehouse signs with.
fn algorithm<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Algorithm, D::Error> {
    match String::deserialize(deserializer)?.as_str() {
        "EdDSA" => Ok(Algorithm::EdDSA),
        "ES256" => Ok(Algorithm::ES256),
        "HS256" => Ok(Algorithm::HS256),
        other => Err(D::Error::custom(format!(
            "jwt_algorithm is {other:?}: it must be EdDSA, ES256 or HS256"
        ))),
    }
}

/// Access tokens, refresh tokens and the keys that sign them.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct TokenSettings {
    /// `EdDSA` (the default) or `ES256` with the server's own keys, or `HS256` with `jwt_secret`.
    #[serde(deserialize_with = "algorithm")]
    pub jwt_algorithm: Algorithm,
    /// How long verifiers may cache the published key set.
    #[serde(deserialize_with = "seconds")]
    pub jwks_max_age: Duration,
    /// How long a key signs before the next one is made.
    #[serde(deserialize_with = "seconds")]
    pub jwt_key_lifetime: Duration,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    #[serde(deserialize_with = "seconds")]
    pub access_token_ttl: Duration,
    #[serde(deserialize_with = "seconds")]
    pub refresh_token_ttl: Duration,
    /// How long a spent refresh token still gets a pair (parallel tabs) before reuse revokes.
    #[serde(deserialize_with = "seconds")]
    pub refresh_grace_period: Duration,
    /// How often ended sessions are purged.
    #[serde(deserialize_with = "seconds")]
    pub session_purge_interval: Duration,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            jwt_algorithm: Algorithm::EdDSA,
            jwks_max_age: Duration::from_secs(300),
            jwt_key_lifetime: Duration::from_secs(30 * 24 * 60 * 60),
            jwt_issuer: "gatehouse".into(),
            jwt_audience: "gatehouse".into(),
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 60 * 60),
            refresh_grace_period: Duration::from_secs(10),
            session_purge_interval: Duration::from_secs(60 * 60),
        }
    }
}

/// Password hashing and the password rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PasswordSettings {
    pub bcrypt_cost: u32,
    /// Counted in Unicode characters; NIST SP 800-63B-4 never allows fewer than 8.
    pub password_min_length: usize,
    /// Hashing threads; one per core when unset.
    pub password_hash_threads: Option<usize>,
    /// Hashes waiting for a thread before more get `503`.
    pub password_hash_queue: usize,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        Self {
            bcrypt_cost: 12,
            password_min_length: 15,
            password_hash_threads: None,
            password_hash_queue: 256,
        }
    }
}

impl PasswordSettings {
    /// The hashing threads: as configured, or one per core.
    pub fn threads(&self) -> usize {
        self.password_hash_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }
}

/// Throttling limits (docs/api.md §3).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ThrottleSettings {
    /// Failed sign-ins per username within `login_failure_window` before 429.
    pub login_failure_limit: u32,
    #[serde(deserialize_with = "seconds")]
    pub login_failure_window: Duration,
    /// Sign-in attempts per client IP per minute.
    pub login_ip_limit: u32,
    /// Registration attempts per client IP per minute.
    pub register_ip_limit: u32,
    /// Password checks of signed-in users (password change, deletion) per account and per
    /// client address per minute, right or wrong.
    pub password_check_limit: u32,
    /// Recovery requests (forgotten password, reset, address verification) per client address
    /// per minute.
    pub recovery_ip_limit: u32,
    /// Password hashes one client address may have queued or running on this instance at once:
    /// more get `429` at once, so one client cannot fill the hashing queue for everyone. One per
    /// hashing thread when unset.
    pub password_hash_per_client: Option<usize>,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            login_failure_limit: 5,
            login_failure_window: Duration::from_secs(15 * 60),
            login_ip_limit: 20,
            register_ip_limit: 10,
            password_check_limit: 10,
            recovery_ip_limit: 10,
            password_hash_per_client: None,
        }
    }
}

impl ThrottleSettings {
    /// The window of the per-IP limits.
    pub const IP_WINDOW: Duration = Duration::from_secs(60);

    /// The hashes one client may have queued or running (resolved at start: one per thread).
    pub fn hashing_share(&self) -> usize {
        self.password_hash_per_client.unwrap_or(1).max(1)
    }
}

/// Where the site is and what it serves beside the API.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SiteSettings {
    /// `scheme://host[:port]` the site is reached at: the one `Origin` its forms accept, the
    /// passkeys' relying party, and where the links in mail point.
    pub public_origin: String,
    pub cookie_secure: bool,
    /// `Strict-Transport-Security: max-age=…` on every response; 0 sends none.
    pub hsts_max_age: u64,
    /// The name authenticator apps show next to the account (no `:`).
    pub totp_issuer: String,
    /// Whether `GET /metrics` is served.
    pub metrics_enabled: bool,
    /// When set, `/metrics` needs `Authorization: Bearer <it>`; otherwise only loopback gets it.
    pub metrics_token: Option<Secret>,
    /// Where security events go: a file (JSON lines, appended), or standard error when unset.
    pub security_log: Option<String>,
}

impl Default for SiteSettings {
    fn default() -> Self {
        Self {
            // What `scripts/run` serves.
            public_origin: "http://localhost:8000".into(),
            cookie_secure: true,
            // One year (OWASP HTTP Strict Transport Security Cheat Sheet).
            hsts_max_age: 31_536_000,
            totp_issuer: "Gatehouse".into(),
            metrics_enabled: false,
            metrics_token: None,
            security_log: None,
        }
    }
}

/// Mail: where it is handed over, who sends it, and how failed deliveries are retried.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct MailSettings {
    /// `smtp://host:port` or `smtps://user:pass@host`; without it mail waits in the outbox.
    pub smtp_url: Option<Secret>,
    /// The `From` of every mail.
    pub mail_from: String,
    /// The first retry of a failed delivery waits this long; each next one twice as long.
    #[serde(deserialize_with = "seconds")]
    pub mail_retry_initial: Duration,
    /// Whether `GET /dev/mailbox` shows the outbox (to loopback clients).
    pub dev_mailbox: bool,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            mail_from: "Gatehouse <gatehouse@localhost>".into(),
            mail_retry_initial: Duration::from_secs(30),
            dev_mailbox: false,
        }
    }
}
