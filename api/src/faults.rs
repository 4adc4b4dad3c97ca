//! Faults a test injects to reach failure paths a healthy database and agent never take (a
//! run whose end cannot be recorded, a run task that panics). Not a setting or a flag: only
//! code holding the `AppState` (the in-process tests) can turn them on; all are off otherwise.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

#[derive(Default)]
pub struct Faults {
    /// This many attempts to record a run's end fail.
    pub failing_finishes: AtomicU32,
    /// The next run's task panics once it holds its session.
    pub panic_next_run: AtomicBool,
}

impl Faults {
    /// Whether this attempt to record a run's end is to fail (one fewer left).
    pub fn finish_fails(&self) -> bool {
        self.failing_finishes.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    }

    /// Whether this run is to panic (once).
    pub fn run_panics(&self) -> bool {
        self.panic_next_run.swap(false, Ordering::SeqCst)
    }
}
