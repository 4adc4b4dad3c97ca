//! Messages waiting for a chat's live run to end (`queued_prompts`), oldest first; the prompt
//! is sealed by the caller.

use super::{StoreError, now};
use entity::queued_prompt;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

pub async fn push(
    db: &impl ConnectionTrait,
    session_pk: i32,
    user_id: &str,
    sealed: String,
    sealed_comments: Option<String>,
) -> Result<queued_prompt::Model, StoreError> {
    let at = now();
    let row = queued_prompt::ActiveModel {
        chat_session_id: Set(session_pk),
        user_id: Set(user_id.to_owned()),
        prompt: Set(sealed),
        comments: Set(sealed_comments),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    };
    Ok(row.insert(db).await?)
}

/// The session's queue, in the order it starts.
pub async fn list(db: &impl ConnectionTrait, session_pk: i32) -> Result<Vec<queued_prompt::Model>, StoreError> {
    Ok(queued_prompt::Entity::find()
        .filter(queued_prompt::Column::ChatSessionId.eq(session_pk))
        .order_by_asc(queued_prompt::Column::Id)
        .all(db)
        .await?)
}

/// The session's queued prompt `id`.
pub async fn find(db: &impl ConnectionTrait, session_pk: i32, id: i32) -> Result<queued_prompt::Model, StoreError> {
    queued_prompt::Entity::find_by_id(id)
        .filter(queued_prompt::Column::ChatSessionId.eq(session_pk))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("queued message"))
}

pub async fn replace(
    db: &impl ConnectionTrait,
    row: queued_prompt::Model,
    sealed: String,
) -> Result<queued_prompt::Model, StoreError> {
    let mut active: queued_prompt::ActiveModel = row.into();
    active.prompt = Set(sealed);
    active.updated_at = Set(now());
    Ok(active.update(db).await?)
}

/// Takes the queued prompt `id` off the queue; whether it was there (a start and a cancel
/// may race: one of them gets it). On PostgreSQL a row another transaction is taking is
/// skipped (`FOR UPDATE SKIP LOCKED`), not waited for.
pub async fn take(db: &impl ConnectionTrait, id: i32) -> Result<bool, StoreError> {
    use sea_orm::sea_query::{LockBehavior, LockType, Query};
    let mut claim = Query::select()
        .column(queued_prompt::Column::Id)
        .from(queued_prompt::Entity)
        .and_where(queued_prompt::Column::Id.eq(id))
        .to_owned();
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        claim.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let taken =
        queued_prompt::Entity::delete_many().filter(queued_prompt::Column::Id.in_subquery(claim)).exec(db).await?;
    Ok(taken.rows_affected == 1)
}

/// Puts a taken prompt back, with its id (so its place in the queue).
pub async fn restore(db: &impl ConnectionTrait, row: queued_prompt::Model) -> Result<(), StoreError> {
    let active: queued_prompt::ActiveModel = row.into();
    queued_prompt::Entity::insert(active.reset_all()).exec(db).await?;
    Ok(())
}

/// Sessions with a queue (held by `node`), for starting their next turns.
pub async fn sessions(db: &impl ConnectionTrait, node: Option<i32>) -> Result<Vec<i32>, StoreError> {
    use entity::chat_session;
    use sea_orm::sea_query::Query;
    // An archived chat's queue waits for it to be restored.
    let active = Query::select()
        .column(chat_session::Column::Id)
        .from(chat_session::Entity)
        .and_where(chat_session::Column::Status.eq(api_types::ChatSessionStatus::Active))
        .to_owned();
    let mut queued = queued_prompt::Entity::find().filter(queued_prompt::Column::ChatSessionId.in_subquery(active));
    if let Some(node) = node {
        queued = queued.filter(queued_prompt::Column::ChatSessionId.in_subquery(super::nodes::sessions_held_by(node)));
    }
    Ok(queued.select_only().column(queued_prompt::Column::ChatSessionId).distinct().into_tuple::<i32>().all(db).await?)
}
