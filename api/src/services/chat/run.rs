//! One agent run, start to finish: the checkout, the history, the agent's turn (saved as it
//! streams), then one commit of what changed, pushed when there is a remote.

use super::commit::commit_turn;
use super::transcript::{RunSink, Transcript};
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::runtime::{Finished, LiveRun, SessionOwner};
use crate::state::AppState;
use crate::store::{self, runs::RunEnd};
use crate::workspaces::Start;
use actix_web::web;
use agent::{Agent, CancellationToken, HistoryBlock, HistoryMessage, Role, Turn};
use api_types::{ContentBlock, MessageId, MessageRole, RunEvent, RunId, RunStatus};
use entity::{chat_session, project};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;

/// Earlier messages sent as history: at most this many, within this many characters.
const HISTORY_MESSAGES: u64 = 40;
const HISTORY_CHARS: usize = 60_000;

pub struct Job {
    pub run_id: i32,
    pub assistant_message_id: i64,
    pub user_message_id: i64,
    pub prompt: String,
    pub project: project::Model,
    pub session: chat_session::Model,
    pub user: CurrentUser,
    pub github_token: Option<String>,
}

/// Starts the run as a tracked task. However it ends, even by a panic, its end is recorded
/// and its owner told, so the session takes prompts again.
pub fn spawn(
    state: web::Data<AppState>,
    owner: Arc<SessionOwner>,
    agent: Arc<Agent>,
    job: Job,
    live: LiveRun,
    slot: Option<OwnedSemaphorePermit>,
) {
    let runtime = state.clone();
    runtime.runtime.spawn_run(async move {
        let (run_id, message_id, session_pk) = (job.run_id, job.assistant_message_id, job.session.id);
        let inner = tokio::spawn(execute(state.clone(), owner.clone(), agent, job, live.clone(), slot));
        let finished = match inner.await {
            Ok(finished) => finished,
            Err(err) => {
                tracing::error!(run_id, error = %err, "the run's task failed; recording its end");
                let error = "The run stopped on an internal error; what it wrote stays in the session.";
                let message =
                    live.transcript.lock().unwrap_or_else(|p| p.into_inner()).sealed(&state.secrets, &[error]);
                let end = RunEnd {
                    run_id,
                    status: RunStatus::Failed,
                    error: Some(error.to_owned()),
                    message_id,
                    message,
                    commit_sha: None,
                    question: false,
                };
                record_end(&state, &owner, end).await
            }
        };
        owner.set_finished(finished);
        // The next queued message starts as the next turn. (Boxed: a turn starts this task.)
        let next: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> =
            Box::pin(super::queue::start_next(&state, session_pk));
        next.await;
    });
}

#[tracing::instrument(skip_all, fields(run_id = job.run_id, session_pk = job.session.id))]
async fn execute(
    state: web::Data<AppState>,
    owner: Arc<SessionOwner>,
    agent: Arc<Agent>,
    job: Job,
    live: LiveRun,
    slot: Option<OwnedSemaphorePermit>,
) -> Finished {
    let run_id = RunId(job.run_id);
    let assistant_message_id = MessageId(job.assistant_message_id);
    let _slot = match slot {
        Some(slot) => slot,
        None => {
            state.runtime.publish(&owner, RunEvent::RunQueued { run_id, assistant_message_id });
            let slot = tokio::select! {
                slot = state.runtime.slot() => slot,
                () = live.cancel.cancelled() => return end_unstarted(&state, &owner, &job).await,
            };
            if let Err(err) = store::runs::set_running(&state.db, job.run_id).await {
                tracing::warn!(error = %crate::error::Report(&err), "could not record that the run started");
            }
            slot
        }
    };
    live.started.store(true, std::sync::atomic::Ordering::SeqCst);
    state.runtime.publish(&owner, RunEvent::RunStarted { run_id, assistant_message_id });
    // Held until the run's final commit: archive, delete, duplicate and pull requests wait
    // for it (or refuse while the run is live).
    let _work = owner.work().await;
    if state.faults.run_panics() {
        panic!("a panic injected by a test");
    }
    let transcript = live.transcript.clone();

    // What streams is stored as run events as it goes (`events`), so a crash loses at most a
    // moment of it: start-up folds them into the message.
    let outcome = if live.cancel.is_cancelled() {
        Err(RunFailure::Cancelled)
    } else {
        run_agent(&state, &owner, &agent, &job, transcript.clone(), live.cancel.clone()).await
    };

    let (mut status, mut error) = match &outcome {
        Ok(()) => (RunStatus::Succeeded, None),
        Err(RunFailure::Cancelled) if state.runtime.is_stopping() => {
            (RunStatus::Interrupted, Some("The server stopped during the turn; what it wrote is committed.".to_owned()))
        }
        Err(RunFailure::Cancelled) => (RunStatus::Cancelled, None),
        Err(RunFailure::Failed(message)) => (RunStatus::Failed, Some(message.clone())),
    };
    // Whatever the turn changed is committed, even when it ended early: nothing is lost.
    let commit = commit_turn(&state, &job, status).await;
    let (workspaces, session) = (state.workspaces.clone(), job.session.clone());
    tokio::spawn(async move { workspaces.measure_disk(&session).await });
    let mut notes = Vec::new();
    let commit_sha = match commit {
        Ok(Some((sha, pushed, push_error))) => {
            // The branch moved: its merges with the base and the other chats, made ahead.
            crate::services::radar::warm(&state, job.project.clone(), job.user.id.clone());
            state.runtime.publish(
                &owner,
                RunEvent::CommitCreated {
                    run_id,
                    sha: sha.clone(),
                    branch: job.session.github_branch_name.clone(),
                    pushed,
                },
            );
            if let Some(push_error) = push_error {
                state.runtime.publish(&owner, RunEvent::Error { run_id, message: push_error.clone() });
                notes.push(push_error);
            }
            Some(sha)
        }
        Ok(None) => None,
        Err(message) => {
            if status == RunStatus::Succeeded {
                status = RunStatus::Failed;
            }
            error.get_or_insert(message);
            None
        }
    };
    let errors: Vec<&str> = notes.iter().chain(&error).map(String::as_str).collect();
    let message = transcript.lock().unwrap_or_else(|p| p.into_inner()).sealed(&state.secrets, &errors);
    let question = transcript.lock().unwrap_or_else(|p| p.into_inner()).text().trim_end().ends_with('?');
    let end = RunEnd {
        run_id: job.run_id,
        status,
        error,
        message_id: job.assistant_message_id,
        message,
        commit_sha,
        question,
    };
    record_end(&state, &owner, end).await
}

/// A queued run stopped before it got its slot.
async fn end_unstarted(state: &web::Data<AppState>, owner: &SessionOwner, job: &Job) -> Finished {
    let (status, error) = if state.runtime.is_stopping() {
        (RunStatus::Interrupted, Some("The server stopped before the turn started.".to_owned()))
    } else {
        (RunStatus::Cancelled, None)
    };
    let message = Transcript::default().sealed(&state.secrets, &[]);
    let end = RunEnd {
        run_id: job.run_id,
        status,
        error,
        message_id: job.assistant_message_id,
        message,
        commit_sha: None,
        question: false,
    };
    record_end(state, owner, end).await
}

/// Records the run's end (message, journal, status in one transaction), trying again a few
/// times; then tells the owner and the watchers. When it cannot be recorded, the session's next prompt finds
/// the row live with no run behind it and fails it (`store::runs::fail_orphaned`).
pub(super) async fn record_end(state: &AppState, owner: &SessionOwner, end: RunEnd) -> Finished {
    let run_id = RunId(end.run_id);
    let finished = Finished { run_id: end.run_id, status: end.status, commit_sha: end.commit_sha.clone() };
    let bytes = end.message.content.len() + end.message.blocks.to_string().len();
    state.runtime.saved_bytes.fetch_add(bytes as u64, std::sync::atomic::Ordering::Relaxed);
    let error = end.error.clone();
    let mut recorded = false;
    for wait in [Duration::from_millis(100), Duration::from_millis(500), Duration::ZERO] {
        let attempt = if state.faults.finish_fails() {
            Err(crate::store::StoreError::Conflict("a failure injected by a test".into()))
        } else {
            store::runs::finish(&state.db, end.clone()).await
        };
        match attempt {
            Ok(()) => {
                recorded = true;
                break;
            }
            Err(err) => {
                tracing::error!(error = %crate::error::Report(&err), "could not record the end of the run");
                tokio::time::sleep(wait).await;
            }
        }
    }
    if recorded {
        // The message holds the run's text now.
        owner.events.prune(end.run_id);
    } else {
        tracing::error!(run_id = end.run_id, "gave up recording the end of the run; the next prompt clears it");
    }
    // No longer live before watchers hear it ended: a page they load then is the saved row.
    owner.set_finished(finished.clone());
    if let Some(message) = error {
        state.runtime.publish(owner, RunEvent::Error { run_id, message });
    }
    state.runtime.publish(owner, RunEvent::RunFinished { run_id, status: end.status });
    finished
}

enum RunFailure {
    Cancelled,
    Failed(String),
}

async fn run_agent(
    state: &web::Data<AppState>,
    owner: &Arc<SessionOwner>,
    agent: &Agent,
    job: &Job,
    transcript: Arc<Mutex<Transcript>>,
    cancel: CancellationToken,
) -> Result<(), RunFailure> {
    let failed = |err: ApiError| {
        if let ApiError::Internal(cause) = &err {
            tracing::error!(error = %crate::error::Report(&**cause), "the run failed");
        }
        RunFailure::Failed(err.body().error)
    };
    let base = job.session.base_branch.clone().unwrap_or_else(|| job.project.default_branch.clone());
    // The session may have been archived or deleted while the run waited for it.
    let session = store::sessions::find(&state.db, job.session.id).await.map_err(|err| failed(err.into()))?;
    if session.status == api_types::ChatSessionStatus::Archived {
        return Err(RunFailure::Cancelled);
    }
    let workdir =
        state.workspaces.ensure_checkout(&owner.checkout, &job.session, Start::Branch(base)).await.map_err(failed)?;
    let history = history(state, job).await.map_err(failed)?;
    let env =
        crate::services::env_vars::for_processes(&state.db, &state.secrets, job.project.id).await.map_err(failed)?;
    let place = state.workspaces.place(&workdir, env).await.map_err(failed)?;
    let run_values = state.workspaces.run_values(job.project.id, &workdir).await.map_err(failed)?;
    // `restart_preview` is offered where there is a dev server to restart.
    let preview = run_values.dev.map(|_| {
        agent::PreviewHandle(Arc::new(crate::services::preview::SessionPreview {
            state: state.clone(),
            user: job.user.clone(),
            project_id: job.project.id,
            session_pk: job.session.id,
        }) as Arc<dyn agent::PreviewControl>)
    });
    let turn = Turn {
        prompt: job.prompt.clone(),
        history,
        place,
        system: format!(
            "You are kosuke's coding agent, working in a git checkout of the project \"{}\" on the branch {}. \
             Use the tools to look at and change files; paths are relative to the project root. Keep to what \
             the user asks, and finish with a short summary of what you changed. {}",
            job.project.name,
            job.session.github_branch_name,
            crate::services::branding::instructions(&crate::services::branding::of(&job.project))
        ),
        preview,
    };
    let mut sink = RunSink { state: state.clone(), owner: owner.clone(), run_id: RunId(job.run_id), transcript };
    match agent.run(turn, &mut sink, cancel).await {
        Ok(()) => Ok(()),
        Err(agent::AgentError::Cancelled) => Err(RunFailure::Cancelled),
        Err(err) => Err(RunFailure::Failed(sentence(&err.to_string()))),
    }
}

/// `text` as a sentence: capitalised, ending in one full stop (a provider's message may have
/// its own).
fn sentence(text: &str) -> String {
    let mut chars = text.trim().chars();
    let mut sentence: String =
        chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default();
    if !sentence.ends_with(['.', '!', '?']) {
        sentence.push('.');
    }
    sentence
}

/// The session's earlier messages, oldest first, with the tool calls and results of earlier
/// turns, fitted into the history budget (the oldest tool outputs are cut first).
async fn history(state: &AppState, job: &Job) -> Result<Vec<HistoryMessage>, ApiError> {
    let recent = store::runs::history(&state.db, job.session.id, job.user_message_id, HISTORY_MESSAGES).await?;
    let mut history: Vec<HistoryMessage> = recent
        .into_iter()
        .rev()
        .map(|message| state.secrets.open_message(message))
        .filter_map(|message| {
            let role = match message.role {
                MessageRole::User => Role::User,
                MessageRole::Assistant => Role::Assistant,
                MessageRole::System => return None,
            };
            let blocks: Option<Vec<ContentBlock>> = message.blocks.and_then(|b| serde_json::from_value(b).ok());
            let blocks = match blocks {
                Some(blocks) => blocks.into_iter().filter_map(history_block).collect(),
                None => vec![HistoryBlock::Text(message.content)],
            };
            Some(HistoryMessage { role, blocks })
        })
        .collect();
    agent::fit_history(&mut history, HISTORY_CHARS);
    Ok(history)
}

/// What of a saved block the model is shown again: text, and tool calls that finished (errors
/// and discarded attempts are the user's to read, not the model's).
fn history_block(block: ContentBlock) -> Option<HistoryBlock> {
    match block {
        ContentBlock::Text { text } => Some(HistoryBlock::Text(text)),
        ContentBlock::ToolUse { id, name, input, output: Some(output), is_error, .. } => {
            Some(HistoryBlock::ToolUse { id, name, input, output, is_error })
        }
        ContentBlock::Review { comments } => {
            Some(HistoryBlock::Text(api_types::ReviewComment::block_for_agent(&comments)))
        }
        ContentBlock::ToolUse { output: None, .. } | ContentBlock::Error { .. } | ContentBlock::Retry { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_one_sentence() {
        assert_eq!(
            sentence("the model provider answered 400: Use 'x' instead."),
            "The model provider answered 400: Use 'x' instead."
        );
        assert_eq!(sentence("the turn was cancelled"), "The turn was cancelled.");
    }
}
