//! Security headers on every response, catchers and redirects included.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::{Request, Response};

use crate::auth::audit::RequestId;

/// No inline script or style anywhere (no `unsafe-inline`); no framing (clickjacking, OWASP
/// Clickjacking Defense Cheat Sheet); forms post only to this site.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub struct SecurityHeaders;

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info {
            name: "Security headers and request ids",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut rocket::Data<'_>) {
        let id = RequestId::from_header(req.headers().get_one("X-Request-Id"));
        req.local_cache(|| Some(id));
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        res.set_header(Header::new("X-Content-Type-Options", "nosniff"));
        // `same-origin`, not `no-referrer`: with the latter Chromium sends `Origin: null` on
        // same-origin form posts, which the CSRF check must refuse.
        res.set_header(Header::new("Referrer-Policy", "same-origin"));
        res.set_header(Header::new(
            "Content-Security-Policy",
            CONTENT_SECURITY_POLICY,
        ));
        // Static assets hold nothing about anyone; everything else may (OWASP ASVS 14.3.2).
        if !req.uri().path().starts_with("/static/") {
            res.set_header(Header::new("Cache-Control", "no-store"));
        }
        res.remove_header("Server");
        if let Some(id) = RequestId::of(req) {
            res.set_header(Header::new("X-Request-Id", id.to_owned()));
        }
    }
}
