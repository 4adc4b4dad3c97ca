//! One agent run, start to finish: the checkout, the history, the agent's turn (saved as it
//! streams), then one commit of what changed, pushed when there is a remote.

use super::transcript::{RunSink, Transcript};
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::runtime::{Finished, LiveRun, SessionOwner};
use crate::state::AppState;
use crate::store::{self, runs::RunEnd};
use crate::workspaces::{Start, blocking};
use actix_web::web;
use agent::{Agent, CancellationToken, GitDirs, HistoryBlock, HistoryMessage, Role, Turn};
use api_types::{ContentBlock, MessageId, MessageRole, RepositoryKind, RunEvent, RunId, RunStatus};
use checkout::{Checkout, Credentials, Mirror};
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

/// How often a live run's new events are appended to its journal.
const JOURNAL_EVERY: Duration = Duration::from_millis(250);

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
        let (run_id, message_id) = (job.run_id, job.assistant_message_id);
        let inner = tokio::spawn(execute(state.clone(), owner.clone(), agent, job, live.clone(), slot));
        let finished = match inner.await {
            Ok(finished) => finished,
            Err(err) => {
                tracing::error!(run_id, error = %err, "the run's task failed; recording its end");
                let message = "The run stopped on an internal error; what it wrote stays in the session.".to_owned();
                let mut transcript = live.transcript.lock().unwrap_or_else(|p| p.into_inner()).message();
                append_error(&mut transcript, &message);
                let end = RunEnd {
                    run_id,
                    status: RunStatus::Failed,
                    error: Some(message),
                    message_id,
                    message: sealed(&state, transcript),
                    commit_sha: None,
                };
                record_end(&state, &owner, end).await
            }
        };
        owner.set_finished(finished);
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

    // Appends what streamed to the journal as the run goes, so a crash loses at most a moment.
    let saving = CancellationToken::new();
    let saver = {
        let (state, transcript, saving, run_pk) = (state.clone(), transcript.clone(), saving.clone(), job.run_id);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = saving.cancelled() => break,
                    () = tokio::time::sleep(JOURNAL_EVERY) => {}
                }
                let events = transcript.lock().unwrap_or_else(|p| p.into_inner()).take_unsaved();
                if events.is_empty() {
                    continue;
                }
                let piece = state.secrets.seal(&serde_json::to_string(&events).unwrap_or_default());
                state.runtime.saved_bytes.fetch_add(piece.len() as u64, std::sync::atomic::Ordering::Relaxed);
                if let Err(err) = store::runs::append_journal(&state.db, run_pk, piece).await {
                    tracing::warn!(error = %crate::error::Report(&err), "could not journal the streaming message");
                }
            }
        })
    };

    let outcome = if live.cancel.is_cancelled() {
        Err(RunFailure::Cancelled)
    } else {
        run_agent(&state, &owner, &agent, &job, transcript.clone(), live.cancel.clone()).await
    };
    saving.cancel();
    let _ = saver.await;

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
    let mut notes = Vec::new();
    let commit_sha = match commit {
        Ok(Some((sha, pushed, push_error))) => {
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
    let mut message = transcript.lock().unwrap_or_else(|p| p.into_inner()).message();
    for note in notes.iter().chain(&error) {
        append_error(&mut message, note);
    }
    let end = RunEnd {
        run_id: job.run_id,
        status,
        error,
        message_id: job.assistant_message_id,
        message: sealed(&state, message),
        commit_sha,
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
    let message = store::runs::AssistantMessage { content: String::new(), blocks: serde_json::json!([]), usage: None };
    let end = RunEnd {
        run_id: job.run_id,
        status,
        error,
        message_id: job.assistant_message_id,
        message: sealed(state, message),
        commit_sha: None,
    };
    record_end(state, owner, end).await
}

fn append_error(message: &mut store::runs::AssistantMessage, error: &str) {
    if let serde_json::Value::Array(blocks) = &mut message.blocks {
        let block = ContentBlock::Error { message: error.to_owned() };
        blocks.push(serde_json::to_value(block).unwrap_or_default());
    }
}

/// Records the run's end (message, journal, status in one transaction), trying again a few
/// times; then tells the owner and the watchers. When it cannot be recorded, the session's next prompt finds
/// the row live with no run behind it and fails it (`store::runs::fail_orphaned`).
async fn record_end(state: &web::Data<AppState>, owner: &SessionOwner, end: RunEnd) -> Finished {
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
    if !recorded {
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

/// The assistant message as it is stored: its text and blocks sealed with the server's key.
fn sealed(state: &AppState, message: store::runs::AssistantMessage) -> store::runs::AssistantMessage {
    let (content, blocks) = state.secrets.seal_message(&message.content, Some(&message.blocks));
    store::runs::AssistantMessage { content, blocks: blocks.unwrap_or_default(), usage: message.usage }
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
    let failed = |err: ApiError| RunFailure::Failed(err.body().error);
    let base = job.session.base_branch.clone().unwrap_or_else(|| job.project.default_branch.clone());
    // The session may have been archived or deleted while the run waited for it.
    let session = store::sessions::find(&state.db, job.session.id).await.map_err(|err| failed(err.into()))?;
    if session.status == api_types::ChatSessionStatus::Archived {
        return Err(RunFailure::Cancelled);
    }
    let workdir =
        state.workspaces.ensure_checkout(&owner.checkout, &job.session, Start::Branch(base)).await.map_err(failed)?;
    let history = history(state, job).await.map_err(failed)?;
    let env = crate::services::env_vars::for_agent(state, job.project.id).await.map_err(failed)?;
    let checkout = workdir.clone();
    let git = blocking(move || Ok(Checkout::open(&checkout)?.git_dirs())).await.map_err(failed)?;
    let git = git.map(|(worktree, common)| GitDirs { worktree, common });
    let turn = Turn {
        prompt: job.prompt.clone(),
        history,
        workdir,
        env,
        git,
        hidden: vec![state.settings.data_dir.clone()],
        system: format!(
            "You are kosuke's coding agent, working in a git checkout of the project \"{}\" on the branch {}. \
             Use the tools to look at and change files; paths are relative to the project root. Keep to what \
             the user asks, and finish with a short summary of what you changed. {}",
            job.project.name,
            job.session.github_branch_name,
            crate::services::branding::instructions(&crate::services::branding::of(&job.project))
        ),
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
        ContentBlock::ToolUse { id, name, input, output: Some(output), is_error } => {
            Some(HistoryBlock::ToolUse { id, name, input, output, is_error })
        }
        ContentBlock::ToolUse { output: None, .. } | ContentBlock::Error { .. } | ContentBlock::Retry { .. } => None,
    }
}

/// At start-up, each run the server's end interrupted gets its message back from its journal
/// (what had streamed), and what it had written becomes its own commit (its processes died
/// with the server: nothing writes there any more), so that the next turn's commit holds only
/// the next turn's work.
pub async fn commit_interrupted(
    db: &sea_orm::DatabaseConnection,
    secrets: &crate::secrets::SecretBox,
    workspaces: &crate::workspaces::Workspaces,
    runs: &[entity::agent_run::Model],
) {
    for run in runs {
        let Ok(session) = store::sessions::find(db, run.chat_session_id).await else { continue };
        let prompt = match run.user_message_id {
            Some(id) => store::messages::find(db, id).await.ok().flatten().map(|m| secrets.open_message(m).content),
            None => None,
        };
        let mut message = commit_message(prompt.as_deref().unwrap_or("Agent changes"));
        message.push_str("\n\nThe agent's turn ended early (interrupted: the server stopped).");
        let path = workspaces.project_dir(session.project_id).checkout(&session.session_id);
        let author = checkout::Author { name: "kosuke".into(), email: "kosuke@localhost".into() };
        let committed = blocking(move || match Checkout::open(&path) {
            Ok(checkout) => Ok(checkout.commit_all(&message, &author)?.map(|oid| oid.to_string())),
            Err(_) => Ok(None),
        })
        .await;
        let commit_sha = match committed {
            Ok(Some(sha)) => {
                tracing::info!(run_id = run.id, %sha, "committed what an interrupted run wrote");
                Some(sha)
            }
            Ok(None) => None,
            Err(err) => {
                tracing::warn!(run_id = run.id, error = %err.body().error, "could not commit what an interrupted run wrote");
                None
            }
        };
        if let Err(err) = recover_message(db, secrets, run, commit_sha).await {
            tracing::warn!(run_id = run.id, error = %crate::error::Report(&err), "could not recover an interrupted run's message");
        }
    }
}

/// An interrupted run's message, made again from its journal.
async fn recover_message(
    db: &sea_orm::DatabaseConnection,
    secrets: &crate::secrets::SecretBox,
    run: &entity::agent_run::Model,
    commit_sha: Option<String>,
) -> Result<(), store::StoreError> {
    let Some(message_id) = run.assistant_message_id else { return Ok(()) };
    let pieces = store::runs::journal(db, run.id).await?;
    if pieces.is_empty() {
        // Nothing streamed, or a run from before journals: the message is as it was saved.
        return Ok(());
    }
    let events = pieces.iter().map(|piece| {
        let opened = secrets.open(piece).unwrap_or_default();
        serde_json::from_str::<Vec<RunEvent>>(&opened).unwrap_or_default()
    });
    let transcript = Transcript::replay(events);
    let mut message = transcript.message();
    append_error(&mut message, "The server stopped during the turn.");
    let (content, blocks) = secrets.seal_message(&message.content, Some(&message.blocks));
    let message = store::runs::AssistantMessage { content, blocks: blocks.unwrap_or_default(), usage: None };
    let end = RunEnd {
        run_id: run.id,
        status: RunStatus::Interrupted,
        error: Some("The server stopped while the run was live.".to_owned()),
        message_id,
        message,
        commit_sha,
    };
    store::runs::finish(db, end).await
}

/// Commits what the turn changed (message from the prompt) and pushes it when the project has
/// a remote. `(sha, pushed, why the push failed)`, or `None` when nothing changed.
async fn commit_turn(
    state: &AppState,
    job: &Job,
    status: RunStatus,
) -> Result<Option<(String, bool, Option<String>)>, String> {
    let dir = state.workspaces.project_dir(job.project.id);
    let (path, mirror_path) = (dir.checkout(&job.session.session_id), dir.mirror());
    let mut message = commit_message(&job.prompt);
    if status != RunStatus::Succeeded {
        message.push_str(&format!("\n\nThe agent's turn ended early ({}).", status_word(status)));
    }
    let author = job.user.author();
    let committed = blocking(move || match Checkout::open(&path) {
        Ok(checkout) => Ok(checkout.commit_all(&message, &author)?.map(|oid| oid.to_string())),
        Err(_) => Ok(None),
    })
    .await
    .map_err(|err| err.body().error)?;
    let Some(sha) = committed else { return Ok(None) };
    let credentials = push_credentials(state, job).await;
    let branch = job.session.github_branch_name.clone();
    let pushed = blocking(move || {
        let mirror = Mirror::open(&mirror_path)?;
        if !mirror.has_remote() {
            return Ok(false);
        }
        mirror.push_branch(&branch, credentials.as_ref()).map(|()| true)
    })
    .await;
    Ok(match pushed {
        Ok(pushed) => Some((sha, pushed, None)),
        Err(err) => Some((sha, false, Some(format!("The commit was made but not pushed: {}", err.body().error)))),
    })
}

async fn push_credentials(state: &AppState, job: &Job) -> Option<Credentials> {
    if job.project.repository_kind != RepositoryKind::Github {
        return None;
    }
    if let Some(token) = job.github_token.clone().filter(|t| !t.trim().is_empty()) {
        return Some(Credentials::github_token(token));
    }
    crate::services::github::git_credentials(state, &job.user.id, &job.project).await.ok().flatten()
}

/// The first line of the prompt, cut to 72 characters.
fn commit_message(prompt: &str) -> String {
    let first = prompt.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("Agent changes");
    if first.chars().count() > 72 {
        format!("{}…", first.chars().take(71).collect::<String>())
    } else {
        first.to_owned()
    }
}

fn status_word(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Cancelled => "cancelled",
        RunStatus::Failed => "failed",
        RunStatus::Interrupted => "interrupted",
        _ => "unfinished",
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

    #[test]
    fn commit_messages_come_from_the_prompts_first_line() {
        assert_eq!(commit_message("\n  Add a login page\nwith details"), "Add a login page");
        assert_eq!(commit_message(&"x".repeat(100)).chars().count(), 72);
    }
}
