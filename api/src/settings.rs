//! Server settings, independent of how they were given (flags, environment, tests).

use std::path::PathBuf;
use std::time::Duration;

/// Everything `kosuke serve` needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free port (tests).
    pub bind: String,
    /// Where the SQLite database, project mirrors and session checkouts live.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; `None` means the SQLite file in the data dir.
    pub database_url: Option<String>,
    /// The built web app (trunk's `dist/`). `None` serves a page saying how to build it.
    pub web_dir: Option<PathBuf>,
    /// Mark the sign-in cookie `Secure` (set this behind HTTPS).
    pub secure_cookies: bool,
    /// Largest JSON body accepted, in bytes.
    pub body_limit: usize,
    /// How long a browser sign-in lasts.
    pub login_lifetime: Duration,
    /// Failed sign-ins allowed per account and address within `login_window`.
    pub login_attempts: u32,
    pub login_window: Duration,
    /// GitHub's REST API (GitHub Enterprise: `https://HOST/api/v3`).
    pub github_api_url: String,
    /// Where GitHub repositories are cloned from: `{github_git_url}/{owner}/{repo}.git`.
    pub github_git_url: String,
    /// This node's address for the other nodes; `None`: kosuke runs alone (as one process).
    pub node_url: Option<String>,
    /// What the nodes prove themselves to each other with (required with `node_url`).
    pub node_secret: Option<String>,
    /// Time between a node's heartbeats; it is dead after `node_lease_beats` of them missed.
    pub node_heartbeat: Duration,
    pub node_lease_beats: u32,
    /// Time between the queue keeper's looks (queued messages, runs stored by other nodes),
    /// besides PostgreSQL's announcements.
    pub queue_poll: Duration,
    /// What GitHub signs webhook deliveries with; `None`: no webhook.
    pub github_webhook_secret: Option<String>,
    /// Time between polls of open pull requests; zero: no polling.
    pub github_poll: Duration,
    /// How long a fetch before a new session may take before the mirror's last state is used.
    pub fetch_timeout: Duration,
    /// Base64 of the 32-byte key that seals secrets; `None` uses `secret.key` in the data dir.
    pub secret_key: Option<String>,
    /// The agent: provider (anthropic | openai | command), model, base URL, API key, command.
    pub agent: AgentSettings,
    /// Keep answers to hot reads until the next write (`cache`); off only to measure without.
    pub read_cache: bool,
    /// Who may sign up until an admin chooses otherwise in the web app.
    pub signup: api_types::SignupMode,
    /// Directories under which any user may use a server path (or `file://` URL) as a
    /// project; admins may use any path outside the data dir.
    pub repo_roots: Vec<PathBuf>,
    /// Fetch from git hosts that resolve to loopback, private, link-local or unique-local
    /// addresses (off: such URLs are refused).
    pub allow_private_git_hosts: bool,
    /// Sign-ups allowed per address within `login_window`.
    pub signup_attempts: u32,
    /// How session processes are confined (`sandbox` crate): auto, bwrap or off.
    pub sandbox: sandbox::Mode,
    /// Whether sandboxed processes keep the network (package installs).
    pub sandbox_network: bool,
    /// Memory and process count of one run and everything it starts (a cgroup of its own).
    pub sandbox_limits: sandbox::ProcessLimits,
    /// Keep one checkout per project made ahead at the commit the next session most likely
    /// starts from (`Workspaces`); off saves its disk space and makes every checkout on demand.
    pub spare_checkouts: bool,
    /// How long a checkout's setup command may run.
    pub setup_timeout: Duration,
    /// Agent runs going at once, server-wide; more wait `queued` for a slot.
    pub max_concurrent_runs: usize,
    /// Start on a data dir whose `projects/` holds directories although the database has no
    /// project (another database was pointed at it): they are moved to `lost+found`. Without
    /// it such a start is refused, so that nothing there is taken for garbage.
    pub adopt_data_dir: bool,
    /// How long one network read or write of a git transfer (push, fetch, clone) may wait on
    /// the remote before the transfer fails.
    pub git_transfer_timeout: Duration,
    /// The sessions' dev servers and their proxy (`--preview-*`).
    pub previews: crate::previews::PreviewSettings,
    /// For browser tests only: message pages of sessions whose title contains the text are
    /// answered this much later (a slow network, to show late answers are not misapplied).
    pub test_slow_message_pages: Option<(String, Duration)>,
}

/// How to reach the agent. `Debug` never shows the API key.
#[derive(Clone, Default)]
pub struct AgentSettings {
    pub provider: Option<String>,
    pub model: Option<String>,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub command: Option<String>,
    /// What the model banner calls the agent (default: the model, or "Command agent").
    pub label: Option<String>,
    /// How long the provider may stay silent mid-answer.
    pub stall_timeout: Option<Duration>,
    /// How long it may stay silent while composing a tool call's arguments.
    pub tool_stall_timeout: Option<Duration>,
    /// Tokens asked of the model per call.
    pub max_tokens: Option<u32>,
    /// Further attempts of a model call when the provider is busy.
    pub max_retries: Option<u32>,
    /// The longest `Retry-After` waited for.
    pub retry_max_wait: Option<Duration>,
    /// The longest a model's `run_command` call may run.
    pub command_timeout: Option<Duration>,
    /// Wall time of one turn.
    pub max_duration: Option<Duration>,
}

impl std::fmt::Debug for AgentSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentSettings")
            .field("provider", &self.provider)
            .field("model", &self.model)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("command", &self.command)
            .finish()
    }
}

impl Settings {
    /// Defaults for everything but where to listen and where to keep data.
    pub fn new(bind: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        Settings {
            bind: bind.into(),
            data_dir: data_dir.into(),
            database_url: None,
            web_dir: None,
            secure_cookies: false,
            body_limit: 1024 * 1024,
            login_lifetime: Duration::from_secs(30 * 24 * 3600),
            login_attempts: 5,
            login_window: Duration::from_secs(15 * 60),
            github_api_url: "https://api.github.com".to_owned(),
            github_git_url: "https://github.com".to_owned(),
            github_webhook_secret: None,
            node_url: None,
            node_secret: None,
            node_heartbeat: Duration::from_secs(5),
            node_lease_beats: 3,
            queue_poll: Duration::from_secs(5),
            github_poll: Duration::from_secs(120),
            fetch_timeout: Duration::from_secs(10),
            secret_key: None,
            agent: AgentSettings::default(),
            read_cache: true,
            spare_checkouts: true,
            setup_timeout: Duration::from_secs(1800),
            max_concurrent_runs: 8,
            adopt_data_dir: false,
            git_transfer_timeout: Duration::from_secs(60),
            test_slow_message_pages: None,
            previews: Default::default(),
            signup: api_types::SignupMode::Open,
            repo_roots: Vec::new(),
            allow_private_git_hosts: false,
            signup_attempts: 10,
            sandbox: sandbox::Mode::Auto,
            sandbox_network: true,
            sandbox_limits: sandbox::ProcessLimits::default(),
        }
    }

    /// The database URL in force: the given one, or a SQLite file in the data dir.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("kosuke.db").display()),
        }
    }
}
