//! Ticket #20: chat sessions. Creates `chat_sessions`, gives every existing project one default
//! "Main Conversation" holding all its messages, keys `chat_messages` by session
//! (`chat_session_id NOT NULL`, `ON DELETE CASCADE`) and adds `projects.default_branch`.
//!
//! Session ids are generated here in Rust so the same code runs on SQLite and PostgreSQL.
//! SQLite cannot add a NOT NULL foreign-key column in place, so there the messages table is
//! rebuilt and its rows copied; PostgreSQL alters it.

use crate::m20250601_000001_pre_ticket_schema::{ChatMessages, Projects, Users, chat_messages_table};
use crate::sql::{one_of, run};
use chrono::{DateTime, Utc};
use rand::Rng;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20251101_000002_chat_sessions"
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
                    .table(ChatSessions::Table)
                    .col(pk_auto(ChatSessions::Id))
                    .col(integer(ChatSessions::ProjectId))
                    .col(string_len(ChatSessions::UserId, 40))
                    .col(string_len(ChatSessions::Title, 100))
                    .col(text_null(ChatSessions::Description))
                    .col(string_len_uniq(ChatSessions::SessionId, 50))
                    .col(string_len(ChatSessions::GithubBranchName, 100))
                    .col(
                        string_len(ChatSessions::Status, 20)
                            .default("active")
                            .check(one_of(ChatSessions::Status, &["active", "archived", "completed"])),
                    )
                    .col(timestamp_with_time_zone(ChatSessions::CreatedAt).default(Expr::current_timestamp()))
                    .col(timestamp_with_time_zone(ChatSessions::UpdatedAt).default(Expr::current_timestamp()))
                    .col(timestamp_with_time_zone(ChatSessions::LastActivityAt).default(Expr::current_timestamp()))
                    .col(integer(ChatSessions::MessageCount).default(0))
                    .col(boolean(ChatSessions::IsDefault).default(false))
                    .col(string_len_null(ChatSessions::BaseBranch, 100))
                    .col(integer_null(ChatSessions::PullRequestNumber))
                    .col(text_null(ChatSessions::PullRequestUrl))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ChatSessions::Table, ChatSessions::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ChatSessions::Table, ChatSessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The ticket's four indexes, then the one the session list pages through, and the one
        // that lets at most one session per project be the default.
        run(
            manager,
            &[
                "CREATE INDEX idx_chat_sessions_project_id ON chat_sessions (project_id)",
                "CREATE INDEX idx_chat_sessions_user_id ON chat_sessions (user_id)",
                "CREATE INDEX idx_chat_sessions_session_id ON chat_sessions (session_id)",
                "CREATE INDEX idx_chat_sessions_status ON chat_sessions (status)",
                "CREATE INDEX idx_chat_sessions_list ON chat_sessions (project_id, user_id, last_activity_at, id)",
                "CREATE UNIQUE INDEX idx_chat_sessions_one_default ON chat_sessions (project_id) WHERE is_default",
                "ALTER TABLE projects ADD COLUMN default_branch VARCHAR(100) NOT NULL DEFAULT 'main'",
                "CREATE INDEX idx_projects_default_branch ON projects (default_branch)",
            ],
        )
        .await?;

        create_default_sessions(manager).await?;

        match manager.get_database_backend() {
            DbBackend::Sqlite => {
                manager.create_table(chat_messages_by_session_table(MessagesRebuild::Table)).await?;
                run(
                    manager,
                    &[
                        "INSERT INTO chat_messages_rebuild (id, project_id, chat_session_id, user_id, role, content, \
                         blocks, model, input_tokens, output_tokens, commit_sha, created_at, updated_at) \
                         SELECT m.id, m.project_id, \
                         (SELECT cs.id FROM chat_sessions cs WHERE cs.project_id = m.project_id AND cs.is_default), \
                         m.user_id, m.role, m.content, NULL, m.model, m.input_tokens, m.output_tokens, \
                         m.commit_sha, m.created_at, m.created_at FROM chat_messages m",
                        "DROP TABLE chat_messages",
                        "ALTER TABLE chat_messages_rebuild RENAME TO chat_messages",
                        "CREATE INDEX idx_chat_messages_project_id ON chat_messages (project_id)",
                    ],
                )
                .await?;
            }
            _ => {
                run(
                    manager,
                    &[
                        "ALTER TABLE chat_messages \
                         ADD COLUMN chat_session_id INTEGER REFERENCES chat_sessions (id) ON DELETE CASCADE, \
                         ADD COLUMN blocks JSON, \
                         ADD COLUMN updated_at TIMESTAMP WITH TIME ZONE",
                        "UPDATE chat_messages SET updated_at = created_at, chat_session_id = \
                         (SELECT cs.id FROM chat_sessions cs WHERE cs.project_id = chat_messages.project_id AND cs.is_default)",
                        "ALTER TABLE chat_messages \
                         ALTER COLUMN chat_session_id SET NOT NULL, \
                         ALTER COLUMN updated_at SET NOT NULL",
                    ],
                )
                .await?;
            }
        }
        run(manager, &["CREATE INDEX idx_chat_messages_session_id ON chat_messages (chat_session_id, id)"]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Sqlite => {
                manager.create_table(chat_messages_table(MessagesRebuild::Table)).await?;
                run(
                    manager,
                    &[
                        "INSERT INTO chat_messages_rebuild (id, project_id, user_id, role, content, model, \
                         input_tokens, output_tokens, commit_sha, created_at) \
                         SELECT id, project_id, user_id, role, content, model, input_tokens, output_tokens, \
                         commit_sha, created_at FROM chat_messages",
                        "DROP TABLE chat_messages",
                        "ALTER TABLE chat_messages_rebuild RENAME TO chat_messages",
                        "CREATE INDEX idx_chat_messages_project_id ON chat_messages (project_id)",
                    ],
                )
                .await?;
            }
            _ => {
                run(
                    manager,
                    &[
                        "DROP INDEX idx_chat_messages_session_id",
                        "ALTER TABLE chat_messages DROP COLUMN chat_session_id, DROP COLUMN blocks, DROP COLUMN updated_at",
                    ],
                )
                .await?;
            }
        }
        run(
            manager,
            &[
                "DROP TABLE chat_sessions",
                "DROP INDEX idx_projects_default_branch",
                "ALTER TABLE projects DROP COLUMN default_branch",
            ],
        )
        .await
    }
}

/// One default session per project, owned by the project's owner, counting its messages.
async fn create_default_sessions(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let rows = db
        .query_all_raw(Statement::from_string(
            manager.get_database_backend(),
            "SELECT p.id, p.user_id, p.created_at, COUNT(m.id) AS message_count \
             FROM projects p LEFT JOIN chat_messages m ON m.project_id = p.id \
             GROUP BY p.id, p.user_id, p.created_at ORDER BY p.id",
        ))
        .await?;
    let now = Utc::now();
    for row in rows {
        let project_id: i32 = row.try_get("", "id")?;
        let owner: String = row.try_get("", "user_id")?;
        let created_at: DateTime<Utc> = row.try_get("", "created_at")?;
        let message_count: i64 = row.try_get("", "message_count")?;
        let last_activity_at = last_message_at(manager, project_id).await?.unwrap_or(created_at);
        let session_id = new_session_id();
        let insert = Query::insert()
            .into_table(ChatSessions::Table)
            .columns([
                ChatSessions::ProjectId,
                ChatSessions::UserId,
                ChatSessions::Title,
                ChatSessions::SessionId,
                ChatSessions::GithubBranchName,
                ChatSessions::Status,
                ChatSessions::CreatedAt,
                ChatSessions::UpdatedAt,
                ChatSessions::LastActivityAt,
                ChatSessions::MessageCount,
                ChatSessions::IsDefault,
            ])
            .values_panic([
                project_id.into(),
                owner.into(),
                "Main Conversation".into(),
                session_id.clone().into(),
                format!("kosuke-chat-{session_id}").into(),
                "active".into(),
                now.into(),
                now.into(),
                last_activity_at.into(),
                <i32 as TryFrom<i64>>::try_from(message_count).unwrap_or(i32::MAX).into(),
                true.into(),
            ])
            .to_owned();
        manager.exec_stmt(insert).await?;
    }
    Ok(())
}

/// The newest message of a project, compared in Rust so both backends agree on the order.
async fn last_message_at(manager: &SchemaManager<'_>, project_id: i32) -> Result<Option<DateTime<Utc>>, DbErr> {
    let query = Query::select()
        .column(ChatMessages::CreatedAt)
        .from(ChatMessages::Table)
        .and_where(Expr::col(ChatMessages::ProjectId).eq(project_id))
        .to_owned();
    let rows = manager.get_connection().query_all_raw(manager.get_database_backend().build(&query)).await?;
    let mut newest: Option<DateTime<Utc>> = None;
    for row in rows {
        let at: DateTime<Utc> = row.try_get("", "created_at")?;
        newest = Ord::max(newest, Some(at));
    }
    Ok(newest)
}

/// 20 random lowercase letters and digits (about 103 bits), valid in a git ref name.
fn new_session_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..20).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect()
}

/// `chat_messages` as the ticket leaves it (used to rebuild the table on SQLite).
fn chat_messages_by_session_table(name: impl IntoIden) -> TableCreateStatement {
    let name = name.into_iden();
    Table::create()
        .table(name.clone())
        .col(big_integer(ChatMessages::Id).auto_increment().primary_key())
        .col(integer(ChatMessages::ProjectId))
        .col(integer(ChatSessionMessages::ChatSessionId))
        .col(string_len_null(ChatMessages::UserId, 40))
        .col(string_len(ChatMessages::Role, 20).check(one_of(ChatMessages::Role, &["user", "assistant", "system"])))
        .col(text(ChatMessages::Content))
        .col(json_null(ChatSessionMessages::Blocks))
        .col(string_len_null(ChatMessages::Model, 100))
        .col(integer_null(ChatMessages::InputTokens))
        .col(integer_null(ChatMessages::OutputTokens))
        .col(string_len_null(ChatMessages::CommitSha, 64))
        .col(timestamp_with_time_zone(ChatMessages::CreatedAt))
        .col(timestamp_with_time_zone(ChatSessionMessages::UpdatedAt))
        .foreign_key(
            ForeignKey::create()
                .from(name.clone(), ChatMessages::ProjectId)
                .to(Projects::Table, Projects::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .foreign_key(
            ForeignKey::create()
                .from(name, ChatSessionMessages::ChatSessionId)
                .to(ChatSessions::Table, ChatSessions::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

#[derive(DeriveIden)]
pub enum ChatSessions {
    Table,
    Id,
    ProjectId,
    UserId,
    Title,
    Description,
    SessionId,
    GithubBranchName,
    Status,
    CreatedAt,
    UpdatedAt,
    LastActivityAt,
    MessageCount,
    IsDefault,
    BaseBranch,
    PullRequestNumber,
    PullRequestUrl,
}

/// Columns the ticket adds to `chat_messages`.
#[derive(DeriveIden)]
enum ChatSessionMessages {
    ChatSessionId,
    Blocks,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MessagesRebuild {
    #[sea_orm(iden = "chat_messages_rebuild")]
    Table,
}
