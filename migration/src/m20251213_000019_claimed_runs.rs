//! Runs admitted by one node and claimed by another: a prompt sent to a node that does not hold
//! the session's project is stored there as a queued run with `agent_runs.claimed_at` NULL
//! (the partial unique index of live runs admits one per session, whichever node stores it),
//! and the node holding the project claims it and runs it. Every run before this migration
//! was started where it was stored: they count as claimed when they were made.
//!
//! On PostgreSQL an unclaimed run, and a message queued behind a live run, are announced on
//! the channel `kosuke_runs` (the session's id), sent at commit: the holding node claims at
//! once instead of at its next poll.

use crate::sql::run;
use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20251213_000019_claimed_runs"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Asked first (a read, which makes this SQLite connection load the schema again when
        // another changed it): SQLite checks an `ADD COLUMN` against the schema the connection
        // last loaded, so after this migration's down on another pooled connection a stale one
        // would still see the column and refuse it as a duplicate (seen in CI).
        if !manager.has_column("agent_runs", "claimed_at").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(AgentRuns::Table)
                        .add_column(timestamp_with_time_zone_null(AgentRuns::ClaimedAt))
                        .to_owned(),
                )
                .await?;
        }
        run(manager, &["UPDATE agent_runs SET claimed_at = created_at"]).await?;
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        run(
            manager,
            &[
                "CREATE FUNCTION kosuke_notify_run() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN PERFORM pg_notify('kosuke_runs', NEW.chat_session_id::text); RETURN NULL; END $$",
                "CREATE TRIGGER kosuke_notify_unclaimed_run AFTER INSERT ON agent_runs \
                 FOR EACH ROW WHEN (NEW.claimed_at IS NULL) EXECUTE FUNCTION kosuke_notify_run()",
                "CREATE TRIGGER kosuke_notify_queued_prompt AFTER INSERT ON queued_prompts \
                 FOR EACH ROW EXECUTE FUNCTION kosuke_notify_run()",
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            run(
                manager,
                &[
                    "DROP TRIGGER kosuke_notify_unclaimed_run ON agent_runs",
                    "DROP TRIGGER kosuke_notify_queued_prompt ON queued_prompts",
                    "DROP FUNCTION kosuke_notify_run()",
                ],
            )
            .await?;
        }
        manager.alter_table(Table::alter().table(AgentRuns::Table).drop_column(AgentRuns::ClaimedAt).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum AgentRuns {
    Table,
    ClaimedAt,
}
