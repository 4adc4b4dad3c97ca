//! Write transactions, and on SQLite the one lane they take turns in.
//!
//! SQLite has one writer at a time. A transaction begun with `BEGIN IMMEDIATE` while another
//! writes waits in SQLite's busy handler, which sleeps 1, 2, 5, 10, 15, 20, 25, 50 ms… between
//! tries and holds a pooled connection all the while. Under a burst (twenty sessions created at
//! once) the waiters took every connection of the pool, readers queued behind them, and a
//! writer could sleep 25 ms after the lock had long been free (`cargo xtask bench sessions`).
//! So the server's own write transactions queue in-process first, in arrival order, on one
//! async lane per database file, and ask the pool for a connection only when it is their turn.
//! Single statements outside a transaction still meet them at SQLite's lock, as before.
//! PostgreSQL locks rows, not the database: its transactions take no lane.

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use tokio::sync::OwnedMutexGuard;

/// How long a transaction waits for its turn: SQLite's busy timeout, so a stuck writer fails
/// the others the way SQLite itself would.
const TURN_TIMEOUT: Duration = crate::db::SQLITE_BUSY_TIMEOUT;

/// A write transaction (`store::begin`): the transaction and, on SQLite, its turn in the lane,
/// given back when it commits, rolls back or is dropped.
pub struct Txn {
    inner: DatabaseTransaction,
    _turn: Option<OwnedMutexGuard<()>>,
}

/// What a write transaction can be begun on: the pool (a new transaction, in the lane on
/// SQLite) or a transaction (a savepoint inside it, which already has the turn).
#[async_trait::async_trait]
pub trait Begin: ConnectionTrait {
    async fn begin_write(&self) -> Result<Txn, DbErr>;
}

#[async_trait::async_trait]
impl Begin for DatabaseConnection {
    async fn begin_write(&self) -> Result<Txn, DbErr> {
        let turn = match self.get_database_backend() {
            DbBackend::Sqlite => Some(take_turn(self).await?),
            _ => None,
        };
        // On SQLite the write lock is taken at once (`BEGIN IMMEDIATE`): a deferred transaction
        // that read first could not take it once another writer had committed, and would fail
        // with "database is locked" instead of waiting.
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        Ok(Txn { inner: self.begin_with_options(options).await?, _turn: turn })
    }
}

#[async_trait::async_trait]
impl Begin for Txn {
    async fn begin_write(&self) -> Result<Txn, DbErr> {
        Ok(Txn { inner: self.inner.begin().await?, _turn: None })
    }
}

/// The lane of the pool's database file (every pool on one file shares it, as they share its
/// write lock), waited for in arrival order.
async fn take_turn(db: &DatabaseConnection) -> Result<OwnedMutexGuard<()>, DbErr> {
    static LANES: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> = LazyLock::new(Default::default);
    let options = db.get_sqlite_connection_pool().connect_options();
    let file = options.get_filename();
    let lane = {
        let mut lanes = LANES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match lanes.get(file) {
            Some(lane) => Arc::clone(lane),
            None => Arc::clone(lanes.entry(file.to_path_buf()).or_default()),
        }
    };
    tokio::time::timeout(TURN_TIMEOUT, lane.lock_owned())
        .await
        .map_err(|_| DbErr::Custom(format!("database is locked: no turn to write within {TURN_TIMEOUT:?}")))
}

impl Txn {
    /// Commits; `store::commit` is the way in, as it tells the read cache.
    pub(super) async fn commit(self) -> Result<(), DbErr> {
        #[allow(clippy::disallowed_methods)]
        self.inner.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.inner.rollback().await
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Txn {
    fn get_database_backend(&self) -> DbBackend {
        self.inner.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.inner.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.inner.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.inner.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.inner.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.inner.support_returning()
    }
}
