//! The administrative commands behind `gatehouse user …`, `check-config` and `import-seed`: the same
//! rules and storage as the server, without HTTP.

use std::fmt::Write as _;
use std::future::Future;

use rocket::figment::Figment;
use sqlx::PgPool;

use crate::auth::{AuthError, Caller, Core};
use crate::config::Settings;
use crate::db;
use crate::domain::{RawCredentials, Username};

/// A failed command: the message says what went wrong and what to do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AdminError(pub String);

impl From<sqlx::Error> for AdminError {
    fn from(e: sqlx::Error) -> Self {
        Self(format!("database error: {e}"))
    }
}

fn no_such_user(name: &str) -> AdminError {
    AdminError(format!("no user named {name:?}"))
}

/// The database URL of the configuration (`DATABASE_URL` wins).
pub fn database_url(figment: &Figment) -> Result<String, AdminError> {
    figment
        .extract_inner("databases.main.url")
        .map_err(|_| AdminError("no database URL: set DATABASE_URL or databases.main.url".into()))
}

pub async fn connect(figment: &Figment) -> Result<PgPool, AdminError> {
    let url = database_url(figment)?;
    let pool = PgPool::connect(&url)
        .await
        .map_err(|e| AdminError(format!("cannot connect to the database: {e}")))?;
    db::migrate(&pool)
        .await
        .map_err(|e| AdminError(format!("cannot apply migrations: {e}")))?;
    Ok(pool)
}

/// Checks the whole configuration the way the server would at start-up, and the database.
/// Returns a report; an error lists every problem found.
pub async fn check_config(figment: &Figment) -> Result<String, AdminError> {
    let mut problems = Vec::new();
    let mut report = String::new();
    match Settings::from_figment(figment) {
        Ok((settings, generated)) => {
            let _ = writeln!(report, "settings: ok ({settings:?})");
            if generated {
                let _ = writeln!(
                    report,
                    "warning: no jwt_secret: a random one would be generated per start (debug only)"
                );
            }
        }
        Err(e) => problems.push(e.to_string()),
    }
    match figment.extract::<rocket::Config>() {
        Ok(config) => {
            let _ = writeln!(report, "listening on {}:{}", config.address, config.port);
        }
        Err(e) => problems.push(format!("Rocket settings: {e}")),
    }
    match database_url(figment) {
        Ok(url) => match PgPool::connect(&url).await {
            Ok(pool) => match db::is_ready(&pool).await {
                Ok(true) => report.push_str("database: reachable, migrations applied\n"),
                Ok(false) => {
                    report.push_str("database: reachable, migrations pending (applied at start)\n")
                }
                Err(_) => report
                    .push_str("database: reachable, not yet migrated (migrations run at start)\n"),
            },
            Err(e) => problems.push(format!("database: cannot connect: {e}")),
        },
        Err(e) => problems.push(e.0),
    }
    if problems.is_empty() {
        Ok(report)
    } else {
        Err(AdminError(problems.join("\n")))
    }
}

/// `gatehouse keys list | rotate | revoke KID`.
pub enum KeysCommand {
    List,
    Rotate,
    Revoke(String),
}

/// Runs a keys command; the report says what happened.
pub async fn keys(
    pool: &PgPool,
    settings: &Settings,
    command: KeysCommand,
) -> Result<String, AdminError> {
    let core = Core::start(settings, pool.clone())
        .await
        .map_err(|e| AdminError(e.to_string()))?;
    if !core.signing.in_use() {
        return Err(AdminError(
            "jwt_algorithm is HS256: the shared jwt_secret signs, there are no keys to manage"
                .into(),
        ));
    }
    let failed = |e: AuthError| AdminError(format!("signing keys: {e}"));
    match command {
        KeysCommand::List => {
            let mut out = String::from(
                "kid                                          alg    state                        publish_at                 activate_at\n",
            );
            for key in core.signing.list().await.map_err(failed)? {
                let _ = writeln!(
                    out,
                    "{:<43}  {:<5}  {:<27}  {}  {}",
                    key.kid,
                    key.alg,
                    key.state,
                    rfc3339(key.publish_at),
                    rfc3339(key.activate_at)
                );
            }
            Ok(out)
        }
        KeysCommand::Rotate => Ok(if core.signing.rotate_now().await.map_err(failed)? {
            format!(
                "a new key is published now and signs in {} s (two JWKS cache lifetimes)",
                settings.tokens.jwks_max_age.as_secs() * 2
            )
        } else {
            "a new key is already waiting to sign: nothing done".to_owned()
        }),
        KeysCommand::Revoke(kid) => {
            if core.signing.revoke(&kid).await.map_err(failed)? {
                Ok(format!(
                    "revoked {kid}: out of the set, its tokens refused on every instance"
                ))
            } else {
                Err(AdminError(format!("no live key {kid:?}")))
            }
        }
    }
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The services the server runs, started for one command: the same rules, storage, security
/// events (request id `cli`) and revocation path as the HTTP API.
pub struct Operator {
    core: Core,
    pool: PgPool,
}

impl Operator {
    pub async fn start(pool: &PgPool, settings: &Settings) -> Result<Self, AdminError> {
        let core = Core::start(settings, pool.clone())
            .await
            .map_err(|e| AdminError(e.to_string()))?;
        Ok(Self {
            core,
            pool: pool.clone(),
        })
    }

    /// Runs a command that ends sessions, following the revocation channel meanwhile, so that
    /// it returns once every running instance refuses their tokens.
    async fn ending_sessions<T>(
        &self,
        command: impl Future<Output = Result<T, AuthError>>,
    ) -> Result<T, AuthError> {
        let _observing = self.core.revocations.observe(self.pool.clone()).await;
        command.await
    }

    /// Creates a user through the same accounts service as `POST /register`.
    pub async fn create_user(
        &self,
        username: &str,
        password: String,
    ) -> Result<db::users::User, AdminError> {
        let raw = RawCredentials {
            username: username.to_owned(),
            password,
        };
        match self
            .core
            .accounts
            .create(raw, None, &Caller::command_line())
            .await
        {
            Ok(registered) => Ok(registered.user),
            Err(AuthError::InvalidInput(fields)) => {
                let problems: Vec<String> = fields
                    .iter()
                    .map(|(field, problems)| format!("{field} {}", problems.join(", ")))
                    .collect();
                Err(AdminError(problems.join("; ")))
            }
            Err(AuthError::UsernameTaken) => {
                Err(AdminError(format!("the username {username:?} is taken")))
            }
            Err(e) => Err(AdminError(format!("cannot create the user: {e}"))),
        }
    }

    /// Deletes a user; their sessions end on every instance before this returns.
    pub async fn delete_user(&self, name: &str) -> Result<(), AdminError> {
        self.ending_sessions(self.core.admin.delete(name))
            .await
            .map_err(|e| failed(name, e))
    }

    /// Ends every session of a user on every instance; returns how many were live.
    pub async fn revoke_sessions(&self, name: &str) -> Result<u64, AdminError> {
        self.ending_sessions(self.core.admin.revoke_sessions(name))
            .await
            .map_err(|e| failed(name, e))
    }

    /// Removes every second factor and recovery code of a user, and ends their sessions.
    pub async fn reset_mfa(&self, name: &str) -> Result<u64, AdminError> {
        let user_id = self
            .core
            .admin
            .find(name)
            .await
            .map_err(|e| failed(name, e))?;
        self.ending_sessions(self.core.accounts.reset_second_factors(user_id))
            .await
            .map_err(|e| AdminError(format!("cannot reset the second factors: {e}")))
    }

    pub async fn list_users(&self) -> Result<Vec<db::users::UserSummary>, AdminError> {
        self.core
            .admin
            .list()
            .await
            .map_err(|e| AdminError(format!("cannot list the users: {e}")))
    }

    /// Clears a username's failed sign-ins, lifting its throttle.
    pub async fn unlock_user(&self, name: &str) -> Result<(), AdminError> {
        self.core
            .admin
            .unlock(name)
            .await
            .map_err(|e| failed(name, e))
    }
}

/// A command's failure about the user `name`.
fn failed(name: &str, error: AuthError) -> AdminError {
    match error {
        AuthError::NotFound => no_such_user(name),
        other => AdminError(format!("{other}")),
    }
}

/// Removes every second factor and recovery code of a user, and ends their sessions.
pub async fn reset_mfa(pool: &PgPool, settings: &Settings, name: &str) -> Result<u64, AdminError> {
    Operator::start(pool, settings).await?.reset_mfa(name).await
}

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub imported: usize,
    /// Already present (imported before, or the name is taken in another letter case).
    pub existing: usize,
    /// Not imported, with the reason: usernames that break the rules, hashes that are not bcrypt.
    pub rejected: Vec<(String, String)>,
}

/// Copies users from the Flask seed's `users(username, password_hash)` table. Their bcrypt hashes
/// are kept as they are, so people keep their passwords. Idempotent.
pub async fn import_seed(operator: &Operator, seed_url: &str) -> Result<ImportReport, AdminError> {
    let seed = PgPool::connect(seed_url)
        .await
        .map_err(|e| AdminError(format!("cannot connect to the seed database: {e}")))?;
    let rows = db::seed::seed_users(&seed)
        .await
        .map_err(|e| AdminError(format!("cannot read the seed's users table: {e}")))?;
    let mut report = ImportReport::default();
    for (name, hash) in rows {
        let username = match Username::parse(&name) {
            Ok(username) => username,
            Err(problem) => {
                report.rejected.push((name, format!("username {problem}")));
                continue;
            }
        };
        if !is_bcrypt_hash(&hash) {
            report
                .rejected
                .push((name, "password hash is not a bcrypt hash".into()));
            continue;
        }
        let imported = operator
            .core
            .admin
            .import(&username, &hash)
            .await
            .map_err(|e| AdminError(format!("cannot import {name:?}: {e}")))?;
        if imported {
            report.imported += 1;
        } else {
            report.existing += 1;
        }
    }
    Ok(report)
}

/// `$2a$`/`$2b$`/`$2y$`, a two-digit cost and 53 characters of bcrypt's base64.
fn is_bcrypt_hash(hash: &str) -> bool {
    let bytes = hash.as_bytes();
    hash.len() == 60
        && (hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$"))
        && bytes[4].is_ascii_digit()
        && bytes[5].is_ascii_digit()
        && bytes[6] == b'$'
        && bytes[7..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_bcrypt_hashes_only() {
        assert!(is_bcrypt_hash(
            "$2b$12$t6Xa.EbwEmo10T/ZAmucR.nN52v1Mp5yb6WkJMnDtRrTpoZJH2Lem"
        ));
        assert!(!is_bcrypt_hash("plaintext"));
        assert!(!is_bcrypt_hash("$2b$12$short"));
        assert!(!is_bcrypt_hash("pbkdf2:sha256:260000$abc$def"));
    }
}
