//! Every database query lives here. Functions take `&impl ConnectionTrait` so they run on the
//! pool or inside a transaction; each aggregate has a "load or 404" function so handlers never
//! repeat `find` + `ok_or`. Writes in a transaction come before its reads where possible:
//! SQLite then takes the write lock first and concurrent writers queue instead of failing.

pub mod accounts;
pub mod audit;
pub mod credentials;
pub mod env_vars;
pub mod events;
pub mod members;
pub mod messages;
pub mod nodes;
pub mod projects;
pub mod pull_requests;
pub mod queue;
pub mod run_settings;
pub mod runs;
pub mod sessions;
mod txn;

pub use txn::{Begin, Txn};

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{ConnectionTrait, DbErr, SqlErr};

/// Begins a write transaction (`txn`): on the pool, in SQLite's write lane and holding the
/// write lock from the start; on a transaction, a savepoint inside it. The only way to begin
/// one: `cargo xtask test` refuses `.begin()` elsewhere in api/src.
///
/// Inside the transaction use only the transaction: asking the pool for another connection
/// while holding the write lock waits for whatever that connection's holder waits for.
pub async fn begin<C: Begin>(db: &C) -> Result<Txn, DbErr> {
    db.begin_write().await
}

/// Commits a transaction and tells the read cache, now that its writes are visible. The only
/// way to commit: `cargo xtask test` refuses `.commit().await` anywhere else in api/src, and
/// clippy.toml makes clippy say the same.
pub async fn commit(txn: Txn) -> Result<(), DbErr> {
    let (token, marker) = crate::cache::commit_marker();
    txn.execute_raw(sea_orm::Statement::from_string(txn.get_database_backend(), marker)).await?;
    let committed = txn.commit().await;
    crate::cache::record_commit(token);
    committed
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist or is not visible to the caller; the `&str` names the kind.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique constraint refused the write.
    #[error("{0}")]
    Conflict(String),
    #[error("database error")]
    Db(#[source] DbErr),
}

impl From<DbErr> for StoreError {
    /// Constraint violations are classified once, the same way on SQLite and PostgreSQL.
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                StoreError::Conflict("That conflicts with an existing record.".to_owned())
            }
            _ => StoreError::Db(err),
        }
    }
}

impl StoreError {
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict(_))
    }
}

/// The current time at microsecond precision: what PostgreSQL keeps, so a value read back
/// (e.g. in a cursor) compares equal to the value written, on both backends.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
