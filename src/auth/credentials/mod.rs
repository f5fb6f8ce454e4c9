//! What proves who someone is, each kept and checked by its own type: passwords (bcrypt on its
//! own threads), the breached-password list, TOTP and recovery codes, passkeys, remembered
//! devices.

pub mod breached;
pub mod devices;
pub mod passkeys;
pub mod password;
pub mod second_factors;
