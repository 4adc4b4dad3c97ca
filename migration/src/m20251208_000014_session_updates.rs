//! Updating a session from its base branch: how each project updates by default
//! (`projects.update_strategy`: merge or rebase) and, on a session whose update stopped on
//! conflicts, what is in progress (`chat_sessions.update_conflict`: JSON with the strategy,
//! the base branch and commit, and the conflicted paths) until it is concluded or aborted.

use crate::m20250601_000001_pre_ticket_schema::Projects;
use crate::m20251101_000002_chat_sessions::ChatSessions;
use crate::sql::one_of;
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20251208_000014_session_updates"
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
                    .table(Projects::Table)
                    .add_column(
                        string_len(Columns::UpdateStrategy, 10)
                            .default("merge")
                            .check(one_of(Columns::UpdateStrategy, &["merge", "rebase"])),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter().table(ChatSessions::Table).add_column(text_null(Columns::UpdateConflict)).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(ChatSessions::Table).drop_column(Columns::UpdateConflict).to_owned())
            .await?;
        manager.alter_table(Table::alter().table(Projects::Table).drop_column(Columns::UpdateStrategy).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Columns {
    UpdateStrategy,
    UpdateConflict,
}
