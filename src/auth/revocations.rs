//! The in-process set of revoked sessions: token checks without a database round trip.
//!
//! Every instance listens on `gatehouse_revocations` (PostgreSQL LISTEN/NOTIFY, sent by a trigger
//! whenever a session ends), then loads the recent revocations from `session_revocations`: listen
//! first, then load, so nothing falls between. When the listening connection drops, the set is
//! marked stale and the guard checks sessions in the database again until the set is reloaded:
//! a performance step, never a relaxation. Revocations made by this instance are added at once,
//! so its own next request sees them; other instances see them when the notification arrives
//! (about a millisecond on one network).

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use uuid::Uuid;

use crate::db;

pub const CHANNEL: &str = "gatehouse_revocations";

pub struct Revocations {
    /// Revoked session ids and when this instance learnt of them.
    revoked: RwLock<HashMap<Uuid, Instant>>,
    /// Whether the set is known to be complete (listening, and loaded since).
    current: AtomicBool,
    /// How long an entry matters: the longest an access token of the session can still be valid.
    keep: Duration,
}

/// What the set says about a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Revoked,
    NotRevoked,
    /// The set may be incomplete: ask the database.
    Unknown,
}

impl Revocations {
    pub fn new(access_token_ttl: Duration) -> Self {
        Self {
            revoked: RwLock::new(HashMap::new()),
            current: AtomicBool::new(false),
            // The token lifetime, the validation leeway, and a margin for clock differences.
            keep: access_token_ttl + Duration::from_secs(120),
        }
    }

    pub fn check(&self, session_id: Uuid) -> Verdict {
        if self
            .revoked
            .read()
            .is_ok_and(|set| set.contains_key(&session_id))
        {
            return Verdict::Revoked;
        }
        if self.current.load(Ordering::Acquire) {
            Verdict::NotRevoked
        } else {
            Verdict::Unknown
        }
    }

    /// Records revocations this instance made, before it answers the request that made them.
    pub fn add(&self, sessions: impl IntoIterator<Item = Uuid>) {
        if let Ok(mut set) = self.revoked.write() {
            let now = Instant::now();
            set.extend(sessions.into_iter().map(|id| (id, now)));
        }
    }

    fn replace(&self, sessions: Vec<Uuid>) {
        if let Ok(mut set) = self.revoked.write() {
            let now = Instant::now();
            set.retain(|_, seen| now.duration_since(*seen) < self.keep);
            set.extend(sessions.into_iter().map(|id| (id, now)));
        }
    }

    fn prune(&self) {
        if let Ok(mut set) = self.revoked.write() {
            let now = Instant::now();
            set.retain(|_, seen| now.duration_since(*seen) < self.keep);
        }
    }

    pub fn is_current(&self) -> bool {
        self.current.load(Ordering::Acquire)
    }

    fn set_current(&self, current: bool) {
        self.current.store(current, Ordering::Release);
    }

    /// Listens and keeps the set current until `shutdown` resolves; reconnects by itself.
    pub async fn maintain(&self, pool: PgPool, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut backoff = Duration::from_millis(100);
        loop {
            let session = tokio::select! {
                result = self.listen_and_follow(&pool) => result,
                _ = &mut shutdown => return,
            };
            // A connection that got as far as being current was healthy: start backing off
            // afresh, so one blip late in the process's life costs 100 ms, not the maximum.
            if self.is_current() {
                backoff = Duration::from_millis(100);
            }
            self.set_current(false);
            if let Err(e) = session {
                log::warn!("revocation listener: {e}; checking sessions in the database meanwhile");
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = &mut shutdown => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// One listening connection's life: listen, load, follow notifications until it drops.
    async fn listen_and_follow(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        self.replace(db::sessions::recent_revocations(pool, self.keep).await?);
        self.set_current(true);
        let mut last_prune = Instant::now();
        loop {
            match listener.try_recv().await? {
                Some(notification) => {
                    if let Ok(id) = Uuid::parse_str(notification.payload()) {
                        self.add([id]);
                    }
                }
                // The connection dropped: notifications may have been missed.
                None => return Ok(()),
            }
            if last_prune.elapsed() > Duration::from_secs(60) {
                self.prune();
                last_prune = Instant::now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incomplete_set_defers_to_the_database_but_never_forgets_a_revocation() {
        let set = Revocations::new(Duration::from_secs(900));
        let (revoked, other) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(set.check(other), Verdict::Unknown);
        set.add([revoked]);
        assert_eq!(set.check(revoked), Verdict::Revoked);
        assert_eq!(set.check(other), Verdict::Unknown);
        set.set_current(true);
        assert_eq!(set.check(other), Verdict::NotRevoked);
        assert_eq!(set.check(revoked), Verdict::Revoked);
    }
}
