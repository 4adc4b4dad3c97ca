//! Keeping sessions mergeable: updating a session from its base branch (merge or rebase, a
//! conflict handed to the agent or aborted) and the conflict radar across a project's active
//! sessions.

use crate::ids::ChatSessionPk;
use crate::session::ChatSession;
use serde::{Deserialize, Serialize};

/// How the base branch's new commits come into a session branch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "db", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(feature = "db", sea_orm(rs_type = "String", db_type = "String(sea_orm::sea_query::StringLen::N(10))"))]
#[serde(rename_all = "snake_case")]
pub enum UpdateStrategy {
    /// One merge commit (a fast-forward when the session has no commit of its own).
    #[default]
    #[cfg_attr(feature = "db", sea_orm(string_value = "merge"))]
    Merge,
    /// The session's own commits replayed on the base's tip (the turns' commits follow).
    #[cfg_attr(feature = "db", sea_orm(string_value = "rebase"))]
    Rebase,
}

/// `POST …/{session_pk}/update`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateSessionRequest {
    /// The project's `update_strategy` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<UpdateStrategy>,
}

/// An update from the base stopped on conflicts, until the agent's turn concludes it or it is
/// aborted (`POST …/{session_pk}/update/abort`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateConflict {
    pub strategy: UpdateStrategy,
    pub base_branch: String,
    /// The base's tip the update brings in.
    pub base_sha: String,
    /// The files with conflict markers in the checkout.
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum UpdateOutcome {
    /// The branch already had the base's commits.
    UpToDate,
    Updated,
    /// Stopped on conflicts: `session.update_conflict` says where.
    Conflicted,
}

/// What `POST …/{session_pk}/update` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateResult {
    pub outcome: UpdateOutcome,
    /// The branch's head after it.
    pub head_sha: String,
    /// The new head was pushed (projects with a remote).
    pub pushed: bool,
    pub session: ChatSession,
    /// E.g. that the remote could not be reached and the base is the last fetched one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
}

/// A session whose branch no longer merges cleanly into its base's tip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BaseConflict {
    pub chat_session_id: ChatSessionPk,
    pub paths: Vec<String>,
}

/// Two sessions whose branches do not merge cleanly into each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairConflict {
    /// The smaller session id of the two.
    pub a: ChatSessionPk,
    pub b: ChatSessionPk,
    pub paths: Vec<String>,
}

/// `GET /api/projects/{id}/conflicts`: over the caller's active sessions of the project,
/// only the conflicting entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConflictMatrix {
    pub base: Vec<BaseConflict>,
    pub pairs: Vec<PairConflict>,
}
