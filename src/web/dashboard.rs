//! The dashboard: the signed-in person's account page, and how an account action answers a
//! browser (the dashboard again with what went wrong) or a JSON client (`204`).

use askama::Template;
use rocket::http::{CookieJar, Status};
use rocket::request::{FlashMessage, FromRequest, Outcome, Request};
use rocket::{Route, get, routes};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::auth::{Accounts, AuthError, AuthUser, Caller, Sessions, TokenRejection};
use crate::domain::{FieldErrors, PasswordPolicy};
use crate::web::http::audience::BrowserRequest;
use crate::web::http::body::BodyKind;
use crate::web::http::csrf::CsrfTokens;
use crate::web::http::error::ApiError;
use crate::web::http::guard::reject;
use crate::web::http::reply::Reply;
use crate::web::http::request;

pub fn routes() -> Vec<Route> {
    routes![dashboard]
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    csrf_token: String,
    username: String,
    created_at: String,
    created_at_display: String,
    expires_at: String,
    expires_at_display: String,
    sessions: Vec<SessionRow>,
    notice: Option<String>,
    error: Option<String>,
    min_password_length: usize,
    mfa_totp: bool,
    recovery_codes_left: i64,
    enrolment: Option<EnrolmentView>,
    recovery_codes: Option<Vec<String>>,
    email: Option<String>,
    email_pending: Option<String>,
    passkeys: Vec<PasskeyRow>,
}

struct PasskeyRow {
    id: String,
    name: String,
    created_at_display: String,
    last_used_display: String,
}

/// An authenticator app being set up: its key as text and as a QR code.
pub struct EnrolmentView {
    pub secret: String,
    /// Drawn by the server from the `otpauth://` URI: our own markup, no user text in it.
    pub qr_svg: String,
}

impl EnrolmentView {
    pub fn new(secret: String, otpauth_uri: &str) -> Result<Self, ApiError> {
        let code = qrcode::QrCode::new(otpauth_uri.as_bytes())
            .map_err(|e| ApiError::Internal(e.into()))?;
        let qr_svg = code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build();
        Ok(Self { secret, qr_svg })
    }
}

/// What the second-factor section shows beyond the account's state.
#[derive(Default)]
pub enum MfaPanel {
    #[default]
    None,
    /// Setting up an app: the key and QR code, and the confirm form.
    Enrolling(EnrolmentView),
    /// Fresh recovery codes, shown once.
    RecoveryCodes(Vec<String>),
}

/// One line of the dashboard's session list.
struct SessionRow {
    id: String,
    device: String,
    ip: String,
    created_at_display: String,
    last_used_at: String,
    last_used_at_display: String,
    current: bool,
}

/// A message shown at the top of the dashboard.
pub enum DashboardNotice {
    None,
    Success(String),
    Error(String),
}

/// What rendering the dashboard takes; a request guard, so that the handlers that show it again
/// after a failed action need one parameter for it.
pub struct Dashboard<'r> {
    accounts: &'r Accounts,
    sessions: &'r Sessions,
    csrf: &'r CsrfTokens,
    policy: &'r PasswordPolicy,
    jar: &'r CookieJar<'r>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Dashboard<'r> {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let rocket = req.rocket();
        match (
            rocket.state::<Accounts>(),
            rocket.state::<Sessions>(),
            rocket.state::<CsrfTokens>(),
            rocket.state::<PasswordPolicy>(),
        ) {
            (Some(accounts), Some(sessions), Some(csrf), Some(policy)) => {
                Outcome::Success(Dashboard {
                    accounts,
                    sessions,
                    csrf,
                    policy,
                    jar: req.cookies(),
                })
            }
            _ => reject(Status::InternalServerError),
        }
    }
}

impl Dashboard<'_> {
    /// Answers an account action: `204` to JSON clients; to browsers, `on_success`'s redirect, or
    /// the dashboard again with the status and a sentence saying what went wrong.
    pub async fn answer(
        &self,
        user: &AuthUser,
        kind: BodyKind,
        result: Result<(), AuthError>,
        on_success: impl FnOnce() -> Reply,
        what: &str,
    ) -> Result<Reply, ApiError> {
        let error = match (kind, result) {
            (BodyKind::Json, result) => {
                return result.map(|()| Reply::NoContent).map_err(Into::into);
            }
            (BodyKind::Form, Ok(())) => return Ok(on_success()),
            (BodyKind::Form, Err(error)) => error,
        };
        let (status, message) = match error {
            AuthError::WrongPassword => (
                Status::Forbidden,
                format!("{what}: the password is incorrect."),
            ),
            AuthError::InvalidInput(fields) => (
                Status::UnprocessableEntity,
                format!("{what}: {}", describe(&fields)),
            ),
            other => return Err(other.into()),
        };
        self.render(
            user,
            status,
            DashboardNotice::Error(message),
            MfaPanel::None,
        )
        .await
    }

    /// Renders the dashboard of a signed-in user with a status and an optional message.
    pub async fn render(
        &self,
        user: &AuthUser,
        status: Status,
        notice: DashboardNotice,
        panel: MfaPanel,
    ) -> Result<Reply, ApiError> {
        let factors = self.accounts.factor_status(user).await?;
        let address = self.accounts.address_status(user).await?;
        let passkeys = self
            .accounts
            .passkeys(user)
            .await?
            .into_iter()
            .map(|p| PasskeyRow {
                id: p.id.to_string(),
                name: p.name,
                created_at_display: display(p.created_at),
                last_used_display: p.last_used_at.map_or_else(|| "never".to_owned(), display),
            })
            .collect();
        let (enrolment, recovery_codes) = match panel {
            MfaPanel::None => (None, None),
            MfaPanel::Enrolling(view) => (Some(view), None),
            MfaPanel::RecoveryCodes(codes) => (None, Some(codes)),
        };
        let account = self
            .accounts
            .find(user)
            .await?
            .ok_or(ApiError::InvalidToken("user gone"))?;
        let sessions = self
            .sessions
            .list(user.user_id)
            .await?
            .into_iter()
            .map(|s| SessionRow {
                id: s.id.to_string(),
                device: s
                    .user_agent
                    .as_deref()
                    .map_or_else(|| "Unknown device".to_owned(), describe_agent),
                ip: s.ip.unwrap_or_else(|| "unknown".to_owned()),
                created_at_display: display(s.created_at),
                last_used_at: rfc3339(s.last_used_at),
                last_used_at_display: display(s.last_used_at),
                current: s.id == user.session_id,
            })
            .collect();
        let expires_at = OffsetDateTime::from_unix_timestamp(user.expires_at)
            .map_err(|e| ApiError::Internal(e.into()))?;
        let (notice, error) = match notice {
            DashboardNotice::None => (None, None),
            DashboardNotice::Success(m) => (Some(m), None),
            DashboardNotice::Error(m) => (None, Some(m)),
        };
        Reply::page(
            status,
            &DashboardPage {
                csrf_token: self.csrf.form_token(self.jar),
                username: account.username,
                created_at: rfc3339(account.created_at),
                created_at_display: display(account.created_at),
                expires_at: rfc3339(expires_at),
                expires_at_display: display(expires_at),
                sessions,
                notice,
                error,
                min_password_length: self.policy.min_length,
                mfa_totp: factors.totp,
                recovery_codes_left: factors.recovery_codes_left,
                enrolment,
                recovery_codes,
                email: address.verified,
                email_pending: address.pending,
                passkeys,
            },
        )
    }
}

#[get("/dashboard")]
async fn dashboard(
    _browser: BrowserRequest,
    user: Result<AuthUser, TokenRejection>,
    flash: Option<FlashMessage<'_>>,
    dashboard: Dashboard<'_>,
) -> Result<Reply, ApiError> {
    let user = match user {
        Ok(user) => user,
        Err(TokenRejection::Unavailable) => return Err(ApiError::Unavailable),
        Err(_) => return Ok(Reply::see_other("/login?next=/dashboard")),
    };
    let notice = match flash {
        Some(f) if f.kind() == "error" => DashboardNotice::Error(f.message().to_owned()),
        Some(f) => DashboardNotice::Success(f.message().to_owned()),
        None => DashboardNotice::None,
    };
    dashboard
        .render(&user, Status::Ok, notice, MfaPanel::None)
        .await
}

/// A short, human name for a user agent ("Chrome on Linux"); the raw string is shown on hover.
fn describe_agent(agent: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(needle, _)| agent.contains(needle))
    .map(|(_, name)| *name);
    let system = [
        ("Windows", "Windows"),
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("Mac OS", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| agent.contains(needle))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_owned(),
        _ => agent.chars().take(60).collect(),
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn display(t: OffsetDateTime) -> String {
    t.format(format_description!(
        "[day padding:none] [month repr:long] [year], [hour]:[minute] UTC"
    ))
    .unwrap_or_default()
}

/// An account action of a signed-in person: who they are and where they ask from, the accounts
/// service, and the dashboard to answer a browser with. Fails as [`AuthUser`] does, with the
/// token's rejection, so handlers take `Result<SignedIn, TokenRejection>`.
pub struct SignedIn<'r> {
    pub user: AuthUser,
    pub caller: Caller,
    pub accounts: &'r Accounts,
    pub dashboard: Dashboard<'r>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for SignedIn<'r> {
    type Error = TokenRejection;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, TokenRejection> {
        let user = match req.guard::<AuthUser>().await {
            Outcome::Success(user) => user,
            Outcome::Error(e) => return Outcome::Error(e),
            Outcome::Forward(status) => return Outcome::Forward(status),
        };
        let (Outcome::Success(dashboard), Some(accounts)) = (
            req.guard::<Dashboard<'r>>().await,
            req.rocket().state::<Accounts>(),
        ) else {
            log::error!("the accounts service is not managed: was the core ignited?");
            return Outcome::Error((Status::ServiceUnavailable, TokenRejection::Unavailable));
        };
        Outcome::Success(SignedIn {
            user,
            caller: request::caller(req),
            accounts,
            dashboard,
        })
    }
}

impl SignedIn<'_> {
    /// [`Dashboard::answer`] for this person.
    pub async fn answer(
        &self,
        kind: BodyKind,
        result: Result<(), AuthError>,
        on_success: impl FnOnce() -> Reply,
        what: &str,
    ) -> Result<Reply, ApiError> {
        self.dashboard
            .answer(&self.user, kind, result, on_success, what)
            .await
    }
}

/// Field problems as one sentence for a page.
fn describe(fields: &FieldErrors) -> String {
    fields
        .iter()
        .map(|(field, problems)| format!("{} {}", field.replace('_', " "), problems.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
        + "."
}
