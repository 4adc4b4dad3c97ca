//! The server's administration (admins only): accounts, the sign-up mode, invite links.

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::Json;
use crate::services::admin;
use crate::state::AppState;
use actix_web::{HttpResponse, get, post, put, web};
use api_types::{AdminUser, AdminUserList, ErrorBody, Invite, NodeList, ServerSettings, UpdateUserRequest};

/// Every account (admins only).
#[utoipa::path(tag = "admin", responses(
    (status = 200, body = AdminUserList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[get("/api/admin/users")]
pub async fn list_users(state: web::Data<AppState>, user: CurrentUser) -> Result<web::Json<AdminUserList>, ApiError> {
    Ok(web::Json(admin::list_users(&state, &user).await?))
}

/// Disable an account, or enable it again (admins only).
#[utoipa::path(tag = "admin", params(("user_id" = String, Path)), request_body = UpdateUserRequest, responses(
    (status = 200, body = AdminUser), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
#[put("/api/admin/users/{user_id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: Json<UpdateUserRequest>,
) -> Result<web::Json<AdminUser>, ApiError> {
    Ok(web::Json(admin::update_user(&state, &user, &path.into_inner(), body.0).await?))
}

/// Who may sign up (admins only).
#[utoipa::path(tag = "admin", responses((status = 200, body = ServerSettings), (status = 403, body = ErrorBody)))]
#[get("/api/admin/settings")]
pub async fn get_settings(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<web::Json<ServerSettings>, ApiError> {
    Ok(web::Json(admin::settings(&state, &user).await?))
}

/// Change who may sign up (admins only).
#[utoipa::path(tag = "admin", request_body = ServerSettings, responses(
    (status = 200, body = ServerSettings), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/api/admin/settings")]
pub async fn put_settings(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: Json<ServerSettings>,
) -> Result<web::Json<ServerSettings>, ApiError> {
    Ok(web::Json(admin::set_settings(&state, &user, body.0).await?))
}

/// A one-use sign-up link, valid for a week (admins only).
#[utoipa::path(tag = "admin", responses((status = 201, body = Invite), (status = 403, body = ErrorBody)))]
#[post("/api/admin/invites")]
pub async fn create_invite(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Created().json(admin::create_invite(&state, &user).await?))
}

/// The kosuke nodes sharing this database, alive or not (admins only); `this_node` is the one
/// that answered. Empty when kosuke runs alone.
#[utoipa::path(tag = "admin", responses(
    (status = 200, body = NodeList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[get("/api/admin/nodes")]
pub async fn list_nodes(state: web::Data<AppState>, user: CurrentUser) -> Result<web::Json<NodeList>, ApiError> {
    Ok(web::Json(crate::nodes::list(&state, &user).await?))
}
