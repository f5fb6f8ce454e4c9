//! Gatehouse: a secure authentication server on Rocket and PostgreSQL.
//!
//! [`build`] assembles the whole application from a figment; the binary and the tests both call it.
//! The layers point down only: `web` (and the command line in `cli`) → `auth` → `db` → `domain`.

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod logging;
pub mod web;

use std::sync::Arc;

use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::fs::FileServer;
use rocket::{Build, Rocket};
use rocket_db_pools::Database;

use crate::auth::Core;
use crate::config::Settings;
use crate::web::http::cookies::SessionCookies;
use crate::web::http::csrf::CsrfTokens;
use crate::web::ops::metrics::{MetricsAccess, RequestMetrics};

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
    let request_metrics = RequestMetrics::default();
    rocket::custom(figment)
        .attach(db::Db::init())
        .attach(db::migrations())
        .attach(web::ops::health::graceful_close())
        .attach(AdHoc::try_on_ignite("Gatehouse core", ignite_core))
        .attach(web::http::headers::no_shield())
        .attach(web::http::headers::SecurityHeaders)
        .manage(request_metrics.clone())
        .attach(request_metrics)
        .attach(AdHoc::on_liftoff("Housekeeping", |rocket| {
            Box::pin(async move {
                if let Some(work) = rocket.state::<auth::housekeeping::Housekeeping>() {
                    work.clone().spawn(rocket.shutdown());
                }
            })
        }))
        .mount("/", web::routes())
        .mount("/static", FileServer::from(static_dir))
        .register("/", web::http::catchers::catchers())
}

/// Starts the core's services and manages each as its own state; the background work (the
/// revocation listener, housekeeping) starts at liftoff and stops at shutdown.
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
    let Some(pool) = db::Db::fetch(&rocket).map(|db| db.inner().clone()) else {
        return Err(rocket);
    };
    let core = match Core::start(&settings, pool).await {
        Ok(core) => core,
        Err(e) => {
            log::error!("{e}");
            return Err(rocket);
        }
    };
    Ok(rocket
        .manage(SessionCookies::new(&settings))
        .manage(web::http::headers::Hsts::new(settings.site.hsts_max_age))
        .manage(CsrfTokens::new(
            core.csrf_key,
            settings.site.cookie_secure,
            Arc::clone(&core.log),
            settings.site.public_origin.clone(),
        ))
        .manage(MetricsAccess::new(
            &settings,
            core.hasher,
            core.log,
            core.revocations,
        ))
        .manage(core.accounts)
        .manage(core.sessions)
        .manage(core.authenticator)
        .manage(web::ops::jwks::PublishedKeys {
            keys: core.signing,
            max_age: settings.tokens.jwks_max_age.as_secs(),
        })
        .manage(core.password_policy)
        .manage(core.addresses.as_ref().clone())
        .manage(core.password_reset)
        .manage(web::ops::mailbox::DevMailbox {
            mailbox: core.mailbox,
            enabled: settings.mail.dev_mailbox,
        })
        .manage(core.housekeeping))
}
