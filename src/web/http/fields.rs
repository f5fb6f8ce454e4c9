//! The decoded body's model: the top-level fields of a JSON object or a form, whatever the format,
//! from which handlers take the text fields they need.

use std::cell::RefCell;
use std::collections::HashMap;

use serde::de::value::{Error as ShapeError, MapDeserializer, StrDeserializer};
use serde::de::{
    DeserializeOwned, DeserializeSeed, Error as _, IntoDeserializer, MapAccess, Visitor,
};
use serde::{Deserializer, forward_to_deserialize_any};

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

    /// The fields a body of shape `T` names, taken out: `String` fields are required text,
    /// `Option<String>` fields optional text (a blank form field is absent), and
    /// `serde_json::Value` fields required JSON objects. Every missing or mistyped field is
    /// reported, each under its name, as [`Fields::text`] reports it; unknown fields are ignored.
    pub fn take<T: DeserializeOwned>(&mut self) -> Result<T, FieldErrors> {
        let errors = RefCell::new(FieldErrors::default());
        let taken = T::deserialize(Taken {
            fields: self,
            errors: &errors,
        });
        let mut errors = errors.into_inner();
        match taken {
            Ok(value) if errors.is_empty() => Ok(value),
            Ok(_) => Err(errors),
            Err(e) => {
                // A shape `T` cannot take (a number field, say) is the handler's mistake.
                errors.add_owned("body".to_owned(), "is not understood");
                log::error!("a body type cannot be read from fields: {e}");
                Err(errors)
            }
        }
    }

    /// The raw text of a field, if present, for re-showing it on a form.
    pub fn peek(&self, name: &str) -> Option<&str> {
        match self.0.get(name) {
            Some(FieldValue::Text(s)) => Some(s),
            _ => None,
        }
    }
}

/// The body, read as the struct a handler asks for.
struct Taken<'a> {
    fields: &'a mut Fields,
    errors: &'a RefCell<FieldErrors>,
}

impl<'de> Deserializer<'de> for Taken<'_> {
    type Error = ShapeError;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, ShapeError> {
        Err(ShapeError::custom("a body is read as a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        names: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ShapeError> {
        visitor.visit_map(EachField {
            names: names.iter(),
            current: "",
            fields: self.fields,
            errors: self.errors,
        })
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// Every field the struct names, present or not, so that each one's problem is recorded.
struct EachField<'a> {
    names: std::slice::Iter<'static, &'static str>,
    current: &'static str,
    fields: &'a mut Fields,
    errors: &'a RefCell<FieldErrors>,
}

impl<'de> MapAccess<'de> for EachField<'_> {
    type Error = ShapeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ShapeError> {
        let Some(&name) = self.names.next() else {
            return Ok(None);
        };
        self.current = name;
        let key: StrDeserializer<'_, ShapeError> = name.into_deserializer();
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ShapeError> {
        seed.deserialize(OneField {
            name: self.current,
            value: self.fields.0.remove(self.current),
            errors: self.errors,
        })
    }
}

/// One field's value, or its absence; a problem is recorded and a placeholder given, so the
/// other fields are still read.
struct OneField<'a> {
    name: &'static str,
    value: Option<FieldValue>,
    errors: &'a RefCell<FieldErrors>,
}

impl OneField<'_> {
    fn problem(&self, problem: &'static str) {
        self.errors.borrow_mut().add(self.name, problem);
    }
}

impl<'de> Deserializer<'de> for OneField<'_> {
    type Error = ShapeError;

    /// A `serde_json::Value` field: a JSON object.
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        match self.value {
            Some(FieldValue::Object(object)) => {
                object.deserialize_any(visitor).map_err(ShapeError::custom)
            }
            None => {
                self.problem("is required");
                visitor.visit_unit()
            }
            Some(_) => {
                self.problem("must be an object");
                visitor.visit_unit()
            }
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        match self.value {
            Some(FieldValue::Text(text)) => visitor.visit_string(text),
            None => {
                self.problem("is required");
                visitor.visit_string(String::new())
            }
            Some(_) => {
                self.problem("must be a string");
                visitor.visit_string(String::new())
            }
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        match &self.value {
            None => visitor.visit_none(),
            Some(FieldValue::Text(text)) if text.is_empty() => visitor.visit_none(),
            Some(_) => visitor.visit_some(self),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        match self.value {
            Some(FieldValue::Object(_)) | None => self.deserialize_any(visitor),
            Some(_) => {
                self.problem("must be an object");
                visitor.visit_map(MapDeserializer::new(std::iter::empty::<(String, String)>()))
            }
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit
        unit_struct newtype_struct seq tuple tuple_struct struct enum identifier ignored_any
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

    #[derive(Debug, serde::Deserialize)]
    struct Shape {
        password: String,
        code: Option<String>,
        credential: serde_json::Value,
    }

    #[test]
    fn a_typed_body_reports_every_missing_or_mistyped_field() {
        let mut f = fields(&[("password", FieldValue::NotText), ("code", text(""))]);
        let errors = f.take::<Shape>().unwrap_err();
        assert_eq!(errors.get("password").unwrap(), ["must be a string"]);
        assert_eq!(errors.get("credential").unwrap(), ["is required"]);
        assert!(
            errors.get("code").is_none(),
            "a blank optional field is absent"
        );
        let mut f = fields(&[("password", text("pw")), ("credential", text("x"))]);
        let errors = f.take::<Shape>().unwrap_err();
        assert_eq!(errors.get("credential").unwrap(), ["must be an object"]);
    }

    #[test]
    fn a_typed_body_takes_text_optional_text_and_objects() {
        let object = serde_json::json!({"id": "abc"});
        let mut f = fields(&[
            ("password", text("pw")),
            ("code", text("123456")),
            ("credential", FieldValue::Object(object.clone())),
            ("unknown", text("ignored")),
        ]);
        let shape = f.take::<Shape>().unwrap();
        assert_eq!(shape.password, "pw");
        assert_eq!(shape.code.as_deref(), Some("123456"));
        assert_eq!(shape.credential, object);
        let mut f = fields(&[
            ("password", text("pw")),
            ("credential", FieldValue::Object(object)),
        ]);
        assert_eq!(f.take::<Shape>().unwrap().code, None);
    }
}
