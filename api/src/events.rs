//! Run events per session: every event gets an id, is kept in a bounded log (so a watcher
//! that reconnects with `Last-Event-ID` gets what it missed, nothing twice) and is broadcast
//! to every watcher. Ids are `{boot}-{sequence}`: after a restart, an old id replays the log.

use api_types::RunEvent;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Events kept per session for replay.
const LOG_CAPACITY: usize = 20_000;

pub type Sequenced = (u64, RunEvent);

struct SessionLog {
    next: u64,
    events: VecDeque<Sequenced>,
    sender: broadcast::Sender<Sequenced>,
}

pub struct EventHub {
    boot: String,
    sessions: Mutex<HashMap<i32, Arc<Mutex<SessionLog>>>>,
}

impl Default for EventHub {
    fn default() -> Self {
        let boot = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis().to_string())
            .unwrap_or_default();
        EventHub { boot, sessions: Mutex::new(HashMap::new()) }
    }
}

impl EventHub {
    fn log(&self, session_pk: i32) -> Arc<Mutex<SessionLog>> {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions
            .entry(session_pk)
            .or_insert_with(|| {
                let (sender, _) = broadcast::channel(1024);
                Arc::new(Mutex::new(SessionLog { next: 1, events: VecDeque::new(), sender }))
            })
            .clone()
    }

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

    pub fn publish(&self, session_pk: i32, event: RunEvent) -> u64 {
        let log = self.log(session_pk);
        let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
        let sequence = log.next;
        log.next += 1;
        log.events.push_back((sequence, event.clone()));
        if log.events.len() > LOG_CAPACITY {
            log.events.pop_front();
        }
        let _ = log.sender.send((sequence, event));
        sequence
    }

    /// The events after `after` still in the log, and a receiver for what comes next. Taken
    /// under one lock, so nothing falls between the two.
    pub fn subscribe(&self, session_pk: i32, after: u64) -> (Vec<Sequenced>, broadcast::Receiver<Sequenced>) {
        let log = self.log(session_pk);
        let log = log.lock().unwrap_or_else(|p| p.into_inner());
        (backlog(&log, after), log.sender.subscribe())
    }

    /// The events after `after` in the log (to catch up a watcher that fell behind).
    pub fn since(&self, session_pk: i32, after: u64) -> Vec<Sequenced> {
        let log = self.log(session_pk);
        let log = log.lock().unwrap_or_else(|p| p.into_inner());
        backlog(&log, after)
    }

    /// The last sequence number given out in the session.
    pub fn last(&self, session_pk: i32) -> u64 {
        let log = self.log(session_pk);
        let log = log.lock().unwrap_or_else(|p| p.into_inner());
        log.next - 1
    }
}

fn backlog(log: &SessionLog, after: u64) -> Vec<Sequenced> {
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
        for n in 0..5 {
            hub.publish(7, text(n));
        }
        let after = hub.resume_after(Some(&hub.id(3)));
        let (backlog, _) = hub.subscribe(7, after);
        assert_eq!(backlog.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![4, 5]);
        assert_eq!(hub.resume_after(Some("123-4")), 0, "an id from another boot replays everything");
        assert_eq!(hub.resume_after(None), 0);
    }
}
