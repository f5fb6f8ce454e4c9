//! Validated domain types. Raw input becomes one of these at the boundary; past it, no function
//! takes a bare string username or password.

pub mod credentials;
pub mod email;
pub mod local_path;
pub mod password;
pub mod username;

pub use credentials::{Credentials, FieldErrors, NewAccount, RawCredentials};
pub use email::{EmailAddress, EmailProblem};
pub use local_path::LocalPath;
pub use password::{MAX_PASSWORD_BYTES, Password, PasswordPolicy, PasswordProblem};
pub use username::{Username, UsernameProblem};
