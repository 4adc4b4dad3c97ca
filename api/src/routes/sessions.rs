//! Chat sessions and their messages. `session_pk` is `chat_sessions.id`.

use crate::auth::CurrentUser;
use crate::cache;
use crate::error::ApiError;
use crate::extract::{Json, PathId};
use crate::services::sessions;
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use api_types::{
    ChatSession, ChatSessionDeleted, ChatSessionList, ChatSessionQuery, CreateChatSessionRequest,
    DeleteChatSessionQuery, DuplicateChatSessionRequest, ErrorBody, MessageList, MessageQuery,
    UpdateChatSessionRequest,
};

type SessionPath = web::Path<(PathId, PathId)>;

/// The caller's sessions in the project, newest activity first; filter by `status`, search with `q`.
#[utoipa::path(tag = "chat sessions", params(("id" = i32, Path), ChatSessionQuery), responses(
    (status = 200, body = ChatSessionList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}/chat-sessions")]
pub async fn list_sessions(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<(PathId,)>,
    query: web::Query<ChatSessionQuery>,
) -> Result<HttpResponse, ApiError> {
    let list = sessions::list(&state.db, &user, path.0.0, query.into_inner());
    cache::json(&state.reads.sessions, &user, &request, list).await
}

/// Start a session on its own branch `kosuke-chat-{session_id}`.
#[utoipa::path(tag = "chat sessions", params(("id" = i32, Path)), request_body = CreateChatSessionRequest, responses(
    (status = 201, body = ChatSession), (status = 404, body = ErrorBody),
    (status = 409, description = "The repository is still being cloned, or could not be (`repository_not_ready`).", body = ErrorBody),
    (status = 422, body = ErrorBody)))]
#[post("/api/projects/{id}/chat-sessions")]
pub async fn create_session(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId,)>,
    body: Json<CreateChatSessionRequest>,
) -> Result<HttpResponse, ApiError> {
    let session = sessions::create(&state, &user, path.0.0, body.0).await?;
    Ok(HttpResponse::Created().json(session))
}

/// One session.
#[utoipa::path(tag = "chat sessions", params(("id" = i32, Path), ("session_pk" = i32, Path)), responses(
    (status = 200, body = ChatSession), (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}/chat-sessions/{session_pk}")]
pub async fn get_session(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: SessionPath,
) -> Result<web::Json<ChatSession>, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    let session = sessions::load(&state.db, &user, project_id.0, session_pk.0).await?;
    Ok(web::Json(entity::convert::chat_session(session)))
}

/// Rename, describe, archive or complete a session.
#[utoipa::path(tag = "chat sessions", params(("id" = i32, Path), ("session_pk" = i32, Path)), request_body = UpdateChatSessionRequest,
    responses((status = 200, body = ChatSession), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/api/projects/{id}/chat-sessions/{session_pk}")]
pub async fn update_session(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: SessionPath,
    body: Json<UpdateChatSessionRequest>,
) -> Result<web::Json<ChatSession>, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    Ok(web::Json(sessions::update(&state, &user, project_id.0, session_pk.0, body.0).await?))
}

/// Delete a session and its messages. The project's default session answers 409.
#[utoipa::path(tag = "chat sessions", params(("id" = i32, Path), ("session_pk" = i32, Path), DeleteChatSessionQuery), responses(
    (status = 200, body = ChatSessionDeleted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[delete("/api/projects/{id}/chat-sessions/{session_pk}")]
pub async fn delete_session(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: SessionPath,
    query: web::Query<DeleteChatSessionQuery>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    let delete_remote = query.delete_remote_branch.unwrap_or(false);
    let deleted = sessions::delete(&state, &user, project_id.0, session_pk.0, delete_remote).await?;
    Ok(HttpResponse::Ok().json(deleted))
}

/// A new session whose branch starts at this session's head, with its messages copied.
#[utoipa::path(tag = "chat sessions", params(("id" = i32, Path), ("session_pk" = i32, Path)), request_body = DuplicateChatSessionRequest,
    responses((status = 201, body = ChatSession), (status = 404, body = ErrorBody),
    (status = 409, description = "The source has a live run (`session_busy`), or the repository is not ready.", body = ErrorBody),
    (status = 422, body = ErrorBody)))]
#[post("/api/projects/{id}/chat-sessions/{session_pk}/duplicate")]
pub async fn duplicate_session(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: SessionPath,
    body: Json<DuplicateChatSessionRequest>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    let session = sessions::duplicate(&state, &user, project_id.0, session_pk.0, body.0).await?;
    Ok(HttpResponse::Created().json(session))
}

/// A page of the session's messages (`order=asc` oldest first, `desc` newest first).
#[utoipa::path(tag = "chat sessions", params(("id" = i32, Path), ("session_pk" = i32, Path), MessageQuery), responses(
    (status = 200, body = MessageList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}/chat-sessions/{session_pk}/messages")]
pub async fn list_messages(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: SessionPath,
    query: web::Query<MessageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    let (db, secrets, query) = (&state.db, &state.secrets, query.into_inner());
    if let Some((title, delay)) = &state.settings.test_slow_message_pages {
        let session = sessions::load(db, &user, project_id.0, session_pk.0).await?;
        if session.title.contains(title.as_str()) {
            tokio::time::sleep(*delay).await;
        }
    }
    // A live run's message is shown as it stands, from memory: such a page is not cached.
    if let Some(live) = state.runtime.existing(session_pk.0).and_then(|owner| owner.live()) {
        let page = sessions::messages(db, secrets, &user, project_id.0, session_pk.0, query, Some(&live)).await?;
        return Ok(HttpResponse::Ok().json(page));
    }
    let page = sessions::messages(db, secrets, &user, project_id.0, session_pk.0, query, None);
    cache::json(&state.reads.messages, &user, &request, page).await
}

/// Its user has read the chat: its finished turns are no longer unread.
#[utoipa::path(tag = "chat sessions", params(("id" = i32, Path), ("session_pk" = i32, Path)), responses(
    (status = 204), (status = 404, body = ErrorBody)))]
#[post("/api/projects/{id}/chat-sessions/{session_pk}/read")]
pub async fn mark_read(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: SessionPath,
) -> Result<HttpResponse, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    let session = sessions::load(&state.db, &user, project_id.0, session_pk.0).await?;
    crate::store::runs::mark_read(&state.db, session.id).await?;
    Ok(HttpResponse::NoContent().finish())
}
