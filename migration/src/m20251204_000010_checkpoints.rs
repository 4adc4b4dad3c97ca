//! Turns as checkpoints: a revert moves a session's branch back to an earlier turn and marks
//! the turns after it (`chat_messages.reverted_at`); the session keeps when its last revert
//! was (`chat_sessions.reverted_at`) while that revert can still be undone (until the next
//! turn). The head before the revert is kept on a git ref, not in the database.

use crate::m20250601_000001_pre_ticket_schema::ChatMessages;
use crate::m20251101_000002_chat_sessions::ChatSessions;
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20251204_000010_checkpoints"
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
                Table::alter()
                    .table(ChatMessages::Table)
                    .add_column(timestamp_with_time_zone_null(Columns::RevertedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ChatSessions::Table)
                    .add_column(timestamp_with_time_zone_null(Columns::RevertedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(ChatSessions::Table).drop_column(Columns::RevertedAt).to_owned())
            .await?;
        manager.alter_table(Table::alter().table(ChatMessages::Table).drop_column(Columns::RevertedAt).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Columns {
    RevertedAt,
}
