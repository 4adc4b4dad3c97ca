//! A project's branding (members read it; owners change it).

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::{Json, PathId};
use crate::services::branding;
use crate::state::AppState;
use actix_web::{get, put, web};
use api_types::{Branding, ErrorBody};

/// The project's colors and fonts (defaults until set).
#[utoipa::path(tag = "settings", params(("id" = i32, Path)), responses((status = 200, body = Branding), (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}/branding")]
pub async fn get_branding(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId,)>,
) -> Result<web::Json<Branding>, ApiError> {
    Ok(web::Json(branding::get(&state, &user, path.0.0).await?))
}

/// Set the project's colors and fonts (owner only); the agent uses them from the next turn.
#[utoipa::path(tag = "settings", params(("id" = i32, Path)), request_body = Branding, responses(
    (status = 200, body = Branding), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/api/projects/{id}/branding")]
pub async fn put_branding(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId,)>,
    body: Json<Branding>,
) -> Result<web::Json<Branding>, ApiError> {
    Ok(web::Json(branding::set(&state, &user, path.0.0, body.0).await?))
}
