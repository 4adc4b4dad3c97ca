//! Projects.

use crate::access::ProjectAccess;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::{Json, PathId};
use crate::pagination;
use crate::services;
use crate::state::AppState;
use crate::store;
use actix_web::{HttpResponse, delete, get, post, put, web};
use api_types::{CreateProjectRequest, ErrorBody, PageQuery, Project, ProjectList, UpdateProjectRequest};

/// The projects the user is a member of, newest first.
#[utoipa::path(tag = "projects", params(PageQuery), responses((status = 200, body = ProjectList), (status = 401, body = ErrorBody)))]
#[get("/api/projects")]
pub async fn list_projects(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<PageQuery>,
) -> Result<web::Json<ProjectList>, ApiError> {
    let limit = pagination::limit(query.limit)?;
    let before = pagination::decode_id(query.cursor.as_deref())?.map(|id| i32::try_from(id).unwrap_or(i32::MAX));
    let (rows, total) = store::projects::list_for_member(&state.db, &user.id, before, limit + 1).await?;
    let (rows, next_cursor) = pagination::finish_page(rows, limit, |(p, _)| pagination::encode_id(p.id.into()));
    let projects = rows.into_iter().map(|(project, role)| entity::convert::project(project, role)).collect();
    Ok(web::Json(ProjectList { projects, total, next_cursor }))
}

/// Create a project; the caller becomes its owner.
#[utoipa::path(tag = "projects", request_body = CreateProjectRequest, responses(
    (status = 201, body = Project), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/projects")]
pub async fn create_project(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: Json<CreateProjectRequest>,
) -> Result<HttpResponse, ApiError> {
    let project = services::projects::create(&state, &user, body.0).await?;
    Ok(HttpResponse::Created().json(project))
}

/// One project.
#[utoipa::path(tag = "projects", params(("id" = i32, Path)), responses((status = 200, body = Project), (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}")]
pub async fn get_project(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId,)>,
) -> Result<web::Json<Project>, ApiError> {
    let access = ProjectAccess::load(&state.db, path.0.0, &user).await?;
    Ok(web::Json(services::projects::present(&state, access.project, access.role)))
}

/// Rename a project or change its description (owner only).
#[utoipa::path(tag = "projects", params(("id" = i32, Path)), request_body = UpdateProjectRequest, responses(
    (status = 200, body = Project), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/api/projects/{id}")]
pub async fn update_project(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId,)>,
    body: Json<UpdateProjectRequest>,
) -> Result<web::Json<Project>, ApiError> {
    Ok(web::Json(services::projects::update(&state.db, &user, path.0.0, body.0).await?))
}

/// Delete a project with its sessions and messages (owner only).
#[utoipa::path(tag = "projects", params(("id" = i32, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/api/projects/{id}")]
pub async fn delete_project(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId,)>,
) -> Result<HttpResponse, ApiError> {
    services::projects::delete(&state.db, &user, path.0.0).await?;
    state.previews.remove_project(path.0.0).await;
    Ok(HttpResponse::NoContent().finish())
}
