//! The audit trail records environment variables being set and deleted (`env_var_set`,
//! `env_var_deleted`): the `audit_events.action` check constraint takes the two new values.
//! PostgreSQL swaps the constraint; SQLite, which cannot alter one, rebuilds the table.

use crate::m20250601_000001_pre_ticket_schema::Projects;
use crate::m20251115_000003_runs_audit_and_secrets::AuditEvents;
use crate::sql::{one_of, run};
use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20251130_000006_audit_env_vars"
    }
}

/// The actions before this migration.
const BEFORE: &[&str] = &[
    "project_created",
    "project_updated",
    "member_added",
    "member_removed",
    "default_branch_changed",
    "session_created",
    "session_updated",
    "session_deleted",
];

const ADDED: &[&str] = &["env_var_set", "env_var_deleted"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        allow_actions(manager, &[BEFORE, ADDED].concat()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The older schema cannot hold the new actions: their entries go.
        run(manager, &["DELETE FROM audit_events WHERE action IN ('env_var_set', 'env_var_deleted')"]).await?;
        allow_actions(manager, BEFORE).await
    }
}

/// Makes `actions` the values `audit_events.action` accepts, keeping every row.
async fn allow_actions(manager: &SchemaManager<'_>, actions: &[&str]) -> Result<(), DbErr> {
    match manager.get_database_backend() {
        DbBackend::Sqlite => {
            manager.create_table(audit_events_rebuild(actions)).await?;
            run(
                manager,
                &[
                    "INSERT INTO audit_events_rebuild (id, actor_id, project_id, chat_session_id, action, detail, \
                     created_at) SELECT id, actor_id, project_id, chat_session_id, action, detail, created_at \
                     FROM audit_events",
                    "DROP TABLE audit_events",
                    "ALTER TABLE audit_events_rebuild RENAME TO audit_events",
                    "CREATE INDEX idx_audit_events_project_id ON audit_events (project_id, id)",
                ],
            )
            .await
        }
        _ => {
            // PostgreSQL named the column's check `audit_events_action_check`.
            let values = actions.iter().map(|action| format!("'{action}'")).collect::<Vec<_>>().join(", ");
            let add = format!(
                "ALTER TABLE audit_events ADD CONSTRAINT audit_events_action_check CHECK (action IN ({values}))"
            );
            run(manager, &["ALTER TABLE audit_events DROP CONSTRAINT audit_events_action_check", &add]).await
        }
    }
}

/// `audit_events` as migration 3 made it, named `audit_events_rebuild`, accepting `actions`.
fn audit_events_rebuild(actions: &[&str]) -> TableCreateStatement {
    Table::create()
        .table(AuditRebuild::Table)
        .col(big_integer(AuditEvents::Id).auto_increment().primary_key())
        .col(string_len_null(AuditEvents::ActorId, 40))
        .col(integer(AuditEvents::ProjectId))
        .col(integer_null(AuditEvents::ChatSessionId))
        .col(string_len(AuditEvents::Action, 40).check(one_of(AuditEvents::Action, actions)))
        .col(json(AuditEvents::Detail))
        .col(timestamp_with_time_zone(AuditEvents::CreatedAt))
        .foreign_key(
            ForeignKey::create()
                .from(AuditRebuild::Table, AuditEvents::ProjectId)
                .to(Projects::Table, Projects::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

#[derive(DeriveIden)]
enum AuditRebuild {
    #[sea_orm(iden = "audit_events_rebuild")]
    Table,
}
