//! Connecting to the database (SQLite by default, PostgreSQL by URL) and running migrations.

use crate::cli::{MigrateAction, MigrateArgs};
use crate::settings::Settings;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};
use std::time::Duration;

/// How long a SQLite writer waits for the database's write lock: in SQLite's busy handler, and
/// for its turn in the server's write lane (`store::Txn`).
pub(crate) const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens a pool. SQLite gets WAL and a generous busy timeout so concurrent writers wait for
/// each other instead of failing, and stable query plans (see `stable_query_plans`). Every
/// statement is shown to the read cache, which notes what it writes.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    Ok(connect_with_writes(url).await?.0)
}

/// `connect`, and the pool's write generations for the read cache.
pub async fn connect_with_writes(url: &str) -> Result<(DatabaseConnection, &'static crate::cache::Writes), DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .max_connections(if url.starts_with("sqlite:") { 8 } else { 16 })
        .acquire_timeout(Duration::from_secs(30))
        // A pooled SQLite connection is a file handle, not a socket that can go stale: checking
        // it before each use (sqlx pings its worker thread) cost a round trip per query.
        .test_before_acquire(!url.starts_with("sqlite:"))
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
                .create_if_missing(true)
                // Freed space is zeroed: a re-sealed message leaves no plain copy in the file.
                .pragma("secure_delete", "ON")
        })
        .map_sqlx_sqlite_pool_opts(|pool| {
            pool.after_connect(|connection, _| Box::pin(async move { stable_query_plans(connection).await }))
        });
    let mut db = Database::connect(options).await?;
    // Every write tells the read cache (see `cache`).
    let writes = crate::cache::Writes::for_pool();
    db.set_metric_callback(move |info| writes.record_statement(&info.statement.sql));
    Ok((db, writes))
}

/// Turns on SQLite's query planner stability guarantee for the connection. Without it, the
/// bundled SQLite (built with STAT4) plans each statement for the values bound to it, so every
/// cached statement with a bound `LIMIT` — sea-orm binds every limit, `.one()` included — is
/// parsed and planned again on every execution: about a fifth of the server's CPU under load;
/// with this the session list answers twice as many requests (`cargo xtask bench api`). Our
/// plans never depend on the bound values.
async fn stable_query_plans(connection: &mut sea_orm::sqlx::SqliteConnection) -> Result<(), sea_orm::sqlx::Error> {
    let mut handle = connection.lock_handle().await?;
    let raw = handle.as_raw_handle().as_ptr();
    // SAFETY: `raw` is the open connection, held exclusively through `handle` for this call;
    // SQLITE_DBCONFIG_ENABLE_QPSG takes an int (1 = on) and an optional int* for the result.
    let code = unsafe {
        libsqlite3_sys::sqlite3_db_config(
            raw,
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as std::ffi::c_int,
            std::ptr::null_mut::<std::ffi::c_int>(),
        )
    };
    if code != libsqlite3_sys::SQLITE_OK {
        return Err(sea_orm::sqlx::Error::Configuration(format!("sqlite3_db_config(QPSG) failed: {code}").into()));
    }
    Ok(())
}

/// A PostgreSQL URL with its database name replaced (tests and benchmarks make a database
/// per run next to the one the URL names).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// `sqlite` or `postgres`, for `/api/health`.
pub fn backend_name(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        DbBackend::Sqlite => "sqlite",
        DbBackend::Postgres => "postgres",
        _ => "other",
    }
}

/// `kosuke migrate up|down|status`.
pub async fn run_migrate_command(args: MigrateArgs) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut settings = Settings::new("", args.data.data_dir);
    settings.database_url = args.data.database_url;
    std::fs::create_dir_all(&settings.data_dir)?;
    let db = connect(&settings.database_url()).await?;
    match args.action {
        MigrateAction::Up => Migrator::up(&db, None).await?,
        MigrateAction::Down { steps } => Migrator::down(&db, Some(steps)).await?,
        MigrateAction::Status => {
            for migration in Migrator::get_migration_with_status(&db).await? {
                println!("{:<10} {}", format!("{:?}", migration.status()).to_lowercase(), migration.name());
            }
        }
    }
    Ok(())
}

/// `kosuke secrets …`.
pub async fn run_secrets_command(
    args: crate::cli::SecretsArgs,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let crate::cli::SecretsAction::Rotate(rotate) = args.action;
    let mut settings = Settings::new("", rotate.data.data_dir);
    settings.database_url = rotate.data.database_url;
    let db = connect(&settings.database_url()).await?;
    Migrator::up(&db, None).await?;
    crate::services::transcripts::rotate(&db, rotate.secret_key.as_deref(), &settings.data_dir).await
}
