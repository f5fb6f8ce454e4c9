/// A redirect target on this site: an absolute path, never another host.
///
/// Refuses scheme-relative (`//evil`), backslash (`/\evil`, which browsers read as `//`), control
/// and whitespace characters, and anything that is not an origin-form URI of RFC 3986 characters
/// (OWASP Unvalidated Redirects and Forwards Cheat Sheet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPath(String);

impl LocalPath {
    const MAX_LEN: usize = 512;

    pub fn parse(raw: &str) -> Option<Self> {
        let ok = raw.len() <= Self::MAX_LEN
            && raw.starts_with('/')
            && !raw.starts_with("//")
            && !raw.contains('\\')
            && !raw.chars().any(|c| c.is_control() || c.is_whitespace())
            && is_origin_form(raw);
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// RFC 3986 `path-abempty [ "?" query ]`: unreserved, sub-delims, `:`, `@`, `/`, `?` and
/// percent-encoded octets, nothing else (no fragment: it never reaches a server).
fn is_origin_form(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
            continue;
        }
        if !(b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&b)) {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_local_paths() {
        for path in ["/", "/dashboard", "/dashboard?tab=sessions", "/a/b"] {
            assert_eq!(LocalPath::parse(path).unwrap().as_str(), path);
        }
    }

    #[test]
    fn refuses_anything_that_can_leave_the_site() {
        for path in [
            "",
            "dashboard",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "/\tevil",
            "/ /evil",
            "/%0d%0aSet-Cookie:x",
            "/\r\nLocation: x",
            "/%zz",
            "/caf\u{e9}",
            "/a#fragment",
            "/<script>",
        ] {
            let parsed = LocalPath::parse(path);
            // Percent-encoded bytes are inert in a path: they stay encoded in the redirect.
            if path == "/%0d%0aSet-Cookie:x" {
                assert!(parsed.is_some());
            } else {
                assert!(parsed.is_none(), "{path:?}");
            }
        }
    }
}
