//! What the specs stand on: a `TestApp` per test (its own database, the real application), the
//! real server over TCP, an SMTP server that keeps what it receives, and a software passkey
//! authenticator.

pub mod app;
pub mod authenticator;
pub mod mail_sink;
pub mod server;
