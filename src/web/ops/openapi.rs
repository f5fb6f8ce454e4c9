//! `GET /openapi.json` (OpenAPI 3.1) and `GET /docs`, one description of every JSON endpoint.
//! The document is data (`openapi.json`); a test compares its operations with the mounted
//! routes, so the two cannot drift.

use std::sync::LazyLock;

use askama::Template;
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State, get, routes};
use serde_json::Value;

use crate::domain::PasswordPolicy;
use crate::web::http::audience::BrowserRequest;
use crate::web::http::error::ApiError;
use crate::web::http::reply::Reply;

pub fn routes() -> Vec<Route> {
    routes![openapi, docs]
}

/// The document as data: `openapi.json` beside this file, with `{password_min_length}` and
/// `{version}` filled in from the running server.
const TEMPLATE: &str = include_str!("openapi.json");

static PARSED: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(TEMPLATE).expect("openapi.json is JSON (unit-tested)"));

/// The OpenAPI 3.1 document, with the input rules of `policy`.
pub fn document(policy: &PasswordPolicy) -> Value {
    let mut document = PARSED.clone();
    fill(&mut document, policy.min_length, env!("CARGO_PKG_VERSION"));
    document
}

/// Replaces the placeholders: a value that is exactly `{password_min_length}` becomes the number,
/// and both placeholders are filled in where text mentions them.
fn fill(value: &mut Value, min_length: usize, version: &str) {
    match value {
        Value::String(text) if text == "{password_min_length}" => *value = min_length.into(),
        Value::String(text) if text.contains('{') => {
            *text = text
                .replace("{password_min_length}", &min_length.to_string())
                .replace("{version}", version);
        }
        Value::Array(items) => items.iter_mut().for_each(|v| fill(v, min_length, version)),
        Value::Object(map) => map.values_mut().for_each(|v| fill(v, min_length, version)),
        _ => {}
    }
}

#[get("/openapi.json")]
fn openapi(policy: &State<PasswordPolicy>) -> Json<Value> {
    Json(document(policy))
}

struct DocEntry {
    method: String,
    path: String,
    summary: String,
    curl: String,
}

#[derive(Template)]
#[template(path = "docs.html")]
struct DocsPage {
    entries: Vec<DocEntry>,
}

/// A curl command for an operation, with its example body and the Bearer header where needed.
fn curl(method: &str, path: &str, operation: &Value) -> String {
    let mut command = String::from("curl -s");
    if method != "get" {
        command.push_str(&format!(" -X {}", method.to_uppercase()));
    }
    command.push_str(&format!(
        " http://127.0.0.1:8000{}",
        path.replace("{id}", "$SESSION_ID")
    ));
    if operation.get("security").is_some() {
        command.push_str(" \\\n  -H \"Authorization: Bearer $TOKEN\"");
    }
    if let Some(example) = operation.pointer("/requestBody/content/application~1json/example") {
        command.push_str(&format!(
            " \\\n  -H 'Content-Type: application/json' -d '{example}'"
        ));
    }
    command
}

/// Every JSON endpoint with a curl example, for people.
#[get("/docs")]
fn docs(_browser: BrowserRequest, policy: &State<PasswordPolicy>) -> Result<Reply, ApiError> {
    let document = document(policy);
    let mut entries = Vec::new();
    if let Some(paths) = document["paths"].as_object() {
        for (path, operations) in paths {
            for (method, operation) in operations.as_object().into_iter().flatten() {
                entries.push(DocEntry {
                    method: method.to_uppercase(),
                    path: path.clone(),
                    summary: operation["summary"].as_str().unwrap_or_default().to_owned(),
                    curl: curl(method, path, operation),
                });
            }
        }
    }
    Reply::page(Status::Ok, &DocsPage { entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_json_and_every_placeholder_is_filled() {
        let document = document(&PasswordPolicy { min_length: 17 });
        let text = document.to_string();
        assert!(!text.contains("{password_min_length}") && !text.contains("{version}"));
        let password = &document["components"]["schemas"]["Registration"]["properties"]["password"];
        assert_eq!(password["minLength"], 17);
        assert!(
            password["description"]
                .as_str()
                .unwrap()
                .starts_with("At least 17 characters")
        );
        assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    }
}
