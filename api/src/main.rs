//! The `kosuke` binary: parse the command line, set up logging, run.

use api::cli::{Cli, Command};
use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    api::telemetry::init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => api::startup::serve((*args).into_settings()).await,
        Command::Migrate(args) => api::db::run_migrate_command(args).await,
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
