//! Work off the request path: the revocation set's listener, and the periodic purge of ended
//! sessions and stale throttle counters.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

use crate::auth::keys::signing::SigningKeys;
use crate::auth::mail::delivery::Delivery;
use crate::auth::sessions::revocations::Revocations;
use crate::db;

/// Ended sessions are kept this long (visible to support and audits) before deletion.
const KEEP_ENDED: Duration = Duration::from_secs(24 * 60 * 60);

/// Sent (or given up) mail is kept this long, without its body, for support and audits.
const KEEP_SENT_MAIL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// How often to purge, and how long throttle counters matter.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub purge_every: Duration,
    /// The longest throttle window: older counters count for nothing.
    pub counters_kept: Duration,
}

/// The background work of one instance, ready to start.
#[derive(Clone)]
pub struct Housekeeping {
    pub pool: PgPool,
    pub schedule: Schedule,
    pub revocations: Arc<Revocations>,
    pub signing: Arc<SigningKeys>,
    /// The mail worker, when `smtp_url` is set.
    pub delivery: Option<Arc<Delivery>>,
}

impl Housekeeping {
    /// Spawns the listener and the purge loop; both stop when `shutdown` resolves. Several
    /// instances purging at once is harmless: each `DELETE` only removes rows that are already
    /// dead.
    pub fn spawn(self, shutdown: impl Future<Output = ()> + Clone + Send + 'static) {
        let Self {
            pool,
            schedule,
            revocations,
            signing,
            delivery,
        } = self;
        match delivery {
            Some(delivery) => {
                let shutdown = shutdown.clone();
                tokio::spawn(async move { delivery.run(shutdown).await });
            }
            None => log::warn!(
                "no smtp_url configured: mail waits in the outbox (the debug profile shows it \
                 at /dev/mailbox)"
            ),
        }
        let listener_pool = pool.clone();
        let listener_shutdown = shutdown.clone();
        let keys_changed = Arc::clone(&revocations);
        tokio::spawn(async move { revocations.maintain(listener_pool, listener_shutdown).await });
        if signing.in_use() {
            tokio::spawn(keep_keys(signing, keys_changed, shutdown.clone()));
        }
        tokio::spawn(purge_until(pool, schedule, shutdown));
    }
}

async fn purge_until(pool: PgPool, schedule: Schedule, shutdown: impl Future<Output = ()>) {
    {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut ticks = tokio::time::interval(schedule.purge_every);
        loop {
            tokio::select! {
                _ = ticks.tick() => purge(&pool, schedule).await,
                _ = &mut shutdown => break,
            }
        }
    }
}

/// How often an instance looks whether a key is due or its plan changed (an activation, an
/// expiry); told changes (a rotation, a revocation) are loaded at once.
const KEYS_EVERY: Duration = Duration::from_secs(15);

async fn keep_keys(
    signing: Arc<SigningKeys>,
    revocations: Arc<Revocations>,
    shutdown: impl Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut ticks = tokio::time::interval(KEYS_EVERY);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                if let Err(e) = signing.rotate_if_due().await {
                    log::warn!("signing keys: rotation check failed: {e}");
                }
            }
            _ = revocations.keys_changed() => {}
            _ = &mut shutdown => break,
        }
        if let Err(e) = signing.reload().await {
            log::warn!("signing keys: reload failed: {e}");
        }
    }
}

async fn purge(pool: &PgPool, schedule: Schedule) {
    match db::sessions::purge_ended(pool, KEEP_ENDED).await {
        Ok(0) => {}
        Ok(n) => log::info!("housekeeping: purged {n} ended sessions"),
        Err(e) => log::warn!("housekeeping: session purge failed: {e}"),
    }
    if let Err(e) = db::mfa::purge_challenges(pool, KEEP_ENDED).await {
        log::warn!("housekeeping: pending sign-in purge failed: {e}");
    }
    if let Err(e) = db::throttle::purge(pool, schedule.counters_kept).await {
        log::warn!("housekeeping: throttle purge failed: {e}");
    }
    if let Err(e) = db::passkeys::purge_ceremonies(pool, KEEP_ENDED).await {
        log::warn!("housekeeping: ceremony purge failed: {e}");
    }
    if let Err(e) = db::email::purge_tokens(pool, KEEP_ENDED).await {
        log::warn!("housekeeping: mailed token purge failed: {e}");
    }
    if let Err(e) = db::outbox::purge(pool, KEEP_SENT_MAIL).await {
        log::warn!("housekeeping: outbox purge failed: {e}");
    }
}
