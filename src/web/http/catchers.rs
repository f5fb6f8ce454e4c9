//! Every error Rocket itself produces (unmatched routes, guards that reject, oversized bodies …)
//! goes through [`ApiError`], so JSON clients always get the JSON error shape and browsers a page.

use std::collections::BTreeSet;

use rocket::http::{Method, Status};
use rocket::request::Request;
use rocket::{Catcher, catch, catchers};

use crate::web::http::error::ApiError;

pub fn catchers() -> Vec<Catcher> {
    catchers![default]
}

#[catch(default)]
fn default(status: Status, req: &Request<'_>) -> ApiError {
    // `TRACE` echoes a request back, cookies and all (cross-site tracing): no route serves it,
    // and it is answered 405 rather than 404.
    if req.method() == Method::Trace || status == Status::NotFound {
        let allowed = allowed_methods(req);
        let served = allowed.contains(req.method().as_str());
        if req.method() == Method::Trace || (!allowed.is_empty() && !served) {
            let allow = allowed.into_iter().collect::<Vec<_>>().join(", ");
            return ApiError::MethodNotAllowed { allow };
        }
    }
    ApiError::for_status(status)
}

/// The methods the mounted routes serve at the request's path: a path that exists answers
/// another method with `405` and `Allow`, not `404` (RFC 9110 15.5.6). `HEAD` comes with `GET`:
/// Rocket answers it from the `GET` route.
fn allowed_methods(req: &Request<'_>) -> BTreeSet<&'static str> {
    let path = req.uri().path();
    let mut methods = BTreeSet::new();
    for route in req.rocket().routes() {
        if path_matches(route.uri.path(), path.as_str()) {
            methods.insert(route.method.as_str());
            if route.method == Method::Get {
                methods.insert(Method::Head.as_str());
            }
        }
    }
    methods
}

/// Whether a route's path template (`/sessions/<id>`, `/static/<path..>`) matches a path.
fn path_matches(template: &str, path: &str) -> bool {
    let mut wanted = template.trim_start_matches('/').split('/');
    let mut given = path.trim_start_matches('/').split('/');
    loop {
        match (wanted.next(), given.next()) {
            (Some(segment), _) if segment.starts_with('<') && segment.ends_with("..>") => {
                return true;
            }
            (Some(segment), Some(part))
                if segment.starts_with('<') && segment.ends_with('>') && !part.is_empty() => {}
            (Some(segment), Some(part)) if segment == part => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::path_matches;

    #[test]
    fn templates_match_their_paths_only() {
        assert!(path_matches("/login", "/login"));
        assert!(!path_matches("/login", "/login/x"));
        assert!(!path_matches("/login", "/logins"));
        assert!(path_matches("/sessions/<id>", "/sessions/abc"));
        assert!(!path_matches("/sessions/<id>", "/sessions/"));
        assert!(!path_matches("/sessions/<id>", "/sessions/a/b"));
        assert!(path_matches("/static/<path..>", "/static/app.css"));
        assert!(path_matches("/", "/"));
        assert!(!path_matches("/", "/nope"));
    }
}
