//! `project_run_settings`: a project's own setup and dev commands and readiness path (each
//! overrides the repository's `kosuke.json`; `None` leaves it to that file).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "project_run_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: i32,
    pub setup_command: Option<String>,
    pub dev_command: Option<String>,
    pub readiness_path: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
