//! Sessions: one row per sign-in, refreshed by rotation and revoked on every instance; the
//! authenticator that answers "who is this" for the request guard, and what it keeps in memory.

pub mod authenticator;
pub mod owners;
pub mod revocations;
pub mod service;
