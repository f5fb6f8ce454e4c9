//! The `sessions` and `refresh_tokens` tables: one session per sign-in, rotating refresh tokens.

use std::net::IpAddr;
use std::time::Duration;

use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

pub struct NewSession<'a> {
    pub user_id: Uuid,
    pub refresh_hash: &'a [u8],
    pub ttl: Duration,
    pub user_agent: Option<&'a str>,
    pub ip: Option<IpAddr>,
    /// How the user proved who they are (RFC 8176 values).
    pub amr: &'a [String],
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Records a sign-in with its first refresh token, in one statement; returns the session's id.
pub async fn insert_session(pool: &PgPool, session: NewSession<'_>) -> Result<Uuid, sqlx::Error> {
    let ip = session.ip.map(|ip| ip.to_string());
    sqlx::query_scalar!(
        r#"WITH s AS (
             INSERT INTO sessions (user_id, expires_at, user_agent, ip, amr)
             VALUES ($1, now() + make_interval(secs => $2), $3, $4::text::inet, $6)
             RETURNING id
           )
           INSERT INTO refresh_tokens (hash, session_id) SELECT $5, id FROM s
           RETURNING session_id"#,
        session.user_id,
        seconds(session.ttl),
        session.user_agent,
        ip,
        session.refresh_hash,
        session.amr
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

/// What presenting a refresh token did.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// A new refresh token was stored for this live session.
    Rotated {
        session_id: Uuid,
        user_id: Uuid,
        username: String,
        amr: Vec<String>,
    },
    /// Unknown token, or its session is revoked or expired.
    Refused,
    /// A spent token came back after the grace window: the session is now revoked.
    ReuseDetected { session_id: Uuid },
}

/// Spends `old_hash` and stores `new_hash` for the same session, with the rules of
/// [`Rotation`]. The token's row is locked, so concurrent refreshes of one token are serialised.
/// Times come from the database's clock, the same for every instance.
pub async fn rotate_refresh_token(
    pool: &PgPool,
    old_hash: &[u8],
    new_hash: &[u8],
    grace: Duration,
    ttl: Duration,
) -> Result<Rotation, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let found = sqlx::query!(
        r#"SELECT rt.session_id, s.user_id, u.username, s.amr,
                  s.revoked_at IS NULL AND s.expires_at > now() AS "live!",
                  rt.spent_at IS NULL AS "unspent!",
                  rt.spent_at > now() - make_interval(secs => $2) AS "in_grace?"
           FROM refresh_tokens rt
           JOIN sessions s ON s.id = rt.session_id
           JOIN users u ON u.id = s.user_id
           WHERE rt.hash = $1
           FOR UPDATE OF rt"#,
        old_hash,
        seconds(grace)
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(found) = found else {
        return Ok(Rotation::Refused);
    };
    if !found.live {
        return Ok(Rotation::Refused);
    }
    if !found.unspent && found.in_grace != Some(true) {
        sqlx::query!(
            "UPDATE sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
            found.session_id
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(Rotation::ReuseDetected {
            session_id: found.session_id,
        });
    }
    if found.unspent {
        sqlx::query!(
            "UPDATE refresh_tokens SET spent_at = now() WHERE hash = $1",
            old_hash
        )
        .execute(&mut *tx)
        .await?;
    }
    // A replay inside the grace window derives the same successor, which exists already: the
    // chain never forks (docs/api.md §3).
    sqlx::query!(
        "INSERT INTO refresh_tokens (hash, session_id) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
        new_hash,
        found.session_id
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE sessions SET last_used_at = now(), expires_at = now() + make_interval(secs => $2)
         WHERE id = $1",
        found.session_id,
        seconds(ttl)
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Rotation::Rotated {
        session_id: found.session_id,
        user_id: found.user_id,
        username: found.username,
        amr: found.amr,
    })
}

/// A live session, for the session list.
#[derive(Debug)]
pub struct SessionInfo {
    pub id: Uuid,
    pub created_at: OffsetDateTime,
    pub last_used_at: OffsetDateTime,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// The user's live sessions, most recently used first.
pub async fn list_sessions(pool: &PgPool, user_id: Uuid) -> Result<Vec<SessionInfo>, sqlx::Error> {
    sqlx::query_as!(
        SessionInfo,
        r#"SELECT id, created_at, last_used_at, user_agent, host(ip) AS ip
           FROM sessions
           WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
           ORDER BY last_used_at DESC, created_at DESC"#,
        user_id
    )
    .fetch_all(pool)
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
         WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()",
        session_id,
        user_id
    )
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Revokes every live session of the user but `keep`; returns their ids.
pub async fn revoke_other_sessions(
    executor: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
    keep: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE sessions SET revoked_at = now()
         WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL
         RETURNING id",
        user_id,
        keep
    )
    .fetch_all(executor)
    .await
}

/// Revokes every live session of the user; returns their ids.
pub async fn revoke_user_sessions(
    executor: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE sessions SET revoked_at = now()
         WHERE user_id = $1 AND revoked_at IS NULL
         RETURNING id",
        user_id
    )
    .fetch_all(executor)
    .await
}

/// Sessions revoked within `within`: what an instance's revocation set must hold.
pub async fn recent_revocations(pool: &PgPool, within: Duration) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT session_id FROM session_revocations
         WHERE revoked_at > now() - make_interval(secs => $1)",
        seconds(within)
    )
    .fetch_all(pool)
    .await
}

/// Sends a message on the revocation channel (heartbeats and acknowledgements; revocations
/// themselves are sent by the trigger).
pub async fn notify_revocations(pool: &PgPool, message: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("SELECT pg_notify('gatehouse_revocations', $1)", message)
        .execute(pool)
        .await?;
    Ok(())
}

/// Deletes sessions that ended more than `keep` ago (their refresh tokens go with them) and old
/// revocation records. Spent refresh tokens of a live session are kept: a replay must be
/// recognised as a reuse for the session's whole life, never become a plain unknown token.
/// Returns the number of sessions deleted.
pub async fn purge_ended(pool: &PgPool, keep: Duration) -> Result<u64, sqlx::Error> {
    let sessions = sqlx::query!(
        "DELETE FROM sessions
         WHERE expires_at < now() - make_interval(secs => $1)
            OR revoked_at < now() - make_interval(secs => $1)",
        seconds(keep)
    )
    .execute(pool)
    .await?;
    sqlx::query!(
        "DELETE FROM session_revocations WHERE revoked_at < now() - make_interval(secs => $1)",
        seconds(keep)
    )
    .execute(pool)
    .await?;
    Ok(sessions.rows_affected())
}

/// Revokes every live session of a user; returns how many.
pub async fn revoke_all_sessions(pool: &PgPool, user_id: Uuid) -> Result<u64, sqlx::Error> {
    let result = sqlx::query!(
        "UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
        user_id
    )
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}

/// Live sessions across all users, for the metrics.
pub async fn count_live(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM sessions WHERE revoked_at IS NULL AND expires_at > now()"#
    )
    .fetch_one(pool)
    .await
}
