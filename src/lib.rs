//! Gatehouse: a secure authentication server on Rocket and PostgreSQL.
//!
//! [`build`] assembles the whole application from a figment; the binary and the tests both call it.

pub mod admin;
pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod logging;
pub mod web;

use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::fs::FileServer;
use rocket::{Build, Rocket};
use rocket_db_pools::Database;

use crate::auth::Accounts;
use crate::auth::csrf::CsrfKey;
use crate::config::Settings;

/// Rocket's figment (`Rocket.toml`, then `ROCKET_*`), with `DATABASE_URL` overriding
/// `databases.main.url` when set (the sqlx convention).
pub fn figment() -> Figment {
    let figment = rocket::Config::figment();
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => figment.merge(("databases.main.url", url)),
        _ => figment,
    }
}

/// The application: database, migrations, core services, routes, catchers and headers.
pub fn build(figment: Figment) -> Rocket<Build> {
    let static_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/static");
    let request_metrics = web::metrics::RequestMetrics::default();
    rocket::custom(figment)
        .attach(db::Db::init())
        .attach(db::migrations())
        .attach(db::graceful_close())
        .attach(AdHoc::try_on_ignite("Gatehouse core", ignite_core))
        .attach(web::headers::shield())
        .attach(web::headers::SecurityHeaders)
        .manage(request_metrics.clone())
        .attach(request_metrics)
        .attach(AdHoc::on_liftoff("Session housekeeping", |rocket| {
            Box::pin(auth::housekeeping::start(rocket))
        }))
        .mount("/", web::accounts::routes())
        .mount("/", web::me::routes())
        .mount("/", web::pages::routes())
        .mount("/", web::sessions::routes())
        .mount("/", web::tokens::routes())
        .mount("/", web::metrics::routes())
        .mount("/", web::openapi::routes())
        .mount("/", web::ops::routes())
        .mount("/static", FileServer::from(static_dir))
        .register("/", web::catchers::catchers())
}

async fn ignite_core(rocket: Rocket<Build>) -> rocket::fairing::Result {
    let (settings, generated) = match Settings::from_figment(rocket.figment()) {
        Ok(parsed) => parsed,
        Err(e) => {
            log::error!("{e}");
            return Err(rocket);
        }
    };
    if generated {
        log::warn!(
            "NO jwt_secret CONFIGURED: using a random one for this run only. Every token dies \
             when the process stops, and instances cannot share tokens. Set ROCKET_JWT_SECRET."
        );
    }
    let csrf_key = CsrfKey::derive(&settings);
    match Accounts::start(settings).await {
        Ok(accounts) => Ok(rocket.manage(accounts).manage(csrf_key)),
        Err(e) => {
            log::error!("{e}");
            Err(rocket)
        }
    }
}
