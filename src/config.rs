//! Application settings, extracted once from Rocket's figment (`Rocket.toml`, then `ROCKET_*`).
//! (A quarter of this file is its tests: each refusal of a bad setting.)

use std::fmt;
use std::time::Duration;

use rocket::figment::Figment;
use serde::Deserialize;

/// The smallest HMAC secret we accept: 256 bits, the output size of SHA-256 (RFC 7518 3.2 requires
/// a key of at least the hash's size for HS256; jsonwebtoken enforces no minimum itself).
pub const MIN_SECRET_BYTES: usize = 32;

/// NIST SP 800-63B-4 never allows fewer than 8 characters for a password.
pub const MIN_PASSWORD_LENGTH_FLOOR: usize = 8;

/// A secret value: usable by the code, printed as `***`.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The settings as written in the figment, before checks.
#[derive(Debug, Deserialize)]
struct RawSettings {
    #[serde(default = "defaults::jwt_algorithm")]
    jwt_algorithm: String,
    #[serde(default = "defaults::jwks_max_age")]
    jwks_max_age: u64,
    #[serde(default = "defaults::jwt_key_lifetime")]
    jwt_key_lifetime: u64,
    jwt_secret: Option<Secret>,
    #[serde(default)]
    secret_key: Option<Secret>,
    #[serde(default = "defaults::issuer")]
    jwt_issuer: String,
    #[serde(default = "defaults::audience")]
    jwt_audience: String,
    #[serde(default = "defaults::access_token_ttl")]
    access_token_ttl: u64,
    #[serde(default = "defaults::refresh_token_ttl")]
    refresh_token_ttl: u64,
    #[serde(default = "defaults::refresh_grace_period")]
    refresh_grace_period: u64,
    #[serde(default = "defaults::session_purge_interval")]
    session_purge_interval: u64,
    #[serde(default = "defaults::bcrypt_cost")]
    bcrypt_cost: u32,
    #[serde(default = "defaults::password_min_length")]
    password_min_length: usize,
    #[serde(default)]
    password_hash_threads: Option<usize>,
    #[serde(default = "defaults::password_hash_queue")]
    password_hash_queue: usize,
    #[serde(default = "defaults::cookie_secure")]
    cookie_secure: bool,
    #[serde(default = "defaults::login_failure_limit")]
    login_failure_limit: u32,
    #[serde(default = "defaults::login_failure_window")]
    login_failure_window: u64,
    #[serde(default = "defaults::login_ip_limit")]
    login_ip_limit: u32,
    #[serde(default = "defaults::register_ip_limit")]
    register_ip_limit: u32,
    #[serde(default = "defaults::password_check_limit")]
    password_check_limit: u32,
    #[serde(default)]
    password_hash_per_client: Option<usize>,
    #[serde(default)]
    security_log: Option<String>,
    #[serde(default = "defaults::hsts_max_age")]
    hsts_max_age: u64,
    #[serde(default = "defaults::totp_issuer")]
    totp_issuer: String,
    #[serde(default)]
    metrics_enabled: bool,
    #[serde(default)]
    metrics_token: Option<Secret>,
    #[serde(default)]
    allow_generated_secret: bool,
    #[serde(default = "defaults::public_origin")]
    public_origin: String,
    #[serde(default)]
    smtp_url: Option<Secret>,
    #[serde(default = "defaults::mail_from")]
    mail_from: String,
    #[serde(default = "defaults::mail_retry_initial")]
    mail_retry_initial: u64,
    #[serde(default = "defaults::recovery_ip_limit")]
    recovery_ip_limit: u32,
    #[serde(default)]
    dev_mailbox: bool,
}

mod defaults {
    pub fn issuer() -> String {
        "gatehouse".into()
    }
    pub fn audience() -> String {
        "gatehouse".into()
    }
    pub fn access_token_ttl() -> u64 {
        15 * 60
    }
    pub fn refresh_token_ttl() -> u64 {
        30 * 24 * 60 * 60
    }
    pub fn refresh_grace_period() -> u64 {
        10
    }
    pub fn session_purge_interval() -> u64 {
        60 * 60
    }
    pub fn bcrypt_cost() -> u32 {
        12
    }
    pub fn password_min_length() -> usize {
        15
    }
    pub fn password_hash_queue() -> usize {
        256
    }
    pub fn cookie_secure() -> bool {
        true
    }
    pub fn login_failure_limit() -> u32 {
        5
    }
    pub fn login_failure_window() -> u64 {
        15 * 60
    }
    pub fn login_ip_limit() -> u32 {
        20
    }
    pub fn register_ip_limit() -> u32 {
        10
    }
    pub fn password_check_limit() -> u32 {
        10
    }
    pub fn jwt_algorithm() -> String {
        "EdDSA".into()
    }
    pub fn jwks_max_age() -> u64 {
        300
    }
    /// 30 days.
    pub fn jwt_key_lifetime() -> u64 {
        2_592_000
    }
    pub fn totp_issuer() -> String {
        "Gatehouse".into()
    }
    /// What `scripts/run` serves.
    pub fn public_origin() -> String {
        "http://localhost:8000".into()
    }
    pub fn mail_from() -> String {
        "Gatehouse <gatehouse@localhost>".into()
    }
    pub fn mail_retry_initial() -> u64 {
        30
    }
    pub fn recovery_ip_limit() -> u32 {
        10
    }
    /// One year (OWASP HTTP Strict Transport Security Cheat Sheet).
    pub fn hsts_max_age() -> u64 {
        31_536_000
    }
}

/// Checked application settings. Built once at ignition and managed by Rocket.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `EdDSA` (the default) or `ES256` with the server's own keys, or `HS256` with `jwt_secret`.
    pub jwt_algorithm: jsonwebtoken::Algorithm,
    /// How long verifiers may cache the published key set.
    pub jwks_max_age: Duration,
    /// How long a key signs before the next one is made.
    pub jwt_key_lifetime: Duration,
    /// The HS256 key; used for nothing unless `jwt_algorithm` is `HS256`.
    pub jwt_secret: Secret,
    /// The master secret (`secret_key`, at least 256 bits): every other purpose's key is derived
    /// from it with HKDF (the core's key derivation); never used as a key itself.
    pub master_secret: Secret,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// How long a spent refresh token still gets a pair (parallel tabs) before reuse revokes.
    pub refresh_grace_period: Duration,
    /// How often ended sessions are purged.
    pub session_purge_interval: Duration,
    pub bcrypt_cost: u32,
    pub password_min_length: usize,
    pub password_hash_threads: usize,
    pub password_hash_queue: usize,
    pub cookie_secure: bool,
    pub throttle: ThrottleSettings,
    /// Where security events go: a file (JSON lines, appended), or standard error when unset.
    pub security_log: Option<String>,
    /// `Strict-Transport-Security: max-age=…` on every response; 0 sends none.
    pub hsts_max_age: u64,
    /// The name authenticator apps show next to the account (no `:`).
    pub totp_issuer: String,
    /// Whether `GET /metrics` is served.
    pub metrics_enabled: bool,
    /// When set, `/metrics` needs `Authorization: Bearer <it>`; otherwise only loopback gets it.
    pub metrics_token: Option<Secret>,
    /// `scheme://host[:port]` the site is reached at: the links in mail point here.
    pub public_origin: String,
    /// Where mail is handed over (`smtp://host:port`, `smtps://user:pass@host`); without it mail
    /// waits in the outbox.
    pub smtp_url: Option<Secret>,
    /// The `From` of every mail.
    pub mail_from: String,
    /// The first retry of a failed delivery waits this long; each next one twice as long.
    pub mail_retry_initial: Duration,
    /// Whether `GET /dev/mailbox` shows the outbox (to loopback clients).
    pub dev_mailbox: bool,
}

/// Throttling limits (CONTRACT.md section 3).
#[derive(Debug, Clone)]
pub struct ThrottleSettings {
    /// Failed sign-ins per username within `login_failure_window` before 429.
    pub login_failure_limit: u32,
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
    /// more get `429` at once, so one client cannot fill the hashing queue for everyone.
    pub password_hash_per_client: usize,
}

impl ThrottleSettings {
    /// The window of the per-IP limits.
    pub const IP_WINDOW: Duration = Duration::from_secs(60);
}

/// Why the configuration cannot be used; each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration is invalid: {0}")]
    Figment(String),
    #[error(
        "jwt_secret is not set: set ROCKET_JWT_SECRET (or jwt_secret in Rocket.toml) to at least \
         {MIN_SECRET_BYTES} random bytes, e.g. `openssl rand -base64 48`"
    )]
    MissingSecret,
    #[error("jwt_secret is {0} bytes long: it must be at least {MIN_SECRET_BYTES} bytes")]
    ShortSecret(usize),
    #[error(
        "secret_key is not set: set ROCKET_SECRET_KEY (or secret_key in Rocket.toml) to at least \
         {MIN_SECRET_BYTES} random bytes, e.g. `openssl rand -base64 32`"
    )]
    MissingSecretKey,
    #[error("secret_key is {0} bytes long: it must be at least {MIN_SECRET_BYTES} bytes")]
    ShortSecretKey(usize),
    #[error("bcrypt_cost is {0}: it must be between 10 and 31")]
    BcryptCost(u32),
    #[error(
        "password_min_length is {0}: it must be between {MIN_PASSWORD_LENGTH_FLOOR} and 64 \
         (NIST SP 800-63B-4)"
    )]
    PasswordMinLength(usize),
    #[error("jwt_algorithm is {0:?}: it must be EdDSA, ES256 or HS256")]
    JwtAlgorithm(String),
    #[error("totp_issuer must be a name without ':' (authenticator apps show it)")]
    TotpIssuer,
    #[error("metrics_token must be at least 16 characters")]
    ShortMetricsToken,
    #[error(
        "public_origin is {0:?}: it must be http:// or https:// and a host, with an optional \
         port and nothing else, e.g. https://auth.example.com"
    )]
    PublicOrigin(String),
    #[error("smtp_url must start with smtp:// or smtps://")]
    SmtpUrl,
    #[error("mail_from is {0:?}: it must be an address, e.g. \"Gatehouse <auth@example.com>\"")]
    MailFrom(String),
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
}

/// 48 bytes from the operating system's CSPRNG, base64url-encoded: a secret for one run.
fn random_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 48];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random number generator failed");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Settings {
    /// Extracts and checks the settings. Without a `jwt_secret` or a `secret_key`, a random one
    /// is generated only when `allow_generated_secret` is set (the debug profile), and the caller
    /// is told so it can say it loudly: tokens and CSRF tokens then die with the process.
    pub fn from_figment(figment: &Figment) -> Result<(Self, bool), ConfigError> {
        let raw: RawSettings = figment
            .extract()
            .map_err(|e| ConfigError::Figment(e.to_string()))?;

        let jwt_algorithm = match raw.jwt_algorithm.as_str() {
            "EdDSA" => jsonwebtoken::Algorithm::EdDSA,
            "ES256" => jsonwebtoken::Algorithm::ES256,
            "HS256" => jsonwebtoken::Algorithm::HS256,
            other => return Err(ConfigError::JwtAlgorithm(other.to_owned())),
        };
        let shared = jwt_algorithm == jsonwebtoken::Algorithm::HS256;
        let (jwt_secret, generated) = match raw.jwt_secret {
            Some(secret) if secret.expose().len() >= MIN_SECRET_BYTES => (secret, false),
            Some(secret) => return Err(ConfigError::ShortSecret(secret.expose().len())),
            // With the server's own keys nothing uses it: an unusable value, no warning.
            None if !shared => (Secret::new(random_secret()), false),
            None if raw.allow_generated_secret => (Secret::new(random_secret()), true),
            None => return Err(ConfigError::MissingSecret),
        };
        let (master_secret, generated) = match raw.secret_key {
            Some(secret) if secret.expose().len() >= MIN_SECRET_BYTES => (secret, generated),
            Some(secret) => return Err(ConfigError::ShortSecretKey(secret.expose().len())),
            None if raw.allow_generated_secret => (Secret::new(random_secret()), true),
            None => return Err(ConfigError::MissingSecretKey),
        };
        if raw.totp_issuer.is_empty() || raw.totp_issuer.contains(':') {
            return Err(ConfigError::TotpIssuer);
        }
        if !(10..=31).contains(&raw.bcrypt_cost) {
            return Err(ConfigError::BcryptCost(raw.bcrypt_cost));
        }
        if !(MIN_PASSWORD_LENGTH_FLOOR..=64).contains(&raw.password_min_length) {
            return Err(ConfigError::PasswordMinLength(raw.password_min_length));
        }
        for (name, value) in [
            ("jwks_max_age", raw.jwks_max_age as usize),
            ("jwt_key_lifetime", raw.jwt_key_lifetime as usize),
            ("access_token_ttl", raw.access_token_ttl as usize),
            ("refresh_token_ttl", raw.refresh_token_ttl as usize),
            ("password_hash_queue", raw.password_hash_queue),
            ("mail_retry_initial", raw.mail_retry_initial as usize),
            (
                "session_purge_interval",
                raw.session_purge_interval as usize,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        if raw
            .metrics_token
            .as_ref()
            .is_some_and(|t| !t.expose().is_empty() && t.expose().len() < 16)
        {
            return Err(ConfigError::ShortMetricsToken);
        }
        let public_origin = check_public_origin(&raw.public_origin)
            .ok_or_else(|| ConfigError::PublicOrigin(raw.public_origin.clone()))?;
        let smtp_url = raw.smtp_url.filter(|u| !u.expose().is_empty());
        if smtp_url.as_ref().is_some_and(|u| {
            !(u.expose().starts_with("smtp://") || u.expose().starts_with("smtps://"))
        }) {
            return Err(ConfigError::SmtpUrl);
        }
        if raw.mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::MailFrom(raw.mail_from));
        }
        let threads = match raw.password_hash_threads {
            Some(0) => return Err(ConfigError::Zero("password_hash_threads")),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };

        let settings = Settings {
            jwt_algorithm,
            jwks_max_age: Duration::from_secs(raw.jwks_max_age),
            jwt_key_lifetime: Duration::from_secs(raw.jwt_key_lifetime),
            jwt_secret,
            master_secret,
            jwt_issuer: raw.jwt_issuer,
            jwt_audience: raw.jwt_audience,
            access_token_ttl: Duration::from_secs(raw.access_token_ttl),
            refresh_token_ttl: Duration::from_secs(raw.refresh_token_ttl),
            refresh_grace_period: Duration::from_secs(raw.refresh_grace_period),
            session_purge_interval: Duration::from_secs(raw.session_purge_interval),
            bcrypt_cost: raw.bcrypt_cost,
            password_min_length: raw.password_min_length,
            password_hash_threads: threads,
            password_hash_queue: raw.password_hash_queue,
            cookie_secure: raw.cookie_secure,
            throttle: ThrottleSettings {
                login_failure_limit: raw.login_failure_limit,
                login_failure_window: Duration::from_secs(raw.login_failure_window),
                login_ip_limit: raw.login_ip_limit,
                register_ip_limit: raw.register_ip_limit,
                password_check_limit: raw.password_check_limit,
                recovery_ip_limit: raw.recovery_ip_limit,
                password_hash_per_client: raw.password_hash_per_client.unwrap_or(threads).max(1),
            },
            security_log: raw.security_log.filter(|p| !p.is_empty()),
            hsts_max_age: raw.hsts_max_age,
            totp_issuer: raw.totp_issuer,
            metrics_enabled: raw.metrics_enabled,
            metrics_token: raw.metrics_token.filter(|t| !t.expose().is_empty()),
            public_origin,
            smtp_url,
            mail_from: raw.mail_from,
            mail_retry_initial: Duration::from_secs(raw.mail_retry_initial),
            dev_mailbox: raw.dev_mailbox,
        };
        Ok((settings, generated))
    }
}

/// `scheme://host[:port]` with nothing after it, a trailing `/` dropped; `None` otherwise.
fn check_public_origin(raw: &str) -> Option<String> {
    let trimmed = raw.strip_suffix('/').unwrap_or(raw);
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))?;
    let (host_ok, port) = match rest.strip_prefix('[') {
        Some(bracketed) => {
            let (v6, tail) = bracketed.split_once(']')?;
            let port = match tail {
                "" => None,
                tail => Some(tail.strip_prefix(':')?),
            };
            (v6.parse::<std::net::Ipv6Addr>().is_ok(), port)
        }
        None => {
            let (host, port) = match rest.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            };
            let ok = !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
            (ok, port)
        }
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    (host_ok && port_ok).then(|| trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::figment::providers::Serialized;

    const MASTER: &str = "test-master-secret-0123456789abcdefghij";

    /// A figment with a `secret_key`, so each test is about what it names.
    fn figment(pairs: &[(&str, serde_json::Value)]) -> Figment {
        let base = Figment::new().merge(Serialized::default("secret_key", MASTER));
        pairs
            .iter()
            .fold(base, |f, (k, v)| f.merge(Serialized::default(k, v.clone())))
    }

    #[test]
    fn the_release_settings_refuse_to_start_without_a_long_secret_key() {
        let jwt = ("jwt_secret", serde_json::Value::from("x".repeat(32)));
        let missing = Figment::new().merge(Serialized::default(jwt.0, jwt.1.clone()));
        assert!(matches!(
            Settings::from_figment(&missing).unwrap_err(),
            ConfigError::MissingSecretKey
        ));
        let short = missing
            .clone()
            .merge(Serialized::default("secret_key", "y".repeat(31)));
        assert!(matches!(
            Settings::from_figment(&short).unwrap_err(),
            ConfigError::ShortSecretKey(31)
        ));
        let (settings, generated) = Settings::from_figment(&figment(&[jwt])).unwrap();
        assert!(!generated);
        assert_eq!(settings.master_secret.expose(), MASTER);
        assert_ne!(
            settings.master_secret.expose(),
            settings.jwt_secret.expose()
        );
    }

    #[test]
    fn with_hs256_a_missing_secret_is_refused_unless_generation_is_allowed() {
        let hs256 = ("jwt_algorithm", serde_json::Value::from("HS256"));
        let err = Settings::from_figment(&figment(std::slice::from_ref(&hs256))).unwrap_err();
        assert!(matches!(err, ConfigError::MissingSecret));
        assert!(
            Settings::from_figment(&figment(&[])).is_ok(),
            "EdDSA needs no jwt_secret"
        );

        let (settings, generated) =
            Settings::from_figment(&figment(&[hs256, ("allow_generated_secret", true.into())]))
                .unwrap();
        assert!(generated);
        assert!(settings.jwt_secret.expose().len() >= MIN_SECRET_BYTES);
    }

    #[test]
    fn a_secret_shorter_than_32_bytes_is_refused() {
        let err =
            Settings::from_figment(&figment(&[("jwt_secret", "x".repeat(31).into())])).unwrap_err();
        assert!(matches!(err, ConfigError::ShortSecret(31)));
        assert!(Settings::from_figment(&figment(&[("jwt_secret", "x".repeat(32).into())])).is_ok());
    }

    #[test]
    fn public_origin_is_a_scheme_a_host_and_a_port_only() {
        for (ok, kept) in [
            ("http://localhost:8000", "http://localhost:8000"),
            ("https://auth.example.com/", "https://auth.example.com"),
            ("http://[::1]:8000", "http://[::1]:8000"),
        ] {
            assert_eq!(check_public_origin(ok).as_deref(), Some(kept));
        }
        for bad in [
            "localhost:8000",
            "ftp://example.com",
            "https://example.com/path",
            "https://example.com?x=1",
            "https://user@example.com",
            "https://example.com:0",
            "https://example.com:99999",
            "https://",
            "http://[::1",
        ] {
            assert_eq!(check_public_origin(bad), None, "{bad}");
        }
        let err = Settings::from_figment(&figment(&[(
            "public_origin",
            serde_json::Value::from("example.com"),
        )]))
        .unwrap_err();
        assert!(matches!(err, ConfigError::PublicOrigin(_)));
    }

    #[test]
    fn mail_settings_are_checked() {
        let smtp = (
            "smtp_url",
            serde_json::Value::from("http://mail.example.com"),
        );
        assert!(matches!(
            Settings::from_figment(&figment(&[smtp])).unwrap_err(),
            ConfigError::SmtpUrl
        ));
        let from = ("mail_from", serde_json::Value::from("not an address"));
        assert!(matches!(
            Settings::from_figment(&figment(&[from])).unwrap_err(),
            ConfigError::MailFrom(_)
        ));
        let smtp = (
            "smtp_url",
            serde_json::Value::from("smtps://u:p@mail.example.com"),
        );
        let settings = Settings::from_figment(&figment(&[smtp])).unwrap().0;
        assert_eq!(format!("{:?}", settings.smtp_url), "Some(***)");
    }

    #[test]
    fn the_secret_is_redacted_in_debug_output() {
        let (settings, _) =
            Settings::from_figment(&figment(&[("jwt_secret", "s3cr3t".repeat(8).into())])).unwrap();
        let printed = format!("{settings:?}");
        assert!(!printed.contains("s3cr3t"), "{printed}");
        assert!(printed.contains("***"));
    }

    #[test]
    fn a_password_minimum_below_eight_is_refused() {
        let err = Settings::from_figment(&figment(&[
            ("jwt_secret", "x".repeat(32).into()),
            ("password_min_length", 7.into()),
        ]))
        .unwrap_err();
        assert!(matches!(err, ConfigError::PasswordMinLength(7)));
    }
}
