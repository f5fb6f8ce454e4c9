use std::fmt;

use crate::domain::username::Username;

/// bcrypt reads at most 72 bytes; longer passwords are refused, never truncated.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// A password exactly as typed, at most [`MAX_PASSWORD_BYTES`] bytes of UTF-8 and not empty.
/// This is all a sign-in needs: accounts made under older rules (e.g. by the seed) keep working.
/// `Debug` never prints it.
#[derive(Clone)]
pub struct Password(String);

/// Why a password is refused; `Display` is the message shown next to the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("is required")]
    Empty,
    #[error("must be at least {0} characters long")]
    TooShort(usize),
    #[error("must be at most 72 bytes long (bcrypt's limit; a shorter passphrase works)")]
    TooLong,
    #[error("must not contain the username")]
    ContainsUsername,
    #[error("is too common: it appears in lists of breached passwords")]
    Common,
}

/// The rules a new password must meet (NIST SP 800-63B-4 5.1.1.2: length and a blocklist, no
/// composition rules).
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    /// Counted in Unicode characters.
    pub min_length: usize,
}

impl Password {
    /// Accepts any non-empty password of at most 72 bytes, verbatim: no trimming or normalising,
    /// so it is verified exactly as typed.
    pub fn parse(raw: String) -> Result<Self, PasswordProblem> {
        if raw.is_empty() {
            Err(PasswordProblem::Empty)
        } else if raw.len() > MAX_PASSWORD_BYTES {
            Err(PasswordProblem::TooLong)
        } else {
            Ok(Self(raw))
        }
    }

    /// Parses a password being chosen: [`Password::parse`] plus the policy. Returns every problem
    /// found, so the form can show them all at once.
    pub fn parse_new(
        raw: String,
        username: Option<&Username>,
        policy: &PasswordPolicy,
        is_common: impl Fn(&str) -> bool,
    ) -> Result<Self, Vec<PasswordProblem>> {
        let mut problems = Vec::new();
        if raw.is_empty() {
            return Err(vec![PasswordProblem::Empty]);
        }
        if raw.chars().count() < policy.min_length {
            problems.push(PasswordProblem::TooShort(policy.min_length));
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            problems.push(PasswordProblem::TooLong);
        }
        if username.is_some_and(|name| raw.to_lowercase().contains(&name.canonical())) {
            problems.push(PasswordProblem::ContainsUsername);
        }
        if is_common(&raw) {
            problems.push(PasswordProblem::Common);
        }
        if problems.is_empty() {
            Ok(Self(raw))
        } else {
            Err(problems)
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: PasswordPolicy = PasswordPolicy { min_length: 15 };

    fn new(raw: &str) -> Result<Password, Vec<PasswordProblem>> {
        let name = Username::parse("alice").unwrap();
        Password::parse_new(raw.to_owned(), Some(&name), &POLICY, |p| {
            p == "commonpassword1"
        })
    }

    #[test]
    fn seventy_two_bytes_are_accepted_and_seventy_three_refused() {
        assert!(Password::parse("a".repeat(71)).is_ok());
        assert!(Password::parse("a".repeat(72)).is_ok());
        assert_eq!(
            Password::parse("a".repeat(73)).unwrap_err(),
            PasswordProblem::TooLong
        );
        assert!(new(&"b".repeat(72)).is_ok());
        assert_eq!(
            new(&"b".repeat(73)).unwrap_err(),
            [PasswordProblem::TooLong]
        );
    }

    #[test]
    fn the_byte_limit_counts_utf8_bytes_not_characters() {
        // 24 three-byte characters = 72 bytes; 25 = 75 bytes.
        assert!(Password::parse("€".repeat(24)).is_ok());
        assert_eq!(
            Password::parse("€".repeat(25)).unwrap_err(),
            PasswordProblem::TooLong
        );
    }

    #[test]
    fn the_minimum_length_counts_characters_not_bytes() {
        // 14 characters of 3 bytes each: 42 bytes, but too short.
        assert_eq!(
            new(&"€".repeat(14)).unwrap_err(),
            [PasswordProblem::TooShort(15)]
        );
        assert!(new(&"€".repeat(15)).is_ok());
    }

    #[test]
    fn a_password_containing_the_username_in_any_case_is_refused() {
        assert_eq!(
            new("my-ALICE-password-is-long").unwrap_err(),
            [PasswordProblem::ContainsUsername]
        );
    }

    #[test]
    fn a_common_password_is_refused() {
        assert_eq!(
            new("commonpassword1").unwrap_err(),
            [PasswordProblem::Common]
        );
    }

    #[test]
    fn passwords_are_kept_exactly_as_typed() {
        let raw = "  spaces and ünïcode kept  ";
        assert_eq!(new(raw).unwrap().expose(), raw);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        assert_eq!(
            new("alice").unwrap_err(),
            [
                PasswordProblem::TooShort(15),
                PasswordProblem::ContainsUsername
            ]
        );
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let p = Password::parse("hunter2-but-longer".into()).unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
