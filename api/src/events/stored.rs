//! The writer task that stores a node's run events in `session_events` (in the order they
//! were published, in batches, sealed), and reading them back.

use super::{DELTA_KINDS, Sequenced, Write};
use crate::secrets::SecretBox;
use crate::store::{self, StoreError, events::NewEvent};
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// The most events stored in one statement.
const BATCH: usize = 256;

/// The writer task: stores events in the order they were published, in batches. A finished
/// run's deltas are pruned `prune_after` later: a watcher on another node reads the table a
/// moment behind the run, and must find the last deltas still there.
pub(super) async fn write_events(
    db: DatabaseConnection,
    secrets: SecretBox,
    mut queue: mpsc::UnboundedReceiver<Write>,
    stored_bytes: Arc<AtomicU64>,
    prune_after: Duration,
) {
    let mut rows = Vec::new();
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match queue.try_recv() {
                Ok(write) => batch.push(write),
                Err(_) => break,
            }
        }
        for write in batch {
            match write {
                Write::Event { session_id, seq, event } => {
                    let payload = secrets.seal(&serde_json::to_string(&event).unwrap_or_default());
                    stored_bytes.fetch_add(payload.len() as u64, Ordering::Relaxed);
                    rows.push(NewEvent { session_id, seq, run_id: event.run_id().0, kind: event.name(), payload });
                }
                Write::Prune { run_id } => {
                    store_rows(&db, &mut rows).await;
                    let db = db.clone();
                    let prune = async move {
                        tokio::time::sleep(prune_after).await;
                        if let Err(err) = store::events::prune(&db, run_id, &DELTA_KINDS).await {
                            tracing::warn!(run_id, error = %crate::error::Report(&err), "a finished run's deltas were not pruned");
                        }
                    };
                    if prune_after.is_zero() { prune.await } else { drop(tokio::spawn(prune)) }
                }
                Write::Flush(done) => {
                    store_rows(&db, &mut rows).await;
                    let _ = done.send(());
                }
            }
        }
        store_rows(&db, &mut rows).await;
    }
}

/// Stores the rows, trying twice more on a failure; what still fails is logged and dropped
/// (the watchers on this node had it; a resume elsewhere misses it).
async fn store_rows(db: &DatabaseConnection, rows: &mut Vec<NewEvent>) {
    if rows.is_empty() {
        return;
    }
    for wait in [Duration::from_millis(100), Duration::from_millis(500), Duration::ZERO] {
        match store::events::insert(db, rows.clone()).await {
            Ok(()) => {
                rows.clear();
                return;
            }
            Err(err) if wait.is_zero() => {
                tracing::error!(events = rows.len(), error = %crate::error::Report(&err), "run events could not be stored");
            }
            Err(_) => tokio::time::sleep(wait).await,
        }
    }
    rows.clear();
}

/// The session's stored events after `after` (before `before`), opened; a row that cannot be
/// opened or read is skipped with a warning.
pub async fn stored(
    db: &DatabaseConnection,
    secrets: &SecretBox,
    session_id: i32,
    after: u64,
    before: Option<u64>,
    limit: u64,
) -> Result<Vec<Sequenced>, StoreError> {
    let rows = store::events::after(db, session_id, after, before, limit).await?;
    Ok(opened(secrets, rows))
}

/// Stored rows as events.
pub fn opened(secrets: &SecretBox, rows: Vec<(u64, String)>) -> Vec<Sequenced> {
    rows.into_iter()
        .filter_map(|(seq, payload)| {
            let event = secrets.open(&payload).ok().and_then(|json| serde_json::from_str(&json).ok());
            if event.is_none() {
                tracing::warn!(seq, "a stored run event could not be read; it is skipped");
            }
            event.map(|event| (seq, event))
        })
        .collect()
}
