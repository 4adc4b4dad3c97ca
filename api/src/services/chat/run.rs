//! One agent run, start to finish: the checkout, the history, the agent's turn (saved as it
//! streams), then one commit of what changed, pushed when there is a remote.

use super::transcript::{RunSink, Transcript};
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store;
use crate::workspaces::{Start, blocking};
use actix_web::web;
use agent::{Agent, CancellationToken, GitDirs, HistoryBlock, HistoryMessage, Role, Turn};
use api_types::{ContentBlock, MessageId, MessageRole, RepositoryKind, RunEvent, RunId, RunStatus};
use checkout::{Checkout, Credentials, Mirror};
use entity::{chat_session, project};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

#[tracing::instrument(skip_all, fields(run_id = job.run_id, session_pk = job.session.id))]
pub async fn execute(state: web::Data<AppState>, agent: Arc<Agent>, job: Job, cancel: CancellationToken) {
    let session_pk = job.session.id;
    let run_id = RunId(job.run_id);
    state.events.publish(
        session_pk,
        RunEvent::RunStarted { run_id, assistant_message_id: MessageId(job.assistant_message_id) },
    );
    let transcript = Arc::new(Mutex::new(Transcript::default()));

    // Saves the transcript while the run streams, so a crash loses at most a moment of it.
    let saving = CancellationToken::new();
    let saver = {
        let (state, transcript, saving, message_id) =
            (state.clone(), transcript.clone(), saving.clone(), job.assistant_message_id);
        tokio::spawn(async move {
            let mut saved = 0;
            loop {
                tokio::select! {
                    () = saving.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_millis(250)) => {}
                }
                let (version, message) = {
                    let t = transcript.lock().unwrap_or_else(|p| p.into_inner());
                    (t.version, t.message())
                };
                if version != saved {
                    let message = sealed(&state, message);
                    if let Err(err) = store::runs::save_assistant(&state.db, message_id, message, None).await {
                        tracing::warn!(error = %crate::error::Report(&err), "could not save the streaming message");
                    }
                    saved = version;
                }
            }
        })
    };

    let outcome = run_agent(&state, &agent, &job, transcript.clone(), cancel).await;
    saving.cancel();
    let _ = saver.await;

    let (mut status, mut error) = match &outcome {
        Ok(()) => (RunStatus::Succeeded, None),
        Err(RunFailure::Cancelled) => (RunStatus::Cancelled, None),
        Err(RunFailure::Failed(message)) => (RunStatus::Failed, Some(message.clone())),
    };
    // Whatever the turn changed is committed, even when it ended early: nothing is lost.
    let commit = commit_turn(&state, &job, status).await;
    let commit_sha = match commit {
        Ok(Some((sha, pushed, push_error))) => {
            state.events.publish(
                session_pk,
                RunEvent::CommitCreated {
                    run_id,
                    sha: sha.clone(),
                    branch: job.session.github_branch_name.clone(),
                    pushed,
                },
            );
            if let Some(push_error) = push_error {
                state.events.publish(session_pk, RunEvent::Error { run_id, message: push_error });
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
    let message = {
        let mut t = transcript.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(message) = &error {
            t.blocks.push(ContentBlock::Error { message: message.clone() });
        }
        t.message()
    };
    let message = sealed(&state, message);
    if let Err(err) = store::runs::save_assistant(&state.db, job.assistant_message_id, message, commit_sha).await {
        tracing::error!(error = %crate::error::Report(&err), "could not save the assistant message");
    }
    if let Err(err) = store::runs::finish(&state.db, job.run_id, status, error.clone()).await {
        tracing::error!(error = %crate::error::Report(&err), "could not record the end of the run");
    }
    state.cancels.lock().unwrap_or_else(|p| p.into_inner()).remove(&job.run_id);
    if let Some(message) = error {
        state.events.publish(session_pk, RunEvent::Error { run_id, message });
    }
    state.events.publish(session_pk, RunEvent::RunFinished { run_id, status });
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
    agent: &Agent,
    job: &Job,
    transcript: Arc<Mutex<Transcript>>,
    cancel: CancellationToken,
) -> Result<(), RunFailure> {
    let failed = |err: ApiError| RunFailure::Failed(err.body().error);
    let base = job.session.base_branch.clone().unwrap_or_else(|| job.project.default_branch.clone());
    let workdir = state.workspaces.ensure_checkout(&job.session, Start::Branch(base)).await.map_err(failed)?;
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
    let mut sink = RunSink { state: state.clone(), session_pk: job.session.id, run_id: RunId(job.run_id), transcript };
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

/// At start-up, what each run the server's end interrupted had written becomes that run's own
/// commit (its processes died with the server: nothing writes there any more), so that the
/// next turn's commit holds only the next turn's work.
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
        match committed {
            Ok(Some(sha)) => tracing::info!(run_id = run.id, %sha, "committed what an interrupted run wrote"),
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(run_id = run.id, error = %err.body().error, "could not commit what an interrupted run wrote")
            }
        }
    }
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
