//! Run events. Each session's events are numbered by the session's owner (one more than the
//! last, the first after a start-up or takeover one more than the last stored), kept in a
//! bounded log in memory for the owner's watchers, broadcast to them at once, and stored in
//! `session_events` by one writer task per node (in order, in batches), so that any node
//! streams them and a watcher that reconnects with `Last-Event-ID` (the number) gets what it
//! missed, nothing twice, on any node and after any restart.
//!
//! Deltas (`text_delta`, `tool_output`) published within [`COALESCE`] of each other are sent
//! and stored as one; a run's deltas are pruned from the table once its message is saved
//! whole (the message then holds them).
//!
//! `log.rs`: one session's log (numbering, coalescing, watchers); `stored.rs`: the writer task
//! and reading stored events back.

mod log;
mod stored;

pub use log::EventLog;
pub use stored::{opened, stored};

use crate::secrets::SecretBox;
use api_types::RunEvent;
use sea_orm::DatabaseConnection;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Deltas of one kind published within this long of the first are one event.
pub const COALESCE: Duration = Duration::from_millis(30);
/// With several nodes, how long after its message is saved a run's deltas stay in the table
/// (for the other nodes' watchers, which read it a moment behind).
pub(crate) const PRUNE_AFTER_WITH_NODES: Duration = Duration::from_secs(60);
/// The kinds of event pruned from the table once a run's message is saved.
pub const DELTA_KINDS: [&str; 2] = ["text_delta", "tool_output"];

pub type Sequenced = (u64, RunEvent);

/// What the bell rings for when any session's events may have been stored unheard (the
/// listener's connection was lost): every watcher reads the table again. Session ids are ≥ 1.
pub const EVERY_SESSION: i32 = 0;

/// What the writer task does, in the order asked.
enum Write {
    Event {
        session_id: i32,
        seq: u64,
        event: RunEvent,
    },
    /// A finished run's deltas are no longer needed.
    Prune {
        run_id: i32,
    },
    /// Answered once everything asked before is stored.
    Flush(oneshot::Sender<()>),
}

/// The node-wide side of events: the writer task's queue, and the bell rung when another
/// node stored a session's events.
pub struct EventHub {
    writes: mpsc::UnboundedSender<Write>,
    unstarted: Mutex<Option<mpsc::UnboundedReceiver<Write>>>,
    bell: broadcast::Sender<i32>,
    /// Bytes of sealed events stored.
    stored_bytes: Arc<AtomicU64>,
}

impl Default for EventHub {
    fn default() -> Self {
        let (writes, queue) = mpsc::unbounded_channel();
        EventHub {
            writes,
            unstarted: Mutex::new(Some(queue)),
            bell: broadcast::channel(1024).0,
            stored_bytes: Arc::default(),
        }
    }
}

impl EventHub {
    /// The SSE id of a sequence number.
    pub fn id(sequence: u64) -> String {
        sequence.to_string()
    }

    /// The sequence number after which to resume, from a `Last-Event-ID` (0, everything,
    /// when there is none or it is not one of ours).
    pub fn resume_after(last_event_id: Option<&str>) -> u64 {
        last_event_id.and_then(|id| id.trim().parse().ok()).unwrap_or(0)
    }

    /// Starts the task that stores events (once; later calls do nothing).
    pub fn start_writer(&self, db: DatabaseConnection, secrets: SecretBox, several_nodes: bool) {
        // Alone, every watcher has the deltas from memory: they go once the message is saved.
        let prune_after = if several_nodes { PRUNE_AFTER_WITH_NODES } else { Duration::ZERO };
        let queue = self.unstarted.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(queue) = queue {
            tokio::spawn(stored::write_events(db, secrets, queue, self.stored_bytes.clone(), prune_after));
        }
    }

    /// Bytes of sealed events stored so far.
    pub fn stored_bytes(&self) -> u64 {
        self.stored_bytes.load(Ordering::Relaxed)
    }

    /// Waits (at most `wait`) until every event published so far is stored.
    pub async fn flush(&self, wait: Duration) {
        let (done, stored) = oneshot::channel();
        if self.writes.send(Write::Flush(done)).is_ok() && tokio::time::timeout(wait, stored).await.is_err() {
            tracing::warn!("run events were still being stored when the wait ended");
        }
    }

    /// What the listener rings for a session whose events were stored (by any node).
    pub fn ringer(&self) -> broadcast::Sender<i32> {
        self.bell.clone()
    }

    /// Hears the bell: the sessions whose events were stored elsewhere.
    pub fn bell(&self) -> broadcast::Receiver<i32> {
        self.bell.subscribe()
    }
}
