use std::fmt;

/// An email address as given: ASCII, one `@`, a dot-atom local part of at most 64 characters and
/// a domain of dot-separated labels (RFC 5321 4.5.3.1, RFC 5322 3.4.1), 254 characters at most in
/// all (RFC 5321's path limit less the brackets). Quoted local parts, address literals and
/// internationalised addresses are refused: no mail system a user signs up with needs them, and
/// each is a classic source of parser disagreement. Compared case-insensitively
/// ([`EmailAddress::canonical`]).
#[derive(Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

/// Why a string is not an [`EmailAddress`]; `Display` is the message shown next to the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailProblem {
    #[error("is required")]
    Empty,
    #[error("must be at most 254 characters long")]
    Length,
    #[error("is not an email address")]
    Syntax,
}

/// RFC 5322 `atext`.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

impl EmailAddress {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, EmailProblem> {
        if raw.is_empty() {
            return Err(EmailProblem::Empty);
        }
        if raw.len() > Self::MAX_LEN {
            return Err(EmailProblem::Length);
        }
        let Some((local, domain)) = raw.split_once('@') else {
            return Err(EmailProblem::Syntax);
        };
        let dot_atom = |s: &str, allowed: fn(char) -> bool| {
            !s.is_empty()
                && s.split('.')
                    .all(|a| !a.is_empty() && a.chars().all(allowed))
        };
        let label = |l: &str| {
            l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        let local_ok = local.len() <= 64 && dot_atom(local, is_atext);
        let domain_ok = domain.contains('.')
            && dot_atom(domain, |c| c.is_ascii_alphanumeric() || c == '-')
            && domain.split('.').all(label);
        if local_ok && domain_ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(EmailProblem::Syntax)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form addresses are compared and kept unique by: ASCII lower case.
    pub fn canonical(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Debug for EmailAddress {
    /// An address is personal data: logs and panics show its domain only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let domain = self.0.rsplit_once('@').map_or("", |(_, d)| d);
        write!(f, "EmailAddress(…@{domain})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_addresses_parse_as_typed() {
        for ok in [
            "alice@example.com",
            "Alice.Smith+tag@mail.example.co.uk",
            "o'brien@x-y.example",
            "a@b.cd",
        ] {
            assert_eq!(EmailAddress::parse(ok).unwrap().as_str(), ok);
        }
        assert_eq!(
            EmailAddress::parse("Alice@Example.COM")
                .unwrap()
                .canonical(),
            "alice@example.com"
        );
    }

    #[test]
    fn malformed_addresses_are_refused_with_a_reason() {
        assert_eq!(EmailAddress::parse(""), Err(EmailProblem::Empty));
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(EmailAddress::parse(&long), Err(EmailProblem::Length));
        for bad in [
            "alice",
            "@example.com",
            "alice@",
            "alice@localhost",
            "a@b@example.com",
            "al ice@example.com",
            ".alice@example.com",
            "alice.@example.com",
            "al..ice@example.com",
            "alice@-example.com",
            "alice@example..com",
            "\"alice\"@example.com",
            "alice@[127.0.0.1]",
            "élise@example.com",
            "alice@exämple.com",
            "alice@example.com\r\nBcc: eve@example.com",
        ] {
            assert_eq!(
                EmailAddress::parse(bad),
                Err(EmailProblem::Syntax),
                "{bad:?}"
            );
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert_eq!(EmailAddress::parse(&long_local), Err(EmailProblem::Syntax));
    }

    #[test]
    fn debug_output_hides_the_local_part() {
        let address = EmailAddress::parse("alice@example.com").unwrap();
        assert_eq!(format!("{address:?}"), "EmailAddress(…@example.com)");
    }
}
