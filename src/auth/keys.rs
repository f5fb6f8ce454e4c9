//! One master secret, one key per purpose: each key is derived from `secret_key` with
//! HKDF-SHA256 (RFC 5869) and a label naming its purpose, so no key serves two purposes and none
//! is the master secret itself (OWASP ASVS 11.1; CONTRACT.md section 3, "Secrets").

use aws_lc_rs::{aead, hkdf, hmac};

use crate::config::Secret;

/// Versioned, so that a future change of derivation cannot collide with this one.
const SALT: &[u8] = b"gatehouse key derivation v2";

/// The purposes keys are derived for; each label is used for exactly one.
#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    /// The HMAC of signed double-submit CSRF tokens.
    Csrf,
    /// The HMAC that derives a refresh token's successor from it.
    RefreshSuccessor,
    /// The HMAC of device cookies.
    DeviceCookie,
    /// AES-256-GCM sealing of TOTP secrets at rest.
    TotpSecrets,
    /// The HMAC that stores recovery codes.
    RecoveryCodes,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::Csrf => b"csrf",
            Self::RefreshSuccessor => b"refresh-successor",
            Self::DeviceCookie => b"device-cookie",
            Self::TotpSecrets => b"totp-secrets",
            Self::RecoveryCodes => b"recovery-codes",
        }
    }
}

pub struct MasterKey(hkdf::Prk);

impl MasterKey {
    pub fn new(secret: &Secret) -> Self {
        Self(hkdf::Salt::new(hkdf::HKDF_SHA256, SALT).extract(secret.expose().as_bytes()))
    }

    /// The HMAC-SHA256 key of one purpose.
    pub fn hmac_key(&self, purpose: Purpose) -> hmac::Key {
        let info = [purpose.label()];
        let okm = self
            .0
            .expand(&info, hmac::HMAC_SHA256)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        hmac::Key::from(okm)
    }
}

impl MasterKey {
    /// The AES-256-GCM key of one purpose.
    pub fn aead_key(&self, purpose: Purpose) -> aead::LessSafeKey {
        let info = [purpose.label()];
        let okm = self
            .0
            .expand(&info, &aead::AES_256_GCM)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        aead::LessSafeKey::new(aead::UnboundKey::from(okm))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(master: &MasterKey, purpose: Purpose) -> Vec<u8> {
        hmac::sign(&master.hmac_key(purpose), b"message")
            .as_ref()
            .to_vec()
    }

    #[test]
    fn each_purpose_gets_its_own_key_and_each_secret_its_own_keys() {
        let a = MasterKey::new(&Secret::new("master-secret-0123456789abcdefghijkl".into()));
        let b = MasterKey::new(&Secret::new("another-secret-0123456789abcdefghijk".into()));
        assert_ne!(tag(&a, Purpose::Csrf), tag(&a, Purpose::RefreshSuccessor));
        assert_ne!(tag(&a, Purpose::Csrf), tag(&b, Purpose::Csrf));
        assert_eq!(tag(&a, Purpose::Csrf), tag(&a, Purpose::Csrf));
    }
}
