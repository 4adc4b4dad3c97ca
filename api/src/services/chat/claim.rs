//! Runs stored by one node and run by another. With several nodes a prompt may reach a node
//! that does not hold the chat's project: that node stores the turn (the run row, `queued`
//! and unclaimed, with the user's message) and answers at once — the partial unique index of
//! live runs admits one per chat, so a second prompt gets 409 (or is queued) whichever node it
//! reaches. PostgreSQL announces the unclaimed run on `kosuke_runs` when it commits; the node
//! holding the project hears it, claims the row (`FOR UPDATE SKIP LOCKED`, so two claims never
//! both get it) and runs it. The queue keeper also looks every few seconds, for announcements
//! missed while a listener reconnected, and after a start-up or a takeover.
//!
//! A run stored while its node is down waits for it, or for the node that takes the project
//! over; a project that cannot move (no remote) answers 503 instead, as every request it needs
//! its node for does.

use super::run::record_end;
use super::transcript::Transcript;
use super::{Answer, Launch};
use crate::access::ProjectAccess;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{self, runs::RunEnd};
use actix_web::web;
use api_types::{ChatSessionStatus, ContentBlock, ErrorCode, ReviewComment, RunStatus};
use entity::{agent_run, chat_session, node};

/// Stores a turn for the node holding the project (`node`), or queues it behind the chat's
/// live run when `queue` asks for that.
pub(super) async fn admit(
    state: &AppState,
    user: &CurrentUser,
    access: &ProjectAccess,
    session: &chat_session::Model,
    (prompt, comments): (String, Vec<ReviewComment>),
    queue: bool,
    node: node::Model,
) -> Result<Answer, ApiError> {
    if !crate::nodes::alive(&state.settings, node.heartbeat_at) && !crate::nodes::takeover::moves(&access.project) {
        return Err(crate::nodes::forward::down(node.id));
    }
    let waiting = async || Ok::<_, ApiError>(store::queue::list(&state.db, session.id).await?.len());
    let queued = async |waiting: usize| -> Result<Answer, ApiError> {
        let row = super::queue::push(state, session, user, &prompt, &comments).await?;
        Ok(Answer::Queued(super::queue::shown(state, &row, waiting + 1)))
    };
    if queue {
        let waiting = waiting().await?;
        if waiting > 0 || store::runs::live(&state.db, session.id).await?.is_some() {
            return queued(waiting).await;
        }
    }
    match super::store_turn(state, session, user, &prompt, &comments, RunStatus::Queued, false).await {
        Ok(started) => Ok(Answer::Started(super::accepted(state, started))),
        // A run was admitted since the look above.
        Err(err) if err.is_conflict() && queue => queued(waiting().await?).await,
        Err(err) if err.is_conflict() => Err(super::busy()),
        Err(err) => Err(err.into()),
    }
}

/// Claims and starts the runs other nodes stored for the projects this node holds.
pub async fn claim_waiting(state: &web::Data<AppState>) {
    let Some(me) = state.node_id else { return };
    if state.runtime.is_stopping() {
        return;
    }
    let waiting = match store::runs::unclaimed(&state.db, me).await {
        Ok(waiting) => waiting,
        Err(err) => return tracing::warn!(error = %crate::error::Report(&err), "could not read the runs to claim"),
    };
    for run in waiting {
        let run_id = run.id;
        match start_claimed(state, run).await {
            Ok(true) => tracing::info!(run_id, "claimed a run another node stored"),
            Ok(false) => {}
            Err(err) => tracing::warn!(run_id, error = %err, "a claimed run could not be recorded"),
        }
    }
}

/// Claims `run` and starts it, or ends it `failed` saying why it cannot start here; whether
/// this call claimed it.
async fn start_claimed(state: &web::Data<AppState>, run: agent_run::Model) -> Result<bool, ApiError> {
    let owner = state.runtime.owner(run.chat_session_id);
    // As for a prompt sent here: nothing else admits a run on the chat meanwhile, and a cancel
    // waits until the run is live.
    let admitting = owner.admitting().await;
    if !store::runs::claim(&state.db, run.id).await? {
        return Ok(false);
    }
    owner.events.ready(&state.runtime.events, &state.db).await?;
    match prepare(state, &run).await {
        Ok((agent, turn)) => {
            let slot = state.runtime.try_slot();
            if slot.is_some() {
                store::runs::set_running(&state.db, run.id).await?;
            }
            super::launch(state, &owner, admitting, agent, turn, slot).await?;
        }
        Err(err) => {
            let error = err.body().error;
            tracing::warn!(run_id = run.id, error, "a claimed run cannot start");
            end_unstarted(state, &owner, &run, RunStatus::Failed, Some(error)).await;
        }
    }
    Ok(true)
}

/// What a stored run needs to start here: the agent, and its turn as the prompt's node stored
/// it (the user still a member, the chat still active).
async fn prepare(state: &AppState, run: &agent_run::Model) -> Result<(std::sync::Arc<agent::Agent>, Launch), ApiError> {
    let agent = super::agents::usable_agent(state)?;
    let (Some(user_message_id), Some(assistant_message_id)) = (run.user_message_id, run.assistant_message_id) else {
        return Err(ApiError::internal("a stored run has no messages"));
    };
    let session = store::sessions::find(&state.db, run.chat_session_id).await?;
    if session.status == ChatSessionStatus::Archived {
        return Err(ApiError::conflict(ErrorCode::WorkspaceNotReady, "The chat was archived before the turn started."));
    }
    let message = store::messages::find(&state.db, user_message_id).await?.ok_or(ApiError::NotFound("message"))?;
    let message = state.secrets.open_message(message);
    let user_id = message.user_id.clone().ok_or_else(|| ApiError::internal("a stored turn has no author"))?;
    let user = store::accounts::find_user(&state.db, &user_id).await?;
    if user.disabled_at.is_some() {
        return Err(ApiError::forbidden("The account that sent the message is disabled."));
    }
    let user = CurrentUser::from(user);
    let access = ProjectAccess::load(&state.db, session.project_id, &user).await?;
    let blocks: Vec<ContentBlock> = message.blocks.and_then(|b| serde_json::from_value(b).ok()).unwrap_or_default();
    let comments = blocks
        .into_iter()
        .find_map(|block| match block {
            ContentBlock::Review { comments } => Some(comments),
            _ => None,
        })
        .unwrap_or_default();
    let turn = Launch {
        run_id: run.id,
        user_message_id,
        assistant_message_id,
        prompt: message.content,
        comments,
        project: access.project,
        session,
        user,
        // A token given for one push is never stored: such prompts are sent to this node.
        github_token: None,
    };
    Ok((agent, turn))
}

/// Stops a run stored by another node before this node claimed it (the caller holds the
/// chat's `admitting`, so no claim is under way); the run as it ended.
pub(super) async fn cancel_unclaimed(
    state: &AppState,
    owner: &crate::runtime::SessionOwner,
    run: &agent_run::Model,
) -> Result<agent_run::Model, ApiError> {
    if store::runs::claim(&state.db, run.id).await? {
        owner.events.ready(&state.runtime.events, &state.db).await?;
        end_unstarted(state, owner, run, RunStatus::Cancelled, None).await;
    }
    Ok(store::runs::find(&state.db, run.id).await?.unwrap_or_else(|| run.clone()))
}

/// Ends a claimed run that never started, with an empty answer (and its error).
async fn end_unstarted(
    state: &AppState,
    owner: &crate::runtime::SessionOwner,
    run: &agent_run::Model,
    status: RunStatus,
    error: Option<String>,
) {
    let errors: Vec<&str> = error.iter().map(String::as_str).collect();
    let end = RunEnd {
        run_id: run.id,
        status,
        message: Transcript::default().sealed(&state.secrets, &errors),
        error,
        message_id: run.assistant_message_id.unwrap_or_default(),
        commit_sha: None,
        question: false,
    };
    record_end(state, owner, end).await;
}
