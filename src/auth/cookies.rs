//! The auth cookies, built in one place with every attribute spelled out.

use rocket::http::{Cookie, CookieJar, SameSite};
use time::Duration;

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

/// The access-token cookie: `HttpOnly` (no script reads it), `SameSite=Lax`, `Path=/`, no
/// `Domain`, `Secure` unless configured off for plain-http local use.
pub fn access_cookie(settings: &Settings, token: String) -> Cookie<'static> {
    Cookie::build((access_cookie_name(settings), token))
        .http_only(true)
        .secure(settings.cookie_secure)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(Duration::seconds(settings.access_token_ttl.as_secs() as i64))
        .build()
}

/// Removes the access cookie. The removal carries the same attributes as the cookie: Rocket's
/// `remove()` alone drops `Secure`, and browsers ignore such a removal of a `__Host-` cookie.
pub fn remove_access_cookie(settings: &Settings, jar: &CookieJar<'_>) {
    jar.remove(access_cookie(settings, String::new()));
}
