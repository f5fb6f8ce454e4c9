//! Keys and tokens: the per-purpose keys derived from `secret_key`, access tokens, the signing
//! keys and their rotation, the CSRF key, and random tokens.

pub mod access_token;
pub mod csrf;
pub mod master;
pub mod random;
pub mod signing;
