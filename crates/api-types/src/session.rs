//! Chat sessions: one conversation, one branch `kosuke-chat-{session_id}`, one checkout.

use crate::ids::{ChatSessionPk, ProjectId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The longest session title, in characters.
pub const MAX_TITLE_CHARS: usize = 100;
/// The longest session description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
/// The prefix of every session branch.
pub const SESSION_BRANCH_PREFIX: &str = "kosuke-chat-";

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "db", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(feature = "db", sea_orm(rs_type = "String", db_type = "String(sea_orm::sea_query::StringLen::N(20))"))]
#[serde(rename_all = "snake_case")]
pub enum ChatSessionStatus {
    #[cfg_attr(feature = "db", sea_orm(string_value = "active"))]
    Active,
    #[cfg_attr(feature = "db", sea_orm(string_value = "archived"))]
    Archived,
    #[cfg_attr(feature = "db", sea_orm(string_value = "completed"))]
    Completed,
}

impl ChatSessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatSessionStatus::Active => "active",
            ChatSessionStatus::Archived => "archived",
            ChatSessionStatus::Completed => "completed",
        }
    }
}

/// Where a session's isolated checkout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "db", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(feature = "db", sea_orm(rs_type = "String", db_type = "String(sea_orm::sea_query::StringLen::N(20))"))]
#[serde(rename_all = "snake_case")]
pub enum WorkspaceState {
    /// The branch and checkout are being made.
    #[cfg_attr(feature = "db", sea_orm(string_value = "provisioning"))]
    Provisioning,
    /// The checkout is made; the project's setup command runs in it. Shown by the API only
    /// (stored as `ready` with `setup_state` running; see [`crate::SetupState`]).
    #[cfg_attr(feature = "db", sea_orm(string_value = "setting_up"))]
    SettingUp,
    /// The setup command failed (`workspace_error` says how); retry it or skip it. Shown by
    /// the API only, like `setting_up`.
    #[cfg_attr(feature = "db", sea_orm(string_value = "setup_failed"))]
    SetupFailed,
    #[cfg_attr(feature = "db", sea_orm(string_value = "ready"))]
    Ready,
    /// No checkout on disk (archived, or not made yet); the branch keeps the work.
    #[cfg_attr(feature = "db", sea_orm(string_value = "released"))]
    Released,
    /// `workspace_error` says why.
    #[cfg_attr(feature = "db", sea_orm(string_value = "failed"))]
    Failed,
}

/// A chat session with every column of the ticket plus the pull-request fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatSession {
    /// `session_pk` in paths; `chat_session_id` in `POST /api/chat`.
    pub id: ChatSessionPk,
    pub project_id: ProjectId,
    pub user_id: UserId,
    pub title: String,
    pub description: Option<String>,
    /// Random lowercase letters and digits; names the branch and the checkout directory.
    pub session_id: String,
    /// Always `kosuke-chat-{session_id}`, stored in full.
    pub github_branch_name: String,
    pub status: ChatSessionStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
    pub message_count: i32,
    /// The first session of the project; it cannot be deleted.
    pub is_default: bool,
    /// The branch the session branch was created from.
    pub base_branch: Option<String>,
    pub pull_request_number: Option<i32>,
    pub pull_request_url: Option<String>,
    /// Its pull request's state, checks and reviews, as last refreshed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request_life: Option<crate::PullRequestLife>,
    pub workspace_state: WorkspaceState,
    pub workspace_error: Option<String>,
    /// The checkout's size on disk in bytes (dependencies included), as last measured: after
    /// it was made and set up, and after each turn. `None` until measured or when not on disk.
    pub disk_bytes: Option<i64>,
    /// Whether the chat needs its user: idle, running, finished or failed unread, waiting for
    /// you (its last turn ended asking something).
    #[serde(default)]
    pub activity: SessionActivity,
    /// Turns ended since its user last read it (`POST …/{session_pk}/read`).
    #[serde(default)]
    pub unread: u32,
    /// The last revert can be undone (`POST …/{session_pk}/revert/undo`): no turn since.
    #[serde(default)]
    pub undo_revert: bool,
    /// An update from the base branch stopped on conflicts (`POST …/{session_pk}/update`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_conflict: Option<crate::UpdateConflict>,
    /// The node that held the chat died and another took it over: what of its work was only
    /// on the dead node's disk and is lost (commits never pushed, a live turn's edits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_work: Option<String>,
    /// Something the caller should know about this answer, e.g. that the remote could not be
    /// reached and the session starts from the mirror's last state. Only on creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
}

/// `POST /api/projects/{id}/chat-sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateChatSessionRequest {
    /// Trimmed; 1 to 100 characters.
    pub title: String,
    /// At most 2000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The branch to start from; the project's default branch when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_branch: Option<String>,
}

/// Whether a chat needs its user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SessionActivity {
    #[default]
    Idle,
    Running,
    FinishedUnread,
    FailedUnread,
    /// Its last turn ended asking something.
    WaitingForYou,
}

impl SessionActivity {
    /// Its user should look at it.
    pub fn needs_you(self) -> bool {
        matches!(self, SessionActivity::FinishedUnread | SessionActivity::FailedUnread | SessionActivity::WaitingForYou)
    }

    /// From a session's last turn and unread count.
    pub fn of(turn_state: Option<&str>, unread: i32) -> SessionActivity {
        match (turn_state, unread > 0) {
            (Some("running"), _) => SessionActivity::Running,
            (_, false) => SessionActivity::Idle,
            (Some("failed"), true) => SessionActivity::FailedUnread,
            (Some("question"), true) => SessionActivity::WaitingForYou,
            (_, true) => SessionActivity::FinishedUnread,
        }
    }
}

/// `PUT /api/projects/{id}/chat-sessions/{session_pk}`: only the fields given change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateChatSessionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// An empty string clears the description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ChatSessionStatus>,
}

/// `GET /api/projects/{id}/chat-sessions`: newest activity first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatSessionList {
    pub sessions: Vec<ChatSession>,
    /// How many sessions match the filter, across all pages.
    pub total: u64,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Query of `GET /api/projects/{id}/chat-sessions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct ChatSessionQuery {
    /// Only sessions with this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ChatSessionStatus>,
    /// Case-insensitive search in title and description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// 1 to 100; 50 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
