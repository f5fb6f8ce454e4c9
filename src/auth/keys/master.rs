//! One master secret, one key per purpose: each key is derived from `secret_key` with
//! HKDF-SHA256 (RFC 5869) and a label naming its purpose, so no key serves two purposes and none
//! is the master secret itself (OWASP ASVS 11.1; docs/api.md §3 "Secrets").

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
    /// AES-256-GCM sealing of the private halves of signing keys at rest.
    SigningKeys,
    /// AES-256-GCM sealing of queued mail bodies (they carry live links).
    Outbox,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::Csrf => b"csrf",
            Self::RefreshSuccessor => b"refresh-successor",
            Self::DeviceCookie => b"device-cookie",
            Self::TotpSecrets => b"totp-secrets",
            Self::RecoveryCodes => b"recovery-codes",
            Self::SigningKeys => b"signing-keys",
            Self::Outbox => b"outbox",
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
    /// The AES-256-GCM sealer of one purpose.
    pub fn sealer(&self, purpose: Purpose) -> Sealer {
        let info = [purpose.label()];
        let okm = self
            .0
            .expand(&info, &aead::AES_256_GCM)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Sealer(aead::LessSafeKey::new(aead::UnboundKey::from(okm)))
    }
}

/// Secrets at rest: AES-256-GCM with a random nonce, bound to associated data (the row's owner),
/// so a sealed value moved to another row does not open.
pub struct Sealer(aead::LessSafeKey);

/// A sealed value that does not open: truncated, altered, of another row, or sealed under
/// another `secret_key`.
#[derive(Debug, thiserror::Error)]
#[error("a sealed secret does not open (was secret_key changed?)")]
pub struct Unsealable;

impl Sealer {
    /// `nonce ‖ ciphertext ‖ tag`.
    pub fn seal(&self, associated: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; aead::NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).expect("the system random number generator failed");
        let mut sealed = plain.to_vec();
        self.0
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(associated),
                &mut sealed,
            )
            .expect("AES-256-GCM sealing of a short secret cannot fail");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        out
    }

    pub fn open(&self, associated: &[u8], sealed: &[u8]) -> Result<Vec<u8>, Unsealable> {
        if sealed.len() < aead::NONCE_LEN {
            return Err(Unsealable);
        }
        let (nonce, ciphertext) = sealed.split_at(aead::NONCE_LEN);
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| Unsealable)?;
        let mut buffer = ciphertext.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, aead::Aad::from(associated), &mut buffer)
            .map_err(|_| Unsealable)?;
        Ok(plain.to_vec())
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
    fn a_sealed_secret_opens_only_with_its_key_and_its_associated_data() {
        let a = MasterKey::new(&Secret::new("master-secret-0123456789abcdefghijkl".into()));
        let b = MasterKey::new(&Secret::new("another-secret-0123456789abcdefghijk".into()));
        let sealer = a.sealer(Purpose::TotpSecrets);
        let sealed = sealer.seal(b"row-1", b"the secret");
        assert_eq!(sealer.open(b"row-1", &sealed).unwrap(), b"the secret");
        assert!(sealer.open(b"row-2", &sealed).is_err());
        assert!(
            a.sealer(Purpose::SigningKeys)
                .open(b"row-1", &sealed)
                .is_err()
        );
        assert!(
            b.sealer(Purpose::TotpSecrets)
                .open(b"row-1", &sealed)
                .is_err()
        );
        let mut altered = sealed.clone();
        altered[20] ^= 1;
        assert!(sealer.open(b"row-1", &altered).is_err());
        assert!(!sealed.windows(10).any(|w| w == b"the secret"));
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
