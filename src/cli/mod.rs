//! The `gatehouse` commands an operator runs beside the server, through the same services as the
//! HTTP API.

pub mod commands;
