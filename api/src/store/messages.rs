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
/// sets the copy's message count and last activity in the same transaction.
pub async fn copy_all<C>(db: &C, from_session: i32, to: &entity::chat_session::Model) -> Result<(), StoreError>
where
    C: ConnectionTrait + sea_orm::TransactionTrait,
{
    let source = chat_message::Entity::find()
        .filter(chat_message::Column::ChatSessionId.eq(from_session))
        .order_by_asc(chat_message::Column::Id)
        .all(db)
        .await?;
    if source.is_empty() {
        return Ok(());
    }
    let txn = db.begin().await?;
    let count = source.len() as i32;
    let last = source.iter().map(|m| m.created_at).max();
    let copies = source.into_iter().map(|m| chat_message::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        project_id: Set(m.project_id),
        chat_session_id: Set(to.id),
        user_id: Set(m.user_id),
        role: Set(m.role),
        content: Set(m.content),
        blocks: Set(m.blocks),
        model: Set(m.model),
        input_tokens: Set(m.input_tokens),
        output_tokens: Set(m.output_tokens),
        commit_sha: Set(m.commit_sha),
        created_at: Set(m.created_at),
        updated_at: Set(m.updated_at),
    });
    chat_message::Entity::insert_many(copies).exec(&txn).await?;
    let mut session: entity::chat_session::ActiveModel = to.clone().into();
    session.message_count = Set(count);
    if let Some(last) = last {
        session.last_activity_at = Set(last.max(to.last_activity_at));
    }
    session.update(&txn).await?;
    super::commit(txn).await?;
    Ok(())
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
