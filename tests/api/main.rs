//! Integration tests against a real PostgreSQL: each test gets its own fresh database.
//! Needs DATABASE_URL (a role that may create databases); `scripts/test` provides one.

mod support;

mod abuse;
mod browser;
mod chromium;
mod cli;
mod email;
mod errors;
mod fuzz;
mod keys;
mod login;
mod mfa;
mod operability;
mod ops;
mod passkeys;
mod protected;
mod register;
mod revocation;
mod sessions;
mod shutdown;
