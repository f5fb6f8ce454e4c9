//! Periodic purge of ended sessions, off the request path.

use std::time::Duration;

use rocket::{Orbit, Rocket};
use rocket_db_pools::Database;

use super::Accounts;
use crate::db::{self, Db};

/// Ended sessions are kept this long (visible to support and audits) before deletion.
const KEEP_ENDED: Duration = Duration::from_secs(24 * 60 * 60);

/// Spawns the purge loop; it stops when Rocket shuts down. Several instances purging at once is
/// harmless: each `DELETE` only removes rows that are already dead.
pub async fn start(rocket: &Rocket<Orbit>) {
    let (Some(accounts), Some(db)) = (rocket.state::<Accounts>(), Db::fetch(rocket)) else {
        return;
    };
    let every = accounts.settings().session_purge_interval;
    // Throttle counters matter only inside their windows.
    let counters_kept = accounts
        .settings()
        .throttle
        .login_failure_window
        .max(crate::config::ThrottleSettings::IP_WINDOW);
    let pool = db.inner().clone();
    let mut shutdown = rocket.shutdown();
    // The revocation set's listener: its own task, reconnecting by itself.
    let revocations = accounts.revocations_handle();
    let listener_pool = pool.clone();
    let listener_shutdown = rocket.shutdown();
    rocket::tokio::spawn(
        async move { revocations.maintain(listener_pool, listener_shutdown).await },
    );
    rocket::tokio::spawn(async move {
        let mut ticks = rocket::tokio::time::interval(every);
        loop {
            rocket::tokio::select! {
                _ = ticks.tick() => {
                    match db::sessions::purge_ended(&pool, KEEP_ENDED).await {
                        Ok(0) => {}
                        Ok(n) => log::info!("housekeeping: purged {n} ended sessions"),
                        Err(e) => log::warn!("housekeeping: session purge failed: {e}"),
                    }
                    if let Err(e) = db::throttle::purge(&pool, counters_kept).await {
                        log::warn!("housekeeping: throttle purge failed: {e}");
                    }
                }
                _ = &mut shutdown => break,
            }
        }
    });
}
