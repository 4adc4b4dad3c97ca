//! Project settings (owner only): the default branch, and the audit trail.

use crate::access::ProjectAccess;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::pagination;
use crate::state::AppState;
use crate::store::{self, audit::AuditRecord};
use api_types::{
    AuditAction, AuditEventList, DefaultBranchResponse, ErrorCode, GitHubBranch, PageQuery, RepositoryState,
    UpdateDefaultBranchRequest, validate,
};
use entity::project;
use sea_orm::DatabaseConnection;
use serde_json::json;

/// The project's branches (session branches left out): from GitHub's API for GitHub projects
/// when the user has a token, else from the mirror.
pub async fn branches(
    state: &AppState,
    user_id: &str,
    project: &project::Model,
) -> Result<Vec<GitHubBranch>, ApiError> {
    if let Some(remote) = crate::services::github::remote_branches(state, user_id, project).await? {
        let mut branches: Vec<GitHubBranch> = remote
            .into_iter()
            .filter(|b| !b.name.starts_with(api_types::SESSION_BRANCH_PREFIX))
            .map(|b| GitHubBranch {
                is_default: b.name == project.default_branch,
                name: b.name,
                commit_sha: b.commit_sha,
            })
            .collect();
        branches.sort_by(|a, b| a.name.cmp(&b.name));
        return Ok(branches);
    }
    if project.repository_state != RepositoryState::Ready {
        return Err(ApiError::conflict(
            ErrorCode::RepositoryNotReady,
            "The project's repository is not ready yet; its branches are listed once it is cloned.",
        ));
    }
    let listed = state.workspaces.with_mirror(project.id, |mirror| mirror.branches()).await?;
    Ok(listed
        .into_iter()
        .map(|branch| GitHubBranch {
            is_default: branch.name == project.default_branch,
            name: branch.name,
            commit_sha: branch.commit_sha,
        })
        .collect())
}

pub async fn default_branch(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
) -> Result<DefaultBranchResponse, ApiError> {
    let access = ProjectAccess::load_as_owner(&state.db, project_id, user).await?;
    let available = branches(state, &user.id, &access.project).await?;
    Ok(DefaultBranchResponse {
        available_branches: available.into_iter().map(|b| b.name).collect(),
        default_branch: access.project.default_branch,
    })
}

/// Sets the branch new sessions start from; it must follow git's rules and exist.
pub async fn set_default_branch(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    request: UpdateDefaultBranchRequest,
) -> Result<DefaultBranchResponse, ApiError> {
    let db = &state.db;
    let access = ProjectAccess::load_as_owner(db, project_id, user).await?;
    let branch = request.default_branch;
    validate::branch_name(&branch).map_err(|message| ApiError::validation("default_branch", message))?;
    if branch.starts_with(api_types::SESSION_BRANCH_PREFIX) {
        return Err(ApiError::validation("default_branch", "A session branch cannot be the default branch."));
    }
    let available: Vec<String> =
        branches(state, &user.id, &access.project).await?.into_iter().map(|b| b.name).collect();
    if !available.contains(&branch) {
        return Err(ApiError::validation(
            "default_branch",
            format!("The branch \"{}\" does not exist in the repository.", branch.escape_default()),
        ));
    }
    let previous = access.project.default_branch.clone();
    let txn = crate::store::begin(db).await.map_err(ApiError::internal)?;
    let project = store::projects::set_default_branch(&txn, access.project, branch).await?;
    store::audit::record(
        &txn,
        AuditRecord {
            actor_id: &user.id,
            project_id,
            chat_session_id: None,
            action: AuditAction::DefaultBranchChanged,
            detail: json!({"from": previous, "to": project.default_branch}),
        },
    )
    .await?;
    store::commit(txn).await.map_err(ApiError::internal)?;
    Ok(DefaultBranchResponse { available_branches: available, default_branch: project.default_branch })
}

pub async fn audit(
    db: &DatabaseConnection,
    user: &CurrentUser,
    project_id: i32,
    page: PageQuery,
) -> Result<AuditEventList, ApiError> {
    let access = ProjectAccess::load_as_owner(db, project_id, user).await?;
    let limit = pagination::limit(page.limit)?;
    let before = pagination::decode_id(page.cursor.as_deref())?;
    let rows = store::audit::list(db, access.id(), before, limit + 1).await?;
    let (rows, next_cursor) = pagination::finish_page(rows, limit, |e| pagination::encode_id(e.id));
    Ok(AuditEventList { events: rows.into_iter().map(entity::convert::audit_event).collect(), next_cursor })
}
