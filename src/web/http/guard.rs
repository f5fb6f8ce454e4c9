//! The request guard: reads what a request presents, lets the core decide
//! ([`Authenticator`]), and applies the decision to the response's cookies.
//!
//! Handlers take `Result<AuthUser, TokenRejection>` and map the rejection with `?`, so its exact
//! code reaches the answer without a side channel (Rocket 0.5 gives catchers no guard errors).

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};

use crate::auth::sessions::authenticator::{Authenticated, Credential, Presented};
use crate::auth::{AuthUser, Authenticator, TokenRejection};
use crate::web::http::cookies::SessionCookies;
use crate::web::http::csrf::CsrfTokens;
use crate::web::http::error::ApiError;
use crate::web::http::request::RequestId;

/// Fails a request guard so that the catcher for `status` answers. Only for guards whose
/// failure says no more than its status (`404` for a page a JSON client asks for, a metrics
/// reader who may not read): guards with more to say are taken as `Result` by their handlers.
pub fn reject<T>(status: Status) -> Outcome<T, ()> {
    Outcome::Error((status, ()))
}

/// Reads the token from the `Authorization` header, else from the access cookie.
pub fn presented_token<'r>(
    req: &'r Request<'_>,
    cookie_name: &str,
) -> Result<Credential<'r>, TokenRejection> {
    let mut headers = req.headers().get("Authorization");
    if let Some(value) = headers.next() {
        if headers.next().is_some() {
            return Err(TokenRejection::Invalid("several Authorization headers"));
        }
        // RFC 6750 2.1: `Bearer 1*SP b64token`; the scheme is case-insensitive (RFC 9110 11.1).
        let (scheme, token) = value
            .split_once(' ')
            .ok_or(TokenRejection::Invalid("not a Bearer credential"))?;
        if !scheme.eq_ignore_ascii_case("Bearer") {
            return Err(TokenRejection::Invalid("not a Bearer credential"));
        }
        let token = token.trim_matches(' ');
        if token.is_empty() {
            return Err(TokenRejection::Invalid("empty Bearer credential"));
        }
        return Ok(Credential::Bearer(token));
    }
    match req.cookies().get(cookie_name) {
        Some(cookie) if !cookie.value().is_empty() => {
            Ok(Credential::Cookie(cookie.value().to_owned()))
        }
        _ => Err(TokenRejection::Missing),
    }
}

async fn authenticate(req: &Request<'_>) -> Result<AuthUser, TokenRejection> {
    let rocket = req.rocket();
    let (Some(authenticator), Some(cookies), Some(csrf)) = (
        rocket.state::<Authenticator>(),
        rocket.state::<SessionCookies>(),
        rocket.state::<CsrfTokens>(),
    ) else {
        log::error!("the authenticator is not managed: was the core ignited?");
        return Err(TokenRejection::Unavailable);
    };
    let presented = Presented {
        token: presented_token(req, cookies.access_name()),
        refresh_cookie: req
            .cookies()
            .get(cookies.refresh_name())
            .map(|c| c.value().to_owned())
            .filter(|v| !v.is_empty()),
        ip: req.client_ip(),
        request_id: RequestId::of(req),
    };
    let decided = authenticator
        .authenticate(presented, || csrf.verify_cookie_request(req))
        .await;
    match decided {
        Ok(Authenticated::ByToken(user)) => Ok(user),
        Ok(Authenticated::Renewed(sign_in)) => {
            cookies.set(req.cookies(), &sign_in);
            Ok(sign_in.user())
        }
        Err(refusal) => {
            if refusal.clear_cookies {
                cookies.remove(req.cookies());
            }
            Err(refusal.rejection)
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AuthUser {
    type Error = TokenRejection;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        // Cached: several guards in one request check the token once.
        let result = req
            .local_cache_async(async { authenticate(req).await })
            .await;
        match result {
            Ok(user) => Outcome::Success(user.clone()),
            Err(rejection) => Outcome::Error((ApiError::from(*rejection).status(), *rejection)),
        }
    }
}

#[cfg(test)]
mod tests {
    use rocket::local::blocking::Client;

    /// Rocket moves the guard's future several times per request (into `local_cache_async`'s
    /// slot, into its box): every byte of it is copied on the hot path. The paths that reach the
    /// database are boxed, so the common case stays small.
    #[test]
    fn the_authentication_future_stays_small() {
        let client = Client::untracked(rocket::build()).expect("a bare rocket");
        let request = client.get("/protected");
        let future = super::authenticate(request.inner());
        let size = std::mem::size_of_val(&future);
        println!("authenticate future: {size} bytes");
        assert!(size <= 1024, "authenticate's future is {size} bytes");
    }
}
