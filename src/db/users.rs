//! The `users` table.

use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::Username;

/// The unique index behind "username taken".
pub const USERNAME_UNIQUE: &str = "users_username_lower_key";

#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub created_at: OffsetDateTime,
}

#[derive(Debug)]
pub struct StoredCredentials {
    pub id: Uuid,
    pub username: String,
    pub password_hash: String,
}

/// Inserts a user; a duplicate name fails with a unique violation on [`USERNAME_UNIQUE`].
pub async fn insert_user(
    executor: impl sqlx::PgExecutor<'_>,
    username: &Username,
    password_hash: &str,
) -> Result<User, sqlx::Error> {
    sqlx::query_as!(
        User,
        "INSERT INTO users (username, password_hash) VALUES ($1, $2)
         RETURNING id, username, created_at",
        username.as_str(),
        password_hash
    )
    .fetch_one(executor)
    .await
}

/// The credentials of the account with this name, in any letter case.
pub async fn find_credentials(
    pool: &PgPool,
    username: &Username,
) -> Result<Option<StoredCredentials>, sqlx::Error> {
    sqlx::query_as!(
        StoredCredentials,
        "SELECT id, username, password_hash FROM users WHERE lower(username) = $1",
        username.canonical()
    )
    .fetch_optional(pool)
    .await
}

pub async fn find_user(
    executor: impl sqlx::PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as!(
        User,
        "SELECT id, username, created_at FROM users WHERE id = $1",
        id
    )
    .fetch_optional(executor)
    .await
}

/// The stored hash and name of a user, by id.
pub async fn find_credentials_by_id(
    pool: &PgPool,
    id: Uuid,
) -> Result<Option<StoredCredentials>, sqlx::Error> {
    sqlx::query_as!(
        StoredCredentials,
        "SELECT id, username, password_hash FROM users WHERE id = $1",
        id
    )
    .fetch_optional(pool)
    .await
}

/// Replaces a user's password hash and revokes every other session of theirs, in the caller's
/// transaction; returns the revoked sessions' ids.
pub async fn change_password(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    password_hash: &str,
    keep_session: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    set_password_hash(&mut *conn, id, password_hash).await?;
    crate::db::sessions::revoke_other_sessions(conn, id, keep_session).await
}

/// Sets a new password hash (a reset), in the caller's transaction.
pub async fn set_password_hash(
    executor: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
        id,
        password_hash
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Replaces a hash made at an old cost with one at the configured cost, unless the password
/// changed meanwhile; `true` when replaced.
pub async fn upgrade_password_hash(
    pool: &PgPool,
    id: Uuid,
    old_hash: &str,
    new_hash: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
        id,
        old_hash,
        new_hash
    )
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Deletes a user; their sessions and refresh tokens go with them (ON DELETE CASCADE). Returns
/// the ids of the sessions that were live.
pub async fn delete_user(pool: &PgPool, id: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"WITH live AS (SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL),
                gone AS (DELETE FROM users WHERE id = $1)
           SELECT id AS "id!" FROM live"#,
        id
    )
    .fetch_all(pool)
    .await
}

/// A user row for the admin listing.
#[derive(Debug)]
pub struct UserSummary {
    pub id: Uuid,
    pub username: String,
    pub created_at: OffsetDateTime,
    pub live_sessions: i64,
}

pub async fn list_users(pool: &PgPool) -> Result<Vec<UserSummary>, sqlx::Error> {
    sqlx::query_as!(
        UserSummary,
        r#"SELECT u.id, u.username, u.created_at,
                  (SELECT count(*) FROM sessions s
                   WHERE s.user_id = u.id AND s.revoked_at IS NULL AND s.expires_at > now())
                  AS "live_sessions!"
           FROM users u ORDER BY u.created_at, u.username"#
    )
    .fetch_all(pool)
    .await
}

/// Inserts a user with an existing hash unless the name is taken (in any letter case); returns
/// whether a row was inserted. Used by the seed import, so running it twice imports nothing twice.
pub async fn insert_user_if_absent(
    pool: &PgPool,
    username: &Username,
    password_hash: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        "INSERT INTO users (username, password_hash) VALUES ($1, $2)
         ON CONFLICT (lower(username)) DO NOTHING",
        username.as_str(),
        password_hash
    )
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}
