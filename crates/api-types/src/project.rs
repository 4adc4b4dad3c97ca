//! Projects (a git repository plus its settings) and their members.

use crate::ids::{ProjectId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a project's repository lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RepositorySource {
    /// A repository on GitHub (or the configured GitHub Enterprise).
    Github { owner: String, repo: String },
    /// A git URL: `https://`, `http://`, `git://` or `file://` (SSH remotes are refused).
    Git { url: String },
    /// A repository on the server's own disk.
    Local { path: String },
    /// A new, empty repository kosuke creates.
    Empty,
}

impl RepositorySource {
    pub fn kind(&self) -> RepositoryKind {
        match self {
            RepositorySource::Github { .. } => RepositoryKind::Github,
            RepositorySource::Git { .. } => RepositoryKind::Git,
            RepositorySource::Local { .. } => RepositoryKind::Local,
            RepositorySource::Empty => RepositoryKind::Empty,
        }
    }
}

/// The kind of a [`RepositorySource`], as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "db", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(feature = "db", sea_orm(rs_type = "String", db_type = "String(sea_orm::sea_query::StringLen::N(20))"))]
#[serde(rename_all = "snake_case")]
pub enum RepositoryKind {
    #[cfg_attr(feature = "db", sea_orm(string_value = "github"))]
    Github,
    #[cfg_attr(feature = "db", sea_orm(string_value = "git"))]
    Git,
    #[cfg_attr(feature = "db", sea_orm(string_value = "local"))]
    Local,
    #[cfg_attr(feature = "db", sea_orm(string_value = "empty"))]
    Empty,
}

/// What a user may do in a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "db", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(feature = "db", sea_orm(rs_type = "String", db_type = "String(sea_orm::sea_query::StringLen::N(20))"))]
#[serde(rename_all = "snake_case")]
pub enum ProjectRole {
    /// Changes settings and members, deletes the project.
    #[cfg_attr(feature = "db", sea_orm(string_value = "owner"))]
    Owner,
    /// Works in their own chat sessions.
    #[cfg_attr(feature = "db", sea_orm(string_value = "member"))]
    Member,
}

/// Where a project's mirror of its repository stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "db", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(feature = "db", sea_orm(rs_type = "String", db_type = "String(sea_orm::sea_query::StringLen::N(20))"))]
#[serde(rename_all = "snake_case")]
pub enum RepositoryState {
    /// Being cloned (or created); `repository_progress` tells how far.
    #[cfg_attr(feature = "db", sea_orm(string_value = "cloning"))]
    Cloning,
    #[cfg_attr(feature = "db", sea_orm(string_value = "ready"))]
    Ready,
    /// `repository_error` says why.
    #[cfg_attr(feature = "db", sea_orm(string_value = "failed"))]
    Failed,
}

/// How far a clone has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CloneProgress {
    pub received_objects: u64,
    pub total_objects: u64,
    pub received_bytes: u64,
}

/// A project as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Project {
    pub id: ProjectId,
    pub name: String,
    pub description: Option<String>,
    pub repository: RepositorySource,
    pub default_branch: String,
    /// How sessions are updated from their base when the request does not say.
    #[serde(default)]
    pub update_strategy: crate::UpdateStrategy,
    /// A session whose pull request is merged or closed is archived by itself.
    #[serde(default)]
    pub archive_merged: bool,
    pub repository_state: RepositoryState,
    /// Why the repository could not be cloned, when `repository_state` is `failed`.
    pub repository_error: Option<String>,
    /// Clone progress while `repository_state` is `cloning`.
    pub repository_progress: Option<CloneProgress>,
    pub owner_id: UserId,
    /// The caller's role in this project.
    pub role: ProjectRole,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /api/projects`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateProjectRequest {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub repository: RepositorySource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_branch: Option<String>,
}

/// `PUT /api/projects/{id}`: only the fields given change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateProjectRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// An empty string clears the description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_strategy: Option<crate::UpdateStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_merged: Option<bool>,
}

/// `GET /api/projects`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectList {
    pub projects: Vec<Project>,
    pub total: u64,
    pub next_cursor: Option<String>,
}

/// A member of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectMember {
    pub user_id: UserId,
    pub email: String,
    pub display_name: String,
    pub role: ProjectRole,
    pub added_at: DateTime<Utc>,
}

/// `POST /api/projects/{id}/members`: the owner adds a registered user by email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddMemberRequest {
    pub email: String,
    /// Defaults to `member`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<ProjectRole>,
}

/// `GET /api/projects/{id}/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberList {
    pub members: Vec<ProjectMember>,
    pub total: u64,
}
