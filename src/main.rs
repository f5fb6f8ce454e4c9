//! The `gatehouse` command line: parses, sets up logging, calls the library.

use std::io::BufRead;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gatehouse::cli::commands::{self, AdminError};
use gatehouse::config::Settings;

/// mimalloc instead of glibc's allocator: each request makes and frees dozens of small
/// allocations (header maps, the log line, the response), and glibc's malloc and free were a
/// large share of `/protected`'s instructions (callgrind; docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "gatehouse", version, about = "A secure authentication server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and the pages (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Validate the configuration, the secret and the database connection.
    CheckConfig,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the signing keys (EdDSA / ES256).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Copy users from the Flask seed's `users(username, password_hash)` table; their bcrypt
    /// hashes keep working. Usernames that break gatehouse's rules are reported, not imported.
    /// Running it again imports nothing twice.
    ImportSeed {
        /// The seed's PostgreSQL URL.
        #[arg(long)]
        from: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// List the keys with their state (signing, published, retired, expired, revoked).
    List,
    /// Make the next key now: published at once, signing after two JWKS cache lifetimes.
    Rotate,
    /// Revoke a compromised key: out of the set, its tokens refused at once; a fresh key signs.
    Revoke { kid: String },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from standard input (one line).
    Create { username: String },
    /// Delete a user and end their sessions.
    Delete { username: String },
    /// List users with their live session counts.
    List,
    /// Clear a username's failed sign-ins, lifting its throttle.
    Unlock { username: String },
    /// End every session of a user.
    RevokeSessions { username: String },
    /// Remove every second factor and recovery code of a user who lost them all, and end their
    /// sessions.
    ResetMfa { username: String },
}

#[rocket::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let figment = gatehouse::figment();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let _log = gatehouse::logging::init(&figment);
            match gatehouse::build(figment).launch().await {
                Ok(_) => Ok(String::new()),
                Err(e) => Err(AdminError(e.to_string())),
            }
        }
        Command::Migrate => commands::connect(&figment)
            .await
            .map(|_| "migrations applied".to_owned()),
        Command::CheckConfig => commands::check_config(&figment).await,
        Command::User(command) => user(&figment, command).await,
        Command::Keys(command) => keys(&figment, command).await,
        Command::ImportSeed { from } => import_seed(&figment, &from).await,
    };
    match result {
        Ok(output) => {
            if !output.is_empty() {
                println!("{}", output.trim_end());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gatehouse: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn user(
    figment: &rocket::figment::Figment,
    command: UserCommand,
) -> Result<String, AdminError> {
    let pool = commands::connect(figment).await?;
    let (settings, _) =
        Settings::from_figment(&figment.clone().merge(("allow_generated_secret", true)))
            .map_err(|e| AdminError(e.to_string()))?;
    let operator = commands::Operator::start(&pool, &settings).await?;
    match command {
        UserCommand::Create { username } => {
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .map_err(|e| AdminError(format!("cannot read the password: {e}")))?;
            let password = password.strip_suffix('\n').unwrap_or(&password);
            let password = password.strip_suffix('\r').unwrap_or(password).to_owned();
            let user = operator.create_user(&username, password).await?;
            Ok(format!("created {} ({})", user.username, user.id))
        }
        UserCommand::Delete { username } => {
            operator.delete_user(&username).await?;
            Ok(format!("deleted {username}; their sessions have ended"))
        }
        UserCommand::List => {
            let mut out = String::from(
                "id                                    username                          live sessions  created\n",
            );
            for u in operator.list_users().await? {
                out.push_str(&format!(
                    "{}  {:<32}  {:>13}  {}\n",
                    u.id,
                    u.username,
                    u.live_sessions,
                    u.created_at
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default()
                ));
            }
            Ok(out)
        }
        UserCommand::Unlock { username } => {
            operator.unlock_user(&username).await?;
            Ok(format!("unlocked {username}"))
        }
        UserCommand::ResetMfa { username } => {
            let count = operator.reset_mfa(&username).await?;
            Ok(format!(
                "removed every second factor of {username}; revoked {count} sessions"
            ))
        }
        UserCommand::RevokeSessions { username } => {
            let count = operator.revoke_sessions(&username).await?;
            Ok(format!("revoked {count} sessions of {username}"))
        }
    }
}

async fn keys(
    figment: &rocket::figment::Figment,
    command: KeysCommand,
) -> Result<String, AdminError> {
    let pool = commands::connect(figment).await?;
    let (settings, _) = Settings::from_figment(figment).map_err(|e| AdminError(e.to_string()))?;
    let command = match command {
        KeysCommand::List => commands::KeysCommand::List,
        KeysCommand::Rotate => commands::KeysCommand::Rotate,
        KeysCommand::Revoke { kid } => commands::KeysCommand::Revoke(kid),
    };
    commands::keys(&pool, &settings, command).await
}

async fn import_seed(figment: &rocket::figment::Figment, from: &str) -> Result<String, AdminError> {
    let pool = commands::connect(figment).await?;
    let (settings, _) =
        Settings::from_figment(&figment.clone().merge(("allow_generated_secret", true)))
            .map_err(|e| AdminError(e.to_string()))?;
    let operator = commands::Operator::start(&pool, &settings).await?;
    let report = commands::import_seed(&operator, from).await?;
    let mut out = format!(
        "imported {}, already present {}, rejected {}\n",
        report.imported,
        report.existing,
        report.rejected.len()
    );
    for (name, why) in &report.rejected {
        out.push_str(&format!("rejected {name:?}: {why}\n"));
    }
    Ok(out)
}
