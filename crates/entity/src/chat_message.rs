//! `chat_messages`: keyed by session since the ticket's migration (`project_id` is kept).

use api_types::MessageRole;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "chat_messages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub project_id: i32,
    pub chat_session_id: i32,
    pub user_id: Option<String>,
    pub role: MessageRole,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    pub blocks: Option<Json>,
    pub model: Option<String>,
    pub input_tokens: Option<i32>,
    pub output_tokens: Option<i32>,
    pub commit_sha: Option<String>,
    /// When a revert to an earlier turn undid this message's turn.
    pub reverted_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::chat_session::Entity",
        from = "Column::ChatSessionId",
        to = "super::chat_session::Column::Id",
        on_delete = "Cascade"
    )]
    ChatSession,
}

impl Related<super::chat_session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ChatSession.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
