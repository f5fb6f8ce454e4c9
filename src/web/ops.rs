//! `GET /healthz` and `GET /readyz`.

use rocket::http::Status;
use rocket::serde::json::{Json, Value, json};
use rocket::{Route, get, routes};

use crate::db::{self, Db};
use crate::error::ApiError;

pub fn routes() -> Vec<Route> {
    routes![healthz, readyz]
}

/// The process serves requests.
#[get("/healthz")]
fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers and every migration is applied; `503 unavailable` otherwise.
#[get("/readyz")]
async fn readyz(db: &Db) -> Result<(Status, Json<Value>), ApiError> {
    match db::is_ready(db).await {
        Ok(true) => Ok((Status::Ok, Json(json!({ "status": "ready" })))),
        Ok(false) => Err(ApiError::Unavailable),
        Err(e) => {
            log::warn!("readiness check failed: {e}");
            Err(ApiError::Unavailable)
        }
    }
}
