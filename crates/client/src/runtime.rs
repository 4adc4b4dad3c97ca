//! Running the user's app: the project's run settings and copied files, each session's setup,
//! its preview (the dev server), disk use.

use crate::transport::Method;
use crate::{Client, Result};
use api_types::*;

impl Client {
    pub async fn preview(&self, project: ProjectId, session: ChatSessionPk) -> Result<Preview> {
        self.get(&format!("/projects/{project}/chat-sessions/{session}/preview")).await
    }

    /// Starts, restarts or stops the session's dev server (202: it starts in the background).
    pub async fn preview_action(
        &self,
        project: ProjectId,
        session: ChatSessionPk,
        action: PreviewAction,
    ) -> Result<Preview> {
        let path = format!("/projects/{project}/chat-sessions/{session}/preview");
        self.with_body(Method::Post, &path, &PreviewActionRequest { action }).await
    }

    pub async fn list_previews(&self, project: ProjectId) -> Result<PreviewList> {
        self.get(&format!("/projects/{project}/previews")).await
    }

    /// The dev server's log as server-sent events.
    pub fn preview_events_url(&self, project: ProjectId, session: ChatSessionPk) -> String {
        self.url(&format!("/projects/{project}/chat-sessions/{session}/preview/events"))
    }

    pub async fn get_run_settings(&self, project: ProjectId) -> Result<RunSettings> {
        self.get(&format!("/projects/{project}/settings/run")).await
    }

    pub async fn put_run_settings(
        &self,
        project: ProjectId,
        request: &UpdateRunSettingsRequest,
    ) -> Result<RunSettings> {
        self.with_body(Method::Put, &format!("/projects/{project}/settings/run"), request).await
    }

    pub async fn put_project_file(&self, project: ProjectId, path: &str, content: &str) -> Result<ProjectFile> {
        let body = PutProjectFileRequest { path: path.to_owned(), content: content.to_owned() };
        self.with_body(Method::Post, &format!("/projects/{project}/settings/run/files"), &body).await
    }

    pub async fn delete_project_file(&self, project: ProjectId, file: ProjectFileId) -> Result<()> {
        self.delete(&format!("/projects/{project}/settings/run/files/{file}")).await
    }

    pub async fn get_setup(&self, project: ProjectId, session: ChatSessionPk) -> Result<SessionSetup> {
        self.get(&format!("/projects/{project}/chat-sessions/{session}/setup")).await
    }

    pub async fn setup_action(
        &self,
        project: ProjectId,
        session: ChatSessionPk,
        action: SetupAction,
    ) -> Result<SessionSetup> {
        let body = SetupActionRequest { action };
        self.with_body(Method::Post, &format!("/projects/{project}/chat-sessions/{session}/setup"), &body).await
    }

    /// Where the setup's log streams (server-sent events), for an `EventSource`.
    pub fn setup_events_url(&self, project: ProjectId, session: ChatSessionPk) -> String {
        self.url(&format!("/projects/{project}/chat-sessions/{session}/setup/events"))
    }

    pub async fn get_disk(&self, project: ProjectId) -> Result<ProjectDisk> {
        self.get(&format!("/projects/{project}/disk")).await
    }
}
