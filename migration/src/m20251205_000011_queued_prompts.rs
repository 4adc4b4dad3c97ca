//! Messages sent while a chat's run is live wait in `queued_prompts` (their text sealed like
//! the chat's messages), in order, until they start as the chat's next turns; they are edited
//! and cancelled there, and survive a restart.

use crate::m20251101_000002_chat_sessions::ChatSessions;
use crate::sql::run;
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20251205_000011_queued_prompts"
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
                    .table(QueuedPrompts::Table)
                    .col(pk_auto(QueuedPrompts::Id))
                    .col(integer(QueuedPrompts::ChatSessionId))
                    .col(string_len(QueuedPrompts::UserId, 64))
                    .col(text(QueuedPrompts::Prompt))
                    .col(timestamp_with_time_zone(QueuedPrompts::CreatedAt))
                    .col(timestamp_with_time_zone(QueuedPrompts::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(QueuedPrompts::Table, QueuedPrompts::ChatSessionId)
                            .to(ChatSessions::Table, ChatSessions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        run(manager, &["CREATE INDEX idx_queued_prompts_session ON queued_prompts (chat_session_id, id)"]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(QueuedPrompts::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum QueuedPrompts {
    Table,
    Id,
    ChatSessionId,
    UserId,
    Prompt,
    CreatedAt,
    UpdatedAt,
}
