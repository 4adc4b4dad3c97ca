//! A project's bare mirror: remote branches under `refs/remotes/origin/*`, session branches
//! under `refs/heads/*`, and one registered worktree per materialized session.

use crate::checkout::Checkout;
use crate::error::CheckoutError;
use crate::remote::{self, Credentials, FetchOutcome, Progress};
use crate::{Author, Result, lock};
use git2::{BranchType, Oid, Repository, Signature, WorktreeAddOptions, WorktreePruneOptions};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const FETCH_REFSPEC: &str = "+refs/heads/*:refs/remotes/origin/*";
/// Session branches are kosuke's own; they are never offered as project branches.
const SESSION_BRANCH_PREFIX: &str = "kosuke-chat-";

/// A branch a user can pick (the default-branch dropdown, a session's base).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branch {
    pub name: String,
    pub commit_sha: String,
}

/// Where a new session branch starts.
#[derive(Debug, Clone, Copy)]
pub enum StartPoint<'a> {
    /// The tip of a project branch (the remote's, or a local one for repositories without one).
    Branch(&'a str),
    /// A commit, e.g. another session's head (duplicating a session).
    Commit(&'a str),
}

/// A session branch against its base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchStatus {
    pub head_sha: String,
    pub ahead: usize,
    pub behind: usize,
    /// The remote has the branch at exactly this head.
    pub pushed: bool,
}

/// The file in the mirror that holds when the last fetch that reached the remote began
/// (nanoseconds since the epoch).
const LAST_FETCH: &str = "kosuke-last-fetch";

fn epoch_nanos(at: std::time::SystemTime) -> u128 {
    at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos()
}

pub struct Mirror {
    pub(crate) repo: Repository,
    pub(crate) lock: Arc<Mutex<()>>,
    /// Checkouts are added with the `git` command (else libgit2): see `git_command_available`.
    pub(crate) use_git_command: bool,
}

impl Mirror {
    pub fn open(path: &Path) -> Result<Self> {
        let repo = Repository::open_bare(path)?;
        let lock = lock::for_repository(repo.path());
        Ok(Mirror { repo, lock, use_git_command: git_command_available() })
    }

    /// This mirror makes its checkouts with libgit2 only, as where `git` is not installed.
    pub fn without_git_command(mut self) -> Self {
        self.use_git_command = false;
        self
    }

    pub fn path(&self) -> &Path {
        self.repo.path()
    }

    /// A new repository with one empty commit on `default_branch` (a project started from nothing).
    pub fn init_empty(path: &Path, default_branch: &str, author: &Author) -> Result<Self> {
        let repo = Repository::init_bare(path)?;
        {
            let signature = Signature::now(&author.name, &author.email)?;
            let tree = repo.find_tree(repo.treebuilder(None)?.write()?)?;
            repo.commit(
                Some(&format!("refs/heads/{default_branch}")),
                &signature,
                &signature,
                "Initial commit",
                &tree,
                &[],
            )?;
            repo.set_head(&format!("refs/heads/{default_branch}"))?;
        }
        Self::open(path)
    }

    /// Clones `url` into a new bare mirror, reporting progress. Returns the remote's default
    /// branch when it says which.
    pub fn clone_from(
        path: &Path,
        url: &str,
        credentials: Option<&Credentials>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(Self, Option<String>)> {
        let repo = Repository::init_bare(path)?;
        let mut remote = repo.remote_with_fetch("origin", url, FETCH_REFSPEC)?;
        let connection = remote
            .connect_auth(git2::Direction::Fetch, Some(remote::callbacks(credentials, None, None)), None)
            .map_err(CheckoutError::from_remote)?;
        let default_branch = connection
            .default_branch()
            .ok()
            .and_then(|name| name.as_str().ok().and_then(|n| n.strip_prefix("refs/heads/")).map(str::to_owned));
        drop(connection);
        let mut options = remote::fetch_options(remote::callbacks(credentials, None, Some(progress)));
        remote.fetch::<&str>(&[], Some(&mut options), None).map_err(CheckoutError::from_remote)?;
        if let Some(branch) = &default_branch {
            repo.set_head(&format!("refs/heads/{branch}"))?;
        }
        drop(remote);
        drop(repo);
        Ok((Self::open(path)?, default_branch))
    }

    pub fn has_remote(&self) -> bool {
        self.repo.find_remote("origin").is_ok()
    }

    /// Fetches from origin what it held at `asked` (when the caller's request arrived), giving
    /// up at `timeout`; an unreachable remote is not an error but a stale mirror. Concurrent
    /// callers queue; a caller that waited while another fetch ran skips when that fetch began
    /// after `asked` (so it saw everything this one would have).
    pub fn fetch(
        &self,
        credentials: Option<&Credentials>,
        timeout: Duration,
        asked: std::time::SystemTime,
    ) -> Result<FetchOutcome> {
        if !self.has_remote() {
            return Ok(FetchOutcome::NoRemote);
        }
        let asked_at = Instant::now();
        let transfers = lock::for_transfers(self.repo.path());
        let _queued = lock::hold(&transfers);
        if self.fetch_began_since(asked) {
            return Ok(FetchOutcome::Updated);
        }
        let began = std::time::SystemTime::now();
        let mut remote = self.repo.find_remote("origin")?;
        let mut options = remote::fetch_options(remote::callbacks(credentials, Some(asked_at + timeout), None));
        // The transfer without the ref lock; only the ref updates take it.
        let fetched = remote.download::<&str>(&[], Some(&mut options)).and_then(|()| {
            let _guard = lock::hold(&self.lock);
            remote.update_tips(None, git2::RemoteUpdateFlags::UPDATE_FETCHHEAD, git2::AutotagOption::Unspecified, None)
        });
        match fetched {
            Ok(()) => {
                std::fs::write(self.repo.path().join(LAST_FETCH), epoch_nanos(began).to_string())?;
                Ok(FetchOutcome::Updated)
            }
            Err(err) if err.code() == git2::ErrorCode::User => {
                Ok(FetchOutcome::Stale(format!("the remote did not answer within {} seconds", timeout.as_secs())))
            }
            Err(err) => match CheckoutError::from_remote(err) {
                CheckoutError::AuthenticationFailed => {
                    Ok(FetchOutcome::Stale("the remote refused the credentials".into()))
                }
                CheckoutError::RemoteUnreachable(why) => Ok(FetchOutcome::Stale(why)),
                other => Err(other),
            },
        }
    }

    /// Whether the last fetch that reached the remote began at or after `at`.
    fn fetch_began_since(&self, at: std::time::SystemTime) -> bool {
        let began = std::fs::read_to_string(self.repo.path().join(LAST_FETCH)).ok();
        began.and_then(|text| text.trim().parse::<u128>().ok()).is_some_and(|began| began >= epoch_nanos(at))
    }

    /// Branches users can choose: the remote's when there is one, else the local ones; session
    /// branches (`kosuke-chat-*`) are left out.
    pub fn branches(&self) -> Result<Vec<Branch>> {
        let (kind, prefix) = if self.has_remote() { (BranchType::Remote, "origin/") } else { (BranchType::Local, "") };
        let mut branches = Vec::new();
        for entry in self.repo.branches(Some(kind))? {
            let (branch, _) = entry?;
            let Some(full) = branch.name()? else { continue };
            let Some(name) = full.strip_prefix(prefix) else {
                continue;
            };
            if name == "HEAD" || name.starts_with(SESSION_BRANCH_PREFIX) {
                continue;
            }
            if let Some(oid) = branch.get().target() {
                branches.push(Branch { name: name.to_owned(), commit_sha: oid.to_string() });
            }
        }
        branches.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(branches)
    }

    /// The commit a project branch points at: the remote's tip, or a local branch.
    pub fn resolve_branch(&self, name: &str) -> Result<Oid> {
        for reference in [format!("refs/remotes/origin/{name}"), format!("refs/heads/{name}")] {
            if let Ok(oid) = self.repo.refname_to_id(&reference) {
                return Ok(oid);
            }
        }
        Err(CheckoutError::BranchNotFound(name.to_owned()))
    }

    /// Whether the mirror holds the commit `sha`.
    pub fn has_commit(&self, sha: &str) -> bool {
        git2::Oid::from_str(sha).is_ok_and(|oid| self.repo.find_commit(oid).is_ok())
    }

    pub fn branch_exists(&self, name: &str) -> bool {
        self.resolve_branch(name).is_ok()
    }

    /// The commit `branch` was last fetched at from the remote, if it is there.
    pub fn remote_head(&self, branch: &str) -> Option<Oid> {
        self.repo.refname_to_id(&format!("refs/remotes/origin/{branch}")).ok()
    }

    /// Whether commit `sha` is `tip` or one of its ancestors.
    pub fn reaches(&self, tip: Oid, sha: &str) -> bool {
        let Ok(oid) = Oid::from_str(sha) else { return false };
        oid == tip || self.repo.graph_descendant_of(tip, oid).unwrap_or(false)
    }

    /// The head of a local (session) branch.
    pub fn branch_head(&self, branch: &str) -> Result<Oid> {
        self.repo
            .refname_to_id(&format!("refs/heads/{branch}"))
            .map_err(|_| CheckoutError::BranchNotFound(branch.to_owned()))
    }

    /// Creates `branch` at `start` and a checkout of it at `dir` (which must not exist yet),
    /// registered as worktree `name`.
    pub fn create_checkout(&self, name: &str, branch: &str, start: StartPoint<'_>, dir: &Path) -> Result<Checkout> {
        let oid = match start {
            StartPoint::Branch(base) => self.resolve_branch(base)?,
            StartPoint::Commit(sha) => Oid::from_str(sha)?,
        };
        {
            let commit = self.repo.find_commit(oid)?;
            let _guard = lock::hold(&self.lock);
            self.repo.branch(branch, &commit, false)?;
        }
        self.materialize(name, branch, dir)
    }

    /// Checks out an existing session branch at `dir` (again, after a release).
    pub fn materialize(&self, name: &str, branch: &str, dir: &Path) -> Result<Checkout> {
        let reference = self
            .repo
            .find_reference(&format!("refs/heads/{branch}"))
            .map_err(|_| CheckoutError::BranchNotFound(branch.to_owned()))?;
        // A registration left by a checkout directory that vanished would block the name.
        self.prune_worktree(name)?;
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if self.use_git_command && self.add_worktree_with_git(dir, branch, false).is_ok() {
            return Checkout::open(dir);
        }
        // Without the git command (or if it failed), libgit2 does the same, more slowly, and
        // under the lock throughout: one worktree is added at a time (libgit2 scans every
        // worktree's HEAD to refuse a branch checked out twice).
        let _guard = lock::hold(&self.lock);
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        self.prune_worktree_locked(name)?;
        let mut options = WorktreeAddOptions::new();
        options.reference(Some(&reference));
        self.repo.worktree(name, dir, Some(&options))?;
        Checkout::open(dir)
    }

    /// Removes a checkout's directory and its worktree registration. The branch stays.
    pub fn release(&self, name: &str, dir: &Path) -> Result<()> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        self.prune_worktree(name)
    }

    /// Forgets worktree `name` if its directory is gone (or it was never registered).
    pub fn prune_worktree(&self, name: &str) -> Result<()> {
        let _guard = lock::hold(&self.lock);
        self.prune_worktree_locked(name)
    }

    fn prune_worktree_locked(&self, name: &str) -> Result<()> {
        let Ok(worktree) = self.repo.find_worktree(name) else {
            return Ok(());
        };
        if worktree.path().exists() {
            return Ok(());
        }
        worktree.prune(Some(WorktreePruneOptions::new().valid(true).working_tree(true)))?;
        Ok(())
    }

    /// `git worktree add DIR BRANCH` (or `--detach DIR COMMIT`): git's checkout writes files
    /// about twice as fast as libgit2's on large trees, and with `checkout.workers=0` it writes
    /// them from one process per core (about a tenth faster at 10,000 files on two cores;
    /// `cargo xtask bench sessions`). The worktree is named after DIR's last component, like
    /// libgit2's. Call with the repository lock held.
    /// Adds a worktree with git's own command: registered under the repository lock
    /// (`worktree add --no-checkout`: its HEAD and admin files, all at once), then its files
    /// written outside it (`reset --hard` in the new worktree touches only that worktree's
    /// index and files), so a large checkout never holds up another session's commit or fetch.
    pub(crate) fn add_worktree_with_git(&self, dir: &Path, target: &str, detach: bool) -> Result<()> {
        let git = || {
            let mut command = crate::git_command();
            command.args(["-c", "checkout.workers=0"]);
            command
        };
        let registered = {
            let _guard = lock::hold(&self.lock);
            git()
                .arg("--git-dir")
                .arg(self.repo.path())
                .args(["worktree", "add", "--quiet", "--no-checkout"])
                .args(detach.then_some("--detach"))
                .arg(dir)
                .arg(target)
                .output()?
        };
        let output = if registered.status.success() {
            git().arg("-C").arg(dir).args(["reset", "--hard", "--quiet"]).output()?
        } else {
            registered
        };
        if output.status.success() {
            Ok(())
        } else {
            tracing::warn!(stderr = %String::from_utf8_lossy(&output.stderr).trim(), "git worktree add failed; using libgit2");
            Err(CheckoutError::NotACheckout(dir.display().to_string()))
        }
    }

    /// Names of the registered worktrees.
    pub fn worktree_names(&self) -> Result<Vec<String>> {
        Ok(self.repo.worktrees()?.iter().filter_map(|name| name.ok().flatten().map(str::to_owned)).collect())
    }

    /// Deletes a local session branch (its checkout must be released first).
    pub fn delete_branch(&self, branch: &str) -> Result<()> {
        let _guard = lock::hold(&self.lock);
        match self.repo.find_branch(branch, BranchType::Local) {
            Ok(mut found) => Ok(found.delete()?),
            Err(_) => Ok(()),
        }
    }

    /// Pushes a session branch to origin (force: the branch is the session's own) and records
    /// the pushed head under `refs/remotes/origin/{branch}`.
    pub fn push_branch(&self, branch: &str, credentials: Option<&Credentials>) -> Result<()> {
        let head = self.branch_head(branch)?;
        remote::push(&self.repo, &[format!("+refs/heads/{branch}:refs/heads/{branch}")], credentials)?;
        let _guard = lock::hold(&self.lock);
        self.repo.reference(&format!("refs/remotes/origin/{branch}"), head, true, "kosuke: pushed")?;
        Ok(())
    }

    /// Deletes a session branch on origin.
    pub fn delete_remote_branch(&self, branch: &str, credentials: Option<&Credentials>) -> Result<()> {
        remote::push(&self.repo, &[format!(":refs/heads/{branch}")], credentials)?;
        let _guard = lock::hold(&self.lock);
        if let Ok(mut reference) = self.repo.find_reference(&format!("refs/remotes/origin/{branch}")) {
            reference.delete()?;
        }
        Ok(())
    }

    /// Ahead/behind against the base branch, and whether the remote has this head.
    pub fn branch_status(&self, branch: &str, base: &str) -> Result<BranchStatus> {
        let head = self.branch_head(branch)?;
        let (ahead, behind) = match self.resolve_branch(base) {
            Ok(base_oid) => self.repo.graph_ahead_behind(head, base_oid)?,
            Err(_) => (0, 0),
        };
        let pushed = self.repo.refname_to_id(&format!("refs/remotes/origin/{branch}")).is_ok_and(|oid| oid == head);
        Ok(BranchStatus { head_sha: head.to_string(), ahead, behind, pushed })
    }

    /// The commits on `branch` that `base` lacks, newest first: (sha, summary).
    pub fn commits_ahead(&self, branch: &str, base: &str) -> Result<Vec<(String, String)>> {
        let mut walk = self.repo.revwalk()?;
        walk.push(self.branch_head(branch)?)?;
        if let Ok(base_oid) = self.resolve_branch(base) {
            walk.hide(base_oid)?;
        }
        let mut commits = Vec::new();
        for oid in walk {
            let commit = self.repo.find_commit(oid?)?;
            commits.push((commit.id().to_string(), commit.summary().ok().flatten().unwrap_or_default().to_owned()));
        }
        Ok(commits)
    }

    /// The commit where a session branch left its base (for diffs).
    pub fn merge_base(&self, branch: &str, base: &str) -> Result<Oid> {
        let head = self.branch_head(branch)?;
        match self.resolve_branch(base) {
            Ok(base_oid) => Ok(self.repo.merge_base(head, base_oid)?),
            Err(_) => Ok(head),
        }
    }
}

/// Whether checkouts may use the `git` command (present, and not turned off with
/// `KOSUKE_CHECKOUT_WITH_LIBGIT2=1`).
fn git_command_available() -> bool {
    static PRESENT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let present = *PRESENT.get_or_init(|| {
        std::process::Command::new("git").arg("--version").output().is_ok_and(|out| out.status.success())
    });
    present && std::env::var("KOSUKE_CHECKOUT_WITH_LIBGIT2").map_or(true, |v| v != "1")
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror").field("path", &self.repo.path()).finish()
    }
}
