//! `ApiError`: the one error type handlers return. The `From` impls here are the only place
//! an HTTP status is given meaning; the body is always `api_types::ErrorBody`. Internal
//! causes are logged with their whole chain and answered with a generic sentence.

use crate::store::StoreError;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::{HttpResponse, ResponseError};
use api_types::{ErrorBody, ErrorCode};
use checkout::CheckoutError;
use github::GitHubError;
use std::fmt;
use std::time::Duration;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be understood.
    #[error("{message}")]
    BadRequest { code: ErrorCode, message: String },
    /// 401: no valid sign-in or token.
    #[error("You need to sign in.")]
    Unauthenticated,
    /// 401: a webhook delivery not signed with the configured secret.
    #[error("The webhook's signature does not match its body.")]
    BadSignature,
    /// 401: wrong email or password.
    #[error("The email or password is wrong.")]
    InvalidCredentials,
    /// 403: signed in, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 403 with its own code (`signup_closed`, `account_disabled`).
    #[error("{message}")]
    Refused { code: ErrorCode, message: String },
    /// 403: a state-changing request with the sign-in cookie came from another site (CSRF).
    #[error("This request came from another site with your sign-in; kosuke only takes changes from its own pages.")]
    CrossSite,
    /// 404: not found, or not the caller's (never leaks which).
    #[error("No {0} with that id exists, or it is not yours.")]
    NotFound(&'static str),
    /// 404: no route at this path under `/api`.
    #[error("There is no API endpoint at this path.")]
    NoRoute,
    /// 405: the path is a route, the method is not one of `allow`.
    #[error("{method} is not a method of this path; it takes {}.", allow.join(", "))]
    MethodNotAllowed { method: String, allow: Vec<&'static str> },
    /// 409: conflicts with the current state.
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
    /// 413.
    #[error("The request body is larger than {limit} bytes.")]
    PayloadTooLarge { limit: usize },
    /// 415.
    #[error("The request body must be JSON (Content-Type: application/json).")]
    UnsupportedMediaType,
    /// 422: a field is invalid (`validation_failed`, or a more precise code).
    #[error("{message}")]
    Validation { field: String, message: String },
    /// 422 with its own code (e.g. `no_changes`, `not_github`).
    #[error("{message}")]
    Unprocessable { code: ErrorCode, field: String, message: String },
    /// 429, with the wait in `Retry-After`.
    #[error("{message}")]
    RateLimited { retry_after: Duration, message: String },
    /// 401 or 403 from GitHub or the git remote: the token was refused or lacks a scope.
    #[error("{message}")]
    UpstreamAuth { forbidden: bool, message: String },
    /// 502: GitHub, the git remote or the model provider failed.
    #[error("{0}")]
    Upstream(String),
    /// 503: something needed is not configured; the sentence names the settings.
    #[error("{message}")]
    Unavailable { code: ErrorCode, message: String },
    /// 500: the cause is logged, never sent.
    #[error("Something went wrong on the server; the error has been logged.")]
    Internal(#[source] BoxError),
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation { field: field.into(), message: message.into() }
    }

    pub fn validation_with_code(code: ErrorCode, field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Unprocessable { code, field: field.into(), message: message.into() }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::Forbidden(message.into())
    }

    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::Conflict { code, message: message.into() }
    }

    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::BadRequest { code, message: message.into() }
    }

    pub fn internal(err: impl Into<BoxError>) -> Self {
        ApiError::Internal(err.into())
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::Unprocessable { code, .. } => *code,
            ApiError::Unauthenticated => ErrorCode::Unauthenticated,
            ApiError::BadSignature => ErrorCode::InvalidSignature,
            ApiError::InvalidCredentials => ErrorCode::InvalidCredentials,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::CrossSite => ErrorCode::CrossSiteRequest,
            ApiError::Refused { code, .. } => *code,
            ApiError::NotFound(_) | ApiError::NoRoute => ErrorCode::NotFound,
            ApiError::MethodNotAllowed { .. } => ErrorCode::MethodNotAllowed,
            ApiError::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            ApiError::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            ApiError::Validation { .. } => ErrorCode::ValidationFailed,
            ApiError::RateLimited { .. } => ErrorCode::RateLimited,
            ApiError::UpstreamAuth { forbidden: false, .. } => ErrorCode::GithubUnauthorized,
            ApiError::UpstreamAuth { forbidden: true, .. } => ErrorCode::GithubForbidden,
            ApiError::Upstream(_) => ErrorCode::UpstreamError,
            ApiError::Unavailable { code, .. } => *code,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.to_string(),
            code: self.code(),
            field: match self {
                ApiError::Validation { field, .. } | ApiError::Unprocessable { field, .. } => Some(field.clone()),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated | ApiError::InvalidCredentials | ApiError::BadSignature => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden(_) | ApiError::CrossSite | ApiError::Refused { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::NoRoute => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation { .. } | ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::UpstreamAuth { forbidden: false, .. } => StatusCode::UNAUTHORIZED,
            ApiError::UpstreamAuth { forbidden: true, .. } => StatusCode::FORBIDDEN,
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = %Report(&**cause), "request failed");
        }
        let mut response = HttpResponse::build(self.status_code()).json(self.body());
        if let ApiError::RateLimited { retry_after, .. } = self
            && let Ok(value) = HeaderValue::from_str(&retry_after.as_secs().max(1).to_string())
        {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
        if let ApiError::MethodNotAllowed { allow, .. } = self
            && let Ok(value) = HeaderValue::from_str(&allow.join(", "))
        {
            response.headers_mut().insert(actix_web::http::header::ALLOW, value);
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::Conflict(message) => ApiError::conflict(ErrorCode::Conflict, message),
            other => ApiError::internal(other),
        }
    }
}

impl From<CheckoutError> for ApiError {
    fn from(err: CheckoutError) -> Self {
        match err {
            CheckoutError::FileNotFound(_) => ApiError::NotFound("file"),
            CheckoutError::PathOutside(path) => ApiError::bad_request(
                ErrorCode::InvalidPath,
                format!("\"{}\" is not a path inside the session's checkout.", path.escape_default()),
            ),
            CheckoutError::BranchNotFound(branch) => {
                ApiError::validation("branch", format!("The branch \"{}\" does not exist.", branch.escape_default()))
            }
            CheckoutError::NotACheckout(_) => {
                ApiError::conflict(ErrorCode::WorkspaceNotReady, "The session's checkout is not ready.")
            }
            CheckoutError::RemoteUnreachable(why) => {
                ApiError::Upstream(format!("The repository's remote could not be reached: {why}."))
            }
            CheckoutError::AuthenticationFailed => ApiError::UpstreamAuth {
                forbidden: false,
                message: "The git remote refused the credentials; check the GitHub token in your account settings."
                    .to_owned(),
            },
            CheckoutError::PushRejected { reference, message } => ApiError::conflict(
                ErrorCode::PushRejected,
                format!("The remote rejected the push of {reference}: {message}."),
            ),
            CheckoutError::NotBehindHead(_) => ApiError::conflict(
                ErrorCode::Conflict,
                "The chat's branch is not past that turn: it is the latest turn, or the branch has moved since.",
            ),
            CheckoutError::NothingToUndo => ApiError::conflict(ErrorCode::Conflict, "There is no revert to undo."),
            CheckoutError::MovedSinceRewind => ApiError::conflict(
                ErrorCode::Conflict,
                "A turn was made since the revert, so it can no longer be undone; fork from a turn instead.",
            ),
            CheckoutError::UpdateInProgress => ApiError::conflict(
                ErrorCode::Conflict,
                "The chat's update from its base branch stopped on conflicts: hand them to the agent or abort the update first.",
            ),
            other => ApiError::internal(other),
        }
    }
}

impl From<GitHubError> for ApiError {
    fn from(err: GitHubError) -> Self {
        match err {
            GitHubError::BadCredentials => ApiError::UpstreamAuth {
                forbidden: false,
                message:
                    "GitHub did not accept the token (bad credentials); connect a new one in your account settings."
                        .to_owned(),
            },
            GitHubError::Forbidden { .. } | GitHubError::NotFound => {
                ApiError::UpstreamAuth { forbidden: true, message: format!("{err}.") }
            }
            GitHubError::RateLimited { retry_after } => ApiError::RateLimited {
                retry_after,
                message: format!(
                    "GitHub's rate limit is spent; try again in {} seconds.",
                    retry_after.as_secs().max(1)
                ),
            },
            GitHubError::NoCommits(why) => {
                ApiError::validation("target_branch", format!("There is nothing to put in a pull request: {why}."))
            }
            GitHubError::PullRequestExists => {
                ApiError::conflict(ErrorCode::Conflict, "A pull request for this branch already exists.")
            }
            GitHubError::Validation(why) => ApiError::validation("pull_request", format!("GitHub refused it: {why}.")),
            GitHubError::Upstream(why) => ApiError::Upstream(format!("GitHub could not be reached or failed: {why}.")),
        }
    }
}

/// Formats an error with its whole `source()` chain: `outer: inner: root`.
pub struct Report<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            write!(f, ": {err}")?;
            source = err.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    async fn body_json(err: ApiError) -> (u16, serde_json::Value) {
        let response = err.error_response();
        let status = response.status().as_u16();
        let bytes = to_bytes(response.into_body()).await.unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    #[actix_web::test]
    async fn validation_errors_name_the_field() {
        let (status, body) = body_json(ApiError::validation("title", "The title must not be empty.")).await;
        assert_eq!(status, 422);
        assert_eq!(
            body,
            serde_json::json!({"error": "The title must not be empty.", "code": "validation_failed", "field": "title"})
        );
    }

    #[actix_web::test]
    async fn internal_errors_hide_their_cause() {
        let (status, body) = body_json(ApiError::internal("password=hunter2 in a connection string")).await;
        assert_eq!(status, 500);
        assert_eq!(
            body,
            serde_json::json!({"error": "Something went wrong on the server; the error has been logged.", "code": "internal"})
        );
    }

    #[actix_web::test]
    async fn not_found_never_says_whether_it_exists() {
        let (status, body) = body_json(ApiError::NotFound("project")).await;
        assert_eq!(status, 404);
        assert_eq!(
            body,
            serde_json::json!({"error": "No project with that id exists, or it is not yours.", "code": "not_found"})
        );
    }

    #[actix_web::test]
    async fn rate_limits_say_when_to_retry() {
        let response =
            ApiError::RateLimited { retry_after: Duration::from_secs(90), message: "Wait.".into() }.error_response();
        assert_eq!(response.status().as_u16(), 429);
        assert_eq!(response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("90"));
    }
}
