//! Several kosuke nodes on one PostgreSQL database: each node that runs with `--node-url`
//! registers here (`nodes`: the address other nodes reach it at, when it started, its last
//! heartbeat). A node is live while its heartbeat is younger than its lease.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20251210_000016_nodes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Nodes::Table)
                    .col(pk_auto(Nodes::Id))
                    .col(string_len_uniq(Nodes::Url, 2048))
                    .col(timestamp_with_time_zone(Nodes::StartedAt))
                    .col(timestamp_with_time_zone(Nodes::HeartbeatAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Nodes::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
pub enum Nodes {
    Table,
    Id,
    Url,
    StartedAt,
    HeartbeatAt,
}
