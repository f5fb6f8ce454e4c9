//! The throttles of docs/api.md §3. The counted limits live in PostgreSQL, so every
//! instance shares them, and each check *reserves* what it counts in the same step (under a
//! per-key advisory lock): the limit is exact under any concurrency. Every check runs before any
//! password work, so a throttled attempt costs no bcrypt time and says nothing about the
//! password. Beside them, an in-process share of the hashing threads per client keeps one client
//! from filling the hashing queue for everyone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::audit::{Event, SecurityLog};
use crate::auth::caller::{Caller, client_key};
use crate::auth::error::AuthError;
use crate::config::ThrottleSettings;
use crate::db;

/// An action limited per client address (and, for password checks, per account), each with its
/// own counter and limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    Login,
    Register,
    /// A signed-in user's password check: password change, account deletion.
    PasswordCheck,
    /// Account recovery: forgotten password, reset, address verification.
    Recovery,
}

impl Limited {
    fn name(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Register => "register",
            Self::PasswordCheck => "password_check",
            Self::Recovery => "recovery",
        }
    }
}

/// The window of the per-account limit on reset mails (and so the oldest counter that matters).
pub const RESET_MAIL_WINDOW: Duration = Duration::from_secs(60 * 60);

pub struct Throttle {
    pool: PgPool,
    limits: ThrottleSettings,
    log: Arc<SecurityLog>,
    hashing: Arc<HashingShares>,
}

impl Throttle {
    pub fn new(pool: PgPool, limits: ThrottleSettings, log: Arc<SecurityLog>) -> Self {
        let hashing = Arc::new(HashingShares {
            per_client: limits.hashing_share(),
            in_flight: Mutex::new(HashMap::new()),
        });
        Self {
            pool,
            limits,
            log,
            hashing,
        }
    }

    /// Counts an attempt against its per-client limit; refuses once the limit is reached.
    async fn take_client_slot(&self, caller: &Caller, action: Limited) -> Result<(), AuthError> {
        let limit = match action {
            Limited::Login => self.limits.login_ip_limit,
            Limited::Register => self.limits.register_ip_limit,
            Limited::PasswordCheck => self.limits.password_check_limit,
            Limited::Recovery => self.limits.recovery_ip_limit,
        };
        let bucket = format!("{}:{}", action.name(), client_key(caller.ip));
        self.take_slot(
            caller,
            (&bucket, limit, ThrottleSettings::IP_WINDOW),
            action.name(),
            "ip_throttled",
        )
        .await
    }

    /// Admits an attempt: counts it against the client's budget, then, for a signed-in user's
    /// password check, against the account's. What the attempt needs next (a share of the
    /// hashing threads, a failure reserved against a name) is taken through the [`Admission`],
    /// so the order of the checks is this one everywhere, and every check runs before any
    /// password work.
    pub async fn admit(
        &self,
        caller: &Caller,
        attempt: Attempt,
    ) -> Result<Admission<'_>, AuthError> {
        self.take_client_slot(caller, attempt.budget).await?;
        if let Some(user_id) = attempt.account {
            self.take_account_slot(caller, user_id, attempt.action)
                .await?;
        }
        Ok(Admission::new(self, caller, attempt.action))
    }

    /// An operator's command: counted against no budget (the operator is not a client), but
    /// its hashes share the hashing threads like anyone's.
    pub fn operator(&self, caller: &Caller, action: &'static str) -> Admission<'_> {
        Admission::new(self, caller, action)
    }

    /// Counts a reset link mailed to an account: 3 an hour (docs/api.md §7), so nobody
    /// can flood a mailbox. `false` (and a logged event) once the account's budget is spent.
    pub async fn take_reset_mail_slot(
        &self,
        caller: &Caller,
        user_id: Uuid,
    ) -> Result<bool, AuthError> {
        const RESET_MAILS: u32 = 3;
        let bucket = format!("password_forgot:user:{user_id}");
        match self
            .take_slot(
                caller,
                (&bucket, RESET_MAILS, RESET_MAIL_WINDOW),
                "password_forgot",
                "account_throttled",
            )
            .await
        {
            Ok(()) => Ok(true),
            Err(AuthError::Throttled { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Counts a signed-in user's password check against the account's limit, right passwords
    /// included: a flood of correct ones must not keep the hashing threads busy either.
    async fn take_account_slot(
        &self,
        caller: &Caller,
        user_id: Uuid,
        action: &'static str,
    ) -> Result<(), AuthError> {
        let bucket = format!("password_check:user:{user_id}");
        self.take_slot(
            caller,
            (
                &bucket,
                self.limits.password_check_limit,
                ThrottleSettings::IP_WINDOW,
            ),
            action,
            "account_throttled",
        )
        .await
    }

    /// Takes a slot of `(bucket, limit, window)`.
    async fn take_slot(
        &self,
        caller: &Caller,
        (bucket, limit, window): (&str, u32, Duration),
        kind: &'static str,
        outcome: &'static str,
    ) -> Result<(), AuthError> {
        match db::throttle::take_rate_slot(&self.pool, bucket, limit, window).await? {
            None => Ok(()),
            Some(wait) => {
                self.log.record(caller, Event::new(kind, outcome));
                Err(AuthError::throttled(wait))
            }
        }
    }

    /// Reserves a password check for a (canonical) username, counted as a failure until
    /// [`Throttle::clear`] says it succeeded; refuses a name with too many recent failures.
    async fn reserve_attempt(
        &self,
        caller: &Caller,
        action: &'static str,
        name: &str,
    ) -> Result<(), AuthError> {
        match db::throttle::reserve_attempt(
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
                    .record(caller, Event::new(action, "throttled").username(name));
                Err(AuthError::throttled(wait))
            }
        }
    }

    /// Takes back a reservation whose password was never checked.
    async fn release_attempt(&self, name: &str) -> Result<(), AuthError> {
        Ok(db::throttle::release_attempt(&self.pool, name).await?)
    }

    /// Forgets a username's failures, the reserved attempt included: after a successful check,
    /// or by the operator.
    pub async fn clear(&self, name: &str) -> Result<(), AuthError> {
        Ok(db::throttle::clear_failures(&self.pool, name).await?)
    }

    /// A share of the hashing threads for one client, held while its hash is queued or runs;
    /// `429` when the client holds its whole share already.
    fn hashing_share(
        &self,
        caller: &Caller,
        kind: &'static str,
    ) -> Result<HashingShare, AuthError> {
        HashingShares::acquire(&self.hashing, client_key(caller.ip)).ok_or_else(|| {
            self.log
                .record(caller, Event::new(kind, "hashing_share_exhausted"));
            AuthError::Throttled { retry_after: 1 }
        })
    }
}

/// One attempt at a throttled action: the budget it counts against, and the event kind its
/// refusals are logged under.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    action: &'static str,
    budget: Limited,
    account: Option<Uuid>,
}

impl Attempt {
    pub fn new(action: &'static str, budget: Limited) -> Self {
        Self {
            action,
            budget,
            account: None,
        }
    }

    /// A signed-in user's password check: the account's budget counts it too, right passwords
    /// included.
    pub fn of_account(self, user_id: Uuid) -> Self {
        Self {
            account: Some(user_id),
            ..self
        }
    }
}

/// An admitted attempt. Dropped without [`Admission::succeeded`], its reserved failures stay
/// recorded: that is how a wrong password or code counts.
pub struct Admission<'t> {
    throttle: &'t Throttle,
    caller: Caller,
    action: &'static str,
    share: Option<HashingShare>,
    reserved: Vec<String>,
}

impl<'t> Admission<'t> {
    fn new(throttle: &'t Throttle, caller: &Caller, action: &'static str) -> Self {
        Self {
            throttle,
            caller: caller.clone(),
            action,
            share: None,
            reserved: Vec::new(),
        }
    }

    /// Who is attempting.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// Takes this client's share of the hashing threads, held until the admission ends; `429`
    /// when the client holds its whole share already.
    pub fn hash_share(&mut self) -> Result<(), AuthError> {
        if self.share.is_none() {
            self.share = Some(self.throttle.hashing_share(&self.caller, self.action)?);
        }
        Ok(())
    }

    /// Lets the hashing share go (the hash is done) while the attempt goes on.
    pub fn hashed(&mut self) {
        self.share = None;
    }

    /// Reserves a failure against `key` (a canonical username, a known device, an account's
    /// codes) until the check succeeds; refuses a key with too many recent failures.
    pub async fn reserve(&mut self, key: &str) -> Result<(), AuthError> {
        self.throttle
            .reserve_attempt(&self.caller, self.action, key)
            .await?;
        self.reserved.push(key.to_owned());
        Ok(())
    }

    /// The check succeeded: the failures of every reserved key are forgotten, the reserved one
    /// included.
    pub async fn succeeded(&mut self) -> Result<(), AuthError> {
        for key in std::mem::take(&mut self.reserved) {
            self.throttle.clear(&key).await?;
        }
        Ok(())
    }

    /// The check never ran (the hashing queue turned it away): the reservations are given
    /// back, so an overloaded server locks nobody out.
    pub async fn not_checked(&mut self) -> Result<(), AuthError> {
        for key in std::mem::take(&mut self.reserved) {
            self.throttle.release_attempt(&key).await?;
        }
        Ok(())
    }
}

/// Hashes queued or running per client, on this instance (CPU is per instance).
struct HashingShares {
    per_client: usize,
    in_flight: Mutex<HashMap<String, usize>>,
}

impl HashingShares {
    fn acquire(shares: &Arc<Self>, key: String) -> Option<HashingShare> {
        let mut in_flight = shares.in_flight.lock().ok()?;
        let count = in_flight.entry(key.clone()).or_default();
        if *count >= shares.per_client {
            return None;
        }
        *count += 1;
        Some(HashingShare {
            shares: Arc::clone(shares),
            key,
        })
    }
}

/// One hash's claim on its client's share; released when dropped.
pub struct HashingShare {
    shares: Arc<HashingShares>,
    key: String,
}

impl Drop for HashingShare {
    fn drop(&mut self) {
        if let Ok(mut in_flight) = self.shares.in_flight.lock()
            && let Some(count) = in_flight.get_mut(&self.key)
        {
            *count -= 1;
            if *count == 0 {
                in_flight.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_holds_at_most_its_share_of_the_hashing_threads_and_gets_it_back() {
        let shares = Arc::new(HashingShares {
            per_client: 2,
            in_flight: Mutex::new(HashMap::new()),
        });
        let a1 = HashingShares::acquire(&shares, "a".into()).unwrap();
        let _a2 = HashingShares::acquire(&shares, "a".into()).unwrap();
        assert!(HashingShares::acquire(&shares, "a".into()).is_none());
        let _b = HashingShares::acquire(&shares, "b".into()).expect("another client is served");
        drop(a1);
        assert!(HashingShares::acquire(&shares, "a".into()).is_some());
    }
}
