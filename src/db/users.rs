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
    pool: &PgPool,
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
    .fetch_one(pool)
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

pub async fn find_user(pool: &PgPool, id: Uuid) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as!(
        User,
        "SELECT id, username, created_at FROM users WHERE id = $1",
        id
    )
    .fetch_optional(pool)
    .await
}
