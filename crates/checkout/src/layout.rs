//! Where a project's git data lives on disk:
//! `{root}/mirror.git`, `{root}/sessions/{session_id}/` and `{root}/spare/` (a checkout made
//! ahead for the next session).

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct ProjectDir {
    root: PathBuf,
}

impl ProjectDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ProjectDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn mirror(&self) -> PathBuf {
        self.root.join("mirror.git")
    }

    pub fn sessions(&self) -> PathBuf {
        self.root.join("sessions")
    }

    pub fn spare(&self) -> PathBuf {
        self.root.join("spare")
    }

    pub fn checkout(&self, session_id: &str) -> PathBuf {
        self.sessions().join(session_id)
    }
}
