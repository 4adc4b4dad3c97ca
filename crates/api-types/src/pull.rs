//! A pull request's life after a session opened it: open, draft, merged or closed; its head
//! commit's checks, combined; its review state. Kept on the session, refreshed by polling
//! (`POST …/{session_pk}/pull-request/refresh` does it at once) and by GitHub's webhooks.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "db", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(feature = "db", sea_orm(rs_type = "String", db_type = "String(sea_orm::sea_query::StringLen::N(10))"))]
#[serde(rename_all = "snake_case")]
pub enum PullRequestState {
    #[cfg_attr(feature = "db", sea_orm(string_value = "open"))]
    Open,
    #[cfg_attr(feature = "db", sea_orm(string_value = "draft"))]
    Draft,
    #[cfg_attr(feature = "db", sea_orm(string_value = "merged"))]
    Merged,
    #[cfg_attr(feature = "db", sea_orm(string_value = "closed"))]
    Closed,
}

/// The head commit's check runs and commit statuses, together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "db", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(feature = "db", sea_orm(rs_type = "String", db_type = "String(sea_orm::sea_query::StringLen::N(10))"))]
#[serde(rename_all = "snake_case")]
pub enum ChecksState {
    /// The commit has no check and no status.
    #[cfg_attr(feature = "db", sea_orm(string_value = "none"))]
    None,
    #[cfg_attr(feature = "db", sea_orm(string_value = "pending"))]
    Pending,
    #[cfg_attr(feature = "db", sea_orm(string_value = "success"))]
    Success,
    #[cfg_attr(feature = "db", sea_orm(string_value = "failure"))]
    Failure,
}

/// The reviewers' verdict (each one's latest review).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "db", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(feature = "db", sea_orm(rs_type = "String", db_type = "String(sea_orm::sea_query::StringLen::N(20))"))]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    #[cfg_attr(feature = "db", sea_orm(string_value = "none"))]
    None,
    #[cfg_attr(feature = "db", sea_orm(string_value = "commented"))]
    Commented,
    #[cfg_attr(feature = "db", sea_orm(string_value = "approved"))]
    Approved,
    #[cfg_attr(feature = "db", sea_orm(string_value = "changes_requested"))]
    ChangesRequested,
}

/// What kosuke last learnt of a session's pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullRequestLife {
    pub state: PullRequestState,
    /// The commit the pull request's head is at on GitHub.
    pub head_sha: Option<String>,
    pub checks: Option<ChecksState>,
    pub review: Option<ReviewState>,
    pub refreshed_at: Option<DateTime<Utc>>,
}

/// `POST …/{session_pk}/pull-request/describe`: a title and description the agent wrote from
/// the chat's changes and conversation, for the user to edit before opening the pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullRequestDraft {
    pub title: String,
    pub body: String,
}
