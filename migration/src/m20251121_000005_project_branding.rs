//! `projects.branding`: the project's colors and fonts (JSON), passed to the agent.

use crate::m20250601_000001_pre_ticket_schema::Projects;
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20251121_000005_project_branding"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Projects::Table).add_column(json_null(Columns::Branding)).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Projects::Table).drop_column(Columns::Branding).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Columns {
    Branding,
}
