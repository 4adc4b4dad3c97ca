//! GitHub's failures, classified once.

use http::{HeaderMap, StatusCode};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the permission problem is, in words a user can act on.
pub const PERMISSION_HINT: &str = "A classic token needs the `repo` scope (or `public_repo` for public repositories); \
a fine-grained token needs the repository permissions \"Pull requests: write\" and \"Contents: write\"";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitHubError {
    /// 401: the token is wrong, expired or revoked.
    #[error("GitHub did not accept the token (bad credentials)")]
    BadCredentials,
    /// 403: the token lacks a permission.
    #[error("GitHub refused: {message}. {PERMISSION_HINT}")]
    Forbidden { message: String },
    /// 404: no such repository, or the token cannot see it.
    #[error("GitHub has no such repository, or the token cannot see it")]
    NotFound,
    /// 403/429 with the rate limit spent.
    #[error("GitHub's rate limit is spent; retry in {} seconds", retry_after.as_secs())]
    RateLimited { retry_after: Duration },
    /// 422: a pull request for this head already exists.
    #[error("a pull request for this branch already exists")]
    PullRequestExists,
    /// 422: head and base have no difference.
    #[error("GitHub says: {0}")]
    NoCommits(String),
    /// 422: another validation failure.
    #[error("GitHub refused the request: {0}")]
    Validation(String),
    /// 5xx, transport errors, unexpected answers.
    #[error("GitHub could not be reached or failed: {0}")]
    Upstream(String),
}

impl GitHubError {
    pub(crate) fn from_octocrab(err: octocrab::Error) -> Self {
        match err {
            octocrab::Error::GitHub { source, .. } => {
                let errors = source.errors.clone().unwrap_or_default();
                Self::classify(source.status_code, &source.message, &errors, source.headers.as_ref())
            }
            other => GitHubError::Upstream(other.to_string()),
        }
    }

    /// Classifies a failed response by status, message, `errors` and headers.
    pub fn classify(
        status: StatusCode,
        message: &str,
        errors: &[serde_json::Value],
        headers: Option<&HeaderMap>,
    ) -> Self {
        let header = |name: &str| headers.and_then(|h| h.get(name)).and_then(|v| v.to_str().ok());
        let spent = header("x-ratelimit-remaining") == Some("0");
        let retry_after = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok());
        let is_rate_limit = status == StatusCode::TOO_MANY_REQUESTS
            || (status == StatusCode::FORBIDDEN
                && (spent || retry_after.is_some() || message.to_lowercase().contains("rate limit")));
        if is_rate_limit {
            let until_reset = header("x-ratelimit-reset").and_then(|v| v.trim().parse::<u64>().ok()).map(|reset| {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
                reset.saturating_sub(now).max(1)
            });
            let seconds = retry_after.or(until_reset).unwrap_or(60);
            return GitHubError::RateLimited { retry_after: Duration::from_secs(seconds) };
        }
        let details: Vec<String> = errors
            .iter()
            .filter_map(|e| e["message"].as_str().map(str::to_owned).or_else(|| e["code"].as_str().map(str::to_owned)))
            .collect();
        match status {
            StatusCode::UNAUTHORIZED => GitHubError::BadCredentials,
            StatusCode::FORBIDDEN => GitHubError::Forbidden { message: message.trim_end_matches('.').to_owned() },
            StatusCode::NOT_FOUND => GitHubError::NotFound,
            StatusCode::UNPROCESSABLE_ENTITY => {
                if details.iter().any(|d| d.contains("already exists")) {
                    GitHubError::PullRequestExists
                } else if let Some(none) = details.iter().find(|d| d.starts_with("No commits between")) {
                    GitHubError::NoCommits(none.clone())
                } else if details.is_empty() {
                    GitHubError::Validation(message.to_owned())
                } else {
                    GitHubError::Validation(details.join("; "))
                }
            }
            _ => GitHubError::Upstream(format!("{status}: {message}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap_or_else(|_| http::HeaderValue::from_static("")));
        }
        map
    }

    #[test]
    fn spent_rate_limits_say_how_long_to_wait() {
        let by_retry = GitHubError::classify(StatusCode::FORBIDDEN, "x", &[], Some(&headers(&[("retry-after", "30")])));
        assert_eq!(by_retry, GitHubError::RateLimited { retry_after: Duration::from_secs(30) });
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let reset = (now + 120).to_string();
        let by_reset = GitHubError::classify(
            StatusCode::FORBIDDEN,
            "API rate limit exceeded",
            &[],
            Some(&headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &reset)])),
        );
        match by_reset {
            GitHubError::RateLimited { retry_after } => assert!((118..=120).contains(&retry_after.as_secs())),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            GitHubError::classify(StatusCode::TOO_MANY_REQUESTS, "slow down", &[], None),
            GitHubError::RateLimited { .. }
        ));
    }

    #[test]
    fn validation_failures_are_told_apart() {
        let exists =
            [json!({"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for o:b."})];
        assert_eq!(
            GitHubError::classify(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed", &exists, None),
            GitHubError::PullRequestExists
        );
        let none =
            [json!({"resource": "PullRequest", "code": "custom", "message": "No commits between main and feature"})];
        assert_eq!(
            GitHubError::classify(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed", &none, None),
            GitHubError::NoCommits("No commits between main and feature".into())
        );
        let head = [json!({"resource": "PullRequest", "field": "head", "code": "invalid"})];
        assert_eq!(
            GitHubError::classify(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed", &head, None),
            GitHubError::Validation("invalid".into())
        );
    }

    #[test]
    fn permission_problems_name_the_permission_needed() {
        let forbidden =
            GitHubError::classify(StatusCode::FORBIDDEN, "Resource not accessible by personal access token", &[], None);
        let text = forbidden.to_string();
        assert!(
            text.contains("`repo`") && text.contains("Pull requests: write") && text.contains("Contents: write"),
            "{text}"
        );
        assert_eq!(
            GitHubError::classify(StatusCode::UNAUTHORIZED, "Bad credentials", &[], None),
            GitHubError::BadCredentials
        );
    }
}
