//! The `nodes` table: registration and heartbeats.

use super::{StoreError, now};
use entity::node;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

/// Registers the node at `url` (again, after a restart: same row, started now).
pub async fn register(db: &impl ConnectionTrait, url: &str) -> Result<node::Model, StoreError> {
    let at = now();
    if let Some(known) = node::Entity::find().filter(node::Column::Url.eq(url)).one(db).await? {
        let mut active: node::ActiveModel = known.into();
        active.started_at = Set(at);
        active.heartbeat_at = Set(at);
        return Ok(active.update(db).await?);
    }
    let row = node::ActiveModel {
        url: Set(url.to_owned()),
        started_at: Set(at),
        heartbeat_at: Set(at),
        ..Default::default()
    };
    Ok(row.insert(db).await?)
}

/// The node's heartbeat: its row says it is alive now.
pub async fn beat(db: &impl ConnectionTrait, id: i32) -> Result<(), StoreError> {
    node::ActiveModel { id: sea_orm::ActiveValue::Unchanged(id), heartbeat_at: Set(now()), ..Default::default() }
        .update(db)
        .await?;
    Ok(())
}

pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<node::Model>, StoreError> {
    Ok(node::Entity::find().order_by_asc(node::Column::Id).all(db).await?)
}
