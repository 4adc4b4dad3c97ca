//! Messages of one session, paged by id.

use super::StoreError;
use api_types::MessageOrder;
use entity::chat_message;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select, Set,
};

/// One page in the given order, continuing after the cursor id.
pub async fn list(
    db: &impl ConnectionTrait,
    chat_session_id: i32,
    order: MessageOrder,
    after_id: Option<i64>,
    limit: u64,
) -> Result<Vec<chat_message::Model>, StoreError> {
    Ok(page_query(chat_session_id, order, after_id, limit).all(db).await?)
}

/// The query behind one page of messages (public so the benchmark can show its plan).
pub fn page_query(
    chat_session_id: i32,
    order: MessageOrder,
    after_id: Option<i64>,
    limit: u64,
) -> Select<chat_message::Entity> {
    let base = chat_message::Entity::find().filter(chat_message::Column::ChatSessionId.eq(chat_session_id));
    let page = match (order, after_id) {
        (MessageOrder::Asc, Some(after)) => base.filter(chat_message::Column::Id.gt(after)),
        (MessageOrder::Desc, Some(after)) => base.filter(chat_message::Column::Id.lt(after)),
        (_, None) => base,
    };
    let page = match order {
        MessageOrder::Asc => page.order_by_asc(chat_message::Column::Id),
        MessageOrder::Desc => page.order_by_desc(chat_message::Column::Id),
    };
    page.limit(limit)
}

/// Copies every message of one session into another (duplicating a session), in order, and
/// sets the copy's message count and last activity; run inside the caller's transaction. One
/// `INSERT … SELECT`: no row passes through the server and no bind limit applies, however
/// long the conversation.
pub async fn copy_all(
    db: &impl ConnectionTrait,
    from_session: i32,
    to: entity::chat_session::Model,
) -> Result<entity::chat_session::Model, StoreError> {
    copy_up_to(db, from_session, None, to).await
}

/// Copies the session's messages up to and including `last` (all of them without one), as
/// [`copy_all`] does; the turns a revert undid are left out.
pub async fn copy_up_to(
    db: &impl ConnectionTrait,
    from_session: i32,
    last: Option<i64>,
    to: entity::chat_session::Model,
) -> Result<entity::chat_session::Model, StoreError> {
    use chat_message::Column as C;
    use sea_orm::sea_query::{Expr, Order, Query};
    let kept = [C::UserId, C::Role, C::Content, C::Blocks, C::Model, C::InputTokens, C::OutputTokens, C::CommitSha];
    let times = [C::CreatedAt, C::UpdatedAt];
    let select = Query::select()
        .column(C::ProjectId)
        .expr(Expr::val(to.id))
        .columns(kept)
        .columns(times)
        .from(chat_message::Entity)
        .and_where(C::ChatSessionId.eq(from_session))
        .and_where(C::RevertedAt.is_null())
        .and_where_option(last.map(|last| C::Id.lte(last)))
        .order_by(C::Id, Order::Asc)
        .to_owned();
    let mut columns = vec![C::ProjectId, C::ChatSessionId];
    columns.extend(kept);
    columns.extend(times);
    let insert = Query::insert()
        .into_table(chat_message::Entity)
        .columns(columns)
        .select_from(select)
        .map_err(|err| StoreError::Db(sea_orm::DbErr::Custom(err.to_string())))?
        .to_owned();
    let copied = db.execute(&insert).await?.rows_affected();
    if copied == 0 {
        return Ok(to);
    }
    let last = chat_message::Entity::find()
        .filter(chat_message::Column::ChatSessionId.eq(to.id))
        .order_by_desc(chat_message::Column::Id)
        .one(db)
        .await?
        .map(|m| m.created_at);
    let mut session: entity::chat_session::ActiveModel = to.clone().into();
    session.message_count = Set(i32::try_from(copied).unwrap_or(i32::MAX));
    if let Some(last) = last {
        session.last_activity_at = Set(last.max(to.last_activity_at));
    }
    Ok(session.update(db).await?)
}

/// Marks the session's turns after `message_id` as undone by a revert (at `at`); with `None`,
/// takes back the marks of the revert made at `undone`.
pub async fn mark_reverted(
    db: &impl ConnectionTrait,
    session_pk: i32,
    after: i64,
    at: Option<chrono::DateTime<chrono::Utc>>,
    undone: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<u64, StoreError> {
    use sea_orm::sea_query::Expr;
    let mut update = chat_message::Entity::update_many()
        .col_expr(chat_message::Column::RevertedAt, Expr::value(at))
        .filter(chat_message::Column::ChatSessionId.eq(session_pk));
    update = match undone {
        Some(undone) => update.filter(chat_message::Column::RevertedAt.eq(undone)),
        None => update.filter(chat_message::Column::Id.gt(after)).filter(chat_message::Column::RevertedAt.is_null()),
    };
    Ok(update.exec(db).await?.rows_affected)
}

/// Points the session's turns at the commits a rebase made of theirs (old, new).
pub async fn rewrite_commits(
    db: &impl ConnectionTrait,
    session_pk: i32,
    rewritten: &[(String, String)],
) -> Result<u64, StoreError> {
    use sea_orm::sea_query::Expr;
    let mut changed = 0;
    for (old, new) in rewritten {
        changed += chat_message::Entity::update_many()
            .col_expr(chat_message::Column::CommitSha, Expr::value(new.clone()))
            .filter(chat_message::Column::ChatSessionId.eq(session_pk))
            .filter(chat_message::Column::CommitSha.eq(old.clone()))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(changed)
}

/// One message by id.
pub async fn find(db: &impl ConnectionTrait, id: i64) -> Result<Option<chat_message::Model>, StoreError> {
    Ok(chat_message::Entity::find_by_id(id).one(db).await?)
}

/// Up to `limit` messages still stored in plain text (written before transcripts were sealed),
/// oldest first.
pub async fn plaintext(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<chat_message::Model>, StoreError> {
    Ok(chat_message::Entity::find()
        .filter(chat_message::Column::Content.not_like("v1:%"))
        .order_by_asc(chat_message::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Replaces a message's content and blocks (with their sealed form).
pub async fn replace_content(
    db: &impl ConnectionTrait,
    id: i64,
    content: String,
    blocks: Option<serde_json::Value>,
) -> Result<(), StoreError> {
    chat_message::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(id),
        content: sea_orm::ActiveValue::Set(content),
        blocks: sea_orm::ActiveValue::Set(blocks),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// Every message, `limit` at a time after `after_id` (for re-sealing under a new key).
pub async fn all_after(
    db: &impl ConnectionTrait,
    after_id: i64,
    limit: u64,
) -> Result<Vec<chat_message::Model>, StoreError> {
    Ok(chat_message::Entity::find()
        .filter(chat_message::Column::Id.gt(after_id))
        .order_by_asc(chat_message::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// The commit of the session's latest turn that is not reverted: where its branch should be.
pub async fn last_commit(db: &impl ConnectionTrait, session_pk: i32) -> Result<Option<String>, StoreError> {
    let found: Option<Option<String>> = chat_message::Entity::find()
        .select_only()
        .column(chat_message::Column::CommitSha)
        .filter(chat_message::Column::ChatSessionId.eq(session_pk))
        .filter(chat_message::Column::CommitSha.is_not_null())
        .filter(chat_message::Column::RevertedAt.is_null())
        .order_by_desc(chat_message::Column::Id)
        .into_tuple()
        .one(db)
        .await?;
    Ok(found.flatten())
}
