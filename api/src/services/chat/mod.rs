//! Chat turns: `POST /api/chat` stores the user's message and starts an agent run that goes on
//! without the client. The run (`run.rs`) works in the session's checkout, streams its events,
//! stored as run events as they go (`transcript.rs`, `crate::events`), and ends with one commit on the
//! session branch, pushed when the project has a remote (`commit.rs`). After a crash,
//! `recovery.rs` gives interrupted runs their message and commit.

mod agents;
mod claim;
mod commit;
mod prompt;
pub mod queue;
mod recovery;
mod run;
mod transcript;

use crate::access::ProjectAccess;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::runtime::LiveRun;
use crate::state::AppState;
use crate::store;
use actix_web::web;
use agent::Agent;
use agents::usable_agent;
pub use agents::{agent_info, build_agent};
use api_types::{
    ChatAccepted, ChatAnswer, ChatQueued, ChatRequest, ChatSessionStatus, ErrorCode, MessageId, QueuedPrompt,
    ReviewComment, RunId, RunStatus,
};
pub use claim::claim_waiting;
pub use prompt::{COMMENT_PATH_PATTERN, MAX_COMMENT_CHARS, MAX_COMMENT_PATH_CHARS};
use prompt::{agent_prompt, message_blocks};
pub(crate) use prompt::{checked_comments, checked_prompt};
pub use recovery::{announce_interrupted, commit_interrupted, recover_messages};
use run::Job;
pub use transcript::Transcript;

/// What a prompt came to.
pub(crate) enum Answer {
    Started(ChatAccepted),
    Queued(QueuedPrompt),
    /// A queued message that another start (or a cancel) took first.
    Gone,
}

/// Starts a turn with the prompt, or with `queue: true` while the session is busy keeps it
/// for later (`queue.rs`).
pub async fn send(
    state: &web::Data<AppState>,
    user: &CurrentUser,
    request: ChatRequest,
) -> Result<ChatAnswer, ApiError> {
    match start_turn(state, user, request, None).await? {
        Answer::Started(accepted) => Ok(ChatAnswer::Accepted(accepted)),
        Answer::Queued(queued) => Ok(ChatAnswer::Queued(ChatQueued { queued })),
        Answer::Gone => Err(ApiError::internal("a prompt sent was taken as a queued one")),
    }
}

/// The run row and messages a turn starts with, sealed; `claimed: false` leaves it for the
/// node holding the project (`claim.rs`).
async fn store_turn(
    state: &AppState,
    session: &entity::chat_session::Model,
    user: &CurrentUser,
    prompt: &str,
    comments: &[ReviewComment],
    status: RunStatus,
    claimed: bool,
) -> Result<store::runs::StartedRun, store::StoreError> {
    let blocks = message_blocks(prompt, comments);
    let (sealed_prompt, sealed_blocks) = state.secrets.seal_message(prompt, blocks.as_ref());
    let (sealed_empty, _) = state.secrets.seal_message("", None);
    let turn = store::runs::NewTurn {
        prompt: sealed_prompt,
        prompt_blocks: sealed_blocks,
        empty_answer: sealed_empty,
        status,
        claimed,
    };
    store::runs::start(&state.db, session, &user.id, turn).await
}

fn busy() -> ApiError {
    ApiError::conflict(ErrorCode::SessionBusy, "The session already has a live run; wait for it or stop it.")
}

/// Starts a turn; `from_queue` names the queued message it is (taken off the queue here, and
/// put back if the turn cannot start). A prompt for a project another node holds is stored here
/// and run there (`claim.rs`).
pub(crate) async fn start_turn(
    state: &web::Data<AppState>,
    user: &CurrentUser,
    request: ChatRequest,
    from_queue: Option<i32>,
) -> Result<Answer, ApiError> {
    let prompt = checked_prompt(&request.prompt)?;
    let comments = checked_comments(&request.comments)?;
    let access = ProjectAccess::load(&state.db, request.project_id.0, user).await?;
    let session = store::sessions::load_for_user(&state.db, access.id(), request.chat_session_id.0, &user.id).await?;
    if session.status == ChatSessionStatus::Archived {
        return Err(ApiError::conflict(
            ErrorCode::WorkspaceNotReady,
            "The session is archived; unarchive it to chat in it.",
        ));
    }
    crate::services::sessions::require_repository(&access)?;
    if from_queue.is_none()
        && let Some(node) = crate::nodes::held_elsewhere(state, access.id()).await?
    {
        return claim::admit(state, user, &access, &session, (prompt, comments), request.queue, node).await;
    }
    let agent = usable_agent(state)?;
    if state.runtime.is_stopping() {
        return Err(ApiError::Unavailable {
            code: ErrorCode::AgentUnavailable,
            message: "The server is stopping; send the prompt again once it is back.".to_owned(),
        });
    }
    let owner = state.runtime.owner(session.id);
    let admitting = owner.admitting().await;
    // The run's events are numbered on from the session's last stored one.
    owner.events.ready(&state.runtime.events, &state.db).await?;
    let mut taken = None;
    match from_queue {
        None if request.queue => {
            let waiting = store::queue::list(&state.db, session.id).await?;
            if owner.live().is_some() || !waiting.is_empty() {
                let row = queue::push(state, &session, user, &prompt, &comments).await?;
                return Ok(Answer::Queued(queue::shown(state, &row, waiting.len() + 1)));
            }
        }
        // A run started meanwhile: its end starts the queue.
        Some(_) if owner.live().is_some() => return Ok(Answer::Gone),
        Some(id) => match store::queue::find(&state.db, session.id, id).await {
            Ok(row) if store::queue::take(&state.db, id).await? => taken = Some(row),
            _ => return Ok(Answer::Gone),
        },
        None => {}
    }
    let slot = state.runtime.try_slot();
    let status = if slot.is_some() { RunStatus::Running } else { RunStatus::Queued };
    let start = || store_turn(state, &session, user, &prompt, &comments, status, true);
    let started = match start().await {
        // A row recorded live with no run behind it: its end could not be recorded.
        Err(err) if err.is_conflict() && owner.live().is_none() => {
            let cleared = store::runs::fail_orphaned(&state.db, session.id).await?;
            tracing::warn!(session_pk = session.id, cleared, "cleared a run whose end was never recorded");
            start().await
        }
        other => other,
    }
    .map_err(|err| if err.is_conflict() { busy() } else { err.into() });
    let started = match started {
        Ok(started) => started,
        Err(err) => {
            // A queued message that could not start goes back where it was.
            if let Some(row) = taken {
                store::queue::restore(&state.db, row).await?;
            }
            return Err(err);
        }
    };
    let turn = Launch {
        run_id: started.run.id,
        user_message_id: started.user_message.id,
        assistant_message_id: started.assistant_message.id,
        prompt,
        comments,
        project: access.project,
        session,
        user: user.clone(),
        github_token: request.github_token,
    };
    launch(state, &owner, admitting, agent, turn, slot).await?;
    Ok(Answer::Started(accepted(state, started)))
}

/// The answer to a prompt that started a turn.
fn accepted(state: &AppState, started: store::runs::StartedRun) -> ChatAccepted {
    ChatAccepted {
        run_id: RunId(started.run.id),
        user_message: entity::convert::chat_message(state.secrets.open_message(started.user_message)),
        assistant_message_id: MessageId(started.assistant_message.id),
    }
}

/// A stored turn, to run on this node.
struct Launch {
    run_id: i32,
    user_message_id: i64,
    assistant_message_id: i64,
    prompt: String,
    comments: Vec<ReviewComment>,
    project: entity::project::Model,
    session: entity::chat_session::Model,
    user: CurrentUser,
    github_token: Option<String>,
}

/// Runs a stored turn: records it live on its owner (ending `admitting`) and starts the agent.
async fn launch(
    state: &web::Data<AppState>,
    owner: &std::sync::Arc<crate::runtime::SessionOwner>,
    admitting: tokio::sync::MutexGuard<'_, ()>,
    agent: std::sync::Arc<Agent>,
    turn: Launch,
    slot: Option<tokio::sync::OwnedSemaphorePermit>,
) -> Result<(), ApiError> {
    let Launch {
        run_id,
        user_message_id,
        assistant_message_id,
        prompt,
        comments,
        project,
        session,
        user,
        github_token,
    } = turn;
    // A turn on top of a revert: the revert can no longer be undone.
    let session = match session.reverted_at {
        Some(_) => store::sessions::set_reverted_at(&state.db, session, None).await?,
        None => session,
    };
    // An update stopped on conflicts: the agent is told where they are.
    let conflicts = match session.update_conflict {
        Some(_) => {
            let root = state.workspaces.project_dir(session.project_id).checkout(&session.session_id);
            crate::services::update::instructions(&session, root).await.unwrap_or_else(|err| {
                tracing::warn!(session_pk = session.id, error = %err.body().error, "the conflicts could not be read");
                None
            })
        }
        None => None,
    };
    let live = LiveRun::new(run_id, assistant_message_id, slot.is_some());
    owner.set_live(live.clone());
    drop(admitting);
    let job = Job {
        run_id,
        assistant_message_id,
        user_message_id,
        prompt: agent_prompt(prompt, &comments, conflicts),
        project,
        session,
        user,
        github_token,
    };
    run::spawn(state.clone(), owner.clone(), agent, job, live, slot);
    Ok(())
}

/// Stops the session's live run.
pub async fn cancel(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
) -> Result<api_types::AgentRun, ApiError> {
    let session = crate::services::sessions::load(&state.db, user, project_id, session_pk).await?;
    let owner = state.runtime.owner(session.id);
    // A run being admitted or claimed is live on its owner once this is held.
    let _admitting = owner.admitting().await;
    let Some(run) = store::runs::live(&state.db, session.id).await? else {
        return Err(ApiError::conflict(ErrorCode::NoLiveRun, "The session has no live run to stop."));
    };
    // Stored by another node and not claimed yet: it ends here, unstarted.
    if run.claimed_at.is_none() {
        let cancelled = claim::cancel_unclaimed(state, &owner, &run).await?;
        return Ok(entity::convert::agent_run(cancelled));
    }
    if let Some(live) = owner.live() {
        live.cancel.cancel();
    }
    Ok(entity::convert::agent_run(run))
}
