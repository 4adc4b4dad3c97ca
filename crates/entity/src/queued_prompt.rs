//! `queued_prompts`: messages sent while a chat's run was live, waiting (in id order) to start
//! as its next turns; `prompt` is sealed like message content.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "queued_prompts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub chat_session_id: i32,
    pub user_id: String,
    pub prompt: String,
    /// The review comments sent with it (sealed JSON), if any.
    pub comments: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
