//! `session_setups`: the last setup of each session's checkout: the command, what it printed
//! (the tail, project variable values hidden) and how it ended.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "session_setups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub chat_session_id: i32,
    pub command: String,
    pub log: String,
    pub exit_code: Option<i32>,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
