//! The sessions' dev servers (issue 15, items 4 and 5): one per session, started on demand in
//! the sandbox on a port leased to it (`ports`), followed from starting to running, crashed or
//! failed (`dev_server`), and reached through the preview proxy (`proxy`), which gives each
//! session its own origin `http://s{session_pk}.{domain}:{proxy port}`.
//!
//! [`Previews`] owns them all: it starts one (stopping the least recently used first when the
//! server or the user is at the limit, with a notice on it), stops one idle for longer than
//! `--preview-idle-secs` (no request through the proxy and no open WebSocket), on archive and
//! delete, and every one at shutdown. It mints the one-time links that let the session's owner
//! into its origin and checks the cookie they set. What a dev server runs (the command, the
//! checkout, the variables) is chosen by `services::preview`; this module knows no database.

mod access;
pub mod dev_server;
pub mod ports;
pub mod proxy;

pub use access::Admission;
use access::Ticket;

use crate::process_log::ProcessLog;
use dev_server::{DevServer, DevState, Launch};
use ports::PortLeases;
use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The operator's choices for previews (`--preview-*`).
#[derive(Debug, Clone)]
pub struct PreviewSettings {
    /// Ports the dev servers are given.
    pub ports: RangeInclusive<u16>,
    /// Previews are `s{session_pk}.{domain}`; `localhost` resolves to loopback in browsers, a
    /// deployment uses a wildcard DNS name.
    pub domain: String,
    /// Where the proxy listens (port 0 picks one).
    pub bind: String,
    /// A preview with no request for this long is stopped.
    pub idle: Duration,
    /// How long a dev server may take to answer after it starts.
    pub ready_within: Duration,
    /// Dev servers running at once, on this server and for one user.
    pub max_running: usize,
    pub max_per_user: usize,
    /// Mark the preview cookie `Secure` (and `SameSite=None`) on any domain: previews behind HTTPS.
    pub secure_cookie: bool,
}

impl Default for PreviewSettings {
    fn default() -> Self {
        PreviewSettings {
            ports: 41000..=41999,
            domain: "localhost".to_owned(),
            bind: "127.0.0.1:0".to_owned(),
            idle: Duration::from_secs(15 * 60),
            ready_within: Duration::from_secs(120),
            max_running: 16,
            max_per_user: 4,
            secure_cookie: false,
        }
    }
}

/// Why a dev server cannot be started.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error(transparent)]
    NoFreePort(#[from] ports::NoFreePort),
    #[error("The server is stopping; the preview starts again after it restarts.")]
    Stopping,
    #[error("No sandbox can be enforced here, so no dev server runs: {0}")]
    NoSandbox(String),
    #[error(
        "Previews need the sandbox's network: the server runs with --sandbox-network off, where a dev server cannot be reached."
    )]
    NoNetwork,
}

/// What starting one needs, chosen by the caller.
pub struct StartRequest {
    pub session_pk: i32,
    pub project_id: i32,
    pub user_id: String,
    pub place: agent::Place,
    pub command: String,
    pub readiness_path: Option<String>,
}

/// Where a session's preview stands.
#[derive(Clone)]
pub struct Status {
    /// `None` when no dev server runs (never started, or stopped).
    pub state: Option<DevState>,
    pub port: Option<u16>,
    pub command: Option<String>,
    /// Why it was stopped, when something other than its user stopped it.
    pub notice: Option<String>,
    pub log: Option<Arc<ProcessLog>>,
}

struct Entry {
    user_id: String,
    project_id: i32,
    /// The value of the cookie that lets a browser in, kept across restarts of the server.
    access: String,
    server: Option<DevServer>,
    command: Option<String>,
    notice: Option<String>,
    last_used: Instant,
    /// WebSockets open through the proxy (a dev server's hot reload): not idle while any is.
    tunnels: Arc<AtomicUsize>,
}

impl Entry {
    fn is_live(&self) -> bool {
        self.server.as_ref().is_some_and(|s| matches!(s.state(), DevState::Starting | DevState::Running))
    }
}

pub struct Previews {
    settings: PreviewSettings,
    sandbox: Result<sandbox::Sandbox, sandbox::Unavailable>,
    leases: PortLeases,
    proxy_port: AtomicU16,
    entries: Mutex<HashMap<i32, Entry>>,
    tickets: Mutex<HashMap<String, Ticket>>,
    stopping: AtomicBool,
}

impl Previews {
    pub fn new(settings: PreviewSettings, sandbox: Result<sandbox::Sandbox, sandbox::Unavailable>) -> Arc<Previews> {
        Arc::new(Previews {
            sandbox,
            leases: PortLeases::new(settings.ports.clone()),
            settings,
            proxy_port: AtomicU16::new(0),
            entries: Mutex::new(HashMap::new()),
            tickets: Mutex::new(HashMap::new()),
            stopping: AtomicBool::new(false),
        })
    }

    pub fn settings(&self) -> &PreviewSettings {
        &self.settings
    }

    /// The session's origin, `http://s{session_pk}.{domain}:{proxy port}`.
    pub fn origin(&self, session_pk: i32) -> String {
        format!("http://{}:{}", self.host(session_pk), self.proxy_port.load(Ordering::Relaxed))
    }

    fn host(&self, session_pk: i32) -> String {
        format!("s{session_pk}.{}", self.settings.domain)
    }

    /// The session a `Host` header names (its port left aside), if it is one of ours.
    pub fn session_of_host(&self, host: &str) -> Option<i32> {
        let name = match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        };
        let label = name.strip_suffix(&self.settings.domain)?.strip_suffix('.')?;
        let digits = label.strip_prefix('s')?;
        if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }

    /// Whether this node has the session's preview (started here and not removed).
    pub fn has(&self, session_pk: i32) -> bool {
        self.entries().contains_key(&session_pk)
    }

    pub fn status(&self, session_pk: i32) -> Status {
        let entries = self.entries();
        let Some(entry) = entries.get(&session_pk) else {
            return Status { state: None, port: None, command: None, notice: None, log: None };
        };
        Status {
            state: entry.server.as_ref().map(DevServer::state),
            port: entry.server.as_ref().map(|s| s.port),
            command: entry.command.clone(),
            notice: entry.notice.clone(),
            log: entry.server.as_ref().map(|s| s.log.clone()),
        }
    }

    /// Starts the session's dev server unless it is starting or running already. At a limit,
    /// the least recently used preview (the user's own first) is stopped, with a notice.
    pub async fn start(&self, request: StartRequest) -> Result<Status, PreviewError> {
        let session_pk = request.session_pk;
        let sandbox = match &self.sandbox {
            Ok(sandbox) if !sandbox.has_network() => return Err(PreviewError::NoNetwork),
            Ok(sandbox) => sandbox.clone(),
            Err(unavailable) => return Err(PreviewError::NoSandbox(unavailable.reason.clone())),
        };
        if self.is_live(session_pk) {
            return Ok(self.status(session_pk));
        }
        for (victim, notice) in self.victims_for(&request.user_id, session_pk) {
            self.stop(victim, Some(notice)).await;
        }
        let previous = self.take_server(session_pk);
        if let Some(previous) = previous {
            previous.stop().await;
        }
        if self.stopping.load(Ordering::Relaxed) {
            return Err(PreviewError::Stopping);
        }
        let port = self.leases.lease(session_pk)?;
        let launch = Launch {
            sandbox,
            place: request.place,
            command: request.command.clone(),
            port,
            preview_url: format!("{}/", self.origin(session_pk)),
            readiness_path: request.readiness_path,
            ready_within: self.settings.ready_within,
        };
        let server = DevServer::start(launch);
        let mut entries = self.entries();
        let entry = entries.entry(session_pk).or_insert_with(|| Entry {
            user_id: request.user_id.clone(),
            project_id: request.project_id,
            access: crate::auth::secret::new_token(),
            server: None,
            command: None,
            notice: None,
            last_used: Instant::now(),
            tunnels: Arc::default(),
        });
        entry.server = Some(server);
        entry.command = Some(request.command);
        entry.notice = None;
        entry.last_used = Instant::now();
        drop(entries);
        Ok(self.status(session_pk))
    }

    /// The user's previews in the project that are not stopped, with their states.
    pub fn of_user(&self, user_id: &str, project_id: i32) -> Vec<(i32, DevState)> {
        let entries = self.entries();
        let mut found: Vec<(i32, DevState)> = entries
            .iter()
            .filter(|(_, e)| e.user_id == user_id && e.project_id == project_id)
            .filter_map(|(pk, e)| e.server.as_ref().map(|s| (*pk, s.state())))
            .collect();
        found.sort_by_key(|(pk, _)| *pk);
        found
    }

    /// Waits until the session's dev server is no longer starting.
    pub async fn settled(&self, session_pk: i32) -> Status {
        let watch = self.entries().get(&session_pk).and_then(|e| e.server.as_ref().map(DevServer::subscribe));
        if let Some(mut watch) = watch {
            let _ = watch.wait_for(|state| *state != DevState::Starting).await;
        }
        self.status(session_pk)
    }

    /// Stops the session's dev server (its entry and access are kept: Restart works as
    /// before); `notice` says why when its user did not ask.
    pub async fn stop(&self, session_pk: i32, notice: Option<String>) {
        let server = {
            let mut entries = self.entries();
            let Some(entry) = entries.get_mut(&session_pk) else { return };
            if notice.is_some() {
                entry.notice = notice;
            }
            entry.server.take()
        };
        if let Some(server) = server {
            server.stop().await;
        }
        self.leases.release(session_pk);
    }

    /// Forgets the session's preview (archived or deleted): its server stopped, its port and
    /// its links given back.
    pub async fn remove(&self, session_pk: i32) {
        let entry = self.entries().remove(&session_pk);
        self.tickets().retain(|_, ticket| ticket.session_pk != session_pk);
        if let Some(server) = entry.and_then(|entry| entry.server) {
            server.stop().await;
        }
        self.leases.release(session_pk);
    }

    /// Forgets every preview of a deleted project.
    pub async fn remove_project(&self, project_id: i32) {
        let sessions: Vec<i32> =
            self.entries().iter().filter(|(_, e)| e.project_id == project_id).map(|(pk, _)| *pk).collect();
        for session_pk in sessions {
            self.remove(session_pk).await;
        }
    }

    /// Stops every running preview idle for longer than `--preview-idle-secs`; how many.
    pub async fn stop_idle(&self) -> usize {
        let idle = self.settings.idle;
        let due: Vec<i32> = self
            .entries()
            .iter()
            .filter(|(_, e)| e.is_live() && e.tunnels.load(Ordering::Relaxed) == 0 && e.last_used.elapsed() >= idle)
            .map(|(pk, _)| *pk)
            .collect();
        let notice = format!("Stopped after {} s without a request; Restart starts it again.", idle.as_secs());
        for session_pk in &due {
            tracing::info!(session_pk, "an idle preview is stopped");
            self.stop(*session_pk, Some(notice.clone())).await;
        }
        due.len()
    }

    /// Stops idle previews in the background until shutdown.
    pub fn spawn_idle_stopper(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let previews = self.clone();
        let every = (self.settings.idle / 4).clamp(Duration::from_millis(200), Duration::from_secs(10));
        tokio::spawn(async move {
            while !previews.stopping.load(Ordering::Relaxed) {
                tokio::time::sleep(every).await;
                previews.stop_idle().await;
            }
        })
    }

    /// Stops every dev server; none starts after.
    pub async fn shutdown(&self) -> usize {
        self.stopping.store(true, Ordering::Relaxed);
        let servers: Vec<(i32, DevServer)> =
            self.entries().iter_mut().filter_map(|(pk, e)| e.server.take().map(|s| (*pk, s))).collect();
        let count = servers.len();
        for (session_pk, server) in servers {
            server.stop().await;
            self.leases.release(session_pk);
        }
        count
    }

    /// The proxy's port (0 until it listens).
    pub fn proxy_port(&self) -> u16 {
        self.proxy_port.load(Ordering::Relaxed)
    }

    pub(crate) fn set_proxy_port(&self, port: u16) {
        self.proxy_port.store(port, Ordering::Relaxed);
    }

    fn is_live(&self, session_pk: i32) -> bool {
        self.entries().get(&session_pk).is_some_and(Entry::is_live)
    }

    fn take_server(&self, session_pk: i32) -> Option<DevServer> {
        self.entries().get_mut(&session_pk).and_then(|entry| entry.server.take())
    }

    /// The previews to stop before `session_pk` of `user_id` starts, with why: the least
    /// recently used of the user's while the user is at their limit, then the least recently
    /// used of all while the server is at its own.
    fn victims_for(&self, user_id: &str, session_pk: i32) -> Vec<(i32, String)> {
        let entries = self.entries();
        let mut live: Vec<(&i32, &Entry)> =
            entries.iter().filter(|(pk, e)| **pk != session_pk && e.is_live()).collect();
        live.sort_by_key(|(_, e)| e.last_used);
        let mut victims = Vec::new();
        let user_live = live.iter().filter(|(_, e)| e.user_id == user_id).count();
        let user_excess = (user_live + 1).saturating_sub(self.settings.max_per_user);
        for (pk, _) in live.iter().filter(|(_, e)| e.user_id == user_id).take(user_excess) {
            victims.push((
                **pk,
                format!(
                    "Stopped to start another of your previews (at most {} run at once per user); Restart starts it again.",
                    self.settings.max_per_user
                ),
            ));
        }
        let server_excess = (live.len() + 1).saturating_sub(self.settings.max_running).saturating_sub(victims.len());
        let more: Vec<i32> = live
            .iter()
            .map(|(pk, _)| **pk)
            .filter(|pk| !victims.iter().any(|(v, _)| v == pk))
            .take(server_excess)
            .collect();
        for pk in more {
            victims.push((
                pk,
                format!(
                    "Stopped to make room for another preview (at most {} run at once on this server); Restart starts it again.",
                    self.settings.max_running
                ),
            ));
        }
        victims
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<i32, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn tickets(&self) -> MutexGuard<'_, HashMap<String, Ticket>> {
        self.tickets.lock().unwrap_or_else(|p| p.into_inner())
    }
}
