//! Project environment variables (owner only): handed to the agent's command, sealed at rest,
//! never shown again once set.

use crate::access::ProjectAccess;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{self, audit::AuditRecord};
use api_types::{AuditAction, EnvVar, EnvVarList};
use sea_orm::ConnectionTrait;
use serde_json::json;

/// The largest value accepted, in bytes.
/// The longest value, in characters.
pub const MAX_VALUE_CHARS: usize = 32 * 1024;

fn check_key(key: &str) -> Result<(), ApiError> {
    let valid = !key.is_empty()
        && key.len() <= MAX_KEY_CHARS
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
    if changes_loader_or_shell(key) {
        return Err(ApiError::validation(
            "key",
            format!(
                "{key} changes how programs are loaded or how the shell starts; kosuke does not set it for the agent."
            ),
        ));
    }
    Ok(())
}

/// Names a project cannot set (see [`changes_loader_or_shell`]).
pub const RESERVED_NAMES: [&str; 11] =
    ["PATH", "HOME", "TMPDIR", "TERM", "BASH_ENV", "ENV", "IFS", "SHELLOPTS", "BASHOPTS", "PS4", "GCONV_PATH"];
/// Prefixes a project's names cannot start with: kosuke's own and the loaders'.
pub const RESERVED_PREFIXES: [&str; 3] = ["KOSUKE_", "LD_", "DYLD_"];
/// The longest variable name.
pub const MAX_KEY_CHARS: usize = 128;

/// Names that change the dynamic loader or the shell of every command the agent runs (a
/// library preloaded into each process, a script each shell sources, where programs are
/// found): never taken from a project. `PATH`, `HOME`, `TMPDIR` and `TERM` are kosuke's to set.
pub fn changes_loader_or_shell(key: &str) -> bool {
    RESERVED_NAMES.contains(&key) || RESERVED_PREFIXES.iter().any(|prefix| key.starts_with(prefix))
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
    if value.chars().count() > MAX_VALUE_CHARS || value.contains('\0') {
        return Err(ApiError::validation("value", "A value is at most 32,768 characters without NUL characters."));
    }
    let txn = crate::store::begin(&state.db).await.map_err(ApiError::internal)?;
    let saved = store::env_vars::set(&txn, access.id(), key, state.secrets.seal(&value)).await?;
    audit(&txn, user, access.id(), AuditAction::EnvVarSet, key).await?;
    store::commit(txn).await.map_err(ApiError::internal)?;
    Ok(EnvVar { key: saved.key, updated_at: saved.updated_at })
}

pub async fn delete(state: &AppState, user: &CurrentUser, project_id: i32, key: &str) -> Result<(), ApiError> {
    let access = ProjectAccess::load_as_owner(&state.db, project_id, user).await?;
    let txn = crate::store::begin(&state.db).await.map_err(ApiError::internal)?;
    store::env_vars::delete(&txn, access.id(), key).await?;
    audit(&txn, user, access.id(), AuditAction::EnvVarDeleted, key).await?;
    store::commit(txn).await.map_err(ApiError::internal)?;
    Ok(())
}

/// Records a change to a variable: its key, never its value.
async fn audit(
    txn: &impl ConnectionTrait,
    user: &CurrentUser,
    project_id: i32,
    action: AuditAction,
    key: &str,
) -> Result<(), ApiError> {
    let record =
        AuditRecord { actor_id: &user.id, project_id, chat_session_id: None, action, detail: json!({"key": key}) };
    Ok(store::audit::record(txn, record).await?)
}

/// Every variable with its value, for the project's processes (the agent's commands, setup,
/// dev server); a name stored before it was refused is left out.
pub async fn for_processes(
    db: &impl ConnectionTrait,
    secrets: &crate::secrets::SecretBox,
    project_id: i32,
) -> Result<Vec<(String, String)>, ApiError> {
    let rows = store::env_vars::list(db, project_id).await?;
    rows.into_iter()
        .filter(|v| !changes_loader_or_shell(&v.key) && !v.key.starts_with("KOSUKE_"))
        .map(|v| Ok((v.key, secrets.open(&v.value_encrypted).map_err(ApiError::internal)?)))
        .collect()
}
