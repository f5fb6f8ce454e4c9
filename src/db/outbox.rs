//! The mail outbox: written with the change a mail tells of, drained by any instance.

use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The channel that wakes the delivery workers; the notification goes out when the transaction
/// that queued the mail commits, not before.
pub const CHANNEL: &str = "gatehouse_mail";

/// Queues a mail (inside the caller's transaction) and wakes the workers at its commit.
pub async fn enqueue(
    conn: &mut PgConnection,
    id: Uuid,
    recipient: &str,
    subject: &str,
    body_sealed: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO mail_outbox (id, recipient, subject, body_sealed) VALUES ($1, $2, $3, $4)",
        id,
        recipient,
        subject,
        body_sealed
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!("SELECT pg_notify('gatehouse_mail', '')")
        .execute(conn)
        .await?;
    Ok(())
}

/// A mail due for an attempt, locked by the caller's transaction until it commits.
#[derive(Debug)]
pub struct DueMail {
    pub id: Uuid,
    pub recipient: String,
    pub subject: String,
    pub body_sealed: Vec<u8>,
    pub attempts: i32,
}

/// The oldest due mail no other worker holds (`FOR UPDATE SKIP LOCKED`): two workers never hold
/// the same row, and a row is marked sent in the transaction that locked it.
pub async fn lock_next_due(conn: &mut PgConnection) -> Result<Option<DueMail>, sqlx::Error> {
    sqlx::query_as!(
        DueMail,
        r#"SELECT id, recipient, subject, body_sealed AS "body_sealed!", attempts
           FROM mail_outbox
           WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now()
             AND body_sealed IS NOT NULL
           ORDER BY next_attempt_at
           LIMIT 1
           FOR UPDATE SKIP LOCKED"#
    )
    .fetch_optional(conn)
    .await
}

/// Marks a mail sent and drops its body (it carried live links).
pub async fn mark_sent(conn: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE mail_outbox SET sent_at = now(), body_sealed = NULL, attempts = attempts + 1,
            last_error = NULL
         WHERE id = $1",
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a failed attempt: retried after `retry_in`, or given up (`failed_at`) when `give_up`.
pub async fn mark_failed(
    conn: &mut PgConnection,
    id: Uuid,
    error: &str,
    retry_in: Duration,
    give_up: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE mail_outbox
         SET attempts = attempts + 1, last_error = $2,
             next_attempt_at = now() + make_interval(secs => $3),
             failed_at = CASE WHEN $4 THEN now() END,
             body_sealed = CASE WHEN $4 THEN NULL ELSE body_sealed END
         WHERE id = $1",
        id,
        error,
        seconds(retry_in),
        give_up
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A row of the outbox, for the debug mailbox.
#[derive(Debug)]
pub struct OutboxEntry {
    pub id: Uuid,
    pub recipient: String,
    pub subject: String,
    pub body_sealed: Option<Vec<u8>>,
    pub created_at: OffsetDateTime,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub sent_at: Option<OffsetDateTime>,
    pub failed_at: Option<OffsetDateTime>,
}

/// The newest `limit` mails.
pub async fn recent(pool: &PgPool, limit: i64) -> Result<Vec<OutboxEntry>, sqlx::Error> {
    sqlx::query_as!(
        OutboxEntry,
        "SELECT id, recipient, subject, body_sealed, created_at, attempts, last_error, sent_at,
                failed_at
         FROM mail_outbox ORDER BY created_at DESC LIMIT $1",
        limit
    )
    .fetch_all(pool)
    .await
}

/// Deletes mails sent or given up more than `keep` ago; returns how many went.
pub async fn purge(pool: &PgPool, keep: Duration) -> Result<u64, sqlx::Error> {
    let result = sqlx::query!(
        "DELETE FROM mail_outbox
         WHERE COALESCE(sent_at, failed_at) < now() - make_interval(secs => $1)",
        seconds(keep)
    )
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}
