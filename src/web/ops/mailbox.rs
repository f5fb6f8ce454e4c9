//! `GET /dev/mailbox`: the outbox as a page, so a newcomer running `scripts/run` without a mail
//! server can follow the links. Served only when `dev_mailbox` is on (the debug profile) and only
//! to loopback clients: it shows live reset links.

use std::sync::Arc;

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::{Route, State, get, routes};

use crate::auth::mail::outbox::Outbox;
use crate::db::Db;
use crate::web::http::error::ApiError;
use crate::web::http::guard::reject;
use crate::web::http::reply::Reply;

pub fn routes() -> Vec<Route> {
    routes![mailbox]
}

/// The outbox, when the mailbox is on.
pub struct DevMailbox {
    pub outbox: Arc<Outbox>,
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
async fn mailbox(
    _reader: MailboxReader,
    mailbox: &State<DevMailbox>,
    db: &Db,
) -> Result<Reply, ApiError> {
    let rows = crate::db::outbox::recent(db, 100).await?;
    let origin = mailbox.outbox.origin();
    let entries =
        rows.into_iter()
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
                let body =
                    row.body_sealed
                        .map(|sealed| {
                            mailbox.outbox.open(row.id, &sealed).unwrap_or_else(|_| {
                                "(does not open: was secret_key changed?)".into()
                            })
                        })
                        .unwrap_or_else(|| "(the body is dropped once sent)".into());
                Entry {
                    recipient: row.recipient,
                    subject: row.subject,
                    created_at: row
                        .created_at
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default(),
                    status,
                    lines: body
                        .lines()
                        .map(|l| Line {
                            is_link: l.starts_with(origin) && !l.contains(' '),
                            text: l.to_owned(),
                        })
                        .collect(),
                }
            })
            .collect();
    Reply::page(Status::Ok, &MailboxPage { entries })
}
