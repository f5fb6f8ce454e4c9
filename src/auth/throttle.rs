//! The throttles of CONTRACT.md section 3, kept in PostgreSQL so every instance shares them: failed
//! sign-ins per username, attempts per client address. Each check runs before any password work,
//! so a throttled attempt costs no bcrypt time and says nothing about the password.

use std::sync::Arc;

use sqlx::PgPool;

use super::audit::{Event, SecurityLog};
use super::client::{ClientInfo, Origin};
use super::error::AuthError;
use crate::config::ThrottleSettings;
use crate::db;

/// An action limited per client address, each with its own counter and limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpLimited {
    Login,
    Register,
}

impl IpLimited {
    fn name(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Register => "register",
        }
    }
}

pub struct Throttle {
    pool: PgPool,
    limits: ThrottleSettings,
    log: Arc<SecurityLog>,
}

impl Throttle {
    pub fn new(pool: PgPool, limits: ThrottleSettings, log: Arc<SecurityLog>) -> Self {
        Self { pool, limits, log }
    }

    /// Counts an attempt against its per-address limit; refuses once the limit is reached.
    pub async fn take_ip_slot(
        &self,
        client: &ClientInfo,
        action: IpLimited,
    ) -> Result<(), AuthError> {
        let limit = match action {
            IpLimited::Login => self.limits.login_ip_limit,
            IpLimited::Register => self.limits.register_ip_limit,
        };
        let bucket = match client.ip() {
            Some(ip) => format!("{}:{ip}", action.name()),
            None => format!("{}:unknown", action.name()),
        };
        match db::throttle::take_rate_slot(&self.pool, &bucket, limit, ThrottleSettings::IP_WINDOW)
            .await?
        {
            None => Ok(()),
            Some(wait) => {
                self.log
                    .record(&client.origin, Event::new(action.name(), "ip_throttled"));
                Err(AuthError::throttled(wait))
            }
        }
    }

    /// Refuses a (canonical) username with too many recent failures.
    pub async fn check_username(
        &self,
        origin: &Origin,
        action: &'static str,
        name: &str,
    ) -> Result<(), AuthError> {
        match db::throttle::username_blocked_for(
            &self.pool,
            name,
            self.limits.login_failure_limit,
            self.limits.login_failure_window,
        )
        .await?
        {
            None => Ok(()),
            Some(wait) => {
                self.log
                    .record(origin, Event::new(action, "throttled").username(name));
                Err(AuthError::throttled(wait))
            }
        }
    }

    /// Counts a failed password check for a username.
    pub async fn record_failure(&self, name: &str) -> Result<(), AuthError> {
        Ok(db::throttle::record_failure(&self.pool, name).await?)
    }

    /// Forgets a username's failures: after a successful sign-in, or by the operator.
    pub async fn clear(&self, name: &str) -> Result<(), AuthError> {
        Ok(db::throttle::clear_failures(&self.pool, name).await?)
    }
}
