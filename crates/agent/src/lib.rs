//! kosuke's coding agent. One [`Agent`] runs one turn at a time in a session's checkout:
//! a model provider (the Anthropic Messages API or any OpenAI-compatible chat completions
//! endpoint, both streaming, with tool use) driven by the tool loop, or an external command
//! run in the checkout. Everything it produces goes to an [`EventSink`] as it happens.
//!
//! Every path a model touches goes through a [`jail::Jail`]. Iterations, wall time, output size
//! and silence from the provider are bounded; a turn can be cancelled. A provider that is busy
//! (429, 5xx, 529, a mid-stream overload) is asked again with backoff, and the retry is an
//! event; an answer cut at the token limit fails the turn saying so. This crate knows nothing
//! of HTTP servers, the database or git: the caller commits what the turn changed.

mod anthropic;
mod command;
mod history;
mod model_loop;
mod openai;
pub mod process;
mod run_command;
mod shell;
mod sse;
pub mod tools;
mod upstream;

pub use history::fit_history;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;
pub use tokio_util::sync::CancellationToken;

/// Which kind of agent runs turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Anthropic,
    OpenAi,
    Command,
}

impl ProviderKind {
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "anthropic" => Some(ProviderKind::Anthropic),
            "openai" | "openai-compatible" => Some(ProviderKind::OpenAi),
            "command" => Some(ProviderKind::Command),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::OpenAi => "openai",
            ProviderKind::Command => "command",
        }
    }
}

/// Bounds on one turn.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Model calls per turn (each tool round is one).
    pub max_iterations: usize,
    /// Wall time of the whole turn.
    pub max_duration: Duration,
    /// Characters of text the turn may produce.
    pub max_output_chars: usize,
    /// How long the provider may stay silent before the turn fails (from its last byte,
    /// keep-alives included).
    pub stall_timeout: Duration,
    /// The same while a tool call's arguments are being composed, which providers send
    /// nothing for (Anthropic between a tool block's start and its input; an OpenAI-compatible
    /// server between a call's first piece and the next).
    pub tool_stall_timeout: Duration,
    /// Tokens asked of the model per call (`max_tokens`, or `max_completion_tokens`).
    pub max_tokens: u32,
    /// Further attempts of one model call when the provider is busy or failing.
    pub max_retries: u32,
    /// The longest wait between attempts a provider's `Retry-After` may ask for; a longer
    /// one fails the turn at once, naming the wait.
    pub retry_max_wait: Duration,
    /// The first backoff (doubled per attempt, at most 8 s, with jitter), when the provider
    /// names no delay.
    pub retry_backoff: Duration,
    /// The longest a `run_command` tool call may take (the model may ask for less).
    pub command_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_iterations: 30,
            max_duration: Duration::from_secs(15 * 60),
            max_output_chars: 400_000,
            stall_timeout: Duration::from_secs(120),
            tool_stall_timeout: Duration::from_secs(600),
            max_tokens: 8192,
            max_retries: 2,
            retry_max_wait: Duration::from_secs(60),
            retry_backoff: Duration::from_millis(500),
            command_timeout: Duration::from_secs(300),
        }
    }
}

/// How to reach the provider. `Debug` never shows the API key.
#[derive(Clone)]
pub struct AgentConfig {
    pub kind: ProviderKind,
    pub model: String,
    pub base_url: String,
    pub api_key: Option<String>,
    /// For `command`: run by `sh -c` in the checkout.
    pub command: Option<String>,
    pub limits: Limits,
    /// Where the command provider's processes and the models' `run_command` calls run, or
    /// why they cannot (then models are not offered `run_command`).
    pub sandbox: Result<sandbox::Sandbox, sandbox::Unavailable>,
}

impl fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentConfig")
            .field("kind", &self.kind)
            .field("model", &self.model)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("command", &self.command)
            .field("sandbox", &self.sandbox.as_ref().map(|s| s.name()))
            .finish()
    }
}

/// Who said an earlier message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

/// An earlier message of the session, sent as history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryMessage {
    pub role: Role,
    pub blocks: Vec<HistoryBlock>,
}

impl HistoryMessage {
    pub fn text(role: Role, text: impl Into<String>) -> Self {
        HistoryMessage { role, blocks: vec![HistoryBlock::Text(text.into())] }
    }
}

/// Where a worktree checkout's git metadata is on the host: its own directory in the mirror
/// (HEAD, index) and the mirror itself (objects, refs, config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitDirs {
    pub worktree: PathBuf,
    pub common: PathBuf,
}

/// A piece of an earlier message: its text, or a tool call the agent made with its result.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryBlock {
    Text(String),
    ToolUse { id: String, name: String, input: serde_json::Value, output: String, is_error: bool },
}

/// Where a session's processes run: its checkout, what they may see of its git metadata, the
/// project's environment variables.
#[derive(Debug, Clone, Default)]
pub struct Place {
    pub workdir: PathBuf,
    /// The project's environment variables (values hidden in what commands print).
    pub env: Vec<(String, String)>,
    /// The checkout's git metadata, for git in a command to read (never to write: kosuke
    /// commits); `None` when the checkout's `.git` is its own.
    pub git: Option<GitDirs>,
    /// What a sandboxed process must never see even under a system directory (the server's
    /// data dir).
    pub hidden: Vec<PathBuf>,
}

impl Place {
    /// Just a directory: no git metadata, no variables.
    pub fn dir(workdir: impl Into<PathBuf>) -> Place {
        Place { workdir: workdir.into(), ..Place::default() }
    }
}

/// One turn: the prompt, the history, where to work.
#[derive(Debug, Clone)]
pub struct Turn {
    pub prompt: String,
    pub history: Vec<HistoryMessage>,
    pub place: Place,
    /// Instructions for the model (the project's branding, conventions…).
    pub system: String,
    /// The session's dev server, for the `restart_preview` tool (not offered without one).
    pub preview: Option<PreviewHandle>,
}

/// The session's dev server as a turn may restart it.
pub trait PreviewControl: Send + Sync {
    /// Restarts it and waits until it answers or fails: what the model is told (`Err` when
    /// it did not start).
    fn restart(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>> + Send + '_>>;
}

#[derive(Clone)]
pub struct PreviewHandle(pub std::sync::Arc<dyn PreviewControl>);

impl fmt::Debug for PreviewHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PreviewHandle")
    }
}

/// What a turn produces, as it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentEvent {
    Text(String),
    ToolStarted {
        id: String,
        name: String,
        input: serde_json::Value,
    },
    /// Output of a running tool (`run_command`'s lines as they come).
    ToolOutput {
        id: String,
        text: String,
    },
    ToolFinished {
        id: String,
        name: String,
        output: String,
        is_error: bool,
    },
    /// The tokens one model call used, as the provider counted them.
    Usage(Usage),
    /// A model call failed in a way worth trying again, and will be: `message` says why and
    /// when; `discarded` is the text the failed attempt had already streamed (to be shown as
    /// discarded, since the next attempt answers anew).
    Retrying {
        message: String,
        discarded: String,
    },
}

/// Tokens a model call (or a turn's calls, summed) used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, other: Usage) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
    }
}

pub trait EventSink: Send {
    fn emit(&mut self, event: AgentEvent);
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("the model provider answered {status}: {message}")]
    Upstream { status: u16, message: String },
    #[error("the model provider could not be reached: {0}")]
    Unreachable(String),
    #[error("the model provider sent a malformed stream: {0}")]
    Malformed(String),
    #[error("the model provider sent nothing for {} seconds", .0.as_secs())]
    Stalled(Duration),
    #[error("the turn took longer than {} seconds", .0.as_secs())]
    TimedOut(Duration),
    #[error("the turn used its {0} model calls")]
    TooManyIterations(usize),
    #[error("the turn produced more than {0} characters of output")]
    OutputTooLarge(usize),
    #[error("the turn was cancelled")]
    Cancelled,
    #[error("the agent command failed: {0}")]
    CommandFailed(String),
    #[error("the agent is not set up: {0}")]
    Misconfigured(String),
    #[error("{}", token_limit_sentence(*.max_tokens, *.in_tool_call))]
    TokenLimit { max_tokens: u32, in_tool_call: bool },
    #[error("the model provider stopped the answer: {0}")]
    Refused(String),
}

fn token_limit_sentence(max_tokens: u32, in_tool_call: bool) -> String {
    if in_tool_call {
        format!(
            "a tool call was cut at the model's token limit ({max_tokens} tokens) before its arguments were \
             complete; ask for a smaller change, or raise KOSUKE_AGENT_MAX_TOKENS"
        )
    } else {
        format!(
            "the answer was cut at the model's token limit ({max_tokens} tokens); ask to continue, or raise KOSUKE_AGENT_MAX_TOKENS"
        )
    }
}

/// Runs turns with one configured provider.
pub struct Agent {
    config: AgentConfig,
    http: reqwest::Client,
    /// What the OpenAI-compatible server was found to accept, learned from its refusals.
    openai: openai::Dialect,
}

impl Agent {
    pub fn new(config: AgentConfig) -> Result<Self, AgentError> {
        match config.kind {
            ProviderKind::Command if config.command.as_deref().is_none_or(|c| c.trim().is_empty()) => {
                return Err(AgentError::Misconfigured("KOSUKE_AGENT_COMMAND is not set".into()));
            }
            ProviderKind::Anthropic | ProviderKind::OpenAi if config.model.trim().is_empty() => {
                return Err(AgentError::Misconfigured("KOSUKE_AGENT_MODEL is not set".into()));
            }
            _ => {}
        }
        let longest_silence = config.limits.stall_timeout.max(config.limits.tool_stall_timeout);
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            // A backstop: the stream readers detect silence themselves, with a clearer error.
            .read_timeout(longest_silence * 2)
            .build()
            .map_err(|err| AgentError::Misconfigured(format!("cannot build the HTTP client: {err}")))?;
        let openai = openai::Dialect::for_server(&config.base_url);
        Ok(Agent { config, http, openai })
    }

    pub fn config(&self) -> &AgentConfig {
        &self.config
    }

    /// Runs one turn to its end (or its first failure), bounded in time and cancellable.
    pub async fn run(&self, turn: Turn, sink: &mut dyn EventSink, cancel: CancellationToken) -> Result<(), AgentError> {
        let limits = &self.config.limits;
        let work = async {
            match self.config.kind {
                ProviderKind::Command => command::run(&self.config, &turn, sink).await,
                ProviderKind::Anthropic | ProviderKind::OpenAi => model_loop::run(self, &turn, sink).await,
            }
        };
        tokio::select! {
            biased;
            () = cancel.cancelled() => Err(AgentError::Cancelled),
            outcome = tokio::time::timeout(limits.max_duration, work) => {
                outcome.unwrap_or(Err(AgentError::TimedOut(limits.max_duration)))
            }
        }
    }
}
