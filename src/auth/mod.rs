//! The security core: one service per capability, each with its own state. No routes here, no
//! HTTP responses, no `rocket::Request`: request facts arrive as plain values.
//!
//! - [`accounts`]: registration, sign-in (a small state machine), password change, deletion;
//! - [`sessions`]: open, refresh (rotation, reuse detection), revoke, sign out;
//! - [`guard`]: who is signed in, from a presented token or refresh cookie;
//! - [`throttle`], [`password`] (bcrypt on its own threads), [`token`] (JWT), [`csrf`],
//!   [`revocations`] (the in-process revoked set), [`audit`] (the security log);
//! - [`services`] assembles them once, for the server and the command line alike.

pub mod accounts;
pub mod addresses;
pub mod audit;
pub mod blocklist;
pub mod client;
pub mod csrf;
pub mod delivery;
pub mod devices;
pub mod error;
pub mod guard;
pub mod housekeeping;
pub mod keys;
pub mod mail;
pub mod mfa;
pub mod owners;
pub mod passkeys;
pub mod password;
pub mod recovery;
pub mod revocations;
pub mod services;
pub mod sessions;
pub mod signing;
pub mod throttle;
pub mod token;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub use accounts::{Accounts, Registered, SignInStep};
pub use client::{ClientInfo, Origin};
pub use error::AuthError;
pub use guard::{Authenticator, TokenRejection};
pub use password::PasswordHasher;
pub use services::Core;
pub use sessions::{AuthUser, Sessions, SignIn};
pub use token::{Claims, TokenError, TokenKeys};

/// `bytes` bytes from the operating system's CSPRNG, base64url-encoded without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut buf).expect("the system random number generator failed");
    URL_SAFE_NO_PAD.encode(buf)
}

/// SHA-256 of a high-entropy token, for storing tokens that are looked up but never kept.
pub fn token_digest(token: &str) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())
        .as_ref()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_carry_the_requested_entropy_and_differ() {
        let a = random_token(32);
        let b = random_token(32);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn token_digests_are_sha256() {
        assert_eq!(token_digest("abc").len(), 32);
        assert_eq!(token_digest("abc"), token_digest("abc"));
        assert_ne!(token_digest("abc"), token_digest("abd"));
    }
}
