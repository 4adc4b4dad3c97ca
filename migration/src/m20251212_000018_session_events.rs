//! `session_events`: each session's run events, stored so that any node streams them and a
//! watcher resumes with `Last-Event-ID` on any node and after any restart. `seq` orders a
//! session's events; the session's owner assigns it (one more than the last), so no reader
//! skips an event committed late, as it could with one sequence for every session. `payload`
//! is the event's JSON, sealed with the server's key like the messages it is part of. On
//! PostgreSQL each insert is announced on the channel `kosuke_events` (the session's id as the
//! payload; PostgreSQL folds a transaction's equal notifications into one and sends it at
//! commit).
//!
//! `nodes.preview_address`: where the other nodes reach a node's preview proxy (`host:port`),
//! so a preview opened through any node is passed on to the node running its dev server.

use crate::m20251101_000002_chat_sessions::ChatSessions;
use crate::sql::run;
use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20251212_000018_session_events"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Nodes::Table).add_column(string_null(Nodes::PreviewAddress)).to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SessionEvents::Table)
                    .col(big_pk_auto(SessionEvents::Id))
                    .col(integer(SessionEvents::SessionId))
                    .col(big_integer(SessionEvents::Seq))
                    .col(integer(SessionEvents::RunId))
                    .col(string_len(SessionEvents::Kind, 32))
                    .col(text(SessionEvents::Payload))
                    .col(timestamp_with_time_zone(SessionEvents::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SessionEvents::Table, SessionEvents::SessionId)
                            .to(ChatSessions::Table, ChatSessions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_session_events_seq")
                    .table(SessionEvents::Table)
                    .col(SessionEvents::SessionId)
                    .col(SessionEvents::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_session_events_run")
                    .table(SessionEvents::Table)
                    .col(SessionEvents::RunId)
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        run(
            manager,
            &[
                "CREATE FUNCTION kosuke_notify_event() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN PERFORM pg_notify('kosuke_events', NEW.session_id::text); RETURN NULL; END $$",
                "CREATE TRIGGER kosuke_notify_event AFTER INSERT ON session_events \
                 FOR EACH ROW EXECUTE FUNCTION kosuke_notify_event()",
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SessionEvents::Table).to_owned()).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            run(manager, &["DROP FUNCTION kosuke_notify_event()"]).await?;
        }
        manager.alter_table(Table::alter().table(Nodes::Table).drop_column(Nodes::PreviewAddress).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Nodes {
    Table,
    PreviewAddress,
}

#[derive(DeriveIden)]
enum SessionEvents {
    Table,
    Id,
    SessionId,
    Seq,
    RunId,
    Kind,
    Payload,
    CreatedAt,
}
