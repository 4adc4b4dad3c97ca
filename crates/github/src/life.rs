//! A pull request's life after it is opened: its state, the combined result of its head's
//! checks (check runs and commit statuses) and its review state, each read with a conditional
//! request (`If-None-Match` with the last answer's `ETag`): GitHub answers an unchanged
//! resource with 304, which does not count against the rate limit.

use crate::{GitHub, GitHubError};
use serde_json::Value;

/// Where a pull request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullState {
    Open,
    Draft,
    Merged,
    Closed,
}

/// What the head commit's checks say, all of them together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksState {
    /// No check run and no status.
    None,
    Pending,
    Success,
    Failure,
}

/// The reviewers' verdict, each reviewer's latest review counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewState {
    None,
    Commented,
    Approved,
    ChangesRequested,
}

/// An answer to a conditional request: unchanged (304) or a new body with its `ETag`.
#[derive(Debug, Clone, PartialEq)]
pub enum Conditional<T> {
    NotModified,
    Fresh { value: T, etag: Option<String> },
}

impl<T> Conditional<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Conditional<U> {
        match self {
            Conditional::NotModified => Conditional::NotModified,
            Conditional::Fresh { value, etag } => Conditional::Fresh { value: f(value), etag },
        }
    }
}

/// `GET /repos/{owner}/{repo}/pulls/{number}`, as much as kosuke keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullLife {
    pub state: PullState,
    pub head_sha: String,
}

impl GitHub {
    /// A GET with `If-None-Match`; the body as JSON when it changed.
    async fn get_if_changed(&self, path: &str, etag: Option<&str>) -> Result<Conditional<Value>, GitHubError> {
        let mut headers = http::HeaderMap::new();
        if let Some(etag) = etag.and_then(|e| http::HeaderValue::from_str(e).ok()) {
            headers.insert(http::header::IF_NONE_MATCH, etag);
        }
        let url = format!("{}{path}", self.base_url);
        let response = self.client._get_with_headers(url, Some(headers)).await.map_err(GitHubError::from_octocrab)?;
        let status = response.status();
        if status == http::StatusCode::NOT_MODIFIED {
            return Ok(Conditional::NotModified);
        }
        let headers = response.headers().clone();
        let etag = headers.get(http::header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = self.client.body_to_string(response).await.map_err(GitHubError::from_octocrab)?;
        let parsed: Value = serde_json::from_str(&body).unwrap_or_default();
        if !status.is_success() {
            let message = parsed["message"].as_str().unwrap_or_default().to_owned();
            return Err(GitHubError::classify(status, &message, &[], Some(&headers)));
        }
        Ok(Conditional::Fresh { value: parsed, etag })
    }

    /// The pull request's state and head.
    pub async fn pull_life(
        &self,
        owner: &str,
        repo: &str,
        number: u64,
        etag: Option<&str>,
    ) -> Result<Conditional<PullLife>, GitHubError> {
        let answer = self.get_if_changed(&format!("/repos/{owner}/{repo}/pulls/{number}"), etag).await?;
        Ok(answer.map(|pull| PullLife {
            state: pull_state(&pull),
            head_sha: pull["head"]["sha"].as_str().unwrap_or_default().to_owned(),
        }))
    }

    /// The check runs of a commit (`checks/list-for-ref`).
    pub async fn check_runs(
        &self,
        owner: &str,
        repo: &str,
        sha: &str,
        etag: Option<&str>,
    ) -> Result<Conditional<ChecksState>, GitHubError> {
        let path = format!("/repos/{owner}/{repo}/commits/{sha}/check-runs?per_page=100");
        Ok(self.get_if_changed(&path, etag).await?.map(|runs| check_runs_state(&runs)))
    }

    /// The commit statuses of a commit, combined (`repos/get-combined-status-for-ref`).
    pub async fn combined_status(
        &self,
        owner: &str,
        repo: &str,
        sha: &str,
        etag: Option<&str>,
    ) -> Result<Conditional<ChecksState>, GitHubError> {
        let path = format!("/repos/{owner}/{repo}/commits/{sha}/status");
        Ok(self.get_if_changed(&path, etag).await?.map(|status| combined_status_state(&status)))
    }

    /// The pull request's reviews (`pulls/list-reviews`).
    pub async fn reviews(
        &self,
        owner: &str,
        repo: &str,
        number: u64,
        etag: Option<&str>,
    ) -> Result<Conditional<ReviewState>, GitHubError> {
        let path = format!("/repos/{owner}/{repo}/pulls/{number}/reviews?per_page=100");
        Ok(self.get_if_changed(&path, etag).await?.map(|reviews| review_state(&reviews)))
    }
}

/// A pull request object's (REST or webhook payload) state.
pub fn pull_state(pull: &Value) -> PullState {
    match (pull["state"].as_str(), pull["merged"].as_bool().unwrap_or(false) || !pull["merged_at"].is_null()) {
        (_, true) => PullState::Merged,
        (Some("closed"), false) => PullState::Closed,
        _ if pull["draft"].as_bool() == Some(true) => PullState::Draft,
        _ => PullState::Open,
    }
}

/// One check run or check suite's status and conclusion.
pub fn check_state(status: Option<&str>, conclusion: Option<&str>) -> ChecksState {
    match (status, conclusion) {
        (Some("completed"), Some("success" | "neutral" | "skipped")) => ChecksState::Success,
        (Some("completed"), _) => ChecksState::Failure,
        _ => ChecksState::Pending,
    }
}

fn check_runs_state(runs: &Value) -> ChecksState {
    let states = runs["check_runs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|run| check_state(run["status"].as_str(), run["conclusion"].as_str()));
    combine(states)
}

fn combined_status_state(status: &Value) -> ChecksState {
    if status["statuses"].as_array().is_none_or(|s| s.is_empty()) {
        return ChecksState::None;
    }
    match status["state"].as_str() {
        Some("success") => ChecksState::Success,
        Some("pending") => ChecksState::Pending,
        _ => ChecksState::Failure,
    }
}

/// Several checks' states as one: any failure fails, then any pending is pending.
pub fn combine(states: impl IntoIterator<Item = ChecksState>) -> ChecksState {
    states.into_iter().fold(ChecksState::None, |all, one| match (all, one) {
        (ChecksState::Failure, _) | (_, ChecksState::Failure) => ChecksState::Failure,
        (ChecksState::Pending, _) | (_, ChecksState::Pending) => ChecksState::Pending,
        (ChecksState::Success, _) | (_, ChecksState::Success) => ChecksState::Success,
        _ => ChecksState::None,
    })
}

/// Each reviewer's latest review (in the order GitHub lists them), then the strongest verdict.
fn review_state(reviews: &Value) -> ReviewState {
    let mut latest: Vec<(String, ReviewState)> = Vec::new();
    for review in reviews.as_array().into_iter().flatten() {
        let who = review["user"]["login"].as_str().unwrap_or_default().to_owned();
        let Some(state) = review_of(review["state"].as_str()) else { continue };
        latest.retain(|(login, _)| *login != who);
        latest.push((who, state));
    }
    let states: Vec<ReviewState> = latest.into_iter().map(|(_, s)| s).collect();
    [ReviewState::ChangesRequested, ReviewState::Approved, ReviewState::Commented]
        .into_iter()
        .find(|s| states.contains(s))
        .unwrap_or(ReviewState::None)
}

/// A review's state as the REST API (`APPROVED`) or a webhook (`approved`) writes it; `None`
/// for a review that says nothing any more (dismissed, pending).
pub fn review_of(state: Option<&str>) -> Option<ReviewState> {
    match state?.to_ascii_uppercase().as_str() {
        "APPROVED" => Some(ReviewState::Approved),
        "CHANGES_REQUESTED" => Some(ReviewState::ChangesRequested),
        "COMMENTED" => Some(ReviewState::Commented),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn states_read_from_the_bodies_github_sends() {
        assert_eq!(pull_state(&json!({"state": "open", "draft": true, "merged": false})), PullState::Draft);
        assert_eq!(pull_state(&json!({"state": "closed", "merged": true})), PullState::Merged);
        assert_eq!(pull_state(&json!({"state": "closed", "merged_at": null, "merged": false})), PullState::Closed);
        assert_eq!(combine([ChecksState::Success, ChecksState::Pending]), ChecksState::Pending);
        assert_eq!(combine([ChecksState::Pending, ChecksState::Failure, ChecksState::Success]), ChecksState::Failure);
        assert_eq!(combine([]), ChecksState::None);
        let reviews = json!([
            {"user": {"login": "a"}, "state": "CHANGES_REQUESTED"},
            {"user": {"login": "b"}, "state": "COMMENTED"},
            {"user": {"login": "a"}, "state": "APPROVED"},
        ]);
        assert_eq!(review_state(&reviews), ReviewState::Approved, "a's latest review replaced their first");
        assert_eq!(combined_status_state(&json!({"state": "pending", "statuses": []})), ChecksState::None);
    }
}
