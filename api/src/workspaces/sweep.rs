//! The start-up sweep: reconciles the data dir with the database (clones cut short, stray
//! directories, checkouts that went missing).

use super::{Workspaces, blocking};
use crate::store::{self, StoreError};
use api_types::{RepositoryState, WorkspaceState};
use checkout::{Author, Mirror};
use entity::{chat_session, project};
use std::collections::HashMap;
use std::sync::Arc;

impl Workspaces {
    /// Start-up: restarts clones that were cut short, removes directories of projects and
    /// sessions the database no longer has (or whose sessions are archived), and marks sessions
    /// whose checkout is missing as released, to be re-made on first use.
    pub async fn sweep(self: &Arc<Self>) -> Result<(), StoreError> {
        let projects = store::projects::all(&self.db).await?;
        let known: std::collections::HashSet<String> = projects.iter().map(|p| p.id.to_string()).collect();
        if let Ok(entries) = std::fs::read_dir(self.data_dir.join("projects")) {
            for entry in entries.flatten() {
                if !known.contains(&entry.file_name().to_string_lossy().into_owned()) {
                    tracing::info!(path = %entry.path().display(), "removing the directory of a deleted project");
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
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
                if !keep.contains_key(name.as_str()) {
                    tracing::info!(path = %entry.path().display(), "removing a stray session checkout");
                    let (path, mirror_path) = (entry.path(), mirror_path.clone());
                    let _ = blocking(move || Mirror::open(&mirror_path)?.release(&name, &path)).await;
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
