//! The Preview tab: the session's dev server (its state, start/restart/stop, its log as
//! server-sent events, the project's running ones for the sidebar), or its static site's
//! link and the sandboxed pages it points at.

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::{Json, PathId};
use crate::services::preview;
use crate::state::AppState;
use actix_files::NamedFile;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use api_types::{ErrorBody, LogEvent, Preview, PreviewActionRequest, PreviewList};

/// The session's preview: its dev server's state with a one-time link into its origin while
/// it runs, or (no dev command) a short-lived link to its static site.
#[utoipa::path(tag = "code", params(("id" = i32, Path), ("session_pk" = i32, Path)), responses(
    (status = 200, body = Preview), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[get("/api/projects/{id}/chat-sessions/{session_pk}/preview")]
pub async fn get_preview(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
) -> Result<web::Json<Preview>, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    Ok(web::Json(preview::get(&state, &user, project_id.0, session_pk.0).await?))
}

/// Start, restart or stop the session's dev server; it starts in the background (watch its
/// state and its events).
#[utoipa::path(tag = "code", params(("id" = i32, Path), ("session_pk" = i32, Path)), request_body = PreviewActionRequest, responses(
    (status = 202, body = Preview), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    (status = 503, body = ErrorBody)))]
#[post("/api/projects/{id}/chat-sessions/{session_pk}/preview")]
pub async fn post_preview(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
    body: Json<PreviewActionRequest>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    let answer = preview::act(&state, &user, project_id.0, session_pk.0, body.0.action).await?;
    Ok(HttpResponse::Accepted().json(answer))
}

/// The dev server's log as server-sent events: `line` events (the id is the line's number;
/// send `Last-Event-ID` to resume), then one `end` event with the state it ended in.
#[utoipa::path(tag = "code", params(("id" = i32, Path), ("session_pk" = i32, Path)), responses(
    (status = 200, description = "text/event-stream of log lines", content_type = "text/event-stream", body = LogEvent),
    (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}/chat-sessions/{session_pk}/preview/events")]
pub async fn get_preview_events(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    let log = preview::log(&state, &user, project_id.0, session_pk.0).await?;
    Ok(super::runtime::log_stream(&req, log))
}

/// The user's dev servers in the project that are not stopped.
#[utoipa::path(tag = "projects", params(("id" = i32, Path)), responses(
    (status = 200, body = PreviewList), (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}/previews")]
pub async fn list_previews(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId,)>,
) -> Result<web::Json<PreviewList>, ApiError> {
    Ok(web::Json(preview::list(&state, &user, path.0.0).await?))
}

const NO_INDEX: &str = "<!doctype html><meta charset=utf-8><title>No preview</title>\
<p style=\"font-family:system-ui;padding:2rem;color:#57606a\">This chat has no <code>index.html</code> yet. Ask the agent for one.</p>";

/// A file of a session's site, sandboxed (opaque origin) and never cached.
#[get("/preview/{token}/{path:.*}")]
pub async fn preview_file(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (token, relative) = path.into_inner();
    let mut response = match preview::resolve(&state, &token, &relative).await {
        Ok((file, name)) => NamedFile::from_file(file, name).map_err(ApiError::internal)?.into_response(&req),
        Err(ApiError::NotFound("file")) if relative.is_empty() || relative.ends_with("index.html") => {
            HttpResponse::Ok().content_type("text/html; charset=utf-8").body(NO_INDEX)
        }
        Err(err) => return Err(err),
    };
    let headers = response.headers_mut();
    headers.insert(
        actix_web::http::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox allow-scripts allow-forms allow-popups allow-modals"),
    );
    headers.insert(actix_web::http::header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(actix_web::http::header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
