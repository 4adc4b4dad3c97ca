//! A project's environment variables (values sealed by the caller).

use super::{StoreError, now};
use entity::project_env_var;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

pub async fn list(db: &impl ConnectionTrait, project_id: i32) -> Result<Vec<project_env_var::Model>, StoreError> {
    Ok(project_env_var::Entity::find()
        .filter(project_env_var::Column::ProjectId.eq(project_id))
        .order_by_asc(project_env_var::Column::Key)
        .all(db)
        .await?)
}

/// Creates or replaces a variable.
pub async fn set(
    db: &impl ConnectionTrait,
    project_id: i32,
    key: &str,
    sealed: String,
) -> Result<project_env_var::Model, StoreError> {
    let at = now();
    let existing = project_env_var::Entity::find()
        .filter(project_env_var::Column::ProjectId.eq(project_id))
        .filter(project_env_var::Column::Key.eq(key))
        .one(db)
        .await?;
    Ok(match existing {
        Some(found) => {
            let mut active: project_env_var::ActiveModel = found.into();
            active.value_encrypted = Set(sealed);
            active.updated_at = Set(at);
            active.update(db).await?
        }
        None => {
            project_env_var::ActiveModel {
                project_id: Set(project_id),
                key: Set(key.to_owned()),
                value_encrypted: Set(sealed),
                created_at: Set(at),
                updated_at: Set(at),
                ..Default::default()
            }
            .insert(db)
            .await?
        }
    })
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
