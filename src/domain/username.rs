use std::fmt;

/// A username as registered: 3–32 ASCII letters, digits, `.`, `_` or `-`, starting with a letter
/// or digit. Unique case-insensitively; [`Username::canonical`] is the form compared.
#[derive(Clone, PartialEq, Eq)]
pub struct Username(String);

/// Why a string is not a [`Username`]; `Display` is the message shown next to the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsernameProblem {
    #[error("is required")]
    Empty,
    #[error("must be 3 to 32 characters long")]
    Length,
    #[error("may contain only ASCII letters, digits, '.', '_' and '-'")]
    Characters,
    #[error("must start with a letter or a digit")]
    Start,
}

impl Username {
    pub const MIN_LEN: usize = 3;
    pub const MAX_LEN: usize = 32;

    /// Parses a username exactly as given: no trimming, no case folding, so what is shown is what
    /// was typed.
    pub fn parse(raw: &str) -> Result<Self, UsernameProblem> {
        if raw.is_empty() {
            return Err(UsernameProblem::Empty);
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(UsernameProblem::Characters);
        }
        // All ASCII from here on, so bytes are characters.
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&raw.len()) {
            return Err(UsernameProblem::Length);
        }
        if !raw.as_bytes()[0].is_ascii_alphanumeric() {
            return Err(UsernameProblem::Start);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The username as registered.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness, login lookup and throttling: ASCII lower case.
    pub fn canonical(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    /// The form a typed name is compared and throttled by, whether or not it is a valid username:
    /// [`Username::canonical`] for valid ones; a name that breaks the rules (it cannot belong to
    /// any account, but is still throttled by what was typed) is lower-cased and cut to 64
    /// characters.
    pub fn canonical_form(raw: &str) -> String {
        match Self::parse(raw) {
            Ok(name) => name.canonical(),
            Err(_) => raw.to_lowercase().chars().take(64).collect(),
        }
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_names_within_the_rules() {
        for name in [
            "abc",
            "Alice",
            "bob.smith",
            "x_y-z",
            "9lives",
            &"a".repeat(32),
        ] {
            assert_eq!(Username::parse(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn rejects_lengths_outside_3_to_32() {
        assert_eq!(Username::parse("ab"), Err(UsernameProblem::Length));
        assert_eq!(
            Username::parse(&"a".repeat(33)),
            Err(UsernameProblem::Length)
        );
        assert_eq!(Username::parse(""), Err(UsernameProblem::Empty));
    }

    #[test]
    fn rejects_characters_outside_the_ascii_set() {
        for name in [
            "al ice",
            "alice\0",
            "ålice",
            "alice\u{202e}",
            "<script>",
            "a'; DROP TABLE users;--",
            "alice\n",
        ] {
            assert_eq!(
                Username::parse(name),
                Err(UsernameProblem::Characters),
                "{name:?}"
            );
        }
    }

    #[test]
    fn rejects_a_leading_punctuation_mark() {
        for name in [".alice", "_alice", "-alice"] {
            assert_eq!(Username::parse(name), Err(UsernameProblem::Start));
        }
    }

    #[test]
    fn canonical_form_ignores_letter_case_but_display_keeps_it() {
        let name = Username::parse("AliCe").unwrap();
        assert_eq!(name.canonical(), "alice");
        assert_eq!(name.to_string(), "AliCe");
    }

    #[test]
    fn any_typed_name_has_one_canonical_form() {
        assert_eq!(Username::canonical_form("AliCe"), "alice");
        assert_eq!(Username::canonical_form("NO SUCH NAME!"), "no such name!");
        assert_eq!(Username::canonical_form(&"X".repeat(100)).len(), 64);
    }
}
