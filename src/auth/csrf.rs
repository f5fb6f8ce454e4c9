//! CSRF protection: a signed double-submit token bound to the browser (OWASP CSRF Prevention
//! Cheat Sheet, "Signed Double-Submit Cookie"), plus `Origin` / `Sec-Fetch-Site` checks.
//!
//! The browser holds a random value in an HttpOnly cookie; forms carry
//! `HMAC(csrf_key, that value)`. Another browser's token does not match this browser's cookie, and
//! an attacker can neither read the cookie nor compute the HMAC.

use aws_lc_rs::{hkdf, hmac};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rocket::http::{Cookie, CookieJar, SameSite};
use rocket::request::Request;

use crate::config::Settings;

/// The form field that carries the token.
pub const FORM_FIELD: &str = "csrf_token";
/// The header that carries the token for scripts.
pub const HEADER: &str = "X-CSRF-Token";

pub struct CsrfKey(hmac::Key);

impl CsrfKey {
    /// Derives the CSRF key from the JWT secret with HKDF-SHA256 (RFC 5869). HKDF uses the secret
    /// only as input keying material, never as an HMAC key, so the JWT key serves one purpose.
    pub fn derive(settings: &Settings) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"gatehouse key derivation v1")
            .extract(settings.jwt_secret.expose().as_bytes());
        let okm = prk
            .expand(&[b"csrf"], hmac::HMAC_SHA256)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self(hmac::Key::from(okm))
    }

    fn sign(&self, browser_value: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.0, browser_value.as_bytes()))
    }

    fn verify(&self, browser_value: &str, token: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(token) {
            // Constant-time comparison inside `hmac::verify`.
            Ok(tag) => hmac::verify(&self.0, browser_value.as_bytes(), &tag).is_ok(),
            Err(_) => false,
        }
    }
}

fn cookie_name(settings: &Settings) -> &'static str {
    if settings.cookie_secure {
        "__Host-gatehouse_csrf"
    } else {
        "gatehouse_csrf"
    }
}

/// The token for this browser's forms, setting the browser's CSRF cookie when it has none.
pub fn form_token(key: &CsrfKey, settings: &Settings, jar: &CookieJar<'_>) -> String {
    let value = match jar.get(cookie_name(settings)) {
        Some(cookie) if !cookie.value().is_empty() => cookie.value().to_owned(),
        _ => {
            let value = super::random_token(32);
            jar.add(
                Cookie::build((cookie_name(settings), value.clone()))
                    .http_only(true)
                    .secure(settings.cookie_secure)
                    .same_site(SameSite::Lax)
                    .path("/")
                    .build(),
            );
            value
        }
    };
    key.sign(&value)
}

/// Checks a submitted token against this browser's cookie, and the request's origin.
pub fn verify(
    key: &CsrfKey,
    settings: &Settings,
    req: &Request<'_>,
    token: Option<&str>,
) -> Result<(), &'static str> {
    check_origin(req)?;
    let token = token.filter(|t| !t.is_empty()).ok_or("no CSRF token")?;
    let cookie = req
        .cookies()
        .get(cookie_name(settings))
        .map(|c| c.value().to_owned())
        .ok_or("no CSRF cookie")?;
    if key.verify(&cookie, token) {
        Ok(())
    } else {
        Err("CSRF token does not match")
    }
}

/// Refuses requests a browser marks as cross-site, and any `Origin` other than this site's own
/// (`null` included, as Django does). Requests without either header (non-browser clients,
/// older browsers) rely on the token alone.
pub fn check_origin(req: &Request<'_>) -> Result<(), &'static str> {
    if req.headers().get_one("Sec-Fetch-Site") == Some("cross-site") {
        return Err("cross-site request");
    }
    if let Some(origin) = req.headers().get_one("Origin") {
        let host = req.headers().get_one("Host").ok_or("Origin without Host")?;
        let origin_host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
            .ok_or("foreign origin")?;
        if !origin_host.eq_ignore_ascii_case(host) {
            return Err("foreign origin");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::figment::Figment;

    fn key(secret: &str) -> CsrfKey {
        let figment = Figment::new().merge(("jwt_secret", secret));
        CsrfKey::derive(&Settings::from_figment(&figment).unwrap().0)
    }

    #[test]
    fn a_token_verifies_only_for_its_own_browser_value() {
        let key = key("csrf-test-secret-0123456789abcdefghij");
        let token = key.sign("browser-a");
        assert!(key.verify("browser-a", &token));
        assert!(!key.verify("browser-b", &token));
        assert!(!key.verify("browser-a", "not-base64!"));
        assert!(!key.verify("browser-a", ""));
    }

    #[test]
    fn the_key_depends_on_the_secret() {
        let token = key("csrf-test-secret-0123456789abcdefghij").sign("browser");
        assert!(!key("another-secret-0123456789abcdefghijkl").verify("browser", &token));
    }
}
