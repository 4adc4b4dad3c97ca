//! The Preview tab: a session's static site (its `index.html` and what it loads), served under
//! `/preview/{token}/…`. The token is short-lived, signed, and names one session, so the page
//! needs no cookie; every answer carries `Content-Security-Policy: sandbox allow-scripts`, so
//! the page runs in an opaque origin even when opened on its own: it cannot read the app's
//! storage or call the API as the user.

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::services::sessions;
use crate::state::AppState;
use crate::store;
use crate::workspaces::{Start, blocking};
use checkout::Checkout;
use std::path::PathBuf;

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

/// A link to the session's preview, for its owner.
pub async fn link(state: &AppState, user: &CurrentUser, project_id: i32, session_pk: i32) -> Result<String, ApiError> {
    let session = sessions::load(&state.db, user, project_id, session_pk).await?;
    refuse_archived(&session)?;
    let expires = chrono::Utc::now().timestamp() + LIFETIME_SECS;
    let signature = state.secrets.sign(&message(session.id, expires));
    Ok(format!("/preview/{}-{expires}-{signature}/", session.id))
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
    let base = session.base_branch.clone().unwrap_or_else(|| "main".to_owned());
    let owner = state.runtime.owner(session.id);
    let root = state.workspaces.ensure_checkout(&owner.checkout, &session, Start::Branch(base)).await?;
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
