//! Every SQL statement, the pool and the migrations.
//!
//! rocket_db_pools' own `sqlx` feature pins sqlx 0.7 (RUSTSEC-2024-0363), so [`PgPool`]
//! implements its [`rocket_db_pools::Pool`] trait over a current sqlx instead; `#[derive(Database)]`,
//! `&Db` and `Connection<Db>` then work as usual, configured from `databases.main`.

pub mod email;
pub mod keys;
pub mod mfa;
pub mod outbox;
pub mod passkeys;
pub mod seed;
pub mod sessions;
pub mod throttle;
pub mod users;

use std::ops::Deref;
use std::time::Duration;

use rocket::fairing::{self, AdHoc};
use rocket::figment::Figment;
use rocket::{Build, Rocket};
use rocket_db_pools::Database;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

/// The migrations in `migrations/`, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// The application's database, `databases.main` in the figment.
#[derive(Database)]
#[database("main")]
pub struct Db(PgPool);

/// A sqlx Postgres pool that rocket_db_pools can initialise from the figment.
#[derive(Clone, Debug)]
pub struct PgPool(sqlx::PgPool);

impl Deref for PgPool {
    type Target = sqlx::PgPool;

    fn deref(&self) -> &sqlx::PgPool {
        &self.0
    }
}

impl PgPool {
    pub fn inner(&self) -> &sqlx::PgPool {
        &self.0
    }
}

#[rocket::async_trait]
impl rocket_db_pools::Pool for PgPool {
    type Connection = sqlx::pool::PoolConnection<sqlx::Postgres>;
    type Error = rocket_db_pools::Error<sqlx::Error>;

    async fn init(figment: &Figment) -> Result<Self, Self::Error> {
        let config: rocket_db_pools::Config = figment.extract()?;
        let options = config
            .url
            .parse::<PgConnectOptions>()
            .map_err(rocket_db_pools::Error::Init)?
            // Statements are never logged: they may carry usernames, and SQL text stays out of logs.
            .disable_statement_logging()
            .application_name("gatehouse");
        // Lazy: the process starts and answers /healthz while the database is away, and the pool
        // reconnects by itself when it is back. The migrations fairing checks the database at
        // start-up.
        let pool = PgPoolOptions::new()
            .max_connections(u32::try_from(config.max_connections).unwrap_or(u32::MAX))
            .min_connections(config.min_connections.unwrap_or_default())
            .acquire_timeout(Duration::from_secs(config.connect_timeout))
            .idle_timeout(config.idle_timeout.map(Duration::from_secs))
            .connect_lazy_with(options);
        Ok(Self(pool))
    }

    async fn get(&self) -> Result<Self::Connection, Self::Error> {
        self.0.acquire().await.map_err(rocket_db_pools::Error::Get)
    }

    /// NOTE: rocket_db_pools calls this as soon as shutdown begins, while requests are still in
    /// flight (Rocket 0.5 runs shutdown fairings at once). Closing then would fail them with 503,
    /// so the pool is closed by the web layer's shutdown fairing instead, once they are done.
    async fn close(&self) {}
}

/// Applies pending migrations at ignition; launch is aborted when they cannot be applied.
pub fn migrations() -> AdHoc {
    AdHoc::try_on_ignite("Database migrations", run_migrations)
}

async fn run_migrations(rocket: Rocket<Build>) -> fairing::Result {
    let Some(db) = Db::fetch(&rocket) else {
        return Err(rocket);
    };
    // One direct connection first: an unreachable database is said at once, with its cause and
    // the address tried, instead of a pool timing out.
    let options = db.connect_options();
    let connected = tokio::time::timeout(
        db.options().get_acquire_timeout(),
        sqlx::PgConnection::connect_with(&options),
    )
    .await;
    if let Err(cause) = connected
        .map_err(|_| "no answer in time".to_owned())
        .and_then(|c| c.map_err(|e| e.to_string()))
    {
        let url: String = rocket
            .figment()
            .extract_inner("databases.main.url")
            .unwrap_or_default();
        log::error!(
            "cannot reach the database at {} ({cause}): start PostgreSQL there, or set \
             DATABASE_URL (scripts/run starts a private PostgreSQL when it is unset)",
            redacted(&url)
        );
        return Err(rocket);
    }
    match migrate(db).await {
        Ok(()) => Ok(rocket),
        Err(e) => {
            log::error!("cannot apply database migrations: {e}");
            Err(rocket)
        }
    }
}

/// A database URL with its password replaced by `***`, fit for a log line.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(a URL that does not parse)".to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{}", &rest[authority_end..])
        }
        None => url.to_owned(),
    }
}

/// Applies every pending migration (idempotent; concurrent instances take an advisory lock).
pub async fn migrate(pool: &sqlx::PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// Whether the database answers and every embedded migration has been applied.
pub async fn is_ready(pool: &sqlx::PgPool) -> Result<bool, sqlx::Error> {
    let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    // sqlx's own bookkeeping table, so not a compile-time-checked query.
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await?;
    Ok(applied == Some(latest))
}

/// Whether an error means the database could not be reached (as opposed to a query that failed).
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_)
    ) || matches!(error, sqlx::Error::Database(e) if e.code().is_some_and(|c| {
        // Class 57 (operator intervention: shutdown, cancel) and 08 (connection exception).
        c.starts_with("57") || c.starts_with("08")
    }))
}

/// The name of the constraint a unique violation broke, so callers map by constraint name.
pub fn unique_violation(error: &sqlx::Error) -> Option<&str> {
    match error {
        sqlx::Error::Database(e) if e.is_unique_violation() => e.constraint(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logged_database_url_never_carries_its_password() {
        let shown = redacted("postgres://gatehouse:s3cret@db.example:5432/gatehouse");
        assert_eq!(shown, "postgres://gatehouse:***@db.example:5432/gatehouse");
        assert_eq!(
            redacted("postgres://gatehouse@127.0.0.1/gatehouse"),
            "postgres://gatehouse@127.0.0.1/gatehouse"
        );
        assert!(!redacted("not a url s3cret").contains("s3cret"));
    }
}
