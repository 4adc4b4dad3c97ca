//! Messages sent while a chat's run is live (`queue: true`): kept in order, shown greyed,
//! edited or cancelled by their author, and started one by one as the chat's next turns when
//! the run before ends — after a restart too (`resume`).

use super::{Answer, start_turn};
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::services::sessions;
use crate::state::AppState;
use crate::store;
use actix_web::web;
use api_types::{ChatRequest, QueuedPrompt, QueuedPromptId, QueuedPromptList};
use entity::queued_prompt;

/// A queued row as the API shows it (its prompt opened), at `position` (1 starts next).
pub(super) fn shown(state: &AppState, row: &queued_prompt::Model, position: usize) -> QueuedPrompt {
    QueuedPrompt {
        id: QueuedPromptId(row.id),
        chat_session_id: api_types::ChatSessionPk(row.chat_session_id),
        prompt: state.secrets.open(&row.prompt).unwrap_or_default(),
        comments: comments_of(state, row).unwrap_or_default(),
        position: u32::try_from(position).unwrap_or(u32::MAX),
        created_at: row.created_at,
    }
}

/// Queues `prompt` (with its review comments) behind the session's live run, sealed.
pub(super) async fn push(
    state: &AppState,
    session: &entity::chat_session::Model,
    user: &CurrentUser,
    prompt: &str,
    comments: &[api_types::ReviewComment],
) -> Result<queued_prompt::Model, ApiError> {
    let sealed_comments =
        (!comments.is_empty()).then(|| state.secrets.seal(&serde_json::to_string(comments).unwrap_or_default()));
    Ok(store::queue::push(&state.db, session.id, &user.id, state.secrets.seal(prompt), sealed_comments).await?)
}

/// The review comments a queued row keeps.
fn comments_of(state: &AppState, row: &queued_prompt::Model) -> Result<Vec<api_types::ReviewComment>, ApiError> {
    let Some(sealed) = &row.comments else { return Ok(Vec::new()) };
    let json = state.secrets.open(sealed).map_err(ApiError::internal)?;
    serde_json::from_str(&json).map_err(ApiError::internal)
}

pub async fn list(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
) -> Result<QueuedPromptList, ApiError> {
    let session = sessions::load(&state.db, user, project_id, session_pk).await?;
    let rows = store::queue::list(&state.db, session.id).await?;
    Ok(QueuedPromptList { queued: rows.iter().enumerate().map(|(n, row)| shown(state, row, n + 1)).collect() })
}

pub async fn edit(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
    id: i32,
    prompt: &str,
) -> Result<QueuedPrompt, ApiError> {
    let session = sessions::load(&state.db, user, project_id, session_pk).await?;
    let prompt = super::checked_prompt(prompt)?;
    let row = store::queue::find(&state.db, session.id, id).await?;
    let row = store::queue::replace(&state.db, row, state.secrets.seal(&prompt)).await?;
    let position = store::queue::list(&state.db, session.id).await?.iter().position(|r| r.id == row.id).unwrap_or(0);
    Ok(shown(state, &row, position + 1))
}

pub async fn cancel(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
    id: i32,
) -> Result<(), ApiError> {
    let session = sessions::load(&state.db, user, project_id, session_pk).await?;
    let row = store::queue::find(&state.db, session.id, id).await?;
    if !store::queue::take(&state.db, row.id).await? {
        return Err(ApiError::NotFound("queued message"));
    }
    Ok(())
}

/// Starts the session's first queued message as its next turn, when there is one and the
/// session is free. Called when a run ends and at start-up.
pub async fn start_next(state: &web::Data<AppState>, session_pk: i32) {
    if state.runtime.is_stopping() {
        return;
    }
    let first = match store::queue::list(&state.db, session_pk).await {
        Ok(rows) => rows.into_iter().next(),
        Err(err) => return tracing::error!(session_pk, error = %crate::error::Report(&err), "could not read the queue"),
    };
    let Some(first) = first else { return };
    let outcome = async {
        let session = store::sessions::find(&state.db, session_pk).await?;
        // Another node holds the chat: its keeper starts it (told by `kosuke_runs`).
        if crate::nodes::held_elsewhere(state, session.project_id).await?.is_some() {
            return Ok(Answer::Gone);
        }
        let user = store::accounts::find_user(&state.db, &first.user_id).await?;
        if user.disabled_at.is_some() {
            return Err(ApiError::forbidden("the account that queued the message is disabled"));
        }
        let user = CurrentUser::from(user);
        let request = ChatRequest {
            project_id: api_types::ProjectId(session.project_id),
            chat_session_id: api_types::ChatSessionPk(session.id),
            prompt: state.secrets.open(&first.prompt).map_err(ApiError::internal)?,
            github_token: None,
            queue: false,
            comments: comments_of(state, &first)?,
        };
        start_turn(state, &user, request, Some(first.id)).await
    };
    match outcome.await {
        Ok(Answer::Started(accepted)) => {
            tracing::info!(session_pk, run_id = accepted.run_id.0, "a queued message started as the next turn")
        }
        Ok(Answer::Queued(_) | Answer::Gone) => {}
        // Said once per message: the keeper tries again every few seconds.
        Err(err) if first_failure(first.id) => {
            tracing::warn!(session_pk, error = %err, "a queued message could not start; it stays queued")
        }
        Err(err) => tracing::debug!(session_pk, error = %err, "a queued message still cannot start"),
    }
}

/// Whether the queued message `id` failed to start for the first time (as far as this
/// process remembers: at most a few thousand).
fn first_failure(id: i32) -> bool {
    static FAILED: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());
    let mut failed = FAILED.lock().unwrap_or_else(|p| p.into_inner());
    if failed.contains(&id) {
        return false;
    }
    if failed.len() >= 4096 {
        failed.clear();
    }
    failed.push(id);
    true
}

/// Starts the next turn of every session of this node with a queue and nothing live.
pub async fn resume(state: &web::Data<AppState>) {
    let sessions = match store::queue::sessions(&state.db, state.node_id).await {
        Ok(sessions) => sessions,
        Err(err) => return tracing::error!(error = %crate::error::Report(&err), "could not read the queues"),
    };
    for session_pk in sessions {
        if state.runtime.existing(session_pk).is_some_and(|owner| owner.live().is_some()) {
            continue;
        }
        start_next(state, session_pk).await;
    }
}

/// Starts what nothing else starts: runs other nodes stored for this node's chats (`claim.rs`;
/// woken by PostgreSQL's announcement), and queued messages after a restart, after this node
/// took over another's chats, after a start that failed. Each run's end starts its session's
/// next message at once; this also looks every `queue_poll` (5 s) until the server stops.
pub fn spawn_keeper(state: web::Data<AppState>) {
    tokio::spawn(async move {
        while !state.runtime.is_stopping() {
            super::claim_waiting(&state).await;
            resume(&state).await;
            // Another node stored a run or a queued message (`kosuke_runs`), or time passed.
            tokio::select! {
                () = state.runtime.claims.notified() => {}
                () = tokio::time::sleep(state.settings.queue_poll) => {}
            }
        }
    });
}
