//! Chats that say when they need their user: each session's last turn (`turn_state`: running,
//! succeeded, failed, question — it ended asking something) and how many turns ended since its
//! user last read it (`unread_turns`). A session has one user, so this is the read state per
//! user and session.

use crate::m20251101_000002_chat_sessions::ChatSessions;
use crate::sql::one_of;
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20251206_000012_attention"
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
                    .table(ChatSessions::Table)
                    .add_column(
                        string_len_null(Columns::TurnState, 20)
                            .check(one_of(Columns::TurnState, &["running", "succeeded", "failed", "question"])),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ChatSessions::Table)
                    .add_column(integer(Columns::UnreadTurns).default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Columns::UnreadTurns, Columns::TurnState] {
            manager.alter_table(Table::alter().table(ChatSessions::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Columns {
    TurnState,
    UnreadTurns,
}
