//! One lock per repository (keyed by its common git dir) for ref and config writes: git's own
//! `.lock` files make concurrent writers fail instead of wait. Network transfers never hold
//! it (a slow remote must not stall every commit of the project); fetches queue on a lock of
//! their own (`for_transfers`), so that one fetch serves the callers that waited for it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

type Locks = OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>>;

static LOCKS: Locks = OnceLock::new();
static TRANSFERS: Locks = OnceLock::new();

fn lock_in(locks: &Locks, git_dir: &Path) -> Arc<Mutex<()>> {
    let key = git_dir.canonicalize().unwrap_or_else(|_| git_dir.to_path_buf());
    let mut locks = locks.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    locks.entry(key).or_default().clone()
}

/// The ref-and-config lock of the repository whose common dir is `git_dir`.
pub(crate) fn for_repository(git_dir: &Path) -> Arc<Mutex<()>> {
    lock_in(&LOCKS, git_dir)
}

/// The lock fetches of the repository queue on (never held with a ref write waiting).
pub(crate) fn for_transfers(git_dir: &Path) -> Arc<Mutex<()>> {
    lock_in(&TRANSFERS, git_dir)
}

/// Holds the lock for the duration of a write.
pub(crate) fn hold(lock: &Mutex<()>) -> MutexGuard<'_, ()> {
    lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
