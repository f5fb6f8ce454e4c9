//! Passkeys and the WebAuthn ceremonies in progress.

use std::time::Duration;

use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The unique index behind "this credential is registered already".
pub const CREDENTIAL_UNIQUE: &str = "passkeys_credential_id_key";

/// A passkey as its owner sees it.
#[derive(Debug, Clone)]
pub struct PasskeyInfo {
    pub id: Uuid,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

/// A stored passkey with webauthn-rs's record of it.
#[derive(Debug)]
pub struct StoredPasskey {
    pub id: Uuid,
    pub user_id: Uuid,
    pub passkey: serde_json::Value,
}

pub async fn insert(
    executor: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
    credential_id: &[u8],
    name: &str,
    passkey: &serde_json::Value,
) -> Result<PasskeyInfo, sqlx::Error> {
    sqlx::query_as!(
        PasskeyInfo,
        "INSERT INTO passkeys (user_id, credential_id, name, passkey) VALUES ($1, $2, $3, $4)
         RETURNING id, name, created_at, last_used_at",
        user_id,
        credential_id,
        name,
        passkey
    )
    .fetch_one(executor)
    .await
}

pub async fn list(pool: &PgPool, user_id: Uuid) -> Result<Vec<PasskeyInfo>, sqlx::Error> {
    sqlx::query_as!(
        PasskeyInfo,
        "SELECT id, name, created_at, last_used_at FROM passkeys WHERE user_id = $1
         ORDER BY created_at",
        user_id
    )
    .fetch_all(pool)
    .await
}

pub async fn count(executor: impl sqlx::PgExecutor<'_>, user_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM passkeys WHERE user_id = $1"#,
        user_id
    )
    .fetch_one(executor)
    .await
}

/// Every passkey of an account (for a second step, and to exclude them at registration).
pub async fn of_user(pool: &PgPool, user_id: Uuid) -> Result<Vec<StoredPasskey>, sqlx::Error> {
    sqlx::query_as!(
        StoredPasskey,
        "SELECT id, user_id, passkey FROM passkeys WHERE user_id = $1",
        user_id
    )
    .fetch_all(pool)
    .await
}

pub async fn find_by_credential(
    pool: &PgPool,
    credential_id: &[u8],
) -> Result<Option<StoredPasskey>, sqlx::Error> {
    sqlx::query_as!(
        StoredPasskey,
        "SELECT id, user_id, passkey FROM passkeys WHERE credential_id = $1",
        credential_id
    )
    .fetch_optional(pool)
    .await
}

/// Keeps the record after a use (its counter and backup state) and when it was used.
pub async fn record_use(
    pool: &PgPool,
    id: Uuid,
    passkey: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE passkeys SET passkey = $2, last_used_at = now() WHERE id = $1",
        id,
        passkey
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletes one of the account's passkeys; `false` when it has no such passkey.
pub async fn delete(
    executor: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        "DELETE FROM passkeys WHERE id = $1 AND user_id = $2",
        id,
        user_id
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn delete_all(
    executor: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
) -> Result<u64, sqlx::Error> {
    let result = sqlx::query!("DELETE FROM passkeys WHERE user_id = $1", user_id)
        .execute(executor)
        .await?;
    Ok(result.rows_affected())
}

/// A ceremony's stored state.
#[derive(Debug)]
pub struct Ceremony {
    pub user_id: Option<Uuid>,
    pub mfa_token_hash: Option<Vec<u8>>,
    pub state: serde_json::Value,
}

pub async fn insert_ceremony(
    pool: &PgPool,
    id: Uuid,
    purpose: &str,
    user_id: Option<Uuid>,
    mfa_token_hash: Option<&[u8]>,
    state: &serde_json::Value,
    ttl: Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO webauthn_challenges (id, purpose, user_id, mfa_token_hash, state, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
        id,
        purpose,
        user_id,
        mfa_token_hash,
        state,
        seconds(ttl)
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Spends a live ceremony of this purpose: of two concurrent finishes, one gets it.
pub async fn spend_ceremony(
    pool: &PgPool,
    id: Uuid,
    purpose: &str,
) -> Result<Option<Ceremony>, sqlx::Error> {
    sqlx::query_as!(
        Ceremony,
        "UPDATE webauthn_challenges SET spent_at = now()
         WHERE id = $1 AND purpose = $2 AND spent_at IS NULL AND expires_at > now()
         RETURNING user_id, mfa_token_hash, state",
        id,
        purpose
    )
    .fetch_optional(pool)
    .await
}

pub async fn purge_ceremonies(pool: &PgPool, keep: Duration) -> Result<u64, sqlx::Error> {
    let result = sqlx::query!(
        "DELETE FROM webauthn_challenges WHERE expires_at < now() - make_interval(secs => $1)",
        seconds(keep)
    )
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}
