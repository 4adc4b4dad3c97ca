//! Running the user's app: the project's run settings and copied files (owner only), each
//! session's setup (its log as server-sent events, retry, skip), and disk use.

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::{Json, PathId};
use crate::process_log::resume_after;
use crate::services::{disk, run_settings, setup};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use api_types::{
    ErrorBody, LogEvent, ProjectDisk, ProjectFile, PutProjectFileRequest, RunSettings, SessionSetup,
    SetupActionRequest, UpdateRunSettingsRequest,
};

/// The project's run settings: each value in force, where it comes from, and the copied files.
#[utoipa::path(tag = "settings", params(("id" = i32, Path)), responses(
    (status = 200, body = RunSettings), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}/settings/run")]
pub async fn get_run_settings(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId,)>,
) -> Result<web::Json<RunSettings>, ApiError> {
    Ok(web::Json(run_settings::get(&state, &user, path.0.0).await?))
}

/// Replace the project's own run settings (an empty value leaves it to `kosuke.json`).
#[utoipa::path(tag = "settings", params(("id" = i32, Path)), request_body = UpdateRunSettingsRequest, responses(
    (status = 200, body = RunSettings), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
#[put("/api/projects/{id}/settings/run")]
pub async fn put_run_settings(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId,)>,
    body: Json<UpdateRunSettingsRequest>,
) -> Result<web::Json<RunSettings>, ApiError> {
    Ok(web::Json(run_settings::put(&state, &user, path.0.0, body.0).await?))
}

/// Add a file copied into each new checkout, or replace the one at its path.
#[utoipa::path(tag = "settings", params(("id" = i32, Path)), request_body = PutProjectFileRequest, responses(
    (status = 200, body = ProjectFile), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
#[post("/api/projects/{id}/settings/run/files")]
pub async fn put_project_file(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId,)>,
    body: Json<PutProjectFileRequest>,
) -> Result<web::Json<ProjectFile>, ApiError> {
    Ok(web::Json(run_settings::put_file(&state, &user, path.0.0, body.0).await?))
}

/// Stop copying a file into new checkouts (checkouts made already keep theirs).
#[utoipa::path(tag = "settings", params(("id" = i32, Path), ("file_id" = i32, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/api/projects/{id}/settings/run/files/{file_id}")]
pub async fn delete_project_file(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, file_id) = path.into_inner();
    run_settings::delete_file(&state, &user, project_id.0, file_id.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The session checkout's setup: its state, command and log.
#[utoipa::path(tag = "chat_sessions", params(("id" = i32, Path), ("session_pk" = i32, Path)), responses(
    (status = 200, body = SessionSetup), (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}/chat-sessions/{session_pk}/setup")]
pub async fn get_setup(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
) -> Result<web::Json<SessionSetup>, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    Ok(web::Json(setup::get(&state, &user, project_id.0, session_pk.0).await?))
}

/// Retry the setup (it runs in the background; watch its events) or skip a failed one.
#[utoipa::path(tag = "chat_sessions", params(("id" = i32, Path), ("session_pk" = i32, Path)), request_body = SetupActionRequest, responses(
    (status = 202, body = SessionSetup), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/api/projects/{id}/chat-sessions/{session_pk}/setup")]
pub async fn post_setup(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
    body: Json<SetupActionRequest>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    let answer = setup::act(&state, &user, project_id.0, session_pk.0, body.0.action).await?;
    Ok(HttpResponse::Accepted().json(answer))
}

/// The setup's log as server-sent events: `line` events (the id is the line's number; send
/// `Last-Event-ID` to resume), then one `end` event.
#[utoipa::path(tag = "chat_sessions", params(("id" = i32, Path), ("session_pk" = i32, Path)), responses(
    (status = 200, description = "text/event-stream of log lines", content_type = "text/event-stream", body = LogEvent),
    (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}/chat-sessions/{session_pk}/setup/events")]
pub async fn get_setup_events(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    let log = setup::log(&state, &user, project_id.0, session_pk.0).await?;
    Ok(log_stream(&req, log))
}

/// A process log as server-sent events, from after the `Last-Event-ID` the client sends.
pub(super) fn log_stream(req: &HttpRequest, log: std::sync::Arc<crate::process_log::ProcessLog>) -> HttpResponse {
    let after = resume_after(req.headers().get("last-event-id").and_then(|v| v.to_str().ok()));
    super::chat::sse_response(log.events(after))
}

/// What the project takes on disk: mirror, spare checkout, each session's checkout.
#[utoipa::path(tag = "projects", params(("id" = i32, Path)), responses(
    (status = 200, body = ProjectDisk), (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}/disk")]
pub async fn get_disk(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId,)>,
) -> Result<web::Json<ProjectDisk>, ApiError> {
    Ok(web::Json(disk::project(&state, &user, path.0.0).await?))
}
