//! Security headers on every response, catchers and redirects included, and the request id.
//!
//! The three Rocket's Shield would add are set here too, with Shield left out: it looks each
//! header up before setting it, and Rocket's header map hashes names byte by byte with SipHash,
//! so Shield cost a measurable share of `/protected` (callgrind; docs/performance.md).

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::shield::Shield;
use rocket::{Request, Response};

use crate::web::http::request::RequestId;

/// Pages: no inline script or style anywhere (no `unsafe-inline`); no framing (clickjacking,
/// OWASP Clickjacking Defense Cheat Sheet); forms post only to this site.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// Everything that is not a page (JSON above all) loads nothing and is framed by nobody (OWASP REST
/// Security Cheat Sheet, "Security headers").
pub const API_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// What Rocket's Shield sends by default, except that no page may be framed at all, as the CSP's
/// `frame-ancestors 'none'` says (OWASP Clickjacking Defense Cheat Sheet: `X-Frame-Options: DENY`).
/// `nosniff`: OWASP HTTP Headers Cheat Sheet; `interest-cohort=()`: Shield's default
/// `Permissions-Policy`.
/// Rocket attaches `Shield::default()` unless a Shield is attached: this one has no policies, so
/// it adds nothing and looks nothing up; [`SecurityHeaders`] sends its headers instead.
pub fn no_shield() -> Shield {
    Shield::new()
}

const FIXED_HEADERS: [(&str, &str); 3] = [
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Permissions-Policy", "interest-cohort=()"),
];

/// `Strict-Transport-Security` (RFC 6797), from `hsts_max_age`: off when zero. Browsers heed it
/// only over HTTPS, so it is harmless on a plain-http loopback; managed as state.
pub struct Hsts(Option<String>);

impl Hsts {
    pub fn new(max_age: u64) -> Self {
        Self((max_age > 0).then(|| format!("max-age={max_age}")))
    }
}

/// Rocket's flash cookie is set without `HttpOnly`; only the server reads it (OWASP Session
/// Management Cheat Sheet: `HttpOnly` on every cookie script does not need).
fn http_only_flash(res: &mut Response<'_>) {
    let cookies: Vec<String> = res.headers().get("Set-Cookie").map(str::to_owned).collect();
    if !cookies
        .iter()
        .any(|c| c.starts_with("_flash=") && !c.contains("HttpOnly"))
    {
        return;
    }
    res.remove_header("Set-Cookie");
    for cookie in cookies {
        let cookie = if cookie.starts_with("_flash=") && !cookie.contains("HttpOnly") {
            format!("{cookie}; HttpOnly")
        } else {
            cookie
        };
        res.adjoin_header(Header::new("Set-Cookie", cookie));
    }
}

pub struct SecurityHeaders;

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info {
            name: "Security headers and request ids",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        for (name, value) in FIXED_HEADERS {
            res.set_header(Header::new(name, value));
        }
        // `same-origin`, not `no-referrer`: with the latter Chromium sends `Origin: null` on
        // same-origin form posts, which the CSRF check must refuse.
        res.set_header(Header::new("Referrer-Policy", "same-origin"));
        let page = res.content_type().is_some_and(|ct| ct.is_html());
        res.set_header(Header::new(
            "Content-Security-Policy",
            if page {
                CONTENT_SECURITY_POLICY
            } else {
                API_CONTENT_SECURITY_POLICY
            },
        ));
        // Static assets hold nothing about anyone; everything else may (OWASP ASVS 14.3.2).
        // The published keys are public and meant to be cached (docs/api.md §6).
        let public = req.uri().path().starts_with("/static/")
            || req.uri().path() == crate::web::ops::jwks::PATH;
        if !public {
            res.set_header(Header::new("Cache-Control", "no-store"));
        }
        // Rocket adds its `Server` banner before response fairings run, unless `ident = false`.
        if req.rocket().config().ident.as_str().is_some() {
            res.remove_header("Server");
        }
        res.set_header(Header::new("X-Request-Id", RequestId::of(req)));
        if let Some(Hsts(Some(value))) = req.rocket().state::<Hsts>() {
            res.set_header(Header::new("Strict-Transport-Security", value.clone()));
        }
        http_only_flash(res);
    }
}
