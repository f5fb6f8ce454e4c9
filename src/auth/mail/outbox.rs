//! The outbox: every mail the server sends is composed here and queued in the caller's
//! transaction, so it exists exactly when the change it tells of does (docs/api.md §7).
//! A worker on any instance sends it (`delivery.rs`). Bodies carry live links, so they are sealed
//! at rest under a key derived from `secret_key`; no mail ever carries a password.

use std::time::Duration;

use askama::Template;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::auth::keys::master::{Sealer, Unsealable};
use crate::db;

/// How long a verification link works.
pub const VERIFY_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a reset link works.
pub const RESET_TTL: Duration = Duration::from_secs(30 * 60);

/// A change the account's verified address is told of.
#[derive(Debug, Clone)]
pub enum Notice {
    PasswordChanged,
    PasswordReset,
    /// Sent to the old address when a new one is asked for.
    EmailChangeRequested,
    FactorAdded(&'static str),
    FactorRemoved(&'static str),
    /// A sign-in from a browser or client not seen before on this account.
    NewClient {
        user_agent: Option<String>,
    },
}

/// A mail, before it is written.
#[derive(Debug)]
pub enum Mail<'a> {
    /// The link that verifies a new address.
    VerifyAddress {
        token: &'a str,
    },
    /// Someone asked to use an address another account has verified: it is told so, and
    /// nothing is linked (no enumeration through email, docs/api.md §7).
    AddressTaken,
    /// The link that resets a forgotten password.
    ResetPassword {
        token: &'a str,
    },
    Notice(Notice),
}

#[derive(Template)]
#[template(path = "mail/message.txt")]
struct MessageText<'a> {
    username: &'a str,
    paragraphs: Vec<String>,
    link: Option<String>,
    footnote: Option<&'static str>,
    origin: &'a str,
}

/// A user agent as a mail may show it: printable ASCII, cut short, so a crafted one cannot
/// write a convincing paragraph or link of its own into our mail.
fn shown_user_agent(user_agent: Option<&str>) -> String {
    let cleaned: String = user_agent
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(80)
        .collect();
    if cleaned.trim().is_empty() {
        "an unnamed client".to_owned()
    } else {
        format!("\"{}\"", cleaned.trim())
    }
}

pub struct Outbox {
    sealer: Sealer,
    /// `public_origin`: every link points here.
    origin: String,
}

impl Outbox {
    pub fn new(sealer: Sealer, public_origin: String) -> Self {
        Self {
            sealer,
            origin: public_origin,
        }
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Subject and body of a mail to `username`.
    fn compose(&self, username: &str, mail: &Mail<'_>) -> (&'static str, String) {
        let no_action = "If this was you, there is nothing to do. If it was not, reset your \
                         password at once and check the sessions on your dashboard.";
        let (subject, paragraphs, link, footnote): (_, Vec<String>, _, _) = match mail {
            Mail::VerifyAddress { token } => (
                "Confirm your email address",
                vec![
                    "Someone, probably you, asked to use this address for a Gatehouse account. \
                     To confirm it, open the link below and press the button on that page. \
                     The link works once, for 24 hours."
                        .into(),
                ],
                Some(format!("{}/email/verify?token={token}", self.origin)),
                Some("If you did not ask for this, ignore this mail: nothing changes."),
            ),
            Mail::AddressTaken => (
                "This address already belongs to an account",
                vec![
                    "Someone asked to use this address for a Gatehouse account, but it already \
                     belongs to an account, so it was not linked to another one."
                        .into(),
                    format!(
                        "If you have forgotten your password, you can reset it at \
                         {}/password/forgot",
                        self.origin
                    ),
                ],
                None,
                Some("If you did not ask for this, ignore this mail: nothing changes."),
            ),
            Mail::ResetPassword { token } => (
                "Reset your password",
                vec![
                    "Someone, probably you, asked to reset the password of this account. To \
                     choose a new one, open the link below. It works once, for 30 minutes. \
                     Every session of the account ends when the password is reset."
                        .into(),
                ],
                Some(format!("{}/password/reset?token={token}", self.origin)),
                Some("If you did not ask for this, ignore this mail: your password stays."),
            ),
            Mail::Notice(notice) => {
                let (subject, what) = match notice {
                    Notice::PasswordChanged => (
                        "Your password was changed",
                        "The password of your account was changed; every other session \
                         was signed out."
                            .to_owned(),
                    ),
                    Notice::PasswordReset => (
                        "Your password was reset",
                        "The password of your account was reset through a link mailed to \
                         this address; every session was signed out."
                            .to_owned(),
                    ),
                    Notice::EmailChangeRequested => (
                        "Your email address is being changed",
                        "Someone signed in to your account asked to use a new email address \
                         for it. This address stays until the new one is confirmed."
                            .to_owned(),
                    ),
                    Notice::FactorAdded(factor) => (
                        "A sign-in method was added",
                        format!("{factor} was added to your account as a way to sign in."),
                    ),
                    Notice::FactorRemoved(factor) => (
                        "A sign-in method was removed",
                        format!(
                            "{factor} was removed from your account; every other session \
                             was signed out."
                        ),
                    ),
                    Notice::NewClient { user_agent } => (
                        "A sign-in from a new device",
                        format!(
                            "Your account was signed in to from a browser or app it had not \
                             been used from before: {}.",
                            shown_user_agent(user_agent.as_deref())
                        ),
                    ),
                };
                (subject, vec![what, no_action.to_owned()], None, None)
            }
        };
        let body = MessageText {
            username,
            paragraphs,
            link,
            footnote,
            origin: &self.origin,
        }
        .render()
        .expect("the mail template renders any values");
        (subject, body)
    }

    /// Queues a mail to `recipient` in the caller's transaction; it is sent once that commits.
    pub async fn queue(
        &self,
        conn: &mut PgConnection,
        recipient: &str,
        username: &str,
        mail: &Mail<'_>,
    ) -> Result<(), sqlx::Error> {
        let (subject, body) = self.compose(username, mail);
        let id = Uuid::new_v4();
        let sealed = self.sealer.seal(id.as_bytes(), body.as_bytes());
        db::outbox::enqueue(conn, id, recipient, subject, &sealed).await
    }

    /// Tells the account's verified address of a change, in the caller's transaction; `false`
    /// when the account has no verified address.
    pub async fn notify(
        &self,
        conn: &mut PgConnection,
        user_id: Uuid,
        username: &str,
        notice: Notice,
    ) -> Result<bool, sqlx::Error> {
        let Some(address) = db::email::verified_address(conn, user_id).await? else {
            return Ok(false);
        };
        self.queue(conn, &address, username, &Mail::Notice(notice))
            .await?;
        Ok(true)
    }

    /// The body of a queued mail.
    pub fn open(&self, id: Uuid, sealed: &[u8]) -> Result<String, Unsealable> {
        let plain = self.sealer.open(id.as_bytes(), sealed)?;
        String::from_utf8(plain).map_err(|_| Unsealable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keys::master::{MasterKey, Purpose};
    use crate::config::Secret;

    fn outbox() -> Outbox {
        let master = MasterKey::new(&Secret::new("m".repeat(32)));
        Outbox::new(
            master.sealer(Purpose::Outbox),
            "https://auth.example.com".into(),
        )
    }

    #[test]
    fn links_point_at_the_public_origin_and_carry_the_token() {
        let (subject, body) = outbox().compose("alice", &Mail::ResetPassword { token: "T0K3N" });
        assert_eq!(subject, "Reset your password");
        assert!(body.starts_with("Hello alice,"));
        assert!(body.contains("\nhttps://auth.example.com/password/reset?token=T0K3N\n"));
        let (_, body) = outbox().compose("alice", &Mail::VerifyAddress { token: "V" });
        assert!(body.contains("\nhttps://auth.example.com/email/verify?token=V\n"));
    }

    #[test]
    fn the_taken_address_mail_links_nothing_to_follow_but_recovery() {
        let (_, body) = outbox().compose("bob", &Mail::AddressTaken);
        assert!(body.contains("already belongs to an account"));
        assert!(!body.contains("token="));
    }

    #[test]
    fn a_crafted_user_agent_cannot_write_lines_into_a_notice() {
        let agent = format!(
            "Evil\r\n\r\nClick https://phish.example/login now {} TAIL",
            "x".repeat(80)
        );
        let notice = Notice::NewClient {
            user_agent: Some(agent),
        };
        let (_, body) = outbox().compose("alice", &Mail::Notice(notice));
        assert!(!body.contains("Evil\r"));
        let shown = body.lines().find(|l| l.contains("Evil")).unwrap();
        assert!(shown.len() < 200, "{shown}");
        assert!(!body.contains("TAIL"), "cut to 80 characters");
    }

    #[test]
    fn sealed_bodies_open_only_under_their_own_id() {
        let outbox = outbox();
        let id = Uuid::new_v4();
        let sealed = outbox.sealer.seal(id.as_bytes(), b"body");
        assert_eq!(outbox.open(id, &sealed).unwrap(), "body");
        assert!(outbox.open(Uuid::new_v4(), &sealed).is_err());
    }
}
