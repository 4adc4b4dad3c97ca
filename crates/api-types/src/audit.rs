//! The audit trail of a project.

use crate::ids::{AuditEventId, ChatSessionPk, ProjectId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "db", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(feature = "db", sea_orm(rs_type = "String", db_type = "String(sea_orm::sea_query::StringLen::N(40))"))]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    #[cfg_attr(feature = "db", sea_orm(string_value = "project_created"))]
    ProjectCreated,
    #[cfg_attr(feature = "db", sea_orm(string_value = "project_updated"))]
    ProjectUpdated,
    #[cfg_attr(feature = "db", sea_orm(string_value = "member_added"))]
    MemberAdded,
    #[cfg_attr(feature = "db", sea_orm(string_value = "member_removed"))]
    MemberRemoved,
    #[cfg_attr(feature = "db", sea_orm(string_value = "default_branch_changed"))]
    DefaultBranchChanged,
    #[cfg_attr(feature = "db", sea_orm(string_value = "session_created"))]
    SessionCreated,
    #[cfg_attr(feature = "db", sea_orm(string_value = "session_updated"))]
    SessionUpdated,
    #[cfg_attr(feature = "db", sea_orm(string_value = "session_deleted"))]
    SessionDeleted,
    /// An environment variable was created or given a new value (the detail names the key, never
    /// the value).
    #[cfg_attr(feature = "db", sea_orm(string_value = "env_var_set"))]
    EnvVarSet,
    #[cfg_attr(feature = "db", sea_orm(string_value = "env_var_deleted"))]
    EnvVarDeleted,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    pub id: AuditEventId,
    pub actor_id: Option<UserId>,
    pub project_id: ProjectId,
    pub chat_session_id: Option<ChatSessionPk>,
    pub action: AuditAction,
    /// What changed, e.g. `{"from": "main", "to": "develop"}`.
    pub detail: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// `GET /api/projects/{id}/audit`: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEventList {
    pub events: Vec<AuditEvent>,
    pub next_cursor: Option<String>,
}
