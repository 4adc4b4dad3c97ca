//! `nodes`: the kosuke nodes sharing this PostgreSQL database (each started with `--node-url`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "nodes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Where the other nodes reach it.
    #[sea_orm(unique)]
    pub url: String,
    pub started_at: DateTimeUtc,
    pub heartbeat_at: DateTimeUtc,
    /// Where the other nodes reach its preview proxy (`host:port`), once it listens.
    pub preview_address: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
