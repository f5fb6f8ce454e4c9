//! `GET /dev/mailbox`: the outbox as a page, so a newcomer running `scripts/run` without a mail
//! server can follow the links. Served only when `dev_mailbox` is on (the debug profile) and only
//! to loopback clients: it shows live reset links.

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::{Route, State, get, routes};

use crate::auth::mail::mailbox::Mailbox;
use crate::web::http::error::ApiError;
use crate::web::http::guard::reject;
use crate::web::http::reply::Reply;

pub fn routes() -> Vec<Route> {
    routes![mailbox]
}

/// The outbox's mails, when the mailbox is on.
pub struct DevMailbox {
    pub mailbox: Mailbox,
    pub enabled: bool,
}

/// A loopback client of an enabled mailbox; everyone else gets a plain 404.
pub struct MailboxReader;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for MailboxReader {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let enabled = req
            .rocket()
            .state::<DevMailbox>()
            .is_some_and(|m| m.enabled);
        if enabled && req.client_ip().is_some_and(|ip| ip.is_loopback()) {
            Outcome::Success(MailboxReader)
        } else {
            reject(Status::NotFound)
        }
    }
}

struct Line {
    text: String,
    is_link: bool,
}

struct Entry {
    recipient: String,
    subject: String,
    created_at: String,
    status: String,
    lines: Vec<Line>,
}

#[derive(askama::Template)]
#[template(path = "mailbox.html")]
struct MailboxPage {
    entries: Vec<Entry>,
}

#[get("/dev/mailbox")]
async fn mailbox(_reader: MailboxReader, mailbox: &State<DevMailbox>) -> Result<Reply, ApiError> {
    let origin = mailbox.mailbox.origin();
    let entries = mailbox
        .mailbox
        .recent(100)
        .await?
        .into_iter()
        .map(|mail| Entry {
            recipient: mail.recipient,
            subject: mail.subject,
            created_at: mail
                .created_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            status: mail.status,
            lines: mail
                .body
                .lines()
                .map(|l| Line {
                    is_link: l.starts_with(origin) && !l.contains(' '),
                    text: l.to_owned(),
                })
                .collect(),
        })
        .collect();
    Reply::page(Status::Ok, &MailboxPage { entries })
}
