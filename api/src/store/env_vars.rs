//! A project's environment variables (values sealed by the caller).

use super::{StoreError, now};
use entity::project_env_var;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

pub async fn list(db: &impl ConnectionTrait, project_id: i32) -> Result<Vec<project_env_var::Model>, StoreError> {
    Ok(project_env_var::Entity::find()
        .filter(project_env_var::Column::ProjectId.eq(project_id))
        .order_by_asc(project_env_var::Column::Key)
        .all(db)
        .await?)
}

/// Creates or replaces a variable, in one statement (`ON CONFLICT DO UPDATE`), so that two
/// writers of the same new key both land instead of one hitting the unique index.
pub async fn set(
    db: &impl ConnectionTrait,
    project_id: i32,
    key: &str,
    sealed: String,
) -> Result<project_env_var::Model, StoreError> {
    let at = now();
    let row = project_env_var::ActiveModel {
        project_id: Set(project_id),
        key: Set(key.to_owned()),
        value_encrypted: Set(sealed),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    };
    let upsert = OnConflict::columns([project_env_var::Column::ProjectId, project_env_var::Column::Key])
        .update_columns([project_env_var::Column::ValueEncrypted, project_env_var::Column::UpdatedAt])
        .to_owned();
    Ok(project_env_var::Entity::insert(row).on_conflict(upsert).exec_with_returning(db).await?)
}

pub async fn delete(db: &impl ConnectionTrait, project_id: i32, key: &str) -> Result<(), StoreError> {
    let result = project_env_var::Entity::delete_many()
        .filter(project_env_var::Column::ProjectId.eq(project_id))
        .filter(project_env_var::Column::Key.eq(key))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(StoreError::NotFound("environment variable"));
    }
    Ok(())
}
