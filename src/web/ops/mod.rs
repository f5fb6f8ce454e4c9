//! What operators and machines read: health and readiness, metrics, the OpenAPI document, the
//! published key set, and the development mailbox.

pub mod health;
pub mod jwks;
pub mod mailbox;
pub mod metrics;
pub mod openapi;
