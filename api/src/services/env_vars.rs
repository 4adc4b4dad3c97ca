//! Project environment variables (owner only): handed to the agent's command, sealed at rest,
//! never shown again once set.

use crate::access::ProjectAccess;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store;
use api_types::{EnvVar, EnvVarList};

/// The largest value accepted, in bytes.
const MAX_VALUE_BYTES: usize = 32 * 1024;

fn check_key(key: &str) -> Result<(), ApiError> {
    let valid = !key.is_empty()
        && key.len() <= 128
        && key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(ApiError::validation(
            "key",
            "A variable name is letters, digits and '_', not starting with a digit (at most 128).",
        ));
    }
    if key.starts_with("KOSUKE_") {
        return Err(ApiError::validation("key", "Names starting with KOSUKE_ are kosuke's own."));
    }
    Ok(())
}

pub async fn list(state: &AppState, user: &CurrentUser, project_id: i32) -> Result<EnvVarList, ApiError> {
    let access = ProjectAccess::load_as_owner(&state.db, project_id, user).await?;
    let rows = store::env_vars::list(&state.db, access.id()).await?;
    Ok(EnvVarList { variables: rows.into_iter().map(|v| EnvVar { key: v.key, updated_at: v.updated_at }).collect() })
}

pub async fn set(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    key: &str,
    value: String,
) -> Result<EnvVar, ApiError> {
    let access = ProjectAccess::load_as_owner(&state.db, project_id, user).await?;
    check_key(key)?;
    if value.len() > MAX_VALUE_BYTES || value.contains('\0') {
        return Err(ApiError::validation("value", "A value is at most 32 KiB of text without NUL characters."));
    }
    let saved = store::env_vars::set(&state.db, access.id(), key, state.secrets.seal(&value)).await?;
    Ok(EnvVar { key: saved.key, updated_at: saved.updated_at })
}

pub async fn delete(state: &AppState, user: &CurrentUser, project_id: i32, key: &str) -> Result<(), ApiError> {
    let access = ProjectAccess::load_as_owner(&state.db, project_id, user).await?;
    Ok(store::env_vars::delete(&state.db, access.id(), key).await?)
}

/// Every variable with its value, for the agent's command.
pub async fn for_agent(state: &AppState, project_id: i32) -> Result<Vec<(String, String)>, ApiError> {
    let rows = store::env_vars::list(&state.db, project_id).await?;
    rows.into_iter().map(|v| Ok((v.key, state.secrets.open(&v.value_encrypted).map_err(ApiError::internal)?))).collect()
}
