//! The `gatehouse` command line: serve (the default) or migrate.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
}

#[rocket::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => match gatehouse::build(gatehouse::figment()).launch().await {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("gatehouse: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Migrate => match migrate().await {
            Ok(()) => {
                println!("migrations applied");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("gatehouse: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn migrate() -> Result<(), String> {
    let url: String = gatehouse::figment()
        .extract_inner("databases.main.url")
        .map_err(|_| "no database URL: set DATABASE_URL or databases.main.url".to_owned())?;
    let pool = sqlx::PgPool::connect(&url)
        .await
        .map_err(|e| format!("cannot connect to the database: {e}"))?;
    gatehouse::db::migrate(&pool)
        .await
        .map_err(|e| format!("migration failed: {e}"))
}
