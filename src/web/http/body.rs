//! Request bodies: JSON objects and url-encoded forms decoded into one [`Fields`] shape, with the
//! size limit, content type and syntax checked before any handler (or database) sees them.
//! Handlers take `Result<Body<T>, ApiError>` (or, to show a form again with what was typed,
//! `Result<Input, ApiError>`) and answer the error with `?`.

use std::collections::HashSet;
use std::fmt;

use percent_encoding::percent_decode;
use rocket::data::{ByteUnit, Data, FromData, Outcome};
use rocket::request::Request;
use serde::de::{DeserializeOwned, Deserializer, MapAccess, Visitor};

use crate::domain::FieldErrors;
use crate::web::http::csrf::{self, CsrfTokens};
use crate::web::http::error::ApiError;
use crate::web::http::fields::{FieldValue, Fields};

/// Used when `limits.json` / `limits.form` are not configured.
const DEFAULT_LIMIT: ByteUnit = ByteUnit::Kibibyte(16);

/// How the body was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    Form,
}

/// A decoded body: a JSON object or an `application/x-www-form-urlencoded` form.
#[derive(Debug)]
pub struct Input {
    pub kind: BodyKind,
    pub fields: Fields,
}

#[rocket::async_trait]
impl<'r> FromData<'r> for Input {
    type Error = ApiError;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> Outcome<'r, Self> {
        let kind = match req.content_type() {
            Some(ct) if ct.is_json() => BodyKind::Json,
            Some(ct) if ct.is_form() => BodyKind::Form,
            _ => return fail(ApiError::UnsupportedMediaType),
        };
        let limit_name = match kind {
            BodyKind::Json => "json",
            BodyKind::Form => "form",
        };
        let limit = req.limits().get(limit_name).unwrap_or(DEFAULT_LIMIT);
        let bytes = match data.open(limit).into_bytes().await {
            Ok(bytes) if bytes.is_complete() => bytes.into_inner(),
            Ok(_) => return fail(ApiError::PayloadTooLarge),
            Err(_) => return fail(ApiError::MalformedBody),
        };
        let parsed = match kind {
            BodyKind::Json => parse_json_object(&bytes),
            BodyKind::Form => parse_form(&bytes),
        };
        let fields = match parsed {
            Ok(fields) => fields,
            Err(e) => return fail(e),
        };
        // NOTE: every form post carries the CSRF token, sign-in and registration included (login
        // CSRF: OWASP CSRF Prevention Cheat Sheet). JSON bodies cannot be sent cross-site without
        // CORS, which gatehouse never grants.
        if kind == BodyKind::Form
            && let Err(why) = check_form_csrf(req, &fields)
        {
            return fail(ApiError::CsrfFailed(why));
        }
        Outcome::Success(Input { kind, fields })
    }
}

/// A body of shape `T`, decoded and checked as [`Input`] is, then taken field by field
/// ([`Fields::take`]): a missing or mistyped field is `422 invalid_input` naming each one.
#[derive(Debug)]
pub struct Body<T> {
    pub kind: BodyKind,
    pub fields: T,
}

#[rocket::async_trait]
impl<'r, T: DeserializeOwned> FromData<'r> for Body<T> {
    type Error = ApiError;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> Outcome<'r, Self> {
        let mut input = match Input::from_data(req, data).await {
            Outcome::Success(input) => input,
            Outcome::Error(e) => return Outcome::Error(e),
            Outcome::Forward(f) => return Outcome::Forward(f),
        };
        match input.fields.take::<T>() {
            Ok(fields) => Outcome::Success(Body {
                kind: input.kind,
                fields,
            }),
            Err(errors) => fail(ApiError::InvalidInput(errors)),
        }
    }
}

fn check_form_csrf(req: &Request<'_>, fields: &Fields) -> Result<(), &'static str> {
    let tokens = req
        .rocket()
        .state::<CsrfTokens>()
        .ok_or("CSRF key not configured")?;
    tokens.verify_form(req, fields.peek(csrf::FORM_FIELD))
}

fn fail<'r, T: FromData<'r, Error = ApiError>>(error: ApiError) -> Outcome<'r, T> {
    Outcome::Error((error.status(), error))
}

const DUPLICATE: &str = "appears more than once";
const CONTROL: &str = "must not contain control characters";

/// Decodes a JSON object. Broken syntax is `400 malformed_body`; valid JSON that is not an
/// object, or an object with a repeated key, is `422 invalid_input` (a repeated key would let two
/// parsers disagree on the value, so it is refused rather than resolved).
pub fn parse_json_object(bytes: &[u8]) -> Result<Fields, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let object = match deserializer.deserialize_map(ObjectVisitor) {
        Ok(object) => object,
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            let mut errors = FieldErrors::default();
            errors.add("body", "must be a JSON object");
            return Err(ApiError::InvalidInput(errors));
        }
        Err(_) => return Err(ApiError::MalformedBody),
    };
    deserializer.end().map_err(|_| ApiError::MalformedBody)?;
    object.into_fields()
}

struct Object {
    fields: Vec<(String, FieldValue)>,
    duplicates: Vec<String>,
}

impl Object {
    /// The fields, unless a key repeats or a text value holds a control character. NOTE: a NUL
    /// or other control character in any field is refused here, before any query sees it
    /// (docs/api.md §3; PostgreSQL refuses NUL in text and answered 500 for it).
    fn into_fields(self) -> Result<Fields, ApiError> {
        let mut errors = FieldErrors::default();
        for key in &self.duplicates {
            errors.add_owned(field_label(key), DUPLICATE);
        }
        for (key, value) in &self.fields {
            if key.chars().any(char::is_control) {
                errors.add("body", CONTROL);
            } else if matches!(value, FieldValue::Text(text) if text.chars().any(char::is_control))
            {
                errors.add_owned(field_label(key), CONTROL);
            }
        }
        if errors.is_empty() {
            Ok(self.fields.into_iter().collect())
        } else {
            Err(ApiError::InvalidInput(errors))
        }
    }
}

/// A client-chosen key, safe to echo as a field name: short printable ASCII, else "body".
fn field_label(key: &str) -> String {
    if !key.is_empty() && key.len() <= 64 && key.bytes().all(|b| b.is_ascii_graphic()) {
        key.to_owned()
    } else {
        "body".to_owned()
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Object;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object, A::Error> {
        let mut seen = HashSet::new();
        let mut object = Object {
            fields: Vec::new(),
            duplicates: Vec::new(),
        };
        while let Some(key) = map.next_key::<String>()? {
            let value = match map.next_value::<serde_json::Value>()? {
                serde_json::Value::String(s) => FieldValue::Text(s),
                object @ serde_json::Value::Object(_) => FieldValue::Object(object),
                _ => FieldValue::NotText,
            };
            if seen.insert(key.clone()) {
                object.fields.push((key, value));
            } else {
                object.duplicates.push(key);
            }
        }
        Ok(object)
    }
}

/// Decodes `application/x-www-form-urlencoded`. Bytes that are not UTF-8 after percent-decoding
/// are `400 malformed_body`; a repeated field is `422 invalid_input`.
pub fn parse_form(bytes: &[u8]) -> Result<Fields, ApiError> {
    let body = std::str::from_utf8(bytes).map_err(|_| ApiError::MalformedBody)?;
    let mut object = Object {
        fields: Vec::new(),
        duplicates: Vec::new(),
    };
    let mut seen = HashSet::new();
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (decode_form_component(key)?, decode_form_component(value)?);
        if seen.insert(key.clone()) {
            object.fields.push((key, FieldValue::Text(value)));
        } else {
            object.duplicates.push(key);
        }
    }
    object.into_fields()
}

fn decode_form_component(raw: &str) -> Result<String, ApiError> {
    let plus_as_space = raw.replace('+', " ");
    percent_decode(plus_as_space.as_bytes())
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| ApiError::MalformedBody)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &str) -> Result<Fields, ApiError> {
        parse_json_object(s.as_bytes())
    }

    #[test]
    fn broken_json_is_malformed() {
        for body in ["", "{", "{\"a\":}", "nul", "{\"a\":1} trailing", "\u{0}"] {
            assert!(
                matches!(json(body), Err(ApiError::MalformedBody)),
                "{body:?}"
            );
        }
    }

    #[test]
    fn json_that_is_not_an_object_is_invalid_input() {
        for body in ["[]", "1", "\"s\"", "null", "true"] {
            assert!(
                matches!(json(body), Err(ApiError::InvalidInput(_))),
                "{body:?}"
            );
        }
    }

    #[test]
    fn a_duplicate_key_is_invalid_input_naming_the_key() {
        let Err(ApiError::InvalidInput(errors)) = json(r#"{"username":"a","username":"b"}"#) else {
            panic!("expected invalid input");
        };
        assert_eq!(errors.get("username").unwrap(), [DUPLICATE]);
    }

    #[test]
    fn deeply_nested_json_is_refused_without_overflowing_the_stack() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(json(&deep).is_err());
    }

    #[test]
    fn non_string_values_are_kept_as_not_text() {
        let mut fields = json(r#"{"username":1,"password":"pw"}"#).unwrap();
        let mut errors = FieldErrors::default();
        assert_eq!(fields.text("username", &mut errors), None);
        assert_eq!(fields.text("password", &mut errors).as_deref(), Some("pw"));
    }

    #[test]
    fn forms_decode_percent_and_plus() {
        let mut fields = parse_form(b"username=al%20ice&password=a+b%2Bc").unwrap();
        let mut errors = FieldErrors::default();
        assert_eq!(
            fields.text("username", &mut errors).as_deref(),
            Some("al ice")
        );
        assert_eq!(
            fields.text("password", &mut errors).as_deref(),
            Some("a b+c")
        );
    }

    #[test]
    fn forms_with_invalid_utf8_are_malformed() {
        assert!(matches!(
            parse_form(b"username=%FF"),
            Err(ApiError::MalformedBody)
        ));
        assert!(matches!(
            parse_form(&[0x75, 0xff]),
            Err(ApiError::MalformedBody)
        ));
    }

    #[test]
    fn control_characters_in_any_value_or_key_are_invalid_input() {
        for body in [
            r#"{"username":"ali\u0000ce","password":"pw"}"#,
            r#"{"username":"alice","password":"p\tw"}"#,
            r#"{"username":"alice","unknown":"\u001b[31m"}"#,
            r#"{"user\u0000name":"alice"}"#,
            r#"{"username":"alice","password":"pw\u0085"}"#,
        ] {
            assert!(
                matches!(json(body), Err(ApiError::InvalidInput(_))),
                "{body}"
            );
        }
        assert!(matches!(
            parse_form(b"username=ali%00ce&password=pw"),
            Err(ApiError::InvalidInput(_))
        ));
        assert!(json(r#"{"username":"alice","password":"\u202e ✓ any printable"}"#).is_ok());
    }

    #[test]
    fn forms_with_a_repeated_field_are_invalid_input() {
        assert!(matches!(
            parse_form(b"username=a&username=b"),
            Err(ApiError::InvalidInput(_))
        ));
    }
}
