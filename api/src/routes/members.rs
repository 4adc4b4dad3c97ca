//! Project members.

use crate::access::ProjectAccess;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::{Json, PathId};
use crate::services;
use crate::state::AppState;
use crate::store;
use actix_web::{HttpResponse, delete, get, post, web};
use api_types::{AddMemberRequest, ErrorBody, MemberList, ProjectMember};

/// Who is in the project (any member may look).
#[utoipa::path(tag = "members", params(("id" = i32, Path)), responses((status = 200, body = MemberList), (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}/members")]
pub async fn list_members(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId,)>,
) -> Result<web::Json<MemberList>, ApiError> {
    let access = ProjectAccess::load(&state.db, path.0.0, &user).await?;
    let rows = store::members::list(&state.db, access.id()).await?;
    let members: Vec<ProjectMember> = rows.into_iter().map(|(m, u)| entity::convert::member(m, u)).collect();
    Ok(web::Json(MemberList { total: members.len() as u64, members }))
}

/// Add a registered user by email (owner only).
#[utoipa::path(tag = "members", params(("id" = i32, Path)), request_body = AddMemberRequest, responses(
    (status = 201, body = ProjectMember), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/projects/{id}/members")]
pub async fn add_member(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId,)>,
    body: Json<AddMemberRequest>,
) -> Result<HttpResponse, ApiError> {
    let member = services::projects::add_member(&state.db, &user, path.0.0, body.0).await?;
    Ok(HttpResponse::Created().json(member))
}

/// Remove a member (owner only; a member may remove themselves).
#[utoipa::path(tag = "members", params(("id" = i32, Path), ("user_id" = String, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[delete("/api/projects/{id}/members/{user_id}")]
pub async fn remove_member(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, member_id) = path.into_inner();
    services::projects::remove_member(&state.db, &user, project_id.0, &member_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
