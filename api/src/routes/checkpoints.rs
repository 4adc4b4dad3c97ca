//! Turns as checkpoints: revert a chat to a turn, undo that, fork a new chat from a turn.

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::{Json, PathId};
use crate::services::checkpoints;
use crate::state::AppState;
use actix_web::{HttpResponse, post, web};
use api_types::{ChatSession, ErrorBody, ForkRequest, RevertRequest};

/// Move the chat's branch back to the commit of one of its turns; the later turns are marked
/// reverted, the head it had is kept for Undo.
#[utoipa::path(tag = "chat sessions", params(("id" = i32, Path), ("session_pk" = i32, Path)), request_body = RevertRequest,
    responses((status = 200, body = ChatSession), (status = 404, body = ErrorBody),
    (status = 409, description = "A live run (`session_busy`), an archived chat, or the branch is not past that turn.", body = ErrorBody),
    (status = 422, body = ErrorBody)))]
#[post("/api/projects/{id}/chat-sessions/{session_pk}/revert")]
pub async fn revert(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
    body: Json<RevertRequest>,
) -> Result<web::Json<ChatSession>, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    Ok(web::Json(checkpoints::revert(&state, &user, project_id.0, session_pk.0, body.0.message_id.0).await?))
}

/// Take the chat's last revert back (until a turn is made after it).
#[utoipa::path(tag = "chat sessions", params(("id" = i32, Path), ("session_pk" = i32, Path)),
    responses((status = 200, body = ChatSession), (status = 404, body = ErrorBody),
    (status = 409, description = "No revert to undo, a turn made since, or a live run.", body = ErrorBody)))]
#[post("/api/projects/{id}/chat-sessions/{session_pk}/revert/undo")]
pub async fn undo_revert(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
) -> Result<web::Json<ChatSession>, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    Ok(web::Json(checkpoints::undo(&state, &user, project_id.0, session_pk.0).await?))
}

/// A new chat whose branch starts at one turn's commit, with the conversation up to and
/// including that turn; the source is untouched.
#[utoipa::path(tag = "chat sessions", params(("id" = i32, Path), ("session_pk" = i32, Path)), request_body = ForkRequest,
    responses((status = 201, body = ChatSession), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/projects/{id}/chat-sessions/{session_pk}/fork")]
pub async fn fork(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
    body: Json<ForkRequest>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    let session = checkpoints::fork(&state, &user, project_id.0, session_pk.0, body.0).await?;
    Ok(HttpResponse::Created().json(session))
}
