//! The bodies handlers read ([`Body`](crate::web::http::body::Body) shapes, the same for JSON
//! and forms) and the JSON bodies they answer with, built from the core's values (and the
//! database's rows) here, so no handler serialises a type of a layer below.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::SignIn;
use crate::auth::credentials::passkeys::Begun;
use crate::db::passkeys::PasskeyInfo;
use crate::db::sessions::SessionInfo;
use crate::db::users::User;

/// `{"id","username","created_at"}`.
#[derive(Debug, Serialize)]
pub struct UserBody {
    pub id: Uuid,
    pub username: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<User> for UserBody {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            username: user.username,
            created_at: user.created_at,
        }
    }
}

/// The token response; `token` repeats `access_token` under the seed's name.
#[derive(Debug, Serialize)]
pub struct TokenBody {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub refresh_token: String,
    pub token: String,
}

impl From<SignIn> for TokenBody {
    fn from(sign_in: SignIn) -> Self {
        Self {
            token: sign_in.access_token.clone(),
            access_token: sign_in.access_token,
            token_type: "Bearer",
            expires_in: sign_in.expires_in,
            refresh_token: sign_in.refresh_token,
        }
    }
}

/// The body of every `202` of an asked-for mail: the same whatever the mail turned out to be.
#[derive(Debug, Serialize)]
pub struct MailQueuedBody {
    pub message: &'static str,
}

/// `GET /protected`: the original example's welcome.
#[derive(Debug, Serialize)]
pub struct Welcome {
    pub message: String,
    pub username: String,
}

/// `GET /me`: the account and its second factors.
#[derive(Debug, Serialize)]
pub struct MeBody {
    #[serde(flatten)]
    pub user: UserBody,
    /// The verified address, or `null`.
    pub email: Option<String>,
    pub email_verified: bool,
    /// An address waiting for its link to be followed, or `null`.
    pub email_pending: Option<String>,
    pub mfa: MfaBody,
}

#[derive(Debug, Serialize)]
pub struct MfaBody {
    pub totp: bool,
    pub passkeys: i64,
    pub recovery_codes_left: i64,
}

/// `403 mfa_required` for JSON clients.
#[derive(Debug, Serialize)]
pub struct MfaRequiredBody {
    pub error: &'static str,
    pub message: &'static str,
    pub mfa_token: String,
    pub methods: Vec<&'static str>,
    pub expires_in: u64,
}

impl MfaRequiredBody {
    pub fn new(mfa_token: String, methods: Vec<&'static str>, expires_in: u64) -> Self {
        Self {
            error: "mfa_required",
            message: "The password is right; a second factor is due: POST /login/mfa.",
            mfa_token,
            methods,
            expires_in,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct EnrolmentBody {
    pub secret: String,
    pub otpauth_uri: String,
}

#[derive(Debug, Serialize)]
pub struct RecoveryCodesBody {
    pub recovery_codes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct BegunBody {
    pub challenge_id: Uuid,
    #[serde(rename = "publicKey")]
    pub public_key: Value,
}

impl From<Begun> for BegunBody {
    fn from(begun: Begun) -> Self {
        Self {
            challenge_id: begun.challenge_id,
            public_key: begun.public_key,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct PasskeyBody {
    pub id: Uuid,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

impl From<PasskeyInfo> for PasskeyBody {
    fn from(p: PasskeyInfo) -> Self {
        Self {
            id: p.id,
            name: p.name,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
            recovery_codes: None,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RedirectBody {
    pub redirect: String,
}

#[derive(Debug, Serialize)]
pub struct SessionBody {
    pub id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_used_at: OffsetDateTime,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub current: bool,
}

impl SessionBody {
    pub fn new(session: SessionInfo, current: Uuid) -> Self {
        Self {
            current: session.id == current,
            id: session.id,
            created_at: session.created_at,
            last_used_at: session.last_used_at,
            user_agent: session.user_agent,
            ip: session.ip,
        }
    }
}

/// `{"password"}`: an action the account's password confirms.
#[derive(Debug, Deserialize)]
pub struct PasswordConfirmation {
    pub password: String,
}

/// `{"password","code"}`: a code is due once a second factor is on.
#[derive(Debug, Deserialize)]
pub struct PasswordAndCode {
    pub password: String,
    pub code: Option<String>,
}

/// `{"current_password","new_password"}`.
#[derive(Debug, Deserialize)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// `{"code"}`.
#[derive(Debug, Deserialize)]
pub struct CodeConfirmation {
    pub code: String,
}

/// `{"email","password"}`.
#[derive(Debug, Deserialize)]
pub struct EmailChange {
    pub email: String,
    pub password: String,
}

/// `{"token"}`: a mailed link's token.
#[derive(Debug, Deserialize)]
pub struct LinkToken {
    pub token: String,
}

/// `{"login"}`: a username or an address.
#[derive(Debug, Deserialize)]
pub struct ForgottenPassword {
    pub login: String,
}

/// `{"challenge_id","name","credential"}`: a passkey made by `navigator.credentials.create`.
#[derive(Debug, Deserialize)]
pub struct PasskeyRegistration {
    pub challenge_id: String,
    pub name: String,
    pub credential: Value,
}
