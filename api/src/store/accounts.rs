//! Accounts as admins manage them: listing and disabling users, one-use invites, and the
//! server's own settings (the sign-up mode).

use super::{StoreError, now};
use chrono::{DateTime, Utc};
use entity::{invite, server_setting, user};
use sea_orm::sea_query::Expr;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

pub async fn count_users(db: &impl ConnectionTrait) -> Result<u64, StoreError> {
    Ok(user::Entity::find().count(db).await?)
}

/// Every account, oldest first.
pub async fn list_users(db: &impl ConnectionTrait) -> Result<Vec<user::Model>, StoreError> {
    Ok(user::Entity::find().order_by_asc(user::Column::CreatedAt).order_by_asc(user::Column::Id).all(db).await?)
}

pub async fn find_user(db: &impl ConnectionTrait, id: &str) -> Result<user::Model, StoreError> {
    user::Entity::find_by_id(id).one(db).await?.ok_or(StoreError::NotFound("user"))
}

/// Disables an account (or enables it again).
pub async fn set_disabled(db: &impl ConnectionTrait, id: &str, disabled: bool) -> Result<user::Model, StoreError> {
    let mut active: user::ActiveModel = find_user(db, id).await?.into();
    active.disabled_at = Set(disabled.then(now));
    Ok(active.update(db).await?)
}

pub async fn insert_invite(
    db: &impl ConnectionTrait,
    created_by: &str,
    token_hash: String,
    expires_at: DateTime<Utc>,
) -> Result<invite::Model, StoreError> {
    let model = invite::ActiveModel {
        token_hash: Set(token_hash),
        created_by: Set(created_by.to_owned()),
        created_at: Set(now()),
        expires_at: Set(expires_at),
        ..Default::default()
    };
    Ok(model.insert(db).await?)
}

/// Uses up an unexpired, unused invite for `user_id`; `false` when there is none (in one
/// statement, so two sign-ups cannot both use it).
pub async fn use_invite(db: &impl ConnectionTrait, token_hash: &str, user_id: &str) -> Result<bool, StoreError> {
    let at = now();
    let result = invite::Entity::update_many()
        .col_expr(invite::Column::UsedAt, Expr::value(at))
        .col_expr(invite::Column::UsedBy, Expr::value(user_id))
        .filter(invite::Column::TokenHash.eq(token_hash))
        .filter(invite::Column::UsedAt.is_null())
        .filter(invite::Column::ExpiresAt.gt(at))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn setting(db: &impl ConnectionTrait, key: &str) -> Result<Option<String>, StoreError> {
    Ok(server_setting::Entity::find_by_id(key).one(db).await?.map(|s| s.value))
}

/// Sets a server setting where it has no value yet (an existing one is kept).
pub async fn add_setting(db: &impl ConnectionTrait, key: &str, value: &str) -> Result<(), StoreError> {
    put_setting(db, key, value, OnConflict::column(server_setting::Column::Key).do_nothing().to_owned()).await
}

pub async fn set_setting(db: &impl ConnectionTrait, key: &str, value: &str) -> Result<(), StoreError> {
    let replace =
        OnConflict::column(server_setting::Column::Key).update_column(server_setting::Column::Value).to_owned();
    put_setting(db, key, value, replace).await
}

async fn put_setting(
    db: &impl ConnectionTrait,
    key: &str,
    value: &str,
    on_conflict: OnConflict,
) -> Result<(), StoreError> {
    let model = server_setting::ActiveModel { key: Set(key.to_owned()), value: Set(value.to_owned()) };
    server_setting::Entity::insert(model).on_conflict(on_conflict).try_insert().exec(db).await?;
    Ok(())
}
