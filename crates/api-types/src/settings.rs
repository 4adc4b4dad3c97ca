//! Project settings.

use serde::{Deserialize, Serialize};

/// `GET /api/projects/{id}/settings/default-branch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DefaultBranchResponse {
    pub default_branch: String,
    /// Branches a user may pick; session branches are left out.
    pub available_branches: Vec<String>,
}

/// `PUT /api/projects/{id}/settings/default-branch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateDefaultBranchRequest {
    pub default_branch: String,
}

/// A branch of the project's repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GitHubBranch {
    pub name: String,
    pub commit_sha: String,
    /// It is the project's default branch.
    pub is_default: bool,
}

/// `GET /api/projects/{id}/github/branches`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GitHubBranchesResponse {
    pub branches: Vec<GitHubBranch>,
}

/// A project environment variable as listed: its value is never sent back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnvVar {
    pub key: String,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// `GET /api/projects/{id}/env-vars`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnvVarList {
    pub variables: Vec<EnvVar>,
}

/// `PUT /api/projects/{id}/env-vars/{key}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetEnvVarRequest {
    pub value: String,
}

/// A project's look, given to the agent with every turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Branding {
    /// `#RRGGBB`.
    pub primary_color: String,
    /// `#RRGGBB`.
    pub accent_color: String,
    /// A CSS font-family list, e.g. `Inter, system-ui, sans-serif`.
    pub body_font: String,
    pub heading_font: String,
}

impl Default for Branding {
    fn default() -> Self {
        Branding {
            primary_color: "#0b57d0".to_owned(),
            accent_color: "#1a7f37".to_owned(),
            body_font: "system-ui, sans-serif".to_owned(),
            heading_font: "system-ui, sans-serif".to_owned(),
        }
    }
}
