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
