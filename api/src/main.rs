//! The `kosuke` binary: parse the command line, set up logging, run.

use api::cli::{Cli, Command};
use clap::Parser;

/// mimalloc instead of glibc's malloc: SQLite's rows are allocated on the database worker
/// threads and freed on the request threads, which glibc handles badly (the session list's
/// queries ran about 40% more often per second in an in-process probe with mimalloc).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    api::telemetry::init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => api::startup::serve((*args).into_settings()).await,
        Command::Migrate(args) => api::db::run_migrate_command(args).await,
        Command::Secrets(args) => api::db::run_secrets_command(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %api::error::Report(&*err), "kosuke stopped");
            eprintln!("error: {}", api::error::Report(&*err));
            std::process::ExitCode::FAILURE
        }
    }
}
