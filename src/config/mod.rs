//! Application settings, extracted once from Rocket's figment (`Rocket.toml`, then `ROCKET_*`).
//! The keys are flat, as operators write them; in code they are grouped by what they configure,
//! each group with its defaults in one `Default` and its checks beside it.

pub mod groups;
pub mod secret;
pub mod settings;

pub use groups::{MailSettings, PasswordSettings, SiteSettings, ThrottleSettings, TokenSettings};
pub use secret::Secret;
pub use settings::{ConfigError, MIN_SECRET_BYTES, Settings};
