//! Chat turns: `POST /api/chat` stores the user's message and starts an agent run that goes on
//! without the client. The run works in the session's checkout, streams its events, saves the
//! assistant message as it goes, and ends with one commit on the session branch (pushed when
//! the project has a remote).

use crate::access::ProjectAccess;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::settings::AgentSettings;
use crate::state::AppState;
use crate::store;
use crate::workspaces::{Start, blocking};
use actix_web::web;
use agent::{
    Agent, AgentConfig, AgentEvent, CancellationToken, EventSink, HistoryMessage, Limits, ProviderKind, Role, Turn,
};
use api_types::{
    AgentInfo, ChatAccepted, ChatRequest, ChatSessionStatus, ContentBlock, ErrorCode, MAX_PROMPT_CHARS, MessageId,
    MessageRole, RepositoryKind, RunEvent, RunId, RunStatus,
};
use checkout::{Checkout, Credentials, Mirror};
use entity::{chat_session, project};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Earlier messages sent as history: at most this many, within this many characters.
const HISTORY_MESSAGES: u64 = 40;
const HISTORY_CHARS: usize = 60_000;

/// The agent from settings, or the sentence saying what to set.
pub fn build_agent(settings: &AgentSettings) -> Result<Agent, String> {
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
    if let Some(max) = settings.max_duration {
        limits.max_duration = max;
    }
    let config = AgentConfig {
        kind,
        model: settings.model.clone().unwrap_or_default(),
        base_url,
        api_key: settings.api_key.clone(),
        command: settings.command.clone(),
        limits,
    };
    Agent::new(config).map_err(|err| format!("The agent is not set up: {err}."))
}

/// What the model banner shows.
pub fn agent_info(state: &AppState) -> AgentInfo {
    match &state.agent {
        Ok(agent) => {
            let config = agent.config();
            let display_name = match config.kind {
                ProviderKind::Command => format!("Command: {}", config.command.as_deref().unwrap_or_default()),
                _ => config.model.clone(),
            };
            AgentInfo {
                provider: Some(config.kind.as_str().to_owned()),
                model: (config.kind != ProviderKind::Command).then(|| config.model.clone()),
                display_name,
                available: true,
                reason: None,
            }
        }
        Err(reason) => AgentInfo {
            provider: None,
            model: None,
            display_name: "No model configured".to_owned(),
            available: false,
            reason: Some(reason.clone()),
        },
    }
}

/// Stores the prompt, starts the run in the background and answers at once.
pub async fn send(
    state: &web::Data<AppState>,
    user: &CurrentUser,
    request: ChatRequest,
) -> Result<ChatAccepted, ApiError> {
    let agent = state
        .agent
        .clone()
        .map_err(|reason| ApiError::Unavailable { code: ErrorCode::AgentUnavailable, message: reason })?;
    let prompt = request.prompt.trim().to_owned();
    if prompt.is_empty() {
        return Err(ApiError::validation("prompt", "The prompt must not be empty."));
    }
    if prompt.chars().count() > MAX_PROMPT_CHARS {
        return Err(ApiError::validation(
            "prompt",
            format!("The prompt is longer than {MAX_PROMPT_CHARS} characters."),
        ));
    }
    let access = ProjectAccess::load(&state.db, request.project_id.0, user).await?;
    let session = store::sessions::load_for_user(&state.db, access.id(), request.chat_session_id.0, &user.id).await?;
    if session.status == ChatSessionStatus::Archived {
        return Err(ApiError::conflict(
            ErrorCode::WorkspaceNotReady,
            "The session is archived; unarchive it to chat in it.",
        ));
    }
    crate::services::sessions::require_repository(&access)?;
    let started = store::runs::start(&state.db, &session, &user.id, prompt.clone()).await.map_err(|err| {
        if err.is_conflict() {
            ApiError::conflict(ErrorCode::SessionBusy, "The session already has a live run; wait for it or stop it.")
        } else {
            err.into()
        }
    })?;
    let cancel = CancellationToken::new();
    state.cancels.lock().unwrap_or_else(|p| p.into_inner()).insert(started.run.id, cancel.clone());
    let job = Job {
        run_id: started.run.id,
        assistant_message_id: started.assistant_message.id,
        user_message_id: started.user_message.id,
        prompt,
        project: access.project,
        session,
        user: user.clone(),
        github_token: request.github_token,
    };
    tokio::spawn(execute(state.clone(), agent, job, cancel));
    Ok(ChatAccepted {
        run_id: RunId(started.run.id),
        user_message: entity::convert::chat_message(started.user_message),
        assistant_message_id: MessageId(started.assistant_message.id),
    })
}

/// Stops the session's live run.
pub async fn cancel(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
) -> Result<api_types::AgentRun, ApiError> {
    let session = crate::services::sessions::load(&state.db, user, project_id, session_pk).await?;
    let live = store::runs::list(&state.db, session.id, 1).await?.into_iter().find(|run| run.status.is_live());
    let Some(run) = live else {
        return Err(ApiError::conflict(ErrorCode::NoLiveRun, "The session has no live run to stop."));
    };
    if let Some(token) = state.cancels.lock().unwrap_or_else(|p| p.into_inner()).get(&run.id) {
        token.cancel();
    }
    Ok(entity::convert::agent_run(run))
}

struct Job {
    run_id: i32,
    assistant_message_id: i64,
    user_message_id: i64,
    prompt: String,
    project: project::Model,
    session: chat_session::Model,
    user: CurrentUser,
    github_token: Option<String>,
}

/// The assistant message as it is being written.
#[derive(Default)]
struct Transcript {
    blocks: Vec<ContentBlock>,
    version: u64,
}

impl Transcript {
    fn apply(&mut self, event: &AgentEvent) {
        match event {
            AgentEvent::Text(text) => match self.blocks.last_mut() {
                Some(ContentBlock::Text { text: last }) => last.push_str(text),
                _ => self.blocks.push(ContentBlock::Text { text: text.clone() }),
            },
            AgentEvent::ToolStarted { id, name, input } => self.blocks.push(ContentBlock::ToolUse {
                id: id.clone(),
                name: name.clone(),
                input: input.clone(),
                output: None,
                is_error: false,
            }),
            AgentEvent::ToolFinished { id, output, is_error, .. } => {
                for block in self.blocks.iter_mut().rev() {
                    if let ContentBlock::ToolUse { id: block_id, output: slot, is_error: error, .. } = block
                        && block_id == id
                    {
                        *slot = Some(output.clone());
                        *error = *is_error;
                        break;
                    }
                }
            }
        }
        self.version += 1;
    }

    fn text(&self) -> String {
        self.blocks
            .iter()
            .filter_map(|b| match b {
                ContentBlock::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::to_value(&self.blocks).unwrap_or_default()
    }
}

/// Publishes each agent event and records it in the transcript.
struct RunSink {
    state: web::Data<AppState>,
    session_pk: i32,
    run_id: RunId,
    transcript: Arc<Mutex<Transcript>>,
}

impl EventSink for RunSink {
    fn emit(&mut self, event: AgentEvent) {
        self.transcript.lock().unwrap_or_else(|p| p.into_inner()).apply(&event);
        let run_id = self.run_id;
        let published = match event {
            AgentEvent::Text(text) => RunEvent::TextDelta { run_id, text },
            AgentEvent::ToolStarted { id, name, input } => {
                RunEvent::ToolStarted { run_id, tool_use_id: id, name, input }
            }
            AgentEvent::ToolFinished { id, name, output, is_error } => {
                RunEvent::ToolFinished { run_id, tool_use_id: id, name, output, is_error }
            }
        };
        self.state.events.publish(self.session_pk, published);
    }
}

#[tracing::instrument(skip_all, fields(run_id = job.run_id, session_pk = job.session.id))]
async fn execute(state: web::Data<AppState>, agent: Arc<Agent>, job: Job, cancel: CancellationToken) {
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
                let (version, content, blocks) = {
                    let t = transcript.lock().unwrap_or_else(|p| p.into_inner());
                    (t.version, t.text(), t.json())
                };
                if version != saved {
                    if let Err(err) = store::runs::save_assistant(&state.db, message_id, content, blocks, None).await {
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
    let (content, blocks) = {
        let mut t = transcript.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(message) = &error {
            t.blocks.push(ContentBlock::Error { message: message.clone() });
        }
        (t.text(), t.json())
    };
    if let Err(err) =
        store::runs::save_assistant(&state.db, job.assistant_message_id, content, blocks, commit_sha).await
    {
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
    let turn = Turn {
        prompt: job.prompt.clone(),
        history,
        workdir,
        env,
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
        Err(err) => Err(RunFailure::Failed(format!("{}.", capitalize(&err.to_string())))),
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The session's earlier messages, oldest first, within the history budget.
async fn history(state: &AppState, job: &Job) -> Result<Vec<HistoryMessage>, ApiError> {
    let recent = store::runs::history(&state.db, job.session.id, job.user_message_id, HISTORY_MESSAGES).await?;
    let mut used = 0;
    let mut history = Vec::new();
    for message in recent {
        let role = match message.role {
            MessageRole::User => Role::User,
            MessageRole::Assistant => Role::Assistant,
            MessageRole::System => continue,
        };
        used += message.content.len();
        if used > HISTORY_CHARS {
            break;
        }
        history.push(HistoryMessage { role, text: message.content });
    }
    history.reverse();
    Ok(history)
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
    fn commit_messages_come_from_the_prompts_first_line() {
        assert_eq!(commit_message("\n  Add a login page\nwith details"), "Add a login page");
        assert_eq!(commit_message(&"x".repeat(100)).chars().count(), 72);
    }

    #[test]
    fn the_transcript_folds_events_into_blocks() {
        let mut t = Transcript::default();
        t.apply(&AgentEvent::Text("Hel".into()));
        t.apply(&AgentEvent::Text("lo".into()));
        t.apply(&AgentEvent::ToolStarted {
            id: "t1".into(),
            name: "read_file".into(),
            input: serde_json::json!({"path": "a"}),
        });
        t.apply(&AgentEvent::ToolFinished {
            id: "t1".into(),
            name: "read_file".into(),
            output: "x".into(),
            is_error: false,
        });
        t.apply(&AgentEvent::Text("Done".into()));
        assert_eq!(t.text(), "HelloDone");
        assert_eq!(
            t.json(),
            serde_json::json!([
                {"type": "text", "text": "Hello"},
                {"type": "tool_use", "id": "t1", "name": "read_file", "input": {"path": "a"}, "output": "x", "is_error": false},
                {"type": "text", "text": "Done"}
            ])
        );
    }

    #[test]
    fn no_provider_means_a_sentence_naming_the_settings() {
        let reason = build_agent(&AgentSettings::default()).err().unwrap_or_default();
        assert!(reason.contains("KOSUKE_AGENT_PROVIDER") && reason.contains("KOSUKE_AGENT_COMMAND"), "{reason}");
    }
}
