//! `agent_runs`: one agent turn of a session. A partial unique index keeps at most one live
//! (queued or running) run per session. `claimed_at` is NULL while a run stored by a node that
//! does not hold the session's project waits for the node that does to claim it.

use api_types::RunStatus;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agent_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub chat_session_id: i32,
    pub status: RunStatus,
    pub user_message_id: Option<i64>,
    pub assistant_message_id: Option<i64>,
    pub error: Option<String>,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub claimed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
