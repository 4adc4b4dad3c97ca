//! kosuke's schema history. Each migration is frozen once released: it never imports `entity`
//! (whose shapes follow the newest schema) and names its tables and columns itself.
//!
//! The history starts with the schema before ticket #20 (messages keyed by project), then applies
//! the ticket's migration, which creates one default "Main Conversation" per existing project and
//! re-points its messages. Every step runs on SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;

mod m20250601_000001_pre_ticket_schema;
mod m20251101_000002_chat_sessions;
mod m20251115_000003_runs_audit_and_secrets;
mod m20251120_000004_repository_and_workspace_state;
mod m20251121_000005_project_branding;
mod m20251130_000006_audit_env_vars;
mod m20251201_000007_accounts;
mod m20251202_000008_run_journal;
mod m20251203_000009_session_runtime;
mod m20251204_000010_checkpoints;
mod m20251205_000011_queued_prompts;
mod m20251206_000012_attention;
mod m20251207_000013_queued_comments;
mod m20251208_000014_session_updates;
mod m20251209_000015_pull_request_life;
mod m20251210_000016_nodes;
mod m20251211_000017_owner_nodes;
mod m20251212_000018_session_events;
mod m20251213_000019_claimed_runs;
mod sql;

pub use sea_orm_migration::MigratorTrait;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20250601_000001_pre_ticket_schema::Migration),
            Box::new(m20251101_000002_chat_sessions::Migration),
            Box::new(m20251115_000003_runs_audit_and_secrets::Migration),
            Box::new(m20251120_000004_repository_and_workspace_state::Migration),
            Box::new(m20251121_000005_project_branding::Migration),
            Box::new(m20251130_000006_audit_env_vars::Migration),
            Box::new(m20251201_000007_accounts::Migration),
            Box::new(m20251202_000008_run_journal::Migration),
            Box::new(m20251203_000009_session_runtime::Migration),
            Box::new(m20251204_000010_checkpoints::Migration),
            Box::new(m20251205_000011_queued_prompts::Migration),
            Box::new(m20251206_000012_attention::Migration),
            Box::new(m20251207_000013_queued_comments::Migration),
            Box::new(m20251208_000014_session_updates::Migration),
            Box::new(m20251209_000015_pull_request_life::Migration),
            Box::new(m20251210_000016_nodes::Migration),
            Box::new(m20251211_000017_owner_nodes::Migration),
            Box::new(m20251212_000018_session_events::Migration),
            Box::new(m20251213_000019_claimed_runs::Migration),
        ]
    }
}
