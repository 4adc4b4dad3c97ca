//! A spare checkout: one worktree per project, made ahead of time at the commit the next
//! session will most likely start from, so that a new session's checkout is a rename instead
//! of writing every file while the user waits.
//!
//! The spare is a detached worktree; a `kosuke-spare-ready` file in its registration (written
//! last, naming the commit) says it was checked out completely. Adopting it, under the
//! repository lock: the session's branch is made at that commit, the directory and the
//! registration are renamed to the session's, and the two files that point them at each other
//! and the registration's HEAD are rewritten, which is what `git worktree move` does, plus the
//! registration's name. The index moves with it, so git still knows every file is unchanged.

use crate::checkout::Checkout;
use crate::mirror::Mirror;
use crate::{Result, StartPoint, lock};
use git2::Oid;
use std::fs;
use std::path::{Path, PathBuf};

/// In a worktree's registration: the commit the spare was completely checked out at.
const READY_MARK: &str = "kosuke-spare-ready";

impl Mirror {
    /// Makes a spare checkout at `dir`, detached at `start`, replacing an older spare there.
    /// `false` when `dir` already holds a ready spare at that commit, or when the `git` command
    /// is not available (the spare is an optimisation; sessions are made without it).
    pub fn prepare_spare(&self, start: StartPoint<'_>, dir: &Path) -> Result<bool> {
        let oid = self.start_oid(start)?;
        if self.spare_at(dir) == Some(oid) || !self.use_git_command {
            return Ok(false);
        }
        self.discard_spare(dir)?;
        if let Some(parent) = dir.parent() {
            fs::create_dir_all(parent)?;
        }
        self.add_worktree_with_git(dir, &oid.to_string(), true)?;
        let registration = registration_of(dir)?;
        fs::write(registration.join(READY_MARK), format!("{oid}\n"))?;
        Ok(true)
    }

    /// The commit of the ready spare at `dir`, if there is one.
    pub fn spare_at(&self, dir: &Path) -> Option<Oid> {
        let registration = registration_of(dir).ok()?;
        let marked = fs::read_to_string(registration.join(READY_MARK)).ok()?;
        let head = fs::read_to_string(registration.join("HEAD")).ok()?;
        let oid = Oid::from_str(marked.trim()).ok()?;
        (head.trim() == marked.trim()).then_some(oid)
    }

    /// Removes the spare at `dir` (directory and registration), if any.
    pub fn discard_spare(&self, dir: &Path) -> Result<()> {
        let registration = registration_of(dir).ok();
        if dir.exists() {
            fs::remove_dir_all(dir)?;
        }
        match registration.as_deref().and_then(Path::file_name).and_then(|name| name.to_str()) {
            Some(name) => self.prune_worktree(name),
            None => Ok(()),
        }
    }

    /// Turns the ready spare at `spare` into session `name`'s checkout at `dir`, on a new
    /// `branch` at `start`, when the spare is at that commit. `None` (spare untouched, no branch
    /// made) when there is no ready spare at `start`, or `dir` or the name is taken.
    pub fn adopt_spare(
        &self,
        spare: &Path,
        name: &str,
        branch: &str,
        start: StartPoint<'_>,
        dir: &Path,
    ) -> Result<Option<Checkout>> {
        let oid = self.start_oid(start)?;
        let _guard = lock::hold(&self.lock);
        if self.spare_at(spare) != Some(oid) || dir.exists() {
            return Ok(None);
        }
        let registration = registration_of(spare)?;
        let adopted = registration.with_file_name(name);
        if adopted.exists() {
            return Ok(None);
        }
        self.repo.branch(branch, &self.repo.find_commit(oid)?, false)?;
        fs::remove_file(registration.join(READY_MARK))?;
        if let Some(parent) = dir.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::rename(spare, dir)?;
        fs::rename(&registration, &adopted)?;
        let dir = dir.canonicalize()?;
        fs::write(adopted.join("gitdir"), format!("{}\n", dir.join(".git").display()))?;
        fs::write(dir.join(".git"), format!("gitdir: {}\n", adopted.display()))?;
        fs::write(adopted.join("HEAD"), format!("ref: refs/heads/{branch}\n"))?;
        Checkout::open(&dir).map(Some)
    }

    fn start_oid(&self, start: StartPoint<'_>) -> Result<Oid> {
        match start {
            StartPoint::Branch(base) => self.resolve_branch(base),
            StartPoint::Commit(sha) => Ok(Oid::from_str(sha)?),
        }
    }
}

/// The registration (`mirror.git/worktrees/NAME`) a worktree's `.git` file points to.
fn registration_of(dir: &Path) -> Result<PathBuf> {
    let pointer = fs::read_to_string(dir.join(".git"))?;
    let path = pointer
        .trim()
        .strip_prefix("gitdir: ")
        .ok_or_else(|| crate::CheckoutError::NotACheckout(dir.display().to_string()))?;
    Ok(PathBuf::from(path))
}
