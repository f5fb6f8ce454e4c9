//! The security core: one service per capability, each with its own state. No routes here, no
//! HTTP responses, no `rocket::Request`: request facts arrive as plain values ([`Caller`]).
//!
//! - [`accounts`]: registration, the sign-in state machine, password change, deletion, second
//!   factors and passkeys on an account, addresses, password reset;
//! - [`credentials`]: what proves who someone is: the bcrypt pool, the breached-password list,
//!   TOTP and recovery codes, passkeys, remembered devices, pending sign-ins;
//! - [`sessions`]: sessions (open, refresh, revoke), the authenticator behind the request guard,
//!   session owners and revocations across instances;
//! - [`keys`]: keys derived from `secret_key`, access tokens, signing keys, CSRF, random tokens;
//! - [`mail`]: the outbox and its delivery workers;
//! - [`caller`], [`audit`], [`throttle`], [`error`]: what every capability above uses;
//! - [`core`] assembles the services once, for the server and the command line alike.
//!
//! Inside this folder, modules name each other by their full path; the re-exports below are for
//! the layers above (`web`, `cli`).

pub mod accounts;
pub mod audit;
pub mod caller;
pub mod core;
pub mod credentials;
pub mod error;
pub mod housekeeping;
pub mod keys;
pub mod mail;
pub mod sessions;
pub mod throttle;

pub use accounts::service::{Accounts, Registered};
pub use accounts::sign_in::SignInStep;
pub use caller::{Caller, ClientInfo};
pub use core::Core;
pub use credentials::password::PasswordHasher;
pub use error::AuthError;
pub use keys::access_token::{Claims, TokenError, TokenKeys};
pub use sessions::authenticator::{Authenticator, TokenRejection};
pub use sessions::service::{AuthUser, Sessions, SignIn};
