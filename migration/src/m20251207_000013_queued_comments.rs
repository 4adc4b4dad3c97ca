//! A queued message keeps the review comments sent with it (`comments`: the JSON list, sealed
//! like the prompt), so they reach the agent when it starts as a turn.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20251207_000013_queued_comments"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(QueuedPrompts::Table).add_column(text_null(QueuedPrompts::Comments)).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(QueuedPrompts::Table).drop_column(QueuedPrompts::Comments).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum QueuedPrompts {
    Table,
    Comments,
}
