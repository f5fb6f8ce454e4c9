//! Second factors: authenticator apps, recovery codes, and sign-ins waiting for a second step.

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// An account's authenticator app.
#[derive(Debug)]
pub struct TotpFactor {
    pub secret_sealed: Vec<u8>,
    pub confirmed: bool,
}

/// Stores a pending (unconfirmed) secret, replacing a pending one; `false` when the account has a
/// confirmed one already (it stays until it is turned off).
pub async fn put_pending_totp(
    pool: &PgPool,
    user_id: Uuid,
    sealed: &[u8],
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        "INSERT INTO totp_factors (user_id, secret_sealed) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE
            SET secret_sealed = EXCLUDED.secret_sealed, created_at = now(), last_step = NULL
            WHERE totp_factors.confirmed_at IS NULL",
        user_id,
        sealed
    )
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn find_totp(
    executor: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
) -> Result<Option<TotpFactor>, sqlx::Error> {
    sqlx::query_as!(
        TotpFactor,
        r#"SELECT secret_sealed, confirmed_at IS NOT NULL AS "confirmed!"
           FROM totp_factors WHERE user_id = $1"#,
        user_id
    )
    .fetch_optional(executor)
    .await
}

/// Accepts a code's step, once: for a pending factor this confirms it; for a confirmed one it
/// must be later than the last accepted step. `false` when the step was used already (a replay),
/// or the factor is not in the expected state.
pub async fn accept_totp_step(
    executor: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
    step: i64,
    confirming: bool,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        "UPDATE totp_factors
            SET last_step = $2, confirmed_at = COALESCE(confirmed_at, now())
          WHERE user_id = $1
            AND (confirmed_at IS NULL) = $3
            AND (last_step IS NULL OR last_step < $2)",
        user_id,
        step,
        confirming
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Removes the authenticator app and the recovery codes (the caller keeps the codes while a
/// passkey remains); `true` when there was a confirmed app.
pub async fn delete_second_factors(
    conn: &mut sqlx::PgConnection,
    user_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let removed = sqlx::query_scalar!(
        r#"DELETE FROM totp_factors WHERE user_id = $1 RETURNING confirmed_at IS NOT NULL AS "confirmed!""#,
        user_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    sqlx::query!("DELETE FROM recovery_codes WHERE user_id = $1", user_id)
        .execute(conn)
        .await?;
    Ok(removed == Some(true))
}

/// Deletes the account's authenticator app only.
pub async fn delete_totp(conn: &mut sqlx::PgConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM totp_factors WHERE user_id = $1", user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Replaces the account's recovery codes with these (their digests).
/// In the caller's transaction, with the change that makes them.
pub async fn replace_recovery_codes(
    conn: &mut sqlx::PgConnection,
    user_id: Uuid,
    digests: &[Vec<u8>],
) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM recovery_codes WHERE user_id = $1", user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        "INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, unnest($2::bytea[])",
        user_id,
        digests
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Spends a recovery code; `false` when it is unknown or used.
pub async fn use_recovery_code(
    pool: &PgPool,
    user_id: Uuid,
    digest: &[u8],
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        "UPDATE recovery_codes SET used_at = now()
          WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
        user_id,
        digest
    )
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn recovery_codes_left(pool: &PgPool, user_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL"#,
        user_id
    )
    .fetch_one(pool)
    .await
}

/// Opens a sign-in's wait for its second factor.
pub async fn insert_challenge(
    pool: &PgPool,
    token_hash: &[u8],
    user_id: Uuid,
    next_path: Option<&str>,
    ttl: Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO mfa_challenges (token_hash, user_id, next_path, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
        token_hash,
        user_id,
        next_path,
        seconds(ttl)
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// A live challenge: unspent, unexpired, with fewer than `max_failures` wrong codes.
#[derive(Debug)]
pub struct Challenge {
    pub user_id: Uuid,
    pub next_path: Option<String>,
}

pub async fn find_live_challenge(
    pool: &PgPool,
    token_hash: &[u8],
    max_failures: i32,
) -> Result<Option<Challenge>, sqlx::Error> {
    sqlx::query_as!(
        Challenge,
        "SELECT user_id, next_path FROM mfa_challenges
          WHERE token_hash = $1 AND spent_at IS NULL AND expires_at > now() AND failures < $2",
        token_hash,
        max_failures
    )
    .fetch_optional(pool)
    .await
}

/// Spends a live challenge; `false` when another request spent it first.
pub async fn spend_challenge(
    pool: &PgPool,
    token_hash: &[u8],
    max_failures: i32,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        "UPDATE mfa_challenges SET spent_at = now()
          WHERE token_hash = $1 AND spent_at IS NULL AND expires_at > now() AND failures < $2",
        token_hash,
        max_failures
    )
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Counts a wrong code against a challenge (it dies at `max_failures`).
pub async fn record_challenge_failure(pool: &PgPool, token_hash: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE mfa_challenges SET failures = failures + 1 WHERE token_hash = $1",
        token_hash
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Kills every pending challenge of an account (its code throttle tripped).
pub async fn kill_challenges(
    executor: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE mfa_challenges SET spent_at = now() WHERE user_id = $1 AND spent_at IS NULL",
        user_id
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Deletes challenges that ended more than `keep` ago.
pub async fn purge_challenges(pool: &PgPool, keep: Duration) -> Result<u64, sqlx::Error> {
    let result = sqlx::query!(
        "DELETE FROM mfa_challenges WHERE expires_at < now() - make_interval(secs => $1)",
        seconds(keep)
    )
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}
