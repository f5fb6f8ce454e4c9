//! A small service that accepts gatehouse access tokens without holding any gatehouse secret:
//! it verifies them with the published key set alone (`GET /.well-known/jwks.json`), and fetches
//! the set again when a token names a key it has not seen (a rotation), at most every 10 s.
//!
//! ```sh
//! scripts/run &                                    # gatehouse on :8000
//! GATEHOUSE=http://127.0.0.1:8000 cargo run --example verify_with_jwks   # this on :8001
//! curl -s http://127.0.0.1:8001/hello -H "Authorization: Bearer $TOKEN"
//! ```

use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::serde::json::{Json, Value, json};
use rocket::{State, get, launch, routes};

/// The published keys, refreshed on an unknown `kid`.
struct Verifier {
    jwks_url: String,
    issuer: String,
    audience: String,
    http: reqwest::Client,
    keys: RwLock<(JwkSet, Option<Instant>)>,
}

impl Verifier {
    async fn fetch(&self) -> Result<(), String> {
        let set: JwkSet = self
            .http
            .get(&self.jwks_url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        *self.keys.write().map_err(|e| e.to_string())? = (set, Some(Instant::now()));
        Ok(())
    }

    fn find(&self, kid: &str) -> Option<Jwk> {
        self.keys.read().ok()?.0.find(kid).cloned()
    }

    /// The token's claims, when one of the published keys signed it.
    async fn verify(&self, token: &str) -> Result<Value, String> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
        let kid = header.kid.ok_or("the token names no key")?;
        let jwk = match self.find(&kid) {
            Some(jwk) => jwk,
            None => {
                // A key we have not seen: perhaps a rotation. Fetch again, but not too often,
                // or made-up kids would make us hammer the server.
                let fetched_at = self.keys.read().map_err(|e| e.to_string())?.1;
                if fetched_at.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
                    self.fetch().await?;
                }
                self.find(&kid).ok_or("unknown key")?
            }
        };
        // The key fixes the algorithm, never the token's header (RFC 8725 3.1).
        let alg = match jwk.common.key_algorithm {
            Some(KeyAlgorithm::EdDSA) => Algorithm::EdDSA,
            Some(KeyAlgorithm::ES256) => Algorithm::ES256,
            _ => return Err("a key of an unexpected algorithm".into()),
        };
        if header.alg != alg {
            return Err("the token's algorithm is not its key's".into());
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| e.to_string())?;
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        if header.typ.as_deref() != Some("at+jwt") {
            return Err("not an access token".into());
        }
        jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| e.to_string())
    }
}

/// The claims of a valid gatehouse token from `Authorization: Bearer`.
struct Caller(Value);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Caller {
    type Error = String;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, String> {
        let Some(verifier) = req.rocket().state::<Verifier>() else {
            return Outcome::Error((Status::InternalServerError, "no verifier".into()));
        };
        let token = req
            .headers()
            .get_one("Authorization")
            .and_then(|v| v.strip_prefix("Bearer "));
        let Some(token) = token else {
            return Outcome::Error((Status::Unauthorized, "no token".into()));
        };
        match verifier.verify(token).await {
            Ok(claims) => Outcome::Success(Caller(claims)),
            Err(why) => Outcome::Error((Status::Unauthorized, why)),
        }
    }
}

#[get("/hello")]
fn hello(caller: Result<Caller, String>, _v: &State<Verifier>) -> (Status, Json<Value>) {
    match caller {
        Ok(Caller(claims)) => (
            Status::Ok,
            Json(json!({"hello": claims["preferred_username"], "amr": claims["amr"]})),
        ),
        Err(why) => (Status::Unauthorized, Json(json!({"error": why}))),
    }
}

#[launch]
fn rocket() -> _ {
    let base = std::env::var("GATEHOUSE").unwrap_or_else(|_| "http://127.0.0.1:8000".into());
    let verifier = Verifier {
        jwks_url: format!("{base}/.well-known/jwks.json"),
        issuer: "gatehouse".into(),
        audience: "gatehouse".into(),
        http: reqwest::Client::new(),
        keys: RwLock::new((JwkSet { keys: Vec::new() }, None)),
    };
    // Port 8001 unless ROCKET_PORT says otherwise.
    let figment = match std::env::var("ROCKET_PORT") {
        Ok(_) => rocket::Config::figment(),
        Err(_) => rocket::Config::figment().merge(("port", 8001)),
    };
    rocket::custom(figment)
        .manage(verifier)
        .mount("/", routes![hello])
}
