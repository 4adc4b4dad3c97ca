//! The audit trail: appended in the same transaction as the change it records.

use super::{StoreError, now};
use api_types::AuditAction;
use entity::audit_event;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

pub struct AuditRecord<'a> {
    pub actor_id: &'a str,
    pub project_id: i32,
    pub chat_session_id: Option<i32>,
    pub action: AuditAction,
    pub detail: serde_json::Value,
}

pub async fn record(db: &impl ConnectionTrait, record: AuditRecord<'_>) -> Result<(), StoreError> {
    audit_event::ActiveModel {
        actor_id: Set(Some(record.actor_id.to_owned())),
        project_id: Set(record.project_id),
        chat_session_id: Set(record.chat_session_id),
        action: Set(record.action),
        detail: Set(record.detail),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Newest first, before the cursor id.
pub async fn list(
    db: &impl ConnectionTrait,
    project_id: i32,
    before_id: Option<i64>,
    limit: u64,
) -> Result<Vec<audit_event::Model>, StoreError> {
    let mut query = audit_event::Entity::find().filter(audit_event::Column::ProjectId.eq(project_id));
    if let Some(before) = before_id {
        query = query.filter(audit_event::Column::Id.lt(before));
    }
    Ok(query.order_by_desc(audit_event::Column::Id).limit(limit).all(db).await?)
}
