//! A session's setup, for its owner: where it stands with its log, retry, skip.

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::process_log::ProcessLog;
use crate::services::sessions;
use crate::state::AppState;
use crate::store;
use crate::workspaces::Start;
use api_types::{ChatSessionStatus, ErrorCode, SessionSetup, SetupAction, SetupState, WorkspaceState};
use std::sync::Arc;

pub async fn get(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
) -> Result<SessionSetup, ApiError> {
    let session = sessions::load(&state.db, user, project_id, session_pk).await?;
    let kept = store::run_settings::setup(&state.db, session.id).await?;
    let log = match state.workspaces.live_setup(session.id) {
        Some(live) => live.text(),
        None => kept.as_ref().map(|kept| kept.log.clone()).unwrap_or_default(),
    };
    let failed = session.setup_state == Some(SetupState::Failed);
    Ok(SessionSetup {
        state: session.workspace_state.with_setup(session.setup_state),
        command: kept.map(|kept| kept.command),
        log,
        error: session.workspace_error.filter(|_| failed),
    })
}

/// The setup's log as it comes (the kept log of one that ended).
pub async fn log(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
) -> Result<Arc<ProcessLog>, ApiError> {
    let session = sessions::load(&state.db, user, project_id, session_pk).await?;
    if let Some(live) = state.workspaces.live_setup(session.id) {
        return Ok(live);
    }
    // Read again: a setup that ended since the first read recorded its end before its live
    // log went away.
    let session = store::sessions::find(&state.db, session.id).await?;
    let kept = store::run_settings::setup(&state.db, session.id).await?;
    let shown = session.workspace_state.with_setup(session.setup_state);
    Ok(ProcessLog::ended_with(&kept.map(|kept| kept.log).unwrap_or_default(), shown.as_str()))
}

/// Runs a failed (or finished) setup again, in the background, or goes on without it.
pub async fn act(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
    action: SetupAction,
) -> Result<SessionSetup, ApiError> {
    let session = sessions::load(&state.db, user, project_id, session_pk).await?;
    if session.status == ChatSessionStatus::Archived {
        return Err(ApiError::conflict(ErrorCode::WorkspaceNotReady, "The session is archived; restore it first."));
    }
    match (action, session.setup_state) {
        (_, Some(SetupState::Running)) => {
            return Err(ApiError::conflict(ErrorCode::Conflict, "The setup is running; wait for it to end."));
        }
        (SetupAction::Skip, Some(SetupState::Failed)) => {
            store::run_settings::set_setup_state(&state.db, session.id, Some(SetupState::Skipped), None, false).await?;
        }
        (SetupAction::Skip, _) => {
            return Err(ApiError::conflict(ErrorCode::Conflict, "Only a failed setup can be skipped."));
        }
        (SetupAction::Retry, _) if session.workspace_state != WorkspaceState::Ready => {
            return Err(ApiError::conflict(ErrorCode::WorkspaceNotReady, "The checkout is not ready yet."));
        }
        (SetupAction::Retry, _) => {
            // Shown as running at once; the setup itself records its end.
            store::run_settings::set_setup_state(&state.db, session.id, Some(SetupState::Running), None, false).await?;
            let owner = state.runtime.owner(session.id);
            let start = Start::Branch(session.base_branch.clone().unwrap_or_else(|| "main".to_owned()));
            state.workspaces.start_setup_retry(owner.checkout.clone(), session.clone(), start);
        }
    }
    get(state, user, project_id, session_pk).await
}
