//! Accounts: the [`service::Accounts`] service (registration, the sign-in state machine,
//! password change, deletion) with its second factors, passkeys and address in files of their
//! own, and the services of addresses and password reset.

pub mod addresses;
pub mod admin;
pub mod email;
pub mod passkeys;
pub mod password_reset;
pub mod second_factor;
pub mod service;
pub mod sign_in;
