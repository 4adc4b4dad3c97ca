//! Keeping sessions mergeable: update a chat from its base branch (or abort an update stopped
//! on conflicts), and the conflict radar of a project's chats.

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::{Json, PathId};
use crate::services::{radar, update};
use crate::state::AppState;
use actix_web::{get, post, web};
use api_types::{ChatSession, ConflictMatrix, ErrorBody, UpdateResult, UpdateSessionRequest};

/// Bring the base branch's tip (fetched first) into the chat's branch by a merge or a rebase;
/// uncommitted files are committed first. Stopped on conflicts, the chat is left with them
/// (`session.update_conflict`) for its next turn to conclude, or for an abort.
#[utoipa::path(tag = "chat sessions", params(("id" = i32, Path), ("session_pk" = i32, Path)), request_body = UpdateSessionRequest,
    responses((status = 200, body = UpdateResult), (status = 404, body = ErrorBody),
    (status = 409, description = "A live run (`session_busy`), an archived chat, or an update already stopped on conflicts.", body = ErrorBody),
    (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
#[post("/api/projects/{id}/chat-sessions/{session_pk}/update")]
pub async fn update_session(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
    body: Json<UpdateSessionRequest>,
) -> Result<web::Json<UpdateResult>, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    Ok(web::Json(update::update(&state, &user, project_id.0, session_pk.0, body.0).await?))
}

/// Abandon the update stopped on conflicts: the branch back at its head before, the checkout
/// clean.
#[utoipa::path(tag = "chat sessions", params(("id" = i32, Path), ("session_pk" = i32, Path)),
    responses((status = 200, body = ChatSession), (status = 404, body = ErrorBody),
    (status = 409, description = "No update stopped on conflicts, or a live run.", body = ErrorBody)))]
#[post("/api/projects/{id}/chat-sessions/{session_pk}/update/abort")]
pub async fn abort_update(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
) -> Result<web::Json<ChatSession>, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    Ok(web::Json(update::abort(&state, &user, project_id.0, session_pk.0).await?))
}

/// Which of the caller's active chats no longer merge cleanly into their base's tip, and which
/// pairs of them do not merge into each other (only conflicting entries; the first 100 chats).
#[utoipa::path(tag = "code", params(("id" = i32, Path)),
    responses((status = 200, body = ConflictMatrix), (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}/conflicts")]
pub async fn get_conflicts(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<PathId>,
) -> Result<web::Json<ConflictMatrix>, ApiError> {
    Ok(web::Json(radar::conflicts(&state, &user, path.into_inner().0).await?))
}
