//! The command line: `kosuke serve` and `kosuke migrate up|down|status`.

use crate::settings::Settings;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "kosuke", version, about = "Build software by chatting with an AI coding agent.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and the web app (runs pending migrations first).
    Serve(Box<ServeArgs>),
    /// Apply, roll back or list database migrations.
    Migrate(MigrateArgs),
    /// Manage the key that seals secrets and transcripts.
    Secrets(SecretsArgs),
}

#[derive(Debug, Args)]
pub struct SecretsArgs {
    #[command(subcommand)]
    pub action: SecretsAction,
}

#[derive(Debug, Subcommand)]
pub enum SecretsAction {
    /// Re-seal every secret and transcript under a new key (stop the server first).
    Rotate(RotateArgs),
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The current key (base64 of 32 bytes), when it is not the data dir's `secret.key`.
    #[arg(long, env = "KOSUKE_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
}

/// Where the data lives; shared by every subcommand.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Directory for the SQLite database, project mirrors and session checkouts.
    #[arg(long, env = "KOSUKE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://…`; defaults to `kosuke.db` in the data dir.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "KOSUKE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    #[command(flatten)]
    pub data: DataArgs,
    /// The built web app; defaults to `web/dist` when it exists.
    #[arg(long, env = "KOSUKE_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
    /// Mark the sign-in cookie `Secure` (use behind HTTPS).
    #[arg(long, env = "KOSUKE_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// GitHub's REST API base URL (GitHub Enterprise: https://HOST/api/v3).
    #[arg(long, env = "KOSUKE_GITHUB_API_URL", default_value = "https://api.github.com")]
    pub github_api_url: String,
    /// Base URL GitHub repositories are cloned from.
    #[arg(long, env = "KOSUKE_GITHUB_GIT_URL", default_value = "https://github.com")]
    pub github_git_url: String,
    /// This node's address as the other nodes of a cluster reach it (several nodes on one
    /// PostgreSQL database); without it kosuke runs as one process.
    #[arg(long, env = "KOSUKE_NODE_URL")]
    pub node_url: Option<String>,
    /// The secret the nodes share to call each other (required with --node-url).
    #[arg(long, env = "KOSUKE_NODE_SECRET", hide_env_values = true)]
    pub node_secret: Option<String>,
    /// Seconds between a node's heartbeats (it is dead after three missed).
    #[arg(long, env = "KOSUKE_NODE_HEARTBEAT_SECS", default_value_t = 5)]
    pub node_heartbeat_secs: u64,
    /// Seconds between looks for queued messages and for runs other nodes stored for this
    /// node's chats, besides PostgreSQL's announcements of them.
    #[arg(long, env = "KOSUKE_QUEUE_POLL_SECS", default_value_t = 5)]
    pub queue_poll_secs: u64,
    /// The secret GitHub signs webhook deliveries with (`POST /api/github/webhook`); without
    /// it the webhook answers 404 and pull requests are only polled.
    #[arg(long, env = "KOSUKE_GITHUB_WEBHOOK_SECRET", hide_env_values = true)]
    pub github_webhook_secret: Option<String>,
    /// Seconds between polls of open pull requests (conditional requests); 0 turns polling off.
    #[arg(long, env = "KOSUKE_GITHUB_POLL_SECS", default_value_t = 120)]
    pub github_poll_secs: u64,
    /// Base64 of a 32-byte key sealing stored secrets (default: `secret.key` in the data dir).
    #[arg(long, env = "KOSUKE_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// The agent's provider: anthropic, openai (any OpenAI-compatible endpoint) or command.
    #[arg(long, env = "KOSUKE_AGENT_PROVIDER")]
    pub agent_provider: Option<String>,
    /// The model name (anthropic, openai).
    #[arg(long, env = "KOSUKE_AGENT_MODEL")]
    pub agent_model: Option<String>,
    /// The provider's base URL (default https://api.anthropic.com or https://api.openai.com/v1).
    #[arg(long, env = "KOSUKE_AGENT_BASE_URL")]
    pub agent_base_url: Option<String>,
    /// The provider's API key.
    #[arg(long, env = "KOSUKE_AGENT_API_KEY", hide_env_values = true)]
    pub agent_api_key: Option<String>,
    /// For the command provider: run by `sh -c` in the session's checkout, prompt on stdin.
    #[arg(long, env = "KOSUKE_AGENT_COMMAND")]
    pub agent_command: Option<String>,
    /// What the model banner calls the agent (default: the model, or "Command agent"; the
    /// command itself is shown only to admins).
    #[arg(long, env = "KOSUKE_AGENT_LABEL")]
    pub agent_label: Option<String>,
    /// Seconds the provider may stay silent mid-answer.
    #[arg(long, env = "KOSUKE_AGENT_STALL_TIMEOUT", default_value_t = 120)]
    pub agent_stall_timeout_secs: u64,
    /// Seconds the provider may stay silent while it composes a tool call's arguments.
    #[arg(long, env = "KOSUKE_AGENT_TOOL_STALL_TIMEOUT", default_value_t = 600)]
    pub agent_tool_stall_timeout_secs: u64,
    /// Seconds one agent turn may take.
    #[arg(long, env = "KOSUKE_AGENT_MAX_DURATION", default_value_t = 900)]
    pub agent_max_duration_secs: u64,
    /// Tokens asked of the model per call (sent as max_tokens, or max_completion_tokens to
    /// OpenAI's own API).
    #[arg(long, env = "KOSUKE_AGENT_MAX_TOKENS", default_value_t = 8192)]
    pub agent_max_tokens: u32,
    /// Further attempts of a model call while the provider is busy (429, 5xx, 529, overloaded).
    #[arg(long, env = "KOSUKE_AGENT_MAX_RETRIES", default_value_t = 2)]
    pub agent_max_retries: u32,
    /// The longest Retry-After (seconds) a busy provider may ask kosuke to wait; a longer one
    /// fails the turn at once.
    #[arg(long, env = "KOSUKE_AGENT_RETRY_MAX_WAIT", default_value_t = 60)]
    pub agent_retry_max_wait_secs: u64,
    /// The longest a model's `run_command` call may run (seconds); the model may ask for less.
    #[arg(long, env = "KOSUKE_AGENT_COMMAND_TIMEOUT", default_value_t = 300)]
    pub agent_command_timeout_secs: u64,
    /// Seconds a fetch before a new session may take.
    #[arg(long, env = "KOSUKE_FETCH_TIMEOUT", default_value_t = 10)]
    pub fetch_timeout_secs: u64,
    /// Answer every read from the database (no read cache): for measuring the uncached path.
    #[arg(long, env = "KOSUKE_NO_READ_CACHE")]
    pub no_read_cache: bool,
    /// Who may sign up, until an admin changes it in the web app: open, invite or closed.
    #[arg(long, env = "KOSUKE_SIGNUP", default_value = "open", value_parser = parse_signup_mode)]
    pub signup: api_types::SignupMode,
    /// Comma-separated directories under which any user may use a server path as a project
    /// (admins may use any path outside the data dir).
    #[arg(long, env = "KOSUKE_REPO_ROOTS", value_delimiter = ',')]
    pub repo_roots: Vec<PathBuf>,
    /// Fetch from git hosts on loopback, private, link-local or unique-local addresses.
    #[arg(long, env = "KOSUKE_ALLOW_PRIVATE_GIT_HOSTS")]
    pub allow_private_git_hosts: bool,
    /// How agent commands are confined: auto (bubblewrap when it runs here, else Landlock),
    /// bwrap, landlock, or off (unsandboxed: they run as the server's user; only for machines
    /// you trust them on).
    #[arg(long, env = "KOSUKE_SANDBOX", default_value = "auto", value_parser = parse_sandbox_mode)]
    pub sandbox: sandbox::Mode,
    /// Network for sandboxed commands: on (package installs) or off.
    #[arg(long, env = "KOSUKE_SANDBOX_NETWORK", default_value = "on", value_parser = parse_on_off)]
    pub sandbox_network: bool,
    /// Memory (MiB) one agent command and everything it starts may use.
    #[arg(long, env = "KOSUKE_SANDBOX_MEMORY_MB", default_value_t = 2048)]
    pub sandbox_memory_mb: u64,
    /// Processes one agent command may have running at once.
    #[arg(long, env = "KOSUKE_SANDBOX_MAX_PROCESSES", default_value_t = 512)]
    pub sandbox_max_processes: u64,
    /// Make every session's checkout on demand, without a spare made ahead per project.
    #[arg(long, env = "KOSUKE_NO_SPARE_CHECKOUT")]
    pub no_spare_checkout: bool,
    /// Seconds a checkout's setup command (the project's run settings) may take.
    #[arg(long, env = "KOSUKE_SETUP_TIMEOUT", default_value_t = 1800)]
    pub setup_timeout_secs: u64,
    /// Agent runs going at once, server-wide; more wait, queued, for a free slot.
    #[arg(long, env = "KOSUKE_MAX_CONCURRENT_RUNS", default_value_t = 8)]
    pub max_concurrent_runs: usize,
    /// Start although the data dir holds projects the database does not know (another
    /// database was pointed at it): they are moved to `{data}/lost+found/`, nothing deleted.
    #[arg(long, env = "KOSUKE_ADOPT_DATA_DIR")]
    pub adopt_data_dir: bool,
    /// Seconds one network read or write of a git transfer (push, fetch, clone) may wait on
    /// the remote before the transfer fails.
    #[arg(long, env = "KOSUKE_GIT_TRANSFER_TIMEOUT_SECS", default_value_t = 60)]
    pub git_transfer_timeout_secs: u64,
    /// Ports the sessions' dev servers are given, `A-B`; each is checked free before use.
    #[arg(long, env = "KOSUKE_PREVIEW_PORTS", default_value = "41000-41999", value_parser = crate::previews::ports::parse_range)]
    pub preview_ports: std::ops::RangeInclusive<u16>,
    /// The domain under which each session's preview has its own origin,
    /// `s{session}.{domain}`: `localhost` (browsers resolve it and its subdomains to
    /// loopback), or a wildcard DNS name that points at this server.
    #[arg(long, env = "KOSUKE_PREVIEW_DOMAIN", default_value = "localhost")]
    pub preview_domain: String,
    /// Where the preview proxy listens (port 0 picks a free one; a deployment sets one, e.g.
    /// 0.0.0.0:8081, and points the preview domain there).
    #[arg(long, env = "KOSUKE_PREVIEW_BIND", default_value = "127.0.0.1:0")]
    pub preview_bind: String,
    /// Seconds without a request after which a session's dev server is stopped.
    #[arg(long, env = "KOSUKE_PREVIEW_IDLE_SECS", default_value_t = 900)]
    pub preview_idle_secs: u64,
    /// Seconds a dev server may take to answer once started.
    #[arg(long, env = "KOSUKE_PREVIEW_READY_SECS", default_value_t = 120)]
    pub preview_ready_secs: u64,
    /// Dev servers running at once on this server (the least recently used stops first).
    #[arg(long, env = "KOSUKE_MAX_PREVIEWS", default_value_t = 16)]
    pub max_previews: usize,
    /// Dev servers one user may have running at once.
    #[arg(long, env = "KOSUKE_MAX_PREVIEWS_PER_USER", default_value_t = 4)]
    pub max_previews_per_user: usize,
    /// For browser tests only (`TITLE=MILLISECONDS`): message pages of sessions whose title
    /// contains TITLE are answered that much later.
    #[arg(long, env = "KOSUKE_TEST_SLOW_MESSAGE_PAGES", hide = true, value_parser = parse_slow_pages)]
    pub test_slow_message_pages: Option<(String, std::time::Duration)>,
}

fn parse_slow_pages(raw: &str) -> Result<(String, std::time::Duration), String> {
    let (title, millis) = raw.rsplit_once('=').ok_or("expected TITLE=MILLISECONDS")?;
    let millis: u64 = millis.parse().map_err(|_| "expected TITLE=MILLISECONDS")?;
    Ok((title.to_owned(), std::time::Duration::from_millis(millis)))
}

impl ServeArgs {
    pub fn into_settings(self) -> Settings {
        let mut settings = Settings::new(self.bind, self.data.data_dir);
        settings.database_url = self.data.database_url;
        settings.web_dir = self.web_dir.or_else(|| {
            let default = PathBuf::from("web/dist");
            default.join("index.html").is_file().then_some(default)
        });
        settings.secure_cookies = self.secure_cookies;
        settings.github_api_url = self.github_api_url;
        settings.github_git_url = self.github_git_url;
        settings.github_webhook_secret = self.github_webhook_secret.filter(|s| !s.is_empty());
        settings.node_url = self.node_url.filter(|s| !s.is_empty());
        settings.node_secret = self.node_secret.filter(|s| !s.is_empty());
        settings.node_heartbeat = std::time::Duration::from_secs(self.node_heartbeat_secs.max(1));
        settings.queue_poll = std::time::Duration::from_secs(self.queue_poll_secs.max(1));
        settings.github_poll = std::time::Duration::from_secs(self.github_poll_secs);
        settings.fetch_timeout = std::time::Duration::from_secs(self.fetch_timeout_secs);
        settings.secret_key = self.secret_key;
        settings.read_cache = !self.no_read_cache;
        settings.spare_checkouts = !self.no_spare_checkout;
        settings.setup_timeout = std::time::Duration::from_secs(self.setup_timeout_secs);
        settings.max_concurrent_runs = self.max_concurrent_runs;
        settings.adopt_data_dir = self.adopt_data_dir;
        settings.git_transfer_timeout = std::time::Duration::from_secs(self.git_transfer_timeout_secs);
        settings.test_slow_message_pages = self.test_slow_message_pages;
        settings.previews = crate::previews::PreviewSettings {
            ports: self.preview_ports,
            domain: self.preview_domain.trim().trim_matches('.').to_ascii_lowercase(),
            bind: self.preview_bind,
            idle: std::time::Duration::from_secs(self.preview_idle_secs),
            ready_within: std::time::Duration::from_secs(self.preview_ready_secs),
            max_running: self.max_previews.max(1),
            max_per_user: self.max_previews_per_user.max(1),
            secure_cookie: self.secure_cookies,
        };
        settings.signup = self.signup;
        settings.repo_roots = self.repo_roots;
        settings.allow_private_git_hosts = self.allow_private_git_hosts;
        settings.sandbox = self.sandbox;
        settings.sandbox_network = self.sandbox_network;
        settings.sandbox_limits = sandbox::ProcessLimits {
            memory_bytes: self.sandbox_memory_mb.saturating_mul(1 << 20),
            max_processes: self.sandbox_max_processes,
        };
        settings.agent = crate::settings::AgentSettings {
            provider: self.agent_provider,
            model: self.agent_model,
            base_url: self.agent_base_url,
            api_key: self.agent_api_key,
            command: self.agent_command,
            label: self.agent_label,
            stall_timeout: Some(std::time::Duration::from_secs(self.agent_stall_timeout_secs)),
            tool_stall_timeout: Some(std::time::Duration::from_secs(self.agent_tool_stall_timeout_secs)),
            max_duration: Some(std::time::Duration::from_secs(self.agent_max_duration_secs)),
            max_tokens: Some(self.agent_max_tokens),
            max_retries: Some(self.agent_max_retries),
            retry_max_wait: Some(std::time::Duration::from_secs(self.agent_retry_max_wait_secs)),
            command_timeout: Some(std::time::Duration::from_secs(self.agent_command_timeout_secs)),
        };
        settings
    }
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(subcommand)]
    pub action: MigrateAction,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back the newest migrations.
    Down {
        /// How many to roll back.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
}

fn parse_sandbox_mode(text: &str) -> Result<sandbox::Mode, String> {
    sandbox::Mode::parse(text).ok_or_else(|| format!("{text:?} is not a sandbox; use auto, bwrap, landlock or off"))
}

fn parse_on_off(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(format!("{text:?} is neither on nor off")),
    }
}

fn parse_signup_mode(text: &str) -> Result<api_types::SignupMode, String> {
    api_types::SignupMode::parse(text)
        .ok_or_else(|| format!("{text:?} is not a sign-up mode; use open, invite or closed"))
}
