//! Running the user's app in a session: the project's run settings (setup and dev commands,
//! files copied into each new checkout), a checkout's setup, its size on disk.

use crate::ids::ProjectFileId;
use crate::session::WorkspaceState;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The longest setup or dev command, in characters.
pub const MAX_COMMAND_CHARS: usize = 4096;
/// The largest file a project may copy into its checkouts, in bytes.
pub const MAX_PROJECT_FILE_BYTES: usize = 256 * 1024;
/// How many files a project may copy into its checkouts.
pub const MAX_PROJECT_FILES: usize = 20;

/// Where a run setting's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SettingSource {
    /// The project's settings (they override the repository's `kosuke.json`).
    Settings,
    /// `kosuke.json` at the root of the default branch.
    Repository,
    /// Neither sets it.
    Unset,
}

/// One run setting: the value in force, where it comes from, and both candidates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunSetting {
    /// What a new checkout uses.
    pub value: Option<String>,
    pub source: SettingSource,
    /// What the project's settings say.
    pub settings: Option<String>,
    /// What the repository's `kosuke.json` says.
    pub repository: Option<String>,
}

/// `GET /api/projects/{id}/settings/run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunSettings {
    /// Run in each new checkout before the session is ready (e.g. `npm ci`).
    pub setup: RunSetting,
    /// Starts the session's dev server (e.g. `npm run dev -- --port $PORT --host 127.0.0.1`).
    pub dev: RunSetting,
    /// A path the dev server answers once it is ready (e.g. `/`), after its port opens.
    pub readiness_path: RunSetting,
    /// Files copied into each new checkout (their contents are never sent back).
    pub files: Vec<ProjectFile>,
    /// Whether the default branch has a `kosuke.json` at its root.
    pub repository_file: bool,
    /// Why that `kosuke.json` could not be used, when it cannot.
    pub repository_file_error: Option<String>,
}

/// `PUT /api/projects/{id}/settings/run`: the project's own values (`null` or empty leaves a
/// setting to the repository's `kosuke.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateRunSettingsRequest {
    #[serde(default)]
    pub setup: Option<String>,
    #[serde(default)]
    pub dev: Option<String>,
    #[serde(default)]
    pub readiness_path: Option<String>,
}

/// A file copied into each new checkout, as listed: never its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectFile {
    pub id: ProjectFileId,
    /// Where it goes, relative to the checkout's root (e.g. `.env.local`).
    pub path: String,
    /// Its size in bytes.
    pub size: i64,
    pub updated_at: DateTime<Utc>,
}

/// `POST /api/projects/{id}/settings/run/files`: adds a file, or replaces the one at `path`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PutProjectFileRequest {
    pub path: String,
    /// The file's text (UTF-8), at most 256 KiB.
    pub content: String,
}

/// `GET /api/projects/{id}/chat-sessions/{session_pk}/setup`: the checkout's setup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionSetup {
    /// `setting_up` while it runs, `setup_failed` when it failed, else the checkout's state.
    pub state: WorkspaceState,
    /// The command that ran (or runs), if any did.
    pub command: Option<String>,
    /// What it printed (the last 64 KiB), project variable values hidden.
    pub log: String,
    /// Why it failed.
    pub error: Option<String>,
}

/// Where a checkout's setup stands (`chat_sessions.setup_state`; none when nothing was set
/// up). The wire's [`WorkspaceState`] shows `running` as `setting_up` and `failed` as
/// `setup_failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "db", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(feature = "db", sea_orm(rs_type = "String", db_type = "String(sea_orm::sea_query::StringLen::N(20))"))]
#[serde(rename_all = "snake_case")]
pub enum SetupState {
    #[cfg_attr(feature = "db", sea_orm(string_value = "running"))]
    Running,
    #[cfg_attr(feature = "db", sea_orm(string_value = "failed"))]
    Failed,
    #[cfg_attr(feature = "db", sea_orm(string_value = "done"))]
    Done,
    /// The user chose to go on without it.
    #[cfg_attr(feature = "db", sea_orm(string_value = "skipped"))]
    Skipped,
}

impl WorkspaceState {
    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkspaceState::Provisioning => "provisioning",
            WorkspaceState::SettingUp => "setting_up",
            WorkspaceState::SetupFailed => "setup_failed",
            WorkspaceState::Ready => "ready",
            WorkspaceState::Released => "released",
            WorkspaceState::Failed => "failed",
        }
    }

    /// The state the API shows: a ready checkout whose setup runs or failed says so.
    pub fn with_setup(self, setup: Option<SetupState>) -> WorkspaceState {
        match (self, setup) {
            (WorkspaceState::Ready, Some(SetupState::Running)) => WorkspaceState::SettingUp,
            (WorkspaceState::Ready, Some(SetupState::Failed)) => WorkspaceState::SetupFailed,
            (state, _) => state,
        }
    }
}

/// What to do with a failed setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SetupAction {
    /// Run the setup again.
    Retry,
    /// Use the checkout as it is.
    Skip,
}

/// `POST /api/projects/{id}/chat-sessions/{session_pk}/setup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetupActionRequest {
    pub action: SetupAction,
}

/// One line of a process's log, as its event stream sends it (`event: line`, the `id` is
/// the line's number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogLine {
    pub n: u64,
    pub text: String,
}

/// The end of a process's log stream (`event: end`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogEnd {
    /// What the process's state is now (for a setup: `ready` or `setup_failed`).
    pub state: String,
}

/// An event of a process's log stream: a line, or its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum LogEvent {
    Line(LogLine),
    End(LogEnd),
}

/// One session's checkout on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionDisk {
    pub chat_session_id: crate::ids::ChatSessionPk,
    pub title: String,
    /// Bytes, dependencies included; 0 when the checkout is not on disk.
    pub bytes: u64,
}

/// `GET /api/projects/{id}/disk`: what the project takes on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectDisk {
    /// The project's git mirror (every branch's history).
    pub mirror_bytes: u64,
    /// The checkout made ahead for the next session.
    pub spare_bytes: u64,
    /// The caller's sessions' checkouts (an owner sees every member's).
    pub sessions: Vec<SessionDisk>,
    pub total_bytes: u64,
}
