//! A pull request's life after it is opened: its state, its head commit, the combined result
//! of that commit's checks and the review state (`chat_sessions.pull_request_*`, refreshed by
//! polling and by GitHub's webhooks), and whether a merged or closed pull request archives its
//! session (`projects.archive_merged`).

use crate::m20250601_000001_pre_ticket_schema::Projects;
use crate::m20251101_000002_chat_sessions::ChatSessions;
use crate::sql::one_of;
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20251209_000015_pull_request_life"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            string_len_null(Columns::PullRequestState, 10)
                .check(one_of(Columns::PullRequestState, &["open", "draft", "merged", "closed"]))
                .to_owned(),
            string_len_null(Columns::PullRequestHeadSha, 64).to_owned(),
            string_len_null(Columns::PullRequestChecks, 10)
                .check(one_of(Columns::PullRequestChecks, &["none", "pending", "success", "failure"]))
                .to_owned(),
            string_len_null(Columns::PullRequestReview, 20)
                .check(one_of(Columns::PullRequestReview, &["none", "commented", "approved", "changes_requested"]))
                .to_owned(),
            timestamp_with_time_zone_null(Columns::PullRequestRefreshedAt).to_owned(),
        ];
        for column in columns {
            manager.alter_table(Table::alter().table(ChatSessions::Table).add_column(column).to_owned()).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Projects::Table)
                    .add_column(boolean(Columns::ArchiveMerged).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Projects::Table).drop_column(Columns::ArchiveMerged).to_owned())
            .await?;
        for column in [
            Columns::PullRequestRefreshedAt,
            Columns::PullRequestReview,
            Columns::PullRequestChecks,
            Columns::PullRequestHeadSha,
            Columns::PullRequestState,
        ] {
            manager.alter_table(Table::alter().table(ChatSessions::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Columns {
    PullRequestState,
    PullRequestHeadSha,
    PullRequestChecks,
    PullRequestReview,
    PullRequestRefreshedAt,
    ArchiveMerged,
}
