//! One owner per active session. Everything done to a session's checkout or branch goes
//! through its [`SessionOwner`]: the live run (its cancellation, its transcript as it streams),
//! the event log watchers read, the lock that orders work on the branch, and the lock under
//! which the checkout is made or removed.
//!
//! - A run holds the owner's work lock from before it touches the checkout until its final
//!   commit (and push) is made. Archive and delete stop the run first ([`SessionOwner::take_over`]:
//!   cancel, then wait for the run's end, its commit made), then take the work lock themselves.
//!   Duplicate and pull requests answer 409 `session_busy` while a run is live (a run commits
//!   once, at its end: waiting for that "commit point" could take the whole turn), then hold the
//!   work lock for their own commit.
//! - Lock order: work, then checkout; never the other way.
//! - Owners are made only after the caller's access to the session was checked (a made-up id
//!   never gets one). Idle owners (no live run, no watcher, no one holding them) are evicted
//!   when more than [`IDLE_KEPT`] are kept; busy ones are bounded by the run limit and the
//!   number of open connections.
//! - Runs are tracked tasks: shutdown stops them all (each ends `interrupted`, its transcript
//!   saved and its work committed) and waits for them; a server-wide limit of concurrent runs
//!   queues the excess (`queued`, in order of arrival).

use crate::events::{EventHub, EventLog};
use crate::services::chat::Transcript;
use api_types::{RunEvent, RunStatus};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Idle owners kept before eviction starts.
pub const IDLE_KEPT: usize = 256;

pub struct Runtime {
    pub events: EventHub,
    /// Bytes of whole messages written to the database (with the stored events' bytes, the
    /// cost of saving a long turn: `transcript_bytes`).
    pub saved_bytes: AtomicU64,
    /// Rung when another node stored a run or a queued message for a chat (PostgreSQL's
    /// `kosuke_runs`): the queue keeper looks for what this node holds to claim at once.
    pub claims: Arc<tokio::sync::Notify>,
    owners: Mutex<HashMap<i32, Arc<SessionOwner>>>,
    runs: TaskTracker,
    slots: Arc<Semaphore>,
    stopping: CancellationToken,
}

/// A live run as its owner knows it.
#[derive(Clone)]
pub struct LiveRun {
    pub run_id: i32,
    pub assistant_message_id: i64,
    pub cancel: CancellationToken,
    /// The assistant message as it streams.
    pub transcript: Arc<Mutex<Transcript>>,
    /// Whether it has its run slot (else it is queued).
    pub started: Arc<AtomicBool>,
}

impl LiveRun {
    pub fn new(run_id: i32, assistant_message_id: i64, started: bool) -> LiveRun {
        LiveRun {
            run_id,
            assistant_message_id,
            cancel: CancellationToken::new(),
            transcript: Default::default(),
            started: Arc::new(AtomicBool::new(started)),
        }
    }

    pub fn status(&self) -> RunStatus {
        if self.started.load(Ordering::SeqCst) { RunStatus::Running } else { RunStatus::Queued }
    }
}

/// How a run that was stopped for another operation ended.
#[derive(Debug, Clone)]
pub struct Finished {
    pub run_id: i32,
    pub status: RunStatus,
    /// The commit of what the run wrote, when it changed anything.
    pub commit_sha: Option<String>,
}

pub struct SessionOwner {
    pub session_pk: i32,
    work: Arc<tokio::sync::Mutex<()>>,
    /// Held while the session's checkout is made, released or removed.
    pub checkout: Arc<tokio::sync::Mutex<()>>,
    /// Held while a run is admitted (its row made and recorded here), so that a stale live
    /// row is only ever repaired when no run is being admitted.
    admit: tokio::sync::Mutex<()>,
    live: watch::Sender<Option<LiveRun>>,
    finished: Mutex<Option<Finished>>,
    pub events: EventLog,
}

impl Runtime {
    pub fn new(max_concurrent_runs: usize) -> Self {
        Runtime {
            events: EventHub::default(),
            saved_bytes: AtomicU64::new(0),
            claims: Arc::default(),
            owners: Mutex::new(HashMap::new()),
            runs: TaskTracker::new(),
            slots: Arc::new(Semaphore::new(max_concurrent_runs.max(1))),
            stopping: CancellationToken::new(),
        }
    }

    fn owners(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Arc<SessionOwner>>> {
        self.owners.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The session's owner, made when it has none. Call only once the caller's access to the
    /// session has been checked.
    pub fn owner(&self, session_pk: i32) -> Arc<SessionOwner> {
        let mut owners = self.owners();
        if let Some(owner) = owners.get(&session_pk) {
            return owner.clone();
        }
        if owners.len() >= IDLE_KEPT {
            owners.retain(|_, owner| !owner.idle());
        }
        let owner = Arc::new(SessionOwner {
            session_pk,
            work: Default::default(),
            checkout: Default::default(),
            admit: Default::default(),
            live: watch::Sender::new(None),
            finished: Mutex::new(None),
            events: EventLog::new(session_pk, &self.events),
        });
        owners.insert(session_pk, owner.clone());
        owner
    }

    /// The session's owner when it has one (nothing is made).
    pub fn existing(&self, session_pk: i32) -> Option<Arc<SessionOwner>> {
        self.owners().get(&session_pk).cloned()
    }

    /// Drops a deleted session's owner.
    pub fn forget(&self, session_pk: i32) {
        self.owners().remove(&session_pk);
    }

    /// How many owners are kept (tests and the memory benchmark).
    pub fn owner_count(&self) -> usize {
        self.owners().len()
    }

    /// Bytes of transcript written to the database: whole messages and stored events (tests
    /// count it).
    pub fn transcript_bytes(&self) -> u64 {
        self.saved_bytes.load(Ordering::Relaxed) + self.events.stored_bytes()
    }

    /// Publishes an event to a session's watchers.
    pub fn publish(&self, owner: &SessionOwner, event: RunEvent) {
        owner.events.publish(event)
    }

    /// A run slot, when one is free now.
    pub fn try_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }

    /// Waits for a run slot (in order of asking).
    pub async fn slot(&self) -> OwnedSemaphorePermit {
        // The semaphore is never closed.
        self.slots.clone().acquire_owned().await.expect("the run slots are never closed")
    }

    /// Starts a run's task, tracked so that shutdown waits for it.
    pub fn spawn_run(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.runs.spawn(task);
    }

    /// Whether the server is stopping (a run stopped now ends `interrupted`).
    pub fn is_stopping(&self) -> bool {
        self.stopping.is_cancelled()
    }

    /// Stops every live run and waits (at most `grace`) for each to save its transcript and
    /// commit its work. Runs asked for afterwards are refused (`is_stopping`).
    pub async fn shutdown(&self, grace: Duration) -> usize {
        self.stopping.cancel();
        let owners: Vec<Arc<SessionOwner>> = self.owners().values().cloned().collect();
        let mut stopped = 0;
        for owner in owners {
            if let Some(live) = owner.live() {
                live.cancel.cancel();
                stopped += 1;
            }
        }
        self.runs.close();
        if tokio::time::timeout(grace, self.runs.wait()).await.is_err() {
            tracing::warn!(
                left = self.runs.len(),
                "runs still going at shutdown; they end interrupted at the next start"
            );
        }
        stopped
    }
}

impl SessionOwner {
    fn idle(self: &Arc<Self>) -> bool {
        // One reference is the registry's own.
        Arc::strong_count(self) == 1 && self.live.borrow().is_none() && !self.events.watched()
    }

    /// The live run, if any.
    pub fn live(&self) -> Option<LiveRun> {
        self.live.borrow().clone()
    }

    /// Waits for the work lock: no run (or other branch-changing operation) holds the session.
    pub async fn work(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.work.clone().lock_owned().await
    }

    /// Held while a run is admitted.
    pub async fn admitting(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.admit.lock().await
    }

    /// Records a run as live (it was admitted under `admitting`).
    pub fn set_live(&self, run: LiveRun) {
        self.live.send_replace(Some(run));
    }

    /// Records the end of a run: how it ended, then that nothing is live.
    pub fn set_finished(&self, finished: Finished) {
        let run_id = finished.run_id;
        *self.finished.lock().unwrap_or_else(|p| p.into_inner()) = Some(finished);
        self.live.send_if_modified(|live| {
            let ours = live.as_ref().is_some_and(|live| live.run_id == run_id);
            if ours {
                *live = None;
            }
            ours
        });
    }

    /// Stops the live run, if any (`stop_run`), then holds the session (`work`): for archive
    /// and delete. Returns how the run ended.
    pub async fn take_over(&self) -> (Option<Finished>, tokio::sync::OwnedMutexGuard<()>) {
        let stopped = self.stop_run().await;
        (stopped, self.work().await)
    }

    /// Cancels the live run, if any, and waits until it has ended (its transcript saved, its
    /// work committed). Returns how it ended.
    async fn stop_run(&self) -> Option<Finished> {
        let live = self.live()?;
        live.cancel.cancel();
        let mut watching = self.live.subscribe();
        let _ = watching.wait_for(|now| now.as_ref().is_none_or(|now| now.run_id != live.run_id)).await;
        self.finished.lock().unwrap_or_else(|p| p.into_inner()).clone().filter(|f| f.run_id == live.run_id)
    }
}
