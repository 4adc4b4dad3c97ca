//! Run events: every event gets an id, is kept in its session's bounded log (so a watcher
//! that reconnects with `Last-Event-ID` gets what it missed, nothing twice) and is broadcast
//! to every watcher. The log belongs to the session's owner (`runtime`) and goes with it when
//! the owner is evicted. Ids are `{boot}-{sequence}`, the sequence counted server-wide: an id
//! is never given out twice in one boot (a log made again after an eviction goes on from
//! where the server is), and after a restart an old id replays the log.

use api_types::RunEvent;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::broadcast;

/// Events kept per session for replay.
const LOG_CAPACITY: usize = 20_000;

pub type Sequenced = (u64, RunEvent);

/// The server-wide side of events: the boot's id and the sequence counter.
pub struct EventHub {
    boot: String,
    next: AtomicU64,
}

impl Default for EventHub {
    fn default() -> Self {
        let boot = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis().to_string())
            .unwrap_or_default();
        EventHub { boot, next: AtomicU64::new(1) }
    }
}

impl EventHub {
    /// The SSE id of a sequence number.
    pub fn id(&self, sequence: u64) -> String {
        format!("{}-{sequence}", self.boot)
    }

    /// The sequence number after which to resume, from a `Last-Event-ID`.
    pub fn resume_after(&self, last_event_id: Option<&str>) -> u64 {
        last_event_id
            .and_then(|id| id.rsplit_once('-'))
            .filter(|(boot, _)| *boot == self.boot)
            .and_then(|(_, sequence)| sequence.parse().ok())
            .unwrap_or(0)
    }

    /// The last sequence number given out anywhere: every event published from now on comes
    /// after it (`?from=latest`).
    pub fn latest(&self) -> u64 {
        self.next.load(Ordering::SeqCst) - 1
    }

    fn take(&self) -> u64 {
        self.next.fetch_add(1, Ordering::SeqCst)
    }
}

/// One session's events.
pub struct EventLog {
    inner: Mutex<LogInner>,
}

struct LogInner {
    events: VecDeque<Sequenced>,
    sender: broadcast::Sender<Sequenced>,
}

impl Default for EventLog {
    fn default() -> Self {
        let (sender, _) = broadcast::channel(1024);
        EventLog { inner: Mutex::new(LogInner { events: VecDeque::new(), sender }) }
    }
}

impl EventLog {
    fn inner(&self) -> std::sync::MutexGuard<'_, LogInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn publish(&self, hub: &EventHub, event: RunEvent) -> u64 {
        let mut log = self.inner();
        // Taken under the log's lock: a session's events are in sequence order.
        let sequence = hub.take();
        log.events.push_back((sequence, event.clone()));
        if log.events.len() > LOG_CAPACITY {
            log.events.pop_front();
        }
        let _ = log.sender.send((sequence, event));
        sequence
    }

    /// The events after `after` still in the log, and a receiver for what comes next. Taken
    /// under one lock, so nothing falls between the two.
    pub fn subscribe(&self, after: u64) -> (Vec<Sequenced>, broadcast::Receiver<Sequenced>) {
        let log = self.inner();
        (backlog(&log, after), log.sender.subscribe())
    }

    /// The events after `after` in the log (to catch up a watcher that fell behind).
    pub fn since(&self, after: u64) -> Vec<Sequenced> {
        backlog(&self.inner(), after)
    }

    /// Whether anyone is watching (an owner with watchers is not evicted).
    pub fn watched(&self) -> bool {
        self.inner().sender.receiver_count() > 0
    }
}

fn backlog(log: &LogInner, after: u64) -> Vec<Sequenced> {
    log.events.iter().filter(|(sequence, _)| *sequence > after).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use api_types::RunId;

    fn text(n: u64) -> RunEvent {
        RunEvent::TextDelta { run_id: RunId(1), text: n.to_string() }
    }

    #[test]
    fn a_watcher_resumes_after_its_last_event() {
        let hub = EventHub::default();
        let log = EventLog::default();
        for n in 0..5 {
            log.publish(&hub, text(n));
        }
        let after = hub.resume_after(Some(&hub.id(3)));
        let (backlog, _) = log.subscribe(after);
        assert_eq!(backlog.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![4, 5]);
        assert_eq!(hub.resume_after(Some("123-4")), 0, "an id from another boot replays everything");
        assert_eq!(hub.resume_after(None), 0);
    }

    #[test]
    fn a_log_made_again_goes_on_after_every_id_given_out() {
        let hub = EventHub::default();
        let first = EventLog::default();
        let seen = first.publish(&hub, text(0));
        drop(first);
        let again = EventLog::default();
        again.publish(&hub, text(1));
        assert_eq!(again.since(seen).len(), 1, "a watcher of the evicted log still gets the new event");
    }
}
