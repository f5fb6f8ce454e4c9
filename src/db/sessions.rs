//! The `sessions` table: one row per sign-in.

use std::net::IpAddr;

use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

pub struct NewSession<'a> {
    pub user_id: Uuid,
    pub refresh_hash: &'a [u8],
    pub expires_at: OffsetDateTime,
    pub user_agent: Option<&'a str>,
    pub ip: Option<IpAddr>,
}

/// Records a sign-in and returns the new session's id.
pub async fn insert_session(pool: &PgPool, session: NewSession<'_>) -> Result<Uuid, sqlx::Error> {
    let ip = session.ip.map(|ip| ip.to_string());
    sqlx::query_scalar!(
        "INSERT INTO sessions (user_id, refresh_hash, expires_at, user_agent, ip)
         VALUES ($1, $2, $3, $4, $5::text::inet) RETURNING id",
        session.user_id,
        session.refresh_hash,
        session.expires_at,
        session.user_agent,
        ip
    )
    .fetch_one(pool)
    .await
}

/// The username of the owner of a live session, if the session is live and owned by `user_id`.
pub async fn find_live_session_user(
    pool: &PgPool,
    session_id: Uuid,
    user_id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT u.username FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > now()",
        session_id,
        user_id
    )
    .fetch_optional(pool)
    .await
}

/// Marks a session revoked. Returns whether a live session of this user was revoked.
pub async fn revoke_session(
    pool: &PgPool,
    session_id: Uuid,
    user_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        "UPDATE sessions SET revoked_at = now()
         WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
        session_id,
        user_id
    )
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}
