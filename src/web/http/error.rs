//! The one error type at the HTTP edge.
//!
//! Core errors convert into [`ApiError`] with `From`; its status is chosen in [`ApiError::status`];
//! its responder answers JSON to JSON clients and an HTML page to browsers. Internal errors are
//! logged with their cause chain and never sent.

use askama::Template;
use rocket::http::{Header, Status};
use rocket::request::Request;
use rocket::response::content::RawHtml;
use rocket::response::{self, Responder};
use rocket::serde::json::Json;
use serde::Serialize;

use crate::auth::{AuthError, TokenRejection};
use crate::domain::FieldErrors;
use crate::web::http::audience::Audience;

/// Seconds a client should wait after a 503 before trying again.
const UNAVAILABLE_RETRY_AFTER: u64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not parseable JSON or form data.
    #[error("malformed body")]
    MalformedBody,
    /// 401: unknown user or wrong password, indistinguishably.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// 401: no token in the header or the cookie.
    #[error("missing token")]
    MissingToken,
    /// 401: a valid signature whose `exp` has passed.
    #[error("token expired")]
    TokenExpired,
    /// 401: any other token problem. The reason is logged, never sent.
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    /// 403: a wrong password where the user is already signed in.
    #[error("wrong password")]
    WrongPassword,
    /// 403: a cookie-authenticated or form request without CSRF proof.
    #[error("CSRF check failed: {0}")]
    CsrfFailed(&'static str),
    /// 404.
    #[error("not found")]
    NotFound,
    /// 405: the path does not serve this method; carries the methods it does serve (`Allow`,
    /// RFC 9110 15.5.6).
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    /// 409: registration of an existing username (compared case-insensitively).
    #[error("username taken")]
    UsernameTaken,
    /// 409: a passkey registered already.
    #[error("already registered")]
    AlreadyRegistered,
    /// 413: body over the configured limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 415: a JSON endpoint given another content type.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 422: a well-formed body breaking the rules, with per-field problems.
    #[error("invalid input")]
    InvalidInput(FieldErrors),
    /// 429: throttled; the client may retry after this many seconds.
    #[error("too many requests")]
    TooManyRequests { retry_after: u64 },
    /// 503: the database (or the password hasher) cannot take the request now.
    #[error("unavailable")]
    Unavailable,
    /// 500: logged with its causes; the client learns nothing more.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a FieldErrors>,
}

impl ApiError {
    pub fn status(&self) -> Status {
        match self {
            Self::MalformedBody => Status::BadRequest,
            Self::InvalidCredentials
            | Self::MissingToken
            | Self::TokenExpired
            | Self::InvalidToken(_) => Status::Unauthorized,
            Self::WrongPassword | Self::CsrfFailed(_) => Status::Forbidden,
            Self::NotFound => Status::NotFound,
            Self::MethodNotAllowed { .. } => Status::MethodNotAllowed,
            Self::UsernameTaken | Self::AlreadyRegistered => Status::Conflict,
            Self::PayloadTooLarge => Status::PayloadTooLarge,
            Self::UnsupportedMediaType => Status::UnsupportedMediaType,
            Self::InvalidInput(_) => Status::UnprocessableEntity,
            Self::TooManyRequests { .. } => Status::TooManyRequests,
            Self::Unavailable => Status::ServiceUnavailable,
            Self::Internal(_) => Status::InternalServerError,
        }
    }

    /// The machine-readable `error` code of docs/api.md §2.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedBody => "malformed_body",
            Self::InvalidCredentials | Self::WrongPassword => "invalid_credentials",
            Self::MissingToken => "missing_token",
            Self::TokenExpired => "token_expired",
            Self::InvalidToken(_) => "invalid_token",
            Self::CsrfFailed(_) => "csrf_failed",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::UsernameTaken => "username_taken",
            Self::AlreadyRegistered => "already_registered",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::InvalidInput(_) => "invalid_input",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Unavailable => "unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    /// One sentence for humans. Never carries input, library text or internals.
    pub fn message(&self) -> &'static str {
        match self {
            Self::MalformedBody => "The request body could not be parsed.",
            Self::InvalidCredentials => "The username or password is incorrect.",
            Self::MissingToken => "Sign in first: this needs an access token.",
            Self::TokenExpired => "The access token has expired; sign in or refresh it.",
            Self::InvalidToken(_) => "The access token is not valid.",
            Self::WrongPassword => "The password is incorrect.",
            Self::CsrfFailed(_) => {
                "The request could not be verified as coming from this site; reload the page and try again."
            }
            Self::NotFound => "There is nothing here.",
            Self::MethodNotAllowed { .. } => "This method is not allowed here.",
            Self::UsernameTaken => "That username is already taken.",
            Self::AlreadyRegistered => "That passkey is registered already.",
            Self::PayloadTooLarge => "The request body is too large.",
            Self::UnsupportedMediaType => {
                "Send the body as application/json (or a form from the site's pages)."
            }
            Self::InvalidInput(_) => "Some fields are not valid.",
            Self::TooManyRequests { .. } => "Too many attempts; wait before trying again.",
            Self::Unavailable => "The service is temporarily unavailable; try again shortly.",
            Self::Internal(_) => "Something went wrong on our side.",
        }
    }

    pub fn fields(&self) -> Option<&FieldErrors> {
        match self {
            Self::InvalidInput(fields) => Some(fields),
            _ => None,
        }
    }

    /// The error Rocket's own failures map to, for catchers with nothing more specific.
    pub fn for_status(status: Status) -> Self {
        match status.code {
            400 => Self::MalformedBody,
            401 => Self::MissingToken,
            403 => Self::CsrfFailed("refused"),
            405 => Self::MethodNotAllowed {
                allow: String::new(),
            },
            413 => Self::PayloadTooLarge,
            415 => Self::UnsupportedMediaType,
            422 => Self::InvalidInput(FieldErrors::default()),
            429 => Self::TooManyRequests { retry_after: 60 },
            503 => Self::Unavailable,
            500..=599 => Self::Internal(format!("Rocket answered {status}").into()),
            _ => Self::NotFound,
        }
    }

    /// Headers the status calls for: `WWW-Authenticate` on every 401 (RFC 6750 3), `Retry-After`
    /// on 429 and 503.
    fn headers(&self) -> Vec<Header<'static>> {
        let mut headers = Vec::new();
        match self {
            Self::InvalidCredentials | Self::MissingToken => {
                headers.push(Header::new(
                    "WWW-Authenticate",
                    r#"Bearer realm="gatehouse""#,
                ));
            }
            // RFC 6750 3.1: a presented token that fails gets `error="invalid_token"`.
            Self::TokenExpired | Self::InvalidToken(_) => headers.push(Header::new(
                "WWW-Authenticate",
                r#"Bearer realm="gatehouse", error="invalid_token""#,
            )),
            Self::MethodNotAllowed { allow } => headers.push(Header::new("Allow", allow.clone())),
            Self::TooManyRequests { retry_after } => {
                headers.push(Header::new("Retry-After", retry_after.to_string()))
            }
            Self::Unavailable => headers.push(Header::new(
                "Retry-After",
                UNAVAILABLE_RETRY_AFTER.to_string(),
            )),
            _ => {}
        }
        headers
    }

    fn log(&self) {
        match self {
            Self::Internal(e) => {
                let mut chain = e.to_string();
                let mut source = e.source();
                while let Some(cause) = source {
                    chain.push_str(": ");
                    chain.push_str(&cause.to_string());
                    source = cause.source();
                }
                log::error!("internal error: {chain}");
            }
            Self::Unavailable => log::warn!("answering 503: database or hasher unavailable"),
            _ => {}
        }
    }

    fn body(&self) -> ErrorBody<'_> {
        ErrorBody {
            error: self.code(),
            message: self.message(),
            fields: self.fields(),
        }
    }

    /// The error as a page in the site's layout.
    fn page(&self) -> ErrorPage<'_> {
        let status = self.status();
        let reason = status.reason().unwrap_or("Error");
        ErrorPage {
            title: reason,
            status: status.code,
            reason,
            message: self.message(),
            retry_after: match self {
                Self::TooManyRequests { retry_after } => Some(*retry_after),
                _ => None,
            },
        }
    }
}

/// An error in the site's layout.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    status: u16,
    reason: &'a str,
    message: &'a str,
    retry_after: Option<u64>,
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidInput(fields) => Self::InvalidInput(fields),
            AuthError::InvalidCredentials => Self::InvalidCredentials,
            AuthError::UsernameTaken => Self::UsernameTaken,
            AuthError::AlreadyRegistered => Self::AlreadyRegistered,
            AuthError::NotFound => Self::NotFound,
            AuthError::WrongPassword => Self::WrongPassword,
            AuthError::InvalidRefreshToken => Self::InvalidToken("refresh token"),
            AuthError::InvalidMfaToken => Self::InvalidToken("mfa token"),
            AuthError::Throttled { retry_after } => Self::TooManyRequests { retry_after },
            AuthError::Busy | AuthError::Unavailable => Self::Unavailable,
            AuthError::Internal(e) => Self::Internal(e),
        }
    }
}

impl From<TokenRejection> for ApiError {
    fn from(e: TokenRejection) -> Self {
        match e {
            TokenRejection::Missing => Self::MissingToken,
            TokenRejection::Expired => Self::TokenExpired,
            TokenRejection::Invalid(why) => Self::InvalidToken(why),
            TokenRejection::Unavailable => Self::Unavailable,
            TokenRejection::Csrf(why) => Self::CsrfFailed(why),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        AuthError::from(e).into()
    }
}

impl<'r> Responder<'r, 'static> for ApiError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        self.log();
        let mut response = match Audience::of(req) {
            Audience::Browser => {
                let html = self.page().render().map_err(|e| {
                    log::error!("template rendering failed: {e}");
                    Status::InternalServerError
                })?;
                RawHtml(html).respond_to(req)?
            }
            Audience::Json => Json(self.body()).respond_to(req)?,
        };
        response.set_status(self.status());
        for header in self.headers() {
            response.set_header(header);
        }
        Ok(response)
    }
}
