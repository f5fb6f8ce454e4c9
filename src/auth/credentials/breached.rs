//! The bundled list of common and breached passwords (NIST SP 800-63B-4 5.1.1.2; OWASP ASVS 6.2.4).

/// The NCSC's top 100,000 passwords from Have I Been Pwned, lower-cased, deduplicated and sorted
/// bytewise, after a four-line header. Compiled into the binary: nothing to find at run time.
const LIST: &str = include_str!("data/common-passwords.txt");
const HEADER_LINES: usize = 4;

/// A sorted index into [`LIST`], built once at start-up; a lookup is a binary search.
pub struct BreachedPasswords(Vec<&'static str>);

impl BreachedPasswords {
    pub fn load() -> Self {
        Self(LIST.lines().skip(HEADER_LINES).collect())
    }

    /// Whether the password, in any letter case, is on the list.
    pub fn contains(&self, password: &str) -> bool {
        let folded = password.to_lowercase();
        self.0
            .binary_search_by(|entry| entry.as_bytes().cmp(folded.as_bytes()))
            .is_ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_complete_and_sorted_for_binary_search() {
        let list = BreachedPasswords::load();
        assert!(list.len() > 97_000, "{}", list.len());
        assert!(list.0.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()));
        assert!(list.0.iter().all(|p| !p.starts_with("# ") && !p.is_empty()));
    }

    #[test]
    fn common_passwords_are_found_in_any_case() {
        let list = BreachedPasswords::load();
        for password in ["123456", "password", "PassWord", "qwerty", "iloveyou", "!"] {
            assert!(list.contains(password), "{password}");
        }
    }

    #[test]
    fn a_good_passphrase_is_not_on_the_list() {
        let list = BreachedPasswords::load();
        assert!(!list.contains("correct horse battery staple"));
        assert!(!list.contains("an entirely different passphrase"));
    }
}
