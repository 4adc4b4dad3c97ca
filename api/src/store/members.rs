//! Project membership.

use super::{StoreError, now};
use api_types::ProjectRole;
use entity::{project_member, user};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

pub async fn list(
    db: &impl ConnectionTrait,
    project_id: i32,
) -> Result<Vec<(project_member::Model, user::Model)>, StoreError> {
    let rows = project_member::Entity::find()
        .filter(project_member::Column::ProjectId.eq(project_id))
        .find_also_related(user::Entity)
        .order_by_asc(project_member::Column::CreatedAt)
        .order_by_asc(project_member::Column::UserId)
        .all(db)
        .await?;
    Ok(rows.into_iter().filter_map(|(member, user)| user.map(|user| (member, user))).collect())
}

/// Adds a member; an existing membership is `StoreError::Conflict`.
pub async fn insert(
    db: &impl ConnectionTrait,
    project_id: i32,
    user_id: &str,
    role: ProjectRole,
) -> Result<project_member::Model, StoreError> {
    Ok(project_member::ActiveModel {
        project_id: Set(project_id),
        user_id: Set(user_id.to_owned()),
        role: Set(role),
        created_at: Set(now()),
    }
    .insert(db)
    .await?)
}

pub async fn delete(db: &impl ConnectionTrait, project_id: i32, user_id: &str) -> Result<(), StoreError> {
    let result = project_member::Entity::delete_many()
        .filter(project_member::Column::ProjectId.eq(project_id))
        .filter(project_member::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(StoreError::NotFound("member"));
    }
    Ok(())
}
