//! Where a project's mirror and each session's checkout stand: `projects.repository_state`
//! (cloning | ready | failed) and `chat_sessions.workspace_state` (provisioning | ready |
//! released | failed), each with the error that made it fail. Existing projects start as
//! `cloning` (the server makes their mirror at start-up); existing sessions as `released`
//! (their checkout is made on first use).

use crate::m20250601_000001_pre_ticket_schema::Projects;
use crate::m20251101_000002_chat_sessions::ChatSessions;
use crate::sql::one_of;
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20251120_000004_repository_and_workspace_state"
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
                        string_len(Columns::RepositoryState, 20)
                            .default("cloning")
                            .check(one_of(Columns::RepositoryState, &["cloning", "ready", "failed"])),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter().table(Projects::Table).add_column(text_null(Columns::RepositoryError)).to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ChatSessions::Table)
                    .add_column(
                        string_len(Columns::WorkspaceState, 20)
                            .default("released")
                            .check(one_of(Columns::WorkspaceState, &["provisioning", "ready", "released", "failed"])),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter().table(ChatSessions::Table).add_column(text_null(Columns::WorkspaceError)).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in [
            (ChatSessions::Table.into_iden(), Columns::WorkspaceError),
            (ChatSessions::Table.into_iden(), Columns::WorkspaceState),
            (Projects::Table.into_iden(), Columns::RepositoryError),
            (Projects::Table.into_iden(), Columns::RepositoryState),
        ] {
            manager.alter_table(Table::alter().table(table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Columns {
    RepositoryState,
    RepositoryError,
    WorkspaceState,
    WorkspaceError,
}
