//! The session cookies, built in one place with every attribute spelled out.

use std::time::Duration;

use rocket::http::{Cookie, CookieJar, SameSite};

use crate::auth::SignIn;
use crate::auth::accounts::second_factor::CHALLENGE_TTL;
use crate::config::Settings;

/// How the session cookies are named and how long they live; managed as Rocket state.
#[derive(Debug, Clone)]
pub struct SessionCookies {
    secure: bool,
    access_ttl: Duration,
    refresh_ttl: Duration,
}

impl SessionCookies {
    pub fn new(settings: &Settings) -> Self {
        Self {
            secure: settings.site.cookie_secure,
            access_ttl: settings.tokens.access_token_ttl,
            refresh_ttl: settings.tokens.refresh_token_ttl,
        }
    }

    /// Whether cookies are `Secure` (and `__Host-` prefixed).
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// The pending sign-in of a browser: never the access cookie, HttpOnly, gone in five minutes.
    pub fn pending_name(&self) -> &'static str {
        if self.secure {
            "__Host-gatehouse_mfa"
        } else {
            "gatehouse_mfa"
        }
    }

    /// Keeps a browser's pending sign-in while it fetches the code page.
    pub fn remember_pending(&self, jar: &CookieJar<'_>, mfa_token: String) {
        jar.add(
            Cookie::build((self.pending_name(), mfa_token))
                .http_only(true)
                .secure(self.secure)
                .same_site(SameSite::Lax)
                .path("/")
                .max_age(time::Duration::seconds(CHALLENGE_TTL.as_secs() as i64))
                .build(),
        );
    }

    /// Ends a browser's pending sign-in.
    pub fn forget_pending(&self, jar: &CookieJar<'_>) {
        jar.remove(
            Cookie::build((self.pending_name(), ""))
                .http_only(true)
                .secure(self.secure)
                .same_site(SameSite::Lax)
                .path("/")
                .build(),
        );
    }

    /// The access cookie's name: `__Host-` prefixed when secure, so browsers refuse it unless it
    /// is `Secure`, host-only and `Path=/` (RFC 6265bis 4.1.3.2; OWASP Session Management Cheat
    /// Sheet).
    pub fn access_name(&self) -> &'static str {
        if self.secure {
            "__Host-gatehouse_at"
        } else {
            "gatehouse_at"
        }
    }

    /// The refresh cookie's name. It needs `Path=/` like the access cookie: an expired access
    /// cookie is renewed on whatever page the browser loads next, and a `__Host-` cookie must be
    /// `Path=/`.
    pub fn refresh_name(&self) -> &'static str {
        if self.secure {
            "__Host-gatehouse_rt"
        } else {
            "gatehouse_rt"
        }
    }

    /// The device cookie's name (see `auth/devices.rs`).
    pub fn device_name(&self) -> &'static str {
        if self.secure {
            "__Host-gatehouse_device"
        } else {
            "gatehouse_device"
        }
    }

    /// Keeps a device token in the browser for a year: it outlives sessions on purpose.
    pub fn set_device(&self, jar: &CookieJar<'_>, token: String) {
        jar.add(self.build(
            self.device_name(),
            token,
            Duration::from_secs(365 * 24 * 60 * 60),
        ));
    }

    /// An auth cookie: `HttpOnly` (no script reads it), `SameSite=Lax`, `Path=/`, no `Domain`,
    /// `Secure` unless configured off for plain-http local use.
    pub fn build(&self, name: &'static str, value: String, max_age: Duration) -> Cookie<'static> {
        Cookie::build((name, value))
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .path("/")
            .max_age(time::Duration::seconds(
                i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
            ))
            .build()
    }

    /// Puts a sign-in's tokens into the browser's cookies; the tokens never appear in a page.
    pub fn set(&self, jar: &CookieJar<'_>, sign_in: &SignIn) {
        jar.add(self.build(
            self.access_name(),
            sign_in.access_token.clone(),
            self.access_ttl,
        ));
        jar.add(self.build(
            self.refresh_name(),
            sign_in.refresh_token.clone(),
            self.refresh_ttl,
        ));
    }

    /// Removes both auth cookies. Each removal carries the cookie's own attributes: Rocket's
    /// `remove()` alone drops `Secure`, and browsers ignore such a removal of a `__Host-` cookie.
    pub fn remove(&self, jar: &CookieJar<'_>) {
        for name in [self.access_name(), self.refresh_name()] {
            jar.remove(self.build(name, String::new(), Duration::ZERO));
        }
    }
}
