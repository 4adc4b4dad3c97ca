//! Messages of one session, paged by id.

use super::StoreError;
use api_types::MessageOrder;
use entity::chat_message;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

/// One page in the given order, continuing after the cursor id, and the session's total.
pub async fn list(
    db: &impl ConnectionTrait,
    chat_session_id: i32,
    order: MessageOrder,
    after_id: Option<i64>,
    limit: u64,
) -> Result<(Vec<chat_message::Model>, u64), StoreError> {
    let base = chat_message::Entity::find()
        .filter(chat_message::Column::ChatSessionId.eq(chat_session_id));
    let total = base.clone().count(db).await?;
    let page = match (order, after_id) {
        (MessageOrder::Asc, Some(after)) => base.filter(chat_message::Column::Id.gt(after)),
        (MessageOrder::Desc, Some(after)) => base.filter(chat_message::Column::Id.lt(after)),
        (_, None) => base,
    };
    let page = match order {
        MessageOrder::Asc => page.order_by_asc(chat_message::Column::Id),
        MessageOrder::Desc => page.order_by_desc(chat_message::Column::Id),
    };
    Ok((page.limit(limit).all(db).await?, total))
}
