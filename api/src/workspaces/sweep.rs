//! The start-up sweep: reconciles the data dir with the database (clones cut short, stray
//! directories, checkouts that went missing). Nothing is deleted that the database does not
//! account for: a directory it does not know is moved to `{data}/lost+found/{timestamp}/`
//! (logged, with where it went), and a data dir whose database has no projects at all while
//! `projects/` holds some (another database pointed at it) is refused unless the operator says
//! `--adopt-data-dir`.

use super::{Workspaces, blocking};
use crate::store::{self, StoreError};
use api_types::{RepositoryState, WorkspaceState};
use checkout::{Author, Mirror};
use entity::{chat_session, project};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the data dir {} holds {directories} project directories but the database has no projects: it was \
         used with another database. Start with that database, or with --adopt-data-dir to keep them in \
         {}/lost+found and start afresh, or use a new data dir",
        data_dir.display(),
        data_dir.display()
    )]
    Foreign { data_dir: PathBuf, directories: usize },
}

impl Workspaces {
    /// Start-up: restarts clones that were cut short, removes directories of projects and
    /// sessions the database no longer has (or whose sessions are archived), and marks sessions
    /// whose checkout is missing as released, to be re-made on first use.
    pub async fn sweep(self: &Arc<Self>, adopt: bool, node: Option<i32>) -> Result<(), SweepError> {
        let projects = store::projects::held_by(&self.db, node).await?;
        let known: std::collections::HashSet<String> = projects.iter().map(|p| p.id.to_string()).collect();
        let projects_dir = self.data_dir.join("projects");
        let unknown: Vec<std::path::PathBuf> = std::fs::read_dir(&projects_dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|entry| !known.contains(&entry.file_name().to_string_lossy().into_owned()))
                    .map(|entry| entry.path())
                    .collect()
            })
            .unwrap_or_default();
        if projects.is_empty() && !unknown.is_empty() && !adopt {
            return Err(SweepError::Foreign { data_dir: self.data_dir.clone(), directories: unknown.len() });
        }
        for path in unknown {
            self.to_lost_and_found(&path, "a project the database does not have");
        }
        for project in projects {
            if project.repository_state == RepositoryState::Cloning || !self.project_dir(project.id).mirror().exists() {
                if project.repository_state != RepositoryState::Failed {
                    let author = Author { name: "kosuke".into(), email: "kosuke@localhost".into() };
                    self.start_preparing(project, author, None, false);
                }
                continue;
            }
            let sessions = store::sessions::all_in_project(&self.db, project.id).await?;
            self.sweep_sessions(&project, &sessions).await?;
        }
        Ok(())
    }

    /// Moves `path` to `{data}/lost+found/{timestamp}/`, keeping its place below the data dir;
    /// whether it moved.
    fn to_lost_and_found(&self, path: &Path, what: &str) -> bool {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let relative = path.strip_prefix(&self.data_dir).unwrap_or(path);
        let target = self.data_dir.join("lost+found").join(stamp).join(relative);
        let moved =
            target.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::rename(path, &target));
        match moved {
            Ok(()) => {
                tracing::warn!(from = %path.display(), to = %target.display(), "moved {what} to lost+found");
                true
            }
            Err(err) => {
                tracing::error!(path = %path.display(), error = %err, "could not move {what} to lost+found; left in place");
                false
            }
        }
    }

    async fn sweep_sessions(
        &self,
        project: &project::Model,
        sessions: &[chat_session::Model],
    ) -> Result<(), StoreError> {
        let dir = self.project_dir(project.id);
        let keep: HashMap<&str, &chat_session::Model> = sessions
            .iter()
            .filter(|s| s.status != api_types::ChatSessionStatus::Archived)
            .map(|s| (s.session_id.as_str(), s))
            .collect();
        let mirror_path = dir.mirror();
        if let Ok(entries) = std::fs::read_dir(dir.sessions()) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !keep.contains_key(name.as_str())
                    && self.to_lost_and_found(&entry.path(), "a stray session checkout")
                {
                    let mirror_path = mirror_path.clone();
                    let _ = blocking(move || Mirror::open(&mirror_path)?.prune_worktree(&name)).await;
                }
            }
        }
        for session in sessions {
            let missing = !dir.checkout(&session.session_id).exists();
            let recorded = matches!(session.workspace_state, WorkspaceState::Ready | WorkspaceState::Provisioning);
            if missing && recorded {
                store::sessions::set_workspace_state(&self.db, session.id, WorkspaceState::Released, None).await?;
            }
        }
        Ok(())
    }
}
