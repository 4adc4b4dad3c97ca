//! Chat sessions. A user sees only their own; the first session of a project is its default,
//! which a partial unique index (`idx_chat_sessions_one_default`) keeps to exactly one even
//! under concurrent creation.

use super::{StoreError, now};
use api_types::{ChatSessionStatus, WorkspaceState};
use chrono::{DateTime, Utc};
use entity::chat_session;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select, Set,
};

pub struct NewSession {
    pub project_id: i32,
    pub user_id: String,
    pub title: String,
    pub description: Option<String>,
    pub session_id: String,
    pub base_branch: String,
}

/// Whether the project already has its default session. Read before the inserting
/// transaction starts, so SQLite's write lock is taken by the transaction's first statement.
pub async fn has_default(db: &impl ConnectionTrait, project_id: i32) -> Result<bool, StoreError> {
    let count = chat_session::Entity::find()
        .filter(chat_session::Column::ProjectId.eq(project_id))
        .filter(chat_session::Column::IsDefault.eq(true))
        .count(db)
        .await?;
    Ok(count > 0)
}

/// Inserts a session, as the project's default when `try_default` (no default existed a moment
/// ago). Two concurrent "first" sessions race on the unique index; the loser, rolled back to a
/// savepoint, becomes an ordinary session.
pub async fn insert<C>(db: &C, new: NewSession, try_default: bool) -> Result<chat_session::Model, StoreError>
where
    C: crate::store::Begin,
{
    if try_default {
        let savepoint = crate::store::begin(db).await?;
        match active_model(&new, true).insert(&savepoint).await {
            Ok(model) => {
                super::commit(savepoint).await?;
                return Ok(model);
            }
            Err(err) => {
                let err = StoreError::from(err);
                if !err.is_conflict() {
                    return Err(err);
                }
                savepoint.rollback().await?;
            }
        }
    }
    Ok(active_model(&new, false).insert(db).await?)
}

fn active_model(new: &NewSession, is_default: bool) -> chat_session::ActiveModel {
    let at = now();
    chat_session::ActiveModel {
        project_id: Set(new.project_id),
        user_id: Set(new.user_id.clone()),
        title: Set(new.title.clone()),
        description: Set(new.description.clone()),
        session_id: Set(new.session_id.clone()),
        github_branch_name: Set(format!("{}{}", api_types::SESSION_BRANCH_PREFIX, new.session_id)),
        status: Set(ChatSessionStatus::Active),
        created_at: Set(at),
        updated_at: Set(at),
        last_activity_at: Set(at),
        message_count: Set(0),
        is_default: Set(is_default),
        base_branch: Set(Some(new.base_branch.clone())),
        pull_request_number: Set(None),
        pull_request_url: Set(None),
        workspace_state: Set(WorkspaceState::Provisioning),
        workspace_error: Set(None),
        ..Default::default()
    }
}

/// The user's session in the project, or "not found".
pub async fn load_for_user(
    db: &impl ConnectionTrait,
    project_id: i32,
    session_pk: i32,
    user_id: &str,
) -> Result<chat_session::Model, StoreError> {
    chat_session::Entity::find_by_id(session_pk)
        .filter(chat_session::Column::ProjectId.eq(project_id))
        .filter(chat_session::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("chat session"))
}

pub struct SessionFilter<'a> {
    pub project_id: i32,
    pub user_id: &'a str,
    pub status: Option<ChatSessionStatus>,
    /// Matched case-insensitively against title and description.
    pub search: Option<&'a str>,
}

/// Where a page of the session list starts: after this (last activity, id).
pub type ActivityCursor = (DateTime<Utc>, i32);

/// One page, newest activity first, and how many sessions match the filter in all.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: SessionFilter<'_>,
    after: Option<ActivityCursor>,
    limit: u64,
) -> Result<(Vec<chat_session::Model>, u64), StoreError> {
    let total = filtered(&filter).count(db).await?;
    let rows = page_query(&filter, after, limit).all(db).await?;
    Ok((rows, total))
}

/// The query behind one page of the sidebar (public so the benchmark can show its plan).
pub fn page_query(
    filter: &SessionFilter<'_>,
    after: Option<ActivityCursor>,
    limit: u64,
) -> Select<chat_session::Entity> {
    let mut page = filtered(filter);
    if let Some((at, id)) = after {
        page = page.filter(Condition::any().add(chat_session::Column::LastActivityAt.lt(at)).add(
            Condition::all().add(chat_session::Column::LastActivityAt.eq(at)).add(chat_session::Column::Id.lt(id)),
        ));
    }
    page.order_by_desc(chat_session::Column::LastActivityAt).order_by_desc(chat_session::Column::Id).limit(limit)
}

fn filtered(filter: &SessionFilter<'_>) -> Select<chat_session::Entity> {
    let mut query = chat_session::Entity::find()
        .filter(chat_session::Column::ProjectId.eq(filter.project_id))
        .filter(chat_session::Column::UserId.eq(filter.user_id));
    if let Some(status) = filter.status {
        query = query.filter(chat_session::Column::Status.eq(status));
    }
    if let Some(search) = filter.search {
        let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
        let matches = |column: chat_session::Column| {
            Expr::expr(Func::lower(Expr::col(column))).like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        query = query.filter(
            Condition::any().add(matches(chat_session::Column::Title)).add(matches(chat_session::Column::Description)),
        );
    }
    query
}

/// Makes `%`, `_` and `\` in user input match themselves in a LIKE pattern.
fn escape_like(input: &str) -> String {
    let mut escaped = String::with_capacity(input.len());
    for c in input.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

pub struct SessionChanges {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub status: Option<ChatSessionStatus>,
}

pub async fn update(
    db: &impl ConnectionTrait,
    session: chat_session::Model,
    changes: SessionChanges,
) -> Result<chat_session::Model, StoreError> {
    let mut active: chat_session::ActiveModel = session.into();
    if let Some(title) = changes.title {
        active.title = Set(title);
    }
    if let Some(description) = changes.description {
        active.description = Set(description);
    }
    if let Some(status) = changes.status {
        active.status = Set(status);
    }
    active.updated_at = Set(now());
    Ok(active.update(db).await?)
}

/// Records the session's last revert (`None`: it can no longer be undone).
pub async fn set_reverted_at(
    db: &impl ConnectionTrait,
    session: chat_session::Model,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<chat_session::Model, StoreError> {
    let mut active: chat_session::ActiveModel = session.into();
    active.reverted_at = Set(at);
    active.updated_at = Set(now());
    Ok(active.update(db).await?)
}

/// Deletes a session that is not the project's default; its messages go with it (cascade).
pub async fn delete_non_default(db: &impl ConnectionTrait, session_pk: i32) -> Result<(), StoreError> {
    let result = chat_session::Entity::delete_many()
        .filter(chat_session::Column::Id.eq(session_pk))
        .filter(chat_session::Column::IsDefault.eq(false))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(StoreError::NotFound("chat session"));
    }
    Ok(())
}

/// Records where the session's checkout stands.
pub async fn set_workspace_state(
    db: &impl ConnectionTrait,
    session_pk: i32,
    state: WorkspaceState,
    error: Option<String>,
) -> Result<(), StoreError> {
    chat_session::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(session_pk),
        workspace_state: Set(state),
        workspace_error: Set(error),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// Marks the session's checkout ready (found on disk), clearing the error of an earlier
/// failure when `clear_error` (a setup's error is kept).
pub async fn mark_ready(db: &impl ConnectionTrait, session_pk: i32, clear_error: bool) -> Result<(), StoreError> {
    chat_session::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(session_pk),
        workspace_state: Set(WorkspaceState::Ready),
        workspace_error: if clear_error { Set(None) } else { sea_orm::ActiveValue::NotSet },
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// Every session of a project, of every user (the start-up sweep).
pub async fn all_in_project(
    db: &impl ConnectionTrait,
    project_id: i32,
) -> Result<Vec<chat_session::Model>, StoreError> {
    Ok(chat_session::Entity::find()
        .filter(chat_session::Column::ProjectId.eq(project_id))
        .order_by_asc(chat_session::Column::Id)
        .all(db)
        .await?)
}

/// The user's active sessions of the project, oldest first, at most `limit` (the radar).
pub async fn active_for_user(
    db: &impl ConnectionTrait,
    project_id: i32,
    user_id: &str,
    limit: u64,
) -> Result<Vec<chat_session::Model>, StoreError> {
    Ok(chat_session::Entity::find()
        .filter(chat_session::Column::ProjectId.eq(project_id))
        .filter(chat_session::Column::UserId.eq(user_id))
        .filter(chat_session::Column::Status.eq(ChatSessionStatus::Active))
        .order_by_asc(chat_session::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Records (or, with `None`, clears) the session's update stopped on conflicts (JSON).
pub async fn set_update_conflict(
    db: &impl ConnectionTrait,
    session: chat_session::Model,
    conflict: Option<String>,
) -> Result<chat_session::Model, StoreError> {
    let mut active: chat_session::ActiveModel = session.into();
    active.update_conflict = Set(conflict);
    active.updated_at = Set(now());
    Ok(active.update(db).await?)
}

/// Another node took the session over: its checkout is to be made again, and `lost` says what
/// did not survive.
pub async fn taken_over(
    db: &impl ConnectionTrait,
    session_pk: i32,
    state: WorkspaceState,
    lost: Option<String>,
) -> Result<(), StoreError> {
    chat_session::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(session_pk),
        workspace_state: Set(state),
        lost_work: Set(lost),
        updated_at: Set(now()),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// Any session by id (for signed links, which carry their own authority).
pub async fn find(db: &impl ConnectionTrait, session_pk: i32) -> Result<chat_session::Model, StoreError> {
    chat_session::Entity::find_by_id(session_pk).one(db).await?.ok_or(StoreError::NotFound("chat session"))
}

/// The user's sessions in the project among `ids` (others are silently left out).
pub async fn many_for_user(
    db: &impl ConnectionTrait,
    project_id: i32,
    user_id: &str,
    ids: &[i32],
) -> Result<Vec<chat_session::Model>, StoreError> {
    Ok(chat_session::Entity::find()
        .filter(chat_session::Column::ProjectId.eq(project_id))
        .filter(chat_session::Column::UserId.eq(user_id))
        .filter(chat_session::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(chat_session::Column::Id)
        .all(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_wildcards_in_searches_match_literally() {
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
    }
}
