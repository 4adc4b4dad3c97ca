//! What the server's admins do: see and disable accounts, choose who may sign up, make
//! one-use invite links. Everything here answers 403 to anyone else.

use crate::auth::{CurrentUser, secret};
use crate::error::ApiError;
use crate::services::accounts::{SIGNUP_SETTING, signup_mode};
use crate::state::AppState;
use crate::store;
use api_types::{AdminUser, AdminUserList, Invite, ServerSettings, UpdateUserRequest, UserId};

/// How long an invite link stays usable.
const INVITE_LIFETIME: chrono::Duration = chrono::Duration::days(7);

fn require_admin(user: &CurrentUser) -> Result<(), ApiError> {
    if user.is_admin { Ok(()) } else { Err(ApiError::forbidden("Only the server's admins may do this.")) }
}

fn admin_user(model: entity::user::Model) -> AdminUser {
    AdminUser {
        id: UserId(model.id),
        email: model.email,
        display_name: model.display_name,
        created_at: model.created_at,
        is_admin: model.is_admin,
        disabled: model.disabled_at.is_some(),
    }
}

pub async fn list_users(state: &AppState, user: &CurrentUser) -> Result<AdminUserList, ApiError> {
    require_admin(user)?;
    let users = store::accounts::list_users(&state.db).await?;
    Ok(AdminUserList { users: users.into_iter().map(admin_user).collect() })
}

/// Disables an account (its sign-ins and tokens stop working at once: the read cache follows
/// the write to `users`) or enables it again. An admin cannot disable themselves.
pub async fn update_user(
    state: &AppState,
    user: &CurrentUser,
    user_id: &str,
    request: UpdateUserRequest,
) -> Result<AdminUser, ApiError> {
    require_admin(user)?;
    if user_id == user.id && request.disabled {
        return Err(ApiError::validation("disabled", "You cannot disable your own account."));
    }
    let updated = store::accounts::set_disabled(&state.db, user_id, request.disabled).await?;
    tracing::info!(admin = %user.id, user_id, disabled = request.disabled, "an admin changed an account");
    Ok(admin_user(updated))
}

pub async fn settings(state: &AppState, user: &CurrentUser) -> Result<ServerSettings, ApiError> {
    require_admin(user)?;
    Ok(ServerSettings { signup: signup_mode(state).await? })
}

pub async fn set_settings(
    state: &AppState,
    user: &CurrentUser,
    request: ServerSettings,
) -> Result<ServerSettings, ApiError> {
    require_admin(user)?;
    store::accounts::set_setting(&state.db, SIGNUP_SETTING, request.signup.as_str()).await?;
    tracing::info!(admin = %user.id, signup = request.signup.as_str(), "an admin changed the sign-up mode");
    Ok(request)
}

/// A one-use sign-up link, valid for a week; only its hash is stored.
pub async fn create_invite(state: &AppState, user: &CurrentUser) -> Result<Invite, ApiError> {
    require_admin(user)?;
    let token = secret::new_token();
    let expires_at = store::now() + INVITE_LIFETIME;
    store::accounts::insert_invite(&state.db, &user.id, secret::hash(&token), expires_at).await?;
    Ok(Invite { url: format!("/signup?invite={token}"), token, expires_at })
}
