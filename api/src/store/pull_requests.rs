//! A session's pull request as kosuke knows it: the number and address it was opened with,
//! and what GitHub last said of it (state, head, checks, review), which the poller and the
//! webhook keep fresh.

use super::{StoreError, now};
use api_types::ChatSessionStatus;
use entity::chat_session;
use sea_orm::sea_query::NullOrdering;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

/// What GitHub last said of the session's pull request.
pub async fn set_pull_request_life(
    db: &impl ConnectionTrait,
    session_pk: i32,
    state: api_types::PullRequestState,
    head_sha: Option<String>,
    checks: Option<api_types::ChecksState>,
    review: Option<api_types::ReviewState>,
) -> Result<chat_session::Model, StoreError> {
    let mut active = chat_session::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(session_pk),
        pull_request_state: Set(Some(state)),
        pull_request_refreshed_at: Set(Some(now())),
        ..Default::default()
    };
    if let Some(sha) = head_sha {
        active.pull_request_head_sha = Set(Some(sha));
    }
    if let Some(checks) = checks {
        active.pull_request_checks = Set(Some(checks));
    }
    if let Some(review) = review {
        active.pull_request_review = Set(Some(review));
    }
    Ok(active.update(db).await?)
}

/// Active sessions with a pull request not known to be merged or closed, at most `limit`,
/// the least recently refreshed first (the poller's next ones); with several nodes, only those
/// of the projects `node` holds (each node polls its own).
pub async fn with_live_pull_requests(
    db: &impl ConnectionTrait,
    limit: usize,
    node: Option<i32>,
) -> Result<Vec<chat_session::Model>, StoreError> {
    use api_types::PullRequestState as S;
    let mut query = chat_session::Entity::find();
    if let Some(node) = node {
        query = query.filter(chat_session::Column::Id.in_subquery(super::nodes::sessions_held_by(node)));
    }
    Ok(query
        .filter(chat_session::Column::Status.eq(ChatSessionStatus::Active))
        .filter(chat_session::Column::PullRequestNumber.is_not_null())
        .filter(
            Condition::any()
                .add(chat_session::Column::PullRequestState.is_null())
                .add(chat_session::Column::PullRequestState.is_in([S::Open, S::Draft])),
        )
        // Never refreshed first: NULLs sort first on SQLite and last on PostgreSQL unless told.
        .order_by_with_nulls(chat_session::Column::PullRequestRefreshedAt, Order::Asc, NullOrdering::First)
        .order_by_asc(chat_session::Column::Id)
        .limit(limit as u64)
        .all(db)
        .await?)
}

/// The active sessions of `project_id`s with pull request `number`.
pub async fn with_pull_request(
    db: &impl ConnectionTrait,
    project_ids: &[i32],
    number: i32,
) -> Result<Vec<chat_session::Model>, StoreError> {
    Ok(chat_session::Entity::find()
        .filter(chat_session::Column::ProjectId.is_in(project_ids.iter().copied()))
        .filter(chat_session::Column::PullRequestNumber.eq(number))
        .all(db)
        .await?)
}

/// Remembers the pull request opened from the session.
pub async fn set_pull_request(
    db: &impl ConnectionTrait,
    session_pk: i32,
    number: i32,
    url: String,
) -> Result<(), StoreError> {
    chat_session::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(session_pk),
        pull_request_number: Set(Some(number)),
        pull_request_url: Set(Some(url)),
        updated_at: Set(now()),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}
