//! Addresses, the tokens mailed to them, and the clients an account has signed in from.

use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::EmailAddress;

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The unique index behind "this address belongs to another account".
pub const EMAIL_UNIQUE: &str = "users_email_lower_key";

/// What a mailed token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Verify,
    Reset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Reset => "reset",
        }
    }
}

/// An account's address as `GET /me` shows it.
#[derive(Debug, Clone, Default)]
pub struct AddressStatus {
    /// The verified address, if any.
    pub verified: Option<String>,
    /// The newest address waiting for its link to be followed.
    pub pending: Option<String>,
}

/// The verified address of an account.
pub async fn verified_address(
    conn: &mut PgConnection,
    user_id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    Ok(
        sqlx::query_scalar!("SELECT email FROM users WHERE id = $1", user_id)
            .fetch_optional(conn)
            .await?
            .flatten(),
    )
}

pub async fn address_status(pool: &PgPool, user_id: Uuid) -> Result<AddressStatus, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT u.email,
                  (SELECT t.email FROM email_tokens t
                   WHERE t.user_id = u.id AND t.purpose = 'verify' AND t.used_at IS NULL
                     AND t.expires_at > now()
                   ORDER BY t.created_at DESC LIMIT 1) AS pending
           FROM users u WHERE u.id = $1"#,
        user_id
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map_or_else(AddressStatus::default, |r| AddressStatus {
        verified: r.email,
        pending: r.pending,
    }))
}

/// Whether an account other than `user_id` has verified this address.
pub async fn verified_by_another(
    conn: &mut PgConnection,
    address: &EmailAddress,
    user_id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = $1 AND id <> $2) AS "taken!""#,
        address.canonical(),
        user_id
    )
    .fetch_one(conn)
    .await
}

/// The account a forgotten-password request names, by username or verified address, with the
/// address to mail.
#[derive(Debug)]
pub struct RecoverableAccount {
    pub id: Uuid,
    pub username: String,
    pub email: Option<String>,
}

pub async fn find_by_login(
    pool: &PgPool,
    login: &str,
) -> Result<Option<RecoverableAccount>, sqlx::Error> {
    sqlx::query_as!(
        RecoverableAccount,
        "SELECT id, username, email FROM users
         WHERE lower(username) = lower($1) OR lower(email) = lower($1)
         ORDER BY lower(username) = lower($1) DESC
         LIMIT 1",
        login
    )
    .fetch_optional(pool)
    .await
}

/// Stores a mailed token's digest.
pub async fn insert_token(
    conn: &mut PgConnection,
    digest: &[u8],
    user_id: Uuid,
    purpose: Purpose,
    email: Option<&EmailAddress>,
    ttl: Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO email_tokens (token_hash, user_id, purpose, email, expires_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
        digest,
        user_id,
        purpose.as_str(),
        email.map(EmailAddress::as_str),
        seconds(ttl)
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A live (unused, unexpired) token.
#[derive(Debug)]
pub struct LiveToken {
    pub user_id: Uuid,
    pub username: String,
    pub email: Option<String>,
}

/// The live token with this digest and purpose, without spending it.
pub async fn find_live_token(
    pool: &PgPool,
    digest: &[u8],
    purpose: Purpose,
) -> Result<Option<LiveToken>, sqlx::Error> {
    sqlx::query_as!(
        LiveToken,
        "SELECT t.user_id, u.username, t.email FROM email_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = $1 AND t.purpose = $2 AND t.used_at IS NULL AND t.expires_at > now()",
        digest,
        purpose.as_str()
    )
    .fetch_optional(pool)
    .await
}

/// Spends a live token and every other live token of its account for the same purpose (a newer
/// verification or reset supersedes older links); `None` when it was not live, so of two
/// concurrent uses exactly one gets it.
pub async fn spend_token(
    conn: &mut PgConnection,
    digest: &[u8],
    purpose: Purpose,
) -> Result<Option<LiveToken>, sqlx::Error> {
    let Some(token) = sqlx::query_as!(
        LiveToken,
        r#"UPDATE email_tokens t SET used_at = now()
           FROM users u
           WHERE u.id = t.user_id AND t.token_hash = $1 AND t.purpose = $2
             AND t.used_at IS NULL AND t.expires_at > now()
           RETURNING t.user_id, u.username, t.email"#,
        digest,
        purpose.as_str()
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    sqlx::query!(
        "UPDATE email_tokens SET used_at = now()
         WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL",
        token.user_id,
        purpose.as_str()
    )
    .execute(conn)
    .await?;
    Ok(Some(token))
}

/// Makes `address` the account's verified address; fails with a unique violation on
/// [`EMAIL_UNIQUE`] when another account verified it first.
pub async fn set_verified_address(
    conn: &mut PgConnection,
    user_id: Uuid,
    address: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE users SET email = $2, email_verified_at = now(), updated_at = now() WHERE id = $1",
        user_id,
        address
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Remembers a client of an account; `true` when it had not been seen before.
pub async fn remember_client(
    conn: &mut PgConnection,
    user_id: Uuid,
    digest: &[u8],
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO known_clients (user_id, digest) VALUES ($1, $2)
           ON CONFLICT (user_id, digest) DO UPDATE SET last_seen = now()
           RETURNING (xmax = 0) AS "inserted!""#,
        user_id,
        digest
    )
    .fetch_one(conn)
    .await
}

/// Deletes tokens dead for longer than `keep`; returns how many went.
pub async fn purge_tokens(pool: &PgPool, keep: Duration) -> Result<u64, sqlx::Error> {
    let result = sqlx::query!(
        "DELETE FROM email_tokens WHERE expires_at < now() - make_interval(secs => $1)",
        seconds(keep)
    )
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}
