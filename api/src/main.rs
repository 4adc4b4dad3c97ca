//! The `kosuke` binary: parse the command line, set up logging, run.

use api::cli::{Cli, Command};
use clap::Parser;

/// mimalloc instead of glibc's malloc: SQLite's rows are allocated on the database worker
/// threads and freed on the request threads, which glibc handles badly (the session list's
/// queries ran about 40% more often per second in an in-process probe with mimalloc).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // The sandbox's Landlock helper confines itself and execs the command; it runs before any
    // thread is started (no runtime, no logging).
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|arg| arg == sandbox::HELPER_COMMAND) {
        eprintln!("kosuke {}: {}", sandbox::HELPER_COMMAND, sandbox::exec_helper(&args[2..]));
        return std::process::ExitCode::from(125);
    }
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(run()),
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> std::process::ExitCode {
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
