//! The outbox's worker: sends queued mail over SMTP (`lettre`), on every instance at once.
//!
//! Each mail is locked with `FOR UPDATE SKIP LOCKED` in a transaction that also marks it sent,
//! so two workers never send the same mail, and a mail is marked sent only once the SMTP server
//! took it. A crash between the server's answer and the commit can send a mail twice; its
//! `Message-ID` is the outbox row's, so receivers that deduplicate see it once. A failed attempt
//! is retried with doubling waits; a permanent refusal (5xx) or the last attempt gives up.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::PgPool;
use sqlx::postgres::PgListener;

use crate::auth::mail::outbox::Outbox;
use crate::config::Settings;
use crate::db;
use crate::db::outbox::DueMail;

/// Attempts before a mail is given up.
const MAX_ATTEMPTS: i32 = 12;
/// The longest wait between two attempts.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(60 * 60);
/// How long one SMTP exchange may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);
/// How often a worker looks for due retries (and for mail whose notification it missed).
const POLL_EVERY: Duration = Duration::from_secs(1);

/// Why a mail could not be sent, and whether trying again may help.
#[derive(Debug)]
struct Failure {
    reason: String,
    permanent: bool,
}

pub struct Delivery {
    pool: PgPool,
    outbox: Arc<Outbox>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    retry_initial: Duration,
    /// The domain of the `Message-ID`s.
    domain: String,
}

/// Why delivery cannot start.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("smtp_url is not usable: {0}")]
    Url(#[from] lettre::transport::smtp::Error),
    #[error("mail_from is not an address: {0}")]
    From(#[from] lettre::address::AddressError),
}

impl Delivery {
    /// The worker for `smtp_url`; `None` without one (mail then waits in the outbox).
    pub fn new(
        settings: &Settings,
        pool: PgPool,
        outbox: Arc<Outbox>,
    ) -> Result<Option<Self>, DeliveryError> {
        let Some(url) = &settings.mail.smtp_url else {
            return Ok(None);
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        let domain = outbox
            .origin()
            .split_once("://")
            .map_or("localhost", |(_, host)| host)
            .split(':')
            .next()
            .unwrap_or("localhost")
            .to_owned();
        Ok(Some(Self {
            pool,
            outbox,
            transport,
            from: settings.mail.mail_from.parse()?,
            retry_initial: settings.mail.mail_retry_initial,
            domain,
        }))
    }

    /// Sends what is due, then waits for a notification (a mail was queued anywhere) or the next
    /// poll, until `shutdown`.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut listener = None;
        loop {
            if listener.is_none() {
                listener = self.listen().await;
            }
            self.drain().await;
            let woken = async {
                match listener.as_mut() {
                    Some(l) => match l.try_recv().await {
                        Ok(Some(_)) => {}
                        // The connection dropped: listen again, and meanwhile poll.
                        Ok(None) | Err(_) => {
                            listener = None;
                            tokio::time::sleep(POLL_EVERY).await;
                        }
                    },
                    None => tokio::time::sleep(POLL_EVERY).await,
                }
            };
            tokio::select! {
                () = woken => {}
                () = tokio::time::sleep(POLL_EVERY) => {}
                () = &mut shutdown => break,
            }
        }
    }

    async fn listen(&self) -> Option<PgListener> {
        let mut listener = PgListener::connect_with(&self.pool).await.ok()?;
        listener.listen(db::outbox::CHANNEL).await.ok()?;
        Some(listener)
    }

    /// Sends every due mail no other worker holds.
    async fn drain(&self) {
        loop {
            match self.send_next().await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    log::warn!("mail: the outbox could not be read: {e}");
                    break;
                }
            }
        }
    }

    /// Sends the next due mail; `false` when none is due.
    async fn send_next(&self) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let Some(mail) = db::outbox::lock_next_due(&mut tx).await? else {
            return Ok(false);
        };
        match self.send(&mail).await {
            Ok(()) => {
                db::outbox::mark_sent(&mut tx, mail.id).await?;
                log::info!("mail {} sent", mail.id);
            }
            Err(failure) => {
                let attempts = mail.attempts + 1;
                let give_up = failure.permanent || attempts >= MAX_ATTEMPTS;
                let wait = self
                    .retry_initial
                    .saturating_mul(1 << attempts.clamp(1, 16).saturating_sub(1))
                    .min(MAX_RETRY_WAIT);
                db::outbox::mark_failed(&mut tx, mail.id, &failure.reason, wait, give_up).await?;
                if give_up {
                    log::error!(
                        "mail {} given up after {attempts} attempts: {}",
                        mail.id,
                        failure.reason
                    );
                } else {
                    log::warn!(
                        "mail {} attempt {attempts} failed, retrying in {}s: {}",
                        mail.id,
                        wait.as_secs(),
                        failure.reason
                    );
                }
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn send(&self, mail: &DueMail) -> Result<(), Failure> {
        let permanent = |reason: String| Failure {
            reason,
            permanent: true,
        };
        let body = self
            .outbox
            .open(mail.id, &mail.body_sealed)
            .map_err(|e| permanent(e.to_string()))?;
        let to: Mailbox = mail
            .recipient
            .parse()
            .map_err(|_| permanent("the recipient is not an address".into()))?;
        let message = Message::builder()
            .message_id(Some(format!("<{}@{}>", mail.id, self.domain)))
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| permanent(e.to_string()))?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|e| Failure {
                permanent: e.is_permanent(),
                reason: e.to_string(),
            })
    }
}
