//! `projects`: a repository and its settings.

use api_types::{RepositoryKind, RepositoryState};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The owner (the ticket's `p.user_id`).
    pub user_id: String,
    pub name: String,
    pub description: Option<String>,
    pub repository_kind: RepositoryKind,
    /// `owner/repo` for GitHub, the URL for git, the path for local, empty for a new repo.
    pub repository_location: String,
    pub default_branch: String,
    pub update_strategy: api_types::UpdateStrategy,
    pub archive_merged: bool,
    /// The node holding the mirror and the sessions' checkouts (`nodes.id`); `None` alone.
    pub owner_node: Option<i32>,
    pub repository_state: RepositoryState,
    pub repository_error: Option<String>,
    /// `api_types::Branding` as JSON; absent until set.
    pub branding: Option<Json>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "super::user::Entity", from = "Column::UserId", to = "super::user::Column::Id")]
    Owner,
    #[sea_orm(has_many = "super::project_member::Entity")]
    Members,
    #[sea_orm(has_many = "super::chat_session::Entity")]
    ChatSessions,
}

impl Related<super::project_member::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Members.def()
    }
}

impl Related<super::chat_session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ChatSessions.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
