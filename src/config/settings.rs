//! The checked settings: every group as configured, secrets resolved, and each value that could
//! be wrong refused with a sentence saying what to change.

use rocket::figment::Figment;
use serde::Deserialize;

use crate::config::groups::{
    MailSettings, PasswordSettings, SiteSettings, ThrottleSettings, TokenSettings,
};
use crate::config::secret::Secret;

/// The smallest HMAC secret we accept: 256 bits, the output size of SHA-256 (RFC 7518 3.2 requires
/// a key of at least the hash's size for HS256; jsonwebtoken enforces no minimum itself).
pub const MIN_SECRET_BYTES: usize = 32;

/// NIST SP 800-63B-4 never allows fewer than 8 characters for a password.
pub const MIN_PASSWORD_LENGTH_FLOOR: usize = 8;

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

/// Checked application settings. Built once at ignition and managed by Rocket.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The HS256 key; used for nothing unless `jwt_algorithm` is `HS256`.
    pub jwt_secret: Secret,
    /// The master secret (`secret_key`, at least 256 bits): every other purpose's key is derived
    /// from it with HKDF (the core's key derivation); never used as a key itself.
    pub master_secret: Secret,
    pub tokens: TokenSettings,
    pub passwords: PasswordSettings,
    pub throttle: ThrottleSettings,
    pub site: SiteSettings,
    pub mail: MailSettings,
}

/// The settings as written in the figment: flat keys, read by each group.
#[derive(Debug, Deserialize)]
struct Written {
    jwt_secret: Option<Secret>,
    secret_key: Option<Secret>,
    #[serde(default)]
    allow_generated_secret: bool,
    #[serde(flatten)]
    tokens: TokenSettings,
    #[serde(flatten)]
    passwords: PasswordSettings,
    #[serde(flatten)]
    throttle: ThrottleSettings,
    #[serde(flatten)]
    site: SiteSettings,
    #[serde(flatten)]
    mail: MailSettings,
}

impl Settings {
    /// Extracts and checks the settings. Without a `jwt_secret` or a `secret_key`, a random one
    /// is generated only when `allow_generated_secret` is set (the debug profile), and the caller
    /// is told so it can say it loudly: tokens and CSRF tokens then die with the process.
    pub fn from_figment(figment: &Figment) -> Result<(Self, bool), ConfigError> {
        let Written {
            jwt_secret,
            secret_key,
            allow_generated_secret,
            tokens,
            mut passwords,
            mut throttle,
            mut site,
            mut mail,
        } = figment
            .extract()
            .map_err(|e| ConfigError::Figment(e.to_string()))?;

        let shared = tokens.jwt_algorithm == jsonwebtoken::Algorithm::HS256;
        let (jwt_secret, generated) = match jwt_secret {
            Some(secret) if secret.expose().len() >= MIN_SECRET_BYTES => (secret, false),
            Some(secret) => return Err(ConfigError::ShortSecret(secret.expose().len())),
            // With the server's own keys nothing uses it: an unusable value, no warning.
            None if !shared => (Secret::new(random_secret()), false),
            None if allow_generated_secret => (Secret::new(random_secret()), true),
            None => return Err(ConfigError::MissingSecret),
        };
        let (master_secret, generated) = match secret_key {
            Some(secret) if secret.expose().len() >= MIN_SECRET_BYTES => (secret, generated),
            Some(secret) => return Err(ConfigError::ShortSecretKey(secret.expose().len())),
            None if allow_generated_secret => (Secret::new(random_secret()), true),
            None => return Err(ConfigError::MissingSecretKey),
        };
        if site.totp_issuer.is_empty() || site.totp_issuer.contains(':') {
            return Err(ConfigError::TotpIssuer);
        }
        if !(10..=31).contains(&passwords.bcrypt_cost) {
            return Err(ConfigError::BcryptCost(passwords.bcrypt_cost));
        }
        if !(MIN_PASSWORD_LENGTH_FLOOR..=64).contains(&passwords.password_min_length) {
            return Err(ConfigError::PasswordMinLength(
                passwords.password_min_length,
            ));
        }
        for (name, zero) in [
            ("jwks_max_age", tokens.jwks_max_age.is_zero()),
            ("jwt_key_lifetime", tokens.jwt_key_lifetime.is_zero()),
            ("access_token_ttl", tokens.access_token_ttl.is_zero()),
            ("refresh_token_ttl", tokens.refresh_token_ttl.is_zero()),
            (
                "session_purge_interval",
                tokens.session_purge_interval.is_zero(),
            ),
            ("password_hash_queue", passwords.password_hash_queue == 0),
            (
                "password_hash_threads",
                passwords.password_hash_threads == Some(0),
            ),
            ("mail_retry_initial", mail.mail_retry_initial.is_zero()),
        ] {
            if zero {
                return Err(ConfigError::Zero(name));
            }
        }
        site.metrics_token = site.metrics_token.filter(|t| !t.expose().is_empty());
        if site
            .metrics_token
            .as_ref()
            .is_some_and(|t| t.expose().len() < 16)
        {
            return Err(ConfigError::ShortMetricsToken);
        }
        site.public_origin = check_public_origin(&site.public_origin)
            .ok_or_else(|| ConfigError::PublicOrigin(site.public_origin.clone()))?;
        site.security_log = site.security_log.filter(|p| !p.is_empty());
        mail.smtp_url = mail.smtp_url.filter(|u| !u.expose().is_empty());
        if mail.smtp_url.as_ref().is_some_and(|u| {
            !(u.expose().starts_with("smtp://") || u.expose().starts_with("smtps://"))
        }) {
            return Err(ConfigError::SmtpUrl);
        }
        if mail.mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::MailFrom(mail.mail_from));
        }
        let threads = passwords.threads();
        passwords.password_hash_threads = Some(threads);
        throttle.password_hash_per_client =
            Some(throttle.password_hash_per_client.unwrap_or(threads).max(1));

        let settings = Settings {
            jwt_secret,
            master_secret,
            tokens,
            passwords,
            throttle,
            site,
            mail,
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
        assert_eq!(format!("{:?}", settings.mail.smtp_url), "Some(***)");
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
