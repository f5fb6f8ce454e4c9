//! Thin adapters: read input, call the core, render JSON or a page by audience. One file per
//! feature; [`http`] holds the plumbing every feature shares, [`ops`] what operators and
//! machines read.

pub mod accounts;
pub mod bodies;
pub mod dashboard;
pub mod email;
pub mod http;
pub mod me;
pub mod mfa;
pub mod ops;
pub mod pages;
pub mod passkeys;
pub mod password_reset;
pub mod sessions;
pub mod tokens;

use rocket::Route;

/// Every route of the application, for `lib.rs` to mount at `/`.
pub fn routes() -> Vec<Route> {
    [
        accounts::routes(),
        me::routes(),
        mfa::routes(),
        pages::routes(),
        dashboard::routes(),
        sessions::routes(),
        tokens::routes(),
        email::routes(),
        password_reset::routes(),
        passkeys::routes(),
        ops::health::routes(),
        ops::metrics::routes(),
        ops::openapi::routes(),
        ops::jwks::routes(),
        ops::mailbox::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}
