//! Mail: the sealed outbox, written in the transaction of the change it tells of, and the
//! delivery workers that drain it over SMTP from any instance.

pub mod delivery;
pub mod mailbox;
pub mod outbox;
