//! Project settings and the audit trail (owner only).

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::{Json, PathId};
use crate::services::settings;
use crate::state::AppState;
use actix_web::{get, put, web};
use api_types::{
    AuditEventList, DefaultBranchResponse, ErrorBody, GitHubBranchesResponse, PageQuery, UpdateDefaultBranchRequest,
};

/// The default branch new sessions start from, and the branches to choose from.
#[utoipa::path(tag = "settings", params(("id" = i32, Path)), responses(
    (status = 200, body = DefaultBranchResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}/settings/default-branch")]
pub async fn get_default_branch(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId,)>,
) -> Result<web::Json<DefaultBranchResponse>, ApiError> {
    Ok(web::Json(settings::default_branch(&state, &user, path.0.0).await?))
}

/// Change the default branch (checked against git's ref-name rules).
#[utoipa::path(tag = "settings", params(("id" = i32, Path)), request_body = UpdateDefaultBranchRequest, responses(
    (status = 200, body = DefaultBranchResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/api/projects/{id}/settings/default-branch")]
pub async fn put_default_branch(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId,)>,
    body: Json<UpdateDefaultBranchRequest>,
) -> Result<web::Json<DefaultBranchResponse>, ApiError> {
    Ok(web::Json(settings::set_default_branch(&state, &user, path.0.0, body.0).await?))
}

/// Who changed what in the project, newest first.
#[utoipa::path(tag = "settings", params(("id" = i32, Path), PageQuery), responses(
    (status = 200, body = AuditEventList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}/audit")]
pub async fn list_audit(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId,)>,
    query: web::Query<PageQuery>,
) -> Result<web::Json<AuditEventList>, ApiError> {
    Ok(web::Json(settings::audit(&state.db, &user, path.0.0, query.into_inner()).await?))
}

/// The repository's branches with their head commits; session branches are left out.
#[utoipa::path(tag = "settings", params(("id" = i32, Path)), responses(
    (status = 200, body = GitHubBranchesResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    (status = 502, description = "GitHub could not be reached or failed (`upstream_error`).", body = ErrorBody)))]
#[get("/api/projects/{id}/github/branches")]
pub async fn list_branches(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId,)>,
) -> Result<web::Json<GitHubBranchesResponse>, ApiError> {
    let access = crate::access::ProjectAccess::load(&state.db, path.0.0, &user).await?;
    let branches = settings::branches(&state, &user.id, &access.project).await?;
    Ok(web::Json(GitHubBranchesResponse { branches }))
}
