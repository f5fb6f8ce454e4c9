//! Throttling counters: failed sign-ins per username, attempts per client IP.

use std::time::Duration;

use sqlx::PgPool;

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Reserves an attempt for `username` unless `limit` failures are already in the sliding
/// `window`; then returns how long until the oldest that counts leaves it. The reservation is a
/// failure row, written before the password is checked and deleted (with the others) when the
/// password matches: attempts in flight count, so concurrent attempts cannot overshoot the limit.
/// A transaction-scoped advisory lock per username makes the check and the insert one step, on
/// every instance.
pub async fn reserve_attempt(
    pool: &PgPool,
    username: &str,
    limit: u32,
    window: Duration,
) -> Result<Option<Duration>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 11))",
        username
    )
    .execute(&mut *tx)
    .await?;
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
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(secs) = remaining {
        tx.rollback().await?;
        return Ok(Some(Duration::from_secs_f64(secs.max(0.0))));
    }
    sqlx::query!(
        "INSERT INTO login_failures (username) VALUES ($1)",
        username
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(None)
}

/// Takes back one reserved attempt of `username` whose check never happened (the hashing queue
/// was full): being turned away must not count as a failed password.
pub async fn release_attempt(pool: &PgPool, username: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM login_failures WHERE ctid IN
            (SELECT ctid FROM login_failures WHERE username = $1 ORDER BY failed_at DESC LIMIT 1)",
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
