//! A pull request's life after a session opened it: its state (open, draft, merged, closed),
//! its head commit's checks (check runs and commit statuses, combined) and its review state,
//! kept on the session. Refreshed by polling — conditional requests with the last `ETag`, so
//! an unchanged answer is a 304 that does not count against GitHub's rate limit; at most
//! `POLL_BATCH` sessions a round, every `--github-poll-secs` — and by GitHub's webhooks
//! (`POST /api/github/webhook`, signed with `--github-webhook-secret`). A merged or closed
//! pull request archives its session when the project says so.

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::services::github::{client, github_repo, token_for};
use crate::state::AppState;
use crate::store;
use api_types::{ChatSession, ChatSessionStatus, ChecksState, PullRequestState, ReviewState};
use entity::chat_session;
use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Sessions refreshed per polling round (each takes up to four requests, most of them 304s).
const POLL_BATCH: usize = 20;

/// What a conditional request last answered, by its path: the `ETag` and the value read from
/// that answer (a `github::PullLife`, `github::ChecksState` or `github::ReviewState`).
#[derive(Default)]
pub struct ETags {
    seen: Mutex<HashMap<String, (String, Arc<dyn Any + Send + Sync>)>>,
}

impl ETags {
    fn get<T: Clone + 'static>(&self, key: &str) -> Option<(String, T)> {
        let all = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let (etag, value) = all.get(key)?;
        Some((etag.clone(), value.downcast_ref::<T>()?.clone()))
    }

    fn put<T: Send + Sync + 'static>(&self, key: String, etag: Option<String>, value: T) {
        let mut all = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if all.len() > 10_000 {
            all.clear();
        }
        match etag {
            Some(etag) => all.insert(key, (etag, Arc::new(value))),
            None => all.remove(&key),
        };
    }

    /// A conditional request for `key`, sent with the remembered `ETag`: the new value (kept
    /// with its `ETag`), or on a 304 the remembered one — `None` when nothing is remembered.
    async fn ask<T, Answer>(
        &self,
        key: String,
        request: impl FnOnce(Option<String>) -> Answer,
    ) -> Result<Option<T>, ApiError>
    where
        T: Clone + Send + Sync + 'static,
        Answer: Future<Output = Result<github::Conditional<T>, github::GitHubError>>,
    {
        let known = self.get::<T>(&key);
        let (etag, remembered) = known.unzip();
        match request(etag).await? {
            github::Conditional::Fresh { value, etag } => {
                self.put(key, etag, value.clone());
                Ok(Some(value))
            }
            github::Conditional::NotModified => Ok(remembered),
        }
    }
}

fn pull_state(state: github::PullState) -> PullRequestState {
    match state {
        github::PullState::Open => PullRequestState::Open,
        github::PullState::Draft => PullRequestState::Draft,
        github::PullState::Merged => PullRequestState::Merged,
        github::PullState::Closed => PullRequestState::Closed,
    }
}

fn checks_state(state: github::ChecksState) -> ChecksState {
    match state {
        github::ChecksState::None => ChecksState::None,
        github::ChecksState::Pending => ChecksState::Pending,
        github::ChecksState::Success => ChecksState::Success,
        github::ChecksState::Failure => ChecksState::Failure,
    }
}

fn review_state(state: github::ReviewState) -> ReviewState {
    match state {
        github::ReviewState::None => ReviewState::None,
        github::ReviewState::Commented => ReviewState::Commented,
        github::ReviewState::Approved => ReviewState::Approved,
        github::ReviewState::ChangesRequested => ReviewState::ChangesRequested,
    }
}

/// Asks GitHub how the session's pull request stands and records it; `None` when the session
/// has no pull request on GitHub or its user no token.
pub async fn refresh(state: &AppState, session: &chat_session::Model) -> Result<Option<chat_session::Model>, ApiError> {
    let Some(number) = session.pull_request_number.and_then(|n| u64::try_from(n).ok()) else { return Ok(None) };
    let project = store::projects::find(&state.db, session.project_id).await?;
    let Ok((owner, repo)) = github_repo(&project) else { return Ok(None) };
    let Some(token) = token_for(state, &session.user_id, None).await? else { return Ok(None) };
    let github = client(state, &token.secret)?;
    let etags = &state.pull_etags;
    let (github, owner, repo) = (&github, owner.as_str(), repo.as_str());
    let key = format!("{owner}/{repo}#{number}");

    let asked = etags
        .ask(format!("{key}/pull"), |etag| async move { github.pull_life(owner, repo, number, etag.as_deref()).await });
    let Some(life) = asked.await? else { return Ok(None) };
    let mut checks = None;
    if !life.head_sha.is_empty() {
        let sha = life.head_sha.as_str();
        let runs = etags.ask(format!("{key}/runs/{sha}"), |etag| async move {
            github.check_runs(owner, repo, sha, etag.as_deref()).await
        });
        let runs = runs.await?;
        let statuses = etags.ask(format!("{key}/status/{sha}"), |etag| async move {
            github.combined_status(owner, repo, sha, etag.as_deref()).await
        });
        let statuses = statuses.await?;
        checks = Some(checks_state(github::combine(runs.into_iter().chain(statuses))));
    }
    let review = etags.ask(format!("{key}/reviews"), |etag| async move {
        github.reviews(owner, repo, number, etag.as_deref()).await
    });
    let review = review.await?.map(review_state);
    record(state, session.id, pull_state(life.state), Some(life.head_sha), checks, review).await.map(Some)
}

/// Stores what GitHub said; a merged or closed pull request archives the session when its
/// project says so.
async fn record(
    state: &AppState,
    session_pk: i32,
    pull: PullRequestState,
    head_sha: Option<String>,
    checks: Option<ChecksState>,
    review: Option<ReviewState>,
) -> Result<chat_session::Model, ApiError> {
    let session =
        store::pull_requests::set_pull_request_life(&state.db, session_pk, pull, head_sha, checks, review).await?;
    let ended = matches!(pull, PullRequestState::Merged | PullRequestState::Closed);
    if ended && session.status == ChatSessionStatus::Active {
        let project = store::projects::find(&state.db, session.project_id).await?;
        if project.archive_merged
            && let Some(user) = store::credentials::find_user(&state.db, &session.user_id).await?
        {
            let user = CurrentUser::from(user);
            let archive = api_types::UpdateChatSessionRequest {
                title: None,
                description: None,
                status: Some(ChatSessionStatus::Archived),
            };
            // Archiving removes the checkout: on the node that holds it (a webhook lands on any).
            let path = format!("/api/projects/{}/chat-sessions/{}", session.project_id, session.id);
            let body = serde_json::to_value(&archive).map_err(ApiError::internal)?;
            let elsewhere = crate::nodes::forward::on_projects_node(
                state,
                session.project_id,
                &user.id,
                actix_web::http::Method::PUT,
                &path,
                &body,
            );
            if !elsewhere.await? {
                crate::services::sessions::update(state, &user, session.project_id, session.id, archive).await?;
            }
            return Ok(store::sessions::find(&state.db, session.id).await?);
        }
    }
    Ok(session)
}

/// `POST …/{session_pk}/pull-request/refresh`: the caller's session, refreshed now.
pub async fn refresh_now(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
) -> Result<ChatSession, ApiError> {
    let session = crate::services::sessions::load(&state.db, user, project_id, session_pk).await?;
    if session.pull_request_number.is_none() {
        return Err(ApiError::conflict(api_types::ErrorCode::Conflict, "The chat has no pull request yet."));
    }
    let refreshed = match refresh(state, &session).await? {
        Some(refreshed) => refreshed,
        None => session,
    };
    Ok(entity::convert::chat_session(refreshed))
}

/// One polling round: the least recently refreshed open pull requests.
pub async fn poll_once(state: &AppState) -> usize {
    let sessions = match store::pull_requests::with_live_pull_requests(&state.db, POLL_BATCH, state.node_id).await {
        Ok(sessions) => sessions,
        Err(err) => {
            tracing::warn!(error = %err, "could not list the pull requests to refresh");
            return 0;
        }
    };
    let mut refreshed = 0;
    for session in sessions {
        match refresh(state, &session).await {
            Ok(Some(_)) => refreshed += 1,
            Ok(None) => {}
            Err(err) => {
                tracing::info!(session_pk = session.id, error = %err.body().error, "pull request not refreshed")
            }
        }
    }
    refreshed
}

/// Polls every `github_poll` until the server stops (not at all when it is zero).
pub fn spawn_poller(state: actix_web::web::Data<AppState>) {
    let every = state.settings.github_poll;
    if every.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if state.runtime.is_stopping() {
                return;
            }
            poll_once(&state).await;
        }
    });
}

/// A GitHub webhook delivery, its signature checked: `pull_request` (state and head),
/// `check_suite` (the head's checks), `pull_request_review` (the review state). Other events
/// are accepted and ignored. Returns how many sessions it changed.
pub async fn webhook(state: &AppState, event: &str, signature: Option<&str>, body: &[u8]) -> Result<usize, ApiError> {
    let Some(secret) = state.settings.github_webhook_secret.as_deref() else {
        return Err(ApiError::NotFound("webhook"));
    };
    let valid = signature
        .and_then(|s| s.strip_prefix("sha256="))
        .is_some_and(|given| crate::secrets::hmac_sha256_matches(secret.as_bytes(), body, given));
    if !valid {
        return Err(ApiError::BadSignature);
    }
    let payload: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::bad_request(api_types::ErrorCode::MalformedJson, "The webhook's body is not JSON."))?;
    let full_name = payload["repository"]["full_name"].as_str().unwrap_or_default();
    let projects: Vec<i32> =
        store::projects::on_github(&state.db, full_name).await?.into_iter().map(|p| p.id).collect();
    if projects.is_empty() {
        return Ok(0);
    }
    let numbers: Vec<i32> = match event {
        "pull_request" | "pull_request_review" => {
            payload["pull_request"]["number"].as_i64().into_iter().collect::<Vec<_>>()
        }
        "check_suite" => payload["check_suite"]["pull_requests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["number"].as_i64())
            .collect(),
        _ => return Ok(0),
    }
    .into_iter()
    .filter_map(|n| i32::try_from(n).ok())
    .collect();
    let mut changed = 0;
    for number in numbers {
        for session in store::pull_requests::with_pull_request(&state.db, &projects, number).await? {
            let known = session.pull_request_state.unwrap_or(PullRequestState::Open);
            let (pull, head, checks, review) = match event {
                "pull_request" => {
                    let pull = &payload["pull_request"];
                    let head = pull["head"]["sha"].as_str().map(str::to_owned);
                    // A new head has checks still to come.
                    let checks = (head != session.pull_request_head_sha).then_some(ChecksState::Pending);
                    (pull_state(github::pull_state(pull)), head, checks, None)
                }
                "check_suite" => {
                    let suite = &payload["check_suite"];
                    let head = suite["head_sha"].as_str().map(str::to_owned);
                    if head.is_some()
                        && session.pull_request_head_sha.is_some()
                        && head != session.pull_request_head_sha
                    {
                        continue;
                    }
                    let checks = github::check_state(suite["status"].as_str(), suite["conclusion"].as_str());
                    (known, head, Some(checks_state(checks)), None)
                }
                _ => {
                    let review = github::review_of(payload["review"]["state"].as_str()).map(review_state);
                    (known, None, None, review)
                }
            };
            record(state, session.id, pull, head, checks, review).await?;
            changed += 1;
        }
    }
    Ok(changed)
}
