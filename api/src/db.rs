//! Connecting to the database (SQLite by default, PostgreSQL by URL) and running migrations.

use crate::cli::{MigrateAction, MigrateArgs};
use crate::settings::Settings;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};
use std::time::Duration;

/// Opens a pool. SQLite gets WAL and a generous busy timeout so concurrent writers wait for
/// each other instead of failing.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .max_connections(if url.starts_with("sqlite:") { 8 } else { 16 })
        .acquire_timeout(Duration::from_secs(30))
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
                .create_if_missing(true)
        });
    Database::connect(options).await
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
