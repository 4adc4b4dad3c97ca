//! The Preview tab's link, and the sandboxed pages it points at.

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::PathId;
use crate::services::preview;
use crate::state::AppState;
use actix_files::NamedFile;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, web};
use api_types::{ErrorBody, PreviewLink};

/// A short-lived link to the session's static site (its `index.html`).
#[utoipa::path(tag = "code", params(("id" = i32, Path), ("session_pk" = i32, Path)), responses(
    (status = 200, body = PreviewLink), (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}/chat-sessions/{session_pk}/preview")]
pub async fn preview_link(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
) -> Result<web::Json<PreviewLink>, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    Ok(web::Json(PreviewLink { url: preview::link(&state, &user, project_id.0, session_pk.0).await? }))
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
