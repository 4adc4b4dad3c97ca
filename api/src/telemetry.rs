//! Logging set-up: `RUST_LOG` filters, `info` by default. Secrets are never logged: request
//! logs carry method, path and status only, never headers or bodies.

use tracing_subscriber::EnvFilter;

/// What is logged: `RUST_LOG`, else `info` (sqlx and sea-orm at `warn`).
pub fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"))
}

/// Installs the global subscriber once; later calls are no-ops.
pub fn init() {
    let _ = tracing_subscriber::fmt().with_env_filter(filter()).with_target(false).try_init();
}
