//! A session's files, diff and branch status (the Code tab and the sidebar's branch icon).

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::PathId;
use crate::services::{code, sessions};
use crate::state::AppState;
use actix_web::{get, web};
use api_types::{BranchStatus, BranchStatusList, ErrorBody, FileContent, FileTree, SessionDiff};

/// Every file and directory in the session's checkout, or (`dir`) one directory's entries.
#[utoipa::path(tag = "code", params(("id" = i32, Path), ("session_pk" = i32, Path), api_types::FilesQuery), responses(
    (status = 200, body = FileTree), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[get("/api/projects/{id}/chat-sessions/{session_pk}/files")]
pub async fn list_files(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
    query: web::Query<api_types::FilesQuery>,
) -> Result<web::Json<FileTree>, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    let session = sessions::load(&state.db, &user, project_id.0, session_pk.0).await?;
    Ok(web::Json(code::files(&state, &session, query.into_inner()).await?))
}

/// One file's content (text up to 1 MiB; binary files are flagged, not sent).
#[utoipa::path(tag = "code", params(("id" = i32, Path), ("session_pk" = i32, Path), ("path" = String, Path)), responses(
    (status = 200, body = FileContent), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}/chat-sessions/{session_pk}/files/{path:.*}")]
pub async fn get_file(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId, String)>,
) -> Result<web::Json<FileContent>, ApiError> {
    let (project_id, session_pk, relative) = path.into_inner();
    let session = sessions::load(&state.db, &user, project_id.0, session_pk.0).await?;
    Ok(web::Json(code::file(&state, &session, relative).await?))
}

/// The session's changes against its base branch, as a unified diff (cut at 2 MiB).
#[utoipa::path(tag = "code", params(("id" = i32, Path), ("session_pk" = i32, Path), api_types::DiffQuery), responses(
    (status = 200, body = SessionDiff), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[get("/api/projects/{id}/chat-sessions/{session_pk}/diff")]
pub async fn get_diff(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
    query: web::Query<api_types::DiffQuery>,
) -> Result<web::Json<SessionDiff>, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    let session = sessions::load(&state.db, &user, project_id.0, session_pk.0).await?;
    Ok(web::Json(code::diff(&state, &session, query.into_inner()).await?))
}

/// Ahead/behind the base branch, pushed, uncommitted changes, the open pull request.
#[utoipa::path(tag = "code", params(("id" = i32, Path), ("session_pk" = i32, Path)), responses(
    (status = 200, body = BranchStatus), (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}/chat-sessions/{session_pk}/branch-status")]
pub async fn get_branch_status(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
) -> Result<web::Json<BranchStatus>, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    let session = sessions::load(&state.db, &user, project_id.0, session_pk.0).await?;
    Ok(web::Json(code::branch_status(&state, &session).await?))
}

/// `?ids=1,2,3`: the chats to report on.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct IdsQuery {
    /// Comma-separated chat session ids (at most 100).
    pub ids: String,
}

/// The branch status of several of the caller's chats at once (the sidebar's branch icons).
#[utoipa::path(tag = "code", params(("id" = i32, Path), IdsQuery), responses(
    (status = 200, body = BranchStatusList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}/branch-statuses")]
pub async fn get_branch_statuses(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId,)>,
    query: web::Query<IdsQuery>,
) -> Result<web::Json<BranchStatusList>, ApiError> {
    let ids = session_ids(&query.ids)?;
    Ok(web::Json(code::branch_statuses(&state, &user, path.0.0, &ids).await?))
}

/// The ids of `?ids=`: positive integers without signs or leading zeros, separated by commas
/// (the document's pattern). An id too large to be a session's names none and is left out.
fn session_ids(raw: &str) -> Result<Vec<i32>, ApiError> {
    let is_id = |part: &str| {
        (1..=18).contains(&part.len()) && !part.starts_with('0') && part.bytes().all(|b| b.is_ascii_digit())
    };
    let parts: Vec<&str> = raw.split(',').collect();
    if !parts.iter().all(|part| is_id(part)) {
        return Err(ApiError::bad_request(
            api_types::ErrorCode::InvalidQuery,
            "ids must be chat session ids separated by commas, such as 1,2,3.",
        ));
    }
    Ok(parts.into_iter().filter_map(|part| part.parse::<i32>().ok()).collect())
}
