//! The user's GitHub connection and pull requests from sessions.

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::{Json, PathId};
use crate::services::{github, pull_describe, pull_life};
use crate::state::AppState;
use actix_web::{HttpResponse, delete, get, post, put, web};
use api_types::{
    ChatSession, ConnectGitHubRequest, CreatePullRequestRequest, CreatePullRequestResponse, ErrorBody, GitHubAccount,
    PullRequestDraft,
};

/// The connected GitHub account (404 when none).
#[utoipa::path(tag = "github", responses((status = 200, body = GitHubAccount), (status = 404, body = ErrorBody)))]
#[get("/api/me/github")]
pub async fn get_github(state: web::Data<AppState>, user: CurrentUser) -> Result<web::Json<GitHubAccount>, ApiError> {
    Ok(web::Json(github::connected_account(&state, &user).await?))
}

/// Connect a GitHub token: checked against `GET /user`, stored sealed, never shown again.
#[utoipa::path(tag = "github", request_body = ConnectGitHubRequest, responses(
    (status = 200, body = GitHubAccount), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
#[put("/api/me/github")]
pub async fn put_github(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: Json<ConnectGitHubRequest>,
) -> Result<web::Json<GitHubAccount>, ApiError> {
    Ok(web::Json(github::connect(&state, &user, body.0.token).await?))
}

/// Forget the GitHub token.
#[utoipa::path(tag = "github", responses((status = 204)))]
#[delete("/api/me/github")]
pub async fn delete_github(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, ApiError> {
    github::disconnect(&state, &user).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Push the session's branch and open a pull request into the default (or given) branch;
/// 200 with the one already open for the branch.
#[utoipa::path(tag = "github", params(("id" = i32, Path), ("session_pk" = i32, Path)), request_body = CreatePullRequestRequest,
    responses(
        (status = 201, body = CreatePullRequestResponse), (status = 200, body = CreatePullRequestResponse),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "The session has a live run (`session_busy`).", body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 502, body = ErrorBody)))]
#[post("/api/projects/{id}/chat-sessions/{session_pk}/pull-request")]
pub async fn create_pull_request(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
    body: Json<CreatePullRequestRequest>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    let (created, pull_request) = github::open_pull_request(&state, &user, project_id.0, session_pk.0, body.0).await?;
    Ok(if created { HttpResponse::Created() } else { HttpResponse::Ok() }.json(pull_request))
}

/// "Describe it for me": a pull request title and description the agent writes from the chat's
/// changes and conversation (nothing is opened; the user edits it first).
#[utoipa::path(tag = "github", params(("id" = i32, Path), ("session_pk" = i32, Path)),
    responses((status = 200, body = PullRequestDraft), (status = 404, body = ErrorBody),
    (status = 409, description = "The chat has no changes (`no_changes`), or its checkout is not ready.", body = ErrorBody),
    (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
#[post("/api/projects/{id}/chat-sessions/{session_pk}/pull-request/describe")]
pub async fn describe_pull_request(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
) -> Result<web::Json<PullRequestDraft>, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    Ok(web::Json(pull_describe::describe(&state, &user, project_id.0, session_pk.0).await?))
}

/// Ask GitHub now how the chat's pull request stands (state, checks, reviews); kosuke also
/// polls open pull requests and takes GitHub's webhooks.
#[utoipa::path(tag = "github", params(("id" = i32, Path), ("session_pk" = i32, Path)),
    responses((status = 200, body = ChatSession), (status = 404, body = ErrorBody),
    (status = 409, description = "The chat has no pull request.", body = ErrorBody),
    (status = 429, body = ErrorBody), (status = 502, body = ErrorBody)))]
#[post("/api/projects/{id}/chat-sessions/{session_pk}/pull-request/refresh")]
pub async fn refresh_pull_request(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
) -> Result<web::Json<ChatSession>, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    Ok(web::Json(pull_life::refresh_now(&state, &user, project_id.0, session_pk.0).await?))
}

/// GitHub's webhook deliveries (`pull_request`, `check_suite`, `pull_request_review`; other
/// events are taken and ignored), signed with the server's `--github-webhook-secret`
/// (`X-Hub-Signature-256`). 404 when no secret is configured.
#[utoipa::path(tag = "github", request_body(content = Object, content_type = "application/json"),
    params(
        ("X-GitHub-Event" = Option<String>, Header, description = "The event's name."),
        ("X-Hub-Signature-256" = Option<String>, Header, description = "`sha256=` and the HMAC-SHA256 of the body, hex."),
    ),
    responses((status = 204, description = "Taken."), (status = 400, body = ErrorBody),
    (status = 401, description = "The signature does not match (`invalid_signature`).", body = ErrorBody),
    (status = 404, description = "No webhook secret is configured.", body = ErrorBody),
    (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
#[post("/api/github/webhook")]
pub async fn webhook(
    state: web::Data<AppState>,
    request: actix_web::HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let json = header("content-type")
        .is_some_and(|t| t.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
    if !json {
        return Err(ApiError::UnsupportedMediaType);
    }
    let event = header("x-github-event").unwrap_or_default().to_owned();
    let signature = header("x-hub-signature-256").map(str::to_owned);
    pull_life::webhook(&state, &event, signature.as_deref(), &body).await?;
    Ok(HttpResponse::NoContent().finish())
}
