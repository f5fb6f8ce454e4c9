//! What the security core can answer besides success. The web layer maps each to a status.

use std::time::Duration;

use crate::auth::credentials::password::HashError;
use crate::db;
use crate::domain::FieldErrors;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid input")]
    InvalidInput(FieldErrors),
    /// Unknown user or wrong password: deliberately one variant.
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("username taken")]
    UsernameTaken,
    /// A passkey registered already (to this account or another).
    #[error("already registered")]
    AlreadyRegistered,
    /// Nothing of the signed-in user's by that id.
    #[error("not found")]
    NotFound,
    /// A wrong password from a signed-in user (password change, account deletion).
    #[error("wrong password")]
    WrongPassword,
    /// An unknown, expired, spent or revoked refresh token.
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    /// An unknown, spent or expired `mfa_token` (a pending sign-in).
    #[error("invalid mfa token")]
    InvalidMfaToken,
    /// Too many attempts; retry after this many seconds.
    #[error("throttled")]
    Throttled { retry_after: u64 },
    /// The password hashing queue is full.
    #[error("busy")]
    Busy,
    /// The database cannot be reached.
    #[error("database unavailable")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AuthError {
    /// A throttle's answer, rounded up: a client that waits exactly this long is let through.
    pub fn throttled(wait: Duration) -> Self {
        Self::Throttled {
            retry_after: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        }
    }

    /// One problem with one field.
    pub fn invalid_field(field: &'static str, problem: impl ToString) -> Self {
        let mut errors = FieldErrors::default();
        errors.add(field, problem);
        Self::InvalidInput(errors)
    }
}

impl From<sqlx::Error> for AuthError {
    fn from(e: sqlx::Error) -> Self {
        if db::is_unavailable(&e) {
            Self::Unavailable
        } else {
            Self::Internal(e.into())
        }
    }
}

impl From<HashError> for AuthError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => Self::Busy,
            other => Self::Internal(other.into()),
        }
    }
}

impl From<FieldErrors> for AuthError {
    fn from(e: FieldErrors) -> Self {
        Self::InvalidInput(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttle_wait_is_rounded_up_to_whole_seconds() {
        let retry = |wait| match AuthError::throttled(wait) {
            AuthError::Throttled { retry_after } => retry_after,
            _ => unreachable!(),
        };
        assert_eq!(retry(Duration::from_secs(3)), 3);
        assert_eq!(retry(Duration::from_millis(3001)), 4);
        assert_eq!(retry(Duration::from_millis(1)), 1);
    }
}
