//! The on-disk side of projects and sessions: each project's mirror (cloned in the background,
//! with progress), each session's checkout (made in the background, re-made on demand),
//! archiving, removal, and the start-up sweep that reconciles the data dir with the database.
//!
//! git2 work always runs on blocking threads. A session's checkout is made, released and
//! removed under its owner's checkout lock (`runtime::SessionOwner::checkout`, passed in), so
//! an archive never races the checkout being made.
//!
//! Spare checkouts: each project keeps one checkout made ahead (`{project}/spare`, detached at
//! the tip of the branch the last new session started from; first at the default branch when
//! the repository is ready). A new session starting at that commit adopts it, a rename instead
//! of writing every file, and a new spare is made behind it in the background. Spares wait in
//! the project's checkout queue like any checkout, so a session created while the spare is
//! being made waits for it and adopts it.
//!
//! Mirrors (clone, fetch, remote branches) are in `repository.rs`, each new checkout's setup in
//! `setup.rs` (the spare's, made ahead, in `spare_setup.rs`), the start-up sweep in `sweep.rs`.

mod repository;
mod setup;
mod spare_setup;
mod sweep;

pub use setup::{Plan, REPOSITORY_FILE, RunValues, Setups, resolve};

pub use sweep::SweepError;

use crate::error::ApiError;
use crate::store;
use api_types::{CloneProgress, RepositoryKind, WorkspaceState};
use checkout::{Author, Checkout, Mirror, ProjectDir, StartPoint};
use entity::{chat_session, project};
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Workspaces {
    data_dir: PathBuf,
    db: DatabaseConnection,
    github_git_url: String,
    fetch_timeout: Duration,
    progress: Mutex<HashMap<i32, CloneProgress>>,
    checkout_queues: Mutex<HashMap<i32, Arc<tokio::sync::Mutex<()>>>>,
    spare_checkouts: bool,
    /// The project's setup in new checkouts (`setup.rs`).
    setups: Setups,
    /// Clones, checkouts and spares made in the background.
    background: tokio_util::task::TaskTracker,
}

/// Runs blocking git work off the async executor.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, checkout::CheckoutError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(ApiError::internal)?.map_err(ApiError::from)
}

impl Workspaces {
    pub fn new(
        data_dir: PathBuf,
        db: DatabaseConnection,
        github_git_url: String,
        fetch_timeout: Duration,
        spare_checkouts: bool,
        setups: Setups,
    ) -> Self {
        Workspaces {
            data_dir,
            db,
            github_git_url: github_git_url.trim_end_matches('/').to_owned(),
            fetch_timeout,
            progress: Mutex::new(HashMap::new()),
            checkout_queues: Mutex::new(HashMap::new()),
            spare_checkouts,
            setups,
            background: tokio_util::task::TaskTracker::new(),
        }
    }

    /// Waits until the background work started so far (clones, checkouts, spares) is done.
    pub async fn settled(&self) {
        self.background.close();
        self.background.wait().await;
        self.background.reopen();
    }

    pub fn project_dir(&self, project_id: i32) -> ProjectDir {
        ProjectDir::new(self.data_dir.join("projects").join(project_id.to_string()))
    }

    /// Where the project's repository is fetched from; `None` for a repository kosuke created.
    pub fn remote_url(&self, project: &project::Model) -> Option<String> {
        match project.repository_kind {
            RepositoryKind::Github => Some(format!("{}/{}.git", self.github_git_url, project.repository_location)),
            RepositoryKind::Git | RepositoryKind::Local => Some(project.repository_location.clone()),
            RepositoryKind::Empty => None,
        }
    }

    /// Clone progress of a project being cloned.
    pub fn progress(&self, project_id: i32) -> Option<CloneProgress> {
        self.progress.lock().unwrap_or_else(|p| p.into_inner()).get(&project_id).copied()
    }

    /// A project's new checkouts are made one at a time (the mirror's lock serializes them
    /// anyway). Waiting here is an async wait: a queue of new sessions must not fill the
    /// blocking-thread pool that every other git call needs (under load, create requests
    /// waited seconds behind it).
    /// Queues no one waits in are dropped once there are more than a few.
    fn checkout_queue(&self, project_id: i32) -> Arc<tokio::sync::Mutex<()>> {
        let mut queues = self.checkout_queues.lock().unwrap_or_else(|p| p.into_inner());
        if queues.len() >= 64 {
            queues.retain(|_, queue| Arc::strong_count(queue) > 1);
        }
        queues.entry(project_id).or_default().clone()
    }

    /// Makes the session's branch (from `start`, when it does not exist yet) and checkout in
    /// the background, then records `ready` or `failed`.
    pub fn start_provisioning(
        self: &Arc<Self>,
        lock: Arc<tokio::sync::Mutex<()>>,
        session: chat_session::Model,
        start: Start,
    ) {
        let workspaces = Arc::clone(self);
        self.background.spawn(async move {
            if let Err(err) = workspaces.ensure_checkout(&lock, &session, start.clone()).await {
                tracing::warn!(session_pk = session.id, error = %err, "could not make the session's checkout");
            }
            if let Start::Branch(base) = start {
                workspaces.make_spare(session.project_id, base).await;
            }
        });
    }

    /// Measures the session's checkout on disk (dependencies included) and records it on the
    /// session: after it is set up, and after each turn.
    pub async fn measure_disk(&self, session: &chat_session::Model) {
        let path = self.project_dir(session.project_id).checkout(&session.session_id);
        let bytes = blocking(move || Ok(path.exists().then(|| checkout::disk_usage(&path)))).await;
        let bytes = bytes.ok().flatten().map(|b| i64::try_from(b).unwrap_or(i64::MAX));
        if let Err(err) = store::run_settings::set_disk_bytes(&self.db, session.id, bytes).await {
            tracing::warn!(session_pk = session.id, error = %crate::error::Report(&err), "could not record the checkout's size");
        }
    }

    /// Makes the project's spare checkout at `base`'s tip, unless it is there already (or
    /// spares are off). Failures are logged: sessions are made without a spare.
    pub async fn make_spare(&self, project_id: i32, base: String) {
        if !self.spare_checkouts {
            return;
        }
        let queue = self.checkout_queue(project_id);
        let _turn = queue.lock().await;
        let dir = self.project_dir(project_id);
        let (mirror_path, spare) = (dir.mirror(), dir.spare());
        let made = blocking(move || Mirror::open(&mirror_path)?.prepare_spare(StartPoint::Branch(&base), &spare)).await;
        match made {
            Ok(_) => self.set_up_spare(project_id).await,
            Err(err) => tracing::warn!(project_id, error = %err, "could not make the spare checkout"),
        }
    }

    /// Makes sure the session's checkout exists on disk and records its state; returns its path.
    /// A checkout made here is set up (`setup.rs`) before the lock is let go: what waits for
    /// the checkout (a run) waits for its setup too.
    #[tracing::instrument(skip_all, fields(session_pk = session.id))]
    pub async fn ensure_checkout(
        &self,
        lock: &tokio::sync::Mutex<()>,
        session: &chat_session::Model,
        start: Start,
    ) -> Result<PathBuf, ApiError> {
        let _guard = lock.lock().await;
        let dir = self.project_dir(session.project_id);
        let path = dir.checkout(&session.session_id);
        let (name, branch) = (session.session_id.clone(), session.github_branch_name.clone());
        let mirror_path = dir.mirror();
        let checkout_path = path.clone();
        if blocking(move || Ok(Checkout::open(&checkout_path).is_ok())).await? {
            return self.record_workspace_state(session, Ok(())).await.map(|()| path);
        }
        let queue = self.checkout_queue(session.project_id);
        let _turn = queue.lock().await;
        let checkout_path = path.clone();
        let spare = self.spare_checkouts.then(|| dir.spare());
        let project_dir = dir.clone();
        let made = blocking(move || {
            let mirror = Mirror::open(&mirror_path)?;
            let start_point = match &start {
                Start::Branch(base) => StartPoint::Branch(base),
                Start::Commit(sha) => StartPoint::Commit(sha),
            };
            let local = mirror.branch_head(&branch).is_ok();
            // A session branch the remote has but this mirror does not (a mirror cloned again,
            // on another node after a takeover) starts where it was last pushed.
            let pushed = !local && mirror.remote_head(&branch).is_some();
            let start_point = if pushed { StartPoint::Branch(&branch) } else { start_point };
            if let Some(spare) = spare.filter(|_| !local && !pushed) {
                match mirror.adopt_spare(&spare, &name, &branch, start_point, &checkout_path) {
                    Ok(Some(adopted)) => {
                        let commit = adopted.head()?.to_string();
                        return Ok(Self::take_spare_setup(&project_dir, &commit));
                    }
                    Ok(None) => {}
                    Err(err) => tracing::warn!(error = %err, "could not adopt the spare checkout; checking out afresh"),
                }
            }
            // Asked again: a spare that failed half-way may have made the branch.
            if mirror.branch_head(&branch).is_ok() {
                mirror.materialize(&name, &branch, &checkout_path)?;
            } else {
                mirror.create_checkout(&name, &branch, start_point, &checkout_path)?;
            }
            Ok(None)
        })
        .await;
        drop(_turn);
        match made {
            Ok(spare_setup) => {
                self.set_up(session, &path, spare_setup).await;
                Ok(path)
            }
            Err(err) => self.record_workspace_state(session, Err(err)).await.map(|()| path),
        }
    }

    /// Records `ready` or `failed` (with the reason) when that changes the session's state.
    /// A ready checkout keeps its setup's state and error.
    async fn record_workspace_state(
        &self,
        session: &chat_session::Model,
        result: Result<(), ApiError>,
    ) -> Result<(), ApiError> {
        match &result {
            Ok(()) if matches!(session.workspace_state, WorkspaceState::Ready) => {}
            Ok(()) => {
                // The caller's row may be older than the checkout (read before it was made and
                // set up, while this waited for the lock): ask again.
                let fresh = store::sessions::find(&self.db, session.id).await?;
                if fresh.workspace_state != WorkspaceState::Ready {
                    store::sessions::mark_ready(&self.db, session.id, fresh.setup_state.is_none()).await?
                }
            }
            Err(err) => {
                let error = Some(err.body().error);
                store::sessions::set_workspace_state(&self.db, session.id, WorkspaceState::Failed, error).await?
            }
        }
        result
    }

    /// Commits whatever the checkout holds (so nothing is lost), then removes it from disk.
    /// The branch keeps the work; `ensure_checkout` brings it back.
    pub async fn release(
        &self,
        lock: &tokio::sync::Mutex<()>,
        session: &chat_session::Model,
        author: Author,
    ) -> Result<(), ApiError> {
        let _guard = lock.lock().await;
        let dir = self.project_dir(session.project_id);
        let (name, path, mirror_path) = (session.session_id.clone(), dir.checkout(&session.session_id), dir.mirror());
        blocking(move || {
            if let Ok(checkout) = Checkout::open(&path) {
                checkout.commit_all("kosuke: keep uncommitted work when archiving", &author)?;
            }
            Mirror::open(&mirror_path)?.release(&name, &path)
        })
        .await?;
        store::sessions::set_workspace_state(&self.db, session.id, WorkspaceState::Released, None).await?;
        store::run_settings::set_disk_bytes(&self.db, session.id, None).await?;
        Ok(())
    }

    /// Removes the session's checkout, worktree registration and local branch. The remote
    /// branch is the caller's (`delete_remote_branch`): its failure must not keep these.
    pub async fn remove(&self, lock: &tokio::sync::Mutex<()>, session: &chat_session::Model) -> Result<(), ApiError> {
        let _guard = lock.lock().await;
        let dir = self.project_dir(session.project_id);
        let (name, branch, path, mirror_path) = (
            session.session_id.clone(),
            session.github_branch_name.clone(),
            dir.checkout(&session.session_id),
            dir.mirror(),
        );
        blocking(move || {
            let mirror = Mirror::open(&mirror_path)?;
            mirror.release(&name, &path)?;
            mirror.delete_branch(&branch)
        })
        .await
    }
}

/// Where a new session branch starts.
#[derive(Debug, Clone)]
pub enum Start {
    Branch(String),
    Commit(String),
}
