//! Throttling counters: failed sign-ins per username, attempts per client IP.

use std::time::Duration;

use sqlx::PgPool;

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// How long until fewer than `limit` failures for `username` remain in the sliding `window`, if
/// `limit` or more are in it now.
pub async fn username_blocked_for(
    pool: &PgPool,
    username: &str,
    limit: u32,
    window: Duration,
) -> Result<Option<Duration>, sqlx::Error> {
    // The `limit`-th most recent failure is the one whose leaving the window lifts the block.
    let remaining = sqlx::query_scalar!(
        r#"SELECT EXTRACT(EPOCH FROM failed_at + make_interval(secs => $3) - now())::float8 AS "secs!"
           FROM login_failures
           WHERE username = $1 AND failed_at > now() - make_interval(secs => $3)
           ORDER BY failed_at DESC
           OFFSET $2 LIMIT 1"#,
        username,
        i64::from(limit.saturating_sub(1)),
        seconds(window)
    )
    .fetch_optional(pool)
    .await?;
    Ok(remaining.map(|s| Duration::from_secs_f64(s.max(0.0))))
}

pub async fn record_failure(pool: &PgPool, username: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO login_failures (username) VALUES ($1)",
        username
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn clear_failures(pool: &PgPool, username: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM login_failures WHERE username = $1", username)
        .execute(pool)
        .await?;
    Ok(())
}

/// Counts an attempt in `bucket` unless `limit` attempts are already in the last `window`; then
/// returns how long until one leaves it. A transaction-scoped advisory lock per bucket makes the
/// check and the insert one step, so concurrent attempts cannot overshoot the limit.
pub async fn take_rate_slot(
    pool: &PgPool,
    bucket: &str,
    limit: u32,
    window: Duration,
) -> Result<Option<Duration>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 7))",
        bucket
    )
    .execute(&mut *tx)
    .await?;
    let remaining = sqlx::query_scalar!(
        r#"SELECT EXTRACT(EPOCH FROM at + make_interval(secs => $3) - now())::float8 AS "secs!"
           FROM rate_events
           WHERE bucket = $1 AND at > now() - make_interval(secs => $3)
           ORDER BY at DESC
           OFFSET $2 LIMIT 1"#,
        bucket,
        i64::from(limit.saturating_sub(1)),
        seconds(window)
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(secs) = remaining {
        tx.rollback().await?;
        return Ok(Some(Duration::from_secs_f64(secs.max(0.0))));
    }
    sqlx::query!("INSERT INTO rate_events (bucket) VALUES ($1)", bucket)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(None)
}

/// Deletes counters older than `keep`; returns how many rows went.
pub async fn purge(pool: &PgPool, keep: Duration) -> Result<u64, sqlx::Error> {
    let failures = sqlx::query!(
        "DELETE FROM login_failures WHERE failed_at < now() - make_interval(secs => $1)",
        seconds(keep)
    )
    .execute(pool)
    .await?;
    let events = sqlx::query!(
        "DELETE FROM rate_events WHERE at < now() - make_interval(secs => $1)",
        seconds(keep)
    )
    .execute(pool)
    .await?;
    Ok(failures.rows_affected() + events.rows_affected())
}
