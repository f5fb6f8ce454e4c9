//! What a handler needs to answer a browser: the session cookies, the CSRF tokens of the next
//! form, and the request's cookie jar, as one request guard.

use rocket::http::{CookieJar, Status};
use rocket::request::{FromRequest, Outcome, Request};

use crate::auth::SignInStep;
use crate::web::http::cookies::SessionCookies;
use crate::web::http::csrf::CsrfTokens;
use crate::web::http::reply::Reply;

pub struct Browser<'r> {
    pub cookies: &'r SessionCookies,
    pub csrf: &'r CsrfTokens,
    pub jar: &'r CookieJar<'r>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Browser<'r> {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let rocket = req.rocket();
        match (
            rocket.state::<SessionCookies>(),
            rocket.state::<CsrfTokens>(),
        ) {
            (Some(cookies), Some(csrf)) => Outcome::Success(Browser {
                cookies,
                csrf,
                jar: req.cookies(),
            }),
            _ => {
                log::error!("the session cookies are not managed: was the core ignited?");
                Outcome::Error((Status::InternalServerError, ()))
            }
        }
    }
}

impl Browser<'_> {
    /// The CSRF token of a form on the next page.
    pub fn form_token(&self) -> String {
        self.csrf.form_token(self.jar)
    }

    /// Where a browser goes once a sign-in has reached a step: signed in, to `target` with the
    /// session's cookies; a second factor due, to its page with the pending sign-in's cookie
    /// (`next` waits with the pending sign-in, on the server).
    pub fn signed_in(&self, step: SignInStep, target: &str) -> Reply {
        match step {
            SignInStep::SessionOpened { sign_in, device } => {
                self.cookies.set(self.jar, &sign_in);
                self.cookies.set_device(self.jar, device);
                Reply::see_other(target)
            }
            SignInStep::SecondFactorDue { mfa_token, .. } => {
                self.cookies.remember_pending(self.jar, mfa_token);
                Reply::see_other("/login/mfa")
            }
        }
    }
}
