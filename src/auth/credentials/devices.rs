//! Device cookies (OWASP "Slow Down Online Guessing Attacks with Device Cookies"): a browser that
//! has signed in to an account holds a token saying so, signed by us. Its failures are counted
//! against that token rather than against the username, so an attacker who fails five times
//! from elsewhere locks the username for untrusted clients only; the owner's known browser still
//! signs in. A device that fails five times itself is treated as untrusted again.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::auth::keys::master::{MasterKey, Purpose};
use crate::auth::keys::random::random_token;

/// Ours are 22 + 1 + 43 characters.
const MAX_TOKEN_LEN: usize = 128;

pub struct DeviceKeys(hmac::Key);

/// A device token that verified for one username: its throttle counts under this key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownDevice {
    nonce: String,
}

impl KnownDevice {
    /// The throttle's key for this device's failures.
    pub fn throttle_key(&self) -> String {
        format!("device:{}", self.nonce)
    }
}

impl DeviceKeys {
    pub fn derive(master: &MasterKey) -> Self {
        Self(master.hmac_key(Purpose::DeviceCookie))
    }

    fn tag(&self, canonical_name: &str, nonce: &str) -> String {
        let message = format!("{canonical_name}\n{nonce}");
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.0, message.as_bytes()))
    }

    /// A new token binding this browser to the (canonical) username.
    pub fn issue(&self, canonical_name: &str) -> String {
        let nonce = random_token(16);
        let tag = self.tag(canonical_name, &nonce);
        format!("{nonce}.{tag}")
    }

    /// The device, when the token is ours and was issued for this username.
    pub fn verify(&self, token: &str, canonical_name: &str) -> Option<KnownDevice> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let (nonce, tag) = token.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let message = format!("{canonical_name}\n{nonce}");
        // Constant-time comparison inside `hmac::verify`.
        hmac::verify(&self.0, message.as_bytes(), &tag).ok()?;
        Some(KnownDevice {
            nonce: nonce.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn keys(secret: &str) -> DeviceKeys {
        DeviceKeys::derive(&MasterKey::new(&Secret::new(secret.to_owned())))
    }

    #[test]
    fn a_device_token_is_good_for_its_own_username_and_key_only() {
        let keys_a = keys("device-test-secret-0123456789abcdefghij");
        let token = keys_a.issue("alice");
        assert!(keys_a.verify(&token, "alice").is_some());
        assert!(keys_a.verify(&token, "bob").is_none());
        assert!(
            keys("another-secret-0123456789abcdefghijk")
                .verify(&token, "alice")
                .is_none()
        );
        assert!(keys_a.verify("nonce.not-a-tag", "alice").is_none());
        assert!(keys_a.verify("garbage", "alice").is_none());
        assert_ne!(
            keys_a.issue("alice"),
            token,
            "each sign-in gets its own device"
        );
    }
}
