//! Second factors (docs/api.md §4): the authenticator app (RFC 6238 TOTP through
//! `totp-rs`) and recovery codes. Secrets are sealed at rest (AES-256-GCM, the user's id as
//! associated data, so a sealed secret moved to another row does not open); recovery codes are
//! stored as HMACs; each TOTP step is accepted once per account.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sqlx::PgPool;
use totp_rs::Totp;
use uuid::Uuid;

use crate::auth::error::AuthError;
use crate::auth::keys::master::Sealer;
use crate::db;

/// 160 random bits (RFC 4226 4, R6 recommends 160).
const SECRET_BYTES: usize = 20;
/// Ten codes, shown once.
const RECOVERY_CODES: usize = 10;
/// 16 characters of base32: 80 random bits each.
const RECOVERY_CODE_CHARS: usize = 16;
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// How a code proved the second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Totp,
    RecoveryCode,
}

impl Method {
    /// The session's `amr` (RFC 8176): a password and this.
    pub fn amr(self) -> &'static [&'static str] {
        match self {
            Self::Totp => &["pwd", "otp", "mfa"],
            Self::RecoveryCode => &["pwd", "mfa"],
        }
    }
}

/// A pending enrolment: what the user's app needs.
#[derive(Debug)]
pub struct Enrolment {
    /// Base32, for typing in.
    pub secret: String,
    pub otpauth_uri: String,
}

/// What `GET /me` and the dashboard say about an account's factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactorStatus {
    pub totp: bool,
    pub passkeys: i64,
    pub recovery_codes_left: i64,
}

pub struct SecondFactors {
    pool: PgPool,
    sealing: Sealer,
    recovery: hmac::Key,
    issuer: String,
}

/// What the second-factor service works with.
pub struct SecondFactorsParts {
    pub pool: PgPool,
    pub sealing: Sealer,
    pub recovery: hmac::Key,
    pub issuer: String,
}

impl SecondFactors {
    pub fn new(parts: SecondFactorsParts) -> Self {
        Self {
            pool: parts.pool,
            sealing: parts.sealing,
            recovery: parts.recovery,
            issuer: parts.issuer,
        }
    }

    /// Whether a correct password alone may no longer open a session: an app is on, or the
    /// account has a passkey (docs/api.md §4).
    pub async fn has_second_factor(&self, user_id: Uuid) -> Result<bool, AuthError> {
        Ok(self.has_totp(user_id).await? || db::passkeys::count(&self.pool, user_id).await? > 0)
    }

    /// Whether the authenticator app is on.
    pub async fn has_totp(&self, user_id: Uuid) -> Result<bool, AuthError> {
        Ok(db::mfa::find_totp(&self.pool, user_id)
            .await?
            .is_some_and(|f| f.confirmed))
    }

    pub async fn status(&self, user_id: Uuid) -> Result<FactorStatus, AuthError> {
        Ok(FactorStatus {
            totp: self.has_totp(user_id).await?,
            passkeys: db::passkeys::count(&self.pool, user_id).await?,
            recovery_codes_left: db::mfa::recovery_codes_left(&self.pool, user_id).await?,
        })
    }

    fn totp(&self, secret: Vec<u8>, username: &str) -> Result<Totp, AuthError> {
        totp_rs::Builder::new()
            .with_secret(secret)
            .with_issuer(Some(self.issuer.as_str()))
            .with_account_name(username)
            .build()
            .map_err(|e| AuthError::Internal(format!("TOTP: {e}").into()))
    }

    /// A new pending secret, replacing a pending one; refused while an app is on.
    pub async fn begin_totp(&self, user_id: Uuid, username: &str) -> Result<Enrolment, AuthError> {
        let mut secret = vec![0u8; SECRET_BYTES];
        aws_lc_rs::rand::fill(&mut secret).expect("the system random number generator failed");
        let totp = self.totp(secret.clone(), username)?;
        let sealed = self.seal(user_id, &secret)?;
        if !db::mfa::put_pending_totp(&self.pool, user_id, &sealed).await? {
            return Err(AuthError::invalid_field(
                "totp",
                "is on already: turn it off first",
            ));
        }
        Ok(Enrolment {
            secret: totp.secret().to_base32(),
            otpauth_uri: totp
                .to_url()
                .map_err(|e| AuthError::Internal(format!("TOTP: {e}").into()))?,
        })
    }

    /// Accepts a current code once: the step it belongs to (or a later one) can never be used
    /// again for this account. `confirming` checks a pending app, otherwise the active one.
    async fn accept_totp(
        &self,
        executor: impl sqlx::PgExecutor<'_>,
        user_id: Uuid,
        code: &str,
        confirming: bool,
    ) -> Result<bool, AuthError> {
        let Some(factor) = db::mfa::find_totp(&self.pool, user_id).await? else {
            return Ok(false);
        };
        if factor.confirmed == confirming {
            return Ok(false);
        }
        let secret = self.open(user_id, &factor.secret_sealed)?;
        let totp = self.totp(secret, "account")?;
        let now = jsonwebtoken::get_current_timestamp();
        let Some(step) = totp.check(code, now) else {
            return Ok(false);
        };
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        Ok(db::mfa::accept_totp_step(executor, user_id, step, confirming).await?)
    }

    /// Confirms the pending app with a current code, and makes the recovery codes, in the
    /// caller's transaction; a wrong code is `422` on `code`.
    pub async fn confirm_totp(
        &self,
        conn: &mut sqlx::PgConnection,
        user_id: Uuid,
        code: &str,
    ) -> Result<Vec<String>, AuthError> {
        if !is_totp_code(code) || !self.accept_totp(&mut *conn, user_id, code, true).await? {
            return Err(AuthError::invalid_field("code", "is not the current code"));
        }
        self.new_recovery_codes(conn, user_id).await
    }

    /// Checks a second-factor code: a current TOTP code (each step once) or an unused recovery
    /// code (spent by this).
    pub async fn check_code(&self, user_id: Uuid, code: &str) -> Result<Option<Method>, AuthError> {
        if is_totp_code(code) {
            return Ok(self
                .accept_totp(&self.pool, user_id, code, false)
                .await?
                .then_some(Method::Totp));
        }
        let Some(normalised) = normalise_recovery_code(code) else {
            return Ok(None);
        };
        let digest = hmac::sign(&self.recovery, normalised.as_bytes());
        Ok(
            db::mfa::use_recovery_code(&self.pool, user_id, digest.as_ref())
                .await?
                .then_some(Method::RecoveryCode),
        )
    }

    /// A fresh set of recovery codes; the old set dies (in the caller's transaction).
    pub async fn new_recovery_codes(
        &self,
        conn: &mut sqlx::PgConnection,
        user_id: Uuid,
    ) -> Result<Vec<String>, AuthError> {
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
        let digests: Vec<Vec<u8>> = codes
            .iter()
            .map(|c| {
                let normalised = normalise_recovery_code(c).expect("ours are well formed");
                hmac::sign(&self.recovery, normalised.as_bytes())
                    .as_ref()
                    .to_vec()
            })
            .collect();
        db::mfa::replace_recovery_codes(conn, user_id, &digests).await?;
        Ok(codes)
    }

    /// Removes every factor (passkeys included) and recovery code; `true` when one was on.
    /// In the caller's transaction, so what else the removal changes commits with it.
    pub async fn remove_all(
        &self,
        conn: &mut sqlx::PgConnection,
        user_id: Uuid,
    ) -> Result<bool, AuthError> {
        let passkeys = db::passkeys::delete_all(&mut *conn, user_id).await?;
        Ok(db::mfa::delete_second_factors(conn, user_id).await? || passkeys > 0)
    }

    /// Turns the app off; the recovery codes go with the last factor (docs/api.md §4).
    pub async fn remove_totp(
        &self,
        conn: &mut sqlx::PgConnection,
        user_id: Uuid,
    ) -> Result<(), AuthError> {
        if db::passkeys::count(&mut *conn, user_id).await? > 0 {
            db::mfa::delete_totp(conn, user_id).await?;
        } else {
            db::mfa::delete_second_factors(conn, user_id).await?;
        }
        Ok(())
    }

    /// After a passkey is removed: the recovery codes go when no factor is left.
    pub async fn forget_codes_without_factors(
        &self,
        conn: &mut sqlx::PgConnection,
        user_id: Uuid,
    ) -> Result<(), AuthError> {
        let app_on = db::mfa::find_totp(&mut *conn, user_id)
            .await?
            .is_some_and(|f| f.confirmed);
        if !app_on && db::passkeys::count(&mut *conn, user_id).await? == 0 {
            db::mfa::delete_second_factors(conn, user_id).await?;
        }
        Ok(())
    }

    fn seal(&self, user_id: Uuid, secret: &[u8]) -> Result<Vec<u8>, AuthError> {
        Ok(self.sealing.seal(user_id.as_bytes(), secret))
    }

    fn open(&self, user_id: Uuid, sealed: &[u8]) -> Result<Vec<u8>, AuthError> {
        self.sealing
            .open(user_id.as_bytes(), sealed)
            .map_err(|e| AuthError::Internal(e.into()))
    }
}

/// Six digits (spaces ignored): a TOTP code, not a recovery code.
fn is_totp_code(code: &str) -> bool {
    let digits: Vec<char> = code.chars().filter(|c| *c != ' ').collect();
    digits.len() == 6 && digits.iter().all(char::is_ascii_digit)
}

/// A recovery code as stored: letter case, spaces and dashes ignored.
fn normalise_recovery_code(code: &str) -> Option<String> {
    let normalised: String = code
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (normalised.len() == RECOVERY_CODE_CHARS && normalised.bytes().all(|b| BASE32.contains(&b)))
        .then_some(normalised)
}

/// `XXXX-XXXX-XXXX-XXXX` of base32: 80 random bits.
fn recovery_code() -> String {
    let mut bytes = [0u8; RECOVERY_CODE_CHARS];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random number generator failed");
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| BASE32[usize::from(b % 32)] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Opaque 256-bit tokens for pending sign-ins, base64url.
pub fn challenge_token() -> String {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random number generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_forgiving_of_case_spaces_and_dashes() {
        let code = recovery_code();
        assert_eq!(code.len(), 19);
        let plain = normalise_recovery_code(&code).unwrap();
        assert_eq!(
            normalise_recovery_code(&code.to_lowercase()),
            Some(plain.clone())
        );
        assert_eq!(
            normalise_recovery_code(&code.replace('-', " ")),
            Some(plain.clone())
        );
        assert_eq!(normalise_recovery_code(&code.replace('-', "")), Some(plain));
        assert_eq!(normalise_recovery_code("too-short"), None);
        assert_eq!(
            normalise_recovery_code("1111-1111-1111-1111"),
            None,
            "1 is not base32"
        );
    }

    #[test]
    fn six_digits_are_a_totp_code_anything_else_is_not() {
        assert!(is_totp_code("123456"));
        assert!(is_totp_code("123 456"));
        assert!(!is_totp_code("12345"));
        assert!(!is_totp_code("1234567"));
        assert!(!is_totp_code("12345a"));
    }

    /// RFC 6238 appendix B's SHA-1 vectors (8 digits there; the last 6 here, as RFC 4226 5.3
    /// truncates), and the ± 1 step window.
    #[test]
    fn codes_follow_rfc_6238_and_allow_one_step_of_drift() {
        let totp = totp_rs::Builder::new()
            .with_secret(b"12345678901234567890".to_vec())
            .with_account_name("test")
            .build()
            .unwrap();
        assert_eq!(totp.generate(59).to_string(), "287082");
        assert_eq!(totp.generate(1_111_111_109).to_string(), "081804");
        let code = totp.generate(1_111_111_109).to_string();
        let step = 1_111_111_109 / 30;
        assert_eq!(totp.check(&code, 1_111_111_109), Some(step));
        assert_eq!(
            totp.check(&code, 1_111_111_109 + 30),
            Some(step),
            "one step late"
        );
        assert_eq!(
            totp.check(&code, 1_111_111_109 - 30),
            Some(step),
            "one step early"
        );
        assert_eq!(
            totp.check(&code, 1_111_111_109 + 60),
            None,
            "two steps late"
        );
    }
}
