//! The Preview tab. With a `dev` command (the project's run settings or `kosuke.json`), the
//! session's dev server: started, restarted and stopped here for the session's owner, run by
//! `previews` in the checkout with the project's variables, reached on its own origin through
//! the preview proxy with a one-time link minted here.
//!
//! Without one, the session's static site (its `index.html` and what it loads), served under
//! `/preview/{token}/…`. The token is short-lived, signed, and names one session, so the page
//! needs no cookie; every answer carries `Content-Security-Policy: sandbox allow-scripts`, so
//! the page runs in an opaque origin even when opened on its own: it cannot read the app's
//! storage or call the API as the user.

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::previews::dev_server::DevState;
use crate::previews::{PreviewError, StartRequest};
use crate::process_log::ProcessLog;
use crate::services::sessions;
use crate::state::AppState;
use crate::store;
use crate::workspaces::blocking;
use api_types::{
    ErrorCode, Preview, PreviewAction, PreviewKind, PreviewList, PreviewState, PreviewSummary, SetupState,
};
use checkout::Checkout;
use entity::chat_session;
use std::path::PathBuf;
use std::sync::Arc;

/// How long a preview link works.
const LIFETIME_SECS: i64 = 3600;

fn message(session_pk: i32, expires: i64) -> String {
    format!("preview:{session_pk}:{expires}")
}

/// An archived session has no checkout, and a preview does not make it one again.
fn refuse_archived(session: &entity::chat_session::Model) -> Result<(), ApiError> {
    if session.status == api_types::ChatSessionStatus::Archived {
        return Err(ApiError::conflict(
            api_types::ErrorCode::WorkspaceNotReady,
            "The session is archived; unarchive it to preview it.",
        ));
    }
    Ok(())
}

/// The session's preview, for its owner: its dev server's state, or a link to its static site.
pub async fn get(state: &AppState, user: &CurrentUser, project_id: i32, session_pk: i32) -> Result<Preview, ApiError> {
    let session = sessions::load(&state.db, user, project_id, session_pk).await?;
    refuse_archived(&session)?;
    let (_, values) = dev_values(state, &session).await?;
    Ok(match values.dev {
        Some(command) => shown(state, user, session.id, command),
        None => static_preview(state, session.id),
    })
}

/// Starts, restarts or stops the session's dev server (it starts in the background; its
/// state and log tell the rest).
pub async fn act(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
    action: PreviewAction,
) -> Result<Preview, ApiError> {
    let session = sessions::load(&state.db, user, project_id, session_pk).await?;
    refuse_archived(&session)?;
    let (root, values) = dev_values(state, &session).await?;
    let Some(command) = values.dev else {
        return Err(ApiError::conflict(
            ErrorCode::Conflict,
            "This project has no dev command: set one in Settings (Run), or as \"dev\" in kosuke.json.",
        ));
    };
    if action == PreviewAction::Stop {
        state.previews.stop(session.id, None).await;
        return Ok(shown(state, user, session.id, command));
    }
    if session.setup_state == Some(SetupState::Running) {
        return Err(ApiError::conflict(
            ErrorCode::WorkspaceNotReady,
            "The checkout's setup is running; start the preview when it has finished.",
        ));
    }
    if action == PreviewAction::Restart {
        state.previews.stop(session.id, None).await;
    }
    // The variables (each opened) only for a start.
    let env = crate::services::env_vars::for_processes(&state.db, &state.secrets, session.project_id).await?;
    let place = state.workspaces.place(&root, env).await?;
    let request = StartRequest {
        session_pk: session.id,
        project_id: session.project_id,
        user_id: user.id.clone(),
        place,
        command: command.clone(),
        readiness_path: values.readiness_path,
    };
    state.previews.start(request).await.map_err(refused)?;
    Ok(shown(state, user, session.id, command))
}

/// The dev server's log as it comes (an empty, ended one when none runs).
pub async fn log(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
) -> Result<Arc<ProcessLog>, ApiError> {
    let session = sessions::load(&state.db, user, project_id, session_pk).await?;
    Ok(state.previews.status(session.id).log.unwrap_or_else(|| ProcessLog::ended_with("", "stopped")))
}

/// The user's dev servers in the project that are not stopped, for the sidebar.
pub async fn list(state: &AppState, user: &CurrentUser, project_id: i32) -> Result<PreviewList, ApiError> {
    crate::access::ProjectAccess::load(&state.db, project_id, user).await?;
    let previews = state
        .previews
        .of_user(&user.id, project_id)
        .into_iter()
        .map(|(session_pk, dev)| PreviewSummary {
            chat_session_id: api_types::ChatSessionPk(session_pk),
            state: state_of(&dev),
        })
        .collect();
    Ok(PreviewList { previews })
}

/// The session's dev server as its agent restarts it (the `restart_preview` tool), as the
/// session's owner would from the Preview tab.
pub struct SessionPreview {
    pub state: actix_web::web::Data<AppState>,
    pub user: CurrentUser,
    pub project_id: i32,
    pub session_pk: i32,
}

impl agent::PreviewControl for SessionPreview {
    fn restart(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>> + Send + '_>> {
        Box::pin(async move {
            act(&self.state, &self.user, self.project_id, self.session_pk, PreviewAction::Restart)
                .await
                .map_err(|err| err.body().error)?;
            let status = self.state.previews.settled(self.session_pk).await;
            let port = status.port.unwrap_or_default();
            match status.state {
                Some(DevState::Running) => Ok(format!(
                    "The dev server was restarted and answers on port {port}; the user sees it in the Preview tab."
                )),
                Some(DevState::Failed { why } | DevState::Crashed { why, .. }) => Err(why),
                _ => Err("The dev server was stopped before it answered.".to_owned()),
            }
        })
    }
}

/// The session's checkout (made if need be) and the run values in force there.
async fn dev_values(
    state: &AppState,
    session: &chat_session::Model,
) -> Result<(PathBuf, crate::workspaces::RunValues), ApiError> {
    let root = sessions::checkout(state, session).await?;
    let values = state.workspaces.run_values(session.project_id, &root).await?;
    Ok((root, values))
}

fn refused(err: PreviewError) -> ApiError {
    let code = match err {
        PreviewError::NoSandbox(_) => ErrorCode::SandboxUnavailable,
        _ => ErrorCode::NotConfigured,
    };
    ApiError::Unavailable { code, message: err.to_string() }
}

fn state_of(dev: &DevState) -> PreviewState {
    match dev {
        DevState::Starting => PreviewState::Starting,
        DevState::Running => PreviewState::Running,
        DevState::Crashed { .. } => PreviewState::Crashed,
        DevState::Failed { .. } => PreviewState::Failed,
    }
}

/// The dev server as the API shows it, with a one-time link into its origin while it runs.
fn shown(state: &AppState, user: &CurrentUser, session_pk: i32, command: String) -> Preview {
    let status = state.previews.status(session_pk);
    let (exit_code, error) = match &status.state {
        Some(DevState::Crashed { code, why }) => (*code, Some(why.clone())),
        Some(DevState::Failed { why }) => (None, Some(why.clone())),
        _ => (None, None),
    };
    let shown_state = status.state.as_ref().map_or(PreviewState::Stopped, state_of);
    Preview {
        kind: PreviewKind::Dev,
        url: format!("{}/", state.previews.origin(session_pk)),
        state: shown_state,
        open_url: (shown_state == PreviewState::Running).then(|| state.previews.open_url(session_pk, &user.id)),
        port: status.port,
        command: Some(status.command.unwrap_or(command)),
        exit_code,
        error,
        notice: status.notice,
    }
}

/// A link to the session's static site.
fn static_preview(state: &AppState, session_pk: i32) -> Preview {
    let expires = chrono::Utc::now().timestamp() + LIFETIME_SECS;
    let signature = state.secrets.sign(&message(session_pk, expires));
    Preview {
        kind: PreviewKind::Static,
        url: format!("/preview/{session_pk}-{expires}-{signature}/"),
        state: PreviewState::Running,
        open_url: None,
        port: None,
        command: None,
        exit_code: None,
        error: None,
        notice: None,
    }
}

/// The file a preview token and path name, inside the session's checkout, opened through the
/// path-safe layer (a directory's `index.html`), with the name its type is told by.
pub async fn resolve(state: &AppState, token: &str, path: &str) -> Result<(std::fs::File, PathBuf), ApiError> {
    let mut parts = token.splitn(3, '-');
    let (Some(session_pk), Some(expires), Some(signature)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ApiError::NotFound("preview"));
    };
    let (Ok(session_pk), Ok(expires)) = (session_pk.parse::<i32>(), expires.parse::<i64>()) else {
        return Err(ApiError::NotFound("preview"));
    };
    if !state.secrets.verify(&message(session_pk, expires), signature) || expires < chrono::Utc::now().timestamp() {
        return Err(ApiError::NotFound("preview"));
    }
    let session = store::sessions::find(&state.db, session_pk).await?;
    refuse_archived(&session)?;
    let root = sessions::checkout(state, &session).await?;
    let relative = if path.is_empty() || path.ends_with('/') { format!("{path}index.html") } else { path.to_owned() };
    blocking(move || {
        let checkout = Checkout::open(&root)?;
        match checkout.open_file(&relative)? {
            Some(file) => Ok((file, PathBuf::from(&relative))),
            None => {
                let index = format!("{}/index.html", relative.trim_end_matches('/'));
                let file = checkout.open_file(&index)?.ok_or(checkout::CheckoutError::FileNotFound(index.clone()))?;
                Ok((file, PathBuf::from(index)))
            }
        }
    })
    .await
}
