//! The schema before ticket #20: accounts, projects, members, and chat messages keyed by project.

use crate::sql::one_of;
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20250601_000001_pre_ticket_schema"
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
                    .table(Users::Table)
                    .col(string_len(Users::Id, 40).primary_key())
                    .col(string_len_uniq(Users::Email, 254))
                    .col(string_len(Users::DisplayName, 100))
                    .col(text(Users::PasswordHash))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuthSessions::Table)
                    .col(pk_auto(AuthSessions::Id))
                    .col(string_len(AuthSessions::UserId, 40))
                    .col(string_len_uniq(AuthSessions::TokenHash, 64))
                    .col(timestamp_with_time_zone(AuthSessions::CreatedAt))
                    .col(timestamp_with_time_zone(AuthSessions::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AuthSessions::Table, AuthSessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_auth_sessions_user_id", AuthSessions::Table, AuthSessions::UserId).await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .col(pk_auto(ApiTokens::Id))
                    .col(string_len(ApiTokens::UserId, 40))
                    .col(string_len(ApiTokens::Name, 100))
                    .col(string_len_uniq(ApiTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::LastUsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiTokens::Table, ApiTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_api_tokens_user_id", ApiTokens::Table, ApiTokens::UserId).await?;

        manager
            .create_table(
                Table::create()
                    .table(Projects::Table)
                    .col(pk_auto(Projects::Id))
                    .col(string_len(Projects::UserId, 40))
                    .col(string_len(Projects::Name, 100))
                    .col(text_null(Projects::Description))
                    .col(
                        string_len(Projects::RepositoryKind, 20)
                            .check(one_of(Projects::RepositoryKind, &["github", "git", "local", "empty"])),
                    )
                    .col(text(Projects::RepositoryLocation))
                    .col(timestamp_with_time_zone(Projects::CreatedAt))
                    .col(timestamp_with_time_zone(Projects::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Projects::Table, Projects::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_projects_user_id", Projects::Table, Projects::UserId).await?;

        manager
            .create_table(
                Table::create()
                    .table(ProjectMembers::Table)
                    .col(integer(ProjectMembers::ProjectId))
                    .col(string_len(ProjectMembers::UserId, 40))
                    .col(string_len(ProjectMembers::Role, 20).check(one_of(ProjectMembers::Role, &["owner", "member"])))
                    .col(timestamp_with_time_zone(ProjectMembers::CreatedAt))
                    .primary_key(Index::create().col(ProjectMembers::ProjectId).col(ProjectMembers::UserId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProjectMembers::Table, ProjectMembers::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProjectMembers::Table, ProjectMembers::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_project_members_user_id", ProjectMembers::Table, ProjectMembers::UserId).await?;

        manager.create_table(chat_messages_table(ChatMessages::Table)).await?;
        index(manager, "idx_chat_messages_project_id", ChatMessages::Table, ChatMessages::ProjectId).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ChatMessages::Table.into_iden(),
            ProjectMembers::Table.into_iden(),
            Projects::Table.into_iden(),
            ApiTokens::Table.into_iden(),
            AuthSessions::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

/// The pre-ticket `chat_messages` table, under any name (the ticket migration's `down` rebuilds
/// it on SQLite, which cannot drop a foreign-key column in place).
pub fn chat_messages_table(name: impl IntoIden) -> TableCreateStatement {
    let name = name.into_iden();
    Table::create()
        .table(name.clone())
        .col(big_integer(ChatMessages::Id).auto_increment().primary_key())
        .col(integer(ChatMessages::ProjectId))
        .col(string_len_null(ChatMessages::UserId, 40))
        .col(string_len(ChatMessages::Role, 20).check(one_of(ChatMessages::Role, &["user", "assistant", "system"])))
        .col(text(ChatMessages::Content))
        .col(string_len_null(ChatMessages::Model, 100))
        .col(integer_null(ChatMessages::InputTokens))
        .col(integer_null(ChatMessages::OutputTokens))
        .col(string_len_null(ChatMessages::CommitSha, 64))
        .col(timestamp_with_time_zone(ChatMessages::CreatedAt))
        .foreign_key(
            ForeignKey::create()
                .from(name, ChatMessages::ProjectId)
                .to(Projects::Table, Projects::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

async fn index(manager: &SchemaManager<'_>, name: &str, table: impl IntoIden, col: impl IntoIden) -> Result<(), DbErr> {
    manager.create_index(Index::create().name(name).table(table).col(col).to_owned()).await
}

#[derive(DeriveIden)]
pub enum Users {
    Table,
    Id,
    Email,
    DisplayName,
    PasswordHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuthSessions {
    Table,
    Id,
    UserId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    UserId,
    Name,
    TokenHash,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
pub enum Projects {
    Table,
    Id,
    UserId,
    Name,
    Description,
    RepositoryKind,
    RepositoryLocation,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ProjectMembers {
    Table,
    ProjectId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum ChatMessages {
    Table,
    Id,
    ProjectId,
    UserId,
    Role,
    Content,
    Model,
    InputTokens,
    OutputTokens,
    CommitSha,
    CreatedAt,
}
