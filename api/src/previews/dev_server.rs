//! One session's dev server: its `dev` command run in the sandbox on the port leased to it,
//! `starting` until the port answers — a TCP connection, a listener that is the server's own
//! process, then the readiness path when one is set — within a bound; `running` then, until
//! it exits (`crashed`, with its code and the log's tail) or is stopped (its task dropped,
//! which kills its process group).

use super::ports::{self, Listener};
use crate::process_log::{self, ProcessLog};
use agent::Place;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{oneshot, watch};

/// Lines of the log a failure shows.
const TAIL_LINES: usize = 20;
/// How often readiness is tried.
const POLL: Duration = Duration::from_millis(100);

/// Where a dev server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevState {
    Starting,
    Running,
    /// It exited after it was running (its code, when it exited), with why and the log's tail.
    Crashed {
        code: Option<i32>,
        why: String,
    },
    /// It never got ready: it exited, did not answer in time, or another process holds its port.
    Failed {
        why: String,
    },
}

/// What starting one takes.
pub struct Launch {
    pub sandbox: sandbox::Sandbox,
    pub place: Place,
    pub command: String,
    pub port: u16,
    /// Its public address, given to it as `KOSUKE_PREVIEW_URL`.
    pub preview_url: String,
    pub readiness_path: Option<String>,
    pub ready_within: Duration,
}

pub struct DevServer {
    pub port: u16,
    pub log: Arc<ProcessLog>,
    state: watch::Receiver<DevState>,
    task: tokio::task::JoinHandle<()>,
}

impl DevServer {
    /// Starts it in the background.
    pub fn start(launch: Launch) -> DevServer {
        let log = ProcessLog::new();
        let (report, state) = watch::channel(DevState::Starting);
        let port = launch.port;
        let task = tokio::spawn(follow(launch, log.clone(), report));
        DevServer { port, log, state, task }
    }

    pub fn state(&self) -> DevState {
        self.state.borrow().clone()
    }

    /// Its state as it changes.
    pub fn subscribe(&self) -> watch::Receiver<DevState> {
        self.state.clone()
    }

    /// Waits until it is no longer starting, and says where it is.
    pub async fn settled(&self) -> DevState {
        self.changed_from(&DevState::Starting).await
    }

    /// Waits for the state to change from `seen`.
    pub async fn changed_from(&self, seen: &DevState) -> DevState {
        let mut state = self.state.clone();
        match state.wait_for(|s| s != seen).await {
            Ok(now) => now.clone(),
            Err(_) => self.state(),
        }
    }

    /// Stops it: its process group is killed and waited for.
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
        self.log.end("stopped");
    }
}

async fn follow(launch: Launch, log: Arc<ProcessLog>, report: watch::Sender<DevState>) {
    let extra = [("PORT".to_owned(), launch.port.to_string()), ("KOSUKE_PREVIEW_URL".to_owned(), launch.preview_url)];
    let (pid_tx, pid_rx) = oneshot::channel();
    let lines = log.clone();
    let run = agent::process::run_observed(
        &launch.sandbox,
        &launch.place,
        &launch.command,
        &extra,
        None,
        |pid| {
            let _ = pid_tx.send(pid);
        },
        |line| lines.push(line),
    );
    tokio::pin!(run);
    let ready = ready(pid_rx, launch.port, launch.readiness_path.as_deref(), launch.ready_within);
    let failure = |why: String| {
        let tail = process_log::tail(&log.text(), TAIL_LINES);
        if tail.is_empty() { why } else { format!("{why}\n{tail}") }
    };
    tokio::select! {
        end = &mut run => {
            let why = failure(end.describe("dev server"));
            log.end("failed");
            report.send_replace(DevState::Failed { why });
            return;
        }
        outcome = ready => if let Err(why) = outcome {
            // Dropping `run` below kills what it started.
            let why = failure(why);
            log.end("failed");
            report.send_replace(DevState::Failed { why });
            return;
        }
    }
    report.send_replace(DevState::Running);
    let end = run.await;
    let why = failure(end.describe("dev server"));
    log.end("crashed");
    report.send_replace(DevState::Crashed { code: end.code(), why });
}

/// Until the port answers as the dev server's own, then the readiness path, within `within`.
async fn ready(pid: oneshot::Receiver<u32>, port: u16, path: Option<&str>, within: Duration) -> Result<(), String> {
    let waited = tokio::time::timeout(within, async {
        let Ok(pid) = pid.await else { return Err("the dev server could not be started".to_owned()) };
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        let holder = tokio::task::spawn_blocking(move || ports::listener(pid, port)).await;
        match holder {
            Ok(Ok(Listener::Own)) => {}
            Ok(Ok(_)) => return Err(format!("another process listens on port {port}, the one this preview was given")),
            Ok(Err(err)) => return Err(format!("who listens on port {port} could not be read: {err}")),
            Err(err) => return Err(err.to_string()),
        }
        if let Some(path) = path {
            while !answers(port, path).await {
                tokio::time::sleep(POLL).await;
            }
        }
        Ok(())
    })
    .await;
    waited.unwrap_or_else(|_| {
        let what = path.map_or(format!("port {port}"), |path| format!("{path} on port {port}"));
        Err(format!("The dev server did not answer on {what} within {} s.", within.as_secs()))
    })
}

/// Whether `GET path` on the port gets an answer below 500.
async fn answers(port: u16, path: &str) -> bool {
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else { return false };
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    if stream.read_exact(&mut head).await.is_err() {
        return false;
    }
    // "HTTP/1.1 200"
    std::str::from_utf8(&head[9..12]).ok().and_then(|code| code.parse::<u16>().ok()).is_some_and(|code| code < 500)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch(dir: &std::path::Path, command: &str, port: u16, ready_within: Duration) -> Launch {
        Launch {
            sandbox: sandbox::Sandbox::probe(sandbox::Mode::Bwrap, true).expect("bubblewrap runs here"),
            place: Place { workdir: dir.to_owned(), env: vec![], git: None, hidden: vec![] },
            command: command.to_owned(),
            port,
            preview_url: "http://s1.localhost:9/".to_owned(),
            readiness_path: Some("/index.html".to_owned()),
            ready_within,
        }
    }

    fn checkout() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a checkout");
        std::fs::write(dir.path().join(fakes::dev_server::FILE), fakes::dev_server::SCRIPT).expect("script");
        std::fs::write(dir.path().join("index.html"), "<p>session one</p>").expect("page");
        dir
    }

    const DEV: &str = "/usr/bin/python3 dev_server.py";

    #[tokio::test]
    async fn it_runs_until_it_crashes_and_says_how() {
        let dir = checkout();
        let leases = ports::PortLeases::new(56000..=56999);
        let port = leases.lease(1).expect("a port");
        let server = DevServer::start(launch(dir.path(), DEV, port, Duration::from_secs(20)));
        assert_eq!(server.settled().await, DevState::Running);
        let _ = answers(port, "/crash?code=3").await;
        let ended = server.changed_from(&DevState::Running).await;
        let DevState::Crashed { code, why } = ended else { panic!("not crashed: {ended:?}") };
        assert_eq!(code, Some(3));
        assert!(why.starts_with("The dev server exited with code 3."), "{why}");
        assert!(why.contains("crashing with code 3"), "the log's tail is shown: {why}");
    }

    #[tokio::test]
    async fn one_that_exits_or_never_listens_fails_and_a_stopped_one_frees_its_port() {
        let dir = checkout();
        let leases = ports::PortLeases::new(57000..=57999);
        let port = leases.lease(1).expect("a port");
        let quits = DevServer::start(launch(dir.path(), "echo no such script; exit 4", port, Duration::from_secs(20)));
        let DevState::Failed { why } = quits.settled().await else { panic!("it did not fail") };
        assert!(why.starts_with("The dev server exited with code 4.") && why.contains("no such script"), "{why}");

        let silent = DevServer::start(launch(dir.path(), "sleep 30", port, Duration::from_secs(1)));
        let DevState::Failed { why } = silent.settled().await else { panic!("it did not fail") };
        assert!(
            why.starts_with(&format!("The dev server did not answer on /index.html on port {port} within 1 s")),
            "{why}"
        );

        let server = DevServer::start(launch(dir.path(), DEV, port, Duration::from_secs(20)));
        assert_eq!(server.settled().await, DevState::Running);
        server.stop().await;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            assert!(std::time::Instant::now() < deadline, "the stopped dev server still answers");
            tokio::time::sleep(POLL).await;
        }
    }

    #[tokio::test]
    async fn a_port_taken_by_another_process_is_not_taken_for_the_dev_servers() {
        let dir = checkout();
        let leases = ports::PortLeases::new(58000..=58999);
        let port = leases.lease(1).expect("a port");
        // Another session's process took the port after it was leased.
        let thief = std::net::TcpListener::bind(("127.0.0.1", port)).expect("take the port");
        let server = DevServer::start(launch(dir.path(), "sleep 30", port, Duration::from_secs(20)));
        let DevState::Failed { why } = server.settled().await else { panic!("it did not fail") };
        assert!(why.starts_with(&format!("another process listens on port {port}")), "{why}");
        drop(thief);
    }

    /// The run itself, below the state: the listener inside bubblewrap's PID namespace is
    /// found among the descendants of the sandbox's first process.
    #[tokio::test]
    async fn a_sandboxed_dev_server_on_its_leased_port_is_its_own() {
        let dir = checkout();
        let leases = ports::PortLeases::new(59000..=59999);
        let port = leases.lease(1).expect("a port");
        let Launch { sandbox, place, .. } = launch(dir.path(), DEV, port, Duration::from_secs(20));
        let (pid_tx, pid_rx) = oneshot::channel();
        let (line_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
        let extra = [("PORT".to_owned(), port.to_string())];
        let server = tokio::spawn(async move {
            agent::process::run_observed(
                &sandbox,
                &place,
                DEV,
                &extra,
                None,
                |pid| {
                    let _ = pid_tx.send(pid);
                },
                |line| drop(line_tx.send(line)),
            )
            .await
        });
        let pid = pid_rx.await.expect("it started");
        let first = tokio::time::timeout(Duration::from_secs(20), lines.recv()).await.expect("it printed");
        assert_eq!(first.as_deref(), Some(format!("ready on {port}").as_str()));
        let seen =
            tokio::task::spawn_blocking(move || ports::listener(pid, port)).await.expect("join").expect("read /proc");
        assert_eq!(seen, Listener::Own, "the listener inside the sandbox descends from its first process");
        let other = std::process::id();
        let seen =
            tokio::task::spawn_blocking(move || ports::listener(other, port)).await.expect("join").expect("read");
        assert_eq!(seen, Listener::Own, "the test started the sandbox, so it is the test's too");
        assert!(!ports::is_free(port), "a leased port in use is not free");
        server.abort();
        let _ = server.await;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !ports::is_free(port) && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ports::is_free(port), "dropping the run killed the dev server");
    }
}
