//! One lock per repository (keyed by its common git dir) for ref and config writes: git's own
//! `.lock` files make concurrent writers fail instead of wait.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> = OnceLock::new();

/// The lock of the repository whose common dir is `git_dir`.
pub(crate) fn for_repository(git_dir: &Path) -> Arc<Mutex<()>> {
    let key = git_dir.canonicalize().unwrap_or_else(|_| git_dir.to_path_buf());
    let mut locks = LOCKS.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    locks.entry(key).or_default().clone()
}

/// Holds the lock for the duration of a write.
pub(crate) fn hold(lock: &Mutex<()>) -> MutexGuard<'_, ()> {
    lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
