//! Tables added after the ticket: agent runs, the audit trail, project environment variables and
//! per-user GitHub credentials (the last two hold only encrypted values).

use crate::m20250601_000001_pre_ticket_schema::{Projects, Users};
use crate::m20251101_000002_chat_sessions::ChatSessions;
use crate::sql::{one_of, run};
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20251115_000003_runs_audit_and_secrets"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on every backend (SQLite too): all of it applies, or none of it.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AgentRuns::Table)
                    .col(pk_auto(AgentRuns::Id))
                    .col(integer(AgentRuns::ChatSessionId))
                    .col(string_len(AgentRuns::Status, 20).check(one_of(
                        AgentRuns::Status,
                        &["queued", "running", "succeeded", "failed", "cancelled", "interrupted"],
                    )))
                    .col(big_integer_null(AgentRuns::UserMessageId))
                    .col(big_integer_null(AgentRuns::AssistantMessageId))
                    .col(text_null(AgentRuns::Error))
                    .col(timestamp_with_time_zone(AgentRuns::CreatedAt))
                    .col(timestamp_with_time_zone_null(AgentRuns::StartedAt))
                    .col(timestamp_with_time_zone_null(AgentRuns::FinishedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AgentRuns::Table, AgentRuns::ChatSessionId)
                            .to(ChatSessions::Table, ChatSessions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(big_integer(AuditEvents::Id).auto_increment().primary_key())
                    .col(string_len_null(AuditEvents::ActorId, 40))
                    .col(integer(AuditEvents::ProjectId))
                    .col(integer_null(AuditEvents::ChatSessionId))
                    .col(string_len(AuditEvents::Action, 40).check(one_of(
                        AuditEvents::Action,
                        &[
                            "project_created",
                            "project_updated",
                            "member_added",
                            "member_removed",
                            "default_branch_changed",
                            "session_created",
                            "session_updated",
                            "session_deleted",
                        ],
                    )))
                    .col(json(AuditEvents::Detail))
                    .col(timestamp_with_time_zone(AuditEvents::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AuditEvents::Table, AuditEvents::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProjectEnvVars::Table)
                    .col(pk_auto(ProjectEnvVars::Id))
                    .col(integer(ProjectEnvVars::ProjectId))
                    .col(string_len(ProjectEnvVars::Key, 255))
                    .col(text(ProjectEnvVars::ValueEncrypted))
                    .col(timestamp_with_time_zone(ProjectEnvVars::CreatedAt))
                    .col(timestamp_with_time_zone(ProjectEnvVars::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProjectEnvVars::Table, ProjectEnvVars::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(GithubCredentials::Table)
                    .col(string_len(GithubCredentials::UserId, 40).primary_key())
                    .col(text(GithubCredentials::TokenEncrypted))
                    .col(string_len(GithubCredentials::Login, 100))
                    .col(text(GithubCredentials::Scopes))
                    .col(timestamp_with_time_zone(GithubCredentials::CreatedAt))
                    .col(timestamp_with_time_zone(GithubCredentials::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(GithubCredentials::Table, GithubCredentials::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        run(
            manager,
            &[
                "CREATE INDEX idx_agent_runs_chat_session_id ON agent_runs (chat_session_id, id)",
                // At most one live run per session, enforced by the database itself.
                "CREATE UNIQUE INDEX idx_agent_runs_one_live ON agent_runs (chat_session_id) \
                 WHERE status IN ('queued', 'running')",
                "CREATE INDEX idx_audit_events_project_id ON audit_events (project_id, id)",
                "CREATE UNIQUE INDEX idx_project_env_vars_key ON project_env_vars (project_id, key)",
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            GithubCredentials::Table.into_iden(),
            ProjectEnvVars::Table.into_iden(),
            AuditEvents::Table.into_iden(),
            AgentRuns::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
pub(crate) enum AgentRuns {
    Table,
    Id,
    ChatSessionId,
    Status,
    UserMessageId,
    AssistantMessageId,
    Error,
    CreatedAt,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
pub(crate) enum AuditEvents {
    Table,
    Id,
    ActorId,
    ProjectId,
    ChatSessionId,
    Action,
    Detail,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProjectEnvVars {
    Table,
    Id,
    ProjectId,
    Key,
    ValueEncrypted,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum GithubCredentials {
    Table,
    UserId,
    TokenEncrypted,
    Login,
    Scopes,
    CreatedAt,
    UpdatedAt,
}
