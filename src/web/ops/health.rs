//! `GET /healthz` and `GET /readyz`, and a shutdown that lets requests in flight finish.

use std::time::Duration;

use rocket::fairing::AdHoc;
use rocket::http::Status;
use rocket::serde::json::{Json, Value, json};
use rocket::{Route, get, routes};
use rocket_db_pools::Database;

use crate::db::{self, Db};
use crate::web::http::error::ApiError;
use crate::web::ops::metrics::RequestMetrics;

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

/// Closes the database pool at shutdown once no request is in flight, or after Rocket's grace
/// and mercy periods at the latest.
pub fn graceful_close() -> AdHoc {
    AdHoc::on_shutdown("Close the database pool", |rocket| {
        Box::pin(async move {
            let limit = u64::from(rocket.config().shutdown.grace)
                + u64::from(rocket.config().shutdown.mercy);
            let deadline = std::time::Instant::now() + Duration::from_secs(limit);
            if let Some(requests) = rocket.state::<RequestMetrics>() {
                while requests.in_flight() > 0 && std::time::Instant::now() < deadline {
                    rocket::tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            if let Some(db) = Db::fetch(rocket) {
                db.inner().close().await;
            }
        })
    })
}
