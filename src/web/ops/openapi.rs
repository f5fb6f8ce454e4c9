//! `GET /openapi.json` (OpenAPI 3.1) and `GET /docs`, one description of every JSON endpoint.
//! Long because the document is data: one `json!` literal per operation and schema. A test
//! compares the document's operations with the mounted routes, so the two cannot drift.

use askama::Template;
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State, get, routes};
use serde_json::{Value, json};

use crate::domain::{MAX_PASSWORD_BYTES, PasswordPolicy, Username};
use crate::web::http::audience::BrowserRequest;
use crate::web::http::error::ApiError;
use crate::web::http::reply::Reply;

pub fn routes() -> Vec<Route> {
    routes![openapi, docs]
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

fn json_body(schema: &str, example: Value) -> Value {
    json!({
        "required": true,
        "content": {"application/json": {
            "schema": {"$ref": format!("#/components/schemas/{schema}")},
            "example": example
        }}
    })
}

fn json_ok(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn schema(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn bearer() -> Value {
    json!([{"bearerAuth": []}])
}

/// Every text field refuses control characters (CONTRACT.md section 3), Unicode's Cc category.
const NO_CONTROL_CHARACTERS: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";

/// bcrypt's limit. JSON Schema counts characters, not bytes, so `maxLength` says 72 and the
/// description and `x-maxUtf8Bytes` carry the byte rule: 72 characters of ASCII, fewer of others.
fn password_schema(min_length: usize, description: &str) -> Value {
    json!({
        "type": "string", "minLength": min_length, "maxLength": MAX_PASSWORD_BYTES,
        "pattern": NO_CONTROL_CHARACTERS,
        "x-maxUtf8Bytes": MAX_PASSWORD_BYTES,
        "description": format!("{description} At most {MAX_PASSWORD_BYTES} bytes of UTF-8 (bcrypt's limit), verified exactly as typed.")
    })
}

/// The OpenAPI 3.1 document, with the input rules of `policy`.
pub fn document(policy: &PasswordPolicy) -> Value {
    let new_password = password_schema(
        policy.min_length,
        &format!(
            "At least {} characters; not on the list of common or breached passwords; not containing the username.",
            policy.min_length
        ),
    );
    let any_password = password_schema(1, "Any password the account has.");
    let email = json!({
        "type": "string", "format": "email", "minLength": 3, "maxLength": 254,
        "pattern": "^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+$",
        "description": "Optional. ASCII, a dot-atom local part of at most 64 characters, a dotted domain; compared in any letter case. A confirmation link is mailed to it; it counts once followed."
    });
    let e400 = error_response("Malformed body (`malformed_body`).");
    let e401 = error_response(
        "`missing_token`, `token_expired` or `invalid_token`; with `WWW-Authenticate: Bearer`.",
    );
    let e403 = error_response(
        "Wrong password (`invalid_credentials`), or `csrf_failed` for cookie-authenticated requests.",
    );
    let e413 = error_response("Body over the limit (`payload_too_large`).");
    let e415 = error_response("Not `application/json` (`unsupported_media_type`).");
    let e422 =
        error_response("Well-formed body breaking the rules (`invalid_input`, with `fields`).");
    let e429 = error_response("Throttled (`too_many_requests`); see `Retry-After`.");
    let e503 = error_response("Database unavailable (`unavailable`); see `Retry-After`.");
    let body_errors = |extra: &[(&str, &Value)]| {
        let mut responses =
            json!({"400": e400, "413": e413, "415": e415, "422": e422, "503": e503});
        for (status, value) in extra {
            responses[*status] = (*value).clone();
        }
        responses
    };
    let credentials = json!({"username": "alice", "password": "correct horse battery staple"});

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Gatehouse",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A secure authentication server. Every error is `{\"error\", \"message\"}` (plus `fields` for `invalid_input`)."
        },
        "paths": {
            "/register": {"post": {
                "summary": "Create an account",
                "requestBody": json_body("Registration", credentials.clone()),
                "responses": {
                    "201": json_ok("The new account.", schema("User")),
                    "409": error_response("The username is taken, in any letter case (`username_taken`)."),
                    "429": e429.clone(), "400": e400, "413": e413, "415": e415, "422": e422, "503": e503
                }
            }},
            "/login": {"post": {
                "summary": "Sign in: check the password, open a session, get tokens",
                "requestBody": json_body("Credentials", credentials),
                "responses": body_errors(&[
                    ("200", &json_ok("Tokens of a new session.", schema("Tokens"))),
                    ("401", &error_response("Unknown user or wrong password, indistinguishably (`invalid_credentials`).")),
                    ("403", &error_response("The password is right and a second factor is due (`mfa_required`, with `mfa_token`, `methods`, `expires_in`): POST /login/mfa.")),
                    ("429", &e429),
                ])
            }},
            "/.well-known/jwks.json": {"get": {
                "summary": "The public keys that verify access tokens (RFC 7517); empty with HS256",
                "responses": {"200": {
                    "description": "The published set; `Cache-Control: public, max-age=jwks_max_age`.",
                    "content": {"application/jwk-set+json": {"schema": schema("JwkSet")}}
                }}
            }},
            "/login/mfa": {"post": {
                "summary": "Second step of a sign-in: a TOTP code or a recovery code",
                "requestBody": json_body("SecondFactor", json!({"mfa_token": "…", "code": "123456"})),
                "responses": body_errors(&[
                    ("200", &json_ok("Tokens of a new session.", schema("Tokens"))),
                    ("401", &error_response("Wrong code (`invalid_credentials`), or an unknown, spent or expired `mfa_token` (`invalid_token`).")),
                    ("429", &e429),
                ])
            }},
            "/me/mfa/totp": {
                "post": {
                    "summary": "Start turning the authenticator app on: a new secret (nothing active yet)",
                    "security": bearer(),
                    "requestBody": json_body("PasswordConfirmation", json!({"password": "correct horse battery staple"})),
                    "responses": body_errors(&[
                        ("200", &json_ok("The secret and its otpauth URI.", schema("TotpEnrolment"))),
                        ("401", &e401), ("403", &e403), ("429", &e429),
                    ])
                },
                "delete": {
                    "summary": "Turn the authenticator app off (password and a code); every other session ends",
                    "security": bearer(),
                    "requestBody": json_body("FactorChange", json!({"password": "correct horse battery staple", "code": "123456"})),
                    "responses": body_errors(&[
                        ("204", &json!({"description": "Off."})),
                        ("401", &e401), ("403", &e403), ("429", &e429),
                    ])
                }
            },
            "/me/mfa/totp/confirm": {"post": {
                "summary": "Turn the app on with a current code; the recovery codes, shown once",
                "security": bearer(),
                "requestBody": json_body("CodeConfirmation", json!({"code": "123456"})),
                "responses": body_errors(&[
                    ("200", &json_ok("Ten recovery codes.", schema("RecoveryCodes"))),
                    ("401", &e401), ("403", &e403), ("429", &e429),
                ])
            }},
            "/me/mfa/recovery-codes": {"post": {
                "summary": "A fresh set of recovery codes (password and a code); the old set dies",
                "security": bearer(),
                "requestBody": json_body("FactorChange", json!({"password": "correct horse battery staple", "code": "123456"})),
                "responses": body_errors(&[
                    ("200", &json_ok("Ten recovery codes.", schema("RecoveryCodes"))),
                    ("401", &e401), ("403", &e403), ("429", &e429),
                ])
            }},
            "/token/refresh": {"post": {
                "summary": "Rotate a refresh token: a new pair of the same session",
                "requestBody": json_body("RefreshRequest", json!({"refresh_token": "…"})),
                "responses": body_errors(&[
                    ("200", &json_ok("A new token pair.", schema("Tokens"))),
                    ("401", &error_response("Unknown, expired, spent or revoked refresh token (`invalid_token`).")),
                ])
            }},
            "/protected": {"get": {
                "summary": "The seed's protected endpoint: a welcome for a valid token",
                "security": bearer(),
                "responses": {"200": json_ok("Welcome.", schema("Welcome")), "401": e401, "503": e503}
            }},
            "/logout": {"post": {
                "summary": "Revoke this session",
                "security": bearer(),
                "responses": {"204": {"description": "Signed out."}, "401": e401, "403": e403, "503": e503}
            }},
            "/me": {
                "get": {
                    "summary": "The signed-in account",
                    "security": bearer(),
                    "responses": {"200": json_ok("The account and its second factors.", schema("Me")), "401": e401, "503": e503}
                },
                "delete": {
                    "summary": "Delete the account (password required); every session ends",
                    "security": bearer(),
                    "requestBody": json_body("PasswordConfirmation", json!({"password": "correct horse battery staple"})),
                    "responses": body_errors(&[
                        ("204", &json!({"description": "Deleted."})),
                        ("401", &e401), ("403", &e403), ("429", &e429),
                    ])
                }
            },
            "/me/password": {"post": {
                "summary": "Change the password; every other session ends",
                "security": bearer(),
                "requestBody": json_body("PasswordChange", json!({"current_password": "correct horse battery staple", "new_password": "an entirely different passphrase"})),
                "responses": body_errors(&[
                    ("204", &json!({"description": "Changed."})),
                    ("401", &e401), ("403", &e403), ("429", &e429),
                ])
            }},
            "/me/email": {"post": {
                "summary": "Set or change the email address (a confirmation link is mailed to it)",
                "description": "The address counts once its link is followed; until then `GET /me` shows the previous one and this one as `email_pending`. The verified address the account has now is told at once. An address another account verified answers exactly the same (its owner is mailed instead of a link).",
                "security": bearer(),
                "requestBody": json_body("EmailChange", json!({"email": "alice@example.com", "password": "correct horse battery staple"})),
                "responses": body_errors(&[
                    ("202", &json_ok("A mail is on its way.", schema("MailQueued"))),
                    ("401", &e401), ("403", &e403), ("429", &e429),
                ])
            }},
            "/email/verify": {"post": {
                "summary": "Confirm an address with the token of its mailed link",
                "description": "The link opens a page (`GET /email/verify?token=…`) whose button posts here: a GET changes nothing. Tokens are single-use and live 24 hours.",
                "requestBody": json_body("LinkToken", json!({"token": "the token of the mailed link"})),
                "responses": body_errors(&[
                    ("204", &json!({"description": "The address is the account's."})),
                    ("429", &e429),
                ])
            }},
            "/password/forgot": {"post": {
                "summary": "Ask for a password reset link",
                "description": "Always `202` with the same body, whether or not the account exists or has a verified address; the link is mailed to the verified address only, at most 3 an hour per account.",
                "requestBody": json_body("ForgotPassword", json!({"login": "alice"})),
                "responses": body_errors(&[
                    ("202", &json_ok("Answered; a mail may be on its way.", schema("MailQueued"))),
                    ("429", &e429),
                ])
            }},
            "/password/reset": {"post": {
                "summary": "Set a new password with the token of a reset link",
                "description": "Tokens are single-use and live 30 minutes. Every session of the account ends and its failure count is cleared; a second factor is still asked for at the next sign-in. A dead token is `422` on `token`.",
                "requestBody": json_body("PasswordReset", json!({"token": "the token of the mailed link", "new_password": "an entirely different passphrase"})),
                "responses": body_errors(&[
                    ("204", &json!({"description": "The password is set."})),
                    ("429", &e429),
                ])
            }},
            "/me/passkeys": {"get": {
                "summary": "The signed-in user's passkeys",
                "security": bearer(),
                "responses": {
                    "200": json_ok("Passkeys, oldest first.", json!({"type": "array", "items": schema("Passkey")})),
                    "401": e401, "503": e503
                }
            }},
            "/me/passkeys/{id}": {"delete": {
                "summary": "Remove a passkey (password required); every other session ends",
                "description": "With the account's last factor, the recovery codes go too. Another account's passkey is `404`, like a missing one.",
                "security": bearer(),
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
                "requestBody": json_body("PasswordConfirmation", json!({"password": "correct horse battery staple"})),
                "responses": body_errors(&[
                    ("204", &json!({"description": "Removed."})),
                    ("401", &e401), ("403", &e403), ("404", &error_response("No such passkey of yours (`not_found`).")), ("429", &e429),
                ])
            }},
            "/me/passkeys/register/start": {"post": {
                "summary": "Start adding a passkey: options for navigator.credentials.create()",
                "description": "WebAuthn Level 3: `publicKey` is a PublicKeyCredentialCreationOptionsJSON (binary fields base64url), for `PublicKeyCredential.parseCreationOptionsFromJSON()`. The relying party is `public_origin`'s host; user verification and a discoverable credential are required. The challenge is single-use and lives 5 minutes; any instance may finish it.",
                "security": bearer(),
                "requestBody": json_body("PasswordConfirmation", json!({"password": "correct horse battery staple"})),
                "responses": body_errors(&[
                    ("200", &json_ok("The ceremony.", schema("CeremonyStarted"))),
                    ("401", &e401), ("403", &e403), ("429", &e429),
                ])
            }},
            "/me/passkeys/register/finish": {"post": {
                "summary": "Finish adding a passkey with the authenticator's response",
                "description": "`credential` is a RegistrationResponseJSON (`PublicKeyCredential.toJSON()`). The account's first factor brings `recovery_codes`, shown once. An expired, spent or foreign challenge, or a response that does not verify, is `422`.",
                "security": bearer(),
                "requestBody": json_body("PasskeyRegistration", json!({"challenge_id": "6f1c…", "name": "Laptop", "credential": {"id": "…", "rawId": "…", "type": "public-key", "response": {"clientDataJSON": "…", "attestationObject": "…"}}})),
                "responses": body_errors(&[
                    ("201", &json_ok("The new passkey.", schema("Passkey"))),
                    ("401", &e401), ("403", &e403),
                    ("409", &error_response("The credential is registered already (`already_registered`).")),
                ])
            }},
            "/login/passkey/start": {"post": {
                "summary": "Start a passkey sign-in: options for navigator.credentials.get()",
                "description": "`{}` for a sign-in on its own (no username: discoverable credentials), or `{\"mfa_token\"}` as the second step after a password. `publicKey` is a PublicKeyCredentialRequestOptionsJSON. The pages' script sends `{\"mode\":\"cookie\"}`, and a browser's pending sign-in comes from its cookie.",
                "requestBody": json_body("PasskeySignInStart", json!({})),
                "responses": body_errors(&[
                    ("200", &json_ok("The ceremony.", schema("CeremonyStarted"))),
                    ("401", &error_response("An unknown, spent or expired `mfa_token` (`invalid_token`).")),
                    ("429", &e429),
                ])
            }},
            "/login/passkey/finish": {"post": {
                "summary": "Finish a passkey sign-in: a complete sign-in, no further step",
                "description": "`credential` is an AuthenticationResponseJSON. With `\"mode\":\"cookie\"` and the page's CSRF token in `X-CSRF-Token`, the session cookies are set and the answer is `{\"redirect\"}`.",
                "requestBody": json_body("PasskeySignInFinish", json!({"challenge_id": "6f1c…", "credential": {"id": "…", "rawId": "…", "type": "public-key", "response": {"clientDataJSON": "…", "authenticatorData": "…", "signature": "…", "userHandle": "…"}}})),
                "responses": body_errors(&[
                    ("200", &json_ok("Tokens of a new session (or, in cookie mode, where to go).", json!({"oneOf": [schema("Tokens"), {"type": "object", "required": ["redirect"], "properties": {"redirect": {"type": "string"}}}]}))),
                    ("401", &error_response("A bad signature, another origin, a wrong or spent challenge, an unknown credential or no user verification, indistinguishably (`invalid_credentials`).")),
                    ("403", &error_response("Cookie mode without the page's CSRF token (`csrf_failed`).")),
                    ("429", &e429),
                ])
            }},
            "/sessions": {"get": {
                "summary": "The signed-in user's live sessions",
                "security": bearer(),
                "responses": {
                    "200": json_ok("Sessions, most recently used first.", json!({"type": "array", "items": schema("Session")})),
                    "401": e401, "503": e503
                }
            }},
            "/sessions/{id}": {"delete": {
                "summary": "Revoke one of your sessions",
                "security": bearer(),
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
                "responses": {
                    "204": {"description": "Revoked."},
                    "404": error_response("No such live session of yours (`not_found`)."),
                    "401": e401, "403": e403, "503": e503
                }
            }},
            "/sessions/revoke-others": {"post": {
                "summary": "Sign out everywhere else",
                "security": bearer(),
                "responses": {"204": {"description": "Every other session revoked."}, "401": e401, "403": e403, "503": e503}
            }},
            "/healthz": {"get": {
                "summary": "Liveness: the process serves",
                "responses": {"200": json_ok("Serving.", json!({"type": "object", "properties": {"status": {"const": "ok"}}}))}
            }},
            "/readyz": {"get": {
                "summary": "Readiness: the database answers and migrations are applied",
                "responses": {
                    "200": json_ok("Ready.", json!({"type": "object", "properties": {"status": {"const": "ready"}}})),
                    "503": e503
                }
            }},
            "/openapi.json": {"get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1.", "content": {"application/json": {}}}}
            }},
            "/metrics": {"get": {
                "summary": "Prometheus metrics (when enabled; loopback or metrics_token only)",
                "responses": {
                    "200": {"description": "Prometheus text format.", "content": {"text/plain": {}}},
                    "404": error_response("Disabled, or not allowed (`not_found`).")
                }
            }}
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (at+jwt; EdDSA by default, ES256 or HS256 as configured)"}
            },
            "schemas": {
                "Registration": {
                    "type": "object", "required": ["username", "password"],
                    "properties": {
                        "username": {
                            "type": "string", "minLength": Username::MIN_LEN, "maxLength": Username::MAX_LEN,
                            "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{2,31}$",
                            "description": "3 to 32 ASCII letters, digits, `.`, `_` or `-`, starting with a letter or digit; unique in any letter case."
                        },
                        "password": new_password.clone(),
                        "email": email.clone()
                    }
                },
                "Credentials": {
                    "type": "object", "required": ["username", "password"],
                    "properties": {
                        "username": {"type": "string", "minLength": 1, "pattern": NO_CONTROL_CHARACTERS, "description": "In any letter case. A name no account can have is answered like a wrong password."},
                        "password": any_password.clone()
                    }
                },
                "JwkSet": {
                    "type": "object", "required": ["keys"],
                    "properties": {"keys": {"type": "array", "items": {
                        "type": "object", "required": ["kty", "crv", "x", "kid", "alg", "use"],
                        "properties": {
                            "kty": {"enum": ["OKP", "EC"]}, "crv": {"enum": ["Ed25519", "P-256"]},
                            "x": {"type": "string"}, "y": {"type": "string"},
                            "kid": {"type": "string", "description": "The RFC 7638 thumbprint."},
                            "alg": {"enum": ["EdDSA", "ES256"]}, "use": {"const": "sig"}
                        }
                    }}}
                },
                "SecondFactor": {
                    "type": "object", "required": ["mfa_token", "code"],
                    "properties": {
                        "mfa_token": {"type": "string", "pattern": NO_CONTROL_CHARACTERS},
                        "code": {"type": "string", "pattern": NO_CONTROL_CHARACTERS, "description": "6 digits from the app, or a recovery code (letter case, spaces and dashes ignored)."}
                    }
                },
                "CodeConfirmation": {"type": "object", "required": ["code"], "properties": {"code": {"type": "string", "pattern": NO_CONTROL_CHARACTERS}}},
                "FactorChange": {
                    "type": "object", "required": ["password"],
                    "properties": {
                        "password": any_password.clone(),
                        "code": {"type": "string", "pattern": NO_CONTROL_CHARACTERS, "description": "A current TOTP code or a recovery code; required while a factor is on."}
                    }
                },
                "TotpEnrolment": {
                    "type": "object", "required": ["secret", "otpauth_uri"],
                    "properties": {"secret": {"type": "string", "description": "Base32, 160 bits."}, "otpauth_uri": {"type": "string"}}
                },
                "RecoveryCodes": {
                    "type": "object", "required": ["recovery_codes"],
                    "properties": {"recovery_codes": {"type": "array", "items": {"type": "string"}, "minItems": 10, "maxItems": 10}}
                },
                "EmailChange": {
                    "type": "object", "required": ["email", "password"],
                    "properties": {"email": email.clone(), "password": any_password.clone()}
                },
                "LinkToken": {"type": "object", "required": ["token"], "properties": {"token": {"type": "string", "pattern": NO_CONTROL_CHARACTERS}}},
                "ForgotPassword": {
                    "type": "object", "required": ["login"],
                    "properties": {"login": {"type": "string", "minLength": 1, "maxLength": 254, "pattern": NO_CONTROL_CHARACTERS, "description": "A username or a verified email address, in any letter case."}}
                },
                "PasswordReset": {
                    "type": "object", "required": ["token", "new_password"],
                    "properties": {"token": {"type": "string", "pattern": NO_CONTROL_CHARACTERS}, "new_password": new_password.clone()}
                },
                "CeremonyStarted": {
                    "type": "object", "required": ["challenge_id", "publicKey"],
                    "properties": {"challenge_id": {"type": "string", "format": "uuid"}, "publicKey": {"type": "object"}}
                },
                "Passkey": {
                    "type": "object", "required": ["id", "name", "created_at", "last_used_at"],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "name": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "last_used_at": {"type": ["string", "null"], "format": "date-time"},
                        "recovery_codes": {"type": "array", "items": {"type": "string"}, "description": "With the account's first factor only."}
                    }
                },
                "PasskeyRegistration": {
                    "type": "object", "required": ["challenge_id", "name", "credential"],
                    "properties": {
                        "challenge_id": {"type": "string", "pattern": NO_CONTROL_CHARACTERS},
                        "name": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": NO_CONTROL_CHARACTERS},
                        "credential": {"type": "object", "description": "RegistrationResponseJSON."}
                    }
                },
                "PasskeySignInStart": {
                    "type": "object",
                    "properties": {
                        "mfa_token": {"type": "string", "pattern": NO_CONTROL_CHARACTERS},
                        "mode": {"enum": ["cookie"]},
                        "second_step": {"enum": ["yes"], "description": "Cookie mode: the second step of the browser's pending sign-in (its cookie)."}
                    }
                },
                "PasskeySignInFinish": {
                    "type": "object", "required": ["challenge_id", "credential"],
                    "properties": {
                        "challenge_id": {"type": "string", "pattern": NO_CONTROL_CHARACTERS},
                        "credential": {"type": "object", "description": "AuthenticationResponseJSON."},
                        "mode": {"enum": ["cookie"]},
                        "next": {"type": "string", "description": "Cookie mode: where to go (a local path)."}
                    }
                },
                "MailQueued": {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}},
                "Me": {
                    "type": "object", "required": ["id", "username", "created_at", "email", "email_verified", "email_pending", "mfa"],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "username": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "email": {"type": ["string", "null"], "description": "The verified address."},
                        "email_verified": {"type": "boolean"},
                        "email_pending": {"type": ["string", "null"], "description": "An address whose link has not been followed yet."},
                        "mfa": {
                            "type": "object", "required": ["totp", "passkeys", "recovery_codes_left"],
                            "properties": {"totp": {"type": "boolean"}, "passkeys": {"type": "integer"}, "recovery_codes_left": {"type": "integer"}}
                        }
                    }
                },
                "RefreshRequest": {"type": "object", "required": ["refresh_token"], "properties": {"refresh_token": {"type": "string", "pattern": NO_CONTROL_CHARACTERS}}},
                "PasswordConfirmation": {"type": "object", "required": ["password"], "properties": {"password": any_password.clone()}},
                "PasswordChange": {
                    "type": "object", "required": ["current_password", "new_password"],
                    "properties": {"current_password": any_password, "new_password": new_password}
                },
                "User": {
                    "type": "object", "required": ["id", "username", "created_at"],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "username": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"}
                    }
                },
                "Tokens": {
                    "type": "object",
                    "required": ["access_token", "token_type", "expires_in", "refresh_token", "token"],
                    "properties": {
                        "access_token": {"type": "string"},
                        "token_type": {"const": "Bearer"},
                        "expires_in": {"type": "integer", "description": "Seconds."},
                        "refresh_token": {"type": "string"},
                        "token": {"type": "string", "description": "The access token again, under the seed's name."}
                    }
                },
                "Welcome": {
                    "type": "object", "required": ["message", "username"],
                    "properties": {"message": {"type": "string"}, "username": {"type": "string"}}
                },
                "Session": {
                    "type": "object",
                    "required": ["id", "created_at", "last_used_at", "user_agent", "ip", "current"],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "last_used_at": {"type": "string", "format": "date-time"},
                        "user_agent": {"type": ["string", "null"]},
                        "ip": {"type": ["string", "null"]},
                        "current": {"type": "boolean"}
                    }
                },
                "Error": {
                    "type": "object", "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string", "enum": [
                            "malformed_body", "invalid_credentials", "missing_token", "token_expired",
                            "invalid_token", "csrf_failed", "not_found", "method_not_allowed",
                            "username_taken", "payload_too_large", "unsupported_media_type",
                            "invalid_input", "too_many_requests", "unavailable", "internal_error",
                            "mfa_required", "already_registered"
                        ]},
                        "mfa_token": {"type": "string", "description": "With `mfa_required`: the pending sign-in, single-use."},
                        "methods": {"type": "array", "items": {"enum": ["totp", "recovery_code", "passkey"]}},
                        "expires_in": {"type": "integer"},
                        "message": {"type": "string"},
                        "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}
                    }
                }
            }
        }
    })
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
