//! One session's events as its owner numbers and keeps them: the next number, the bounded
//! log for replay, the broadcast to watchers, and deltas held up to `COALESCE` for more.

use super::{COALESCE, EventHub, Sequenced, Write, stored};
use crate::secrets::SecretBox;
use crate::store::{self, StoreError};
use api_types::RunEvent;
use sea_orm::DatabaseConnection;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc};

/// Events kept per session in memory for replay (older ones are read from the table).
const LOG_CAPACITY: usize = 20_000;

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
