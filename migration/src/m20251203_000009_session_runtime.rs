//! Running the user's app: each project's run settings (`project_run_settings`: setup and dev
//! commands, readiness path) and the files copied into each new checkout (`project_files`,
//! contents sealed); each session's setup (`chat_sessions.setup_state`: running | failed |
//! done | skipped; the command and the kept log in `session_setups`, out of the session rows
//! that every list reads) and its checkout's size on disk (`chat_sessions.disk_bytes`).
//!
//! The setup's state is a column of its own rather than new `workspace_state` values: that
//! column's CHECK cannot be changed on SQLite without rebuilding the table.

use crate::m20250601_000001_pre_ticket_schema::Projects;
use crate::m20251101_000002_chat_sessions::ChatSessions;
use crate::sql::{one_of, run};
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20251203_000009_session_runtime"
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
                    .table(ProjectRunSettings::Table)
                    .col(integer(ProjectRunSettings::ProjectId).primary_key())
                    .col(text_null(ProjectRunSettings::SetupCommand))
                    .col(text_null(ProjectRunSettings::DevCommand))
                    .col(text_null(ProjectRunSettings::ReadinessPath))
                    .col(timestamp_with_time_zone(ProjectRunSettings::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProjectRunSettings::Table, ProjectRunSettings::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProjectFiles::Table)
                    .col(pk_auto(ProjectFiles::Id))
                    .col(integer(ProjectFiles::ProjectId))
                    .col(string_len(ProjectFiles::Path, 255))
                    .col(text(ProjectFiles::ContentEncrypted))
                    .col(big_integer(ProjectFiles::Size))
                    .col(timestamp_with_time_zone(ProjectFiles::CreatedAt))
                    .col(timestamp_with_time_zone(ProjectFiles::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProjectFiles::Table, ProjectFiles::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        run(manager, &["CREATE UNIQUE INDEX idx_project_files_path ON project_files (project_id, path)"]).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ChatSessions::Table)
                    .add_column(
                        string_len_null(Columns::SetupState, 20)
                            .check(one_of(Columns::SetupState, &["running", "failed", "done", "skipped"])),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SessionSetups::Table)
                    .col(integer(SessionSetups::ChatSessionId).primary_key())
                    .col(text(SessionSetups::Command))
                    .col(text(SessionSetups::Log))
                    .col(integer_null(SessionSetups::ExitCode))
                    .col(timestamp_with_time_zone(SessionSetups::StartedAt))
                    .col(timestamp_with_time_zone_null(SessionSetups::FinishedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SessionSetups::Table, SessionSetups::ChatSessionId)
                            .to(ChatSessions::Table, ChatSessions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter().table(ChatSessions::Table).add_column(big_integer_null(Columns::DiskBytes)).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Columns::DiskBytes, Columns::SetupState] {
            manager.alter_table(Table::alter().table(ChatSessions::Table).drop_column(column).to_owned()).await?;
        }
        for table in
            [SessionSetups::Table.into_iden(), ProjectFiles::Table.into_iden(), ProjectRunSettings::Table.into_iden()]
        {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ProjectRunSettings {
    Table,
    ProjectId,
    SetupCommand,
    DevCommand,
    ReadinessPath,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ProjectFiles {
    Table,
    Id,
    ProjectId,
    Path,
    ContentEncrypted,
    Size,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SessionSetups {
    Table,
    ChatSessionId,
    Command,
    Log,
    ExitCode,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum Columns {
    SetupState,
    DiskBytes,
}
