//! Project environment variables (owner only; values are write-only).

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::{Json, PathId};
use crate::services::env_vars;
use crate::state::AppState;
use actix_web::{HttpResponse, delete, get, put, web};
use api_types::{EnvVar, EnvVarList, ErrorBody, SetEnvVarRequest};

/// The project's variables: names only, never values.
#[utoipa::path(tag = "settings", params(("id" = i32, Path)), responses(
    (status = 200, body = EnvVarList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}/env-vars")]
pub async fn list_env_vars(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId,)>,
) -> Result<web::Json<EnvVarList>, ApiError> {
    Ok(web::Json(env_vars::list(&state, &user, path.0.0).await?))
}

/// Set (create or replace) a variable.
#[utoipa::path(tag = "settings", params(("id" = i32, Path), ("key" = String, Path)), request_body = SetEnvVarRequest, responses(
    (status = 200, body = EnvVar), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/api/projects/{id}/env-vars/{key}")]
pub async fn set_env_var(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, String)>,
    body: Json<SetEnvVarRequest>,
) -> Result<web::Json<EnvVar>, ApiError> {
    let (project_id, key) = path.into_inner();
    Ok(web::Json(env_vars::set(&state, &user, project_id.0, &key, body.0.value).await?))
}

/// Remove a variable.
#[utoipa::path(tag = "settings", params(("id" = i32, Path), ("key" = String, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/api/projects/{id}/env-vars/{key}")]
pub async fn delete_env_var(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, key) = path.into_inner();
    env_vars::delete(&state, &user, project_id.0, &key).await?;
    Ok(HttpResponse::NoContent().finish())
}
