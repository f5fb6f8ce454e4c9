//! CSRF protection: a signed double-submit token bound to the browser (OWASP CSRF Prevention
//! Cheat Sheet, "Signed Double-Submit Cookie"), plus `Origin` / `Sec-Fetch-Site` checks.
//!
//! The browser holds a random value in an HttpOnly cookie; forms carry
//! `HMAC(csrf_key, that value)`. Another browser's token does not match this browser's cookie, and
//! an attacker can neither read the cookie nor compute the HMAC. The web layer carries the values
//! between the request and these checks (`web/csrf.rs`).

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::auth::keys::master::{MasterKey, Purpose};

pub struct CsrfKey(hmac::Key);

/// Where a request says it comes from: the headers a browser sets and a page cannot forge.
#[derive(Debug, Clone, Copy, Default)]
pub struct SiteEvidence<'r> {
    pub sec_fetch_site: Option<&'r str>,
    pub origin: Option<&'r str>,
    /// `public_origin`: the one `Origin` this site's pages send.
    pub site_origin: &'r str,
}

impl CsrfKey {
    /// The CSRF key, derived from the master secret for this purpose alone.
    pub fn derive(master: &MasterKey) -> Self {
        Self(master.hmac_key(Purpose::Csrf))
    }

    /// A fresh value for a browser's CSRF cookie.
    pub fn new_browser_value() -> String {
        crate::auth::keys::random::random_token(32)
    }

    /// The token a form of this browser carries.
    pub fn token_for(&self, browser_value: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.0, browser_value.as_bytes()))
    }

    fn matches(&self, browser_value: &str, token: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(token) {
            // Constant-time comparison inside `hmac::verify`.
            Ok(tag) => hmac::verify(&self.0, browser_value.as_bytes(), &tag).is_ok(),
            Err(_) => false,
        }
    }

    /// Checks a submitted token against this browser's cookie value, and the request's origin.
    pub fn verify(
        &self,
        site: SiteEvidence<'_>,
        browser_value: Option<&str>,
        token: Option<&str>,
    ) -> Result<(), &'static str> {
        check_origin(site)?;
        let token = token.filter(|t| !t.is_empty()).ok_or("no CSRF token")?;
        let browser_value = browser_value.ok_or("no CSRF cookie")?;
        if self.matches(browser_value, token) {
            Ok(())
        } else {
            Err("CSRF token does not match")
        }
    }
}

/// Refuses requests a browser marks as cross-site, and any `Origin` other than `public_origin`
/// (`null` included, as Django does), scheme and port included: the configured origin, not the
/// request's own `Host`, which a client chooses (OWASP CSRF Prevention Cheat Sheet, "Verifying
/// origin with standard headers"). Requests without either header (non-browser clients, older
/// browsers) rely on the token alone.
pub fn check_origin(site: SiteEvidence<'_>) -> Result<(), &'static str> {
    if site.sec_fetch_site == Some("cross-site") {
        return Err("cross-site request");
    }
    if let Some(origin) = site.origin
        && !origin.eq_ignore_ascii_case(site.site_origin)
    {
        return Err("foreign origin");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn key(secret: &str) -> CsrfKey {
        CsrfKey::derive(&MasterKey::new(&Secret::new(secret.to_owned())))
    }

    #[test]
    fn a_token_verifies_only_for_its_own_browser_value() {
        let key = key("csrf-test-secret-0123456789abcdefghij");
        let token = key.token_for("browser-a");
        assert!(key.matches("browser-a", &token));
        assert!(!key.matches("browser-b", &token));
        assert!(!key.matches("browser-a", "not-base64!"));
        assert!(!key.matches("browser-a", ""));
    }

    #[test]
    fn the_key_depends_on_the_secret() {
        let token = key("csrf-test-secret-0123456789abcdefghij").token_for("browser");
        assert!(!key("another-secret-0123456789abcdefghijkl").matches("browser", &token));
    }

    #[test]
    fn cross_site_and_foreign_origins_are_refused() {
        let site = |fetch, origin| SiteEvidence {
            sec_fetch_site: fetch,
            origin,
            site_origin: "https://gate.example",
        };
        assert!(check_origin(site(None, None)).is_ok());
        assert!(check_origin(site(Some("same-origin"), Some("https://gate.example"))).is_ok());
        assert!(check_origin(site(None, Some("https://GATE.example"))).is_ok());
        // Another scheme or port of the same host is another origin.
        assert!(check_origin(site(None, Some("http://gate.example"))).is_err());
        assert!(check_origin(site(None, Some("https://gate.example:8443"))).is_err());
        assert!(check_origin(site(Some("cross-site"), None)).is_err());
        assert!(check_origin(site(None, Some("https://evil.example"))).is_err());
        assert!(check_origin(site(None, Some("null"))).is_err());
    }
}
