//! `chat_sessions`: the ticket's table plus `base_branch`, the pull-request fields, the
//! checkout's state, its setup's and its size on disk.

use api_types::{ChatSessionStatus, SetupState, WorkspaceState};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "chat_sessions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub project_id: i32,
    pub user_id: String,
    pub title: String,
    pub description: Option<String>,
    #[sea_orm(unique)]
    pub session_id: String,
    pub github_branch_name: String,
    pub status: ChatSessionStatus,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub last_activity_at: DateTimeUtc,
    pub message_count: i32,
    pub is_default: bool,
    pub base_branch: Option<String>,
    pub pull_request_number: Option<i32>,
    pub pull_request_url: Option<String>,
    pub workspace_state: WorkspaceState,
    pub workspace_error: Option<String>,
    /// `None` when no setup ran in the checkout.
    pub setup_state: Option<SetupState>,
    pub disk_bytes: Option<i64>,
    /// The last revert, while Undo can still take it back (until the next turn).
    pub reverted_at: Option<DateTimeUtc>,
    /// How its last turn went: running, succeeded, failed, question (it ended asking).
    pub turn_state: Option<String>,
    /// Turns ended since its user last read it.
    pub unread_turns: i32,
    /// An update from the base stopped on conflicts: `api_types::UpdateConflict` as JSON.
    pub update_conflict: Option<String>,
    /// What was lost when another node took the chat over from a dead one.
    pub lost_work: Option<String>,
    pub pull_request_state: Option<api_types::PullRequestState>,
    pub pull_request_head_sha: Option<String>,
    pub pull_request_checks: Option<api_types::ChecksState>,
    pub pull_request_review: Option<api_types::ReviewState>,
    pub pull_request_refreshed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::project::Entity",
        from = "Column::ProjectId",
        to = "super::project::Column::Id",
        on_delete = "Cascade"
    )]
    Project,
    #[sea_orm(has_many = "super::chat_message::Entity")]
    Messages,
}

impl Related<super::project::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Project.def()
    }
}

impl Related<super::chat_message::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Messages.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
