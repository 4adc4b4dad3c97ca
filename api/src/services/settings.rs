//! Project settings (owner only): the default branch, and the audit trail.

use crate::access::ProjectAccess;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::pagination;
use crate::store::{self, audit::AuditRecord};
use api_types::{
    AuditAction, AuditEventList, DefaultBranchResponse, PageQuery, UpdateDefaultBranchRequest,
    validate,
};
use entity::project;
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;

/// The branches a user may choose from. Until the project has a mirror to list refs from,
/// that is the current default branch alone.
fn available_branches(project: &project::Model) -> Vec<String> {
    vec![project.default_branch.clone()]
}

pub async fn default_branch(
    db: &DatabaseConnection,
    user: &CurrentUser,
    project_id: i32,
) -> Result<DefaultBranchResponse, ApiError> {
    let access = ProjectAccess::load_as_owner(db, project_id, user).await?;
    Ok(DefaultBranchResponse {
        available_branches: available_branches(&access.project),
        default_branch: access.project.default_branch,
    })
}

pub async fn set_default_branch(
    db: &DatabaseConnection,
    user: &CurrentUser,
    project_id: i32,
    request: UpdateDefaultBranchRequest,
) -> Result<DefaultBranchResponse, ApiError> {
    let access = ProjectAccess::load_as_owner(db, project_id, user).await?;
    let branch = request.default_branch;
    validate::branch_name(&branch)
        .map_err(|message| ApiError::validation("default_branch", message))?;
    let previous = access.project.default_branch.clone();
    let txn = db.begin().await.map_err(ApiError::internal)?;
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
    txn.commit().await.map_err(ApiError::internal)?;
    Ok(DefaultBranchResponse {
        available_branches: available_branches(&project),
        default_branch: project.default_branch,
    })
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
    Ok(AuditEventList {
        events: rows.into_iter().map(entity::convert::audit_event).collect(),
        next_cursor,
    })
}
