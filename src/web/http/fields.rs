//! The decoded body's model: the top-level fields of a JSON object or a form, whatever the format,
//! from which handlers take the text fields they need.

use std::collections::HashMap;

use crate::auth::AuthError;
use crate::domain::{FieldErrors, RawCredentials};

/// One value of a decoded body, whatever its format: JSON strings and form values are text, JSON
/// objects are kept whole (a WebAuthn response is one), anything else (numbers, null …) is
/// neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    Text(String),
    Object(serde_json::Value),
    NotText,
}

/// The top-level fields of a decoded JSON object or form body. Unknown fields are ignored.
#[derive(Debug, Default, Clone)]
pub struct Fields(HashMap<String, FieldValue>);

impl FromIterator<(String, FieldValue)> for Fields {
    fn from_iter<I: IntoIterator<Item = (String, FieldValue)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl Fields {
    /// Takes a required text field, recording a problem when it is missing or not text.
    pub fn text(&mut self, name: &'static str, errors: &mut FieldErrors) -> Option<String> {
        match self.0.remove(name) {
            Some(FieldValue::Text(s)) => Some(s),
            Some(FieldValue::NotText | FieldValue::Object(_)) => {
                errors.add(name, "must be a string");
                None
            }
            None => {
                errors.add(name, "is required");
                None
            }
        }
    }

    /// Takes a required JSON object field.
    pub fn object(
        &mut self,
        name: &'static str,
        errors: &mut FieldErrors,
    ) -> Option<serde_json::Value> {
        match self.0.remove(name) {
            Some(FieldValue::Object(value)) => Some(value),
            Some(_) => {
                errors.add(name, "must be an object");
                None
            }
            None => {
                errors.add(name, "is required");
                None
            }
        }
    }

    /// Takes an optional text field: absent or empty is `None` (a form sends a blank field).
    pub fn optional_text(
        &mut self,
        name: &'static str,
        errors: &mut FieldErrors,
    ) -> Option<String> {
        match self.0.remove(name) {
            Some(FieldValue::Text(s)) if !s.is_empty() => Some(s),
            Some(FieldValue::NotText | FieldValue::Object(_)) => {
                errors.add(name, "must be a string");
                None
            }
            _ => None,
        }
    }

    /// The text fields an action needs, or every problem with them.
    pub fn required<const N: usize>(
        &mut self,
        names: [&'static str; N],
    ) -> Result<[String; N], AuthError> {
        let mut errors = FieldErrors::default();
        let values = names.map(|name| self.text(name, &mut errors));
        if !errors.is_empty() {
            return Err(AuthError::InvalidInput(errors));
        }
        Ok(values.map(|v| v.expect("no errors means every field is present")))
    }

    /// The raw text of a field, if present, for re-showing it on a form.
    pub fn peek(&self, name: &str) -> Option<&str> {
        match self.0.get(name) {
            Some(FieldValue::Text(s)) => Some(s),
            _ => None,
        }
    }
}

impl TryFrom<&mut Fields> for RawCredentials {
    type Error = FieldErrors;

    fn try_from(fields: &mut Fields) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let username = fields.text("username", &mut errors);
        let password = fields.text("password", &mut errors);
        match (username, password) {
            (Some(username), Some(password)) if errors.is_empty() => {
                Ok(Self { username, password })
            }
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, FieldValue)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn text(s: &str) -> FieldValue {
        FieldValue::Text(s.to_owned())
    }

    #[test]
    fn missing_and_non_text_fields_are_reported_per_field() {
        let mut f = fields(&[("username", FieldValue::NotText)]);
        let errors = RawCredentials::try_from(&mut f).err().unwrap();
        assert_eq!(errors.get("username").unwrap(), ["must be a string"]);
        assert_eq!(errors.get("password").unwrap(), ["is required"]);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let mut f = fields(&[
            ("username", text("alice")),
            ("password", text("pw")),
            ("admin", text("true")),
        ]);
        assert!(RawCredentials::try_from(&mut f).is_ok());
    }
}
