//! What every feature's handlers share: reading bodies and fields, errors and replies, who is
//! asking and how (audience, request facts, the guard), cookies, CSRF, headers, catchers.

pub mod audience;
pub mod body;
pub mod browser;
pub mod catchers;
pub mod cookies;
pub mod csrf;
pub mod error;
pub mod fields;
pub mod guard;
pub mod headers;
pub mod reply;
pub mod request;
