//! The server's signing keys.

use sqlx::PgPool;
use time::OffsetDateTime;

/// One key as stored (or about to be: a new key is one with `revoked_at` unset).
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    pub private_sealed: Vec<u8>,
    pub public_jwk: serde_json::Value,
    pub publish_at: OffsetDateTime,
    pub activate_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

/// Every key, newest activation first.
pub async fn list_keys(executor: impl sqlx::PgExecutor<'_>) -> Result<Vec<StoredKey>, sqlx::Error> {
    sqlx::query_as!(
        StoredKey,
        "SELECT kid, alg, private_sealed, public_jwk, publish_at, activate_at, revoked_at
           FROM signing_keys ORDER BY activate_at DESC, created_at DESC"
    )
    .fetch_all(executor)
    .await
}

/// The database's clock, the same for every instance.
pub async fn now(executor: impl sqlx::PgExecutor<'_>) -> Result<OffsetDateTime, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT now() AS "now!""#)
        .fetch_one(executor)
        .await
}

/// Runs `decide` on the keys under a transaction-scoped advisory lock, and inserts the key it
/// returns: several instances deciding at once add one key, not one each.
pub async fn add_key_if<F>(pool: &PgPool, decide: F) -> Result<bool, sqlx::Error>
where
    F: FnOnce(&[StoredKey], OffsetDateTime) -> Option<StoredKey>,
{
    let mut tx = pool.begin().await?;
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtextextended('gatehouse signing keys', 0))")
        .execute(&mut *tx)
        .await?;
    let now = now(&mut *tx).await?;
    let keys = list_keys(&mut *tx).await?;
    let Some(key) = decide(&keys, now) else {
        tx.rollback().await?;
        return Ok(false);
    };
    sqlx::query!(
        "INSERT INTO signing_keys (kid, alg, private_sealed, public_jwk, publish_at, activate_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        key.kid,
        key.alg,
        key.private_sealed,
        key.public_jwk,
        key.publish_at,
        key.activate_at
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("SELECT pg_notify('gatehouse_revocations', 'keys')")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Revokes a key; every instance is told at commit. `false` when there is no such live key.
pub async fn revoke_key(pool: &PgPool, kid: &str) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let result = sqlx::query!(
        "UPDATE signing_keys SET revoked_at = now() WHERE kid = $1 AND revoked_at IS NULL",
        kid
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("SELECT pg_notify('gatehouse_revocations', 'keys')")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(result.rows_affected() == 1)
}
