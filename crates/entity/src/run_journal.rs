//! `run_journal`: a live run's events, appended in pieces as it streams (sealed JSON arrays
//! of `RunEvent`); deleted once the run's message is written whole.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "run_journal")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub agent_run_id: i32,
    pub events: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
