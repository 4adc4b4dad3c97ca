//! Turns as checkpoints, for the session's owner: revert the chat to one of its turns (the
//! branch moves back to that turn's commit, the head it had kept on `refs/kosuke/undo/{id}`,
//! the later turns marked reverted), undo that revert until the next turn, and fork a new chat
//! from a turn (its branch starts at that commit, its conversation is the messages up to and
//! including that turn; the source is untouched).

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::services::sessions;
use crate::state::AppState;
use crate::store;
use crate::store::audit::AuditRecord;
use crate::workspaces::{Start, blocking};
use api_types::{AuditAction, ChatSession, ChatSessionStatus, ErrorCode, ForkRequest, MessageRole};
use checkout::Checkout;
use entity::{chat_message, chat_session};
use serde_json::json;

/// Where a session's head before its last revert is kept (in the project's mirror).
fn undo_ref(session: &chat_session::Model) -> String {
    format!("refs/kosuke/undo/{}", session.session_id)
}

/// The assistant message `message_id` of the session, with the commit its turn made.
async fn turn(
    state: &AppState,
    session: &chat_session::Model,
    message_id: i64,
) -> Result<(chat_message::Model, String), ApiError> {
    let message = store::messages::find(&state.db, message_id)
        .await?
        .filter(|m| m.chat_session_id == session.id)
        .ok_or(ApiError::NotFound("message"))?;
    // The message exists but is no checkpoint (now): a conflict with its state.
    let refuse = |why: &str| ApiError::conflict(ErrorCode::Conflict, why);
    if message.role != MessageRole::Assistant {
        return Err(refuse("Only a turn of the agent (its answer) is a checkpoint, not your message."));
    }
    if message.reverted_at.is_some() {
        return Err(refuse("That turn was reverted; undo the revert first."));
    }
    let Some(commit) = message.commit_sha.clone() else {
        return Err(refuse("That turn changed no file, so it has no commit to go back to."));
    };
    Ok((message, commit))
}

fn refuse_archived(session: &chat_session::Model) -> Result<(), ApiError> {
    if session.status == ChatSessionStatus::Archived {
        return Err(ApiError::conflict(ErrorCode::WorkspaceNotReady, "The session is archived; restore it first."));
    }
    Ok(())
}

/// Moves the chat back to the turn `message_id`.
pub async fn revert(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
    message_id: i64,
) -> Result<ChatSession, ApiError> {
    let session = sessions::load(&state.db, user, project_id, session_pk).await?;
    refuse_archived(&session)?;
    let (message, commit) = turn(state, &session, message_id).await?;
    let owner = state.runtime.owner(session.id);
    let _work = sessions::idle_work(&owner, "revert").await?;
    let root = sessions::checkout(state, &session).await?;
    let (backup, author) = (undo_ref(&session), user.author());
    let previous = blocking(move || {
        let checkout = Checkout::open(&root)?;
        // What the checkout holds uncommitted comes back with Undo.
        checkout.commit_all("kosuke: keep uncommitted work before reverting", &author)?;
        checkout.rewind(&commit, &backup)
    })
    .await?;
    let at = store::now();
    let txn = store::begin(&state.db).await.map_err(ApiError::internal)?;
    let reverted = store::messages::mark_reverted(&txn, session.id, message.id, Some(at), None).await?;
    let session = store::sessions::set_reverted_at(&txn, session, Some(at)).await?;
    let detail =
        json!({"reverted_to_message": message.id, "turns_reverted": reverted, "previous_head": previous.to_string()});
    audit(&txn, user, &session, detail).await?;
    store::commit(txn).await.map_err(ApiError::internal)?;
    Ok(entity::convert::chat_session(session))
}

/// Takes the chat's last revert back, unless a turn was made since.
pub async fn undo(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
) -> Result<ChatSession, ApiError> {
    let session = sessions::load(&state.db, user, project_id, session_pk).await?;
    refuse_archived(&session)?;
    let Some(reverted_at) = session.reverted_at else {
        return Err(ApiError::conflict(ErrorCode::Conflict, "There is no revert to undo."));
    };
    let owner = state.runtime.owner(session.id);
    let _work = sessions::idle_work(&owner, "undo the revert of").await?;
    let root = sessions::checkout(state, &session).await?;
    let backup = undo_ref(&session);
    let head = blocking(move || Checkout::open(&root)?.undo_rewind(&backup)).await?;
    let txn = store::begin(&state.db).await.map_err(ApiError::internal)?;
    store::messages::mark_reverted(&txn, session.id, 0, None, Some(reverted_at)).await?;
    let session = store::sessions::set_reverted_at(&txn, session, None).await?;
    audit(&txn, user, &session, json!({"revert_undone": true, "head": head.to_string()})).await?;
    store::commit(txn).await.map_err(ApiError::internal)?;
    Ok(entity::convert::chat_session(session))
}

/// A new chat from the turn `message_id`: its branch at that commit, the conversation up to
/// and including it. Works on an archived source too (its commits are in the mirror).
pub async fn fork(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
    request: ForkRequest,
) -> Result<ChatSession, ApiError> {
    let source = sessions::load(&state.db, user, project_id, session_pk).await?;
    let (message, commit) = turn(state, &source, request.message_id.0).await?;
    let title = match request.title {
        Some(given) => given,
        None => format!("Fork of {}", source.title).chars().take(api_types::MAX_TITLE_CHARS).collect(),
    };
    let known = commit.clone();
    let present = state.workspaces.with_mirror(project_id, move |mirror| Ok(mirror.has_commit(&known))).await?;
    if !present {
        return Err(ApiError::conflict(ErrorCode::Conflict, "That turn's commit is no longer in the repository."));
    }
    let session = sessions::create_from(state, user, &source, title, Some(message.id)).await?;
    let owner = state.runtime.owner(session.id);
    state.workspaces.start_provisioning(owner.checkout.clone(), session.clone(), Start::Commit(commit));
    Ok(entity::convert::chat_session(session))
}

/// Records a change of the session's history or branch (`session_updated`) with `detail`.
pub(crate) async fn audit(
    txn: &impl sea_orm::ConnectionTrait,
    user: &CurrentUser,
    session: &chat_session::Model,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    let record = AuditRecord {
        actor_id: &user.id,
        project_id: session.project_id,
        chat_session_id: Some(session.id),
        action: AuditAction::SessionUpdated,
        detail,
    };
    Ok(store::audit::record(txn, record).await?)
}
