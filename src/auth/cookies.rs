//! The auth cookies, built in one place with every attribute spelled out.

use rocket::http::{Cookie, CookieJar, SameSite};
use time::Duration;

use super::SignIn;
use crate::config::Settings;

/// The access cookie's name: `__Host-` prefixed when secure, so browsers refuse it unless it is
/// `Secure`, host-only and `Path=/` (RFC 6265bis 4.1.3.2; OWASP Session Management Cheat Sheet).
pub fn access_cookie_name(settings: &Settings) -> &'static str {
    if settings.cookie_secure {
        "__Host-gatehouse_at"
    } else {
        "gatehouse_at"
    }
}

/// The refresh cookie's name. It needs `Path=/` like the access cookie: an expired access cookie
/// is renewed on whatever page the browser loads next, and a `__Host-` cookie must be `Path=/`.
pub fn refresh_cookie_name(settings: &Settings) -> &'static str {
    if settings.cookie_secure {
        "__Host-gatehouse_rt"
    } else {
        "gatehouse_rt"
    }
}

/// An auth cookie: `HttpOnly` (no script reads it), `SameSite=Lax`, `Path=/`, no `Domain`,
/// `Secure` unless configured off for plain-http local use.
fn auth_cookie(
    settings: &Settings,
    name: &'static str,
    value: String,
    max_age: std::time::Duration,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .secure(settings.cookie_secure)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(Duration::seconds(
            i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
        ))
        .build()
}

/// Puts a sign-in's tokens into the browser's cookies; the tokens never appear in a page.
pub fn set_session_cookies(settings: &Settings, jar: &CookieJar<'_>, sign_in: &SignIn) {
    jar.add(auth_cookie(
        settings,
        access_cookie_name(settings),
        sign_in.access_token.clone(),
        settings.access_token_ttl,
    ));
    jar.add(auth_cookie(
        settings,
        refresh_cookie_name(settings),
        sign_in.refresh_token.clone(),
        settings.refresh_token_ttl,
    ));
}

/// Removes both auth cookies. Each removal carries the cookie's own attributes: Rocket's
/// `remove()` alone drops `Secure`, and browsers ignore such a removal of a `__Host-` cookie.
pub fn remove_session_cookies(settings: &Settings, jar: &CookieJar<'_>) {
    for name in [access_cookie_name(settings), refresh_cookie_name(settings)] {
        jar.remove(auth_cookie(
            settings,
            name,
            String::new(),
            std::time::Duration::ZERO,
        ));
    }
}
