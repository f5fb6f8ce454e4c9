//! The development mailbox's view of the outbox: the newest mails with their bodies opened, for a
//! local run without a mail server.

use std::sync::Arc;

use sqlx::PgPool;
use time::OffsetDateTime;

use crate::auth::error::AuthError;
use crate::auth::mail::outbox::Outbox;
use crate::db;

/// One mail of the outbox, as a person reading the mailbox sees it.
pub struct QueuedMail {
    pub recipient: String,
    pub subject: String,
    pub created_at: OffsetDateTime,
    pub status: String,
    /// The body, or why it cannot be shown.
    pub body: String,
}

pub struct Mailbox {
    pool: PgPool,
    outbox: Arc<Outbox>,
}

impl Mailbox {
    pub fn new(pool: PgPool, outbox: Arc<Outbox>) -> Self {
        Self { pool, outbox }
    }

    /// Where every link in a mail points.
    pub fn origin(&self) -> &str {
        self.outbox.origin()
    }

    /// The newest `limit` mails, newest first.
    pub async fn recent(&self, limit: i64) -> Result<Vec<QueuedMail>, AuthError> {
        let rows = db::outbox::recent(&self.pool, limit).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let status = match (row.sent_at, row.failed_at) {
                    (Some(_), _) => "sent".to_owned(),
                    (_, Some(_)) => format!("given up after {} attempts", row.attempts),
                    _ if row.attempts > 0 => format!(
                        "waiting: {} failed attempts ({})",
                        row.attempts,
                        row.last_error.unwrap_or_default()
                    ),
                    _ => "waiting".to_owned(),
                };
                let body = row.body_sealed.map_or_else(
                    || "(the body is dropped once sent)".to_owned(),
                    |sealed| {
                        self.outbox
                            .open(row.id, &sealed)
                            .unwrap_or_else(|_| "(does not open: was secret_key changed?)".into())
                    },
                );
                QueuedMail {
                    recipient: row.recipient,
                    subject: row.subject,
                    created_at: row.created_at,
                    status,
                    body,
                }
            })
            .collect())
    }
}
