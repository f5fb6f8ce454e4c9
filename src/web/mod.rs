//! Thin adapters: read input, call the core, render JSON or a page by audience.

pub mod accounts;
pub mod audience;
pub mod body;
pub mod catchers;
pub mod cookies;
pub mod csrf;
pub mod email;
pub mod error;
pub mod fields;
pub mod guard;
pub mod headers;
pub mod jwks;
pub mod mailbox;
pub mod me;
pub mod metrics;
pub mod mfa;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod passkeys;
pub mod recovery;
pub mod reply;
pub mod request;
pub mod sessions;
pub mod tokens;
