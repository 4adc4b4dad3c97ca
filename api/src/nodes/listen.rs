//! The read caches of several nodes: PostgreSQL announces every write to a table the caches
//! read from on the channel `kosuke_writes` (a statement trigger, migration 17, so the
//! announcement goes out when the writing transaction commits, whichever node wrote). Each
//! node listens on a connection of its own and moves that table's write generation, which
//! drops the answers read from it. Notifications sent while the listener was disconnected are
//! lost: after a reconnect every answer is dropped.
//!
//! The same connection hears `kosuke_events` (migration 18): a session's run events were
//! stored; its watchers on this node read the table again. After a lost connection every
//! watcher reads it again (`EVERY_SESSION`); none misses an event, as each reads after the
//! last number it sent.
//!
//! And `kosuke_runs` (migration 19): another node stored a run for a chat to be claimed, or a
//! message queued behind a live run; the queue keeper looks at once (`Runtime::claims`), not at
//! its next poll. After a lost connection it looks too.

use crate::cache::Writes;
use sea_orm::DatabaseConnection;
use sea_orm::sqlx::postgres::PgListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The channel the cached tables' triggers notify on.
pub const CHANNEL: &str = "kosuke_writes";
/// The channel `session_events`' trigger notifies on (the session's id).
pub const EVENTS_CHANNEL: &str = "kosuke_events";
/// The channel unclaimed runs and queued messages are announced on (the session's id).
pub const RUNS_CHANNEL: &str = "kosuke_runs";

/// What the listener has done, for `GET /api/admin/nodes` and the tests.
#[derive(Debug, Default)]
pub struct Listening {
    /// Announcements received.
    pub received: AtomicU64,
    /// Times the connection was lost and made again (each dropped every cached answer).
    pub reconnects: AtomicU64,
}

/// Listens until the server stops; waits for the first `LISTEN` to be in place, so a write
/// made after start-up is never missed.
pub async fn spawn(
    db: &DatabaseConnection,
    writes: &'static Writes,
    events: tokio::sync::broadcast::Sender<i32>,
    claims: Arc<tokio::sync::Notify>,
    node_id: i32,
) -> Result<Arc<Listening>, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(db.get_postgres_connection_pool()).await?;
    // Named in `pg_stat_activity` (until a reconnect), so an operator can tell it.
    sea_orm::sqlx::query("SELECT set_config('application_name', $1, false)")
        .bind(format!("kosuke listener of node {node_id}"))
        .execute(&mut listener)
        .await?;
    listener.listen_all([CHANNEL, EVENTS_CHANNEL, RUNS_CHANNEL]).await?;
    let listening = Arc::new(Listening::default());
    let counts = listening.clone();
    tokio::spawn(async move {
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) if notification.channel() == EVENTS_CHANNEL => {
                    if let Ok(session_id) = notification.payload().parse() {
                        let _ = events.send(session_id);
                    }
                }
                Ok(Some(notification)) if notification.channel() == RUNS_CHANNEL => claims.notify_one(),
                Ok(Some(notification)) => {
                    counts.received.fetch_add(1, Ordering::Relaxed);
                    writes.table_written(notification.payload());
                }
                // The connection was lost; the next `try_recv` connects again and listens.
                Ok(None) => {
                    counts.reconnects.fetch_add(1, Ordering::Relaxed);
                    writes.everything_written();
                    let _ = events.send(crate::events::EVERY_SESSION);
                    claims.notify_one();
                    tracing::warn!("the listener's connection to PostgreSQL was lost; every cached answer is dropped");
                }
                Err(err) => {
                    writes.everything_written();
                    let _ = events.send(crate::events::EVERY_SESSION);
                    claims.notify_one();
                    tracing::warn!(error = %err, "listening for other nodes' writes failed; trying again");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    });
    Ok(listening)
}
