//! Several nodes: each project (its mirror, its sessions' checkouts, runs, setups and dev
//! servers) belongs to one node, `projects.owner_node`; NULL while kosuke runs alone. A
//! session taken over from a dead node says what of its work was only on that node's disk
//! (`chat_sessions.lost_work`). On
//! PostgreSQL, every write to a table the read caches read from is announced on the channel
//! `kosuke_writes` (the table's name as the payload) by a statement trigger: PostgreSQL sends
//! it when the writing transaction commits, to every node listening.

use crate::sql::run;
use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20251211_000017_owner_nodes"
    }
}

/// The tables the read caches read from (`api/src/cache/writes.rs`, `Table`).
const CACHED_TABLES: [&str; 7] =
    ["users", "auth_sessions", "api_tokens", "projects", "project_members", "chat_sessions", "chat_messages"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Each column only where it is missing, asked first: SQLite checks an `ADD COLUMN`
        // against the schema the connection last loaded, and after this migration's down on
        // another pooled connection a stale one still saw `owner_node` and refused it as a
        // duplicate (seen once in CI, again with migration 19). The read reloads the schema.
        if !manager.has_column("projects", "owner_node").await? {
            manager
                .alter_table(
                    Table::alter().table(Projects::Table).add_column(integer_null(Projects::OwnerNode)).to_owned(),
                )
                .await?;
        }
        if !manager.has_column("chat_sessions", "lost_work").await? {
            manager
                .alter_table(
                    Table::alter().table(ChatSessions::Table).add_column(text_null(ChatSessions::LostWork)).to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_projects_owner_node")
                    .table(Projects::Table)
                    .col(Projects::OwnerNode)
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        run(
            manager,
            &["CREATE FUNCTION kosuke_notify_write() RETURNS trigger LANGUAGE plpgsql AS $$ \
               BEGIN PERFORM pg_notify('kosuke_writes', TG_TABLE_NAME); RETURN NULL; END $$"],
        )
        .await?;
        for table in CACHED_TABLES {
            let trigger = format!(
                "CREATE TRIGGER kosuke_notify_write AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} \
                 FOR EACH STATEMENT EXECUTE FUNCTION kosuke_notify_write()"
            );
            run(manager, &[&trigger]).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            for table in CACHED_TABLES {
                run(manager, &[&format!("DROP TRIGGER kosuke_notify_write ON {table}")]).await?;
            }
            run(manager, &["DROP FUNCTION kosuke_notify_write()"]).await?;
        }
        manager.drop_index(Index::drop().name("idx_projects_owner_node").table(Projects::Table).to_owned()).await?;
        manager
            .alter_table(Table::alter().table(ChatSessions::Table).drop_column(ChatSessions::LostWork).to_owned())
            .await?;
        manager.alter_table(Table::alter().table(Projects::Table).drop_column(Projects::OwnerNode).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum ChatSessions {
    Table,
    LostWork,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    OwnerNode,
}
