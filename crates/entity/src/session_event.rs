//! `session_events`: a session's run events in the order its owner gave them (`seq`), each
//! a sealed `RunEvent` JSON (`payload`) with its type (`kind`, so a finished run's deltas are
//! pruned without opening them).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "session_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub session_id: i32,
    pub seq: i64,
    pub run_id: i32,
    pub kind: String,
    pub payload: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
