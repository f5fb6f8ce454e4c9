use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::password::{Password, PasswordPolicy, PasswordProblem};
use crate::domain::username::Username;

/// Per-field problems of a well-formed body, serialised as `{"field": ["problem", …]}`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn add(&mut self, field: &'static str, problem: impl ToString) {
        self.add_owned(field.to_owned(), problem);
    }

    pub fn add_owned(&mut self, field: String, problem: impl ToString) {
        self.0.entry(field).or_default().push(problem.to_string());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    pub fn get(&self, field: &str) -> Option<&[String]> {
        self.0.get(field).map(Vec::as_slice)
    }

    /// `Ok(value)` when no problem was recorded, else the problems.
    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, FieldErrors> {
        if self.is_empty() {
            Ok(value())
        } else {
            Err(self)
        }
    }
}

/// `{username, password}` as received: both present and text, nothing else checked yet.
#[derive(Clone)]
pub struct RawCredentials {
    pub username: String,
    pub password: String,
}

/// A sign-in attempt.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// `None` when the name cannot belong to any account (it breaks the username rules): the
    /// attempt is then answered exactly like one for an unknown user.
    pub username: Option<Username>,
    pub password: Password,
}

impl Credentials {
    /// Only presence and the 72-byte limit are checked: the username and password rules apply
    /// when an account is created, and say nothing about whether an account exists.
    pub fn parse(raw: RawCredentials) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        if raw.username.is_empty() {
            errors.add("username", "is required");
        }
        let password = Password::parse(raw.password)
            .map_err(|p| errors.add("password", p))
            .ok();
        let username = Username::parse(&raw.username).ok();
        errors.into_result(|| Self {
            username,
            password: password.expect("no errors means the password parsed"),
        })
    }
}

/// A registration: a valid username and a password that meets the policy.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: Username,
    pub password: Password,
}

impl NewAccount {
    pub fn parse(
        raw: RawCredentials,
        policy: &PasswordPolicy,
        is_common: impl Fn(&str) -> bool,
    ) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let username = Username::parse(&raw.username)
            .map_err(|p| errors.add("username", p))
            .ok();
        let password = Password::parse_new(raw.password, username.as_ref(), policy, is_common)
            .map_err(|problems| {
                problems
                    .iter()
                    .for_each(|p: &PasswordProblem| errors.add("password", p))
            })
            .ok();
        match (username, password) {
            (Some(username), Some(password)) => Ok(Self { username, password }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: PasswordPolicy = PasswordPolicy { min_length: 15 };

    #[test]
    fn a_sign_in_with_an_impossible_username_parses_as_no_account() {
        let raw = RawCredentials {
            username: "no such name!".into(),
            password: "pw".into(),
        };
        assert!(Credentials::parse(raw).unwrap().username.is_none());
    }

    #[test]
    fn a_sign_in_with_a_73_byte_password_is_refused() {
        let raw = RawCredentials {
            username: "alice".into(),
            password: "p".repeat(73),
        };
        assert!(
            Credentials::parse(raw)
                .unwrap_err()
                .get("password")
                .is_some()
        );
    }

    #[test]
    fn a_registration_reports_problems_of_both_fields() {
        let raw = RawCredentials {
            username: "a".into(),
            password: "short".into(),
        };
        let errors = NewAccount::parse(raw, &POLICY, |_| false).unwrap_err();
        assert_eq!(
            errors.get("username").unwrap(),
            ["must be 3 to 32 characters long"]
        );
        assert_eq!(
            errors.get("password").unwrap(),
            ["must be at least 15 characters long"]
        );
    }
}
