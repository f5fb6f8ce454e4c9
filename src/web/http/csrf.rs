//! CSRF tokens on the wire: the browser's cookie, the forms' hidden field and the scripts'
//! header. The checks themselves are the core's (`auth/csrf.rs`).

use rocket::http::{Cookie, CookieJar, Method, SameSite};
use rocket::request::Request;

use std::sync::Arc;

use crate::auth::audit::{Event, SecurityLog};
use crate::auth::keys::csrf::{self, CsrfKey, SiteEvidence};
use crate::web::http::request;

/// The form field that carries the token.
pub const FORM_FIELD: &str = "csrf_token";
/// The header that carries the token for scripts.
pub const HEADER: &str = "X-CSRF-Token";

/// The CSRF key and the cookie it is bound to; managed as Rocket state.
pub struct CsrfTokens {
    key: CsrfKey,
    secure: bool,
    log: Arc<SecurityLog>,
    /// `public_origin`, the only `Origin` accepted.
    site_origin: String,
}

impl CsrfTokens {
    pub fn new(
        key: CsrfKey,
        cookie_secure: bool,
        log: Arc<SecurityLog>,
        public_origin: String,
    ) -> Self {
        Self {
            key,
            secure: cookie_secure,
            log,
            site_origin: public_origin,
        }
    }

    fn cookie_name(&self) -> &'static str {
        if self.secure {
            "__Host-gatehouse_csrf"
        } else {
            "gatehouse_csrf"
        }
    }

    /// The token for this browser's forms, setting the browser's CSRF cookie when it has none.
    pub fn form_token(&self, jar: &CookieJar<'_>) -> String {
        let value = match jar.get(self.cookie_name()) {
            Some(cookie) if !cookie.value().is_empty() => cookie.value().to_owned(),
            _ => {
                let value = CsrfKey::new_browser_value();
                jar.add(
                    Cookie::build((self.cookie_name(), value.clone()))
                        .http_only(true)
                        .secure(self.secure)
                        .same_site(SameSite::Lax)
                        .path("/")
                        .build(),
                );
                value
            }
        };
        self.key.token_for(&value)
    }

    /// Checks a token submitted with the request (a form field, or the header) against this
    /// browser's cookie, and the request's origin.
    fn verify(&self, req: &Request<'_>, token: Option<&str>) -> Result<(), &'static str> {
        let cookie = req.cookies().get(self.cookie_name());
        self.key
            .verify(self.site_evidence(req), cookie.map(|c| c.value()), token)
    }

    /// Checks a form's token; a refusal goes to the security log. Every form post carries one,
    /// sign-in and registration included (login CSRF: OWASP CSRF Prevention Cheat Sheet).
    pub fn verify_form(&self, req: &Request<'_>, token: Option<&str>) -> Result<(), &'static str> {
        let checked = self.verify(req, token);
        if let Err(why) = checked {
            self.log
                .record(&request::caller(req), Event::new("csrf_refused", why));
        }
        checked
    }

    /// Records a refused request the handler turned away itself.
    pub fn log_refusal(&self, caller: &crate::auth::Caller, why: &'static str) {
        self.log.record(caller, Event::new("csrf_refused", why));
    }

    /// The check for a cookie-authenticated unsafe request: safe methods need none; a form's
    /// token travels in its body (checked by the body decoder), so only its origin is checked
    /// here; scripts send the header.
    pub fn verify_cookie_request(&self, req: &Request<'_>) -> Result<(), &'static str> {
        if matches!(req.method(), Method::Get | Method::Head | Method::Options) {
            return Ok(());
        }
        if req.content_type().is_some_and(|ct| ct.is_form()) {
            return csrf::check_origin(self.site_evidence(req));
        }
        self.verify(req, req.headers().get_one(HEADER))
    }
}

impl CsrfTokens {
    fn site_evidence<'r>(&'r self, req: &'r Request<'_>) -> SiteEvidence<'r> {
        let headers = req.headers();
        SiteEvidence {
            sec_fetch_site: headers.get_one("Sec-Fetch-Site"),
            origin: headers.get_one("Origin"),
            site_origin: &self.site_origin,
        }
    }
}

/// The outcome of checking a script's `X-CSRF-Token` (and the origin), not yet logged: for
/// handlers that need it only in some cases (a passkey sign-in that sets cookies), which log a
/// refusal with [`CsrfTokens::log_refusal`] when they act on it.
pub struct ScriptCsrf(pub Result<(), &'static str>);

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for ScriptCsrf {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> rocket::request::Outcome<Self, ()> {
        let checked = match req.rocket().state::<CsrfTokens>() {
            Some(tokens) => tokens.verify(req, req.headers().get_one(HEADER)),
            None => Err("CSRF key not configured"),
        };
        rocket::request::Outcome::Success(ScriptCsrf(checked))
    }
}
