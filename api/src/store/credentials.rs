//! Users, browser sign-ins and personal access tokens.

use super::{StoreError, now};
use chrono::{DateTime, Duration, Utc};
use entity::{api_token, auth_session, github_credential, user};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

pub struct NewUser {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub is_admin: bool,
}

/// Inserts a user; a taken email is `StoreError::Conflict`.
pub async fn insert_user(db: &impl ConnectionTrait, new: NewUser) -> Result<user::Model, StoreError> {
    let model = user::ActiveModel {
        id: Set(new.id),
        email: Set(new.email),
        display_name: Set(new.display_name),
        password_hash: Set(new.password_hash),
        created_at: Set(now()),
        is_admin: Set(new.is_admin),
        disabled_at: Set(None),
    };
    Ok(model.insert(db).await?)
}

pub async fn find_user(db: &impl ConnectionTrait, id: &str) -> Result<Option<user::Model>, StoreError> {
    Ok(user::Entity::find_by_id(id.to_owned()).one(db).await?)
}

pub async fn find_user_by_email(db: &impl ConnectionTrait, email: &str) -> Result<Option<user::Model>, StoreError> {
    Ok(user::Entity::find().filter(user::Column::Email.eq(email)).one(db).await?)
}

pub async fn insert_login(
    db: &impl ConnectionTrait,
    user_id: &str,
    token_hash: String,
    lifetime: std::time::Duration,
) -> Result<(), StoreError> {
    let created_at = now();
    let lifetime = Duration::from_std(lifetime).unwrap_or(Duration::days(30));
    auth_session::ActiveModel {
        user_id: Set(user_id.to_owned()),
        token_hash: Set(token_hash),
        created_at: Set(created_at),
        expires_at: Set(created_at + lifetime),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Revokes a browser sign-in.
pub async fn delete_login(db: &impl ConnectionTrait, token_hash: &str) -> Result<(), StoreError> {
    auth_session::Entity::delete_many().filter(auth_session::Column::TokenHash.eq(token_hash)).exec(db).await?;
    Ok(())
}

/// The user of an unexpired sign-in, and when the sign-in expires.
pub async fn user_for_login(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<(user::Model, DateTime<Utc>)>, StoreError> {
    let found = auth_session::Entity::find()
        .filter(auth_session::Column::TokenHash.eq(token_hash))
        .filter(auth_session::Column::ExpiresAt.gt(now()))
        .find_also_related(user::Entity)
        .filter(user::Column::DisabledAt.is_null())
        .one(db)
        .await?;
    Ok(found.and_then(|(login, user)| Some((user?, login.expires_at))))
}

/// How often a personal access token's use is noted.
pub const TOKEN_USE_NOTED_EVERY: Duration = Duration::minutes(1);

/// The user of a personal access token, and when its use should next be noted (it is noted at
/// most once per `TOKEN_USE_NOTED_EVERY`).
pub async fn user_for_api_token(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<(user::Model, DateTime<Utc>)>, StoreError> {
    let Some((token, user)) = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(token_hash))
        .find_also_related(user::Entity)
        .filter(user::Column::DisabledAt.is_null())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let at = now();
    let noted = match token.last_used_at {
        Some(last) if at - last <= TOKEN_USE_NOTED_EVERY => last,
        _ => {
            let mut active: api_token::ActiveModel = token.into();
            active.last_used_at = Set(Some(at));
            active.update(db).await?;
            at
        }
    };
    Ok(user.map(|user| (user, noted + TOKEN_USE_NOTED_EVERY)))
}

pub async fn insert_api_token(
    db: &impl ConnectionTrait,
    user_id: &str,
    name: String,
    token_hash: String,
) -> Result<api_token::Model, StoreError> {
    Ok(api_token::ActiveModel {
        user_id: Set(user_id.to_owned()),
        name: Set(name),
        token_hash: Set(token_hash),
        created_at: Set(now()),
        last_used_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

pub async fn list_api_tokens(db: &impl ConnectionTrait, user_id: &str) -> Result<Vec<api_token::Model>, StoreError> {
    Ok(api_token::Entity::find()
        .filter(api_token::Column::UserId.eq(user_id))
        .order_by_asc(api_token::Column::Id)
        .all(db)
        .await?)
}

/// Deletes one of the user's tokens; another user's token is "not found".
pub async fn delete_api_token(db: &impl ConnectionTrait, user_id: &str, token_id: i32) -> Result<(), StoreError> {
    let result = api_token::Entity::delete_many()
        .filter(api_token::Column::Id.eq(token_id))
        .filter(api_token::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(StoreError::NotFound("access token"));
    }
    Ok(())
}

/// Removes expired sign-ins (run at start-up).
pub async fn delete_expired_logins(db: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64, StoreError> {
    let result =
        auth_session::Entity::delete_many().filter(auth_session::Column::ExpiresAt.lte(before)).exec(db).await?;
    Ok(result.rows_affected)
}

/// Stores (or replaces) the user's sealed GitHub token, in one statement: two connects at
/// once both land.
pub async fn save_github(
    db: &impl ConnectionTrait,
    user_id: &str,
    token_sealed: String,
    login: String,
    scopes: String,
) -> Result<github_credential::Model, StoreError> {
    let at = now();
    let model = github_credential::ActiveModel {
        user_id: Set(user_id.to_owned()),
        token_encrypted: Set(token_sealed),
        login: Set(login),
        scopes: Set(scopes),
        created_at: Set(at),
        updated_at: Set(at),
    };
    let upsert = sea_orm::sea_query::OnConflict::column(github_credential::Column::UserId)
        .update_columns([
            github_credential::Column::TokenEncrypted,
            github_credential::Column::Login,
            github_credential::Column::Scopes,
            github_credential::Column::UpdatedAt,
        ])
        .to_owned();
    Ok(github_credential::Entity::insert(model).on_conflict(upsert).exec_with_returning(db).await?)
}

pub async fn find_github(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Option<github_credential::Model>, StoreError> {
    Ok(github_credential::Entity::find_by_id(user_id.to_owned()).one(db).await?)
}

pub async fn delete_github(db: &impl ConnectionTrait, user_id: &str) -> Result<(), StoreError> {
    github_credential::Entity::delete_by_id(user_id.to_owned()).exec(db).await?;
    Ok(())
}
