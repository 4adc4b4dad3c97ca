//! Each project's mirror: made in the background (cloned with progress, or created with one
//! commit), fetched before a new session within the time bound, worked on off the executor, and
//! a session branch deleted on its remote.

use super::{Workspaces, blocking};
use crate::error::ApiError;
use crate::store;
use api_types::{CloneProgress, RepositoryState};
use checkout::{Author, Credentials, FetchOutcome, Mirror};
use entity::{chat_session, project};
use std::sync::Arc;

impl Workspaces {
    /// Makes the project's mirror in the background: clone the remote (reporting progress), or
    /// create a repository with one commit. `adopt_default_branch`: take the remote's default
    /// branch as the project's (when the user did not choose one).
    pub fn start_preparing(
        self: &Arc<Self>,
        project: project::Model,
        author: Author,
        credentials: Option<Credentials>,
        adopt_default_branch: bool,
    ) {
        let workspaces = Arc::clone(self);
        self.background.spawn(async move {
            let project_id = project.id;
            let outcome = workspaces.prepare(project.clone(), author, credentials).await;
            workspaces.progress.lock().unwrap_or_else(|p| p.into_inner()).remove(&project_id);
            let result = match outcome {
                Ok(remote_default) => {
                    let default_branch = remote_default.filter(|_| adopt_default_branch);
                    let spare_at = default_branch.clone().unwrap_or_else(|| project.default_branch.clone());
                    let recorded = store::projects::set_repository_state(
                        &workspaces.db,
                        project_id,
                        RepositoryState::Ready,
                        None,
                        default_branch,
                    )
                    .await;
                    workspaces.make_spare(project_id, spare_at).await;
                    recorded
                }
                Err(err) => {
                    tracing::warn!(project_id, error = %err, "could not prepare the project's repository");
                    store::projects::set_repository_state(
                        &workspaces.db,
                        project_id,
                        RepositoryState::Failed,
                        Some(err.body().error),
                        None,
                    )
                    .await
                }
            };
            if let Err(err) = result {
                tracing::error!(project_id, error = %crate::error::Report(&err), "could not record the repository state");
            }
        });
    }

    #[tracing::instrument(skip_all, fields(project_id = project.id))]
    pub(crate) async fn prepare(
        self: &Arc<Self>,
        project: project::Model,
        author: Author,
        credentials: Option<Credentials>,
    ) -> Result<Option<String>, ApiError> {
        let dir = self.project_dir(project.id);
        let url = self.remote_url(&project);
        let default_branch = project.default_branch.clone();
        let workspaces = Arc::clone(self);
        let project_id = project.id;
        blocking(move || {
            let mirror_path = dir.mirror();
            if mirror_path.exists() {
                std::fs::remove_dir_all(&mirror_path)?;
            }
            std::fs::create_dir_all(dir.sessions())?;
            match url {
                None => {
                    Mirror::init_empty(&mirror_path, &default_branch, &author)?;
                    Ok(None)
                }
                Some(url) => {
                    let mut report = |p: checkout::Progress| {
                        let progress = CloneProgress {
                            received_objects: p.received_objects as u64,
                            total_objects: p.total_objects as u64,
                            received_bytes: p.received_bytes as u64,
                        };
                        workspaces.progress.lock().unwrap_or_else(|e| e.into_inner()).insert(project_id, progress);
                    };
                    let cloned = Mirror::clone_from(&mirror_path, &url, credentials.as_ref(), &mut report);
                    if cloned.is_err() {
                        let _ = std::fs::remove_dir_all(&mirror_path);
                    }
                    Ok(cloned?.1)
                }
            }
        })
        .await
    }

    /// Fetches the project's remote as it was when the request `arrived` (before a new session,
    /// an update), within the time bound. Returns a sentence for the caller when the mirror's
    /// last state had to be used.
    pub async fn refresh(
        &self,
        project: &project::Model,
        credentials: Option<Credentials>,
        arrived: std::time::SystemTime,
    ) -> Result<Option<String>, ApiError> {
        // Requests that arrive together share a fetch (`Mirror::fetch`): one that waited while
        // another ran takes that one's result when it began after this request arrived.
        let mirror_path = self.project_dir(project.id).mirror();
        let timeout = self.fetch_timeout;
        let outcome =
            blocking(move || Mirror::open(&mirror_path)?.fetch(credentials.as_ref(), timeout, arrived)).await?;
        Ok(match outcome {
            FetchOutcome::Updated | FetchOutcome::NoRemote => None,
            FetchOutcome::Stale(why) => Some(format!(
                "The remote could not be reached ({why}); the session starts from the last fetched state."
            )),
        })
    }

    /// Pushes a session branch to the project's remote: `Ok(false)` when it has none.
    pub async fn push_branch(
        &self,
        project_id: i32,
        branch: &str,
        credentials: Option<Credentials>,
    ) -> Result<bool, ApiError> {
        let branch = branch.to_owned();
        self.with_mirror(project_id, move |mirror| {
            if !mirror.has_remote() {
                return Ok(false);
            }
            mirror.push_branch(&branch, credentials.as_ref()).map(|()| true)
        })
        .await
    }

    /// Runs `work` with the project's mirror.
    pub async fn with_mirror<T: Send + 'static>(
        &self,
        project_id: i32,
        work: impl FnOnce(&Mirror) -> Result<T, checkout::CheckoutError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let mirror_path = self.project_dir(project_id).mirror();
        blocking(move || work(&Mirror::open(&mirror_path)?)).await
    }

    /// Deletes a session's branch on the project's remote, when it has one: `Ok(false)` when
    /// there is none.
    pub async fn delete_remote_branch(
        &self,
        session: &chat_session::Model,
        credentials: Option<Credentials>,
    ) -> Result<bool, ApiError> {
        let branch = session.github_branch_name.clone();
        self.with_mirror(session.project_id, move |mirror| {
            if !mirror.has_remote() {
                return Ok(false);
            }
            mirror.delete_remote_branch(&branch, credentials.as_ref()).map(|()| true)
        })
        .await
    }
}
