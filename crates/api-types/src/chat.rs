//! Agent runs: sending a prompt, the events a run streams, the content blocks an assistant
//! message is made of, and what the model banner shows.

use crate::ids::{ChatSessionPk, MessageId, ProjectId};
use crate::message::ChatMessage;
use crate::review::ReviewComment;
use serde::{Deserialize, Serialize};

/// `agent_runs.id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct RunId(pub i32);

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The longest prompt accepted, in characters.
pub const MAX_PROMPT_CHARS: usize = 100_000;

/// `POST /api/chat`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatRequest {
    pub project_id: ProjectId,
    pub chat_session_id: ChatSessionPk,
    pub prompt: String,
    /// Use this GitHub token for the push instead of the connected one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_token: Option<String>,
    /// While a run is live (or messages wait already), keep the prompt to start as a next
    /// turn (202 with its place in the queue) instead of answering 409 `session_busy`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub queue: bool,
    /// Review comments on lines of the code, sent with the prompt as a structured block the
    /// agent receives (at most 50).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(max_items = 50))]
    pub comments: Vec<ReviewComment>,
}

/// A message waiting to start as one of its chat's next turns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueuedPrompt {
    pub id: crate::ids::QueuedPromptId,
    pub chat_session_id: ChatSessionPk,
    pub prompt: String,
    /// The review comments that go with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<ReviewComment>,
    /// 1 starts next.
    pub position: u32,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// `GET …/{session_pk}/queue`: in the order they start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueuedPromptList {
    pub queued: Vec<QueuedPrompt>,
}

/// `PUT …/{session_pk}/queue/{queued_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateQueuedPromptRequest {
    pub prompt: String,
}

/// The 202 answer to `POST /api/chat` with `queue: true` when the prompt waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatQueued {
    pub queued: QueuedPrompt,
}

/// The 202 answer to `POST /api/chat`: a run started (or waiting for a slot), or, with
/// `queue: true` while the chat is busy, the prompt queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum ChatAnswer {
    Accepted(ChatAccepted),
    Queued(ChatQueued),
}

/// The 202 answer to `POST /api/chat`: the run goes on without the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatAccepted {
    pub run_id: RunId,
    pub user_message: ChatMessage,
    pub assistant_message_id: MessageId,
}

/// Where an agent run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "db", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(feature = "db", sea_orm(rs_type = "String", db_type = "String(sea_orm::sea_query::StringLen::N(20))"))]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    #[cfg_attr(feature = "db", sea_orm(string_value = "queued"))]
    Queued,
    #[cfg_attr(feature = "db", sea_orm(string_value = "running"))]
    Running,
    #[cfg_attr(feature = "db", sea_orm(string_value = "succeeded"))]
    Succeeded,
    #[cfg_attr(feature = "db", sea_orm(string_value = "failed"))]
    Failed,
    #[cfg_attr(feature = "db", sea_orm(string_value = "cancelled"))]
    Cancelled,
    /// The server stopped while the run was live.
    #[cfg_attr(feature = "db", sea_orm(string_value = "interrupted"))]
    Interrupted,
}

impl RunStatus {
    pub fn is_live(self) -> bool {
        matches!(self, RunStatus::Queued | RunStatus::Running)
    }
}

/// One piece of an assistant message. Read through a flat struct (`wire.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", try_from = "crate::wire::ContentBlockWire")]
pub enum ContentBlock {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: serde_json::Value,
        /// The tool's result, once it finished.
        output: Option<String>,
        is_error: bool,
        /// What it has written so far while it runs (`run_command`); gone once it finished.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        live: Option<String>,
    },
    Error {
        message: String,
    },
    /// The model provider was busy and the call was made again: `message` says why and when;
    /// `discarded` is the text the failed attempt had shown, not part of the answer.
    Retry {
        message: String,
        discarded: String,
    },
    /// A user message's review comments (`ChatRequest::comments`).
    Review {
        comments: Vec<ReviewComment>,
    },
}

impl ContentBlock {
    /// Folds a run's event into the blocks of its assistant message, as the server saves them
    /// and as a watcher shows them.
    pub fn fold(blocks: &mut Vec<ContentBlock>, event: &RunEvent) {
        match event {
            RunEvent::TextDelta { text, .. } => match blocks.last_mut() {
                Some(ContentBlock::Text { text: last }) => last.push_str(text),
                _ => blocks.push(ContentBlock::Text { text: text.clone() }),
            },
            RunEvent::ToolStarted { tool_use_id, name, input, .. } => blocks.push(ContentBlock::ToolUse {
                id: tool_use_id.clone(),
                name: name.clone(),
                input: input.clone(),
                output: None,
                is_error: false,
                live: None,
            }),
            RunEvent::ToolOutput { tool_use_id, text, .. } => {
                for block in blocks.iter_mut().rev() {
                    if let ContentBlock::ToolUse { id, live, .. } = block
                        && id == tool_use_id
                    {
                        live.get_or_insert_with(String::new).push_str(text);
                        break;
                    }
                }
            }
            RunEvent::ToolFinished { tool_use_id, output, is_error, .. } => {
                for block in blocks.iter_mut().rev() {
                    if let ContentBlock::ToolUse { id, output: slot, is_error: error, live, .. } = block
                        && id == tool_use_id
                    {
                        *slot = Some(output.clone());
                        *error = *is_error;
                        *live = None;
                        break;
                    }
                }
            }
            RunEvent::Retrying { message, discarded, .. } => {
                // The failed attempt's text is the end of the last text block: moved out of it.
                if let Some(ContentBlock::Text { text }) = blocks.last_mut()
                    && !discarded.is_empty()
                    && text.ends_with(discarded.as_str())
                {
                    text.truncate(text.len() - discarded.len());
                    if text.is_empty() {
                        blocks.pop();
                    }
                }
                blocks.push(ContentBlock::Retry { message: message.clone(), discarded: discarded.clone() });
            }
            RunEvent::RunSnapshot { blocks: snapshot, .. } => blocks.clone_from(snapshot),
            RunEvent::RunStarted { .. }
            | RunEvent::RunQueued { .. }
            | RunEvent::CommitCreated { .. }
            | RunEvent::RunFinished { .. }
            | RunEvent::Error { .. } => {}
        }
    }

    /// The text of a message's blocks, each apart from the next by a blank line.
    pub fn text_of(blocks: &[ContentBlock]) -> String {
        let texts: Vec<&str> = blocks
            .iter()
            .filter_map(|block| match block {
                ContentBlock::Text { text } if !text.is_empty() => Some(text.as_str()),
                _ => None,
            })
            .collect();
        texts.join("\n\n")
    }
}

/// What a run streams, in order, each with an id (`GET …/events`, `id:` field). Read through
/// a flat struct (`wire.rs`), written as serde's internally tagged enum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", try_from = "crate::wire::RunEventWire")]
pub enum RunEvent {
    /// The run waits for a free run slot (the server's limit of concurrent runs); it starts
    /// (`run_started`) when one is free.
    RunQueued {
        run_id: RunId,
        assistant_message_id: MessageId,
    },
    RunStarted {
        run_id: RunId,
        assistant_message_id: MessageId,
    },
    /// The live run's assistant message as it stands, sent first to a watcher that opens the
    /// stream with `from=latest` while a run is live: the events after it are exactly those
    /// the snapshot does not hold.
    RunSnapshot {
        run_id: RunId,
        assistant_message_id: MessageId,
        status: RunStatus,
        blocks: Vec<ContentBlock>,
    },
    TextDelta {
        run_id: RunId,
        text: String,
    },
    ToolStarted {
        run_id: RunId,
        tool_use_id: String,
        name: String,
        input: serde_json::Value,
    },
    /// Output a running tool has written so far (`run_command`'s lines, as they come); its
    /// `tool_finished` then gives the whole output as the model sees it.
    ToolOutput {
        run_id: RunId,
        tool_use_id: String,
        text: String,
    },
    ToolFinished {
        run_id: RunId,
        tool_use_id: String,
        name: String,
        output: String,
        is_error: bool,
    },
    CommitCreated {
        run_id: RunId,
        sha: String,
        branch: String,
        pushed: bool,
    },
    RunFinished {
        run_id: RunId,
        status: RunStatus,
    },
    Error {
        run_id: RunId,
        message: String,
    },
    /// A model call failed in a way worth trying again and will be; the text it had streamed
    /// (`discarded`) is not part of the answer.
    Retrying {
        run_id: RunId,
        message: String,
        discarded: String,
    },
}

impl RunEvent {
    /// The run the event belongs to.
    pub fn run_id(&self) -> RunId {
        match self {
            RunEvent::RunStarted { run_id, .. }
            | RunEvent::RunQueued { run_id, .. }
            | RunEvent::RunSnapshot { run_id, .. }
            | RunEvent::TextDelta { run_id, .. }
            | RunEvent::ToolStarted { run_id, .. }
            | RunEvent::ToolOutput { run_id, .. }
            | RunEvent::ToolFinished { run_id, .. }
            | RunEvent::CommitCreated { run_id, .. }
            | RunEvent::RunFinished { run_id, .. }
            | RunEvent::Error { run_id, .. }
            | RunEvent::Retrying { run_id, .. } => *run_id,
        }
    }

    /// Every SSE `event:` name, for clients that listen by name (`EventSource`).
    pub const NAMES: [&'static str; 11] = [
        "run_queued",
        "run_started",
        "run_snapshot",
        "text_delta",
        "tool_started",
        "tool_output",
        "tool_finished",
        "commit_created",
        "run_finished",
        "error",
        "retrying",
    ];

    /// The SSE `event:` name (one of [`RunEvent::NAMES`]).
    pub fn name(&self) -> &'static str {
        match self {
            RunEvent::RunQueued { .. } => "run_queued",
            RunEvent::RunStarted { .. } => "run_started",
            RunEvent::RunSnapshot { .. } => "run_snapshot",
            RunEvent::TextDelta { .. } => "text_delta",
            RunEvent::ToolStarted { .. } => "tool_started",
            RunEvent::ToolOutput { .. } => "tool_output",
            RunEvent::ToolFinished { .. } => "tool_finished",
            RunEvent::CommitCreated { .. } => "commit_created",
            RunEvent::RunFinished { .. } => "run_finished",
            RunEvent::Error { .. } => "error",
            RunEvent::Retrying { .. } => "retrying",
        }
    }
}

/// `GET /api/agent`: what the model banner shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentInfo {
    /// `anthropic`, `openai` or `command`; absent when none is configured.
    pub provider: Option<String>,
    pub model: Option<String>,
    /// The operator's label (`--agent-label`), else the model, or "Command agent".
    pub display_name: String,
    pub available: bool,
    /// Why it is unavailable, naming the settings to set.
    pub reason: Option<String>,
    /// The command a command agent runs: shown to admins only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// `GET …/{session_pk}/runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentRunList {
    pub runs: Vec<AgentRun>,
}

/// A run of a session (`GET …/{session_pk}/runs`, the cancel answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentRun {
    pub id: RunId,
    pub chat_session_id: ChatSessionPk,
    pub status: RunStatus,
    pub assistant_message_id: Option<MessageId>,
    pub error: Option<String>,
}
