//! `run_journal`: what a live run streamed, appended in pieces as it streams (each piece the
//! run's events since the last, sealed), so saving a long turn costs what changed rather than
//! the whole transcript each time. The assistant message is written whole when the run ends and
//! its pieces are deleted; after a crash, start-up folds them into the message.

use crate::m20251115_000003_runs_audit_and_secrets::AgentRuns;
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20251202_000008_run_journal"
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
                    .table(RunJournal::Table)
                    .col(big_pk_auto(RunJournal::Id))
                    .col(integer(RunJournal::AgentRunId))
                    .col(text(RunJournal::Events))
                    .col(timestamp_with_time_zone(RunJournal::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RunJournal::Table, RunJournal::AgentRunId)
                            .to(AgentRuns::Table, AgentRuns::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_run_journal_run")
                    .table(RunJournal::Table)
                    .col(RunJournal::AgentRunId)
                    .col(RunJournal::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(RunJournal::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum RunJournal {
    Table,
    Id,
    AgentRunId,
    Events,
    CreatedAt,
}
