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

use crate::secrets::SecretBox;
use crate::store::{self, StoreError, events::NewEvent};
use api_types::RunEvent;
use sea_orm::DatabaseConnection;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc, oneshot};

/// Events kept per session in memory for replay (older ones are read from the table).
const LOG_CAPACITY: usize = 20_000;
/// Deltas of one kind published within this long of the first are one event.
pub const COALESCE: Duration = Duration::from_millis(30);
/// The kinds of event pruned from the table once a run's message is saved.
pub const DELTA_KINDS: [&str; 2] = ["text_delta", "tool_output"];
/// The most events stored in one statement.
const BATCH: usize = 256;

pub type Sequenced = (u64, RunEvent);

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
    pub fn start_writer(&self, db: DatabaseConnection, secrets: SecretBox) {
        let queue = self.unstarted.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(queue) = queue {
            tokio::spawn(write_events(db, secrets, queue, self.stored_bytes.clone()));
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

/// The writer task: stores events in the order they were published, in batches.
async fn write_events(
    db: DatabaseConnection,
    secrets: SecretBox,
    mut queue: mpsc::UnboundedReceiver<Write>,
    stored_bytes: Arc<AtomicU64>,
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
                    if let Err(err) = store::events::prune(&db, run_id, &DELTA_KINDS).await {
                        tracing::warn!(run_id, error = %crate::error::Report(&err), "a finished run's deltas were not pruned");
                    }
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

/// One session's events as its owner numbers and keeps them.
pub struct EventLog {
    session_id: i32,
    writes: mpsc::UnboundedSender<Write>,
    inner: Arc<Mutex<LogInner>>,
}

struct LogInner {
    /// The next sequence number; `None` until read from the table (`ready`).
    next: Option<u64>,
    events: VecDeque<Sequenced>,
    sender: broadcast::Sender<Sequenced>,
    /// A delta waiting for more of its kind, since when, and its turn's number (so a timer
    /// releases only the delta it was started for).
    held: Option<(RunEvent, Instant, u64)>,
    holds: u64,
}

impl EventLog {
    pub fn new(session_id: i32, hub: &EventHub) -> EventLog {
        let (sender, _) = broadcast::channel(1024);
        let inner = LogInner { next: None, events: VecDeque::new(), sender, held: None, holds: 0 };
        EventLog { session_id, writes: hub.writes.clone(), inner: Arc::new(Mutex::new(inner)) }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, LogInner> {
        lock(&self.inner)
    }

    /// Reads where the session's numbering goes on from (once per log; what was published
    /// before is stored first). Call before the first event is published.
    pub async fn ready(&self, hub: &EventHub, db: &DatabaseConnection) -> Result<(), StoreError> {
        if self.inner().next.is_some() {
            return Ok(());
        }
        hub.flush(Duration::from_secs(10)).await;
        let last = store::events::last_seq(db, self.session_id).await?;
        let mut log = self.inner();
        if log.next.is_none() {
            log.next = Some(last + 1);
        }
        Ok(())
    }

    /// Publishes an event: numbered, kept, broadcast and stored; a delta may wait up to
    /// [`COALESCE`] for more of its kind.
    pub fn publish(&self, event: RunEvent) {
        let mut log = self.inner();
        if !is_delta(&event) {
            release(&mut log, self.session_id, &self.writes);
            emit(&mut log, self.session_id, &self.writes, event);
            return;
        }
        if let Some((held, since, _)) = log.held.as_mut()
            && merge(held, &event)
        {
            if since.elapsed() >= COALESCE {
                release(&mut log, self.session_id, &self.writes);
            }
            return;
        }
        release(&mut log, self.session_id, &self.writes);
        log.holds += 1;
        let turn = log.holds;
        log.held = Some((event, Instant::now(), turn));
        let (inner, writes, session_id) = (self.inner.clone(), self.writes.clone(), self.session_id);
        tokio::spawn(async move {
            tokio::time::sleep(COALESCE).await;
            let mut log = lock(&inner);
            if log.held.as_ref().is_some_and(|(_, _, held)| *held == turn) {
                release(&mut log, session_id, &writes);
            }
        });
    }

    /// The events after `after` kept in memory, a receiver for what comes next (taken under
    /// one lock, so nothing falls between the two), and the first number kept: what is before
    /// it is only in the table (everything is, before the log is ready).
    pub fn subscribe(&self, after: u64) -> (Vec<Sequenced>, broadcast::Receiver<Sequenced>, u64) {
        let log = self.inner();
        let first_kept = log.events.front().map(|(seq, _)| *seq).or(log.next).unwrap_or(u64::MAX);
        let backlog = log.events.iter().filter(|(sequence, _)| *sequence > after).cloned().collect();
        (backlog, log.sender.subscribe(), first_kept)
    }

    /// The events after `after`, from the table where memory does not reach back, and a
    /// receiver for what comes next.
    pub async fn subscribe_from(
        &self,
        db: &DatabaseConnection,
        secrets: &SecretBox,
        after: u64,
    ) -> Result<(Vec<Sequenced>, broadcast::Receiver<Sequenced>), StoreError> {
        let (kept, receiver, first_kept) = self.subscribe(after);
        let mut backlog = Vec::new();
        if after + 1 < first_kept {
            let before = (first_kept < u64::MAX).then_some(first_kept);
            backlog = stored(db, secrets, self.session_id, after, before, LOG_CAPACITY as u64).await?;
        }
        backlog.extend(kept);
        Ok((backlog, receiver))
    }

    /// The last number given out, any held delta released first, and a receiver for what
    /// comes after it (`?from=latest`, under the transcript's lock).
    pub fn subscribe_latest(&self) -> (u64, broadcast::Receiver<Sequenced>) {
        let mut log = self.inner();
        release(&mut log, self.session_id, &self.writes);
        (log.next.unwrap_or(1) - 1, log.sender.subscribe())
    }

    /// Prunes a finished run's deltas from the table once its message is saved (after what
    /// was published before, a held delta included).
    pub fn prune(&self, run_id: i32) {
        let mut log = self.inner();
        release(&mut log, self.session_id, &self.writes);
        let _ = self.writes.send(Write::Prune { run_id });
    }

    /// The last number given out (0 before the first).
    pub fn last_given(&self) -> u64 {
        self.inner().next.map_or(0, |next| next - 1)
    }

    /// Whether anyone is watching (an owner with watchers is not evicted).
    pub fn watched(&self) -> bool {
        self.inner().sender.receiver_count() > 0
    }
}

fn lock(inner: &Mutex<LogInner>) -> std::sync::MutexGuard<'_, LogInner> {
    inner.lock().unwrap_or_else(|p| p.into_inner())
}

fn is_delta(event: &RunEvent) -> bool {
    matches!(event, RunEvent::TextDelta { .. } | RunEvent::ToolOutput { .. })
}

/// Appends `next` to `held` when they are the same run's deltas of one kind (one tool's).
fn merge(held: &mut RunEvent, next: &RunEvent) -> bool {
    match (held, next) {
        (RunEvent::TextDelta { run_id, text }, RunEvent::TextDelta { run_id: next_run, text: more })
            if run_id == next_run =>
        {
            text.push_str(more);
            true
        }
        (
            RunEvent::ToolOutput { run_id, tool_use_id, text },
            RunEvent::ToolOutput { run_id: next_run, tool_use_id: next_tool, text: more },
        ) if run_id == next_run && tool_use_id == next_tool => {
            text.push_str(more);
            true
        }
        _ => false,
    }
}

fn release(log: &mut LogInner, session_id: i32, writes: &mpsc::UnboundedSender<Write>) {
    if let Some((event, _, _)) = log.held.take() {
        emit(log, session_id, writes, event);
    }
}

fn emit(log: &mut LogInner, session_id: i32, writes: &mpsc::UnboundedSender<Write>, event: RunEvent) {
    let seq = match log.next {
        Some(next) => next,
        None => {
            tracing::error!(session_id, "an event was published before its log was ready; numbering from 1");
            1
        }
    };
    log.next = Some(seq + 1);
    log.events.push_back((seq, event.clone()));
    if log.events.len() > LOG_CAPACITY {
        log.events.pop_front();
    }
    let _ = writes.send(Write::Event { session_id, seq, event: event.clone() });
    let _ = log.sender.send((seq, event));
}

#[cfg(test)]
mod tests {
    use super::*;
    use api_types::RunId;

    fn text(n: u64) -> RunEvent {
        RunEvent::TextDelta { run_id: RunId(1), text: n.to_string() }
    }

    fn finished() -> RunEvent {
        RunEvent::RunFinished { run_id: RunId(1), status: api_types::RunStatus::Succeeded }
    }

    fn ready(log: &EventLog, next: u64) {
        log.inner().next = Some(next);
    }

    #[tokio::test]
    async fn deltas_close_together_are_one_event_and_others_end_them() {
        let hub = EventHub::default();
        let log = EventLog::new(7, &hub);
        ready(&log, 41);
        let (_, mut receiver, _) = log.subscribe(0);
        for n in 0..3 {
            log.publish(text(n));
        }
        log.publish(finished());
        assert_eq!(receiver.recv().await.unwrap(), (41, RunEvent::TextDelta { run_id: RunId(1), text: "012".into() }));
        assert_eq!(receiver.recv().await.unwrap().0, 42, "the next event goes on from the coalesced one");
        // A lone delta is released by its timer.
        log.publish(text(9));
        let (seq, event) = tokio::time::timeout(COALESCE * 10, receiver.recv()).await.unwrap().unwrap();
        assert_eq!((seq, event), (43, text(9)));
    }

    #[tokio::test]
    async fn a_watcher_resumes_after_its_last_event() {
        let hub = EventHub::default();
        let log = EventLog::new(7, &hub);
        ready(&log, 1);
        for _ in 0..5 {
            log.publish(finished());
        }
        let (backlog, _, first_kept) = log.subscribe(EventHub::resume_after(Some(&EventHub::id(3))));
        assert_eq!(backlog.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![4, 5]);
        assert_eq!(first_kept, 1);
        let (_, _, unknown) = EventLog::new(8, &hub).subscribe(0);
        assert_eq!(unknown, u64::MAX, "a log not ready has everything in the table");
        assert_eq!(EventHub::resume_after(Some("123-4")), 0, "an id not ours replays everything");
        assert_eq!(EventHub::resume_after(None), 0);
    }

    #[tokio::test]
    async fn from_latest_releases_a_held_delta_first() {
        let hub = EventHub::default();
        let log = EventLog::new(7, &hub);
        ready(&log, 10);
        log.publish(text(1));
        let (after, _) = log.subscribe_latest();
        assert_eq!(after, 10, "the held delta has a number at or before the snapshot's");
    }
}
