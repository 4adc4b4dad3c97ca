//! Chat turns: `POST /api/chat` stores the user's message and starts an agent run that goes on
//! without the client. The run (`run.rs`) works in the session's checkout, streams its events,
//! stored as run events as they go (`transcript.rs`, `crate::events`), and ends with one commit on the
//! session branch, pushed when the project has a remote (`commit.rs`). After a crash,
//! `recovery.rs` gives interrupted runs their message and commit.

mod claim;
mod commit;
pub mod queue;
mod recovery;
mod run;
mod transcript;

use crate::access::ProjectAccess;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::runtime::LiveRun;
use crate::settings::AgentSettings;
use crate::state::AppState;
use crate::store;
use actix_web::web;
use agent::{Agent, AgentConfig, Limits, ProviderKind};
use api_types::{
    AgentInfo, ChatAccepted, ChatAnswer, ChatQueued, ChatRequest, ChatSessionStatus, ContentBlock, ErrorCode,
    MAX_PROMPT_CHARS, MessageId, QueuedPrompt, ReviewComment, RunId, RunStatus,
};
pub use claim::claim_waiting;
pub use recovery::{announce_interrupted, commit_interrupted, recover_messages};
use run::Job;
pub use transcript::Transcript;

/// The agent from settings, or the sentence saying what to set.
pub fn build_agent(
    settings: &AgentSettings,
    sandbox: Result<sandbox::Sandbox, sandbox::Unavailable>,
) -> Result<Agent, String> {
    let missing = "No model provider is configured. Set KOSUKE_AGENT_PROVIDER to anthropic or openai (with \
                   KOSUKE_AGENT_MODEL and KOSUKE_AGENT_API_KEY, and KOSUKE_AGENT_BASE_URL for another endpoint), \
                   or to command (with KOSUKE_AGENT_COMMAND)."
        .to_owned();
    let Some(provider) = settings.provider.as_deref().filter(|p| !p.trim().is_empty()) else { return Err(missing) };
    let kind = ProviderKind::parse(provider)
        .ok_or_else(|| format!("KOSUKE_AGENT_PROVIDER is {provider:?}; use anthropic, openai or command."))?;
    let base_url = settings.base_url.clone().unwrap_or_else(|| match kind {
        ProviderKind::Anthropic => "https://api.anthropic.com".to_owned(),
        _ => "https://api.openai.com/v1".to_owned(),
    });
    let mut limits = Limits::default();
    if let Some(stall) = settings.stall_timeout {
        limits.stall_timeout = stall;
    }
    if let Some(stall) = settings.tool_stall_timeout {
        limits.tool_stall_timeout = stall;
    }
    if let Some(max) = settings.max_duration {
        limits.max_duration = max;
    }
    if let Some(tokens) = settings.max_tokens {
        limits.max_tokens = tokens;
    }
    if let Some(retries) = settings.max_retries {
        limits.max_retries = retries;
    }
    if let Some(wait) = settings.retry_max_wait {
        limits.retry_max_wait = wait;
    }
    if let Some(timeout) = settings.command_timeout {
        limits.command_timeout = timeout;
    }
    let config = AgentConfig {
        kind,
        model: settings.model.clone().unwrap_or_default(),
        base_url,
        api_key: settings.api_key.clone(),
        command: settings.command.clone(),
        limits,
        sandbox,
    };
    Agent::new(config).map_err(|err| format!("The agent is not set up: {err}."))
}

/// What the model banner shows `user`: the operator's label (else the model, or "Command
/// agent"); a command agent's command only to admins (it is a path on the server).
pub fn agent_info(state: &AppState, user: &CurrentUser) -> AgentInfo {
    match &state.agent {
        Ok(agent) => {
            let config = agent.config();
            let is_command = config.kind == ProviderKind::Command;
            let label = state
                .settings
                .agent
                .label
                .clone()
                .filter(|l| !l.trim().is_empty())
                .unwrap_or_else(|| if is_command { "Command agent".to_owned() } else { config.model.clone() });
            let display_name = match &config.sandbox {
                Ok(sandbox) if is_command && !sandbox.is_enforced() => format!("{label} (unsandboxed)"),
                _ => label,
            };
            AgentInfo {
                provider: Some(config.kind.as_str().to_owned()),
                model: (config.kind != ProviderKind::Command).then(|| config.model.clone()),
                available: config.kind != ProviderKind::Command || config.sandbox.is_ok(),
                reason: match (&config.kind, &config.sandbox) {
                    (ProviderKind::Command, Err(unavailable)) => {
                        Some(format!("Agent commands cannot run: {unavailable}."))
                    }
                    _ => None,
                },
                display_name,
                command: config.command.clone().filter(|_| is_command && user.is_admin),
            }
        }
        Err(reason) => AgentInfo {
            provider: None,
            model: None,
            display_name: "No model configured".to_owned(),
            available: false,
            reason: Some(reason.clone()),
            command: None,
        },
    }
}

/// Stores the prompt, starts the run in the background and answers at once.
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

/// The prompt as stored: trimmed, not empty, within the limit.
pub(crate) fn checked_prompt(prompt: &str) -> Result<String, ApiError> {
    if prompt.chars().count() > MAX_PROMPT_CHARS {
        return Err(ApiError::validation(
            "prompt",
            format!("The prompt is longer than {MAX_PROMPT_CHARS} characters."),
        ));
    }
    let prompt = prompt.trim().to_owned();
    if prompt.is_empty() {
        return Err(ApiError::validation("prompt", "The prompt must not be empty."));
    }
    Ok(prompt)
}

/// At most this many review comments go with one prompt.
const MAX_COMMENTS: usize = 50;
/// A comment's text and its quoted code are each cut at this many characters.
pub const MAX_COMMENT_CHARS: usize = 10_000;

/// A review comment's path: relative to the checkout, no `..` segment, no NUL.
pub const COMMENT_PATH_PATTERN: &str = r"^(?!/)(?!(?:.*/)?\.\.(?:/|$))[^\x00]+$";
pub const MAX_COMMENT_PATH_CHARS: usize = 4096;

/// Review comments as stored: each on a path of the checkout, lines from 1 (first to last), a
/// comment that says something (trimmed); the quote cut to its bound.
pub(crate) fn checked_comments(comments: &[ReviewComment]) -> Result<Vec<ReviewComment>, ApiError> {
    if comments.len() > MAX_COMMENTS {
        return Err(ApiError::validation(
            "comments",
            format!("At most {MAX_COMMENTS} review comments go with one message."),
        ));
    }
    comments
        .iter()
        .map(|comment| {
            let path = &comment.path;
            if path.is_empty()
                || path.starts_with('/')
                || path.chars().count() > MAX_COMMENT_PATH_CHARS
                || path.split('/').any(|part| part == "..")
                || path.contains('\0')
            {
                return Err(ApiError::validation(
                    "comments",
                    "A comment's path must be a file of the checkout, relative to it.",
                ));
            }
            if comment.start_line == 0 || comment.end_line == 0 {
                return Err(ApiError::validation("comments", "A comment's lines are numbered from 1."));
            }
            let body = comment.body.trim();
            if body.is_empty() || comment.body.chars().count() > MAX_COMMENT_CHARS {
                return Err(ApiError::validation(
                    "comments",
                    format!("A comment must be 1 to {MAX_COMMENT_CHARS} characters."),
                ));
            }
            Ok(ReviewComment {
                path: path.clone(),
                start_line: comment.start_line.min(comment.end_line),
                end_line: comment.start_line.max(comment.end_line),
                side: comment.side,
                body: body.to_owned(),
                quote: comment.quote.chars().take(MAX_COMMENT_CHARS).collect(),
            })
        })
        .collect()
}

/// What the agent is sent: the prompt, then the review comments' block, then what an update
/// from the base stopped on.
fn agent_prompt(prompt: String, comments: &[ReviewComment], conflicts: Option<String>) -> String {
    let mut sent = prompt;
    if !comments.is_empty() {
        sent = format!("{sent}\n\n{}", ReviewComment::block_for_agent(comments));
    }
    if let Some(conflicts) = conflicts {
        sent = format!("{sent}\n\n{conflicts}");
    }
    sent
}

/// The agent this node runs turns with, or why it cannot.
fn usable_agent(state: &AppState) -> Result<std::sync::Arc<Agent>, ApiError> {
    let agent = state
        .agent
        .clone()
        .map_err(|reason| ApiError::Unavailable { code: ErrorCode::AgentUnavailable, message: reason })?;
    if agent.config().kind == ProviderKind::Command
        && let Err(unavailable) = &agent.config().sandbox
    {
        return Err(ApiError::Unavailable {
            code: ErrorCode::SandboxUnavailable,
            message: format!("The agent runs commands and no sandbox can be enforced here: {unavailable}."),
        });
    }
    Ok(agent)
}

/// The user message's blocks: with review comments, the prompt's text and the comments' block.
fn message_blocks(prompt: &str, comments: &[ReviewComment]) -> Option<serde_json::Value> {
    (!comments.is_empty()).then(|| {
        serde_json::to_value([
            ContentBlock::Text { text: prompt.to_owned() },
            ContentBlock::Review { comments: comments.to_vec() },
        ])
        .unwrap_or_default()
    })
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
    let live = store::runs::list(&state.db, session.id, 1).await?.into_iter().find(|run| run.status.is_live());
    let Some(run) = live else {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_provider_means_a_sentence_naming_the_settings() {
        let reason = build_agent(&AgentSettings::default(), sandbox::Sandbox::probe(sandbox::Mode::Off, true))
            .err()
            .unwrap_or_default();
        assert!(reason.contains("KOSUKE_AGENT_PROVIDER") && reason.contains("KOSUKE_AGENT_COMMAND"), "{reason}");
    }
}
